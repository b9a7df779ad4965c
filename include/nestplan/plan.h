/* The planner: a pure function (desired, recorded, live, catalog) -> plan.
 * No I/O, no clock, no environment: adapters fill the inputs. */
#ifndef NESTPLAN_PLAN_H
#define NESTPLAN_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "nestplan/config.h"
#include "nestplan/error.h"
#include "nestplan/host.h"
#include "nestplan/model.h"

enum np_action {
	NP_ACTION_NOOP = 0,
	NP_ACTION_CREATE,
	NP_ACTION_UPDATE,
	NP_ACTION_REPLACE,
	NP_ACTION_DELETE,
};

/* Order matters only inside one instance's list; names are the JSON contract. */
enum np_step_kind {
	NP_STEP_RUN_INSTANCES = 0,
	NP_STEP_STOP,
	NP_STEP_MODIFY_PLACEMENT,
	NP_STEP_MODIFY_INSTANCE_TYPE,
	NP_STEP_MODIFY_CPU_OPTIONS,
	NP_STEP_START,
	NP_STEP_CREATE_TAGS,
	NP_STEP_DELETE_TAGS,
	NP_STEP_TERMINATE,
	NP_STEP_SET_ATTRIBUTE, /* a gen attribute: its entry names the call */
	/* The instance profile (attr and value say which): live, no DryRun. */
	NP_STEP_ASSOCIATE_IAM_PROFILE,
	NP_STEP_REPLACE_IAM_PROFILE,
	NP_STEP_DISASSOCIATE_IAM_PROFILE,
	NP_STEP_MODIFY_VOLUME, /* the root volume: every change in one ModifyVolume */
	NP_STEP_MODIFY_ROOT_DELETE_ON_TERMINATION, /* ModifyInstanceAttribute BlockDeviceMapping */
	NP_STEP_MODIFY_USER_DATA, /* lifecycle.user_data_change: in_place; the text is the file's */
	/* Dedicated Hosts (a change of kind NP_KIND_HOST); tags: create/delete_tags. */
	NP_STEP_ALLOCATE_HOSTS, /* AllocateHosts Quantity=1 with the change's host_after */
	NP_STEP_MODIFY_HOSTS,   /* AutoPlacement and/or HostRecovery */
	NP_STEP_RELEASE_HOSTS,  /* after every instance on it is gone or moved */
	NP_STEP__COUNT,
};

struct np_step;

/* What is the same for every step of a kind (src/plan/names.c). */
struct np_step_def {
	const char *name;               /* the JSON contract: "modify_cpu_options" */
	const char *action;             /* the EC2 action that carries it */
	const char *const *permissions; /* IAM permissions, NULL-terminated */
	bool dry_run;                   /* EC2 accepts DryRun on the action */
	/* apply's progress: "Stopping", "still stopping", "Stop complete" */
	const char *doing, *still, *done;
	bool batchable; /* one call serves several instances (StopInstances …) */
	/* Rollback: the step that puts back what s changed (the same kind with
	 * before's values) into *back: true, or false when nothing is to be put
	 * back. NULL: the step is never undone (tags and run state need none; a
	 * volume does not shrink; a host allocation is not given back). */
	bool (*undo)(const struct np_step *s, const struct np_instance *before,
		     struct np_step *back);
};
const struct np_step_def *np_step_def(enum np_step_kind k);

struct np_step {
	enum np_step_kind kind;
	bool irreversible; /* EC2 allows no way back (a tenancy move) */
	/* Parameters; only those of the kind are set. */
	char *instance_type;              /* modify_instance_type */
	int core_count;                   /* modify_cpu_options; 0: not sent */
	int threads_per_core;             /* sent together with core_count */
	enum np_nv nested_virtualization; /* modify_cpu_options; UNSET: not sent */
	enum np_tenancy tenancy;          /* modify_placement */
	char *host_id;                    /* modify_placement */
	struct np_tags tags;              /* create_tags: keys+values; delete_tags: keys */
	const struct np_attr_def *attr;   /* set_attribute: which one */
	char *value;                      /* set_attribute: the new value as text */
	char *volume_id;                  /* modify_volume */
	int size_gib, volume_type, iops, throughput; /* modify_volume; 0: not sent */
	char *device_name; /* modify_root_delete_on_termination (value: true/false) */
	/* run_instances, modify_placement: the address of the host to place the
	 * instance on; apply sends the HostId the state has for it by then. */
	char *host_address;
	enum np_bool auto_placement, host_recovery; /* modify_hosts; UNSET: not sent */
};

/* One attribute a change changes, as the plan JSON's "attributes" lists it. */
struct np_attr_change {
	char *name;           /* "cpu_options.core_count", "tags.team" */
	char *before, *after; /* as text; NULL: unset */
	enum np_policy policy;
};

/* The two kinds of resource a plan changes; "kind" in the plan JSON. */
enum np_kind { NP_KIND_INSTANCE = 0, NP_KIND_HOST };
const char *np_kind_name(enum np_kind k); /* "instance", "host" */

struct np_change {
	enum np_kind kind;
	char *address;
	char *instance_id; /* NULL for create, and for a host */
	char *host_id;     /* a host change's host; NULL for create */
	char *group;       /* the name under instances: ("runner") */
	enum np_action action;
	bool requires_stop;
	bool adopt;           /* instance_id: in the file, not yet in state */
	char *replace_reason; /* the attribute forcing a replacement */
	bool irreversible;    /* a step of the cycle cannot be undone */
	struct np_step *steps;
	size_t n_steps, alloc_steps;
	struct np_attr_change *attrs;
	size_t n_attrs, alloc_attrs;
	bool has_before, has_after;
	struct np_instance before; /* what exists (live, else recorded) */
	struct np_instance after;  /* what will exist (unset: unmanaged/unknown) */
	/* kind NP_KIND_HOST: the same for the host (before, after above unused). */
	struct np_host host_before, host_after;
};

struct np_drift {
	enum np_kind kind;
	char *address;
	char *instance_id; /* kind host: the host's id */
	char *attribute;   /* "instance_type", "state", "tags.team", "instance", "host" ... */
	char *recorded;    /* NULL shows as null */
	char *live;
};

enum np_severity { NP_SEV_ERROR = 0, NP_SEV_WARNING };

struct np_diag {
	enum np_severity severity;
	char *address;
	char *message;       /* "what is wrong; how to fix it" */
	enum np_cfg_key key; /* the key it is about; NP_KEY_ENTRY: the instance */
};

struct np_plan_summary {
	int add, change, destroy, stop_start;
};

struct np_plan {
	char *lineage; /* of the state the plan was made against */
	long long serial;
	char config_sha256[65];
	bool refresh_only;
	bool destroy;
	struct np_change *changes;
	size_t n_changes, alloc_changes;
	struct np_drift *drift;
	size_t n_drift, alloc_drift;
	struct np_diag *diags;
	size_t n_diags, alloc_diags;
	struct np_plan_summary summary;
};

struct np_plan_input {
	const struct np_config *config;     /* may be NULL for destroy */
	const struct np_instance *recorded; /* from the state */
	size_t n_recorded;
	const struct np_instance *live; /* from EC2; with -refresh=false, the recorded */
	size_t n_live;
	const struct np_catalog *catalog;
	/* Dedicated Hosts: from the state, and from DescribeHosts (with
	 * -refresh=false, the recorded). */
	const struct np_host *recorded_hosts;
	size_t n_recorded_hosts;
	const struct np_host *live_hosts;
	size_t n_live_hosts;
	const char *lineage;
	long long serial;
	const char *const *targets; /* "name" selects every name[i] */
	size_t n_targets;
	const char *const *replace;
	size_t n_replace;
	bool destroy;
	bool refresh_only;
};

/* Build the plan. Rule violations are diagnostics in the plan, not failures;
 * -1 only for invalid input. */
int np_plan_build(struct np_plan *out, const struct np_plan_input *in, struct np_err *err);
void np_plan_release(struct np_plan *plan);
bool np_plan_has_errors(const struct np_plan *plan);
bool np_plan_has_changes(const struct np_plan *plan);

const char *np_action_name(enum np_action a);  /* "create", ..., "no-op" */
const char *np_step_name(enum np_step_kind k); /* "run_instances", ... */
/* The step's name in the plan: its kind's, or for set_attribute the one its
 * attribute's entry gives ("monitor", "modify_metadata_options"). */
const char *np_step_label(const struct np_step *s);
/* The EC2 action a step calls, and whether EC2 lets it be dry-run. */
const char *np_step_action(const struct np_step *s);
bool np_step_dry_run(const struct np_step *s);
int np_step_parse(const char *name); /* -1 when unknown */
/* The step that reverses s on an instance that was `before` (its kind's
 * undo): true and *back filled (np_step_release it), or false. */
bool np_step_undo(const struct np_step *s, const struct np_instance *before, struct np_step *back);
void np_step_release(struct np_step *s);

int np_action_parse(const char *name); /* -1 when unknown */
void np_change_release(struct np_change *c);
/* Natural order of addresses: name, then index as a number. */
int np_address_cmp(const char *a, const char *b);

/* A tenancy change on a stopped instance (src/plan/tenancy.c). A move to
 * another Dedicated Host keeps the tenancy: it is in place and reversible. */
enum np_tenancy_move {
	NP_MOVE_NONE = 0,     /* the same tenancy */
	NP_MOVE_IN_PLACE,     /* ModifyInstancePlacement, and back the same way */
	NP_MOVE_IRREVERSIBLE, /* ModifyInstancePlacement, with no way back */
	NP_MOVE_REPLACE,      /* EC2 does not change it in place */
};
enum np_tenancy_move np_tenancy_move(enum np_tenancy from, enum np_tenancy to);

/* The IAM permissions of the plan's steps that EC2 cannot dry-run, each
 * once, in step order: nothing checks them before anything is stopped. */
void np_plan_unchecked_permissions(const struct np_plan *plan, struct np_strv *out);

/* A saved plan, checked again at apply time (src/plan/saved.c): every change
 * acts only on an instance this state manages under that address, one the
 * file adopts, or one the plan launches, and EC2 still reports it as the
 * plan saw it. -1 with the first change that does not hold. */
int np_plan_check_saved(const struct np_plan *plan, const struct np_config *config,
			const struct np_instance *recorded, size_t n_recorded,
			const struct np_instance *live, size_t n_live, const char *lineage,
			struct np_err *err);

/* Diagnostics the file alone can produce against a catalog (validate). */
int np_plan_check_config(struct np_plan *out, const struct np_config *config,
			 const struct np_catalog *catalog, struct np_err *err);

#endif
