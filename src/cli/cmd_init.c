/* init: create the state (lineage, schema) where the backend keeps it, or say
 * it exists; -migrate-state moves a local state into the backend. */
#include "cli/common.h"
#include "nestplan/backend.h"
#include "nestplan/cli.h"
#include "nestplan/state.h"

static int run(struct np_ctx *ctx)
{
	const struct np_cli_opts *o = ctx->opts;
	struct np_err err = NP_ERR_INIT;

	if (o->migrate_state) {
		if (!np_backend_is_remote(ctx->backend)) {
			np_error_cls(
			    &err, NP_ERRC_USAGE,
			    "-migrate-state needs a backend: set 'backend: s3:' in the file, or "
			    "-state=s3://BUCKET/KEY");
			goto fail;
		}
		/* The empty state opened for a new remote must not be stored. */
		np_backend_set_writable(ctx->backend, false);
		if (np_backend_push(ctx->backend, o->migrate_state, false, true, &err) < 0) {
			np_error_prefix(&err, "cannot move '%s' to %s", o->migrate_state,
					np_backend_name(ctx->backend));
			goto fail;
		}
		fprintf(ctx->out,
			"nestplan moved the state '%s' to %s. The local file is no longer used; "
			"keep it as a backup or remove it.\n",
			o->migrate_state, np_backend_name(ctx->backend));
		return NP_EXIT_OK;
	}
	fprintf(ctx->out, "nestplan state %s is ready (lineage %s, serial %lld).\n",
		np_backend_name(ctx->backend), np_state_lineage(ctx->state),
		np_state_serial(ctx->state));
	return NP_EXIT_OK;
fail:
	np_cli_print_error(ctx->err, &err, o->color);
	return NP_EXIT_ERROR;
}

const struct np_cmd np_cmd_init = {
	.name = "init",
	.synopsis = "init [options]",
	.help = "Create the state (nestplan.db, -state=FILE|s3://BUCKET/KEY, $NESTPLAN_STATE, or\n"
		"the file's backend) with a new lineage, or migrate an existing one to this\n"
		"version's schema. -migrate-state moves a local state into the backend, refusing\n"
		"to overwrite a remote state of another lineage.",
	.options = NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_LOCK) |
		   NP_OPTBIT(NP_OPT_LOCK_TIMEOUT) | NP_OPTBIT(NP_OPT_MIGRATE_STATE),
	.flags = NP_CMD_CREATES_STATE | NP_CMD_NEEDS_STATE | NP_CMD_LOCKS,
	.max_args = 0,
	.run = run,
};
