/* Permission preflight: every kind of mutating call the plan will make,
 * once, with DryRun=true, before anything is stopped. */
#include <string.h>

#include "apply/launch.h"
#include "nestplan/ec2.h"
#include "nestplan/log.h"

static const char *const actions[NP_STEP__COUNT] = {
	"RunInstances",        "StopInstances", "ModifyInstancePlacement",
	"ModifyInstanceAttribute", "ModifyInstanceCpuOptions", "StartInstances",
	"CreateTags",          "DeleteTags",    "TerminateInstances",
};

static int check(int rc, enum np_step_kind kind, const struct np_change *c, struct np_err *err)
{
	if (rc == 0 || err->cls == NP_ERRC_DRY_RUN_OK) {
		np_err_clear(err);
		return 0;
	}
	if (err->cls == NP_ERRC_AUTH)
		return np_error_prefix(err, "permission check failed, nothing was changed: %s needs the "
		                            "IAM permission ec2:%s (for '%s', %s)",
		                       actions[kind], actions[kind], c->address,
		                       c->instance_id ? c->instance_id : "new instance");
	/* A later step of a cycle is checked against the instance as it is now
	 * (running, old type), so EC2 may object to parameters the earlier steps
	 * make valid. The preflight is about permissions; the planner checked
	 * the parameters. */
	np_log_debug("preflight: %s for '%s': %s (not a permission problem)", actions[kind],
	             c->address, err->msg);
	np_err_clear(err);
	return 0;
}

int np_apply_preflight(struct np_aws *aws, const struct np_config *cfg, const struct np_plan *plan,
                       const char *lineage, struct np_err *err)
{
	bool done[NP_STEP__COUNT] = {false};

	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *c = &plan->changes[i];

		for (size_t k = 0; k < c->n_steps; k++) {
			const struct np_step *s = &c->steps[k];
			const char *id = s->kind == NP_STEP_TERMINATE || c->action != NP_ACTION_REPLACE
			                         ? c->instance_id
			                         : NULL;
			int rc;

			if (done[s->kind])
				continue;
			if (s->kind == NP_STEP_RUN_INSTANCES) {
				struct np_instance none;

				rc = np_launch_run(aws, c, cfg ? np_config_find(cfg, c->address) : NULL,
				                   lineage, NULL, true, &none, err);
				np_instance_release(&none);
			} else if (!id) {
				/* Steps on an instance that does not exist yet: checked on another. */
				continue;
			} else {
				rc = np_launch_modify(aws, id, s, true, err);
			}
			if (check(rc, s->kind, c, err) < 0)
				return -1;
			done[s->kind] = true;
		}
	}
	return 0;
}
