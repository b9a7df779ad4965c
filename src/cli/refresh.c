/* Refresh: what EC2 reports about the managed instances, in as few calls as
 * EC2 allows — one filtered listing by lineage tag (pages of 1,000) plus id
 * batches for instances that lost the tag or are to be adopted — and the
 * instance-type catalog for the types in use, cached in the state. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/refresh.h"
#include "nestplan/alloc.h"
#include "nestplan/config.h"
#include "nestplan/ec2.h"
#include "nestplan/log.h"
#include "nestplan/state.h"

#define CATALOG_TTL (24 * 3600)

static int cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool seen(char **sorted, size_t n, const char *id)
{
	return id && bsearch(&id, sorted, n, sizeof(*sorted), cmp_id) != NULL;
}

int np_cli_refresh(struct np_ctx *ctx, const struct np_instance *recorded, size_t n_recorded,
                   struct np_instance **out, size_t *n_out, struct np_err *err)
{
	const char *lineage = np_state_lineage(ctx->state);
	struct np_instance *live = NULL, *more = NULL;
	size_t n_live = 0, n_more = 0, n_ids = 0;
	const char **missing = NULL;
	char **have = NULL;
	int rc = -1;

	*out = NULL;
	*n_out = 0;
	if (np_ec2_describe_instances_filter(ctx->aws, "tag:" NP_TAG_LINEAGE, &lineage, 1, &live,
	                                     &n_live, err) < 0)
		goto cleanup;

	/* Recorded or adopted instances the listing did not show: ask by id. */
	have = np_xmalloc((n_live ? n_live : 1) * sizeof(*have));
	for (size_t i = 0; i < n_live; i++)
		have[i] = live[i].instance_id;
	qsort(have, n_live, sizeof(*have), cmp_id);
	missing = np_xmalloc((n_recorded + (ctx->config ? ctx->config->n_instances : 0) + 1) *
	                     sizeof(*missing));
	for (size_t i = 0; i < n_recorded; i++)
		if (recorded[i].instance_id && !seen(have, n_live, recorded[i].instance_id))
			missing[n_ids++] = recorded[i].instance_id;
	for (size_t i = 0; ctx->config && i < ctx->config->n_instances; i++) {
		const char *id = ctx->config->instances[i].want.instance_id;

		if (id && !seen(have, n_live, id))
			missing[n_ids++] = id;
	}
	if (n_ids && np_ec2_describe_instances_by_id(ctx->aws, missing, n_ids, &more, &n_more, err) < 0)
		goto cleanup;
	if (n_more) {
		live = np_xrealloc(live, (n_live + n_more) * sizeof(*live));
		memcpy(live + n_live, more, n_more * sizeof(*more));
		n_live += n_more;
		free(more);
		more = NULL;
		n_more = 0;
	}
	*out = live;
	*n_out = n_live;
	live = NULL;
	n_live = 0;
	rc = 0;
cleanup:
	np_instances_free(live, n_live);
	np_instances_free(more, n_more);
	free(have);
	free(missing);
	return rc;
}

static void add_type(struct np_strv *types, const char *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < types->n; i++)
		if (!strcmp(types->v[i], t))
			return;
	np_strv_push(types, t);
}

/* Whether name is an element of EC2's list "[a, b, c]" (open to close). */
static bool listed(const char *open, const char *close, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = open + 1; p < close; p += strcspn(p, ",]") + 1) {
		p += strspn(p, " ");
		if (!strncmp(p, name, len) && (p[len] == ',' || p[len] == ']'))
			return true;
	}
	return false;
}

/* EC2 names the types it does not have: "... do not exist: [m8i.larg, x1]".
 * They go into the catalog as unknown (so the plan can say so) and out of
 * the question, which is then asked again. */
static bool drop_unknown(const struct np_err *e, struct np_strv *ask, struct np_catalog *out)
{
	const char *open = strchr(e->msg, '['), *close = open ? strchr(open, ']') : NULL;
	bool dropped = false;

	if (strcmp(e->code, "InvalidInstanceType") || !close)
		return false;
	for (size_t i = 0; i < ask->n;) {
		struct np_itype t = {.name = ask->v[i], .unknown = true};

		if (!listed(open, close, ask->v[i])) {
			i++;
			continue;
		}
		np_catalog_add(out, &t);
		free(ask->v[i]);
		ask->v[i] = ask->v[--ask->n];
		dropped = true;
	}
	return dropped;
}

void np_cli_catalog(struct np_ctx *ctx, const struct np_instance *recorded, size_t n_recorded,
                    bool online, struct np_catalog *out)
{
	struct np_catalog fresh = NP_CATALOG_INIT, builtin = NP_CATALOG_INIT;
	struct np_strv types = NP_STRV_INIT;
	struct np_strv ask = NP_STRV_INIT;
	struct np_err err = NP_ERR_INIT;
	long long now = (long long)time(NULL);

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; ctx->config && i < ctx->config->n_instances; i++)
		add_type(&types, ctx->config->instances[i].want.instance_type);
	for (size_t i = 0; i < n_recorded; i++)
		add_type(&types, recorded[i].instance_type);

	if (ctx->state && np_state_catalog_load(ctx->state, out, now, CATALOG_TTL, &err) < 0) {
		np_log_warn("catalog cache: %s", err.msg);
		np_err_clear(&err);
	}
	for (size_t i = 0; i < types.n; i++)
		if (!np_catalog_find(out, types.v[i]))
			np_strv_push(&ask, types.v[i]);
	if (ask.n && online && ctx->aws) {
		int r = np_ec2_describe_instance_types(ctx->aws, (const char *const *)ask.v, ask.n,
		                                       &fresh, &err);

		if (r < 0 && drop_unknown(&err, &ask, out)) {
			np_err_clear(&err);
			r = ask.n ? np_ec2_describe_instance_types(ctx->aws, (const char *const *)ask.v,
			                                           ask.n, &fresh, &err)
			          : 0;
		}
		if (r < 0) {
			fprintf(ctx->err, "Warning: cannot read the instance-type catalog from EC2 (%s); "
			                  "using the built-in table\n",
			        err.msg);
			np_err_clear(&err);
		} else {
			for (size_t i = 0; i < fresh.n; i++)
				np_catalog_add(out, &fresh.v[i]);
			if (ctx->state && np_state_catalog_store(ctx->state, &fresh, now, &err) < 0)
				np_log_warn("catalog cache: %s", err.msg);
		}
	}
	/* The built-in table is the floor for anything EC2 could not tell us. */
	np_catalog_builtin(&builtin);
	for (size_t i = 0; i < builtin.n; i++)
		if (!np_catalog_find(out, builtin.v[i].name))
			np_catalog_add(out, &builtin.v[i]);
	np_catalog_release(&builtin);
	np_catalog_release(&fresh);
	np_strv_release(&types);
	np_strv_release(&ask);
}
