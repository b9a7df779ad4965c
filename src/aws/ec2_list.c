/* A large fleet listed as several paginated streams at once: pages of one
 * listing are sequential (each needs the previous NextToken), so at EC2's
 * latency a 10,000-instance listing costs ten page times in a row; sixteen
 * disjoint listings cost about one. The partition is on the instance id's
 * last hex digit (the DescribeInstances reference: filter values take the
 * wildcards * and ?), which every id has exactly one of, so every instance
 * is seen once whatever is launched or terminated meanwhile. */
#include <pthread.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/ec2.h"

#define MAX_STREAMS 16

/* A page's text is megabytes. glibc's mmap threshold slides up to the size
 * of the first such buffer freed, so later pages come from each stream's
 * malloc arena, between the instances parsed from them, and sixteen arenas
 * stay that large (45 MiB more at 30,000 instances than one stream). A
 * fixed threshold gives buffers this large back to the system when freed. */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fixed_mmap_threshold(void)
{
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

struct stream {
	struct np_aws *aws;
	const char *lineage;
	int index, count;
	struct np_instance *v;
	size_t n, alloc;
	struct np_err err;
	int rc;
};

static void *list_one(void *arg)
{
	static const char hex[] = "0123456789abcdef";
	struct stream *s = arg;
	struct np_query base = NP_QUERY_INIT;
	int k = 0;

	np_query_add(&base, "Filter.1.Name", "tag:nestplan:lineage");
	np_query_add(&base, "Filter.1.Value.1", s->lineage);
	np_query_add(&base, "Filter.2.Name", "instance-id");
	for (int d = s->index; d < 16; d += s->count) {
		char key[32], value[8];

		snprintf(key, sizeof(key), "Filter.2.Value.%d", ++k);
		snprintf(value, sizeof(value), "i-*%c", hex[d]);
		np_query_add(&base, key, value);
	}
	s->rc = np_ec2_describe_pages(s->aws, &base, &s->v, &s->n, &s->alloc, &s->err);
	np_query_release(&base);
	return NULL;
}

int np_ec2_refresh_streams(size_t n)
{
	int streams = 1;

	/* One stream per 1,000 (a page) up to 16, in powers of two so the 16
	 * digits divide evenly; the request bucket (100, refilled 20 a second)
	 * takes 16 at once easily. */
	while (streams < MAX_STREAMS && (size_t)streams * NP_EC2_PAGE < n)
		streams *= 2;
	return streams;
}

int np_ec2_describe_lineage(struct np_aws *aws, const char *lineage, int streams,
			    struct np_instance **out, size_t *n, struct np_err *err)
{
	struct stream s[MAX_STREAMS];
	pthread_t th[MAX_STREAMS];
	size_t total = 0;
	int rc = 0, started = 0;

	*out = NULL;
	*n = 0;
	if (streams <= 1)
		return np_ec2_describe_instances_filter(aws, "tag:nestplan:lineage", &lineage, 1,
							out, n, err);
	if (streams > MAX_STREAMS || MAX_STREAMS % streams)
		return np_error(err, "%d refresh streams: 1, 2, 4, 8 or 16", streams);
	pthread_once(&once, fixed_mmap_threshold);
	memset(s, 0, sizeof(s));
	for (int i = 0; i < streams; i++) {
		s[i] = (struct stream){ .aws = aws,
					.lineage = lineage,
					.index = i,
					.count = streams,
					.err = NP_ERR_INIT };
		if (pthread_create(&th[i], NULL, list_one, &s[i]) != 0) {
			/* Out of threads: list this part here instead. */
			list_one(&s[i]);
			continue;
		}
		started |= 1 << i;
	}
	for (int i = 0; i < streams; i++) {
		if (started & (1 << i))
			pthread_join(th[i], NULL);
		if (s[i].rc < 0 && rc == 0) {
			*err = s[i].err;
			rc = -1;
		}
		total += s[i].n;
	}
	if (rc == 0) {
		*out = np_xmalloc((total ? total : 1) * sizeof(**out));
		for (int i = 0; i < streams; i++) {
			memcpy(*out + *n, s[i].v, s[i].n * sizeof(*s[i].v));
			*n += s[i].n;
			free(s[i].v);
		}
	} else {
		for (int i = 0; i < streams; i++)
			np_instances_free(s[i].v, s[i].n);
	}
	return rc;
}
