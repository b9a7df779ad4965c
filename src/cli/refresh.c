/* The command line's way to the refresh module: its context as arguments. */
#include "cli/refresh.h"

static struct np_refresh_src src_of(const struct np_ctx *ctx)
{
	return (struct np_refresh_src){
		.aws = ctx->aws, .state = ctx->state, .config = ctx->config, .warn = ctx->err
	};
}

int np_cli_refresh(struct np_ctx *ctx, const struct np_instance *recorded, size_t n_recorded,
		   struct np_instance **out, size_t *n_out, struct np_err *err)
{
	struct np_refresh_src src = src_of(ctx);

	return np_refresh_live(&src, recorded, n_recorded, out, n_out, err);
}

int np_cli_check_region(struct np_ctx *ctx, struct np_err *err)
{
	return np_refresh_check_region(ctx->aws, ctx->state, err);
}

int np_cli_pin_location(struct np_ctx *ctx, struct np_err *err)
{
	return np_refresh_pin_location(ctx->aws, ctx->state, err);
}

void np_cli_catalog(struct np_ctx *ctx, const struct np_instance *recorded, size_t n_recorded,
		    bool online, struct np_catalog *out)
{
	struct np_refresh_src src = src_of(ctx);

	np_refresh_catalog(&src, recorded, n_recorded, online, out);
}

int np_cli_make_plan(struct np_ctx *ctx, const struct np_cli_plan_req *req, struct np_plan *out,
		     struct np_err *err)
{
	const struct np_cli_opts *o = ctx->opts;
	struct np_refresh_src src = src_of(ctx);
	struct np_refresh_req r = { .destroy = req->destroy,
				    .refresh_only = req->refresh_only,
				    .refresh = req->refresh,
				    .deep = req->deep,
				    .targets = o->targets,
				    .n_targets = o->n_targets,
				    .replace = o->replace,
				    .n_replace = o->n_replace };

	return np_refresh_plan(&src, &r, out, err);
}
