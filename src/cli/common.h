/* Pieces several commands share: JSON output, the catalog, refresh. */
#ifndef NESTPLAN_CLI_COMMON_H
#define NESTPLAN_CLI_COMMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "nestplan/cli.h"
#include "nestplan/model.h"

/* Print j (and take its reference) followed by a newline. */
void np_cli_print_json(FILE *out, json_t *j);
/* The catalog for the rules: cached in the state when one is open or exists,
 * topped up from the built-in table. Never fails: the built-in is the floor. */
void np_cli_load_catalog(struct np_ctx *ctx, struct np_catalog *out);

/* Ask for "yes" unless -auto-approve; false (err set) when not approved. */
bool np_cli_confirm(struct np_ctx *ctx, const char *question, struct np_err *err);

/* What -json makes of a command's output: apply and destroy stream
 * Terraform's UI lines, plan and show PLANFILE print one plan document. */
enum np_cli_json_kind { NP_CLI_JSON_NONE, NP_CLI_JSON_STREAM, NP_CLI_JSON_DOC };
enum np_cli_json_kind np_cli_json_kind(const struct np_cmd *cmd, const struct np_cli_opts *o);
/* An error as the command's output format says it: text on errout, or
 * diagnostic lines on out (after the version line unless stream_started),
 * or the plan document with no changes and the errors as diagnostics. */
void np_cli_report_error(FILE *out, FILE *errout, const struct np_cmd *cmd,
			 const struct np_cli_opts *o, const struct np_err *err,
			 bool stream_started);

#endif
