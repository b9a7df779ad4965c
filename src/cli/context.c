/* The dispatcher's preparation step: load the file, open and lock the state,
 * make the EC2 client, as the command's flags ask. */
#include <string.h>
#include <unistd.h>

#include "cli/ctx.h"
#include "cli/refresh.h"
#include "nestplan/aws.h"
#include "nestplan/config.h"
#include "nestplan/state.h"

#define INIT_WAIT 10.0 /* seconds */

int np_ctx_prepare(struct np_ctx *ctx, const struct np_cmd *cmd, const struct np_cli_opts *opts,
                   struct np_err *err)
{
	struct np_lock_info holder = {0};

	memset(ctx, 0, sizeof(*ctx));
	ctx->opts = opts;
	ctx->cmd = cmd;
	ctx->out = stdout;
	ctx->err = stderr;

	if ((cmd->flags & NP_CMD_NEEDS_CONFIG) &&
	    np_config_load(&ctx->config, opts->config_path, err) < 0)
		return -1;
	if (cmd->flags & NP_CMD_NEEDS_STATE) {
		/* Only commands that start a state make one: a mistyped -state for
		 * drift or show must fail, not report on an empty new file. */
		if (np_state_open(&ctx->state, opts->state_path,
		                  (cmd->flags & NP_CMD_CREATES_STATE) ? NP_STATE_CREATE : 0, err) < 0)
			return -1;
		/* A state nobody can write here needs no lock to be read; what
		 * would write it fails, saying why. */
		if ((cmd->flags & NP_CMD_LOCKS) && opts->lock && !np_state_readonly(ctx->state)) {
			/* One try first, so Terraform's notice comes only when the
			 * lock is not free at once and -lock-timeout lets us wait. */
			int r = np_state_lock(ctx->state, cmd->name, 0, &holder, err);
			/* init holds the lock for an instant: two at once is normal. */
			double wait = !strcmp(cmd->name, "init") && opts->lock_timeout < INIT_WAIT
			                      ? INIT_WAIT
			                      : opts->lock_timeout;

			if (r < 0 && err->cls == NP_ERRC_LOCKED && wait > 0) {
				fprintf(stderr, "Acquiring state lock. This may take a few moments...\n");
				np_err_clear(err);
				r = np_state_lock(ctx->state, cmd->name, wait, &holder, err);
			}

			if (r < 0) {
				np_lock_info_release(&holder);
				return -1;
			}
			ctx->locked = true;
			if (holder.id)
				fprintf(stderr,
				        "Warning: took over the state lock %s of %s@%s (pid %ld, '%s'), "
				        "whose process is gone\n",
				        holder.id, holder.user ? holder.user : "?",
				        holder.host ? holder.host : "?", holder.pid,
				        holder.command ? holder.command : "?");
			np_lock_info_release(&holder);
		}
	}
	if (cmd->flags & NP_CMD_NEEDS_CREDS) {
		struct np_aws_options ao = {0};

		if (ctx->config) {
			ao.region = ctx->config->region;
			ao.profile = ctx->config->profile;
			ao.endpoint = ctx->config->endpoint;
		}
		if (np_aws_new(&ctx->aws, &ao, err) < 0)
			return -1;
		if (ctx->state && np_cli_check_region(ctx, err) < 0)
			return -1;
	}
	return 0;
}

void np_ctx_release(struct np_ctx *ctx)
{
	struct np_err err = NP_ERR_INIT;

	if (ctx->locked && np_state_unlock(ctx->state, &err) < 0)
		fprintf(stderr, "Warning: %s\n", err.msg);
	ctx->locked = false;
	np_state_close(ctx->state);
	ctx->state = NULL;
	np_aws_free(ctx->aws);
	ctx->aws = NULL;
	np_config_free(ctx->config);
	ctx->config = NULL;
}
