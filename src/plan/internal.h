#ifndef NESTPLAN_PLAN_INTERNAL_H
#define NESTPLAN_PLAN_INTERNAL_H

#include "nestplan/plan.h"

void np_plan_diag(struct np_plan *plan, enum np_severity sev, const char *address, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
/* The same about one key of the instance in the file (validate points at it). */
void np_plan_diag_key(struct np_plan *plan, enum np_severity sev, const char *address,
		      enum np_cfg_key key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void np_plan_drift_add(struct np_plan *plan, const char *address, const char *id,
		       const char *attribute, const char *recorded, const char *live);
/* Rules 1-3 for one instance as it will be: want merged over what exists. */
void np_plan_rules(struct np_plan *plan, const char *address, const struct np_instance *want,
		   const struct np_instance *current, const struct np_catalog *cat);
/* "c8i, c8i-flex, m8i, ..." from the catalog; caller frees. */
char *np_plan_nv_families(const struct np_catalog *cat);

/* A new change of the plan (zeroed but for these) and a new step of one. */
struct np_change *np_plan_add_change(struct np_plan *p, enum np_kind kind, const char *address,
				     const char *group);
struct np_step *np_change_add_step(struct np_change *ch, enum np_step_kind kind);
/* create_tags with add and delete_tags with del, each when not empty; both
 * are taken (moved into the steps or released). */
void np_plan_tag_steps(struct np_change *ch, struct np_tags *add, struct np_tags *del);

/* -target selects this address (every address when there is none). */
bool np_plan_targeted(const struct np_plan_input *in, const char *address);

/* Dedicated Hosts (src/plan/hosts.c). begin: host drift and changes; place:
 * every instance with placement.host, in address order (current: the
 * instance a desired entry is, NULL when it is to be launched); pick: the
 * host chosen for one; end: the release and capacity checks, then free. */
struct np_host_plan;
struct np_host_pick {
	const char *address; /* the host's address */
	const char *host_id; /* NULL: the plan allocates it */
	bool move;           /* an existing instance goes onto it */
};
struct np_host_plan *np_plan_hosts_begin(struct np_plan *plan, const struct np_plan_input *in);
void np_plan_hosts_place(struct np_host_plan *hp, struct np_plan *plan,
			 const struct np_instance *(*current)(void *arg,
							      const struct np_desired *d),
			 void *arg);
const struct np_host_pick *np_plan_hosts_pick(const struct np_host_plan *hp,
					      const struct np_desired *d);
void np_plan_hosts_end(struct np_host_plan *hp, struct np_plan *plan);

#endif
