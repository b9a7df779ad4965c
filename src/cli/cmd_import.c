/* import ADDRESS INSTANCE_ID: adopt an instance made elsewhere. As in
 * Terraform, the address must be in the file, so the next plan manages it. */
#include <stdlib.h>
#include <string.h>

#include "cli/refresh.h"
#include "nestplan/alloc.h"
#include "nestplan/cli.h"
#include "nestplan/config.h"
#include "nestplan/ec2.h"
#include "nestplan/state.h"

static int run(struct np_ctx *ctx)
{
	const struct np_cli_opts *o = ctx->opts;
	const char *address = o->args[0], *id = o->args[1];
	const char *lineage = np_state_lineage(ctx->state);
	struct np_err err = NP_ERR_INIT;
	struct np_instance *live = NULL, existing = { 0 }, rec;
	struct np_tags tags = NP_TAGS_INIT;
	size_t n_live = 0;
	bool found = false;
	int rc = NP_EXIT_ERROR;

	if (!np_config_find(ctx->config, address)) {
		np_error(&err, "'%s' is not in %s: add it to the file first, then import", address,
			 ctx->config->path);
		goto fail;
	}
	if (np_state_get(ctx->state, address, &existing, &found, &err) < 0)
		goto fail;
	if (found) {
		np_error(&err,
			 "'%s' is already managed (%s); use 'nestplan state rm' first to "
			 "replace it",
			 address, existing.instance_id ? existing.instance_id : "?");
		goto fail;
	}
	if (np_ec2_describe_instances_by_id(ctx->aws, &id, 1, &live, &n_live, &err) < 0)
		goto fail;
	if (n_live != 1 || live[0].state == NP_RUN_TERMINATED ||
	    live[0].state == NP_RUN_SHUTTING_DOWN) {
		np_error(&err,
			 "cannot import '%s': instance %s does not exist in EC2 (or is terminated)",
			 address, id);
		goto fail;
	}
	if (live[0].lineage && strcmp(live[0].lineage, lineage)) {
		np_error(&err,
			 "cannot import %s: it is managed by another nestplan state (lineage %s)",
			 id, live[0].lineage);
		goto fail;
	}
	if (live[0].owner_id && np_state_account(ctx->state) &&
	    strcmp(live[0].owner_id, np_state_account(ctx->state))) {
		np_error(&err,
			 "cannot import %s: it belongs to account %s, and this state to account %s",
			 id, live[0].owner_id, np_state_account(ctx->state));
		goto fail;
	}
	np_tags_set(&tags, NP_TAG_ADDRESS, address);
	np_tags_set(&tags, NP_TAG_LINEAGE, lineage);
	if (np_ec2_create_tags(ctx->aws, &id, 1, &tags, false, &err) < 0) {
		np_error_prefix(&err, "cannot tag %s", id);
		goto fail;
	}
	np_instance_copy(&rec, &live[0]);
	free(rec.address);
	rec.address = np_xstrdup(address);
	free(rec.lineage);
	rec.lineage = np_xstrdup(lineage);
	if (np_state_put(ctx->state, &rec, &err) < 0) {
		np_instance_release(&rec);
		goto fail;
	}
	np_instance_release(&rec);
	if (np_cli_pin_location(ctx, &err) < 0) {
		fprintf(ctx->err, "Warning: %s\n", err.msg);
		np_err_clear(&err);
	}
	fprintf(ctx->out, "%s: imported %s (%s, %s).\nThe next plan compares it with the file.\n",
		address, id, live[0].instance_type ? live[0].instance_type : "?",
		np_run_state_name(live[0].state));
	rc = NP_EXIT_OK;
	goto cleanup;
fail:
	np_cli_print_error(ctx->err, &err, o->color);
cleanup:
	np_tags_release(&tags);
	np_instance_release(&existing);
	np_instances_free(live, n_live);
	return rc;
}

const struct np_cmd np_cmd_import = {
	.name = "import",
	.synopsis = "import [options] ADDRESS INSTANCE_ID",
	.help = "Adopt an existing instance as ADDRESS (which must be in the file): its live\n"
		"values are recorded and it is tagged with nestplan's tags.",
	.options = NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_NO_COLOR) |
		   NP_OPTBIT(NP_OPT_LOCK) | NP_OPTBIT(NP_OPT_LOCK_TIMEOUT),
	.flags = NP_CMD_CREATES_STATE | NP_CMD_NEEDS_CONFIG | NP_CMD_NEEDS_STATE | NP_CMD_LOCKS |
		 NP_CMD_NEEDS_CREDS,
	.min_args = 2,
	.max_args = 2,
	.run = run,
};
