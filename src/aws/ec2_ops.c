/* The EC2 operations nestplan makes: parameters as botocore's EC2
 * serializer writes them (notes §2), then the call and its answer. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/ec2.h"

static void dry(struct np_query *q, bool dry_run)
{
	if (dry_run)
		np_query_add(q, "DryRun", "true");
}

int np_ec2_call_checked(struct np_aws *aws, const char *action, struct np_query *q,
			np_ec2_check_fn check, const void *ctx, struct np_err *err)
{
	xmlDoc *doc = NULL;
	int rc = np_aws_call(aws, action, q, &doc, err);

	/* A 200 whose body is not this action's answer did not do the action. */
	if (rc == 0)
		rc = check ? check(doc, action, ctx, err)
			   : np_ec2_answer_root(doc, action, NULL, err);
	xmlFreeDoc(doc);
	np_query_release(q);
	return rc;
}

static int simple_call(struct np_aws *aws, const char *action, struct np_query *q,
		       struct np_err *err)
{
	return np_ec2_call_checked(aws, action, q, NULL, NULL, err);
}

void np_ec2_tag_spec(struct np_query *q, const char *resource_type, const struct np_tags *tags)
{
	if (!tags || !tags->n)
		return;
	np_query_add(q, "TagSpecification.1.ResourceType", resource_type);
	for (size_t t = 0; t < tags->n; t++) {
		char k[80], v[80];

		snprintf(k, sizeof(k), "TagSpecification.1.Tag.%zu.Key", t + 1);
		snprintf(v, sizeof(v), "TagSpecification.1.Tag.%zu.Value", t + 1);
		np_query_add(q, k, tags->v[t].key);
		np_query_add(q, v, tags->v[t].value);
	}
}

void np_ec2_run_instances_query(struct np_query *q, const struct np_ec2_launch *r)
{
	int count = r->count > 0 ? r->count : 1;

	np_query_add(q, "ImageId", r->image_id);
	np_query_add(q, "InstanceType", r->instance_type);
	np_query_addf(q, "MinCount", "%d", count);
	np_query_addf(q, "MaxCount", "%d", count);
	if (r->key_name)
		np_query_add(q, "KeyName", r->key_name);
	if (r->subnet_id)
		np_query_add(q, "SubnetId", r->subnet_id);
	for (size_t i = 0; r->security_group_ids && i < r->security_group_ids->n; i++) {
		char name[48];

		snprintf(name, sizeof(name), "SecurityGroupId.%zu", i + 1);
		np_query_add(q, name, r->security_group_ids->v[i]);
	}
	if (r->client_token)
		np_query_add(q, "ClientToken", r->client_token);
	if (r->user_data) {
		size_t len = strlen(r->user_data);
		unsigned char *b64 = np_xmalloc(4 * ((len + 2) / 3) + 1);

		EVP_EncodeBlock(b64, (const unsigned char *)r->user_data, (int)len);
		np_query_add(q, "UserData", (const char *)b64);
		free(b64);
	}
	/* EC2 wants core count and threads per core together or not at all. */
	if (r->core_count && r->threads_per_core) {
		np_query_addf(q, "CpuOptions.CoreCount", "%d", r->core_count);
		np_query_addf(q, "CpuOptions.ThreadsPerCore", "%d", r->threads_per_core);
	}
	if (r->nested_virtualization)
		np_query_add(q, "CpuOptions.NestedVirtualization",
			     np_nv_name(r->nested_virtualization));
	if (r->tenancy)
		np_query_add(q, "Placement.Tenancy", np_tenancy_name(r->tenancy));
	if (r->host_id) {
		np_query_add(q, "Placement.HostId", r->host_id);
		np_query_add(q, "Placement.Affinity", "host");
	}
	if (r->availability_zone)
		np_query_add(q, "Placement.AvailabilityZone", r->availability_zone);
	if (r->hibernation)
		np_query_add(q, "HibernationOptions.Configured",
			     r->hibernation == NP_BOOL_TRUE ? "true" : "false");
	if (r->root_device_name)
		np_query_add(q, "BlockDeviceMapping.1.DeviceName", r->root_device_name);
	for (size_t i = 0; r->attrs && i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];
		char *v;

		/* The root volume's values need the device they are for, and are the
		 * file's alone (not an old instance's: a replacement's new key). */
		if (a->launch && !strncmp(a->launch, "BlockDeviceMapping.", 19)) {
			if (r->root_device_name && r->root && (v = np_attr_wire(a, r->root))) {
				np_query_add(q, a->launch, v);
				free(v);
			}
			continue;
		}
		if (!a->gen || !a->launch || !(v = np_attr_wire(a, r->attrs)))
			continue;
		/* "" is none: nothing to send. */
		if (*v)
			np_query_add(
			    q, a->launch_arn && !strncmp(v, "arn:", 4) ? a->launch_arn : a->launch,
			    v);
		free(v);
	}
	np_ec2_tag_spec(q, "instance", r->tags);
	dry(q, r->dry_run);
}

int np_ec2_run_instances(struct np_aws *aws, const struct np_ec2_launch *req,
			 struct np_instance **out, size_t *n, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;
	xmlDoc *doc = NULL;
	size_t alloc = 0;
	int rc;

	*out = NULL;
	*n = 0;
	np_ec2_run_instances_query(&q, req);
	rc = np_aws_call(aws, "RunInstances", &q, &doc, err);
	np_query_release(&q);
	if (rc == 0)
		rc = np_ec2_parse_instances(doc, "RunInstances", out, n, &alloc, NULL, err);
	if (rc == 0 && *n == 0)
		rc = np_error(err, "RunInstances: the answer lists no instance");
	if (rc < 0) {
		np_instances_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	xmlFreeDoc(doc);
	return rc;
}

/* Pagination that ends: a token EC2 already gave (botocore and the Go SDK
 * stop there too) or more pages than any fleet needs is an error, not a
 * listing that grows forever. */
struct pager {
	char **seen;
	size_t n, alloc;
};

static int pager_next(struct pager *pg, const char *action, const char *token, struct np_err *err)
{
	for (size_t i = 0; i < pg->n; i++)
		if (!strcmp(pg->seen[i], token))
			return np_error(err,
					"%s: EC2 gave the same NextToken twice (after %zu pages); "
					"refusing a listing that would not end",
					action, pg->n + 1);
	if (pg->n + 1 >= NP_EC2_MAX_PAGES)
		return np_error(err, "%s: more than %d pages in one listing; refusing it", action,
				NP_EC2_MAX_PAGES);
	NP_ALLOC_GROW(pg->seen, pg->n + 1, pg->alloc);
	pg->seen[pg->n++] = np_xstrdup(token);
	return 0;
}

static void pager_release(struct pager *pg)
{
	for (size_t i = 0; i < pg->n; i++)
		free(pg->seen[i]);
	free(pg->seen);
	memset(pg, 0, sizeof(*pg));
}

int np_ec2_pages(struct np_aws *aws, const char *action, const struct np_query *base,
		 int max_results, np_ec2_page_fn parse, void *ctx, struct np_err *err)
{
	struct pager pg = { 0 };
	char *token = NULL;
	int rc = 0;

	do {
		struct np_query q = NP_QUERY_INIT;
		xmlDoc *doc = NULL;
		char *next = NULL;

		for (size_t i = 0; i < base->n; i++)
			np_query_add(&q, base->v[i].name, base->v[i].value);
		if (max_results)
			np_query_addf(&q, "MaxResults", "%d", max_results);
		if (token)
			np_query_add(&q, "NextToken", token);
		rc = np_aws_call(aws, action, &q, &doc, err);
		np_query_release(&q);
		if (rc == 0)
			rc = parse(doc, ctx, &next, err);
		if (rc == 0 && next)
			rc = pager_next(&pg, action, next, err);
		xmlFreeDoc(doc);
		free(token);
		token = next;
	} while (rc == 0 && token);
	free(token);
	pager_release(&pg);
	return rc;
}

int np_ec2_filter_pages(struct np_aws *aws, const char *action, const char *name,
			const char *const *values, size_t n_values, int max_results,
			np_ec2_page_fn parse, void *ctx, struct np_err *err)
{
	int rc = 0;

	for (size_t off = 0; rc == 0 && off < n_values; off += NP_EC2_MAX_FILTER_VALUES) {
		struct np_query base = NP_QUERY_INIT;
		size_t m = n_values - off < NP_EC2_MAX_FILTER_VALUES ? n_values - off
								     : NP_EC2_MAX_FILTER_VALUES;

		np_query_add(&base, "Filter.1.Name", name);
		for (size_t i = 0; i < m; i++) {
			char key[48];

			snprintf(key, sizeof(key), "Filter.1.Value.%zu", i + 1);
			np_query_add(&base, key, values[off + i]);
		}
		rc = np_ec2_pages(aws, action, &base, max_results, parse, ctx, err);
		np_query_release(&base);
	}
	return rc;
}

struct instance_pages {
	struct np_instance **v;
	size_t *n, *alloc;
};

static int instance_page(xmlDoc *doc, void *ctx, char **next, struct np_err *err)
{
	struct instance_pages *ip = ctx;

	return np_ec2_parse_instances(doc, "DescribeInstances", ip->v, ip->n, ip->alloc, next, err);
}

int np_ec2_describe_pages(struct np_aws *aws, struct np_query *base, struct np_instance **v,
			  size_t *n, size_t *alloc, struct np_err *err)
{
	struct instance_pages ip = { v, n, alloc };

	return np_ec2_pages(aws, "DescribeInstances", base, NP_EC2_PAGE, instance_page, &ip, err);
}

int np_ec2_describe_instances_filter(struct np_aws *aws, const char *name,
				     const char *const *values, size_t n_values,
				     struct np_instance **out, size_t *n, struct np_err *err)
{
	size_t alloc = 0;
	struct instance_pages ip = { out, n, &alloc };
	int rc;

	*out = NULL;
	*n = 0;
	rc = np_ec2_filter_pages(aws, "DescribeInstances", name, values, n_values, NP_EC2_PAGE,
				 instance_page, &ip, err);
	if (rc < 0) {
		np_instances_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int np_ec2_describe_instances_by_id(struct np_aws *aws, const char *const *ids, size_t n_ids,
				    struct np_instance **out, size_t *n, struct np_err *err)
{
	/* Never an empty id list: DescribeInstances would list everything. */
	if (!n_ids) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	return np_ec2_describe_instances_filter(aws, "instance-id", ids, n_ids, out, n, err);
}

void np_ec2_list_param(struct np_query *q, const char *name, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char key[80];

		snprintf(key, sizeof(key), "%s.%zu", name, i + 1);
		np_query_add(q, key, v[i]);
	}
}

void np_ec2_ids_query(struct np_query *q, const char *const *ids, size_t n, bool dry_run)
{
	np_ec2_list_param(q, "InstanceId", ids, n);
	dry(q, dry_run);
}

static int ids_call(struct np_aws *aws, const char *action, const char *const *ids, size_t n,
		    bool dry_run, struct np_err *err)
{
	for (size_t off = 0; off < n; off += NP_EC2_MAX_IDS) {
		struct np_query q = NP_QUERY_INIT;
		size_t m = n - off < NP_EC2_MAX_IDS ? n - off : NP_EC2_MAX_IDS;

		np_ec2_ids_query(&q, ids + off, m, dry_run);
		if (simple_call(aws, action, &q, err) < 0)
			return -1;
	}
	return 0;
}

int np_ec2_stop_instances(struct np_aws *aws, const char *const *ids, size_t n, bool dry_run,
			  struct np_err *err)
{
	return ids_call(aws, "StopInstances", ids, n, dry_run, err);
}

int np_ec2_start_instances(struct np_aws *aws, const char *const *ids, size_t n, bool dry_run,
			   struct np_err *err)
{
	return ids_call(aws, "StartInstances", ids, n, dry_run, err);
}

int np_ec2_terminate_instances(struct np_aws *aws, const char *const *ids, size_t n, bool dry_run,
			       struct np_err *err)
{
	return ids_call(aws, "TerminateInstances", ids, n, dry_run, err);
}

void np_ec2_set_attribute_query(struct np_query *q, const char *id, const struct np_attr_def *a,
				const char *value, bool dry_run)
{
	np_query_add(q, a->set_id_param ? a->set_id_param : "InstanceId", id);
	if (a->set_param)
		np_query_add(q, a->set_param, value ? value : "");
	if (a->set_dry_run)
		dry(q, dry_run);
}

int np_ec2_set_attribute(struct np_aws *aws, const char *id, const struct np_attr_def *a,
			 const char *value, bool dry_run, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;
	bool off = a->type == NP_ATTR_BOOL && value && !strcmp(value, "false");

	if (dry_run && !a->set_dry_run)
		return np_error(err, "%s cannot be dry-run", a->set_action);
	np_ec2_set_attribute_query(&q, id, a, value, dry_run);
	return simple_call(aws, off && a->set_action_off ? a->set_action_off : a->set_action, &q,
			   err);
}

int np_ec2_describe_instance_attribute(struct np_aws *aws, const char *id, const char *attribute,
				       char **value, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;
	xmlDoc *doc = NULL;
	xmlNode *root = NULL, *el;
	int rc;

	*value = NULL;
	np_query_add(&q, "InstanceId", id);
	np_query_add(&q, "Attribute", attribute);
	rc = np_aws_call(aws, "DescribeInstanceAttribute", &q, &doc, err);
	if (rc == 0)
		rc = np_ec2_answer_root(doc, "DescribeInstanceAttribute", &root, err);
	/* <disableApiStop><value>true</value></disableApiStop>; an empty element
	 * (user data never set) is no value. */
	if (rc == 0 && (el = np_xml_child(root, attribute)) != NULL)
		*value = np_xml_text(el, "value");
	xmlFreeDoc(doc);
	np_query_release(&q);
	return rc;
}

int np_ec2_modify_user_data(struct np_aws *aws, const char *id, const char *text, bool dry_run,
			    struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;
	size_t len = text ? strlen(text) : 0;
	unsigned char *b64 = np_xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock(b64, (const unsigned char *)(text ? text : ""), (int)len);
	np_query_add(&q, "InstanceId", id);
	np_query_add(&q, "UserData.Value", (const char *)b64);
	free(b64);
	dry(&q, dry_run);
	return simple_call(aws, "ModifyInstanceAttribute", &q, err);
}

int np_ec2_modify_instance_type(struct np_aws *aws, const char *id, const char *type, bool dry_run,
				struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;

	np_query_add(&q, "InstanceId", id);
	np_query_add(&q, "InstanceType.Value", type);
	dry(&q, dry_run);
	return simple_call(aws, "ModifyInstanceAttribute", &q, err);
}

void np_ec2_modify_cpu_options_query(struct np_query *q, const char *id, int core_count,
				     int threads_per_core, enum np_nv nv, bool dry_run)
{
	np_query_add(q, "InstanceId", id);
	if (core_count && threads_per_core) {
		np_query_addf(q, "CoreCount", "%d", core_count);
		np_query_addf(q, "ThreadsPerCore", "%d", threads_per_core);
	}
	if (nv)
		np_query_add(q, "NestedVirtualization", np_nv_name(nv));
	dry(q, dry_run);
}

int np_ec2_modify_cpu_options(struct np_aws *aws, const char *id, int core_count,
			      int threads_per_core, enum np_nv nv, bool dry_run, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;

	np_ec2_modify_cpu_options_query(&q, id, core_count, threads_per_core, nv, dry_run);
	return simple_call(aws, "ModifyInstanceCpuOptions", &q, err);
}

int np_ec2_modify_placement(struct np_aws *aws, const char *id, enum np_tenancy tenancy,
			    const char *host_id, bool dry_run, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;

	np_query_add(&q, "InstanceId", id);
	if (tenancy)
		np_query_add(&q, "Tenancy", np_tenancy_name(tenancy));
	if (host_id) {
		np_query_add(&q, "HostId", host_id);
		np_query_add(&q, "Affinity", "host");
	}
	dry(&q, dry_run);
	return simple_call(aws, "ModifyInstancePlacement", &q, err);
}

static int tags_call(struct np_aws *aws, const char *action, const char *const *ids, size_t n,
		     const struct np_tags *tags, bool with_values, bool dry_run, struct np_err *err)
{
	for (size_t off = 0; off < n; off += NP_EC2_MAX_IDS) {
		struct np_query q = NP_QUERY_INIT;
		size_t m = n - off < NP_EC2_MAX_IDS ? n - off : NP_EC2_MAX_IDS;

		np_ec2_list_param(&q, "ResourceId", ids + off, m);
		for (size_t i = 0; i < tags->n; i++) {
			char k[48], v[48];

			snprintf(k, sizeof(k), "Tag.%zu.Key", i + 1);
			snprintf(v, sizeof(v), "Tag.%zu.Value", i + 1);
			np_query_add(&q, k, tags->v[i].key);
			if (with_values)
				np_query_add(&q, v, tags->v[i].value);
		}
		dry(&q, dry_run);
		if (simple_call(aws, action, &q, err) < 0)
			return -1;
	}
	return 0;
}

int np_ec2_create_tags(struct np_aws *aws, const char *const *ids, size_t n,
		       const struct np_tags *tags, bool dry_run, struct np_err *err)
{
	return tags_call(aws, "CreateTags", ids, n, tags, true, dry_run, err);
}

int np_ec2_delete_tags(struct np_aws *aws, const char *const *ids, size_t n,
		       const struct np_tags *tags, bool dry_run, struct np_err *err)
{
	return tags_call(aws, "DeleteTags", ids, n, tags, false, dry_run, err);
}

static int types_page(xmlDoc *doc, void *ctx, char **next, struct np_err *err)
{
	return np_ec2_parse_instance_types(doc, ctx, next, err);
}

int np_ec2_describe_instance_types(struct np_aws *aws, const char *const *names, size_t n,
				   struct np_catalog *out, struct np_err *err)
{
	for (size_t off = 0; off < n; off += NP_EC2_TYPES_PER_CALL) {
		size_t m = n - off < NP_EC2_TYPES_PER_CALL ? n - off : NP_EC2_TYPES_PER_CALL;
		struct np_query base = NP_QUERY_INIT;
		int rc;

		np_ec2_list_param(&base, "InstanceType", names + off, m);
		rc = np_ec2_pages(aws, "DescribeInstanceTypes", &base, 0, types_page, out, err);
		np_query_release(&base);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- the instance profile (its calls take no DryRun: botocore's model) ---- */

static void profile_param(struct np_query *q, const char *profile)
{
	np_query_add(
	    q, strncmp(profile, "arn:", 4) ? "IamInstanceProfile.Name" : "IamInstanceProfile.Arn",
	    profile);
}

/* The instance's active association (associating or associated), NULL for
 * none. A finished one is no longer listed; EC2 allows one at a time. */
static int active_association(struct np_aws *aws, const char *id, char **assoc, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;
	xmlDoc *doc = NULL;
	xmlNode *root = NULL, *set, *it;
	int rc;

	*assoc = NULL;
	np_query_add(&q, "Filter.1.Name", "instance-id");
	np_query_add(&q, "Filter.1.Value.1", id);
	rc = np_aws_call(aws, "DescribeIamInstanceProfileAssociations", &q, &doc, err);
	if (rc == 0)
		rc = np_ec2_answer_root(doc, "DescribeIamInstanceProfileAssociations", &root, err);
	if (rc == 0 && (set = np_xml_child(root, "iamInstanceProfileAssociationSet")))
		for (it = set->children; it && !*assoc; it = it->next) {
			char *state;

			if (it->type != XML_ELEMENT_NODE)
				continue;
			state = np_xml_text(it, "state");
			if (state &&
			    (!strcmp(state, "associating") || !strcmp(state, "associated")))
				*assoc = np_xml_text(it, "associationId");
			free(state);
		}
	xmlFreeDoc(doc);
	np_query_release(&q);
	return rc;
}

int np_ec2_set_iam_instance_profile(struct np_aws *aws, const char *id, const char *profile,
				    struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;
	char *assoc = NULL;
	int rc;

	/* Which of the three calls is decided now, from what EC2 reports: an
	 * association made or ended since the plan is no error. */
	if (active_association(aws, id, &assoc, err) < 0)
		return -1;
	if (!*profile && !assoc)
		return 0;
	if (!*profile) {
		np_query_add(&q, "AssociationId", assoc);
		rc = simple_call(aws, "DisassociateIamInstanceProfile", &q, err);
	} else if (assoc) {
		np_query_add(&q, "AssociationId", assoc);
		profile_param(&q, profile);
		rc = simple_call(aws, "ReplaceIamInstanceProfileAssociation", &q, err);
	} else {
		np_query_add(&q, "InstanceId", id);
		profile_param(&q, profile);
		rc = simple_call(aws, "AssociateIamInstanceProfile", &q, err);
	}
	free(assoc);
	return rc;
}

/* ---- the root volume ---- */

/* DescribeVolumes takes VolumeId.N; a batch this large is one answer
 * (MaxResults, which pages, cannot go with ids). */
#define VOLUMES_PER_CALL 500

static int volume_int(xmlNode *v, const char *name, int *out)
{
	char *t = np_xml_text(v, name);

	if (t && *t)
		*out = atoi(t);
	free(t);
	return 0;
}

/* One volume's values into the instances whose root volume it is. */
static void volume_into(xmlNode *v, struct np_instance *in, size_t n)
{
	char *id = np_xml_text(v, "volumeId"), *t;
	struct np_instance *x = NULL;
	int size = 0, iops = 0, tput = 0;

	for (size_t i = 0; id && i < n && !x; i++)
		if (in[i].root_volume_id && !strcmp(in[i].root_volume_id, id))
			x = &in[i];
	free(id);
	if (!x)
		return;
	volume_int(v, "size", &size);
	volume_int(v, "iops", &iops);
	volume_int(v, "throughput", &tput);
	x->root_size_gib = size;
	x->root_iops = iops;
	x->root_throughput = tput;
	if ((t = np_xml_text(v, "volumeType"))) {
		/* A type nestplan does not know stays unset: it cannot be managed. */
		np_attr_set_text(np_attr_find("root_volume.type"), x, t);
		free(t);
	}
	if ((t = np_xml_text(v, "encrypted"))) {
		x->root_encrypted = !strcmp(t, "true") ? NP_BOOL_TRUE : NP_BOOL_FALSE;
		free(t);
	}
	free(x->root_kms_key_id);
	x->root_kms_key_id = np_xml_text(v, "kmsKeyId");
}

int np_ec2_read_root_volumes(struct np_aws *aws, struct np_instance *in, size_t n,
			     struct np_err *err)
{
	size_t i = 0;

	while (i < n) {
		struct np_query q = NP_QUERY_INIT;
		xmlDoc *doc = NULL;
		xmlNode *root = NULL, *set;
		size_t k = 0;
		int rc;

		for (; i < n && k < VOLUMES_PER_CALL; i++)
			if (in[i].root_volume_id) {
				char key[32];

				snprintf(key, sizeof(key), "VolumeId.%zu", ++k);
				np_query_add(&q, key, in[i].root_volume_id);
			}
		if (!k) {
			np_query_release(&q);
			break;
		}
		rc = np_aws_call(aws, "DescribeVolumes", &q, &doc, err);
		if (rc == 0)
			rc = np_ec2_answer_root(doc, "DescribeVolumes", &root, err);
		if (rc == 0 && (set = np_xml_child(root, "volumeSet")))
			for (xmlNode *it = set->children; it; it = it->next)
				if (it->type == XML_ELEMENT_NODE)
					volume_into(it, in, n);
		xmlFreeDoc(doc);
		np_query_release(&q);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int np_ec2_image_root(struct np_aws *aws, const char *image_id, char **device, int *snapshot_gib,
		      struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;
	xmlDoc *doc = NULL;
	xmlNode *root = NULL, *set, *img = NULL;
	int rc;

	*device = NULL;
	*snapshot_gib = 0;
	np_query_add(&q, "ImageId.1", image_id);
	rc = np_aws_call(aws, "DescribeImages", &q, &doc, err);
	if (rc == 0)
		rc = np_ec2_answer_root(doc, "DescribeImages", &root, err);
	if (rc == 0 && (set = np_xml_child(root, "imagesSet")))
		img = np_xml_child(set, "item");
	if (rc == 0 && !img)
		rc = np_error(err, "DescribeImages lists no image '%s'", image_id);
	if (rc == 0 && !(*device = np_xml_text(img, "rootDeviceName")))
		rc = np_error(err, "image '%s' has no root device name", image_id);
	if (rc == 0 && (set = np_xml_child(img, "blockDeviceMapping"))) {
		for (xmlNode *it = set->children; it; it = it->next) {
			char *dev =
			    it->type == XML_ELEMENT_NODE ? np_xml_text(it, "deviceName") : NULL;
			xmlNode *ebs =
			    dev && !strcmp(dev, *device) ? np_xml_child(it, "ebs") : NULL;

			if (ebs)
				volume_int(ebs, "volumeSize", snapshot_gib);
			free(dev);
		}
	}
	xmlFreeDoc(doc);
	np_query_release(&q);
	return rc;
}

int np_ec2_modify_volume(struct np_aws *aws, const char *volume_id, int size_gib, const char *type,
			 int iops, int throughput, bool dry_run, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;

	np_query_add(&q, "VolumeId", volume_id);
	if (size_gib)
		np_query_addf(&q, "Size", "%d", size_gib);
	if (type)
		np_query_add(&q, "VolumeType", type);
	if (iops)
		np_query_addf(&q, "Iops", "%d", iops);
	if (throughput)
		np_query_addf(&q, "Throughput", "%d", throughput);
	dry(&q, dry_run);
	return simple_call(aws, "ModifyVolume", &q, err);
}

int np_ec2_modify_root_delete_on_termination(struct np_aws *aws, const char *id, const char *device,
					     bool on, bool dry_run, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;

	np_query_add(&q, "InstanceId", id);
	np_query_add(&q, "BlockDeviceMapping.1.DeviceName", device);
	np_query_add(&q, "BlockDeviceMapping.1.Ebs.DeleteOnTermination", on ? "true" : "false");
	dry(&q, dry_run);
	return simple_call(aws, "ModifyInstanceAttribute", &q, err);
}
