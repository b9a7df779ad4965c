/* An S3 client for one bucket, on the aws module's credentials, signing and
 * retries: GetObject, HeadObject, PutObject and DeleteObject with the
 * conditions the state backend needs (If-Match, If-None-Match: *), and
 * server-side encryption on every write. */
#ifndef NESTPLAN_S3_H
#define NESTPLAN_S3_H

#include <stdbool.h>
#include <stddef.h>

#include "nestplan/aws.h"
#include "nestplan/buf.h"
#include "nestplan/error.h"

struct np_s3_options {
	const char *bucket;
	const char *region;     /* NULL: the aws client's */
	const char *endpoint;   /* NULL: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS's host */
	const char *kms_key_id; /* NULL: SSE-S3 (AES256), else SSE-KMS with this key */
};

struct np_s3;

/* aws is borrowed and must outlive the client. */
int np_s3_new(struct np_s3 **out, struct np_aws *aws, const struct np_s3_options *opts,
	      struct np_err *err);
void np_s3_free(struct np_s3 *s3);
/* Where requests go: the bucket's URL (virtual-hosted, or path style for a
 * custom endpoint). */
const char *np_s3_bucket_url(const struct np_s3 *s3);

struct np_s3_object {
	bool found;
	struct np_buf body; /* GetObject only */
	char *etag;         /* as S3 sends it, quotes included */
	char *version_id;   /* NULL on an unversioned bucket */
	char *writer;       /* x-amz-meta-nestplan-write: who wrote this version */
	char *sse;          /* x-amz-server-side-encryption of the answer */
};
void np_s3_object_release(struct np_s3_object *o);

/* A missing key is found = false and 0; anything else that is not 2xx is -1. */
int np_s3_get(struct np_s3 *s3, const char *key, struct np_s3_object *out, struct np_err *err);
int np_s3_head(struct np_s3 *s3, const char *key, struct np_s3_object *out, struct np_err *err);

struct np_s3_condition {
	const char *if_match; /* the ETag the object must still have */
	bool if_none_match;   /* the key must not exist (If-None-Match: *) */
};

/* PutObject; out gets the new ETag and version. A write whose answer was
 * lost and whose retry then met its own object (412) is recognised by the
 * write id it carries and counts as done. 412 PreconditionFailed is -1
 * with err->http_status 412. */
int np_s3_put(struct np_s3 *s3, const char *key, const void *body, size_t len,
	      const char *content_type, const struct np_s3_condition *cond,
	      struct np_s3_object *out, struct np_err *err);
/* DeleteObject with If-Match on etag (NULL: unconditional). A key already
 * gone counts as done, and so does a retry after a lost answer that finds
 * another object there: the first attempt deleted ours. */
int np_s3_delete(struct np_s3 *s3, const char *key, const char *if_match, struct np_err *err);

/* Path style or not, and the canonical key path ("/bucket/a%20b" or "/a%20b"),
 * for tests. Caller frees. */
char *np_s3_key_path(const struct np_s3 *s3, const char *key);

#endif
