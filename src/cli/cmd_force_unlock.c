/* force-unlock: remove a lock whose holder is gone for good. */
#include "nestplan/cli.h"
#include "nestplan/state.h"

static int run(struct np_ctx *ctx)
{
	struct np_err err = NP_ERR_INIT;

	if (np_state_force_unlock(ctx->state, ctx->opts->args[0], &err) < 0) {
		np_cli_print_error(ctx->err, &err, ctx->opts->color);
		return NP_EXIT_ERROR;
	}
	fprintf(ctx->out, "nestplan state has been unlocked (lock %s removed).\n", ctx->opts->args[0]);
	return NP_EXIT_OK;
}

const struct np_cmd np_cmd_force_unlock = {
	.name = "force-unlock",
	.synopsis = "force-unlock [options] LOCK_ID",
	.help = "Remove the state lock LOCK_ID (shown by the command that found it held).\n"
	        "Only for a holder that is gone: a live apply would lose its protection.",
	.options = NP_OPTBIT(NP_OPT_STATE),
	.flags = NP_CMD_NEEDS_STATE,
	.min_args = 1,
	.max_args = 1,
	.run = run,
};
