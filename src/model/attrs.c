/* The attribute table: one line per attribute an instance has, and the
 * code that is the same for all of them. To add an attribute: a field in
 * struct np_instance, a line here, and (when EC2 needs a call of its own)
 * the step that carries a change. */
/* An entry names only what its attribute has; the rest is zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nestplan/alloc.h"
#include "nestplan/buf.h"
#include "nestplan/endpoints.h"
#include "nestplan/model.h"

#define OFF(f) offsetof(struct np_instance, f)

static const char *bool_name(int v)
{
	return v == NP_BOOL_TRUE ? "true" : v == NP_BOOL_FALSE ? "false" : NULL;
}

static const char *const http_tokens_names[] = { NULL, "optional", "required", NULL };
static const char *const switch_names[] = { NULL, "disabled", "enabled", NULL };

/* An instance profile by its name: an ARN's last path segment
 * (arn:aws:iam::123456789012:instance-profile/path/NAME). */
static const char *profile_name(const char *v)
{
	const char *slash;

	if (strncmp(v, "arn:", 4))
		return v;
	slash = strrchr(v, '/');
	return slash ? slash + 1 : v;
}

/* EC2 reports the ARN; the file may say the name: the same profile. */
static bool profile_same(const char *x, const char *y)
{
	if (!*x || !*y)
		return !*x && !*y;
	return !strcmp(profile_name(x), profile_name(y));
}

/* IAM's rules: a name of 1 to 128 of [A-Za-z0-9+=,.@_-] (the
 * InstanceProfileName pattern of IAM's API Reference), or an IAM ARN of
 * any partition whose resource is instance-profile/[PATH/]NAME. "" says
 * none. */
static char *profile_check(const char *v)
{
	const char *name = v;
	size_t len;

	if (!*v)
		return NULL;
	if (!strncmp(v, "arn:", 4)) {
		struct np_arn arn;
		struct np_err e = NP_ERR_INIT;
		bool ok;

		if (np_arn_parse(&arn, v, &e) < 0)
			return np_xasprintf("must be an instance profile name or ARN: %s", e.msg);
		ok = !strcmp(arn.service, "iam") && !*arn.region && strlen(arn.account) == 12 &&
		     strspn(arn.account, "0123456789") == 12 &&
		     !strncmp(arn.resource, "instance-profile/", 17);
		np_arn_release(&arn);
		if (!ok)
			return np_xasprintf("'%s' is not an instance profile ARN "
					    "(arn:PARTITION:iam::ACCOUNT:instance-profile/NAME)",
					    v);
		name = profile_name(v);
	}
	len = strlen(name);
	if (!len || len > 128 ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789+=,.@_-") != len)
		return np_xasprintf(
		    "'%s' is not an instance profile name (1 to 128 letters, digits "
		    "or +=,.@_-); \"\" says none",
		    name);
	return NULL;
}

const char *const np_volume_types[] = { NULL,  "gp2", "gp3",      "io1", "io2",
					"st1", "sc1", "standard", NULL };

/* The key's ARN, as DescribeVolumes reports it: an alias, a key id or an
 * alias ARN would never compare equal. */
static char *kms_check(const char *v)
{
	struct np_arn arn;
	struct np_err e = NP_ERR_INIT;
	bool ok;

	if (!strncmp(v, "alias/", 6) || strstr(v, ":alias/"))
		return np_xasprintf(
		    "'%s' is a KMS alias: use the key's ARN "
		    "(arn:aws:kms:REGION:ACCOUNT:key/KEY-ID), which is what EC2 reports",
		    v);
	if (np_arn_parse(&arn, v, &e) < 0)
		return np_xasprintf(
		    "must be the KMS key's ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID): "
		    "%s",
		    e.msg);
	ok = !strcmp(arn.service, "kms") && !strncmp(arn.resource, "key/", 4) && arn.resource[4];
	np_arn_release(&arn);
	return ok ? NULL
		  : np_xasprintf(
			"'%s' is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID)", v);
}

/* family.size: lowercase letters, digits and '-', one dot in between. */
static char *type_check(const char *t)
{
	const char *ok = "abcdefghijklmnopqrstuvwxyz0123456789-";
	size_t a = strspn(t, ok);

	if (a > 0 && t[a] == '.' && strspn(t + a + 1, ok) > 0 && !t[a + 1 + strspn(t + a + 1, ok)])
		return NULL;
	return np_xasprintf("must look like m8i.2xlarge, not '%s'", t);
}

static char *zone_check(const char *z)
{
	regex_t re;
	bool ok = false;

	if (!regcomp(&re, "^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$", REG_EXTENDED | REG_NOSUB)) {
		ok = regexec(&re, z, 0, NULL, 0) == 0;
		regfree(&re);
	}
	return ok ? NULL : np_xasprintf("must look like us-east-1a, not '%s'", z);
}

/* What DescribeInstances says, as the table spells it: EC2 leaves out what
 * is the default (no platform element on Linux, no nestedVirtualization
 * when it is off), and a word nestplan does not know is the default too. */
static const char *platform_of(const char *s)
{
	return !strcasecmp(s, "windows") ? "windows" : "linux";
}

static const char *nv_of(const char *s) { return !strcmp(s, "enabled") ? "enabled" : "disabled"; }

static const char *tenancy_of(const char *s) { return np_tenancy_parse(s) ? s : "default"; }

/* What the file may say of the run state (the others are EC2's own). */
static const char *const state_file_names[] = { "running", "stopped", NULL };

/* Drift lists in this order. json_rank keeps the state JSON's keys where
 * they were before the table (address and instance_id lead). */
const struct np_attr_def np_attrs[] = {
	{ "instance_type", NP_ATTR_STR, OFF(instance_type), NULL, NP_POLICY_STOPPED,
	  "modify_instance_type", "InstanceType", "instanceType", true, NULL, .max = 64,
	  .check = type_check, .ec2_required = true, .json_rank = 1 },
	{ "image_id", NP_ATTR_STR, OFF(image_id), NULL, NP_POLICY_REPLACE, NULL, "ImageId",
	  "imageId", true, NULL, .id_prefix = "ami", .json_rank = 3 },
	/* EC2 takes core count and threads per core together or not at all. */
	{ "cpu_options.core_count", NP_ATTR_INT, OFF(core_count), NULL, NP_POLICY_STOPPED,
	  "modify_cpu_options", "CpuOptions.CoreCount", "cpuOptions/coreCount", true, NULL,
	  .min = 1, .max = 512, .ec2_max = 4096, .launch_with = "cpu_options.threads_per_core",
	  .json_rank = 8 },
	{ "cpu_options.threads_per_core", NP_ATTR_INT, OFF(threads_per_core), NULL,
	  NP_POLICY_STOPPED, "modify_cpu_options", "CpuOptions.ThreadsPerCore",
	  "cpuOptions/threadsPerCore", true, NULL, .min = 1, .max = 2, .ec2_max = 16,
	  .launch_with = "cpu_options.core_count", .json_rank = 9 },
	{ "cpu_options.nested_virtualization", NP_ATTR_ENUM, OFF(nested_virtualization), NULL,
	  NP_POLICY_STOPPED, "modify_cpu_options", "CpuOptions.NestedVirtualization",
	  "cpuOptions/nestedVirtualization", true, NULL, .names = np_nv_names,
	  .ec2_absent = "disabled", .ec2_map = nv_of, .json_rank = 10 },
	/* The direction decides (src/plan/tenancy.c): in the cycle or a replacement. */
	{ "placement.tenancy", NP_ATTR_ENUM, OFF(tenancy), NULL, NP_POLICY_STOPPED,
	  "modify_placement", "Placement.Tenancy", "placement/tenancy", true, NULL,
	  .names = np_tenancy_names, .ec2_absent = "default", .ec2_map = tenancy_of,
	  .json_rank = 11 },
	{ "placement.host_id", NP_ATTR_STR, OFF(host_id), NULL, NP_POLICY_STOPPED,
	  "modify_placement", "Placement.HostId", "placement/hostId", true, NULL, .id_prefix = "h",
	  .launch_also = "Placement.Affinity=host", .json_rank = 12 },
	/* Read from its code, which EC2 always sends (src/aws/ec2_parse.c). */
	{ "state", NP_ATTR_ENUM, OFF(state), NULL, NP_POLICY_RUN_STATE, NULL, NULL,
	  "instanceState/name", true, NULL, .names = np_run_state_names,
	  .file_names = state_file_names, .ec2_own = true, .json_rank = 2 },
	{ "platform", NP_ATTR_ENUM, OFF(platform), NULL, NP_POLICY_REPLACE, NULL, NULL, "platform",
	  true, NULL, .names = np_platform_names, .ec2_absent = "linux", .ec2_map = platform_of,
	  .json_rank = 7 },
	/* Each expanded instance copies the list: 16 (EC2's highest quota per
	 * network interface) keeps a long one times count small. */
	{ "security_group_ids", NP_ATTR_STRV, OFF(security_group_ids), NULL, NP_POLICY_REPLACE,
	  NULL, "SecurityGroupId", "groupSet", true, NULL, .max = 16, .id_prefix = "sg",
	  .set_flag = OFF(security_groups_set), .ec2_item = "groupId", .json_rank = 6 },
	{ "subnet_id", NP_ATTR_STR, OFF(subnet_id), NULL, NP_POLICY_REPLACE, NULL, "SubnetId",
	  "subnetId", false, NULL, .id_prefix = "subnet", .json_rank = 5 },
	{ "key_name", NP_ATTR_STR, OFF(key_name), NULL, NP_POLICY_REPLACE, NULL, "KeyName",
	  "keyName", false, "none", .json_rank = 4 },
	{ "hibernation", NP_ATTR_BOOL, OFF(hibernation), bool_name, NP_POLICY_REPLACE, NULL,
	  "HibernationOptions.Configured", "hibernationOptions/configured", false, NULL,
	  .json_rank = 14 },
	{ "placement.availability_zone", NP_ATTR_STR, OFF(availability_zone), NULL,
	  NP_POLICY_REPLACE, NULL, "Placement.AvailabilityZone", "placement/availabilityZone",
	  false, NULL, .max = 64, .check = zone_check, .json_rank = 13 },
	/* The attributes below are handled from their entry alone (gen). */
	{ "ebs_optimized", NP_ATTR_BOOL, OFF(ebs_optimized), bool_name, NP_POLICY_STOPPED, NULL,
	  "EbsOptimized", "ebsOptimized", true, NULL, .gen = true,
	  .set_action = "ModifyInstanceAttribute", .set_param = "EbsOptimized.Value",
	  .set_id_param = "InstanceId", .set_dry_run = true, .step_on = "modify_attribute" },
	{ "monitoring", NP_ATTR_BOOL, OFF(monitoring), bool_name, NP_POLICY_LIVE, NULL,
	  "Monitoring.Enabled", "monitoring/state", true, NULL, .gen = true, .ec2_true = "enabled",
	  .set_action = "MonitorInstances", .set_action_off = "UnmonitorInstances",
	  .set_id_param = "InstanceId.1", .set_dry_run = true, .step_on = "monitor",
	  .step_off = "unmonitor" },
	{ "disable_api_termination", NP_ATTR_BOOL, OFF(disable_api_termination), bool_name,
	  NP_POLICY_LIVE, NULL, "DisableApiTermination", NULL, true, NULL, .gen = true,
	  .set_action = "ModifyInstanceAttribute", .set_param = "DisableApiTermination.Value",
	  .set_id_param = "InstanceId", .set_dry_run = true, .step_on = "modify_attribute",
	  .describe_attribute = "disableApiTermination" },
	{ "disable_api_stop", NP_ATTR_BOOL, OFF(disable_api_stop), bool_name, NP_POLICY_LIVE, NULL,
	  "DisableApiStop", NULL, true, NULL, .gen = true, .set_action = "ModifyInstanceAttribute",
	  .set_param = "DisableApiStop.Value", .set_id_param = "InstanceId", .set_dry_run = true,
	  .step_on = "modify_attribute", .describe_attribute = "disableApiStop" },
	{ "metadata_options.http_tokens", NP_ATTR_ENUM, OFF(http_tokens), NULL, NP_POLICY_LIVE,
	  NULL, "MetadataOptions.HttpTokens", "metadataOptions/httpTokens", true, NULL, .gen = true,
	  .names = http_tokens_names, .set_action = "ModifyInstanceMetadataOptions",
	  .set_param = "HttpTokens", .set_id_param = "InstanceId", .set_dry_run = true,
	  .step_on = "modify_metadata_options" },
	{ "metadata_options.http_put_response_hop_limit", NP_ATTR_INT,
	  OFF(http_put_response_hop_limit), NULL, NP_POLICY_LIVE, NULL,
	  "MetadataOptions.HttpPutResponseHopLimit", "metadataOptions/httpPutResponseHopLimit",
	  true, NULL, .gen = true, .min = 1, .max = 64,
	  .set_action = "ModifyInstanceMetadataOptions", .set_param = "HttpPutResponseHopLimit",
	  .set_id_param = "InstanceId", .set_dry_run = true, .step_on = "modify_metadata_options" },
	{ "metadata_options.http_endpoint", NP_ATTR_ENUM, OFF(http_endpoint), NULL, NP_POLICY_LIVE,
	  NULL, "MetadataOptions.HttpEndpoint", "metadataOptions/httpEndpoint", true, NULL,
	  .gen = true, .names = switch_names, .set_action = "ModifyInstanceMetadataOptions",
	  .set_param = "HttpEndpoint", .set_id_param = "InstanceId", .set_dry_run = true,
	  .step_on = "modify_metadata_options" },
	{ "metadata_options.instance_metadata_tags", NP_ATTR_ENUM, OFF(instance_metadata_tags),
	  NULL, NP_POLICY_LIVE, NULL, "MetadataOptions.InstanceMetadataTags",
	  "metadataOptions/instanceMetadataTags", true, NULL, .gen = true, .names = switch_names,
	  .set_action = "ModifyInstanceMetadataOptions", .set_param = "InstanceMetadataTags",
	  .set_id_param = "InstanceId", .set_dry_run = true, .step_on = "modify_metadata_options" },
	{ "metadata_options.http_protocol_ipv6", NP_ATTR_ENUM, OFF(http_protocol_ipv6), NULL,
	  NP_POLICY_LIVE, NULL, "MetadataOptions.HttpProtocolIpv6",
	  "metadataOptions/httpProtocolIpv6", true, NULL, .gen = true, .names = switch_names,
	  .set_action = "ModifyInstanceMetadataOptions", .set_param = "HttpProtocolIpv6",
	  .set_id_param = "InstanceId", .set_dry_run = true, .step_on = "modify_metadata_options" },
	/* Placement groups need default or dedicated tenancy (src/plan/rules.c). */
	{ "placement.group_name", NP_ATTR_STR, OFF(placement_group), NULL, NP_POLICY_STOPPED, NULL,
	  "Placement.GroupName", "placement/groupName", true, NULL, .gen = true,
	  .set_action = "ModifyInstancePlacement", .set_param = "GroupName",
	  .set_id_param = "InstanceId", .set_dry_run = false, .step_on = "modify_placement_group" },
	/* Its own steps (associate, replace, disassociate: src/plan/build.c). */
	{ "iam_instance_profile", NP_ATTR_STR, OFF(iam_instance_profile), NULL, NP_POLICY_LIVE,
	  NULL, "IamInstanceProfile.Name", "iamInstanceProfile/arn", true, "none", .gen = true,
	  .same = profile_same, .check = profile_check, .launch_arn = "IamInstanceProfile.Arn",
	  .ec2_absent = "", .own_steps = true },
	/* The root volume: sent on the image's root device name, read back from
	 * DescribeVolumes (delete_on_termination from DescribeInstances); its
	 * live steps are modify_volume and modify_root_delete_on_termination. */
	{ "root_volume.size_gib", NP_ATTR_INT, OFF(root_size_gib), NULL, NP_POLICY_LIVE, NULL,
	  "BlockDeviceMapping.1.Ebs.VolumeSize", NULL, true, NULL, .gen = true, .min = 1,
	  .max = 65536, .own_steps = true },
	{ "root_volume.type", NP_ATTR_ENUM, OFF(root_type), NULL, NP_POLICY_LIVE, NULL,
	  "BlockDeviceMapping.1.Ebs.VolumeType", NULL, true, NULL, .gen = true,
	  .names = np_volume_types, .own_steps = true },
	{ "root_volume.iops", NP_ATTR_INT, OFF(root_iops), NULL, NP_POLICY_LIVE, NULL,
	  "BlockDeviceMapping.1.Ebs.Iops", NULL, true, NULL, .gen = true, .min = 100, .max = 256000,
	  .own_steps = true },
	{ "root_volume.throughput_mibps", NP_ATTR_INT, OFF(root_throughput), NULL, NP_POLICY_LIVE,
	  NULL, "BlockDeviceMapping.1.Ebs.Throughput", NULL, true, NULL, .gen = true, .min = 125,
	  .max = 2000, .own_steps = true },
	{ "root_volume.encrypted", NP_ATTR_BOOL, OFF(root_encrypted), bool_name, NP_POLICY_REPLACE,
	  NULL, "BlockDeviceMapping.1.Ebs.Encrypted", NULL, true, NULL, .gen = true,
	  .own_steps = true },
	{ "root_volume.kms_key_id", NP_ATTR_STR, OFF(root_kms_key_id), NULL, NP_POLICY_REPLACE,
	  NULL, "BlockDeviceMapping.1.Ebs.KmsKeyId", NULL, true, NULL, .gen = true,
	  .check = kms_check, .own_steps = true },
	{ "root_volume.delete_on_termination", NP_ATTR_BOOL, OFF(root_delete_on_termination),
	  bool_name, NP_POLICY_LIVE, NULL, "BlockDeviceMapping.1.Ebs.DeleteOnTermination", NULL,
	  true, NULL, .gen = true, .own_steps = true },
	/* Last, as the plan's attributes and drift list them. The planner decides
	 * their steps (lifecycle.user_data_change: a replacement or
	 * modify_user_data; create_tags and delete_tags), the launch sends them
	 * (UserData from the text, TagSpecification with nestplan's own tags),
	 * and the refresh reads tags by hand (np_ec2_tag_set: nestplan:* are
	 * not user tags). EC2 tells user data only to DescribeInstanceAttribute:
	 * the state's hash is all nestplan knows. */
	{ "user_data", NP_ATTR_SHA256, OFF(user_data_sha256), NULL, NP_POLICY_REPLACE, NULL, NULL,
	  NULL, false, NULL, .max = 16384, .json_rank = 15, .json_key = "user_data_sha256" },
	{ "tags", NP_ATTR_TAGS, OFF(tags), NULL, NP_POLICY_LIVE, NULL, NULL, "tagSet", true, NULL,
	  .max = 50, .set_flag = OFF(tags_set), .ec2_own = true, .json_rank = 16 },
};
const size_t np_n_attrs = sizeof(np_attrs) / sizeof(np_attrs[0]);
_Static_assert(sizeof(enum np_nv) == sizeof(int) && sizeof(enum np_bool) == sizeof(int),
	       "enum attributes are read as int");

const struct np_attr_def *np_attr_find(const char *name)
{
	for (size_t i = 0; i < np_n_attrs; i++)
		if (!strcmp(np_attrs[i].name, name))
			return &np_attrs[i];
	return NULL;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

#define MUT(a, in, type) ((type *)((char *)(in) + (a)->offset))

static const char *enum_text(const struct np_attr_def *a, int v)
{
	if (a->names) {
		for (int i = 1; a->names[i]; i++)
			if (i == v)
				return a->names[i];
		return NULL;
	}
	return a->enum_name(v);
}

#define FIELD(a, in, type)      ((const type *)((const char *)(in) + (a)->offset))
#define FIELD_AT(in, off, type) ((const type *)((const char *)(in) + (off)))

bool np_attr_is_set(const struct np_attr_def *a, const struct np_instance *in)
{
	switch (a->type) {
	case NP_ATTR_STR:
	case NP_ATTR_SHA256:
		return *FIELD(a, in, char *) != NULL;
	case NP_ATTR_INT:
		return *FIELD(a, in, int) != 0;
	case NP_ATTR_ENUM:
	case NP_ATTR_BOOL:
		/* Every enum of the model starts with UNSET = 0 and is int-sized. */
		return *FIELD(a, in, int) != 0;
	case NP_ATTR_STRV:
		return (a->set_flag && *FIELD_AT(in, a->set_flag, bool)) ||
		       FIELD(a, in, struct np_strv)->n;
	case NP_ATTR_TAGS:
		return (a->set_flag && *FIELD_AT(in, a->set_flag, bool)) ||
		       FIELD(a, in, struct np_tags)->n;
	}
	return false;
}

bool np_attr_equal(const struct np_attr_def *a, const struct np_instance *x,
		   const struct np_instance *y)
{
	if (!np_attr_is_set(a, x) || !np_attr_is_set(a, y))
		return false;
	switch (a->type) {
	case NP_ATTR_STR:
		if (a->same)
			return a->same(*FIELD(a, x, char *), *FIELD(a, y, char *));
		return !strcmp(*FIELD(a, x, char *), *FIELD(a, y, char *));
	case NP_ATTR_SHA256:
		return !strcmp(*FIELD(a, x, char *), *FIELD(a, y, char *));
	case NP_ATTR_TAGS:
		return np_tags_equal(FIELD(a, x, struct np_tags), FIELD(a, y, struct np_tags));
	case NP_ATTR_INT:
	case NP_ATTR_ENUM:
	case NP_ATTR_BOOL:
		return *FIELD(a, x, int) == *FIELD(a, y, int);
	case NP_ATTR_STRV:
		return np_strv_equal_unordered(FIELD(a, x, struct np_strv),
					       FIELD(a, y, struct np_strv));
	}
	return false;
}

char *np_attr_text(const struct np_attr_def *a, const struct np_instance *in)
{
	if (!np_attr_is_set(a, in))
		return NULL;
	switch (a->type) {
	case NP_ATTR_STR:
		return np_xstrdup(*FIELD(a, in, char *));
	case NP_ATTR_SHA256:
		/* The text is never shown: its hash is what the state keeps. */
		return np_xasprintf("sha256:%.12s", *FIELD(a, in, char *));
	case NP_ATTR_INT:
		return np_xasprintf("%d", *FIELD(a, in, int));
	case NP_ATTR_ENUM:
	case NP_ATTR_BOOL: {
		const char *n = enum_text(a, *FIELD(a, in, int));

		return np_xstrdup(n ? n : "?");
	}
	case NP_ATTR_STRV: {
		struct np_strv sorted = NP_STRV_INIT;
		struct np_buf b = NP_BUF_INIT;

		/* In a stable order: EC2 lists security groups as it likes. */
		np_strv_copy(&sorted, FIELD(a, in, struct np_strv));
		if (sorted.n)
			qsort(sorted.v, sorted.n, sizeof(*sorted.v), cmp_str);
		np_buf_putc(&b, '[');
		for (size_t i = 0; i < sorted.n; i++)
			np_buf_printf(&b, "%s%s", i ? ", " : "", sorted.v[i]);
		np_buf_putc(&b, ']');
		np_strv_release(&sorted);
		return np_buf_detach(&b);
	}
	case NP_ATTR_TAGS: {
		const struct np_tags *t = FIELD(a, in, struct np_tags);
		struct np_buf b = NP_BUF_INIT;

		np_buf_putc(&b, '{');
		for (size_t i = 0; i < t->n; i++)
			np_buf_printf(&b, "%s%s=%s", i ? ", " : "", t->v[i].key, t->v[i].value);
		np_buf_putc(&b, '}');
		return np_buf_detach(&b);
	}
	}
	return NULL;
}

bool np_attr_changed(const struct np_attr_def *a, const struct np_instance *want,
		     const struct np_instance *cur)
{
	if (!np_attr_is_set(a, want))
		return false;
	/* A hash nobody recorded is unknown, not another text. */
	if (a->type == NP_ATTR_SHA256 && !np_attr_is_set(a, cur))
		return false;
	return !np_attr_equal(a, want, cur);
}

void np_attr_each_key(const struct np_attr_def *a, const struct np_instance *x,
		      const struct np_instance *y,
		      void (*emit)(void *ctx, const char *name, const char *xv, const char *yv),
		      void *ctx)
{
	const struct np_tags *tx = FIELD(a, x, struct np_tags), *ty = FIELD(a, y, struct np_tags);

	if (a->type != NP_ATTR_TAGS)
		return;
	for (int pass = 0; pass < 2; pass++) {
		const struct np_tags *t = pass ? ty : tx, *other = pass ? tx : ty;

		for (size_t i = 0; i < t->n; i++) {
			const char *ov = np_tags_get(other, t->v[i].key);
			char *name;

			if (pass ? ov != NULL : ov && !strcmp(ov, t->v[i].value))
				continue;
			name = np_xasprintf("%s.%s", a->name, t->v[i].key);
			if (pass)
				emit(ctx, name, NULL, t->v[i].value);
			else
				emit(ctx, name, t->v[i].value, ov);
			free(name);
		}
	}
}

const char *np_policy_name(enum np_policy p)
{
	switch (p) {
	case NP_POLICY_REPLACE:
		return "replace";
	case NP_POLICY_LIVE:
		return "live";
	case NP_POLICY_STOPPED:
		return "stopped";
	case NP_POLICY_RUN_STATE:
		return "live"; /* a stop or a start: no cycle of its own */
	}
	return "?";
}

int np_attr_set_text(const struct np_attr_def *a, struct np_instance *in, const char *text)
{
	char *end;
	long v;

	switch (a->type) {
	case NP_ATTR_STR:
	case NP_ATTR_SHA256:
		free(*MUT(a, in, char *));
		*MUT(a, in, char *) = np_xstrdup(text);
		return 0;
	case NP_ATTR_INT:
		v = strtol(text, &end, 10);
		/* EC2 and an old state may hold more than the file may ask. */
		if (end == text || *end || v < a->min ||
		    v > (a->ec2_max > a->max ? a->ec2_max : a->max))
			return -1;
		*MUT(a, in, int) = (int)v;
		return 0;
	case NP_ATTR_BOOL:
		/* EC2's monitoring states: pending is on its way to enabled. */
		if (!strcmp(text, "true") ||
		    (a->ec2_true && (!strcmp(text, a->ec2_true) || !strcmp(text, "pending"))))
			*MUT(a, in, int) = NP_BOOL_TRUE;
		else if (!strcmp(text, "false") ||
			 (a->ec2_true && (!strcmp(text, "disabled") || !strcmp(text, "disabling"))))
			*MUT(a, in, int) = NP_BOOL_FALSE;
		else
			return -1;
		return 0;
	case NP_ATTR_ENUM:
		for (int i = 1; a->names && a->names[i]; i++)
			if (!strcmp(a->names[i], text)) {
				*MUT(a, in, int) = i;
				return 0;
			}
		return -1;
	case NP_ATTR_STRV:
	case NP_ATTR_TAGS:
		break;
	}
	return -1;
}

char *np_attr_wire(const struct np_attr_def *a, const struct np_instance *in)
{
	if (a->type == NP_ATTR_BOOL && np_attr_is_set(a, in))
		return np_xstrdup(*FIELD(a, in, int) == NP_BOOL_TRUE ? "true" : "false");
	return np_attr_text(a, in);
}

void np_attrs_release(struct np_instance *in)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];

		if (a->type == NP_ATTR_STR || a->type == NP_ATTR_SHA256) {
			free(*MUT(a, in, char *));
			*MUT(a, in, char *) = NULL;
		} else if (a->type == NP_ATTR_STRV) {
			np_strv_release(MUT(a, in, struct np_strv));
		} else if (a->type == NP_ATTR_TAGS) {
			np_tags_release(MUT(a, in, struct np_tags));
		}
	}
}

void np_attrs_copy(struct np_instance *dst, const struct np_instance *src)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];

		if (a->type == NP_ATTR_STR || a->type == NP_ATTR_SHA256)
			*MUT(a, dst, char *) = np_xstrdup(*FIELD(a, src, char *));
		else if (a->type == NP_ATTR_STRV)
			np_strv_copy(MUT(a, dst, struct np_strv), FIELD(a, src, struct np_strv));
		else if (a->type == NP_ATTR_TAGS)
			np_tags_copy(MUT(a, dst, struct np_tags), FIELD(a, src, struct np_tags));
	}
}

static void take(const struct np_attr_def *a, struct np_instance *dst,
		 const struct np_instance *src)
{
	if (a->type == NP_ATTR_STR || a->type == NP_ATTR_SHA256) {
		free(*MUT(a, dst, char *));
		*MUT(a, dst, char *) = np_xstrdup(*FIELD(a, src, char *));
	} else if (a->type == NP_ATTR_TAGS) {
		np_tags_release(MUT(a, dst, struct np_tags));
		np_tags_copy(MUT(a, dst, struct np_tags), FIELD(a, src, struct np_tags));
		if (a->set_flag)
			*(bool *)((char *)dst + a->set_flag) = true;
	} else if (a->type == NP_ATTR_STRV) {
		np_strv_release(MUT(a, dst, struct np_strv));
		np_strv_copy(MUT(a, dst, struct np_strv), FIELD(a, src, struct np_strv));
		if (a->set_flag)
			*(bool *)((char *)dst + a->set_flag) = true;
	} else {
		*MUT(a, dst, int) = *FIELD(a, src, int);
	}
}

void np_attrs_overlay(struct np_instance *dst, const struct np_instance *src, bool keep)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];

		if (np_attr_is_set(a, src) && !(keep && np_attr_is_set(a, dst)))
			take(a, dst, src);
	}
}

void np_attrs_defaults(struct np_instance *dst, const struct np_instance *src)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];

		if (a->type == NP_ATTR_TAGS && np_attr_is_set(a, src)) {
			const struct np_tags *def = FIELD(a, src, struct np_tags);
			struct np_tags *t = MUT(a, dst, struct np_tags);

			/* The instance's own keys win; the defaults' others are added. */
			for (size_t k = 0; k < def->n; k++)
				if (!np_tags_get(t, def->v[k].key))
					np_tags_set(t, def->v[k].key, def->v[k].value);
			if (a->set_flag)
				*(bool *)((char *)dst + a->set_flag) = true;
		} else if (np_attr_is_set(a, src) && !np_attr_is_set(a, dst)) {
			take(a, dst, src);
		}
	}
}

/* EC2's limits per volume type (the EBS volume types page; the simulator's
 * README cites them): sizes, IOPS and throughput ranges and ratios, which
 * types take IOPS or throughput at all. */
char *np_root_volume_check(const struct np_instance *want, const struct np_instance *cur)
{
	static const struct {
		int min_gib, max_gib, min_iops, max_iops, iops_per_gib;
	} lim[] = {
		[1] = { 1, 16384, 0, 0, 0 },           /* gp2: its IOPS follow its size */
		[2] = { 1, 65536, 3000, 80000, 500 },  /* gp3 */
		[3] = { 4, 16384, 100, 64000, 50 },    /* io1 */
		[4] = { 4, 65536, 100, 256000, 1000 }, /* io2 */
		[5] = { 125, 16384, 0, 0, 0 },         /* st1 */
		[6] = { 125, 16384, 0, 0, 0 },         /* sc1 */
		[7] = { 1, 1024, 0, 0, 0 },            /* standard */
	};
	int type = want->root_type ? want->root_type : cur ? cur->root_type : 0;
	int size = want->root_size_gib ? want->root_size_gib : cur ? cur->root_size_gib : 0;
	int iops = want->root_iops                 ? want->root_iops
		   : cur && type == cur->root_type ? cur->root_iops
						   : 0;
	int tput = want->root_throughput;
	const char *name = type > 0 && type <= 7 ? np_volume_types[type] : NULL;

	if (want->root_kms_key_id && want->root_encrypted != NP_BOOL_TRUE)
		return np_xstrdup(
		    "root_volume.kms_key_id needs root_volume.encrypted: true (EC2: "
		    "\"The parameter KmsKeyId requires the parameter Encrypted to be set\")");
	if (!name)
		return NULL; /* the image's type: EC2 checks at launch */
	if (want->root_size_gib && (size < lim[type].min_gib || size > lim[type].max_gib))
		return np_xasprintf(
		    "root_volume.size_gib %d is out of range for %s volumes (%d to %d "
		    "GiB)",
		    size, name, lim[type].min_gib, lim[type].max_gib);
	if (want->root_iops && !lim[type].max_iops)
		return np_xasprintf(
		    "root_volume.iops: %s volumes take no IOPS setting (only gp3, io1 "
		    "and io2 do)",
		    name);
	if (!iops && (type == 3 || type == 4) && want->root_type)
		return np_xasprintf("root_volume.iops is required for %s volumes", name);
	if (want->root_iops && (iops < lim[type].min_iops || iops > lim[type].max_iops))
		return np_xasprintf("root_volume.iops %d is out of range for %s volumes (%d to %d)",
				    iops, name, lim[type].min_iops, lim[type].max_iops);
	if (want->root_iops && size && iops > 3000 && iops > lim[type].iops_per_gib * size)
		return np_xasprintf(
		    "root_volume.iops %d is too high for %d GiB of %s: at most %d IOPS "
		    "per GiB (%d)",
		    iops, size, name, lim[type].iops_per_gib, lim[type].iops_per_gib * size);
	if (tput && type != 2)
		return np_xasprintf("root_volume.throughput_mibps: %s volumes take no throughput "
				    "setting (only gp3 does)",
				    name);
	if (tput > 125 && tput * 4 > (iops ? iops : 3000))
		return np_xasprintf(
		    "root_volume.throughput_mibps %d is too high for %d IOPS: at most "
		    "0.25 MiB/s per IOPS (%d)",
		    tput, iops ? iops : 3000, (iops ? iops : 3000) / 4);
	return NULL;
}

void np_attrs_fill_described(struct np_instance *dst, const struct np_instance *src)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];

		if (a->gen && a->describe_attribute && a->type == NP_ATTR_BOOL &&
		    !np_attr_is_set(a, dst))
			*MUT(a, dst, int) = *FIELD(a, src, int);
	}
}
