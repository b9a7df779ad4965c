#include <math.h>
#include <string.h>

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

void np_rate_init(struct np_rate *r)
{
	memset(r, 0, sizeof(*r));
	r->max_rate = 1e9;
	pthread_mutex_init(&r->lock, NULL);
}

static void refill(struct np_rate *r, double now)
{
	if (r->last > 0 && now > r->last) {
		r->tokens += (now - r->last) * r->rate;
		if (r->tokens > fmax(1.0, r->rate))
			r->tokens = fmax(1.0, r->rate);
	}
	r->last = now;
}

double np_rate_acquire(struct np_rate *r, double now)
{
	double wait = 0;

	pthread_mutex_lock(&r->lock);
	if (r->enabled) {
		refill(r, now);
		r->tokens -= 1.0;
		if (r->tokens < 0)
			wait = -r->tokens / r->rate;
	}
	pthread_mutex_unlock(&r->lock);
	return wait;
}

void np_rate_on_throttle(struct np_rate *r, double now, double observed_rate)
{
	pthread_mutex_lock(&r->lock);
	refill(r, now);
	if (!r->enabled) {
		r->enabled = true;
		r->rate = fmax(0.5, observed_rate);
		r->tokens = 0;
	}
	/* Multiplicative decrease, as the SDKs' adaptive mode (beta 0.7). */
	r->rate = fmax(0.5, fmin(r->rate, observed_rate > 0 ? observed_rate : r->rate) * 0.7);
	r->max_rate = r->rate / 0.7;
	pthread_mutex_unlock(&r->lock);
}

void np_rate_on_success(struct np_rate *r, double now)
{
	pthread_mutex_lock(&r->lock);
	if (r->enabled) {
		refill(r, now);
		/* Additive increase toward (and slowly past) the rate that throttled. */
		r->rate += r->rate < r->max_rate ? 0.2 : 0.02;
	}
	pthread_mutex_unlock(&r->lock);
}
