/* Argument parsing: -opt=value and --opt value, booleans, durations. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/cli.h"

static int parse(struct np_cli_opts *o, const char *cmd, const char **argv, int argc,
                 struct np_err *err)
{
	return np_cli_parse(o, np_cli_find(cmd), argc, (char **)argv, err);
}

START_TEST(test_cli_single_and_double_dash_forms)
{
	struct np_cli_opts o;
	struct np_err err = NP_ERR_INIT;
	const char *a[] = {"plan", "-out=p.bin", "--target", "runner", "-target=web[1]",
	                   "-detailed-exitcode", "-refresh=false", NULL};

	ck_assert_int_eq(parse(&o, "plan", a, 7, &err), 0);
	ck_assert_str_eq(o.out, "p.bin");
	ck_assert_uint_eq(o.n_targets, 2);
	ck_assert_str_eq(o.targets[1], "web[1]");
	ck_assert(o.detailed_exitcode);
	ck_assert(!o.refresh);
}
END_TEST

START_TEST(test_cli_durations_and_parallelism)
{
	struct np_cli_opts o;
	struct np_err err = NP_ERR_INIT;
	const char *a[] = {"apply", "-lock-timeout=2m", "-parallelism=25", "-auto-approve",
	                   "-input=false", NULL};
	const char *bad[] = {"apply", "-lock-timeout=soon", NULL};
	const char *bad2[] = {"apply", "-parallelism=0", NULL};

	ck_assert_int_eq(parse(&o, "apply", a, 5, &err), 0);
	ck_assert_double_eq(o.lock_timeout, 120.0);
	ck_assert_int_eq(o.parallelism, 25);
	ck_assert(o.auto_approve && !o.input);
	ck_assert_int_eq(parse(&o, "apply", bad, 2, &err), -1);
	ck_assert(strstr(err.msg, "-lock-timeout"));
	ck_assert_int_eq(parse(&o, "apply", bad2, 2, &err), -1);
	ck_assert(strstr(err.msg, "-parallelism"));
}
END_TEST

START_TEST(test_cli_durations_that_are_not_durations_are_refused)
{
	/* strtod reads these as NaN, infinity or huge: none is a wait. */
	static const char *const bad[] = {"nan", "NaN", "inf", "infinity", "-1", "-0.5", "1e5",
	                                  "1e400", "0x10", "", "s", "10x", "169h", "1e999h"};
	static const char *const good[] = {"0", "30s", "2m", "1.5", ".5s", "500ms", "168h"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int which = 0; which < 2; which++) {
			struct np_cli_opts o;
			struct np_err err = NP_ERR_INIT;
			char opt[64];
			const char *a[] = {"apply", opt, NULL};

			snprintf(opt, sizeof(opt), "-%s=%s", which ? "step-timeout" : "lock-timeout",
			         bad[i]);
			ck_assert_msg(parse(&o, "apply", a, 2, &err) == -1, "%s accepted", opt);
			ck_assert_msg(strstr(err.msg, which ? "invalid -step-timeout" : "invalid -lock-timeout"),
			              "%s: %s", opt, err.msg);
		}
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct np_cli_opts o;
		struct np_err err = NP_ERR_INIT;
		char opt[64];
		const char *a[] = {"apply", opt, NULL};

		snprintf(opt, sizeof(opt), "-lock-timeout=%s", good[i]);
		ck_assert_msg(parse(&o, "apply", a, 2, &err) == 0, "%s: %s", opt, err.msg);
		ck_assert(o.lock_timeout >= 0 && o.lock_timeout <= 168 * 3600.0);
	}
}
END_TEST

START_TEST(test_cli_rejects_options_a_command_does_not_take)
{
	struct np_cli_opts o;
	struct np_err err = NP_ERR_INIT;
	const char *a[] = {"version", "-out=x", NULL};

	ck_assert_int_eq(parse(&o, "version", a, 2, &err), -1);
	ck_assert(strstr(err.msg, "does not take option"));
}
END_TEST

START_TEST(test_cli_positional_arguments_are_counted)
{
	struct np_cli_opts o;
	struct np_err err = NP_ERR_INIT;
	const char *ok[] = {"import", "web", "i-0123456789abcdef0", NULL};
	const char *few[] = {"import", "web", NULL};

	ck_assert_int_eq(parse(&o, "import", ok, 3, &err), 0);
	ck_assert_int_eq(o.n_args, 2);
	ck_assert_str_eq(o.args[1], "i-0123456789abcdef0");
	ck_assert_int_eq(parse(&o, "import", few, 2, &err), -1);
	ck_assert(strstr(err.msg, "usage: nestplan import"));
}
END_TEST

START_TEST(test_cli_help_flag_and_table)
{
	struct np_cli_opts o;
	struct np_err err = NP_ERR_INIT;
	const char *a[] = {"drift", "-help", NULL};
	const struct np_cmd *const *all = np_cli_commands();
	size_t n = 0;

	ck_assert_int_eq(parse(&o, "drift", a, 2, &err), 0);
	ck_assert_int_eq(o.n_args, -1);
	while (all[n])
		n++;
	ck_assert_uint_eq(n, 11);
	ck_assert_ptr_null(np_cli_find("nope"));
	ck_assert_ptr_nonnull(np_cli_find("force-unlock"));
}
END_TEST

START_TEST(test_cli_state_env_default)
{
	struct np_cli_opts o;
	struct np_err err = NP_ERR_INIT;
	const char *a[] = {"show", NULL};

	setenv("NESTPLAN_STATE", "/tmp/elsewhere.db", 1);
	ck_assert_int_eq(parse(&o, "show", a, 1, &err), 0);
	ck_assert_str_eq(o.state_path, "/tmp/elsewhere.db");
	unsetenv("NESTPLAN_STATE");
	ck_assert_int_eq(parse(&o, "show", a, 1, &err), 0);
	ck_assert_str_eq(o.state_path, "nestplan.db");
	ck_assert_str_eq(o.config_path, "nestplan.yaml");
}
END_TEST

Suite *check_cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("options");

	tcase_add_test(tc, test_cli_single_and_double_dash_forms);
	tcase_add_test(tc, test_cli_durations_and_parallelism);
	tcase_add_test(tc, test_cli_durations_that_are_not_durations_are_refused);
	tcase_add_test(tc, test_cli_rejects_options_a_command_does_not_take);
	tcase_add_test(tc, test_cli_positional_arguments_are_counted);
	tcase_add_test(tc, test_cli_help_flag_and_table);
	tcase_add_test(tc, test_cli_state_env_default);
	suite_add_tcase(s, tc);
	return s;
}
