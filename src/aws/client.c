/* The EC2 client: settings, credentials (refreshed before they expire), a
 * pool of curl handles so threads reuse connections, signing per attempt,
 * retries under a shared quota, and the adaptive rate limiter. */
#include <math.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <time.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/clock.h"
#include "nestplan/endpoints.h"
#include "nestplan/log.h"
#include "nestplan/retry.h"
#include "nestplan/sigv4.h"

#define POOL_MAX       64
#define REFRESH_MARGIN 300

struct np_aws {
	char *region;
	char *signing_region;
	const char *partition;
	char *endpoint; /* https://host[:port][/path] */
	char *host;     /* host[:port] as signed */
	char *profile;
	enum np_retry_mode mode;
	int max_attempts;
	long connect_ms, total_ms;
	struct np_creds creds;
	pthread_mutex_t creds_lock;
	CURL *pool[POOL_MAX];
	int n_pool;
	pthread_mutex_t pool_lock;
	struct np_retry_quota quota;
	struct np_limiter limiter;
	pthread_mutex_t stats_lock;
	struct np_aws_stats stats;
	bool locks_ready; /* the mutexes and the limiter are initialised */
	bool fips, dualstack;
	np_aws_before_mutation_fn before_mutation;
	void *before_mutation_ud;
	volatile sig_atomic_t *interrupted; /* set by a signal: send no new mutating call */
};

/* The calls that put instances back after an interrupt are let through. */
static _Thread_local bool allow_after_interrupt;

static double rand01(void)
{
	unsigned int x;

	if (RAND_bytes((unsigned char *)&x, sizeof(x)) != 1)
		x = (unsigned int)rand();
	return (double)x / 4294967296.0;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* NESTPLAN_RATE_LIMIT: "off", or a factor on EC2's default buckets for an
 * account whose limits were raised. A factor far from 1 is a typo more
 * likely than a quota: 1e-5 would make every call wait for hours. */
#define RATE_MIN 0.01
#define RATE_MAX 1000.0

static int rate_scale(double *out, struct np_err *err)
{
	const char *v = env("NESTPLAN_RATE_LIMIT");
	char *end;
	double f;

	*out = 1.0;
	if (!v)
		return 0;
	if (!strcasecmp(v, "off")) {
		*out = 0;
		return 0;
	}
	f = strtod(v, &end);
	if (*end || !isfinite(f) || f < RATE_MIN || f > RATE_MAX)
		return np_error_cls(
		    err, NP_ERRC_USAGE,
		    "NESTPLAN_RATE_LIMIT='%s' refused: it must be 'off' or a factor "
		    "on EC2's default rate limits between %g and %g",
		    v, RATE_MIN, RATE_MAX);
	*out = f;
	return 0;
}

/* Where the region came from, for messages. */
static const char *region_source(const struct np_aws_options *opts, const struct np_profile *prof)
{
	if (opts->region)
		return "provider.region";
	if (env("AWS_REGION"))
		return "AWS_REGION";
	if (env("AWS_DEFAULT_REGION"))
		return "AWS_DEFAULT_REGION";
	return prof->name && strcmp(prof->name, "default") ? "the profile's region"
							   : "region in profile 'default'";
}

static bool same_profile(const char *x, const char *y)
{
	return x == y || (x && y && !strcmp(x, y));
}

int np_aws_new(struct np_aws **out, const struct np_aws_options *opts, struct np_err *err)
{
	struct np_aws *a = np_xcalloc(1, sizeof(*a));
	struct np_profile prof;
	struct np_endpoint ep = { 0 };
	struct np_endpoint_params params = { 0 };
	const char *region, *endpoint, *mode = env("AWS_RETRY_MODE"), *attempts, *ca;
	char what[96];
	double scale;
	bool fips = false, dualstack = false;

	*out = NULL;
	np_http_global_init();
	np_profile_load(&prof, opts->profile, err);
	region = opts->region                ? opts->region
		 : env("AWS_REGION")         ? env("AWS_REGION")
		 : env("AWS_DEFAULT_REGION") ? env("AWS_DEFAULT_REGION")
					     : prof.region;
	if (!region) {
		np_profile_release(&prof);
		free(a);
		return np_error_cls(
		    err, NP_ERRC_USAGE,
		    "no AWS region: set provider.region in the file, AWS_REGION, or a "
		    "region in profile '%s'",
		    opts->profile        ? opts->profile
		    : env("AWS_PROFILE") ? env("AWS_PROFILE")
					 : "default");
	}
	snprintf(what, sizeof(what), "%s", region_source(opts, &prof));
	a->region = np_xstrdup(region);
	a->profile = np_xstrdup(opts->profile);
	if (np_region_check(a->region, what, err) < 0 ||
	    np_profile_endpoint_flags(&prof, &fips, &dualstack, err) < 0 ||
	    rate_scale(&scale, err) < 0)
		goto fail;
	endpoint = opts->endpoint                ? opts->endpoint
		   : env("AWS_ENDPOINT_URL_EC2") ? env("AWS_ENDPOINT_URL_EC2")
		   : env("AWS_ENDPOINT_URL")     ? env("AWS_ENDPOINT_URL")
						 : prof.endpoint_url;
	params.region = a->region;
	params.use_fips = fips;
	params.use_dualstack = dualstack;
	params.endpoint = endpoint;
	if (np_endpoint_resolve(&ep, NP_SERVICE_EC2, &params, err) < 0)
		goto fail;
	a->fips = fips;
	a->dualstack = dualstack;
	a->endpoint = np_xstrdup(ep.url);
	a->signing_region = np_xstrdup(ep.signing_region);
	a->partition = ep.partition;
	np_endpoint_release(&ep);
	if (np_http_check_url(a->endpoint, NP_URL_HTTP_LOOPBACK, "endpoint", &a->host, err) < 0)
		goto fail;
	/* The environment wins over the profile, as botocore's ca_bundle. */
	ca = env("AWS_CA_BUNDLE") ? env("AWS_CA_BUNDLE") : prof.ca_bundle;
	if (ca)
		np_http_set_ca_bundle(ca);
	np_profile_release(&prof);

	a->mode = NP_RETRY_STANDARD;
	if (mode && !strcasecmp(mode, "legacy"))
		a->mode = NP_RETRY_LEGACY;
	else if (mode && !strcasecmp(mode, "adaptive"))
		a->mode = NP_RETRY_ADAPTIVE;
	attempts = env("AWS_MAX_ATTEMPTS");
	a->max_attempts = opts->max_attempts           ? opts->max_attempts
			  : attempts                   ? atoi(attempts)
			  : a->mode == NP_RETRY_LEGACY ? 5
						       : 3;
	if (a->max_attempts < 1)
		a->max_attempts = 1;
	a->connect_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 5000;
	a->total_ms = opts->timeout_ms ? opts->timeout_ms : 60000;
	pthread_mutex_init(&a->creds_lock, NULL);
	pthread_mutex_init(&a->pool_lock, NULL);
	pthread_mutex_init(&a->stats_lock, NULL);
	np_retry_quota_init(&a->quota);
	np_limiter_init(&a->limiter, scale);
	a->locks_ready = true;
	np_log_debug("aws: region %s, partition %s, endpoint %s (host %s%s%s)", a->region,
		     a->partition[0] ? a->partition : "?", a->endpoint, a->host,
		     fips && !endpoint ? ", FIPS" : "",
		     dualstack && !endpoint ? ", dual-stack" : "");
	if (opts->share_creds && same_profile(opts->share_creds->profile, a->profile)) {
		struct np_aws *from = (struct np_aws *)opts->share_creds;

		/* Read under its lock: a refresh may be replacing them. */
		pthread_mutex_lock(&from->creds_lock);
		a->creds.access_key = np_xstrdup(from->creds.access_key);
		a->creds.secret_key = np_xstrdup(from->creds.secret_key);
		a->creds.session_token = np_xstrdup(from->creds.session_token);
		a->creds.expires = from->creds.expires;
		a->creds.source = from->creds.source;
		pthread_mutex_unlock(&from->creds_lock);
	} else if (np_creds_resolve(&a->creds, a->profile, a->region, err) < 0) {
		np_aws_free(a);
		return -1;
	}
	/* From here the process holds secrets: no core dump may write them out. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		np_log_warn("aws: cannot turn core dumps off (prctl PR_SET_DUMPABLE)");
	np_log_debug(
	    "aws: region %s, partition %s, endpoint %s, credentials from %s, retry mode %s x%d",
	    a->region, a->partition[0] ? a->partition : "?", a->endpoint,
	    a->creds.source ? a->creds.source : "?",
	    a->mode == NP_RETRY_LEGACY     ? "legacy"
	    : a->mode == NP_RETRY_ADAPTIVE ? "adaptive"
					   : "standard",
	    a->max_attempts);
	*out = a;
	return 0;
fail:
	np_profile_release(&prof);
	np_aws_free(a);
	return -1;
}

void np_aws_free(struct np_aws *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->n_pool; i++)
		curl_easy_cleanup(a->pool[i]);
	np_creds_release(&a->creds);
	if (a->locks_ready)
		np_limiter_release(&a->limiter);
	free(a->region);
	free(a->signing_region);
	free(a->endpoint);
	free(a->host);
	free(a->profile);
	free(a);
}

const char *np_aws_region(const struct np_aws *a) { return a->region; }

const char *np_aws_endpoint(const struct np_aws *a) { return a->endpoint; }

void np_aws_endpoint_flags(const struct np_aws *a, bool *fips, bool *dualstack)
{
	*fips = a->fips;
	*dualstack = a->dualstack;
}

const char *np_aws_profile(const struct np_aws *a) { return a->profile; }

void np_aws_set_before_mutation(struct np_aws *a, np_aws_before_mutation_fn fn, void *ud)
{
	a->before_mutation = fn;
	a->before_mutation_ud = ud;
}

void np_aws_set_interrupt(struct np_aws *a, volatile sig_atomic_t *flag) { a->interrupted = flag; }

void np_aws_allow_after_interrupt(bool allow) { allow_after_interrupt = allow; }

void np_aws_get_stats(struct np_aws *a, struct np_aws_stats *out)
{
	pthread_mutex_lock(&a->stats_lock);
	*out = a->stats;
	pthread_mutex_unlock(&a->stats_lock);
}

static CURL *take_handle(struct np_aws *a)
{
	CURL *h = NULL;

	pthread_mutex_lock(&a->pool_lock);
	if (a->n_pool)
		h = a->pool[--a->n_pool];
	pthread_mutex_unlock(&a->pool_lock);
	return h ? h : curl_easy_init();
}

static void give_handle(struct np_aws *a, CURL *h)
{
	pthread_mutex_lock(&a->pool_lock);
	if (a->n_pool < POOL_MAX) {
		a->pool[a->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&a->pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

/* Copy current credentials, refreshing temporary ones close to expiry. */
static int current_creds(struct np_aws *a, struct np_creds *out, struct np_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&a->creds_lock);
	if (a->creds.expires && a->creds.expires - REFRESH_MARGIN <= (long long)np_wall_now()) {
		struct np_creds fresh;

		np_log_debug("aws: credentials from %s expire; refreshing",
			     a->creds.source ? a->creds.source : "?");
		if (np_creds_resolve(&fresh, a->profile, a->region, err) == 0) {
			np_creds_release(&a->creds);
			a->creds = fresh;
		} else {
			rc = -1;
		}
	}
	if (rc == 0) {
		out->access_key = np_xstrdup(a->creds.access_key);
		out->secret_key = np_xstrdup(a->creds.secret_key);
		out->session_token = np_xstrdup(a->creds.session_token);
		out->expires = a->creds.expires;
	}
	pthread_mutex_unlock(&a->creds_lock);
	return rc;
}

/* Trace output never shows a secret: the body's secret-bearing parameters
 * and the signature are cut out. */
static void trace_request(const char *action, const char *body, const char *amz_date)
{
	struct np_buf safe = NP_BUF_INIT;
	const char *p = body, *ud;

	if (!np_log_enabled(NP_LOG_TRACE))
		return;
	/* User data may carry secrets of its own. */
	while ((ud = strstr(p, "UserData="))) {
		np_buf_add(&safe, p, (size_t)(ud - p));
		np_buf_puts(&safe, "UserData=<redacted>");
		p = ud + strcspn(ud, "&");
	}
	np_buf_puts(&safe, p);
	np_log_trace(
	    "-> POST %s X-Amz-Date=%s Authorization=AWS4-HMAC-SHA256 Credential=<redacted> "
	    "Signature=<redacted> X-Amz-Security-Token=<redacted if any>\n%.4000s",
	    action, amz_date, safe.ptr);
	np_buf_release(&safe);
}

static void count(struct np_aws *a, bool throttled, bool retry)
{
	pthread_mutex_lock(&a->stats_lock);
	a->stats.calls++;
	a->stats.throttled += throttled;
	a->stats.retries += retry;
	pthread_mutex_unlock(&a->stats_lock);
}

/* How EC2 counts a request: its bucket class, and the instances it spends
 * from the action's resource bucket. */
static enum np_bucket_class bucket_class(const char *action, const struct np_query *p)
{
	if (strncmp(action, "Describe", 8))
		return NP_BUCKET_MUTATING;
	if (strcmp(action, "DescribeInstances"))
		return NP_BUCKET_NON_MUTATING;
	for (size_t i = 0; i < p->n; i++)
		if (!strncmp(p->v[i].name, "Filter.", 7) ||
		    !strncmp(p->v[i].name, "InstanceId.", 11) ||
		    !strcmp(p->v[i].name, "MaxResults"))
			return NP_BUCKET_NON_MUTATING;
	return NP_BUCKET_UNFILTERED;
}

static bool np_query_is_dry_run(const struct np_query *p)
{
	const char *v = np_query_get(p, "DryRun");

	return v && !strcmp(v, "true");
}

static int resource_count(const char *action, const struct np_query *p)
{
	int n = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (!strcmp(p->v[i].name, "DryRun") && !strcmp(p->v[i].value, "true"))
			return 0;
		if (!strcmp(action, "RunInstances") && !strcmp(p->v[i].name, "MaxCount"))
			n = atoi(p->v[i].value);
		else if (strcmp(action, "RunInstances") &&
			 !strncmp(p->v[i].name, "InstanceId.", 11))
			n++;
	}
	return n;
}

/* With raw, a 2xx answer's body is moved there unparsed (the caller parses
 * it as it streams); otherwise *out is the parsed document. */
static int call(struct np_aws *a, const char *action, const struct np_query *params, xmlDoc **out,
		struct np_buf *raw, struct np_err *err)
{
	struct np_buf body = NP_BUF_INIT;
	struct np_query q = NP_QUERY_INIT;
	int attempt, retry_cost = 0, rc = -1;
	CURL *h = take_handle(a);
	enum np_bucket_class cls = bucket_class(action, params);
	int resources = resource_count(action, params);
	/* After a signal, a mutating call not yet on the wire is not sent. */
	volatile sig_atomic_t *stop =
	    cls == NP_BUCKET_MUTATING && !allow_after_interrupt ? a->interrupted : NULL;

	if (out)
		*out = NULL;
	if (raw)
		np_buf_init(raw, 0);
	if (a->before_mutation && cls == NP_BUCKET_MUTATING && !np_query_is_dry_run(params) &&
	    a->before_mutation(a->before_mutation_ud, action, err) < 0) {
		give_handle(a, h);
		return -1;
	}
	np_query_add(&q, "Action", action);
	np_query_add(&q, "Version", NP_EC2_API_VERSION);
	for (size_t i = 0; i < params->n; i++)
		np_query_add(&q, params->v[i].name, params->v[i].value);
	np_query_encode(&q, &body);

	for (attempt = 1;; attempt++) {
		struct np_creds c = { 0 };
		struct curl_slist *hdr = NULL;
		struct np_http_resp resp;
		char date[17], auth[600], line[1200];
		struct np_sigv4_input in;
		double t0 = np_monotonic_now(), wait;
		bool throttled = false;

		wait = np_limiter_acquire(&a->limiter, action, cls, resources, t0);
		if (wait > 0)
			np_log_trace("aws: %s waits %.2fs for EC2's rate limit", action, wait);
		if (!np_limiter_sleep(wait, stop) || (stop && *stop)) {
			if (attempt == 1)
				np_error_cls(err, NP_ERRC_INTERRUPTED, "%s not sent: interrupted",
					     action);
			else
				np_error_prefix(err, "interrupted before retrying");
			break;
		}
		if (current_creds(a, &c, err) < 0)
			break;
		np_sigv4_date((long long)np_wall_now(), date);
		memset(&in, 0, sizeof(in));
		in.method = "POST";
		in.host = a->host;
		in.path = "/";
		in.query = "";
		in.content_type = "application/x-www-form-urlencoded; charset=utf-8";
		in.body = body.ptr;
		in.body_len = body.len;
		in.region = a->signing_region;
		in.service = "ec2";
		in.amz_date = date;
		in.access_key = c.access_key;
		in.secret_key = c.secret_key;
		in.session_token = c.session_token;
		np_sigv4_sign(&in, auth, sizeof(auth), NULL);
		hdr = curl_slist_append(
		    hdr, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
		hdr = curl_slist_append(hdr, "Expect:");
		snprintf(line, sizeof(line), "X-Amz-Date: %s", date);
		hdr = curl_slist_append(hdr, line);
		snprintf(line, sizeof(line), "Authorization: %s", auth);
		hdr = curl_slist_append(hdr, line);
		if (c.session_token) {
			char *t = np_xasprintf("X-Amz-Security-Token: %s", c.session_token);

			hdr = curl_slist_append(hdr, t);
			free(t);
		}
		trace_request(action, body.ptr, date);
		np_err_clear(err);
		if (np_http_do(h, "POST", a->endpoint, NP_URL_HTTP_LOOPBACK, hdr, body.ptr,
			       body.len, a->connect_ms, a->total_ms, &resp, err) < 0) {
			np_error_prefix(err, "%s", action);
			err->cls = NP_ERRC_TRANSIENT;
		} else if (resp.status >= 200 && resp.status < 300 && raw) {
			rc = 0;
		} else if (resp.status >= 200 && resp.status < 300) {
			*out = np_xml_parse(resp.body.ptr, resp.body.len);
			if (!*out) {
				np_error_cls(err, NP_ERRC_TRANSIENT, "%s: the answer is not XML",
					     action);
			} else {
				rc = 0;
			}
		} else {
			np_aws_error_from_response(action, resp.status, resp.body.ptr,
						   resp.body.len, err);
			throttled = err->cls == NP_ERRC_THROTTLE;
		}
		np_log_debug("aws: %s attempt %d: %s%s (%.0f ms)", action, attempt,
			     rc == 0        ? "ok"
			     : err->code[0] ? err->code
					    : "failed",
			     rc == 0 ? "" : "", (np_monotonic_now() - t0) * 1000);
		if (np_log_enabled(NP_LOG_TRACE))
			np_log_trace("<- %s HTTP %ld\n%.4000s", action, resp.status, resp.body.ptr);
		if (rc == 0 && raw) {
			np_buf_release(raw);
			*raw = resp.body;
		} else {
			np_buf_release(&resp.body);
		}
		curl_slist_free_all(hdr);
		np_creds_release(&c);
		count(a, throttled, attempt > 1);
		if (rc == 0) {
			np_retry_quota_refund(&a->quota, retry_cost ? retry_cost : 1);
			np_limiter_ok(&a->limiter, action, cls, np_monotonic_now());
			break;
		}
		if (throttled)
			np_limiter_throttled(&a->limiter, action, cls, np_monotonic_now());
		if (!np_retry_retryable(err->cls, err->http_status, a->mode == NP_RETRY_LEGACY) ||
		    attempt >= a->max_attempts)
			break;
		{
			int cost = resp.curl == CURLE_OPERATION_TIMEDOUT ? NP_RETRY_TIMEOUT_COST
									 : NP_RETRY_COST;

			if (!np_retry_quota_take(&a->quota, cost)) {
				np_error_prefix(err, "retry quota exhausted");
				break;
			}
			retry_cost += cost;
		}
		wait = np_retry_backoff(a->mode, attempt + 1, rand01());
		np_log_debug("aws: %s: retrying in %.2fs (%s)", action, wait, err->msg);
		if (!np_limiter_sleep(wait, stop)) {
			np_error_prefix(err, "interrupted before retrying");
			break;
		}
	}
	give_handle(a, h);
	np_buf_release(&body);
	np_query_release(&q);
	return rc;
}

int np_aws_call(struct np_aws *a, const char *action, const struct np_query *params, xmlDoc **out,
		struct np_err *err)
{
	return call(a, action, params, out, NULL, err);
}

int np_aws_call_body(struct np_aws *a, const char *action, const struct np_query *params,
		     struct np_buf *out, struct np_err *err)
{
	return call(a, action, params, NULL, out, err);
}

/* ---- signed REST requests (S3) ---- */

char *np_aws_response_header(const struct np_aws_response *r, const char *name)
{
	return np_http_header(&r->headers, name);
}

void np_aws_response_release(struct np_aws_response *r)
{
	if (!r)
		return;
	np_buf_release(&r->body);
	np_buf_release(&r->headers);
}

/* S3's error document is <Error><Code/><Message/><RequestId/></Error>; a
 * HEAD has no body, so the status names it. */
static void rest_error(const char *op, long status, const struct np_buf *body, struct np_err *err)
{
	xmlDoc *doc = np_xml_parse(body->ptr, body->len);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	char *code = NULL, *msg = NULL, *rid = NULL;
	const char *c;

	if (root && !strcmp((const char *)root->name, "Error")) {
		code = np_xml_text(root, "Code");
		msg = np_xml_text(root, "Message");
		rid = np_xml_text(root, "RequestId");
	}
	c = code            ? code
	    : status == 304 ? "NotModified"
	    : status == 404 ? "NotFound"
	    : status == 412 ? "PreconditionFailed"
	    : status == 403 ? "AccessDenied"
	    : status == 503 ? "SlowDown"
			    : "";
	err->cls = np_aws_classify(c, status);
	/* S3: a conditional write that met another in flight; its docs say retry. */
	if (!strcmp(c, "ConditionalRequestConflict"))
		err->cls = NP_ERRC_TRANSIENT;
	err->http_status = (int)status;
	snprintf(err->code, sizeof(err->code), "%s", c);
	snprintf(err->request_id, sizeof(err->request_id), "%s", rid ? rid : "");
	if (*c)
		snprintf(err->msg, sizeof(err->msg), "%s: %s: %s (HTTP %ld)", op, c,
			 msg ? msg : "(no message)", status);
	else
		snprintf(err->msg, sizeof(err->msg), "%s: HTTP %ld with no error document", op,
			 status);
	free(code);
	free(msg);
	free(rid);
	xmlFreeDoc(doc);
}

int np_aws_send(struct np_aws *a, const struct np_aws_request *req, struct np_aws_response *out,
		struct np_err *err)
{
	struct np_sigv4_header *sh = np_xcalloc(req->n_headers + 2, sizeof(*sh));
	char payload[65], *host = NULL;
	int attempt, retry_cost = 0, rc = -1;
	bool has_content_type = false;
	CURL *h = NULL;

	for (size_t i = 0; i < req->n_headers; i++)
		has_content_type =
		    has_content_type || !strcmp(req->headers[i].name, "content-type");
	memset(out, 0, sizeof(*out));
	np_buf_init(&out->body, NP_RESPONSE_MAX);
	np_buf_init(&out->headers, 1024);
	if (np_http_check_url(req->url, NP_URL_HTTP_LOOPBACK, "endpoint", &host, err) < 0)
		goto done;
	np_sha256_hex(req->body ? req->body : "", req->body_len, payload);
	h = take_handle(a);
	for (attempt = 1;; attempt++) {
		struct np_creds c = { 0 };
		struct curl_slist *hdr = NULL;
		struct np_http_resp resp;
		struct np_sigv4_input in;
		char date[17], auth[1200];
		double t0 = np_monotonic_now(), wait;
		bool throttled = false;
		size_t n = 0;

		if (current_creds(a, &c, err) < 0)
			break;
		np_sigv4_date((long long)time(NULL), date);
		for (size_t i = 0; i < req->n_headers; i++)
			sh[n++] =
			    (struct np_sigv4_header){ req->headers[i].name, req->headers[i].value };
		sh[n++] = (struct np_sigv4_header){ "x-amz-content-sha256", payload };
		memset(&in, 0, sizeof(in));
		in.method = req->method;
		in.host = host;
		in.path = req->path;
		in.query = req->query ? req->query : "";
		in.body = req->body;
		in.body_len = req->body_len;
		in.region = req->region;
		in.service = req->service;
		in.amz_date = date;
		in.access_key = c.access_key;
		in.secret_key = c.secret_key;
		in.session_token = c.session_token;
		in.headers = sh;
		in.n_headers = n;
		np_sigv4_sign(&in, auth, sizeof(auth), NULL);
		for (size_t i = 0; i < n; i++) {
			char *line = np_xasprintf("%s: %s", sh[i].name, sh[i].value);

			hdr = curl_slist_append(hdr, line);
			free(line);
		}
		hdr = curl_slist_append(hdr, "Expect:");
		/* curl would add a form content type to a body otherwise. */
		if (!has_content_type)
			hdr = curl_slist_append(hdr, req->body
							 ? "Content-Type: application/octet-stream"
							 : "Content-Type:");
		{
			char *line = np_xasprintf("X-Amz-Date: %s", date);

			hdr = curl_slist_append(hdr, line);
			free(line);
			line = np_xasprintf("Authorization: %s", auth);
			hdr = curl_slist_append(hdr, line);
			free(line);
			if (c.session_token) {
				line = np_xasprintf("X-Amz-Security-Token: %s", c.session_token);
				hdr = curl_slist_append(hdr, line);
				free(line);
			}
		}
		np_err_clear(err);
		np_buf_release(&out->body);
		np_buf_release(&out->headers);
		out->attempts = attempt;
		if (np_http_do_headers(h, req->method, req->url, NP_URL_HTTP_LOOPBACK, hdr,
				       req->body, req->body_len, a->connect_ms, a->total_ms, &resp,
				       &out->headers, err) < 0) {
			np_error_prefix(err, "%s", req->operation);
			err->cls = NP_ERRC_TRANSIENT;
			out->status = 0;
		} else {
			out->status = resp.status;
			if (resp.status >= 200 && resp.status < 300)
				rc = 0;
			else
				rest_error(req->operation, resp.status, &resp.body, err);
			throttled = rc < 0 && err->cls == NP_ERRC_THROTTLE;
		}
		out->body = resp.body;
		np_log_debug("aws: %s %s attempt %d: HTTP %ld%s%s (%.0f ms)", req->operation,
			     req->url, attempt, out->status, rc == 0 ? "" : " ",
			     rc == 0 ? "" : err->code, (np_monotonic_now() - t0) * 1000);
		curl_slist_free_all(hdr);
		np_creds_release(&c);
		count(a, throttled, attempt > 1);
		if (rc == 0) {
			np_retry_quota_refund(&a->quota, retry_cost ? retry_cost : 1);
			break;
		}
		if (!np_retry_retryable(err->cls, err->http_status, a->mode == NP_RETRY_LEGACY) ||
		    attempt >= a->max_attempts)
			break;
		{
			int cost = resp.curl == CURLE_OPERATION_TIMEDOUT ? NP_RETRY_TIMEOUT_COST
									 : NP_RETRY_COST;

			if (!np_retry_quota_take(&a->quota, cost)) {
				np_error_prefix(err, "retry quota exhausted");
				break;
			}
			retry_cost += cost;
		}
		wait = np_retry_backoff(a->mode, attempt + 1, rand01());
		np_log_debug("aws: %s: retrying in %.2fs (%s)", req->operation, wait, err->msg);
		np_limiter_sleep(wait, NULL);
	}
done:
	if (h)
		give_handle(a, h);
	free(host);
	free(sh);
	return rc;
}
