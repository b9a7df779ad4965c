/* The shared waiter: one DescribeInstances call (instance-id filter, so an
 * instance EC2 does not show yet is simply absent) for up to 1000 waiting
 * instances, instead of one poll per instance. */
#include <stdlib.h>
#include <string.h>

#include "apply/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/ec2.h"
#include "nestplan/log.h"

#define POLL_BATCH 1000
#define NOTE_EVERY 30.0
/* How long a final re-read waits for EC2 to show a modification. */
#define STALE_SECONDS 30.0

static const char *wait_id(const struct task *t)
{
	if (t->wait_step == NP_STEP_TERMINATE && t->old_instance_id)
		return t->old_instance_id;
	return t->instance_id;
}

static int cmp_id(const void *x, const void *y)
{
	return strcmp(((const struct np_instance *)x)->instance_id,
		      ((const struct np_instance *)y)->instance_id);
}

/* live is sorted by instance id (see np_apply_poll). */
static const struct np_instance *find_live(const struct np_instance *v, size_t n, const char *id)
{
	struct np_instance key = { .instance_id = (char *)id };

	return n ? bsearch(&key, v, n, sizeof(*v), cmp_id) : NULL;
}

/* A state from which the wanted one can no longer come, as botocore's EC2
 * waiters (waiters-2.json) have it: instance_running fails on shutting-down,
 * terminated and stopping; instance_stopped on pending and terminated;
 * instance_terminated on pending and stopping. Any other state (a "stopped"
 * that EC2 still reports just after StartInstances, a "running" just after
 * StopInstances) is polled again until the deadline. */
static bool dead_end(enum np_run_state want, enum np_run_state got)
{
	switch (want) {
	case NP_RUN_RUNNING:
		return got == NP_RUN_STOPPING || got == NP_RUN_SHUTTING_DOWN ||
		       got == NP_RUN_TERMINATED;
	case NP_RUN_STOPPED:
		return got == NP_RUN_PENDING || got == NP_RUN_TERMINATED;
	case NP_RUN_TERMINATED:
		return got == NP_RUN_PENDING || got == NP_RUN_STOPPING;
	default:
		return false;
	}
}

static bool in_transition(enum np_run_state s)
{
	return s == NP_RUN_PENDING || s == NP_RUN_STOPPING || s == NP_RUN_SHUTTING_DOWN;
}

enum np_settle np_apply_settle(enum np_run_state want, bool listed, enum np_run_state got,
			       double now, double deadline)
{
	if (!listed) {
		/* Terminated instances may vanish: that is what was waited for.
		 * EC2 may not list a just-launched instance for a while. */
		if (want == NP_RUN_TERMINATED)
			return NP_SETTLE_DONE;
		return now > deadline ? NP_SETTLE_TIMED_OUT : NP_SETTLE_WAIT;
	}
	if (want == NP_RUN_UNSET)
		/* A re-read records a settled instance, not one half-way (at the
		 * deadline, whatever EC2 shows). */
		return in_transition(got) && now <= deadline ? NP_SETTLE_WAIT : NP_SETTLE_DONE;
	if (got == want)
		return NP_SETTLE_DONE;
	if (dead_end(want, got))
		return NP_SETTLE_FAILED;
	return now > deadline ? NP_SETTLE_TIMED_OUT : NP_SETTLE_WAIT;
}

/* Interrupted while waiting for a stop, and the grace time is over: the
 * instance is left as it is, listed for the operator. */
static int left_stopped(struct apply *a, struct task *t, double now)
{
	if (!a->stopping || (t->wait_step != NP_STEP_STOP && !t->restarting) ||
	    now <= t->wait_deadline)
		return 0;
	t->left_stopped = !t->restarting;
	t->status = TASK_HALTED;
	np_progress_note(&a->progress, t->change->address, t->instance_id,
			 t->restarting ? "interrupted: started again, not running yet"
				       : "interrupted: the stop did not end in time to start it "
					 "again; left as it is");
	return 1;
}

static int timed_out(struct apply *a, struct task *t, const char *why)
{
	char *msg = np_xasprintf("timed out waiting for %s (see -step-timeout)%s%s",
				 wait_id(t) ? wait_id(t) : t->change->address, why ? ": " : "",
				 why ? why : "");

	pthread_mutex_unlock(&a->lock);
	np_apply_fail(a, t, t->wait_step, msg);
	pthread_mutex_lock(&a->lock);
	free(msg);
	return 1;
}

/* Whether EC2 still shows an attribute the cycle changed as it was before
 * (Describe lags behind a Modify for a while). */
static bool stale_view(const struct np_change *c, const struct np_instance *live)
{
	for (size_t i = 0; i < c->n_steps; i++) {
		const struct np_step *s = &c->steps[i];

		if (s->kind == NP_STEP_MODIFY_INSTANCE_TYPE && s->instance_type &&
		    live->instance_type && strcmp(s->instance_type, live->instance_type))
			return true;
	}
	return false;
}

/* Decide for one task; caller holds a->lock. Returns 1 if it moved on. */
static int settle(struct apply *a, struct task *t, const struct np_instance *live, double now)
{
	enum np_step_kind kind = t->wait_step;
	const char *id = wait_id(t);

	enum np_settle d = np_apply_settle(
	    t->wait_for, live != NULL, live ? live->state : NP_RUN_UNSET, now, t->wait_deadline);

	if (live) {
		np_instance_release(&t->live);
		np_instance_copy(&t->live, live);
	}
	if (d == NP_SETTLE_FAILED) {
		char msg[256];

		snprintf(msg, sizeof(msg), "instance went to '%s' while waiting for '%s'",
			 np_run_state_name(live->state), np_run_state_name(t->wait_for));
		pthread_mutex_unlock(&a->lock);
		np_apply_fail(a, t, kind, msg);
		pthread_mutex_lock(&a->lock);
		return 1;
	}
	if (d != NP_SETTLE_DONE) {
		if (left_stopped(a, t, now))
			return 1;
		if (d == NP_SETTLE_TIMED_OUT)
			return timed_out(a, t, live ? NULL : "not listed by DescribeInstances");
		if (live && t->wait_for != NP_RUN_UNSET && now - t->last_note >= NOTE_EVERY) {
			t->last_note = now;
			np_progress_still(&a->progress, t->change->address, id, kind,
					  now - t->wait_started);
		}
		return 0;
	}
	if (!live)
		goto reached;
	/* For a while, a re-read does not record what EC2 still shows as before
	 * the modification. */
	if (t->wait_for == NP_RUN_UNSET && stale_view(t->change, live) &&
	    now - t->wait_started < STALE_SECONDS && now <= t->wait_deadline)
		return 0;
	/* The cycle's last wait: what is recorded is EC2's view once it shows
	 * the modification (or after a while, whatever it shows). */
	if (t->next >= t->change->n_steps && !t->rolling_back && !t->restarting &&
	    stale_view(t->change, live) && now - t->wait_started < STALE_SECONDS &&
	    now <= t->wait_deadline)
		return 0;
reached:
	if ((int)kind >= 0 && t->wait_for != NP_RUN_UNSET)
		np_progress_step_done(&a->progress, t->change->address, id, kind,
				      now - t->step_started);
	if (t->rolling_back || t->restarting) {
		struct np_err err = NP_ERR_INIT;

		pthread_mutex_unlock(&a->lock);
		if (live && np_apply_record(a, t, live, &err) < 0)
			np_log_warn("%s: %s", t->change->address, err.msg);
		pthread_mutex_lock(&a->lock);
		t->status = t->restarting ? TASK_HALTED : TASK_FAILED;
		return 1;
	}
	if (t->next < t->change->n_steps) {
		t->status = TASK_READY;
		return 1;
	}
	/* Last step done: record what EC2 reports, not what was asked. */
	if (t->wait_for == NP_RUN_TERMINATED && t->change->action == NP_ACTION_REPLACE &&
	    t->instance_id && strcmp(id, t->instance_id)) {
		t->wait_step = (enum np_step_kind) - 1;
		t->wait_for = NP_RUN_UNSET; /* re-read the new instance next poll */
		return 1;
	}
	{
		struct np_err err = NP_ERR_INIT;
		int r;

		pthread_mutex_unlock(&a->lock);
		r = np_apply_record(a, t, t->change->action == NP_ACTION_DELETE ? NULL : live,
				    &err);
		pthread_mutex_lock(&a->lock);
		if (r < 0) {
			t->error = np_xasprintf("%s (%s): recording in the state: %s",
						t->change->address, id ? id : "-", err.msg);
			t->status = TASK_FAILED;
		} else {
			t->status = TASK_DONE;
		}
	}
	return 1;
}

int np_apply_poll(struct apply *a)
{
	struct np_err err = NP_ERR_INIT;
	struct task **who = np_xmalloc((a->n_tasks ? a->n_tasks : 1) * sizeof(*who));
	const char **ids = np_xmalloc(POLL_BATCH * sizeof(*ids));
	size_t n_who = 0;
	int moved = 0;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->n_tasks; i++)
		if (a->tasks[i].status == TASK_WAITING && wait_id(&a->tasks[i]))
			who[n_who++] = &a->tasks[i];
	pthread_mutex_unlock(&a->lock);

	for (size_t off = 0; off < n_who; off += POLL_BATCH) {
		size_t n = n_who - off < POLL_BATCH ? n_who - off : POLL_BATCH;
		struct np_instance *live = NULL;
		size_t n_live = 0;
		double now;

		/* Only the waiter changes a WAITING task's ids, so reading them unlocked is safe. */
		for (size_t i = 0; i < n; i++)
			ids[i] = wait_id(who[off + i]);
		if (a->ec2.describe_instances_by_id(a->ec2.ctx, ids, n, &live, &n_live, &err) < 0) {
			/* Keep going: the next poll may work; the deadlines still apply. */
			np_log_warn("waiter: DescribeInstances failed: %s", err.msg);
			now = np_apply_now(a);
			pthread_mutex_lock(&a->lock);
			for (size_t i = 0; i < n; i++) {
				struct task *t = who[off + i];

				if (t->status != TASK_WAITING)
					continue;
				if (left_stopped(a, t, now))
					moved++;
				else if (now > t->wait_deadline)
					moved += timed_out(a, t, err.msg);
			}
			pthread_mutex_unlock(&a->lock);
			np_err_clear(&err);
			continue;
		}
		/* The instance-id filter answers only instances that have an id. */
		if (n_live > 1)
			qsort(live, n_live, sizeof(*live), cmp_id);
		now = np_apply_now(a);
		/* What the instances reached is recorded in one transaction. */
		np_apply_batch_begin(a);
		pthread_mutex_lock(&a->lock);
		for (size_t i = 0; i < n; i++) {
			struct task *t = who[off + i];

			if (t->status == TASK_WAITING)
				moved += settle(a, t, find_live(live, n_live, wait_id(t)), now);
		}
		pthread_mutex_unlock(&a->lock);
		np_apply_batch_end(a);
		np_instances_free(live, n_live);
	}
	free(ids);
	free(who);
	return moved;
}
