/* refresh: gathering the plan's inputs — the state, what EC2 reports, the
 * instance-type catalog (cached in the state) — and building the plan from
 * them. Every input is an argument: no command-line context. */
#ifndef NESTPLAN_REFRESH_H
#define NESTPLAN_REFRESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nestplan/aws.h"
#include "nestplan/config.h"
#include "nestplan/error.h"
#include "nestplan/model.h"
#include "nestplan/plan.h"
#include "nestplan/state.h"

/* Where the inputs come from. */
struct np_refresh_src {
	struct np_aws *aws;             /* NULL: offline (no call is made) */
	struct np_state *state;         /* NULL only for the catalog */
	const struct np_config *config; /* NULL: no file (destroy, import) */
	FILE *warn;                     /* "Warning: ..." lines; NULL: stderr */
};

/* The state pins where its instances live: a run against another region is
 * refused before any call, another account as soon as an answer shows it. */
int np_refresh_check_region(struct np_aws *aws, struct np_state *state, struct np_err *err);
/* Pin the region of this run and the account of the recorded instances. */
int np_refresh_pin_location(struct np_aws *aws, struct np_state *state, struct np_err *err);

/* What EC2 reports about the recorded instances and the file's adoptions:
 * one filtered listing by lineage tag plus id batches for the rest. */
int np_refresh_live(const struct np_refresh_src *src, const struct np_instance *recorded,
		    size_t n_recorded, struct np_instance **out, size_t *n_out, struct np_err *err);

/* What DescribeHosts reports about the recorded hosts and the file's
 * adoptions: a listing filtered on the lineage tag, then by id for any
 * recorded host it lacks (absence from a listing is not proof it is gone). */
int np_refresh_live_hosts(const struct np_refresh_src *src, const struct np_host *recorded,
			  size_t n_recorded, struct np_host **out, size_t *n_out,
			  struct np_err *err);

/* The attributes only DescribeInstanceAttribute reports (the protection
 * flags), one call per instance and attribute, set on live. With plan: only
 * the flags a change needs (a termination: both; a stop: disable_api_stop; a
 * change of the flag: it) whose file or state sets them — the protection
 * check needs those, the rest would cost calls for nothing; without (drift
 * -deep): every flag of every recorded instance EC2 still has.
 * *n_read: the values read. A failed read keeps what was recorded (warned);
 * only an interrupt fails. */
int np_refresh_read_described(const struct np_refresh_src *src, const struct np_plan *plan,
			      const struct np_instance *recorded, size_t n_recorded,
			      struct np_instance *live, size_t n_live, size_t *n_read,
			      struct np_err *err);

/* The catalog for the types in use: cache, then EC2 (when online), then the
 * built-in table. Never fails. */
void np_refresh_catalog(const struct np_refresh_src *src, const struct np_instance *recorded,
			size_t n_recorded, bool online, struct np_catalog *out);

/* What plan, apply, drift and destroy share. */
struct np_refresh_req {
	bool destroy;
	bool refresh_only;
	bool refresh; /* false: the state stands for EC2 */
	bool deep;    /* read every protection flag (drift -deep) */
	const char *const *targets;
	size_t n_targets;
	const char *const *replace;
	size_t n_replace;
};
/* Read the state, refresh, build the plan (and, when the plan needs
 * protection flags, read them and build it again). */
int np_refresh_plan(const struct np_refresh_src *src, const struct np_refresh_req *req,
		    struct np_plan *out, struct np_err *err);

#endif
