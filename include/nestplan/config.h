/* The YAML file: libyaml -> a typed Desired model, with every error as
 * FILE:LINE:COLUMN: error: message. */
#ifndef NESTPLAN_CONFIG_H
#define NESTPLAN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "nestplan/error.h"
#include "nestplan/host.h"
#include "nestplan/model.h"

/* The keys of an instance entry (and of defaults:), so that a rule can point
 * at the one it is about. NP_KEY_ENTRY is the entry's name under instances:. */
enum np_cfg_key {
	NP_KEY_ENTRY = 0,
	NP_KEY_COUNT,
	NP_KEY_INSTANCE_ID,
	NP_KEY_IMAGE_ID,
	NP_KEY_INSTANCE_TYPE,
	NP_KEY_KEY_NAME,
	NP_KEY_SUBNET_ID,
	NP_KEY_SECURITY_GROUP_IDS,
	NP_KEY_USER_DATA,
	NP_KEY_PLATFORM,
	NP_KEY_CPU_OPTIONS,
	NP_KEY_CORE_COUNT,
	NP_KEY_THREADS_PER_CORE,
	NP_KEY_NESTED_VIRTUALIZATION,
	NP_KEY_PLACEMENT,
	NP_KEY_TENANCY,
	NP_KEY_HOST_ID,
	NP_KEY_AVAILABILITY_ZONE,
	NP_KEY_HIBERNATION,
	NP_KEY_STATE,
	NP_KEY_TAGS,
	NP_KEY_ROLLOUT,
	NP_KEY_MAX_UNAVAILABLE,
	NP_KEY_LIFECYCLE,
	NP_KEY_PREVENT_DESTROY,
	NP_KEY_CREATE_BEFORE_DESTROY,
	NP_KEY_USER_DATA_CHANGE,
	/* placement.host, and the keys of an entry under hosts: (issue 18) */
	NP_KEY_HOST,
	NP_KEY_INSTANCE_FAMILY,
	NP_KEY_AUTO_PLACEMENT,
	NP_KEY_HOST_RECOVERY,
	NP_KEY__COUNT,
};
/* "cpu_options.core_count"; "" for NP_KEY_ENTRY. */
const char *np_cfg_key_name(enum np_cfg_key k);

/* A stretch of the file: lines and columns from 1 (columns in characters),
 * byte offsets from 0, end exclusive, as Terraform's diagnostic ranges. */
struct np_pos {
	int line, column;
	size_t byte;
};
struct np_span {
	struct np_pos start, end;
};

/* One key as written in the file: from the key to the end of its value. */
struct np_keypos {
	enum np_cfg_key key;
	struct np_span span;
};

/* lifecycle.user_data_change: how a change of user_data is made. */
enum np_ud_change { NP_UD_UNSET = 0, NP_UD_REPLACE, NP_UD_IN_PLACE };

struct np_desired {
	struct np_instance want; /* address and attributes; unset = unmanaged */
	char *name;              /* the key under instances: */
	int index;               /* -1 when the entry has no count */
	const char *user_data;   /* the text, for RunInstances only; secret-ish; borrowed
	                            * from np_config.texts, shared by a count's instances */
	int max_unavailable;     /* 0: unset (one at a time) */
	bool max_unavailable_percent;
	bool prevent_destroy;
	bool create_before_destroy;
	enum np_ud_change user_data_change; /* UNSET: replace */
	int line, column;                   /* where the entry starts in the file */
	size_t keys_at, n_keys;             /* its keys in np_config.keypos (copies of a
	                              count share them) */
};

/* An entry under hosts:, count expanded as instances are. */
struct np_desired_host {
	struct np_host want; /* address and attributes; unset = unmanaged */
	char *name;          /* the key under hosts: */
	int index;           /* -1 when the entry has no count */
	bool prevent_destroy;
	int line, column;
	size_t keys_at, n_keys; /* its keys in np_config.keypos */
};

struct np_config {
	char *path;
	int version;
	char *region; /* provider.*; NULL when unset */
	char *profile;
	char *endpoint;
	struct { /* backend: s3: — has_backend when present */
		char *bucket, *key, *region, *endpoint, *kms_key_id;
	} backend;
	bool has_backend;
	struct np_desired *instances; /* in file order, count expanded */
	size_t n_instances;
	struct np_desired_host *hosts; /* in file order, count expanded */
	size_t n_hosts;
	struct np_strv host_groups; /* every name under hosts:, count 0 included */
	char sha256[65];            /* of the file's bytes; saved plans refer to it */
	struct np_desired **index;  /* by address, for np_config_find */
	struct np_keypos *keypos;   /* every key of every entry, entry by entry */
	size_t n_keypos, alloc_keypos;
	size_t defaults_at, n_defaults_keys; /* those of defaults: */
	struct np_strv texts;                /* every user_data text, once: entries point into it */
};

/* One problem the loader found, for validate -json. */
struct np_config_diag {
	char *message;
	bool has_span; /* false: about the file as a whole */
	struct np_span span;
};
struct np_config_diags {
	struct np_config_diag *v;
	size_t n, alloc;
	int not_shown; /* errors beyond NP_CONFIG_MAX_ERRORS */
};
#define NP_CONFIG_DIAGS_INIT  \
	{                     \
		NULL, 0, 0, 0 \
	}
void np_config_diags_release(struct np_config_diags *d);

/* Limits that bound what a file can make us allocate. */
#define NP_CONFIG_MAX_BYTES     (16u * 1024 * 1024)
#define NP_CONFIG_MAX_COUNT     100000
#define NP_CONFIG_MAX_INSTANCES 100000 /* after count expansion, all groups */
#define NP_CONFIG_MAX_ERRORS    20

/* Load and check a file. On failure err->msg holds every error found (up to
 * NP_CONFIG_MAX_ERRORS), one "FILE:LINE:COLUMN: error: ..." per line. */
int np_config_load(struct np_config **out, const char *path, struct np_err *err);
/* The same from memory; name is used in messages. */
int np_config_parse(struct np_config **out, const char *name, const char *data, size_t len,
		    struct np_err *err);
/* validate's form: every error is also a record in diags, with its span, and
 * *out is the configuration as far as it could be read even when there were
 * errors (the values in error left unset; NULL only when the file cannot be
 * read or is not YAML), so the rules can be checked in the same run. -1 when
 * there was an error. */
int np_config_check(struct np_config **out, const char *path, struct np_config_diags *diags,
		    struct np_err *err);
int np_config_check_data(struct np_config **out, const char *name, const char *data, size_t len,
			 struct np_config_diags *diags, struct np_err *err);
void np_config_free(struct np_config *cfg);
/* Where KEY is written for this instance: in its entry, else under defaults:
 * (where the value came from), else NULL. NP_KEY_ENTRY: the entry itself. */
const struct np_span *np_config_key_span(const struct np_config *cfg, const struct np_desired *d,
					 enum np_cfg_key key);
const struct np_desired *np_config_find(const struct np_config *cfg, const char *address);
const struct np_desired_host *np_config_find_host(const struct np_config *cfg, const char *address);

#endif
