/* validate: the file alone, plus the type rules against the catalog (the
 * cached one when a state exists, else the built-in one); no credentials. */
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "cli/common.h"
#include "nestplan/cli.h"
#include "nestplan/config.h"
#include "nestplan/plan.h"
#include "nestplan/state.h"

static json_t *diag_json(const char *severity, const char *address, const char *message)
{
	return json_pack("{s:s, s:s?, s:s}", "severity", severity, "address", address, "message",
	                 message);
}

static int run(struct np_ctx *ctx)
{
	const struct np_cli_opts *o = ctx->opts;
	const char *path = o->n_args ? o->args[0] : o->config_path;
	struct np_err err = NP_ERR_INIT;
	struct np_config *cfg = NULL;
	struct np_catalog cat = NP_CATALOG_INIT;
	struct np_plan diags = {0};
	json_t *j = NULL, *list = NULL;
	int rc = NP_EXIT_ERROR;
	size_t errors = 0;

	if (np_config_load(&cfg, path, &err) < 0) {
		if (o->json) {
			char *save = NULL, *line;

			list = json_array();
			for (line = strtok_r(err.msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
				json_array_append_new(list, diag_json("error", NULL, line));
			j = json_pack("{s:s, s:b, s:O}", "format_version", "1", "valid", 0, "diagnostics",
			              list);
			np_cli_print_json(ctx->out, j);
		} else {
			fprintf(ctx->err, "%s\n", err.msg);
		}
		goto cleanup;
	}
	/* The catalog cached by plan or apply holds what EC2 listed; without a
	 * state file validate still runs, on the built-in table. */
	if (access(o->state_path, F_OK) == 0 &&
	    np_state_open(&ctx->state, o->state_path, NP_STATE_READONLY, &err) < 0) {
		fprintf(ctx->err, "Warning: %s; using the built-in instance-type catalog\n", err.msg);
		np_err_clear(&err);
	}
	np_cli_load_catalog(ctx, &cat);
	if (np_plan_check_config(&diags, cfg, &cat, &err) < 0) {
		np_cli_print_error(ctx->err, &err, o->color);
		goto cleanup;
	}
	list = json_array();
	for (size_t i = 0; i < diags.n_diags; i++) {
		const struct np_diag *d = &diags.diags[i];
		const struct np_desired *want = np_config_find(cfg, d->address);
		bool is_err = d->severity == NP_SEV_ERROR;

		errors += is_err;
		if (o->json) {
			json_array_append_new(list, diag_json(is_err ? "error" : "warning", d->address,
			                                      d->message));
			continue;
		}
		if (want)
			fprintf(ctx->err, "%s:%d:%d: %s: %s: %s\n", path, want->line, want->column,
			        is_err ? "error" : "warning", d->address, d->message);
		else
			fprintf(ctx->err, "%s: %s: %s\n", path, is_err ? "error" : "warning", d->message);
	}
	if (o->json) {
		j = json_pack("{s:s, s:b, s:O}", "format_version", "1", "valid", errors == 0,
		              "diagnostics", list);
		np_cli_print_json(ctx->out, j);
	} else if (!errors) {
		fprintf(ctx->out, "%sSuccess!%s The configuration is valid (%zu instance%s).\n",
		        o->color ? "\033[1;32m" : "", o->color ? "\033[0m" : "", cfg->n_instances,
		        cfg->n_instances == 1 ? "" : "s");
	}
	rc = errors ? NP_EXIT_ERROR : NP_EXIT_OK;
cleanup:
	json_decref(list);
	json_decref(j);
	np_plan_release(&diags);
	np_catalog_release(&cat);
	np_config_free(cfg);
	return rc;
}

const struct np_cmd np_cmd_validate = {
	.name = "validate",
	.synopsis = "validate [options] [FILE]",
	.help = "Check the configuration file: syntax, schema and the nested-virtualization rules.\n"
	        "Uses the instance-type catalog cached in the state, else the built-in one;\n"
	        "needs no credentials.",
	.options = NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_JSON) |
	           NP_OPTBIT(NP_OPT_NO_COLOR),
	.max_args = 1,
	.run = run,
};
