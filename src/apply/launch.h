/* Turning plan steps into EC2 requests. */
#ifndef NESTPLAN_APPLY_LAUNCH_H
#define NESTPLAN_APPLY_LAUNCH_H

#include "nestplan/apply.h"

/* The ClientToken for the next launch of address: resume_token (the token of
 * a launch a killed apply left in the journal, so EC2 answers with that
 * instance instead of starting a second one), else a new generation's. */
int np_launch_token(struct np_state *st, const char *address, const char *resume_token,
		    char out[65], struct np_err *err);
/* RunInstances for a create/replace change; out gets the launched instance. */
int np_launch_run(struct np_aws *aws, const struct np_change *c, const struct np_desired *d,
		  const char *lineage, const char *token, bool dry_run, struct np_instance *out,
		  struct np_err *err);
/* The same through ec2's calls, with cat (may be NULL) completing CPU options
 * the file gives only half of from the type's defaults. */
int np_launch_run_cat(const struct np_apply_ec2 *ec2, const struct np_change *c,
		      const struct np_desired *d, const char *lineage, const struct np_catalog *cat,
		      const char *token, bool dry_run, struct np_instance *out, struct np_err *err);
/* Identical new instances launch with one call (MinCount = MaxCount = n, one
 * ClientToken, every tag in the call): address_tag is "group[A..B]" and EC2's
 * amiLaunchIndex k names group[A+k]. out gets the n instances. */
int np_launch_run_many(const struct np_apply_ec2 *ec2, const struct np_change *c,
		       const struct np_desired *d, const char *lineage,
		       const struct np_catalog *cat, const char *address_tag, int count,
		       const char *token, bool dry_run, struct np_instance **out, size_t *n_out,
		       struct np_err *err);
/* Whether two wanted instances can come from one RunInstances call. */
bool np_launch_same(const struct np_instance *a, const struct np_instance *b);
/* "runner[17]" → name length 6, index 17; false for an address without one. */
bool np_launch_address_index(const char *address, size_t *name_len, long *index);
/* The call of one modify/tag step. */
int np_launch_modify(struct np_aws *aws, const char *instance_id, const struct np_step *s,
		     bool dry_run, struct np_err *err);
/* Undo a modify step, back to the values in before. */
int np_launch_undo(struct np_aws *aws, const char *instance_id, const struct np_step *s,
		   const struct np_instance *before, struct np_err *err);

#endif
