/* The worker side: one EC2 call per step (one per batch for stop, start and
 * terminate), each journaled before and after, and the rollback of a
 * stop/modify/start cycle that failed half-way. */
#include <stdlib.h>
#include <string.h>

#include "apply/internal.h"
#include "apply/launch.h"
#include "nestplan/alloc.h"
#include "nestplan/aws.h"
#include "nestplan/ec2.h"
#include "nestplan/log.h"

#define DEFAULT_STEP_TIMEOUT 600.0

static const char *target_id(const struct task *t, enum np_step_kind kind)
{
	/* A replacement's steps before its launch (lifting termination
	 * protection) are the old instance's. */
	if (t->old_instance_id && (kind == NP_STEP_TERMINATE || !t->instance_id))
		return t->old_instance_id;
	return t->instance_id;
}

static void journal_begin(struct apply *a, struct task *t, enum np_step_kind kind,
			  const char *token)
{
	struct np_journal_entry e = { 0 };
	struct np_err err = NP_ERR_INIT;

	e.run_id = (char *)a->opts->run_id;
	e.address = t->change->address;
	e.step = kind == NP_STEP__COUNT ? "cycle" : (char *)np_step_name(kind);
	e.instance_id = (char *)target_id(t, kind);
	e.client_token = (char *)token;
	e.detail = t->was_running ? "was_running" : NULL;
	pthread_mutex_lock(&a->state_lock);
	if (np_state_journal_begin(a->st, &e, &t->journal_id, &err) < 0) {
		np_log_error("journal: %s", err.msg);
		t->journal_id = -1;
	}
	pthread_mutex_unlock(&a->state_lock);
}

void np_apply_batch_begin(struct apply *a)
{
	struct np_err err = NP_ERR_INIT;

	pthread_mutex_lock(&a->state_lock);
	if (a->batch_depth++ > 0)
		return;
	a->batch_open = np_state_begin(a->st, &err) == 0;
	/* Otherwise each write commits on its own: slower, as safe. */
	if (!a->batch_open)
		np_log_debug("journal: %s", err.msg);
}

void np_apply_batch_end(struct apply *a)
{
	struct np_err err = NP_ERR_INIT;

	if (--a->batch_depth == 0 && a->batch_open) {
		a->batch_open = false;
		if (np_state_commit(a->st, &err) < 0)
			np_log_error("journal: %s", err.msg);
	}
	pthread_mutex_unlock(&a->state_lock);
}

void np_apply_cycle_end(struct apply *a, struct task *t, const char *status)
{
	struct np_err err = NP_ERR_INIT;

	if (t->cycle_journal_id < 0)
		return;
	if (!status)
		status = t->status == TASK_DONE ? "done" : "failed";
	pthread_mutex_lock(&a->state_lock);
	if (np_state_journal_end(a->st, t->cycle_journal_id, status, t->instance_id, NULL, &err) <
	    0)
		np_log_error("journal: %s", err.msg);
	pthread_mutex_unlock(&a->state_lock);
	t->cycle_journal_id = -1;
}

/* status: "done", "failed", or "not sent" (an interrupt kept the call back). */
static void journal_end(struct apply *a, struct task *t, const char *status, const char *detail)
{
	struct np_err err = NP_ERR_INIT;

	if (t->journal_id < 0)
		return;
	pthread_mutex_lock(&a->state_lock);
	if (np_state_journal_end(a->st, t->journal_id, status, t->instance_id, detail, &err) < 0)
		np_log_error("journal: %s", err.msg);
	pthread_mutex_unlock(&a->state_lock);
	t->journal_id = -1;
}

int np_apply_put(struct np_state *st, const struct np_change *c, const struct np_instance *live,
		 struct np_err *err)
{
	struct np_instance rec;
	int r;

	if (!live)
		return np_state_remove(st, c->address, err);
	np_instance_copy(&rec, live);
	free(rec.address);
	rec.address = np_xstrdup(c->address);
	/* EC2 cannot tell the user data back as we hashed it; keep the file's hash. */
	if (c->has_after && c->after.user_data_sha256) {
		free(rec.user_data_sha256);
		rec.user_data_sha256 = np_xstrdup(c->after.user_data_sha256);
	} else if (c->has_before && c->before.user_data_sha256 && !rec.user_data_sha256) {
		rec.user_data_sha256 = np_xstrdup(c->before.user_data_sha256);
	}
	/* DescribeInstances tells nothing of the root volume but its mapping:
	 * keep what was sent (the plan's after), else what was known. */
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *at = &np_attrs[i];
		const struct np_instance *from = c->has_after && np_attr_is_set(at, &c->after)
						     ? &c->after
						 : c->has_before ? &c->before
								 : NULL;
		char *v;

		if (strncmp(at->name, "root_volume.", 12) || np_attr_is_set(at, &rec) || !from ||
		    !(v = np_attr_text(at, from)))
			continue;
		np_attr_set_text(at, &rec, v);
		free(v);
	}
	/* EC2 reports the HostId; the host's address is the plan's. */
	if (!rec.host_address && c->has_after && c->after.host_address &&
	    (!rec.host_id || !c->after.host_id || !strcmp(rec.host_id, c->after.host_id)))
		rec.host_address = np_xstrdup(c->after.host_address);
	/* DescribeInstances does not report the protection flags: what the plan
	 * set (or found) is what the instance has. */
	if (c->has_after)
		np_attrs_fill_described(&rec, &c->after);
	if (c->has_before)
		np_attrs_fill_described(&rec, &c->before);
	r = np_state_put(st, &rec, err);
	np_instance_release(&rec);
	return r;
}

int np_apply_record(struct apply *a, struct task *t, const struct np_instance *live,
		    struct np_err *err)
{
	int r;

	pthread_mutex_lock(&a->state_lock);
	r = np_apply_put(a->st, t->change, live, err);
	pthread_mutex_unlock(&a->state_lock);
	return r;
}

bool np_apply_stopped_by_us(const struct task *t)
{
	const struct np_change *c = t->change;
	bool stopped = false;

	for (size_t i = 0; i < t->next && i < c->n_steps; i++) {
		if (c->steps[i].kind == NP_STEP_STOP)
			stopped = true;
		else if (c->steps[i].kind == NP_STEP_START)
			stopped = false;
	}
	return stopped;
}

/* Whether err says the call never left (an interrupt held it back). */
static bool not_sent(const struct np_err *err) { return err->cls == NP_ERRC_INTERRUPTED; }

/* Whether a failed launch may still have launched: no answer (reset, timeout,
 * 5xx after every retry, or an interrupt before the retry). */
static bool outcome_unknown(const struct np_err *err)
{
	return err->cls == NP_ERRC_TRANSIENT || (err->http_status == 0 && !err->code[0]);
}

static void start_wait(struct apply *a, struct task *t, enum np_step_kind kind,
		       enum np_run_state want)
{
	double now = np_apply_now(a);
	double limit = a->opts->step_timeout > 0 ? a->opts->step_timeout : DEFAULT_STEP_TIMEOUT;

	t->wait_step = kind;
	t->wait_for = want;
	t->wait_started = now;
	t->last_note = now;
	t->wait_deadline = now + limit;
	t->status = TASK_WAITING;
}

/* After a call that needs no wait: the next step, or a final re-read. */
static void advance(struct apply *a, struct task *t, enum np_step_kind kind)
{
	np_progress_step_done(&a->progress, t->change->address, target_id(t, kind), kind,
			      np_apply_now(a) - t->step_started);
	if (t->next < t->change->n_steps) {
		t->status = TASK_READY;
		return;
	}
	start_wait(a, t, (enum np_step_kind) - 1, NP_RUN_UNSET);
}

static char *failure_text(const struct task *t, enum np_step_kind kind, const char *msg)
{
	const char *id = target_id(t, kind);

	return np_xasprintf("%s (%s): %s: %s", t->change->address, id ? id : "not launched",
			    (int)kind >= 0 ? np_step_name(kind) : "apply", msg);
}

/* Put a half-changed instance back: undo this cycle's modifications (newest
 * first) and start it when it ran before, so nothing is left stopped. */
void np_apply_fail(struct apply *a, struct task *t, enum np_step_kind kind, const char *msg)
{
	const struct np_change *c = t->change;
	struct np_err err = NP_ERR_INIT;
	size_t stop_at = c->n_steps;
	bool stopped_by_us = false;
	const struct np_step *irreversible = NULL;

	np_progress_failed(&a->progress, c->address, target_id(t, kind), kind, msg);
	pthread_mutex_lock(&a->lock);
	free(t->error);
	t->error = failure_text(t, kind, msg);
	pthread_mutex_unlock(&a->lock);

	if (t->rolling_back || !t->instance_id || c->action != NP_ACTION_UPDATE)
		goto failed;
	for (size_t i = 0; i < t->next && i < c->n_steps; i++)
		if (c->steps[i].kind == NP_STEP_STOP) {
			stopped_by_us = true;
			stop_at = i;
		}
	if (!stopped_by_us)
		goto failed;
	/* Putting an instance back is allowed after an interrupt too. */
	np_aws_allow_after_interrupt(true);
	/* Past an irreversible step (the last modification of a cycle) there
	 * is no previous configuration to go back to: say so, and start the
	 * instance as it now is. */
	for (size_t i = stop_at + 1; i < t->next && i < c->n_steps; i++)
		if (c->steps[i].irreversible && !(i + 1 == t->next && kind == c->steps[i].kind))
			irreversible = &c->steps[i];
	if (irreversible) {
		char *note =
		    np_xasprintf("%s went through and EC2 allows no way back: the instance "
				 "keeps its new configuration and is not put back into its "
				 "previous one",
				 np_step_label(irreversible));

		np_progress_note(&a->progress, c->address, t->instance_id, note);
		pthread_mutex_lock(&a->lock);
		char *more = np_xasprintf("%s (%s)", t->error, note);
		free(t->error);
		t->error = more;
		pthread_mutex_unlock(&a->lock);
		free(note);
		if (!t->was_running) {
			np_aws_allow_after_interrupt(false);
			goto failed;
		}
		np_progress_note(&a->progress, c->address, t->instance_id,
				 "starting the instance in its new configuration");
		goto start;
	}
	/* The modifications that went through since the stop, newest first. */
	for (size_t i = t->next; i-- > stop_at + 1;) {
		const struct np_step *s = &c->steps[i];

		if (i + 1 == t->next && kind == s->kind)
			continue; /* the one that failed changed nothing */
		if (a->ec2.undo(a->ec2.ctx, t->instance_id, s, &c->before, &err) < 0) {
			np_progress_failed(&a->progress, c->address, t->instance_id, s->kind,
					   err.msg);
			np_err_clear(&err);
		}
	}
	if (!t->was_running) {
		np_aws_allow_after_interrupt(false);
		goto failed;
	}
	np_progress_note(&a->progress, c->address, t->instance_id,
			 "putting the instance back into service in its previous configuration");
start:
	if (a->ec2.start_instances(a->ec2.ctx, (const char *const *)&t->instance_id, 1, &err) < 0) {
		np_aws_allow_after_interrupt(false);
		np_progress_failed(&a->progress, c->address, t->instance_id, NP_STEP_START,
				   err.msg);
		goto failed;
	}
	np_aws_allow_after_interrupt(false);
	pthread_mutex_lock(&a->lock);
	t->rolling_back = true;
	t->step_started = np_apply_now(a);
	start_wait(a, t, NP_STEP_START, NP_RUN_RUNNING);
	pthread_mutex_unlock(&a->lock);
	return;
failed:
	pthread_mutex_lock(&a->lock);
	t->status = TASK_FAILED;
	pthread_mutex_unlock(&a->lock);
}

static void exec_batch_state(struct apply *a, struct task **batch, size_t n, enum np_step_kind kind)
{
	const char **ids = np_xmalloc(n * sizeof(*ids));
	struct np_err err = NP_ERR_INIT;
	enum np_run_state want = kind == NP_STEP_STOP    ? NP_RUN_STOPPED
				 : kind == NP_STEP_START ? NP_RUN_RUNNING
							 : NP_RUN_TERMINATED;
	int r;

	np_apply_batch_begin(a);
	for (size_t i = 0; i < n; i++) {
		struct task *t = batch[i];

		ids[i] = target_id(t, kind);
		t->step_started = np_apply_now(a);
		np_progress_step_start(&a->progress, t->change->address, ids[i], kind);
		/* A stop that begins a cycle opens an entry that stays open until the
		 * instance is back: a run killed between two calls of the cycle
		 * leaves it pending, and the next apply starts the instance again. */
		if (kind == NP_STEP_STOP && t->change->requires_stop && t->was_running &&
		    t->cycle_journal_id < 0) {
			journal_begin(a, t, NP_STEP__COUNT, NULL);
			t->cycle_journal_id = t->journal_id;
		}
		journal_begin(a, t, kind, NULL);
	}
	np_apply_batch_end(a);
	if (kind == NP_STEP_STOP)
		r = a->ec2.stop_instances(a->ec2.ctx, ids, n, &err);
	else if (kind == NP_STEP_START)
		r = a->ec2.start_instances(a->ec2.ctx, ids, n, &err);
	else
		r = a->ec2.terminate_instances(a->ec2.ctx, ids, n, &err);

	if (r < 0 && not_sent(&err)) {
		/* Interrupted before the call went out: nothing happened. */
		for (size_t i = 0; i < n; i++) {
			journal_end(a, batch[i], "not sent", NULL);
			if (kind == NP_STEP_STOP)
				np_apply_cycle_end(a, batch[i], "not sent");
			pthread_mutex_lock(&a->lock);
			batch[i]->status = TASK_READY;
			pthread_mutex_unlock(&a->lock);
		}
		free(ids);
		return;
	}
	if (r < 0 && n > 1 && err.cls != NP_ERRC_AUTH) {
		/* One bad instance fails the whole call; find it by going one by one. */
		for (size_t i = 0; i < n; i++)
			journal_end(a, batch[i], "failed", "batch failed; retried alone");
		free(ids);
		for (size_t i = 0; i < n; i++)
			exec_batch_state(a, &batch[i], 1, kind);
		return;
	}
	if (r == 0)
		np_apply_batch_begin(a);
	for (size_t i = 0; i < n; i++) {
		struct task *t = batch[i];

		journal_end(a, t, r == 0 ? "done" : "failed", r == 0 ? NULL : err.msg);
		if (r < 0) {
			np_apply_fail(a, t, kind, err.msg);
			continue;
		}
		pthread_mutex_lock(&a->lock);
		t->next++;
		start_wait(a, t, kind, want);
		pthread_mutex_unlock(&a->lock);
	}
	if (r == 0)
		np_apply_batch_end(a);
	free(ids);
}

/* After a launch: the instance is known, record it before anything else can
 * go wrong, then wait for it to run. */
static void launched(struct apply *a, struct task *t, const struct np_instance *inst)
{
	struct np_err err = NP_ERR_INIT;

	free(t->instance_id);
	t->instance_id = np_xstrdup(inst->instance_id);
	if (np_apply_record(a, t, inst, &err) < 0)
		np_log_error("%s: %s", t->change->address, err.msg);
	journal_end(a, t, "done", NULL);
	pthread_mutex_lock(&a->lock);
	t->next++;
	start_wait(a, t, NP_STEP_RUN_INSTANCES, NP_RUN_RUNNING);
	pthread_mutex_unlock(&a->lock);
}

static bool idempotency_mismatch(const struct np_err *err)
{
	return !strcmp(err->code, "IdempotentParameterMismatch");
}

/* A launch call that did not answer with instances: not sent (the task is
 * ready again), outcome unknown or a token mismatch (the journal entry stays
 * open with its token, so the next apply looks the instances up and retries
 * with that token, never a new one), or a failure. */
static void launch_failed(struct apply *a, struct task *t, const char *token,
			  const struct np_err *err)
{
	char *msg;

	if (not_sent(err)) {
		journal_end(a, t, "not sent", NULL);
		pthread_mutex_lock(&a->lock);
		t->status = TASK_READY;
		pthread_mutex_unlock(&a->lock);
		return;
	}
	if (!outcome_unknown(err) && !idempotency_mismatch(err)) {
		journal_end(a, t, "failed", err->msg);
		np_apply_fail(a, t, NP_STEP_RUN_INSTANCES, err->msg);
		return;
	}
	if (idempotency_mismatch(err))
		msg =
		    np_xasprintf("%s: ClientToken %s was used before with other parameters, so "
				 "instances launched under it may exist; nothing was launched (the "
				 "next apply looks for them by that token)",
				 err->msg, token);
	else
		msg = np_xasprintf(
		    "outcome unknown (%s): the instance may have launched; the next "
		    "apply looks for it and retries with ClientToken %s, never a new one",
		    err->msg, token);
	np_progress_failed(&a->progress, t->change->address, NULL, NP_STEP_RUN_INSTANCES, msg);
	/* One open entry per token: a resumed launch's earlier entry stays open. */
	if (t->resume_token)
		journal_end(a, t, "failed", "the token stays open in the earlier entry");
	pthread_mutex_lock(&a->lock);
	free(t->error);
	t->error = failure_text(t, NP_STEP_RUN_INSTANCES, msg);
	t->status = idempotency_mismatch(err) ? TASK_FAILED : TASK_UNKNOWN;
	t->journal_id = -1; /* left open on purpose */
	pthread_mutex_unlock(&a->lock);
	free(msg);
}

/* Before a launch under the token of an earlier one that may have gone
 * through: the instances EC2 lists under that token, by address. Returns how
 * many of the n tasks it found (launched() has run for those). */
static size_t adopt_launched(struct apply *a, struct task **batch, size_t n, const char *token,
			     bool *adopted)
{
	struct np_instance *got = NULL;
	struct np_err err = NP_ERR_INIT;
	size_t n_got = 0, found = 0;

	if (a->ec2.describe_instances_filter(a->ec2.ctx, "client-token", &token, 1, &got, &n_got,
					     &err) < 0) {
		np_log_warn("looking up ClientToken %s: %s", token, err.msg);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < n_got; k++) {
			const struct np_instance *inst = &got[k];

			if (!inst->address || strcmp(inst->address, batch[i]->change->address) ||
			    inst->state == NP_RUN_TERMINATED || inst->state == NP_RUN_SHUTTING_DOWN)
				continue;
			np_progress_note(
			    &a->progress, batch[i]->change->address, inst->instance_id,
			    "found the instance an earlier launch with the same ClientToken "
			    "started");
			launched(a, batch[i], inst);
			adopted[i] = true;
			found++;
			break;
		}
	}
	np_instances_free(got, n_got);
	return found;
}

/* The change as it launches: with the HostId the state has for the host
 * its run_instances step names (placed is a shallow, read-only copy of c;
 * *host_id is owned and freed by the caller). */
static int placed_on_host(struct apply *a, const struct np_change *c, const struct np_step *s,
			  struct np_change *placed, char **host_id, struct np_err *err)
{
	const char *address = s->host_address ? s->host_address : c->after.host_address;

	*placed = *c;
	*host_id = NULL;
	if (!address)
		return 0;
	if (np_apply_host_id(a, address, host_id, err) < 0)
		return np_error_prefix(err, "cannot launch '%s'", c->address);
	placed->after.host_id = *host_id;
	if (placed->after.tenancy == NP_TENANCY_UNSET)
		placed->after.tenancy = NP_TENANCY_HOST;
	return 0;
}

static void exec_one(struct apply *a, struct task *t)
{
	const struct np_change *c = t->change;
	const struct np_step *s = &c->steps[t->next];
	struct np_err err = NP_ERR_INIT;
	char token[65] = "";
	int r = 0;

	t->step_started = np_apply_now(a);
	if (s->kind == NP_STEP_RUN_INSTANCES) {
		struct np_instance inst = { 0 };

		bool adopted = false;

		if (t->resume_token && adopt_launched(a, &t, 1, t->resume_token, &adopted) == 1)
			return;
		struct np_change placed;
		char *host_id = NULL;

		if (placed_on_host(a, c, s, &placed, &host_id, &err) < 0) {
			np_apply_fail(a, t, s->kind, err.msg);
			return;
		}
		pthread_mutex_lock(&a->state_lock);
		r = np_launch_token(a->st, c->address, t->resume_token, token, &err);
		pthread_mutex_unlock(&a->state_lock);
		if (r < 0) {
			free(host_id);
			np_apply_fail(a, t, s->kind, err.msg);
			return;
		}
		np_progress_step_start(&a->progress, c->address, NULL, s->kind);
		journal_begin(a, t, s->kind, token);
		r = np_launch_run_cat(&a->ec2, &placed, t->desired, a->plan->lineage,
				      a->opts->catalog, token, false, &inst, &err);
		if (r == 0)
			launched(a, t, &inst);
		else
			launch_failed(a, t, token, &err);
		np_instance_release(&inst);
		free(host_id);
		return;
	}

	np_progress_step_start(&a->progress, c->address, target_id(t, s->kind), s->kind);
	journal_begin(a, t, s->kind, NULL);
	if (s->kind == NP_STEP_MODIFY_USER_DATA) {
		/* The text comes from the file, never from the plan: this copy of
		 * the step carries it to the call and no further. */
		struct np_step with_text = *s;

		/* read only: the copy is never released */
		with_text.value = t->desired ? (char *)t->desired->user_data : NULL;
		r = with_text.value
			? a->ec2.modify(a->ec2.ctx, target_id(t, s->kind), &with_text, &err)
			: np_error(&err, "the file no longer has the user data to send");
	} else if (s->kind == NP_STEP_MODIFY_PLACEMENT && s->host_address) {
		/* Onto a host of the file: the id the state has for it by now (the
		 * host may have been allocated by this apply). */
		struct np_step onto = *s; /* read only: the copy is never released */
		char *host_id = NULL;

		r = np_apply_host_id(a, s->host_address, &host_id, &err);
		onto.host_id = host_id;
		if (r == 0)
			r = a->ec2.modify(a->ec2.ctx, target_id(t, s->kind), &onto, &err);
		free(host_id);
	} else {
		r = a->ec2.modify(a->ec2.ctx, target_id(t, s->kind), s, &err);
	}
	if (r < 0 && not_sent(&err)) {
		journal_end(a, t, "not sent", NULL);
		pthread_mutex_lock(&a->lock);
		t->status = TASK_READY;
		pthread_mutex_unlock(&a->lock);
		return;
	}
	journal_end(a, t, r == 0 ? "done" : "failed", r == 0 ? NULL : err.msg);
	if (r < 0) {
		pthread_mutex_lock(&a->lock);
		t->next++; /* so the rollback knows how far the cycle got */
		pthread_mutex_unlock(&a->lock);
		np_apply_fail(a, t, s->kind, err.msg);
		return;
	}
	pthread_mutex_lock(&a->lock);
	t->next++;
	advance(a, t, s->kind);
	pthread_mutex_unlock(&a->lock);
}

/* Identical instances runner[A..B], in index order: one RunInstances call
 * with one ClientToken for the batch (journaled for every address, so a
 * killed apply resumes the same call), tags and addresses in the call. */
static void exec_launches(struct apply *a, struct task **batch, size_t n)
{
	const struct np_change *c0 = batch[0]->change;
	struct np_instance *got = NULL;
	struct np_err err = NP_ERR_INIT;
	size_t n_got = 0, name_len;
	long lo, hi;
	char token[65] = "", *range, *host_id = NULL;
	struct np_change placed;
	int r = 0;

	if (batch[0]->resume_token) {
		bool *adopted = np_xcalloc(n, sizeof(*adopted));
		size_t found = adopt_launched(a, batch, n, batch[0]->resume_token, adopted), k = 0;

		/* The rest of that call's instances are not listed yet: the same call
		 * again (same token) answers with them, or EC2 says it was another. */
		for (size_t i = 0; i < n; i++)
			if (!adopted[i])
				batch[k++] = batch[i];
		free(adopted);
		if (found == n)
			return;
		n = k;
		if (n == 1) {
			exec_one(a, batch[0]);
			return;
		}
	}
	if (placed_on_host(a, c0, &c0->steps[batch[0]->next], &placed, &host_id, &err) < 0) {
		for (size_t i = 0; i < n; i++)
			np_apply_fail(a, batch[i], NP_STEP_RUN_INSTANCES, err.msg);
		return;
	}
	np_launch_address_index(c0->address, &name_len, &lo);
	np_launch_address_index(batch[n - 1]->change->address, &name_len, &hi);
	range = np_xasprintf("%.*s[%ld..%ld]", (int)name_len, c0->address, lo, hi);
	if (batch[0]->resume_token) {
		snprintf(token, sizeof(token), "%s", batch[0]->resume_token);
	} else {
		pthread_mutex_lock(&a->state_lock);
		r = np_launch_token(a->st, range, NULL, token, &err);
		pthread_mutex_unlock(&a->state_lock);
	}
	np_apply_batch_begin(a);
	for (size_t i = 0; i < n; i++) {
		batch[i]->step_started = np_apply_now(a);
		if (r == 0) {
			np_progress_step_start(&a->progress, batch[i]->change->address, NULL,
					       NP_STEP_RUN_INSTANCES);
			journal_begin(a, batch[i], NP_STEP_RUN_INSTANCES, token);
		}
	}
	np_apply_batch_end(a);
	if (r == 0)
		r = np_launch_run_many(&a->ec2, &placed, batch[0]->desired, a->plan->lineage,
				       a->opts->catalog, range, (int)n, token, false, &got, &n_got,
				       &err);
	if (r == 0) {
		np_apply_batch_begin(a);
		for (size_t i = 0; i < n; i++) {
			const struct np_instance *inst = &got[i];

			/* amiLaunchIndex (through the address tag) says which is which. */
			for (size_t k = 0; k < n_got; k++)
				if (got[k].address &&
				    !strcmp(got[k].address, batch[i]->change->address))
					inst = &got[k];
			launched(a, batch[i], inst);
		}
		np_apply_batch_end(a);
	} else if ((err.cls == NP_ERRC_CAPACITY || err.cls == NP_ERRC_BAD_REQUEST) &&
		   !idempotency_mismatch(&err)) {
		/* EC2 refused the call, so nothing was launched: one by one, so a
		 * shortfall or a bad instance fails only its own launch. */
		np_log_info(
		    "%s: one RunInstances call for %zu instances failed (%s); launching them "
		    "one at a time",
		    range, n, err.code[0] ? err.code : err.msg);
		for (size_t i = 0; i < n; i++) {
			journal_end(a, batch[i], "failed", "batch refused; launched alone");
			batch[i]->resume_token = NULL;
		}
		for (size_t i = 0; i < n; i++)
			exec_one(a, batch[i]);
	} else {
		for (size_t i = 0; i < n; i++)
			launch_failed(a, batch[i], token, &err);
	}
	np_instances_free(got, n_got);
	free(range);
	free(host_id);
}

/* Interrupted after their stop: start the instances again in one call (let
 * through although interrupted) and wait for them to run; their cycle entries
 * stay open, so the next apply checks the end and closes them. */
static void exec_recover(struct apply *a, struct task **batch, size_t n)
{
	const char **ids = np_xmalloc(n * sizeof(*ids));
	struct np_err err = NP_ERR_INIT;
	int r;

	for (size_t i = 0; i < n; i++) {
		ids[i] = batch[i]->instance_id;
		np_progress_step_start(&a->progress, batch[i]->change->address, ids[i],
				       NP_STEP_START);
		journal_begin(a, batch[i], NP_STEP_START, NULL);
	}
	np_aws_allow_after_interrupt(true);
	r = a->ec2.start_instances(a->ec2.ctx, ids, n, &err);
	if (r < 0 && n > 1) {
		np_aws_allow_after_interrupt(false);
		for (size_t i = 0; i < n; i++)
			journal_end(a, batch[i], "failed", "batch failed; retried alone");
		free(ids);
		for (size_t i = 0; i < n; i++)
			exec_recover(a, &batch[i], 1);
		return;
	}
	np_aws_allow_after_interrupt(false);
	for (size_t i = 0; i < n; i++) {
		struct task *t = batch[i];

		journal_end(a, t, r == 0 ? "done" : "failed", r == 0 ? NULL : err.msg);
		if (r == 0)
			np_progress_note(&a->progress, t->change->address, t->instance_id,
					 "interrupted mid-change: starting it again");
		else
			np_progress_failed(&a->progress, t->change->address, t->instance_id,
					   NP_STEP_START, err.msg);
		pthread_mutex_lock(&a->lock);
		t->recover = false;
		t->left_stopped = r < 0;
		if (r == 0) {
			/* Wait for it to run, within the interrupt's grace time. */
			t->restarting = true;
			t->step_started = np_apply_now(a);
			start_wait(a, t, NP_STEP_START, NP_RUN_RUNNING);
			if (t->wait_deadline > a->stopping_since + NP_APPLY_INTERRUPT_GRACE)
				t->wait_deadline = a->stopping_since + NP_APPLY_INTERRUPT_GRACE;
		} else {
			t->status = TASK_HALTED;
		}
		pthread_mutex_unlock(&a->lock);
	}
	free(ids);
}

void np_apply_exec(struct apply *a, struct task **batch, size_t n)
{
	enum np_step_kind kind;

	if (batch[0]->recover) {
		exec_recover(a, batch, n);
		return;
	}
	kind = batch[0]->change->steps[batch[0]->next].kind;
	if (kind == NP_STEP_RUN_INSTANCES && n > 1) {
		exec_launches(a, batch, n);
		return;
	}
	if (np_apply_batchable(kind)) {
		exec_batch_state(a, batch, n, kind);
		return;
	}
	for (size_t i = 0; i < n; i++)
		exec_one(a, batch[i]);
}
