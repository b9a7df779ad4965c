/* A growable byte buffer: never NULL, always NUL-terminated, optionally capped
 * so that what a peer sends cannot make us allocate without bound. */
#ifndef NESTPLAN_BUF_H
#define NESTPLAN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct np_buf {
	char *ptr; /* never NULL; "" when empty */
	size_t len;
	size_t alloc;
	size_t max; /* 0: no cap */
};

extern char np_buf_empty[];
#define NP_BUF_INIT                   \
	{                             \
		np_buf_empty, 0, 0, 0 \
	}

void np_buf_init(struct np_buf *b, size_t max);
/* Append; -1 (and nothing appended) when the cap would be exceeded. */
int np_buf_add(struct np_buf *b, const void *data, size_t len);
int np_buf_puts(struct np_buf *b, const char *s);
int np_buf_putc(struct np_buf *b, char c);
int np_buf_printf(struct np_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int np_buf_vprintf(struct np_buf *b, const char *fmt, va_list ap);
void np_buf_reset(struct np_buf *b);   /* len = 0, keeps memory */
void np_buf_release(struct np_buf *b); /* frees, back to NP_BUF_INIT */
char *np_buf_detach(struct np_buf *b); /* caller owns the string */

/* Text from outside (EC2's tags and messages) made safe for a terminal:
 * C0 and C1 controls, DEL, bidirectional overrides and bytes that are not
 * UTF-8 appended as \xNN or \uNNNN, everything else as it is. At most max
 * bytes of s are read (0: all), with "..." when it was cut. */
void np_buf_add_visible(struct np_buf *b, const char *s, size_t max);
/* The same as a new string (NULL for NULL); the caller frees it. */
char *np_visible(const char *s);

#endif
