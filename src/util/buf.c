#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/buf.h"

char np_buf_empty[1];

void np_buf_init(struct np_buf *b, size_t max)
{
	b->ptr = np_buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

static int grow(struct np_buf *b, size_t extra)
{
	size_t want;

	if (b->max && (extra > b->max || b->len > b->max - extra))
		return -1;
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return 0;
	if (want < b->alloc * 2)
		want = b->alloc * 2;
	if (want < 64)
		want = 64;
	if (b->alloc == 0) {
		b->ptr = np_xmalloc(want);
		b->ptr[0] = '\0';
	} else {
		b->ptr = np_xrealloc(b->ptr, want);
	}
	b->alloc = want;
	return 0;
}

int np_buf_add(struct np_buf *b, const void *data, size_t len)
{
	if (grow(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	if (b->alloc)
		b->ptr[b->len] = '\0';
	return 0;
}

int np_buf_puts(struct np_buf *b, const char *s)
{
	return np_buf_add(b, s, strlen(s));
}

int np_buf_putc(struct np_buf *b, char c)
{
	return np_buf_add(b, &c, 1);
}

int np_buf_vprintf(struct np_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int np_buf_printf(struct np_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = np_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void np_buf_reset(struct np_buf *b)
{
	b->len = 0;
	if (b->alloc)
		b->ptr[0] = '\0';
}

void np_buf_release(struct np_buf *b)
{
	if (b->alloc)
		free(b->ptr);
	np_buf_init(b, b->max);
}

char *np_buf_detach(struct np_buf *b)
{
	char *s = b->alloc ? b->ptr : np_xstrdup("");

	np_buf_init(b, b->max);
	return s;
}
