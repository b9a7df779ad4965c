/* The plan for people, in Terraform's manner. */
#include <stdlib.h>
#include <string.h>

#include "nestplan/buf.h"
#include "nestplan/render.h"

#define C(o, code) ((o)->color ? (code) : "")
#define RESET(o) C(o, "\033[0m")

static const char *symbol(enum np_action a)
{
	switch (a) {
	case NP_ACTION_CREATE: return "+";
	case NP_ACTION_UPDATE: return "~";
	case NP_ACTION_REPLACE: return "-/+";
	case NP_ACTION_DELETE: return "-";
	default: return " ";
	}
}

static const char *colour(enum np_action a)
{
	switch (a) {
	case NP_ACTION_CREATE: return "\033[32m";
	case NP_ACTION_UPDATE: return "\033[33m";
	case NP_ACTION_REPLACE: return "\033[35m";
	case NP_ACTION_DELETE: return "\033[31m";
	default: return "";
	}
}

static const char *verb(enum np_action a)
{
	switch (a) {
	case NP_ACTION_CREATE: return "will be created";
	case NP_ACTION_UPDATE: return "will be updated in-place";
	case NP_ACTION_REPLACE: return "must be replaced";
	case NP_ACTION_DELETE: return "will be destroyed";
	default: return "";
	}
}

/* Values may come from EC2 (tags): shown escaped, never as control codes. */
static void attr(FILE *out, const char *name, const char *before, const char *after)
{
	char *n, *b, *a;

	if ((before && after && !strcmp(before, after)) || !after)
		return;
	n = np_visible(name);
	b = np_visible(before);
	a = np_visible(after);
	if (b)
		fprintf(out, "      %-34s %s → %s\n", n, b, a);
	else
		fprintf(out, "      %-34s %s\n", n, a);
	free(n);
	free(b);
	free(a);
}

static void attr_int(FILE *out, const char *name, int before, int after)
{
	char b[16], a[16];

	if (!after)
		return;
	snprintf(b, sizeof(b), "%d", before);
	snprintf(a, sizeof(a), "%d", after);
	attr(out, name, before ? b : NULL, a);
}

static void attributes(FILE *out, const struct np_change *c)
{
	const struct np_instance *b = c->has_before && c->action != NP_ACTION_REPLACE ? &c->before
	                                                                               : NULL;
	const struct np_instance *a = &c->after;

	if (!c->has_after)
		return;
	attr(out, "instance_type", b ? b->instance_type : NULL, a->instance_type);
	attr(out, "image_id", b ? b->image_id : NULL, a->image_id);
	attr_int(out, "cpu_options.core_count", b ? b->core_count : 0, a->core_count);
	attr_int(out, "cpu_options.threads_per_core", b ? b->threads_per_core : 0,
	         a->threads_per_core);
	attr(out, "cpu_options.nested_virtualization",
	     b ? np_nv_name(b->nested_virtualization ? b->nested_virtualization : NP_NV_DISABLED)
	       : NULL,
	     np_nv_name(a->nested_virtualization));
	attr(out, "placement.tenancy", b ? np_tenancy_name(b->tenancy) : NULL,
	     np_tenancy_name(a->tenancy));
	attr(out, "placement.host_id", b ? b->host_id : NULL, a->host_id);
	attr(out, "platform", b ? np_platform_name(b->platform) : NULL, np_platform_name(a->platform));
	attr(out, "state", b ? np_run_state_name(b->state) : NULL, np_run_state_name(a->state));
	for (size_t i = 0; i < a->tags.n; i++) {
		char name[300];

		snprintf(name, sizeof(name), "tags.%s", a->tags.v[i].key);
		attr(out, name, b ? np_tags_get(&b->tags, a->tags.v[i].key) : NULL, a->tags.v[i].value);
	}
	for (size_t i = 0; b && a->tags_set && i < b->tags.n; i++)
		if (!np_tags_get(&a->tags, b->tags.v[i].key)) {
			char *k = np_visible(b->tags.v[i].key), *v = np_visible(b->tags.v[i].value);

			fprintf(out, "      tags.%-29s %s → (removed)\n", k, v);
			free(k);
			free(v);
		}
}

/* What the DryRun preflight cannot check, said before anyone approves. */
static void unchecked_permissions(FILE *out, const struct np_plan *plan)
{
	struct np_strv perms = NP_STRV_INIT;

	np_plan_unchecked_permissions(plan, &perms);
	if (perms.n) {
		fprintf(out, "\nNot checked in advance (EC2 has no DryRun for these calls):");
		for (size_t i = 0; i < perms.n; i++)
			fprintf(out, "%s %s", i ? "," : "", perms.v[i]);
		fputc('\n', out);
	}
	np_strv_release(&perms);
}

static void diagnostics(FILE *out, const struct np_plan *plan, const struct np_render_opts *o)
{
	for (size_t i = 0; i < plan->n_diags; i++) {
		const struct np_diag *d = &plan->diags[i];
		bool e = d->severity == NP_SEV_ERROR;
		char *msg = np_visible(d->message); /* may quote EC2 */

		fprintf(out, "\n%s%s:%s %s%s%s\n", C(o, e ? "\033[1;31m" : "\033[1;33m"),
		        e ? "Error" : "Warning", RESET(o), d->address ? d->address : "",
		        d->address ? ": " : "", msg ? msg : "");
		free(msg);
	}
}

void np_render_plan_text(FILE *out, const struct np_plan *plan, const struct np_render_opts *o)
{
	bool any = false;

	if (plan->n_drift) {
		np_render_drift_text(out, plan, o);
		fputc('\n', out);
	}
	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *c = &plan->changes[i];

		if (c->action == NP_ACTION_NOOP)
			continue;
		if (!any)
			fprintf(out, "nestplan will perform the following actions:\n");
		any = true;
		fprintf(out, "\n  %s%s%s %s%s%s %s", C(o, colour(c->action)), symbol(c->action),
		        RESET(o), C(o, "\033[1m"), c->address, RESET(o), verb(c->action));
		if (c->instance_id)
			fprintf(out, " (%s)", c->instance_id);
		if (c->adopt)
			fprintf(out, ", adopted");
		if (c->requires_stop)
			fprintf(out, " %s(requires stop/start)%s", C(o, "\033[33m"), RESET(o));
		fputc('\n', out);
		if (c->replace_reason)
			fprintf(out, "      # forced by %s\n", c->replace_reason);
		attributes(out, c);
		fprintf(out, "      steps:");
		for (size_t k = 0; k < c->n_steps; k++)
			fprintf(out, "%s %s", k ? " →" : "", np_step_label(&c->steps[k]));
		fputc('\n', out);
		for (size_t k = 0; k < c->n_steps; k++)
			if (c->steps[k].irreversible)
				fprintf(out, "      %sirreversible:%s %s (EC2 allows no way back; it goes "
				             "last in the cycle, and a failure after it is not undone)\n",
				        C(o, "\033[33m"), RESET(o), np_step_label(&c->steps[k]));
	}
	diagnostics(out, plan, o);
	if (np_plan_has_errors(plan)) {
		fprintf(out, "\nThe plan has errors; apply will not run until they are fixed.\n");
		return;
	}
	if (plan->refresh_only) {
		if (!plan->n_drift)
			fprintf(out, "No changes. The state matches what EC2 reports.\n");
		return;
	}
	if (!any) {
		fprintf(out, "\n%sNo changes.%s Your instances match the configuration.\n",
		        C(o, "\033[1;32m"), RESET(o));
		return;
	}
	unchecked_permissions(out, plan);
	fprintf(out, "\n%sPlan:%s %d to add, %d to change, %d to destroy. %d instance%s will be "
	             "stopped and started.\n",
	        C(o, "\033[1m"), RESET(o), plan->summary.add, plan->summary.change,
	        plan->summary.destroy, plan->summary.stop_start,
	        plan->summary.stop_start == 1 ? "" : "s");
}
