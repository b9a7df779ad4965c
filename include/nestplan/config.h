/* The YAML file: libyaml -> a typed Desired model, with every error as
 * FILE:LINE:COLUMN: error: message. */
#ifndef NESTPLAN_CONFIG_H
#define NESTPLAN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "nestplan/error.h"
#include "nestplan/model.h"

struct np_desired {
	struct np_instance want;   /* address and attributes; unset = unmanaged */
	char *name;                /* the key under instances: */
	int index;                 /* -1 when the entry has no count */
	char *user_data;           /* the text, for RunInstances only; secret-ish */
	int max_unavailable;       /* 0: unset (one at a time) */
	bool max_unavailable_percent;
	bool prevent_destroy;
	bool create_before_destroy;
	int line, column;          /* where the entry starts in the file */
};

struct np_config {
	char *path;
	int version;
	char *region;              /* provider.*; NULL when unset */
	char *profile;
	char *endpoint;
	struct {                   /* backend: s3: — has_backend when present */
		char *bucket, *key, *region, *endpoint, *kms_key_id;
	} backend;
	bool has_backend;
	struct np_desired *instances; /* in file order, count expanded */
	size_t n_instances;
	char sha256[65];           /* of the file's bytes; saved plans refer to it */
	struct np_desired **index; /* by address, for np_config_find */
};

/* Limits that bound what a file can make us allocate. */
#define NP_CONFIG_MAX_BYTES   (16u * 1024 * 1024)
#define NP_CONFIG_MAX_COUNT   100000
#define NP_CONFIG_MAX_INSTANCES 100000  /* after count expansion, all groups */
#define NP_CONFIG_MAX_ERRORS  20

/* Load and check a file. On failure err->msg holds every error found (up to
 * NP_CONFIG_MAX_ERRORS), one "FILE:LINE:COLUMN: error: ..." per line. */
int np_config_load(struct np_config **out, const char *path, struct np_err *err);
/* The same from memory; name is used in messages. */
int np_config_parse(struct np_config **out, const char *name, const char *data, size_t len,
                    struct np_err *err);
void np_config_free(struct np_config *cfg);
const struct np_desired *np_config_find(const struct np_config *cfg, const char *address);

#endif
