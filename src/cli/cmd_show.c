/* show: the state, a saved plan, or the apply history. */
#include <string.h>
#include <unistd.h>

#include "cli/common.h"
#include "nestplan/cli.h"
#include "nestplan/config.h"
#include "nestplan/render.h"
#include "nestplan/state.h"

static int show_history(struct np_ctx *ctx)
{
	struct np_err err = NP_ERR_INIT;
	struct np_history_entry *h = NULL;
	size_t n = 0;

	if (np_state_history_list(ctx->state, &h, &n, &err) < 0) {
		np_cli_print_error(ctx->err, &err, ctx->opts->color);
		return NP_EXIT_ERROR;
	}
	np_render_history(ctx->out, h, n, ctx->opts->json);
	np_history_entries_free(h, n);
	return NP_EXIT_OK;
}

/* The file a saved plan was made from, if it is here unchanged: its rollout
 * bounds let the plan say its waves. NULL otherwise, silently. */
static struct np_config *plan_config(const struct np_plan *plan, const char *path)
{
	struct np_err err = NP_ERR_INIT;
	struct np_config *cfg = NULL;

	if (access(path, R_OK) < 0 || np_config_load(&cfg, path, &err) < 0)
		return NULL;
	if (strcmp(cfg->sha256, plan->config_sha256)) {
		np_config_free(cfg);
		return NULL;
	}
	return cfg;
}

static int run(struct np_ctx *ctx)
{
	const struct np_cli_opts *o = ctx->opts;
	struct np_err err = NP_ERR_INIT;
	struct np_render_opts ro = { .color = o->color, .expand = o->expand };
	struct np_instance *res = NULL;
	struct np_host *hosts = NULL;
	size_t n = 0, n_hosts = 0;

	if (o->history)
		return show_history(ctx);
	if (o->n_args == 1) {
		struct np_plan plan;
		int rc = NP_EXIT_OK;

		if (np_planfile_load(&plan, o->args[0], &err) < 0) {
			np_cli_report_error(ctx->out, ctx->err, ctx->cmd, o, &err, false);
			rc = NP_EXIT_ERROR;
		} else if (o->json) {
			np_cli_print_json(ctx->out, np_render_plan_json(&plan));
		} else {
			struct np_config *cfg = plan_config(&plan, o->config_path);

			ro.config = cfg;
			np_render_plan_text(ctx->out, &plan, &ro);
			np_config_free(cfg);
		}
		np_plan_release(&plan);
		return rc;
	}
	if (np_state_list(ctx->state, &res, &n, &err) < 0 ||
	    np_state_host_list(ctx->state, &hosts, &n_hosts, &err) < 0) {
		np_cli_print_error(ctx->err, &err, o->color);
		np_instances_free(res, n);
		return NP_EXIT_ERROR;
	}
	if (o->json) {
		json_t *j = np_render_state_json(
		    np_state_lineage(ctx->state), np_state_serial(ctx->state),
		    np_state_region(ctx->state), np_state_account(ctx->state), res, n);

		np_render_state_add_hosts(j, hosts, n_hosts);
		np_cli_print_json(ctx->out, j);
	} else {
		/* Hosts first: the instances run on them. */
		np_render_hosts_text(ctx->out, hosts, n_hosts, &ro);
		if (n_hosts && n)
			fputc('\n', ctx->out);
		if (n || !n_hosts)
			np_render_state_text(ctx->out, res, n, &ro);
	}
	np_instances_free(res, n);
	np_hosts_free(hosts, n_hosts);
	return NP_EXIT_OK;
}

const struct np_cmd np_cmd_show = {
	.name = "show",
	.synopsis = "show [options] [PLANFILE]",
	.help = "Show the state (every managed host and instance as last recorded), a saved plan,\n"
		"or with -history the applies recorded in the state.",
	.options = NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_JSON) |
		   NP_OPTBIT(NP_OPT_NO_COLOR) | NP_OPTBIT(NP_OPT_HISTORY) |
		   NP_OPTBIT(NP_OPT_EXPAND),
	.flags = NP_CMD_NEEDS_STATE,
	.max_args = 1,
	.run = run,
};
