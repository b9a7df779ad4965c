/* Dedicated Hosts in apply: every allocation, modification and tag change of
 * a host before the instance tasks start (so a launch onto a host finds its
 * HostId in the state), every release after they are all over, each call
 * journaled as instance steps are. A host is released only when every
 * instance of the plan on it succeeded and DescribeHosts lists no instance
 * on it any more: a release cannot be undone. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apply/internal.h"
#include "apply/launch.h"
#include "nestplan/alloc.h"
#include "nestplan/ec2.h"
#include "nestplan/log.h"

#define DEFAULT_STEP_TIMEOUT 600.0

static bool is_host(const struct np_change *c) { return c->kind == NP_KIND_HOST; }

static bool same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static bool has_step(const struct np_change *c, enum np_step_kind k)
{
	for (size_t i = 0; i < c->n_steps; i++)
		if (c->steps[i].kind == k)
			return true;
	return false;
}

/* The newest open entry a killed apply left for this host's allocation. */
static const char *pending_token(const struct np_apply_opts *o, const char *address)
{
	for (size_t k = o->n_pending; k-- > 0;) {
		const struct np_journal_entry *e = &o->pending[k];

		if (!strcmp(e->step, "allocate_hosts") && !strcmp(e->address, address) &&
		    e->client_token)
			return e->client_token;
	}
	return NULL;
}

void np_apply_hosts_init(struct apply *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->plan->n_changes; i++)
		n += is_host(&a->plan->changes[i]) && a->plan->changes[i].n_steps > 0;
	a->hosts = np_xcalloc(n ? n : 1, sizeof(*a->hosts));
	for (size_t i = 0; i < a->plan->n_changes; i++) {
		const struct np_change *c = &a->plan->changes[i];
		struct host_task *h;

		if (!is_host(c) || c->n_steps == 0)
			continue;
		h = &a->hosts[a->n_hosts++];
		h->change = c;
		h->status = TASK_READY;
		/* A change that allocates acts on the new host; its release (a
		 * replacement) on the one the plan names. */
		h->host_id = c->host_id && !has_step(c, NP_STEP_ALLOCATE_HOSTS)
				 ? np_xstrdup(c->host_id)
				 : NULL;
		h->release_id = has_step(c, NP_STEP_RELEASE_HOSTS) && c->host_id
				    ? np_xstrdup(c->host_id)
				    : NULL;
		h->resume_token =
		    has_step(c, NP_STEP_ALLOCATE_HOSTS) ? pending_token(a->opts, c->address) : NULL;
	}
}

void np_apply_hosts_release(struct apply *a)
{
	for (size_t i = 0; i < a->n_hosts; i++) {
		free(a->hosts[i].host_id);
		free(a->hosts[i].release_id);
		free(a->hosts[i].error);
	}
	free(a->hosts);
	a->hosts = NULL;
	a->n_hosts = 0;
}

/* Journal entries of host calls: the host's id goes where an instance's would. */
static long long journal_begin(struct apply *a, struct host_task *h, enum np_step_kind kind,
			       const char *token)
{
	struct np_journal_entry e = { 0 };
	struct np_err err = NP_ERR_INIT;
	long long id = -1;

	e.run_id = (char *)a->opts->run_id;
	e.address = h->change->address;
	e.step = (char *)np_step_name(kind);
	e.instance_id = h->host_id;
	e.client_token = (char *)token;
	pthread_mutex_lock(&a->state_lock);
	if (np_state_journal_begin(a->st, &e, &id, &err) < 0) {
		np_log_error("journal: %s", err.msg);
		id = -1;
	}
	pthread_mutex_unlock(&a->state_lock);
	return id;
}

static void journal_end(struct apply *a, struct host_task *h, long long id, const char *status,
			const char *detail)
{
	struct np_err err = NP_ERR_INIT;

	if (id < 0)
		return;
	pthread_mutex_lock(&a->state_lock);
	if (np_state_journal_end(a->st, id, status, h->host_id, detail, &err) < 0)
		np_log_error("journal: %s", err.msg);
	pthread_mutex_unlock(&a->state_lock);
}

static void fail(struct apply *a, struct host_task *h, enum np_step_kind kind, const char *msg)
{
	const char *id = kind == NP_STEP_RELEASE_HOSTS ? h->release_id : h->host_id;

	np_progress_failed(&a->progress, h->change->address, id, kind, msg);
	free(h->error);
	h->error = np_xasprintf("%s (%s): %s: %s", h->change->address, id ? id : "not allocated",
				np_step_name(kind), msg);
	h->status = TASK_FAILED;
}

/* Record the host as EC2 reports it now (or, when DescribeHosts does not list
 * it yet, as the plan wants it with its new id), under its address. */
static int record(struct apply *a, struct host_task *h, struct np_err *err)
{
	const struct np_change *c = h->change;
	const char *id = h->host_id;
	struct np_host *got = NULL, rec = { 0 };
	size_t n_got = 0;
	struct np_err derr = NP_ERR_INIT;
	int rc;

	if (a->ec2.describe_hosts_by_id &&
	    a->ec2.describe_hosts_by_id(a->ec2.ctx, &id, 1, &got, &n_got, &derr) < 0) {
		np_log_debug("%s: %s", c->address, derr.msg);
		n_got = 0;
	}
	if (n_got == 1 && got[0].host_id && !strcmp(got[0].host_id, id)) {
		np_host_copy(&rec, &got[0]);
	} else {
		np_host_copy(&rec, &c->host_after);
		free(rec.host_id);
		rec.host_id = np_xstrdup(id);
		if (rec.state == NP_HOST_UNSET)
			rec.state = NP_HOST_AVAILABLE;
	}
	free(rec.address);
	rec.address = np_xstrdup(c->address);
	if (!rec.lineage && a->plan->lineage)
		rec.lineage = np_xstrdup(a->plan->lineage);
	pthread_mutex_lock(&a->state_lock);
	rc = np_state_host_put(a->st, &rec, err);
	pthread_mutex_unlock(&a->state_lock);
	np_host_release(&rec);
	np_hosts_free(got, n_got);
	return rc;
}

int np_apply_put_host(struct np_state *st, const struct np_change *c, const struct np_host *live,
		      struct np_err *err)
{
	struct np_host rec;
	int rc;

	if (!live)
		return np_state_host_remove(st, c->address, err);
	np_host_copy(&rec, live);
	free(rec.address);
	rec.address = np_xstrdup(c->address);
	rc = np_state_host_put(st, &rec, err);
	np_host_release(&rec);
	return rc;
}

/* A host an earlier AllocateHosts with this token made, if EC2 lists one. */
static char *adopt(struct apply *a, const struct host_task *h, const char *token)
{
	struct np_host *got = NULL;
	size_t n_got = 0;
	struct np_err err = NP_ERR_INIT;
	char *id = NULL;

	if (a->ec2.describe_hosts_filter(a->ec2.ctx, "client-token", &token, 1, &got, &n_got,
					 &err) < 0) {
		np_log_warn("looking up ClientToken %s: %s", token, err.msg);
		return NULL;
	}
	for (size_t k = 0; k < n_got && !id; k++)
		if (got[k].host_id && got[k].state != NP_HOST_RELEASED &&
		    got[k].state != NP_HOST_RELEASED_PERMANENT_FAILURE)
			id = np_xstrdup(got[k].host_id);
	np_hosts_free(got, n_got);
	if (id)
		np_progress_note(&a->progress, h->change->address, id,
				 "found the host an earlier AllocateHosts with the same "
				 "ClientToken allocated");
	return id;
}

static bool not_sent(const struct np_err *err) { return err->cls == NP_ERRC_INTERRUPTED; }

static bool outcome_unknown(const struct np_err *err)
{
	return err->cls == NP_ERRC_TRANSIENT || (err->http_status == 0 && !err->code[0]);
}

/* AllocateHosts Quantity=1 under a ClientToken journaled before the call, so
 * a run killed before the host is recorded adopts it the next time (the
 * same token, looked up with DescribeHosts' client-token filter). Returns 0
 * when the host is allocated and recorded. */
static int allocate(struct apply *a, struct host_task *h)
{
	const struct np_change *c = h->change;
	struct np_tags tags = NP_TAGS_INIT;
	struct np_strv ids = { 0 };
	struct np_ec2_allocate req = { 0 };
	struct np_err err = NP_ERR_INIT;
	char token[65] = "";
	long long jid;
	int rc = -1;

	h->started = np_apply_now(a);
	np_progress_step_start(&a->progress, c->address, NULL, NP_STEP_ALLOCATE_HOSTS);
	if (h->resume_token && (h->host_id = adopt(a, h, h->resume_token))) {
		jid = journal_begin(a, h, NP_STEP_ALLOCATE_HOSTS, h->resume_token);
		if (record(a, h, &err) < 0) {
			journal_end(a, h, jid, "failed", err.msg);
			fail(a, h, NP_STEP_ALLOCATE_HOSTS, err.msg);
			return -1;
		}
		journal_end(a, h, jid, "done", "adopted by its ClientToken");
		return 0;
	}
	pthread_mutex_lock(&a->state_lock);
	rc = np_launch_token(a->st, c->address, h->resume_token, token, &err);
	pthread_mutex_unlock(&a->state_lock);
	if (rc < 0) {
		fail(a, h, NP_STEP_ALLOCATE_HOSTS, err.msg);
		return -1;
	}
	np_tags_copy(&tags, &c->host_after.tags);
	np_tags_set(&tags, NP_TAG_ADDRESS, c->address);
	np_tags_set(&tags, NP_TAG_LINEAGE, a->plan->lineage ? a->plan->lineage : "");
	req.host = &c->host_after;
	req.tags = &tags;
	req.client_token = token;
	req.quantity = 1;
	jid = journal_begin(a, h, NP_STEP_ALLOCATE_HOSTS, token);
	rc = a->ec2.allocate_hosts(a->ec2.ctx, &req, &ids, &err);
	if (rc == 0 && ids.n != 1) {
		rc = np_error(&err, "AllocateHosts (%s): asked for 1 host, the answer lists %zu",
			      c->address, ids.n);
		err.cls = NP_ERRC_TRANSIENT; /* something may have been allocated */
	}
	if (rc < 0) {
		if (not_sent(&err)) {
			journal_end(a, h, jid, "not sent", NULL);
			h->status = TASK_HALTED;
		} else if (outcome_unknown(&err)) {
			/* The entry stays open with its token: the next apply looks the
			 * host up by it and never allocates a second one. */
			char *msg = np_xasprintf(
			    "outcome unknown (%s): the host may have been allocated; the next "
			    "apply looks for it by ClientToken %s, never a new one",
			    err.msg, token);

			/* One open entry per token: a resumed allocation's stays open. */
			if (h->resume_token)
				journal_end(a, h, jid, "failed",
					    "the token stays open in the earlier entry");
			fail(a, h, NP_STEP_ALLOCATE_HOSTS, msg);
			h->status = TASK_UNKNOWN;
			free(msg);
		} else {
			journal_end(a, h, jid, "failed", err.msg);
			fail(a, h, NP_STEP_ALLOCATE_HOSTS, err.msg);
		}
		goto cleanup;
	}
	free(h->host_id);
	h->host_id = np_xstrdup(ids.v[0]);
	if (record(a, h, &err) < 0) {
		/* Allocated, not recorded: the entry stays open, so the next apply
		 * adopts it by its token. */
		fail(a, h, NP_STEP_ALLOCATE_HOSTS, err.msg);
		rc = -1;
		goto cleanup;
	}
	journal_end(a, h, jid, "done", NULL);
	np_progress_step_done(&a->progress, c->address, h->host_id, NP_STEP_ALLOCATE_HOSTS,
			      np_apply_now(a) - h->started);
cleanup:
	np_tags_release(&tags);
	np_strv_release(&ids);
	return rc;
}

/* modify_hosts, create_tags, delete_tags on an existing host. */
static int modify(struct apply *a, struct host_task *h, const struct np_step *s)
{
	const struct np_change *c = h->change;
	struct np_err err = NP_ERR_INIT;
	const char *id = h->host_id;
	long long jid;
	int r;

	if (!id) {
		fail(a, h, s->kind, "the host has no id in the state");
		return -1;
	}
	h->started = np_apply_now(a);
	np_progress_step_start(&a->progress, c->address, id, s->kind);
	jid = journal_begin(a, h, s->kind, NULL);
	if (s->kind == NP_STEP_MODIFY_HOSTS)
		r = a->ec2.modify_hosts(a->ec2.ctx, &id, 1, s->auto_placement, s->host_recovery,
					&err);
	else
		r = a->ec2.modify(a->ec2.ctx, id, s, &err);
	if (r < 0 && not_sent(&err)) {
		journal_end(a, h, jid, "not sent", NULL);
		h->status = TASK_HALTED;
		return -1;
	}
	journal_end(a, h, jid, r == 0 ? "done" : "failed", r == 0 ? NULL : err.msg);
	if (r < 0) {
		fail(a, h, s->kind, err.msg);
		return -1;
	}
	np_progress_step_done(&a->progress, c->address, id, s->kind, np_apply_now(a) - h->started);
	return 0;
}

static bool interrupted(const struct apply *a)
{
	return a->opts->interrupted && *a->opts->interrupted;
}

void np_apply_hosts_before(struct apply *a)
{
	for (size_t i = 0; i < a->n_hosts; i++) {
		struct host_task *h = &a->hosts[i];
		const struct np_change *c = h->change;
		bool modified = false;
		struct np_err err = NP_ERR_INIT;

		for (size_t k = 0; k < c->n_steps && h->status == TASK_READY; k++) {
			const struct np_step *s = &c->steps[k];

			if (s->kind == NP_STEP_RELEASE_HOSTS)
				continue;
			if (interrupted(a)) {
				h->status = TASK_HALTED;
				break;
			}
			if (s->kind == NP_STEP_ALLOCATE_HOSTS) {
				if (allocate(a, h) < 0)
					break;
				/* The tags went in the TagSpecification; the plan's tag steps
				 * of a new host have nothing left to do. */
				h->allocated = true;
				continue;
			}
			if (h->allocated &&
			    (s->kind == NP_STEP_CREATE_TAGS || s->kind == NP_STEP_DELETE_TAGS))
				continue;
			if (modify(a, h, s) < 0)
				break;
			modified = true;
		}
		if (h->status == TASK_READY && modified && record(a, h, &err) < 0)
			np_log_warn("%s: %s", c->address, err.msg);
		if (h->status == TASK_READY && !has_step(c, NP_STEP_RELEASE_HOSTS))
			h->status = TASK_DONE;
	}
}

/* The changes of instances on the host: placed there by the plan, or there
 * before it. */
static bool on_host(const struct np_change *ic, const struct host_task *h)
{
	const struct np_change *c = h->change;

	if (is_host(ic))
		return false;
	if (ic->has_before &&
	    (same_str(ic->before.host_address, c->address) ||
	     (ic->before.host_id && c->host_id && !strcmp(ic->before.host_id, c->host_id))))
		return true;
	return ic->has_after && ic->after.host_address &&
	       !strcmp(ic->after.host_address, c->address);
}

/* Why the host may not be released: an instance task on it that did not
 * succeed. NULL when every one did. Caller holds a->lock. */
static char *blocked_by(struct apply *a, const struct host_task *h)
{
	for (size_t i = 0; i < a->n_tasks; i++) {
		const struct task *t = &a->tasks[i];
		const char *id;

		if (t->resume_only || !on_host(t->change, h) || t->status == TASK_DONE)
			continue;
		id = t->instance_id ? t->instance_id : t->old_instance_id;
		return np_xasprintf("not released: the change of instance '%s' (%s) on it did "
				    "not succeed, and a release cannot be undone",
				    t->change->address, id ? id : "not launched");
	}
	return NULL;
}

/* Wait (apply's clock, bounded by the step timeout) until DescribeHosts lists
 * no instance on the host. 1: empty; 0: already released or gone; -1 with
 * msg: timed out or interrupted. */
static int wait_empty(struct apply *a, struct host_task *h, char **msg)
{
	double lo = a->opts->poll_min > 0 ? a->opts->poll_min : 0.25;
	double hi = a->opts->poll_max > 0 ? a->opts->poll_max : 5.0;
	double limit = a->opts->step_timeout > 0 ? a->opts->step_timeout : DEFAULT_STEP_TIMEOUT;
	double interval = lo, deadline = np_apply_now(a) + limit;
	const char *id = h->release_id;
	char *last = NULL;
	int rc = -1;

	for (;;) {
		struct np_host *got = NULL;
		size_t n_got = 0;
		struct np_err err = NP_ERR_INIT;

		if (a->ec2.describe_hosts_by_id(a->ec2.ctx, &id, 1, &got, &n_got, &err) < 0) {
			free(last);
			last = np_xasprintf("DescribeHosts: %s", err.msg);
		} else if (n_got == 0 || got[0].state == NP_HOST_RELEASED ||
			   got[0].state == NP_HOST_RELEASED_PERMANENT_FAILURE) {
			np_hosts_free(got, n_got);
			rc = 0;
			break;
		} else if (got[0].instance_ids.n == 0) {
			np_hosts_free(got, n_got);
			rc = 1;
			break;
		} else {
			free(last);
			last = np_xasprintf("it still holds %s%s", got[0].instance_ids.v[0],
					    got[0].instance_ids.n > 1 ? " and more" : "");
		}
		np_hosts_free(got, n_got);
		if (interrupted(a)) {
			*msg =
			    np_xasprintf("interrupted while waiting for the host to be empty (%s)",
					 last ? last : "");
			break;
		}
		if (np_apply_now(a) > deadline) {
			*msg = np_xasprintf("timed out waiting for the host to hold no instance "
					    "(see -step-timeout): %s",
					    last ? last : "");
			break;
		}
		pthread_mutex_lock(&a->lock);
		np_apply_wait(a, interval);
		pthread_mutex_unlock(&a->lock);
		interval = fmin(interval * 1.6, hi);
	}
	free(last);
	return rc;
}

/* Forget the host's row, when it is still this host's (a replacement may
 * already have recorded the new one under the address). */
static void forget(struct apply *a, struct host_task *h)
{
	struct np_host *rec = NULL;
	size_t n = 0;
	struct np_err err = NP_ERR_INIT;
	bool ours = false;

	pthread_mutex_lock(&a->state_lock);
	if (np_state_host_list(a->st, &rec, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!strcmp(rec[i].address, h->change->address))
				ours = !rec[i].host_id || !strcmp(rec[i].host_id, h->release_id);
		if (ours && np_state_host_remove(a->st, h->change->address, &err) < 0)
			np_log_warn("%s: %s", h->change->address, err.msg);
	} else {
		np_log_warn("%s: %s", h->change->address, err.msg);
	}
	pthread_mutex_unlock(&a->state_lock);
	np_hosts_free(rec, n);
}

static void release_one(struct apply *a, struct host_task *h)
{
	const struct np_change *c = h->change;
	struct np_err err = NP_ERR_INIT;
	const char *id = h->release_id;
	char *msg = NULL;
	long long jid;
	int r;

	pthread_mutex_lock(&a->lock);
	msg = blocked_by(a, h);
	pthread_mutex_unlock(&a->lock);
	if (msg) {
		fail(a, h, NP_STEP_RELEASE_HOSTS, msg);
		free(msg);
		return;
	}
	if (!id) {
		fail(a, h, NP_STEP_RELEASE_HOSTS, "the host has no id in the state");
		return;
	}
	h->started = np_apply_now(a);
	np_progress_step_start(&a->progress, c->address, id, NP_STEP_RELEASE_HOSTS);
	r = wait_empty(a, h, &msg);
	if (r < 0) {
		fail(a, h, NP_STEP_RELEASE_HOSTS, msg);
		if (interrupted(a))
			h->status = TASK_HALTED;
		free(msg);
		return;
	}
	if (r == 0) {
		/* Released outside already: only the row goes. */
		np_progress_note(&a->progress, c->address, id,
				 "EC2 no longer lists the host as allocated");
		forget(a, h);
		h->status = TASK_DONE;
		return;
	}
	jid = journal_begin(a, h, NP_STEP_RELEASE_HOSTS, NULL);
	r = a->ec2.release_hosts(a->ec2.ctx, &id, 1, &err);
	if (r < 0 && not_sent(&err)) {
		journal_end(a, h, jid, "not sent", NULL);
		h->status = TASK_HALTED;
		return;
	}
	journal_end(a, h, jid, r == 0 ? "done" : "failed", r == 0 ? NULL : err.msg);
	if (r < 0) {
		fail(a, h, NP_STEP_RELEASE_HOSTS, err.msg);
		return;
	}
	forget(a, h);
	h->status = TASK_DONE;
	np_progress_step_done(&a->progress, c->address, id, NP_STEP_RELEASE_HOSTS,
			      np_apply_now(a) - h->started);
}

void np_apply_hosts_after(struct apply *a)
{
	for (size_t i = 0; i < a->n_hosts; i++) {
		struct host_task *h = &a->hosts[i];

		if (h->status != TASK_READY || !has_step(h->change, NP_STEP_RELEASE_HOSTS))
			continue;
		if (a->stopping || interrupted(a)) {
			h->status = TASK_HALTED;
			continue;
		}
		release_one(a, h);
	}
}

const char *np_apply_hosts_failure(const struct apply *a, const char *address)
{
	for (size_t i = 0; i < a->n_hosts; i++) {
		const struct host_task *h = &a->hosts[i];

		if (!strcmp(h->change->address, address) &&
		    has_step(h->change, NP_STEP_ALLOCATE_HOSTS) && !h->allocated)
			return h->status == TASK_HALTED ? "was not allocated (interrupted)"
							: "could not be allocated";
	}
	return NULL;
}

int np_apply_host_id(struct apply *a, const char *address, char **out, struct np_err *err)
{
	struct np_host *rec = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&a->state_lock);
	rc = np_state_host_list(a->st, &rec, &n, err);
	pthread_mutex_unlock(&a->state_lock);
	if (rc < 0)
		return -1;
	for (size_t i = 0; i < n && !*out; i++)
		if (!strcmp(rec[i].address, address) && rec[i].host_id)
			*out = np_xstrdup(rec[i].host_id);
	np_hosts_free(rec, n);
	if (!*out) {
		const char *why = np_apply_hosts_failure(a, address);

		return np_error(err, "host '%s' %s: the state has no HostId for it", address,
				why ? why : "is not allocated");
	}
	return 0;
}

int np_apply_hosts_settled(const struct apply *a, const struct np_journal_entry *e)
{
	if (strcmp(e->step, "allocate_hosts") && strcmp(e->step, "modify_hosts") &&
	    strcmp(e->step, "release_hosts"))
		return -1;
	for (size_t i = 0; i < a->n_hosts; i++) {
		const struct host_task *h = &a->hosts[i];

		if (strcmp(h->change->address, e->address))
			continue;
		/* An allocation's token may stand for a host until a run records
		 * one; any other call is settled once this run's task is over. */
		if (!strcmp(e->step, "allocate_hosts"))
			return h->status == TASK_DONE || (h->status == TASK_FAILED && h->allocated);
		return h->status == TASK_DONE || h->status == TASK_FAILED;
	}
	return strcmp(e->step, "allocate_hosts") != 0 || !a->stopping;
}

static const char *outcome(const struct host_task *h)
{
	const char *name = np_apply_outcome(h->status);

	return name ? name : "not started";
}

void np_apply_hosts_tally(struct apply *a, struct np_apply_result *res, json_t *changes)
{
	for (size_t i = 0; i < a->n_hosts; i++) {
		const struct host_task *h = &a->hosts[i];
		const struct np_change *c = h->change;

		json_array_append_new(changes,
				      json_pack("{s:s, s:s, s:s, s:s?, s:s}", "address", c->address,
						"kind", "host", "action", np_action_name(c->action),
						"host_id", h->host_id ? h->host_id : h->release_id,
						"outcome", outcome(h)));
		switch (h->status) {
		case TASK_DONE:
			res->added +=
			    c->action == NP_ACTION_CREATE || c->action == NP_ACTION_REPLACE;
			res->changed += c->action == NP_ACTION_UPDATE;
			res->destroyed +=
			    c->action == NP_ACTION_DELETE || c->action == NP_ACTION_REPLACE;
			break;
		case TASK_FAILED:
		case TASK_UNKNOWN:
			if (h->status == TASK_FAILED)
				res->failed++;
			else
				res->unknown++;
			np_strv_push(&res->failures, h->error ? h->error : c->address);
			break;
		case TASK_HALTED:
			res->halted++;
			break;
		default:
			res->not_started++;
			break;
		}
	}
}
