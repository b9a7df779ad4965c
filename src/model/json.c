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

static void attr_to_json(json_t *o, const struct np_attr_def *a, const struct np_instance *in)
{
	const char *key;
	json_t *v, *g;
	char *text;

	if (!np_attr_is_set(a, in))
		return;
	if (a->type == NP_ATTR_SHA256) {
		v = json_string(*(char *const *)((const char *)in + a->offset));
	} else if (a->type == NP_ATTR_TAGS) {
		v = np_tags_to_json((const struct np_tags *)((const char *)in + a->offset));
	} else if (a->type == NP_ATTR_STRV) {
		const struct np_strv *sv = (const struct np_strv *)((const char *)in + a->offset);

		v = json_array();
		for (size_t i = 0; i < sv->n; i++)
			json_array_append_new(v, json_string(sv->v[i]));
	} else {
		text = np_attr_text(a, in);
		v = a->type == NP_ATTR_BOOL  ? json_boolean(!strcmp(text, "true"))
		    : a->type == NP_ATTR_INT ? json_integer(atoi(text))
					     : json_string(text);
		free(text);
	}
	g = group_of(o, a->json_key ? a->json_key : a->name, &key, true); /* sets key */
	json_object_set_new(g, key, v);
}

/* The table's attributes, as their types say: those with a json_rank from
 * lo to hi in its order (early), or (hi 0) the rest in the table's order. */
static void attrs_to_json(json_t *o, const struct np_instance *in, int lo, int hi)
{
	for (int r = lo; hi && r <= hi; r++)
		for (size_t i = 0; i < np_n_attrs; i++)
			if (np_attrs[i].json_rank == r)
				attr_to_json(o, &np_attrs[i], in);
	for (size_t i = 0; !hi && i < np_n_attrs; i++)
		if (!np_attrs[i].json_rank)
			attr_to_json(o, &np_attrs[i], in);
}

/* The state JSON's keys stay where they were before the table: the ranks
 * below this one, placement.host_address, then the others. */
#define RANK_AFTER_HOST 15

static int top_rank(void)
{
	int top = 0;

	for (size_t i = 0; i < np_n_attrs; i++)
		if (np_attrs[i].json_rank > top)
			top = np_attrs[i].json_rank;
	return top;
}

json_t *np_tags_to_json(const struct np_tags *t)
{
	json_t *v = json_object();

	for (size_t i = 0; i < t->n; i++)
		json_object_set_new(v, t->v[i].key, json_string(t->v[i].value));
	return v;
}

int np_tags_from_json(struct np_tags *out, const json_t *v, const char *what, struct np_err *err)
{
	const char *k;
	json_t *x;

	if (!json_is_object(v))
		return np_error(err, "'%s' must be an object", what);
	json_object_foreach((json_t *)v, k, x)
	{
		if (!json_is_string(x))
			return np_error(err, "tag '%s' must be a string", k);
		np_tags_set(out, k, json_string_value(x));
	}
	return 0;
}

static int tags_from_json(struct np_instance *out, const struct np_attr_def *a, const json_t *v,
			  struct np_err *err)
{
	if (a->set_flag)
		*(bool *)((char *)out + a->set_flag) = true;
	return np_tags_from_json((struct np_tags *)((char *)out + a->offset), v, a->name, err);
}

static int strv_from_json(struct np_instance *out, const struct np_attr_def *a, const json_t *v,
			  struct np_err *err)
{
	struct np_strv *sv = (struct np_strv *)((char *)out + a->offset);
	size_t i;
	json_t *x;

	if (!json_is_array(v))
		return np_error(err, "'%s' must be an array", a->name);
	if (a->set_flag)
		*(bool *)((char *)out + a->set_flag) = true;
	json_array_foreach(v, i, x)
	{
		if (!json_is_string(x))
			return np_error(err, "'%s' must hold strings", a->name);
		np_strv_push(sv, json_string_value(x));
	}
	return 0;
}

static int attrs_from_json(struct np_instance *out, const json_t *j, struct np_err *err)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];
		const char *key;
		const json_t *g = group_of((json_t *)j, a->json_key ? a->json_key : a->name, &key,
					   false),
			     *v;
		char num[32];
		const char *text;

		if (!g || !(v = json_object_get(g, key)) || json_is_null(v))
			continue;
		if (!json_is_object(g))
			return np_error(err, "'%s' must be inside an object", a->name);
		if (a->type == NP_ATTR_STRV) {
			if (strv_from_json(out, a, v, err) < 0)
				return -1;
			continue;
		}
		if (a->type == NP_ATTR_TAGS) {
			if (tags_from_json(out, a, v, err) < 0)
				return -1;
			continue;
		}
		if (a->type == NP_ATTR_SHA256 && !json_is_string(v))
			return np_error(err, "'%s' must be a string", a->json_key);
		if (a->type == NP_ATTR_BOOL && json_is_boolean(v)) {
			text = json_is_true(v) ? "true" : "false";
		} else if (a->type == NP_ATTR_INT && json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			text = num;
		} else if ((a->type == NP_ATTR_STR || a->type == NP_ATTR_ENUM ||
			    a->type == NP_ATTR_SHA256) &&
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
	json_t *o = json_object();

	set_str(o, "address", in->address);
	set_str(o, "instance_id", in->instance_id);
	attrs_to_json(o, in, 1, RANK_AFTER_HOST - 1);
	if (in->host_address) {
		const char *key = NULL;
		/* The planner's, not EC2's: placement.host resolved to a host. */
		json_t *g = group_of(o, "placement.host_address", &key, true);

		json_object_set_new(g, key, json_string(in->host_address));
	}
	attrs_to_json(o, in, RANK_AFTER_HOST, top_rank());
	if (in->spot)
		json_object_set_new(o, "spot", json_true());
	set_str(o, "client_token", in->client_token);
	set_str(o, "lineage", in->lineage);
	set_str(o, "launch_time", in->launch_time);
	set_str(o, "owner_id", in->owner_id);
	attrs_to_json(o, in, 0, 0);
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

int np_instance_from_json(struct np_instance *out, const json_t *j, struct np_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(j))
		return np_error(err, "an instance must be a JSON object");
	if (get_str(j, "address", &out->address, err) ||
	    get_str(j, "instance_id", &out->instance_id, err) ||
	    get_str(j, "client_token", &out->client_token, err) ||
	    get_str(j, "lineage", &out->lineage, err) ||
	    get_str(j, "launch_time", &out->launch_time, err) ||
	    get_str(j, "owner_id", &out->owner_id, err))
		goto fail;
	{
		const char *key = NULL;
		json_t *g = group_of((json_t *)j, "placement.host_address", &key, false);

		if (g && get_str(g, key, &out->host_address, err))
			goto fail;
	}
	out->spot = json_is_true(json_object_get(j, "spot"));
	if (attrs_from_json(out, j, err) < 0)
		goto fail;
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
