/* A Dedicated Host as JSON: the state's row and a plan's before/after. */
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/json.h"

static void put_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static void put_int(json_t *o, const char *k, int v)
{
	if (v)
		json_object_set_new(o, k, json_integer(v));
}

static void put_bool(json_t *o, const char *k, enum np_bool v)
{
	if (v)
		json_object_set_new(o, k, json_boolean(v == NP_BOOL_TRUE));
}

json_t *np_host_to_json(const struct np_host *h)
{
	json_t *o = json_object();

	put_str(o, "address", h->address);
	put_str(o, "host_id", h->host_id);
	put_str(o, "instance_family", h->instance_family);
	put_str(o, "instance_type", h->instance_type);
	put_str(o, "availability_zone", h->availability_zone);
	put_bool(o, "auto_placement", h->auto_placement);
	put_bool(o, "host_recovery", h->host_recovery);
	if (h->tags_set || h->tags.n)
		json_object_set_new(o, "tags", np_tags_to_json(&h->tags));
	put_str(o, "state", np_host_state_name(h->state));
	put_str(o, "client_token", h->client_token);
	put_str(o, "lineage", h->lineage);
	put_str(o, "owner_id", h->owner_id);
	put_str(o, "allocation_time", h->allocation_time);
	put_int(o, "cores", h->cores);
	put_int(o, "sockets", h->sockets);
	put_int(o, "total_vcpus", h->total_vcpus);
	put_int(o, "available_vcpus", h->available_vcpus);
	return o;
}

static int take_str(const json_t *o, const char *k, char **out, struct np_err *err)
{
	const json_t *v = json_object_get(o, k);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return np_error(err, "host '%s' must be a string", k);
	*out = np_xstrdup(json_string_value(v));
	return 0;
}

static int take_int(const json_t *o, const char *k, int *out, struct np_err *err)
{
	const json_t *v = json_object_get(o, k);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
		return np_error(err, "host '%s' must be a small non-negative integer", k);
	*out = (int)json_integer_value(v);
	return 0;
}

static int take_bool(const json_t *o, const char *k, enum np_bool *out, struct np_err *err)
{
	const json_t *v = json_object_get(o, k);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return np_error(err, "host '%s' must be a boolean", k);
	*out = json_is_true(v) ? NP_BOOL_TRUE : NP_BOOL_FALSE;
	return 0;
}

/* What DescribeHosts reports besides the state's fields, read when present
 * (saved live answers, test fixtures): "capacity" and "instance_ids". */
static int take_live(struct np_host *out, const json_t *j, struct np_err *err)
{
	const json_t *cap = json_object_get(j, "capacity"),
		     *ids = json_object_get(j, "instance_ids");
	size_t i;
	json_t *x;

	if (cap && (!json_is_array(cap) || json_array_size(cap) > NP_HOST_MAX_CAPACITIES))
		return np_error(err, "host 'capacity' must be an array of at most %d items",
				NP_HOST_MAX_CAPACITIES);
	if (ids && (!json_is_array(ids) || json_array_size(ids) > NP_HOST_MAX_INSTANCES))
		return np_error(err, "host 'instance_ids' must be an array of at most %d ids",
				NP_HOST_MAX_INSTANCES);
	if (cap && json_array_size(cap))
		out->capacity = np_xcalloc(json_array_size(cap), sizeof(*out->capacity));
	json_array_foreach(cap, i, x)
	{
		struct np_host_capacity *c = &out->capacity[out->n_capacity];

		if (!json_is_object(x) || take_str(x, "instance_type", &c->instance_type, err) ||
		    take_int(x, "available", &c->available, err) ||
		    take_int(x, "total", &c->total, err)) {
			out->n_capacity++;
			return np_error(err, "malformed host capacity item");
		}
		out->n_capacity++;
	}
	json_array_foreach(ids, i, x)
	{
		if (!json_is_string(x))
			return np_error(err, "host 'instance_ids' must hold strings");
		np_strv_push(&out->instance_ids, json_string_value(x));
	}
	return 0;
}

int np_host_from_json(struct np_host *out, const json_t *j, struct np_err *err)
{
	const json_t *tags, *st;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j))
		return np_error(err, "a host must be a JSON object");
	if (take_str(j, "address", &out->address, err) ||
	    take_str(j, "host_id", &out->host_id, err) ||
	    take_str(j, "instance_family", &out->instance_family, err) ||
	    take_str(j, "instance_type", &out->instance_type, err) ||
	    take_str(j, "availability_zone", &out->availability_zone, err) ||
	    take_bool(j, "auto_placement", &out->auto_placement, err) ||
	    take_bool(j, "host_recovery", &out->host_recovery, err) ||
	    take_str(j, "client_token", &out->client_token, err) ||
	    take_str(j, "lineage", &out->lineage, err) ||
	    take_str(j, "owner_id", &out->owner_id, err) ||
	    take_str(j, "allocation_time", &out->allocation_time, err) ||
	    take_int(j, "cores", &out->cores, err) || take_int(j, "sockets", &out->sockets, err) ||
	    take_int(j, "total_vcpus", &out->total_vcpus, err) ||
	    take_int(j, "available_vcpus", &out->available_vcpus, err))
		goto fail;
	if ((st = json_object_get(j, "state")) && !json_is_null(st)) {
		if (!json_is_string(st) ||
		    !(out->state = np_host_state_parse(json_string_value(st)))) {
			np_error(err, "host 'state' has an unknown value");
			goto fail;
		}
	}
	if ((tags = json_object_get(j, "tags"))) {
		out->tags_set = true;
		if (np_tags_from_json(&out->tags, tags, "host tags", err) < 0)
			goto fail;
	}
	if (take_live(out, j, err) < 0)
		goto fail;
	return 0;
fail:
	np_host_release(out);
	return -1;
}
