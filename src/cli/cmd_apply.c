/* apply: plan (or load a saved plan), confirm, check permissions with
 * DryRun, then carry the plan out; destroy shares all of it. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply/progress.h"
#include "cli/common.h"
#include "cli/refresh.h"
#include "nestplan/apply.h"
#include "nestplan/backend.h"
#include "nestplan/buf.h"
#include "nestplan/cli.h"
#include "nestplan/log.h"
#include "nestplan/render.h"
#include "nestplan/state.h"

/* 1 after the first SIGINT/SIGTERM, 2 after a second; the first one's number. */
static volatile sig_atomic_t interrupted, interrupt_signal;

static void on_signal(int sig)
{
	if (!interrupt_signal)
		interrupt_signal = sig;
	if (interrupted < 2)
		interrupted++;
}

/* 130 after SIGINT, 143 after SIGTERM, as a shell reports a signal. */
static int interrupted_exit(void) { return 128 + (interrupt_signal ? interrupt_signal : SIGINT); }

static const char *signal_name(void) { return interrupt_signal == SIGTERM ? "SIGTERM" : "SIGINT"; }

struct abandon_ctx {
	struct np_ctx *ctx;
	const char *run_id, *command;
};

/* A second signal: record what is known, release the lock, exit now. The
 * apply holds its journal quiet meanwhile (res is NULL when it could not). */
static void on_abandon(void *arg, const struct np_apply_result *res)
{
	struct abandon_ctx *ac = arg;
	struct np_ctx *ctx = ac->ctx;

	if (res) {
		struct np_history_entry h = {
			.run_id = (char *)ac->run_id,
			.command = (char *)ac->command,
			.added = res->added,
			.changed = res->changed,
			.destroyed = res->destroyed,
			.failed = res->failed,
			.outcome = "interrupted",
			.changes = res->changes,
		};

		np_state_history_record(ctx->state, &h, NULL);
		if (ctx->locked && np_state_unlock(ctx->state, NULL) == 0)
			ctx->locked = false;
	}
	/* With -json the progress stream has said it as a diagnostic line. */
	if (!ctx->opts->json)
		fprintf(ctx->err,
			"\nError: apply abandoned after a second %s; run apply again to resume\n",
			signal_name());
	fflush(ctx->out);
	fflush(ctx->err);
	_exit(interrupted_exit());
}

/* A killed apply may have stopped instances it meant to start again: those
 * run again now, whatever `state:` says (unset means "as it was"). Only a
 * cycle whose start was never sent: after the start, the instance's run
 * state is the operator's again (the apply waits for it to settle instead). */
static void resume_overrides(struct np_ctx *ctx, struct np_journal_entry *pending, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct np_journal_entry *e = &pending[i];
		struct np_desired *d = NULL;
		bool started = false;

		if (!e->detail || strcmp(e->detail, "was_running") || strcmp(e->step, "cycle"))
			continue;
		if (np_state_journal_has(ctx->state, e->run_id, e->address, "start", &started,
					 NULL) < 0 ||
		    started)
			continue;
		for (size_t k = 0; ctx->config && k < ctx->config->n_instances; k++)
			if (!strcmp(ctx->config->instances[k].want.address, e->address))
				d = &ctx->config->instances[k];
		if (d && d->want.state == NP_RUN_UNSET) {
			d->want.state = NP_RUN_RUNNING;
			if (ctx->opts->json)
				np_ui_emit(
				    ctx->out, "info", "log",
				    json_pack("{s:s}", "address", e->address),
				    "%s: an interrupted apply left this instance mid-change; it "
				    "will be started again",
				    e->address);
			else
				fprintf(ctx->out,
					"%s: an interrupted apply left this instance mid-change; "
					"it will be started again\n",
					e->address);
		}
	}
}

/* apply -refresh-only: the refresh-only plan already holds what EC2 reports
 * (after) for every recorded instance; record it, or forget the gone ones. */
static int accept_refresh(struct np_ctx *ctx, const struct np_plan *plan, struct np_err *err)
{
	if (np_state_begin(ctx->state, err) < 0)
		return -1;
	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *c = &plan->changes[i];

		int r = c->kind == NP_KIND_HOST
			    ? np_apply_put_host(ctx->state, c, c->has_after ? &c->host_after : NULL,
						err)
			    : np_apply_put(ctx->state, c, c->has_after ? &c->after : NULL, err);

		if (r < 0) {
			np_state_rollback(ctx->state, NULL);
			return -1;
		}
	}
	if (np_state_commit(ctx->state, err) < 0)
		return -1;
	if (ctx->opts->json)
		np_ui_emit(ctx->out, "info", "change_summary",
			   json_pack("{s:{s:i, s:i, s:i, s:s}}", "changes", "add", 0, "change", 0,
				     "remove", 0, "operation", "refresh"),
			   "Apply complete! The state now holds what EC2 reports (%zu drift item%s "
			   "accepted).",
			   plan->n_drift, plan->n_drift == 1 ? "" : "s");
	else
		fprintf(ctx->out,
			"\nApply complete! The state now holds what EC2 reports (%zu drift "
			"item%s accepted).\n",
			plan->n_drift, plan->n_drift == 1 ? "" : "s");
	return 0;
}

/* An edited plan file must not steer apply onto instances it may not touch. */
static int check_saved(struct np_ctx *ctx, const struct np_plan *plan, struct np_err *err)
{
	struct np_instance *rec = NULL, *live = NULL;
	size_t n_rec = 0, n_live = 0;
	int rc = -1;

	if (np_state_list(ctx->state, &rec, &n_rec, err) < 0 ||
	    np_cli_refresh(ctx, rec, n_rec, &live, &n_live, err) < 0)
		goto cleanup;
	rc = np_plan_check_saved(plan, ctx->config, rec, n_rec, live, n_live,
				 np_state_lineage(ctx->state), err);
cleanup:
	np_instances_free(rec, n_rec);
	np_instances_free(live, n_live);
	return rc;
}

static int load_saved(struct np_ctx *ctx, const char *path, struct np_plan *plan,
		      struct np_err *err)
{
	if (np_planfile_load(plan, path, err) < 0)
		return -1;
	if (!plan->lineage || strcmp(plan->lineage, np_state_lineage(ctx->state)))
		return np_error(err,
				"saved plan '%s' is stale: it was made for another state "
				"(lineage %s); run plan again",
				path, plan->lineage ? plan->lineage : "?");
	if (plan->serial != np_state_serial(ctx->state))
		return np_error(err,
				"saved plan '%s' is stale: the state changed since (serial %lld, "
				"now %lld); run plan again",
				path, plan->serial, np_state_serial(ctx->state));
	if (ctx->config && strcmp(plan->config_sha256, ctx->config->sha256))
		return np_error(err,
				"saved plan '%s' is stale: %s changed since the plan was made; run "
				"plan again",
				path, ctx->config->path);
	return check_saved(ctx, plan, err);
}

/* The last lines of apply -json: the errors as diagnostics, then the
 * summary Terraform ends with (an interrupt has said its own). */
static void json_ending(struct np_ctx *ctx, const struct np_apply_result *res, bool destroy)
{
	FILE *out = ctx->out;

	for (size_t i = 0; i < res->failures.n; i++)
		np_ui_diagnostic(out, "error", res->failures.v[i], NULL, NULL, NULL);
	if (res->interrupted) {
		char summary[128];
		json_t *left = json_array();
		struct np_buf detail = NP_BUF_INIT;

		for (size_t i = 0; i < res->left_behind.n; i++) {
			json_array_append_new(left, json_string(res->left_behind.v[i]));
			np_buf_printf(&detail, "%sleft mid-change: %s", i ? "\n" : "",
				      res->left_behind.v[i]);
		}
		snprintf(summary, sizeof(summary),
			 "apply interrupted by %s; run apply again to resume", signal_name());
		np_ui_diagnostic(out, "error", summary, detail.ptr, NULL,
				 json_pack("{s:o}", "left_behind", left));
		np_buf_release(&detail);
		return;
	}
	if (res->failed || res->unknown)
		np_ui_emit(
		    out, "error", "change_summary",
		    json_pack("{s:{s:i, s:i, s:i, s:i, s:i, s:s}}", "changes", "add", res->added,
			      "change", res->changed, "remove", res->destroyed, "failed",
			      res->failed, "unknown", res->unknown, "operation",
			      destroy ? "destroy" : "apply"),
		    "%s finished with errors. Resources: %d added, %d changed, %d destroyed, %d "
		    "failed.",
		    destroy ? "Destroy" : "Apply", res->added, res->changed, res->destroyed,
		    res->failed + res->unknown);
	else if (destroy)
		np_ui_emit(out, "info", "change_summary",
			   json_pack("{s:{s:i, s:i, s:i, s:s}}", "changes", "add", res->added,
				     "change", res->changed, "remove", res->destroyed, "operation",
				     "destroy"),
			   "Destroy complete! Resources: %d destroyed.", res->destroyed);
	else
		np_ui_emit(out, "info", "change_summary",
			   json_pack("{s:{s:i, s:i, s:i, s:s}}", "changes", "add", res->added,
				     "change", res->changed, "remove", res->destroyed, "operation",
				     "apply"),
			   "Apply complete! Resources: %d added, %d changed, %d destroyed.",
			   res->added, res->changed, res->destroyed);
}

static int apply_common(struct np_ctx *ctx, bool destroy)
{
	const struct np_cli_opts *o = ctx->opts;
	struct np_cli_plan_req req = { .refresh = o->refresh,
				       .refresh_only = o->refresh_only,
				       .destroy = destroy };
	struct np_journal_entry *pending = NULL;
	size_t n_pending = 0;
	struct np_err err = NP_ERR_INIT;
	struct np_plan plan;
	struct np_render_opts ro = { .color = o->color,
				     .expand = o->expand,
				     .config = ctx->config };
	struct np_apply_result res = { 0 };
	struct np_apply_opts ao = { 0 };
	struct sigaction sa, old_int, old_term;
	struct np_catalog cat = NP_CATALOG_INIT;
	struct abandon_ctx ac = { .ctx = ctx, .command = destroy ? "destroy" : "apply" };
	char run_id[64], backup[4096];
	const char *automation = getenv("NESTPLAN_IN_AUTOMATION");
	int rc = NP_EXIT_ERROR;

	memset(&plan, 0, sizeof(plan));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	interrupted = interrupt_signal = 0;
	if (ctx->aws)
		np_aws_set_interrupt(ctx->aws, &interrupted);
	snprintf(run_id, sizeof(run_id), "%lld-%ld", (long long)time(NULL), (long)getpid());
	ac.run_id = run_id;
	if (o->json)
		np_ui_version(ctx->out);

	if (np_state_journal_pending(ctx->state, &pending, &n_pending, &err) < 0)
		goto fail;
	if (!destroy)
		resume_overrides(ctx, pending, n_pending);

	if (!destroy && o->n_args == 1) {
		if (load_saved(ctx, o->args[0], &plan, &err) < 0)
			goto fail;
	} else {
		if (np_cli_make_plan(ctx, &req, &plan, &err) < 0)
			goto fail;
		if (o->json) {
			np_ui_plan(ctx->out, &plan);
		} else {
			np_render_plan_text(ctx->out, &plan, &ro);
		}
		if (np_plan_has_errors(&plan)) {
			np_error(&err, "the plan has errors; nothing was changed");
			goto fail;
		}
		if (o->refresh_only) {
			if (!plan.n_drift) {
				rc = NP_EXIT_OK;
				goto cleanup;
			}
			if (!np_cli_confirm(ctx, "Accept what EC2 reports into the state?", &err) ||
			    accept_refresh(ctx, &plan, &err) < 0)
				goto fail;
			rc = NP_EXIT_OK;
			goto cleanup;
		}
		if (!np_plan_has_changes(&plan)) {
			/* Nothing to do in EC2; where it already holds what the file asks
			 * (an earlier run finished and died before recording), the
			 * state catches up, and instances a killed apply left mid-change
			 * are waited for and their journal entries closed. */
			struct np_apply_opts quiet = { .out = ctx->out,
						       .json = o->json,
						       .step_timeout = o->step_timeout,
						       .interrupted = &interrupted,
						       .run_id = run_id,
						       .pending = pending,
						       .n_pending = n_pending,
						       .abandon = on_abandon,
						       .abandon_arg = &ac };

			if ((plan.n_drift || n_pending) &&
			    np_apply_run(ctx->aws, ctx->state, ctx->config, &plan, &quiet, &res,
					 &err) < 0)
				goto fail;
			if (o->json)
				json_ending(ctx, &res, destroy);
			rc = res.interrupted ? interrupted_exit() : NP_EXIT_OK;
			goto cleanup;
		}
		/* Terraform's rule: no question in the middle of a JSON stream. */
		if (o->json && !o->auto_approve) {
			np_error_cls(
			    &err, NP_ERRC_USAGE,
			    "-json needs -auto-approve or a saved plan: nestplan cannot ask "
			    "for approval while it prints JSON");
			goto fail;
		}
		if (!np_cli_confirm(ctx,
				    destroy ? "Do you really want to destroy these instances?"
					    : "Do you want to perform these actions?",
				    &err))
			goto fail;
	}
	if (interrupted) {
		np_error_cls(&err, NP_ERRC_INTERRUPTED, "interrupted before any change");
		goto fail;
	}

	if (np_apply_preflight(ctx->aws, ctx->config, &plan, np_state_lineage(ctx->state), &err) <
	    0)
		goto fail;

	/* S3: the bucket's versions are the backups (the path is no file). */
	snprintf(backup, sizeof(backup), "%s.backup", o->state_path);
	if (!np_backend_is_remote(ctx->backend) && np_state_backup(ctx->state, backup, &err) < 0)
		goto fail;
	np_cli_load_catalog(ctx, &cat);

	ao.parallelism = o->parallelism;
	ao.step_timeout = o->step_timeout;
	ao.json = o->json;
	ao.color = o->color;
	ao.status_line = isatty(STDOUT_FILENO) && !(automation && *automation) && !o->json;
	ao.out = ctx->out;
	ao.interrupted = &interrupted;
	ao.run_id = run_id;
	ao.pending = pending;
	ao.n_pending = n_pending;
	ao.abandon = on_abandon;
	ao.abandon_arg = &ac;
	ao.catalog = &cat;
	if (!o->json)
		fputc('\n', ctx->out);
	if (np_apply_run(ctx->aws, ctx->state, ctx->config, &plan, &ao, &res, &err) < 0)
		goto fail;
	if (np_cli_pin_location(ctx, &err) < 0) {
		if (o->json)
			np_ui_diagnostic(ctx->out, "warning", err.msg, NULL, NULL, NULL);
		else
			fprintf(ctx->err, "Warning: %s\n", err.msg);
		np_err_clear(&err);
	}
	{
		struct np_history_entry h = {
			.run_id = run_id,
			.command = destroy ? "destroy" : "apply",
			.added = res.added,
			.changed = res.changed,
			.destroyed = res.destroyed,
			.failed = res.failed,
			.outcome = res.interrupted ? "interrupted"
				   : res.failed    ? "failed"
						   : "ok",
			.changes = res.changes,
		};

		np_state_history_record(ctx->state, &h, NULL);
	}
	if (o->json)
		json_ending(ctx, &res, destroy);
	if (res.failed || res.unknown) {
		if (!o->json) {
			fprintf(ctx->err, "\nError: %d instance%s failed:\n",
				res.failed + res.unknown, res.failed + res.unknown == 1 ? "" : "s");
			for (size_t i = 0; i < res.failures.n; i++)
				fprintf(ctx->err, "  - %s\n", res.failures.v[i]);
		}
		rc = NP_EXIT_ERROR;
	} else {
		rc = NP_EXIT_OK;
	}
	if (res.interrupted && !o->json) {
		fprintf(ctx->err, "\nError: apply interrupted by %s; run apply again to resume\n",
			signal_name());
		if (res.left_behind.n)
			fprintf(ctx->err, "  left mid-change:\n");
		for (size_t i = 0; i < res.left_behind.n; i++)
			fprintf(ctx->err, "  - %s\n", res.left_behind.v[i]);
	}
	if (res.interrupted)
		rc = interrupted_exit();
	goto cleanup;
fail:
	np_cli_report_error(ctx->out, ctx->err, ctx->cmd, o, &err, true);
	rc = err.cls == NP_ERRC_INTERRUPTED ? interrupted_exit() : NP_EXIT_ERROR;
cleanup:
	np_catalog_release(&cat);
	if (ctx->aws)
		np_aws_set_interrupt(ctx->aws, NULL);
	np_apply_result_release(&res);
	np_journal_entries_free(pending, n_pending);
	np_plan_release(&plan);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}

static int run_apply(struct np_ctx *ctx) { return apply_common(ctx, false); }

static int run_destroy(struct np_ctx *ctx) { return apply_common(ctx, true); }

#define APPLY_OPTIONS                                                                              \
	(NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_JSON) |             \
	 NP_OPTBIT(NP_OPT_NO_COLOR) | NP_OPTBIT(NP_OPT_REFRESH) | NP_OPTBIT(NP_OPT_TARGET) |       \
	 NP_OPTBIT(NP_OPT_AUTO_APPROVE) | NP_OPTBIT(NP_OPT_INPUT) |                                \
	 NP_OPTBIT(NP_OPT_PARALLELISM) | NP_OPTBIT(NP_OPT_LOCK) | NP_OPTBIT(NP_OPT_LOCK_TIMEOUT) | \
	 NP_OPTBIT(NP_OPT_STEP_TIMEOUT) | NP_OPTBIT(NP_OPT_EXPAND))

const struct np_cmd np_cmd_apply = {
	.name = "apply",
	.synopsis = "apply [options] [PLANFILE]",
	.help = "Carry out the plan: launch new instances, change existing ones in one\n"
		"stop -> modify -> start cycle each, terminate removed ones. Without PLANFILE it\n"
		"plans first and asks for 'yes'. Every call is checked with DryRun first.",
	.options = APPLY_OPTIONS | NP_OPTBIT(NP_OPT_REFRESH_ONLY) | NP_OPTBIT(NP_OPT_REPLACE),
	.flags = NP_CMD_CREATES_STATE | NP_CMD_NEEDS_CONFIG | NP_CMD_NEEDS_STATE | NP_CMD_LOCKS |
		 NP_CMD_NEEDS_CREDS,
	.max_args = 1,
	.run = run_apply,
};

const struct np_cmd np_cmd_destroy = {
	.name = "destroy",
	.synopsis = "destroy [options]",
	.help = "Terminate every managed instance (or those of -target), honouring\n"
		"lifecycle.prevent_destroy, and remove them from the state.",
	.options = APPLY_OPTIONS,
	.flags = NP_CMD_NEEDS_CONFIG | NP_CMD_NEEDS_STATE | NP_CMD_LOCKS | NP_CMD_NEEDS_CREDS,
	.max_args = 0,
	.run = run_destroy,
};
