/* The worker side: one EC2 call per step (one per batch for stop, start and
 * terminate), each journaled before and after, and the rollback of a
 * stop/modify/start cycle that failed half-way. */
#include <stdlib.h>
#include <string.h>

#include "apply/internal.h"
#include "apply/launch.h"
#include "nestplan/alloc.h"
#include "nestplan/ec2.h"
#include "nestplan/log.h"

#define DEFAULT_STEP_TIMEOUT 600.0

static const char *target_id(const struct task *t, enum np_step_kind kind)
{
	if (kind == NP_STEP_TERMINATE && t->old_instance_id)
		return t->old_instance_id;
	return t->instance_id;
}

static void journal_begin(struct apply *a, struct task *t, enum np_step_kind kind,
                          const char *token)
{
	struct np_journal_entry e = {0};
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

void np_apply_cycle_end(struct apply *a, struct task *t)
{
	struct np_err err = NP_ERR_INIT;

	if (t->cycle_journal_id < 0)
		return;
	pthread_mutex_lock(&a->state_lock);
	if (np_state_journal_end(a->st, t->cycle_journal_id,
	                         t->status == TASK_DONE ? "done" : "failed", t->instance_id, NULL,
	                         &err) < 0)
		np_log_error("journal: %s", err.msg);
	pthread_mutex_unlock(&a->state_lock);
	t->cycle_journal_id = -1;
}

static void journal_end(struct apply *a, struct task *t, bool ok, const char *detail)
{
	struct np_err err = NP_ERR_INIT;

	if (t->journal_id < 0)
		return;
	pthread_mutex_lock(&a->state_lock);
	if (np_state_journal_end(a->st, t->journal_id, ok ? "done" : "failed", t->instance_id, detail,
	                         &err) < 0)
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

static void start_wait(struct apply *a, struct task *t, enum np_step_kind kind,
                       enum np_run_state want)
{
	double now = np_apply_now();
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
	                      np_apply_now() - t->step_started);
	if (t->next < t->change->n_steps) {
		t->status = TASK_READY;
		return;
	}
	start_wait(a, t, (enum np_step_kind)-1, NP_RUN_UNSET);
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
	/* Past an irreversible step (the last modification of a cycle) there
	 * is no previous configuration to go back to: say so, and start the
	 * instance as it now is. */
	for (size_t i = stop_at + 1; i < t->next && i < c->n_steps; i++)
		if (c->steps[i].irreversible && !(i + 1 == t->next && kind == c->steps[i].kind))
			irreversible = &c->steps[i];
	if (irreversible) {
		char *note = np_xasprintf("%s went through and EC2 allows no way back: the instance "
		                          "keeps its new configuration and is not put back into its "
		                          "previous one",
		                          np_step_name(irreversible->kind));

		np_progress_note(&a->progress, c->address, t->instance_id, note);
		pthread_mutex_lock(&a->lock);
		char *more = np_xasprintf("%s (%s)", t->error, note);
		free(t->error);
		t->error = more;
		pthread_mutex_unlock(&a->lock);
		free(note);
		if (!t->was_running)
			goto failed;
		np_progress_note(&a->progress, c->address, t->instance_id,
		                 "starting the instance in its new configuration");
		goto start;
	}
	/* The modifications that went through since the stop, newest first. */
	for (size_t i = t->next; i-- > stop_at + 1;) {
		const struct np_step *s = &c->steps[i];

		if (i + 1 == t->next && kind == s->kind)
			continue; /* the one that failed changed nothing */
		if (np_launch_undo(a->aws, t->instance_id, s, &c->before, &err) < 0) {
			np_progress_failed(&a->progress, c->address, t->instance_id, s->kind, err.msg);
			np_err_clear(&err);
		}
	}
	if (!t->was_running)
		goto failed;
	np_progress_note(&a->progress, c->address, t->instance_id,
	                 "putting the instance back into service in its previous configuration");
start:
	if (np_ec2_start_instances(a->aws, (const char *const *)&t->instance_id, 1, false, &err) < 0) {
		np_progress_failed(&a->progress, c->address, t->instance_id, NP_STEP_START, err.msg);
		goto failed;
	}
	pthread_mutex_lock(&a->lock);
	t->rolling_back = true;
	t->step_started = np_apply_now();
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

	for (size_t i = 0; i < n; i++) {
		struct task *t = batch[i];

		ids[i] = target_id(t, kind);
		t->step_started = np_apply_now();
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
	if (kind == NP_STEP_STOP)
		r = np_ec2_stop_instances(a->aws, ids, n, false, &err);
	else if (kind == NP_STEP_START)
		r = np_ec2_start_instances(a->aws, ids, n, false, &err);
	else
		r = np_ec2_terminate_instances(a->aws, ids, n, false, &err);

	if (r < 0 && n > 1 && err.cls != NP_ERRC_AUTH) {
		/* One bad instance fails the whole call; find it by going one by one. */
		for (size_t i = 0; i < n; i++)
			journal_end(a, batch[i], false, "batch failed; retried alone");
		free(ids);
		for (size_t i = 0; i < n; i++)
			exec_batch_state(a, &batch[i], 1, kind);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct task *t = batch[i];

		journal_end(a, t, r == 0, r == 0 ? NULL : err.msg);
		if (r < 0) {
			np_apply_fail(a, t, kind, err.msg);
			continue;
		}
		pthread_mutex_lock(&a->lock);
		t->next++;
		start_wait(a, t, kind, want);
		pthread_mutex_unlock(&a->lock);
	}
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
	journal_end(a, t, true, NULL);
	pthread_mutex_lock(&a->lock);
	t->next++;
	start_wait(a, t, NP_STEP_RUN_INSTANCES, NP_RUN_RUNNING);
	pthread_mutex_unlock(&a->lock);
}

static void exec_one(struct apply *a, struct task *t)
{
	const struct np_change *c = t->change;
	const struct np_step *s = &c->steps[t->next];
	struct np_err err = NP_ERR_INIT;
	char token[65] = "";
	int r = 0;

	t->step_started = np_apply_now();
	if (s->kind == NP_STEP_RUN_INSTANCES) {
		struct np_instance inst = {0};

		pthread_mutex_lock(&a->state_lock);
		r = np_launch_token(a->st, c->address, t->resume_token, token, &err);
		pthread_mutex_unlock(&a->state_lock);
		if (r < 0) {
			np_apply_fail(a, t, s->kind, err.msg);
			return;
		}
		np_progress_step_start(&a->progress, c->address, NULL, s->kind);
		journal_begin(a, t, s->kind, token);
		r = np_launch_run(a->aws, c, t->desired, a->plan->lineage, token, false, &inst, &err);
		if (r == 0)
			launched(a, t, &inst);
		else
			journal_end(a, t, false, err.msg);
		np_instance_release(&inst);
		if (r < 0)
			np_apply_fail(a, t, s->kind, err.msg);
		return;
	}

	np_progress_step_start(&a->progress, c->address, t->instance_id, s->kind);
	journal_begin(a, t, s->kind, NULL);
	r = np_launch_modify(a->aws, t->instance_id, s, false, &err);
	journal_end(a, t, r == 0, r == 0 ? NULL : err.msg);
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
	char token[65] = "", *range;
	int r = 0;

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
	for (size_t i = 0; i < n; i++) {
		batch[i]->step_started = np_apply_now();
		if (r == 0) {
			np_progress_step_start(&a->progress, batch[i]->change->address, NULL,
			                       NP_STEP_RUN_INSTANCES);
			journal_begin(a, batch[i], NP_STEP_RUN_INSTANCES, token);
		}
	}
	if (r == 0)
		r = np_launch_run_many(a->aws, c0, batch[0]->desired, a->plan->lineage, range, (int)n,
		                       token, false, &got, &n_got, &err);
	if (r == 0) {
		for (size_t i = 0; i < n; i++) {
			const struct np_instance *inst = &got[i];

			/* amiLaunchIndex (through the address tag) says which is which. */
			for (size_t k = 0; k < n_got; k++)
				if (got[k].address && !strcmp(got[k].address, batch[i]->change->address))
					inst = &got[k];
			launched(a, batch[i], inst);
		}
	} else if (err.cls == NP_ERRC_CAPACITY || err.cls == NP_ERRC_BAD_REQUEST) {
		/* EC2 refused the call, so nothing was launched: one by one, so a
		 * shortfall or a bad instance fails only its own launch. */
		np_log_info("%s: one RunInstances call for %zu instances failed (%s); launching them "
		            "one at a time",
		            range, n, err.code[0] ? err.code : err.msg);
		for (size_t i = 0; i < n; i++) {
			journal_end(a, batch[i], false, "batch refused; launched alone");
			batch[i]->resume_token = NULL;
		}
		for (size_t i = 0; i < n; i++)
			exec_one(a, batch[i]);
	} else {
		for (size_t i = 0; i < n; i++) {
			journal_end(a, batch[i], false, err.msg);
			np_apply_fail(a, batch[i], NP_STEP_RUN_INSTANCES, err.msg);
		}
	}
	np_instances_free(got, n_got);
	free(range);
}

void np_apply_exec(struct apply *a, struct task **batch, size_t n)
{
	enum np_step_kind kind = batch[0]->change->steps[batch[0]->next].kind;

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
