/* The config loader: every rule reports FILE:LINE:COLUMN. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nestplan/buf.h"
#include "nestplan/config.h"

static struct np_config *cfg;
static struct np_err err;

static int parse(const char *text)
{
	np_config_free(cfg);
	cfg = NULL;
	np_err_clear(&err);
	return np_config_parse(&cfg, "t.yaml", text, strlen(text), &err);
}

static void teardown(void)
{
	np_config_free(cfg);
	cfg = NULL;
}

#define OK(text) ck_assert_msg(parse(text) == 0, "%s", err.msg)
#define BAD(text, want)                                                   \
	do {                                                              \
		ck_assert_int_eq(parse(text), -1);                        \
		ck_assert_msg(strstr(err.msg, want), "got: %s", err.msg); \
		ck_assert_int_eq(err.cls, NP_ERRC_USAGE);                 \
	} while (0)

#define HEAD "version: 1\ninstances:\n  web:\n    image_id: ami-0abcdef1234567890\n"

START_TEST(test_config_minimal_instance_loads)
{
	OK(HEAD "    instance_type: m8i.2xlarge\n");
	ck_assert_uint_eq(cfg->n_instances, 1);
	ck_assert_str_eq(cfg->instances[0].want.address, "web");
	ck_assert_int_eq(cfg->instances[0].index, -1);
	ck_assert_int_eq(cfg->instances[0].line, 3);
	ck_assert_int_eq(cfg->instances[0].want.state, NP_RUN_UNSET);
	ck_assert_uint_eq(strlen(cfg->sha256), 64);
}
END_TEST

START_TEST(test_config_count_expands_addresses)
{
	OK(HEAD "    instance_type: m8i.2xlarge\n    count: 3\n");
	ck_assert_uint_eq(cfg->n_instances, 3);
	ck_assert_str_eq(cfg->instances[2].want.address, "web[2]");
	ck_assert_int_eq(cfg->instances[2].index, 2);
	ck_assert_str_eq(cfg->instances[2].name, "web");
	ck_assert_ptr_nonnull(np_config_find(cfg, "web[1]"));
	ck_assert_ptr_null(np_config_find(cfg, "web[3]"));
}
END_TEST

START_TEST(test_config_defaults_merge_and_instance_wins)
{
	OK("version: 1\ndefaults:\n  image_id: ami-0abcdef1234567890\n  instance_type: c8i.large\n"
	   "  tags: { team: ci, env: dev }\ninstances:\n  a: { tags: { env: prod } }\n"
	   "  b: { instance_type: m8i.xlarge }\n");
	ck_assert_str_eq(cfg->instances[0].want.instance_type, "c8i.large");
	ck_assert_str_eq(np_tags_get(&cfg->instances[0].want.tags, "env"), "prod");
	ck_assert_str_eq(np_tags_get(&cfg->instances[0].want.tags, "team"), "ci");
	ck_assert_str_eq(cfg->instances[1].want.instance_type, "m8i.xlarge");
	ck_assert_str_eq(cfg->instances[1].want.image_id, "ami-0abcdef1234567890");
}
END_TEST

START_TEST(test_config_full_schema_is_typed)
{
	OK("version: 1\nprovider: { region: us-east-1, profile: ci, endpoint: "
	   "'http://127.0.0.1:4566' }\n"
	   "instances:\n  r:\n    count: 2\n    image_id: ami-0abcdef1234567890\n"
	   "    instance_type: r8i.4xlarge\n"
	   "    cpu_options: { core_count: 8, threads_per_core: 2, nested_virtualization: enabled "
	   "}\n"
	   "    placement: { tenancy: host, host_id: h-0123456789abcdef0, availability_zone: "
	   "us-east-1a }\n"
	   "    subnet_id: subnet-0123456789abcdef0\n    security_group_ids: "
	   "[sg-0123456789abcdef0]\n"
	   "    platform: windows\n    hibernation: false\n    state: stopped\n"
	   "    user_data: \"#!/bin/sh\\necho hi\\n\"\n"
	   "    rollout: { max_unavailable: '25%' }\n"
	   "    lifecycle: { prevent_destroy: true, create_before_destroy: true }\n");
	{
		const struct np_desired *d = &cfg->instances[1];

		ck_assert_str_eq(cfg->region, "us-east-1");
		ck_assert_str_eq(cfg->endpoint, "http://127.0.0.1:4566");
		ck_assert_int_eq(d->want.core_count, 8);
		ck_assert_int_eq(d->want.nested_virtualization, NP_NV_ENABLED);
		ck_assert_int_eq(d->want.tenancy, NP_TENANCY_HOST);
		ck_assert_int_eq(d->want.platform, NP_PLATFORM_WINDOWS);
		ck_assert_int_eq(d->want.hibernation, NP_BOOL_FALSE);
		ck_assert_int_eq(d->want.state, NP_RUN_STOPPED);
		ck_assert(d->max_unavailable_percent && d->max_unavailable == 25);
		ck_assert(d->prevent_destroy && d->create_before_destroy);
		ck_assert_str_eq(d->user_data, "#!/bin/sh\necho hi\n");
		ck_assert_uint_eq(strlen(d->want.user_data_sha256), 64);
		ck_assert(d->want.security_groups_set);
	}
}
END_TEST

START_TEST(test_config_rejects_unknown_key_with_suggestion)
{
	BAD(HEAD "    instanse_type: m8i.2xlarge\n",
	    "t.yaml:5:5: error: unknown key 'instanse_type' in 'web'; did you mean "
	    "'instance_type'?");
}
END_TEST

START_TEST(test_config_rejects_duplicate_key)
{
	BAD(HEAD "    instance_type: a.b\n    instance_type: m8i.large\n",
	    "t.yaml:6:5: error: duplicate key 'instance_type' in 'web' (first at line 5)");
}
END_TEST

START_TEST(test_config_rejects_duplicate_instance)
{
	BAD("version: 1\ninstances:\n  a: { image_id: ami-0abcdef1234567890, instance_type: "
	    "c8i.large }\n"
	    "  a: { image_id: ami-0abcdef1234567890, instance_type: c8i.large }\n",
	    "t.yaml:4:3: error: duplicate key 'a' in 'instances'");
}
END_TEST

START_TEST(test_config_rejects_wrong_types)
{
	BAD(HEAD "    instance_type: m8i.large\n    count: three\n",
	    "'count' must be a whole number");
	BAD(HEAD "    instance_type: m8i.large\n    hibernation: yes\n",
	    "'hibernation' must be true or false");
	BAD(HEAD "    instance_type: m8i.large\n    tags: [a, b]\n", "'tags' must be a mapping");
	BAD(HEAD "    instance_type: m8i.large\n    security_group_ids: sg-0123456789abcdef0\n",
	    "'security_group_ids' must be a list");
	BAD(HEAD "    instance_type: m8i.large\n    count: '3'\n",
	    "'count' must be a whole number");
}
END_TEST

START_TEST(test_config_rejects_out_of_range_numbers)
{
	BAD(HEAD "    instance_type: m8i.large\n    count: -1\n",
	    "'count' must be between 0 and 100000");
	BAD(HEAD "    instance_type: m8i.large\n    cpu_options: { threads_per_core: 3 }\n",
	    "'threads_per_core' must be between 1 and 2");
	BAD(HEAD "    instance_type: m8i.large\n    rollout: { max_unavailable: '150%' }\n",
	    "'max_unavailable' must be 1% to 100%");
}
END_TEST

START_TEST(test_config_rejects_bad_enums)
{
	BAD(HEAD "    instance_type: m8i.large\n    placement: { tenancy: shared }\n",
	    "'tenancy' must be one of default, dedicated, host, not 'shared'");
	BAD(HEAD "    instance_type: m8i.large\n    state: paused\n",
	    "'state' must be one of running, stopped");
	BAD(HEAD "    instance_type: m8i.large\n    cpu_options: { nested_virtualization: on }\n",
	    "'nested_virtualization' must be one of disabled, enabled");
	BAD(HEAD "    instance_type: m8i.large\n    platform: macos\n",
	    "'platform' must be one of linux, windows");
}
END_TEST

START_TEST(test_config_rejects_malformed_ids)
{
	BAD("version: 1\ninstances:\n  w: { image_id: ami-xyz, instance_type: m8i.large }\n",
	    "t.yaml:3:18: error: 'image_id' must look like ami-0123456789abcdef0");
	BAD(HEAD "    instance_type: m8i.large\n    subnet_id: subnet-1\n",
	    "'subnet_id' must look like subnet-");
	BAD("version: 1\ninstances:\n  w: { instance_id: i-zz }\n",
	    "'instance_id' must look like i-");
	BAD(HEAD "    instance_type: 'm8i large'\n", "'instance_type' must look like m8i.2xlarge");
}
END_TEST

START_TEST(test_config_instance_id_not_with_count)
{
	BAD("version: 1\ninstances:\n  w:\n    instance_id: i-0123456789abcdef0\n    count: 2\n",
	    "t.yaml:4:5: error: 'instance_id' adopts one instance; it cannot go with 'count'");
	OK("version: 1\ninstances:\n  w:\n    instance_id: i-0123456789abcdef0\n");
	ck_assert_str_eq(cfg->instances[0].want.instance_id, "i-0123456789abcdef0");
}
END_TEST

START_TEST(test_config_new_instance_needs_image_and_type)
{
	BAD("version: 1\ninstances:\n  w: { instance_type: m8i.large }\n",
	    "t.yaml:3:3: error: instance 'w' needs 'image_id' (here or in defaults)");
	BAD("version: 1\ninstances:\n  w: { image_id: ami-0abcdef1234567890 }\n",
	    "needs 'instance_type'");
}
END_TEST

START_TEST(test_config_version_and_instances_required)
{
	BAD("instances:\n  w: { image_id: ami-0abcdef1234567890, instance_type: m8i.large }\n",
	    "'version' is missing");
	BAD("version: 2\ninstances: {}\n", "'version' must be between 1 and 1");
	BAD("version: 1\n", "'instances' is missing");
	BAD("", "the file is empty");
	BAD("- a\n- b\n", "the file must be a mapping");
}
END_TEST

START_TEST(test_config_reserved_and_oversized_tags)
{
	BAD(HEAD "    instance_type: m8i.large\n    tags: { 'aws:x': y }\n",
	    "tag key 'aws:x' is reserved");
	BAD(HEAD "    instance_type: m8i.large\n    tags: { 'nestplan:address': y }\n",
	    "is reserved");
}
END_TEST

START_TEST(test_config_reports_every_error_with_position)
{
	ck_assert_int_eq(
	    parse("version: 1\ninstances:\n  a:\n    image_id: ami-0abcdef1234567890\n"
		  "    instance_type: m8i.large\n    colour: red\n    state: paused\n"
		  "  b:\n    image_id: ami-0abcdef1234567890\n    instance_type: m8i.large\n"
		  "    count: -1\n"),
	    -1);
	ck_assert(strstr(err.msg, "t.yaml:6:5: error: unknown key 'colour'"));
	ck_assert(strstr(err.msg, "t.yaml:7:12: error: 'state'"));
	ck_assert(strstr(err.msg, "t.yaml:11:12: error: 'count'"));
}
END_TEST

START_TEST(test_config_malformed_yaml_has_position)
{
	BAD("version: 1\ninstances:\n  w: { image_id: [unclosed\n", "t.yaml:");
	ck_assert(strstr(err.msg, "malformed YAML"));
}
END_TEST

START_TEST(test_config_merge_keys_are_refused)
{
	BAD("version: 1\nbase: &b { instance_type: m8i.large }\ninstances:\n  w:\n    <<: *b\n",
	    "merge keys");
}
END_TEST

START_TEST(test_config_billion_laughs_refused)
{
	struct np_buf b = NP_BUF_INIT;

	/* Refused without expanding 10^10 nodes (libyaml shares aliased nodes;
	 * the walker's visit budget bounds the rest). */
	np_buf_puts(&b, "version: 1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		np_buf_printf(
		    &b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
		    i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	np_buf_puts(&b, "instances:\n  w:\n    tags: *a9\n");
	ck_assert_int_eq(parse(b.ptr), -1);
	ck_assert(strstr(err.msg, "error:"));
	np_buf_release(&b);
}
END_TEST

START_TEST(test_config_total_instances_are_bounded)
{
	BAD("version: 1\ndefaults: { image_id: ami-0abcdef1234567890, instance_type: m8i.large }\n"
	    "instances:\n  a: { count: 60000 }\n  b: { count: 60000 }\n",
	    "more than 100000 instances in all");
}
END_TEST

START_TEST(test_config_aliases_within_budget_work)
{
	OK("version: 1\ninstances:\n  a: &x { image_id: ami-0abcdef1234567890, instance_type: "
	   "m8i.large }\n"
	   "  b: *x\n");
	ck_assert_uint_eq(cfg->n_instances, 2);
	ck_assert_str_eq(cfg->instances[1].want.instance_type, "m8i.large");
}
END_TEST

START_TEST(test_config_load_file_missing_is_clear)
{
	struct np_config *c = NULL;
	struct np_err e = NP_ERR_INIT;

	ck_assert_int_eq(np_config_load(&c, "/nonexistent/nestplan.yaml", &e), -1);
	ck_assert(strstr(e.msg, "/nonexistent/nestplan.yaml: cannot read"));
}
END_TEST

START_TEST(test_config_examples_load)
{
	const char *files[] = { "examples/quickstart/nestplan.yaml", "examples/fleet/nestplan.yaml",
				"examples/adopt-existing/nestplan.yaml",
				"examples/windows/nestplan.yaml", NULL };

	for (int i = 0; files[i]; i++) {
		struct np_config *c = NULL;
		struct np_err e = NP_ERR_INIT;

		ck_assert_msg(np_config_load(&c, files[i], &e) == 0, "%s: %s", files[i], e.msg);
		np_config_free(c);
	}
}
END_TEST

START_TEST(test_config_large_file_loads)
{
	struct np_buf b = NP_BUF_INIT;

	/* Speed is measured by tests/bench (50,000 instances), not here. */
	np_buf_puts(
	    &b,
	    "version: 1\ndefaults: { image_id: ami-0abcdef1234567890, instance_type: m8i.large }\n"
	    "instances:\n");
	for (int i = 0; i < 20000; i++)
		np_buf_printf(&b, "  n%d: { tags: { i: '%d' } }\n", i, i);
	OK(b.ptr);
	ck_assert_uint_eq(cfg->n_instances, 20000);
	ck_assert_ptr_nonnull(np_config_find(cfg, "n19999"));
	np_buf_release(&b);
}
END_TEST

/* A count's instances share one copy of the user data (and defaults' too):
 * 16 KiB times 100,000 instances would otherwise be gigabytes. */
START_TEST(test_config_user_data_is_kept_once)
{
	OK("version: 1\ndefaults: { user_data: \"#!/bin/sh\\necho d\\n\" }\ninstances:\n"
	   "  w: { image_id: ami-0abcdef1234567890, instance_type: m8i.large, count: 3 }\n"
	   "  v: { image_id: ami-0abcdef1234567890, instance_type: m8i.large, count: 2,\n"
	   "       user_data: \"#!/bin/sh\\necho v\\n\" }\n");
	ck_assert_uint_eq(cfg->n_instances, 5);
	ck_assert_str_eq(np_config_find(cfg, "w[2]")->user_data, "#!/bin/sh\necho d\n");
	ck_assert_ptr_eq(np_config_find(cfg, "w[0]")->user_data,
			 np_config_find(cfg, "w[2]")->user_data);
	ck_assert_ptr_eq(np_config_find(cfg, "v[0]")->user_data,
			 np_config_find(cfg, "v[1]")->user_data);
	ck_assert_str_eq(np_config_find(cfg, "v[1]")->user_data, "#!/bin/sh\necho v\n");
	ck_assert_uint_eq(cfg->texts.n, 2);
}
END_TEST

START_TEST(test_config_second_document_is_refused_with_its_position)
{
	/* The instances after a stray '---' would be dropped and planned for
	 * destruction: the second document is an error at its '---'. */
	BAD(HEAD "    instance_type: m8i.large\n---\n  db:\n    instance_type: m8i.large\n",
	    "t.yaml:6:1: error: a second YAML document");
	BAD(HEAD "    instance_type: m8i.large\n...\nmore: text\n",
	    "t.yaml:7:1: error: malformed YAML after the first document");
	/* An explicit start, and a lone '---' at the end (nothing to lose), are fine. */
	OK("---\n" HEAD "    instance_type: m8i.large\n");
	OK(HEAD "    instance_type: m8i.large\n---\n");
}
END_TEST

START_TEST(test_config_deep_flow_nesting_fails_at_once)
{
	struct np_buf b = NP_BUF_INIT;

	/* 300 KB of '[': libyaml's scanner is quadratic in the flow depth, so
	 * the depth is checked while scanning and the file refused at the
	 * 65th level, with its position. */
	np_buf_puts(&b, "version: 1\ninstances: ");
	for (int i = 0; i < 150000; i++)
		np_buf_putc(&b, '[');
	for (int i = 0; i < 150000; i++)
		np_buf_putc(&b, ']');
	np_buf_putc(&b, '\n');
	BAD(b.ptr, "t.yaml:2:76: error: flow collections ('[' and '{') nested deeper than 64");
	np_buf_release(&b);
	/* 64 levels are not a depth error (the schema still says what is wrong). */
	np_buf_puts(&b, HEAD "    instance_type: m8i.large\n    tags: { a: ");
	for (int i = 0; i < 63; i++)
		np_buf_putc(&b, '[');
	for (int i = 0; i < 63; i++)
		np_buf_putc(&b, ']');
	np_buf_puts(&b, " }\n");
	ck_assert_int_eq(parse(b.ptr), -1);
	ck_assert_msg(!strstr(err.msg, "nested deeper"), "got: %s", err.msg);
	np_buf_release(&b);
}
END_TEST

/* Every key of an entry is recorded from the key to the end of its value,
 * so a rule can point at core_count and not at the instance. */
START_TEST(test_config_records_each_key_position)
{
	const char *text = "version: 1\n"
			   "defaults:\n"
			   "  image_id: ami-0abcdef1234567890\n"
			   "  platform: linux\n"
			   "instances:\n"
			   "  web:\n"
			   "    count: 2\n"
			   "    instance_type: c8i.xlarge\n"
			   "    cpu_options: { core_count: 3, threads_per_core: 2 }\n"
			   "    platform: windows\n"
			   "  db: { instance_type: m8i.large }\n";
	const struct np_span *sp;
	const struct np_desired *d;

	OK(text);
	d = np_config_find(cfg, "web[1]");
	ck_assert_ptr_nonnull(d);
	sp = np_config_key_span(cfg, d, NP_KEY_CORE_COUNT);
	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(sp->start.line, 9);
	ck_assert_int_eq(sp->start.column, 20);
	ck_assert_int_eq(sp->end.line, 9);
	ck_assert_int_eq(sp->end.column, 33);
	ck_assert_int_eq(strncmp(text + sp->start.byte, "core_count: 3", 13), 0);
	ck_assert_uint_eq(sp->end.byte - sp->start.byte, 13);
	sp = np_config_key_span(cfg, d, NP_KEY_INSTANCE_TYPE);
	ck_assert_int_eq(sp->start.line, 8);
	ck_assert_int_eq(sp->start.column, 5);
	/* The entry's own value wins over defaults, as the value does. */
	sp = np_config_key_span(cfg, d, NP_KEY_PLATFORM);
	ck_assert_int_eq(sp->start.line, 10);
	/* What the entry leaves to defaults is where defaults set it. */
	sp = np_config_key_span(cfg, d, NP_KEY_IMAGE_ID);
	ck_assert_int_eq(sp->start.line, 3);
	sp = np_config_key_span(cfg, np_config_find(cfg, "db"), NP_KEY_PLATFORM);
	ck_assert_int_eq(sp->start.line, 4);
	/* Not set anywhere: none; the entry itself: its name. */
	ck_assert_ptr_null(np_config_key_span(cfg, d, NP_KEY_HIBERNATION));
	sp = np_config_key_span(cfg, np_config_find(cfg, "db"), NP_KEY_ENTRY);
	ck_assert_int_eq(sp->start.line, 11);
	ck_assert_int_eq(sp->start.column, 3);
	ck_assert_int_eq(strncmp(text + sp->start.byte, "db: {", 5), 0);
	ck_assert_str_eq(np_cfg_key_name(NP_KEY_CORE_COUNT), "cpu_options.core_count");
}
END_TEST

/* An alias's node stands where its anchor is, before the key: the key's
 * span is then the key alone, never one that ends before it starts. */
START_TEST(test_config_alias_value_spans_the_key)
{
	const char *text = "version: 1\n"
			   "x-cpu: &cpu { core_count: 2 }\n"
			   "instances:\n"
			   "  a: { image_id: ami-0abcdef1234567890, instance_type: m8i.large, "
			   "cpu_options: *cpu }\n";
	struct np_config_diags dg = NP_CONFIG_DIAGS_INIT;
	const struct np_span *sp;

	np_config_free(cfg);
	cfg = NULL;
	/* x-cpu is an unknown key: the check keeps going. */
	ck_assert_int_eq(np_config_check_data(&cfg, "t.yaml", text, strlen(text), &dg, &err), -1);
	ck_assert_ptr_nonnull(cfg);
	sp = np_config_key_span(cfg, np_config_find(cfg, "a"), NP_KEY_CPU_OPTIONS);
	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(sp->start.line, 4);
	ck_assert_uint_le(sp->start.byte, sp->end.byte);
	ck_assert_int_eq(
	    strncmp(text + sp->start.byte, "cpu_options", sp->end.byte - sp->start.byte), 0);
	/* The alias's own key is recorded where the anchor's mapping is. */
	sp = np_config_key_span(cfg, np_config_find(cfg, "a"), NP_KEY_CORE_COUNT);
	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(sp->start.line, 2);
	np_config_diags_release(&dg);
}
END_TEST

/* Columns count characters (as libyaml and Terraform do), bytes count bytes. */
START_TEST(test_config_positions_count_bytes_after_utf8)
{
	const char *text = "\xef\xbb\xbfversion: 1\n"
			   "instances:\n"
			   "  web: { tags: { owner: \"J\xc3\xbcrgen \xe2\x82\xac\" }, "
			   "image_id: ami-0abcdef1234567890, instance_type: m8i.large }\n";
	const struct np_span *sp;

	OK(text);
	sp = np_config_key_span(cfg, np_config_find(cfg, "web"), NP_KEY_INSTANCE_TYPE);
	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(sp->start.line, 3);
	ck_assert_int_eq(sp->start.column, 72);
	ck_assert_int_eq(strncmp(text + sp->start.byte, "instance_type: m8i.large", 24), 0);
	ck_assert_uint_eq(sp->end.byte - sp->start.byte, 24);
}
END_TEST

/* validate's form: every error a record with its span, and what could be
 * read kept, so the rules run on it in the same pass. */
START_TEST(test_config_check_keeps_what_it_could_read)
{
	const char *text =
	    HEAD "    instance_type: m8i.large\n"
		 "    cpu_options: { core_count: x, nested_virtualisation: enabled }\n"
		 "  db: { image_id: ami-0abcdef1234567890, instance_type: c8i.xlarge,\n"
		 "        cpu_options: { core_count: 3 } }\n";
	struct np_config_diags dg = NP_CONFIG_DIAGS_INIT;
	const struct np_desired *db;

	np_config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(np_config_check_data(&cfg, "t.yaml", text, strlen(text), &dg, &err), -1);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(dg.n, 2);
	ck_assert(strstr(dg.v[0].message, "'core_count' must be a whole number"));
	ck_assert(dg.v[0].has_span);
	ck_assert_int_eq(dg.v[0].span.start.line, 6);
	ck_assert_int_eq(dg.v[0].span.start.column, 32);
	ck_assert_int_eq(text[dg.v[0].span.start.byte], 'x');
	ck_assert(strstr(dg.v[1].message, "did you mean 'nested_virtualization'?"));
	ck_assert_int_eq(dg.v[1].span.start.line, 6);
	/* The same errors as the text, one per line. */
	ck_assert(strstr(err.msg, "t.yaml:6:32: error: 'core_count' must be a whole number"));
	db = np_config_find(cfg, "db");
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(db->want.core_count, 3);
	ck_assert_int_eq(np_config_find(cfg, "web")->want.core_count, 0);
	np_config_diags_release(&dg);
	/* YAML that does not parse: a position, no configuration. */
	np_config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(np_config_check_data(&cfg, "t.yaml", "a: [\n", 5, &dg, &err), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(dg.n, 1);
	ck_assert(strstr(dg.v[0].message, "malformed YAML"));
	ck_assert(dg.v[0].has_span);
	np_config_diags_release(&dg);
}
END_TEST

/* ---- Dedicated Hosts (issue 18) ---- */

#define HOSTS                                                                        \
	"version: 1\nhosts:\n  kvm-hosts:\n    count: 2\n    instance_family: m8i\n" \
	"    availability_zone: us-east-1a\n"

START_TEST(test_config_hosts_expand_and_placement_host_implies_host_tenancy)
{
	const struct np_desired_host *h;

	OK(HOSTS "    auto_placement: false\n    host_recovery: true\n    tags: { team: ci }\n"
		 "    lifecycle: { prevent_destroy: true }\n"
		 "instances:\n  runner:\n    count: 2\n    image_id: ami-0abcdef1234567890\n"
		 "    instance_type: m8i.4xlarge\n    placement: { host: kvm-hosts }\n"
		 "  one:\n    image_id: ami-0abcdef1234567890\n    instance_type: m8i.4xlarge\n"
		 "    placement: { tenancy: host, host: \"kvm-hosts[1]\" }\n");
	ck_assert_uint_eq(cfg->n_hosts, 2);
	h = np_config_find_host(cfg, "kvm-hosts[1]");
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(h->name, "kvm-hosts");
	ck_assert_int_eq(h->index, 1);
	ck_assert_str_eq(h->want.instance_family, "m8i");
	ck_assert_str_eq(h->want.availability_zone, "us-east-1a");
	ck_assert_int_eq(h->want.auto_placement, NP_BOOL_FALSE);
	ck_assert_int_eq(h->want.host_recovery, NP_BOOL_TRUE);
	ck_assert_str_eq(np_tags_get(&h->want.tags, "team"), "ci");
	ck_assert(h->prevent_destroy);
	ck_assert_ptr_null(np_config_find_host(cfg, "kvm-hosts[2]"));
	ck_assert_str_eq(cfg->instances[0].want.host_address, "kvm-hosts");
	ck_assert_int_eq(cfg->instances[0].want.tenancy, NP_TENANCY_HOST);
	ck_assert_str_eq(cfg->instances[2].want.host_address, "kvm-hosts[1]");
}
END_TEST

START_TEST(test_config_host_group_scaled_to_zero_still_names_itself)
{
	OK("version: 1\nhosts:\n  kvm:\n    count: 0\n    instance_type: m8i.4xlarge\n"
	   "    availability_zone: us-east-1a\ninstances:\n  r:\n    count: 0\n"
	   "    image_id: ami-0abcdef1234567890\n    instance_type: m8i.4xlarge\n"
	   "    placement: { host: kvm }\n");
	ck_assert_uint_eq(cfg->n_hosts, 0);
}
END_TEST

START_TEST(test_config_names_clash_between_instances_and_hosts)
{
	BAD(HOSTS "instances:\n  kvm-hosts:\n    image_id: ami-0abcdef1234567890\n"
		  "    instance_type: m8i.large\n",
	    "t.yaml:8:3: error: 'kvm-hosts' is a name under both 'instances' and 'hosts'");
}
END_TEST

/* Every mistake at once, each where it is written. */
START_TEST(test_config_host_errors_all_at_once_with_positions)
{
	ck_assert_int_eq(parse("version: 1\n"
			       "hosts:\n"
			       "  a:\n"
			       "    instance_family: m8i\n"
			       "    instance_type: m8i.4xlarge\n"
			       "    availability_zone: us-east-1a\n"
			       "  b:\n"
			       "    count: 1001\n"
			       "    instance_famly: m8i\n"
			       "    auto_placement: yes\n"
			       "  c:\n"
			       "    instance_type: m8i\n"
			       "    availability_zone: east\n"
			       "instances:\n"
			       "  w:\n"
			       "    image_id: ami-0abcdef1234567890\n"
			       "    instance_type: m8i.large\n"
			       "    placement: { tenancy: default, host: a }\n"
			       "  x:\n"
			       "    image_id: ami-0abcdef1234567890\n"
			       "    instance_type: m8i.large\n"
			       "    placement: { host: nowhere }\n"
			       "  y:\n"
			       "    image_id: ami-0abcdef1234567890\n"
			       "    instance_type: m8i.large\n"
			       "    placement: { host: a, host_id: h-0123456789abcdef0 }\n"),
			 -1);
	ck_assert_msg(strstr(err.msg, "t.yaml:3:3: error: host 'a' takes 'instance_family' (mixed "
				      "sizes) or 'instance_type' (one type), not both"),
		      "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "t.yaml:8:12: error: 'count' must be between 0 and 1000"),
		      "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "t.yaml:9:5: error: unknown key 'instance_famly' in 'b'; "
				      "did you mean 'instance_family'?"),
		      "%s", err.msg);
	ck_assert_msg(
	    strstr(err.msg, "t.yaml:10:21: error: 'auto_placement' must be true or false"), "%s",
	    err.msg);
	ck_assert_msg(strstr(err.msg, "t.yaml:7:3: error: host 'b' needs 'instance_family' or "
				      "'instance_type'"),
		      "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "t.yaml:7:3: error: host 'b' needs 'availability_zone'"),
		      "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "t.yaml:12:20: error: 'instance_type' must look like "
				      "m8i.4xlarge, not 'm8i'"),
		      "%s", err.msg);
	/* A value in error is not also reported as missing. */
	ck_assert_msg(!strstr(err.msg, "host 'c' needs"), "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "t.yaml:13:24: error: 'availability_zone' must look like "
				      "us-east-1a"),
		      "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "t.yaml:18:42: error: 'placement.host' needs tenancy host, "
				      "not 'default'"),
		      "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "t.yaml:22:24: error: 'placement.host' names no host under "
				      "'hosts': 'nowhere'"),
		      "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "t.yaml:26:24: error: 'placement.host' and "
				      "'placement.host_id' both name a host"),
		      "%s", err.msg);
}
END_TEST

START_TEST(test_config_placement_host_with_dedicated_tenancy_in_defaults_is_refused)
{
	BAD(HOSTS "defaults: { placement: { tenancy: dedicated } }\n"
		  "instances:\n  w:\n    image_id: ami-0abcdef1234567890\n"
		  "    instance_type: m8i.large\n    placement: { host: kvm-hosts }\n",
	    "t.yaml:12:24: error: 'placement.host' needs tenancy host, not 'dedicated'");
}
END_TEST

START_TEST(test_config_hosts_must_be_a_mapping)
{
	BAD("version: 1\nhosts: [a, b]\n"
	    "instances:\n  w: { image_id: ami-0abcdef1234567890, "
	    "instance_type: m8i.large }\n",
	    "t.yaml:2:8: error: 'hosts' must be a mapping, not a list");
}
END_TEST

Suite *check_config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_config_minimal_instance_loads);
	tcase_add_test(tc, test_config_count_expands_addresses);
	tcase_add_test(tc, test_config_defaults_merge_and_instance_wins);
	tcase_add_test(tc, test_config_full_schema_is_typed);
	tcase_add_test(tc, test_config_rejects_unknown_key_with_suggestion);
	tcase_add_test(tc, test_config_rejects_duplicate_key);
	tcase_add_test(tc, test_config_rejects_duplicate_instance);
	tcase_add_test(tc, test_config_rejects_wrong_types);
	tcase_add_test(tc, test_config_rejects_out_of_range_numbers);
	tcase_add_test(tc, test_config_rejects_bad_enums);
	tcase_add_test(tc, test_config_rejects_malformed_ids);
	tcase_add_test(tc, test_config_instance_id_not_with_count);
	tcase_add_test(tc, test_config_new_instance_needs_image_and_type);
	tcase_add_test(tc, test_config_version_and_instances_required);
	tcase_add_test(tc, test_config_reserved_and_oversized_tags);
	tcase_add_test(tc, test_config_reports_every_error_with_position);
	tcase_add_test(tc, test_config_malformed_yaml_has_position);
	tcase_add_test(tc, test_config_merge_keys_are_refused);
	tcase_add_test(tc, test_config_billion_laughs_refused);
	tcase_add_test(tc, test_config_aliases_within_budget_work);
	tcase_add_test(tc, test_config_total_instances_are_bounded);
	tcase_add_test(tc, test_config_load_file_missing_is_clear);
	tcase_add_test(tc, test_config_examples_load);
	tcase_add_test(tc, test_config_large_file_loads);
	tcase_add_test(tc, test_config_second_document_is_refused_with_its_position);
	tcase_add_test(tc, test_config_user_data_is_kept_once);
	tcase_add_test(tc, test_config_deep_flow_nesting_fails_at_once);
	tcase_add_test(tc, test_config_records_each_key_position);
	tcase_add_test(tc, test_config_positions_count_bytes_after_utf8);
	tcase_add_test(tc, test_config_alias_value_spans_the_key);
	tcase_add_test(tc, test_config_check_keeps_what_it_could_read);
	tcase_add_test(tc, test_config_hosts_expand_and_placement_host_implies_host_tenancy);
	tcase_add_test(tc, test_config_host_group_scaled_to_zero_still_names_itself);
	tcase_add_test(tc, test_config_names_clash_between_instances_and_hosts);
	tcase_add_test(tc, test_config_host_errors_all_at_once_with_positions);
	tcase_add_test(tc,
		       test_config_placement_host_with_dedicated_tenancy_in_defaults_is_refused);
	tcase_add_test(tc, test_config_hosts_must_be_a_mapping);
	suite_add_tcase(s, tc);
	return s;
}
