/* Preparing what a command's flags ask for (config, state, lock, EC2). */
#ifndef NESTPLAN_CLI_CTX_H
#define NESTPLAN_CLI_CTX_H

#include "nestplan/cli.h"

int np_ctx_prepare(struct np_ctx *ctx, const struct np_cmd *cmd, const struct np_cli_opts *opts,
		   struct np_err *err);
/* After the command ran: make what it changed durable where the state lives
 * (the S3 backend's last upload). */
int np_ctx_finish(struct np_ctx *ctx, struct np_err *err);
void np_ctx_release(struct np_ctx *ctx);

#endif
