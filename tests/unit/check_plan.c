/* The planner: data-driven cases (tests/data/plan/, a desired YAML, the
 * recorded and live instances, the plan JSON that must come out) and a few
 * tests of the plan's parameters and files. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nestplan/config.h"
#include "nestplan/json.h"
#include "nestplan/plan.h"
#include "nestplan/render.h"

#define AMI "image_id: ami-0abcdef1234567890, "
#define REC(extra)                                                                       \
	"{\"address\":\"b\",\"instance_id\":\"i-0000000000000000b\",\"image_id\":\"ami-" \
	"0abcdef1234567890\",\"state\":\"running\"," extra "}"

static struct np_instance *load_instances(const char *text, size_t *n)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je), *x;
	struct np_instance *v;
	size_t i;

	ck_assert_msg(j && json_is_array(j), "bad JSON: %s", je.text);
	*n = json_array_size(j);
	v = calloc(*n ? *n : 1, sizeof(*v));
	json_array_foreach(j, i, x)
	{
		struct np_err err = NP_ERR_INIT;

		ck_assert_msg(np_instance_from_json(&v[i], x, &err) == 0, "%s", err.msg);
		if (!v[i].lineage && v[i].address)
			v[i].lineage = strdup("L");
	}
	json_decref(j);
	return v;
}

/* Hosts of a data case: recorded_hosts.json, live_hosts.json (optional:
 * the recorded ones). */
static struct np_host *load_hosts(const char *text, size_t *n)
{
	json_error_t je;
	json_t *j = text ? json_loads(text, 0, &je) : json_array(), *x;
	struct np_host *v;
	size_t i;

	ck_assert_msg(j && json_is_array(j), "bad hosts JSON: %s", je.text);
	*n = json_array_size(j);
	v = calloc(*n ? *n : 1, sizeof(*v));
	json_array_foreach(j, i, x)
	{
		struct np_err err = NP_ERR_INIT;

		ck_assert_msg(np_host_from_json(&v[i], x, &err) == 0, "%s", err.msg);
	}
	json_decref(j);
	return v;
}

START_TEST(test_plan_step_parameters_carry_cpu_options)
{
	const char *yaml = "version: 1\ninstances:\n  b: { " AMI "instance_type: m8i.4xlarge, "
			   "cpu_options: { core_count: 4, nested_virtualization: enabled } }\n";
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;
	size_t n;
	struct np_instance *rec =
	    load_instances("[" REC("\"instance_type\":\"m6i.2xlarge\"") "]", &n);
	struct np_plan plan;
	struct np_plan_input in = { .recorded = rec,
				    .n_recorded = n,
				    .live = rec,
				    .n_live = n,
				    .catalog = &cat,
				    .lineage = "L" };
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

/* Data-driven cases, as curl's tests/data: tests/data/plan/NNNN-name/ holds
 * desired.yaml, recorded.json, live.json (optional: the recorded ones),
 * args.json (optional: destroy, refresh_only, targets, replace) and
 * expected.json, the plan JSON. UPDATE=1 rewrites expected.json. */
#define PLAN_DATA "tests/data/plan"

static char **data_cases;
static size_t n_data_cases;

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void find_data_cases(void)
{
	DIR *d = opendir(PLAN_DATA);
	struct dirent *e;
	size_t alloc = 0;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n_data_cases == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			data_cases = realloc(data_cases, alloc * sizeof(*data_cases));
		}
		data_cases[n_data_cases++] = strdup(e->d_name);
	}
	if (d)
		closedir(d);
	qsort(data_cases, n_data_cases, sizeof(*data_cases), name_cmp);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s/%s", PLAN_DATA, dir, name);
	if (!(f = fopen(path, "rb")))
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static const char **strings_of(const json_t *a, size_t *n)
{
	const char **v = calloc(json_array_size(a) + 1, sizeof(*v));
	size_t i;
	json_t *x;

	*n = 0;
	json_array_foreach(a, i, x) v[(*n)++] = json_string_value(x);
	return v;
}

START_TEST(test_plan_data_case)
{
	const char *dir = data_cases[_i];
	size_t len;
	char *yaml = slurp(dir, "desired.yaml", &len),
	     *rec_text = slurp(dir, "recorded.json", NULL);
	char *live_text = slurp(dir, "live.json", NULL), *args_text = slurp(dir, "args.json", NULL);
	char *want_text = slurp(dir, "expected.json", NULL), *got_text;
	char *rh_text = slurp(dir, "recorded_hosts.json", NULL);
	char *lh_text = slurp(dir, "live_hosts.json", NULL);
	struct np_host *rh, *lh;
	size_t n_rh, n_lh;
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;
	struct np_instance *rec, *live;
	size_t n_rec, n_live, n_targets = 0, n_replace = 0;
	struct np_plan plan;
	struct np_plan_input in = { 0 };
	json_t *args = args_text ? json_loads(args_text, 0, NULL) : json_object(), *got, *want;
	const char **targets, **replace;
	const char *update = getenv("UPDATE");

	ck_assert_msg(yaml && rec_text, "%s: desired.yaml and recorded.json are required", dir);
	ck_assert_msg(args, "%s: args.json is not JSON", dir);
	ck_assert_msg(np_config_parse(&cfg, "desired.yaml", yaml, len, &err) == 0, "%s: %s", dir,
		      err.msg);
	np_catalog_builtin(&cat);
	rec = load_instances(rec_text, &n_rec);
	live = load_instances(live_text ? live_text : rec_text, &n_live);
	rh = load_hosts(rh_text, &n_rh);
	lh = load_hosts(lh_text ? lh_text : rh_text, &n_lh);
	in.recorded_hosts = rh;
	in.n_recorded_hosts = n_rh;
	in.live_hosts = lh;
	in.n_live_hosts = n_lh;
	targets = strings_of(json_object_get(args, "targets"), &n_targets);
	replace = strings_of(json_object_get(args, "replace"), &n_replace);
	in.config = cfg;
	in.recorded = rec;
	in.n_recorded = n_rec;
	in.live = live;
	in.n_live = n_live;
	in.catalog = &cat;
	in.lineage = "L";
	in.destroy = json_is_true(json_object_get(args, "destroy"));
	in.refresh_only = json_is_true(json_object_get(args, "refresh_only"));
	in.targets = targets;
	in.n_targets = n_targets;
	in.replace = replace;
	in.n_replace = n_replace;
	ck_assert_int_eq(np_plan_build(&plan, &in, &err), 0);
	got = np_render_plan_json(&plan);
	got_text = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (update && !strcmp(update, "1")) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s/expected.json", PLAN_DATA, dir);
		ck_assert_ptr_nonnull(f = fopen(path, "w"));
		fprintf(f, "%s\n", got_text);
		fclose(f);
	} else {
		char *want_norm;

		ck_assert_msg(want_text, "%s: no expected.json (make check UPDATE=1 writes it)",
			      dir);
		want = json_loads(want_text, 0, NULL);
		ck_assert_msg(want, "%s: expected.json is not JSON", dir);
		want_norm = json_dumps(want, JSON_INDENT(2) | JSON_SORT_KEYS);
		ck_assert_msg(!strcmp(got_text, want_norm),
			      "%s: the plan differs from expected.json:\n%s", dir, got_text);
		free(want_norm);
		json_decref(want);
	}
	free(got_text);
	json_decref(got);
	json_decref(args);
	free(targets);
	free(replace);
	np_plan_release(&plan);
	np_instances_free(rec, n_rec);
	np_instances_free(live, n_live);
	np_hosts_free(rh, n_rh);
	np_hosts_free(lh, n_lh);
	free(rh_text);
	free(lh_text);
	np_catalog_release(&cat);
	np_config_free(cfg);
	free(yaml);
	free(rec_text);
	free(live_text);
	free(args_text);
	free(want_text);
}
END_TEST

/* An enum's names in the schema: the same set as the entry's (the file's
 * names where the file may use fewer, as for state). */
static void schema_enum_agrees(const struct np_attr_def *a, json_t *e)
{
	const char *const *names = a->file_names ? a->file_names : a->names + 1;
	json_t *got = json_object_get(e, "enum");
	size_t n = 0;

	ck_assert_msg(json_is_array(got), "%s: no enum in the schema", a->name);
	for (; names[n]; n++) {
		bool found = false;

		for (size_t k = 0; k < json_array_size(got) && !found; k++)
			found = !strcmp(json_string_value(json_array_get(got, k)), names[n]);
		ck_assert_msg(found, "%s: '%s' is not in the schema's enum", a->name, names[n]);
	}
	ck_assert_msg(json_array_size(got) == n,
		      "%s: the schema's enum has %zu names, the entry %zu", a->name,
		      json_array_size(got), n);
}

/* An id the loader checks ("ami-" and 8 to 17 hex digits): the same pattern. */
static void schema_id_agrees(const struct np_attr_def *a, json_t *e)
{
	char want[64];

	snprintf(want, sizeof(want), "^%s-[0-9a-f]{8,17}$", a->id_prefix);
	ck_assert_msg(json_string_value(json_object_get(e, "pattern")) &&
			  !strcmp(json_string_value(json_object_get(e, "pattern")), want),
		      "%s: the schema's pattern is not %s", a->name, want);
}

/* The keys of the schema's attributes that the loader reads by hand. */
static const char *const schema_not_table[] = { "rollout", "lifecycle",
						/* issue 18: src/config/hosts.c */
						"placement.host", NULL };

static bool schema_key_known(const char *name)
{
	for (int i = 0; schema_not_table[i]; i++)
		if (!strcmp(schema_not_table[i], name))
			return true;
	return np_attr_find(name) != NULL;
}

/* The schema says of every attribute what its table entry says: the same
 * key, type, range, names and id patterns, and it has no key the table
 * does not know (the entry is the truth; the schema is what editors read). */
START_TEST(test_plan_schema_agrees_with_the_attribute_table)
{
	json_error_t je;
	json_t *schema = json_load_file("schemas/nestplan.schema.json", 0, &je), *props, *v;
	const char *key;

	ck_assert_msg(schema, "schemas/nestplan.schema.json: %s", je.text);
	props = json_object_get(json_object_get(json_object_get(schema, "$defs"), "attributes"),
				"properties");
	ck_assert_ptr_nonnull(props);
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];
		const char *dot = strchr(a->name, '.');
		char group[64];
		json_t *p = props, *e;

		if (dot) {
			snprintf(group, sizeof(group), "%.*s", (int)(dot - a->name), a->name);
			p = json_object_get(json_object_get(props, group), "properties");
			ck_assert_msg(p, "%s: no '%s' object in the schema", a->name, group);
		}
		e = json_object_get(p, dot ? dot + 1 : a->name);
		ck_assert_msg(e, "%s is not in the schema", a->name);
		switch (a->type) {
		case NP_ATTR_BOOL:
			ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "boolean");
			break;
		case NP_ATTR_INT:
			ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "integer");
			ck_assert_int_eq(json_integer_value(json_object_get(e, "minimum")), a->min);
			ck_assert_int_eq(json_integer_value(json_object_get(e, "maximum")), a->max);
			break;
		case NP_ATTR_ENUM:
			schema_enum_agrees(a, e);
			break;
		case NP_ATTR_STR: {
			json_t *max = json_object_get(e, "maxLength");
			int loader = a->id_prefix ? 64 : a->max ? a->max : a->check ? 2048 : 255;

			ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "string");
			if (a->id_prefix)
				schema_id_agrees(a, e);
			/* Without a check or a pattern, the length is all there is. */
			ck_assert_msg(max || a->check || a->id_prefix,
				      "%s: no maxLength in the schema", a->name);
			ck_assert_msg(!max || json_integer_value(max) == loader,
				      "%s: the schema's maxLength is not %d", a->name, loader);
			break;
		}
		case NP_ATTR_SHA256:
			ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "string");
			ck_assert_int_eq(json_integer_value(json_object_get(e, "maxLength")),
					 a->max);
			break;
		case NP_ATTR_TAGS:
			ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "object");
			ck_assert_int_eq(json_integer_value(json_object_get(e, "maxProperties")),
					 a->max);
			break;
		case NP_ATTR_STRV:
			ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "array");
			ck_assert_int_eq(json_integer_value(json_object_get(e, "maxItems")),
					 a->max);
			schema_id_agrees(a, json_object_get(e, "items"));
			break;
		}
	}
	json_object_foreach(props, key, v)
	{
		json_t *sub = json_object_get(v, "properties"), *x;
		const char *k2;

		if (!sub || !strcmp(key, "rollout") || !strcmp(key, "lifecycle")) {
			ck_assert_msg(schema_key_known(key),
				      "the schema's '%s' is not in the table", key);
			continue;
		}
		json_object_foreach(sub, k2, x)
		{
			char name[128];

			snprintf(name, sizeof(name), "%s.%s", key, k2);
			ck_assert_msg(schema_key_known(name),
				      "the schema's '%s' is not in the table", name);
		}
	}
	json_decref(schema);
}
END_TEST

/* The state JSON as the versions before the table wrote it reads back and
 * is written again byte for byte, keys in the same order. */
START_TEST(test_plan_state_json_of_older_versions_round_trips)
{
	const char *old =
	    "{\"address\": \"web[0]\", \"instance_id\": \"i-0123456789abcdef0\", "
	    "\"instance_type\": \"m8i.large\", \"state\": \"running\", \"image_id\": "
	    "\"ami-0abcdef1234567890\", \"key_name\": \"k\", \"subnet_id\": "
	    "\"subnet-0123456789abcdef0\", \"security_group_ids\": [\"sg-0123456789abcdef1\", "
	    "\"sg-0123456789abcdef0\"], \"platform\": \"windows\", \"cpu_options\": "
	    "{\"core_count\": 448, \"threads_per_core\": 2, \"nested_virtualization\": "
	    "\"enabled\"}, \"placement\": {\"tenancy\": \"host\", \"host_id\": "
	    "\"h-0123456789abcdef0\", \"availability_zone\": \"us-east-1a\", \"group_name\": "
	    "\"g\"}, \"hibernation\": false, \"user_data_sha256\": \"ab\", \"tags\": "
	    "{\"team\": \"ci\"}, \"lineage\": \"L\", \"monitoring\": true}";
	json_t *j = json_loads(old, 0, NULL), *back;
	struct np_instance in;
	struct np_err err = NP_ERR_INIT;
	char *a, *b;

	ck_assert_ptr_nonnull(j);
	ck_assert_msg(np_instance_from_json(&in, j, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(in.core_count, 448); /* more than a file may ask: EC2's */
	ck_assert(in.security_groups_set && in.security_group_ids.n == 2);
	back = np_instance_to_json(&in);
	a = json_dumps(j, JSON_PRESERVE_ORDER);
	b = json_dumps(back, JSON_PRESERVE_ORDER);
	ck_assert_str_eq(b, a);
	free(a);
	free(b);
	json_decref(j);
	json_decref(back);
	np_instance_release(&in);
}
END_TEST

/* Every step kind has its progress verbs, and only the calls EC2 takes for
 * many instances at once are batched. */
START_TEST(test_plan_step_table_has_verbs_and_batches_only_state_calls)
{
	for (int k = 0; k < NP_STEP__COUNT; k++) {
		const struct np_step_def *d = np_step_def((enum np_step_kind)k);

		ck_assert_msg(d->name && d->doing && d->still && d->done, "step %d: no verbs", k);
		ck_assert_msg(!strncmp(d->still, "still ", 6), "%s: '%s'", d->name, d->still);
		ck_assert_int_eq(d->batchable,
				 k == NP_STEP_STOP || k == NP_STEP_START || k == NP_STEP_TERMINATE);
	}
	ck_assert_str_eq(np_step_def(NP_STEP_RELEASE_HOSTS)->doing,
			 "Releasing host (once it holds no instance)");
	ck_assert_ptr_null(np_step_def(NP_STEP_ALLOCATE_HOSTS)->undo);
	ck_assert_ptr_null(np_step_def(NP_STEP_MODIFY_VOLUME)->undo);
}
END_TEST

/* Rollback puts back the values the instance had: the same call, before's
 * values; a step that has no way back builds nothing. */
START_TEST(test_plan_step_undo_uses_the_values_before)
{
	struct np_instance before = { 0 };
	struct np_step s = { .kind = NP_STEP_MODIFY_INSTANCE_TYPE }, back;

	before.instance_type = strdup("m8i.large");
	before.tenancy = NP_TENANCY_DEFAULT;
	before.monitoring = NP_BOOL_FALSE;
	ck_assert(np_step_undo(&s, &before, &back));
	ck_assert_int_eq(back.kind, NP_STEP_MODIFY_INSTANCE_TYPE);
	ck_assert_str_eq(back.instance_type, "m8i.large");
	np_step_release(&back);
	s.kind = NP_STEP_MODIFY_CPU_OPTIONS;
	ck_assert(np_step_undo(&s, &before, &back));
	ck_assert_int_eq(back.nested_virtualization, NP_NV_DISABLED);
	np_step_release(&back);
	s.kind = NP_STEP_SET_ATTRIBUTE;
	s.attr = np_attr_find("monitoring");
	ck_assert(np_step_undo(&s, &before, &back));
	ck_assert_str_eq(back.value, "false");
	np_step_release(&back);
	s.attr = np_attr_find("ebs_optimized"); /* not set before: stays */
	ck_assert(!np_step_undo(&s, &before, &back));
	s.kind = NP_STEP_START;
	ck_assert(!np_step_undo(&s, &before, &back));
	np_instance_release(&before);
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
	    "[" REC(
		"\"instance_type\":\"m8i.large\",\"placement\":{\"tenancy\":\"dedicated\"}") "]",
	    &n);
	struct np_plan plan, back;
	struct np_plan_input in = { .recorded = rec,
				    .n_recorded = n,
				    .live = rec,
				    .n_live = n,
				    .catalog = &cat,
				    .lineage = "L" };
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
	irr =
	    json_object_get(json_array_get(json_object_get(j, "changes"), 0), "irreversible_steps");
	ck_assert_uint_eq(json_array_size(irr), 1);
	ck_assert_str_eq(json_string_value(json_array_get(irr, 0)), "modify_placement");
	perms = json_object_get(j, "unchecked_permissions");
	ck_assert_uint_eq(json_array_size(perms), 1);
	ck_assert_str_eq(json_string_value(json_array_get(perms, 0)),
			 "ec2:ModifyInstancePlacement");
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
		if (k == NP_STEP_SET_ATTRIBUTE)
			continue; /* its attribute's entry names the call */
		ck_assert_ptr_nonnull(d->action);
		ck_assert_ptr_nonnull(d->permissions[0]);
	}
	/* Every gen attribute names its call, its step and how to send it. */
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];

		if (!a->gen || a->own_steps)
			continue; /* own steps: kinds of the step table, checked above */
		ck_assert_msg(a->set_action && a->step_on, "%s", a->name);
		ck_assert_int_eq(np_step_parse(a->step_on), NP_STEP_SET_ATTRIBUTE);
		ck_assert_msg(a->type != NP_ATTR_ENUM || a->names, "%s", a->name);
		ck_assert_msg(a->type != NP_ATTR_INT || a->max > a->min, "%s", a->name);
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
	struct np_instance *rec = load_instances(
	    "[" REC("\"instance_type\":\"m8i.large\",\"tags\":{\"t\":\"1\"}") "]", &nr);
	struct np_instance *live = load_instances(
	    "[" REC("\"instance_type\":\"m8i.xlarge\",\"tags\":{\"t\":\"2\"}") "]", &nl);
	struct np_plan plan;
	struct np_plan_input in = { .recorded = rec,
				    .n_recorded = nr,
				    .live = live,
				    .n_live = nl,
				    .catalog = &cat,
				    .lineage = "L",
				    .refresh_only = true };
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
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(j, "summary"), "drifted")), 1);
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
	struct np_instance *rec =
	    load_instances("[" REC("\"instance_type\":\"m6i.2xlarge\"") "]", &n);
	struct np_plan plan, back;
	struct np_plan_input in = { .recorded = rec,
				    .n_recorded = n,
				    .live = rec,
				    .n_live = n,
				    .catalog = &cat,
				    .lineage = "L",
				    .serial = 7 };
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
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(j, "summary"), "stop_start")), 1);
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

static bool strv_has(const struct np_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return true;
	return false;
}

/* docs/iam-policy.json, the least policy the README gives, is the step
 * table's permissions plus the two reads of plan and drift: nothing missing,
 * nothing more. */
START_TEST(test_plan_iam_policy_is_the_step_table)
{
	static const char *const reads[] = { "ec2:DescribeInstances",
					     "ec2:DescribeInstanceTypes",
					     "ec2:DescribeVolumes",
					     "ec2:DescribeImages",
					     "ec2:DescribeInstanceAttribute",
					     "ec2:DescribeHosts",
					     NULL };
	json_error_t jerr;
	json_t *doc = json_load_file("docs/iam-policy.json", 0, &jerr), *st, *a;
	struct np_strv want = NP_STRV_INIT, have = NP_STRV_INIT;
	size_t i, k;

	ck_assert_msg(doc, "docs/iam-policy.json: %s", jerr.text);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "Version")), "2012-10-17");
	for (int s = 0; s < NP_STEP__COUNT; s++)
		for (const char *const *perm = np_step_def((enum np_step_kind)s)->permissions;
		     *perm; perm++)
			if (!strv_has(&want, *perm))
				np_strv_push(&want, *perm);
	for (i = 0; reads[i]; i++)
		np_strv_push(&want, reads[i]);
	/* A set_attribute step's call is its attribute's entry's. */
	for (i = 0; i < np_n_attrs; i++) {
		const char *acts[] = { np_attrs[i].set_action, np_attrs[i].set_action_off };

		for (k = 0; k < 2; k++) {
			char perm[96];

			if (!np_attrs[i].gen || !acts[k])
				continue;
			snprintf(perm, sizeof(perm), "ec2:%s", acts[k]);
			if (!strv_has(&want, perm))
				np_strv_push(&want, perm);
		}
	}
	json_array_foreach(json_object_get(doc, "Statement"), i, st)
	{
		ck_assert_str_eq(json_string_value(json_object_get(st, "Effect")), "Allow");
		ck_assert_str_eq(json_string_value(json_object_get(st, "Resource")), "*");
		json_array_foreach(json_object_get(st, "Action"), k, a)
		{
			ck_assert_msg(json_is_string(a), "an action that is not a string");
			ck_assert_msg(!strv_has(&have, json_string_value(a)), "%s listed twice",
				      json_string_value(a));
			np_strv_push(&have, json_string_value(a));
		}
	}
	for (i = 0; i < want.n; i++)
		ck_assert_msg(strv_has(&have, want.v[i]), "the policy lacks %s", want.v[i]);
	for (i = 0; i < have.n; i++)
		ck_assert_msg(strv_has(&want, have.v[i]),
			      "the policy grants %s, which no step and no read needs", have.v[i]);
	np_strv_release(&want);
	np_strv_release(&have);
	json_decref(doc);
}
END_TEST

/* validate's rules offline: the built-in catalog knows every size of a
 * family, so a size it lacks is an error with the nearest one; each rule
 * names the key it is about. */
static struct np_diag *rule_diags(struct np_plan *out, const char *yaml)
{
	struct np_config *c = NULL;
	struct np_err e = NP_ERR_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;

	ck_assert_msg(np_config_parse(&c, "t.yaml", yaml, strlen(yaml), &e) == 0, "%s", e.msg);
	np_catalog_builtin(&cat);
	ck_assert_int_eq(np_plan_check_config(out, c, &cat, &e), 0);
	np_catalog_release(&cat);
	np_config_free(c);
	return out->diags;
}

#define RULES_HEAD "version: 1\ndefaults: { image_id: ami-0abcdef1234567890 }\ninstances:\n"

START_TEST(test_plan_rules_know_the_sizes_of_a_family)
{
	struct np_plan p;
	struct np_diag *d = rule_diags(&p, RULES_HEAD "  a: { instance_type: m8i.larg }\n");

	ck_assert_uint_eq(p.n_diags, 1);
	ck_assert_int_eq(d[0].severity, NP_SEV_ERROR);
	ck_assert_int_eq(d[0].key, NP_KEY_INSTANCE_TYPE);
	ck_assert_msg(strstr(d[0].message, "instance type 'm8i.larg' does not exist; did you mean "
					   "'m8i.large'?"),
		      "%s", d[0].message);
	ck_assert_msg(strstr(d[0].message, "m8i comes in large, xlarge, 2xlarge,"), "%s",
		      d[0].message);
	np_plan_release(&p);
	/* A family the catalog does not hold may well exist: a warning. */
	d = rule_diags(&p, RULES_HEAD "  a: { instance_type: g5.xlarge }\n");
	ck_assert_uint_eq(p.n_diags, 1);
	ck_assert_int_eq(d[0].severity, NP_SEV_WARNING);
	ck_assert(strstr(d[0].message, "is not in the catalog"));
	np_plan_release(&p);
	/* A flex family is a family of its own: m8i-flex has no 96xlarge. */
	d = rule_diags(&p, RULES_HEAD "  a: { instance_type: m8i-flex.96xlarge }\n");
	ck_assert_uint_eq(p.n_diags, 1);
	ck_assert_int_eq(d[0].severity, NP_SEV_ERROR);
	ck_assert_msg(strstr(d[0].message, "m8i-flex comes in large,"), "%s", d[0].message);
	np_plan_release(&p);
	d = rule_diags(&p, RULES_HEAD "  a: { instance_type: m8i.large }\n");
	ck_assert_uint_eq(p.n_diags, 0);
	np_plan_release(&p);
}
END_TEST

START_TEST(test_plan_rules_name_the_offending_key)
{
	struct np_plan p;
	struct np_diag *d = rule_diags(
	    &p, RULES_HEAD
	    "  a:\n    instance_type: c8i.xlarge\n"
	    "    cpu_options: { core_count: 3, threads_per_core: 2 }\n"
	    "  b: { instance_type: m7i.large, cpu_options: { nested_virtualization: enabled } }\n"
	    "  c: { instance_type: c8i.24xlarge, hibernation: true }\n"
	    "  w: { instance_type: m8i.96xlarge, platform: windows,\n"
	    "       cpu_options: { nested_virtualization: enabled } }\n");
	enum np_cfg_key want[] = { NP_KEY_CORE_COUNT, NP_KEY_NESTED_VIRTUALIZATION,
				   NP_KEY_HIBERNATION, NP_KEY_INSTANCE_TYPE, NP_KEY_PLATFORM };

	ck_assert_uint_eq(p.n_diags, 5);
	for (size_t i = 0; i < 5; i++)
		ck_assert_msg(d[i].key == want[i], "%s: %s: key %d, not %d", d[i].address,
			      d[i].message, d[i].key, want[i]);
	np_plan_release(&p);
}
END_TEST

/* Dedicated Hosts: the steps carry the chosen host (its id once it exists),
 * host steps survive a saved plan, and their permissions are unchecked. */
#define HOSTS_YAML                                                              \
	"version: 1\nhosts:\n  kvm:\n    count: 2\n    instance_family: m8i\n"  \
	"    availability_zone: us-east-1a\n    auto_placement: true\n"         \
	"instances:\n  r:\n    count: 3\n    image_id: ami-0abcdef1234567890\n" \
	"    instance_type: m8i.4xlarge\n    placement: { host: kvm }\n"
#define HOST_JSON(i, ap)                                                             \
	"{\"address\": \"kvm[" #i "]\", \"host_id\": \"h-000000000000000" #i "a\", " \
	"\"instance_family\": \"m8i\", \"availability_zone\": \"us-east-1a\", "      \
	"\"auto_placement\": " ap ", \"state\": \"available\", \"capacity\": "       \
	"[{\"instance_type\": \"m8i.4xlarge\", \"available\": 24, \"total\": 24}]}"

static struct np_host *hosts_of(const char *text, size_t *n)
{
	json_t *j = json_loads(text, 0, NULL), *x;
	struct np_host *v;
	size_t i;

	ck_assert_ptr_nonnull(j);
	*n = json_array_size(j);
	v = calloc(*n + 1, sizeof(*v));
	json_array_foreach(j, i, x)
	{
		struct np_err err = NP_ERR_INIT;

		ck_assert_msg(np_host_from_json(&v[i], x, &err) == 0, "%s", err.msg);
	}
	json_decref(j);
	return v;
}

static const struct np_change *change_at(const struct np_plan *p, const char *address)
{
	for (size_t i = 0; i < p->n_changes; i++)
		if (!strcmp(p->changes[i].address, address))
			return &p->changes[i];
	ck_abort_msg("no change for %s", address);
	return NULL;
}

START_TEST(test_plan_host_steps_carry_the_chosen_host)
{
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;
	size_t n_rec, n_live;
	struct np_host *rec = hosts_of("[" HOST_JSON(0, "false") "]", &n_rec);
	struct np_host *live = hosts_of("[" HOST_JSON(0, "true") "]", &n_live);
	struct np_plan plan, back;
	struct np_plan_input in = { .catalog = &cat, .lineage = "L" };
	struct np_strv perms = NP_STRV_INIT;
	const struct np_change *c;
	json_t *j;

	ck_assert_int_eq(np_config_parse(&cfg, "t", HOSTS_YAML, strlen(HOSTS_YAML), &err), 0);
	np_catalog_builtin(&cat);
	in.config = cfg;
	in.recorded_hosts = rec;
	in.n_recorded_hosts = n_rec;
	in.live_hosts = live;
	in.n_live_hosts = n_live;
	ck_assert_int_eq(np_plan_build(&plan, &in, &err), 0);
	ck_assert(!np_plan_has_errors(&plan));
	/* kvm[0] exists (24 free), kvm[1] is allocated (24 by the catalog):
	 * r[0] to kvm[0], r[1] to kvm[1], r[2] to kvm[0] again. */
	c = change_at(&plan, "r[0]");
	ck_assert_int_eq(c->steps[0].kind, NP_STEP_RUN_INSTANCES);
	ck_assert_str_eq(c->steps[0].host_address, "kvm[0]");
	ck_assert_str_eq(c->steps[0].host_id, "h-0000000000000000a");
	ck_assert_str_eq(c->after.host_address, "kvm[0]");
	c = change_at(&plan, "r[1]");
	ck_assert_str_eq(c->steps[0].host_address, "kvm[1]");
	ck_assert_ptr_null(c->steps[0].host_id);
	ck_assert_str_eq(change_at(&plan, "r[2]")->steps[0].host_address, "kvm[0]");
	c = change_at(&plan, "kvm[1]");
	ck_assert_int_eq(c->kind, NP_KIND_HOST);
	ck_assert_int_eq(c->action, NP_ACTION_CREATE);
	ck_assert_int_eq(c->steps[0].kind, NP_STEP_ALLOCATE_HOSTS);
	/* kvm[0]: recorded off, live on (drift), the file on: nothing to do. */
	c = change_at(&plan, "kvm[0]");
	ck_assert_int_eq(c->action, NP_ACTION_NOOP);
	ck_assert_uint_eq(plan.n_drift, 1);
	ck_assert_int_eq(plan.drift[0].kind, NP_KIND_HOST);
	ck_assert_str_eq(plan.drift[0].attribute, "auto_placement");
	np_plan_unchecked_permissions(&plan, &perms);
	ck_assert_uint_ge(perms.n, 1);
	ck_assert_str_eq(perms.v[0], "ec2:AllocateHosts");
	{
		struct np_render_opts ro = { .config = cfg };
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		np_render_plan_text(f, &plan, &ro);
		fclose(f);
		ck_assert_msg(strstr(text, "+ kvm[1] (host) will be allocated\n"), "%s", text);
		ck_assert_msg(strstr(text, "placement.host                     kvm[1]"), "%s",
			      text);
		ck_assert_msg(strstr(text, "steps: allocate_hosts"), "%s", text);
		ck_assert_msg(strstr(text, "Plan: 4 to add, 0 to change, 0 to destroy. No instance "
					   "will be out of service."),
			      "%s", text);
		free(text);
	}
	np_strv_release(&perms);
	/* The saved plan reads back what apply needs. */
	j = np_plan_to_json_full(&plan);
	ck_assert_int_eq(np_plan_from_json_full(&back, j, &err), 0);
	c = change_at(&back, "kvm[1]");
	ck_assert_int_eq(c->kind, NP_KIND_HOST);
	ck_assert_str_eq(c->host_after.instance_family, "m8i");
	ck_assert_int_eq(c->host_after.auto_placement, NP_BOOL_TRUE);
	c = change_at(&back, "kvm[0]");
	ck_assert_str_eq(c->host_id, "h-0000000000000000a");
	ck_assert_ptr_null(c->instance_id);
	c = change_at(&back, "r[0]");
	ck_assert_int_eq(c->kind, NP_KIND_INSTANCE);
	ck_assert_str_eq(c->steps[0].host_address, "kvm[0]");
	ck_assert_str_eq(c->steps[0].host_id, "h-0000000000000000a");
	ck_assert_str_eq(c->after.host_address, "kvm[0]");
	ck_assert_uint_eq(back.n_drift, 1);
	ck_assert_int_eq(back.drift[0].kind, NP_KIND_HOST);
	ck_assert_str_eq(back.drift[0].instance_id, "h-0000000000000000a");
	json_decref(j);
	np_plan_release(&back);
	np_plan_release(&plan);
	np_hosts_free(rec, n_rec);
	np_hosts_free(live, n_live);
	np_catalog_release(&cat);
	np_config_free(cfg);
}
END_TEST

START_TEST(test_plan_host_modify_step_round_trips)
{
	const char *yaml = "version: 1\nhosts:\n  kvm:\n    count: 1\n    instance_family: m8i\n"
			   "    availability_zone: us-east-1a\n    auto_placement: false\n"
			   "    host_recovery: true\ninstances:\n  r:\n    count: 0\n"
			   "    image_id: ami-0abcdef1234567890\n    instance_type: m8i.4xlarge\n";
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;
	size_t n;
	struct np_host *h = hosts_of("[" HOST_JSON(0, "true") "]", &n);
	struct np_plan plan, back;
	struct np_plan_input in = { .catalog = &cat, .lineage = "L" };
	const struct np_step *s;
	struct np_strv perms = NP_STRV_INIT;
	json_t *j;

	ck_assert_int_eq(np_config_parse(&cfg, "t", yaml, strlen(yaml), &err), 0);
	in.config = cfg;
	in.recorded_hosts = in.live_hosts = h;
	in.n_recorded_hosts = in.n_live_hosts = n;
	ck_assert_int_eq(np_plan_build(&plan, &in, &err), 0);
	j = np_plan_to_json_full(&plan);
	ck_assert_int_eq(np_plan_from_json_full(&back, j, &err), 0);
	ck_assert_uint_eq(back.n_changes, 1);
	ck_assert_int_eq(back.changes[0].action, NP_ACTION_UPDATE);
	s = &back.changes[0].steps[0];
	ck_assert_int_eq(s->kind, NP_STEP_MODIFY_HOSTS);
	ck_assert_int_eq(s->auto_placement, NP_BOOL_FALSE);
	ck_assert_int_eq(s->host_recovery, NP_BOOL_TRUE);
	np_plan_unchecked_permissions(&back, &perms);
	ck_assert_uint_eq(perms.n, 1);
	ck_assert_str_eq(perms.v[0], "ec2:ModifyHosts");
	np_strv_release(&perms);
	json_decref(j);
	np_plan_release(&back);
	np_plan_release(&plan);
	np_hosts_free(h, n);
	np_config_free(cfg);
}
END_TEST

Suite *check_plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *t = tcase_create("cases"), *o = tcase_create("output");

	find_data_cases();
	tcase_add_loop_test(t, test_plan_data_case, 0, (int)n_data_cases);
	tcase_add_test(o, test_plan_step_parameters_carry_cpu_options);
	tcase_add_test(o, test_plan_drift_lists_attribute_differences);
	tcase_add_test(o, test_plan_irreversible_tenancy_step);
	tcase_add_test(o, test_plan_step_table_complete);
	tcase_add_test(o, test_plan_schema_agrees_with_the_attribute_table);
	tcase_add_test(o, test_plan_step_table_has_verbs_and_batches_only_state_calls);
	tcase_add_test(o, test_plan_step_undo_uses_the_values_before);
	tcase_add_test(o, test_plan_state_json_of_older_versions_round_trips);
	tcase_add_test(o, test_plan_json_shape_and_planfile_round_trip);
	tcase_add_test(o, test_plan_iam_policy_is_the_step_table);
	tcase_add_test(o, test_plan_rules_know_the_sizes_of_a_family);
	tcase_add_test(o, test_plan_rules_name_the_offending_key);
	tcase_add_test(o, test_plan_host_steps_carry_the_chosen_host);
	tcase_add_test(o, test_plan_host_modify_step_round_trips);
	suite_add_tcase(s, t);
	suite_add_tcase(s, o);
	return s;
}
