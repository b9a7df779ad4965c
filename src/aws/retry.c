#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nestplan/alloc.h"
#include "nestplan/clock.h"
#include "nestplan/retry.h"

void np_retry_quota_init(struct np_retry_quota *q)
{
	q->tokens = NP_RETRY_QUOTA_MAX;
	pthread_mutex_init(&q->lock, NULL);
}

bool np_retry_quota_take(struct np_retry_quota *q, int cost)
{
	bool ok;

	pthread_mutex_lock(&q->lock);
	ok = q->tokens >= cost;
	if (ok)
		q->tokens -= cost;
	pthread_mutex_unlock(&q->lock);
	return ok;
}

void np_retry_quota_refund(struct np_retry_quota *q, int cost)
{
	pthread_mutex_lock(&q->lock);
	q->tokens += cost;
	if (q->tokens > NP_RETRY_QUOTA_MAX)
		q->tokens = NP_RETRY_QUOTA_MAX;
	pthread_mutex_unlock(&q->lock);
}

double np_retry_backoff(enum np_retry_mode mode, int attempt, double r)
{
	double base = pow(2.0, attempt - 2);

	if (mode != NP_RETRY_LEGACY && base > 20.0)
		base = 20.0;
	return r * base;
}

bool np_retry_retryable(enum np_err_class cls, int http_status, bool legacy)
{
	switch (cls) {
	case NP_ERRC_THROTTLE:
		/* Legacy mode retries EC2's throttling codes only at 503. */
		return !legacy || http_status == 503 || http_status == 429 || http_status == 0;
	case NP_ERRC_TRANSIENT:
		return true;
	case NP_ERRC_CAPACITY:
		return false; /* terminal for the step, whatever the 500 says */
	default:
		return false;
	}
}

/* "Request throttling for the Amazon EC2 API", Amazon EC2 Developer Guide:
 * request buckets per API by category, resource buckets per instance. */
static const struct {
	double capacity, rate;
} request_buckets[] = {
	[NP_BUCKET_NON_MUTATING] = { 100, 20 },
	[NP_BUCKET_UNFILTERED] = { 50, 10 },
	[NP_BUCKET_MUTATING] = { 200, 5 },
};

static const struct {
	const char *action;
	double capacity, rate;
} resource_buckets[] = {
	{ "RunInstances", 1000, 2 },
	{ "StartInstances", 1000, 2 },
	{ "StopInstances", 1000, 20 },
	{ "TerminateInstances", 1000, 20 },
};

void np_limiter_request_bucket(enum np_bucket_class cls, double *capacity, double *rate)
{
	*capacity = request_buckets[cls].capacity;
	*rate = request_buckets[cls].rate;
}

bool np_limiter_resource_bucket(const char *action, double *capacity, double *rate)
{
	for (size_t i = 0; i < sizeof(resource_buckets) / sizeof(resource_buckets[0]); i++)
		if (!strcmp(resource_buckets[i].action, action)) {
			*capacity = resource_buckets[i].capacity;
			*rate = resource_buckets[i].rate;
			return true;
		}
	return false;
}

void np_limiter_init(struct np_limiter *l, double scale)
{
	memset(l, 0, sizeof(*l));
	l->off = scale <= 0;
	l->scale = scale;
	pthread_mutex_init(&l->lock, NULL);
}

void np_limiter_release(struct np_limiter *l)
{
	free(l->v);
	pthread_mutex_destroy(&l->lock);
	memset(l, 0, sizeof(*l));
}

static void bucket_init(struct np_bucket *b, double capacity, double rate, double now)
{
	b->capacity = capacity;
	b->model_rate = b->rate = rate;
	b->tokens = capacity; /* a fresh process assumes an idle account */
	b->last = now;
}

static void bucket_refill(struct np_bucket *b, double now)
{
	if (now > b->last) {
		b->tokens = fmin(b->capacity, b->tokens + (now - b->last) * b->rate);
		b->last = now;
	}
}

/* The entry of an action (the unfiltered form of an action is its own API
 * as far as throttling goes). Called with the lock held. */
static struct np_limit_entry *entry(struct np_limiter *l, const char *action,
				    enum np_bucket_class cls, double now)
{
	char key[48];
	struct np_limit_entry *e;
	double cap, rate;

	snprintf(key, sizeof(key), "%s%s", action, cls == NP_BUCKET_UNFILTERED ? "/all" : "");
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].action, key))
			return &l->v[i];
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 16;
		l->v = np_xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->action, sizeof(e->action), "%s", key);
	np_limiter_request_bucket(cls, &cap, &rate);
	bucket_init(&e->request, cap * l->scale, rate * l->scale, now);
	if (np_limiter_resource_bucket(action, &cap, &rate))
		bucket_init(&e->resource, cap * l->scale, rate * l->scale, now);
	return e;
}

double np_limiter_acquire(struct np_limiter *l, const char *action, enum np_bucket_class cls,
			  int resources, double now)
{
	struct np_limit_entry *e;
	double wait = 0;

	if (l->off)
		return 0;
	pthread_mutex_lock(&l->lock);
	e = entry(l, action, cls, now);
	bucket_refill(&e->request, now);
	e->request.tokens -= 1;
	if (e->request.tokens < 0)
		wait = -e->request.tokens / e->request.rate;
	if (e->resource.capacity > 0 && resources > 0) {
		bucket_refill(&e->resource, now);
		e->resource.tokens -= resources;
		if (e->resource.tokens < 0)
			wait = fmax(wait, -e->resource.tokens / e->resource.rate);
	}
	pthread_mutex_unlock(&l->lock);
	return wait;
}

static void slow_down(struct np_bucket *b, double now)
{
	bucket_refill(b, now);
	b->tokens = fmin(b->tokens, 0);
	b->rate = fmax(b->model_rate * 0.05, b->rate * 0.7);
}

static void speed_up(struct np_bucket *b, double now)
{
	bucket_refill(b, now);
	b->rate = fmin(b->model_rate, b->rate + b->model_rate * 0.05);
}

/* Apply one adjustment to both buckets of an action: EC2 does not say which
 * bucket ran dry, so a throttle counts against both. */
static void adapt(struct np_limiter *l, const char *action, enum np_bucket_class cls, double now,
		  void (*adjust)(struct np_bucket *, double))
{
	struct np_limit_entry *e;

	if (l->off)
		return;
	pthread_mutex_lock(&l->lock);
	e = entry(l, action, cls, now);
	adjust(&e->request, now);
	if (e->resource.capacity > 0)
		adjust(&e->resource, now);
	pthread_mutex_unlock(&l->lock);
}

void np_limiter_throttled(struct np_limiter *l, const char *action, enum np_bucket_class cls,
			  double now)
{
	adapt(l, action, cls, now, slow_down);
}

void np_limiter_ok(struct np_limiter *l, const char *action, enum np_bucket_class cls, double now)
{
	adapt(l, action, cls, now, speed_up);
}

bool np_limiter_sleep(double seconds, volatile sig_atomic_t *stop)
{
	struct timespec ts;
	double end = np_monotonic_now() + seconds;

	for (;;) {
		double left;

		if (stop && *stop)
			return false;
		left = end - np_monotonic_now();
		if (left <= 0)
			return true;
		/* Short slices: a signal's flag is seen within 50 ms. */
		left = fmin(left, stop ? 0.05 : left);
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - floor(left)) * 1e9);
		nanosleep(&ts, NULL);
	}
}
