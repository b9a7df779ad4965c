/* Query API parameters and their encoding. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/aws.h"

void np_query_add(struct np_query *q, const char *name, const char *value)
{
	NP_ALLOC_GROW(q->v, q->n + 1, q->alloc);
	q->v[q->n].name = np_xstrdup(name);
	q->v[q->n].value = np_xstrdup(value ? value : "");
	q->n++;
}

void np_query_addf(struct np_query *q, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *v;

	va_start(ap, fmt);
	if (vasprintf(&v, fmt, ap) < 0)
		abort();
	va_end(ap);
	NP_ALLOC_GROW(q->v, q->n + 1, q->alloc);
	q->v[q->n].name = np_xstrdup(name);
	q->v[q->n].value = v;
	q->n++;
}

const char *np_query_get(const struct np_query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (!strcmp(q->v[i].name, name))
			return q->v[i].value;
	return NULL;
}

void np_query_release(struct np_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->v[i].name);
		free(q->v[i].value);
	}
	free(q->v);
	memset(q, 0, sizeof(*q));
}

void np_uri_encode(struct np_buf *out, const char *s)
{
	static const char digits[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			np_buf_putc(out, (char)*p);
		} else {
			char e[3] = { '%', digits[*p >> 4], digits[*p & 15] };

			np_buf_add(out, e, 3);
		}
	}
}

void np_query_encode(const struct np_query *q, struct np_buf *out)
{
	for (size_t i = 0; i < q->n; i++) {
		if (i)
			np_buf_putc(out, '&');
		np_uri_encode(out, q->v[i].name);
		np_buf_putc(out, '=');
		np_uri_encode(out, q->v[i].value);
	}
}
