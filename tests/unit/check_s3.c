/* The S3 client and the state backend without a network: S3's SigV4
 * vectors, addressing, header parsing, s3:// URLs and the backend: block. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aws/internal.h"
#include "nestplan/backend.h"
#include "nestplan/config.h"
#include "nestplan/s3.h"
#include "nestplan/sigv4.h"

#define AKID      "AKIAIOSFODNN7EXAMPLE"
#define SECRET    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char *sig_of(const char *auth)
{
	const char *s = strstr(auth, "Signature=");

	return s ? s + 10 : "";
}

/* "Signature Calculations for the Authorization Header", Amazon S3 API
 * Reference, example "GET Object": a Range header and the payload hash signed. */
START_TEST(test_s3_sigv4_reproduces_the_get_object_example)
{
	struct np_sigv4_header h[] = { { "range", "bytes=0-9" },
				       { "x-amz-content-sha256", EMPTY_SHA } };
	struct np_sigv4_input in = {
		.method = "GET",
		.host = "examplebucket.s3.amazonaws.com",
		.path = "/test.txt",
		.query = "",
		.region = "us-east-1",
		.service = "s3",
		.amz_date = "20130524T000000Z",
		.access_key = AKID,
		.secret_key = SECRET,
		.headers = h,
		.n_headers = 2,
	};
	char auth[600];

	np_sigv4_sign(&in, auth, sizeof(auth), NULL);
	ck_assert(strstr(auth, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"));
	ck_assert_str_eq(sig_of(auth),
			 "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}
END_TEST

/* The same page's "PUT Object": a key with '$' encoded once, a Date header. */
START_TEST(test_s3_sigv4_reproduces_the_put_object_example)
{
	const char *body = "Welcome to Amazon S3.";
	char payload[65], auth[600];

	np_sha256_hex(body, strlen(body), payload);
	ck_assert_str_eq(payload,
			 "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	{
		struct np_sigv4_header h[] = { { "date", "Fri, 24 May 2013 00:00:00 GMT" },
					       { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
					       { "x-amz-content-sha256", payload } };
		struct np_sigv4_input in = {
			.method = "PUT",
			.host = "examplebucket.s3.amazonaws.com",
			.path = "/test%24file.text",
			.query = "",
			.body = body,
			.body_len = strlen(body),
			.region = "us-east-1",
			.service = "s3",
			.amz_date = "20130524T000000Z",
			.access_key = AKID,
			.secret_key = SECRET,
			.headers = h,
			.n_headers = 3,
		};

		np_sigv4_sign(&in, auth, sizeof(auth), NULL);
	}
	ck_assert(strstr(
	    auth, "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"));
	ck_assert_str_eq(sig_of(auth),
			 "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}
END_TEST

static struct np_aws *test_aws(void)
{
	struct np_aws_options o = { .region = "eu-west-1" };
	struct np_err err = NP_ERR_INIT;
	struct np_aws *aws = NULL;

	setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_CONFIG_FILE", "/dev/null", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_PROFILE");
	ck_assert_msg(np_aws_new(&aws, &o, &err) == 0, "%s", err.msg);
	return aws;
}

START_TEST(test_s3_addressing_virtual_hosted_path_style_and_partitions)
{
	struct np_aws *aws = test_aws();
	struct np_err err = NP_ERR_INIT;
	struct np_s3 *s3 = NULL;
	char *p;

	/* AWS's own hosts: virtual-hosted, the region's partition. */
	ck_assert_int_eq(
	    np_s3_new(&s3, aws, &(struct np_s3_options){ .bucket = "team-state" }, &err), 0);
	ck_assert_str_eq(np_s3_bucket_url(s3), "https://team-state.s3.eu-west-1.amazonaws.com");
	p = np_s3_key_path(s3, "ci/a b+$.db");
	ck_assert_str_eq(p, "/ci/a%20b%2B%24.db");
	free(p);
	np_s3_free(s3);
	ck_assert_int_eq(
	    np_s3_new(&s3, aws,
		      &(struct np_s3_options){ .bucket = "team-state", .region = "cn-north-1" },
		      &err),
	    0);
	ck_assert_str_eq(np_s3_bucket_url(s3), "https://team-state.s3.cn-north-1.amazonaws.com.cn");
	np_s3_free(s3);
	/* A custom endpoint: path style, the bucket in the path that is signed. */
	ck_assert_int_eq(np_s3_new(&s3, aws,
				   &(struct np_s3_options){ .bucket = "b1",
							    .endpoint = "http://127.0.0.1:9000/" },
				   &err),
			 0);
	ck_assert_str_eq(np_s3_bucket_url(s3), "http://127.0.0.1:9000/b1");
	p = np_s3_key_path(s3, "k/x.db");
	ck_assert_str_eq(p, "/b1/k/x.db");
	free(p);
	np_s3_free(s3);
	setenv("AWS_ENDPOINT_URL_S3", "http://localhost:4566", 1);
	ck_assert_int_eq(np_s3_new(&s3, aws, &(struct np_s3_options){ .bucket = "b2" }, &err), 0);
	ck_assert_str_eq(np_s3_bucket_url(s3), "http://localhost:4566/b2");
	np_s3_free(s3);
	unsetenv("AWS_ENDPOINT_URL_S3");
	/* Plain http off this machine, and user info, are refused as for EC2. */
	ck_assert_int_eq(
	    np_s3_new(&s3, aws,
		      &(struct np_s3_options){ .bucket = "b1", .endpoint = "http://10.0.0.1:9000" },
		      &err),
	    -1);
	ck_assert(strstr(err.msg, "plain http"));
	ck_assert_int_eq(np_s3_new(&s3, aws,
				   &(struct np_s3_options){
				       .bucket = "b1", .endpoint = "https://u:p@s3.example.com" },
				   &err),
			 -1);
	ck_assert(strstr(err.msg, "user name or password"));
	np_aws_free(aws);
}
END_TEST

START_TEST(test_s3_response_headers_are_found_case_insensitively)
{
	struct np_buf b = NP_BUF_INIT;
	char *v;

	np_buf_puts(&b, "HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nx-amz-version-id:  v1 \r\n"
			"X-Amz-Meta-Nestplan-Write: id1\r\n\r\n");
	v = np_http_header(&b, "etag");
	ck_assert_str_eq(v, "\"abc\"");
	free(v);
	v = np_http_header(&b, "X-AMZ-VERSION-ID");
	ck_assert_str_eq(v, "v1");
	free(v);
	v = np_http_header(&b, "x-amz-meta-nestplan-write");
	ck_assert_str_eq(v, "id1");
	free(v);
	ck_assert_ptr_null(np_http_header(&b, "x-amz-version"));
	np_buf_release(&b);
}
END_TEST

START_TEST(test_s3_state_urls)
{
	struct np_backend_s3 s;
	struct np_err err = NP_ERR_INIT;
	char buf[256];

	ck_assert_int_eq(
	    np_backend_parse_url("s3://bucket/team/nestplan.db", buf, sizeof(buf), &s, &err), 0);
	ck_assert_str_eq(s.bucket, "bucket");
	ck_assert_str_eq(s.key, "team/nestplan.db");
	ck_assert_int_eq(np_backend_parse_url("nestplan.db", buf, sizeof(buf), &s, &err), 1);
	ck_assert_int_eq(np_backend_parse_url("./s3://x", buf, sizeof(buf), &s, &err), 1);
	ck_assert_int_eq(np_backend_parse_url("s3://bucket", buf, sizeof(buf), &s, &err), -1);
	ck_assert_int_eq(np_backend_parse_url("s3://bucket/", buf, sizeof(buf), &s, &err), -1);
	ck_assert_int_eq(np_backend_parse_url("s3:///key", buf, sizeof(buf), &s, &err), -1);
	ck_assert_int_eq(np_backend_parse_url("s3://b/dir/", buf, sizeof(buf), &s, &err), -1);
	ck_assert(strstr(err.msg, "s3://BUCKET/KEY"));
}
END_TEST

#define DOC_HEAD                                                                            \
	"version: 1\ninstances:\n  web: { image_id: ami-0abcdef1234567890, instance_type: " \
	"m8i.large }\n"

START_TEST(test_s3_backend_block_is_read_and_checked)
{
	const char *good =
	    DOC_HEAD "backend:\n  s3:\n    bucket: team-state\n    key: ci/nestplan.db\n"
		     "    region: eu-west-1\n    endpoint: http://127.0.0.1:9000\n"
		     "    kms_key_id: alias/nestplan\n";
	const char *bad = DOC_HEAD "backend:\n  s3:\n    bucket: Team_State\n    kee: x\n"
				   "    region: eu-west-9x\n";
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;

	ck_assert_msg(np_config_parse(&cfg, "t.yaml", good, strlen(good), &err) == 0, "%s",
		      err.msg);
	ck_assert(cfg->has_backend);
	ck_assert_str_eq(cfg->backend.bucket, "team-state");
	ck_assert_str_eq(cfg->backend.key, "ci/nestplan.db");
	ck_assert_str_eq(cfg->backend.region, "eu-west-1");
	ck_assert_str_eq(cfg->backend.endpoint, "http://127.0.0.1:9000");
	ck_assert_str_eq(cfg->backend.kms_key_id, "alias/nestplan");
	np_config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(np_config_parse(&cfg, "t.yaml", bad, strlen(bad), &err), -1);
	ck_assert_msg(strstr(err.msg, "t.yaml:6:13: error: 'bucket' must be an S3 bucket name"),
		      "%s", err.msg);
	ck_assert_msg(
	    strstr(err.msg, "t.yaml:7:5: error: unknown key 'kee' in 's3'; did you mean 'key'?"),
	    "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "t.yaml:8:13:"), "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "'backend.s3' needs 'key'"), "%s", err.msg);
}
END_TEST

Suite *check_s3_suite(void)
{
	Suite *s = suite_create("s3");
	TCase *t = tcase_create("s3");

	tcase_add_test(t, test_s3_sigv4_reproduces_the_get_object_example);
	tcase_add_test(t, test_s3_sigv4_reproduces_the_put_object_example);
	tcase_add_test(t, test_s3_addressing_virtual_hosted_path_style_and_partitions);
	tcase_add_test(t, test_s3_response_headers_are_found_case_insensitively);
	tcase_add_test(t, test_s3_state_urls);
	tcase_add_test(t, test_s3_backend_block_is_read_and_checked);
	suite_add_tcase(s, t);
	return s;
}
