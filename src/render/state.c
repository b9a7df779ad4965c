/* The state for show: JSON of DESIGN.md, a text listing, the history. */
#include <stdlib.h>
#include <time.h>

#include "nestplan/buf.h"
#include "nestplan/render.h"

json_t *np_render_state_json(const char *lineage, long long serial, const char *region,
			     const char *account, const struct np_instance *res, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = np_instance_to_json(&res[i]);

		json_object_del(o, "lineage");
		json_object_del(o, "client_token");
		json_object_del(o, "owner_id");
		json_array_append_new(list, o);
	}
	return json_pack("{s:s, s:s, s:I, s:s?, s:s?, s:o}", "format_version", "1", "lineage",
			 lineage, "serial", (json_int_t)serial, "region", region, "account",
			 account, "resources", list);
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
		if (r->platform == NP_PLATFORM_WINDOWS)
			fprintf(out, "    platform               windows\n");
		for (size_t k = 0; k < r->tags.n; k++) {
			/* Tags come from EC2 too: escaped, never control codes. */
			char *key = np_visible(r->tags.v[k].key),
			     *val = np_visible(r->tags.v[k].value);

			fprintf(out, "    tags.%-17s %s\n", key, val);
			free(key);
			free(val);
		}
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
