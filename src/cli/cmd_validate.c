/* validate: the file alone, plus the type rules against the catalog (the
 * cached one when a state exists, else the built-in one); no credentials, no
 * network, nothing written. Every error of the schema and of the rules in one
 * run, each at the key it is about; -json as `terraform validate -json`. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/common.h"
#include "nestplan/alloc.h"
#include "nestplan/cli.h"
#include "nestplan/config.h"
#include "nestplan/plan.h"
#include "nestplan/state.h"

/* One line of the report. */
struct vdiag {
	enum np_severity sev;
	char *address; /* NULL for the loader's errors */
	char *message;
	bool has_span;
	struct np_span span;
	const char *entry; /* rules: the entry under instances:, to merge copies */
	enum np_cfg_key key;
	int first, last; /* count indexes merged into one line; -1: none */
	size_t order;
};

struct report {
	struct vdiag *v;
	size_t n, alloc;
	size_t errors, warnings;
};

static struct vdiag *add(struct report *r, enum np_severity sev, const char *message)
{
	struct vdiag *d;

	NP_ALLOC_GROW(r->v, r->n + 1, r->alloc);
	d = &r->v[r->n];
	memset(d, 0, sizeof(*d));
	d->sev = sev;
	d->message = np_xstrdup(message);
	d->first = d->last = -1;
	d->order = r->n++;
	if (sev == NP_SEV_ERROR)
		r->errors++;
	else
		r->warnings++;
	return d;
}

static void release(struct report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].address);
		free(r->v[i].message);
	}
	free(r->v);
}

/* The copies of a count entry break the same rules: one line for all of them. */
static void add_rule(struct report *r, size_t entry_from, const struct np_config *cfg,
		     const struct np_diag *d)
{
	const struct np_desired *want = np_config_find(cfg, d->address);
	const struct np_span *span = NULL;
	struct vdiag *v;

	if (want) {
		span = np_config_key_span(cfg, want, d->key);
		if (!span)
			span = np_config_key_span(cfg, want, NP_KEY_ENTRY);
	}
	for (size_t i = entry_from; want && want->index > 0 && i < r->n; i++) {
		v = &r->v[i];
		if (v->entry && !strcmp(v->entry, want->name) && v->sev == d->severity &&
		    v->key == d->key && v->last == want->index - 1 &&
		    !strcmp(v->message, d->message)) {
			v->last = want->index;
			return;
		}
	}
	v = add(r, d->severity, d->message);
	v->address = np_xstrdup(d->address);
	v->key = d->key;
	if (want) {
		v->entry = want->name;
		v->first = v->last = want->index;
	}
	if (span) {
		v->has_span = true;
		v->span = *span;
	}
}

/* In file order; what has no place in the file first. */
static int cmp_vdiag(const void *a, const void *b)
{
	const struct vdiag *x = a, *y = b;

	if (x->has_span != y->has_span)
		return x->has_span ? 1 : -1;
	if (x->has_span && x->span.start.byte != y->span.start.byte)
		return x->span.start.byte < y->span.start.byte ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

/* "runner[0]" alone, "runner[0..2]" for the merged copies. */
static char *address_of(const struct vdiag *d)
{
	if (d->first >= 0 && d->last > d->first)
		return np_xasprintf("%s[%d..%d]", d->entry, d->first, d->last);
	return np_xstrdup(d->address);
}

static json_t *pos_json(const struct np_pos *p)
{
	return json_pack("{s:i, s:i, s:I}", "line", p->line, "column", p->column, "byte",
			 (json_int_t)p->byte);
}

/* Terraform's diagnostic: the summary says what is wrong, the detail how to
 * fix it; nestplan's messages put the two either side of the first "; ". */
static json_t *diag_json(const struct vdiag *d, const char *filename)
{
	const char *semi = strstr(d->message, "; ");
	json_t *j = json_object();

	json_object_set_new(j, "severity",
			    json_string(d->sev == NP_SEV_ERROR ? "error" : "warning"));
	json_object_set_new(j, "summary",
			    semi ? json_stringn(d->message, (size_t)(semi - d->message))
				 : json_string(d->message));
	json_object_set_new(j, "detail", json_string(semi ? semi + 2 : ""));
	if (d->address) {
		char *a = address_of(d);

		json_object_set_new(j, "address", json_string(a));
		free(a);
	}
	if (d->has_span)
		json_object_set_new(j, "range",
				    json_pack("{s:s, s:o, s:o}", "filename", filename, "start",
					      pos_json(&d->span.start), "end",
					      pos_json(&d->span.end)));
	return j;
}

static void print_text(FILE *f, const struct vdiag *d, const char *path)
{
	const char *sev = d->sev == NP_SEV_ERROR ? "error" : "warning";
	char *a = d->address ? address_of(d) : NULL;

	if (d->has_span)
		fprintf(f, "%s:%d:%d: %s: ", path, d->span.start.line, d->span.start.column, sev);
	else if (!strncmp(d->message, path, strlen(path)) && d->message[strlen(path)] == ':')
		; /* the message already names the file */
	else
		fprintf(f, "%s: %s: ", path, sev);
	fprintf(f, "%s%s%s\n", a ? a : "", a ? ": " : "", d->message);
	free(a);
}

static int run(struct np_ctx *ctx)
{
	const struct np_cli_opts *o = ctx->opts;
	const char *path = o->n_args ? o->args[0] : o->config_path;
	struct np_err err = NP_ERR_INIT;
	struct np_config *cfg = NULL;
	struct np_config_diags cdiags = NP_CONFIG_DIAGS_INIT;
	struct np_catalog cat = NP_CATALOG_INIT;
	struct np_plan rules = { 0 };
	struct report r = { 0 };
	size_t not_shown;
	int rc;

	if (np_config_check(&cfg, path, &cdiags, &err) < 0 && cdiags.n == 0) {
		char *save = NULL, *line;

		/* An error before any node (unreadable file): its lines as they are. */
		for (line = strtok_r(err.msg, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			add(&r, NP_SEV_ERROR, line);
	}
	for (size_t i = 0; i < cdiags.n; i++) {
		struct vdiag *d = add(&r, NP_SEV_ERROR, cdiags.v[i].message);

		d->has_span = cdiags.v[i].has_span;
		d->span = cdiags.v[i].span;
	}
	not_shown = (size_t)cdiags.not_shown;
	if (cfg) {
		/* The catalog cached by plan or apply holds what EC2 listed; opened
		 * so that nothing is created, not even SQLite's side files. Without
		 * a state validate runs on the built-in table. */
		if (access(o->state_path, F_OK) == 0 &&
		    np_state_open(&ctx->state, o->state_path, NP_STATE_READONLY | NP_STATE_PEEK,
				  &err) < 0) {
			char *m =
			    np_xasprintf("%s; using the built-in instance-type catalog", err.msg);

			add(&r, NP_SEV_WARNING, m);
			free(m);
			np_err_clear(&err);
		}
		np_cli_load_catalog(ctx, &cat);
		if (np_plan_check_config(&rules, cfg, &cat, &err) == 0) {
			const char *entry = NULL;
			size_t entry_from = r.n;

			for (size_t i = 0; i < rules.n_diags; i++) {
				const struct np_desired *want =
				    np_config_find(cfg, rules.diags[i].address);

				if (!want || !entry || strcmp(entry, want->name)) {
					entry = want ? want->name : NULL;
					entry_from = r.n;
				}
				add_rule(&r, entry_from, cfg, &rules.diags[i]);
			}
		}
	}
	if (r.n) /* qsort takes no NULL, even for nothing */
		qsort(r.v, r.n, sizeof(*r.v), cmp_vdiag);
	if (not_shown) {
		char *m = np_xasprintf("%zu more errors not shown", not_shown);

		add(&r, NP_SEV_ERROR, m);
		free(m);
		r.errors += not_shown - 1; /* the line above stands for them */
	}

	if (o->json) {
		json_t *list = json_array();

		for (size_t i = 0; i < r.n; i++)
			json_array_append_new(list, diag_json(&r.v[i], path));
		np_cli_print_json(ctx->out, json_pack("{s:s, s:b, s:I, s:I, s:o}", "format_version",
						      "1.0", "valid", r.errors == 0, "error_count",
						      (json_int_t)r.errors, "warning_count",
						      (json_int_t)r.warnings, "diagnostics", list));
	} else {
		for (size_t i = 0; i < r.n; i++)
			print_text(ctx->err, &r.v[i], path);
		if (!r.errors && cfg)
			fprintf(ctx->out,
				"%sSuccess!%s The configuration is valid (%zu instance%s)%s.\n",
				o->color ? "\033[1;32m" : "", o->color ? "\033[0m" : "",
				cfg->n_instances, cfg->n_instances == 1 ? "" : "s",
				r.warnings
				    ? ", but there were some validation warnings as shown above"
				    : "");
	}
	rc = r.errors ? NP_EXIT_ERROR : NP_EXIT_OK;
	release(&r);
	np_plan_release(&rules);
	np_catalog_release(&cat);
	np_config_diags_release(&cdiags);
	np_config_free(cfg);
	return rc;
}

const struct np_cmd np_cmd_validate = {
	.name = "validate",
	.synopsis = "validate [options] [FILE]",
	.help =
	    "Check the configuration file: syntax, schema and the nested-virtualization rules,\n"
	    "every error in one run, each at its key. Uses the instance-type catalog cached\n"
	    "in the state, else the built-in one; needs no credentials and writes nothing.\n"
	    "-json prints what `terraform validate -json` prints.",
	.options = NP_OPTBIT(NP_OPT_CONFIG) | NP_OPTBIT(NP_OPT_STATE) | NP_OPTBIT(NP_OPT_JSON) |
		   NP_OPTBIT(NP_OPT_NO_COLOR),
	.max_args = 1,
	.run = run,
};
