/* What people and pipelines see: plan and drift in text (Terraform's manner)
 * and JSON (the contract of DESIGN.md), JUnit and Markdown drift reports,
 * saved plan files, and the state. */
#ifndef NESTPLAN_RENDER_H
#define NESTPLAN_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "nestplan/json.h"
#include "nestplan/plan.h"
#include "nestplan/state.h"

struct np_config;

struct np_render_opts {
	bool color;
	bool expand;                    /* -expand: every instance, no collapsed ranges */
	const struct np_config *config; /* for rollout.max_unavailable; NULL: not said */
};

void np_render_plan_text(FILE *out, const struct np_plan *plan, const struct np_render_opts *o);
json_t *np_render_plan_json(const struct np_plan *plan);
/* Whether the text plan shows b in one block with a, its predecessor: the
 * next index of the same group, the same action, steps (with their
 * parameters) and reason, and the same text under the header (body_a,
 * body_b: what is shown of each). */
bool np_render_same_change(const struct np_change *a, const char *body_a, const struct np_change *b,
			   const char *body_b);
/* At most how many instances of group rollout.max_unavailable lets be out of
 * service at once, as apply's scheduler counts it; 0 when unbounded. */
int np_render_rollout_limit(const struct np_config *cfg, const char *group);

void np_render_drift_text(FILE *out, const struct np_plan *plan, const struct np_render_opts *o);
json_t *np_render_drift_json(const struct np_plan *plan);
void np_render_drift_junit(FILE *out, const struct np_plan *plan);
void np_render_drift_markdown(FILE *out, const struct np_plan *plan);

/* A saved plan: the plan with every step's parameters, the state's lineage
 * and serial and the file's hash, so apply can refuse it when stale. */
int np_planfile_save(const struct np_plan *plan, const char *path, struct np_err *err);
int np_planfile_load(struct np_plan *out, const char *path, struct np_err *err);
json_t *np_plan_to_json_full(const struct np_plan *plan);
int np_plan_from_json_full(struct np_plan *out, const json_t *j, struct np_err *err);

/* region and account: where the state is pinned (NULL: not yet). */
json_t *np_render_state_json(const char *lineage, long long serial, const char *region,
			     const char *account, const struct np_instance *res, size_t n);
void np_render_state_text(FILE *out, const struct np_instance *res, size_t n,
			  const struct np_render_opts *o);
/* Dedicated Hosts in the state (issue 18): appended to np_render_state_json's
 * resources with "kind": "host" (instances have "kind": "instance"), the
 * list kept in address order; and as text. */
void np_render_state_add_hosts(json_t *state, const struct np_host *hosts, size_t n);
void np_render_hosts_text(FILE *out, const struct np_host *hosts, size_t n,
			  const struct np_render_opts *o);
void np_render_history(FILE *out, const struct np_history_entry *h, size_t n, bool json);

#endif
