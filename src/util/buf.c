#include <stdbool.h>
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

int np_buf_puts(struct np_buf *b, const char *s) { return np_buf_add(b, s, strlen(s)); }

int np_buf_putc(struct np_buf *b, char c) { return np_buf_add(b, &c, 1); }

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

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), its code
 * point in *cp; 0 when it is not one (overlong forms and surrogates too). */
static size_t utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
	size_t len;
	unsigned c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2, c = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, c = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4, c = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

void np_buf_add_visible(struct np_buf *b, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t full = s ? strlen(s) : 0, n = full, i = 0;
	bool cut = max && n > max;

	if (cut)
		n = max;
	while (i < n) {
		unsigned cp;
		size_t len = utf8_seq(p + i, full - i, &cp);

		if (len && i + len > n)
			break; /* a character the cut would split */
		if (!len) {
			np_buf_printf(b, "\\x%02x", p[i]);
			i++;
		} else if (cp < 0x20 || cp == 0x7f) {
			np_buf_printf(b, "\\x%02x", cp);
			i++;
		} else if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
			   (cp >= 0x2066 && cp <= 0x2069)) {
			np_buf_printf(b, "\\u%04x", cp);
			i += len;
		} else {
			np_buf_add(b, p + i, len);
			i += len;
		}
	}
	if (cut)
		np_buf_puts(b, "...");
}

char *np_visible(const char *s)
{
	struct np_buf b = NP_BUF_INIT;

	if (!s)
		return NULL;
	np_buf_add_visible(&b, s, 0);
	return np_buf_detach(&b);
}
