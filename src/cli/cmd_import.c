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

/* Whether the resource id (an instance or a host, with its lineage tag and
 * owner) may be adopted as address; tag it with nestplan's tags if so. */
static int claim(struct np_ctx *ctx, const char *address, const char *id, const char *its_lineage,
		 const char *owner, struct np_err *err)
{
	const char *lineage = np_state_lineage(ctx->state);
	struct np_tags tags = NP_TAGS_INIT;
	int rc;

	if (its_lineage && strcmp(its_lineage, lineage))
		return np_error(
		    err,
		    "cannot import %s: it is managed by another nestplan state (lineage "
		    "%s)",
		    id, its_lineage);
	if (owner && np_state_account(ctx->state) && strcmp(owner, np_state_account(ctx->state)))
		return np_error(err,
				"cannot import %s: it belongs to account %s, and this state to "
				"account %s",
				id, owner, np_state_account(ctx->state));
	np_tags_set(&tags, NP_TAG_ADDRESS, address);
	np_tags_set(&tags, NP_TAG_LINEAGE, lineage);
	rc = np_ec2_create_tags(ctx->aws, &id, 1, &tags, false, err);
	np_tags_release(&tags);
	if (rc < 0)
		return np_error_prefix(err, "cannot tag %s", id);
	return 0;
}

/* import of a Dedicated Host: ADDRESS is under hosts: in the file. */
static int import_host(struct np_ctx *ctx, const char *address, const char *id)
{
	const char *lineage = np_state_lineage(ctx->state);
	struct np_err err = NP_ERR_INIT;
	struct np_host *live = NULL, *rec = NULL, h = { 0 };
	struct np_instance existing = { 0 };
	size_t n_live = 0, n_rec = 0;
	bool found = false;
	int rc = NP_EXIT_ERROR;

	if (strncmp(id, "h-", 2)) {
		np_error(&err, "'%s' is a host in %s: '%s' is not a Dedicated Host id (h-...)",
			 address, ctx->config->path, id);
		goto fail;
	}
	if (np_state_get(ctx->state, address, &existing, &found, &err) < 0 ||
	    np_state_host_list(ctx->state, &rec, &n_rec, &err) < 0)
		goto fail;
	for (size_t i = 0; i < n_rec && !found; i++)
		if (!strcmp(rec[i].address, address)) {
			found = true;
			np_error(&err,
				 "'%s' is already managed (%s); use 'nestplan state rm' first to "
				 "replace it",
				 address, rec[i].host_id ? rec[i].host_id : "?");
			goto fail;
		}
	if (found) {
		np_error(&err, "'%s' is an instance in the state (%s)", address,
			 existing.instance_id ? existing.instance_id : "?");
		goto fail;
	}
	if (np_ec2_describe_hosts_by_id(ctx->aws, &id, 1, &live, &n_live, &err) < 0)
		goto fail;
	if (n_live != 1 || live[0].state == NP_HOST_RELEASED ||
	    live[0].state == NP_HOST_RELEASED_PERMANENT_FAILURE) {
		np_error(&err, "cannot import '%s': host %s does not exist in EC2 (or is released)",
			 address, id);
		goto fail;
	}
	if (claim(ctx, address, id, live[0].lineage, live[0].owner_id, &err) < 0)
		goto fail;
	np_host_copy(&h, &live[0]);
	free(h.address);
	h.address = np_xstrdup(address);
	free(h.lineage);
	h.lineage = np_xstrdup(lineage);
	if (np_state_host_put(ctx->state, &h, &err) < 0)
		goto fail;
	if (np_cli_pin_location(ctx, &err) < 0) {
		fprintf(ctx->err, "Warning: %s\n", err.msg);
		np_err_clear(&err);
	}
	fprintf(ctx->out,
		"%s: imported host %s (%s, %s).\nThe next plan compares it with the file.\n",
		address, id,
		live[0].instance_family ? live[0].instance_family
		: live[0].instance_type ? live[0].instance_type
					: "?",
		np_host_state_name(live[0].state) ? np_host_state_name(live[0].state) : "?");
	rc = NP_EXIT_OK;
	goto cleanup;
fail:
	np_cli_print_error(ctx->err, &err, ctx->opts->color);
cleanup:
	np_host_release(&h);
	np_instance_release(&existing);
	np_hosts_free(live, n_live);
	np_hosts_free(rec, n_rec);
	return rc;
}

static int run(struct np_ctx *ctx)
{
	const struct np_cli_opts *o = ctx->opts;
	const char *address = o->args[0], *id = o->args[1];
	const char *lineage = np_state_lineage(ctx->state);
	struct np_err err = NP_ERR_INIT;
	struct np_instance *live = NULL, existing = { 0 }, rec;
	size_t n_live = 0;
	bool found = false;
	int rc = NP_EXIT_ERROR;

	if (np_config_find_host(ctx->config, address))
		return import_host(ctx, address, id);
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
	if (claim(ctx, address, id, live[0].lineage, live[0].owner_id, &err) < 0)
		goto fail;
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
	np_instance_release(&existing);
	np_instances_free(live, n_live);
	return rc;
}

const struct np_cmd np_cmd_import = {
	.name = "import",
	.synopsis = "import [options] ADDRESS INSTANCE_ID|HOST_ID",
	.help = "Adopt an existing instance (or, for an address under hosts:, a Dedicated\n"
		"Host) as ADDRESS, which must be in the file: its live values are recorded and\n"
		"it is tagged with nestplan's tags.",
	.options = NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_NO_COLOR) |
		   NP_OPTBIT(NP_OPT_LOCK) | NP_OPTBIT(NP_OPT_LOCK_TIMEOUT),
	.flags = NP_CMD_CREATES_STATE | NP_CMD_NEEDS_CONFIG | NP_CMD_NEEDS_STATE | NP_CMD_LOCKS |
		 NP_CMD_NEEDS_CREDS,
	.min_args = 2,
	.max_args = 2,
	.run = run,
};
