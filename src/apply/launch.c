/* Plan steps as EC2 requests: launches with their ClientToken, modify and
 * tag calls, and the undo of a modification for a rollback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/launch.h"
#include "nestplan/alloc.h"
#include "nestplan/ec2.h"
#include "nestplan/sha256.h"

void np_apply_client_token(char out[65], const char *lineage, const char *address, int generation)
{
	char hash[65], *raw = np_xasprintf("%s|%s|%d", lineage ? lineage : "", address, generation);

	/* Readable where it fits (np-<lineage8>-<address>-g<N>), hashed otherwise;
	 * either way the same inputs give the same token. */
	if (strlen(address) <= 40 &&
	    strspn(address, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-[]") ==
		strlen(address)) {
		snprintf(out, 65, "np-%.8s-%s-g%d", lineage ? lineage : "", address, generation);
	} else {
		np_sha256_hex(raw, strlen(raw), hash);
		snprintf(out, 65, "np-%.40s", hash);
	}
	free(raw);
}

int np_launch_token(struct np_state *st, const char *address, const char *resume_token,
		    char out[65], struct np_err *err)
{
	int gen;

	if (resume_token) {
		snprintf(out, 65, "%s", resume_token);
		return 0;
	}
	if (np_state_next_generation(st, address, &gen, err) < 0)
		return -1;
	np_apply_client_token(out, np_state_lineage(st), address, gen);
	return 0;
}

bool np_launch_address_index(const char *address, size_t *name_len, long *index)
{
	const char *open = address ? strrchr(address, '[') : NULL;
	char *end;

	if (!open || open[1] < '0' || open[1] > '9')
		return false;
	*index = strtol(open + 1, &end, 10);
	if (end[0] != ']' || end[1])
		return false;
	*name_len = (size_t)(open - address);
	return true;
}

static bool same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

bool np_launch_same(const struct np_instance *a, const struct np_instance *b)
{
	return same_str(a->image_id, b->image_id) && same_str(a->instance_type, b->instance_type) &&
	       same_str(a->key_name, b->key_name) && same_str(a->subnet_id, b->subnet_id) &&
	       a->security_groups_set == b->security_groups_set &&
	       np_strv_equal_unordered(&a->security_group_ids, &b->security_group_ids) &&
	       same_str(a->user_data_sha256, b->user_data_sha256) && a->platform == b->platform &&
	       a->core_count == b->core_count && a->threads_per_core == b->threads_per_core &&
	       a->nested_virtualization == b->nested_virtualization && a->tenancy == b->tenancy &&
	       same_str(a->host_id, b->host_id) && same_str(a->host_address, b->host_address) &&
	       same_str(a->availability_zone, b->availability_zone) &&
	       a->hibernation == b->hibernation && np_tags_equal(&a->tags, &b->tags);
}

int np_launch_run(struct np_aws *aws, const struct np_change *c, const struct np_desired *d,
		  const char *lineage, const char *token, bool dry_run, struct np_instance *out,
		  struct np_err *err)
{
	struct np_apply_ec2 ec2;

	np_apply_ec2_default(&ec2, aws);
	return np_launch_run_cat(&ec2, c, d, lineage, NULL, token, dry_run, out, err);
}

int np_launch_run_cat(const struct np_apply_ec2 *ec2, const struct np_change *c,
		      const struct np_desired *d, const char *lineage, const struct np_catalog *cat,
		      const char *token, bool dry_run, struct np_instance *out, struct np_err *err)
{
	struct np_instance *got = NULL;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (np_launch_run_many(ec2, c, d, lineage, cat, c->address, 1, token, dry_run, &got, &n,
			       err) < 0)
		return -1;
	np_instance_copy(out, &got[0]);
	np_instances_free(got, n);
	return 0;
}

static bool root_volume_set(const struct np_instance *w)
{
	for (size_t i = 0; i < np_n_attrs; i++)
		if (!strncmp(np_attrs[i].name, "root_volume.", 12) &&
		    np_attr_is_set(&np_attrs[i], w))
			return true;
	return false;
}

int np_launch_run_many(const struct np_apply_ec2 *ec2, const struct np_change *c,
		       const struct np_desired *d, const char *lineage,
		       const struct np_catalog *cat, const char *address_tag, int count,
		       const char *token, bool dry_run, struct np_instance **out, size_t *n_out,
		       struct np_err *err)
{
	const struct np_instance *w = &c->after;
	const struct np_itype *type =
	    cat && w->instance_type ? np_catalog_find(cat, w->instance_type) : NULL;
	struct np_tags tags = NP_TAGS_INIT;
	struct np_ec2_launch req;
	struct np_instance attrs;
	char *root_device = NULL;
	int rc;

	*out = NULL;
	*n_out = 0;
	if (!w->image_id || !w->instance_type)
		return np_error(err, "cannot launch '%s': image_id and instance_type are needed",
				c->address);
	if (d && root_volume_set(&d->want) && ec2->image_root) {
		/* The mapping goes on the image's root device, as DescribeImages names it. */
		int snap = 0;

		if (ec2->image_root(ec2->ctx, w->image_id, &root_device, &snap, err) < 0)
			return np_error_prefix(err, "root_volume of '%s'", c->address);
		if (d->want.root_size_gib && snap && d->want.root_size_gib < snap) {
			free(root_device);
			return np_error(
			    err,
			    "'%s': root_volume.size_gib %d is below the size of image %s's "
			    "snapshot (%d GiB)",
			    c->address, d->want.root_size_gib, w->image_id, snap);
		}
	}
	np_tags_copy(&tags, &w->tags);
	np_tags_set(&tags, NP_TAG_ADDRESS, address_tag);
	np_tags_set(&tags, NP_TAG_LINEAGE, lineage ? lineage : "");
	memset(&req, 0, sizeof(req));
	/* EC2 takes core count and threads per core together: the one the file
	 * leaves out is the type's default, as the modify path sends it. */
	np_instance_copy(&attrs, w);
	if ((w->core_count || w->threads_per_core) && type) {
		if (!attrs.core_count)
			attrs.core_count = type->default_cores;
		if (!attrs.threads_per_core)
			attrs.threads_per_core = type->default_threads_per_core;
	}
	req.user_data = d ? d->user_data : NULL;
	req.attrs = &attrs;
	req.root_device_name = root_device;
	req.root = d ? &d->want : NULL;
	req.tags = &tags;
	req.client_token = token;
	req.count = count;
	req.dry_run = dry_run;
	rc = ec2->run_instances(ec2->ctx, &req, out, n_out, err);
	np_instance_release(&attrs);
	np_tags_release(&tags);
	free(root_device);
	if (rc == 0 && *n_out != (size_t)count) {
		rc =
		    np_error(err, "RunInstances (%s): asked for %d instances, the answer lists %zu",
			     address_tag, count, *n_out);
		np_instances_free(*out, *n_out);
		*out = NULL;
		*n_out = 0;
	}
	return rc;
}

/* The call that carries each kind of modify and tag step, by kind: the
 * step table (src/plan/names.c) names the action, this one sends it. It
 * lives here and not in that table because the planner is linked without
 * the EC2 client (plan_DEPS) and stays pure. NULL: not a modification. */
typedef int (*step_call)(struct np_aws *aws, const char *id, const struct np_step *s, bool dry_run,
			 struct np_err *err);

static int call_placement(struct np_aws *aws, const char *id, const struct np_step *s, bool dry_run,
			  struct np_err *err)
{
	return np_ec2_modify_placement(aws, id, s->tenancy, s->host_id, dry_run, err);
}

static int call_instance_type(struct np_aws *aws, const char *id, const struct np_step *s,
			      bool dry_run, struct np_err *err)
{
	return np_ec2_modify_instance_type(aws, id, s->instance_type, dry_run, err);
}

static int call_cpu_options(struct np_aws *aws, const char *id, const struct np_step *s,
			    bool dry_run, struct np_err *err)
{
	return np_ec2_modify_cpu_options(aws, id, s->core_count, s->threads_per_core,
					 s->nested_virtualization, dry_run, err);
}

static int call_create_tags(struct np_aws *aws, const char *id, const struct np_step *s,
			    bool dry_run, struct np_err *err)
{
	return np_ec2_create_tags(aws, &id, 1, &s->tags, dry_run, err);
}

static int call_delete_tags(struct np_aws *aws, const char *id, const struct np_step *s,
			    bool dry_run, struct np_err *err)
{
	return np_ec2_delete_tags(aws, &id, 1, &s->tags, dry_run, err);
}

static int call_stop(struct np_aws *aws, const char *id, const struct np_step *s, bool dry_run,
		     struct np_err *err)
{
	return np_ec2_stop_instances(aws, &id, 1, dry_run, err);
}

static int call_start(struct np_aws *aws, const char *id, const struct np_step *s, bool dry_run,
		      struct np_err *err)
{
	return np_ec2_start_instances(aws, &id, 1, dry_run, err);
}

static int call_terminate(struct np_aws *aws, const char *id, const struct np_step *s, bool dry_run,
			  struct np_err *err)
{
	return np_ec2_terminate_instances(aws, &id, 1, dry_run, err);
}

static int call_set_attribute(struct np_aws *aws, const char *id, const struct np_step *s,
			      bool dry_run, struct np_err *err)
{
	return np_ec2_set_attribute(aws, id, s->attr, s->value, dry_run, err);
}

static int call_volume(struct np_aws *aws, const char *id, const struct np_step *s, bool dry_run,
		       struct np_err *err)
{
	if (!s->volume_id)
		return np_error(err, "%s: EC2 reported no root volume to modify", id);
	return np_ec2_modify_volume(aws, s->volume_id, s->size_gib,
				    s->volume_type ? np_volume_types[s->volume_type] : NULL,
				    s->iops, s->throughput, dry_run, err);
}

static int call_root_dot(struct np_aws *aws, const char *id, const struct np_step *s, bool dry_run,
			 struct np_err *err)
{
	if (!s->device_name)
		return np_error(err, "%s: EC2 reported no root device", id);
	return np_ec2_modify_root_delete_on_termination(
	    aws, id, s->device_name, s->value && !strcmp(s->value, "true"), dry_run, err);
}

static int call_iam_profile(struct np_aws *aws, const char *id, const struct np_step *s,
			    bool dry_run, struct np_err *err)
{
	if (dry_run)
		return np_error(err, "%s cannot be dry-run", np_step_def(s->kind)->action);
	return np_ec2_set_iam_instance_profile(aws, id, s->value ? s->value : "", err);
}

static int call_user_data(struct np_aws *aws, const char *id, const struct np_step *s, bool dry_run,
			  struct np_err *err)
{
	/* The text is the file's, never in the plan: steps.c puts it in a copy
	 * of the step; a dry run sends none. */
	if (!dry_run && !s->value)
		return np_error(err, "modify_user_data needs the file's user data");
	return np_ec2_modify_user_data(aws, id, dry_run ? "" : s->value, dry_run, err);
}

static const step_call step_calls[NP_STEP__COUNT] = {
	[NP_STEP_MODIFY_PLACEMENT] = call_placement,
	[NP_STEP_MODIFY_INSTANCE_TYPE] = call_instance_type,
	[NP_STEP_MODIFY_CPU_OPTIONS] = call_cpu_options,
	[NP_STEP_CREATE_TAGS] = call_create_tags,
	[NP_STEP_DELETE_TAGS] = call_delete_tags,
	[NP_STEP_STOP] = call_stop,
	[NP_STEP_START] = call_start,
	[NP_STEP_TERMINATE] = call_terminate,
	[NP_STEP_SET_ATTRIBUTE] = call_set_attribute,
	[NP_STEP_MODIFY_VOLUME] = call_volume,
	[NP_STEP_MODIFY_ROOT_DELETE_ON_TERMINATION] = call_root_dot,
	[NP_STEP_ASSOCIATE_IAM_PROFILE] = call_iam_profile,
	[NP_STEP_REPLACE_IAM_PROFILE] = call_iam_profile,
	[NP_STEP_DISASSOCIATE_IAM_PROFILE] = call_iam_profile,
	[NP_STEP_MODIFY_USER_DATA] = call_user_data,
};

int np_launch_modify(struct np_aws *aws, const char *id, const struct np_step *s, bool dry_run,
		     struct np_err *err)
{
	if ((unsigned)s->kind >= NP_STEP__COUNT || !step_calls[s->kind])
		/* run_instances and the host steps have calls of their own */
		return np_error(err, "step %s is not a modification", np_step_name(s->kind));
	return step_calls[s->kind](aws, id, s, dry_run, err);
}

int np_launch_undo(struct np_aws *aws, const char *id, const struct np_step *s,
		   const struct np_instance *before, struct np_err *err)
{
	struct np_step back;
	int rc = 0;

	/* The step table says which call puts it back, with what values. */
	if (np_step_undo(s, before, &back)) {
		rc = np_launch_modify(aws, id, &back, false, err);
		np_step_release(&back);
	}
	return rc;
}

/* The real client's side of struct np_apply_ec2: ctx is the np_aws. */
static int real_run(void *ctx, const struct np_ec2_launch *req, struct np_instance **out, size_t *n,
		    struct np_err *err)
{
	return np_ec2_run_instances(ctx, req, out, n, err);
}

static int real_describe_ids(void *ctx, const char *const *ids, size_t n_ids,
			     struct np_instance **out, size_t *n, struct np_err *err)
{
	return np_ec2_describe_instances_by_id(ctx, ids, n_ids, out, n, err);
}

static int real_describe_filter(void *ctx, const char *name, const char *const *values,
				size_t n_values, struct np_instance **out, size_t *n,
				struct np_err *err)
{
	return np_ec2_describe_instances_filter(ctx, name, values, n_values, out, n, err);
}

static int real_stop(void *ctx, const char *const *ids, size_t n, struct np_err *err)
{
	return np_ec2_stop_instances(ctx, ids, n, false, err);
}

static int real_start(void *ctx, const char *const *ids, size_t n, struct np_err *err)
{
	return np_ec2_start_instances(ctx, ids, n, false, err);
}

static int real_terminate(void *ctx, const char *const *ids, size_t n, struct np_err *err)
{
	return np_ec2_terminate_instances(ctx, ids, n, false, err);
}

static int real_modify(void *ctx, const char *id, const struct np_step *s, struct np_err *err)
{
	return np_launch_modify(ctx, id, s, false, err);
}

static int real_undo(void *ctx, const char *id, const struct np_step *s,
		     const struct np_instance *before, struct np_err *err)
{
	return np_launch_undo(ctx, id, s, before, err);
}

static int real_image_root(void *ctx, const char *image_id, char **device, int *snapshot_gib,
			   struct np_err *err)
{
	return np_ec2_image_root(ctx, image_id, device, snapshot_gib, err);
}

/* Dedicated Hosts: the calls as they are (none takes DryRun). */
static int real_allocate_hosts(void *ctx, const struct np_ec2_allocate *req, struct np_strv *ids,
			       struct np_err *err)
{
	return np_ec2_allocate_hosts(ctx, req, ids, err);
}

static int real_hosts_by_id(void *ctx, const char *const *ids, size_t n_ids, struct np_host **out,
			    size_t *n, struct np_err *err)
{
	return np_ec2_describe_hosts_by_id(ctx, ids, n_ids, out, n, err);
}

static int real_hosts_filter(void *ctx, const char *name, const char *const *values, size_t nv,
			     struct np_host **out, size_t *n, struct np_err *err)
{
	return np_ec2_describe_hosts_filter(ctx, name, values, nv, out, n, err);
}

static int real_modify_hosts(void *ctx, const char *const *ids, size_t n, enum np_bool ap,
			     enum np_bool hr, struct np_err *err)
{
	return np_ec2_modify_hosts(ctx, ids, n, ap, hr, err);
}

static int real_release_hosts(void *ctx, const char *const *ids, size_t n, struct np_err *err)
{
	return np_ec2_release_hosts(ctx, ids, n, err);
}

void np_apply_ec2_default(struct np_apply_ec2 *out, struct np_aws *aws)
{
	*out = (struct np_apply_ec2){
		.run_instances = real_run,
		.describe_instances_by_id = real_describe_ids,
		.describe_instances_filter = real_describe_filter,
		.stop_instances = real_stop,
		.start_instances = real_start,
		.terminate_instances = real_terminate,
		.modify = real_modify,
		.undo = real_undo,
		.image_root = real_image_root,
		.allocate_hosts = real_allocate_hosts,
		.describe_hosts_by_id = real_hosts_by_id,
		.describe_hosts_filter = real_hosts_filter,
		.modify_hosts = real_modify_hosts,
		.release_hosts = real_release_hosts,
		.ctx = aws,
	};
}
