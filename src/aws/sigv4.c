/* SigV4: canonical request, string to sign, derived key, signature. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nestplan/buf.h"
#include "nestplan/sigv4.h"

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n);
}

void np_sigv4_date(long long t, char out[17])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

struct hdr {
	const char *name, *value;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct hdr *)a)->name, ((const struct hdr *)b)->name);
}

void np_sigv4_sign(const struct np_sigv4_input *in, char *authorization, size_t auth_size,
		   char canonical_hash[65])
{
	struct np_buf creq = NP_BUF_INIT, sts = NP_BUF_INIT, key = NP_BUF_INIT, sh = NP_BUF_INIT;
	char payload[65], chash[65], date[9], sig[65];
	unsigned char k1[32], k2[32], k3[32], k4[32], s[32];
	struct hdr *h = malloc((in->n_headers + 4) * sizeof(*h));
	const char *payload_hash = NULL;
	size_t n = 0;

	if (!h)
		abort();
	memcpy(date, in->amz_date, 8);
	date[8] = '\0';
	np_sha256_hex(in->body ? in->body : "", in->body_len, payload);
	if (in->content_type)
		h[n++] = (struct hdr){ "content-type", in->content_type };
	h[n++] = (struct hdr){ "host", in->host };
	h[n++] = (struct hdr){ "x-amz-date", in->amz_date };
	if (in->session_token)
		h[n++] = (struct hdr){ "x-amz-security-token", in->session_token };
	for (size_t i = 0; i < in->n_headers; i++) {
		h[n++] = (struct hdr){ in->headers[i].name, in->headers[i].value };
		if (!strcmp(in->headers[i].name, "x-amz-content-sha256"))
			payload_hash = in->headers[i].value;
	}
	qsort(h, n, sizeof(*h), by_name);
	np_buf_printf(&creq, "%s\n%s\n%s\n", in->method, in->path, in->query ? in->query : "");
	for (size_t i = 0; i < n; i++) {
		np_buf_printf(&creq, "%s:%s\n", h[i].name, h[i].value);
		np_buf_printf(&sh, "%s%s", i ? ";" : "", h[i].name);
	}
	np_buf_printf(&creq, "\n%s\n%s", sh.ptr, payload_hash ? payload_hash : payload);
	np_sha256_hex(creq.ptr, creq.len, chash);

	np_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", in->amz_date, date,
		      in->region, in->service, chash);
	np_buf_printf(&key, "AWS4%s", in->secret_key);
	hmac((const unsigned char *)key.ptr, key.len, date, k1);
	hmac(k1, 32, in->region, k2);
	hmac(k2, 32, in->service, k3);
	hmac(k3, 32, "aws4_request", k4);
	hmac(k4, 32, sts.ptr, s);
	hex(s, 32, sig);
	snprintf(authorization, auth_size,
		 "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
		 "Signature=%s",
		 in->access_key, date, in->region, in->service, sh.ptr, sig);
	if (canonical_hash)
		memcpy(canonical_hash, chash, 65);
	/* The key material does not outlive the call. */
	OPENSSL_cleanse(key.ptr, key.len);
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k4, sizeof(k4));
	np_buf_release(&creq);
	np_buf_release(&sts);
	np_buf_release(&key);
	np_buf_release(&sh);
	free(h);
}
