/* Permission preflight: every kind of mutating call the plan will make that
 * EC2 lets be dry-run, once, with DryRun=true, before anything is stopped.
 * Only answers that prove the call would be allowed may pass. */
#include <stdlib.h>
#include <string.h>

#include "apply/launch.h"
#include "nestplan/ec2.h"
#include "nestplan/log.h"

/* What a dry run of a step on the instance as it is now (running, old type
 * and CPU options) may answer besides DryRunOperation: EC2 checks the state
 * and the parameters of an instance the earlier steps have not changed yet.
 * The codes are EC2's documented client errors for those checks. */
static const char *const expected_before_cycle[] = {
	"IncorrectInstanceState",        "IncorrectState",
	"InvalidParameterValue",         "InvalidParameterCombination",
	"UnsupportedOperation",          "Unsupported",
	"InvalidInstanceAttributeValue", NULL,
};

static bool expected(const char *code)
{
	for (size_t i = 0; expected_before_cycle[i]; i++)
		if (!strcmp(expected_before_cycle[i], code))
			return true;
	return false;
}

static int check(int rc, const struct np_step *s, const struct np_change *c, struct np_err *err)
{
	enum np_step_kind kind = s->kind;
	const char *action = np_step_action(s);
	const char *who = c->instance_id ? c->instance_id : "new instance";

	if (rc < 0 && err->cls == NP_ERRC_DRY_RUN_OK) {
		np_err_clear(err);
		return 0;
	}
	if (rc == 0)
		return np_error(err,
				"permission check failed, nothing was changed: %s with DryRun for "
				"'%s' (%s) answered as if it had run, not DryRunOperation",
				action, c->address, who);
	if (err->cls == NP_ERRC_AUTH && !strcmp(err->code, "UnauthorizedOperation"))
		return np_error_prefix(err,
				       "permission check failed, nothing was changed: %s needs the "
				       "IAM permission ec2:%s (for '%s', %s)",
				       action, action, c->address, who);
	if (kind != NP_STEP_RUN_INSTANCES && err->http_status >= 400 && err->http_status < 500 &&
	    expected(err->code)) {
		np_log_debug("preflight: %s for '%s': %s (the instance is not modified yet)",
			     action, c->address, err->msg);
		np_err_clear(err);
		return 0;
	}
	/* 5xx after retries, InvalidAction, UnknownParameter, unknown codes and
	 * answers that are not EC2's: nothing proves the call would work. */
	return np_error_prefix(err,
			       "permission check failed, nothing was changed: %s with DryRun "
			       "for '%s' (%s) answered %s%s(HTTP %d)",
			       action, c->address, who, err->code[0] ? err->code : "",
			       err->code[0] ? " " : "", err->http_status);
}

int np_apply_preflight(struct np_aws *aws, const struct np_config *cfg, const struct np_plan *plan,
		       const char *lineage, struct np_err *err)
{
	bool done[NP_STEP__COUNT] = { false };
	bool *done_attr = calloc(np_n_attrs, sizeof(*done_attr));
	int rc_all = 0;

	for (size_t i = 0; i < plan->n_changes; i++) {
		const struct np_change *c = &plan->changes[i];

		for (size_t k = 0; k < c->n_steps; k++) {
			const struct np_step *s = &c->steps[k];
			const char *id =
			    s->kind == NP_STEP_TERMINATE || c->action != NP_ACTION_REPLACE
				? c->instance_id
				: NULL;
			bool *seen = s->attr ? &done_attr[s->attr - np_attrs] : &done[s->kind];
			int rc;

			if (*seen)
				continue;
			if (!np_step_dry_run(s)) {
				/* Listed in the plan as not checked in advance. */
				*seen = true;
				continue;
			}
			if (s->kind == NP_STEP_RUN_INSTANCES) {
				struct np_instance none;

				rc = np_launch_run(aws, c,
						   cfg ? np_config_find(cfg, c->address) : NULL,
						   lineage, NULL, true, &none, err);
				np_instance_release(&none);
			} else if (!id) {
				/* Steps on an instance that does not exist yet: checked on another. */
				continue;
			} else {
				rc = np_launch_modify(aws, id, s, true, err);
			}
			if (check(rc, s, c, err) < 0) {
				rc_all = -1;
				goto done;
			}
			*seen = true;
		}
	}
done:
	free(done_attr);
	return rc_all;
}
