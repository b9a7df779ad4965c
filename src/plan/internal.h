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

#endif
