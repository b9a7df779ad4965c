/* S3 on the aws module: one bucket, its endpoint resolved once, each request
 * signed for "s3" with the payload's hash, conditional writes and SSE. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/endpoints.h"
#include "nestplan/log.h"
#include "nestplan/s3.h"

struct np_s3 {
	struct np_aws *aws;
	char *bucket;
	char *base_url;  /* scheme://host[:port][/bucket], no trailing slash */
	char *base_path; /* "" or "/bucket": the part of base_url after the host */
	char *region;    /* signing region */
	char *kms_key_id;
};

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* S3's canonical URI: every byte but A-Z a-z 0-9 - . _ ~ and '/' as %XX,
 * once (S3 is the one service whose path is not encoded twice). */
static void key_encode(struct np_buf *out, const char *key)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
		    *p == '/') {
			np_buf_add(out, (const char *)p, 1);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			np_buf_add(out, e, 3);
		}
	}
}

/* Split url into what stays and its path, trailing slashes dropped. */
static int split_url(struct np_s3 *s, const char *url, struct np_err *err)
{
	CURLU *u = curl_url();
	char *path = NULL;
	size_t n = strlen(url);
	int rc = -1;

	while (n && url[n - 1] == '/')
		n--;
	s->base_url = np_xstrndup(url, n);
	if (!u || curl_url_set(u, CURLUPART_URL, s->base_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		np_error_cls(err, NP_ERRC_USAGE, "S3 endpoint '%s' is not a URL", url);
		goto done;
	}
	n = strlen(path);
	while (n && path[n - 1] == '/')
		n--;
	s->base_path = np_xstrndup(path, n);
	rc = 0;
done:
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

int np_s3_new(struct np_s3 **out, struct np_aws *aws, const struct np_s3_options *o,
	      struct np_err *err)
{
	struct np_s3 *s = np_xcalloc(1, sizeof(*s));
	struct np_endpoint ep = { 0 };
	const char *endpoint = o->endpoint                  ? o->endpoint
			       : env("AWS_ENDPOINT_URL_S3") ? env("AWS_ENDPOINT_URL_S3")
							    : env("AWS_ENDPOINT_URL");
	const char *region = o->region ? o->region : np_aws_region(aws);
	bool fips, dualstack;

	*out = NULL;
	s->aws = aws;
	s->bucket = np_xstrdup(o->bucket);
	s->kms_key_id = np_xstrdup(o->kms_key_id);
	s->region = np_xstrdup(region);
	if (!o->bucket || !*o->bucket) {
		np_error_cls(err, NP_ERRC_USAGE, "the S3 backend needs a bucket");
		goto fail;
	}
	if (np_region_check(region, "the S3 backend's region", err) < 0)
		goto fail;
	if (endpoint) {
		/* A custom endpoint (MinIO, LocalStack, a test): path style, as the
		 * SDKs do for an endpoint they cannot put a bucket name in front of. */
		char *url =
		    np_xasprintf("%s%s%s", endpoint,
				 endpoint[strlen(endpoint) - 1] == '/' ? "" : "/", o->bucket);
		int r;

		if (np_http_check_url(endpoint, NP_URL_HTTP_LOOPBACK, "S3 endpoint", NULL, err) <
		    0) {
			free(url);
			goto fail;
		}
		r = split_url(s, url, err);
		free(url);
		if (r < 0)
			goto fail;
	} else {
		np_aws_endpoint_flags(aws, &fips, &dualstack);
		if (np_endpoint_s3(&ep, region, o->bucket, fips, dualstack, false, err) < 0)
			goto fail;
		if (np_http_check_url(ep.url, NP_URL_HTTP_LOOPBACK, "S3 endpoint", NULL, err) < 0 ||
		    split_url(s, ep.url, err) < 0)
			goto fail;
		free(s->region);
		s->region = np_xstrdup(ep.signing_region ? ep.signing_region : region);
		np_endpoint_release(&ep);
	}
	np_log_debug("s3: bucket %s at %s (signing region %s, %s)", s->bucket, s->base_url,
		     s->region, s->kms_key_id ? "SSE-KMS" : "SSE-S3");
	*out = s;
	return 0;
fail:
	np_endpoint_release(&ep);
	np_s3_free(s);
	return -1;
}

void np_s3_free(struct np_s3 *s)
{
	if (!s)
		return;
	free(s->bucket);
	free(s->base_url);
	free(s->base_path);
	free(s->region);
	free(s->kms_key_id);
	free(s);
}

const char *np_s3_bucket_url(const struct np_s3 *s) { return s->base_url; }

char *np_s3_key_path(const struct np_s3 *s, const char *key)
{
	struct np_buf b = NP_BUF_INIT;

	np_buf_puts(&b, s->base_path);
	np_buf_puts(&b, "/");
	key_encode(&b, key);
	return np_buf_detach(&b);
}

void np_s3_object_release(struct np_s3_object *o)
{
	if (!o)
		return;
	np_buf_release(&o->body);
	free(o->etag);
	free(o->version_id);
	free(o->writer);
	free(o->sse);
	memset(o, 0, sizeof(*o));
}

static int s3_send(struct np_s3 *s, const char *op, const char *method, const char *key,
		   const struct np_aws_header *h, size_t nh, const void *body, size_t len,
		   struct np_aws_response *resp, struct np_err *err)
{
	char *path = np_s3_key_path(s, key);
	char *url = np_xasprintf("%s%s", s->base_url, path + strlen(s->base_path));
	struct np_aws_request req = {
		.operation = op,
		.method = method,
		.url = url,
		.path = path,
		.query = "",
		.service = "s3",
		.region = s->region,
		.headers = h,
		.n_headers = nh,
		.body = body,
		.body_len = len,
	};
	int rc = np_aws_send(s->aws, &req, resp, err);

	if (rc < 0)
		np_error_prefix(err, "s3://%s/%s", s->bucket, key);
	free(url);
	free(path);
	return rc;
}

static void fill(struct np_s3_object *o, const struct np_aws_response *r)
{
	o->found = true;
	o->etag = np_aws_response_header(r, "ETag");
	o->version_id = np_aws_response_header(r, "x-amz-version-id");
	o->writer = np_aws_response_header(r, "x-amz-meta-nestplan-write");
	o->sse = np_aws_response_header(r, "x-amz-server-side-encryption");
	if (o->version_id && !strcmp(o->version_id, "null")) {
		free(o->version_id);
		o->version_id = NULL;
	}
}

static int read_object(struct np_s3 *s, const char *op, const char *method, const char *key,
		       struct np_s3_object *out, struct np_err *err)
{
	struct np_aws_response r;
	int rc;

	memset(out, 0, sizeof(*out));
	np_buf_init(&out->body, NP_RESPONSE_MAX);
	rc = s3_send(s, op, method, key, NULL, 0, NULL, 0, &r, err);
	if (rc == 0) {
		fill(out, &r);
		np_buf_release(&out->body);
		out->body = r.body;
		r.body = (struct np_buf)NP_BUF_INIT;
	} else if (r.status == 404) {
		np_err_clear(err);
		rc = 0;
	}
	np_aws_response_release(&r);
	return rc;
}

int np_s3_get(struct np_s3 *s, const char *key, struct np_s3_object *out, struct np_err *err)
{
	return read_object(s, "GetObject", "GET", key, out, err);
}

int np_s3_head(struct np_s3 *s, const char *key, struct np_s3_object *out, struct np_err *err)
{
	return read_object(s, "HeadObject", "HEAD", key, out, err);
}

static void write_id(char out[33])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";

	if (RAND_bytes(b, sizeof(b)) != 1)
		abort(); /* a write id must not repeat */
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
}

int np_s3_put(struct np_s3 *s, const char *key, const void *body, size_t len,
	      const char *content_type, const struct np_s3_condition *cond,
	      struct np_s3_object *out, struct np_err *err)
{
	struct np_aws_header h[7];
	struct np_aws_response r;
	char id[33];
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	write_id(id);
	if (cond && cond->if_match)
		h[n++] = (struct np_aws_header){ "if-match", cond->if_match };
	if (cond && cond->if_none_match)
		h[n++] = (struct np_aws_header){ "if-none-match", "*" };
	h[n++] = (struct np_aws_header){ "x-amz-meta-nestplan-write", id };
	/* Encrypted at rest always, whatever the bucket's default. */
	if (s->kms_key_id) {
		h[n++] = (struct np_aws_header){ "x-amz-server-side-encryption", "aws:kms" };
		h[n++] = (struct np_aws_header){ "x-amz-server-side-encryption-aws-kms-key-id",
						 s->kms_key_id };
	} else {
		h[n++] = (struct np_aws_header){ "x-amz-server-side-encryption", "AES256" };
	}
	if (content_type)
		h[n++] = (struct np_aws_header){ "content-type", content_type };
	rc = s3_send(s, "PutObject", "PUT", key, h, n, body ? body : "", len, &r, err);
	if (rc == 0) {
		fill(out, &r);
	} else if (r.status == 412 || r.status == 409) {
		/* An earlier attempt may have written it, ours or the one libcurl
		 * sends again by itself when a reused connection dies before the
		 * answer: then the object there carries our write id. */
		struct np_s3_object cur;
		struct np_err herr = NP_ERR_INIT;

		if (np_s3_head(s, key, &cur, &herr) == 0 && cur.found && cur.writer &&
		    !strcmp(cur.writer, id)) {
			np_log_debug("s3: PutObject s3://%s/%s: the lost answer's write was ours",
				     s->bucket, key);
			np_err_clear(err);
			*out = cur;
			rc = 0;
		} else {
			np_s3_object_release(&cur);
		}
	}
	np_aws_response_release(&r);
	return rc;
}

int np_s3_delete(struct np_s3 *s, const char *key, const char *if_match, struct np_err *err)
{
	struct np_aws_header h[1];
	struct np_aws_response r;
	size_t n = 0;
	int rc;

	if (if_match)
		h[n++] = (struct np_aws_header){ "if-match", if_match };
	rc = s3_send(s, "DeleteObject", "DELETE", key, h, n, NULL, 0, &r, err);
	/* Gone is what was asked; after a lost answer, 412 means the next
	 * holder's object is there and ours was deleted. */
	if (rc < 0 && (r.status == 404 || (r.attempts > 1 && r.status == 412))) {
		np_err_clear(err);
		rc = 0;
	}
	np_aws_response_release(&r);
	return rc;
}
