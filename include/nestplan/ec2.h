/* Typed EC2 operations on np_aws_call: each builds its Query parameters
 * (np_ec2_*_query, testable alone), makes the call, and reads the answer
 * by local element names (np_ec2_parse_*). */
#ifndef NESTPLAN_EC2_H
#define NESTPLAN_EC2_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "nestplan/aws.h"
#include "nestplan/host.h"
#include "nestplan/model.h"

/* EC2's limits per call. */
#define NP_EC2_MAX_IDS           1000 /* InstanceId.N, ResourceId.N */
#define NP_EC2_MAX_FILTER_VALUES 200  /* Filter.N.Value.M */
#define NP_EC2_PAGE              1000 /* DescribeInstances MaxResults */
#define NP_EC2_TYPES_PER_CALL    100  /* DescribeInstanceTypes InstanceType.N */
/* Bounds on one listing: ten times the pages and instances of the largest
 * fleet a file may hold (100,000 instances, NP_CONFIG_MAX_INSTANCES), as
 * terminated instances and other tools' instances are listed too. */
#define NP_EC2_MAX_PAGES  1000
#define NP_EC2_MAX_LISTED 1000000

/* RunInstances: every attribute of attrs that the table gives a launch
 * parameter is sent (image_id and instance_type are needed). */
struct np_ec2_launch {
	const struct np_instance *attrs; /* what to launch; CPU options with their defaults */
	const char *user_data;           /* plain text; base64-encoded on the wire */
	const struct np_tags *tags;      /* incl. nestplan:address and nestplan:lineage */
	const char *root_device_name;    /* the image's: where root_volume's values go */
	const struct np_instance *root;  /* root_volume's values: the file's only */
	const char *client_token;
	int count; /* MinCount = MaxCount; 0 means 1 */
	bool dry_run;
};

void np_ec2_run_instances_query(struct np_query *q, const struct np_ec2_launch *req);
int np_ec2_run_instances(struct np_aws *aws, const struct np_ec2_launch *req,
			 struct np_instance **out, size_t *n, struct np_err *err);

/* The answer's root element must be ACTION "Response"; an EC2 error
 * document that came with a success status, an HTML page or anything else is
 * an error naming the action and what came. Depth and text lengths are
 * bounded too. root (may be NULL) receives the root element. */
int np_ec2_answer_root(xmlDoc *doc, const char *action, xmlNode **root, struct np_err *err);
/* Parse one instancesSet item; an item without what the plan needs (id,
 * type, state) or with a number out of range is an error (out released). */
int np_ec2_parse_instance(xmlNode *item, struct np_instance *out, struct np_err *err);
/* Every instance of a DescribeInstances or RunInstances (action) answer,
 * appended; on error nothing is appended. */
int np_ec2_parse_instances(xmlDoc *doc, const char *action, struct np_instance **v, size_t *n,
			   size_t *alloc, char **next_token, struct np_err *err);

/* Every page of DescribeInstances for the filters in base (MaxResults and
 * NextToken are added), appended to v. */
int np_ec2_describe_pages(struct np_aws *aws, struct np_query *base, struct np_instance **v,
			  size_t *n, size_t *alloc, struct np_err *err);
/* The instances tagged with a lineage, listed as `streams` (1, 2, 4, 8 or 16)
 * independent paginated listings at once, partitioned on the last hex digit
 * of the instance id (the instance-id filter takes wildcards): every
 * instance falls in exactly one stream. */
int np_ec2_describe_lineage(struct np_aws *aws, const char *lineage, int streams,
			    struct np_instance **out, size_t *n, struct np_err *err);
/* How many streams a fleet of n recorded instances is listed in: one page
 * each at most, one stream for a small fleet. */
int np_ec2_refresh_streams(size_t n);

/* By id, with the instance-id filter so an id EC2 does not know (yet) is
 * just absent; any number of ids, in batches. */
int np_ec2_describe_instances_by_id(struct np_aws *aws, const char *const *ids, size_t n_ids,
				    struct np_instance **out, size_t *n, struct np_err *err);
/* Filter NAME=VALUES, all pages of NP_EC2_PAGE; a NextToken seen twice or
 * more than NP_EC2_MAX_PAGES pages end the listing with an error. */
int np_ec2_describe_instances_filter(struct np_aws *aws, const char *name,
				     const char *const *values, size_t n_values,
				     struct np_instance **out, size_t *n, struct np_err *err);

int np_ec2_stop_instances(struct np_aws *aws, const char *const *ids, size_t n, bool dry_run,
			  struct np_err *err);
int np_ec2_start_instances(struct np_aws *aws, const char *const *ids, size_t n, bool dry_run,
			   struct np_err *err);
int np_ec2_terminate_instances(struct np_aws *aws, const char *const *ids, size_t n, bool dry_run,
			       struct np_err *err);
void np_ec2_ids_query(struct np_query *q, const char *const *ids, size_t n, bool dry_run);

/* ModifyInstanceAttribute UserData.Value: the text, base64 as botocore sends
 * a blob; the instance must be stopped. */
int np_ec2_modify_user_data(struct np_aws *aws, const char *id, const char *text, bool dry_run,
			    struct np_err *err);
int np_ec2_modify_instance_type(struct np_aws *aws, const char *id, const char *type, bool dry_run,
				struct np_err *err);
/* core_count/threads_per_core 0: not sent; nv UNSET: not sent. */
void np_ec2_modify_cpu_options_query(struct np_query *q, const char *id, int core_count,
				     int threads_per_core, enum np_nv nv, bool dry_run);
int np_ec2_modify_cpu_options(struct np_aws *aws, const char *id, int core_count,
			      int threads_per_core, enum np_nv nv, bool dry_run,
			      struct np_err *err);
/* A gen attribute's call, as its entry names it (src/model/attrs.c); value
 * as np_attr_text gives it. */
void np_ec2_set_attribute_query(struct np_query *q, const char *id, const struct np_attr_def *a,
				const char *value, bool dry_run);
int np_ec2_set_attribute(struct np_aws *aws, const char *id, const struct np_attr_def *a,
			 const char *value, bool dry_run, struct np_err *err);
/* Associate, replace or (profile "") disassociate the instance profile, as
 * DescribeIamInstanceProfileAssociations finds the instance now. */
int np_ec2_set_iam_instance_profile(struct np_aws *aws, const char *id, const char *profile,
				    struct np_err *err);
/* The root volumes of these instances (root_volume_id, from DescribeInstances)
 * in batched DescribeVolumes calls: size, type, IOPS, throughput, encryption
 * and key into each. */
int np_ec2_read_root_volumes(struct np_aws *aws, struct np_instance *in, size_t n,
			     struct np_err *err);
/* DescribeImages: the image's root device name and its snapshot's size. */
int np_ec2_image_root(struct np_aws *aws, const char *image_id, char **device, int *snapshot_gib,
		      struct np_err *err);
/* ModifyVolume with every change at once; 0/NULL: not sent. */
int np_ec2_modify_volume(struct np_aws *aws, const char *volume_id, int size_gib, const char *type,
			 int iops, int throughput, bool dry_run, struct np_err *err);
/* ModifyInstanceAttribute BlockDeviceMapping on the root device. */
int np_ec2_modify_root_delete_on_termination(struct np_aws *aws, const char *id, const char *device,
					     bool on, bool dry_run, struct np_err *err);
/* DescribeInstanceAttribute: one instance, one attribute ("disableApiStop");
 * *value is the text of its <value> (caller frees), NULL when EC2 gives none. */
int np_ec2_describe_instance_attribute(struct np_aws *aws, const char *id, const char *attribute,
				       char **value, struct np_err *err);
int np_ec2_modify_placement(struct np_aws *aws, const char *id, enum np_tenancy tenancy,
			    const char *host_id, bool dry_run, struct np_err *err);

int np_ec2_create_tags(struct np_aws *aws, const char *const *ids, size_t n,
		       const struct np_tags *tags, bool dry_run, struct np_err *err);
/* Deletes the keys of tags (values ignored). */
int np_ec2_delete_tags(struct np_aws *aws, const char *const *ids, size_t n,
		       const struct np_tags *tags, bool dry_run, struct np_err *err);

/* Dedicated Hosts (src/aws/ec2_hosts.c). None of these calls takes DryRun. */
struct np_ec2_allocate {
	const struct np_host *host; /* family or type, zone, auto placement, recovery */
	const struct np_tags *tags; /* incl. nestplan:address and nestplan:lineage */
	const char *client_token;
	int quantity; /* 0 means 1 */
};
void np_ec2_allocate_hosts_query(struct np_query *q, const struct np_ec2_allocate *req);
/* The ids of hostIdSet into ids. */
int np_ec2_allocate_hosts(struct np_aws *aws, const struct np_ec2_allocate *req,
			  struct np_strv *ids, struct np_err *err);
/* Every item of a DescribeHosts answer, appended; on error nothing is. */
int np_ec2_parse_hosts(xmlDoc *doc, struct np_host **v, size_t *n, size_t *alloc, char **next_token,
		       struct np_err *err);
/* By id (an id EC2 no longer knows is just absent), in batches. */
int np_ec2_describe_hosts_by_id(struct np_aws *aws, const char *const *ids, size_t n_ids,
				struct np_host **out, size_t *n, struct np_err *err);
/* Filter NAME=VALUES, every page of NP_EC2_HOSTS_PAGE, bounded as instance
 * listings are. */
int np_ec2_describe_hosts_filter(struct np_aws *aws, const char *name, const char *const *values,
				 size_t n_values, struct np_host **out, size_t *n,
				 struct np_err *err);
/* ModifyHosts: UNSET values are not sent. A host in the answer's
 * `unsuccessful` (inside an HTTP 200) is a failure: -1 naming the host and
 * EC2's code. */
int np_ec2_modify_hosts(struct np_aws *aws, const char *const *ids, size_t n,
			enum np_bool auto_placement, enum np_bool host_recovery,
			struct np_err *err);
/* ReleaseHosts: the same for `unsuccessful`; a host refused because
 * instances still occupy it has err->code "Client.InvalidHost.Occupied". */
int np_ec2_release_hosts(struct np_aws *aws, const char *const *ids, size_t n, struct np_err *err);

/* DescribeInstanceTypes for these names (batches of 100, all pages). */
int np_ec2_describe_instance_types(struct np_aws *aws, const char *const *names, size_t n,
				   struct np_catalog *out, struct np_err *err);
int np_ec2_parse_instance_types(xmlDoc *doc, struct np_catalog *out, char **next_token,
				struct np_err *err);

#endif
