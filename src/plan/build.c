/* The planner: per address exactly one action with its ordered steps.
 * Pure: everything it knows comes in through struct np_plan_input. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/suggest.h"
#include "plan/internal.h"

struct ctx {
	const struct np_plan_input *in;
	struct np_plan *plan;
	const struct np_instance **live_by_id; /* sorted by instance id */
	size_t n_live;
	const struct np_instance **rec_by_addr; /* sorted by address */
	size_t n_rec;
	const struct np_instance **tagged; /* live, our lineage, by address tag */
	size_t n_tagged;
	struct np_host_plan *hosts; /* Dedicated Hosts (hosts.c) */
};

static int cmp_id(const void *a, const void *b)
{
	const struct np_instance *x = *(const struct np_instance *const *)a;
	const struct np_instance *y = *(const struct np_instance *const *)b;

	return strcmp(x->instance_id, y->instance_id);
}

static int cmp_addr(const void *a, const void *b)
{
	const struct np_instance *x = *(const struct np_instance *const *)a;
	const struct np_instance *y = *(const struct np_instance *const *)b;

	return strcmp(x->address, y->address);
}

static const struct np_instance *find(const struct np_instance **v, size_t n, const char *key,
				      bool by_id)
{
	size_t lo = 0, hi = n;

	if (!key)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(by_id ? v[mid]->instance_id : v[mid]->address, key);

		if (c == 0)
			return v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool gone(const struct np_instance *l)
{
	return !l || l->state == NP_RUN_TERMINATED || l->state == NP_RUN_SHUTTING_DOWN;
}

static bool target_matches(const char *t, const char *address)
{
	size_t n = strlen(t);

	return !strcmp(t, address) ||
	       (!strchr(t, '[') && !strncmp(address, t, n) && address[n] == '[');
}

static bool targeted(const struct np_plan_input *in, const char *address)
{
	if (!in->n_targets)
		return true;
	for (size_t i = 0; i < in->n_targets; i++)
		if (target_matches(in->targets[i], address))
			return true;
	return false;
}

bool np_plan_targeted(const struct np_plan_input *in, const char *address)
{
	return targeted(in, address);
}

/* A -target that names no instance of the file or the state is a warning
 * (Terraform's way: the plan is empty for it, not refused), with the nearest
 * name for a typo. */
static void unmatched_targets(struct np_plan *out, const struct np_plan_input *in)
{
	const struct np_config *cfg = in->config;
	const char **names = NULL;
	size_t n = 0;

	for (size_t t = 0; t < in->n_targets; t++) {
		const char *target = in->targets[t], *near, *open = strchr(target, '[');
		bool found = false;
		size_t in_group = 0;

		for (size_t i = 0; cfg && i < cfg->n_instances && !found; i++)
			found = target_matches(target, cfg->instances[i].want.address);
		for (size_t i = 0; i < in->n_recorded && !found; i++)
			found = in->recorded[i].address &&
				target_matches(target, in->recorded[i].address);
		for (size_t i = 0; cfg && i < cfg->n_hosts && !found; i++)
			found = target_matches(target, cfg->hosts[i].want.address);
		for (size_t i = 0; i < in->n_recorded_hosts && !found; i++)
			found = in->recorded_hosts[i].address &&
				target_matches(target, in->recorded_hosts[i].address);
		if (found)
			continue;
		for (size_t i = 0; open && cfg && i < cfg->n_instances; i++)
			in_group +=
			    cfg->instances[i].index >= 0 &&
			    strlen(cfg->instances[i].name) == (size_t)(open - target) &&
			    !strncmp(cfg->instances[i].name, target, (size_t)(open - target));
		if (in_group) {
			/* The group exists: the index is what is wrong. */
			np_plan_diag(
			    out, NP_SEV_WARNING, NULL,
			    "-target '%s' matches no instance in the file or the state; the file "
			    "has %.*s[0] to %.*s[%zu]",
			    target, (int)(open - target), target, (int)(open - target), target,
			    in_group - 1);
			continue;
		}
		if (!names) {
			names = np_xcalloc((cfg ? cfg->n_instances : 0) + 1, sizeof(*names));
			for (size_t i = 0; cfg && i < cfg->n_instances; i++)
				if (!n || strcmp(names[n - 1], cfg->instances[i].name))
					names[n++] = cfg->instances[i].name;
		}
		near = np_suggest(target, names);
		np_plan_diag(out, NP_SEV_WARNING, NULL,
			     "-target '%s' matches no instance in the file or the state%s%s%s",
			     target, near ? "; did you mean '" : "", near ? near : "",
			     near ? "'?" : "");
	}
	free(names);
}

static bool forced_replace(const struct np_plan_input *in, const char *address)
{
	for (size_t i = 0; i < in->n_replace; i++)
		if (!strcmp(in->replace[i], address))
			return true;
	return false;
}

static struct np_change *new_change(struct ctx *c, const char *address, const char *group)
{
	return np_plan_add_change(c->plan, NP_KIND_INSTANCE, address, group);
}

struct np_change *np_plan_add_change(struct np_plan *p, enum np_kind kind, const char *address,
				     const char *group)
{
	struct np_change *ch;

	NP_ALLOC_GROW(p->changes, p->n_changes + 1, p->alloc_changes);
	ch = &p->changes[p->n_changes++];
	memset(ch, 0, sizeof(*ch));
	ch->kind = kind;
	ch->address = np_xstrdup(address);
	ch->group = np_xstrdup(group);
	return ch;
}

struct np_step *np_change_add_step(struct np_change *ch, enum np_step_kind kind)
{
	struct np_step *s;

	NP_ALLOC_GROW(ch->steps, ch->n_steps + 1, ch->alloc_steps);
	s = &ch->steps[ch->n_steps++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	return s;
}

static bool running(enum np_run_state s) { return s == NP_RUN_RUNNING || s == NP_RUN_PENDING; }

static bool str_differs(const char *want, const char *have)
{
	return want && (!have || strcmp(want, have));
}

/* A new instance gets a new root volume: only what the file says of it is
 * known (not the old volume's size, key or mapping). */
static void fresh_root_volume(struct np_instance *after, const struct np_instance *want)
{
	after->root_size_gib = want->root_size_gib;
	after->root_type = want->root_type;
	after->root_iops = want->root_iops;
	after->root_throughput = want->root_throughput;
	after->root_encrypted = want->root_encrypted;
	after->root_delete_on_termination = want->root_delete_on_termination;
	free(after->root_kms_key_id);
	after->root_kms_key_id = np_xstrdup(want->root_kms_key_id);
	free(after->root_volume_id);
	after->root_volume_id = NULL;
	free(after->root_device_name);
	after->root_device_name = NULL;
}

/* What will exist: the current instance with every managed attribute of want. */
static void merge_after(struct np_instance *after, const struct np_instance *want,
			const struct np_instance *cur)
{
	if (cur)
		np_instance_copy(after, cur);
	else
		memset(after, 0, sizeof(*after));
	if (want->address) {
		free(after->address);
		after->address = np_xstrdup(want->address);
	}
	/* Every attribute the file sets (a list, a map: whole). */
	np_attrs_overlay(after, want, false);
	if (!cur && !after->state)
		after->state = NP_RUN_RUNNING; /* new instances run unless told otherwise */
}

/* Replacement: an attribute EC2 cannot change on an existing instance. */
static char *replace_reason(const struct np_instance *want, const struct np_instance *cur,
			    const struct np_instance *rec, bool user_data_in_place)
{
	const char *ud = rec ? rec->user_data_sha256 : cur->user_data_sha256;

	if (str_differs(want->image_id, cur->image_id))
		return np_xasprintf("image_id (%s → %s)", cur->image_id ? cur->image_id : "?",
				    want->image_id);
	if (str_differs(want->subnet_id, cur->subnet_id))
		return np_xasprintf("subnet_id (%s → %s)", cur->subnet_id ? cur->subnet_id : "?",
				    want->subnet_id);
	if (str_differs(want->key_name, cur->key_name))
		return np_xasprintf("key_name (%s → %s)", cur->key_name ? cur->key_name : "none",
				    want->key_name);
	if (want->platform && cur->platform && want->platform != cur->platform)
		return np_xasprintf("platform (%s → %s)", np_platform_name(cur->platform),
				    np_platform_name(want->platform));
	if (!user_data_in_place && want->user_data_sha256 && ud &&
	    strcmp(want->user_data_sha256, ud))
		return np_xstrdup("user_data (changed)");
	if (want->hibernation && cur->hibernation && want->hibernation != cur->hibernation)
		return np_xasprintf("hibernation (%s → %s)",
				    cur->hibernation == NP_BOOL_TRUE ? "true" : "false",
				    want->hibernation == NP_BOOL_TRUE ? "true" : "false");
	if (str_differs(want->availability_zone, cur->availability_zone))
		return np_xasprintf("placement.availability_zone (%s → %s)",
				    cur->availability_zone ? cur->availability_zone : "?",
				    want->availability_zone);
	if (want->root_size_gib && cur->root_size_gib && want->root_size_gib < cur->root_size_gib)
		return np_xasprintf("root_volume.size_gib (%d → %d: EBS volumes only grow)",
				    cur->root_size_gib, want->root_size_gib);
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];

		if (a->gen && a->policy == NP_POLICY_REPLACE && np_attr_is_set(a, want) &&
		    np_attr_is_set(a, cur) && !np_attr_equal(a, want, cur)) {
			char *was = np_attr_text(a, cur), *now = np_attr_text(a, want);
			char *why = np_xasprintf("%s (%s → %s)", a->name, was, now);

			free(was);
			free(now);
			return why;
		}
	}
	if (np_tenancy_move(cur->tenancy, want->tenancy) == NP_MOVE_REPLACE)
		return np_xasprintf(
		    "placement.tenancy (%s → %s: EC2 does not change this tenancy in "
		    "place)",
		    np_tenancy_name(cur->tenancy ? cur->tenancy : NP_TENANCY_DEFAULT),
		    np_tenancy_name(want->tenancy));
	return NULL;
}

static void tag_steps(struct np_change *ch, const struct np_instance *want,
		      const struct np_instance *cur, const char *lineage, bool adopt)
{
	struct np_tags add = NP_TAGS_INIT, del = NP_TAGS_INIT;

	if (adopt) {
		np_tags_set(&add, NP_TAG_ADDRESS, ch->address);
		np_tags_set(&add, NP_TAG_LINEAGE, lineage ? lineage : "");
	}
	if (want->tags_set) {
		for (size_t i = 0; i < want->tags.n; i++) {
			const char *have = np_tags_get(&cur->tags, want->tags.v[i].key);

			if (!have || strcmp(have, want->tags.v[i].value))
				np_tags_set(&add, want->tags.v[i].key, want->tags.v[i].value);
		}
		for (size_t i = 0; i < cur->tags.n; i++)
			if (!np_tags_get(&want->tags, cur->tags.v[i].key))
				np_tags_set(&del, cur->tags.v[i].key, "");
	}
	np_plan_tag_steps(ch, &add, &del);
}

void np_plan_tag_steps(struct np_change *ch, struct np_tags *add, struct np_tags *del)
{
	if (add->n)
		np_change_add_step(ch, NP_STEP_CREATE_TAGS)->tags = *add;
	else
		np_tags_release(add);
	if (del->n)
		np_change_add_step(ch, NP_STEP_DELETE_TAGS)->tags = *del;
	else
		np_tags_release(del);
	memset(add, 0, sizeof(*add));
	memset(del, 0, sizeof(*del));
}

/* One set_attribute step per gen attribute of this policy that the file
 * sets and the instance does not have. */
static void gen_steps(struct np_change *ch, const struct np_instance *want,
		      const struct np_instance *cur, enum np_policy policy)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];
		struct np_step *s;

		if (!a->gen || a->own_steps || a->policy != policy || !np_attr_is_set(a, want) ||
		    np_attr_equal(a, want, cur))
			continue;
		s = np_change_add_step(ch, NP_STEP_SET_ATTRIBUTE);
		s->attr = a;
		s->value = np_attr_text(a, want);
	}
}

/* The instance profile, live: associate where it has none, replace another,
 * disassociate where the file says "" (apply asks EC2 for the association). */
static void iam_steps(struct np_change *ch, const struct np_instance *want,
		      const struct np_instance *cur)
{
	const struct np_attr_def *a = np_attr_find("iam_instance_profile");
	const char *w = want->iam_instance_profile, *c = cur->iam_instance_profile;
	struct np_step *s;

	if (!w || np_attr_equal(a, want, cur) || (!*w && c && !*c))
		return;
	s = np_change_add_step(ch, !*w       ? NP_STEP_DISASSOCIATE_IAM_PROFILE
				   : c && *c ? NP_STEP_REPLACE_IAM_PROFILE
					     : NP_STEP_ASSOCIATE_IAM_PROFILE);
	s->attr = a;
	s->value = np_xstrdup(w);
}

/* The root volume, live: one modify_volume with every change EC2 makes in
 * place (growth, type, IOPS, throughput; a shrink replaces), and
 * delete_on_termination on the instance's mapping. */
static void volume_steps(struct np_change *ch, const struct np_instance *want,
			 const struct np_instance *cur)
{
	bool grow = want->root_size_gib && want->root_size_gib > cur->root_size_gib;
	bool type = want->root_type && want->root_type != cur->root_type;
	bool iops = want->root_iops && want->root_iops != cur->root_iops;
	bool tput = want->root_throughput && want->root_throughput != cur->root_throughput;
	struct np_step *s;

	if (grow || type || iops || tput) {
		s = np_change_add_step(ch, NP_STEP_MODIFY_VOLUME);
		s->volume_id = np_xstrdup(cur->root_volume_id);
		s->size_gib = grow ? want->root_size_gib : 0;
		s->volume_type = type ? want->root_type : 0;
		s->iops = iops ? want->root_iops : 0;
		s->throughput = tput ? want->root_throughput : 0;
	}
	if (want->root_delete_on_termination &&
	    want->root_delete_on_termination != cur->root_delete_on_termination) {
		s = np_change_add_step(ch, NP_STEP_MODIFY_ROOT_DELETE_ON_TERMINATION);
		s->device_name = np_xstrdup(cur->root_device_name);
		s->value =
		    np_xstrdup(want->root_delete_on_termination == NP_BOOL_TRUE ? "true" : "false");
	}
}

/* An existing instance: the stop/modify/start cycle of rule 4, tags, and
 * run-state changes. Returns true when anything is to be done. */
static void update_steps(struct ctx *c, struct np_change *ch, const struct np_desired *d,
			 const struct np_instance *cur)
{
	const struct np_instance *w = &d->want;
	const struct np_catalog *cat = c->in->catalog;
	const char *new_type = w->instance_type ? w->instance_type : cur->instance_type;
	const struct np_itype *nt = np_catalog_find(cat, new_type);
	bool type_change = str_differs(w->instance_type, cur->instance_type);
	enum np_tenancy_move move = np_tenancy_move(cur->tenancy, w->tenancy);
	const struct np_host_pick *pick = np_plan_hosts_pick(c->hosts, d);
	bool host_change =
	    (w->host_id && str_differs(w->host_id, cur->host_id)) || (pick && pick->move);
	bool cpu_set = w->core_count || w->threads_per_core || w->nested_virtualization;
	bool cores_differ = (w->core_count && w->core_count != cur->core_count) ||
			    (w->threads_per_core && w->threads_per_core != cur->threads_per_core);
	enum np_nv cur_nv =
	    cur->nested_virtualization ? cur->nested_virtualization : NP_NV_DISABLED;
	bool nv_differs = w->nested_virtualization && w->nested_virtualization != cur_nv;
	bool was_running = running(cur->state);
	bool cycle;
	size_t first_cycle;

	tag_steps(ch, w, cur, c->in->lineage, ch->adopt);
	/* Live changes go outside the stop window: before it, while it runs. */
	gen_steps(ch, w, cur, NP_POLICY_LIVE);
	iam_steps(ch, w, cur);
	volume_steps(ch, w, cur);
	first_cycle = ch->n_steps;

	if (type_change) {
		struct np_step *s;

		/* EC2 refuses the type change while nested virtualization is on and
		 * the new type lacks it: switch it off first, file or not. */
		if (cur_nv == NP_NV_ENABLED && nt && !nt->nested_virtualization) {
			s = np_change_add_step(ch, NP_STEP_MODIFY_CPU_OPTIONS);
			s->nested_virtualization = NP_NV_DISABLED;
		} else if (cur_nv == NP_NV_ENABLED && !w->nested_virtualization) {
			np_plan_diag(
			    c->plan, NP_SEV_WARNING, ch->address,
			    "the type change resets CPU options to '%s' defaults, which turns "
			    "nested virtualization off; set cpu_options.nested_virtualization: "
			    "enabled to keep it",
			    new_type);
		}
		s = np_change_add_step(ch, NP_STEP_MODIFY_INSTANCE_TYPE);
		s->instance_type = np_xstrdup(new_type);
		/* The type change reset CPU options: send everything the file sets
		 * again, "disabled" too, whatever EC2 reset them to. */
		if (cpu_set) {
			s = np_change_add_step(ch, NP_STEP_MODIFY_CPU_OPTIONS);
			if (w->core_count || w->threads_per_core) {
				s->core_count = w->core_count ? w->core_count
						: nt          ? nt->default_cores
							      : 0;
				s->threads_per_core = w->threads_per_core ? w->threads_per_core
						      : nt ? nt->default_threads_per_core
							   : 0;
			}
			s->nested_virtualization = w->nested_virtualization;
		}
	} else if (cores_differ || nv_differs) {
		struct np_step *s = np_change_add_step(ch, NP_STEP_MODIFY_CPU_OPTIONS);

		if (cores_differ) {
			const struct np_itype *ct = np_catalog_find(cat, cur->instance_type);

			s->core_count = w->core_count     ? w->core_count
					: cur->core_count ? cur->core_count
					: ct              ? ct->default_cores
							  : 0;
			s->threads_per_core = w->threads_per_core     ? w->threads_per_core
					      : cur->threads_per_core ? cur->threads_per_core
					      : ct                    ? ct->default_threads_per_core
								      : 0;
		}
		if (nv_differs)
			s->nested_virtualization = w->nested_virtualization;
	}
	gen_steps(ch, w, cur, NP_POLICY_STOPPED);
	if (d->user_data_change == NP_UD_IN_PLACE && w->user_data_sha256 && cur->user_data_sha256 &&
	    strcmp(w->user_data_sha256, cur->user_data_sha256)) {
		np_change_add_step(ch, NP_STEP_MODIFY_USER_DATA);
		np_plan_diag(
		    c->plan, NP_SEV_WARNING, ch->address,
		    "user_data is replaced in place, in the stop/modify/start cycle: cloud-init "
		    "runs the new script again only if it is written to run on every boot "
		    "(#cloud-boothook, or cloud_final_modules with 'always'); otherwise it "
		    "does not run at all");
	}
	/* Placement last: an irreversible move must follow every step that could
	 * still fail and be undone, and a Dedicated Host must support the new
	 * type and CPU options. */
	if (move == NP_MOVE_IN_PLACE || move == NP_MOVE_IRREVERSIBLE || host_change) {
		struct np_step *s = np_change_add_step(ch, NP_STEP_MODIFY_PLACEMENT);

		s->tenancy = w->tenancy ? w->tenancy : cur->tenancy;
		s->host_id = np_xstrdup(w->host_id);
		s->irreversible = move == NP_MOVE_IRREVERSIBLE;
		ch->irreversible |= s->irreversible;
	}
	cycle = ch->n_steps > first_cycle;
	if (cycle) {
		struct np_step stop;

		ch->requires_stop = true;
		/* Insert the stop before the first modification of the cycle. */
		if (cur->state != NP_RUN_STOPPED) {
			np_change_add_step(ch, NP_STEP_STOP);
			stop = ch->steps[ch->n_steps - 1];
			memmove(&ch->steps[first_cycle + 1], &ch->steps[first_cycle],
				(ch->n_steps - 1 - first_cycle) * sizeof(*ch->steps));
			ch->steps[first_cycle] = stop;
		}
		if ((was_running && w->state != NP_RUN_STOPPED) || w->state == NP_RUN_RUNNING)
			np_change_add_step(ch, NP_STEP_START);
	} else if (w->state == NP_RUN_STOPPED && running(cur->state)) {
		np_change_add_step(ch, NP_STEP_STOP);
	} else if (w->state == NP_RUN_RUNNING &&
		   (cur->state == NP_RUN_STOPPED || cur->state == NP_RUN_STOPPING)) {
		np_change_add_step(ch, NP_STEP_START);
	}
	if (w->security_groups_set &&
	    !np_strv_equal_unordered(&w->security_group_ids, &cur->security_group_ids))
		np_plan_diag(
		    c->plan, NP_SEV_WARNING, ch->address,
		    "security_group_ids differ from the instance's; nestplan does not change "
		    "them in place (use -replace=%s to launch it anew)",
		    ch->address);
}

static void launch_steps(struct np_change *ch, const struct np_desired *d)
{
	if (d->create_before_destroy && ch->action == NP_ACTION_REPLACE) {
		np_change_add_step(ch, NP_STEP_RUN_INSTANCES);
		np_change_add_step(ch, NP_STEP_TERMINATE);
	} else {
		if (ch->action == NP_ACTION_REPLACE)
			np_change_add_step(ch, NP_STEP_TERMINATE);
		np_change_add_step(ch, NP_STEP_RUN_INSTANCES);
	}
	if (d->want.state == NP_RUN_STOPPED)
		np_change_add_step(ch, NP_STEP_STOP);
}

struct drift_ctx {
	struct np_plan *plan;
	const struct np_instance *rec;
};

static void drifted_key(void *ctx, const char *name, const char *recorded, const char *live)
{
	const struct drift_ctx *dc = ctx;

	np_plan_drift_add(dc->plan, dc->rec->address, dc->rec->instance_id, name, recorded, live);
}

static void drift_of(struct ctx *c, const struct np_instance *rec, const struct np_instance *l)
{
	/* Every attribute the table marks for drift, where both sides know it. */
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *at = &np_attrs[i];
		char *was, *now;

		if (at->drift && at->type == NP_ATTR_TAGS) {
			struct drift_ctx dc = { c->plan, rec };

			/* Key by key, whether or not the state recorded a map. */
			np_attr_each_key(at, rec, l, drifted_key, &dc);
			continue;
		}
		if (!at->drift || !np_attr_is_set(at, rec) || !np_attr_is_set(at, l) ||
		    np_attr_equal(at, rec, l))
			continue;
		was = np_attr_text(at, rec);
		now = np_attr_text(at, l);
		np_plan_drift_add(c->plan, rec->address, rec->instance_id, at->name, was, now);
		free(was);
		free(now);
	}
}

/* Takes ownership of before and after. */
static void attr_change(struct np_change *ch, const char *name, char *before, char *after,
			enum np_policy policy)
{
	struct np_attr_change *a;

	NP_ALLOC_GROW(ch->attrs, ch->n_attrs + 1, ch->alloc_attrs);
	a = &ch->attrs[ch->n_attrs++];
	a->name = np_xstrdup(name);
	a->before = before;
	a->after = after;
	a->policy = policy;
}

/* A map's key as the plan lists it: x the file's, y the instance's. */
static void listed_key(void *ctx, const char *name, const char *want, const char *cur)
{
	attr_change(ctx, name, np_xstrdup(cur), np_xstrdup(want), NP_POLICY_LIVE);
}

/* What the change changes, attribute by attribute, with how EC2 makes it:
 * the same table that drift and the renderers read. */
static void list_attributes(struct np_change *ch, const struct np_instance *want,
			    const struct np_instance *cur, bool user_data_in_place)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *at = &np_attrs[i];
		enum np_policy policy = at->policy;

		if (at->type == NP_ATTR_TAGS) {
			if (np_attr_is_set(at, want))
				np_attr_each_key(at, want, cur, listed_key, ch);
			continue;
		}
		if (!np_attr_changed(at, want, cur))
			continue;
		if (at->offset == offsetof(struct np_instance, tenancy)) {
			enum np_tenancy_move m = np_tenancy_move(cur->tenancy, want->tenancy);

			if (m == NP_MOVE_NONE)
				continue;
			policy = m == NP_MOVE_REPLACE ? NP_POLICY_REPLACE : NP_POLICY_STOPPED;
		}
		/* lifecycle.user_data_change decides: a replacement or the cycle. */
		if (at->offset == offsetof(struct np_instance, user_data_sha256) &&
		    user_data_in_place)
			policy = NP_POLICY_STOPPED;
		if (at->offset == offsetof(struct np_instance, root_size_gib) &&
		    cur->root_size_gib && want->root_size_gib < cur->root_size_gib)
			policy = NP_POLICY_REPLACE; /* EBS volumes only grow */
		attr_change(ch, at->name, np_attr_text(at, cur), np_attr_text(at, want), policy);
	}
}

static bool has_step(const struct np_change *ch, enum np_step_kind k)
{
	for (size_t i = 0; i < ch->n_steps; i++)
		if (ch->steps[i].kind == k)
			return true;
	return false;
}

/* Protection must not break nestplan's own work: a cycle of a stop-protected
 * instance, a replacement of a termination-protected one, unless the file
 * lifts the flag in the same plan. Lifting goes before the stop or the
 * termination; setting it goes after the start, so the cycle can run. */
static void protection(struct ctx *c, struct np_change *ch, const struct np_instance *want)
{
	const struct np_instance *b = &ch->before;
	bool stops = has_step(ch, NP_STEP_STOP), terminates = has_step(ch, NP_STEP_TERMINATE);

	if (stops && b->disable_api_stop == NP_BOOL_TRUE && want->disable_api_stop != NP_BOOL_FALSE)
		np_plan_diag(
		    c->plan, NP_SEV_ERROR, ch->address,
		    "%s has stop protection (disable_api_stop): its stop/modify/start cycle "
		    "cannot run; set disable_api_stop: false in the file to lift it for this "
		    "change",
		    ch->instance_id);
	/* EC2 refuses to terminate an instance with either flag (stop protection
	 * "also prevents accidental termination", User Guide). */
	for (int f = 0; terminates && f < 2; f++) {
		const char *flag = f ? "disable_api_stop" : "disable_api_termination";
		const struct np_attr_def *a = np_attr_find(flag);
		int on = *(const int *)((const char *)b + a->offset);
		int to = *(const int *)((const char *)want + a->offset);

		if (on != NP_BOOL_TRUE)
			continue;
		if (to != NP_BOOL_FALSE) {
			np_plan_diag(
			    c->plan, NP_SEV_ERROR, ch->address,
			    "%s has %s protection (%s) and must be replaced; set %s: false in "
			    "the file to lift it",
			    ch->instance_id, f ? "stop" : "termination", flag, flag);
		} else {
			struct np_step lift = { .kind = NP_STEP_SET_ATTRIBUTE,
						.attr = a,
						.value = np_xstrdup("false") };

			NP_ALLOC_GROW(ch->steps, ch->n_steps + 1, ch->alloc_steps);
			memmove(&ch->steps[1], &ch->steps[0], ch->n_steps * sizeof(*ch->steps));
			ch->steps[0] = lift;
			ch->n_steps++;
		}
	}
	/* Turning protection on waits for the end of the cycle: a stable
	 * partition that moves those steps last. */
	if (stops) {
		struct np_step *v = np_xmalloc(ch->n_steps * sizeof(*v));
		size_t n = 0;

		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < ch->n_steps; i++) {
				const struct np_step *s = &ch->steps[i];
				bool late = s->kind == NP_STEP_SET_ATTRIBUTE && s->attr &&
					    s->attr->describe_attribute && s->value &&
					    !strcmp(s->value, "true");

				if (late == (pass == 1))
					v[n++] = *s;
			}
		memcpy(ch->steps, v, n * sizeof(*v));
		free(v);
	}
}

/* The instance a desired entry is, as plan_desired finds it (placement
 * needs it before the changes are made). */
static const struct np_instance *current_of(void *arg, const struct np_desired *d)
{
	struct ctx *c = arg;
	const struct np_instance *rec = find(c->rec_by_addr, c->n_rec, d->want.address, false);
	const struct np_instance *cur =
	    rec                   ? find(c->live_by_id, c->n_live, rec->instance_id, true)
	    : d->want.instance_id ? find(c->live_by_id, c->n_live, d->want.instance_id, true)
				  : find(c->tagged, c->n_tagged, d->want.address, false);

	return gone(cur) ? NULL : cur;
}

/* The host placement.host chose: on the change's after and on the steps
 * that launch or move the instance. */
static void host_pick(struct ctx *c, struct np_change *ch, const struct np_desired *d)
{
	const struct np_host_pick *pk = np_plan_hosts_pick(c->hosts, d);
	const struct np_instance *rec = find(c->rec_by_addr, c->n_rec, d->want.address, false);

	if (ch->has_before && !ch->before.host_address && rec && rec->host_address)
		ch->before.host_address = np_xstrdup(rec->host_address);
	free(ch->after.host_address);
	ch->after.host_address = NULL;
	if (!pk)
		return;
	ch->after.host_address = np_xstrdup(pk->address);
	free(ch->after.host_id);
	ch->after.host_id = np_xstrdup(pk->host_id);
	ch->after.tenancy = NP_TENANCY_HOST;
	for (size_t i = 0; i < ch->n_steps; i++) {
		struct np_step *s = &ch->steps[i];

		if (s->kind != NP_STEP_RUN_INSTANCES && s->kind != NP_STEP_MODIFY_PLACEMENT)
			continue;
		free(s->host_address);
		s->host_address = np_xstrdup(pk->address);
		free(s->host_id);
		s->host_id = np_xstrdup(pk->host_id);
	}
}

static void plan_desired(struct ctx *c, const struct np_desired *d)
{
	const struct np_plan_input *in = c->in;
	const char *addr = d->want.address;
	const struct np_instance *rec = find(c->rec_by_addr, c->n_rec, addr, false);
	const struct np_instance *cur = NULL;
	struct np_change *ch;
	char *why;
	bool adopt = false;

	if (rec) {
		cur = find(c->live_by_id, c->n_live, rec->instance_id, true);
		if (gone(cur) && d->want.instance_id) {
			/* The file names this very instance: another one would not be it. */
			np_plan_diag(
			    c->plan, NP_SEV_ERROR, addr,
			    "adopted instance %s is not reported by EC2 (or is terminated); "
			    "nestplan never launches a replacement for an adopted instance: "
			    "remove instance_id from the file to launch a new one",
			    rec->instance_id);
			return;
		}
		if (gone(cur))
			cur = NULL; /* terminated outside: drift (above), launched again */
	} else if (d->want.instance_id) {
		cur = find(c->live_by_id, c->n_live, d->want.instance_id, true);
		if (gone(cur)) {
			np_plan_diag(
			    c->plan, NP_SEV_ERROR, addr,
			    "cannot adopt %s: EC2 does not report it (or it is terminated)",
			    d->want.instance_id);
			return;
		}
		if (cur->lineage && in->lineage && strcmp(cur->lineage, in->lineage)) {
			np_plan_diag(
			    c->plan, NP_SEV_ERROR, addr,
			    "cannot adopt %s: it belongs to another nestplan state (lineage %s)",
			    d->want.instance_id, cur->lineage);
			return;
		}
		adopt = true;
	} else {
		/* A launch of a killed apply: EC2 has it, the state does not. */
		cur = find(c->tagged, c->n_tagged, addr, false);
		if (gone(cur))
			cur = NULL;
		adopt = cur != NULL;
	}
	np_plan_rules(c->plan, addr, &d->want, cur, in->catalog);
	if (in->refresh_only || !targeted(in, addr))
		return;

	ch = new_change(c, addr, d->name);
	ch->has_after = true;
	if (!cur) {
		ch->action = NP_ACTION_CREATE;
		merge_after(&ch->after, &d->want, NULL);
		launch_steps(ch, d);
		host_pick(c, ch, d);
		return;
	}
	ch->instance_id = np_xstrdup(cur->instance_id);
	ch->has_before = true;
	np_instance_copy_shared(&ch->before, cur);
	if (rec && !ch->before.user_data_sha256)
		ch->before.user_data_sha256 = np_xstrdup(rec->user_data_sha256);
	free(ch->before.address);
	ch->before.address = np_xstrdup(addr);
	if (rec)
		/* where the refresh did not read them, what was recorded is the best knowledge */
		np_attrs_fill_described(&ch->before, rec);
	cur = &ch->before;
	merge_after(&ch->after, &d->want, cur);
	list_attributes(ch, &d->want, &ch->before, d->user_data_change == NP_UD_IN_PLACE);
	why = forced_replace(in, addr)
		  ? np_xstrdup("-replace")
		  : replace_reason(&d->want, cur, rec, d->user_data_change == NP_UD_IN_PLACE);
	if (why) {
		ch->action = NP_ACTION_REPLACE;
		ch->replace_reason = why;
		if (d->prevent_destroy) {
			np_plan_diag(
			    c->plan, NP_SEV_ERROR, addr,
			    "must be replaced because of %s, but lifecycle.prevent_destroy is set",
			    why);
		}
		free(ch->after.instance_id);
		ch->after.instance_id = NULL;
		fresh_root_volume(&ch->after, &d->want);
		launch_steps(ch, d);
		protection(c, ch, &d->want);
		host_pick(c, ch, d);
		return;
	}
	ch->adopt = adopt;
	update_steps(c, ch, d, cur);
	ch->action = ch->n_steps ? NP_ACTION_UPDATE : NP_ACTION_NOOP;
	protection(c, ch, &d->want);
	host_pick(c, ch, d);
}

static void plan_delete(struct ctx *c, const struct np_instance *rec, bool prevent)
{
	const struct np_instance *l = find(c->live_by_id, c->n_live, rec->instance_id, true);
	struct np_change *ch;
	const char *open = strchr(rec->address, '[');
	char group[256];

	if (!targeted(c->in, rec->address) || c->in->refresh_only)
		return;
	snprintf(group, sizeof(group), "%.*s", open ? (int)(open - rec->address) : 255,
		 rec->address);
	if (prevent) {
		np_plan_diag(c->plan, NP_SEV_ERROR, rec->address,
			     "cannot destroy: lifecycle.prevent_destroy is set");
		return;
	}
	for (int f = 0; !gone(l) && f < 2; f++) {
		const char *flag = f ? "disable_api_stop" : "disable_api_termination";
		const struct np_attr_def *a = np_attr_find(flag);
		/* What the refresh read, else what was recorded. */
		const struct np_instance *from = np_attr_is_set(a, l) ? l : rec;

		if (*(const int *)((const char *)from + a->offset) == NP_BOOL_TRUE) {
			np_plan_diag(
			    c->plan, NP_SEV_ERROR, rec->address,
			    "cannot destroy %s: %s protection (%s) is on; set it to false in "
			    "the file and apply before destroying it",
			    rec->instance_id, f ? "stop" : "termination", flag);
			return;
		}
	}
	ch = new_change(c, rec->address, group);
	ch->action = NP_ACTION_DELETE;
	ch->instance_id = np_xstrdup(rec->instance_id);
	ch->has_before = true;
	np_instance_copy_shared(&ch->before, l && !gone(l) ? l : rec);
	free(ch->before.address);
	ch->before.address = np_xstrdup(rec->address);
	/* Already gone: only the state row goes. */
	if (!gone(l))
		np_change_add_step(ch, NP_STEP_TERMINATE);
}

static int cmp_change(const void *a, const void *b)
{
	return np_address_cmp(((const struct np_change *)a)->address,
			      ((const struct np_change *)b)->address);
}

int np_plan_build(struct np_plan *out, const struct np_plan_input *in, struct np_err *err)
{
	struct ctx c;
	const struct np_config *cfg = in->config;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	if (!cfg && !in->destroy)
		return np_error(err, "no configuration to plan from");
	c.in = in;
	c.plan = out;
	out->lineage = np_xstrdup(in->lineage);
	out->serial = in->serial;
	out->refresh_only = in->refresh_only;
	out->destroy = in->destroy;
	if (cfg)
		memcpy(out->config_sha256, cfg->sha256, sizeof(out->config_sha256));

	c.live_by_id = np_xmalloc((in->n_live + 1) * sizeof(*c.live_by_id));
	c.tagged = np_xmalloc((in->n_live + 1) * sizeof(*c.tagged));
	for (size_t i = 0; i < in->n_live; i++) {
		const struct np_instance *l = &in->live[i];

		if (!l->instance_id)
			continue;
		c.live_by_id[c.n_live++] = l;
		if (l->address && l->lineage && in->lineage && !strcmp(l->lineage, in->lineage) &&
		    !gone(l))
			c.tagged[c.n_tagged++] = l;
	}
	qsort(c.live_by_id, c.n_live, sizeof(*c.live_by_id), cmp_id);
	qsort(c.tagged, c.n_tagged, sizeof(*c.tagged), cmp_addr);
	c.rec_by_addr = np_xmalloc((in->n_recorded + 1) * sizeof(*c.rec_by_addr));
	for (size_t i = 0; i < in->n_recorded; i++)
		if (in->recorded[i].address)
			c.rec_by_addr[c.n_rec++] = &in->recorded[i];
	qsort(c.rec_by_addr, c.n_rec, sizeof(*c.rec_by_addr), cmp_addr);

	/* Drift: what changed outside nestplan since it last recorded. */
	for (size_t i = 0; i < c.n_rec; i++) {
		const struct np_instance *rec = c.rec_by_addr[i];
		const struct np_instance *l = find(c.live_by_id, c.n_live, rec->instance_id, true);

		if (!targeted(in, rec->address))
			continue;
		if (!gone(l))
			drift_of(&c, rec, l);
		else
			np_plan_drift_add(out, rec->address, rec->instance_id, "instance", "exists",
					  l ? np_run_state_name(l->state) : "terminated");
	}

	c.hosts = np_plan_hosts_begin(out, in);
	if (in->refresh_only) {
		/* Only drift; every managed instance is listed (reports show the clean ones too). */
		for (size_t i = 0; i < c.n_rec; i++) {
			const struct np_instance *rec = c.rec_by_addr[i];
			const char *open = strchr(rec->address, '[');
			const struct np_instance *l;
			char group[256];
			struct np_change *ch;

			if (!targeted(in, rec->address))
				continue;
			snprintf(group, sizeof(group), "%.*s",
				 open ? (int)(open - rec->address) : 255, rec->address);
			ch = new_change(&c, rec->address, group);
			ch->instance_id = np_xstrdup(rec->instance_id);
			ch->has_before = true;
			np_instance_copy_shared(&ch->before, rec);
			/* after: what apply -refresh-only records; none when it is gone. */
			l = find(c.live_by_id, c.n_live, rec->instance_id, true);
			if (!gone(l)) {
				ch->has_after = true;
				np_instance_copy(&ch->after, l);
				free(ch->after.address);
				ch->after.address = np_xstrdup(rec->address);
			}
		}
	} else if (!in->destroy) {
		np_plan_hosts_place(c.hosts, out, current_of, &c);
		for (size_t i = 0; i < cfg->n_instances; i++)
			plan_desired(&c, &cfg->instances[i]);
	}
	for (size_t i = 0; i < c.n_rec; i++) {
		const struct np_instance *rec = c.rec_by_addr[i];
		const struct np_desired *d = cfg ? np_config_find(cfg, rec->address) : NULL;

		if (in->destroy)
			plan_delete(&c, rec, d && d->prevent_destroy);
		else if (!d)
			plan_delete(&c, rec, false);
	}
	np_plan_hosts_end(c.hosts, out);
	if (out->n_changes > 1)
		qsort(out->changes, out->n_changes, sizeof(*out->changes), cmp_change);
	for (size_t i = 0; i < out->n_changes; i++) {
		const struct np_change *ch = &out->changes[i];

		out->summary.add +=
		    ch->action == NP_ACTION_CREATE || ch->action == NP_ACTION_REPLACE;
		out->summary.change += ch->action == NP_ACTION_UPDATE;
		out->summary.destroy +=
		    ch->action == NP_ACTION_DELETE || ch->action == NP_ACTION_REPLACE;
		out->summary.stop_start += ch->requires_stop;
	}
	unmatched_targets(out, in);
	free(c.live_by_id);
	free(c.tagged);
	free(c.rec_by_addr);
	return 0;
}
