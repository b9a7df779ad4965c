/* Argument parsing: -opt=value and --opt value, booleans, durations. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/cli.h"
#include "nestplan/config.h"
#include "nestplan/render.h"

static int parse(struct np_cli_opts *o, const char *cmd, const char **argv, int argc,
		 struct np_err *err)
{
	return np_cli_parse(o, np_cli_find(cmd), argc, (char **)argv, err);
}

START_TEST(test_cli_single_and_double_dash_forms)
{
	struct np_cli_opts o;
	struct np_err err = NP_ERR_INIT;
	const char *a[] = { "plan",           "-out=p.bin",         "--target",       "runner",
			    "-target=web[1]", "-detailed-exitcode", "-refresh=false", NULL };

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
	const char *a[] = { "apply",         "-lock-timeout=2m", "-parallelism=25",
			    "-auto-approve", "-input=false",     NULL };
	const char *bad[] = { "apply", "-lock-timeout=soon", NULL };
	const char *bad2[] = { "apply", "-parallelism=0", NULL };

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
	static const char *const bad[] = { "nan",  "NaN", "inf",   "infinity", "-1",
					   "-0.5", "1e5", "1e400", "0x10",     "",
					   "s",    "10x", "169h",  "1e999h" };
	static const char *const good[] = { "0", "30s", "2m", "1.5", ".5s", "500ms", "168h" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int which = 0; which < 2; which++) {
			struct np_cli_opts o;
			struct np_err err = NP_ERR_INIT;
			char opt[64];
			const char *a[] = { "apply", opt, NULL };

			snprintf(opt, sizeof(opt), "-%s=%s",
				 which ? "step-timeout" : "lock-timeout", bad[i]);
			ck_assert_msg(parse(&o, "apply", a, 2, &err) == -1, "%s accepted", opt);
			ck_assert_msg(strstr(err.msg, which ? "invalid -step-timeout"
							    : "invalid -lock-timeout"),
				      "%s: %s", opt, err.msg);
		}
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct np_cli_opts o;
		struct np_err err = NP_ERR_INIT;
		char opt[64];
		const char *a[] = { "apply", opt, NULL };

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
	const char *a[] = { "version", "-out=x", NULL };

	ck_assert_int_eq(parse(&o, "version", a, 2, &err), -1);
	ck_assert(strstr(err.msg, "does not take option"));
}
END_TEST

START_TEST(test_cli_positional_arguments_are_counted)
{
	struct np_cli_opts o;
	struct np_err err = NP_ERR_INIT;
	const char *ok[] = { "import", "web", "i-0123456789abcdef0", NULL };
	const char *few[] = { "import", "web", NULL };

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
	const char *a[] = { "drift", "-help", NULL };
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
	const char *a[] = { "show", NULL };

	setenv("NESTPLAN_STATE", "/tmp/elsewhere.db", 1);
	ck_assert_int_eq(parse(&o, "show", a, 1, &err), 0);
	ck_assert_str_eq(o.state_path, "/tmp/elsewhere.db");
	unsetenv("NESTPLAN_STATE");
	ck_assert_int_eq(parse(&o, "show", a, 1, &err), 0);
	ck_assert_str_eq(o.state_path, "nestplan.db");
	ck_assert_str_eq(o.config_path, "nestplan.yaml");
}
END_TEST

START_TEST(test_cli_mistyped_option_gets_did_you_mean)
{
	struct np_cli_opts o;
	struct np_err err = NP_ERR_INIT;
	const char *a[] = { "plan", "-refersh-only", NULL };
	const char *b[] = { "apply", "--auto-aprove=true", NULL };
	const char *far[] = { "plan", "-zzzzzz", NULL };

	ck_assert_int_eq(parse(&o, "plan", a, 2, &err), -1);
	ck_assert_str_eq(err.msg, "plan does not take option '-refersh-only'; did you mean "
				  "'-refresh-only'?");
	ck_assert_int_eq(parse(&o, "apply", b, 2, &err), -1);
	ck_assert(strstr(err.msg, "did you mean '-auto-approve'?"));
	ck_assert_int_eq(parse(&o, "plan", far, 2, &err), -1);
	ck_assert(!strstr(err.msg, "did you mean"));
}
END_TEST

START_TEST(test_cli_expand_is_taken_by_plan_apply_destroy_and_show)
{
	static const char *const cmds[] = { "plan", "apply", "destroy", "show" };
	struct np_cli_opts o;
	struct np_err err = NP_ERR_INIT;

	for (size_t i = 0; i < 4; i++) {
		const char *a[] = { cmds[i], "-expand", NULL };

		ck_assert_int_eq(parse(&o, cmds[i], a, 2, &err), 0);
		ck_assert(o.expand);
	}
}
END_TEST

static char *captured(void (*fn)(FILE *, const void *), const void *arg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fn(f, arg);
	fclose(f);
	return text;
}

static void print_wrapped(FILE *f, const void *arg)
{
	fprintf(f, "  -lock-timeout=DURATION     ");
	np_cli_wrap(f, arg, 29, 29);
}

START_TEST(test_cli_wrap_breaks_at_words_within_the_width)
{
	const char *text = "Wait up to DURATION (e.g. 30s, 2m) for the state lock (default 0s),\n"
			   "then fail naming the holder of the lock and how to remove it.";
	char *out = captured(print_wrapped, text), *line = out, *words = NULL;
	size_t lines = 0, wl = 0;
	FILE *w = open_memstream(&words, &wl);

	for (char *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
		ck_assert_msg(nl - line <= NP_CLI_WIDTH - 1, "line too long: %.*s",
			      (int)(nl - line), line);
		if (lines)
			ck_assert(!strncmp(line, "                             ", 29) &&
				  line[29] != ' ');
		fprintf(w, "%s%.*s", lines ? " " : "", (int)(nl - line - (lines ? 29 : 29)),
			line + 29);
	}
	fclose(w);
	ck_assert_uint_ge(lines, 2);
	/* Nothing lost or cut inside a word: the text again, newline as space. */
	ck_assert_str_eq(words,
			 "Wait up to DURATION (e.g. 30s, 2m) for the state lock (default "
			 "0s), then fail naming the holder of the lock and how to remove it.");
	free(words);
	free(out);
}
END_TEST

START_TEST(test_cli_every_help_line_fits_and_summaries_are_whole_sentences)
{
	const struct np_cmd *const *all = np_cli_commands();

	for (size_t i = 0; all[i]; i++) {
		size_t n = np_cli_first_sentence(all[i]->help);
		char *out = NULL, *line;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);

		ck_assert_msg(all[i]->help[n - 1] == '.', "%s: '%.*s'", all[i]->name, (int)n,
			      all[i]->help);
		np_cli_usage(f, all[i]);
		fclose(f);
		line = out;
		for (char *nl; (nl = strchr(line, '\n')); line = nl + 1)
			ck_assert_msg(nl - line <= NP_CLI_WIDTH - 1, "%s -help: %.*s", all[i]->name,
				      (int)(nl - line), line);
		free(out);
	}
	ck_assert_uint_eq(np_cli_first_sentence("Wait (e.g. 30s). Then go."), 16);
	ck_assert_uint_eq(np_cli_first_sentence("No full stop"), 12);
}
END_TEST

START_TEST(test_cli_located_errors_are_not_prefixed_twice)
{
	struct np_err err = NP_ERR_INIT;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert(np_cli_error_located("nestplan.yaml:4:5: error: unknown key 'x'"));
	ck_assert(np_cli_error_located("my dir/a:b.yaml:12:1: warning: w\nsecond"));
	ck_assert(!np_cli_error_located("cannot open 'x': No such file or directory"));
	ck_assert(!np_cli_error_located("DescribeInstances: 12:30: error: odd"));
	ck_assert(!np_cli_error_located("first line\nf.yaml:1:1: error: later"));

	snprintf(err.msg, sizeof(err.msg), "f.yaml:1:1: error: one\nf.yaml:2:3: error: two");
	f = open_memstream(&out, &len);
	np_cli_print_error(f, &err, false);
	np_cli_print_error(f, &(struct np_err){ .msg = "state 'x' is busy; try again" }, false);
	fclose(f);
	ck_assert_str_eq(out, "f.yaml:1:1: error: one\nf.yaml:2:3: error: two\n"
			      "Error: state 'x' is busy; try again\n");
	free(out);
}
END_TEST

/* A plan of n updates of runner[i] from m8i.large to `to[i]`. */
static void updates(struct np_plan *plan, size_t n, const char *const *to)
{
	memset(plan, 0, sizeof(*plan));
	plan->changes = np_xcalloc(n, sizeof(*plan->changes));
	plan->n_changes = plan->alloc_changes = n;
	for (size_t i = 0; i < n; i++) {
		struct np_change *c = &plan->changes[i];

		c->address = np_xasprintf("runner[%zu]", i);
		c->instance_id = np_xasprintf("i-%017zu", i);
		c->group = np_xstrdup("runner");
		c->action = NP_ACTION_UPDATE;
		c->requires_stop = true;
		c->has_before = c->has_after = true;
		c->before.instance_type = np_xstrdup("m8i.large");
		c->after.instance_type = np_xstrdup(to[i]);
		c->steps = np_xcalloc(3, sizeof(*c->steps));
		c->n_steps = c->alloc_steps = 3;
		c->steps[0].kind = NP_STEP_STOP;
		c->steps[1].kind = NP_STEP_MODIFY_INSTANCE_TYPE;
		c->steps[1].instance_type = np_xstrdup(to[i]);
		c->steps[2].kind = NP_STEP_START;
		plan->summary.change++;
		plan->summary.stop_start++;
	}
}

static char *plan_text(const struct np_plan *plan, bool expand, const struct np_config *cfg)
{
	struct np_render_opts ro = { .color = false, .expand = expand, .config = cfg };
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	np_render_plan_text(f, plan, &ro);
	fclose(f);
	return out;
}

START_TEST(test_cli_plan_text_collapses_identical_consecutive_changes)
{
	const char *to[] = { "m8i.xlarge", "m8i.xlarge", "m8i.2xlarge", "m8i.xlarge",
			     "m8i.xlarge" };
	struct np_plan plan;
	char *out;

	updates(&plan, 5, to);
	out = plan_text(&plan, false, NULL);
	ck_assert_msg(strstr(out, "~ runner[0..1] (2 instances) will be updated in-place "
				  "(requires stop/start)\n"),
		      "%s", out);
	ck_assert(strstr(out, "~ runner[2] will be updated in-place (i-00000000000000002)"));
	ck_assert(strstr(out, "~ runner[3..4] (2 instances) will be updated"));
	ck_assert(!strstr(out, "i-00000000000000000"));
	ck_assert(strstr(out, "-expand lists every instance"));
	free(out);
	out = plan_text(&plan, true, NULL);
	for (int i = 0; i < 5; i++) {
		char want[80];

		snprintf(want, sizeof(want), "~ runner[%d] will be updated in-place (i-%017d)", i,
			 i);
		ck_assert_msg(strstr(out, want), "%s", out);
	}
	ck_assert(!strstr(out, ".."));
	free(out);
	np_plan_release(&plan);
}
END_TEST

START_TEST(test_cli_same_change_needs_next_index_and_same_step_parameters)
{
	const char *to[] = { "m8i.xlarge", "m8i.xlarge", "m8i.xlarge" };
	struct np_plan plan;
	struct np_change *c;

	updates(&plan, 3, to);
	c = plan.changes;
	ck_assert(np_render_same_change(&c[0], "body", &c[1], "body"));
	ck_assert(!np_render_same_change(&c[0], "body", &c[1], "other body"));
	ck_assert(!np_render_same_change(&c[0], "body", &c[2], "body")); /* not consecutive */
	free(c[1].steps[1].instance_type);
	c[1].steps[1].instance_type = np_xstrdup("m8i.4xlarge"); /* same text, other call */
	ck_assert(!np_render_same_change(&c[0], "body", &c[1], "body"));
	free(c[2].address);
	c[2].address = np_xstrdup("runner");
	ck_assert(!np_render_same_change(&c[1], "body", &c[2], "body"));
	np_plan_release(&plan);
}
END_TEST

static struct np_config *config(const char *rollout)
{
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	char *yaml = np_xasprintf("version: 1\n"
				  "defaults: { image_id: ami-0abcdef1234567890 }\n"
				  "instances:\n"
				  "  runner:\n"
				  "    count: 10\n"
				  "    instance_type: m8i.large\n"
				  "%s",
				  rollout);

	ck_assert_msg(np_config_parse(&cfg, "t.yaml", yaml, strlen(yaml), &err) == 0, "%s",
		      err.msg);
	free(yaml);
	return cfg;
}

START_TEST(test_cli_rollout_limit_as_the_scheduler_counts_it)
{
	struct np_config *n3 = config("    rollout: { max_unavailable: 3 }\n");
	struct np_config *p25 = config("    rollout: { max_unavailable: \"25%\" }\n");
	struct np_config *p1 = config("    rollout: { max_unavailable: \"1%\" }\n");
	struct np_config *none = config("");

	ck_assert_int_eq(np_render_rollout_limit(n3, "runner"), 3);
	ck_assert_int_eq(np_render_rollout_limit(p25, "runner"), 3); /* 2.5 rounded up */
	ck_assert_int_eq(np_render_rollout_limit(p1, "runner"), 1);
	ck_assert_int_eq(np_render_rollout_limit(none, "runner"), 0);
	ck_assert_int_eq(np_render_rollout_limit(n3, "other"), 0);
	ck_assert_int_eq(np_render_rollout_limit(NULL, "runner"), 0);
	np_config_free(n3);
	np_config_free(p25);
	np_config_free(p1);
	np_config_free(none);
}
END_TEST

START_TEST(test_cli_plan_text_says_waves_and_what_goes_out_of_service)
{
	const char *to[] = { "m8i.xlarge", "m8i.xlarge", "m8i.xlarge", "m8i.xlarge",
			     "m8i.xlarge", "m8i.xlarge", "m8i.xlarge" };
	struct np_config *cfg = config("    rollout: { max_unavailable: 3 }\n");
	struct np_plan plan;
	char *out;

	updates(&plan, 7, to);
	out = plan_text(&plan, false, cfg);
	ck_assert_msg(strstr(out, "  runner: 7 instances in 3 waves of at most 3, each out of "
				  "service for one stop → modify → start cycle\n"),
		      "%s", out);
	ck_assert(strstr(out, "Plan: 0 to add, 7 to change, 0 to destroy. 7 instances will be out "
			      "of service: 7 stopped and started.\n"));
	free(out);
	out = plan_text(&plan, false, NULL);
	ck_assert(!strstr(out, "waves"));
	free(out);
	/* Two replaced: Terraform's counters, and both out of service. */
	for (size_t i = 5; i < 7; i++) {
		plan.changes[i].action = NP_ACTION_REPLACE;
		plan.changes[i].requires_stop = false;
	}
	plan.summary =
	    (struct np_plan_summary){ .add = 2, .change = 5, .destroy = 2, .stop_start = 5 };
	out = plan_text(&plan, false, cfg);
	ck_assert_msg(strstr(out, "Plan: 2 to add, 5 to change, 2 to destroy. 7 instances will be "
				  "out of service: 5 stopped and started, 2 replaced.\n"),
		      "%s", out);
	ck_assert(strstr(out, "each out of service for one stop/start cycle or replacement"));
	free(out);
	np_plan_release(&plan);
	np_config_free(cfg);
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
	tcase_add_test(tc, test_cli_mistyped_option_gets_did_you_mean);
	tcase_add_test(tc, test_cli_expand_is_taken_by_plan_apply_destroy_and_show);
	tcase_add_test(tc, test_cli_wrap_breaks_at_words_within_the_width);
	tcase_add_test(tc, test_cli_every_help_line_fits_and_summaries_are_whole_sentences);
	tcase_add_test(tc, test_cli_located_errors_are_not_prefixed_twice);
	tcase_add_test(tc, test_cli_plan_text_collapses_identical_consecutive_changes);
	tcase_add_test(tc, test_cli_same_change_needs_next_index_and_same_step_parameters);
	tcase_add_test(tc, test_cli_rollout_limit_as_the_scheduler_counts_it);
	tcase_add_test(tc, test_cli_plan_text_says_waves_and_what_goes_out_of_service);
	suite_add_tcase(s, tc);
	return s;
}
