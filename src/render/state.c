/* The state for show: JSON of DESIGN.md, a text listing, the history. */
#include <stdlib.h>
#include <time.h>

#include "nestplan/alloc.h"
#include "nestplan/buf.h"
#include "nestplan/plan.h"
#include "nestplan/render.h"

/* A resource as show -json lists it: its kind, without what only nestplan's
 * bookkeeping needs. */
static json_t *shown(json_t *o, const char *kind)
{
	json_object_del(o, "lineage");
	json_object_del(o, "client_token");
	json_object_del(o, "owner_id");
	json_object_set_new(o, "kind", json_string(kind));
	return o;
}

json_t *np_render_state_json(const char *lineage, long long serial, const char *region,
			     const char *account, const struct np_instance *res, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = np_instance_to_json(&res[i]);

		json_array_append_new(list, shown(o, "instance"));
	}
	return json_pack("{s:s, s:s, s:I, s:s?, s:s?, s:o}", "format_version", "1", "lineage",
			 lineage, "serial", (json_int_t)serial, "region", region, "account",
			 account, "resources", list);
}

static int by_address(const void *x, const void *y)
{
	const char *a = json_string_value(json_object_get(*(json_t *const *)x, "address"));
	const char *b = json_string_value(json_object_get(*(json_t *const *)y, "address"));

	return np_address_cmp(a ? a : "", b ? b : "");
}

void np_render_state_add_hosts(json_t *state, const struct np_host *hosts, size_t n)
{
	json_t *list = json_object_get(state, "resources"), **v;
	size_t total;

	if (!json_is_array(list) || !n)
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *o = np_host_to_json(&hosts[i]);

		json_array_append_new(list, shown(o, "host"));
	}
	/* One list in address order, whatever the kind (names are unique
	 * across instances: and hosts:). */
	total = json_array_size(list);
	v = np_xcalloc(total, sizeof(*v));
	for (size_t i = 0; i < total; i++)
		v[i] = json_incref(json_array_get(list, i));
	qsort(v, total, sizeof(*v), by_address);
	json_array_clear(list);
	for (size_t i = 0; i < total; i++)
		json_array_append_new(list, v[i]);
	free(v);
}

static void print_tags(FILE *out, const struct np_tags *tags)
{
	for (size_t k = 0; k < tags->n; k++) {
		/* Tags come from EC2 too: escaped, never control codes. */
		char *key = np_visible(tags->v[k].key), *val = np_visible(tags->v[k].value);

		fprintf(out, "    tags.%-17s %s\n", key, val);
		free(key);
		free(val);
	}
}

static const char *bool_text(enum np_bool b)
{
	return b == NP_BOOL_TRUE ? "on" : b == NP_BOOL_FALSE ? "off" : "-";
}

void np_render_hosts_text(FILE *out, const struct np_host *hosts, size_t n,
			  const struct np_render_opts *o)
{
	for (size_t i = 0; i < n; i++) {
		const struct np_host *h = &hosts[i];
		const char *state = np_host_state_name(h->state);

		fprintf(out, "%s%s%s (host %s)\n", o->color ? "\033[1m" : "", h->address,
			o->color ? "\033[0m" : "", h->host_id ? h->host_id : "-");
		if (h->instance_family)
			fprintf(out, "    instance_family        %s\n", h->instance_family);
		if (h->instance_type)
			fprintf(out, "    instance_type          %s\n", h->instance_type);
		fprintf(out, "    availability_zone      %s\n",
			h->availability_zone ? h->availability_zone : "-");
		fprintf(out, "    state                  %s\n", state ? state : "-");
		fprintf(out, "    auto_placement         %s\n", bool_text(h->auto_placement));
		fprintf(out, "    host_recovery          %s\n", bool_text(h->host_recovery));
		print_tags(out, &h->tags);
		if (i + 1 < n)
			fputc('\n', out);
	}
}

void np_render_state_text(FILE *out, const struct np_instance *res, size_t n,
			  const struct np_render_opts *o)
{
	if (!n) {
		fprintf(out, "The state is empty: no managed instances.\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct np_instance *r = &res[i];

		fprintf(out, "%s%s%s (%s)\n", o->color ? "\033[1m" : "", r->address,
			o->color ? "\033[0m" : "", r->instance_id ? r->instance_id : "-");
		fprintf(out, "    instance_type          %s\n",
			r->instance_type ? r->instance_type : "-");
		fprintf(out, "    state                  %s\n",
			r->state ? np_run_state_name(r->state) : "-");
		if (r->core_count)
			fprintf(out, "    cpu_options            %d cores x %d threads\n",
				r->core_count, r->threads_per_core);
		fprintf(out, "    nested_virtualization  %s\n",
			np_nv_name(r->nested_virtualization ? r->nested_virtualization
							    : NP_NV_DISABLED));
		if (r->tenancy)
			fprintf(out, "    tenancy                %s\n",
				np_tenancy_name(r->tenancy));
		if (r->host_address || r->host_id)
			fprintf(out, "    host                   %s%s%s%s\n",
				r->host_address ? r->host_address : "", r->host_address ? " (" : "",
				r->host_id ? r->host_id : "-", r->host_address ? ")" : "");
		if (r->platform == NP_PLATFORM_WINDOWS)
			fprintf(out, "    platform               windows\n");
		print_tags(out, &r->tags);
		if (i + 1 < n)
			fputc('\n', out);
	}
}

/* "    ~ runner[0] (i-0abc) update: ok", one line per instance of a run. */
static void history_changes(FILE *out, const char *text)
{
	json_t *changes = text ? json_loads(text, 0, NULL) : NULL;
	size_t i;
	json_t *c;

	json_array_foreach(changes, i, c)
	{
		const char *id = json_string_value(json_object_get(c, "instance_id"));

		if (!id)
			id = json_string_value(json_object_get(c, "host_id"));

		fprintf(out, "    %s%s%s%s  %s: %s\n",
			json_string_value(json_object_get(c, "address")), id ? " (" : "",
			id ? id : "", id ? ")" : "",
			json_string_value(json_object_get(c, "action")),
			json_string_value(json_object_get(c, "outcome")));
	}
	json_decref(changes);
}

void np_render_history(FILE *out, const struct np_history_entry *h, size_t n, bool json)
{
	if (json) {
		json_t *list = json_array();

		for (size_t i = 0; i < n; i++) {
			json_t *changes = h[i].changes ? json_loads(h[i].changes, 0, NULL) : NULL;

			if (!json_is_array(changes)) {
				json_decref(changes);
				changes = json_array();
			}
			json_array_append_new(
			    list,
			    json_pack(
				"{s:s?, s:s, s:s?, s:s?, s:I, s:i, s:i, s:i, s:i, s:s, s:I, s:o}",
				"run_id", h[i].run_id, "command", h[i].command, "user", h[i].user,
				"host", h[i].host, "at", (json_int_t)h[i].at, "added", h[i].added,
				"changed", h[i].changed, "destroyed", h[i].destroyed, "failed",
				h[i].failed, "outcome", h[i].outcome, "serial",
				(json_int_t)h[i].serial, "changes", changes));
		}
		json_dumpf(list, out, JSON_INDENT(2));
		fputc('\n', out);
		json_decref(list);
		return;
	}
	if (!n)
		fprintf(out, "No applies recorded yet.\n");
	for (size_t i = 0; i < n; i++) {
		char when[32];
		time_t t = (time_t)h[i].at;
		struct tm tm = { 0 };

		/* A damaged row can hold a time no calendar has. */
		if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
			snprintf(when, sizeof(when), "(time %lld)", h[i].at);
		fprintf(out,
			"%s  %-8s %s@%s  %d added, %d changed, %d destroyed, %d failed  (%s, "
			"serial %lld)\n",
			when, h[i].command, h[i].user ? h[i].user : "?",
			h[i].host ? h[i].host : "?", h[i].added, h[i].changed, h[i].destroyed,
			h[i].failed, h[i].outcome, h[i].serial);
		history_changes(out, h[i].changes);
	}
}
