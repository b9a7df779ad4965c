#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply/progress.h"
#include "nestplan/clock.h"

/* The step table's verbs; a kind outside it (none should be) reads as a step. */
static const struct np_step_def *verbs(enum np_step_kind kind)
{
	static const struct np_step_def none = { .doing = "Working",
						 .still = "still working",
						 .done = "Step complete" };
	const struct np_step_def *d = np_step_def(kind);

	return d && d->doing ? d : &none;
}

/* Which id a resource has: a Dedicated Host's (h-...) or an instance's. */
static bool host_id(const char *id) { return id && !strncmp(id, "h-", 2); }

static const char *id_key(const char *id) { return host_id(id) ? "host_id" : "instance_id"; }

static bool host_step(enum np_step_kind kind)
{
	return kind == NP_STEP_ALLOCATE_HOSTS || kind == NP_STEP_MODIFY_HOSTS ||
	       kind == NP_STEP_RELEASE_HOSTS;
}

/* The resource object of a host: resource_type "host". */
static json_t *ui_resource(const char *address, bool host)
{
	json_t *r = np_ui_resource(address);

	if (host)
		json_object_set_new(r, "resource_type", json_string("host"));
	return r;
}

/* RFC 3339 in UTC with microseconds, as Terraform's "@timestamp". */
static void timestamp(char out[40])
{
	double now = np_wall_now();
	time_t t = (time_t)now;
	unsigned usec = (unsigned)((now - (double)t) * 1e6) % 1000000u;
	struct tm tm;
	char sec[24];

	gmtime_r(&t, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%.20s.%06uZ", sec, usec);
}

void np_ui_emit(FILE *out, const char *level, const char *type, json_t *fields, const char *fmt,
		...)
{
	char ts[40], msg[1024];
	json_t *o;
	char *line;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	timestamp(ts);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "@level", level, "@message", msg, "@module",
		      NP_UI_MODULE, "@timestamp", ts, "type", type);
	if (fields)
		json_object_update(o, fields);
	/* One write per line, so concurrent writers cannot interleave a line. */
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line) {
		fprintf(out, "%s\n", line);
		free(line);
	}
	fflush(out);
	json_decref(o);
	json_decref(fields);
}

void np_ui_version(FILE *out)
{
	np_ui_emit(out, "info", "version",
		   json_pack("{s:s, s:s}", "nestplan", NP_VERSION, "ui", NP_UI_VERSION),
		   "nestplan %s", NP_VERSION);
}

json_t *np_ui_resource(const char *address)
{
	const char *br = strchr(address, '[');
	json_t *key = json_null();
	char *name;

	if (br) {
		char *end;
		long k = strtol(br + 1, &end, 10);

		if (end != br + 1 && *end == ']')
			key = json_integer(k);
		else
			key = json_stringn(br + 1, strcspn(br + 1, "]"));
	}
	name = strndup(address, br ? (size_t)(br - address) : strlen(address));
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:o}", "addr", address, "module", "",
			      "resource", address, "implied_provider", "ec2", "resource_type",
			      "instance", "resource_name", name, "resource_key", key);
	free(name);
	return o;
}

void np_ui_diagnostic(FILE *out, const char *severity, const char *summary, const char *detail,
		      const char *address, json_t *extra)
{
	json_t *d = json_pack("{s:s, s:s, s:s}", "severity", severity, "summary", summary, "detail",
			      detail ? detail : "");

	if (address)
		json_object_set_new(d, "address", json_string(address));
	if (extra)
		json_object_update(d, extra);
	json_decref(extra);
	/* Terraform's levels: a warning diagnostic is "@level": "warn". */
	np_ui_emit(out, !strcmp(severity, "error") ? "error" : "warn", "diagnostic",
		   json_pack("{s:o}", "diagnostic", d), "%s: %s",
		   !strcmp(severity, "error") ? "Error" : "Warning", summary);
}

/* Terraform's action names; nestplan's "no-op" is its "noop". */
static const char *ui_action(enum np_action a)
{
	return a == NP_ACTION_NOOP ? "noop" : np_action_name(a);
}

void np_ui_plan(FILE *out, const struct np_plan *plan)
{
	for (size_t i = 0; i < plan->n_drift; i++) {
		const struct np_drift *d = &plan->drift[i];

		bool host = d->kind == NP_KIND_HOST;
		json_t *ch = json_pack("{s:o, s:s, s:s?, s:s, s:s?, s:s?}", "resource",
				       ui_resource(d->address, host), "action", "update",
				       "instance_id", host ? NULL : d->instance_id, "attribute",
				       d->attribute, "recorded", d->recorded, "live", d->live);

		if (host)
			json_object_set_new(ch, "host_id", json_string(d->instance_id));
		np_ui_emit(out, "info", "resource_drift", json_pack("{s:o}", "change", ch),
			   "%s: Drift detected (%s)", d->address, d->attribute);
	}
	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *c = &plan->changes[i];
		json_t *steps, *ch;

		if (c->action == NP_ACTION_NOOP)
			continue;
		steps = json_array();
		for (size_t k = 0; k < c->n_steps; k++)
			json_array_append_new(steps, json_string(np_step_label(&c->steps[k])));
		ch = json_pack("{s:o, s:s, s:s?, s:b, s:o}", "resource",
			       ui_resource(c->address, c->kind == NP_KIND_HOST), "action",
			       ui_action(c->action), "instance_id", c->instance_id, "requires_stop",
			       c->requires_stop, "steps", steps);
		if (c->kind == NP_KIND_HOST && c->host_id)
			json_object_set_new(ch, "host_id", json_string(c->host_id));
		if (c->replace_reason)
			json_object_set_new(ch, "reason", json_string(c->replace_reason));
		np_ui_emit(out, "info", "planned_change", json_pack("{s:o}", "change", ch),
			   "%s: Plan to %s", c->address, ui_action(c->action));
	}
	for (size_t i = 0; i < plan->n_diags; i++) {
		const struct np_diag *d = &plan->diags[i];

		np_ui_diagnostic(out, d->severity == NP_SEV_ERROR ? "error" : "warning", d->message,
				 NULL, d->address, NULL);
	}
	np_ui_emit(out, "info", "change_summary",
		   json_pack("{s:{s:i, s:i, s:i, s:i, s:s}}", "changes", "add", plan->summary.add,
			     "change", plan->summary.change, "remove", plan->summary.destroy,
			     "stop_start", plan->summary.stop_start, "operation", "plan"),
		   "Plan: %d to add, %d to change, %d to destroy.", plan->summary.add,
		   plan->summary.change, plan->summary.destroy);
}

/* Caller holds the lock. The status line is redrawn after every message. */
static void clear_status(struct np_progress *p)
{
	if (p->line_shown) {
		fputs("\r\033[K", p->out);
		p->line_shown = false;
	}
}

static double mono_now(void) { return np_monotonic_now(); }

static void draw_status(struct np_progress *p)
{
	const struct np_progress_counts *n = &p->n;
	long secs;

	if (!p->status_line || p->json)
		return;
	secs = (long)(mono_now() - p->started);
	fprintf(p->out,
		"%s[%ldm%02lds: %d done, %d in a cycle, %d waiting on EC2, %d queued behind "
		"max_unavailable, %d not started",
		p->color ? "\033[2m" : "", secs / 60, secs % 60, n->done, n->cycle, n->waiting,
		n->queued, n->not_started);
	if (n->failed)
		fprintf(p->out, ", %d failed", n->failed);
	if (n->halted)
		fprintf(p->out, ", %d interrupted", n->halted);
	fprintf(p->out, " of %d]%s", p->total, p->color ? "\033[0m" : "");
	fflush(p->out);
	p->line_shown = true;
}

static void ident(char *buf, size_t n, const char *id)
{
	if (id)
		snprintf(buf, n, " [id=%s]", id);
	else
		buf[0] = '\0';
}

void np_progress_init(struct np_progress *p, FILE *out, bool json, bool status_line, bool color,
		      int total)
{
	memset(p, 0, sizeof(*p));
	p->out = out;
	p->json = json;
	p->status_line = status_line && !json;
	p->color = color && !json;
	p->total = total;
	p->n.not_started = total;
	p->started = mono_now();
	pthread_mutex_init(&p->lock, NULL);
}

void np_progress_release(struct np_progress *p)
{
	pthread_mutex_lock(&p->lock);
	clear_status(p);
	fflush(p->out);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_destroy(&p->lock);
}

/* A hook of Terraform's UI: the step's instance as the resource, the action
 * the step is part of, and nestplan's step name and instance id besides. */
static json_t *hook(const char *address, const char *id, enum np_step_kind kind)
{
	const char *action =
	    kind == NP_STEP_RUN_INSTANCES || kind == NP_STEP_ALLOCATE_HOSTS ? "create"
	    : kind == NP_STEP_TERMINATE || kind == NP_STEP_RELEASE_HOSTS    ? "delete"
									    : "update";
	json_t *h =
	    json_pack("{s:o}", "resource",
		      ui_resource(address, host_id(id) || ((int)kind >= 0 && host_step(kind))));

	if ((int)kind >= 0) {
		json_object_set_new(h, "action", json_string(action));
		json_object_set_new(h, "step", json_string(np_step_name(kind)));
	}
	if (id) {
		json_object_set_new(h, "id_key", json_string(id_key(id)));
		json_object_set_new(h, "id_value", json_string(id));
	}
	return h;
}

void np_progress_step_start(struct np_progress *p, const char *address, const char *id,
			    enum np_step_kind kind)
{
	char idb[64];

	pthread_mutex_lock(&p->lock);
	if (p->json) {
		np_ui_emit(p->out, "info", "apply_start",
			   json_pack("{s:o}", "hook", hook(address, id, kind)), "%s: %s...",
			   address, verbs(kind)->doing);
	} else {
		clear_status(p);
		ident(idb, sizeof(idb), id);
		fprintf(p->out, "%s%s%s: %s...%s\n", p->color ? "\033[1m" : "", address,
			p->color ? "\033[0m" : "", verbs(kind)->doing, idb);
		draw_status(p);
	}
	pthread_mutex_unlock(&p->lock);
}

void np_progress_step_done(struct np_progress *p, const char *address, const char *id,
			   enum np_step_kind kind, double elapsed)
{
	char idb[64];

	pthread_mutex_lock(&p->lock);
	if (p->json) {
		json_t *h = hook(address, id, kind);

		json_object_set_new(h, "elapsed_seconds", json_real(elapsed));
		np_ui_emit(p->out, "info", "apply_complete", json_pack("{s:o}", "hook", h),
			   "%s: %s after %.0fs", address, verbs(kind)->done, elapsed);
	} else {
		clear_status(p);
		ident(idb, sizeof(idb), id);
		fprintf(p->out, "%s%s%s: %s after %.0fs%s\n", p->color ? "\033[1m" : "", address,
			p->color ? "\033[0m" : "", verbs(kind)->done, elapsed, idb);
		draw_status(p);
	}
	pthread_mutex_unlock(&p->lock);
}

void np_progress_still(struct np_progress *p, const char *address, const char *id,
		       enum np_step_kind kind, double elapsed)
{
	pthread_mutex_lock(&p->lock);
	if (p->json) {
		json_t *h = hook(address, id, kind);

		json_object_set_new(h, "elapsed_seconds", json_real(elapsed));
		np_ui_emit(p->out, "info", "apply_progress", json_pack("{s:o}", "hook", h),
			   "%s: %s... [%.0fs elapsed]", address, verbs(kind)->still, elapsed);
	} else {
		clear_status(p);
		fprintf(p->out, "%s: %s... [%s%s%.0fs elapsed]\n", address, verbs(kind)->still,
			id ? id : "", id ? ", " : "", elapsed);
		draw_status(p);
	}
	pthread_mutex_unlock(&p->lock);
}

void np_progress_failed(struct np_progress *p, const char *address, const char *id,
			enum np_step_kind kind, const char *message)
{
	char idb[64];

	pthread_mutex_lock(&p->lock);
	if (p->json) {
		json_t *h = hook(address, id, kind);

		/* The error itself is a diagnostic line at the end, as Terraform's. */
		json_object_set_new(h, "message", json_string(message));
		np_ui_emit(p->out, "error", "apply_errored", json_pack("{s:o}", "hook", h),
			   "%s: %s failed: %s", address,
			   (int)kind >= 0 ? np_step_name(kind) : "apply", message);
	} else {
		clear_status(p);
		ident(idb, sizeof(idb), id);
		fprintf(p->out, "%s%s: %s failed%s:%s %s\n", p->color ? "\033[1;31m" : "", address,
			(int)kind >= 0 ? np_step_name(kind) : "apply", idb,
			p->color ? "\033[0m" : "", message);
		draw_status(p);
	}
	pthread_mutex_unlock(&p->lock);
}

void np_progress_note(struct np_progress *p, const char *address, const char *id, const char *msg)
{
	char idb[64];

	pthread_mutex_lock(&p->lock);
	if (p->json) {
		json_t *f = json_pack("{s:s}", "address", address);

		if (id)
			json_object_set_new(f, id_key(id), json_string(id));
		np_ui_emit(p->out, "info", "log", f, "%s: %s", address, msg);
	} else {
		clear_status(p);
		ident(idb, sizeof(idb), id);
		fprintf(p->out, "%s: %s%s\n", address, msg, idb);
		draw_status(p);
	}
	pthread_mutex_unlock(&p->lock);
}

void np_progress_counts(struct np_progress *p, const struct np_progress_counts *n)
{
	pthread_mutex_lock(&p->lock);
	p->n = *n;
	if (p->status_line) {
		clear_status(p);
		draw_status(p);
	}
	pthread_mutex_unlock(&p->lock);
}

/* "20 changed, 0 failed, 180 not started": the actions that happened, then
 * failures and what did not happen, so the counts add up. */
static void interrupted_counts(char *buf, size_t size, const struct np_apply_result *r)
{
	size_t len = 0;

#define PART(cond, ...)                                                              \
	do {                                                                         \
		if ((cond) && len < size)                                            \
			len += (size_t)snprintf(buf + len, size - len, __VA_ARGS__); \
	} while (0)
	buf[0] = '\0';
	PART(r->added, "%d added, ", r->added);
	PART(r->changed || (!r->added && !r->destroyed), "%d changed, ", r->changed);
	PART(r->destroyed, "%d destroyed, ", r->destroyed);
	PART(1, "%d failed, ", r->failed);
	PART(r->unknown, "%d with unknown outcome, ", r->unknown);
	PART(r->halted, "%d interrupted mid-change, ", r->halted);
	PART(1, "%d not started", r->not_started);
#undef PART
}

void np_progress_summary(struct np_progress *p, const struct np_apply_result *r, double elapsed)
{
	pthread_mutex_lock(&p->lock);
	clear_status(p);
	if (p->json) {
		/* Only an interrupt has its summary here: the caller knows the
		 * operation for change_summary and says the errors as diagnostics. */
		if (r->interrupted) {
			char counts[256];
			json_t *left = json_array();

			for (size_t i = 0; i < r->left_behind.n; i++)
				json_array_append_new(left, json_string(r->left_behind.v[i]));
			interrupted_counts(counts, sizeof(counts), r);
			np_ui_emit(p->out, "error", "apply_interrupted",
				   json_pack("{s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:f, s:o}",
					     "changes", "add", r->added, "change", r->changed,
					     "remove", r->destroyed, "failed", r->failed, "unknown",
					     r->unknown, "interrupted", r->halted, "not_started",
					     r->not_started, "elapsed_seconds", elapsed,
					     "left_behind", left),
				   "Apply interrupted: %s.", counts);
		}
	} else if (r->interrupted) {
		char counts[256];

		interrupted_counts(counts, sizeof(counts), r);
		fprintf(p->out, "\n%sApply interrupted:%s %s.\n", p->color ? "\033[1;31m" : "",
			p->color ? "\033[0m" : "", counts);
	} else if (r->failed || r->unknown) {
		fprintf(p->out,
			"\n%sApply finished with errors.%s %d added, %d changed, %d destroyed, "
			"%d failed%s.\n",
			p->color ? "\033[1;31m" : "", p->color ? "\033[0m" : "", r->added,
			r->changed, r->destroyed, r->failed + r->unknown,
			r->unknown ? " (launch outcome unknown for some)" : "");
	} else {
		fprintf(p->out, "\n%sApply complete!%s %d added, %d changed, %d destroyed.\n",
			p->color ? "\033[1;32m" : "", p->color ? "\033[0m" : "", r->added,
			r->changed, r->destroyed);
	}
	fflush(p->out);
	pthread_mutex_unlock(&p->lock);
}

void np_progress_abandoned(struct np_progress *p, const struct np_apply_result *r)
{
	/* Not under p->lock: a thread may hold it forever now; this is the last output. */
	clear_status(p);
	if (p->json) {
		json_t *left = json_array();

		for (size_t i = 0; i < r->left_behind.n; i++)
			json_array_append_new(left, json_string(r->left_behind.v[i]));
		np_ui_diagnostic(p->out, "error", "interrupted twice: exiting now",
				 "the next apply resumes what is left", NULL,
				 json_pack("{s:o}", "left_behind", left));
	} else {
		fprintf(p->out, "\n%sInterrupted twice: exiting now.%s",
			p->color ? "\033[1;31m" : "", p->color ? "\033[0m" : "");
		if (r->left_behind.n) {
			fprintf(p->out, " These may be left mid-change:\n");
			for (size_t i = 0; i < r->left_behind.n; i++)
				fprintf(p->out, "  - %s\n", r->left_behind.v[i]);
		} else {
			fputc('\n', p->out);
		}
		fprintf(p->out, "The next apply resumes them.\n");
	}
	fflush(p->out);
}
