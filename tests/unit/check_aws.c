/* The AWS transport without a network: signing vectors, encoding, error
 * documents, classification, retry arithmetic, credentials from files. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/creds.h"
#include "nestplan/ec2.h"
#include "nestplan/retry.h"
#include "nestplan/sigv4.h"

#define AKID     "AKIDEXAMPLE"
#define SECRET   "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EC2_BODY "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1234567890abcdef0"

static const char *sig_of(const char *auth)
{
	const char *s = strstr(auth, "Signature=");

	return s ? s + 10 : "";
}

START_TEST(test_aws_sigv4_reproduces_iam_list_users_vector)
{
	char auth[512], chash[65];
	struct np_sigv4_input in = {
		.method = "GET",
		.host = "iam.amazonaws.com",
		.path = "/",
		.query = "Action=ListUsers&Version=2010-05-08",
		.content_type = "application/x-www-form-urlencoded; charset=utf-8",
		.body = "",
		.region = "us-east-1",
		.service = "iam",
		.amz_date = "20150830T123600Z",
		.access_key = AKID,
		.secret_key = SECRET,
	};

	np_sigv4_sign(&in, auth, sizeof(auth), chash);
	ck_assert_str_eq(chash, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
	ck_assert_str_eq(sig_of(auth),
			 "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
	ck_assert(strstr(auth, "Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request"));
}
END_TEST

START_TEST(test_aws_sigv4_reproduces_form_post_vector_and_charset_variant)
{
	char auth[512], chash[65];
	struct np_sigv4_input in = {
		.method = "POST",
		.host = "example.amazonaws.com",
		.path = "/",
		.query = "",
		.content_type = "application/x-www-form-urlencoded",
		.body = "Param1=value1",
		.body_len = 13,
		.region = "us-east-1",
		.service = "service",
		.amz_date = "20150830T123600Z",
		.access_key = AKID,
		.secret_key = SECRET,
	};

	np_sigv4_sign(&in, auth, sizeof(auth), chash);
	ck_assert_str_eq(chash, "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
	ck_assert_str_eq(sig_of(auth),
			 "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
	in.content_type = "application/x-www-form-urlencoded; charset=utf-8";
	np_sigv4_sign(&in, auth, sizeof(auth), NULL);
	ck_assert(!strncmp(sig_of(auth), "2f3b42f3", 8));
}
END_TEST

START_TEST(test_aws_sigv4_reproduces_ec2_vector_with_and_without_token)
{
	char auth[600], chash[65];
	struct np_sigv4_input in = {
		.method = "POST",
		.host = "ec2.us-east-1.amazonaws.com",
		.path = "/",
		.query = "",
		.content_type = "application/x-www-form-urlencoded; charset=utf-8",
		.body = EC2_BODY,
		.body_len = strlen(EC2_BODY),
		.region = "us-east-1",
		.service = "ec2",
		.amz_date = "20250115T120000Z",
		.access_key = AKID,
		.secret_key = SECRET,
	};
	char payload[65];

	np_sha256_hex(EC2_BODY, strlen(EC2_BODY), payload);
	ck_assert_str_eq(payload,
			 "55db06453684307b67e52c5ed6f2bd688037cda44e9feecfcc31266124c7ae58");
	np_sigv4_sign(&in, auth, sizeof(auth), chash);
	ck_assert_str_eq(chash, "d52ebb85ec4a9940a51685cfd4af8ce9d16e27abb9017a4cc96c9cf9df6e892f");
	ck_assert_str_eq(sig_of(auth),
			 "6c56345ab5a97085b47f038ee24b19be4856b59d26fc3bfed95853f7edd1559e");
	in.session_token = "FQoGZXIvYXdzEXAMPLETOKEN";
	np_sigv4_sign(&in, auth, sizeof(auth), NULL);
	ck_assert(strstr(auth, "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"));
	ck_assert_str_eq(sig_of(auth),
			 "612087882735c390c39d3c50f25d62616a571de9e0fe9a0ddaadcafe40f554ac");
}
END_TEST

START_TEST(test_aws_query_encoding_escapes_reserved_bytes)
{
	struct np_query q = NP_QUERY_INIT;
	struct np_buf b = NP_BUF_INIT;

	np_query_add(&q, "Tag.1.Key", "nestplan:address");
	np_query_add(&q, "Tag.1.Value", "runner[0] a~b");
	np_query_add(&q, "Tag.2.Value", "");
	np_query_add(&q, "U", "\xc3\xa9/+");
	np_query_encode(&q, &b);
	ck_assert_str_eq(b.ptr, "Tag.1.Key=nestplan%3Aaddress&Tag.1.Value=runner%5B0%5D%20a~b"
				"&Tag.2.Value=&U=%C3%A9%2F%2B");
	ck_assert_str_eq(np_query_get(&q, "Tag.2.Value"), "");
	np_buf_release(&b);
	np_query_release(&q);
}
END_TEST

START_TEST(test_aws_error_document_without_namespace_is_parsed)
{
	struct np_err err = NP_ERR_INIT;
	const char *doc =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
	    "<Code>IncorrectInstanceState</Code><Message>not stopped</Message></Error>"
	    "</Errors><RequestID>ea966190-example</RequestID></Response>";

	np_aws_error_from_response("ModifyInstanceAttribute", 400, doc, strlen(doc), &err);
	ck_assert_str_eq(err.code, "IncorrectInstanceState");
	ck_assert_str_eq(err.request_id, "ea966190-example");
	ck_assert_int_eq(err.http_status, 400);
	ck_assert_int_eq(err.cls, NP_ERRC_STATE);
	ck_assert_str_eq(err.msg, "ModifyInstanceAttribute: IncorrectInstanceState: not stopped");
}
END_TEST

START_TEST(test_aws_error_document_with_namespace_and_prefix)
{
	struct np_err err = NP_ERR_INIT;
	const char *doc =
	    "<Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15\"><Errors><Error>"
	    "<Code>Client.UnauthorizedOperation</Code><Message>no</Message></Error>"
	    "</Errors><RequestID>r</RequestID></Response>";

	np_aws_error_from_response("StopInstances", 403, doc, strlen(doc), &err);
	ck_assert_str_eq(err.code, "UnauthorizedOperation");
	ck_assert_int_eq(err.cls, NP_ERRC_AUTH);
	ck_assert_msg(strstr(err.msg, "allow the IAM action ec2:StopInstances"), "%s", err.msg);
}
END_TEST

START_TEST(test_aws_non_xml_5xx_is_transient_by_status)
{
	struct np_err err = NP_ERR_INIT;
	const char *page = "<html><body>Bad Gateway</body>";

	np_aws_error_from_response("DescribeInstances", 502, page, strlen(page), &err);
	ck_assert_str_eq(err.code, "");
	ck_assert_int_eq(err.cls, NP_ERRC_TRANSIENT);
}
END_TEST

START_TEST(test_aws_classification_table)
{
	ck_assert_int_eq(np_aws_classify("RequestLimitExceeded", 503), NP_ERRC_THROTTLE);
	ck_assert_int_eq(np_aws_classify("Throttling", 400), NP_ERRC_THROTTLE);
	ck_assert_int_eq(np_aws_classify("", 429), NP_ERRC_THROTTLE);
	ck_assert_int_eq(np_aws_classify("InternalError", 500), NP_ERRC_TRANSIENT);
	/* capacity is checked before the 5xx rule */
	ck_assert_int_eq(np_aws_classify("InsufficientInstanceCapacity", 500), NP_ERRC_CAPACITY);
	ck_assert_int_eq(np_aws_classify("InvalidInstanceID.NotFound", 400), NP_ERRC_CONSISTENCY);
	ck_assert_int_eq(np_aws_classify("AuthFailure", 401), NP_ERRC_AUTH);
	ck_assert_int_eq(np_aws_classify("DryRunOperation", 412), NP_ERRC_DRY_RUN_OK);
	ck_assert_int_eq(np_aws_classify("InvalidParameterValue", 400), NP_ERRC_BAD_REQUEST);
}
END_TEST

START_TEST(test_aws_retry_backoff_is_full_jitter_and_capped)
{
	ck_assert_double_eq_tol(np_retry_backoff(NP_RETRY_STANDARD, 2, 0.5), 0.5, 1e-9);
	ck_assert_double_eq_tol(np_retry_backoff(NP_RETRY_STANDARD, 3, 0.5), 1.0, 1e-9);
	ck_assert_double_eq_tol(np_retry_backoff(NP_RETRY_STANDARD, 12, 0.999), 19.98, 1e-9);
	ck_assert_double_eq_tol(np_retry_backoff(NP_RETRY_LEGACY, 12, 0.5), 512.0, 1e-9);
	ck_assert_double_eq_tol(np_retry_backoff(NP_RETRY_STANDARD, 5, 0.0), 0.0, 1e-9);
}
END_TEST

START_TEST(test_aws_retry_quota_drains_and_refunds)
{
	struct np_retry_quota q;
	int taken = 0;

	np_retry_quota_init(&q);
	while (np_retry_quota_take(&q, NP_RETRY_COST))
		taken++;
	ck_assert_int_eq(taken, NP_RETRY_QUOTA_MAX / NP_RETRY_COST);
	ck_assert(!np_retry_quota_take(&q, 1));
	np_retry_quota_refund(&q, NP_RETRY_TIMEOUT_COST);
	ck_assert(np_retry_quota_take(&q, NP_RETRY_TIMEOUT_COST));
	np_retry_quota_refund(&q, 10000);
	ck_assert_int_eq(q.tokens, NP_RETRY_QUOTA_MAX);
}
END_TEST

START_TEST(test_aws_retryable_classes)
{
	ck_assert(np_retry_retryable(NP_ERRC_THROTTLE, 503, false));
	ck_assert(np_retry_retryable(NP_ERRC_THROTTLE, 400, false));
	ck_assert(!np_retry_retryable(NP_ERRC_THROTTLE, 400, true)); /* legacy: 503 only */
	ck_assert(np_retry_retryable(NP_ERRC_TRANSIENT, 500, false));
	ck_assert(!np_retry_retryable(NP_ERRC_AUTH, 401, false));
	ck_assert(!np_retry_retryable(NP_ERRC_CAPACITY, 500, false));
	ck_assert(!np_retry_retryable(NP_ERRC_BAD_REQUEST, 400, false));
}
END_TEST

START_TEST(test_aws_limiter_sleep_gives_up_once_stopped)
{
	volatile sig_atomic_t stop = 1;

	/* A caller waiting for its turn after a signal gives up at once. */
	ck_assert(!np_limiter_sleep(3600.0, &stop));
	stop = 0;
	ck_assert(np_limiter_sleep(0.0, &stop));
}
END_TEST

START_TEST(test_aws_limiter_models_ec2_buckets_and_adapts)
{
	struct np_limiter l;
	double t = 100.0, w;

	np_limiter_init(&l, 1.0);
	/* A mutating API's burst of 200 goes at once; the 201st waits 1/5 s. */
	for (int i = 0; i < 200; i++)
		ck_assert_double_eq(
		    np_limiter_acquire(&l, "ModifyInstanceAttribute", NP_BUCKET_MUTATING, 0, t),
		    0.0);
	w = np_limiter_acquire(&l, "ModifyInstanceAttribute", NP_BUCKET_MUTATING, 0, t);
	ck_assert_double_eq_tol(w, 0.2, 1e-9);
	/* Each API has its own bucket. */
	ck_assert_double_eq(
	    np_limiter_acquire(&l, "ModifyInstanceCpuOptions", NP_BUCKET_MUTATING, 0, t), 0.0);
	/* Resource tokens: 1,000 instances started at once, then 2 a second. */
	ck_assert_double_eq(np_limiter_acquire(&l, "StartInstances", NP_BUCKET_MUTATING, 1000, t),
			    0.0);
	w = np_limiter_acquire(&l, "StartInstances", NP_BUCKET_MUTATING, 10, t);
	ck_assert_double_eq_tol(w, 5.0, 1e-9);
	/* A throttle anyway: the model empties and refills at 0.7 of the rate. */
	np_limiter_throttled(&l, "DescribeInstances", NP_BUCKET_NON_MUTATING, t);
	w = np_limiter_acquire(&l, "DescribeInstances", NP_BUCKET_NON_MUTATING, 0, t);
	ck_assert_double_eq_tol(w, 1.0 / 14.0, 1e-9);
	for (int i = 0; i < 20; i++)
		np_limiter_ok(&l, "DescribeInstances", NP_BUCKET_NON_MUTATING, t + 10);
	w = np_limiter_acquire(&l, "DescribeInstances", NP_BUCKET_NON_MUTATING, 0, t + 10);
	ck_assert_double_eq(w, 0.0);
	ck_assert_double_eq_tol(l.v[l.n - 1].request.rate, 20.0, 1e-9); /* back to the model */
	np_limiter_release(&l);

	np_limiter_init(&l, 0); /* NESTPLAN_RATE_LIMIT=off */
	for (int i = 0; i < 1000; i++)
		ck_assert_double_eq(np_limiter_acquire(&l, "CreateTags", NP_BUCKET_MUTATING, 0, t),
				    0.0);
	np_limiter_release(&l);
}
END_TEST

START_TEST(test_aws_loopback_detection)
{
	ck_assert(np_http_is_loopback_url("http://127.0.0.1:4566/"));
	ck_assert(np_http_is_loopback_url("http://127.9.9.9"));
	ck_assert(np_http_is_loopback_url("http://localhost:80/x"));
	ck_assert(np_http_is_loopback_url("http://[::1]:9000/"));
	ck_assert(!np_http_is_loopback_url("http://10.0.0.1/"));
	ck_assert(!np_http_is_loopback_url("http://127.0.0.1.evil.com/"));
	ck_assert(!np_http_is_loopback_url("http://127.0.0.1:80@10.255.255.1/"));
	ck_assert(!np_http_is_loopback_url("http://[::2]/"));
}
END_TEST

START_TEST(test_aws_url_check_judges_the_host_curl_connects_to)
{
	struct np_err err = NP_ERR_INIT;
	char *host = NULL;

	ck_assert_int_eq(np_http_check_url("http://127.0.0.1:80@10.255.255.1/",
					   NP_URL_HTTP_LOOPBACK, "endpoint", &host, &err),
			 -1);
	ck_assert_msg(strstr(err.msg, "user name or password"), "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "'10.255.255.1'"), "%s", err.msg);
	ck_assert_int_eq(np_http_check_url("https://u@ec2.us-east-1.amazonaws.com/",
					   NP_URL_HTTP_LOOPBACK, "endpoint", &host, &err),
			 -1);
	ck_assert_int_eq(
	    np_http_check_url("ftp://127.0.0.1/", NP_URL_HTTP_LOOPBACK, "endpoint", &host, &err),
	    -1);
	ck_assert_int_eq(np_http_check_url("http://169.254.170.23/v1", NP_URL_HTTP_LOOPBACK,
					   "endpoint", &host, &err),
			 -1);
	ck_assert_int_eq(np_http_check_url("http://169.254.170.23/v1", NP_URL_HTTP_CONTAINER,
					   "endpoint", &host, &err),
			 0);
	free(host);
	ck_assert_int_eq(np_http_check_url("http://[fd00:ec2::23]/v1", NP_URL_HTTP_CONTAINER,
					   "endpoint", &host, &err),
			 0);
	ck_assert_str_eq(host, "[fd00:ec2::23]");
	free(host);
	ck_assert_int_eq(np_http_check_url("http://169.254.170.9/v1", NP_URL_HTTP_CONTAINER,
					   "endpoint", &host, &err),
			 -1);
	/* The signed Host: the default port left out, any other kept. */
	ck_assert_int_eq(np_http_check_url("https://ec2.eusc-de-east-1.amazonaws.eu:443/",
					   NP_URL_HTTP_LOOPBACK, "endpoint", &host, &err),
			 0);
	ck_assert_str_eq(host, "ec2.eusc-de-east-1.amazonaws.eu");
	free(host);
	ck_assert_int_eq(np_http_check_url("http://localhost:4566", NP_URL_HTTP_LOOPBACK,
					   "endpoint", &host, &err),
			 0);
	ck_assert_str_eq(host, "localhost:4566");
	free(host);
}
END_TEST

static char tmpdir[256];

static const char *write_tmp(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void creds_env_clear(void)
{
	const char *vars[] = { "AWS_ACCESS_KEY_ID",
			       "AWS_SECRET_ACCESS_KEY",
			       "AWS_SESSION_TOKEN",
			       "AWS_PROFILE",
			       "AWS_WEB_IDENTITY_TOKEN_FILE",
			       "AWS_ROLE_ARN",
			       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
			       "AWS_CONTAINER_CREDENTIALS_FULL_URI",
			       NULL };

	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/np-creds-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_CONFIG_FILE", write_tmp("config", ""), 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", write_tmp("credentials", ""), 1);
}

static void creds_cleanup(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_aws_creds_environment_comes_first)
{
	struct np_creds c;
	struct np_err err = NP_ERR_INIT;

	creds_env_clear();
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	       write_tmp("credentials", "[default]\naws_access_key_id = FILEKEY\n"
					"aws_secret_access_key = filesecret\n"),
	       1);
	setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	ck_assert_int_eq(np_creds_resolve(&c, NULL, "us-east-1", &err), 0);
	ck_assert_str_eq(c.access_key, "ENVKEY");
	ck_assert_str_eq(c.session_token, "envtoken");
	np_creds_release(&c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	ck_assert_int_eq(np_creds_resolve(&c, NULL, "us-east-1", &err), 0);
	ck_assert_str_eq(c.access_key, "FILEKEY");
	ck_assert_ptr_null(c.session_token);
	np_creds_release(&c);
	creds_cleanup();
}
END_TEST

START_TEST(test_aws_creds_named_profile_and_config_region)
{
	struct np_creds c;
	struct np_profile p;
	struct np_err err = NP_ERR_INIT;

	creds_env_clear();
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	       write_tmp("credentials",
			 "[default]\naws_access_key_id = D\naws_secret_access_key = d\n"
			 "[ci]\naws_access_key_id = CIKEY\n"
			 "aws_secret_access_key = cisecret\n"),
	       1);
	setenv("AWS_CONFIG_FILE",
	       write_tmp("config", "[profile ci]\nregion = eu-west-1\n# comment\n"
				   "endpoint_url = http://127.0.0.1:9\n"),
	       1);
	setenv("AWS_PROFILE", "ci", 1);
	ck_assert_int_eq(np_creds_resolve(&c, NULL, NULL, &err), 0);
	ck_assert_str_eq(c.access_key, "CIKEY");
	np_creds_release(&c);
	np_profile_load(&p, NULL, &err);
	ck_assert_str_eq(p.region, "eu-west-1");
	ck_assert_str_eq(p.endpoint_url, "http://127.0.0.1:9");
	np_profile_release(&p);
	/* provider.profile wins over AWS_PROFILE */
	ck_assert_int_eq(np_creds_resolve(&c, "default", NULL, &err), 0);
	ck_assert_str_eq(c.access_key, "D");
	np_creds_release(&c);
	creds_cleanup();
}
END_TEST

START_TEST(test_aws_creds_credential_process_with_expiry)
{
	struct np_creds c;
	struct np_err err = NP_ERR_INIT;
	char conf[1024];
	const char *script;

	creds_env_clear();
	script = write_tmp("proc.sh",
			   "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"PROCKEY\", "
			   "\"SecretAccessKey\": \"procsecret\", \"SessionToken\": \"proctok\", "
			   "\"Expiration\": \"2030-01-02T03:04:05Z\"}'\n");
	snprintf(conf, sizeof(conf), "[default]\ncredential_process = sh %s\n", script);
	setenv("AWS_CONFIG_FILE", write_tmp("config", conf), 1);
	ck_assert_int_eq(np_creds_resolve(&c, NULL, NULL, &err), 0);
	ck_assert_str_eq(c.access_key, "PROCKEY");
	ck_assert_str_eq(c.session_token, "proctok");
	ck_assert_int_eq(c.expires, 1893553445LL);
	np_creds_release(&c);
	creds_cleanup();
}
END_TEST

START_TEST(test_aws_creds_none_found_lists_where_it_looked)
{
	struct np_creds c;
	struct np_err err = NP_ERR_INIT;

	creds_env_clear();
	ck_assert_int_eq(np_creds_resolve(&c, "nobody", NULL, &err), -1);
	ck_assert_int_eq(err.cls, NP_ERRC_AUTH);
	ck_assert(strstr(err.msg, "environment"));
	ck_assert(strstr(err.msg, "profile 'nobody'"));
	ck_assert(strstr(err.msg, "web identity"));
	ck_assert(strstr(err.msg, "container"));
	creds_cleanup();
}
END_TEST

START_TEST(test_aws_ini_reader_ignores_other_sections_and_comments)
{
	const char *path;
	char *v;

	creds_env_clear();
	path =
	    write_tmp("ini", "; c\n[a]\nkey = one\n[b]\n  key = nested\nkey=two # not a comment\n");
	v = np_ini_get(path, "b", "key");
	ck_assert_str_eq(v, "two # not a comment");
	free(v);
	v = np_ini_get(path, "a", "key");
	ck_assert_str_eq(v, "one");
	free(v);
	ck_assert_ptr_null(np_ini_get(path, "c", "key"));
	creds_cleanup();
}
END_TEST

/* ---- EC2 operations: encoding and parsing ---- */

static bool has(const struct np_query *q, const char *name, const char *value)
{
	const char *v = np_query_get(q, name);

	return v && !strcmp(v, value);
}

START_TEST(test_ec2_run_instances_query_matches_botocore)
{
	struct np_query q = NP_QUERY_INIT;
	struct np_strv sgs = NP_STRV_INIT;
	struct np_tags tags = NP_TAGS_INIT;
	struct np_instance w = {
		.image_id = "ami-0abcdef1234567890",
		.instance_type = "r8i.4xlarge",
		.key_name = "my-key-pair",
		.subnet_id = "subnet-0123456789abcdef0",
		.core_count = 8,
		.threads_per_core = 2,
		.nested_virtualization = NP_NV_ENABLED,
		.tenancy = NP_TENANCY_HOST,
		.host_id = "h-0123456789abcdef0",
		.hibernation = NP_BOOL_FALSE,
		.security_groups_set = true,
	};
	struct np_ec2_launch r = {
		.attrs = &w,
		.tags = &tags,
		.client_token = "np-7c1e-runner-0-g1",
		.user_data = "#!/bin/sh\n",
	};

	np_strv_push(&sgs, "sg-0123456789abcdef0");
	w.security_group_ids = sgs;
	np_tags_set(&tags, "nestplan:address", "runner[0]");
	np_ec2_run_instances_query(&q, &r);
	ck_assert(has(&q, "MinCount", "1") && has(&q, "MaxCount", "1"));
	ck_assert(has(&q, "SecurityGroupId.1", "sg-0123456789abcdef0"));
	ck_assert_ptr_null(np_query_get(&q, "SecurityGroupIds.1"));
	ck_assert(has(&q, "CpuOptions.CoreCount", "8"));
	ck_assert(has(&q, "CpuOptions.ThreadsPerCore", "2"));
	ck_assert(has(&q, "CpuOptions.NestedVirtualization", "enabled"));
	ck_assert(has(&q, "Placement.Tenancy", "host"));
	ck_assert(has(&q, "HibernationOptions.Configured", "false"));
	ck_assert(has(&q, "ImageId", "ami-0abcdef1234567890"));
	ck_assert(has(&q, "InstanceType", "r8i.4xlarge"));
	ck_assert(has(&q, "KeyName", "my-key-pair"));
	ck_assert(has(&q, "SubnetId", "subnet-0123456789abcdef0"));
	ck_assert(has(&q, "Placement.HostId", "h-0123456789abcdef0"));
	ck_assert(has(&q, "Placement.Affinity", "host"));
	ck_assert_ptr_null(np_query_get(&q, "Placement.AvailabilityZone"));
	ck_assert(has(&q, "TagSpecification.1.ResourceType", "instance"));
	ck_assert(has(&q, "TagSpecification.1.Tag.1.Key", "nestplan:address"));
	ck_assert(has(&q, "TagSpecification.1.Tag.1.Value", "runner[0]"));
	ck_assert(has(&q, "ClientToken", "np-7c1e-runner-0-g1"));
	ck_assert(has(&q, "UserData", "IyEvYmluL3NoCg=="));
	ck_assert_ptr_null(np_query_get(&q, "DryRun"));
	np_query_release(&q);
	np_strv_release(&sgs);
	np_tags_release(&tags);
}
END_TEST

START_TEST(test_ec2_cpu_options_sent_together_or_not_at_all)
{
	struct np_query q = NP_QUERY_INIT;

	np_ec2_modify_cpu_options_query(&q, "i-0123456789abcdef0", 8, 0, NP_NV_DISABLED, true);
	ck_assert_ptr_null(np_query_get(&q, "CoreCount"));
	ck_assert_ptr_null(np_query_get(&q, "ThreadsPerCore"));
	ck_assert(has(&q, "NestedVirtualization", "disabled"));
	ck_assert(has(&q, "DryRun", "true"));
	np_query_release(&q);
	np_ec2_modify_cpu_options_query(&q, "i-0123456789abcdef0", 8, 2, NP_NV_UNSET, false);
	ck_assert(has(&q, "CoreCount", "8") && has(&q, "ThreadsPerCore", "2"));
	ck_assert_ptr_null(np_query_get(&q, "NestedVirtualization"));
	np_query_release(&q);
}
END_TEST

START_TEST(test_ec2_ids_query_is_one_based)
{
	struct np_query q = NP_QUERY_INIT;
	const char *ids[] = { "i-a", "i-b" };

	np_ec2_ids_query(&q, ids, 2, false);
	ck_assert_uint_eq(q.n, 2);
	ck_assert(has(&q, "InstanceId.1", "i-a") && has(&q, "InstanceId.2", "i-b"));
	np_query_release(&q);
}
END_TEST

static const char *describe_doc =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
    "<requestId>x</requestId><reservationSet><item><reservationId>r-1</reservationId>"
    "<instancesSet><item><instanceId>i-0123456789abcdef0</instanceId>"
    "<imageId>ami-0abcdef1234567890</imageId><instanceState><code>272</code><name>running</name>"
    "</instanceState><keyName>my-key-pair</keyName><instanceType>r8i.4xlarge</instanceType>"
    "<unknownNewField><deep/></unknownNewField>"
    "<placement><availabilityZone>us-east-1a</availabilityZone><groupName/><tenancy>host</tenancy>"
    "<hostId>h-0123456789abcdef0</hostId><affinity>host</affinity></placement>"
    "<platform>windows</platform><subnetId>subnet-0123456789abcdef0</subnetId>"
    "<clientToken>np-7c1e-runner-0-g1</clientToken><tagSet>"
    "<item><key>nestplan:address</key><value>runner[0]</value></item>"
    "<item><key>nestplan:lineage</key><value>L1</value></item>"
    "<item><key>team</key><value>ci</value></item></tagSet>"
    "<hibernationOptions><configured>false</configured></hibernationOptions>"
    "<cpuOptions><coreCount>8</coreCount><threadsPerCore>2</threadsPerCore>"
    "<nestedVirtualization>enabled</nestedVirtualization></cpuOptions></item>"
    "<item><instanceId>i-0000000000000000b</instanceId><instanceState><code>80</code>"
    "<name>stopped</name></instanceState><instanceType>m6i.large</instanceType></item>"
    "</instancesSet></item></reservationSet><nextToken>tok2</nextToken>"
    "</DescribeInstancesResponse>";

START_TEST(test_ec2_parse_describe_instances_document)
{
	xmlDoc *doc = np_xml_parse(describe_doc, strlen(describe_doc));
	struct np_instance *v = NULL;
	size_t n = 0, alloc = 0;
	char *next = NULL;

	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(
	    np_ec2_parse_instances(doc, "DescribeInstances", &v, &n, &alloc, &next, NULL), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(next, "tok2");
	ck_assert_str_eq(v[0].instance_id, "i-0123456789abcdef0");
	ck_assert_int_eq(v[0].state, NP_RUN_RUNNING); /* 272 & 0xff */
	ck_assert_int_eq(v[0].tenancy, NP_TENANCY_HOST);
	ck_assert_str_eq(v[0].host_id, "h-0123456789abcdef0");
	ck_assert_int_eq(v[0].platform, NP_PLATFORM_WINDOWS);
	ck_assert_int_eq(v[0].core_count, 8);
	ck_assert_int_eq(v[0].nested_virtualization, NP_NV_ENABLED);
	ck_assert_int_eq(v[0].hibernation, NP_BOOL_FALSE);
	ck_assert_str_eq(v[0].address, "runner[0]");
	ck_assert_str_eq(v[0].lineage, "L1");
	ck_assert_uint_eq(v[0].tags.n, 1); /* nestplan:* kept out of the user's tags */
	ck_assert_str_eq(np_tags_get(&v[0].tags, "team"), "ci");
	/* missing elements: linux, disabled, default tenancy */
	ck_assert_int_eq(v[1].state, NP_RUN_STOPPED);
	ck_assert_int_eq(v[1].platform, NP_PLATFORM_LINUX);
	ck_assert_int_eq(v[1].nested_virtualization, NP_NV_DISABLED);
	ck_assert_int_eq(v[1].tenancy, NP_TENANCY_DEFAULT);
	ck_assert_ptr_null(v[1].address);
	free(next);
	np_instances_free(v, n);
	xmlFreeDoc(doc);
}
END_TEST

START_TEST(test_ec2_batch_address_tag_resolves_with_launch_index)
{
	static const char *doc_fmt =
	    "<RunInstancesResponse><instancesSet>"
	    "<item><instanceId>i-1</instanceId><amiLaunchIndex>%s</amiLaunchIndex>"
	    "<instanceType>m8i.large</instanceType><instanceState><code>0</code></"
	    "instanceState><tagSet>"
	    "<item><key>nestplan:address</key><value>%s</value></item></tagSet></item>"
	    "</instancesSet></RunInstancesResponse>";
	static const struct {
		const char *index, *tag, *address;
	} cases[] = {
		{ "0", "runner[17..116]", "runner[17]" },
		{ "99", "runner[17..116]", "runner[116]" },
		{ "100", "runner[17..116]", "runner[17..116]" }, /* out of the range: as it is */
		{ "3", "a[b][0..9]", "a[b][3]" },
		{ "3", "runner[4]", "runner[4]" },
		{ "3", "runner[9..4]", "runner[9..4]" },
		{ "3", "runner[0..5]x", "runner[0..5]x" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = np_xasprintf(doc_fmt, cases[i].index, cases[i].tag);
		xmlDoc *doc = np_xml_parse(text, strlen(text));
		struct np_instance *v = NULL;
		size_t n = 0, alloc = 0;

		ck_assert_int_eq(
		    np_ec2_parse_instances(doc, "RunInstances", &v, &n, &alloc, NULL, NULL), 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_str_eq(v[0].address, cases[i].address);
		np_instances_free(v, n);
		xmlFreeDoc(doc);
		free(text);
	}
}
END_TEST

START_TEST(test_ec2_parse_instance_types_reads_features_and_limits)
{
	const char *doc_text =
	    "<DescribeInstanceTypesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15\">"
	    "<instanceTypeSet><item><instanceType>m8i.2xlarge</instanceType><bareMetal>false"
	    "</bareMetal><processorInfo><supportedFeatures><item>nested-virtualization</item>"
	    "</supportedFeatures></processorInfo><vCpuInfo><defaultVCpus>8</defaultVCpus>"
	    "<defaultCores>4</defaultCores><defaultThreadsPerCore>2</defaultThreadsPerCore>"
	    "<validCores><item>1</item><item>2</item><item>3</item><item>4</item></validCores>"
	    "<validThreadsPerCore><item>1</item><item>2</item></validThreadsPerCore></vCpuInfo>"
	    "<hibernationSupported>true</hibernationSupported><dedicatedHostsSupported>true"
	    "</dedicatedHostsSupported></item></instanceTypeSet></DescribeInstanceTypesResponse>";
	xmlDoc *doc = np_xml_parse(doc_text, strlen(doc_text));
	struct np_catalog cat = NP_CATALOG_INIT;
	const struct np_itype *t;

	ck_assert_int_eq(np_ec2_parse_instance_types(doc, &cat, NULL, NULL), 0);
	t = np_catalog_find(&cat, "m8i.2xlarge");
	ck_assert_ptr_nonnull(t);
	ck_assert(t->nested_virtualization);
	ck_assert_int_eq(t->default_vcpus, 8);
	ck_assert_uint_eq(t->n_valid_cores, 4);
	ck_assert_int_eq(t->valid_threads[1], 2);
	ck_assert(t->hibernation_supported && t->dedicated_hosts_supported && !t->bare_metal);
	np_catalog_release(&cat);
	xmlFreeDoc(doc);
}
END_TEST

START_TEST(test_ec2_xml_with_a_dtd_is_refused)
{
	const char *bomb = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
			   "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
			   "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
			   "<DescribeInstancesResponse><nextToken>&c;</nextToken>"
			   "</DescribeInstancesResponse>";
	/* EC2 sends no DTD: an answer with one is refused before any reader
	 * could expand its entities. */
	ck_assert_ptr_null(np_xml_parse(bomb, strlen(bomb)));
}
END_TEST

START_TEST(test_ec2_builtin_catalog_knows_nested_virtualization_families)
{
	struct np_catalog cat = NP_CATALOG_INIT;
	const struct np_itype *t;

	np_catalog_builtin(&cat);
	ck_assert((t = np_catalog_find(&cat, "m8i.2xlarge")) && t->nested_virtualization);
	ck_assert((t = np_catalog_find(&cat, "c8i-flex.large")) && t->nested_virtualization);
	ck_assert((t = np_catalog_find(&cat, "m6i.2xlarge")) && !t->nested_virtualization);
	ck_assert((t = np_catalog_find(&cat, "m8i.96xlarge")) && t->default_vcpus == 384);
	np_catalog_release(&cat);
}
END_TEST

Suite *check_aws_suite(void)
{
	Suite *s = suite_create("aws");
	TCase *sig = tcase_create("sigv4"), *wire = tcase_create("wire"),
	      *retry = tcase_create("retry"), *creds = tcase_create("creds"),
	      *ec2 = tcase_create("ec2");

	tcase_add_test(sig, test_aws_sigv4_reproduces_iam_list_users_vector);
	tcase_add_test(sig, test_aws_sigv4_reproduces_form_post_vector_and_charset_variant);
	tcase_add_test(sig, test_aws_sigv4_reproduces_ec2_vector_with_and_without_token);
	tcase_add_test(wire, test_aws_query_encoding_escapes_reserved_bytes);
	tcase_add_test(wire, test_aws_error_document_without_namespace_is_parsed);
	tcase_add_test(wire, test_aws_error_document_with_namespace_and_prefix);
	tcase_add_test(wire, test_aws_non_xml_5xx_is_transient_by_status);
	tcase_add_test(wire, test_aws_classification_table);
	tcase_add_test(wire, test_aws_loopback_detection);
	tcase_add_test(wire, test_aws_url_check_judges_the_host_curl_connects_to);
	tcase_add_test(retry, test_aws_retry_backoff_is_full_jitter_and_capped);
	tcase_add_test(retry, test_aws_retry_quota_drains_and_refunds);
	tcase_add_test(retry, test_aws_retryable_classes);
	tcase_add_test(retry, test_aws_limiter_models_ec2_buckets_and_adapts);
	tcase_add_test(retry, test_aws_limiter_sleep_gives_up_once_stopped);
	tcase_add_test(creds, test_aws_creds_environment_comes_first);
	tcase_add_test(creds, test_aws_creds_named_profile_and_config_region);
	tcase_add_test(creds, test_aws_creds_credential_process_with_expiry);
	tcase_add_test(creds, test_aws_creds_none_found_lists_where_it_looked);
	tcase_add_test(creds, test_aws_ini_reader_ignores_other_sections_and_comments);
	tcase_add_test(ec2, test_ec2_run_instances_query_matches_botocore);
	tcase_add_test(ec2, test_ec2_cpu_options_sent_together_or_not_at_all);
	tcase_add_test(ec2, test_ec2_ids_query_is_one_based);
	tcase_add_test(ec2, test_ec2_parse_describe_instances_document);
	tcase_add_test(ec2, test_ec2_batch_address_tag_resolves_with_launch_index);
	tcase_add_test(ec2, test_ec2_parse_instance_types_reads_features_and_limits);
	tcase_add_test(ec2, test_ec2_xml_with_a_dtd_is_refused);
	tcase_add_test(ec2, test_ec2_builtin_catalog_knows_nested_virtualization_families);
	suite_add_tcase(s, sig);
	suite_add_tcase(s, wire);
	suite_add_tcase(s, retry);
	suite_add_tcase(s, creds);
	suite_add_tcase(s, ec2);
	return s;
}
