/* The plan as JSON: the -json contract, and (with step parameters) the
 * saved plan file. */
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/render.h"

static json_t *step_detail(const struct np_step *s)
{
	json_t *o = json_pack("{s:s}", "kind", np_step_label(s));

	if (s->attr) {
		json_object_set_new(o, "attribute", json_string(s->attr->name));
		json_object_set_new(o, "value", s->value ? json_string(s->value) : json_null());
	}

	if (s->instance_type)
		json_object_set_new(o, "instance_type", json_string(s->instance_type));
	if (s->core_count)
		json_object_set_new(o, "core_count", json_integer(s->core_count));
	if (s->threads_per_core)
		json_object_set_new(o, "threads_per_core", json_integer(s->threads_per_core));
	if (s->nested_virtualization)
		json_object_set_new(o, "nested_virtualization",
				    json_string(np_nv_name(s->nested_virtualization)));
	if (s->tenancy)
		json_object_set_new(o, "tenancy", json_string(np_tenancy_name(s->tenancy)));
	if (s->host_id)
		json_object_set_new(o, "host_id", json_string(s->host_id));
	if (s->host_address)
		json_object_set_new(o, "host_address", json_string(s->host_address));
	if (s->auto_placement)
		json_object_set_new(o, "auto_placement",
				    json_boolean(s->auto_placement == NP_BOOL_TRUE));
	if (s->host_recovery)
		json_object_set_new(o, "host_recovery",
				    json_boolean(s->host_recovery == NP_BOOL_TRUE));
	if (s->volume_id)
		json_object_set_new(o, "volume_id", json_string(s->volume_id));
	if (s->size_gib)
		json_object_set_new(o, "size_gib", json_integer(s->size_gib));
	if (s->volume_type > 0 && s->volume_type <= 7)
		json_object_set_new(o, "volume_type", json_string(np_volume_types[s->volume_type]));
	if (s->iops)
		json_object_set_new(o, "iops", json_integer(s->iops));
	if (s->throughput)
		json_object_set_new(o, "throughput_mibps", json_integer(s->throughput));
	if (s->device_name)
		json_object_set_new(o, "device_name", json_string(s->device_name));
	if (s->kind == NP_STEP_MODIFY_ROOT_DELETE_ON_TERMINATION && !s->attr)
		json_object_set_new(o, "value", s->value ? json_string(s->value) : json_null());
	if (s->irreversible)
		json_object_set_new(o, "irreversible", json_true());
	if (s->tags.n) {
		json_t *t = json_object();

		for (size_t i = 0; i < s->tags.n; i++)
			json_object_set_new(t, s->tags.v[i].key, json_string(s->tags.v[i].value));
		json_object_set_new(o, "tags", t);
	}
	return o;
}

static json_t *attrs_json(const struct np_change *c)
{
	json_t *a = json_array();

	for (size_t i = 0; i < c->n_attrs; i++) {
		const struct np_attr_change *x = &c->attrs[i];

		json_array_append_new(a, json_pack("{s:s, s:s?, s:s?, s:s}", "name", x->name,
						   "before", x->before, "after", x->after, "policy",
						   np_policy_name(x->policy)));
	}
	return a;
}

static int read_attrs(struct np_change *c, const json_t *a, struct np_err *err)
{
	size_t i;
	json_t *x;

	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > 256)
		return np_error(err, "malformed attributes");
	json_array_foreach(a, i, x)
	{
		const char *name = json_string_value(json_object_get(x, "name"));
		const char *policy = json_string_value(json_object_get(x, "policy"));
		struct np_attr_change *ac;

		if (!name || !policy)
			return np_error(err, "malformed attribute change");
		NP_ALLOC_GROW(c->attrs, c->n_attrs + 1, c->alloc_attrs);
		ac = &c->attrs[c->n_attrs++];
		ac->name = np_xstrdup(name);
		ac->before = np_xstrdup(json_string_value(json_object_get(x, "before")));
		ac->after = np_xstrdup(json_string_value(json_object_get(x, "after")));
		ac->policy = !strcmp(policy, "live")      ? NP_POLICY_LIVE
			     : !strcmp(policy, "stopped") ? NP_POLICY_STOPPED
							  : NP_POLICY_REPLACE;
	}
	return 0;
}

static json_t *plan_json(const struct np_plan *plan, bool full)
{
	json_t *changes = json_array(), *drift = json_array(), *diags = json_array();
	json_t *perms = json_array();
	struct np_strv unchecked = NP_STRV_INIT;

	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *c = &plan->changes[i];
		json_t *steps = json_array(), *irreversible = json_array();
		json_t *o;

		for (size_t k = 0; k < c->n_steps; k++) {
			json_array_append_new(steps, json_string(np_step_label(&c->steps[k])));
			if (c->steps[k].irreversible)
				json_array_append_new(irreversible,
						      json_string(np_step_label(&c->steps[k])));
		}
		if (c->kind == NP_KIND_HOST)
			/* A host: its id, not instance_id; before/after are hosts. */
			o = json_pack(
			    "{s:s, s:s, s:o, s:s, s:b, s:o, s:o, s:o}", "address", c->address,
			    "kind", np_kind_name(c->kind), "host_id",
			    c->host_id ? json_string(c->host_id) : json_null(), "action",
			    np_action_name(c->action), "requires_stop", c->requires_stop, "steps",
			    steps, "before",
			    c->has_before ? np_host_to_json(&c->host_before) : json_null(), "after",
			    c->has_after ? np_host_to_json(&c->host_after) : json_null());
		else
			o = json_pack("{s:s, s:s, s:s?, s:s, s:b, s:o, s:o, s:o}", "address",
				      c->address, "kind", np_kind_name(c->kind), "instance_id",
				      c->instance_id, "action", np_action_name(c->action),
				      "requires_stop", c->requires_stop, "steps", steps, "before",
				      c->has_before ? np_instance_to_json(&c->before) : json_null(),
				      "after",
				      c->has_after ? np_instance_to_json(&c->after) : json_null());
		json_object_set_new(o, "irreversible_steps", irreversible);
		json_object_set_new(o, "attributes", attrs_json(c));
		if (c->replace_reason)
			json_object_set_new(o, "replace_reason", json_string(c->replace_reason));
		if (full) {
			json_t *details = json_array();

			for (size_t k = 0; k < c->n_steps; k++)
				json_array_append_new(details, step_detail(&c->steps[k]));
			json_object_set_new(o, "step_details", details);
			json_object_set_new(o, "group",
					    c->group ? json_string(c->group) : json_null());
			json_object_set_new(o, "adopt", json_boolean(c->adopt));
		}
		json_array_append_new(changes, o);
	}
	for (size_t i = 0; i < plan->n_drift; i++) {
		const struct np_drift *d = &plan->drift[i];

		json_array_append_new(drift,
				      json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:s?}", "address",
						d->address, "kind", np_kind_name(d->kind),
						d->kind == NP_KIND_HOST ? "host_id" : "instance_id",
						d->instance_id, "attribute", d->attribute,
						"recorded", d->recorded, "live", d->live));
	}
	for (size_t i = 0; i < plan->n_diags; i++) {
		const struct np_diag *d = &plan->diags[i];

		json_array_append_new(diags,
				      json_pack("{s:s, s:s?, s:s}", "severity",
						d->severity == NP_SEV_ERROR ? "error" : "warning",
						"address", d->address, "message", d->message));
	}
	np_plan_unchecked_permissions(plan, &unchecked);
	for (size_t i = 0; i < unchecked.n; i++)
		json_array_append_new(perms, json_string(unchecked.v[i]));
	np_strv_release(&unchecked);
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:{s:i, s:i, s:i, s:i}}", "format_version", "1",
			 "changes", changes, "drift", drift, "diagnostics", diags,
			 "unchecked_permissions", perms, "summary", "add", plan->summary.add,
			 "change", plan->summary.change, "destroy", plan->summary.destroy,
			 "stop_start", plan->summary.stop_start);
}

json_t *np_render_plan_json(const struct np_plan *plan) { return plan_json(plan, false); }

json_t *np_plan_to_json_full(const struct np_plan *plan)
{
	json_t *j = plan_json(plan, true);

	json_object_set_new(j, "lineage", plan->lineage ? json_string(plan->lineage) : json_null());
	json_object_set_new(j, "serial", json_integer(plan->serial));
	json_object_set_new(j, "config_sha256", json_string(plan->config_sha256));
	json_object_set_new(j, "refresh_only", json_boolean(plan->refresh_only));
	json_object_set_new(j, "destroy", json_boolean(plan->destroy));
	return j;
}

static int read_step(struct np_step *s, const json_t *j, struct np_err *err)
{
	const char *kind = json_string_value(json_object_get(j, "kind"));
	const json_t *v;
	int k;

	memset(s, 0, sizeof(*s));
	if (!kind || (k = np_step_parse(kind)) < 0)
		return np_error(err, "unknown step");
	/* Checked before anything is allocated: the caller keeps only whole steps. */
	if ((v = json_object_get(j, "tags")) && !json_is_object(v))
		return np_error(err, "step tags must be an object");
	s->kind = (enum np_step_kind)k;
	s->instance_type = np_xstrdup(json_string_value(json_object_get(j, "instance_type")));
	s->core_count = (int)json_integer_value(json_object_get(j, "core_count"));
	s->threads_per_core = (int)json_integer_value(json_object_get(j, "threads_per_core"));
	s->nested_virtualization =
	    np_nv_parse(json_string_value(json_object_get(j, "nested_virtualization")));
	s->tenancy = np_tenancy_parse(json_string_value(json_object_get(j, "tenancy")));
	s->host_id = np_xstrdup(json_string_value(json_object_get(j, "host_id")));
	s->host_address = np_xstrdup(json_string_value(json_object_get(j, "host_address")));
	if ((v = json_object_get(j, "auto_placement")) && json_is_boolean(v))
		s->auto_placement = json_is_true(v) ? NP_BOOL_TRUE : NP_BOOL_FALSE;
	if ((v = json_object_get(j, "host_recovery")) && json_is_boolean(v))
		s->host_recovery = json_is_true(v) ? NP_BOOL_TRUE : NP_BOOL_FALSE;
	v = json_object_get(j, "tags");
	s->irreversible = json_is_true(json_object_get(j, "irreversible"));
	s->volume_id = np_xstrdup(json_string_value(json_object_get(j, "volume_id")));
	s->size_gib = (int)json_integer_value(json_object_get(j, "size_gib"));
	s->iops = (int)json_integer_value(json_object_get(j, "iops"));
	s->throughput = (int)json_integer_value(json_object_get(j, "throughput_mibps"));
	s->device_name = np_xstrdup(json_string_value(json_object_get(j, "device_name")));
	if (s->kind == NP_STEP_MODIFY_ROOT_DELETE_ON_TERMINATION)
		s->value = np_xstrdup(json_string_value(json_object_get(j, "value")));
	for (int t = 1; json_string_value(json_object_get(j, "volume_type")) && np_volume_types[t];
	     t++)
		if (!strcmp(np_volume_types[t],
			    json_string_value(json_object_get(j, "volume_type"))))
			s->volume_type = t;
	if (s->kind == NP_STEP_SET_ATTRIBUTE || json_object_get(j, "attribute")) {
		const char *name = json_string_value(json_object_get(j, "attribute"));

		s->attr = name ? np_attr_find(name) : NULL;
		if (!s->attr || !s->attr->gen)
			return np_error(err, "step %s names no attribute nestplan knows", kind);
		s->value = np_xstrdup(json_string_value(json_object_get(j, "value")));
	}
	if (v) {
		const char *key;
		json_t *val;

		json_object_foreach((json_t *)v, key, val) np_tags_set(
		    &s->tags, key, json_string_value(val) ? json_string_value(val) : "");
	}
	return 0;
}

static int read_change(struct np_change *c, const json_t *j, struct np_err *err)
{
	const char *addr = json_string_value(json_object_get(j, "address"));
	const char *action = json_string_value(json_object_get(j, "action"));
	const json_t *details = json_object_get(j, "step_details"), *b, *a;
	const char *kind;
	int act;
	size_t i;
	json_t *x;

	memset(c, 0, sizeof(*c));
	if (!addr || !action || (act = np_action_parse(action)) < 0 || !json_is_array(details))
		return np_error(err, "malformed change");
	c->address = np_xstrdup(addr);
	c->action = (enum np_action)act;
	kind = json_string_value(json_object_get(j, "kind"));
	if (kind && strcmp(kind, "instance") && strcmp(kind, "host"))
		return np_error(err, "unknown change kind '%s'", kind);
	c->kind = kind && !strcmp(kind, "host") ? NP_KIND_HOST : NP_KIND_INSTANCE;
	c->host_id = c->kind == NP_KIND_HOST
			 ? np_xstrdup(json_string_value(json_object_get(j, "host_id")))
			 : NULL;
	c->instance_id = np_xstrdup(json_string_value(json_object_get(j, "instance_id")));
	c->group = np_xstrdup(json_string_value(json_object_get(j, "group")));
	c->replace_reason = np_xstrdup(json_string_value(json_object_get(j, "replace_reason")));
	c->requires_stop = json_is_true(json_object_get(j, "requires_stop"));
	c->adopt = json_is_true(json_object_get(j, "adopt"));
	if (json_array_size(details) > 64)
		return np_error(err, "too many steps in one change");
	json_array_foreach(details, i, x)
	{
		NP_ALLOC_GROW(c->steps, c->n_steps + 1, c->alloc_steps);
		if (read_step(&c->steps[c->n_steps], x, err) < 0)
			return -1;
		c->irreversible |= c->steps[c->n_steps].irreversible;
		c->n_steps++;
	}
	if (read_attrs(c, json_object_get(j, "attributes"), err) < 0)
		return -1;
	b = json_object_get(j, "before");
	a = json_object_get(j, "after");
	if (b && !json_is_null(b)) {
		if (c->kind == NP_KIND_HOST ? np_host_from_json(&c->host_before, b, err)
					    : np_instance_from_json(&c->before, b, err))
			return -1;
		c->has_before = true;
	}
	if (a && !json_is_null(a)) {
		if (c->kind == NP_KIND_HOST ? np_host_from_json(&c->host_after, a, err)
					    : np_instance_from_json(&c->after, a, err))
			return -1;
		c->has_after = true;
	}
	return 0;
}

int np_plan_from_json_full(struct np_plan *out, const json_t *j, struct np_err *err)
{
	const json_t *changes = json_object_get(j, "changes"),
		     *summary = json_object_get(j, "summary");
	const char *fv = json_string_value(json_object_get(j, "format_version"));
	const char *sha = json_string_value(json_object_get(j, "config_sha256"));
	size_t i;
	json_t *x;

	memset(out, 0, sizeof(*out));
	if (!fv || strcmp(fv, "1"))
		return np_error(err, "unsupported plan format version '%s'", fv ? fv : "none");
	if (!json_is_array(changes) || !json_is_object(summary) || !sha || strlen(sha) != 64)
		return np_error(err, "malformed plan");
	out->lineage = np_xstrdup(json_string_value(json_object_get(j, "lineage")));
	out->serial = json_integer_value(json_object_get(j, "serial"));
	memcpy(out->config_sha256, sha, 65);
	out->refresh_only = json_is_true(json_object_get(j, "refresh_only"));
	out->destroy = json_is_true(json_object_get(j, "destroy"));
	out->summary.add = (int)json_integer_value(json_object_get(summary, "add"));
	out->summary.change = (int)json_integer_value(json_object_get(summary, "change"));
	out->summary.destroy = (int)json_integer_value(json_object_get(summary, "destroy"));
	out->summary.stop_start = (int)json_integer_value(json_object_get(summary, "stop_start"));
	json_array_foreach(changes, i, x)
	{
		NP_ALLOC_GROW(out->changes, out->n_changes + 1, out->alloc_changes);
		if (read_change(&out->changes[out->n_changes], x, err) < 0) {
			out->n_changes++;
			np_plan_release(out);
			return -1;
		}
		out->n_changes++;
	}
	/* What plan printed besides the changes, so show prints it again. */
	json_array_foreach(json_object_get(j, "drift"), i, x)
	{
		struct np_drift *d;
		const char *addr = json_string_value(json_object_get(x, "address"));
		const char *attr = json_string_value(json_object_get(x, "attribute"));

		if (!addr || !attr)
			continue;
		NP_ALLOC_GROW(out->drift, out->n_drift + 1, out->alloc_drift);
		d = &out->drift[out->n_drift++];
		d->address = np_xstrdup(addr);
		d->kind = json_object_get(x, "host_id") ? NP_KIND_HOST : NP_KIND_INSTANCE;
		d->instance_id = np_xstrdup(json_string_value(
		    json_object_get(x, d->kind == NP_KIND_HOST ? "host_id" : "instance_id")));
		d->attribute = np_xstrdup(attr);
		d->recorded = np_xstrdup(json_string_value(json_object_get(x, "recorded")));
		d->live = np_xstrdup(json_string_value(json_object_get(x, "live")));
	}
	json_array_foreach(json_object_get(j, "diagnostics"), i, x)
	{
		struct np_diag *d;
		const char *sev = json_string_value(json_object_get(x, "severity"));
		const char *msg = json_string_value(json_object_get(x, "message"));

		if (!sev || !msg)
			continue;
		NP_ALLOC_GROW(out->diags, out->n_diags + 1, out->alloc_diags);
		d = &out->diags[out->n_diags++];
		d->severity = !strcmp(sev, "error") ? NP_SEV_ERROR : NP_SEV_WARNING;
		d->address = np_xstrdup(json_string_value(json_object_get(x, "address")));
		d->message = np_xstrdup(msg);
	}
	return 0;
}
