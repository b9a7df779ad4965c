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

static int simple_call(struct np_aws *aws, const char *action, struct np_query *q,
                       struct np_err *err)
{
	xmlDoc *doc = NULL;
	int rc = np_aws_call(aws, action, q, &doc, err);

	/* A 200 whose body is not this action's answer did not do the action. */
	if (rc == 0)
		rc = np_ec2_answer_root(doc, action, NULL, err);
	xmlFreeDoc(doc);
	np_query_release(q);
	return rc;
}

void np_ec2_run_instances_query(struct np_query *q, const struct np_ec2_launch *r)
{
	int count = r->count > 0 ? r->count : 1;
	size_t t = 0;

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
		np_query_add(q, "CpuOptions.NestedVirtualization", np_nv_name(r->nested_virtualization));
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
	for (size_t i = 0; r->attrs && i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];
		char *v;

		if (!a->gen || !a->launch || !(v = np_attr_wire(a, r->attrs)))
			continue;
		np_query_add(q, a->launch, v);
		free(v);
	}
	if (r->tags && r->tags->n) {
		np_query_add(q, "TagSpecification.1.ResourceType", "instance");
		for (t = 0; t < r->tags->n; t++) {
			char k[80], v[80];

			snprintf(k, sizeof(k), "TagSpecification.1.Tag.%zu.Key", t + 1);
			snprintf(v, sizeof(v), "TagSpecification.1.Tag.%zu.Value", t + 1);
			np_query_add(q, k, r->tags->v[t].key);
			np_query_add(q, v, r->tags->v[t].value);
		}
	}
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

static int pager_next(struct pager *pg, const char *action, const char *token,
                      struct np_err *err)
{
	for (size_t i = 0; i < pg->n; i++)
		if (!strcmp(pg->seen[i], token))
			return np_error(err, "%s: EC2 gave the same NextToken twice (after %zu pages); "
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

int np_ec2_describe_pages(struct np_aws *aws, struct np_query *base, struct np_instance **v,
                          size_t *n, size_t *alloc, struct np_err *err)
{
	struct pager pg = {0};
	char *token = NULL;
	int rc = 0;

	do {
		struct np_query q = NP_QUERY_INIT;
		xmlDoc *doc = NULL;
		char *next = NULL;

		for (size_t i = 0; i < base->n; i++)
			np_query_add(&q, base->v[i].name, base->v[i].value);
		np_query_addf(&q, "MaxResults", "%d", NP_EC2_PAGE);
		if (token)
			np_query_add(&q, "NextToken", token);
		rc = np_aws_call(aws, "DescribeInstances", &q, &doc, err);
		np_query_release(&q);
		if (rc == 0)
			rc = np_ec2_parse_instances(doc, "DescribeInstances", v, n, alloc, &next, err);
		if (rc == 0 && next)
			rc = pager_next(&pg, "DescribeInstances", next, err);
		xmlFreeDoc(doc);
		free(token);
		token = next;
	} while (rc == 0 && token);
	free(token);
	pager_release(&pg);
	return rc;
}

int np_ec2_describe_instances_filter(struct np_aws *aws, const char *name,
                                     const char *const *values, size_t n_values,
                                     struct np_instance **out, size_t *n, struct np_err *err)
{
	size_t alloc = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
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
		rc = np_ec2_describe_pages(aws, &base, out, n, &alloc, err);
		np_query_release(&base);
	}
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

void np_ec2_ids_query(struct np_query *q, const char *const *ids, size_t n, bool dry_run)
{
	for (size_t i = 0; i < n; i++) {
		char key[48];

		snprintf(key, sizeof(key), "InstanceId.%zu", i + 1);
		np_query_add(q, key, ids[i]);
	}
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

int np_ec2_terminate_instances(struct np_aws *aws, const char *const *ids, size_t n,
                               bool dry_run, struct np_err *err)
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
	return simple_call(aws, off && a->set_action_off ? a->set_action_off : a->set_action, &q, err);
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

int np_ec2_modify_instance_type(struct np_aws *aws, const char *id, const char *type,
                                bool dry_run, struct np_err *err)
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
                              int threads_per_core, enum np_nv nv, bool dry_run,
                              struct np_err *err)
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
                     const struct np_tags *tags, bool with_values, bool dry_run,
                     struct np_err *err)
{
	for (size_t off = 0; off < n; off += NP_EC2_MAX_IDS) {
		struct np_query q = NP_QUERY_INIT;
		size_t m = n - off < NP_EC2_MAX_IDS ? n - off : NP_EC2_MAX_IDS;

		for (size_t i = 0; i < m; i++) {
			char key[48];

			snprintf(key, sizeof(key), "ResourceId.%zu", i + 1);
			np_query_add(&q, key, ids[off + i]);
		}
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

int np_ec2_describe_instance_types(struct np_aws *aws, const char *const *names, size_t n,
                                   struct np_catalog *out, struct np_err *err)
{
	for (size_t off = 0; off < n; off += NP_EC2_TYPES_PER_CALL) {
		size_t m = n - off < NP_EC2_TYPES_PER_CALL ? n - off : NP_EC2_TYPES_PER_CALL;
		struct pager pg = {0};
		char *token = NULL;
		int rc = 0;

		do {
			struct np_query q = NP_QUERY_INIT;
			xmlDoc *doc = NULL;
			char *next = NULL;

			for (size_t i = 0; i < m; i++) {
				char key[48];

				snprintf(key, sizeof(key), "InstanceType.%zu", i + 1);
				np_query_add(&q, key, names[off + i]);
			}
			if (token)
				np_query_add(&q, "NextToken", token);
			rc = np_aws_call(aws, "DescribeInstanceTypes", &q, &doc, err);
			np_query_release(&q);
			if (rc == 0)
				rc = np_ec2_parse_instance_types(doc, out, &next, err);
			if (rc == 0 && next)
				rc = pager_next(&pg, "DescribeInstanceTypes", next, err);
			xmlFreeDoc(doc);
			free(token);
			token = next;
		} while (rc == 0 && token);
		free(token);
		pager_release(&pg);
		if (rc < 0)
			return -1;
	}
	return 0;
}
