#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/progress.h"
#include "cli/common.h"
#include "cli/refresh.h"
#include "nestplan/alloc.h"

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
		np_error_cls(
		    err, NP_ERRC_USAGE,
		    "approval needed but -input=false: pass -auto-approve or a saved plan");
		return false;
	}
	fprintf(ctx->out,
		"\n%s\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", question);
	fflush(ctx->out);
	errno = 0;
	if (!fgets(answer, sizeof(answer), stdin)) {
		/* Ctrl-C at the prompt (the handler has no SA_RESTART) is an interrupt. */
		if (errno == EINTR) {
			fputc('\n', ctx->out);
			np_error_cls(err, NP_ERRC_INTERRUPTED, "interrupted: nothing was changed");
		} else {
			np_error_cls(err, NP_ERRC_USAGE,
				     "no answer on standard input; nothing was changed");
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

enum np_cli_json_kind np_cli_json_kind(const struct np_cmd *cmd, const struct np_cli_opts *o)
{
	if (!o->json)
		return NP_CLI_JSON_NONE;
	if (!strcmp(cmd->name, "apply") || !strcmp(cmd->name, "destroy"))
		return NP_CLI_JSON_STREAM;
	if (!strcmp(cmd->name, "plan") || (!strcmp(cmd->name, "show") && o->n_args == 1))
		return NP_CLI_JSON_DOC;
	return NP_CLI_JSON_NONE;
}

/* "FILE:LINE:COLUMN: error: text" into its parts; false if it is not one. */
static bool located(const char *line, size_t len, json_t **range, const char **sev,
		    const char **text)
{
	const char *e = strstr(line, ": error: "), *w = strstr(line, ": warning: "), *m, *c1, *c2;

	if (w && (!e || w < e))
		e = w;
	if (!e || (size_t)(e - line) >= len)
		return false;
	for (c2 = e - 1; c2 > line && *c2 != ':'; c2--)
		;
	for (c1 = c2 - 1; c1 > line && *c1 != ':'; c1--)
		;
	if (c1 <= line || c2 <= c1 + 1 || e <= c2 + 1)
		return false;
	for (m = c1 + 1; m < e; m++)
		if (m != c2 && (*m < '0' || *m > '9'))
			return false;
	*sev = e == w ? "warning" : "error";
	*text = e + (e == w ? 11 : 9);
	*range = json_pack("{s:s%, s:{s:i, s:i}}", "filename", line, (size_t)(c1 - line), "start",
			   "line", atoi(c1 + 1), "column", atoi(c2 + 1));
	return true;
}

/* One diagnostic a line of the message ("FILE:LINE:COLUMN: error: ..." lines
 * carry their range); a line that is not located continues the one before. */
static json_t *err_diagnostics(const struct np_err *err)
{
	const char *msg = err->msg[0] ? err->msg : "unknown error";
	json_t *out = json_array();

	while (*msg) {
		size_t len = strcspn(msg, "\n");
		const char *sev = "error", *text = msg;
		json_t *range = NULL, *last = json_array_get(out, json_array_size(out) - 1);

		if (len && !located(msg, len, &range, &sev, &text) && last) {
			const char *d = json_string_value(json_object_get(last, "detail"));
			char *joined = NULL;

			if (asprintf(&joined, "%s%s%.*s", d, *d ? "\n" : "", (int)len, msg) >= 0)
				json_object_set_new(last, "detail", json_string(joined));
			free(joined);
		} else if (len) {
			json_t *dg = json_pack("{s:s, s:s%, s:s}", "severity", sev, "summary", text,
					       (size_t)(msg + len - text), "detail", "");

			if (range)
				json_object_set_new(dg, "range", range);
			json_array_append_new(out, dg);
		}
		msg += len + (msg[len] == '\n');
	}
	return out;
}

void np_cli_report_error(FILE *out, FILE *errout, const struct np_cmd *cmd,
			 const struct np_cli_opts *o, const struct np_err *err, bool stream_started)
{
	enum np_cli_json_kind kind = np_cli_json_kind(cmd, o);
	json_t *diags, *d;
	size_t i;

	if (kind == NP_CLI_JSON_NONE) {
		np_cli_print_error(errout, err, o->color);
		return;
	}
	diags = err_diagnostics(err);
	if (kind == NP_CLI_JSON_STREAM) {
		if (!stream_started)
			np_ui_version(out);
		json_array_foreach(diags, i, d)
		{
			json_t *range = json_object_get(d, "range");

			np_ui_diagnostic(out, json_string_value(json_object_get(d, "severity")),
					 json_string_value(json_object_get(d, "summary")),
					 json_string_value(json_object_get(d, "detail")), NULL,
					 range ? json_pack("{s:O}", "range", range) : NULL);
		}
		json_decref(diags);
		return;
	}
	/* The plan document with nothing planned: plan's diagnostics say only
	 * "message", so a summary and its detail are one line each. */
	{
		json_t *pd = json_array();

		json_array_foreach(diags, i, d)
		{
			const char *summary = json_string_value(json_object_get(d, "summary"));
			const char *detail = json_string_value(json_object_get(d, "detail"));
			json_t *range = json_object_get(d, "range");
			char *line = np_xstrdup(summary);
			json_t *one;

			/* A message is one line: the detail's lines join with "; ". */
			if (*detail) {
				char *joined = NULL;

				if (asprintf(&joined, "%s; %s", summary, detail) >= 0) {
					free(line);
					line = joined;
				}
				for (char *c = line; *c; c++)
					if (*c == '\n')
						*c = ' ';
			}
			one = json_pack("{s:O, s:n, s:s}", "severity",
					json_object_get(d, "severity"), "address", "message", line);
			if (range)
				json_object_set(one, "range", range);
			json_array_append_new(pd, one);
			free(line);
		}
		np_cli_print_json(out,
				  json_pack("{s:s, s:[], s:[], s:o, s:[], s:{s:i, s:i, s:i, s:i}}",
					    "format_version", "1", "changes", "drift",
					    "diagnostics", pd, "unchecked_permissions", "summary",
					    "add", 0, "change", 0, "destroy", 0, "stop_start", 0));
	}
	json_decref(diags);
}
