/* The dispatcher's preparation step: load the file, choose the state's
 * backend (local file or S3), lock it, open the state, make the EC2
 * client, as the command's flags ask. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/ctx.h"
#include "cli/refresh.h"
#include "nestplan/aws.h"
#include "nestplan/backend.h"
#include "nestplan/config.h"
#include "nestplan/log.h"
#include "nestplan/state.h"

#define INIT_WAIT 10.0 /* seconds */
/* Commands that do not read the file still need its backend: read it when
 * it is there. A broken file that names no backend keeps these commands
 * working on the local state, as before. */
static int backend_config(struct np_ctx *ctx, const struct np_cli_opts *opts, struct np_err *err)
{
	struct np_err cerr = NP_ERR_INIT;
	FILE *f;
	char buf[8192];
	size_t n;
	bool names_backend;

	if (ctx->config || opts->state_set || access(opts->config_path, F_OK) != 0)
		return 0;
	if (np_config_load(&ctx->config, opts->config_path, &cerr) == 0)
		return 0;
	f = fopen(opts->config_path, "r");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	names_backend = strstr(buf, "backend") != NULL;
	if (!names_backend)
		return 0;
	*err = cerr;
	np_error_prefix(err, "cannot read the state's backend from '%s'", opts->config_path);
	return -1;
}

/* Calls a killed run's successor re-plans from what EC2 reports, whatever
 * the journal in S3 says of them: sending one before the last entries are
 * uploaded loses nothing. Every other mutating call (RunInstances and its
 * ClientToken, StopInstances and whether the instance ran, TerminateInstances
 * after a replacement's launch was recorded, and any call added later)
 * waits for the upload. */
static const char *const replanned_from_live[] = {
	"ModifyInstanceAttribute",
	"ModifyInstanceCpuOptions",
	"ModifyInstancePlacement",
	"ModifyInstanceMetadataOptions",
	"ModifyVolume",
	"MonitorInstances",
	"UnmonitorInstances",
	"CreateTags",
	"DeleteTags",
	"StartInstances",
	NULL,
};

/* Mutating EC2 calls wait for the journal to be in S3. */
static int before_mutation(void *ud, const char *action, struct np_err *err)
{
	struct np_ctx *ctx = ud;

	/* A change that could not be recorded would be launched again by the next run. */
	if (!ctx->locked)
		return np_error_cls(err, NP_ERRC_USAGE,
				    "%s not sent: with -lock=false a run on the S3 state %s only "
				    "reads it, and changing EC2 without recording it is refused",
				    action, np_backend_name(ctx->backend));
	for (size_t i = 0; replanned_from_live[i]; i++)
		if (!strcmp(action, replanned_from_live[i]))
			return 0;
	if (np_backend_sync(ctx->backend, ctx->state, err) < 0) {
		np_error_prefix(err, "%s not sent: the state could not be saved first", action);
		return -1;
	}
	return 0;
}

static int choose_backend(struct np_ctx *ctx, const struct np_cli_opts *opts, struct np_err *err)
{
	struct np_backend_s3 s3 = { 0 };
	struct np_aws_options ao = { 0 };
	const struct np_config *cfg = ctx->config;
	char url[2048];
	int r = np_backend_parse_url(opts->state_path, url, sizeof(url), &s3, err);

	if (r < 0)
		return -1;
	if (r == 1 && (opts->state_set || !cfg || !cfg->has_backend)) {
		ctx->backend = np_backend_local(opts->state_path);
		return 0;
	}
	/* The command line names bucket and key; the rest of the file's block holds. */
	if (cfg && cfg->has_backend) {
		if (r == 1) {
			s3.bucket = cfg->backend.bucket;
			s3.key = cfg->backend.key;
		}
		s3.region = cfg->backend.region;
		s3.endpoint = cfg->backend.endpoint;
		s3.kms_key_id = cfg->backend.kms_key_id;
	}
	if (cfg) {
		ao.region = s3.region ? s3.region : cfg->region;
		ao.profile = cfg->profile;
	}
	if (np_aws_new(&ctx->backend_aws, &ao, err) < 0) {
		np_error_prefix(err, "the S3 backend");
		return -1;
	}
	return np_backend_s3_new(&ctx->backend, ctx->backend_aws, &s3, err);
}

static void warn_took_over(const struct np_backend_lock_info *h)
{
	if (!h->id)
		return;
	fprintf(stderr, "Warning: took over the state lock %s of %s (pid %ld, '%s'), whose %s\n",
		h->id, h->who ? h->who : "?", h->pid, h->operation ? h->operation : "?",
		h->expires ? "lease had expired" : "process is gone");
}

/* `state pull` only reads, as Terraform's: it never waits for a lock;
 * `state push` may start a remote state. */
static bool is_state_sub(const struct np_cmd *cmd, const struct np_cli_opts *opts, const char *sub)
{
	return !strcmp(cmd->name, "state") && opts->n_args > 0 && !strcmp(opts->args[0], sub);
}

/* One try first, so Terraform's notice comes only when the lock is not
 * free at once and -lock-timeout lets us wait. */
static int take_lock(struct np_ctx *ctx, const struct np_cli_opts *opts, struct np_err *err)
{
	struct np_backend_lock_info holder = { 0 };
	int r = np_backend_lock(ctx->backend, ctx->state, ctx->cmd->name, 0, &holder, err);
	/* init holds the lock for an instant: two at once is normal. */
	double wait = !strcmp(ctx->cmd->name, "init") && opts->lock_timeout < INIT_WAIT
			  ? INIT_WAIT
			  : opts->lock_timeout;

	if (r < 0 && err->cls == NP_ERRC_LOCKED && wait > 0) {
		fprintf(stderr, "Acquiring state lock. This may take a few moments...\n");
		np_err_clear(err);
		r = np_backend_lock(ctx->backend, ctx->state, ctx->cmd->name, wait, &holder, err);
	}
	if (r < 0) {
		np_backend_lock_info_release(&holder);
		return -1;
	}
	ctx->locked = true;
	warn_took_over(&holder);
	np_backend_lock_info_release(&holder);
	return 0;
}

int np_ctx_prepare(struct np_ctx *ctx, const struct np_cmd *cmd, const struct np_cli_opts *opts,
		   struct np_err *err)
{
	bool locks;

	memset(ctx, 0, sizeof(*ctx));
	ctx->opts = opts;
	ctx->cmd = cmd;
	ctx->out = stdout;
	ctx->err = stderr;

	if ((cmd->flags & NP_CMD_NEEDS_CONFIG) &&
	    np_config_load(&ctx->config, opts->config_path, err) < 0)
		return -1;
	locks = (cmd->flags & NP_CMD_LOCKS) && opts->lock && !is_state_sub(cmd, opts, "pull");
	if (cmd->flags & NP_CMD_NEEDS_STATE) {
		const char *path = NULL;
		bool found = false, remote, creates;

		if (backend_config(ctx, opts, err) < 0 || choose_backend(ctx, opts, err) < 0)
			return -1;
		remote = np_backend_is_remote(ctx->backend);
		if (remote && !opts->lock &&
		    (!strcmp(cmd->name, "apply") || !strcmp(cmd->name, "destroy") ||
		     !strcmp(cmd->name, "import")))
			return np_error_cls(
			    err, NP_ERRC_USAGE,
			    "%s -lock=false refused: with the S3 state %s a run without the "
			    "lock only reads the state, and what %s changes in EC2 must be "
			    "recorded",
			    cmd->name, np_backend_name(ctx->backend), cmd->name);
		/* Remote: the lock first, so what is read is what the last holder wrote. */
		if (remote && locks && take_lock(ctx, opts, err) < 0)
			return -1;
		/* Without the lock a run on a remote state reads it and never writes it
		 * (-lock=false: drift with a read-only role). */
		np_backend_set_writable(ctx->backend, ctx->locked || !remote);
		if (np_backend_fetch(ctx->backend, &path, &found, err) < 0)
			return -1;
		creates = (cmd->flags & NP_CMD_CREATES_STATE) ||
			  (remote && is_state_sub(cmd, opts, "push"));
		if (remote && !found && !creates)
			return np_error(err,
					"no state at %s: run 'nestplan init' (or apply) first, or "
					"point -state or NESTPLAN_STATE at the state",
					np_backend_name(ctx->backend));
		/* Only commands that start a state make one: a mistyped -state for
		 * drift or show must fail, not report on an empty new file. */
		if (np_state_open_as(&ctx->state, path, np_backend_name(ctx->backend),
				     creates ? NP_STATE_CREATE : 0, err) < 0)
			return -1;
		np_backend_opened(ctx->backend, ctx->state);
		if (!remote && locks && !np_state_readonly(ctx->state) &&
		    take_lock(ctx, opts, err) < 0)
			return -1;
	}
	if (cmd->flags & NP_CMD_NEEDS_CREDS) {
		struct np_aws_options ao = { 0 };

		if (ctx->config) {
			ao.region = ctx->config->region;
			ao.profile = ctx->config->profile;
			ao.endpoint = ctx->config->endpoint;
		}
		ao.share_creds = ctx->backend_aws;
		if (np_aws_new(&ctx->aws, &ao, err) < 0)
			return -1;
		if (ctx->backend && np_backend_is_remote(ctx->backend))
			np_aws_set_before_mutation(ctx->aws, before_mutation, ctx);
		if (ctx->state && np_cli_check_region(ctx, err) < 0)
			return -1;
	}
	return 0;
}

int np_ctx_finish(struct np_ctx *ctx, struct np_err *err)
{
	if (!ctx->backend || !ctx->state)
		return 0;
	return np_backend_sync(ctx->backend, ctx->state, err);
}

void np_ctx_release(struct np_ctx *ctx)
{
	struct np_err err = NP_ERR_INIT;

	if (ctx->locked && ctx->backend && np_backend_unlock(ctx->backend, ctx->state, &err) < 0)
		fprintf(stderr, "Warning: %s\n", err.msg);
	ctx->locked = false;
	np_state_close(ctx->state);
	ctx->state = NULL;
	if (ctx->backend && np_backend_is_remote(ctx->backend))
		np_log_debug("backend: %ld upload%s of the state to %s",
			     np_backend_uploads(ctx->backend),
			     np_backend_uploads(ctx->backend) == 1 ? "" : "s",
			     np_backend_name(ctx->backend));
	np_backend_free(ctx->backend);
	ctx->backend = NULL;
	np_aws_free(ctx->aws);
	ctx->aws = NULL;
	np_aws_free(ctx->backend_aws);
	ctx->backend_aws = NULL;
	np_config_free(ctx->config);
	ctx->config = NULL;
}
