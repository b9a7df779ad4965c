#include <jansson.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "apply/progress.h"

struct verb {
	const char *doing, *still, *done;
};

static const struct verb verbs[NP_STEP__COUNT] = {
	[NP_STEP_RUN_INSTANCES] = {"Launching", "still launching", "Launch complete"},
	[NP_STEP_STOP] = {"Stopping", "still stopping", "Stop complete"},
	[NP_STEP_MODIFY_PLACEMENT] = {"Modifying placement", "still modifying placement",
	                              "Placement modified"},
	[NP_STEP_MODIFY_INSTANCE_TYPE] = {"Changing instance type", "still changing instance type",
	                                  "Instance type changed"},
	[NP_STEP_MODIFY_CPU_OPTIONS] = {"Modifying CPU options", "still modifying CPU options",
	                                "CPU options modified"},
	[NP_STEP_START] = {"Starting", "still starting", "Start complete"},
	[NP_STEP_CREATE_TAGS] = {"Tagging", "still tagging", "Tags set"},
	[NP_STEP_DELETE_TAGS] = {"Removing tags", "still removing tags", "Tags removed"},
	[NP_STEP_TERMINATE] = {"Terminating", "still terminating", "Termination complete"},
	[NP_STEP_SET_ATTRIBUTE] = {"Modifying attributes", "still modifying attributes",
	                           "Attributes modified"},
	[NP_STEP_MODIFY_USER_DATA] = {"Replacing user data", "still replacing user data",
	                              "User data replaced"},
};

static void timestamp(char out[32])
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Caller holds the lock. The status line is redrawn after every message. */
static void clear_status(struct np_progress *p)
{
	if (p->line_shown) {
		fputs("\r\033[K", p->out);
		p->line_shown = false;
	}
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static void emit_json(struct np_progress *p, json_t *ev)
{
	char ts[32];

	timestamp(ts);
	json_object_set_new(ev, "timestamp", json_string(ts));
	json_dumpf(ev, p->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', p->out);
	fflush(p->out);
	json_decref(ev);
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

static json_t *event(const char *type, const char *address, const char *id, enum np_step_kind kind)
{
	json_t *ev = json_pack("{s:s, s:s?, s:s?}", "type", type, "address", address,
	                       "instance_id", id);

	if ((int)kind >= 0)
		json_object_set_new(ev, "step", json_string(np_step_name(kind)));
	return ev;
}

void np_progress_step_start(struct np_progress *p, const char *address, const char *id,
                            enum np_step_kind kind)
{
	char idb[64];

	pthread_mutex_lock(&p->lock);
	if (p->json) {
		emit_json(p, event("step_start", address, id, kind));
	} else {
		clear_status(p);
		ident(idb, sizeof(idb), id);
		fprintf(p->out, "%s%s%s: %s...%s\n", p->color ? "\033[1m" : "", address,
		        p->color ? "\033[0m" : "", verbs[kind].doing, idb);
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
		json_t *ev = event("step_done", address, id, kind);

		json_object_set_new(ev, "elapsed_seconds", json_real(elapsed));
		emit_json(p, ev);
	} else {
		clear_status(p);
		ident(idb, sizeof(idb), id);
		fprintf(p->out, "%s%s%s: %s after %.0fs%s\n", p->color ? "\033[1m" : "", address,
		        p->color ? "\033[0m" : "", verbs[kind].done, elapsed, idb);
		draw_status(p);
	}
	pthread_mutex_unlock(&p->lock);
}

void np_progress_still(struct np_progress *p, const char *address, const char *id,
                       enum np_step_kind kind, double elapsed)
{
	pthread_mutex_lock(&p->lock);
	if (p->json) {
		json_t *ev = event("step_progress", address, id, kind);

		json_object_set_new(ev, "elapsed_seconds", json_real(elapsed));
		emit_json(p, ev);
	} else {
		clear_status(p);
		fprintf(p->out, "%s: %s... [%s%s%.0fs elapsed]\n", address, verbs[kind].still,
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
		json_t *ev = event("step_failed", address, id, kind);

		json_object_set_new(ev, "message", json_string(message));
		emit_json(p, ev);
	} else {
		clear_status(p);
		ident(idb, sizeof(idb), id);
		fprintf(p->out, "%s%s: %s failed%s:%s %s\n", p->color ? "\033[1;31m" : "", address,
		        (int)kind >= 0 ? np_step_name(kind) : "apply", idb, p->color ? "\033[0m" : "",
		        message);
		draw_status(p);
	}
	pthread_mutex_unlock(&p->lock);
}

void np_progress_note(struct np_progress *p, const char *address, const char *id, const char *msg)
{
	char idb[64];

	pthread_mutex_lock(&p->lock);
	if (p->json) {
		json_t *ev = event("note", address, id, (enum np_step_kind)-1);

		json_object_set_new(ev, "message", json_string(msg));
		emit_json(p, ev);
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

#define PART(cond, ...)                                                                   \
	do {                                                                                   \
		if ((cond) && len < size)                                                          \
			len += (size_t)snprintf(buf + len, size - len, __VA_ARGS__);                   \
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
		json_t *ev = json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:f}", "type",
		                       r->interrupted ? "apply_interrupted" : "apply_complete",
		                       "@level", r->interrupted || r->failed || r->unknown ? "error"
		                                                                         : "info",
		                       "summary", "add", r->added, "change", r->changed, "destroy",
		                       r->destroyed, "failed", r->failed, "unknown", r->unknown,
		                       "interrupted", r->halted, "not_started", r->not_started,
		                       "elapsed_seconds", elapsed);

		emit_json(p, ev);
		if (r->interrupted) {
			json_t *left = json_array();

			for (size_t i = 0; i < r->left_behind.n; i++)
				json_array_append_new(left, json_string(r->left_behind.v[i]));
			emit_json(p, json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:o}}", "type",
			                       "diagnostic", "@level", "error", "@message",
			                       "Error: apply interrupted", "diagnostic", "severity",
			                       "error", "summary", "apply interrupted", "detail",
			                       "the apply was interrupted by a signal; run apply again to "
			                       "resume",
			                       "left_behind", left));
		}
	} else if (r->interrupted) {
		char counts[256];

		interrupted_counts(counts, sizeof(counts), r);
		fprintf(p->out, "\n%sApply interrupted:%s %s.\n", p->color ? "\033[1;31m" : "",
		        p->color ? "\033[0m" : "", counts);
	} else if (r->failed || r->unknown) {
		fprintf(p->out, "\n%sApply finished with errors.%s %d added, %d changed, %d destroyed, "
		                "%d failed%s.\n",
		        p->color ? "\033[1;31m" : "", p->color ? "\033[0m" : "", r->added, r->changed,
		        r->destroyed, r->failed + r->unknown, r->unknown ? " (launch outcome unknown for some)" : "");
	} else {
		fprintf(p->out, "\n%sApply complete!%s %d added, %d changed, %d destroyed.\n",
		        p->color ? "\033[1;32m" : "", p->color ? "\033[0m" : "", r->added, r->changed,
		        r->destroyed);
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
		emit_json(p, json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:o}}", "type", "diagnostic",
		                       "@level", "error", "@message", "Error: apply abandoned",
		                       "diagnostic", "severity", "error", "summary",
		                       "interrupted twice: exiting now", "detail",
		                       "the next apply resumes what is left", "left_behind", left));
	} else {
		fprintf(p->out, "\n%sInterrupted twice: exiting now.%s", p->color ? "\033[1;31m" : "",
		        p->color ? "\033[0m" : "");
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
