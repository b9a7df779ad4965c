/* The shared vocabulary: one EC2 instance as the file wants it, as the state
 * recorded it and as EC2 reports it, and the instance-type catalog. */
#ifndef NESTPLAN_MODEL_H
#define NESTPLAN_MODEL_H

#include <stdbool.h>
#include <stddef.h>

/* Every enum starts with UNSET = 0: in a desired instance, unset means the
 * attribute is not managed; a zeroed struct is an empty instance. */
enum np_nv { NP_NV_UNSET = 0, NP_NV_DISABLED, NP_NV_ENABLED };
enum np_tenancy { NP_TENANCY_UNSET = 0, NP_TENANCY_DEFAULT, NP_TENANCY_DEDICATED, NP_TENANCY_HOST };
enum np_platform { NP_PLATFORM_UNSET = 0, NP_PLATFORM_LINUX, NP_PLATFORM_WINDOWS };
enum np_bool { NP_BOOL_UNSET = 0, NP_BOOL_FALSE, NP_BOOL_TRUE };
enum np_run_state {
	NP_RUN_UNSET = 0,
	NP_RUN_PENDING,
	NP_RUN_RUNNING,
	NP_RUN_SHUTTING_DOWN,
	NP_RUN_TERMINATED,
	NP_RUN_STOPPING,
	NP_RUN_STOPPED,
};

/* The tags nestplan puts on instances it launches or adopts. */
#define NP_TAG_ADDRESS "nestplan:address"
#define NP_TAG_LINEAGE "nestplan:lineage"

struct np_strv {
	char **v;
	size_t n, alloc;
};
#define NP_STRV_INIT       \
	{                  \
		NULL, 0, 0 \
	}

struct np_tag {
	char *key;
	char *value;
};

struct np_tags {
	struct np_tag *v;
	size_t n, alloc;
};
#define NP_TAGS_INIT       \
	{                  \
		NULL, 0, 0 \
	}

struct np_instance {
	char *address;     /* "runner[0]", "legacy"; NULL when unknown */
	char *instance_id; /* desired: set only to adopt an instance */
	char *image_id;
	char *instance_type;
	char *key_name;
	char *subnet_id;
	struct np_strv security_group_ids;
	bool security_groups_set; /* distinguishes "[]" from unmanaged */
	char *user_data_sha256;   /* hex SHA-256; the text is never kept here */
	enum np_platform platform;
	int core_count;       /* 0: unset */
	int threads_per_core; /* 0: unset */
	enum np_nv nested_virtualization;
	enum np_tenancy tenancy;
	char *host_id;
	/* placement.host (issue 18). Desired: the name the file gives, a group
	 * under hosts: ("kvm-hosts") or one host ("kvm-hosts[1]"); planned and
	 * recorded: the address of the host the instance is placed on, whose
	 * host_id apply reads from the state when it launches or moves it. */
	char *host_address;
	char *availability_zone;
	enum np_bool hibernation;
	enum np_run_state state;
	struct np_tags tags; /* user tags; nestplan:* tags never appear here */
	bool tags_set;       /* desired: the file manages tags */
	/* What only EC2 knows (live); recorded too so a state is self-describing. */
	bool spot;
	char *client_token;
	char *lineage; /* value of the nestplan:lineage tag */
	char *launch_time;
	char *owner_id; /* the account, from the reservation's ownerId */
	/* Attributes the table reads, writes and sends by itself (gen entries of
	 * src/model/attrs.c): a field here and a line there is all they need. */
	enum np_bool ebs_optimized;
	enum np_bool monitoring;
	enum np_bool disable_api_termination;
	enum np_bool disable_api_stop;
	int http_tokens; /* metadata_options: 1 optional, 2 required */
	int http_put_response_hop_limit;
	int http_endpoint;          /* 1 disabled, 2 enabled */
	int instance_metadata_tags; /* 1 disabled, 2 enabled */
	int http_protocol_ipv6;     /* 1 disabled, 2 enabled */
	char *placement_group;
	char *iam_instance_profile; /* a name or an ARN; "": none (EC2 reports none) */
	/* root_volume: on the image's root device (DescribeVolumes reads it back). */
	int root_size_gib;
	int root_type; /* NP_VOLUME_TYPE_NAMES order: 1 gp2 … 7 standard */
	int root_iops;
	int root_throughput; /* MiB/s */
	enum np_bool root_encrypted;
	char *root_kms_key_id; /* the key's ARN */
	enum np_bool root_delete_on_termination;
	/* Live only (DescribeInstances): where a change of the root volume goes. */
	char *root_device_name;
	char *root_volume_id;
};

/* EBS volume types, by value of root_type ([0] unused). */
extern const char *const np_volume_types[];
/* root_volume as EC2 validates it (limits per type), the file's values over
 * the instance's (cur may be NULL): NULL, or what is wrong (the caller frees). */
char *np_root_volume_check(const struct np_instance *want, const struct np_instance *cur);

/* An address a config can produce: NAME or NAME[INDEX], NAME 1 to 64
 * letters, digits, '_' or '-'. */
bool np_address_valid(const char *address);

/* Release every owned field and zero the struct. */
void np_instance_release(struct np_instance *in);
/* Deep copy of src into dst (dst is overwritten, not released). */
void np_instance_copy(struct np_instance *dst, const struct np_instance *src);
void np_instances_free(struct np_instance *v, size_t n);
/* Memory per instance: the strings a fleet's instances hold alike (image,
 * type, subnet, zone, key, lineage, account, user-data hash, tags) replaced by one
 * shared copy each, which np_instance_release does not free. For instances
 * that are read, not edited, once made (the listing's, the state's, a
 * count's copies in the file): code that edits a field frees it itself,
 * and a shared string must never be freed; np_instance_copy always gives
 * private strings. Thread-safe. */
void np_instance_share_strings(struct np_instance *in);
/* np_instance_copy, then np_instance_share_strings. */
void np_instance_copy_shared(struct np_instance *dst, const struct np_instance *src);
/* Frees the shared strings: only when no instance holds one (tests). */
void np_shared_strings_release(void);

void np_strv_push(struct np_strv *sv, const char *s);
void np_strv_release(struct np_strv *sv);
void np_strv_copy(struct np_strv *dst, const struct np_strv *src);
bool np_strv_equal_unordered(const struct np_strv *a, const struct np_strv *b);

/* Set (replace or add) a tag; keeps the list sorted by key. */
void np_tags_set(struct np_tags *t, const char *key, const char *value);
const char *np_tags_get(const struct np_tags *t, const char *key);
bool np_tags_remove(struct np_tags *t, const char *key);
void np_tags_release(struct np_tags *t);
void np_tags_copy(struct np_tags *dst, const struct np_tags *src);
bool np_tags_equal(const struct np_tags *a, const struct np_tags *b);

/* Names as EC2 and the config spell them, by value ([0] unused, NULL-ended). */
extern const char *const np_nv_names[], *const np_tenancy_names[], *const np_platform_names[],
								       *const np_run_state_names[];
/* Names as EC2 and the config spell them; NULL for UNSET. */
const char *np_nv_name(enum np_nv v);
const char *np_tenancy_name(enum np_tenancy v);
const char *np_platform_name(enum np_platform v);
const char *np_run_state_name(enum np_run_state v);
/* Parse; return UNSET (0) for an unknown name. Case-insensitive for platform. */
enum np_nv np_nv_parse(const char *s);
enum np_tenancy np_tenancy_parse(const char *s);
enum np_platform np_platform_parse(const char *s);
enum np_run_state np_run_state_parse(const char *s);

/* One instance type as DescribeInstanceTypes reports it. */
struct np_itype {
	char *name;
	int default_vcpus;
	int default_cores;
	int default_threads_per_core;
	int *valid_cores;
	size_t n_valid_cores;
	int *valid_threads;
	size_t n_valid_threads;
	bool nested_virtualization; /* "nested-virtualization" in SupportedFeatures */
	bool hibernation_supported;
	bool dedicated_hosts_supported;
	bool bare_metal;
	bool unknown; /* EC2 said InvalidInstanceType: not in this Region */
};

struct np_catalog {
	struct np_itype *v;
	size_t n, alloc;
	bool sorted;
};
#define NP_CATALOG_INIT           \
	{                         \
		NULL, 0, 0, false \
	}

void np_itype_release(struct np_itype *t);
void np_itype_copy(struct np_itype *dst, const struct np_itype *src);
/* Adds a copy (replacing an entry of the same name). */
void np_catalog_add(struct np_catalog *c, const struct np_itype *t);
const struct np_itype *np_catalog_find(const struct np_catalog *c, const char *name);
void np_catalog_release(struct np_catalog *c);
/* The offline fallback: the families nestplan knows, from the simulator's
 * catalog of real DescribeInstanceTypes data. */
void np_catalog_builtin(struct np_catalog *out);

/* The attribute table (src/model/attrs.c): one entry per managed attribute
 * of an instance, as tmux's options-table.c declares every option once.
 * Code that is the same for every attribute (drift, the plan's attribute
 * list, replacement reasons) is written over it. */
enum np_attr_type {
	NP_ATTR_STR,
	NP_ATTR_INT,
	NP_ATTR_ENUM,
	NP_ATTR_BOOL,
	NP_ATTR_STRV,
	/* A text the file gives, kept as its hex SHA-256 (a char *): the text
	 * stays once in np_config.texts (np_desired.user_data points at it),
	 * shown as "sha256:" and 12 digits, compared only where both sides know
	 * a hash. */
	NP_ATTR_SHA256,
	/* A map of user tags (a struct np_tags, set_flag its bool): merged key
	 * by key with defaults, a change or drift per key ("tags.team"). */
	NP_ATTR_TAGS,
};

/* How EC2 changes it on an existing instance. */
enum np_policy {
	NP_POLICY_REPLACE = 0, /* it cannot: a new instance */
	NP_POLICY_LIVE,        /* while it runs, no stop */
	NP_POLICY_STOPPED,     /* in the one stop/modify/start cycle */
	NP_POLICY_RUN_STATE,   /* the run state itself (stop, start) */
};

struct np_attr_def {
	const char *name; /* YAML path = state and plan JSON path = drift name */
	enum np_attr_type type;
	size_t offset;                       /* of the field in struct np_instance */
	const char *(*enum_name)(int value); /* NP_ATTR_ENUM, NP_ATTR_BOOL */
	enum np_policy policy;
	const char *step;       /* the step that carries a change; NULL: none */
	const char *launch;     /* the RunInstances parameter */
	const char *ec2;        /* where DescribeInstances reports it, as a path of elements */
	bool drift;             /* drift compares what was recorded with what EC2 reports
	                            * (describe_attribute ones: where the refresh read them) */
	const char *unset_text; /* how an unset value reads in a reason ("none"), NULL: "?" */
	/* gen: the loader, the state JSON, the refresh, the launch, the planner's
	 * steps and apply handle it from this entry alone. */
	bool gen;
	const char *const *names;       /* ENUM: the names by value, [0] unused */
	int min, max;                   /* INT: the range EC2 accepts */
	const char *ec2_true;           /* BOOL: EC2's word for true where not "true" ("enabled") */
	const char *set_action;         /* the call that changes it (for BOOL: to true) */
	const char *set_action_off;     /* BOOL: the call that turns it off, when it is another */
	const char *set_param;          /* the value's parameter; NULL: the call alone says it */
	const char *set_id_param;       /* "InstanceId" or "InstanceId.1" */
	bool set_dry_run;               /* EC2's model has DryRun on set_action */
	const char *step_on;            /* the step's name in the plan ("monitor") */
	const char *step_off;           /* BOOL: when turned off ("unmonitor"); NULL: step_on */
	const char *describe_attribute; /* only DescribeInstanceAttribute reports it */
	/* STR: two values mean the same (a profile's name and its ARN); NULL: strcmp. */
	bool (*same)(const char *x, const char *y);
	/* STR: what is wrong with a value from the file, NULL when EC2 takes it. */
	char *(*check)(const char *value);
	const char *launch_arn; /* STR: the RunInstances parameter for an ARN value */
	const char *ec2_absent; /* STR: the value when DescribeInstances has no element */
	bool own_steps;         /* the planner writes its steps by hand (not set_attribute) */
	/* What the generic loader, state, refresh and launch need beyond the
	 * type (every entry, gen or not, goes through them). */
	const char *id_prefix;         /* STR, STRV: an EC2 id ("ami" for ami-0123…) */
	const char *const *file_names; /* ENUM: the names the file may use; NULL: names */
	size_t set_flag;               /* STRV: the bool telling "[]" from unmanaged */
	const char *ec2_item;          /* STRV: the element in each item of the set */
	int ec2_max;                   /* INT: the largest EC2 may report, when above max */
	const char *(*ec2_map)(const char *text); /* EC2's word to the table's */
	bool ec2_required;                        /* refresh: an answer without it is refused */
	bool ec2_own;            /* refresh reads it by hand (state: from its code) */
	const char *launch_with; /* sent only when this attribute is set too */
	const char *launch_also; /* "Param=value" sent along with it */
	int json_rank;           /* state JSON: where it stands (0: after the rest) */
	const char *json_key;    /* state JSON: its key where not name ("user_data_sha256") */
};

extern const struct np_attr_def np_attrs[];
extern const size_t np_n_attrs;
const struct np_attr_def *np_attr_find(const char *name);
bool np_attr_is_set(const struct np_attr_def *a, const struct np_instance *in);
/* Both set and equal (security groups in any order). */
bool np_attr_equal(const struct np_attr_def *a, const struct np_instance *x,
		   const struct np_instance *y);
/* The value as text ("m8i.large", "8", "true", "[sg-1, sg-2]"); NULL when unset.
 * The caller frees. */
char *np_attr_text(const struct np_attr_def *a, const struct np_instance *in);
/* Whether want (the file's) changes cur: want sets it and cur has another
 * value or none (for NP_ATTR_SHA256: both know a hash and they differ). */
bool np_attr_changed(const struct np_attr_def *a, const struct np_instance *want,
		     const struct np_instance *cur);
/* NP_ATTR_TAGS, key by key: each key of x that y lacks or has otherwise,
 * then each key of y that x lacks, as ("tags.KEY", x's value, y's value),
 * a missing value NULL. */
void np_attr_each_key(const struct np_attr_def *a, const struct np_instance *x,
		      const struct np_instance *y,
		      void (*emit)(void *ctx, const char *name, const char *xv, const char *yv),
		      void *ctx);
const char *np_policy_name(enum np_policy p);
/* Set the field from text as EC2, the state or the file writes it: 0, or -1
 * when the text is no value of the attribute (out of range, unknown name). */
int np_attr_set_text(const struct np_attr_def *a, struct np_instance *in, const char *text);
/* The text to send EC2: BOOL "true"/"false" (or ec2_true), ENUM its name. */
char *np_attr_wire(const struct np_attr_def *a, const struct np_instance *in);
/* Release and copy the fields of the table's attributes (np_instance_release
 * and np_instance_copy call these). */
void np_attrs_release(struct np_instance *in);
void np_attrs_copy(struct np_instance *dst, const struct np_instance *src);
/* Every attribute src sets into dst (a list or a map whole); with keep,
 * only where dst has none. */
void np_attrs_overlay(struct np_instance *dst, const struct np_instance *src, bool keep);
/* Every attribute src sets and dst does not (defaults: merged into an
 * instance); a map key by key. */
void np_attrs_defaults(struct np_instance *dst, const struct np_instance *src);
/* What only DescribeInstanceAttribute reports (the protection flags), from
 * src where dst does not know it: DescribeInstances never tells them. */
void np_attrs_fill_described(struct np_instance *dst, const struct np_instance *src);

#endif
