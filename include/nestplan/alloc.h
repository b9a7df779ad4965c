/* Allocation that cannot fail: out of memory aborts in one place. */
#ifndef NESTPLAN_ALLOC_H
#define NESTPLAN_ALLOC_H

#include <stddef.h>

void *np_xmalloc(size_t n);
void *np_xcalloc(size_t nmemb, size_t size);
void *np_xrealloc(void *p, size_t n);
char *np_xstrdup(const char *s); /* NULL in, NULL out */
char *np_xstrndup(const char *s, size_t n);
char *np_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow array a (with nr used, alloc capacity) so that it holds at least n. */
#define NP_ALLOC_GROW(a, n, alloc)                                            \
	do {                                                                  \
		if ((size_t)(n) > (size_t)(alloc)) {                          \
			size_t np_new_ = (alloc) < 8 ? 8 : (size_t)(alloc)*2; \
			if (np_new_ < (size_t)(n))                            \
				np_new_ = (size_t)(n);                        \
			(a) = np_xrealloc((a), np_new_ * sizeof(*(a)));       \
			(alloc) = np_new_;                                    \
		}                                                             \
	} while (0)

#endif
