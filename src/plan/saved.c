/* A saved plan acts only on what it may: every change is checked again, at
 * apply time, against the state and what EC2 reports now (as Terraform plans
 * each resource again before applying a saved plan). Pure: no I/O. */
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/plan.h"

static int by_address(const void *a, const void *b)
{
	return strcmp((*(const struct np_instance *const *)a)->address,
		      (*(const struct np_instance *const *)b)->address);
}

static int by_id(const void *a, const void *b)
{
	return strcmp((*(const struct np_instance *const *)a)->instance_id,
		      (*(const struct np_instance *const *)b)->instance_id);
}

/* Sorted pointers to the entries of v that have the key. */
static const struct np_instance **sorted(const struct np_instance *v, size_t n, bool id,
					 size_t *out_n)
{
	const struct np_instance **s = np_xmalloc((n ? n : 1) * sizeof(*s));
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (id ? v[i].instance_id != NULL : v[i].address != NULL)
			s[k++] = &v[i];
	qsort(s, k, sizeof(*s), id ? by_id : by_address);
	*out_n = k;
	return s;
}

static const struct np_instance *lookup(const struct np_instance **s, size_t n, const char *key,
					bool id)
{
	struct np_instance probe = { 0 };
	const struct np_instance *p = &probe, **hit;

	if (!key)
		return NULL;
	if (id)
		probe.instance_id = (char *)key;
	else
		probe.address = (char *)key;
	hit = bsearch(&p, s, n, sizeof(*s), id ? by_id : by_address);
	return hit ? *hit : NULL;
}

static bool alive(const struct np_instance *l)
{
	return l && l->state != NP_RUN_TERMINATED && l->state != NP_RUN_SHUTTING_DOWN;
}

static bool str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

/* The attributes the steps were planned from: NULL when EC2 still reports
 * them as the plan saw them. */
static const char *moved(const struct np_instance *before, const struct np_instance *now)
{
	if (!str_eq(before->instance_type, now->instance_type))
		return "instance_type";
	if (before->tenancy && now->tenancy && before->tenancy != now->tenancy)
		return "placement.tenancy";
	if (before->core_count && now->core_count && before->core_count != now->core_count)
		return "cpu_options.core_count";
	if ((before->nested_virtualization ? before->nested_virtualization : NP_NV_DISABLED) !=
	    (now->nested_virtualization ? now->nested_virtualization : NP_NV_DISABLED))
		return "cpu_options.nested_virtualization";
	if ((before->state == NP_RUN_STOPPED) != (now->state == NP_RUN_STOPPED))
		return "state";
	return NULL;
}

int np_plan_check_saved(const struct np_plan *plan, const struct np_config *config,
			const struct np_instance *recorded, size_t n_recorded,
			const struct np_instance *live, size_t n_live, const char *lineage,
			struct np_err *err)
{
	size_t n_ra, n_ri, n_li;
	const struct np_instance **rec_addr = sorted(recorded, n_recorded, false, &n_ra);
	const struct np_instance **rec_id = sorted(recorded, n_recorded, true, &n_ri);
	const struct np_instance **live_id = sorted(live, n_live, true, &n_li);
	int rc = -1;

	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *c = &plan->changes[i];
		const struct np_instance *rec = lookup(rec_addr, n_ra, c->address, false);
		const struct np_instance *now = lookup(live_id, n_li, c->instance_id, true);
		const struct np_instance *owner = lookup(rec_id, n_ri, c->instance_id, true);
		const struct np_desired *d = config ? np_config_find(config, c->address) : NULL;
		const char *what;

		/* Hosts are checked by apply against the state's host rows
		 * (src/apply/hosts.c): this check knows instances only. */
		if (c->action == NP_ACTION_NOOP || c->kind == NP_KIND_HOST)
			continue;
		if (c->action == NP_ACTION_CREATE) {
			if (rec && alive(lookup(live_id, n_li, rec->instance_id, true))) {
				np_error(
				    err,
				    "saved plan launches '%s', but the state already manages %s "
				    "there; run plan again",
				    c->address, rec->instance_id);
				goto cleanup;
			}
			continue;
		}
		if (!c->instance_id) {
			np_error(err, "saved plan changes '%s' without naming its instance",
				 c->address);
			goto cleanup;
		}
		/* Managed here under this address, adopted by the file, or launched
		 * by a killed apply of this state (tagged with its lineage). */
		if (!(rec && str_eq(rec->instance_id, c->instance_id)) &&
		    !(c->adopt && d && str_eq(d->want.instance_id, c->instance_id)) &&
		    !(c->adopt && now && lineage && str_eq(now->lineage, lineage) && !owner)) {
			np_error(
			    err,
			    "saved plan acts on %s as '%s', which this state does not manage%s%s; "
			    "refusing (run plan again)",
			    c->instance_id, c->address, owner ? ": the state has it as " : "",
			    owner ? owner->address : "");
			goto cleanup;
		}
		if (!alive(now)) {
			np_error(
			    err,
			    "saved plan acts on '%s' (%s), which EC2 no longer reports; run plan "
			    "again",
			    c->address, c->instance_id);
			goto cleanup;
		}
		if (c->has_before && (c->action == NP_ACTION_UPDATE) &&
		    (what = moved(&c->before, now))) {
			np_error(
			    err,
			    "saved plan no longer matches '%s' (%s): its %s changed since the plan "
			    "was made; run plan again",
			    c->address, c->instance_id, what);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	free(rec_addr);
	free(rec_id);
	free(live_id);
	return rc;
}
