#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli/common.h"
#include "cli/refresh.h"

void np_cli_print_json(FILE *out, json_t *j)
{
	if (!j)
		return;
	json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(j);
}

void np_cli_load_catalog(struct np_ctx *ctx, struct np_catalog *out)
{
	np_cli_catalog(ctx, NULL, 0, false, out);
}

bool np_cli_confirm(struct np_ctx *ctx, const char *question, struct np_err *err)
{
	char answer[64];

	if (ctx->opts->auto_approve)
		return true;
	if (!ctx->opts->input) {
		np_error_cls(err, NP_ERRC_USAGE,
		             "approval needed but -input=false: pass -auto-approve or a saved plan");
		return false;
	}
	fprintf(ctx->out, "\n%s\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
	        question);
	fflush(ctx->out);
	errno = 0;
	if (!fgets(answer, sizeof(answer), stdin)) {
		/* Ctrl-C at the prompt (the handler has no SA_RESTART) is an interrupt. */
		if (errno == EINTR) {
			fputc('\n', ctx->out);
			np_error_cls(err, NP_ERRC_INTERRUPTED, "interrupted: nothing was changed");
		} else {
			np_error_cls(err, NP_ERRC_USAGE, "no answer on standard input; nothing was changed");
		}
		return false;
	}
	answer[strcspn(answer, "\r\n")] = '\0';
	if (strcmp(answer, "yes")) {
		np_error_cls(err, NP_ERRC_USAGE, "cancelled: nothing was changed");
		return false;
	}
	return true;
}
