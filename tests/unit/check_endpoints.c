/* Partitions and endpoints: every row botocore answered (tests/data/
 * endpoints.json, from tools/gen_endpoint_cases.py; NESTPLAN_ENDPOINT_CASES
 * names another file, as the integration test does with live rows) must
 * resolve to the same URL and signing scope, or be refused as botocore
 * refuses it. Regions, suggestions and ARNs of every partition. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/endpoints.h"

static const char *cases_path(void)
{
	const char *p = getenv("NESTPLAN_ENDPOINT_CASES");

	return p && *p ? p : "tests/data/endpoints.json";
}

static const char *sval(json_t *row, const char *k)
{
	return json_string_value(json_object_get(row, k));
}

START_TEST(test_endpoints_every_botocore_row_resolves_the_same)
{
	json_error_t jerr;
	json_t *doc = json_load_file(cases_path(), 0, &jerr), *row;
	size_t i, n_ok = 0, n_refused = 0;
	int failures = 0;

	ck_assert_msg(doc, "cannot read %s: %s", cases_path(), jerr.text);
	ck_assert_int_gt(json_array_size(json_object_get(doc, "rows")), 100);
	json_array_foreach(json_object_get(doc, "rows"), i, row)
	{
		struct np_endpoint ep;
		struct np_err err = NP_ERR_INIT;
		const char *svc = sval(row, "service");
		struct np_endpoint_params p = {
			.region = sval(row, "region"),
			.use_fips = json_is_true(json_object_get(row, "fips")),
			.use_dualstack = json_is_true(json_object_get(row, "dualstack")),
			.endpoint = sval(row, "endpoint"),
			.bucket = sval(row, "bucket"),
			.force_path_style = json_is_true(json_object_get(row, "force_path_style")),
		};
		enum np_service s = !strcmp(svc, "ec2")   ? NP_SERVICE_EC2
				    : !strcmp(svc, "sts") ? NP_SERVICE_STS
							  : NP_SERVICE_S3;
		const char *want_err = sval(row, "error");
		int rc;

		/* botocore's defaults: sts_regional_endpoints "regional", s3
		 * us_east_1_regional_endpoint "legacy". */
		p.use_global_endpoint =
		    s == NP_SERVICE_S3 && p.region && !strcmp(p.region, "us-east-1");
		rc = np_endpoint_resolve(&ep, s, &p, &err);
		if (want_err) {
			char trimmed[512];
			size_t len;

			snprintf(trimmed, sizeof(trimmed), "%s", want_err);
			len = strlen(trimmed);
			while (len && (trimmed[len - 1] == ' ' || trimmed[len - 1] == ':'))
				trimmed[--len] = '\0';
			if (rc == 0 || !strstr(err.msg, trimmed)) {
				fprintf(
				    stderr,
				    "row %zu %s %s fips=%d dualstack=%d: botocore refuses (%s), "
				    "nestplan %s %s\n",
				    i, svc, p.region, p.use_fips, p.use_dualstack, want_err,
				    rc == 0 ? "gives" : "says", rc == 0 ? ep.url : err.msg);
				failures++;
			}
			n_refused++;
		} else {
			char url[512];
			size_t len;

			snprintf(url, sizeof(url), "%s", rc == 0 ? ep.url : "");
			len = strlen(url);
			while (len && url[len - 1] == '/')
				url[--len] = '\0';
			if (rc < 0 || strcmp(url, sval(row, "url")) ||
			    strcmp(ep.signing_region, sval(row, "signing_region")) ||
			    strcmp(ep.signing_name, sval(row, "signing_name"))) {
				fprintf(stderr,
					"row %zu %s %s fips=%d dualstack=%d endpoint=%s bucket=%s: "
					"botocore %s (%s/%s), nestplan %s (%s/%s)\n",
					i, svc, p.region, p.use_fips, p.use_dualstack,
					p.endpoint ? p.endpoint : "-", p.bucket ? p.bucket : "-",
					sval(row, "url"), sval(row, "signing_region"),
					sval(row, "signing_name"), rc == 0 ? url : err.msg,
					rc == 0 ? ep.signing_region : "",
					rc == 0 ? ep.signing_name : "");
				failures++;
			}
			n_ok++;
		}
		np_endpoint_release(&ep);
	}
	json_decref(doc);
	ck_assert_int_gt(n_refused, 0);
	ck_assert_int_gt(n_ok, 0);
	ck_assert_msg(failures == 0, "%d of %zu rows differ from botocore (listed above)", failures,
		      n_ok + n_refused);
}
END_TEST

START_TEST(test_endpoints_regions_of_every_partition)
{
	static const struct {
		const char *region, *partition;
	} cases[] = {
		{ "us-east-1", "aws" },
		{ "eu-west-1", "aws" },
		{ "mx-moon-7", "aws" },
		{ "aws-global", "aws" },
		{ "cn-north-1", "aws-cn" },
		{ "cn-northwest-1", "aws-cn" },
		{ "us-gov-west-1", "aws-us-gov" },
		{ "us-gov-east-1", "aws-us-gov" },
		{ "eusc-de-east-1", "aws-eusc" },
		{ "eusc-de-west-9", "aws-eusc" },
		{ "us-iso-east-1", "aws-iso" },
		{ "us-isob-east-1", "aws-iso-b" },
		{ "eu-isoe-west-1", "aws-iso-e" },
		{ "us-isof-south-1", "aws-iso-f" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct np_partition *p = np_partition_of(cases[i].region);

		ck_assert_msg(p, "%s has no partition", cases[i].region);
		ck_assert_str_eq(p->id, cases[i].partition);
		ck_assert_int_eq(np_region_check(cases[i].region, "'region'", NULL), 0);
	}
	ck_assert_ptr_null(np_partition_of("eusc-fr-east-1")); /* eusc is (de) only */
	ck_assert_ptr_null(np_partition_of("us-east-1a"));
	ck_assert_ptr_null(np_partition_of("US-EAST-1"));
	ck_assert_ptr_null(np_partition_of("us-east-1\n"));
	ck_assert_ptr_null(np_partition_of(""));
	ck_assert_str_eq(np_partition_by_id("aws-eusc")->dns_suffix, "amazonaws.eu");
}
END_TEST

START_TEST(test_endpoints_unknown_region_suggests_a_known_one)
{
	struct np_err err = NP_ERR_INIT;

	ck_assert_int_eq(np_region_check("eusc-fr-east-1", "'region'", &err), -1);
	ck_assert_msg(strstr(err.msg, "did you mean 'eusc-de-east-1'"), "%s", err.msg);
	ck_assert_int_eq(np_region_check("us-east1", "'region'", &err), -1);
	ck_assert_msg(strstr(err.msg, "did you mean 'us-east-1'"), "%s", err.msg);
	ck_assert_int_eq(np_region_check("mars", "'region'", &err), -1);
	ck_assert_msg(strstr(err.msg, "'mars' is not a region of any AWS partition"), "%s",
		      err.msg);
}
END_TEST

START_TEST(test_endpoints_s3_virtual_host_and_path_style)
{
	struct np_endpoint ep;
	struct np_err err = NP_ERR_INIT;

	ck_assert_int_eq(np_endpoint_s3(&ep, "eusc-de-east-1", "state", false, false, false, &err),
			 0);
	ck_assert_str_eq(ep.url, "https://state.s3.eusc-de-east-1.amazonaws.eu");
	ck_assert_str_eq(ep.host, "state.s3.eusc-de-east-1.amazonaws.eu");
	ck_assert_str_eq(ep.partition, "aws-eusc");
	np_endpoint_release(&ep);
	ck_assert_int_eq(np_endpoint_s3(&ep, "cn-north-1", "state", false, false, true, &err), 0);
	ck_assert_str_eq(ep.url, "https://s3.cn-north-1.amazonaws.com.cn/state");
	np_endpoint_release(&ep);
	ck_assert_int_eq(np_endpoint_s3(&ep, "cn-north-1", "state", true, false, false, &err), -1);
	ck_assert_msg(strstr(err.msg, "Partition does not support FIPS"), "%s", err.msg);
}
END_TEST

START_TEST(test_endpoints_arns_of_every_partition)
{
	struct np_arn a;
	struct np_err err = NP_ERR_INIT;

	for (size_t i = 0; i < np_n_partitions; i++) {
		char text[256];

		snprintf(text, sizeof(text), "arn:%s:iam::123456789012:role/ci",
			 np_partitions[i].id);
		ck_assert_msg(np_arn_parse(&a, text, &err) == 0, "%s: %s", text, err.msg);
		ck_assert_str_eq(a.partition, np_partitions[i].id);
		ck_assert_str_eq(a.service, "iam");
		ck_assert_str_eq(a.region, "");
		ck_assert_str_eq(a.account, "123456789012");
		ck_assert_str_eq(a.resource, "role/ci");
		np_arn_release(&a);
	}
	ck_assert_int_eq(np_arn_parse(&a, "arn:aws-mars:iam::1:role/x", &err), -1);
	ck_assert_msg(strstr(err.msg, "unknown partition 'aws-mars'"), "%s", err.msg);
	ck_assert_int_eq(np_arn_parse(&a, "arn:aws:iam:role", &err), -1);
	ck_assert_int_eq(np_arn_parse(&a, "role/ci", &err), -1);
	ck_assert_int_eq(np_arn_parse(&a, "arn:aws:iam::1:", &err), -1);
}
END_TEST

Suite *check_endpoints_suite(void)
{
	Suite *s = suite_create("endpoints");
	TCase *t = tcase_create("endpoints");

	tcase_add_test(t, test_endpoints_every_botocore_row_resolves_the_same);
	tcase_add_test(t, test_endpoints_regions_of_every_partition);
	tcase_add_test(t, test_endpoints_unknown_region_suggests_a_known_one);
	tcase_add_test(t, test_endpoints_s3_virtual_host_and_path_style);
	tcase_add_test(t, test_endpoints_arns_of_every_partition);
	suite_add_tcase(s, t);
	return s;
}
