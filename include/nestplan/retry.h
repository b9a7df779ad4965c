/* Retry policy: the SDKs' standard mode (full-jitter backoff, a shared
 * retry quota) and the adaptive mode's client-side rate limiter. Time and
 * randomness are parameters so tests never sleep. */
#ifndef NESTPLAN_RETRY_H
#define NESTPLAN_RETRY_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "nestplan/error.h"

enum np_retry_mode { NP_RETRY_STANDARD = 0, NP_RETRY_LEGACY, NP_RETRY_ADAPTIVE };

struct np_retry_quota {
	int tokens; /* starts at 500 */
	pthread_mutex_t lock;
};

#define NP_RETRY_QUOTA_MAX    500
#define NP_RETRY_COST         5
#define NP_RETRY_TIMEOUT_COST 10

void np_retry_quota_init(struct np_retry_quota *q);
/* Take the cost of one retry; false when the quota is spent. */
bool np_retry_quota_take(struct np_retry_quota *q, int cost);
/* A success: give back what its retries cost, or 1 for a first-try success. */
void np_retry_quota_refund(struct np_retry_quota *q, int cost);

/* Seconds to wait before attempt `attempt` (2 = the first retry), with
 * r in [0,1): full jitter, random() * min(2^(attempt-2), cap). */
double np_retry_backoff(enum np_retry_mode mode, int attempt, double r);
/* Whether an error of this class may be retried at all. */
bool np_retry_retryable(enum np_err_class cls, int http_status, bool legacy);

/* Client-side rate control, shared by all threads. EC2 throttles each API
 * with its own request bucket (sized by category) and the four lifecycle
 * actions also per instance (a resource bucket). The limiter keeps a model
 * of those buckets with EC2's documented default sizes, times `scale`, so a
 * fleet runs at the account's limit instead of into it; a throttle EC2
 * sends anyway (another client spends the same buckets) empties the model
 * and cuts its refill rate by 0.7, and successes raise it back, as the SDKs'
 * adaptive mode does. */
enum np_bucket_class { NP_BUCKET_NON_MUTATING = 0, NP_BUCKET_UNFILTERED, NP_BUCKET_MUTATING };

struct np_bucket {
	double capacity;
	double model_rate; /* the documented refill rate, times scale */
	double rate;       /* the refill rate in use: at most model_rate */
	double tokens;     /* may go negative: reserved by callers waiting */
	double last;
};

struct np_limit_entry {
	char action[48];
	struct np_bucket request;
	struct np_bucket resource; /* capacity 0: the action has none */
};

struct np_limiter {
	bool off;
	double scale;
	struct np_limit_entry *v;
	size_t n, alloc;
	pthread_mutex_t lock;
};

/* scale <= 0 turns the limiter off. */
void np_limiter_init(struct np_limiter *l, double scale);
void np_limiter_release(struct np_limiter *l);
/* Reserve one request (and `resources` instance tokens) of `action` at time
 * now; returns the seconds the caller must wait before sending (0: go). */
double np_limiter_acquire(struct np_limiter *l, const char *action, enum np_bucket_class cls,
			  int resources, double now);
void np_limiter_throttled(struct np_limiter *l, const char *action, enum np_bucket_class cls,
			  double now);
void np_limiter_ok(struct np_limiter *l, const char *action, enum np_bucket_class cls, double now);
/* Sleep for seconds; with stop, in short slices, returning false as soon as
 * *stop is set (a signal: a caller waiting for its turn gives up). */
bool np_limiter_sleep(double seconds, volatile sig_atomic_t *stop);
/* The documented bucket of a class, and of an action's resources (false: none). */
void np_limiter_request_bucket(enum np_bucket_class cls, double *capacity, double *rate);
bool np_limiter_resource_bucket(const char *action, double *capacity, double *rate);

#endif
