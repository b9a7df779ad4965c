/* The command line: one table of commands (src/cli/main.c), one file per
 * command (src/cli/cmd_<name>.c), options parsed once by the dispatcher. */
#ifndef NESTPLAN_CLI_H
#define NESTPLAN_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "nestplan/error.h"

/* Exit codes: the contract of DESIGN.md. */
enum { NP_EXIT_OK = 0, NP_EXIT_ERROR = 1, NP_EXIT_CHANGES = 2, NP_EXIT_INTERRUPTED = 130 };

/* Every option any command takes; a command lists the ones it accepts. */
enum np_opt {
	NP_OPT_HELP = 0,
	NP_OPT_CONFIG,
	NP_OPT_STATE,
	NP_OPT_JSON,
	NP_OPT_NO_COLOR,
	NP_OPT_OUT,
	NP_OPT_DETAILED_EXITCODE,
	NP_OPT_REFRESH,
	NP_OPT_REFRESH_ONLY,
	NP_OPT_TARGET,
	NP_OPT_REPLACE,
	NP_OPT_AUTO_APPROVE,
	NP_OPT_INPUT,
	NP_OPT_PARALLELISM,
	NP_OPT_LOCK,
	NP_OPT_LOCK_TIMEOUT,
	NP_OPT_FORMAT,
	NP_OPT_HISTORY,
	NP_OPT_STEP_TIMEOUT,
	NP_OPT_FORCE,
	NP_OPT_EXPAND,
	NP_OPT_MIGRATE_STATE,
	NP_OPT_DEEP,
	NP_OPT__COUNT,
};
#define NP_OPTBIT(o) (1u << (o))

#define NP_MAX_TARGETS 256

struct np_cli_opts {
	const char *config_path;   /* -config; default nestplan.yaml */
	const char *state_path;    /* -state; NESTPLAN_STATE; default nestplan.db; or s3://B/K */
	bool state_set;            /* by -state or NESTPLAN_STATE: wins over the file's backend */
	const char *migrate_state; /* init -migrate-state[=FILE]: the local state to move; NULL */
	bool json;
	bool color; /* resolved: TTY, no NO_COLOR, no -no-color */
	const char *out;
	bool detailed_exitcode;
	bool refresh; /* -refresh=false turns it off */
	bool refresh_only;
	const char *targets[NP_MAX_TARGETS];
	size_t n_targets;
	const char *replace[NP_MAX_TARGETS];
	size_t n_replace;
	bool auto_approve;
	bool force; /* force-unlock: do not ask */
	bool input; /* -input=false: never prompt */
	int parallelism;
	bool lock;           /* -lock=false: do not lock (read-only use) */
	double lock_timeout; /* seconds */
	const char *format;  /* drift: text|json|junit|markdown */
	bool history;
	bool expand;         /* -expand: list every instance of a plan */
	bool deep;           /* drift -deep: read what only DescribeInstanceAttribute tells */
	double step_timeout; /* seconds; 0: defaults */
	char **args;         /* positional arguments */
	int n_args;
};

/* What the dispatcher prepares before run(); see cmd_* for which need what. */
#define NP_CMD_NEEDS_CONFIG  0x1u
#define NP_CMD_NEEDS_STATE   0x2u /* open it; missing is an error unless: */
#define NP_CMD_LOCKS         0x4u
#define NP_CMD_NEEDS_CREDS   0x8u
#define NP_CMD_CREATES_STATE 0x10u /* a missing state is made (init, plan, apply, import) */

struct np_config;
struct np_state;
struct np_aws;
struct np_backend;

/* What a command works with; the dispatcher fills it per the command's flags
 * and releases it afterwards. */
struct np_ctx {
	const struct np_cli_opts *opts;
	const struct np_cmd *cmd;
	struct np_config *config;
	struct np_state *state;
	struct np_aws *aws;
	struct np_backend *backend; /* where the state lives (always set with a state) */
	struct np_aws *backend_aws; /* the S3 backend's client, NULL for the local file */
	bool locked;
	FILE *out;
	FILE *err;
};

struct np_cmd {
	const char *name;
	const char *synopsis; /* "plan [options]" */
	const char *help;     /* what it does, a few lines */
	unsigned options;     /* NP_OPTBIT set of accepted options */
	unsigned flags;
	int min_args, max_args;         /* positional arguments; -1: unbounded */
	int (*run)(struct np_ctx *ctx); /* returns the exit code */
};

/* To add a command: write src/cli/cmd_<name>.c exporting
 * `const struct np_cmd np_cmd_<name>`, declare it here, and add it to the
 * table in src/cli/dispatch.c; its help text comes from the entry (see
 * docs/ARCHITECTURE.md). */
extern const struct np_cmd np_cmd_init, np_cmd_validate, np_cmd_plan, np_cmd_apply, np_cmd_drift,
    np_cmd_show, np_cmd_state, np_cmd_import, np_cmd_destroy, np_cmd_force_unlock, np_cmd_version;

/* Parse argv (after the command name) into opts. -1 with err on bad usage. */
int np_cli_parse(struct np_cli_opts *opts, const struct np_cmd *cmd, int argc, char **argv,
		 struct np_err *err);
void np_cli_usage(FILE *f, const struct np_cmd *cmd);
/* Print text at column col of the current line, wrapped at words so no line
 * passes NP_CLI_WIDTH; continuation lines start at column indent. Newlines
 * in text are spaces (help texts are prose). */
#define NP_CLI_WIDTH 80
void np_cli_wrap(FILE *f, const char *text, int col, int indent);
/* The length of help's first sentence, its full stop included. */
size_t np_cli_first_sentence(const char *help);
/* Whether msg already starts as "FILE:LINE:COLUMN: error:" (or warning:), so
 * printing it after "Error: " would say it twice. */
bool np_cli_error_located(const char *msg);
/* Run a whole command line; returns the exit code. */
int np_cli_main(int argc, char **argv);
const struct np_cmd *np_cli_find(const char *name);
const struct np_cmd *const *np_cli_commands(void);

/* Print an error the way every command does: "Error: ..." on errout. */
void np_cli_print_error(FILE *errout, const struct np_err *err, bool color);

#endif
