/* Dedicated Hosts in the planner (issue 18): host changes (allocate, modify,
 * replace, release) and drift, the placement of instances onto the hosts
 * their placement.host names (for each instance in address order the host
 * with the most free slots for its type, ties to the lower index), and the
 * checks that need the whole plan: capacity, and no release under an
 * instance that stays. Pure, as the rest of the planner. */
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "plan/internal.h"

/* One host placement can draw from: a host of the file. */
struct slot {
	const struct np_desired_host *d;
	const struct np_host *live; /* the host that stays; NULL: allocated by the plan */
	int taken_cores;            /* by the plan's placements */
	int used_cores;             /* live unmeasured (-refresh=false): by the instances on it */
};

/* Demand on one (placement.host, type), for the capacity diagnostic. */
struct demand {
	const char *target, *itype, *first_missing;
	int hold, wanted, placed;
};

struct np_host_plan {
	const struct np_plan_input *in;
	struct slot *slots;
	size_t n_slots;
	struct np_host_pick *picks; /* by index in config->instances */
	bool *picked;
	struct demand *demands;
	size_t n_demands, alloc_demands;
	/* Hosts the plan releases (deleted or replaced), for the end check. */
	const struct np_host **releasing;
	const char **releasing_addr;
	size_t n_releasing;
};

static bool host_gone(const struct np_host *h)
{
	return !h || h->state == NP_HOST_RELEASED || h->state == NP_HOST_RELEASED_PERMANENT_FAILURE;
}

static const struct np_host *live_by_id(const struct np_plan_input *in, const char *id)
{
	for (size_t i = 0; id && i < in->n_live_hosts; i++)
		if (in->live_hosts[i].host_id && !strcmp(in->live_hosts[i].host_id, id))
			return &in->live_hosts[i];
	return NULL;
}

static const struct np_host *recorded_at(const struct np_plan_input *in, const char *address)
{
	for (size_t i = 0; i < in->n_recorded_hosts; i++)
		if (in->recorded_hosts[i].address &&
		    !strcmp(in->recorded_hosts[i].address, address))
			return &in->recorded_hosts[i];
	return NULL;
}

static void group_of(const char *address, char *out, size_t size)
{
	const char *open = strchr(address, '[');
	size_t n = open ? (size_t)(open - address) : strlen(address);

	if (n >= size)
		n = size - 1;
	memcpy(out, address, n);
	out[n] = '\0';
}

static const char *on_off(enum np_bool b)
{
	return b == NP_BOOL_TRUE ? "true" : b == NP_BOOL_FALSE ? "false" : NULL;
}

static void host_drift(struct np_plan *plan, const struct np_host *rec, const struct np_host *l)
{
	struct {
		const char *name;
		enum np_bool was, now;
	} flags[] = { { "auto_placement", rec->auto_placement, l->auto_placement },
		      { "host_recovery", rec->host_recovery, l->host_recovery } };

	for (size_t i = 0; i < 2; i++)
		if (flags[i].was && flags[i].now && flags[i].was != flags[i].now) {
			np_plan_drift_add(plan, rec->address, rec->host_id, flags[i].name,
					  on_off(flags[i].was), on_off(flags[i].now));
			plan->drift[plan->n_drift - 1].kind = NP_KIND_HOST;
		}
	for (int side = 0; side < 2; side++) {
		const struct np_tags *a = side ? &l->tags : &rec->tags,
				     *b = side ? &rec->tags : &l->tags;

		for (size_t i = 0; i < a->n; i++) {
			const char *other = np_tags_get(b, a->v[i].key);
			char *attr;

			if ((other && !strcmp(other, a->v[i].value)) || (side && other))
				continue;
			attr = np_xasprintf("tags.%s", a->v[i].key);
			np_plan_drift_add(plan, rec->address, rec->host_id, attr,
					  side ? NULL : a->v[i].value,
					  side ? a->v[i].value : other);
			plan->drift[plan->n_drift - 1].kind = NP_KIND_HOST;
			free(attr);
		}
	}
}

static void attr_change(struct np_change *ch, const char *name, const char *before,
			const char *after)
{
	struct np_attr_change *a;

	NP_ALLOC_GROW(ch->attrs, ch->n_attrs + 1, ch->alloc_attrs);
	a = &ch->attrs[ch->n_attrs++];
	a->name = np_xstrdup(name);
	a->before = np_xstrdup(before);
	a->after = np_xstrdup(after);
	a->policy = NP_POLICY_LIVE;
}

/* Why the host must be replaced: what AllocateHosts fixed. NULL: in place. */
static char *host_replace_reason(const struct np_host *w, const struct np_host *cur)
{
	const char *was_kind = cur->instance_type ? cur->instance_type : cur->instance_family;

	if (w->instance_family && (cur->instance_type || !cur->instance_family ||
				   strcmp(w->instance_family, cur->instance_family)))
		return np_xasprintf("instance_family (%s → %s)", was_kind ? was_kind : "?",
				    w->instance_family);
	if (w->instance_type &&
	    (!cur->instance_type || strcmp(w->instance_type, cur->instance_type)))
		return np_xasprintf("instance_type (%s → %s)", was_kind ? was_kind : "?",
				    w->instance_type);
	if (w->availability_zone &&
	    (!cur->availability_zone || strcmp(w->availability_zone, cur->availability_zone)))
		return np_xasprintf("availability_zone (%s → %s)",
				    cur->availability_zone ? cur->availability_zone : "?",
				    w->availability_zone);
	return NULL;
}

/* In place: ModifyHosts for the two flags, tags as on instances. */
static void host_update(struct np_change *ch, const struct np_host *w, const struct np_host *cur)
{
	struct np_tags add = NP_TAGS_INIT, del = NP_TAGS_INIT;
	bool ap = w->auto_placement && w->auto_placement != cur->auto_placement;
	bool hr = w->host_recovery && w->host_recovery != cur->host_recovery;

	if (ap || hr) {
		struct np_step *s = np_change_add_step(ch, NP_STEP_MODIFY_HOSTS);

		s->auto_placement = ap ? w->auto_placement : NP_BOOL_UNSET;
		s->host_recovery = hr ? w->host_recovery : NP_BOOL_UNSET;
		if (ap)
			attr_change(ch, "auto_placement", on_off(cur->auto_placement),
				    on_off(w->auto_placement));
		if (hr)
			attr_change(ch, "host_recovery", on_off(cur->host_recovery),
				    on_off(w->host_recovery));
	}
	if (!w->tags_set)
		return;
	for (size_t i = 0; i < w->tags.n; i++) {
		const char *have = np_tags_get(&cur->tags, w->tags.v[i].key);
		char *name;

		if (have && !strcmp(have, w->tags.v[i].value))
			continue;
		np_tags_set(&add, w->tags.v[i].key, w->tags.v[i].value);
		name = np_xasprintf("tags.%s", w->tags.v[i].key);
		attr_change(ch, name, have, w->tags.v[i].value);
		free(name);
	}
	for (size_t i = 0; i < cur->tags.n; i++) {
		char *name;

		if (np_tags_get(&w->tags, cur->tags.v[i].key))
			continue;
		np_tags_set(&del, cur->tags.v[i].key, "");
		name = np_xasprintf("tags.%s", cur->tags.v[i].key);
		attr_change(ch, name, cur->tags.v[i].value, NULL);
		free(name);
	}
	np_plan_tag_steps(ch, &add, &del);
}

/* What will exist: cur (NULL: a new host) with everything the file sets. */
static void host_after(struct np_host *after, const struct np_host *w, const struct np_host *cur)
{
	if (cur) {
		np_host_copy(after, cur);
	} else {
		memset(after, 0, sizeof(*after));
		after->instance_family = np_xstrdup(w->instance_family);
		after->instance_type = np_xstrdup(w->instance_type);
		after->availability_zone = np_xstrdup(w->availability_zone);
	}
	free(after->address);
	after->address = np_xstrdup(w->address);
	if (w->auto_placement)
		after->auto_placement = w->auto_placement;
	if (w->host_recovery)
		after->host_recovery = w->host_recovery;
	if (w->tags_set) {
		np_tags_release(&after->tags);
		np_tags_copy(&after->tags, &w->tags);
		after->tags_set = true;
	}
	/* Capacity and occupants are EC2's to report again. */
	for (size_t i = 0; i < after->n_capacity; i++)
		free(after->capacity[i].instance_type);
	free(after->capacity);
	after->capacity = NULL;
	after->n_capacity = 0;
	np_strv_release(&after->instance_ids);
}

static void note_release(struct np_host_plan *hp, const struct np_host *live, const char *address)
{
	hp->releasing = np_xrealloc(hp->releasing, (hp->n_releasing + 1) * sizeof(*hp->releasing));
	hp->releasing_addr =
	    np_xrealloc(hp->releasing_addr, (hp->n_releasing + 1) * sizeof(*hp->releasing_addr));
	hp->releasing[hp->n_releasing] = live;
	hp->releasing_addr[hp->n_releasing++] = address;
}

/* -target: a host is in the plan when targeted, or when a targeted instance
 * is placed on its group or on it (a dependency, as Terraform's). */
static bool host_in_scope(const struct np_plan_input *in, const struct np_desired_host *d)
{
	if (np_plan_targeted(in, d->want.address))
		return true;
	for (size_t i = 0; in->config && i < in->config->n_instances; i++) {
		const struct np_desired *x = &in->config->instances[i];

		if (x->want.host_address &&
		    (!strcmp(x->want.host_address, d->name) ||
		     !strcmp(x->want.host_address, d->want.address)) &&
		    np_plan_targeted(in, x->want.address))
			return true;
	}
	return false;
}

/* A host as the state recorded it, never described (-refresh=false): its
 * row keeps no capacity. */
static bool unmeasured(const struct np_host *h)
{
	return h->host_id && !h->n_capacity && !h->total_vcpus && !h->cores;
}

static bool holds_capacity(enum np_run_state st)
{
	return st == NP_RUN_PENDING || st == NP_RUN_RUNNING || st == NP_RUN_STOPPING ||
	       st == NP_RUN_SHUTTING_DOWN;
}

/* The cores the instances the inputs show on the host take (counted once,
 * not per placement). */
static int cores_on(const struct np_host *h, const struct np_plan_input *in)
{
	int used = 0, c;

	for (size_t i = 0; i < in->n_live; i++) {
		const struct np_instance *x = &in->live[i];

		if (x->host_id && !strcmp(x->host_id, h->host_id) && holds_capacity(x->state) &&
		    x->instance_type && (c = np_host_type_cores(in->catalog, x->instance_type)) > 0)
			used += c;
	}
	return used;
}

/* An unmeasured host's free slots for itype, estimated as for a host not
 * yet allocated less the cores used on it: with no answer from EC2, an
 * empty-looking host must not read as a full one. */
static int estimated_free(const struct slot *s, const struct np_catalog *cat, const char *itype)
{
	struct np_host empty = *s->live;
	int cores = np_host_type_cores(cat, itype), base;

	empty.host_id = NULL;
	base = np_host_free_slots(&empty, cat, itype);
	if (base < 0 || cores <= 0)
		return base;
	return base * cores > s->used_cores ? (base * cores - s->used_cores) / cores : 0;
}

static void plan_host(struct np_host_plan *hp, struct np_plan *plan,
		      const struct np_desired_host *d, struct slot *slot)
{
	const struct np_plan_input *in = hp->in;
	const struct np_host *w = &d->want, *rec = recorded_at(in, w->address);
	const struct np_host *live = rec ? live_by_id(in, rec->host_id) : NULL;
	struct np_change *ch;
	char *why;

	if (host_gone(live))
		live = NULL;
	slot->d = d;
	slot->live = live;
	if (live && unmeasured(live))
		slot->used_cores = cores_on(live, in);
	if (!host_in_scope(in, d))
		return;
	ch = np_plan_add_change(plan, NP_KIND_HOST, w->address, d->name);
	ch->has_after = true;
	if (!live) {
		ch->action = NP_ACTION_CREATE;
		host_after(&ch->host_after, w, NULL);
		np_change_add_step(ch, NP_STEP_ALLOCATE_HOSTS);
		return;
	}
	ch->host_id = np_xstrdup(live->host_id);
	ch->has_before = true;
	np_host_copy(&ch->host_before, live);
	free(ch->host_before.address);
	ch->host_before.address = np_xstrdup(w->address);
	if ((why = host_replace_reason(w, live))) {
		ch->action = NP_ACTION_REPLACE;
		ch->replace_reason = why;
		if (d->prevent_destroy)
			np_plan_diag(
			    plan, NP_SEV_ERROR, w->address,
			    "must be replaced because of %s, but lifecycle.prevent_destroy is set",
			    why);
		host_after(&ch->host_after, w, NULL);
		/* The new host first, the old one released after the instances. */
		np_change_add_step(ch, NP_STEP_ALLOCATE_HOSTS);
		np_change_add_step(ch, NP_STEP_RELEASE_HOSTS);
		note_release(hp, live, w->address);
		slot->live = NULL;
		return;
	}
	host_after(&ch->host_after, w, live);
	host_update(ch, w, live);
	ch->action = ch->n_steps ? NP_ACTION_UPDATE : NP_ACTION_NOOP;
}

static void plan_host_delete(struct np_host_plan *hp, struct np_plan *plan,
			     const struct np_host *rec, bool prevent)
{
	const struct np_host *live = live_by_id(hp->in, rec->host_id);
	struct np_change *ch;
	char group[256];

	if (!np_plan_targeted(hp->in, rec->address))
		return;
	if (prevent) {
		np_plan_diag(plan, NP_SEV_ERROR, rec->address,
			     "cannot destroy: lifecycle.prevent_destroy is set");
		return;
	}
	group_of(rec->address, group, sizeof(group));
	ch = np_plan_add_change(plan, NP_KIND_HOST, rec->address, group);
	ch->action = NP_ACTION_DELETE;
	ch->host_id = np_xstrdup(rec->host_id);
	ch->has_before = true;
	np_host_copy(&ch->host_before, !host_gone(live) ? live : rec);
	free(ch->host_before.address);
	ch->host_before.address = np_xstrdup(rec->address);
	/* Already released: only the state row goes. */
	if (!host_gone(live)) {
		np_change_add_step(ch, NP_STEP_RELEASE_HOSTS);
		note_release(hp, live, rec->address);
	}
}

struct np_host_plan *np_plan_hosts_begin(struct np_plan *plan, const struct np_plan_input *in)
{
	const struct np_config *cfg = in->config;
	struct np_host_plan *hp = np_xcalloc(1, sizeof(*hp));

	hp->in = in;
	/* Drift first: what changed outside nestplan since it recorded. */
	for (size_t i = 0; i < in->n_recorded_hosts; i++) {
		const struct np_host *rec = &in->recorded_hosts[i];
		const struct np_host *l = live_by_id(in, rec->host_id);

		if (!rec->address || !np_plan_targeted(in, rec->address))
			continue;
		if (host_gone(l)) {
			np_plan_drift_add(plan, rec->address, rec->host_id, "host", "exists",
					  l ? np_host_state_name(l->state) : "not found");
			plan->drift[plan->n_drift - 1].kind = NP_KIND_HOST;
		} else {
			host_drift(plan, rec, l);
		}
	}
	if (in->refresh_only) {
		for (size_t i = 0; i < in->n_recorded_hosts; i++) {
			const struct np_host *rec = &in->recorded_hosts[i];
			const struct np_host *l = live_by_id(in, rec->host_id);
			char group[256];
			struct np_change *ch;

			if (!rec->address || !np_plan_targeted(in, rec->address))
				continue;
			group_of(rec->address, group, sizeof(group));
			ch = np_plan_add_change(plan, NP_KIND_HOST, rec->address, group);
			ch->host_id = np_xstrdup(rec->host_id);
			ch->has_before = true;
			np_host_copy(&ch->host_before, rec);
			if (!host_gone(l)) {
				ch->has_after = true;
				np_host_copy(&ch->host_after, l);
				free(ch->host_after.address);
				ch->host_after.address = np_xstrdup(rec->address);
			}
		}
		return hp;
	}
	if (cfg && !in->destroy && cfg->n_hosts) {
		hp->slots = np_xcalloc(cfg->n_hosts, sizeof(*hp->slots));
		for (size_t i = 0; i < cfg->n_hosts; i++)
			plan_host(hp, plan, &cfg->hosts[i], &hp->slots[hp->n_slots++]);
	}
	for (size_t i = 0; i < in->n_recorded_hosts; i++) {
		const struct np_host *rec = &in->recorded_hosts[i];
		const struct np_desired_host *d =
		    cfg ? np_config_find_host(cfg, rec->address) : NULL;

		if (!rec->address)
			continue;
		if (in->destroy)
			plan_host_delete(hp, plan, rec, d && d->prevent_destroy);
		else if (!d)
			plan_host_delete(hp, plan, rec, false);
	}
	return hp;
}

static bool slot_matches(const struct slot *s, const char *target)
{
	return !strcmp(s->d->name, target) || !strcmp(s->d->want.address, target);
}

/* Free slots for itype once the plan's placements so far are counted; -1:
 * the host cannot run it. */
static int slot_free(const struct slot *s, const struct np_catalog *cat, const char *itype)
{
	int base = np_host_free_slots(s->live ? s->live : &s->d->want, cat, itype);
	int cores = np_host_type_cores(cat, itype);

	if (base >= 0 && s->live && unmeasured(s->live))
		base = estimated_free(s, cat, itype);
	if (base < 0)
		return -1;
	if (cores <= 0)
		return base;
	return base * cores > s->taken_cores ? (base * cores - s->taken_cores) / cores : 0;
}

static struct demand *demand_of(struct np_host_plan *hp, const char *target, const char *itype)
{
	struct demand *dm;

	for (size_t i = 0; i < hp->n_demands; i++)
		if (!strcmp(hp->demands[i].target, target) && !strcmp(hp->demands[i].itype, itype))
			return &hp->demands[i];
	NP_ALLOC_GROW(hp->demands, hp->n_demands + 1, hp->alloc_demands);
	dm = &hp->demands[hp->n_demands++];
	memset(dm, 0, sizeof(*dm));
	dm->target = target;
	dm->itype = itype;
	for (size_t i = 0; i < hp->n_slots; i++) {
		int f = slot_matches(&hp->slots[i], target)
			    ? slot_free(&hp->slots[i], hp->in->catalog, itype)
			    : -1;

		dm->hold += f > 0 ? f : 0;
	}
	return dm;
}

static void place_one(struct np_host_plan *hp, size_t idx, const struct np_desired *d,
		      const struct np_instance *cur)
{
	const struct np_catalog *cat = hp->in->catalog;
	const char *target = d->want.host_address;
	const char *itype = d->want.instance_type ? d->want.instance_type
			    : cur                 ? cur->instance_type
						  : NULL;
	struct np_host_pick *pk = &hp->picks[idx];
	struct demand *dm;
	struct slot *best = NULL;
	int best_free = 0;

	/* Already on one of the hosts it names: it stays (EC2 counts it). */
	for (size_t i = 0; cur && cur->host_id && i < hp->n_slots; i++) {
		struct slot *s = &hp->slots[i];

		if (slot_matches(s, target) && s->live && s->live->host_id &&
		    !strcmp(s->live->host_id, cur->host_id)) {
			pk->address = s->d->want.address;
			pk->host_id = s->live->host_id;
			hp->picked[idx] = true;
			return;
		}
	}
	if (!itype)
		return;
	dm = demand_of(hp, target, itype);
	dm->wanted++;
	for (size_t i = 0; i < hp->n_slots; i++) {
		struct slot *s = &hp->slots[i];
		int f;

		if (!slot_matches(s, target) ||
		    (d->want.availability_zone && s->d->want.availability_zone &&
		     strcmp(d->want.availability_zone, s->d->want.availability_zone)))
			continue;
		f = slot_free(s, cat, itype);
		if (f > best_free) {
			best = s;
			best_free = f;
		}
	}
	if (!best) {
		if (!dm->first_missing)
			dm->first_missing = d->want.address;
		return;
	}
	dm->placed++;
	best->taken_cores +=
	    np_host_type_cores(cat, itype) > 0 ? np_host_type_cores(cat, itype) : 1;
	pk->address = best->d->want.address;
	pk->host_id = best->live ? best->live->host_id : NULL;
	pk->move = cur != NULL;
	hp->picked[idx] = true;
}

/* A host that EC2 would auto-place an untargeted host-tenancy launch on. */
static bool auto_room(const struct np_host_plan *hp, const struct np_desired *d, const char *itype)
{
	const struct np_plan_input *in = hp->in;

	for (size_t i = 0; i < in->n_live_hosts; i++) {
		const struct np_host *h = &in->live_hosts[i];

		if (!host_gone(h) && h->auto_placement == NP_BOOL_TRUE &&
		    (!d->want.availability_zone || !h->availability_zone ||
		     !strcmp(d->want.availability_zone, h->availability_zone)) &&
		    np_host_free_slots(h, in->catalog, itype) > 0)
			return true;
	}
	for (size_t i = 0; i < hp->n_slots; i++) {
		const struct slot *s = &hp->slots[i];

		if (!s->live && s->d->want.auto_placement == NP_BOOL_TRUE &&
		    slot_free(s, in->catalog, itype) > 0)
			return true;
	}
	return false;
}

static int cmp_desired(const void *a, const void *b)
{
	return np_address_cmp((*(const struct np_desired *const *)a)->want.address,
			      (*(const struct np_desired *const *)b)->want.address);
}

void np_plan_hosts_place(struct np_host_plan *hp, struct np_plan *plan,
			 const struct np_instance *(*current)(void *arg,
							      const struct np_desired *d),
			 void *arg)
{
	const struct np_config *cfg = hp->in->config;
	const struct np_desired **order;

	if (!cfg || !cfg->n_instances || hp->in->destroy || hp->in->refresh_only)
		return;
	hp->picks = np_xcalloc(cfg->n_instances, sizeof(*hp->picks));
	hp->picked = np_xcalloc(cfg->n_instances, sizeof(*hp->picked));
	order = np_xmalloc(cfg->n_instances * sizeof(*order));
	for (size_t i = 0; i < cfg->n_instances; i++)
		order[i] = &cfg->instances[i];
	qsort(order, cfg->n_instances, sizeof(*order), cmp_desired);
	for (size_t i = 0; i < cfg->n_instances; i++) {
		const struct np_desired *d = order[i];
		const struct np_instance *cur = current(arg, d);
		const char *itype = d->want.instance_type ? d->want.instance_type
				    : cur                 ? cur->instance_type
							  : NULL;

		if (d->want.host_address) {
			place_one(hp, (size_t)(d - cfg->instances), d, cur);
		} else if (d->want.tenancy == NP_TENANCY_HOST && !d->want.host_id && itype &&
			   (!cur || cur->tenancy != NP_TENANCY_HOST) && !auto_room(hp, d, itype)) {
			np_plan_diag_key(
			    plan, NP_SEV_WARNING, d->want.address, NP_KEY_TENANCY,
			    "tenancy host without placement.host or host_id: EC2 places it on "
			    "a Dedicated Host with auto_placement on, and the plan sees none "
			    "with room for one %s; add one under hosts: (auto_placement: true) or "
			    "set placement.host",
			    itype);
		}
	}
	free(order);
}

const struct np_host_pick *np_plan_hosts_pick(const struct np_host_plan *hp,
					      const struct np_desired *d)
{
	const struct np_config *cfg = hp ? hp->in->config : NULL;
	size_t idx;

	if (!cfg || !hp->picks || d < cfg->instances || d >= cfg->instances + cfg->n_instances)
		return NULL;
	idx = (size_t)(d - cfg->instances);
	return hp->picked[idx] ? &hp->picks[idx] : NULL;
}

/* Does the plan take instance id off the host old_id (terminate it, or
 * move it: onto another host, or onto the new host of a replaced one)? */
static bool leaves(const struct np_plan *plan, const char *id, const char *old_id)
{
	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *ch = &plan->changes[i];

		if (ch->kind != NP_KIND_INSTANCE || !ch->instance_id || strcmp(ch->instance_id, id))
			continue;
		if (ch->action == NP_ACTION_DELETE || ch->action == NP_ACTION_REPLACE)
			return true;
		for (size_t k = 0; k < ch->n_steps; k++)
			if (ch->steps[k].kind == NP_STEP_MODIFY_PLACEMENT &&
			    (!ch->steps[k].host_id || !old_id ||
			     strcmp(ch->steps[k].host_id, old_id)))
				return true;
		return false;
	}
	return false;
}

static const char *address_of(const struct np_plan *plan, const struct np_plan_input *in,
			      const char *id)
{
	for (size_t i = 0; i < plan->n_changes; i++)
		if (plan->changes[i].instance_id && !strcmp(plan->changes[i].instance_id, id))
			return plan->changes[i].address;
	for (size_t i = 0; i < in->n_recorded; i++)
		if (in->recorded[i].instance_id && !strcmp(in->recorded[i].instance_id, id))
			return in->recorded[i].address;
	return NULL;
}

void np_plan_hosts_end(struct np_host_plan *hp, struct np_plan *plan)
{
	if (!hp)
		return;
	for (size_t r = 0; r < hp->n_releasing; r++) {
		const struct np_host *h = hp->releasing[r];

		for (size_t i = 0; i < h->instance_ids.n; i++) {
			const char *id = h->instance_ids.v[i], *addr;

			if (leaves(plan, id, h->host_id))
				continue;
			addr = address_of(plan, hp->in, id);
			np_plan_diag(
			    plan, NP_SEV_ERROR, hp->releasing_addr[r],
			    "host %s would be released with instance %s%s%s%s on it, which "
			    "the plan neither destroys nor moves; destroy or move the "
			    "instance in the same plan",
			    h->host_id ? h->host_id : "?", addr ? addr : id, addr ? " (" : "",
			    addr ? id : "", addr ? ")" : "");
		}
	}
	for (size_t i = 0; i < hp->n_demands; i++) {
		const struct demand *dm = &hp->demands[i];

		if (dm->placed < dm->wanted)
			np_plan_diag(plan, NP_SEV_ERROR, dm->first_missing,
				     "capacity: hosts '%s' hold %d more %s, the plan places %d (%d "
				     "missing)",
				     dm->target, dm->hold, dm->itype, dm->wanted,
				     dm->wanted - dm->placed);
	}
	free(hp->slots);
	free(hp->picks);
	free(hp->picked);
	free(hp->demands);
	free(hp->releasing);
	free(hp->releasing_addr);
	free(hp);
}
