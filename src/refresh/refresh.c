/* Refresh: what EC2 reports about the managed instances, in as few calls as
 * EC2 allows — one filtered listing by lineage tag (pages of 1,000) plus id
 * batches for instances that lost the tag or are to be adopted — and the
 * instance-type catalog for the types in use, cached in the state. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nestplan/alloc.h"
#include "nestplan/aws.h"
#include "nestplan/config.h"
#include "nestplan/ec2.h"
#include "nestplan/log.h"
#include "nestplan/refresh.h"
#include "nestplan/state.h"

static FILE *warn_of(const struct np_refresh_src *src) { return src->warn ? src->warn : stderr; }

#define CATALOG_TTL (24 * 3600)

static int cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool seen(char **sorted, size_t n, const char *id)
{
	return id && bsearch(&id, sorted, n, sizeof(*sorted), cmp_id) != NULL;
}

int np_refresh_check_region(struct np_aws *aws, struct np_state *state, struct np_err *err)
{
	const char *pinned = np_state_region(state), *region = np_aws_region(aws);
	const char *account = np_state_account(state);

	if (!pinned || !region || !strcmp(pinned, region))
		return 0;
	return np_error_cls(err, NP_ERRC_USAGE,
			    "state '%s' holds instances in region %s%s%s, but this run is against "
			    "region %s: refusing before any call (set the region to %s, or use "
			    "another -state)",
			    np_state_name(state), pinned, account ? ", account " : "",
			    account ? account : "", region, pinned);
}

int np_refresh_pin_location(struct np_aws *aws, struct np_state *state, struct np_err *err)
{
	struct np_instance *rec = NULL;
	struct np_host *hosts = NULL;
	const char *account = NULL;
	size_t n = 0, n_hosts = 0;
	int rc;

	if (!aws || np_state_list(state, &rec, &n, err) < 0)
		return -1;
	/* A state of hosts alone is pinned by them as one of instances is. */
	if (np_state_host_list(state, &hosts, &n_hosts, err) < 0) {
		np_instances_free(rec, n);
		return -1;
	}
	for (size_t i = 0; i < n && !account; i++)
		account = rec[i].owner_id;
	for (size_t i = 0; i < n_hosts && !account; i++)
		account = hosts[i].owner_id;
	rc = np_state_pin(state, n || n_hosts ? np_aws_region(aws) : NULL, account, err);
	np_instances_free(rec, n);
	np_hosts_free(hosts, n_hosts);
	return rc;
}

/* An answer from another account than the state's, or a listing in which
 * none of the recorded instances exists: the wrong region, account or
 * endpoint, never a fleet to launch again. */
static int check_location(const struct np_refresh_src *src, const struct np_instance *recorded,
			  size_t n_recorded, const struct np_instance *live, size_t n_live,
			  struct np_err *err)
{
	const char *account = np_state_account(src->state);
	size_t n_ids = 0, found = 0;
	char **ids;

	for (size_t i = 0; account && i < n_live; i++)
		if (live[i].owner_id && strcmp(live[i].owner_id, account))
			return np_error_cls(
			    err, NP_ERRC_USAGE,
			    "EC2 answered for account %s (instance %s), but state '%s' "
			    "belongs to account %s in region %s: refusing (wrong "
			    "credentials or profile?)",
			    live[i].owner_id, live[i].instance_id ? live[i].instance_id : "?",
			    np_state_name(src->state), account,
			    np_state_region(src->state) ? np_state_region(src->state) : "?");
	ids = np_xmalloc((n_live ? n_live : 1) * sizeof(*ids));
	for (size_t i = 0; i < n_live; i++)
		if (live[i].instance_id)
			ids[n_ids++] = live[i].instance_id;
	qsort(ids, n_ids, sizeof(*ids), cmp_id);
	n_live = 0;
	for (size_t i = 0; i < n_recorded; i++) {
		if (!recorded[i].instance_id)
			continue;
		n_live++;
		found += seen(ids, n_ids, recorded[i].instance_id);
	}
	free(ids);
	if (n_live && !found)
		return np_error_cls(
		    err, NP_ERRC_USAGE,
		    "none of the %zu recorded instances exist in %s for this account: "
		    "wrong region, account or endpoint? (if they were all terminated "
		    "outside nestplan, remove them with 'nestplan state rm')",
		    n_live, np_aws_region(src->aws));
	return 0;
}

/* NESTPLAN_REFRESH_STREAMS overrides the choice (1 forces one listing). */
static int refresh_streams(size_t n_recorded)
{
	const char *v = getenv("NESTPLAN_REFRESH_STREAMS");
	int k = v ? atoi(v) : 0;

	return k == 1 || k == 2 || k == 4 || k == 8 || k == 16 ? k
							       : np_ec2_refresh_streams(n_recorded);
}

/* root_volume (issue 14): whether any instance of the file or the state
 * manages its root volume (delete_on_termination comes with the instance). */
static bool wants_root_volumes(const struct np_refresh_src *src, const struct np_instance *recorded,
			       size_t n_recorded)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];

		if (strncmp(a->name, "root_volume.", 12) ||
		    a->offset == offsetof(struct np_instance, root_delete_on_termination))
			continue;
		for (size_t k = 0; src->config && k < src->config->n_instances; k++)
			if (np_attr_is_set(a, &src->config->instances[k].want))
				return true;
		for (size_t k = 0; k < n_recorded; k++)
			if (np_attr_is_set(a, &recorded[k]))
				return true;
	}
	return false;
}

int np_refresh_live(const struct np_refresh_src *src, const struct np_instance *recorded,
		    size_t n_recorded, struct np_instance **out, size_t *n_out, struct np_err *err)
{
	const char *lineage = np_state_lineage(src->state);
	struct np_instance *live = NULL, *more = NULL;
	size_t n_live = 0, n_more = 0, n_ids = 0;
	const char **missing = NULL;
	char **have = NULL;
	int rc = -1;

	*out = NULL;
	*n_out = 0;
	if (np_ec2_describe_lineage(src->aws, lineage, refresh_streams(n_recorded), &live, &n_live,
				    err) < 0)
		goto cleanup;

	/* Recorded or adopted instances the listing did not show: ask by id. */
	have = np_xmalloc((n_live ? n_live : 1) * sizeof(*have));
	for (size_t i = 0; i < n_live; i++)
		have[i] = live[i].instance_id;
	qsort(have, n_live, sizeof(*have), cmp_id);
	missing = np_xmalloc((n_recorded + (src->config ? src->config->n_instances : 0) + 1) *
			     sizeof(*missing));
	for (size_t i = 0; i < n_recorded; i++)
		if (recorded[i].instance_id && !seen(have, n_live, recorded[i].instance_id))
			missing[n_ids++] = recorded[i].instance_id;
	for (size_t i = 0; src->config && i < src->config->n_instances; i++) {
		const char *id = src->config->instances[i].want.instance_id;

		if (id && !seen(have, n_live, id))
			missing[n_ids++] = id;
	}
	if (n_ids &&
	    np_ec2_describe_instances_by_id(src->aws, missing, n_ids, &more, &n_more, err) < 0)
		goto cleanup;
	if (n_more) {
		live = np_xrealloc(live, (n_live + n_more) * sizeof(*live));
		memcpy(live + n_live, more, n_more * sizeof(*more));
		n_live += n_more;
		free(more);
		more = NULL;
		n_more = 0;
	}
	if (check_location(src, recorded, n_recorded, live, n_live, err) < 0)
		goto cleanup;
	/* Batched DescribeVolumes, only where a file or the state knows root volumes. */
	if (wants_root_volumes(src, recorded, n_recorded) &&
	    np_ec2_read_root_volumes(src->aws, live, n_live, err) < 0)
		goto cleanup;
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

static int cmp_inst_id(const void *a, const void *b)
{
	const struct np_instance *x = *(const struct np_instance *const *)a;
	const struct np_instance *y = *(const struct np_instance *const *)b;

	return strcmp(x->instance_id, y->instance_id);
}

static int cmp_inst_addr(const void *a, const void *b)
{
	const struct np_instance *x = *(const struct np_instance *const *)a;
	const struct np_instance *y = *(const struct np_instance *const *)b;

	return strcmp(x->address, y->address);
}

static struct np_instance *by_id(struct np_instance **v, size_t n, const char *id)
{
	struct np_instance key = { .instance_id = (char *)id }, *k = &key, **hit;

	if (!id)
		return NULL;
	hit = bsearch(&k, v, n, sizeof(*v), cmp_inst_id);
	return hit ? *hit : NULL;
}

/* One DescribeInstanceAttribute; a failure is a warning (what was recorded
 * stands) unless it is the kind that ends the run. */
static int read_one(const struct np_refresh_src *src, struct np_instance *l,
		    const struct np_attr_def *a, size_t *n_read, struct np_err *err)
{
	struct np_err e = NP_ERR_INIT;
	char *v = NULL;

	if (np_ec2_describe_instance_attribute(src->aws, l->instance_id, a->describe_attribute, &v,
					       &e) < 0) {
		if (e.cls == NP_ERRC_INTERRUPTED) {
			if (err)
				*err = e;
			return -1;
		}
		fprintf(warn_of(src),
			"Warning: cannot read %s of %s (%s); using the recorded value\n", a->name,
			l->instance_id, e.msg);
		np_err_clear(&e);
		return 0;
	}
	if (v && np_attr_set_text(a, l, v) == 0)
		(*n_read)++;
	free(v);
	return 0;
}

/* Whether the change needs the flag: a termination is refused with either,
 * a stop with stop protection; a change of the flag itself. */
static bool needs(const struct np_change *ch, const struct np_attr_def *a)
{
	bool stop = !strcmp(a->name, "disable_api_stop");

	for (size_t i = 0; i < ch->n_steps; i++)
		if (ch->steps[i].kind == NP_STEP_TERMINATE ||
		    (stop && ch->steps[i].kind == NP_STEP_STOP))
			return true;
	for (size_t i = 0; i < ch->n_attrs; i++)
		if (!strcmp(ch->attrs[i].name, a->name))
			return true;
	return false;
}

int np_refresh_read_described(const struct np_refresh_src *src, const struct np_plan *plan,
			      const struct np_instance *recorded, size_t n_recorded,
			      struct np_instance *live, size_t n_live, size_t *n_read,
			      struct np_err *err)
{
	struct np_instance **ids = np_xmalloc((n_live ? n_live : 1) * sizeof(*ids));
	const struct np_instance **addrs =
	    np_xmalloc((n_recorded ? n_recorded : 1) * sizeof(*addrs));
	size_t n_ids = 0, n_addrs = 0;
	int rc = -1;

	*n_read = 0;
	for (size_t i = 0; i < n_live; i++)
		if (live[i].instance_id && live[i].state != NP_RUN_TERMINATED &&
		    live[i].state != NP_RUN_SHUTTING_DOWN)
			ids[n_ids++] = &live[i];
	qsort(ids, n_ids, sizeof(*ids), cmp_inst_id);
	for (size_t i = 0; i < n_recorded; i++)
		if (recorded[i].address)
			addrs[n_addrs++] = &recorded[i];
	qsort(addrs, n_addrs, sizeof(*addrs), cmp_inst_addr);

	if (!plan) {
		for (size_t i = 0; i < n_recorded; i++) {
			struct np_instance *l = by_id(ids, n_ids, recorded[i].instance_id);

			for (size_t k = 0; l && k < np_n_attrs; k++)
				if (np_attrs[k].describe_attribute &&
				    read_one(src, l, &np_attrs[k], n_read, err) < 0)
					goto cleanup;
		}
		rc = 0;
		goto cleanup;
	}
	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *ch = &plan->changes[i];
		const struct np_desired *d;
		const struct np_instance key = { .address = ch->address }, *k = &key, **rec;
		struct np_instance *l;

		if (ch->action == NP_ACTION_NOOP || ch->action == NP_ACTION_CREATE || !ch->address)
			continue;
		l = by_id(ids, n_ids, ch->instance_id);
		if (!l)
			continue;
		d = src->config ? np_config_find(src->config, ch->address) : NULL;
		rec = bsearch(&k, addrs, n_addrs, sizeof(*addrs), cmp_inst_addr);
		for (size_t a = 0; a < np_n_attrs; a++) {
			const struct np_attr_def *at = &np_attrs[a];

			if (!at->describe_attribute || np_attr_is_set(at, l) || !needs(ch, at) ||
			    !((d && np_attr_is_set(at, &d->want)) ||
			      (rec && np_attr_is_set(at, *rec))))
				continue;
			if (read_one(src, l, at, n_read, err) < 0)
				goto cleanup;
		}
	}
	rc = 0;
cleanup:
	free(ids);
	free(addrs);
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
		struct np_itype t = { .name = ask->v[i], .unknown = true };

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

void np_refresh_catalog(const struct np_refresh_src *src, const struct np_instance *recorded,
			size_t n_recorded, bool online, struct np_catalog *out)
{
	struct np_catalog fresh = NP_CATALOG_INIT, builtin = NP_CATALOG_INIT;
	struct np_strv types = NP_STRV_INIT;
	struct np_strv ask = NP_STRV_INIT;
	struct np_err err = NP_ERR_INIT;
	long long now = (long long)time(NULL);

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; src->config && i < src->config->n_instances; i++)
		add_type(&types, src->config->instances[i].want.instance_type);
	for (size_t i = 0; i < n_recorded; i++)
		add_type(&types, recorded[i].instance_type);

	if (src->state && np_state_catalog_load(src->state, out, now, CATALOG_TTL, &err) < 0) {
		np_log_warn("catalog cache: %s", err.msg);
		np_err_clear(&err);
	}
	for (size_t i = 0; i < types.n; i++)
		if (!np_catalog_find(out, types.v[i]))
			np_strv_push(&ask, types.v[i]);
	if (ask.n && online && src->aws) {
		int r = np_ec2_describe_instance_types(src->aws, (const char *const *)ask.v, ask.n,
						       &fresh, &err);

		if (r < 0 && drop_unknown(&err, &ask, out)) {
			np_err_clear(&err);
			r = ask.n ? np_ec2_describe_instance_types(
					src->aws, (const char *const *)ask.v, ask.n, &fresh, &err)
				  : 0;
		}
		if (r < 0) {
			fprintf(warn_of(src),
				"Warning: cannot read the instance-type catalog from EC2 (%s); "
				"using the built-in table\n",
				err.msg);
			np_err_clear(&err);
		} else {
			for (size_t i = 0; i < fresh.n; i++)
				np_catalog_add(out, &fresh.v[i]);
			if (src->state && np_state_catalog_store(src->state, &fresh, now, &err) < 0)
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
