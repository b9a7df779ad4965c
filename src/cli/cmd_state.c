/* state list|show|rm|mv|pull|push: look at, edit and move the state by hand. */
#include <string.h>

#include "cli/common.h"
#include "nestplan/backend.h"
#include "nestplan/buf.h"
#include "nestplan/cli.h"
#include "nestplan/render.h"
#include "nestplan/state.h"

static int fail(struct np_ctx *ctx, const struct np_err *err)
{
	np_cli_print_error(ctx->err, err, ctx->opts->color);
	return NP_EXIT_ERROR;
}

static int run(struct np_ctx *ctx)
{
	const struct np_cli_opts *o = ctx->opts;
	const char *sub = o->args[0];
	struct np_err err = NP_ERR_INIT;
	int argc = o->n_args - 1;
	char **argv = o->args + 1;

	if (!strcmp(sub, "list")) {
		struct np_instance *res = NULL;
		size_t n = 0;

		if (argc)
			return np_error_cls(&err, NP_ERRC_USAGE, "usage: nestplan state list"),
			       fail(ctx, &err);
		if (np_state_list(ctx->state, &res, &n, &err) < 0)
			return fail(ctx, &err);
		for (size_t i = 0; i < n; i++)
			fprintf(ctx->out, "%s\n", res[i].address);
		np_instances_free(res, n);
		return NP_EXIT_OK;
	}
	if (!strcmp(sub, "show")) {
		struct np_instance in = { 0 };
		struct np_render_opts ro = { .color = o->color };
		bool found = false;

		if (argc != 1)
			return np_error_cls(&err, NP_ERRC_USAGE,
					    "usage: nestplan state show ADDRESS"),
			       fail(ctx, &err);
		if (np_state_get(ctx->state, argv[0], &in, &found, &err) < 0)
			return fail(ctx, &err);
		if (!found)
			return np_error(&err, "no instance '%s' in the state", argv[0]),
			       fail(ctx, &err);
		if (o->json)
			np_cli_print_json(ctx->out, np_instance_to_json(&in));
		else
			np_render_state_text(ctx->out, &in, 1, &ro);
		np_instance_release(&in);
		return NP_EXIT_OK;
	}
	if (!strcmp(sub, "rm")) {
		if (argc < 1)
			return np_error_cls(&err, NP_ERRC_USAGE,
					    "usage: nestplan state rm ADDRESS..."),
			       fail(ctx, &err);
		for (int i = 0; i < argc; i++) {
			if (np_state_remove(ctx->state, argv[i], &err) < 0)
				return fail(ctx, &err);
			fprintf(ctx->out, "Removed %s (the instance itself is untouched)\n",
				argv[i]);
		}
		return NP_EXIT_OK;
	}
	if (!strcmp(sub, "mv")) {
		if (argc != 2)
			return np_error_cls(&err, NP_ERRC_USAGE,
					    "usage: nestplan state mv FROM TO"),
			       fail(ctx, &err);
		if (!np_address_valid(argv[1]))
			return np_error_cls(
				   &err, NP_ERRC_USAGE,
				   "'%s' is not an address a config can have: NAME or NAME[INDEX], "
				   "NAME 1 to 64 letters, digits, '_' or '-'",
				   argv[1]),
			       fail(ctx, &err);
		if (np_state_move(ctx->state, argv[0], argv[1], &err) < 0)
			return fail(ctx, &err);
		fprintf(ctx->out, "Moved %s to %s\n", argv[0], argv[1]);
		return NP_EXIT_OK;
	}
	if (!strcmp(sub, "pull")) {
		struct np_buf b = NP_BUF_INIT;

		if (argc)
			return np_error_cls(&err, NP_ERRC_USAGE, "usage: nestplan state pull"),
			       fail(ctx, &err);
		np_buf_init(&b, 0);
		if (np_backend_read(ctx->backend, ctx->state, &b, &err) < 0) {
			np_buf_release(&b);
			return fail(ctx, &err);
		}
		if (fwrite(b.ptr, 1, b.len, ctx->out) != b.len || fflush(ctx->out) != 0) {
			np_buf_release(&b);
			return np_error(&err, "cannot write the state to stdout"), fail(ctx, &err);
		}
		np_buf_release(&b);
		return NP_EXIT_OK;
	}
	if (!strcmp(sub, "push")) {
		if (argc != 1)
			return np_error_cls(&err, NP_ERRC_USAGE,
					    "usage: nestplan state push [-force] FILE"),
			       fail(ctx, &err);
		/* Whatever happens, the copy opened here is not what gets stored. */
		np_backend_set_writable(ctx->backend, false);
		if (np_backend_push(ctx->backend, argv[0], o->force, false, &err) < 0)
			return fail(ctx, &err);
		fprintf(ctx->err, "Pushed '%s' to %s\n", argv[0], np_backend_name(ctx->backend));
		return NP_EXIT_OK;
	}
	np_error_cls(&err, NP_ERRC_USAGE,
		     "unknown state subcommand '%s': want list, show, rm, mv, pull or push", sub);
	return fail(ctx, &err);
}

const struct np_cmd np_cmd_state = {
	.name = "state",
	.synopsis = "state list | state show ADDRESS | state rm ADDRESS... | state mv FROM TO |\n"
		    "       state pull | state push [-force] FILE",
	.help = "Inspect and edit the state: list addresses, show one, forget instances\n"
		"(rm leaves them running in EC2), or rename an address (mv). pull prints the\n"
		"state as stored (the SQLite file's bytes); push FILE replaces it, refusing a\n"
		"state of another lineage or a lower serial unless -force.",
	.options = NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_JSON) |
		   NP_OPTBIT(NP_OPT_NO_COLOR) | NP_OPTBIT(NP_OPT_LOCK) |
		   NP_OPTBIT(NP_OPT_LOCK_TIMEOUT) | NP_OPTBIT(NP_OPT_FORCE),
	.flags = NP_CMD_NEEDS_STATE | NP_CMD_LOCKS,
	.min_args = 1,
	.max_args = -1,
	.run = run,
};
