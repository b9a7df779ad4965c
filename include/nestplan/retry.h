/* Retry policy: the SDKs' standard mode (full-jitter backoff, a shared
 * retry quota) and the adaptive mode's client-side rate limiter. Time and
 * randomness are parameters so tests never sleep. */
#ifndef NESTPLAN_RETRY_H
#define NESTPLAN_RETRY_H

#include <pthread.h>
#include <stdbool.h>

#include "nestplan/error.h"

enum np_retry_mode { NP_RETRY_STANDARD = 0, NP_RETRY_LEGACY, NP_RETRY_ADAPTIVE };

struct np_retry_quota {
	int tokens;              /* starts at 500 */
	pthread_mutex_t lock;
};

#define NP_RETRY_QUOTA_MAX 500
#define NP_RETRY_COST 5
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

/* A token bucket shared by all threads: off until the first throttle, then
 * it cuts the send rate and raises it again as calls succeed. */
struct np_rate {
	bool enabled;
	double rate;             /* tokens per second */
	double tokens;
	double last;             /* time of the last refill */
	double max_rate;
	pthread_mutex_t lock;
};

void np_rate_init(struct np_rate *r);
/* Seconds the caller must wait before sending at time now (0: go). */
double np_rate_acquire(struct np_rate *r, double now);
void np_rate_on_throttle(struct np_rate *r, double now, double observed_rate);
void np_rate_on_success(struct np_rate *r, double now);

#endif
