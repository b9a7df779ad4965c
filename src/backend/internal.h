#ifndef NESTPLAN_BACKEND_INTERNAL_H
#define NESTPLAN_BACKEND_INTERNAL_H

#include <pthread.h>

#include "nestplan/backend.h"
#include "nestplan/s3.h"

struct np_backend {
	bool remote;
	char *name; /* s3://bucket/key or the path */
	char *path; /* the file SQLite opens */
	/* S3 */
	struct np_aws *aws;
	struct np_s3 *s3;
	char *bucket, *key, *lock_key;
	char *dir;             /* private temporary directory of the copy */
	char *etag;            /* of the state object as read or last written; NULL: none yet */
	char sha[65];          /* of the bytes at etag */
	struct np_buf pending; /* a snapshot whose upload failed, sent with the next sync */
	bool writable, pushed;
	long long read_serial; /* the serial opened, for the -lock=false warning */
	long uploads;
	pthread_mutex_t sync_lock;
	/* the lock */
	pthread_mutex_t lock_mu;
	pthread_cond_t lock_cv;
	pthread_t renewer;
	bool renewing, stop, lost, locked;
	char lock_id[40];
	char *lock_etag;
	char *lock_operation;
	long long lock_created;
	double lease; /* seconds */
};

int np_backend_s3_lock(struct np_backend *b, const char *operation, double timeout,
		       struct np_backend_lock_info *took_over, struct np_err *err);
int np_backend_s3_unlock(struct np_backend *b, struct np_err *err);
int np_backend_s3_force_unlock(struct np_backend *b, const char *id, bool force,
			       struct np_err *err);

#endif
