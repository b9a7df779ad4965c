/* What apply tells a person (lines, a live status line) or a pipeline (one
 * JSON event per line). Thread-safe: workers and the waiter report here. */
#ifndef NESTPLAN_APPLY_PROGRESS_H
#define NESTPLAN_APPLY_PROGRESS_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "nestplan/apply.h"
#include "nestplan/plan.h"

/* Every task is in exactly one of these, so they sum to the total. */
struct np_progress_counts {
	int done, failed, halted;
	int cycle;   /* out of service in a stop/modify/start cycle */
	int waiting; /* a call in flight or waiting for EC2 */
	int queued;  /* behind its group's rollout.max_unavailable */
	int not_started;
};

struct np_progress {
	FILE *out;
	bool json;
	bool status_line; /* redraw one status line; plain lines otherwise */
	bool color;
	bool line_shown; /* a status line is on screen and must be cleared first */
	int total;
	struct np_progress_counts n;
	double started; /* monotonic seconds, for the elapsed time */
	pthread_mutex_t lock;
};

void np_progress_init(struct np_progress *p, FILE *out, bool json, bool status_line, bool color,
		      int total);
void np_progress_release(struct np_progress *p);
void np_progress_step_start(struct np_progress *p, const char *address, const char *id,
			    enum np_step_kind kind);
void np_progress_step_done(struct np_progress *p, const char *address, const char *id,
			   enum np_step_kind kind, double elapsed);
void np_progress_still(struct np_progress *p, const char *address, const char *id,
		       enum np_step_kind kind, double elapsed);
void np_progress_failed(struct np_progress *p, const char *address, const char *id,
			enum np_step_kind kind, const char *message);
void np_progress_note(struct np_progress *p, const char *address, const char *id, const char *msg);
void np_progress_counts(struct np_progress *p, const struct np_progress_counts *n);
/* The last lines: "Apply complete!", "Apply finished with errors." or, after
 * a signal, "Apply interrupted: ..." in the error style (JSON: a summary event
 * and then an error diagnostic). */
void np_progress_summary(struct np_progress *p, const struct np_apply_result *res, double elapsed);
/* A second signal: what may be left behind, and that the next apply resumes. */
void np_progress_abandoned(struct np_progress *p, const struct np_apply_result *res);

/* Terraform's machine-readable UI (schemas/apply-events.schema.json): one
 * object per line with "@level", "@message", "@module", "@timestamp" and
 * "type". apply and destroy -json print nothing else on standard output. */
#define NP_UI_MODULE  "nestplan.ui"
#define NP_UI_VERSION "1.0"

/* One line: the envelope, then fields (taken; may be NULL) merged in. */
void np_ui_emit(FILE *out, const char *level, const char *type, json_t *fields, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));
/* The first line of every stream: {"type": "version", "nestplan": ..., "ui": ...}. */
void np_ui_version(FILE *out);
/* Terraform's resource object for an address ("runner[3]"). */
json_t *np_ui_resource(const char *address);
/* A diagnostic line; extra (taken; may be NULL) is merged into "diagnostic". */
void np_ui_diagnostic(FILE *out, const char *severity, const char *summary, const char *detail,
		      const char *address, json_t *extra);
/* A plan as Terraform streams it: resource_drift, planned_change for every
 * change that is not a no-op, its diagnostics, then change_summary. */
void np_ui_plan(FILE *out, const struct np_plan *plan);

#endif
