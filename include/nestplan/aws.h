/* The AWS transport: credentials, region and endpoint, SigV4, HTTP with
 * connection reuse, EC2 error documents, classification and retries.
 * Typed EC2 operations are in ec2.h and sit on np_aws_call(). */
#ifndef NESTPLAN_AWS_H
#define NESTPLAN_AWS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <libxml/tree.h>

#include "nestplan/buf.h"
#include "nestplan/error.h"

#define NP_EC2_API_VERSION "2016-11-15"

/* A Query API parameter list, in the order added. */
struct np_param {
	char *name;
	char *value;
};

struct np_query {
	struct np_param *v;
	size_t n, alloc;
};
#define NP_QUERY_INIT      \
	{                  \
		NULL, 0, 0 \
	}

void np_query_add(struct np_query *q, const char *name, const char *value);
void np_query_addf(struct np_query *q, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *np_query_get(const struct np_query *q, const char *name);
void np_query_release(struct np_query *q);
/* RFC 3986: every byte outside A-Z a-z 0-9 - . _ ~ as %XX, space as %20. */
void np_query_encode(const struct np_query *q, struct np_buf *out);
void np_uri_encode(struct np_buf *out, const char *s);

/* Where the client's settings come from; every field optional: NULL falls
 * back to the AWS conventions (environment, profile, defaults). */
struct np_aws_options {
	const char *region;     /* provider.region */
	const char *profile;    /* provider.profile */
	const char *endpoint;   /* provider.endpoint */
	int max_attempts;       /* 0: AWS_MAX_ATTEMPTS, else mode default */
	int connect_timeout_ms; /* 0: default */
	int timeout_ms;         /* 0: default */
	/* A client whose credentials to copy when its profile is this one's: the
	 * S3 backend's and EC2's clients resolve them once (one assume-role, one
	 * IMDS round trip), not twice. NULL: resolve. */
	const struct np_aws *share_creds;
};

struct np_aws; /* opaque; safe to share between threads */

int np_aws_new(struct np_aws **out, const struct np_aws_options *opts, struct np_err *err);
void np_aws_free(struct np_aws *aws);
const char *np_aws_region(const struct np_aws *aws);
const char *np_aws_endpoint(const struct np_aws *aws);

/* One EC2 Query call: adds Action and Version, signs, sends, retries what
 * is retryable, and on HTTP 2xx returns the parsed response document (caller
 * frees with xmlFreeDoc). On failure err carries cls, http_status, code,
 * request_id and a message "ACTION: CODE: MESSAGE". DryRunOperation comes
 * back as -1 with cls NP_ERRC_DRY_RUN_OK. */
int np_aws_call(struct np_aws *aws, const char *action, const struct np_query *params, xmlDoc **out,
		struct np_err *err);

/* One signed REST request to another AWS service (S3), with the client's
 * credentials, retries and retry quota. */
struct np_aws_header {
	const char *name; /* lower case: it is signed as given */
	const char *value;
};

struct np_aws_request {
	const char *operation; /* "PutObject", for messages and logs */
	const char *method;
	const char *url;     /* scheme://host[:port] + path (encoded once) + ?query */
	const char *path;    /* the path as in url, for the signature */
	const char *query;   /* canonical query string, "" for none */
	const char *service; /* signing name: "s3" */
	const char *region;  /* signing region */
	const struct np_aws_header *headers;
	size_t n_headers;
	const char *body;
	size_t body_len;
};

struct np_aws_response {
	long status;
	struct np_buf body;    /* capped at NP_RESPONSE_MAX */
	struct np_buf headers; /* header lines; see np_aws_response_header */
	int attempts;          /* > 1: an earlier attempt may have been applied */
};

/* Sends req, signing every attempt (x-amz-content-sha256 is the payload's
 * hash), and retries throttling, 5xx and dropped connections. 0 on HTTP
 * 2xx; else -1 with err filled from S3's XML error (code, http_status; 304,
 * 404 and 412 included) and out still describing the last answer. Release
 * out with np_aws_response_release either way. */
int np_aws_send(struct np_aws *aws, const struct np_aws_request *req, struct np_aws_response *out,
		struct np_err *err);
char *np_aws_response_header(const struct np_aws_response *r, const char *name);
void np_aws_response_release(struct np_aws_response *r);
/* The FIPS and dual-stack choices of the profile and environment. */
void np_aws_endpoint_flags(const struct np_aws *aws, bool *fips, bool *dualstack);
const char *np_aws_profile(const struct np_aws *aws);

/* Called before every EC2 call that may change something (not DryRun, not
 * Describe*); a failure stops the call before it is sent. The state
 * backend uses it to make the journal durable first, one upload covering
 * every call in flight. */
typedef int (*np_aws_before_mutation_fn)(void *ud, const char *action, struct np_err *err);
void np_aws_set_before_mutation(struct np_aws *aws, np_aws_before_mutation_fn fn, void *ud);

/* Counters for benchmarks and tests. */
struct np_aws_stats {
	long calls; /* HTTP requests sent */
	long retries;
	long throttled;
};
/* flag (set by a signal handler): from then on a mutating call still waiting
 * for the rate limiter or a retry gives up (NP_ERRC_INTERRUPTED when nothing
 * was sent), except on a thread that allows it (the calls that put stopped
 * instances back). */
void np_aws_set_interrupt(struct np_aws *aws, volatile sig_atomic_t *flag);
void np_aws_allow_after_interrupt(bool allow);
void np_aws_get_stats(struct np_aws *aws, struct np_aws_stats *out);

#endif
