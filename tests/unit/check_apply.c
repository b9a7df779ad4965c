/* apply: the waiter's settle decision, and the scheduler (np_apply_run)
 * driven through a fake EC2 (an in-memory fleet answering struct
 * np_apply_ec2) with a fake clock that moves only when apply waits, so no
 * test waits for EC2 or for a timeout. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/apply.h"
#include "nestplan/config.h"
#include "nestplan/ec2.h"
#include "nestplan/plan.h"
#include "nestplan/state.h"

/* ---- the fake clock ---- */

struct fake_clock {
	pthread_mutex_t mu;
	double t;
};

static double fake_now(void *ctx)
{
	struct fake_clock *c = ctx;
	double t;

	pthread_mutex_lock(&c->mu);
	t = c->t;
	pthread_mutex_unlock(&c->mu);
	return t;
}

/* Gives the other threads a moment (a millisecond at most, ended by any
 * signal); when nothing signalled, the wait's time has passed. */
static void fake_wait(void *ctx, pthread_cond_t *cond, pthread_mutex_t *mutex, double seconds)
{
	struct fake_clock *c = ctx;
	double until = fake_now(c) + (seconds > 0 ? seconds : 0);
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_cond_timedwait(cond, mutex, &ts) == ETIMEDOUT) {
		pthread_mutex_lock(&c->mu);
		if (c->t < until)
			c->t = until;
		pthread_mutex_unlock(&c->mu);
	}
}

/* ---- the fake fleet ---- */

enum fake_op {
	OP_RUN,
	OP_DESCRIBE,
	OP_STOP,
	OP_START,
	OP_TERMINATE,
	OP_MODIFY,
	OP_UNDO,
	OP_ALLOCATE,
	OP_DESCRIBE_HOSTS,
	OP_MODIFY_HOSTS,
	OP_RELEASE,
	OP__N
};

enum fault {
	FAULT_NONE = 0,
	FAULT_REFUSE, /* EC2 refuses: nothing happens */
	FAULT_LOSE,   /* it happens, the answer is lost on the way back */
};

struct fake_inst {
	struct np_instance inst;
	enum np_run_state target; /* where a transition ends; UNSET: none */
	int lag;                  /* Describe answers still showing the transition */
	int host_linger;          /* DescribeHosts answers still listing it, terminated */
};

/* A Dedicated Host: what it holds is the fleet's instances with its id. */
struct fake_host {
	struct np_host h;
};

struct fleet {
	pthread_mutex_t mu;
	struct fake_inst v[64];
	size_t n;
	int next_id;
	int lag; /* for every new transition */
	int calls[OP__N];
	enum fault fault[OP__N]; /* the next call of that op */
	int fault_after[OP__N];  /* ... after this many calls of it succeed */
	int fault_times[OP__N];  /* ... and this many more calls after it */
	int out, max_out;        /* instances out of service now, and at most */
	struct fake_host hosts[8];
	size_t n_hosts;
	int host_linger; /* DescribeHosts answers listing an instance after its termination */
	int occupied;    /* ReleaseHosts refused because instances were on the host */
	/* SIGINT as apply sees it, raised at that DescribeHosts-by-id call (0: never). */
	volatile sig_atomic_t *interrupt;
	int interrupt_at_describe_hosts;
	char log[64][24]; /* the mutating calls, in order ("allocate", "terminate", ...) */
	size_t n_log;
};

static struct fake_inst *fleet_find(struct fleet *f, const char *id)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].inst.instance_id, id))
			return &f->v[i];
	return NULL;
}

/* Out of service: anything but running. Counted after every change. */
static void fleet_count(struct fleet *f)
{
	int out = 0;

	for (size_t i = 0; i < f->n; i++)
		out +=
		    f->v[i].inst.state != NP_RUN_RUNNING && f->v[i].inst.state != NP_RUN_TERMINATED;
	f->out = out;
	if (out > f->max_out)
		f->max_out = out;
}

/* Whether this call fails, and how; counts it. Caller holds f->mu. */
static enum fault fleet_fault(struct fleet *f, enum fake_op op)
{
	enum fault x = FAULT_NONE;

	f->calls[op]++;
	if (f->fault[op] && f->fault_after[op]-- <= 0) {
		x = f->fault[op];
		if (f->fault_times[op]-- <= 0)
			f->fault[op] = FAULT_NONE;
	}
	return x;
}

/* Caller holds f->mu. */
static void fleet_log(struct fleet *f, const char *what)
{
	if (f->n_log < sizeof(f->log) / sizeof(f->log[0]))
		snprintf(f->log[f->n_log++], sizeof(f->log[0]), "%s", what);
}

/* The position of the first (last: false) logged call what; -1 when none. */
static int log_at(const struct fleet *f, const char *what, bool last)
{
	int at = -1;

	for (size_t i = 0; i < f->n_log; i++)
		if (!strcmp(f->log[i], what) && (at < 0 || last))
			at = (int)i;
	return at;
}

static int refused(struct np_err *err, const char *what)
{
	np_error_cls(err, NP_ERRC_BAD_REQUEST, "%s: refused by the fake", what);
	snprintf(err->code, sizeof(err->code), "InvalidParameterValue");
	err->http_status = 400;
	return -1;
}

static int lost(struct np_err *err, const char *what)
{
	/* No HTTP answer, no code: the outcome is unknown. */
	return np_error_cls(err, NP_ERRC_TRANSIENT, "%s: connection reset", what);
}

static void transition(struct fake_inst *x, enum np_run_state now, enum np_run_state target,
		       int lag)
{
	x->inst.state = now;
	x->target = target;
	x->lag = lag;
}

static struct fake_inst *fleet_add(struct fleet *f, const char *address, const char *type,
				   enum np_run_state state)
{
	struct fake_inst *x = &f->v[f->n++];
	char id[32];

	ck_assert_uint_le(f->n, 64);
	snprintf(id, sizeof(id), "i-%017x", ++f->next_id);
	memset(x, 0, sizeof(*x));
	x->inst.instance_id = strdup(id);
	x->inst.address = address ? strdup(address) : NULL;
	x->inst.lineage = strdup("L");
	x->inst.image_id = strdup("ami-0abcdef1234567890");
	x->inst.instance_type = strdup(type);
	x->inst.state = state;
	return x;
}

/* "runner[2..4]" with launch index k: "runner[2+k]". */
static char *address_of(const char *tag, int k)
{
	const char *open = strrchr(tag, '[');
	long lo, hi;
	char *out;

	if (!open || sscanf(open, "[%ld..%ld]", &lo, &hi) != 2)
		return strdup(tag);
	if (asprintf(&out, "%.*s[%ld]", (int)(open - tag), tag, lo + k) < 0)
		abort();
	return out;
}

static void copy_out(struct fleet *f, struct fake_inst **who, size_t n, struct np_instance **out,
		     size_t *n_out)
{
	*out = calloc(n ? n : 1, sizeof(**out));
	for (size_t i = 0; i < n; i++)
		np_instance_copy(&(*out)[i], &who[i]->inst);
	*n_out = n;
}

static int f_run(void *ctx, const struct np_ec2_launch *req, struct np_instance **out, size_t *n,
		 struct np_err *err)
{
	struct fleet *f = ctx;
	struct fake_inst *who[64];
	size_t k = 0;
	int count = req->count ? req->count : 1;
	enum fault x;

	pthread_mutex_lock(&f->mu);
	x = fleet_fault(f, OP_RUN);
	if (x == FAULT_REFUSE) {
		pthread_mutex_unlock(&f->mu);
		return refused(err, "RunInstances");
	}
	fleet_log(f, "run");
	/* A launch onto a host names one that is allocated. */
	if (req->attrs->host_id) {
		bool known = false;

		for (size_t i = 0; i < f->n_hosts; i++)
			known |= !strcmp(f->hosts[i].h.host_id, req->attrs->host_id) &&
				 f->hosts[i].h.state == NP_HOST_AVAILABLE;
		ck_assert_msg(known, "RunInstances onto host %s, which is not allocated",
			      req->attrs->host_id);
	}
	/* The same ClientToken answers with the instances it launched. */
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].inst.client_token &&
		    !strcmp(f->v[i].inst.client_token, req->client_token))
			who[k++] = &f->v[i];
	if (k == 0)
		for (int i = 0; i < count; i++) {
			char *address = address_of(np_tags_get(req->tags, NP_TAG_ADDRESS), i);
			struct fake_inst *nx =
			    fleet_add(f, address, req->attrs->instance_type, NP_RUN_PENDING);

			free(address);
			nx->inst.client_token = strdup(req->client_token);
			nx->inst.tenancy = req->attrs->tenancy;
			nx->inst.host_id = req->attrs->host_id ? strdup(req->attrs->host_id) : NULL;
			transition(nx, NP_RUN_PENDING, NP_RUN_RUNNING, f->lag);
			who[k++] = nx;
		}
	if (x == FAULT_LOSE) {
		pthread_mutex_unlock(&f->mu);
		return lost(err, "RunInstances");
	}
	copy_out(f, who, k, out, n);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_describe_ids(void *ctx, const char *const *ids, size_t n_ids, struct np_instance **out,
			  size_t *n, struct np_err *err)
{
	struct fleet *f = ctx;
	struct fake_inst *who[64];
	size_t k = 0;

	pthread_mutex_lock(&f->mu);
	if (fleet_fault(f, OP_DESCRIBE)) {
		pthread_mutex_unlock(&f->mu);
		return lost(err, "DescribeInstances");
	}
	for (size_t i = 0; i < n_ids; i++) {
		struct fake_inst *x = fleet_find(f, ids[i]);

		if (!x)
			continue;
		/* A transition shows in Describe after lag answers. */
		if (x->target && x->lag-- <= 0) {
			x->inst.state = x->target;
			x->target = NP_RUN_UNSET;
		}
		who[k++] = x;
	}
	fleet_count(f);
	copy_out(f, who, k, out, n);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_describe_filter(void *ctx, const char *name, const char *const *values,
			     size_t n_values, struct np_instance **out, size_t *n,
			     struct np_err *err)
{
	struct fleet *f = ctx;
	struct fake_inst *who[64];
	size_t k = 0;

	ck_assert_str_eq(name, "client-token");
	pthread_mutex_lock(&f->mu);
	f->calls[OP_DESCRIBE]++;
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = 0; j < n_values; j++)
			if (f->v[i].inst.client_token &&
			    !strcmp(f->v[i].inst.client_token, values[j]))
				who[k++] = &f->v[i];
	copy_out(f, who, k, out, n);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_state_call(struct fleet *f, enum fake_op op, const char *const *ids, size_t n,
			struct np_err *err)
{
	static const char *const names[] = { [OP_STOP] = "StopInstances",
					     [OP_START] = "StartInstances",
					     [OP_TERMINATE] = "TerminateInstances" };
	enum fault x;

	pthread_mutex_lock(&f->mu);
	x = fleet_fault(f, op);
	if (x == FAULT_REFUSE) {
		pthread_mutex_unlock(&f->mu);
		return refused(err, names[op]);
	}
	fleet_log(f, op == OP_STOP ? "stop" : op == OP_START ? "start" : "terminate");
	for (size_t i = 0; i < n; i++) {
		struct fake_inst *x1 = fleet_find(f, ids[i]);

		ck_assert_msg(x1 != NULL, "%s of an unknown instance %s", names[op], ids[i]);
		if (op == OP_TERMINATE)
			x1->host_linger = f->host_linger;
		if (op == OP_STOP)
			transition(x1, NP_RUN_STOPPING, NP_RUN_STOPPED, f->lag);
		else if (op == OP_START)
			transition(x1, NP_RUN_PENDING, NP_RUN_RUNNING, f->lag);
		else
			transition(x1, NP_RUN_SHUTTING_DOWN, NP_RUN_TERMINATED, f->lag);
	}
	fleet_count(f);
	pthread_mutex_unlock(&f->mu);
	return x == FAULT_LOSE ? lost(err, names[op]) : 0;
}

static int f_stop(void *ctx, const char *const *ids, size_t n, struct np_err *err)
{
	return f_state_call(ctx, OP_STOP, ids, n, err);
}

static int f_start(void *ctx, const char *const *ids, size_t n, struct np_err *err)
{
	return f_state_call(ctx, OP_START, ids, n, err);
}

static int f_terminate(void *ctx, const char *const *ids, size_t n, struct np_err *err)
{
	return f_state_call(ctx, OP_TERMINATE, ids, n, err);
}

static int set_type(struct fleet *f, enum fake_op op, const char *id, const char *type,
		    struct np_err *err)
{
	struct fake_inst *x;

	pthread_mutex_lock(&f->mu);
	if (fleet_fault(f, op) == FAULT_REFUSE) {
		pthread_mutex_unlock(&f->mu);
		return refused(err, "ModifyInstanceAttribute");
	}
	x = fleet_find(f, id);
	ck_assert_ptr_nonnull(x);
	/* EC2 changes the type of a stopped instance only. */
	ck_assert_int_eq(x->inst.state, NP_RUN_STOPPED);
	free(x->inst.instance_type);
	x->inst.instance_type = strdup(type);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_modify(void *ctx, const char *id, const struct np_step *s, struct np_err *err)
{
	struct fleet *f = ctx;

	if (s->kind == NP_STEP_MODIFY_INSTANCE_TYPE)
		return set_type(f, OP_MODIFY, id, s->instance_type, err);
	pthread_mutex_lock(&f->mu);
	if (fleet_fault(f, OP_MODIFY) == FAULT_REFUSE) {
		pthread_mutex_unlock(&f->mu);
		return refused(err, np_step_label(s));
	}
	if (s->kind == NP_STEP_MODIFY_CPU_OPTIONS) {
		struct fake_inst *x = fleet_find(f, id);

		x->inst.core_count = s->core_count;
		x->inst.threads_per_core = s->threads_per_core;
	} else if (s->kind == NP_STEP_MODIFY_PLACEMENT) {
		struct fake_inst *x = fleet_find(f, id);

		ck_assert_int_eq(x->inst.state, NP_RUN_STOPPED);
		x->inst.tenancy = s->tenancy;
		free(x->inst.host_id);
		x->inst.host_id = s->host_id ? strdup(s->host_id) : NULL;
	}
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_undo(void *ctx, const char *id, const struct np_step *s,
		  const struct np_instance *before, struct np_err *err)
{
	struct fleet *f = ctx;

	if (s->kind == NP_STEP_MODIFY_INSTANCE_TYPE)
		return set_type(f, OP_UNDO, id, before->instance_type, err);
	pthread_mutex_lock(&f->mu);
	f->calls[OP_UNDO]++;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

/* ---- the fake hosts ---- */

static struct fake_host *host_find(struct fleet *f, const char *id)
{
	for (size_t i = 0; i < f->n_hosts; i++)
		if (!strcmp(f->hosts[i].h.host_id, id))
			return &f->hosts[i];
	return NULL;
}

static struct fake_host *host_add(struct fleet *f, const char *address, const char *family)
{
	struct fake_host *x = &f->hosts[f->n_hosts++];
	char id[32];

	ck_assert_uint_le(f->n_hosts, 8);
	snprintf(id, sizeof(id), "h-%017zx", f->n_hosts);
	memset(x, 0, sizeof(*x));
	x->h.host_id = strdup(id);
	x->h.address = address ? strdup(address) : NULL;
	x->h.lineage = strdup("L");
	x->h.instance_family = strdup(family);
	x->h.availability_zone = strdup("us-east-1a");
	x->h.state = NP_HOST_AVAILABLE;
	x->h.auto_placement = NP_BOOL_FALSE;
	x->h.host_recovery = NP_BOOL_TRUE;
	return x;
}

/* Its instances, as DescribeHosts lists them: not terminated, or terminated
 * lately (consume: one answer fewer). Caller holds f->mu. */
static void host_instances(struct fleet *f, struct fake_host *x, bool consume)
{
	np_strv_release(&x->h.instance_ids);
	for (size_t i = 0; i < f->n; i++) {
		struct fake_inst *in = &f->v[i];

		if (!in->inst.host_id || strcmp(in->inst.host_id, x->h.host_id))
			continue;
		if (in->inst.state == NP_RUN_TERMINATED && in->target == NP_RUN_UNSET &&
		    (consume ? in->host_linger-- : in->host_linger) <= 0)
			continue;
		np_strv_push(&x->h.instance_ids, in->inst.instance_id);
	}
}

static int f_allocate(void *ctx, const struct np_ec2_allocate *req, struct np_strv *ids,
		      struct np_err *err)
{
	struct fleet *f = ctx;
	struct fake_host *x = NULL;
	enum fault fx;

	pthread_mutex_lock(&f->mu);
	fx = fleet_fault(f, OP_ALLOCATE);
	if (fx == FAULT_REFUSE) {
		pthread_mutex_unlock(&f->mu);
		np_error_cls(err, NP_ERRC_CAPACITY, "AllocateHosts: refused by the fake");
		snprintf(err->code, sizeof(err->code), "InsufficientHostCapacity");
		err->http_status = 400;
		return -1;
	}
	fleet_log(f, "allocate");
	/* The same ClientToken answers with the host it allocated. */
	for (size_t i = 0; i < f->n_hosts && !x; i++)
		if (f->hosts[i].h.client_token &&
		    !strcmp(f->hosts[i].h.client_token, req->client_token))
			x = &f->hosts[i];
	if (!x) {
		x = host_add(f, np_tags_get(req->tags, NP_TAG_ADDRESS),
			     req->host->instance_family ? req->host->instance_family : "m8i");
		x->h.client_token = strdup(req->client_token);
		x->h.auto_placement = req->host->auto_placement;
		x->h.host_recovery = req->host->host_recovery;
		np_tags_copy(&x->h.tags, req->tags);
	}
	if (fx == FAULT_LOSE) {
		pthread_mutex_unlock(&f->mu);
		return lost(err, "AllocateHosts");
	}
	np_strv_push(ids, x->h.host_id);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static void hosts_out(struct fleet *f, struct fake_host **who, size_t n, struct np_host **out,
		      size_t *n_out)
{
	*out = calloc(n ? n : 1, sizeof(**out));
	for (size_t i = 0; i < n; i++)
		np_host_copy(&(*out)[i], &who[i]->h);
	*n_out = n;
}

static int f_describe_hosts_ids(void *ctx, const char *const *ids, size_t n_ids,
				struct np_host **out, size_t *n, struct np_err *err)
{
	struct fleet *f = ctx;
	struct fake_host *who[8];
	size_t k = 0;

	pthread_mutex_lock(&f->mu);
	f->calls[OP_DESCRIBE_HOSTS]++;
	if (f->interrupt && f->interrupt_at_describe_hosts &&
	    f->calls[OP_DESCRIBE_HOSTS] == f->interrupt_at_describe_hosts)
		*f->interrupt = 1;
	for (size_t i = 0; i < n_ids; i++) {
		struct fake_host *x = host_find(f, ids[i]);

		if (!x)
			continue;
		host_instances(f, x, true);
		who[k++] = x;
	}
	hosts_out(f, who, k, out, n);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_describe_hosts_filter(void *ctx, const char *name, const char *const *values,
				   size_t n_values, struct np_host **out, size_t *n,
				   struct np_err *err)
{
	struct fleet *f = ctx;
	struct fake_host *who[8];
	size_t k = 0;

	ck_assert_str_eq(name, "client-token");
	pthread_mutex_lock(&f->mu);
	f->calls[OP_DESCRIBE_HOSTS]++;
	for (size_t i = 0; i < f->n_hosts; i++)
		for (size_t j = 0; j < n_values; j++)
			if (f->hosts[i].h.client_token &&
			    !strcmp(f->hosts[i].h.client_token, values[j]))
				who[k++] = &f->hosts[i];
	hosts_out(f, who, k, out, n);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_modify_hosts(void *ctx, const char *const *ids, size_t n, enum np_bool auto_placement,
			  enum np_bool host_recovery, struct np_err *err)
{
	struct fleet *f = ctx;

	pthread_mutex_lock(&f->mu);
	fleet_fault(f, OP_MODIFY_HOSTS);
	fleet_log(f, "modify_hosts");
	for (size_t i = 0; i < n; i++) {
		struct fake_host *x = host_find(f, ids[i]);

		ck_assert_ptr_nonnull(x);
		if (auto_placement)
			x->h.auto_placement = auto_placement;
		if (host_recovery)
			x->h.host_recovery = host_recovery;
	}
	pthread_mutex_unlock(&f->mu);
	return 0;
}

/* EC2 refuses to release a host instances still occupy. */
static int f_release(void *ctx, const char *const *ids, size_t n, struct np_err *err)
{
	struct fleet *f = ctx;

	pthread_mutex_lock(&f->mu);
	fleet_fault(f, OP_RELEASE);
	for (size_t i = 0; i < n; i++) {
		struct fake_host *x = host_find(f, ids[i]);

		ck_assert_ptr_nonnull(x);
		host_instances(f, x, false);
		if (x->h.instance_ids.n) {
			f->occupied++;
			pthread_mutex_unlock(&f->mu);
			np_error_cls(err, NP_ERRC_BAD_REQUEST, "ReleaseHosts: %s is occupied",
				     ids[i]);
			snprintf(err->code, sizeof(err->code), "Client.InvalidHost.Occupied");
			return -1;
		}
	}
	fleet_log(f, "release");
	for (size_t i = 0; i < n; i++)
		host_find(f, ids[i])->h.state = NP_HOST_RELEASED;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static const struct np_apply_ec2 fake_ops_template = {
	.allocate_hosts = f_allocate,
	.describe_hosts_by_id = f_describe_hosts_ids,
	.describe_hosts_filter = f_describe_hosts_filter,
	.modify_hosts = f_modify_hosts,
	.release_hosts = f_release,
	.run_instances = f_run,
	.describe_instances_by_id = f_describe_ids,
	.describe_instances_filter = f_describe_filter,
	.stop_instances = f_stop,
	.start_instances = f_start,
	.terminate_instances = f_terminate,
	.modify = f_modify,
	.undo = f_undo,
};

/* ---- one apply: the file, the fleet, a state, the plan, the run ---- */

struct world {
	char dir[64], path[96];
	struct fleet fleet;
	struct fake_clock clock;
	struct np_apply_ec2 ops;
	struct np_clock clk;
	struct np_state *st;
	struct np_config *cfg;
	struct np_catalog cat;
	struct np_plan plan;
	bool has_plan;
	struct np_apply_result res;
	volatile sig_atomic_t interrupted; /* SIGINT as apply sees it */
	FILE *out;
	char *outbuf;
	size_t outlen;
};

static struct world *w;

static void setup(void)
{
	struct np_err err = NP_ERR_INIT;

	w = calloc(1, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "/tmp/np-apply-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(w->dir));
	snprintf(w->path, sizeof(w->path), "%s/state.db", w->dir);
	pthread_mutex_init(&w->fleet.mu, NULL);
	pthread_mutex_init(&w->clock.mu, NULL);
	w->clock.t = 1000;
	w->ops = fake_ops_template;
	w->ops.ctx = &w->fleet;
	w->clk = (struct np_clock){ fake_now, fake_wait, &w->clock };
	ck_assert_msg(np_state_open(&w->st, w->path, NP_STATE_CREATE, &err) == 0, "%s", err.msg);
	np_catalog_builtin(&w->cat);
	w->out = open_memstream(&w->outbuf, &w->outlen);
}

static void teardown(void)
{
	char cmd[128];

	if (w->has_plan)
		np_plan_release(&w->plan);
	np_apply_result_release(&w->res);
	np_config_free(w->cfg);
	np_catalog_release(&w->cat);
	np_state_close(w->st);
	for (size_t i = 0; i < w->fleet.n; i++)
		np_instance_release(&w->fleet.v[i].inst);
	for (size_t i = 0; i < w->fleet.n_hosts; i++)
		np_host_release(&w->fleet.hosts[i].h);
	fclose(w->out);
	free(w->outbuf);
	pthread_mutex_destroy(&w->fleet.mu);
	pthread_mutex_destroy(&w->clock.mu);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
	ck_assert_int_eq(system(cmd), 0);
	free(w);
}

/* What the fleet has is what the state recorded (an earlier apply made it). */
static void record_fleet(void)
{
	struct np_err err = NP_ERR_INIT;

	for (size_t i = 0; i < w->fleet.n; i++)
		ck_assert_msg(np_state_put(w->st, &w->fleet.v[i].inst, &err) == 0, "%s", err.msg);
}

static void plan_for(const char *yaml)
{
	struct np_err err = NP_ERR_INIT;
	struct np_instance *live = calloc(w->fleet.n ? w->fleet.n : 1, sizeof(*live)), *rec = NULL;
	size_t n_rec = 0;
	struct np_plan_input in = { 0 };

	np_config_free(w->cfg);
	w->cfg = NULL;
	ck_assert_msg(np_config_parse(&w->cfg, "t", yaml, strlen(yaml), &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < w->fleet.n; i++)
		np_instance_copy(&live[i], &w->fleet.v[i].inst);
	ck_assert_msg(np_state_list(w->st, &rec, &n_rec, &err) == 0, "%s", err.msg);
	in.config = w->cfg;
	in.recorded = rec;
	in.n_recorded = n_rec;
	in.live = live;
	in.n_live = w->fleet.n;
	in.catalog = &w->cat;
	in.lineage = np_state_lineage(w->st);
	if (w->has_plan)
		np_plan_release(&w->plan);
	ck_assert_msg(np_plan_build(&w->plan, &in, &err) == 0, "%s", err.msg);
	w->has_plan = true;
	ck_assert_msg(!np_plan_has_errors(&w->plan), "plan has errors: %s",
		      w->plan.n_diags ? w->plan.diags[0].message : "");
	np_instances_free(live, w->fleet.n);
	np_instances_free(rec, n_rec);
}

static void run_with(const struct np_journal_entry *pending, size_t n_pending)
{
	struct np_err err = NP_ERR_INIT;
	struct np_apply_opts o = { .parallelism = 4,
				   .step_timeout = 600,
				   .out = w->out,
				   .catalog = &w->cat,
				   .run_id = "test",
				   .pending = pending,
				   .n_pending = n_pending,
				   .ec2 = &w->ops,
				   .clock = &w->clk,
				   .interrupted = &w->interrupted };

	np_apply_result_release(&w->res);
	ck_assert_msg(np_apply_run(NULL, w->st, w->cfg, &w->plan, &o, &w->res, &err) == 0, "%s",
		      err.msg);
	fflush(w->out);
}

static void run(void) { run_with(NULL, 0); }

static const struct fake_inst *by_address(const char *address)
{
	for (size_t i = 0; i < w->fleet.n; i++)
		if (w->fleet.v[i].inst.address && !strcmp(w->fleet.v[i].inst.address, address) &&
		    w->fleet.v[i].inst.state != NP_RUN_TERMINATED)
			return &w->fleet.v[i];
	return NULL;
}

static const char *recorded_type(const char *address)
{
	static char type[64];
	struct np_instance in = { 0 };
	struct np_err err = NP_ERR_INIT;
	bool found = false;

	ck_assert_msg(np_state_get(w->st, address, &in, &found, &err) == 0, "%s", err.msg);
	if (!found)
		return NULL;
	snprintf(type, sizeof(type), "%s", in.instance_type ? in.instance_type : "");
	np_instance_release(&in);
	return type;
}

#define FILE_HEAD     "version: 1\ninstances:\n"
#define B_ENTRY(type) "  b: { image_id: ami-0abcdef1234567890, instance_type: " type " }\n"

/* ---- the waiter's decision ---- */

START_TEST(test_settle_decisions)
{
	static const struct {
		enum np_run_state want;
		bool listed;
		enum np_run_state got;
		double now;
		enum np_settle expect;
	} cases[] = {
		/* reached */
		{ NP_RUN_RUNNING, true, NP_RUN_RUNNING, 5, NP_SETTLE_DONE },
		{ NP_RUN_STOPPED, true, NP_RUN_STOPPED, 5, NP_SETTLE_DONE },
		/* on the way, or EC2 still showing the state before the call */
		{ NP_RUN_RUNNING, true, NP_RUN_PENDING, 5, NP_SETTLE_WAIT },
		{ NP_RUN_RUNNING, true, NP_RUN_STOPPED, 5, NP_SETTLE_WAIT },
		{ NP_RUN_STOPPED, true, NP_RUN_STOPPING, 5, NP_SETTLE_WAIT },
		{ NP_RUN_STOPPED, true, NP_RUN_RUNNING, 5, NP_SETTLE_WAIT },
		{ NP_RUN_TERMINATED, true, NP_RUN_SHUTTING_DOWN, 5, NP_SETTLE_WAIT },
		/* ... until the deadline */
		{ NP_RUN_RUNNING, true, NP_RUN_PENDING, 11, NP_SETTLE_TIMED_OUT },
		{ NP_RUN_STOPPED, true, NP_RUN_RUNNING, 11, NP_SETTLE_TIMED_OUT },
		/* botocore's failure states (waiters-2.json) */
		{ NP_RUN_RUNNING, true, NP_RUN_SHUTTING_DOWN, 5, NP_SETTLE_FAILED },
		{ NP_RUN_RUNNING, true, NP_RUN_TERMINATED, 5, NP_SETTLE_FAILED },
		{ NP_RUN_RUNNING, true, NP_RUN_STOPPING, 5, NP_SETTLE_FAILED },
		{ NP_RUN_STOPPED, true, NP_RUN_PENDING, 5, NP_SETTLE_FAILED },
		{ NP_RUN_STOPPED, true, NP_RUN_TERMINATED, 5, NP_SETTLE_FAILED },
		{ NP_RUN_TERMINATED, true, NP_RUN_PENDING, 5, NP_SETTLE_FAILED },
		{ NP_RUN_TERMINATED, true, NP_RUN_STOPPING, 5, NP_SETTLE_FAILED },
		/* not listed: a launch not visible yet; a terminated one gone */
		{ NP_RUN_RUNNING, false, NP_RUN_UNSET, 5, NP_SETTLE_WAIT },
		{ NP_RUN_RUNNING, false, NP_RUN_UNSET, 11, NP_SETTLE_TIMED_OUT },
		{ NP_RUN_TERMINATED, false, NP_RUN_UNSET, 5, NP_SETTLE_DONE },
		/* a re-read: settled states only, whatever shows at the deadline */
		{ NP_RUN_UNSET, true, NP_RUN_STOPPED, 5, NP_SETTLE_DONE },
		{ NP_RUN_UNSET, true, NP_RUN_PENDING, 5, NP_SETTLE_WAIT },
		{ NP_RUN_UNSET, true, NP_RUN_STOPPING, 5, NP_SETTLE_WAIT },
		{ NP_RUN_UNSET, true, NP_RUN_PENDING, 11, NP_SETTLE_DONE },
		{ NP_RUN_UNSET, false, NP_RUN_UNSET, 11, NP_SETTLE_TIMED_OUT },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(np_apply_settle(cases[i].want, cases[i].listed, cases[i].got,
					      cases[i].now, 10) == cases[i].expect,
			      "case %zu: want %s, got %s at %g", i,
			      np_run_state_name(cases[i].want), np_run_state_name(cases[i].got),
			      cases[i].now);
}
END_TEST

/* ---- the scheduler through the fake ---- */

START_TEST(test_launch_three)
{
	w->fleet.lag = 3;
	plan_for(FILE_HEAD "  runner: { count: 3, image_id: ami-0abcdef1234567890, "
			   "instance_type: m6i.large }\n");
	run();
	ck_assert_int_eq(w->res.added, 3);
	ck_assert_int_eq(w->res.failed, 0);
	ck_assert_uint_eq(w->fleet.n, 3);
	for (int i = 0; i < 3; i++) {
		char address[32];
		const struct fake_inst *x;

		snprintf(address, sizeof(address), "runner[%d]", i);
		x = by_address(address);
		ck_assert_msg(x != NULL, "%s not launched", address);
		ck_assert_int_eq(x->inst.state, NP_RUN_RUNNING);
		ck_assert_str_eq(recorded_type(address), "m6i.large");
	}
	/* The waiter polled until the launches showed as running. */
	ck_assert_int_ge(w->fleet.calls[OP_DESCRIBE], 4);
}
END_TEST

START_TEST(test_launch_survives_lost_describe_answers)
{
	w->fleet.fault[OP_DESCRIBE] = FAULT_LOSE;
	plan_for(FILE_HEAD B_ENTRY("m6i.large"));
	run();
	ck_assert_int_eq(w->res.added, 1);
	ck_assert_int_eq(w->res.failed, 0);
	ck_assert_int_eq(by_address("b")->inst.state, NP_RUN_RUNNING);
}
END_TEST

START_TEST(test_type_change_cycle_ends_running)
{
	w->fleet.lag = 2;
	fleet_add(&w->fleet, "b", "m6i.large", NP_RUN_RUNNING);
	record_fleet();
	plan_for(FILE_HEAD B_ENTRY("m6i.xlarge"));
	ck_assert(w->plan.changes[0].requires_stop);
	run();
	ck_assert_int_eq(w->res.changed, 1);
	ck_assert_int_eq(w->res.failed, 0);
	ck_assert_int_eq(w->fleet.calls[OP_STOP], 1);
	ck_assert_int_eq(w->fleet.calls[OP_MODIFY], 1);
	ck_assert_int_eq(w->fleet.calls[OP_START], 1);
	ck_assert_str_eq(w->fleet.v[0].inst.instance_type, "m6i.xlarge");
	ck_assert_int_eq(w->fleet.v[0].inst.state, NP_RUN_RUNNING);
	ck_assert_str_eq(recorded_type("b"), "m6i.xlarge");
}
END_TEST

START_TEST(test_failure_mid_cycle_puts_it_back)
{
	/* The type goes through, the CPU options call is refused: the type is
	 * put back and the instance started in its previous configuration. */
	fleet_add(&w->fleet, "b", "m6i.large", NP_RUN_RUNNING);
	record_fleet();
	w->fleet.fault[OP_MODIFY] = FAULT_REFUSE;
	w->fleet.fault_after[OP_MODIFY] = 1;
	plan_for(FILE_HEAD "  b: { image_id: ami-0abcdef1234567890, instance_type: m8i.xlarge, "
			   "cpu_options: { core_count: 1 } }\n");
	ck_assert_uint_ge(w->plan.changes[0].n_steps, 4);
	run();
	ck_assert_int_eq(w->res.failed, 1);
	ck_assert_int_eq(w->res.changed, 0);
	ck_assert_int_eq(w->fleet.calls[OP_UNDO], 1);
	ck_assert_str_eq(w->fleet.v[0].inst.instance_type, "m6i.large");
	ck_assert_int_eq(w->fleet.v[0].inst.state, NP_RUN_RUNNING);
	ck_assert_ptr_nonnull(strstr(w->res.failures.v[0], "refused by the fake"));
	ck_assert_str_eq(recorded_type("b"), "m6i.large");
}
END_TEST

START_TEST(test_refused_start_is_not_claimed_running)
{
	/* Every start is refused: neither the cycle's nor the rollback's
	 * brings it back, and apply says so instead of claiming it runs. */
	fleet_add(&w->fleet, "b", "m6i.large", NP_RUN_RUNNING);
	record_fleet();
	w->fleet.fault[OP_START] = FAULT_REFUSE;
	w->fleet.fault_times[OP_START] = 5;
	plan_for(FILE_HEAD B_ENTRY("m6i.xlarge"));
	run();
	ck_assert_int_eq(w->res.failed, 1);
	ck_assert_int_eq(w->res.changed, 0);
	ck_assert_int_eq(w->fleet.calls[OP_START], 2);
	ck_assert_int_eq(w->fleet.v[0].inst.state, NP_RUN_STOPPED);
	ck_assert_str_eq(w->fleet.v[0].inst.instance_type, "m6i.large"); /* the type was put back */
	ck_assert_ptr_nonnull(strstr(w->res.failures.v[0], "start"));
}
END_TEST

START_TEST(test_failure_after_irreversible_step_keeps_new_configuration)
{
	/* Dedicated to host has no way back: when the start after it fails
	 * once, the instance is started as it now is and the failure says the
	 * previous configuration is gone. */
	struct fake_inst *x = fleet_add(&w->fleet, "b", "m6i.large", NP_RUN_RUNNING);

	x->inst.tenancy = NP_TENANCY_DEDICATED;
	record_fleet();
	w->fleet.fault[OP_START] = FAULT_REFUSE;
	plan_for(FILE_HEAD "  b: { image_id: ami-0abcdef1234567890, instance_type: m6i.large, "
			   "placement: { tenancy: host, host_id: h-0123456789abcdef0 } }\n");
	ck_assert(w->plan.changes[0].irreversible);
	run();
	ck_assert_int_eq(w->res.failed, 1);
	ck_assert_int_eq(w->fleet.calls[OP_UNDO], 0);
	ck_assert_int_eq(w->fleet.v[0].inst.tenancy, NP_TENANCY_HOST);
	ck_assert_int_eq(w->fleet.v[0].inst.state, NP_RUN_RUNNING);
	ck_assert_ptr_nonnull(strstr(w->res.failures.v[0], "no way back"));
	ck_assert_ptr_null(strstr(w->outbuf, "previous configuration\n"));
}
END_TEST

START_TEST(test_max_unavailable_one_at_a_time)
{
	w->fleet.lag = 2;
	for (int i = 0; i < 4; i++) {
		char address[32];

		snprintf(address, sizeof(address), "runner[%d]", i);
		fleet_add(&w->fleet, address, "m6i.large", NP_RUN_RUNNING);
	}
	record_fleet();
	plan_for(FILE_HEAD "  runner: { count: 4, image_id: ami-0abcdef1234567890, "
			   "instance_type: m6i.xlarge, rollout: { max_unavailable: 1 } }\n");
	run();
	ck_assert_int_eq(w->res.changed, 4);
	ck_assert_int_eq(w->res.failed, 0);
	ck_assert_int_eq(w->fleet.max_out, 1);
	ck_assert_int_eq(w->fleet.calls[OP_STOP], 4);
	for (size_t i = 0; i < w->fleet.n; i++) {
		ck_assert_str_eq(w->fleet.v[i].inst.instance_type, "m6i.xlarge");
		ck_assert_int_eq(w->fleet.v[i].inst.state, NP_RUN_RUNNING);
	}
}
END_TEST

START_TEST(test_without_limit_several_are_out)
{
	/* The counter can see more than one out: the test above means something. */
	w->fleet.lag = 2;
	for (int i = 0; i < 4; i++) {
		char address[32];

		snprintf(address, sizeof(address), "runner[%d]", i);
		fleet_add(&w->fleet, address, "m6i.large", NP_RUN_RUNNING);
	}
	record_fleet();
	plan_for(FILE_HEAD "  runner: { count: 4, image_id: ami-0abcdef1234567890, "
			   "instance_type: m6i.xlarge, rollout: { max_unavailable: 4 } }\n");
	run();
	ck_assert_int_eq(w->res.changed, 4);
	ck_assert_int_gt(w->fleet.max_out, 1);
}
END_TEST

START_TEST(test_lost_launch_answer_is_found_by_token)
{
	struct np_journal_entry *pending = NULL;
	size_t n_pending = 0;
	struct np_err err = NP_ERR_INIT;

	/* The launch happens but its answer is lost: unknown, token kept. */
	w->fleet.fault[OP_RUN] = FAULT_LOSE;
	plan_for(FILE_HEAD B_ENTRY("m6i.large"));
	run();
	ck_assert_int_eq(w->res.unknown, 1);
	ck_assert_int_eq(w->res.added, 0);
	ck_assert_uint_eq(w->fleet.n, 1);
	/* The next apply finds it under that token instead of launching another. */
	ck_assert_msg(np_state_journal_pending(w->st, &pending, &n_pending, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_ge(n_pending, 1);
	plan_for(FILE_HEAD B_ENTRY("m6i.large"));
	run_with(pending, n_pending);
	ck_assert_int_eq(w->res.added, 1);
	ck_assert_uint_eq(w->fleet.n, 1);
	ck_assert_str_eq(recorded_type("b"), "m6i.large");
	np_journal_entries_free(pending, n_pending);
}
END_TEST

/* ---- Dedicated Hosts: hand-made plans (the planner's side is check_plan's) ---- */

static void plan_reset(void)
{
	if (w->has_plan)
		np_plan_release(&w->plan);
	memset(&w->plan, 0, sizeof(w->plan));
	w->plan.lineage = strdup(np_state_lineage(w->st));
	w->has_plan = true;
}

static struct np_change *plan_add(enum np_kind kind, const char *address, enum np_action action)
{
	struct np_plan *p = &w->plan;
	struct np_change *c;

	NP_ALLOC_GROW(p->changes, p->n_changes + 1, p->alloc_changes);
	c = &p->changes[p->n_changes++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->address = strdup(address);
	c->action = action;
	return c;
}

static struct np_step *step_add(struct np_change *c, enum np_step_kind k)
{
	struct np_step *st;

	NP_ALLOC_GROW(c->steps, c->n_steps + 1, c->alloc_steps);
	st = &c->steps[c->n_steps++];
	memset(st, 0, sizeof(*st));
	st->kind = k;
	return st;
}

static void plan_allocate(const char *address)
{
	struct np_change *c = plan_add(NP_KIND_HOST, address, NP_ACTION_CREATE);

	c->has_after = true;
	c->host_after.address = strdup(address);
	c->host_after.instance_family = strdup("m8i");
	c->host_after.availability_zone = strdup("us-east-1a");
	c->host_after.auto_placement = NP_BOOL_FALSE;
	c->host_after.host_recovery = NP_BOOL_TRUE;
	np_tags_set(&c->host_after.tags, "team", "ci");
	step_add(c, NP_STEP_ALLOCATE_HOSTS);
}

static void plan_launch_on(const char *address, const char *host)
{
	struct np_change *c = plan_add(NP_KIND_INSTANCE, address, NP_ACTION_CREATE);

	c->has_after = true;
	c->after.address = strdup(address);
	c->after.image_id = strdup("ami-0abcdef1234567890");
	c->after.instance_type = strdup("m8i.4xlarge");
	c->after.tenancy = NP_TENANCY_HOST;
	c->after.host_address = strdup(host);
	step_add(c, NP_STEP_RUN_INSTANCES)->host_address = strdup(host);
}

static void plan_terminate(const struct fake_inst *x)
{
	struct np_change *c = plan_add(NP_KIND_INSTANCE, x->inst.address, NP_ACTION_DELETE);

	c->instance_id = strdup(x->inst.instance_id);
	c->has_before = true;
	np_instance_copy(&c->before, &x->inst);
	step_add(c, NP_STEP_TERMINATE);
}

static void plan_release(const struct fake_host *x)
{
	struct np_change *c = plan_add(NP_KIND_HOST, x->h.address, NP_ACTION_DELETE);

	c->host_id = strdup(x->h.host_id);
	c->has_before = true;
	np_host_copy(&c->host_before, &x->h);
	step_add(c, NP_STEP_RELEASE_HOSTS);
}

/* The state's host rows, by address: the id, or NULL when none. */
static const char *recorded_host(const char *address)
{
	static char id[64];
	struct np_host *v = NULL;
	struct np_err err = NP_ERR_INIT;
	size_t n = 0;
	bool found = false;

	ck_assert_msg(np_state_host_list(w->st, &v, &n, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].address, address)) {
			snprintf(id, sizeof(id), "%s", v[i].host_id ? v[i].host_id : "");
			found = true;
		}
	np_hosts_free(v, n);
	return found ? id : NULL;
}

static const struct fake_host *host_by_address(const char *address)
{
	for (size_t i = 0; i < w->fleet.n_hosts; i++)
		if (w->fleet.hosts[i].h.address && !strcmp(w->fleet.hosts[i].h.address, address) &&
		    w->fleet.hosts[i].h.state != NP_HOST_RELEASED)
			return &w->fleet.hosts[i];
	return NULL;
}

/* Two hosts and three instances on them, recorded as an earlier apply left them. */
static void hosts_world(void)
{
	static const char *const on[] = { "kvm[0]", "kvm[1]", "kvm[0]" };
	struct np_err err = NP_ERR_INIT;

	host_add(&w->fleet, "kvm[0]", "m8i");
	host_add(&w->fleet, "kvm[1]", "m8i");
	for (int i = 0; i < 3; i++) {
		char address[32];
		struct fake_inst *x;

		snprintf(address, sizeof(address), "r[%d]", i);
		x = fleet_add(&w->fleet, address, "m8i.4xlarge", NP_RUN_RUNNING);
		x->inst.tenancy = NP_TENANCY_HOST;
		x->inst.host_id = strdup(host_by_address(on[i])->h.host_id);
		x->inst.host_address = strdup(on[i]);
	}
	record_fleet();
	for (size_t i = 0; i < w->fleet.n_hosts; i++)
		ck_assert_msg(np_state_host_put(w->st, &w->fleet.hosts[i].h, &err) == 0, "%s",
			      err.msg);
}

START_TEST(test_hosts_allocated_before_launches_onto_them)
{
	static const char *const on[] = { "kvm[0]", "kvm[1]", "kvm[0]", "kvm[1]" };

	plan_reset();
	plan_allocate("kvm[0]");
	plan_allocate("kvm[1]");
	for (int i = 0; i < 4; i++) {
		char address[32];

		snprintf(address, sizeof(address), "r[%d]", i);
		plan_launch_on(address, on[i]);
	}
	run();
	ck_assert_msg(w->res.failed == 0, "%s", w->res.failures.n ? w->res.failures.v[0] : "");
	ck_assert_int_eq(w->res.added, 6);
	ck_assert_int_eq(w->fleet.calls[OP_ALLOCATE], 2);
	/* Every allocation went out before the first launch. */
	ck_assert_int_lt(log_at(&w->fleet, "allocate", true), log_at(&w->fleet, "run", false));
	for (int i = 0; i < 4; i++) {
		char address[32];
		const struct fake_inst *x;
		const struct fake_host *h = host_by_address(on[i]);
		struct np_instance rec = { 0 };
		struct np_err err = NP_ERR_INIT;
		bool found = false;

		snprintf(address, sizeof(address), "r[%d]", i);
		x = by_address(address);
		ck_assert_ptr_nonnull(x);
		ck_assert_ptr_nonnull(h);
		/* The launch sent the HostId of the host its step names. */
		ck_assert_str_eq(x->inst.host_id, h->h.host_id);
		ck_assert_int_eq(x->inst.tenancy, NP_TENANCY_HOST);
		ck_assert_str_eq(recorded_host(on[i]), h->h.host_id);
		ck_assert(np_state_get(w->st, address, &rec, &found, &err) == 0 && found);
		ck_assert_str_eq(rec.host_address, on[i]);
		np_instance_release(&rec);
	}
	/* The host carries nestplan's tags and the file's. */
	ck_assert_str_eq(np_tags_get(&host_by_address("kvm[1]")->h.tags, NP_TAG_ADDRESS), "kvm[1]");
	ck_assert_str_eq(np_tags_get(&host_by_address("kvm[1]")->h.tags, "team"), "ci");
}
END_TEST

START_TEST(test_contract_through_the_planner)
{
	/* The file, planned by the planner and applied through the fake:
	 * two hosts first, then six instances spread three and three. */
	int on0 = 0, on1 = 0;

	plan_for("version: 1\n"
		 "defaults: { image_id: ami-0abcdef1234567890 }\n"
		 "hosts:\n"
		 "  kvm-hosts: { count: 2, instance_family: m8i, availability_zone: us-east-1a,\n"
		 "               auto_placement: false, host_recovery: true, tags: { team: ci } }\n"
		 "instances:\n"
		 "  runner: { count: 6, instance_type: m8i.4xlarge,\n"
		 "            cpu_options: { nested_virtualization: enabled },\n"
		 "            placement: { tenancy: host, host: kvm-hosts } }\n");
	run();
	ck_assert_msg(w->res.failed == 0, "%s", w->res.failures.n ? w->res.failures.v[0] : "");
	ck_assert_int_eq(w->res.added, 8);
	ck_assert_int_eq(w->fleet.calls[OP_ALLOCATE], 2);
	ck_assert_int_lt(log_at(&w->fleet, "allocate", true), log_at(&w->fleet, "run", false));
	ck_assert_ptr_nonnull(host_by_address("kvm-hosts[0]"));
	ck_assert_ptr_nonnull(host_by_address("kvm-hosts[1]"));
	for (size_t i = 0; i < w->fleet.n; i++) {
		const char *hid = w->fleet.v[i].inst.host_id;

		ck_assert_ptr_nonnull(hid);
		on0 += !strcmp(hid, host_by_address("kvm-hosts[0]")->h.host_id);
		on1 += !strcmp(hid, host_by_address("kvm-hosts[1]")->h.host_id);
	}
	ck_assert_int_eq(on0, 3);
	ck_assert_int_eq(on1, 3);
}
END_TEST

START_TEST(test_release_waits_until_the_host_is_empty)
{
	hosts_world();
	/* DescribeHosts lists a terminated instance on its host for a while. */
	w->fleet.host_linger = 3;
	plan_reset();
	plan_terminate(&w->fleet.v[0]);
	plan_terminate(&w->fleet.v[2]);
	plan_release(&w->fleet.hosts[0]);
	run();
	ck_assert_msg(w->res.failed == 0, "%s", w->res.failures.n ? w->res.failures.v[0] : "");
	ck_assert_int_eq(w->res.destroyed, 3);
	ck_assert_int_eq(w->fleet.calls[OP_RELEASE], 1);
	/* It never asked while the host was occupied: it waited. */
	ck_assert_int_eq(w->fleet.occupied, 0);
	ck_assert_int_ge(w->fleet.calls[OP_DESCRIBE_HOSTS], 3);
	ck_assert_int_lt(log_at(&w->fleet, "terminate", true), log_at(&w->fleet, "release", false));
	ck_assert_int_eq(w->fleet.hosts[0].h.state, NP_HOST_RELEASED);
	ck_assert_ptr_null(recorded_host("kvm[0]"));
	ck_assert_str_eq(recorded_host("kvm[1]"), w->fleet.hosts[1].h.host_id);
}
END_TEST

START_TEST(test_interrupted_while_waiting_for_an_empty_host_releases_nothing)
{
	hosts_world();
	/* The host stays occupied in DescribeHosts' answers; SIGINT comes while
	 * apply waits for it to empty. */
	w->fleet.host_linger = 1000;
	w->fleet.interrupt = &w->interrupted;
	w->fleet.interrupt_at_describe_hosts = 2;
	plan_reset();
	plan_terminate(&w->fleet.v[0]);
	plan_terminate(&w->fleet.v[2]);
	plan_release(&w->fleet.hosts[0]);
	run();
	ck_assert(w->res.interrupted);
	/* The terminations were done; the release never was, nor promised. */
	ck_assert_int_eq(w->fleet.calls[OP_RELEASE], 0);
	ck_assert_int_eq(w->fleet.hosts[0].h.state, NP_HOST_AVAILABLE);
	ck_assert_str_eq(recorded_host("kvm[0]"), w->fleet.hosts[0].h.host_id);
	ck_assert_int_eq(w->res.halted, 1);
}
END_TEST

START_TEST(test_no_release_when_an_instance_on_it_failed)
{
	hosts_world();
	w->fleet.fault[OP_TERMINATE] = FAULT_REFUSE;
	w->fleet.fault_after[OP_TERMINATE] = 0;
	w->fleet.fault_times[OP_TERMINATE] = 10;
	plan_reset();
	plan_terminate(&w->fleet.v[0]);
	plan_terminate(&w->fleet.v[2]);
	plan_release(&w->fleet.hosts[0]);
	run();
	ck_assert_int_eq(w->fleet.calls[OP_RELEASE], 0);
	ck_assert_int_eq(log_at(&w->fleet, "release", false), -1);
	ck_assert_int_eq(w->res.failed, 3);
	ck_assert_int_eq(w->res.destroyed, 0);
	ck_assert_int_eq(w->fleet.hosts[0].h.state, NP_HOST_AVAILABLE);
	ck_assert_str_eq(recorded_host("kvm[0]"), w->fleet.hosts[0].h.host_id);
	{
		bool said = false;

		for (size_t i = 0; i < w->res.failures.n; i++)
			said |= strstr(w->res.failures.v[i], "kvm[0]") &&
				strstr(w->res.failures.v[i], "not released");
		ck_assert_msg(said, "no failure says the host was not released");
	}
}
END_TEST

START_TEST(test_lost_allocation_is_adopted_by_token)
{
	struct np_journal_entry *pending = NULL;
	size_t n_pending = 0;
	struct np_err err = NP_ERR_INIT;
	bool open_alloc = false;

	/* The host is allocated, the answer lost before it is recorded. */
	w->fleet.fault[OP_ALLOCATE] = FAULT_LOSE;
	plan_reset();
	plan_allocate("kvm[0]");
	plan_launch_on("r[0]", "kvm[0]");
	run();
	ck_assert_int_eq(w->res.unknown, 1);
	ck_assert_int_eq(w->res.failed, 1); /* r[0]: no HostId to launch onto */
	ck_assert_int_eq(w->fleet.calls[OP_RUN], 0);
	ck_assert_ptr_null(recorded_host("kvm[0]"));
	ck_assert_uint_eq(w->fleet.n_hosts, 1);
	ck_assert_ptr_nonnull(strstr(w->res.failures.v[1], "kvm[0]"));
	ck_assert_msg(np_state_journal_pending(w->st, &pending, &n_pending, &err) == 0, "%s",
		      err.msg);
	for (size_t i = 0; i < n_pending; i++)
		open_alloc |= !strcmp(pending[i].step, "allocate_hosts") && pending[i].client_token;
	ck_assert(open_alloc);
	/* The next apply finds it by that token: no second AllocateHosts. */
	plan_reset();
	plan_allocate("kvm[0]");
	plan_launch_on("r[0]", "kvm[0]");
	run_with(pending, n_pending);
	np_journal_entries_free(pending, n_pending);
	ck_assert_msg(w->res.failed == 0, "%s", w->res.failures.n ? w->res.failures.v[0] : "");
	ck_assert_int_eq(w->res.added, 2);
	ck_assert_int_eq(w->fleet.calls[OP_ALLOCATE], 1);
	ck_assert_uint_eq(w->fleet.n_hosts, 1);
	ck_assert_str_eq(recorded_host("kvm[0]"), w->fleet.hosts[0].h.host_id);
	ck_assert_str_eq(by_address("r[0]")->inst.host_id, w->fleet.hosts[0].h.host_id);
	/* ... and the entry is closed. */
	pending = NULL;
	n_pending = 0;
	ck_assert(np_state_journal_pending(w->st, &pending, &n_pending, &err) == 0);
	for (size_t i = 0; i < n_pending; i++)
		ck_assert_str_ne(pending[i].step, "allocate_hosts");
	np_journal_entries_free(pending, n_pending);
}
END_TEST

START_TEST(test_replaced_host_released_after_its_instance_moved)
{
	/* kvm[0] is replaced (another family): the new host is allocated first,
	 * r[0] moves onto it in its stop cycle (the HostId the state has for
	 * kvm[0] by then: the new one), and only then is the old one released;
	 * the row of kvm[0] stays, with the new host. */
	struct fake_host *old;
	struct np_change *c;
	char *old_id;

	hosts_world();
	old = &w->fleet.hosts[0];
	old_id = strdup(old->h.host_id);
	plan_reset();
	c = plan_add(NP_KIND_HOST, "kvm[0]", NP_ACTION_REPLACE);
	c->host_id = strdup(old_id);
	c->has_before = c->has_after = true;
	np_host_copy(&c->host_before, &old->h);
	np_host_copy(&c->host_after, &old->h);
	free(c->host_after.host_id);
	c->host_after.host_id = NULL;
	step_add(c, NP_STEP_ALLOCATE_HOSTS);
	step_add(c, NP_STEP_RELEASE_HOSTS);
	for (int i = 0; i < 3; i += 2) {
		const struct fake_inst *x = &w->fleet.v[i];
		struct np_step *st;

		c = plan_add(NP_KIND_INSTANCE, x->inst.address, NP_ACTION_UPDATE);
		c->instance_id = strdup(x->inst.instance_id);
		c->requires_stop = true;
		c->has_before = c->has_after = true;
		np_instance_copy(&c->before, &x->inst);
		np_instance_copy(&c->after, &x->inst);
		step_add(c, NP_STEP_STOP);
		st = step_add(c, NP_STEP_MODIFY_PLACEMENT);
		st->tenancy = NP_TENANCY_HOST;
		st->host_address = strdup("kvm[0]");
		step_add(c, NP_STEP_START);
	}
	run();
	ck_assert_msg(w->res.failed == 0, "%s", w->res.failures.n ? w->res.failures.v[0] : "");
	ck_assert_uint_eq(w->fleet.n_hosts, 3);
	ck_assert_int_eq(w->fleet.hosts[0].h.state, NP_HOST_RELEASED);
	ck_assert_str_ne(host_by_address("kvm[0]")->h.host_id, old_id);
	ck_assert_str_eq(recorded_host("kvm[0]"), host_by_address("kvm[0]")->h.host_id);
	ck_assert_str_eq(w->fleet.v[0].inst.host_id, host_by_address("kvm[0]")->h.host_id);
	ck_assert_str_eq(w->fleet.v[2].inst.host_id, host_by_address("kvm[0]")->h.host_id);
	ck_assert_int_eq(w->fleet.occupied, 0);
	ck_assert_int_lt(log_at(&w->fleet, "allocate", false), log_at(&w->fleet, "stop", false));
	ck_assert_int_lt(log_at(&w->fleet, "start", true), log_at(&w->fleet, "release", false));
	free(old_id);
}
END_TEST

START_TEST(test_interrupted_before_the_hosts_allocates_and_launches_nothing)
{
	w->interrupted = 1;
	plan_reset();
	plan_allocate("kvm[0]");
	plan_launch_on("r[0]", "kvm[0]");
	run();
	ck_assert_int_eq(w->fleet.calls[OP_ALLOCATE], 0);
	ck_assert_int_eq(w->fleet.calls[OP_RUN], 0);
	ck_assert(w->res.interrupted);
	ck_assert_int_eq(w->res.halted + w->res.not_started, 2);
	ck_assert_int_eq(w->res.added, 0);
}
END_TEST

START_TEST(test_modify_hosts_recorded)
{
	struct np_change *c;
	struct np_host *v = NULL;
	struct np_err err = NP_ERR_INIT;
	size_t n = 0;

	hosts_world();
	plan_reset();
	c = plan_add(NP_KIND_HOST, "kvm[1]", NP_ACTION_UPDATE);
	c->host_id = strdup(w->fleet.hosts[1].h.host_id);
	c->has_before = c->has_after = true;
	np_host_copy(&c->host_before, &w->fleet.hosts[1].h);
	np_host_copy(&c->host_after, &w->fleet.hosts[1].h);
	c->host_after.auto_placement = NP_BOOL_TRUE;
	step_add(c, NP_STEP_MODIFY_HOSTS)->auto_placement = NP_BOOL_TRUE;
	run();
	ck_assert_int_eq(w->res.changed, 1);
	ck_assert_int_eq(w->fleet.calls[OP_MODIFY_HOSTS], 1);
	ck_assert_int_eq(w->fleet.hosts[1].h.auto_placement, NP_BOOL_TRUE);
	ck_assert(np_state_host_list(w->st, &v, &n, &err) == 0);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].address, "kvm[1]"))
			ck_assert_int_eq(v[i].auto_placement, NP_BOOL_TRUE);
	np_hosts_free(v, n);
}
END_TEST

Suite *check_apply_suite(void)
{
	Suite *s = suite_create("apply");
	TCase *tc = tcase_create("settle");
	TCase *run_tc = tcase_create("scheduler");

	tcase_add_test(tc, test_settle_decisions);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(run_tc, setup, teardown);
	tcase_set_timeout(run_tc, 120);
	tcase_add_test(run_tc, test_launch_three);
	tcase_add_test(run_tc, test_launch_survives_lost_describe_answers);
	tcase_add_test(run_tc, test_type_change_cycle_ends_running);
	tcase_add_test(run_tc, test_failure_mid_cycle_puts_it_back);
	tcase_add_test(run_tc, test_refused_start_is_not_claimed_running);
	tcase_add_test(run_tc, test_failure_after_irreversible_step_keeps_new_configuration);
	tcase_add_test(run_tc, test_max_unavailable_one_at_a_time);
	tcase_add_test(run_tc, test_without_limit_several_are_out);
	tcase_add_test(run_tc, test_lost_launch_answer_is_found_by_token);
	tcase_add_test(run_tc, test_hosts_allocated_before_launches_onto_them);
	tcase_add_test(run_tc, test_contract_through_the_planner);
	tcase_add_test(run_tc, test_release_waits_until_the_host_is_empty);
	tcase_add_test(run_tc, test_no_release_when_an_instance_on_it_failed);
	tcase_add_test(run_tc, test_lost_allocation_is_adopted_by_token);
	tcase_add_test(run_tc, test_modify_hosts_recorded);
	tcase_add_test(run_tc, test_interrupted_before_the_hosts_allocates_and_launches_nothing);
	tcase_add_test(run_tc, test_interrupted_while_waiting_for_an_empty_host_releases_nothing);
	tcase_add_test(run_tc, test_replaced_host_released_after_its_instance_moved);
	suite_add_tcase(s, run_tc);
	return s;
}
