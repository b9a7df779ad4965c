/* Dedicated Hosts: AllocateHosts, DescribeHosts, ModifyHosts, ReleaseHosts
 * (botocore's model: none of them takes DryRun). ModifyHosts and
 * ReleaseHosts answer per-host refusals inside an HTTP 200 (`unsuccessful`);
 * those are failures here, never a success with a footnote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/ec2.h"

/* HostId.N per DescribeHosts call: no MaxResults goes with ids, so one batch
 * is one answer; a page's worth keeps it as large as a listing's page. */
#define HOST_IDS_PER_CALL NP_EC2_HOSTS_PAGE

static const char *on_off(enum np_bool b) { return b == NP_BOOL_TRUE ? "on" : "off"; }

/* A text EC2 gives, quoted safely in a message. */
static void quote(struct np_buf *b, const char *s) { np_buf_add_visible(b, s ? s : "", 64); }

void np_ec2_allocate_hosts_query(struct np_query *q, const struct np_ec2_allocate *req)
{
	const struct np_host *h = req->host;

	if (req->client_token)
		np_query_add(q, "ClientToken", req->client_token);
	np_query_addf(q, "Quantity", "%d", req->quantity > 0 ? req->quantity : 1);
	/* EC2 refuses both; a type host is the narrower wish. */
	if (h->instance_type)
		np_query_add(q, "InstanceType", h->instance_type);
	else if (h->instance_family)
		np_query_add(q, "InstanceFamily", h->instance_family);
	if (h->availability_zone)
		np_query_add(q, "AvailabilityZone", h->availability_zone);
	if (h->auto_placement)
		np_query_add(q, "AutoPlacement", on_off(h->auto_placement));
	if (h->host_recovery)
		np_query_add(q, "HostRecovery", on_off(h->host_recovery));
	np_ec2_tag_spec(q, "dedicated-host", req->tags);
}

int np_ec2_allocate_hosts(struct np_aws *aws, const struct np_ec2_allocate *req,
			  struct np_strv *ids, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;
	struct np_strv got = { 0 };
	xmlDoc *doc = NULL;
	xmlNode *root = NULL, *set;
	int rc;

	np_ec2_allocate_hosts_query(&q, req);
	rc = np_aws_call(aws, "AllocateHosts", &q, &doc, err);
	if (rc == 0)
		rc = np_ec2_answer_root(doc, "AllocateHosts", &root, err);
	set = rc == 0 ? np_xml_child(root, "hostIdSet") : NULL;
	for (xmlNode *it = set ? set->children : NULL; rc == 0 && it; it = it->next) {
		char *id;

		if (it->type != XML_ELEMENT_NODE)
			continue;
		id = np_xml_text(it, NULL);
		if (np_ec2_check_id(id, "h-", "AllocateHosts: hostIdSet item", err) < 0) {
			rc = -1;
		} else if (got.n >= NP_HOST_MAX_INSTANCES) {
			rc = np_error(err,
				      "AllocateHosts: more than %d host ids; refusing the answer",
				      NP_HOST_MAX_INSTANCES);
		} else {
			np_strv_push(&got, id);
		}
		free(id);
	}
	if (rc == 0 && !got.n)
		rc = np_error(err, "AllocateHosts: the answer lists no host");
	for (size_t i = 0; rc == 0 && i < got.n; i++)
		np_strv_push(ids, got.v[i]);
	np_strv_release(&got);
	xmlFreeDoc(doc);
	np_query_release(&q);
	return rc;
}

/* ---- DescribeHosts ---- */

static enum np_bool on_off_of(xmlNode *n, const char *name)
{
	char *s = np_xml_text(n, name);
	enum np_bool b = !s ? NP_BOOL_UNSET : !strcmp(s, "on") ? NP_BOOL_TRUE : NP_BOOL_FALSE;

	free(s);
	return b;
}

/* A family or type name: a plain token as EC2 writes them. */
static int name_of(xmlNode *n, const char *name, char **out, struct np_err *err)
{
	*out = np_xml_text(n, name);
	if (*out && !*out[0]) {
		free(*out);
		*out = NULL;
	}
	if (*out && !np_xml_token_ok(*out, 64))
		return np_error(err, "%s is not a name", name);
	return 0;
}

/* availableCapacity: availableInstanceCapacity items and availableVCpus. */
static int capacity_of(xmlNode *item, struct np_host *h, struct np_err *err)
{
	xmlNode *ac = np_xml_child(item, "availableCapacity");
	xmlNode *set = ac ? np_xml_child(ac, "availableInstanceCapacity") : NULL;
	size_t alloc = 0;

	if (!ac)
		return 0;
	if (np_xml_int(ac, "availableVCpus", 0, 1 << 20, &h->available_vcpus, "availableVCpus",
		       err) < 0)
		return -1;
	for (xmlNode *it = set ? set->children : NULL; it; it = it->next) {
		struct np_host_capacity *c;

		if (it->type != XML_ELEMENT_NODE)
			continue;
		if (h->n_capacity >= NP_HOST_MAX_CAPACITIES)
			return np_error(err, "more than %d availableInstanceCapacity items",
					NP_HOST_MAX_CAPACITIES);
		NP_ALLOC_GROW(h->capacity, h->n_capacity + 1, alloc);
		c = &h->capacity[h->n_capacity];
		memset(c, 0, sizeof(*c));
		h->n_capacity++;
		if (name_of(it, "instanceType", &c->instance_type, err) < 0)
			return -1;
		if (!c->instance_type)
			return np_error(err,
					"an availableInstanceCapacity item without instanceType");
		if (np_xml_int(it, "availableCapacity", 0, 1 << 20, &c->available,
			       "availableCapacity", err) < 0 ||
		    np_xml_int(it, "totalCapacity", 0, 1 << 20, &c->total, "totalCapacity", err) <
			0)
			return -1;
	}
	return 0;
}

/* instances: the ids of the instances that hold capacity on it. */
static int instances_of(xmlNode *item, struct np_host *h, struct np_err *err)
{
	xmlNode *set = np_xml_child(item, "instances");

	for (xmlNode *it = set ? set->children : NULL; it; it = it->next) {
		char *id;

		if (it->type != XML_ELEMENT_NODE)
			continue;
		if (h->instance_ids.n >= NP_HOST_MAX_INSTANCES)
			return np_error(err, "more than %d instances on the host",
					NP_HOST_MAX_INSTANCES);
		id = np_xml_text(it, "instanceId");
		if (np_ec2_check_id(id, "i-", "instances: instanceId", err) < 0) {
			free(id);
			return -1;
		}
		np_strv_push(&h->instance_ids, id);
		free(id);
	}
	return 0;
}

static int parse_host(xmlNode *item, struct np_host *h, struct np_err *err)
{
	xmlNode *props;
	char *s;

	memset(h, 0, sizeof(*h));
	if (np_ec2_item_id(item, "hostId", "h-", "a host", &h->host_id, err) < 0)
		return -1;
	if (!(s = np_xml_text(item, "state")))
		return np_error(err, "host %s: no state in the answer", h->host_id);
	h->state = np_host_state_parse(s);
	free(s);
	if (!h->state)
		return np_error(err, "host %s: its state is not one nestplan knows", h->host_id);
	h->auto_placement = on_off_of(item, "autoPlacement");
	h->host_recovery = on_off_of(item, "hostRecovery");
	h->availability_zone = np_xml_text(item, "availabilityZone");
	h->client_token = np_xml_text(item, "clientToken");
	h->allocation_time = np_xml_text(item, "allocationTime");
	if ((props = np_xml_child(item, "hostProperties"))) {
		if (np_xml_int(props, "cores", 0, 1 << 16, &h->cores, "hostProperties.cores", err) <
			0 ||
		    np_xml_int(props, "sockets", 0, 1 << 10, &h->sockets, "hostProperties.sockets",
			       err) < 0 ||
		    np_xml_int(props, "totalVCpus", 0, 1 << 20, &h->total_vcpus,
			       "hostProperties.totalVCpus", err) < 0 ||
		    name_of(props, "instanceFamily", &h->instance_family, err) < 0 ||
		    name_of(props, "instanceType", &h->instance_type, err) < 0)
			goto bad;
		/* A single-type host reports its family too; np_host holds one of
		 * the two, as the file says one. */
		if (h->instance_type) {
			free(h->instance_family);
			h->instance_family = NULL;
		}
	}
	if (capacity_of(item, h, err) < 0 || instances_of(item, h, err) < 0 ||
	    np_ec2_owner_of(item, &h->owner_id, err) < 0)
		goto bad;
	np_ec2_tag_set(item, &h->address, &h->lineage, &h->tags);
	h->tags_set = true;
	return 0;
bad:
	np_error_prefix(err, "host %s", h->host_id);
	return -1;
}

int np_ec2_parse_hosts(xmlDoc *doc, struct np_host **v, size_t *n, size_t *alloc, char **next_token,
		       struct np_err *err)
{
	xmlNode *root, *set;
	size_t before = *n;

	if (next_token)
		*next_token = NULL;
	if (np_ec2_answer_root(doc, "DescribeHosts", &root, err) < 0)
		return -1;
	set = np_xml_child(root, "hostSet");
	for (xmlNode *it = set ? set->children : NULL; it; it = it->next) {
		if (it->type != XML_ELEMENT_NODE || strcmp((const char *)it->name, "item"))
			continue;
		if (*n >= NP_EC2_MAX_HOSTS_LISTED) {
			np_error(err, "more than %d hosts in one listing; refusing it",
				 NP_EC2_MAX_HOSTS_LISTED);
			goto fail;
		}
		NP_ALLOC_GROW(*v, *n + 1, *alloc);
		if (parse_host(it, &(*v)[*n], err) < 0) {
			np_host_release(&(*v)[*n]);
			goto fail;
		}
		(*n)++;
	}
	if (next_token)
		*next_token = np_ec2_next_token(root);
	return 0;
fail:
	/* A listing with a hole would plan that host as released. */
	while (*n > before)
		np_host_release(&(*v)[--*n]);
	np_error_prefix(err, "DescribeHosts");
	return -1;
}

struct host_pages {
	struct np_host **v;
	size_t *n, *alloc;
};

static int host_page(xmlDoc *doc, void *ctx, char **next, struct np_err *err)
{
	struct host_pages *hp = ctx;

	return np_ec2_parse_hosts(doc, hp->v, hp->n, hp->alloc, next, err);
}

/* On failure nothing is listed. */
static int hosts_result(int rc, struct np_host **out, size_t *n)
{
	if (rc < 0) {
		np_hosts_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* HostId.N fails the whole call with InvalidHostID.NotFound when one id is
 * unknown (EC2 has no host-id filter for DescribeHosts, botocore's model),
 * and a released host is still listed for a while, so a NotFound id is one
 * gone for good. The batch is halved until the ids it names are alone: an
 * unknown id costs about 2 log2(batch) calls, a batch without one a call. */
static int hosts_by_id(struct np_aws *aws, const char *const *ids, size_t n, struct host_pages *hp,
		       struct np_err *err)
{
	struct np_query base = NP_QUERY_INIT;
	int rc;

	np_ec2_list_param(&base, "HostId", ids, n);
	rc = np_ec2_pages(aws, "DescribeHosts", &base, 0, host_page, hp, err);
	np_query_release(&base);
	if (rc == 0 || strcmp(err->code, "InvalidHostID.NotFound"))
		return rc;
	if (n == 1) {
		*err = (struct np_err)NP_ERR_INIT;
		return 0;
	}
	if (hosts_by_id(aws, ids, n / 2, hp, err) < 0)
		return -1;
	return hosts_by_id(aws, ids + n / 2, n - n / 2, hp, err);
}

int np_ec2_describe_hosts_by_id(struct np_aws *aws, const char *const *ids, size_t n_ids,
				struct np_host **out, size_t *n, struct np_err *err)
{
	size_t alloc = 0;
	struct host_pages hp = { out, n, &alloc };
	int rc = 0;

	*out = NULL;
	*n = 0;
	/* Never an empty list: DescribeHosts would list every host. */
	for (size_t off = 0; rc == 0 && off < n_ids; off += HOST_IDS_PER_CALL)
		rc = hosts_by_id(aws, ids + off,
				 n_ids - off < HOST_IDS_PER_CALL ? n_ids - off : HOST_IDS_PER_CALL,
				 &hp, err);
	return hosts_result(rc, out, n);
}

int np_ec2_describe_hosts_filter(struct np_aws *aws, const char *name, const char *const *values,
				 size_t n_values, struct np_host **out, size_t *n,
				 struct np_err *err)
{
	size_t alloc = 0;
	struct host_pages hp = { out, n, &alloc };
	int rc;

	*out = NULL;
	*n = 0;
	rc = np_ec2_filter_pages(aws, "DescribeHosts", name, values, n_values, NP_EC2_HOSTS_PAGE,
				 host_page, &hp, err);
	return hosts_result(rc, out, n);
}

/* ---- ModifyHosts, ReleaseHosts ---- */

/* The first `unsuccessful` item as the failure: err->code is EC2's code
 * ("Client.InvalidHost.Occupied"), the message names the action and the
 * host. Every host the call named must be in `successful` otherwise. */
int np_ec2_parse_host_batch(xmlDoc *doc, const char *action, size_t n_asked, struct np_err *err)
{
	xmlNode *root = NULL, *bad, *ok;
	size_t n_ok = 0;

	if (np_ec2_answer_root(doc, action, &root, err) < 0)
		return -1;
	bad = np_xml_child(root, "unsuccessful");
	for (xmlNode *it = bad ? bad->children : NULL; it; it = it->next) {
		xmlNode *e;
		char *id, *code, *msg;
		struct np_buf sid = NP_BUF_INIT, scode = NP_BUF_INIT, smsg = NP_BUF_INIT;

		if (it->type != XML_ELEMENT_NODE)
			continue;
		e = np_xml_child(it, "error");
		id = np_xml_text(it, "resourceId");
		code = e ? np_xml_text(e, "code") : NULL;
		msg = e ? np_xml_text(e, "message") : NULL;
		quote(&sid, id ? id : "(no id)");
		quote(&scode, code ? code : "(no code)");
		np_buf_add_visible(&smsg, msg ? msg : "(no message)", 512);
		/* Occupied is a state to wait out (instances still on it); the
		 * rest are refusals of this request. */
		np_error_cls(err,
			     code && strstr(code, "InvalidHost.Occupied") ? NP_ERRC_STATE
									  : NP_ERRC_BAD_REQUEST,
			     "%s: host %s: %s: %s", action, sid.ptr, scode.ptr, smsg.ptr);
		snprintf(err->code, sizeof(err->code), "%s", code ? scode.ptr : "");
		err->http_status = 200;
		np_buf_release(&sid);
		np_buf_release(&scode);
		np_buf_release(&smsg);
		free(id);
		free(code);
		free(msg);
		return -1;
	}
	ok = np_xml_child(root, "successful");
	for (xmlNode *it = ok ? ok->children : NULL; it; it = it->next)
		n_ok += it->type == XML_ELEMENT_NODE;
	if (n_ok < n_asked)
		return np_error(err, "%s: the answer names %zu of the %zu hosts as done", action,
				n_ok, n_asked);
	return 0;
}

static int batch_check(xmlDoc *doc, const char *action, const void *ctx, struct np_err *err)
{
	return np_ec2_parse_host_batch(doc, action, *(const size_t *)ctx, err);
}

static int batch_call(struct np_aws *aws, const char *action, struct np_query *q, size_t n,
		      struct np_err *err)
{
	return np_ec2_call_checked(aws, action, q, batch_check, &n, err);
}

int np_ec2_modify_hosts(struct np_aws *aws, const char *const *ids, size_t n,
			enum np_bool auto_placement, enum np_bool host_recovery, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;

	if (!n || (!auto_placement && !host_recovery))
		return 0;
	np_ec2_list_param(&q, "HostId", ids, n);
	if (auto_placement)
		np_query_add(&q, "AutoPlacement", on_off(auto_placement));
	if (host_recovery)
		np_query_add(&q, "HostRecovery", on_off(host_recovery));
	return batch_call(aws, "ModifyHosts", &q, n, err);
}

int np_ec2_release_hosts(struct np_aws *aws, const char *const *ids, size_t n, struct np_err *err)
{
	struct np_query q = NP_QUERY_INIT;

	if (!n)
		return 0;
	np_ec2_list_param(&q, "HostId", ids, n);
	return batch_call(aws, "ReleaseHosts", &q, n, err);
}
