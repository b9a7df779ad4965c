/* force-unlock: remove a lock whose holder is gone for good. A lock that a
 * live process holds is the kernel's and cannot be removed at all. */
#include <string.h>

#include "cli/common.h"
#include "nestplan/backend.h"
#include "nestplan/cli.h"
#include "nestplan/state.h"

static int run(struct np_ctx *ctx)
{
	struct np_err err = NP_ERR_INIT;
	const char *id = ctx->opts->args[0];

	/* As Terraform asks: the lock may still be in use by a run elsewhere. */
	if (!ctx->opts->force) {
		struct np_cli_opts o = *ctx->opts;
		const struct np_cli_opts *saved = ctx->opts;
		bool yes;

		o.auto_approve = false;
		ctx->opts = &o;
		yes = np_cli_confirm(
		    ctx,
		    "Do you really want to force-unlock?\n"
		    "  nestplan will remove the lock on the state. A run that still holds "
		    "it would\n  lose its protection.",
		    &err);
		ctx->opts = saved;
		if (!yes) {
			np_cli_print_error(ctx->err, &err, ctx->opts->color);
			return err.cls == NP_ERRC_INTERRUPTED ? NP_EXIT_INTERRUPTED : NP_EXIT_ERROR;
		}
	}
	if (np_backend_force_unlock(ctx->backend, ctx->state, id, ctx->opts->force, &err) < 0) {
		np_cli_print_error(ctx->err, &err, ctx->opts->color);
		return NP_EXIT_ERROR;
	}
	fprintf(ctx->out, "nestplan state has been unlocked (lock %s removed).\n", id);
	return NP_EXIT_OK;
}

const struct np_cmd np_cmd_force_unlock = {
	.name = "force-unlock",
	.synopsis = "force-unlock [options] LOCK_ID",
	.help = "Remove the state lock LOCK_ID (shown by the command that found it held),\n"
		"after asking. Only a lock whose holder is gone can be removed: a live\n"
		"process holds the local lock in the kernel. An S3 lock whose lease expired\n"
		"is removed; a live one only with -force.",
	.options = NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_FORCE) |
		   NP_OPTBIT(NP_OPT_INPUT),
	.flags = NP_CMD_NEEDS_STATE,
	.min_args = 1,
	.max_args = 1,
	.run = run,
};
