/* Cases leave trailing fields out on purpose: NULL/false. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* The planner, table-driven: a desired YAML, the recorded and live
 * instances as JSON, and the actions and steps that must come out. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nestplan/config.h"
#include "nestplan/json.h"
#include "nestplan/plan.h"
#include "nestplan/render.h"

struct pcase {
	const char *name;
	const char *yaml;       /* instances: part only */
	const char *recorded;   /* JSON array */
	const char *live;       /* JSON array; NULL: same as recorded */
	const char *expect;     /* "addr=action:step,step;addr2=..." in address order */
	const char *diag;       /* substring of an error diagnostic, or NULL */
	const char *warn;       /* substring of a warning, or NULL */
	bool destroy, refresh_only;
	const char *target;
};

#define AMI "image_id: ami-0abcdef1234567890, "
#define REC(extra) "{\"address\":\"b\",\"instance_id\":\"i-0000000000000000b\",\"image_id\":\"ami-0abcdef1234567890\",\"state\":\"running\"," extra "}"

static const struct pcase cases[] = {
	{"create", "  b: { " AMI "instance_type: m8i.large }\n", "[]", NULL, "b=create:run_instances"},
	{"create_stopped", "  b: { " AMI "instance_type: m8i.large, state: stopped }\n", "[]", NULL,
	 "b=create:run_instances,stop"},
	{"count_growth", "  b: { " AMI "instance_type: m8i.large, count: 3 }\n", "[]", NULL,
	 "b[0]=create:run_instances;b[1]=create:run_instances;b[2]=create:run_instances"},
	{"noop", "  b: { " AMI "instance_type: m8i.large }\n",
	 "[" REC("\"instance_type\":\"m8i.large\"") "]", NULL, "b=no-op:"},
	{"unmanaged_attributes_ignored", "  b: { " AMI "instance_type: m8i.large }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"cpu_options\":{\"core_count\":1,\"threads_per_core\":1},\"tags\":{\"x\":\"y\"}") "]",
	 NULL, "b=no-op:"},
	{"onto_nv_type_before_cpu", "  b: { " AMI "instance_type: m8i.2xlarge, cpu_options: { nested_virtualization: enabled } }\n",
	 "[" REC("\"instance_type\":\"m6i.2xlarge\"") "]", NULL,
	 "b=update:stop,modify_instance_type,modify_cpu_options,start"},
	{"off_nv_disable_first", "  b: { " AMI "instance_type: m6i.2xlarge }\n",
	 "[" REC("\"instance_type\":\"m8i.2xlarge\",\"cpu_options\":{\"nested_virtualization\":\"enabled\"}") "]", NULL,
	 "b=update:stop,modify_cpu_options,modify_instance_type,start"},
	{"between_nv_types_warns_reset", "  b: { " AMI "instance_type: m8i.4xlarge }\n",
	 "[" REC("\"instance_type\":\"m8i.2xlarge\",\"cpu_options\":{\"nested_virtualization\":\"enabled\"}") "]", NULL,
	 "b=update:stop,modify_instance_type,start", NULL, "turns nested virtualization off"},
	{"enable_nv_in_place", "  b: { " AMI "instance_type: m8i.2xlarge, cpu_options: { nested_virtualization: enabled } }\n",
	 "[" REC("\"instance_type\":\"m8i.2xlarge\"") "]", NULL, "b=update:stop,modify_cpu_options,start"},
	{"cores_with_type_change_sent_again", "  b: { " AMI "instance_type: m8i.4xlarge, cpu_options: { core_count: 4 } }\n",
	 "[" REC("\"instance_type\":\"m8i.2xlarge\"") "]", NULL,
	 "b=update:stop,modify_instance_type,modify_cpu_options,start"},
	{"tenancy_default_to_dedicated_replaces", "  b: { " AMI "instance_type: m8i.large, placement: { tenancy: dedicated } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"default\"}") "]", NULL,
	 "b=replace:terminate,run_instances"},
	{"tenancy_default_to_host_replaces", "  b: { " AMI "instance_type: m8i.large, placement: { tenancy: host } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"default\"}") "]", NULL,
	 "b=replace:terminate,run_instances"},
	{"tenancy_dedicated_to_default_replaces", "  b: { " AMI "instance_type: m8i.large, placement: { tenancy: default } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"dedicated\"}") "]", NULL,
	 "b=replace:terminate,run_instances"},
	{"tenancy_dedicated_to_host", "  b: { " AMI "instance_type: m8i.large, placement: { tenancy: host } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"dedicated\"}") "]", NULL,
	 "b=update:stop,modify_placement,start"},
	{"tenancy_irreversible_goes_last", "  b: { " AMI "instance_type: m8i.xlarge, cpu_options: { nested_virtualization: enabled }, placement: { tenancy: host } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"dedicated\"}") "]", NULL,
	 "b=update:stop,modify_instance_type,modify_cpu_options,modify_placement,start"},
	{"another_host_in_place", "  b: { " AMI "instance_type: m8i.large, placement: { tenancy: host, host_id: h-0000000000000000b } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"host\",\"host_id\":\"h-0000000000000000a\"}") "]", NULL,
	 "b=update:stop,modify_placement,start"},
	{"same_host_no_change", "  b: { " AMI "instance_type: m8i.large, placement: { tenancy: host } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"host\",\"host_id\":\"h-0000000000000000a\"}") "]", NULL,
	 "b=no-op:"},
	{"nv_disabled_sent_again_after_type_change", "  b: { " AMI "instance_type: m8i.4xlarge, cpu_options: { nested_virtualization: disabled } }\n",
	 "[" REC("\"instance_type\":\"m8i.2xlarge\"") "]", NULL,
	 "b=update:stop,modify_instance_type,modify_cpu_options,start"},
	{"host_to_dedicated_replaces", "  b: { " AMI "instance_type: m8i.large, placement: { tenancy: dedicated } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"host\"}") "]", NULL,
	 "b=replace:terminate,run_instances"},
	{"host_to_default_replaces", "  b: { " AMI "instance_type: m8i.large, placement: { tenancy: default } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"host\"}") "]", NULL,
	 "b=replace:terminate,run_instances"},
	{"replace_prevented", "  b: { " AMI "instance_type: m8i.large, placement: { tenancy: default }, lifecycle: { prevent_destroy: true } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"host\"}") "]", NULL,
	 "b=replace:terminate,run_instances", "prevent_destroy"},
	{"image_change_create_before_destroy", "  b: { image_id: ami-0000000000000000f, instance_type: m8i.large, lifecycle: { create_before_destroy: true } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\"") "]", NULL, "b=replace:run_instances,terminate"},
	{"stop_only", "  b: { " AMI "instance_type: m8i.large, state: stopped }\n",
	 "[" REC("\"instance_type\":\"m8i.large\"") "]", NULL, "b=update:stop"},
	{"start_only", "  b: { " AMI "instance_type: m8i.large, state: running }\n",
	 "[{\"address\":\"b\",\"instance_id\":\"i-0000000000000000b\",\"image_id\":\"ami-0abcdef1234567890\",\"instance_type\":\"m8i.large\",\"state\":\"stopped\"}]",
	 NULL, "b=update:start"},
	{"stopped_type_change_stays_stopped", "  b: { " AMI "instance_type: m8i.xlarge }\n",
	 "[{\"address\":\"b\",\"instance_id\":\"i-0000000000000000b\",\"image_id\":\"ami-0abcdef1234567890\",\"instance_type\":\"m8i.large\",\"state\":\"stopped\"}]",
	 NULL, "b=update:modify_instance_type"},
	{"type_change_with_state_stopped_no_start", "  b: { " AMI "instance_type: m8i.xlarge, state: stopped }\n",
	 "[" REC("\"instance_type\":\"m8i.large\"") "]", NULL, "b=update:stop,modify_instance_type"},
	{"tags_only_no_stop", "  b: { " AMI "instance_type: m8i.large, tags: { team: ci } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"tags\":{\"old\":\"x\"}") "]", NULL, "b=update:create_tags,delete_tags"},
	{"count_shrink_deletes_highest", "  b: { " AMI "instance_type: m8i.large, count: 1 }\n",
	 "[{\"address\":\"b[0]\",\"instance_id\":\"i-000000000000000b0\",\"image_id\":\"ami-0abcdef1234567890\",\"instance_type\":\"m8i.large\",\"state\":\"running\"},"
	 "{\"address\":\"b[1]\",\"instance_id\":\"i-000000000000000b1\",\"image_id\":\"ami-0abcdef1234567890\",\"instance_type\":\"m8i.large\",\"state\":\"running\"}]",
	 NULL, "b[0]=no-op:;b[1]=delete:terminate"},
	{"terminated_outside_created_again", "  b: { " AMI "instance_type: m8i.large }\n",
	 "[" REC("\"instance_type\":\"m8i.large\"") "]", "[]", "b=create:run_instances"},
	{"adopt_by_instance_id", "  b: { instance_id: i-0000000000000000b, instance_type: m8i.large }\n",
	 "[]", "[{\"instance_id\":\"i-0000000000000000b\",\"instance_type\":\"m8i.large\",\"state\":\"running\"}]",
	 "b=update:create_tags"},
	{"adopt_missing_is_error", "  b: { instance_id: i-0000000000000000b, instance_type: m8i.large }\n",
	 "[]", "[]", "", "cannot adopt"},
	{"crashed_launch_adopted_by_tag", "  b: { " AMI "instance_type: m8i.large }\n", "[]",
	 "[{\"address\":\"b\",\"lineage\":\"L\",\"instance_id\":\"i-0000000000000000b\",\"image_id\":\"ami-0abcdef1234567890\",\"instance_type\":\"m8i.large\",\"state\":\"running\"}]",
	 "b=update:create_tags"},
	{"nv_unsupported_type_error", "  b: { " AMI "instance_type: m6i.large, cpu_options: { nested_virtualization: enabled } }\n",
	 "[]", NULL, "b=create:run_instances", "not supported on 'm6i.large'"},
	{"invalid_core_count", "  b: { " AMI "instance_type: m8i.2xlarge, cpu_options: { core_count: 7, threads_per_core: 2 } }\n",
	 "[]", NULL, "b=create:run_instances", "core_count 7 is not valid"},
	{"windows_above_192_vcpus", "  b: { " AMI "instance_type: m8i.96xlarge, platform: windows, cpu_options: { nested_virtualization: enabled } }\n",
	 "[]", NULL, "b=create:run_instances", "above 192 vCPUs"},
	{"windows_48xlarge_warns_vsm", "  b: { " AMI "instance_type: m8i.48xlarge, platform: windows, cpu_options: { nested_virtualization: enabled } }\n",
	 "[]", NULL, "b=create:run_instances", NULL, "Virtual Secure Mode"},
	{"windows_hibernation_error", "  b: { " AMI "instance_type: m8i.2xlarge, platform: windows, hibernation: true, cpu_options: { nested_virtualization: enabled } }\n",
	 "[]", NULL, "b=create:run_instances", "cannot hibernate"},
	{"destroy_all", "  b: { " AMI "instance_type: m8i.large }\n",
	 "[" REC("\"instance_type\":\"m8i.large\"") "]", NULL, "b=delete:terminate", NULL, NULL, true},
	{"destroy_prevented", "  b: { " AMI "instance_type: m8i.large, lifecycle: { prevent_destroy: true } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\"") "]", NULL, "", "prevent_destroy", NULL, true},
	{"refresh_only_no_changes", "  b: { " AMI "instance_type: m8i.xlarge }\n",
	 "[" REC("\"instance_type\":\"m8i.large\"") "]", NULL, "b=no-op:", NULL, NULL, false, true},
	{"target_selects_group", "  b: { " AMI "instance_type: m8i.large, count: 2 }\n  c: { " AMI "instance_type: m8i.large }\n",
	 "[]", NULL, "b[0]=create:run_instances;b[1]=create:run_instances", NULL, NULL, false, false, "b"},
	{"target_selects_one", "  b: { " AMI "instance_type: m8i.large, count: 2 }\n",
	 "[]", NULL, "b[1]=create:run_instances", NULL, NULL, false, false, "b[1]"},
	{"natural_order", "  b: { " AMI "instance_type: m8i.large, count: 11 }\n", "[]", NULL,
	 "b[0]=create:run_instances;b[1]=create:run_instances;b[2]=create:run_instances;b[3]=create:run_instances;"
	 "b[4]=create:run_instances;b[5]=create:run_instances;b[6]=create:run_instances;b[7]=create:run_instances;"
	 "b[8]=create:run_instances;b[9]=create:run_instances;b[10]=create:run_instances"},
	{"spot_with_nv_error", "  b: { " AMI "instance_type: m8i.large, cpu_options: { nested_virtualization: enabled } }\n",
	 "[" REC("\"instance_type\":\"m8i.large\",\"spot\":true") "]", NULL,
	 "b=update:stop,modify_cpu_options,start", "Spot"},
};

static struct np_instance *load_instances(const char *text, size_t *n)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je), *x;
	struct np_instance *v;
	size_t i;

	ck_assert_msg(j && json_is_array(j), "bad JSON: %s", je.text);
	*n = json_array_size(j);
	v = calloc(*n ? *n : 1, sizeof(*v));
	json_array_foreach(j, i, x) {
		struct np_err err = NP_ERR_INIT;

		ck_assert_msg(np_instance_from_json(&v[i], x, &err) == 0, "%s", err.msg);
		if (!v[i].lineage && v[i].address)
			v[i].lineage = strdup("L");
	}
	json_decref(j);
	return v;
}

START_TEST(test_plan_table_case)
{
	const struct pcase *c = &cases[_i];
	char yaml[4096], got[4096] = "";
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;
	struct np_instance *rec, *live;
	size_t n_rec, n_live;
	struct np_plan plan;
	struct np_plan_input in = {0};
	bool diag_seen = false, warn_seen = false;

	snprintf(yaml, sizeof(yaml), "version: 1\ninstances:\n%s", c->yaml);
	ck_assert_msg(np_config_parse(&cfg, c->name, yaml, strlen(yaml), &err) == 0, "%s", err.msg);
	np_catalog_builtin(&cat);
	rec = load_instances(c->recorded, &n_rec);
	live = load_instances(c->live ? c->live : c->recorded, &n_live);
	in.config = cfg;
	in.recorded = rec;
	in.n_recorded = n_rec;
	in.live = live;
	in.n_live = n_live;
	in.catalog = &cat;
	in.lineage = "L";
	in.destroy = c->destroy;
	in.refresh_only = c->refresh_only;
	if (c->target) {
		in.targets = &c->target;
		in.n_targets = 1;
	}
	ck_assert_int_eq(np_plan_build(&plan, &in, &err), 0);
	for (size_t i = 0; i < plan.n_changes; i++) {
		const struct np_change *ch = &plan.changes[i];
		size_t len = strlen(got);

		snprintf(got + len, sizeof(got) - len, "%s%s=%s:", i ? ";" : "", ch->address,
		         np_action_name(ch->action));
		for (size_t k = 0; k < ch->n_steps; k++) {
			len = strlen(got);
			snprintf(got + len, sizeof(got) - len, "%s%s", k ? "," : "",
			         np_step_name(ch->steps[k].kind));
		}
	}
	ck_assert_msg(!strcmp(got, c->expect), "%s: got '%s', want '%s'", c->name, got, c->expect);
	for (size_t i = 0; i < plan.n_diags; i++) {
		if (plan.diags[i].severity == NP_SEV_ERROR && c->diag &&
		    strstr(plan.diags[i].message, c->diag))
			diag_seen = true;
		if (plan.diags[i].severity == NP_SEV_WARNING && c->warn &&
		    strstr(plan.diags[i].message, c->warn))
			warn_seen = true;
	}
	ck_assert_msg(c->diag ? diag_seen : !np_plan_has_errors(&plan), "%s: error diagnostic", c->name);
	ck_assert_msg(!c->warn || warn_seen, "%s: warning '%s' missing", c->name, c->warn);
	np_plan_release(&plan);
	np_instances_free(rec, n_rec);
	np_instances_free(live, n_live);
	np_catalog_release(&cat);
	np_config_free(cfg);
}
END_TEST

START_TEST(test_plan_step_parameters_carry_cpu_options)
{
	const char *yaml = "version: 1\ninstances:\n  b: { " AMI "instance_type: m8i.4xlarge, "
	                   "cpu_options: { core_count: 4, nested_virtualization: enabled } }\n";
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;
	size_t n;
	struct np_instance *rec = load_instances("[" REC("\"instance_type\":\"m6i.2xlarge\"") "]", &n);
	struct np_plan plan;
	struct np_plan_input in = {.recorded = rec, .n_recorded = n, .live = rec, .n_live = n,
	                           .catalog = &cat, .lineage = "L"};
	const struct np_step *s;

	ck_assert_int_eq(np_config_parse(&cfg, "t", yaml, strlen(yaml), &err), 0);
	np_catalog_builtin(&cat);
	in.config = cfg;
	ck_assert_int_eq(np_plan_build(&plan, &in, &err), 0);
	ck_assert_uint_eq(plan.changes[0].n_steps, 4);
	s = &plan.changes[0].steps[2];
	ck_assert_int_eq(s->kind, NP_STEP_MODIFY_CPU_OPTIONS);
	ck_assert_int_eq(s->core_count, 4);
	ck_assert_int_eq(s->threads_per_core, 2); /* m8i.4xlarge default, sent together */
	ck_assert_int_eq(s->nested_virtualization, NP_NV_ENABLED);
	ck_assert_str_eq(plan.changes[0].steps[1].instance_type, "m8i.4xlarge");
	ck_assert_int_eq(plan.summary.change, 1);
	ck_assert_int_eq(plan.summary.stop_start, 1);
	np_plan_release(&plan);
	np_instances_free(rec, n);
	np_catalog_release(&cat);
	np_config_free(cfg);
}
END_TEST

/* Rule 5: dedicated -> host is in place but has no way back, so it is
 * marked, goes last, is listed in the JSON and survives a plan file; its
 * permission is listed as not checked in advance (no DryRun). */
START_TEST(test_plan_irreversible_tenancy_step)
{
	const char *yaml = "version: 1\ninstances:\n  b: { " AMI "instance_type: m8i.xlarge, "
	                   "placement: { tenancy: host } }\n";
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;
	size_t n;
	struct np_instance *rec = load_instances(
		"[" REC("\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"dedicated\"}") "]", &n);
	struct np_plan plan, back;
	struct np_plan_input in = {.recorded = rec, .n_recorded = n, .live = rec, .n_live = n,
	                           .catalog = &cat, .lineage = "L"};
	json_t *j, *irr, *perms;

	ck_assert_int_eq(np_config_parse(&cfg, "t", yaml, strlen(yaml), &err), 0);
	np_catalog_builtin(&cat);
	in.config = cfg;
	ck_assert_int_eq(np_plan_build(&plan, &in, &err), 0);
	ck_assert_uint_eq(plan.changes[0].n_steps, 4);
	ck_assert_int_eq(plan.changes[0].steps[2].kind, NP_STEP_MODIFY_PLACEMENT);
	ck_assert(plan.changes[0].steps[2].irreversible);
	ck_assert(!plan.changes[0].steps[1].irreversible);
	ck_assert(plan.changes[0].irreversible);
	j = np_render_plan_json(&plan);
	irr = json_object_get(json_array_get(json_object_get(j, "changes"), 0), "irreversible_steps");
	ck_assert_uint_eq(json_array_size(irr), 1);
	ck_assert_str_eq(json_string_value(json_array_get(irr, 0)), "modify_placement");
	perms = json_object_get(j, "unchecked_permissions");
	ck_assert_uint_eq(json_array_size(perms), 1);
	ck_assert_str_eq(json_string_value(json_array_get(perms, 0)), "ec2:ModifyInstancePlacement");
	json_decref(j);
	j = np_plan_to_json_full(&plan);
	ck_assert_int_eq(np_plan_from_json_full(&back, j, &err), 0);
	ck_assert(back.changes[0].steps[2].irreversible);
	ck_assert(back.changes[0].irreversible);
	json_decref(j);
	np_plan_release(&back);
	np_plan_release(&plan);
	np_instances_free(rec, n);
	np_catalog_release(&cat);
	np_config_free(cfg);
}
END_TEST

/* A step table entry per kind, with an EC2 action and a permission. */
START_TEST(test_plan_step_table_complete)
{
	for (int k = 0; k < NP_STEP__COUNT; k++) {
		const struct np_step_def *d = np_step_def((enum np_step_kind)k);

		ck_assert_ptr_nonnull(d);
		ck_assert_int_eq(np_step_parse(d->name), k);
		ck_assert_ptr_nonnull(d->action);
		ck_assert_ptr_nonnull(d->permissions[0]);
	}
	ck_assert(!np_step_def(NP_STEP_MODIFY_PLACEMENT)->dry_run);
	ck_assert(np_step_def(NP_STEP_MODIFY_CPU_OPTIONS)->dry_run);
}
END_TEST

START_TEST(test_plan_drift_lists_attribute_differences)
{
	const char *yaml = "version: 1\ninstances:\n  b: { " AMI "instance_type: m8i.large }\n";
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;
	size_t nr, nl;
	struct np_instance *rec = load_instances("[" REC("\"instance_type\":\"m8i.large\",\"tags\":{\"t\":\"1\"}") "]", &nr);
	struct np_instance *live = load_instances("[" REC("\"instance_type\":\"m8i.xlarge\",\"tags\":{\"t\":\"2\"}") "]", &nl);
	struct np_plan plan;
	struct np_plan_input in = {.recorded = rec, .n_recorded = nr, .live = live, .n_live = nl,
	                           .catalog = &cat, .lineage = "L", .refresh_only = true};
	json_t *j;

	ck_assert_int_eq(np_config_parse(&cfg, "t", yaml, strlen(yaml), &err), 0);
	in.config = cfg;
	ck_assert_int_eq(np_plan_build(&plan, &in, &err), 0);
	ck_assert_uint_eq(plan.n_drift, 2);
	ck_assert_str_eq(plan.drift[0].attribute, "instance_type");
	ck_assert_str_eq(plan.drift[0].recorded, "m8i.large");
	ck_assert_str_eq(plan.drift[0].live, "m8i.xlarge");
	ck_assert_str_eq(plan.drift[1].attribute, "tags.t");
	j = np_render_drift_json(&plan);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "summary"), "drifted")), 1);
	json_decref(j);
	np_plan_release(&plan);
	np_instances_free(rec, nr);
	np_instances_free(live, nl);
	np_config_free(cfg);
}
END_TEST

START_TEST(test_plan_json_shape_and_planfile_round_trip)
{
	const char *yaml = "version: 1\ninstances:\n  b: { " AMI "instance_type: m8i.2xlarge, "
	                   "cpu_options: { nested_virtualization: enabled } }\n";
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;
	size_t n;
	struct np_instance *rec = load_instances("[" REC("\"instance_type\":\"m6i.2xlarge\"") "]", &n);
	struct np_plan plan, back;
	struct np_plan_input in = {.recorded = rec, .n_recorded = n, .live = rec, .n_live = n,
	                           .catalog = &cat, .lineage = "L", .serial = 7};
	char path[] = "/tmp/np-plan-XXXXXX";
	json_t *j, *ch;
	int fd = mkstemp(path);

	np_catalog_builtin(&cat);
	ck_assert_int_eq(np_config_parse(&cfg, "t", yaml, strlen(yaml), &err), 0);
	in.config = cfg;
	ck_assert_int_eq(np_plan_build(&plan, &in, &err), 0);
	j = np_render_plan_json(&plan);
	ck_assert_str_eq(json_string_value(json_object_get(j, "format_version")), "1");
	ch = json_array_get(json_object_get(j, "changes"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(ch, "action")), "update");
	ck_assert(json_is_true(json_object_get(ch, "requires_stop")));
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(ch, "steps"), 1)),
	                 "modify_instance_type");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "summary"), "stop_start")), 1);
	json_decref(j);
	close(fd);
	ck_assert_int_eq(np_planfile_save(&plan, path, &err), 0);
	ck_assert_int_eq(np_planfile_load(&back, path, &err), 0);
	ck_assert_str_eq(back.lineage, "L");
	ck_assert_int_eq(back.serial, 7);
	ck_assert_str_eq(back.config_sha256, cfg->sha256);
	ck_assert_uint_eq(back.changes[0].n_steps, 4);
	ck_assert_int_eq(back.changes[0].steps[2].nested_virtualization, NP_NV_ENABLED);
	np_plan_release(&back);
	{
		FILE *f = fopen(path, "w");

		fputs("{\"format_version\": \"1\", \"changes\": 3}", f);
		fclose(f);
	}
	ck_assert_int_eq(np_planfile_load(&back, path, &err), -1);
	ck_assert(strstr(err.msg, "not a nestplan plan"));
	unlink(path);
	np_plan_release(&plan);
	np_instances_free(rec, n);
	np_catalog_release(&cat);
	np_config_free(cfg);
}
END_TEST

Suite *check_plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *t = tcase_create("cases"), *o = tcase_create("output");

	tcase_add_loop_test(t, test_plan_table_case, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(o, test_plan_step_parameters_carry_cpu_options);
	tcase_add_test(o, test_plan_drift_lists_attribute_differences);
	tcase_add_test(o, test_plan_irreversible_tenancy_step);
	tcase_add_test(o, test_plan_step_table_complete);
	tcase_add_test(o, test_plan_json_shape_and_planfile_round_trip);
	suite_add_tcase(s, t);
	suite_add_tcase(s, o);
	return s;
}
