/* One option table for every command; each command accepts a subset. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "nestplan/cli.h"
#include "nestplan/suggest.h"

struct spec {
	const char *name;
	int has_arg;
	enum np_opt id;
	const char *arg;
	const char *help;
};

static const struct spec specs[] = {
	{ "help", no_argument, NP_OPT_HELP, NULL, "Show this help and exit." },
	{ "config", required_argument, NP_OPT_CONFIG, "FILE",
	  "Configuration file (default nestplan.yaml)." },
	{ "state", required_argument, NP_OPT_STATE, "FILE",
	  "State file or s3://BUCKET/KEY (default $NESTPLAN_STATE, the file's backend, "
	  "nestplan.db)." },
	{ "json", optional_argument, NP_OPT_JSON, NULL, "Print machine-readable JSON." },
	{ "no-color", no_argument, NP_OPT_NO_COLOR, NULL,
	  "Never use colour (also: NO_COLOR set)." },
	{ "out", required_argument, NP_OPT_OUT, "FILE",
	  "Save the plan to FILE for a later apply." },
	{ "detailed-exitcode", optional_argument, NP_OPT_DETAILED_EXITCODE, NULL,
	  "Exit 0: no changes, 1: error, 2: changes present." },
	{ "refresh", optional_argument, NP_OPT_REFRESH, "BOOL",
	  "-refresh=false: use the recorded state, do not ask EC2." },
	{ "refresh-only", optional_argument, NP_OPT_REFRESH_ONLY, NULL,
	  "Only compare the state with EC2 (apply: accept EC2's values)." },
	{ "target", required_argument, NP_OPT_TARGET, "ADDRESS",
	  "Limit to ADDRESS (repeatable; NAME selects every NAME[i])." },
	{ "replace", required_argument, NP_OPT_REPLACE, "ADDRESS",
	  "Plan to replace ADDRESS even if nothing forces it (repeatable)." },
	{ "auto-approve", optional_argument, NP_OPT_AUTO_APPROVE, NULL,
	  "Do not ask for confirmation." },
	{ "input", optional_argument, NP_OPT_INPUT, "BOOL",
	  "-input=false: never prompt; fail instead." },
	{ "parallelism", required_argument, NP_OPT_PARALLELISM, "N",
	  "At most N EC2 calls in flight (default 10)." },
	{ "lock", optional_argument, NP_OPT_LOCK, "BOOL",
	  "-lock=false: do not take the state lock." },
	{ "lock-timeout", required_argument, NP_OPT_LOCK_TIMEOUT, "DURATION",
	  "Wait up to DURATION (e.g. 30s, 2m) for the state lock (default 0s)." },
	{ "format", required_argument, NP_OPT_FORMAT, "FORMAT",
	  "Output: text, json, junit or markdown." },
	{ "history", optional_argument, NP_OPT_HISTORY, NULL,
	  "Show the apply history recorded in the state." },
	{ "step-timeout", required_argument, NP_OPT_STEP_TIMEOUT, "DURATION",
	  "Give up waiting on one instance step after DURATION (default 10m)." },
	{ "force", optional_argument, NP_OPT_FORCE, NULL, "Do not ask for confirmation." },
	{ "deep", optional_argument, NP_OPT_DEEP, NULL,
	  "Also compare the protection flags (one DescribeInstanceAttribute call per instance and "
	  "flag)." },
	{ "expand", optional_argument, NP_OPT_EXPAND, NULL,
	  "List every instance; identical changes are otherwise shown once per address range." },
	{ "migrate-state", optional_argument, NP_OPT_MIGRATE_STATE, "FILE",
	  "Move the local state (FILE, default nestplan.db) into the backend." },
};
#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

/* Longer than any lock or step wait a person means (a week). */
#define MAX_DURATION_S (7 * 24 * 3600.0)

/* "30s", "2m", "1h", "1.5", "500ms"; seconds as a double. Decimal digits
 * only: strtod would also take "nan", "inf", "1e400" and hex. */
static int parse_duration(const char *s, double *out)
{
	char *end;
	double v, f;

	if (!((*s >= '0' && *s <= '9') || (*s == '.' && s[1] >= '0' && s[1] <= '9')) ||
	    s[strspn(s, "0123456789.")] == 'e' || s[strspn(s, "0123456789.")] == 'E' ||
	    (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		f = 1.0;
	else if (!strcmp(end, "ms"))
		f = 0.001;
	else if (!strcmp(end, "m"))
		f = 60.0;
	else if (!strcmp(end, "h"))
		f = 3600.0;
	else
		return -1;
	if (v * f > MAX_DURATION_S)
		return -1;
	*out = v * f;
	return 0;
}

static int parse_bool(const char *name, const char *arg, bool *out, struct np_err *err)
{
	if (!arg || !strcasecmp(arg, "true") || !strcmp(arg, "1")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(arg, "false") || !strcmp(arg, "0")) {
		*out = false;
		return 0;
	}
	return np_error_cls(err, NP_ERRC_USAGE, "invalid value '%s' for -%s: want true or false",
			    arg, name);
}

static void defaults(struct np_cli_opts *o)
{
	const char *st = getenv("NESTPLAN_STATE");
	const char *nc = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	memset(o, 0, sizeof(*o));
	o->config_path = "nestplan.yaml";
	o->state_path = st && *st ? st : "nestplan.db";
	o->state_set = st && *st;
	o->refresh = true;
	o->input = true;
	o->lock = true;
	o->parallelism = 10;
	o->color = isatty(STDOUT_FILENO) && !(nc && *nc) && !(term && !strcmp(term, "dumb"));
}

int np_cli_parse(struct np_cli_opts *o, const struct np_cmd *cmd, int argc, char **argv,
		 struct np_err *err)
{
	struct option longopts[N_SPECS + 1];
	size_t n = 0;
	int c;

	defaults(o);
	for (size_t i = 0; i < N_SPECS; i++) {
		if (specs[i].id != NP_OPT_HELP && !(cmd->options & NP_OPTBIT(specs[i].id)))
			continue;
		longopts[n].name = specs[i].name;
		longopts[n].has_arg = specs[i].has_arg;
		longopts[n].flag = NULL;
		longopts[n].val = 1000 + (int)i;
		n++;
	}
	memset(&longopts[n], 0, sizeof(longopts[n]));

	optind = 0; /* 0 fully reinitialises glibc's getopt, so tests can parse twice */
	opterr = 0;
	while ((c = getopt_long_only(argc, argv, ":h", longopts, NULL)) != -1) {
		const struct spec *sp;
		const char *arg = optarg;

		if (c == 'h') {
			o->n_args = -1;
			return 0;
		}
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1], *near;
			const char *names[N_SPECS + 1];
			char word[64];
			size_t k = 0;

			if (c == ':')
				return np_error_cls(err, NP_ERRC_USAGE, "option '%s' needs a value",
						    bad);
			for (size_t i = 0; i < n; i++)
				names[k++] = longopts[i].name;
			names[k] = NULL;
			snprintf(word, sizeof(word), "%s", bad + strspn(bad, "-"));
			word[strcspn(word, "=")] = '\0';
			if ((near = np_suggest(word, names)))
				return np_error_cls(
				    err, NP_ERRC_USAGE,
				    "%s does not take option '%s'; did you mean '-%s'?", cmd->name,
				    bad, near);
			return np_error_cls(err, NP_ERRC_USAGE, "%s does not take option '%s'",
					    cmd->name, bad);
		}
		sp = &specs[c - 1000];
		switch (sp->id) {
		case NP_OPT_HELP:
			o->n_args = -1; /* the caller prints the usage */
			return 0;
		case NP_OPT_CONFIG:
			o->config_path = arg;
			break;
		case NP_OPT_STATE:
			o->state_path = arg;
			o->state_set = true;
			break;
		case NP_OPT_MIGRATE_STATE:
			o->migrate_state = arg && *arg ? arg : "nestplan.db";
			break;
		case NP_OPT_JSON:
			if (parse_bool(sp->name, arg, &o->json, err) < 0)
				return -1;
			break;
		case NP_OPT_NO_COLOR:
			o->color = false;
			break;
		case NP_OPT_OUT:
			o->out = arg;
			break;
		case NP_OPT_DETAILED_EXITCODE:
			if (parse_bool(sp->name, arg, &o->detailed_exitcode, err) < 0)
				return -1;
			break;
		case NP_OPT_REFRESH:
			if (parse_bool(sp->name, arg, &o->refresh, err) < 0)
				return -1;
			break;
		case NP_OPT_REFRESH_ONLY:
			if (parse_bool(sp->name, arg, &o->refresh_only, err) < 0)
				return -1;
			break;
		case NP_OPT_TARGET:
			if (o->n_targets == NP_MAX_TARGETS)
				return np_error_cls(err, NP_ERRC_USAGE, "too many -target options");
			o->targets[o->n_targets++] = arg;
			break;
		case NP_OPT_REPLACE:
			if (o->n_replace == NP_MAX_TARGETS)
				return np_error_cls(err, NP_ERRC_USAGE,
						    "too many -replace options");
			o->replace[o->n_replace++] = arg;
			break;
		case NP_OPT_AUTO_APPROVE:
			if (parse_bool(sp->name, arg, &o->auto_approve, err) < 0)
				return -1;
			break;
		case NP_OPT_FORCE:
			if (parse_bool(sp->name, arg, &o->force, err) < 0)
				return -1;
			break;
		case NP_OPT_INPUT:
			if (parse_bool(sp->name, arg, &o->input, err) < 0)
				return -1;
			break;
		case NP_OPT_PARALLELISM: {
			char *end;
			long v = strtol(arg, &end, 10);

			if (*end || v < 1 || v > 256)
				return np_error_cls(err, NP_ERRC_USAGE,
						    "invalid -parallelism '%s': want 1 to 256",
						    arg);
			o->parallelism = (int)v;
			break;
		}
		case NP_OPT_LOCK:
			if (parse_bool(sp->name, arg, &o->lock, err) < 0)
				return -1;
			break;
		case NP_OPT_LOCK_TIMEOUT:
			if (parse_duration(arg, &o->lock_timeout) < 0)
				return np_error_cls(
				    err, NP_ERRC_USAGE,
				    "invalid -lock-timeout '%s': want a duration like 30s or 2m "
				    "(at most 168h)",
				    arg);
			break;
		case NP_OPT_FORMAT:
			if (strcmp(arg, "text") && strcmp(arg, "json") && strcmp(arg, "junit") &&
			    strcmp(arg, "markdown"))
				return np_error_cls(
				    err, NP_ERRC_USAGE,
				    "invalid -format '%s': want text, json, junit or markdown",
				    arg);
			o->format = arg;
			break;
		case NP_OPT_HISTORY:
			if (parse_bool(sp->name, arg, &o->history, err) < 0)
				return -1;
			break;
		case NP_OPT_EXPAND:
			if (parse_bool(sp->name, arg, &o->expand, err) < 0)
				return -1;
			break;
		case NP_OPT_DEEP:
			if (parse_bool(sp->name, arg, &o->deep, err) < 0)
				return -1;
			break;
		case NP_OPT_STEP_TIMEOUT:
			if (parse_duration(arg, &o->step_timeout) < 0 || o->step_timeout <= 0)
				return np_error_cls(
				    err, NP_ERRC_USAGE,
				    "invalid -step-timeout '%s': want a duration like 10m (more "
				    "than 0, at most 168h)",
				    arg);
			break;
		case NP_OPT__COUNT:
			break;
		}
	}
	o->args = argv + optind;
	o->n_args = argc - optind;
	if (o->n_args < cmd->min_args || (cmd->max_args >= 0 && o->n_args > cmd->max_args)) {
		if (cmd->max_args == 0)
			return np_error_cls(err, NP_ERRC_USAGE, "%s takes no arguments (got '%s')",
					    cmd->name, o->args[0]);
		return np_error_cls(err, NP_ERRC_USAGE, "usage: nestplan %s", cmd->synopsis);
	}
	return 0;
}

void np_cli_usage(FILE *f, const struct np_cmd *cmd)
{
	/* Alternatives ("state list | state show ADDRESS") one a line. */
	for (const char *s = cmd->synopsis, *bar; s; s = bar ? bar + 3 : NULL) {
		bar = strstr(s, " | ");
		fprintf(f, "%s nestplan %.*s\n", s == cmd->synopsis ? "Usage:" : "      ",
			bar ? (int)(bar - s) : (int)strlen(s), s);
	}
	fputc('\n', f);
	np_cli_wrap(f, cmd->help, 0, 0);
	if (!cmd->options)
		return;
	fprintf(f, "\nOptions:\n");
	for (size_t i = 0; i < N_SPECS; i++) {
		char left[64];

		if (!(cmd->options & NP_OPTBIT(specs[i].id)))
			continue;
		if (specs[i].arg)
			snprintf(left, sizeof(left), "-%s=%s", specs[i].name, specs[i].arg);
		else
			snprintf(left, sizeof(left), "-%s", specs[i].name);
		fprintf(f, "  %-26s ", left);
		np_cli_wrap(f, specs[i].help, 29, 29);
	}
}
