#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/json.h"

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static void set_int(json_t *o, const char *k, int v)
{
	if (v)
		json_object_set_new(o, k, json_integer(v));
}

/* The object a dotted name lives in ("metadata_options.http_tokens"), made
 * when missing, and the key inside it. */
static json_t *group_of(json_t *o, const char *name, const char **key, bool make)
{
	const char *dot = strchr(name, '.');
	char group[64];
	json_t *g;

	if (!dot) {
		*key = name;
		return o;
	}
	*key = dot + 1;
	snprintf(group, sizeof(group), "%.*s", (int)(dot - name), name);
	g = json_object_get(o, group);
	if (!g && make) {
		g = json_object();
		json_object_set_new(o, group, g);
	}
	return g;
}

/* The attributes the table handles alone, as their types say. */
static void gen_to_json(json_t *o, const struct np_instance *in)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];
		const char *key;
		json_t *v, *g;
		char *text;

		if (!a->gen || !np_attr_is_set(a, in))
			continue;
		text = np_attr_text(a, in);
		v = a->type == NP_ATTR_BOOL  ? json_boolean(!strcmp(text, "true"))
		    : a->type == NP_ATTR_INT ? json_integer(atoi(text))
					     : json_string(text);
		free(text);
		g = group_of(o, a->name, &key, true); /* sets key: not in the same call */
		json_object_set_new(g, key, v);
	}
}

static int gen_from_json(struct np_instance *out, const json_t *j, struct np_err *err)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];
		const char *key;
		const json_t *g = group_of((json_t *)j, a->name, &key, false), *v;
		char num[32];
		const char *text;

		if (!a->gen || !g || !(v = json_object_get(g, key)) || json_is_null(v))
			continue;
		if (!json_is_object(g))
			return np_error(err, "'%s' must be inside an object", a->name);
		if (a->type == NP_ATTR_BOOL && json_is_boolean(v)) {
			text = json_is_true(v) ? "true" : "false";
		} else if (a->type == NP_ATTR_INT && json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			text = num;
		} else if ((a->type == NP_ATTR_STR || a->type == NP_ATTR_ENUM) &&
			   json_is_string(v)) {
			text = json_string_value(v);
		} else {
			return np_error(err, "'%s' has a value of the wrong type", a->name);
		}
		if (np_attr_set_text(a, out, text) < 0)
			return np_error(err, "'%s' has an unknown value", a->name);
	}
	return 0;
}

json_t *np_instance_to_json(const struct np_instance *in)
{
	json_t *o = json_object(), *cpu = json_object(), *pl = json_object();

	set_str(o, "address", in->address);
	set_str(o, "instance_id", in->instance_id);
	set_str(o, "instance_type", in->instance_type);
	set_str(o, "state", np_run_state_name(in->state));
	set_str(o, "image_id", in->image_id);
	set_str(o, "key_name", in->key_name);
	set_str(o, "subnet_id", in->subnet_id);
	if (in->security_groups_set || in->security_group_ids.n) {
		json_t *a = json_array();

		for (size_t i = 0; i < in->security_group_ids.n; i++)
			json_array_append_new(a, json_string(in->security_group_ids.v[i]));
		json_object_set_new(o, "security_group_ids", a);
	}
	set_str(o, "platform", np_platform_name(in->platform));
	set_int(cpu, "core_count", in->core_count);
	set_int(cpu, "threads_per_core", in->threads_per_core);
	set_str(cpu, "nested_virtualization", np_nv_name(in->nested_virtualization));
	if (json_object_size(cpu))
		json_object_set(o, "cpu_options", cpu);
	set_str(pl, "tenancy", np_tenancy_name(in->tenancy));
	set_str(pl, "host_id", in->host_id);
	set_str(pl, "host_address", in->host_address);
	set_str(pl, "availability_zone", in->availability_zone);
	if (json_object_size(pl))
		json_object_set(o, "placement", pl);
	if (in->hibernation)
		json_object_set_new(o, "hibernation",
				    json_boolean(in->hibernation == NP_BOOL_TRUE));
	set_str(o, "user_data_sha256", in->user_data_sha256);
	if (in->tags_set || in->tags.n) {
		json_t *t = json_object();

		for (size_t i = 0; i < in->tags.n; i++)
			json_object_set_new(t, in->tags.v[i].key, json_string(in->tags.v[i].value));
		json_object_set_new(o, "tags", t);
	}
	if (in->spot)
		json_object_set_new(o, "spot", json_true());
	set_str(o, "client_token", in->client_token);
	set_str(o, "lineage", in->lineage);
	set_str(o, "launch_time", in->launch_time);
	set_str(o, "owner_id", in->owner_id);
	json_decref(cpu);
	json_decref(pl);
	gen_to_json(o, in);
	return o;
}

static int get_str(const json_t *o, const char *k, char **out, struct np_err *err)
{
	const json_t *v = json_object_get(o, k);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return np_error(err, "'%s' must be a string", k);
	*out = np_xstrdup(json_string_value(v));
	return 0;
}

static int get_int(const json_t *o, const char *k, int *out, struct np_err *err)
{
	const json_t *v = json_object_get(o, k);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000)
		return np_error(err, "'%s' must be a small non-negative integer", k);
	*out = (int)json_integer_value(v);
	return 0;
}

/* An enum spelled as its name; unknown names are an error, absent is UNSET. */
static int get_enum(const json_t *o, const char *k, int *out, int (*parse)(const char *),
		    struct np_err *err)
{
	const json_t *v = json_object_get(o, k);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !(*out = parse(json_string_value(v))))
		return np_error(err, "'%s' has an unknown value", k);
	return 0;
}

static int parse_nv(const char *s) { return (int)np_nv_parse(s); }
static int parse_tenancy(const char *s) { return (int)np_tenancy_parse(s); }
static int parse_platform(const char *s) { return (int)np_platform_parse(s); }
static int parse_run(const char *s) { return (int)np_run_state_parse(s); }

int np_instance_from_json(struct np_instance *out, const json_t *j, struct np_err *err)
{
	const json_t *cpu, *pl, *sg, *tags, *v;
	int e = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j))
		return np_error(err, "an instance must be a JSON object");
	cpu = json_object_get(j, "cpu_options");
	pl = json_object_get(j, "placement");
	if ((cpu && !json_is_object(cpu)) || (pl && !json_is_object(pl))) {
		np_error(err, "'cpu_options' and 'placement' must be objects");
		goto fail;
	}
	if (get_str(j, "address", &out->address, err) ||
	    get_str(j, "instance_id", &out->instance_id, err) ||
	    get_str(j, "instance_type", &out->instance_type, err) ||
	    get_str(j, "image_id", &out->image_id, err) ||
	    get_str(j, "key_name", &out->key_name, err) ||
	    get_str(j, "subnet_id", &out->subnet_id, err) ||
	    get_str(j, "user_data_sha256", &out->user_data_sha256, err) ||
	    get_str(j, "client_token", &out->client_token, err) ||
	    get_str(j, "lineage", &out->lineage, err) ||
	    get_str(j, "launch_time", &out->launch_time, err) ||
	    get_str(j, "owner_id", &out->owner_id, err))
		goto fail;
	if (get_enum(j, "state", &e, parse_run, err))
		goto fail;
	out->state = (enum np_run_state)e;
	e = 0;
	if (get_enum(j, "platform", &e, parse_platform, err))
		goto fail;
	out->platform = (enum np_platform)e;
	if (cpu) {
		e = 0;
		if (get_int(cpu, "core_count", &out->core_count, err) ||
		    get_int(cpu, "threads_per_core", &out->threads_per_core, err) ||
		    get_enum(cpu, "nested_virtualization", &e, parse_nv, err))
			goto fail;
		out->nested_virtualization = (enum np_nv)e;
	}
	if (pl) {
		e = 0;
		if (get_enum(pl, "tenancy", &e, parse_tenancy, err) ||
		    get_str(pl, "host_id", &out->host_id, err) ||
		    get_str(pl, "host_address", &out->host_address, err) ||
		    get_str(pl, "availability_zone", &out->availability_zone, err))
			goto fail;
		out->tenancy = (enum np_tenancy)e;
	}
	if ((v = json_object_get(j, "hibernation")) && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			np_error(err, "'hibernation' must be a boolean");
			goto fail;
		}
		out->hibernation = json_is_true(v) ? NP_BOOL_TRUE : NP_BOOL_FALSE;
	}
	out->spot = json_is_true(json_object_get(j, "spot"));
	if (gen_from_json(out, j, err) < 0)
		goto fail;
	if ((sg = json_object_get(j, "security_group_ids"))) {
		size_t i;
		json_t *x;

		if (!json_is_array(sg)) {
			np_error(err, "'security_group_ids' must be an array");
			goto fail;
		}
		out->security_groups_set = true;
		json_array_foreach(sg, i, x)
		{
			if (!json_is_string(x)) {
				np_error(err, "'security_group_ids' must hold strings");
				goto fail;
			}
			np_strv_push(&out->security_group_ids, json_string_value(x));
		}
	}
	if ((tags = json_object_get(j, "tags"))) {
		const char *k;
		json_t *x;

		if (!json_is_object(tags)) {
			np_error(err, "'tags' must be an object");
			goto fail;
		}
		out->tags_set = true;
		json_object_foreach((json_t *)tags, k, x)
		{
			if (!json_is_string(x)) {
				np_error(err, "tag '%s' must be a string", k);
				goto fail;
			}
			np_tags_set(&out->tags, k, json_string_value(x));
		}
	}
	return 0;
fail:
	np_instance_release(out);
	return -1;
}

static json_t *int_array(const int *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

json_t *np_itype_to_json(const struct np_itype *t)
{
	return json_pack("{s:s, s:i, s:i, s:i, s:o, s:o, s:b, s:b, s:b, s:b}", "name", t->name,
			 "default_vcpus", t->default_vcpus, "default_cores", t->default_cores,
			 "default_threads_per_core", t->default_threads_per_core, "valid_cores",
			 int_array(t->valid_cores, t->n_valid_cores), "valid_threads",
			 int_array(t->valid_threads, t->n_valid_threads), "nested_virtualization",
			 t->nested_virtualization, "hibernation_supported",
			 t->hibernation_supported, "dedicated_hosts_supported",
			 t->dedicated_hosts_supported, "bare_metal", t->bare_metal);
}

static int read_ints(const json_t *a, int **out, size_t *n)
{
	size_t i;
	json_t *x;

	*out = NULL;
	*n = 0;
	if (!json_is_array(a))
		return -1;
	if (json_array_size(a))
		*out = np_xmalloc(json_array_size(a) * sizeof(**out));
	json_array_foreach(a, i, x)
	{
		if (!json_is_integer(x))
			return -1;
		(*out)[(*n)++] = (int)json_integer_value(x);
	}
	return 0;
}

int np_itype_from_json(struct np_itype *out, const json_t *j, struct np_err *err)
{
	const char *name = NULL;
	int b1 = 0, b2 = 0, b3 = 0, b4 = 0;
	json_t *vc = NULL, *vt = NULL;

	memset(out, 0, sizeof(*out));
	if (json_unpack((json_t *)j, "{s:s, s:i, s:i, s:i, s:o, s:o, s:b, s:b, s:b, s:b}", "name",
			&name, "default_vcpus", &out->default_vcpus, "default_cores",
			&out->default_cores, "default_threads_per_core",
			&out->default_threads_per_core, "valid_cores", &vc, "valid_threads", &vt,
			"nested_virtualization", &b1, "hibernation_supported", &b2,
			"dedicated_hosts_supported", &b3, "bare_metal", &b4) < 0)
		return np_error(err, "malformed instance-type entry");
	out->name = np_xstrdup(name);
	out->nested_virtualization = b1;
	out->hibernation_supported = b2;
	out->dedicated_hosts_supported = b3;
	out->bare_metal = b4;
	if (read_ints(vc, &out->valid_cores, &out->n_valid_cores) < 0 ||
	    read_ints(vt, &out->valid_threads, &out->n_valid_threads) < 0) {
		np_itype_release(out);
		return np_error(err, "malformed instance-type entry");
	}
	return 0;
}
