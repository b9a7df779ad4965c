/* Errors: functions that can fail return 0 or -1 and fill a struct np_err. */
#ifndef NESTPLAN_ERROR_H
#define NESTPLAN_ERROR_H

#include <stdarg.h>

/* What kind of failure, so callers can decide without parsing messages. */
enum np_err_class {
	NP_ERRC_NONE = 0,
	NP_ERRC_GENERIC,     /* anything not below */
	NP_ERRC_USAGE,       /* bad command line or config */
	NP_ERRC_THROTTLE,    /* EC2 throttling */
	NP_ERRC_TRANSIENT,   /* 5xx, timeouts, resets: retryable */
	NP_ERRC_CONSISTENCY, /* eventual consistency, e.g. NotFound just after launch */
	NP_ERRC_STATE,       /* IncorrectInstanceState */
	NP_ERRC_CAPACITY,    /* InsufficientInstanceCapacity and friends */
	NP_ERRC_AUTH,        /* credentials, signatures, UnauthorizedOperation */
	NP_ERRC_BAD_REQUEST, /* terminal EC2 client errors */
	NP_ERRC_DRY_RUN_OK,  /* DryRunOperation: the permission check passed */
	NP_ERRC_LOCKED,      /* the state lock is held by someone else */
	NP_ERRC_INTERRUPTED, /* SIGINT/SIGTERM */
};

#define NP_ERR_MSG_MAX 4096

struct np_err {
	enum np_err_class cls;
	int http_status; /* 0 when no HTTP answer */
	char code[96];   /* EC2's error code, "" when none */
	char request_id[96];
	char msg[NP_ERR_MSG_MAX];
};

#define NP_ERR_INIT                         \
	{                                   \
		NP_ERRC_NONE, 0, "", "", "" \
	}

/* Fill err (if not NULL) with a formatted message; always returns -1. */
int np_error(struct np_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int np_verror(struct np_err *err, const char *fmt, va_list ap);
/* Same, with a class. */
int np_error_cls(struct np_err *err, enum np_err_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Put context in front of an existing message: "ctx: old message". */
int np_error_prefix(struct np_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void np_err_clear(struct np_err *err);

#endif
