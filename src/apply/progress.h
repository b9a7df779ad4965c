/* What apply tells a person (lines, a live status line) or a pipeline (one
 * JSON event per line). Thread-safe: workers and the waiter report here. */
#ifndef NESTPLAN_APPLY_PROGRESS_H
#define NESTPLAN_APPLY_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "nestplan/plan.h"

struct np_progress {
	FILE *out;
	bool json;
	bool status_line;     /* redraw one status line; plain lines otherwise */
	bool color;
	bool line_shown;      /* a status line is on screen and must be cleared first */
	int total, done, failed, running, waiting;
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
void np_progress_counts(struct np_progress *p, int running, int waiting, int done, int failed);
void np_progress_summary(struct np_progress *p, int added, int changed, int destroyed, int failed,
                         double elapsed);

#endif
