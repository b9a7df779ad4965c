/* The scheduler: P worker threads make calls (so -parallelism bounds calls
 * in flight), one waiter thread polls every waiting instance in batches, and
 * rollout slots bound how many instances of a group are out of service. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply/internal.h"
#include "apply/launch.h"
#include "nestplan/alloc.h"
#include "nestplan/clock.h"
#include "nestplan/log.h"

#define MAX_BATCH 1000
/* Instances per RunInstances call: EC2 launches all or none of a call, so a
 * bounded batch keeps a capacity shortfall from failing a whole fleet. */
#define LAUNCH_BATCH 100
/* How long an instance ready to stop, start or terminate waits for others
 * still in their own calls to join it in one call. */
#define COALESCE_SECONDS 0.5

/* An absolute CLOCK_REALTIME time `seconds` from now, for timed waits. */
static void deadline_in(double seconds, struct timespec *ts)
{
	double t = np_wall_now() + seconds;

	ts->tv_sec = (time_t)t;
	ts->tv_nsec = (long)((t - floor(t)) * 1e9);
}

static double real_now(void *ctx) { return np_monotonic_now(); }

static void real_wait(void *ctx, pthread_cond_t *cond, pthread_mutex_t *mutex, double seconds)
{
	struct timespec ts;

	deadline_in(seconds, &ts);
	pthread_cond_timedwait(cond, mutex, &ts);
}

const struct np_clock np_clock_real = { real_now, real_wait, NULL };

double np_apply_now(const struct apply *a) { return a->clock.now(a->clock.ctx); }

void np_apply_wait(struct apply *a, double seconds)
{
	a->clock.wait(a->clock.ctx, &a->cond, &a->lock, seconds);
}

bool np_apply_batchable(enum np_step_kind kind)
{
	return np_step_def(kind) && np_step_def(kind)->batchable;
}

/* Disruptive tasks take their group's slot before their first step and keep
 * it until the instance is back (or gone). */
static bool needs_slot(const struct task *t)
{
	return t->change->requires_stop || t->change->action == NP_ACTION_REPLACE;
}

static bool finished(const struct task *t)
{
	return t->status == TASK_DONE || t->status == TASK_FAILED || t->status == TASK_HALTED ||
	       t->status == TASK_UNKNOWN;
}

/* Ready, but its group has no rollout slot free. */
static bool queued(const struct task *t)
{
	return t->status == TASK_READY && t->next == 0 && needs_slot(t) && !t->holds_slot &&
	       t->group->limit && t->group->in_use >= t->group->limit;
}

static bool can_take(struct apply *a, struct task *t)
{
	if (t->status != TASK_READY)
		return false;
	if (a->stopping)
		return t->recover; /* interrupted: only putting stopped instances back */
	return !queued(t);
}

static void take(struct task *t)
{
	if (t->next == 0 && needs_slot(t) && !t->holds_slot) {
		t->group->in_use++;
		t->holds_slot = true;
	}
	t->status = TASK_RUNNING;
	t->ready_since = 0;
}

/* Seconds to hold back a shared call so the instances still in their own
 * calls can join it (0: send it now). Caller holds a->lock. */
static double coalesce_wait(struct apply *a)
{
	double now = np_apply_now(a), oldest = now;
	bool any = false;

	if (a->stopping)
		return 0;
	for (size_t i = 0; i < a->n_tasks; i++) {
		struct task *t = &a->tasks[i];

		if (!can_take(a, t) || !np_apply_batchable(t->change->steps[t->next].kind))
			continue;
		any = true;
		if (t->ready_since == 0)
			t->ready_since = now;
		if (t->ready_since < oldest)
			oldest = t->ready_since;
	}
	if (!any || a->in_flight == 0)
		return 0;
	return fmax(0, oldest + COALESCE_SECONDS - now);
}

/* A new instance whose launch may share batch[0]'s RunInstances call. */
static bool launches_with(const struct task *t0, const struct task *t)
{
	const struct np_change *c0 = t0->change, *c = t->change;

	return c->action == NP_ACTION_CREATE && t->next == 0 && c->n_steps &&
	       c->steps[0].kind == NP_STEP_RUN_INSTANCES && t->group == t0->group &&
	       (t->resume_token == t0->resume_token ||
		(t->resume_token && t0->resume_token &&
		 !strcmp(t->resume_token, t0->resume_token))) &&
	       np_launch_same(&c->after, &c0->after);
}

static int by_index(const void *x, const void *y)
{
	size_t lx, ly;
	long ix = 0, iy = 0;

	np_launch_address_index((*(struct task *const *)x)->change->address, &lx, &ix);
	np_launch_address_index((*(struct task *const *)y)->change->address, &ly, &iy);
	return (ix > iy) - (ix < iy);
}

/* batch[0] launches: add the ready instances identical to it whose indexes
 * extend its run (runner[4], runner[5], ...), so one RunInstances call with
 * MaxCount launches them all and amiLaunchIndex tells which is which.
 * Returns the batch size, in index order. Caller holds a->lock. */
static size_t gather_launches(struct apply *a, struct task **batch)
{
	struct task *t0 = batch[0];
	size_t n = 1, len0, len;
	long lo, hi, idx;
	bool grew = true;

	if (t0->change->action != NP_ACTION_CREATE ||
	    !np_launch_address_index(t0->change->address, &len0, &lo))
		return 1;
	hi = lo;
	while (grew && n < LAUNCH_BATCH) {
		grew = false;
		for (size_t i = 0; i < a->n_tasks && n < LAUNCH_BATCH; i++) {
			struct task *t = &a->tasks[i];

			if (!can_take(a, t) ||
			    !np_launch_address_index(t->change->address, &len, &idx) ||
			    len != len0 || strncmp(t->change->address, t0->change->address, len0) ||
			    (idx != hi + 1 && idx != lo - 1) || !launches_with(t0, t))
				continue;
			take(t);
			batch[n++] = t;
			if (idx == hi + 1)
				hi = idx;
			else
				lo = idx;
			grew = true;
		}
	}
	qsort(batch, n, sizeof(*batch), by_index);
	return n;
}

/* Caller holds a->lock. */
static void release_finished(struct apply *a)
{
	for (size_t i = 0; i < a->n_tasks; i++) {
		struct task *t = &a->tasks[i];

		if (finished(t) && t->holds_slot) {
			t->group->in_use--;
			t->holds_slot = false;
		}
	}
}

/* The status line's counts, each task in exactly one of them. Caller holds a->lock. */
static void show_counts(struct apply *a)
{
	struct np_progress_counts n = { 0 };

	for (size_t i = 0; i < a->n_tasks; i++) {
		const struct task *t = &a->tasks[i];

		if (t->status == TASK_DONE)
			n.done++;
		else if (t->status == TASK_FAILED || t->status == TASK_UNKNOWN)
			n.failed++;
		else if (t->status == TASK_HALTED)
			n.halted++;
		else if (t->change->requires_stop && (t->next > 0 || t->status == TASK_RUNNING))
			n.cycle++;
		else if (t->status != TASK_READY || t->next > 0)
			n.waiting++;
		else if (queued(t))
			n.queued++;
		else
			n.not_started++;
	}
	/* The hosts too, so the counts sum to the total. */
	for (size_t i = 0; i < a->n_hosts; i++) {
		enum task_status st = a->hosts[i].status;

		if (st == TASK_DONE)
			n.done++;
		else if (st == TASK_FAILED || st == TASK_UNKNOWN)
			n.failed++;
		else if (st == TASK_HALTED)
			n.halted++;
		else
			n.not_started++;
	}
	np_progress_counts(&a->progress, &n);
}

/* All work is over: everything finished, or interrupted and nothing in flight. */
static bool all_over(struct apply *a)
{
	for (size_t i = 0; i < a->n_tasks; i++) {
		const struct task *t = &a->tasks[i];

		if (finished(t))
			continue;
		if (a->stopping && t->status == TASK_READY && !t->recover)
			continue;
		return false;
	}
	return true;
}

void np_apply_sweep_interrupted(struct apply *a)
{
	double grace_end = a->stopping_since + NP_APPLY_INTERRUPT_GRACE;

	for (size_t i = 0; i < a->n_tasks; i++) {
		struct task *t = &a->tasks[i];

		if (t->status == TASK_READY && !t->recover && t->next > 0) {
			/* Between two calls of its steps: started again if this apply
			 * stopped it, else it stays as it is. */
			if (np_apply_stopped_by_us(t) && t->was_running && !t->rolling_back)
				t->recover = true;
			else
				t->status = TASK_HALTED;
		} else if (t->status == TASK_WAITING) {
			if ((t->wait_step == NP_STEP_STOP && !t->rolling_back) || t->restarting) {
				/* Wait for the stop to end (to start the instance again), or
				 * for the instance started again to run. */
				if (t->wait_deadline > grace_end)
					t->wait_deadline = grace_end;
			} else if (t->rolling_back) {
				t->status = TASK_FAILED;
			} else if (t->wait_step == NP_STEP_RUN_INSTANCES) {
				t->status =
				    TASK_DONE; /* launched and recorded; running is EC2's part */
			} else {
				t->status =
				    TASK_HALTED; /* its call went through; the next apply waits */
			}
		}
	}
}

static void check_interrupt(struct apply *a)
{
	if (!a->stopping && a->opts->interrupted && *a->opts->interrupted) {
		a->stopping = true;
		a->stopping_since = np_apply_now(a);
		np_progress_note(
		    &a->progress, "apply", NULL,
		    "interrupted: no new call; instances stopped in a cycle are started "
		    "again");
		pthread_cond_broadcast(&a->cond);
	}
	if (a->stopping)
		np_apply_sweep_interrupted(a);
}

static void *worker(void *arg)
{
	struct apply *a = arg;
	struct task **batch = np_xmalloc(MAX_BATCH * sizeof(*batch));

	pthread_mutex_lock(&a->lock);
	for (;;) {
		size_t n = 0;
		enum np_step_kind kind = NP_STEP__COUNT;

		check_interrupt(a);
		release_finished(a);
		if (all_over(a))
			break;
		/* Interrupted: one call starts every instance stopped in a cycle. */
		for (size_t i = 0; a->stopping && i < a->n_tasks && n < MAX_BATCH; i++)
			if (can_take(a, &a->tasks[i])) {
				take(&a->tasks[i]);
				batch[n++] = &a->tasks[i];
			}
		/* Calls of one instance first; stop, start and terminate wait until
		 * no such call is ready, so the instances reaching them meanwhile
		 * share one call. */
		for (size_t i = 0; i < a->n_tasks && n == 0; i++) {
			struct task *t = &a->tasks[i];

			if (can_take(a, t) && !np_apply_batchable(t->change->steps[t->next].kind)) {
				take(t);
				batch[n++] = t;
				if (t->change->steps[t->next].kind == NP_STEP_RUN_INSTANCES)
					n = gather_launches(a, batch);
			}
		}
		if (n == 0 && !a->stopping) {
			double hold = coalesce_wait(a);

			if (hold > 0) {
				np_apply_wait(a, hold);
				continue;
			}
		}
		for (size_t i = 0; !a->stopping && i < a->n_tasks && n < MAX_BATCH &&
				   !(n && !np_apply_batchable(kind));
		     i++) {
			struct task *t = &a->tasks[i];
			enum np_step_kind k;

			if (!can_take(a, t))
				continue;
			k = t->change->steps[t->next].kind;
			if (n == 0)
				kind = k;
			else if (k != kind)
				continue;
			take(t);
			batch[n++] = t;
		}
		if (n == 0) {
			/* Wake up now and then to notice an interrupt. */
			np_apply_wait(a, 0.2);
			continue;
		}
		a->in_flight++;
		show_counts(a);
		pthread_mutex_unlock(&a->lock);
		np_apply_exec(a, batch, n);
		pthread_mutex_lock(&a->lock);
		a->in_flight--;
		show_counts(a);
		pthread_cond_broadcast(&a->cond);
	}
	a->n_exited++;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	free(batch);
	return NULL;
}

/* Poll fast at first so short transitions finish quickly, then back off so a
 * fleet that waits minutes for EC2 costs few DescribeInstances calls. */
static void *waiter(void *arg)
{
	struct apply *a = arg;
	double lo = a->opts->poll_min > 0 ? a->opts->poll_min : 0.25;
	double hi = a->opts->poll_max > 0 ? a->opts->poll_max : 5.0;
	double interval = lo, last_poll = 0;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		bool any = false;

		check_interrupt(a);
		if (all_over(a))
			break;
		for (size_t i = 0; i < a->n_tasks && !any; i++)
			any = a->tasks[i].status == TASK_WAITING;
		/* Other threads wake us often; one batched poll per interval is enough. */
		if (any && np_apply_now(a) - last_poll < interval) {
			np_apply_wait(a, interval - (np_apply_now(a) - last_poll));
			continue;
		}
		if (any) {
			int moved;

			last_poll = np_apply_now(a);
			pthread_mutex_unlock(&a->lock);
			moved = np_apply_poll(a);
			pthread_mutex_lock(&a->lock);
			/* The status line follows what EC2 finished, not only new calls. */
			show_counts(a);
			pthread_cond_broadcast(&a->cond);
			interval = moved ? lo : fmin(interval * 1.6, hi);
		} else {
			interval = lo;
		}
		/* A task that starts waiting wakes us; poll it after a short delay. */
		np_apply_wait(a, interval);
	}
	a->n_exited++;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static struct group *group_for(struct apply *a, const struct np_change *c,
			       const struct np_desired *d)
{
	const char *name = c->group ? c->group : c->address;
	struct group *g;
	int size = 0;

	for (size_t i = 0; i < a->n_groups; i++)
		if (!strcmp(a->groups[i].name, name))
			return &a->groups[i];
	g = &a->groups[a->n_groups++];
	g->name = name;
	if (d && d->max_unavailable > 0) {
		if (d->max_unavailable_percent) {
			for (size_t i = 0; a->cfg && i < a->cfg->n_instances; i++)
				size += !strcmp(a->cfg->instances[i].name, name);
			g->limit = (int)ceil((double)d->max_unavailable * size / 100.0);
			if (g->limit < 1)
				g->limit = 1;
		} else {
			g->limit = d->max_unavailable;
		}
	}
	return g;
}

static bool drifted(const struct np_plan *plan, const char *address)
{
	for (size_t i = 0; i < plan->n_drift; i++)
		if (!strcmp(plan->drift[i].address, address))
			return true;
	return false;
}

/* The newest pending entry of address for step, if any. */
static const struct np_journal_entry *pending_entry(const struct np_apply_opts *opts,
						    const char *address, const char *step)
{
	for (size_t k = opts->n_pending; k-- > 0;) {
		const struct np_journal_entry *e = &opts->pending[k];

		if (!strcmp(e->step, step) && !strcmp(e->address, address) &&
		    (strcmp(step, "run_instances") || e->client_token))
			return e;
	}
	return NULL;
}

const char *np_apply_outcome(enum task_status s)
{
	switch (s) {
	case TASK_DONE:
		return "ok";
	case TASK_FAILED:
		return "failed";
	case TASK_UNKNOWN:
		return "unknown";
	case TASK_HALTED:
		return "interrupted";
	default:
		return NULL;
	}
}

static const char *outcome_name(const struct task *t)
{
	const char *name = np_apply_outcome(t->status);

	if (name)
		return name;
	return t->next == 0 && !np_apply_stopped_by_us(t) ? "not started" : "interrupted";
}

/* What an instance was left as, for the operator; NULL when nothing. */
static char *left_behind(const struct task *t)
{
	const char *id = t->instance_id ? t->instance_id : t->old_instance_id;
	const char *what = NULL;
	char buf[96];

	if (t->left_stopped || (np_apply_stopped_by_us(t) && !finished(t))) {
		what = "stopped mid-change";
	} else if (t->status == TASK_UNKNOWN) {
		what = "launch outcome unknown (its ClientToken is kept)";
	} else if (t->status == TASK_RUNNING && t->next < t->change->n_steps) {
		snprintf(buf, sizeof(buf), "%s call in flight",
			 np_step_name(t->change->steps[t->next].kind));
		what = buf;
	} else if (t->status == TASK_HALTED || (t->status == TASK_WAITING && t->next > 0) ||
		   (t->status == TASK_READY && t->next > 0)) {
		what = t->change->requires_stop ? "mid-change" : "partly changed";
	}
	if (!what)
		return NULL;
	return np_xasprintf("%s (%s): %s", t->change->address, id ? id : "no instance yet", what);
}

/* The result from the tasks. Caller holds a->lock (or the threads are gone). */
static void tally(struct apply *a, struct np_apply_result *res)
{
	json_t *changes = json_array();

	for (size_t i = 0; i < a->n_tasks; i++) {
		struct task *t = &a->tasks[i];
		const struct np_change *c = t->change;
		char *lb;

		if (t->resume_only)
			continue;
		json_array_append_new(changes,
				      json_pack("{s:s, s:s, s:s, s:s?, s:s}", "address", c->address,
						"kind", "instance", "action",
						np_action_name(c->action), "instance_id",
						t->instance_id ? t->instance_id : c->instance_id,
						"outcome", outcome_name(t)));
		if (t->status == TASK_DONE) {
			res->added +=
			    c->action == NP_ACTION_CREATE || c->action == NP_ACTION_REPLACE;
			res->changed += c->action == NP_ACTION_UPDATE;
			res->destroyed +=
			    c->action == NP_ACTION_DELETE || c->action == NP_ACTION_REPLACE;
		} else if (t->status == TASK_FAILED || t->status == TASK_UNKNOWN) {
			if (t->status == TASK_FAILED)
				res->failed++;
			else
				res->unknown++;
			np_strv_push(&res->failures, t->error ? t->error : c->address);
		} else if (!strcmp(outcome_name(t), "not started")) {
			res->not_started++;
		} else {
			res->halted++;
		}
		if (a->stopping && (lb = left_behind(t))) {
			np_strv_push(&res->left_behind, lb);
			free(lb);
		}
	}
	np_apply_hosts_tally(a, res, changes);
	res->interrupted = a->stopping;
	free(res->changes);
	res->changes = json_dumps(changes, JSON_COMPACT);
	json_decref(changes);
}

/* A second signal: print what may be left behind and hand over to the
 * caller's abandon (which exits). The state lock is kept so that no journal
 * write starts or is half-done while it records and exits. */
static void abandon(struct apply *a, struct np_apply_result *res)
{
	struct timespec ts;
	bool quiet;

	deadline_in(1.0, &ts);
	quiet = pthread_mutex_timedlock(&a->state_lock, &ts) == 0;
	deadline_in(0.5, &ts);
	if (pthread_mutex_timedlock(&a->lock, &ts) == 0) {
		a->stopping = true;
		tally(a, res);
		pthread_mutex_unlock(&a->lock);
	}
	res->interrupted = true;
	np_progress_abandoned(&a->progress, res);
	if (a->opts->abandon)
		a->opts->abandon(a->opts->abandon_arg, quiet ? res : NULL);
	_exit(a->opts->interrupted ? 130 : 1);
}

/* Whether the pending entry e may be closed after this run: what it was
 * about is settled (its task ended, or the plan had nothing to do there).
 * A launch's entry stays while its token may still stand for instances. */
static bool pending_settled(struct apply *a, const struct np_journal_entry *e)
{
	bool any = false;
	int host = np_apply_hosts_settled(a, e);

	if (host >= 0)
		return host;
	for (size_t i = 0; i < a->n_tasks; i++) {
		const struct task *t = &a->tasks[i];

		if (strcmp(t->change->address, e->address))
			continue;
		any = true;
		if (t->status == TASK_UNKNOWN || t->status == TASK_HALTED ||
		    (t->status == TASK_FAILED && t->resume_token && e->client_token &&
		     !strcmp(t->resume_token, e->client_token) && t->instance_id == NULL) ||
		    !finished(t))
			return false;
	}
	if (!any && a->stopping)
		return false;
	return true;
}

int np_apply_run(struct np_aws *aws, struct np_state *st, const struct np_config *cfg,
		 const struct np_plan *plan, const struct np_apply_opts *opts,
		 struct np_apply_result *res, struct np_err *err)
{
	struct apply a;
	pthread_t *threads = NULL, wthread;
	int n_threads = opts->parallelism > 0 ? opts->parallelism : 10;
	int started = 0, rc = 0;
	bool waiter_started = false, any_change = false;

	memset(res, 0, sizeof(*res));
	memset(&a, 0, sizeof(a));
	if (opts->ec2)
		a.ec2 = *opts->ec2;
	else
		np_apply_ec2_default(&a.ec2, aws);
	a.clock = opts->clock ? *opts->clock : np_clock_real;
	a.st = st;
	a.cfg = cfg;
	a.plan = plan;
	a.opts = opts;
	a.started = np_apply_now(&a);
	a.tasks = np_xcalloc(plan->n_changes ? plan->n_changes : 1, sizeof(*a.tasks));
	a.groups = np_xcalloc(plan->n_changes ? plan->n_changes : 1, sizeof(*a.groups));
	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *c = &plan->changes[i];
		const struct np_journal_entry *e;
		struct task *t;

		if (c->kind == NP_KIND_HOST) {
			/* Host changes are hosts.c's, around the instance tasks. */
			if (c->action == NP_ACTION_DELETE && c->n_steps == 0) {
				/* Released outside already: only the row goes. */
				if (np_state_host_remove(st, c->address, err) < 0)
					np_log_warn("%s: %s", c->address, err->msg);
				else
					res->destroyed++;
			}
			if (c->action == NP_ACTION_NOOP && c->has_before &&
			    drifted(plan, c->address) && c->host_before.host_id &&
			    np_apply_put_host(st, c, &c->host_before, err) < 0)
				np_log_warn("%s: %s", c->address, err->msg);
			any_change = any_change || c->n_steps > 0;
			continue;
		}
		if (c->action == NP_ACTION_DELETE && c->n_steps == 0) {
			/* Terminated outside already: only the state row goes. */
			if (np_state_remove(st, c->address, err) < 0)
				np_log_warn("%s: %s", c->address, err->msg);
			else
				res->destroyed++;
			continue;
		}
		if (c->action == NP_ACTION_NOOP && c->has_before && drifted(plan, c->address)) {
			/* Nothing to change, but the state is behind EC2 (an earlier run
			 * finished the change and died before recording it). */
			if (np_apply_put(st, c, &c->before, err) < 0)
				np_log_warn("%s: %s", c->address, err->msg);
		}
		if (c->action == NP_ACTION_NOOP || c->n_steps == 0) {
			/* A cycle a killed apply left open: wait for the instance to
			 * settle (it may be pending after the start), record it and close
			 * the entry, rather than act on it. */
			e = pending_entry(opts, c->address, "cycle");
			if (!e || !c->instance_id)
				continue;
			t = &a.tasks[a.n_tasks++];
			t->change = c;
			t->desired = cfg ? np_config_find(cfg, c->address) : NULL;
			t->group = group_for(&a, c, t->desired);
			t->instance_id = np_xstrdup(c->instance_id);
			t->resume_only = true;
			t->journal_id = -1;
			t->cycle_journal_id = e->id;
			t->wait_step = (enum np_step_kind) - 1;
			t->wait_for = NP_RUN_UNSET;
			t->wait_started = t->last_note = a.started;
			t->wait_deadline =
			    a.started + (opts->step_timeout > 0 ? opts->step_timeout : 600);
			t->status = TASK_WAITING;
			continue;
		}
		any_change = true;
		t = &a.tasks[a.n_tasks++];
		t->change = c;
		t->desired = cfg ? np_config_find(cfg, c->address) : NULL;
		t->group = group_for(&a, c, t->desired);
		if (c->action == NP_ACTION_REPLACE)
			t->old_instance_id = np_xstrdup(c->instance_id);
		else
			t->instance_id = np_xstrdup(c->instance_id);
		t->cycle_journal_id = -1;
		t->was_running = c->has_before && (c->before.state == NP_RUN_RUNNING ||
						   c->before.state == NP_RUN_PENDING);
		t->journal_id = -1;
		/* The newest launch of this address still in flight, if any. */
		if (c->action == NP_ACTION_CREATE || c->action == NP_ACTION_REPLACE) {
			e = pending_entry(opts, c->address, "run_instances");
			t->resume_token = e ? e->client_token : NULL;
		}
	}
	pthread_mutex_init(&a.lock, NULL);
	pthread_cond_init(&a.cond, NULL);
	{
		pthread_mutexattr_t attr;

		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&a.state_lock, &attr);
		pthread_mutexattr_destroy(&attr);
	}
	np_apply_hosts_init(&a);
	np_progress_init(&a.progress, opts->out ? opts->out : stdout, opts->json, opts->status_line,
			 opts->color, (int)(a.n_tasks + a.n_hosts));
	for (size_t i = 0; i < a.n_tasks; i++)
		if (a.tasks[i].resume_only)
			np_progress_note(
			    &a.progress, a.tasks[i].change->address, a.tasks[i].instance_id,
			    "an interrupted apply left this instance mid-change; waiting for "
			    "it to settle");

	/* Every host an instance is placed on exists before any instance task
	 * starts. */
	np_apply_hosts_before(&a);
	if (a.n_tasks) {
		threads = np_xcalloc((size_t)n_threads, sizeof(*threads));
		for (started = 0; started < n_threads; started++)
			if (pthread_create(&threads[started], NULL, worker, &a) != 0)
				break;
		if (started == 0) {
			rc = np_error(err, "cannot start apply workers");
		} else if (pthread_create(&wthread, NULL, waiter, &a) == 0) {
			waiter_started = true;
		} else {
			pthread_mutex_lock(&a.lock);
			a.stopping = true;
			pthread_mutex_unlock(&a.lock);
			rc = np_error(err, "cannot start the apply waiter");
		}
		/* Wait for the threads, watching for a second signal. */
		pthread_mutex_lock(&a.lock);
		while (a.n_exited < started + (waiter_started ? 1 : 0)) {
			struct timespec ts;

			if (opts->interrupted && *opts->interrupted >= 2) {
				pthread_mutex_unlock(&a.lock);
				abandon(&a, res);
			}
			deadline_in(0.05, &ts);
			pthread_cond_timedwait(&a.cond, &a.lock, &ts);
		}
		pthread_mutex_unlock(&a.lock);
		for (int i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
		if (waiter_started)
			pthread_join(wthread, NULL);
	}
	/* Releases last: each only once every instance task on it is over. */
	if (rc == 0)
		np_apply_hosts_after(&a);
	/* A signal during the releases (the workers are gone by then) still
	 * makes this an interrupted run. */
	if (opts->interrupted && *opts->interrupted)
		a.stopping = true;

	for (size_t i = 0; i < a.n_tasks; i++) {
		struct task *t = &a.tasks[i];

		/* An interrupted task keeps its cycle open for the next apply. */
		if (t->status == TASK_DONE || t->status == TASK_FAILED)
			np_apply_cycle_end(&a, t, NULL);
	}
	tally(&a, res);
	/* Earlier runs' entries that this run settled are closed; the others
	 * (a launch whose token may stand for instances, an instance still
	 * mid-change) stay for the next apply. */
	for (size_t i = 0; i < opts->n_pending; i++) {
		const struct np_journal_entry *e = &opts->pending[i];

		if (e->id == -1 || !pending_settled(&a, e))
			continue;
		if (np_state_journal_end(st, e->id, "resumed", NULL, NULL, err) < 0) {
			np_log_warn("journal: %s", err->msg);
			np_err_clear(err);
		}
	}
	if (rc == 0 && (any_change || a.stopping))
		np_progress_summary(&a.progress, res, np_apply_now(&a) - a.started);
	np_progress_release(&a.progress);
	for (size_t i = 0; i < a.n_tasks; i++) {
		free(a.tasks[i].instance_id);
		free(a.tasks[i].old_instance_id);
		free(a.tasks[i].error);
		np_instance_release(&a.tasks[i].live);
	}
	np_apply_hosts_release(&a);
	free(a.tasks);
	free(a.groups);
	free(threads);
	pthread_mutex_destroy(&a.lock);
	pthread_cond_destroy(&a.cond);
	pthread_mutex_destroy(&a.state_lock);
	return rc;
}

void np_apply_result_release(struct np_apply_result *res)
{
	np_strv_release(&res->failures);
	np_strv_release(&res->left_behind);
	free(res->changes);
	memset(res, 0, sizeof(*res));
}
