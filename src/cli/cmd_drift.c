/* drift: what changed outside nestplan, recorded versus live; exit 2 when
 * anything did. Formats for pipelines: json, junit, markdown. */
#include <string.h>

#include "cli/common.h"
#include "cli/refresh.h"
#include "nestplan/cli.h"
#include "nestplan/render.h"

static int run(struct np_ctx *ctx)
{
	const struct np_cli_opts *o = ctx->opts;
	struct np_cli_plan_req req = { .refresh = true, .refresh_only = true, .deep = o->deep };
	struct np_err err = NP_ERR_INIT;
	struct np_plan plan;
	struct np_render_opts ro = { .color = o->color };
	const char *fmt = o->format ? o->format : (o->json ? "json" : "text");
	int rc;

	if (np_cli_make_plan(ctx, &req, &plan, &err) < 0) {
		np_cli_print_error(ctx->err, &err, o->color);
		np_plan_release(&plan);
		return NP_EXIT_ERROR;
	}
	if (!strcmp(fmt, "json"))
		np_cli_print_json(ctx->out, np_render_drift_json(&plan));
	else if (!strcmp(fmt, "junit"))
		np_render_drift_junit(ctx->out, &plan);
	else if (!strcmp(fmt, "markdown"))
		np_render_drift_markdown(ctx->out, &plan);
	else
		np_render_drift_text(ctx->out, &plan, &ro);
	rc = plan.n_drift ? NP_EXIT_CHANGES : NP_EXIT_OK;
	np_plan_release(&plan);
	return rc;
}

const struct np_cmd np_cmd_drift = {
	.name = "drift",
	.synopsis = "drift [options]",
	.help = "Compare the state with what EC2 reports: changes made outside nestplan,\n"
		"instances stopped or terminated from outside. Exit 0: none, 2: drift, 1: error.\n"
		"-deep also reads the protection flags, one call per instance and flag.",
	.options = NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_JSON) |
		   NP_OPTBIT(NP_OPT_NO_COLOR) | NP_OPTBIT(NP_OPT_FORMAT) |
		   NP_OPTBIT(NP_OPT_TARGET) | NP_OPTBIT(NP_OPT_LOCK) |
		   NP_OPTBIT(NP_OPT_LOCK_TIMEOUT) | NP_OPTBIT(NP_OPT_DEEP),
	.flags = NP_CMD_NEEDS_CONFIG | NP_CMD_NEEDS_STATE | NP_CMD_LOCKS | NP_CMD_NEEDS_CREDS,
	.max_args = 0,
	.run = run,
};
