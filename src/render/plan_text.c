/* The plan for people, in Terraform's manner. Identical changes of
 * consecutive instances of a group are shown once, with their address range
 * (-expand lists each); rollout.max_unavailable is said as waves. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/buf.h"
#include "nestplan/config.h"
#include "nestplan/render.h"

#define C(o, code) ((o)->color ? (code) : "")
#define RESET(o)   C(o, "\033[0m")

static const char *symbol(enum np_action a)
{
	switch (a) {
	case NP_ACTION_CREATE:
		return "+";
	case NP_ACTION_UPDATE:
		return "~";
	case NP_ACTION_REPLACE:
		return "-/+";
	case NP_ACTION_DELETE:
		return "-";
	default:
		return " ";
	}
}

static const char *colour(enum np_action a)
{
	switch (a) {
	case NP_ACTION_CREATE:
		return "\033[32m";
	case NP_ACTION_UPDATE:
		return "\033[33m";
	case NP_ACTION_REPLACE:
		return "\033[35m";
	case NP_ACTION_DELETE:
		return "\033[31m";
	default:
		return "";
	}
}

static const char *verb(enum np_action a)
{
	switch (a) {
	case NP_ACTION_CREATE:
		return "will be created";
	case NP_ACTION_UPDATE:
		return "will be updated in-place";
	case NP_ACTION_REPLACE:
		return "must be replaced";
	case NP_ACTION_DELETE:
		return "will be destroyed";
	default:
		return "";
	}
}

/* A host change's verbs: EC2 allocates and releases hosts. */
static const char *host_verb(enum np_action a)
{
	return a == NP_ACTION_CREATE   ? "will be allocated"
	       : a == NP_ACTION_DELETE ? "will be released"
				       : verb(a);
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

/* How EC2 makes a change, as the plan's attribute list says (the table's
 * policy): shown after the value for updates. */
static const char *policy_note(const struct np_change *c, const char *name)
{
	for (size_t i = 0; c->action == NP_ACTION_UPDATE && i < c->n_attrs; i++)
		if (!strcmp(c->attrs[i].name, name))
			return c->attrs[i].policy == NP_POLICY_LIVE &&
				       !strncmp(name, "root_volume.", 12) &&
				       strcmp(name, "root_volume.delete_on_termination")
				   ? "live, no stop; EBS allows a limited number of modifications "
				     "of a "
				     "volume per 24 h, one at a time"
			       : c->attrs[i].policy == NP_POLICY_LIVE    ? "live, no stop"
			       : c->attrs[i].policy == NP_POLICY_STOPPED ? "in the stop window"
									 : NULL;
	return NULL;
}

static const char *bool_text(enum np_bool b)
{
	return b == NP_BOOL_TRUE ? "true" : b == NP_BOOL_FALSE ? "false" : NULL;
}

/* A host: what AllocateHosts fixes, the two flags ModifyHosts changes, tags. */
static void host_attributes(FILE *out, const struct np_change *c)
{
	const struct np_host *b =
	    c->has_before && c->action != NP_ACTION_REPLACE ? &c->host_before : NULL;
	const struct np_host *a = &c->host_after;

	if (!c->has_after)
		return;
	attr(out, "instance_family", b ? b->instance_family : NULL, a->instance_family);
	attr(out, "instance_type", b ? b->instance_type : NULL, a->instance_type);
	attr(out, "availability_zone", b ? b->availability_zone : NULL, a->availability_zone);
	attr(out, "auto_placement", b ? bool_text(b->auto_placement) : NULL,
	     bool_text(a->auto_placement));
	attr(out, "host_recovery", b ? bool_text(b->host_recovery) : NULL,
	     bool_text(a->host_recovery));
	for (size_t i = 0; i < a->tags.n; i++) {
		char name[300];

		snprintf(name, sizeof(name), "tags.%s", a->tags.v[i].key);
		attr(out, name, b ? np_tags_get(&b->tags, a->tags.v[i].key) : NULL,
		     a->tags.v[i].value);
	}
}

/* Every attribute of the table the change sets, with what it was. */
static void attributes(FILE *out, const struct np_change *c)
{
	const struct np_instance *b =
	    c->has_before && c->action != NP_ACTION_REPLACE ? &c->before : NULL;
	const struct np_instance *a = &c->after;

	if (!c->has_after)
		return;
	if (c->kind == NP_KIND_HOST) {
		host_attributes(out, c);
		return;
	}
	/* The Dedicated Host placement.host chose. */
	attr(out, "placement.host", b ? b->host_address : NULL, a->host_address);
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *at = &np_attrs[i];
		char *was, *now, *shown;
		const char *note;

		/* Lists, user data and tags: below, or not in the text (a hash). */
		if (at->type == NP_ATTR_STRV || at->type == NP_ATTR_SHA256 ||
		    at->type == NP_ATTR_TAGS)
			continue;
		was = b ? np_attr_text(at, b) : NULL;
		now = np_attr_text(at, a);
		/* EC2 reports no nested-virtualization element where it is off. */
		if (b && !was && at->offset == offsetof(struct np_instance, nested_virtualization))
			was = np_xstrdup("disabled");
		note = now && (!was || strcmp(was, now)) ? policy_note(c, at->name) : NULL;
		shown = note ? np_xasprintf("%s  (%s)", now, note) : NULL;
		attr(out, at->name, was, shown ? shown : now);
		free(shown);
		free(was);
		free(now);
	}
	for (size_t i = 0; i < a->tags.n; i++) {
		char name[300];

		snprintf(name, sizeof(name), "tags.%s", a->tags.v[i].key);
		attr(out, name, b ? np_tags_get(&b->tags, a->tags.v[i].key) : NULL,
		     a->tags.v[i].value);
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

/* Everything shown under a change's header line: the same text for two
 * changes means a reader could not tell them apart but by address and id. */
static char *change_body(const struct np_change *c, const struct np_render_opts *o)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		abort(); /* out of memory, as np_xmalloc does */
	if (c->replace_reason)
		fprintf(out, "      # forced by %s\n", c->replace_reason);
	attributes(out, c);
	fprintf(out, "      steps:");
	for (size_t k = 0; k < c->n_steps; k++)
		fprintf(out, "%s %s", k ? " →" : "", np_step_label(&c->steps[k]));
	fputc('\n', out);
	for (size_t k = 0; k < c->n_steps; k++)
		if (c->steps[k].irreversible)
			fprintf(out,
				"      %sirreversible:%s %s (EC2 allows no way back; it goes "
				"last in the cycle, and a failure after it is not undone)\n",
				C(o, "\033[33m"), RESET(o), np_step_label(&c->steps[k]));
	fclose(out);
	return text;
}

static bool same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* The calls themselves, parameters included, not only their names. */
static bool same_steps(const struct np_change *a, const struct np_change *b)
{
	if (a->n_steps != b->n_steps)
		return false;
	for (size_t k = 0; k < a->n_steps; k++) {
		const struct np_step *x = &a->steps[k], *y = &b->steps[k];

		if (x->kind != y->kind || x->irreversible != y->irreversible ||
		    x->attr != y->attr || !same_str(x->value, y->value) ||
		    !same_str(x->instance_type, y->instance_type) ||
		    x->core_count != y->core_count || x->threads_per_core != y->threads_per_core ||
		    x->nested_virtualization != y->nested_virtualization ||
		    x->tenancy != y->tenancy || !same_str(x->host_id, y->host_id) ||
		    !same_str(x->host_address, y->host_address) ||
		    x->auto_placement != y->auto_placement ||
		    x->host_recovery != y->host_recovery || x->tags.n != y->tags.n)
			return false;
		for (size_t t = 0; t < x->tags.n; t++)
			if (!same_str(x->tags.v[t].key, y->tags.v[t].key) ||
			    !same_str(x->tags.v[t].value, y->tags.v[t].value))
				return false;
	}
	return true;
}

/* "runner[12]": the length of "runner" and 12; false for an address
 * without an index. */
static bool split_address(const char *addr, size_t *name_len, long *index)
{
	const char *b = strrchr(addr, '[');
	char *end;

	if (!b || b == addr || b[1] < '0' || b[1] > '9')
		return false;
	*index = strtol(b + 1, &end, 10);
	if (strcmp(end, "]"))
		return false;
	*name_len = (size_t)(b - addr);
	return true;
}

bool np_render_same_change(const struct np_change *a, const char *body_a, const struct np_change *b,
			   const char *body_b)
{
	size_t la, lb;
	long ia, ib;

	if (!split_address(a->address, &la, &ia) || !split_address(b->address, &lb, &ib) ||
	    la != lb || strncmp(a->address, b->address, la) || ib != ia + 1)
		return false;
	return a->kind == b->kind && a->action == b->action &&
	       a->requires_stop == b->requires_stop && a->adopt == b->adopt &&
	       a->irreversible == b->irreversible &&
	       same_str(a->replace_reason, b->replace_reason) && same_steps(a, b) &&
	       !strcmp(body_a, body_b);
}

/* As the scheduler's group_for() (src/apply/scheduler.c) bounds a group:
 * N, or P% of the group's instances in the file rounded up, at least 1;
 * 0 when the group has no bound. */
int np_render_rollout_limit(const struct np_config *cfg, const char *group)
{
	const struct np_desired *d = NULL;
	long size = 0;

	for (size_t i = 0; cfg && i < cfg->n_instances; i++)
		if (!strcmp(cfg->instances[i].name, group)) {
			d = d ? d : &cfg->instances[i];
			size++;
		}
	if (!d || d->max_unavailable <= 0)
		return 0;
	if (!d->max_unavailable_percent)
		return d->max_unavailable;
	size = (d->max_unavailable * size + 99) / 100;
	return size < 1 ? 1 : (int)size;
}

static bool out_of_service(const struct np_change *c)
{
	return c->kind == NP_KIND_INSTANCE && (c->requires_stop || c->action == NP_ACTION_REPLACE);
}

struct rollout {
	const char *group;
	int stops, replaces;
};

/* How each bounded group goes out of service, in waves of max_unavailable.
 * No duration is promised: EC2 documents none for a stop or a start, so a
 * wave is said to last one cycle (the scheduler starts the next instance as
 * soon as one is back, so the waves are the fewest rounds, not a timetable). */
static void rollout(FILE *out, const struct np_plan *plan, const struct np_render_opts *o)
{
	struct rollout *g = np_xcalloc(plan->n_changes ? plan->n_changes : 1, sizeof(*g));
	size_t n = 0;
	bool any = false;

	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *c = &plan->changes[i];
		const char *name = c->group ? c->group : c->address;
		size_t k;

		if (!out_of_service(c))
			continue;
		for (k = 0; k < n && strcmp(g[k].group, name); k++)
			;
		if (k == n)
			g[n++].group = name;
		g[k].stops += c->action != NP_ACTION_REPLACE;
		g[k].replaces += c->action == NP_ACTION_REPLACE;
	}
	for (size_t k = 0; k < n; k++) {
		int limit = np_render_rollout_limit(o->config, g[k].group);
		int total = g[k].stops + g[k].replaces, waves;
		const char *what = !g[k].replaces ? "one stop → modify → start cycle"
				   : !g[k].stops  ? "one replacement"
						  : "one stop/start cycle or replacement";

		if (!limit)
			continue;
		if (!any)
			fprintf(out, "\nRollout (rollout.max_unavailable):\n");
		any = true;
		waves = (total + limit - 1) / limit;
		if (waves == 1)
			fprintf(out, "  %s: %d instance%s in 1 wave", g[k].group, total,
				total == 1 ? "" : "s");
		else
			fprintf(out, "  %s: %d instances in %d waves of %s%d", g[k].group, total,
				waves, total % limit ? "at most " : "", limit);
		fprintf(out, ", each out of service for %s\n", what);
	}
	free(g);
}

/* The Plan: line keeps Terraform's counters (a replacement is one to add and
 * one to destroy); the sentence after it says what goes out of service. */
static void summary(FILE *out, const struct np_plan *plan, const struct np_render_opts *o)
{
	int stops = 0, replaces = 0;

	for (size_t i = 0; i < plan->n_changes; i++) {
		if (plan->changes[i].kind == NP_KIND_HOST)
			continue; /* a host is not in service; its instances are */
		replaces += plan->changes[i].action == NP_ACTION_REPLACE;
		stops +=
		    plan->changes[i].requires_stop && plan->changes[i].action != NP_ACTION_REPLACE;
	}
	fprintf(out, "\n%sPlan:%s %d to add, %d to change, %d to destroy. ", C(o, "\033[1m"),
		RESET(o), plan->summary.add, plan->summary.change, plan->summary.destroy);
	if (!stops && !replaces) {
		fprintf(out, "No instance will be out of service.\n");
		return;
	}
	fprintf(out, "%d instance%s will be out of service:", stops + replaces,
		stops + replaces == 1 ? "" : "s");
	if (stops)
		fprintf(out, " %d stopped and started%s", stops, replaces ? "," : "");
	if (replaces)
		fprintf(out, " %d replaced", replaces);
	fprintf(out, ".\n");
}

/* Print text wrapped at 78 columns (Terraform's explanations are prose). */
static void prose(FILE *out, const char *text)
{
	int col = 0;

	while (*text) {
		size_t w = strcspn(text, " ");

		if (col && col + 1 + (int)w > 78) {
			fputc('\n', out);
			col = 0;
		} else if (col) {
			fputc(' ', out);
			col++;
		}
		fprintf(out, "%.*s", (int)w, text);
		col += (int)w;
		text += w;
		text += strspn(text, " ");
	}
	fputc('\n', out);
}

static void header(FILE *out, const struct np_change *first, const struct np_change *last,
		   size_t count, const struct np_render_opts *o)
{
	fprintf(out, "\n  %s%s%s %s", C(o, colour(first->action)), symbol(first->action), RESET(o),
		C(o, "\033[1m"));
	if (first->kind == NP_KIND_HOST && count == 1) {
		fprintf(out, "%s%s (host) %s", first->address, RESET(o), host_verb(first->action));
		if (first->host_id)
			fprintf(out, " (%s)", first->host_id);
	} else if (count == 1) {
		fprintf(out, "%s%s %s", first->address, RESET(o), verb(first->action));
		if (first->instance_id)
			fprintf(out, " (%s)", first->instance_id);
	} else {
		/* "runner[0" ".." "199]" */
		bool host = first->kind == NP_KIND_HOST;

		fprintf(out, "%.*s..%s%s (%zu %s) %s", (int)strlen(first->address) - 1,
			first->address, strrchr(last->address, '[') + 1, RESET(o), count,
			host ? "hosts" : "instances",
			host ? host_verb(first->action) : verb(first->action));
	}
	if (first->adopt)
		fprintf(out, ", adopted");
	if (first->requires_stop)
		fprintf(out, " %s(requires stop/start)%s", C(o, "\033[33m"), RESET(o));
	fputc('\n', out);
}

void np_render_plan_text(FILE *out, const struct np_plan *plan, const struct np_render_opts *o)
{
	bool any = false, collapsed = false;

	if (plan->n_drift) {
		np_render_drift_text(out, plan, o);
		fputc('\n', out);
	}
	for (size_t i = 0; i < plan->n_changes;) {
		const struct np_change *c = &plan->changes[i];
		char *body;
		size_t j = i + 1;

		if (c->action == NP_ACTION_NOOP) {
			i++;
			continue;
		}
		if (!any)
			fprintf(out, "nestplan will perform the following actions:\n");
		any = true;
		body = change_body(c, o);
		/* The run of changes a reader could not tell apart; each body is
		 * compared with its predecessor's, so the run stays consecutive. */
		if (!o->expand) {
			char *prev = np_xstrdup(body);

			while (j < plan->n_changes) {
				char *next = change_body(&plan->changes[j], o);
				bool same = np_render_same_change(&plan->changes[j - 1], prev,
								  &plan->changes[j], next);

				free(prev);
				prev = next;
				if (!same)
					break;
				j++;
			}
			free(prev);
		}
		header(out, c, &plan->changes[j - 1], j - i, o);
		collapsed |= j - i > 1;
		fputs(body, out);
		free(body);
		i = j;
	}
	diagnostics(out, plan, o);
	if (np_plan_has_errors(plan)) {
		fprintf(out, "\nThe plan has errors; apply will not run until they are fixed.\n");
		return;
	}
	if (plan->refresh_only) {
		if (!plan->n_drift) {
			fprintf(out, "No changes. The state matches what EC2 reports.\n");
			return;
		}
		/* Terraform's words for its refresh-only plan. */
		prose(out,
		      "This is a refresh-only plan, so nestplan will not take any actions to undo "
		      "these. If you were expecting these changes then you can apply this plan "
		      "(nestplan apply -refresh-only) to record the updated values in the "
		      "nestplan state without changing any remote objects.");
		return;
	}
	if (!any) {
		fprintf(out, "\n%sNo changes.%s Your instances match the configuration.\n",
			C(o, "\033[1;32m"), RESET(o));
		return;
	}
	if (collapsed)
		fprintf(out, "\nIdentical changes of consecutive instances are shown once; -expand "
			     "lists every instance.\n");
	rollout(out, plan, o);
	unchecked_permissions(out, plan);
	summary(out, plan, o);
}
