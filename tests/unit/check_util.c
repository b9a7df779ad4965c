#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/buf.h"
#include "nestplan/error.h"
#include "nestplan/model.h"

START_TEST(test_util_address_valid)
{
	ck_assert(np_address_valid("runner"));
	ck_assert(np_address_valid("runner[0]"));
	ck_assert(np_address_valid("a_b-c[123]"));
	ck_assert(!np_address_valid(""));
	ck_assert(!np_address_valid("x y"));
	ck_assert(!np_address_valid("runner[]"));
	ck_assert(!np_address_valid("runner[01]"));
	ck_assert(!np_address_valid("runner[1]x"));
	ck_assert(!np_address_valid("runner[0..5]"));
	ck_assert(!np_address_valid(NULL));
}
END_TEST

START_TEST(test_util_buf_appends_and_stays_terminated)
{
	struct np_buf b = NP_BUF_INIT;

	ck_assert_str_eq(b.ptr, "");
	ck_assert_int_eq(np_buf_puts(&b, "abc"), 0);
	ck_assert_int_eq(np_buf_printf(&b, "-%d", 42), 0);
	ck_assert_str_eq(b.ptr, "abc-42");
	ck_assert_uint_eq(b.len, 6);
	np_buf_reset(&b);
	ck_assert_str_eq(b.ptr, "");
	np_buf_release(&b);
}
END_TEST

START_TEST(test_util_buf_cap_refuses_growth_past_max)
{
	struct np_buf b;

	np_buf_init(&b, 8);
	ck_assert_int_eq(np_buf_puts(&b, "12345678"), 0);
	ck_assert_int_eq(np_buf_putc(&b, 'x'), -1);
	ck_assert_str_eq(b.ptr, "12345678");
	np_buf_release(&b);
}
END_TEST

START_TEST(test_util_error_prefix_keeps_message_and_class)
{
	struct np_err err = NP_ERR_INIT;

	ck_assert_int_eq(np_error_cls(&err, NP_ERRC_STATE, "cannot stop '%s'", "web[0]"), -1);
	np_error_prefix(&err, "apply");
	ck_assert_str_eq(err.msg, "apply: cannot stop 'web[0]'");
	ck_assert_int_eq(err.cls, NP_ERRC_STATE);
}
END_TEST

START_TEST(test_util_tags_stay_sorted_and_replace)
{
	struct np_tags t = NP_TAGS_INIT, c;

	np_tags_set(&t, "team", "ci");
	np_tags_set(&t, "env", "prod");
	np_tags_set(&t, "team", "infra");
	ck_assert_uint_eq(t.n, 2);
	ck_assert_str_eq(t.v[0].key, "env");
	ck_assert_str_eq(np_tags_get(&t, "team"), "infra");
	np_tags_copy(&c, &t);
	ck_assert(np_tags_equal(&t, &c));
	ck_assert(np_tags_remove(&c, "env"));
	ck_assert(!np_tags_equal(&t, &c));
	ck_assert_ptr_null(np_tags_get(&c, "env"));
	np_tags_release(&t);
	np_tags_release(&c);
}
END_TEST

START_TEST(test_util_enum_names_round_trip)
{
	ck_assert_int_eq(np_tenancy_parse("host"), NP_TENANCY_HOST);
	ck_assert_str_eq(np_tenancy_name(NP_TENANCY_DEDICATED), "dedicated");
	ck_assert_int_eq(np_platform_parse("Windows"), NP_PLATFORM_WINDOWS);
	ck_assert_int_eq(np_run_state_parse("shutting-down"), NP_RUN_SHUTTING_DOWN);
	ck_assert_int_eq(np_nv_parse("bogus"), NP_NV_UNSET);
	ck_assert_ptr_null(np_nv_name(NP_NV_UNSET));
}
END_TEST

START_TEST(test_util_strv_unordered_equality)
{
	struct np_strv a = NP_STRV_INIT, b = NP_STRV_INIT;

	np_strv_push(&a, "sg-1");
	np_strv_push(&a, "sg-2");
	np_strv_push(&b, "sg-2");
	np_strv_push(&b, "sg-1");
	ck_assert(np_strv_equal_unordered(&a, &b));
	np_strv_push(&b, "sg-3");
	ck_assert(!np_strv_equal_unordered(&a, &b));
	np_strv_release(&a);
	np_strv_release(&b);
}
END_TEST

START_TEST(test_util_catalog_sorted_lookup_and_copy)
{
	struct np_catalog c = NP_CATALOG_INIT;
	int cores[] = { 1, 2, 3, 4 };
	struct np_itype t = { .name = "m8i.2xlarge",
			      .default_vcpus = 8,
			      .valid_cores = cores,
			      .n_valid_cores = 4,
			      .nested_virtualization = true };
	struct np_itype u = { .name = "c8i.large", .default_vcpus = 2 };

	np_catalog_add(&c, &t);
	np_catalog_add(&c, &u);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(c.v[0].name, "c8i.large");
	ck_assert_int_eq(np_catalog_find(&c, "m8i.2xlarge")->valid_cores[3], 4);
	ck_assert_ptr_null(np_catalog_find(&c, "m8i.nope"));
	np_catalog_release(&c);
}
END_TEST

Suite *check_util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_util_address_valid);
	tcase_add_test(tc, test_util_buf_appends_and_stays_terminated);
	tcase_add_test(tc, test_util_buf_cap_refuses_growth_past_max);
	tcase_add_test(tc, test_util_error_prefix_keeps_message_and_class);
	tcase_add_test(tc, test_util_tags_stay_sorted_and_replace);
	tcase_add_test(tc, test_util_enum_names_round_trip);
	tcase_add_test(tc, test_util_strv_unordered_equality);
	tcase_add_test(tc, test_util_catalog_sorted_lookup_and_copy);
	suite_add_tcase(s, tc);
	return s;
}
