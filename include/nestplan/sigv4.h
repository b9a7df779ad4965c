/* AWS Signature Version 4 with OpenSSL; the time is a parameter. */
#ifndef NESTPLAN_SIGV4_H
#define NESTPLAN_SIGV4_H

#include <stddef.h>

#include "nestplan/sha256.h" /* np_sha256_hex, which SigV4 uses */

/* A further header to sign (S3: x-amz-content-sha256, conditions, SSE);
 * name in lower case, value trimmed. */
struct np_sigv4_header {
	const char *name;
	const char *value;
};

struct np_sigv4_input {
	const char *method;       /* "POST" */
	const char *host;         /* as sent in Host:, with a non-default port */
	const char *path;         /* "/" */
	const char *query;        /* canonical query string, "" for a form POST */
	const char *content_type; /* signed when not NULL */
	const char *body;
	size_t body_len;
	const char *region;
	const char *service;  /* "ec2", "sts" */
	const char *amz_date; /* YYYYMMDDTHHMMSSZ */
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL without one; signed when set */
	/* S3: signed besides host, x-amz-date and the token, in any order; a
	 * x-amz-content-sha256 among them is the payload hash as sent. The path
	 * is used as given: S3 encodes it once, never twice. */
	const struct np_sigv4_header *headers;
	size_t n_headers;
};

/* Fills authorization (the whole header value) and, for tests, the hex
 * SHA-256 of the canonical request. */
void np_sigv4_sign(const struct np_sigv4_input *in, char *authorization, size_t auth_size,
		   char canonical_hash[65]);
/* X-Amz-Date for t (seconds since the epoch, UTC). */
void np_sigv4_date(long long t, char out[17]);

#endif
