/* The command table and the dispatcher. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/ctx.h"
#include "nestplan/cli.h"
#include "nestplan/log.h"
#include "nestplan/suggest.h"

/* Listed in the order `nestplan -help` shows them. */
static const struct np_cmd *const commands[] = {
	&np_cmd_init,    &np_cmd_validate,     &np_cmd_plan,    &np_cmd_apply,
	&np_cmd_drift,   &np_cmd_show,         &np_cmd_state,   &np_cmd_import,
	&np_cmd_destroy, &np_cmd_force_unlock, &np_cmd_version, NULL,
};

const struct np_cmd *const *np_cli_commands(void) { return commands; }

const struct np_cmd *np_cli_find(const char *name)
{
	for (size_t i = 0; commands[i]; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

void np_cli_wrap(FILE *f, const char *text, int col, int indent)
{
	bool first = true;

	for (;;) {
		size_t w;

		text += strspn(text, " \n");
		if (!*text)
			break;
		w = strcspn(text, " \n");
		if (!first && col + 1 + (int)w > NP_CLI_WIDTH - 1) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)w, text);
		col += (int)w;
		text += w;
		first = false;
	}
	fputc('\n', f);
}

size_t np_cli_first_sentence(const char *help)
{
	const char *p = help;

	/* A full stop followed by a space or the end, not that of "e.g." */
	for (; (p = strchr(p, '.')); p++) {
		bool abbrev =
		    p - help >= 3 && (!strncmp(p - 3, "e.g.", 4) || !strncmp(p - 3, "i.e.", 4));

		if (!abbrev && (!p[1] || p[1] == ' ' || p[1] == '\n'))
			return (size_t)(p - help + 1);
	}
	return strlen(help);
}

static void main_usage(FILE *f)
{
	fprintf(f, "Usage: nestplan [-version] [-help] COMMAND [options]\n\n"
		   "Declarative EC2 instances with nested virtualization.\n\nCommands:\n");
	for (size_t i = 0; commands[i]; i++) {
		char *first = strndup(commands[i]->help, np_cli_first_sentence(commands[i]->help));

		fprintf(f, "  %-14s ", commands[i]->name);
		np_cli_wrap(f, first ? first : commands[i]->help, 17, 17);
		free(first);
	}
	fprintf(f, "\n'nestplan COMMAND -help' shows a command's options.\n");
}

bool np_cli_error_located(const char *msg)
{
	size_t line = strcspn(msg, "\n");

	/* ":LINE:COLUMN: error: " after a file name (which may hold ':' or ' '). */
	for (const char *p = msg; (p = strchr(p, ':')) && (size_t)(p - msg) < line; p++) {
		const char *q = p + 1;
		size_t d = strspn(q, "0123456789");

		if (p == msg || !d || q[d] != ':')
			continue;
		q += d + 1;
		if (!(d = strspn(q, "0123456789")))
			continue;
		q += d;
		if (!strncmp(q, ": error: ", 9) || !strncmp(q, ": warning: ", 11))
			return true;
	}
	return false;
}

void np_cli_print_error(FILE *errout, const struct np_err *err, bool color)
{
	const char *msg = err->msg[0] ? err->msg : "unknown error";

	/* Config errors say "FILE:LINE:COLUMN: error:" themselves; on a
	 * terminal their severity is coloured, as compilers do. */
	if (np_cli_error_located(msg)) {
		while (*msg) {
			size_t len = strcspn(msg, "\n");
			const char *sev = color ? strstr(msg, ": error: ") : NULL;
			const char *warn = color ? strstr(msg, ": warning: ") : NULL;
			bool is_err;

			if (warn && (!sev || warn < sev))
				sev = warn;
			if (sev && (size_t)(sev - msg) < len) {
				size_t head = (size_t)(sev - msg), word;

				is_err = sev[2] == 'e';
				word = is_err ? 8 : 10; /* ": error:" or ": warning:" */
				fprintf(errout, "%.*s: %s\033[0m%.*s\n", (int)head, msg,
					is_err ? "\033[1;31merror:" : "\033[1;33mwarning:",
					(int)(len - head - word), sev + word);
			} else {
				fprintf(errout, "%.*s\n", (int)len, msg);
			}
			msg += len + (msg[len] == '\n');
		}
	} else if (color)
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
		const char *names[sizeof(commands) / sizeof(commands[0])], *near;
		size_t n = 0;

		for (; commands[n]; n++)
			names[n] = commands[n]->name;
		names[n] = NULL;
		near = np_suggest(argv[1], names);
		/* Terraform's way: the nearest command, and where the list is. */
		fprintf(stderr, "Error: unknown command '%s'%s%s%s\n\n", argv[1],
			near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
		if (near)
			fprintf(stderr,
				"To see all of nestplan's commands, run:\n  nestplan -help\n");
		else
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
		np_cli_report_error(stdout, stderr, cmd, &opts, &err, false);
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
