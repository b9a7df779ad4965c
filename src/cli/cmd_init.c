/* init: create the state file (lineage, schema), or say it exists. */
#include "nestplan/cli.h"
#include "nestplan/state.h"

static int run(struct np_ctx *ctx)
{
	fprintf(ctx->out, "nestplan state %s is ready (lineage %s, serial %lld).\n",
	        ctx->opts->state_path, np_state_lineage(ctx->state), np_state_serial(ctx->state));
	return NP_EXIT_OK;
}

const struct np_cmd np_cmd_init = {
	.name = "init",
	.synopsis = "init [options]",
	.help = "Create the state file (nestplan.db, -state=FILE or $NESTPLAN_STATE) with a new\n"
	        "lineage, or migrate an existing one to this version's schema.",
	.options = NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_LOCK) | NP_OPTBIT(NP_OPT_LOCK_TIMEOUT),
	.flags = NP_CMD_CREATES_STATE | NP_CMD_NEEDS_STATE | NP_CMD_LOCKS,
	.max_args = 0,
	.run = run,
};
