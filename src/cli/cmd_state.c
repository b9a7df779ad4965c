/* state list|show|rm|mv|pull|push: look at, edit and move the state by hand. */
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "nestplan/alloc.h"
#include "nestplan/backend.h"
#include "nestplan/buf.h"
#include "nestplan/cli.h"
#include "nestplan/json.h"
#include "nestplan/plan.h"
#include "nestplan/render.h"
#include "nestplan/state.h"

static int fail(struct np_ctx *ctx, const struct np_err *err)
{
	np_cli_print_error(ctx->err, err, ctx->opts->color);
	return NP_EXIT_ERROR;
}

static int by_address(const void *x, const void *y)
{
	return np_address_cmp(*(const char *const *)x, *(const char *const *)y);
}

/* The host row at address, if any (out released by the caller when found). */
static int find_host(struct np_state *st, const char *address, struct np_host *out, bool *found,
		     struct np_err *err)
{
	struct np_host *v = NULL;
	size_t n = 0;

	*found = false;
	memset(out, 0, sizeof(*out));
	if (np_state_host_list(st, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && !*found; i++)
		if (!strcmp(v[i].address, address)) {
			np_host_copy(out, &v[i]);
			*found = true;
		}
	np_hosts_free(v, n);
	return 0;
}

/* state mv for a host: the row under its new address, in one transaction
 * (the host's nestplan:address tag in EC2 is left as it is, as for an
 * instance). */
static int move_host(struct np_state *st, const struct np_host *h, const char *to,
		     struct np_err *err)
{
	struct np_instance in = { 0 };
	struct np_host other, moved;
	bool taken = false, host_taken = false;
	int rc;

	if (np_state_get(st, to, &in, &taken, err) < 0 ||
	    find_host(st, to, &other, &host_taken, err) < 0)
		return -1;
	np_instance_release(&in);
	if (host_taken)
		np_host_release(&other);
	if (taken || host_taken)
		return np_error(err, "'%s' is already in the state", to);
	if (np_state_begin(st, err) < 0)
		return -1;
	np_host_copy(&moved, h);
	free(moved.address);
	moved.address = np_xstrdup(to);
	rc = np_state_host_put(st, &moved, err);
	if (rc == 0)
		rc = np_state_host_remove(st, h->address, err);
	np_host_release(&moved);
	if (rc < 0) {
		np_state_rollback(st, NULL);
		return -1;
	}
	return np_state_commit(st, err);
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
		struct np_host *hosts = NULL;
		const char **all;
		size_t n = 0, n_hosts = 0;

		if (argc)
			return np_error_cls(&err, NP_ERRC_USAGE, "usage: nestplan state list"),
			       fail(ctx, &err);
		if (np_state_list(ctx->state, &res, &n, &err) < 0)
			return fail(ctx, &err);
		if (np_state_host_list(ctx->state, &hosts, &n_hosts, &err) < 0) {
			np_instances_free(res, n);
			return fail(ctx, &err);
		}
		/* Both kinds, one address per line, in address order. */
		all = np_xcalloc(n + n_hosts + 1, sizeof(*all));
		for (size_t i = 0; i < n; i++)
			all[i] = res[i].address;
		for (size_t i = 0; i < n_hosts; i++)
			all[n + i] = hosts[i].address;
		qsort(all, n + n_hosts, sizeof(*all), by_address);
		for (size_t i = 0; i < n + n_hosts; i++)
			fprintf(ctx->out, "%s\n", all[i]);
		free(all);
		np_instances_free(res, n);
		np_hosts_free(hosts, n_hosts);
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
		if (!found) {
			struct np_host h;

			if (find_host(ctx->state, argv[0], &h, &found, &err) < 0)
				return fail(ctx, &err);
			if (!found)
				return np_error(&err, "no instance or host '%s' in the state",
						argv[0]),
				       fail(ctx, &err);
			if (o->json) {
				json_t *j = np_host_to_json(&h);

				json_object_set_new(j, "kind", json_string("host"));
				np_cli_print_json(ctx->out, j);
			} else {
				np_render_hosts_text(ctx->out, &h, 1, &ro);
			}
			np_host_release(&h);
			return NP_EXIT_OK;
		}
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
			struct np_host h;
			bool host = false;

			if (find_host(ctx->state, argv[i], &h, &host, &err) < 0)
				return fail(ctx, &err);
			if (host) {
				np_host_release(&h);
				if (np_state_host_remove(ctx->state, argv[i], &err) < 0)
					return fail(ctx, &err);
				fprintf(ctx->out, "Removed %s (the host itself stays allocated)\n",
					argv[i]);
				continue;
			}
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
		{
			struct np_host h;
			bool host = false;
			int r;

			if (find_host(ctx->state, argv[0], &h, &host, &err) < 0)
				return fail(ctx, &err);
			r = host ? move_host(ctx->state, &h, argv[1], &err)
				 : np_state_move(ctx->state, argv[0], argv[1], &err);
			if (host)
				np_host_release(&h);
			if (r < 0)
				return fail(ctx, &err);
		}
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
	.help = "Inspect and edit the state: list addresses (instances and hosts), show one,\n"
		"forget one (rm leaves it running or allocated in EC2), or rename an address\n"
		"(mv). pull prints the state as stored (the SQLite file's bytes); push FILE\n"
		"replaces it, refusing a state of another lineage or a lower serial unless\n"
		"-force.",
	.options = NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_JSON) |
		   NP_OPTBIT(NP_OPT_NO_COLOR) | NP_OPTBIT(NP_OPT_LOCK) |
		   NP_OPTBIT(NP_OPT_LOCK_TIMEOUT) | NP_OPTBIT(NP_OPT_FORCE),
	.flags = NP_CMD_NEEDS_STATE | NP_CMD_LOCKS,
	.min_args = 1,
	.max_args = -1,
	.run = run,
};
