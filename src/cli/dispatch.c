/* The command table and the dispatcher. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ctx.h"
#include "nestplan/cli.h"
#include "nestplan/log.h"

/* Listed in the order `nestplan -help` shows them. */
static const struct np_cmd *const commands[] = {
	&np_cmd_init,    &np_cmd_validate, &np_cmd_plan,  &np_cmd_apply,
	&np_cmd_drift,   &np_cmd_show,     &np_cmd_state, &np_cmd_import,
	&np_cmd_destroy, &np_cmd_force_unlock, &np_cmd_version, NULL,
};

const struct np_cmd *const *np_cli_commands(void)
{
	return commands;
}

const struct np_cmd *np_cli_find(const char *name)
{
	for (size_t i = 0; commands[i]; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static void main_usage(FILE *f)
{
	fprintf(f, "Usage: nestplan [-version] [-help] COMMAND [options]\n\n"
	           "Declarative EC2 instances with nested virtualization.\n\nCommands:\n");
	for (size_t i = 0; commands[i]; i++) {
		const char *nl = strchr(commands[i]->help, '\n');
		int len = nl ? (int)(nl - commands[i]->help) : (int)strlen(commands[i]->help);

		fprintf(f, "  %-14s %.*s\n", commands[i]->name, len, commands[i]->help);
	}
	fprintf(f, "\n'nestplan COMMAND -help' shows a command's options.\n");
}

void np_cli_print_error(FILE *errout, const struct np_err *err, bool color)
{
	const char *msg = err->msg[0] ? err->msg : "unknown error";

	if (color)
		fprintf(errout, "\033[1;31mError:\033[0m %s\n", msg);
	else
		fprintf(errout, "Error: %s\n", msg);
}

int np_cli_main(int argc, char **argv)
{
	struct np_err err = NP_ERR_INIT;
	struct np_cli_opts opts;
	struct np_ctx ctx;
	const struct np_cmd *cmd;
	int rc;

	np_log_init();
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		main_usage(stderr);
		return NP_EXIT_ERROR;
	}
	if (!strcmp(argv[1], "-help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2 && (cmd = np_cli_find(argv[2]))) {
			np_cli_usage(stdout, cmd);
			return NP_EXIT_OK;
		}
		main_usage(stdout);
		return NP_EXIT_OK;
	}
	if (!strcmp(argv[1], "-version") || !strcmp(argv[1], "--version") || !strcmp(argv[1], "-v"))
		argv[1] = "version";
	cmd = np_cli_find(argv[1]);
	if (!cmd) {
		fprintf(stderr, "Error: unknown command '%s'\n\n", argv[1]);
		main_usage(stderr);
		return NP_EXIT_ERROR;
	}
	if (np_cli_parse(&opts, cmd, argc - 1, argv + 1, &err) < 0) {
		np_cli_print_error(stderr, &err, false);
		fprintf(stderr, "\n");
		np_cli_usage(stderr, cmd);
		return NP_EXIT_ERROR;
	}
	if (opts.n_args < 0) {
		np_cli_usage(stdout, cmd);
		return NP_EXIT_OK;
	}
	if (np_ctx_prepare(&ctx, cmd, &opts, &err) < 0) {
		np_cli_print_error(stderr, &err, opts.color);
		rc = err.cls == NP_ERRC_INTERRUPTED ? NP_EXIT_INTERRUPTED : NP_EXIT_ERROR;
		np_ctx_release(&ctx);
		return rc;
	}
	rc = cmd->run(&ctx);
	/* The remote state's last upload (backend); a failure fails the run. */
	if (np_ctx_finish(&ctx, &err) < 0) {
		np_cli_print_error(stderr, &err, opts.color);
		if (rc != NP_EXIT_INTERRUPTED)
			rc = NP_EXIT_ERROR;
	}
	np_ctx_release(&ctx);
	return rc;
}
