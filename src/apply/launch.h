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
/* The call of one modify/tag step. */
int np_launch_modify(struct np_aws *aws, const char *instance_id, const struct np_step *s,
                     bool dry_run, struct np_err *err);
/* Undo a modify step, back to the values in before. */
int np_launch_undo(struct np_aws *aws, const char *instance_id, const struct np_step *s,
                   const struct np_instance *before, struct np_err *err);

#endif
