/* Where the state's bytes live and how the lock is held: the local file
 * (the state module's own kernel lock) or S3 (KEY.lock by conditional write
 * with a renewed lease; the state downloaded to a private temporary file,
 * used by the same SQLite code, uploaded with If-Match). */
#ifndef NESTPLAN_BACKEND_H
#define NESTPLAN_BACKEND_H

#include <stdbool.h>

#include "nestplan/aws.h"
#include "nestplan/error.h"
#include "nestplan/state.h"

struct np_backend_s3 {
	const char *bucket, *key, *region, *endpoint, *kms_key_id;
};

/* "s3://BUCKET/KEY" into bucket and key (pointers into buf, which the caller
 * provides and keeps); 0 when text is such a URL, 1 when it is a plain path,
 * -1 when it starts with s3:// but is malformed. */
int np_backend_parse_url(const char *text, char *buf, size_t size, struct np_backend_s3 *out,
			 struct np_err *err);

struct np_backend;

/* A local backend for path. */
struct np_backend *np_backend_local(const char *path);
/* An S3 backend; aws is borrowed (its credentials and retries) and must
 * outlive it. Nothing is read yet. */
int np_backend_s3_new(struct np_backend **out, struct np_aws *aws, const struct np_backend_s3 *s3,
		      struct np_err *err);
/* Releases the lock if held (as np_backend_unlock) and removes the
 * temporary copy. */
void np_backend_free(struct np_backend *b);

bool np_backend_is_remote(const struct np_backend *b);
/* "s3://bucket/key", or the file's path. */
const char *np_backend_name(const struct np_backend *b);

/* The file SQLite opens: the local path, or the private copy of the remote
 * state, downloaded here (found says whether there was one; a missing one
 * leaves an empty private directory for the store to create it in). */
int np_backend_fetch(struct np_backend *b, const char **path, bool *found, struct np_err *err);

/* Make the committed state durable where it lives: a no-op for the local
 * file; for S3 an upload when it changed since the last one, with If-Match
 * on the ETag it was read at (If-None-Match: * for a new state). Safe from
 * several threads at once: callers that arrive during an upload share the
 * next one. */
int np_backend_sync(struct np_backend *b, struct np_state *st, struct np_err *err);
/* The state was opened (its serial is what this run started from). */
void np_backend_opened(struct np_backend *b, struct np_state *st);
/* Whether this run may write the remote state: it holds the lock, or the
 * user turned locking off. Without it sync only drops what changed. */
void np_backend_set_writable(struct np_backend *b, bool writable);

struct np_backend_lock_info {
	char *id, *who, *operation, *version;
	long pid;
	long long created, expires; /* seconds since the epoch */
	bool expired;
};
void np_backend_lock_info_release(struct np_backend_lock_info *li);

/* Take the lock, waiting up to timeout seconds. Local: the state's kernel
 * lock (st must be open). S3: KEY.lock created with If-None-Match: *, or an
 * expired one replaced with If-Match on its ETag, then renewed by a thread
 * until unlock. took_over (when not NULL) describes an expired lock replaced. */
int np_backend_lock(struct np_backend *b, struct np_state *st, const char *operation,
		    double timeout, struct np_backend_lock_info *took_over, struct np_err *err);
int np_backend_unlock(struct np_backend *b, struct np_state *st, struct np_err *err);
/* Remove lock id: an expired S3 lock always, a live one only with force. */
int np_backend_force_unlock(struct np_backend *b, struct np_state *st, const char *id, bool force,
			    struct np_err *err);

/* state pull: the stored bytes (S3: the object as stored; local: a
 * consistent snapshot). */
int np_backend_read(struct np_backend *b, struct np_state *st, struct np_buf *out,
		    struct np_err *err);
/* state push and init -migrate-state: replace the stored state with a file's
 * bytes. Refused when its lineage differs from the stored one, or (push) its
 * serial is lower, unless force. */
int np_backend_push(struct np_backend *b, const char *file, bool force, bool migrate,
		    struct np_err *err);

/* Counters for tests and the README's numbers. */
long np_backend_uploads(const struct np_backend *b);

#endif
