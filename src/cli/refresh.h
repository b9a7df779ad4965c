/* The refresh module (src/refresh) called with the command line's context. */
#ifndef NESTPLAN_CLI_REFRESH_H
#define NESTPLAN_CLI_REFRESH_H

#include "nestplan/cli.h"
#include "nestplan/model.h"
#include "nestplan/plan.h"
#include "nestplan/refresh.h"

int np_cli_refresh(struct np_ctx *ctx, const struct np_instance *recorded, size_t n_recorded,
		   struct np_instance **out, size_t *n_out, struct np_err *err);
/* The state pins where its instances live: a run against another region is
 * refused before any call, another account as soon as an answer shows it. */
int np_cli_check_region(struct np_ctx *ctx, struct np_err *err);
/* Pin the region of this run and the account of the recorded instances. */
int np_cli_pin_location(struct np_ctx *ctx, struct np_err *err);

/* The catalog for the types in use: cache, then EC2 (when online), then the
 * built-in table. Never fails. */
void np_cli_catalog(struct np_ctx *ctx, const struct np_instance *recorded, size_t n_recorded,
		    bool online, struct np_catalog *out);

/* What plan, apply and drift share: read state, refresh, build the plan. */
struct np_cli_plan_req {
	bool destroy;
	bool refresh_only;
	bool refresh;
	const struct np_instance *overrides; /* unused when NULL */
	bool deep;                           /* read every protection flag (drift -deep) */
};
int np_cli_make_plan(struct np_ctx *ctx, const struct np_cli_plan_req *req, struct np_plan *out,
		     struct np_err *err);

#endif
