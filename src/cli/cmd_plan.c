/* plan: what apply would do, in text or JSON, optionally saved. */
#include "cli/common.h"
#include "cli/refresh.h"
#include "nestplan/cli.h"
#include "nestplan/plan.h"
#include "nestplan/render.h"

static int run(struct np_ctx *ctx)
{
	const struct np_cli_opts *o = ctx->opts;
	struct np_cli_plan_req req = { .refresh = o->refresh, .refresh_only = o->refresh_only };
	struct np_err err = NP_ERR_INIT;
	struct np_plan plan;
	struct np_render_opts ro = { .color = o->color,
				     .expand = o->expand,
				     .config = ctx->config };
	int rc = NP_EXIT_ERROR;

	if (np_cli_make_plan(ctx, &req, &plan, &err) < 0) {
		np_cli_report_error(ctx->out, ctx->err, ctx->cmd, o, &err, false);
		np_plan_release(&plan);
		return NP_EXIT_ERROR;
	}
	if (o->json)
		np_cli_print_json(ctx->out, np_render_plan_json(&plan));
	else
		np_render_plan_text(ctx->out, &plan, &ro);
	if (np_plan_has_errors(&plan))
		goto cleanup;
	if (o->out) {
		if (np_planfile_save(&plan, o->out, &err) < 0) {
			np_cli_print_error(ctx->err, &err, o->color);
			goto cleanup;
		}
		if (!o->json)
			fprintf(ctx->out,
				"\nSaved the plan to: %s\nTo perform exactly these actions, run: "
				"nestplan apply %s\n",
				o->out, o->out);
	}
	/* A refresh-only plan changes nothing but the state: drift is what
	 * apply -refresh-only would record (Terraform's exit 2 there too). */
	rc = o->detailed_exitcode &&
		     (o->refresh_only ? plan.n_drift > 0 : np_plan_has_changes(&plan))
		 ? NP_EXIT_CHANGES
		 : NP_EXIT_OK;
cleanup:
	np_plan_release(&plan);
	return rc;
}

const struct np_cmd np_cmd_plan = {
	.name = "plan",
	.synopsis = "plan [options]",
	.help = "Show what apply would change, from the file, the state and what EC2 reports.\n"
		"Rule violations (nested virtualization on an unsupported type, Windows limits,\n"
		"invalid CPU options) are errors here, before anything is stopped.",
	.options = NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_JSON) |
		   NP_OPTBIT(NP_OPT_NO_COLOR) | NP_OPTBIT(NP_OPT_OUT) |
		   NP_OPTBIT(NP_OPT_DETAILED_EXITCODE) | NP_OPTBIT(NP_OPT_REFRESH) |
		   NP_OPTBIT(NP_OPT_REFRESH_ONLY) | NP_OPTBIT(NP_OPT_TARGET) |
		   NP_OPTBIT(NP_OPT_REPLACE) | NP_OPTBIT(NP_OPT_LOCK) |
		   NP_OPTBIT(NP_OPT_LOCK_TIMEOUT) | NP_OPTBIT(NP_OPT_INPUT) |
		   NP_OPTBIT(NP_OPT_EXPAND),
	.flags = NP_CMD_CREATES_STATE | NP_CMD_NEEDS_CONFIG | NP_CMD_NEEDS_STATE | NP_CMD_LOCKS |
		 NP_CMD_NEEDS_CREDS,
	.max_args = 0,
	.run = run,
};
