/* apply: carry a plan out against EC2 — a scheduler that runs each
 * instance's steps in order and different instances concurrently, one shared
 * waiter, a journal entry around every mutating call, and rollback of a
 * failed stop/modify/start cycle. */
#ifndef NESTPLAN_APPLY_H
#define NESTPLAN_APPLY_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "nestplan/aws.h"
#include "nestplan/config.h"
#include "nestplan/error.h"
#include "nestplan/host.h"
#include "nestplan/model.h"
#include "nestplan/plan.h"
#include "nestplan/state.h"

struct np_apply_result;
struct np_ec2_launch;
struct np_ec2_allocate;

/* The EC2 calls apply makes, so a test can answer them from a fake fleet
 * (tests/unit/check_apply.c). ctx is passed to each; every call returns 0 or
 * -1 with err filled as np_aws_call fills it (err->cls tells a lost answer
 * from a refusal). np_apply_ec2_default gives the real client's. */
struct np_apply_ec2 {
	int (*run_instances)(void *ctx, const struct np_ec2_launch *req, struct np_instance **out,
			     size_t *n, struct np_err *err);
	/* An id EC2 does not list (yet) is just absent from out. */
	int (*describe_instances_by_id)(void *ctx, const char *const *ids, size_t n_ids,
					struct np_instance **out, size_t *n, struct np_err *err);
	int (*describe_instances_filter)(void *ctx, const char *name, const char *const *values,
					 size_t n_values, struct np_instance **out, size_t *n,
					 struct np_err *err);
	int (*stop_instances)(void *ctx, const char *const *ids, size_t n, struct np_err *err);
	int (*start_instances)(void *ctx, const char *const *ids, size_t n, struct np_err *err);
	int (*terminate_instances)(void *ctx, const char *const *ids, size_t n, struct np_err *err);
	/* The call of one modify or tag step (np_launch_modify). */
	int (*modify)(void *ctx, const char *id, const struct np_step *s, struct np_err *err);
	/* Undo a modify step, back to before (np_launch_undo). */
	int (*undo)(void *ctx, const char *id, const struct np_step *s,
		    const struct np_instance *before, struct np_err *err);
	/* The image's root device name and snapshot size (DescribeImages);
	 * NULL: a launch maps no root volume. */
	int (*image_root)(void *ctx, const char *image_id, char **device, int *snapshot_gib,
			  struct np_err *err);
	/* Dedicated Hosts (src/apply/hosts.c). */
	int (*allocate_hosts)(void *ctx, const struct np_ec2_allocate *req, struct np_strv *ids,
			      struct np_err *err);
	int (*describe_hosts_by_id)(void *ctx, const char *const *ids, size_t n_ids,
				    struct np_host **out, size_t *n, struct np_err *err);
	int (*describe_hosts_filter)(void *ctx, const char *name, const char *const *values,
				     size_t n_values, struct np_host **out, size_t *n,
				     struct np_err *err);
	int (*modify_hosts)(void *ctx, const char *const *ids, size_t n,
			    enum np_bool auto_placement, enum np_bool host_recovery,
			    struct np_err *err);
	int (*release_hosts)(void *ctx, const char *const *ids, size_t n, struct np_err *err);
	void *ctx;
};
/* The real EC2 client's calls on aws. */
void np_apply_ec2_default(struct np_apply_ec2 *out, struct np_aws *aws);

/* apply's time: now() in seconds on a clock that only goes forward, and a
 * wait on cond (mutex held, released meanwhile as pthread_cond_timedwait
 * does) that ends when cond is signalled or seconds have passed. A test's
 * clock moves only in wait, so no test waits for real timeouts. */
struct np_clock {
	double (*now)(void *ctx);
	void (*wait)(void *ctx, pthread_cond_t *cond, pthread_mutex_t *mutex, double seconds);
	void *ctx;
};
/* CLOCK_MONOTONIC and pthread_cond_timedwait. */
extern const struct np_clock np_clock_real;

struct np_apply_opts {
	int parallelism;           /* API calls in flight; default 10 */
	double step_timeout;       /* seconds one wait may take; default 600 */
	double poll_min, poll_max; /* waiter backoff bounds in seconds; 0: defaults */
	bool json;                 /* one JSON event per line */
	bool status_line;          /* a live status line (terminal, not automation) */
	bool color;
	FILE *out;
	/* Set by SIGINT/SIGTERM: 1 after the first (start nothing new, put stopped
	 * instances back, end the waits), 2 after a second (abandon at once). */
	volatile sig_atomic_t *interrupted;
	/* A second signal: called once no journal write is under way, after the
	 * list of what may be left behind is printed; it must not return. */
	void (*abandon)(void *arg, const struct np_apply_result *res);
	void *abandon_arg;
	const struct np_catalog *catalog; /* the types' defaults, for launches; may be NULL */
	const char *run_id;
	/* What a killed apply left in the journal, read once by the caller. */
	const struct np_journal_entry *pending;
	size_t n_pending;
	/* NULL: the real EC2 client on np_apply_run's aws, and the real clock. */
	const struct np_apply_ec2 *ec2;
	const struct np_clock *clock;
};

struct np_apply_result {
	int added, changed, destroyed;
	int failed;
	int halted;  /* interrupted half-way; the next apply resumes them */
	int unknown; /* launches without an answer; their tokens are kept */
	int not_started;
	struct np_strv failures;    /* "ADDRESS (ID): STEP: message" */
	struct np_strv left_behind; /* "ADDRESS (ID): what state it was left in" */
	bool interrupted;
	char *changes; /* JSON array for the history:
	                               * {address, action, instance_id, outcome} */
};

/* Send every kind of mutating call the plan makes once with DryRun=true.
 * -1 (nothing changed) when EC2 answers UnauthorizedOperation. */
int np_apply_preflight(struct np_aws *aws, const struct np_config *cfg, const struct np_plan *plan,
		       const char *lineage, struct np_err *err);

/* Run the plan (aws may be NULL when opts->ec2 is set). Per-instance failures are in res (and the return is still 0);
 * -1 only when the run could not start. */
int np_apply_run(struct np_aws *aws, struct np_state *st, const struct np_config *cfg,
		 const struct np_plan *plan, const struct np_apply_opts *opts,
		 struct np_apply_result *res, struct np_err *err);
void np_apply_result_release(struct np_apply_result *res);

/* Record EC2's view (live; NULL: the instance is gone) of a change's instance
 * in the state, under its address and with the file's user-data hash. */
int np_apply_put(struct np_state *st, const struct np_change *c, const struct np_instance *live,
		 struct np_err *err);

/* The same for a host change (kind NP_KIND_HOST): EC2's view of the host
 * (live; NULL: it is gone, the row is removed) under the change's address. */
int np_apply_put_host(struct np_state *st, const struct np_change *c, const struct np_host *live,
		      struct np_err *err);

/* The ClientToken of a launch: deterministic from lineage, address and the
 * launch generation, at most 64 characters. */
void np_apply_client_token(char out[65], const char *lineage, const char *address, int generation);

#endif
