#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/plan.h"

static const char *const actions[] = { "no-op", "create", "update", "replace", "delete" };

/* One entry per step kind, in enum order. dry_run says whether EC2's model
 * gives the action a DryRun member (botocore's service-2.json): the others'
 * permissions cannot be checked before anything is stopped. */
static const char *const run_perms[] = { "ec2:RunInstances", "ec2:CreateTags", NULL };
static const char *const assoc_perms[] = { "ec2:AssociateIamInstanceProfile",
					   "ec2:DescribeIamInstanceProfileAssociations",
					   "iam:PassRole", NULL };
static const char *const replace_perms[] = { "ec2:ReplaceIamInstanceProfileAssociation",
					     "ec2:DescribeIamInstanceProfileAssociations",
					     "iam:PassRole", NULL };
static const char *const disassoc_perms[] = { "ec2:DisassociateIamInstanceProfile",
					      "ec2:DescribeIamInstanceProfileAssociations", NULL };
static const char *const alloc_perms[] = { "ec2:AllocateHosts", "ec2:CreateTags", NULL };
/* Rollback (src/apply/steps.c): the same call with the values the
 * instance had before the cycle. */
static bool undo_placement(const struct np_step *s, const struct np_instance *b,
			   struct np_step *back)
{
	back->kind = s->kind;
	back->tenancy = b->tenancy;
	back->host_id = np_xstrdup(b->host_id);
	return true;
}

static bool undo_type(const struct np_step *s, const struct np_instance *b, struct np_step *back)
{
	back->kind = s->kind;
	back->instance_type = np_xstrdup(b->instance_type);
	return b->instance_type != NULL;
}

static bool undo_cpu(const struct np_step *s, const struct np_instance *b, struct np_step *back)
{
	back->kind = s->kind;
	back->core_count = b->core_count;
	back->threads_per_core = b->threads_per_core;
	back->nested_virtualization =
	    b->nested_virtualization ? b->nested_virtualization : NP_NV_DISABLED;
	return true;
}

/* An attribute the instance had not set stays as it now is. */
static bool undo_attribute(const struct np_step *s, const struct np_instance *b,
			   struct np_step *back)
{
	back->kind = s->kind;
	back->attr = s->attr;
	back->value = s->attr ? np_attr_text(s->attr, b) : NULL;
	return back->value != NULL;
}

static bool undo_root_dot(const struct np_step *s, const struct np_instance *b,
			  struct np_step *back)
{
	back->kind = s->kind;
	back->device_name = np_xstrdup(s->device_name);
	back->value = np_xstrdup(b->root_delete_on_termination == NP_BOOL_TRUE ? "true" : "false");
	return b->root_delete_on_termination && s->device_name;
}

/* Back to the profile it had, or to none (""). */
static bool undo_profile(const struct np_step *s, const struct np_instance *b, struct np_step *back)
{
	back->kind = s->kind;
	back->value = np_xstrdup(b->iam_instance_profile ? b->iam_instance_profile : "");
	return true;
}

#define PERM1(p)                  ((const char *const[]){ p, NULL })
#define VERBS(doing, still, done) doing, still, done
static const struct np_step_def step_defs[] = {
	[NP_STEP_RUN_INSTANCES] = { "run_instances", "RunInstances", run_perms, true,
				    VERBS("Launching", "still launching", "Launch complete") },
	[NP_STEP_STOP] = { "stop", "StopInstances", PERM1("ec2:StopInstances"), true,
			   VERBS("Stopping", "still stopping", "Stop complete"),
			   .batchable = true },
	[NP_STEP_MODIFY_PLACEMENT] = { "modify_placement", "ModifyInstancePlacement",
				       PERM1("ec2:ModifyInstancePlacement"), false,
				       VERBS("Modifying placement", "still modifying placement",
					     "Placement modified"),
				       .undo = undo_placement },
	[NP_STEP_MODIFY_INSTANCE_TYPE] = { "modify_instance_type", "ModifyInstanceAttribute",
					   PERM1("ec2:ModifyInstanceAttribute"), true,
					   VERBS("Changing instance type",
						 "still changing instance type",
						 "Instance type changed"),
					   .undo = undo_type },
	[NP_STEP_MODIFY_CPU_OPTIONS] = { "modify_cpu_options", "ModifyInstanceCpuOptions",
					 PERM1("ec2:ModifyInstanceCpuOptions"), true,
					 VERBS("Modifying CPU options",
					       "still modifying CPU options",
					       "CPU options modified"),
					 .undo = undo_cpu },
	[NP_STEP_START] = { "start", "StartInstances", PERM1("ec2:StartInstances"), true,
			    VERBS("Starting", "still starting", "Start complete"),
			    .batchable = true },
	[NP_STEP_CREATE_TAGS] = { "create_tags", "CreateTags", PERM1("ec2:CreateTags"), true,
				  VERBS("Tagging", "still tagging", "Tags set") },
	[NP_STEP_DELETE_TAGS] = { "delete_tags", "DeleteTags", PERM1("ec2:DeleteTags"), true,
				  VERBS("Removing tags", "still removing tags", "Tags removed") },
	[NP_STEP_TERMINATE] = { "terminate", "TerminateInstances", PERM1("ec2:TerminateInstances"),
				true,
				VERBS("Terminating", "still terminating", "Termination complete"),
				.batchable = true },
	/* The call, its permission and DryRun come from the attribute's entry. */
	[NP_STEP_SET_ATTRIBUTE] = { "set_attribute", NULL, PERM1(NULL), true,
				    VERBS("Modifying attributes", "still modifying attributes",
					  "Attributes modified"),
				    .undo = undo_attribute },
	/* No DryRun member on these (botocore's model): not checked in advance.
	 * Giving an instance a role needs iam:PassRole on it (IAM User Guide,
	 * "Using an IAM role to grant permissions to applications running on
	 * Amazon EC2 instances"); Describe finds the association to replace. */
	[NP_STEP_ASSOCIATE_IAM_PROFILE] = { "associate_iam_instance_profile",
					    "AssociateIamInstanceProfile", assoc_perms, false,
					    VERBS("Associating instance profile",
						  "still associating instance profile",
						  "Instance profile associated"),
					    .undo = undo_profile },
	[NP_STEP_REPLACE_IAM_PROFILE] = { "replace_iam_instance_profile",
					  "ReplaceIamInstanceProfileAssociation", replace_perms,
					  false,
					  VERBS("Replacing instance profile",
						"still replacing instance profile",
						"Instance profile replaced"),
					  .undo = undo_profile },
	[NP_STEP_DISASSOCIATE_IAM_PROFILE] = { "disassociate_iam_instance_profile",
					       "DisassociateIamInstanceProfile", disassoc_perms,
					       false,
					       VERBS("Disassociating instance profile",
						     "still disassociating instance profile",
						     "Instance profile disassociated"),
					       .undo = undo_profile },
	/* No undo: a volume does not shrink, and EC2 limits how often it may
	 * be modified. */
	[NP_STEP_MODIFY_VOLUME] = { "modify_volume", "ModifyVolume", PERM1("ec2:ModifyVolume"),
				    true,
				    VERBS("Modifying root volume", "still modifying root volume",
					  "Root volume modification started") },
	[NP_STEP_MODIFY_ROOT_DELETE_ON_TERMINATION] = { "modify_root_delete_on_termination",
							"ModifyInstanceAttribute",
							PERM1("ec2:ModifyInstanceAttribute"), true,
							VERBS("Setting root volume delete on "
							      "termination",
							      "still setting delete on termination",
							      "Delete on termination set"),
							.undo = undo_root_dot },
	/* The old text is not kept (only its hash): no undo. */
	[NP_STEP_MODIFY_USER_DATA] = { "modify_user_data", "ModifyInstanceAttribute",
				       PERM1("ec2:ModifyInstanceAttribute"), true,
				       VERBS("Replacing user data", "still replacing user data",
					     "User data replaced") },
	/* Dedicated Hosts: EC2's model has no DryRun on any of the three.
	 * Tagging at allocation needs ec2:CreateTags as at launch. */
	[NP_STEP_ALLOCATE_HOSTS] = { "allocate_hosts", "AllocateHosts", alloc_perms, false,
				     VERBS("Allocating host", "still allocating host",
					   "Host allocated") },
	[NP_STEP_MODIFY_HOSTS] = { "modify_hosts", "ModifyHosts", PERM1("ec2:ModifyHosts"), false,
				   VERBS("Modifying host", "still modifying host",
					 "Host modified") },
	[NP_STEP_RELEASE_HOSTS] = { "release_hosts", "ReleaseHosts", PERM1("ec2:ReleaseHosts"),
				    false,
				    VERBS("Releasing host (once it holds no instance)",
					  "still waiting for the host to be empty",
					  "Host released") },
};
#undef VERBS
#undef PERM1
_Static_assert(sizeof(step_defs) / sizeof(step_defs[0]) == NP_STEP__COUNT,
	       "every step kind has its entry in step_defs");

const struct np_step_def *np_step_def(enum np_step_kind k)
{
	return (unsigned)k < NP_STEP__COUNT ? &step_defs[k] : NULL;
}

void np_plan_unchecked_permissions(const struct np_plan *plan, struct np_strv *out)
{
	bool seen[NP_STEP__COUNT] = { false };

	for (size_t i = 0; i < plan->n_changes; i++)
		for (size_t k = 0; k < plan->changes[i].n_steps; k++) {
			const struct np_step *s = &plan->changes[i].steps[k];

			seen[s->kind] = true;
			if (s->kind == NP_STEP_SET_ATTRIBUTE && !np_step_dry_run(s)) {
				char *perm = np_xasprintf("ec2:%s", np_step_action(s));
				bool dup = false;

				for (size_t j = 0; j < out->n && !dup; j++)
					dup = !strcmp(out->v[j], perm);
				if (!dup)
					np_strv_push(out, perm);
				free(perm);
			}
		}
	for (int k = 0; k < NP_STEP__COUNT; k++) {
		if (!seen[k] || step_defs[k].dry_run || !step_defs[k].permissions[0])
			continue;
		for (const char *const *p = step_defs[k].permissions; *p; p++) {
			bool dup = false;

			for (size_t j = 0; j < out->n && !dup; j++)
				dup = !strcmp(out->v[j], *p);
			if (!dup)
				np_strv_push(out, *p);
		}
	}
}

const char *np_action_name(enum np_action a)
{
	return (unsigned)a < sizeof(actions) / sizeof(actions[0]) ? actions[a] : "no-op";
}

const char *np_step_name(enum np_step_kind k)
{
	return (unsigned)k < NP_STEP__COUNT ? step_defs[k].name : "?";
}

int np_step_parse(const char *name)
{
	for (int i = 0; i < NP_STEP__COUNT; i++)
		if (!strcmp(step_defs[i].name, name))
			return i;
	for (size_t i = 0; i < np_n_attrs; i++)
		if (np_attrs[i].gen &&
		    ((np_attrs[i].step_on && !strcmp(np_attrs[i].step_on, name)) ||
		     (np_attrs[i].step_off && !strcmp(np_attrs[i].step_off, name))))
			return NP_STEP_SET_ATTRIBUTE;
	return -1;
}

static bool turns_off(const struct np_step *s)
{
	return s->attr->type == NP_ATTR_BOOL && s->value && !strcmp(s->value, "false");
}

const char *np_step_label(const struct np_step *s)
{
	if (s->kind != NP_STEP_SET_ATTRIBUTE || !s->attr)
		return np_step_name(s->kind);
	return turns_off(s) && s->attr->step_off ? s->attr->step_off : s->attr->step_on;
}

const char *np_step_action(const struct np_step *s)
{
	if (s->kind != NP_STEP_SET_ATTRIBUTE || !s->attr)
		return step_defs[s->kind].action;
	return turns_off(s) && s->attr->set_action_off ? s->attr->set_action_off
						       : s->attr->set_action;
}

bool np_step_dry_run(const struct np_step *s)
{
	return s->kind == NP_STEP_SET_ATTRIBUTE && s->attr ? s->attr->set_dry_run
							   : step_defs[s->kind].dry_run;
}

bool np_step_undo(const struct np_step *s, const struct np_instance *before, struct np_step *back)
{
	memset(back, 0, sizeof(*back));
	if ((unsigned)s->kind >= NP_STEP__COUNT || !step_defs[s->kind].undo)
		return false;
	if (step_defs[s->kind].undo(s, before, back))
		return true;
	np_step_release(back);
	return false;
}

int np_action_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(actions[i], name))
			return (int)i;
	return -1;
}

void np_step_release(struct np_step *s)
{
	free(s->value);
	free(s->instance_type);
	free(s->host_id);
	free(s->host_address);
	free(s->volume_id);
	free(s->device_name);
	np_tags_release(&s->tags);
}

void np_change_release(struct np_change *c)
{
	free(c->address);
	free(c->instance_id);
	free(c->host_id);
	free(c->group);
	free(c->replace_reason);
	for (size_t i = 0; i < c->n_steps; i++)
		np_step_release(&c->steps[i]);
	free(c->steps);
	for (size_t i = 0; i < c->n_attrs; i++) {
		free(c->attrs[i].name);
		free(c->attrs[i].before);
		free(c->attrs[i].after);
	}
	free(c->attrs);
	np_instance_release(&c->before);
	np_instance_release(&c->after);
	np_host_release(&c->host_before);
	np_host_release(&c->host_after);
	memset(c, 0, sizeof(*c));
}

void np_plan_release(struct np_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_changes; i++)
		np_change_release(&plan->changes[i]);
	free(plan->changes);
	for (size_t i = 0; i < plan->n_drift; i++) {
		free(plan->drift[i].address);
		free(plan->drift[i].instance_id);
		free(plan->drift[i].attribute);
		free(plan->drift[i].recorded);
		free(plan->drift[i].live);
	}
	free(plan->drift);
	for (size_t i = 0; i < plan->n_diags; i++) {
		free(plan->diags[i].address);
		free(plan->diags[i].message);
	}
	free(plan->diags);
	free(plan->lineage);
	memset(plan, 0, sizeof(*plan));
}

bool np_plan_has_errors(const struct np_plan *plan)
{
	for (size_t i = 0; i < plan->n_diags; i++)
		if (plan->diags[i].severity == NP_SEV_ERROR)
			return true;
	return false;
}

bool np_plan_has_changes(const struct np_plan *plan)
{
	for (size_t i = 0; i < plan->n_changes; i++)
		if (plan->changes[i].action != NP_ACTION_NOOP)
			return true;
	return false;
}

/* "runner[10]" after "runner[9]": the name, then the index as a number. */
int np_address_cmp(const char *a, const char *b)
{
	const char *ba = strchr(a, '['), *bb = strchr(b, '[');
	size_t la = ba ? (size_t)(ba - a) : strlen(a), lb = bb ? (size_t)(bb - b) : strlen(b);
	int c = strncmp(a, b, la < lb ? la : lb);

	if (c)
		return c;
	if (la != lb)
		return la < lb ? -1 : 1;
	if (!ba || !bb)
		return ba ? 1 : bb ? -1 : 0;
	return (atol(ba + 1) > atol(bb + 1)) - (atol(ba + 1) < atol(bb + 1));
}
