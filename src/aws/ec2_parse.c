/* Reading EC2 answers: local element names only, unknown elements skipped,
 * a missing optional element is "not set". What the plan needs (an
 * instance's id, type and state) must be there, and numbers must be numbers
 * in range: an answer nestplan does not understand is an error, never data. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/ec2.h"

/* Deeper than any EC2 answer nestplan reads (DescribeInstances is 8 deep). */
#define ANSWER_MAX_DEPTH 32
/* EC2's longest texts in these answers are tag values (256 characters, up
 * to 1,024 bytes of UTF-8) and state reasons; 8 KiB is far beyond both. */
#define ANSWER_MAX_TEXT 8192

/* What came instead of the answer, for the message: the root element's
 * name, cut short and kept printable. */
static void describe_root(const xmlNode *root, char *out, size_t size)
{
	size_t j = 0;

	for (const unsigned char *p = root->name; *p && j + 1 < size && j < 40; p++)
		out[j++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
	out[j] = '\0';
}

/* Every element and text within bounds: depth, text length. libxml2 stops
 * at 256 levels and 10 MB texts already; these bounds are EC2's shape. */
static int check_bounds(const char *action, xmlNode *root, struct np_err *err)
{
	xmlNode *n = root;
	int depth = 1;

	for (;;) {
		if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content &&
		    strlen((const char *)n->content) > ANSWER_MAX_TEXT)
			return np_error(err,
					"%s: the answer holds a text of more than %d bytes; "
					"refusing it",
					action, ANSWER_MAX_TEXT);
		if (n->type == XML_ELEMENT_NODE && n->children) {
			if (++depth > ANSWER_MAX_DEPTH)
				return np_error(err,
						"%s: the answer nests deeper than %d elements; "
						"refusing it",
						action, ANSWER_MAX_DEPTH);
			n = n->children;
			continue;
		}
		while (n != root && !n->next) {
			n = n->parent;
			depth--;
		}
		if (n == root)
			return 0;
		n = n->next;
	}
}

int np_ec2_answer_root(xmlDoc *doc, const char *action, xmlNode **out, struct np_err *err)
{
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	char want[96], got[48];

	if (out)
		*out = NULL;
	if (!root)
		return np_error(err, "%s: the answer is empty or not XML", action);
	snprintf(want, sizeof(want), "%sResponse", action);
	if (!strcmp((const char *)root->name, want)) {
		if (check_bounds(action, root, err) < 0)
			return -1;
		if (out)
			*out = root;
		return 0;
	}
	describe_root(root, got, sizeof(got));
	/* EC2's error document (Response/Errors/Error) or STS's (ErrorResponse)
	 * with a success status: a proxy or a broken endpoint. Its code is
	 * quoted, never acted on (err->code stays empty). */
	if (!strcmp(got, "Response") || !strcmp(got, "ErrorResponse")) {
		xmlNode *errors = np_xml_child(root, "Errors");
		xmlNode *e = np_xml_child(errors ? errors : root, "Error");
		char *code = np_xml_text(e, "Code"), *msg = np_xml_text(e, "Message");
		struct np_buf safe = NP_BUF_INIT;

		np_buf_add_visible(&safe, msg ? msg : "(no message)", 512);
		np_error(err,
			 "%s: an error document came with a success status (%s: %.*s), not "
			 "<%s>; refusing the answer",
			 action, code ? code : "no code", 512, safe.ptr, want);
		np_buf_release(&safe);
		free(code);
		free(msg);
		return -1;
	}
	if (!strcasecmp(got, "html") || !strcasecmp(got, "body") || !strcasecmp(got, "head"))
		return np_error(err,
				"%s: an HTML page came, not <%s> (a proxy, a captive portal or "
				"the wrong endpoint?); refusing the answer",
				action, want);
	return np_error(err, "%s: the answer is <%s>, not <%s>; refusing it", action, got, want);
}

/* A whole decimal number in [lo, hi]; "not there" leaves *out as it is. An
 * element that is there but not such a number is an error. */
int np_xml_int(xmlNode *n, const char *name, long lo, long hi, int *out, const char *what,
	       struct np_err *err)
{
	char *s = np_xml_text(n, name), *end;
	long v;
	int rc = 0;

	if (!s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi) {
		struct np_buf safe = NP_BUF_INIT;

		np_buf_add_visible(&safe, s, 40);
		rc = np_error(err, "%s '%s' is not a number from %ld to %ld", what, safe.ptr, lo,
			      hi);
		np_buf_release(&safe);
	} else {
		*out = (int)v;
	}
	free(s);
	return rc;
}

/* Ids and names EC2 gives as plain tokens: no spaces, no controls. */
bool np_xml_token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return false;
	return true;
}

bool np_ec2_id_ok(const char *s, const char *prefix)
{
	size_t p = strlen(prefix), hex;

	if (strncmp(s, prefix, p))
		return false;
	hex = strspn(s + p, "0123456789abcdef");
	return hex >= 1 && hex <= 32 && !s[p + hex];
}

void np_ec2_tag_set(xmlNode *item, char **address, char **lineage, struct np_tags *tags)
{
	xmlNode *set = np_xml_child(item, "tagSet");

	for (xmlNode *t = set ? set->children : NULL; t; t = t->next) {
		char *k, *v;

		if (t->type != XML_ELEMENT_NODE)
			continue;
		k = np_xml_text(t, "key");
		v = np_xml_text(t, "value");
		if (k && !strcmp(k, NP_TAG_ADDRESS)) {
			free(*address);
			*address = np_xstrdup(v ? v : "");
		} else if (k && !strcmp(k, NP_TAG_LINEAGE)) {
			free(*lineage);
			*lineage = np_xstrdup(v ? v : "");
		} else if (k) {
			np_tags_set(tags, k, v ? v : "");
		}
		free(k);
		free(v);
	}
}

int np_ec2_check_id(const char *s, const char *prefix, const char *what, struct np_err *err)
{
	struct np_buf safe = NP_BUF_INIT;

	if (s && np_ec2_id_ok(s, prefix))
		return 0;
	np_buf_add_visible(&safe, s ? s : "", 40);
	np_error(err, "%s '%s' is not %s id", what, safe.ptr,
		 !strcmp(prefix, "i-") ? "an instance" : "a host");
	np_buf_release(&safe);
	return -1;
}

int np_ec2_item_id(xmlNode *item, const char *name, const char *prefix, const char *what,
		   char **out, struct np_err *err)
{
	*out = np_xml_text(item, name);
	if (!*out)
		return np_error(err, "%s without %s", what, name);
	return np_ec2_check_id(*out, prefix, name, err);
}

/* Instances launched together carry "group[A..B]" in nestplan:address (one
 * RunInstances call tags them all alike); the one with launch index k is
 * group[A+k]. Other values are addresses as they are. */
static char *address_of(const char *tag, int launch_index)
{
	const char *open = strrchr(tag, '[');
	long lo, hi;
	int used = 0;

	if (open && launch_index >= 0 && sscanf(open, "[%ld..%ld]%n", &lo, &hi, &used) == 2 &&
	    open[used] == '\0' && lo >= 0 && hi >= lo && launch_index <= hi - lo)
		return np_xasprintf("%.*s[%ld]", (int)(open - tag), tag, lo + launch_index);
	return np_xstrdup(tag);
}

static enum np_run_state state_of(xmlNode *n, struct np_err *err)
{
	int code = -1;
	char *name;
	enum np_run_state st;

	if (np_xml_int(n, "code", 0, 65535, &code, "instanceState.code", err) < 0)
		return NP_RUN_UNSET;
	/* The high byte of the code is internal to EC2. */
	switch (code < 0 ? -1 : code & 0xff) {
	case 0:
		return NP_RUN_PENDING;
	case 16:
		return NP_RUN_RUNNING;
	case 32:
		return NP_RUN_SHUTTING_DOWN;
	case 48:
		return NP_RUN_TERMINATED;
	case 64:
		return NP_RUN_STOPPING;
	case 80:
		return NP_RUN_STOPPED;
	default:
		break;
	}
	name = np_xml_text(n, "name");
	st = name ? np_run_state_parse(name) : NP_RUN_UNSET;
	if (!st)
		np_error(err, "instanceState is neither a known code nor a known name");
	free(name);
	return st;
}

/* One instancesSet item into out (released by the caller either way). */
/* The attributes the table reads by themselves, at their paths. */
static int gen_attrs(xmlNode *item, struct np_instance *out, struct np_err *err)
{
	for (size_t i = 0; i < np_n_attrs; i++) {
		const struct np_attr_def *a = &np_attrs[i];
		char path[128], *seg, *save = NULL, *text;
		xmlNode *n = item;

		if (!a->gen || !a->ec2)
			continue;
		snprintf(path, sizeof(path), "%s", a->ec2);
		for (seg = strtok_r(path, "/", &save); seg && n; seg = strtok_r(NULL, "/", &save))
			n = np_xml_child(n, seg);
		if (!n || !(text = np_xml_text(n, NULL))) {
			/* An instance profile appears only while one is associated. */
			if (a->ec2_absent)
				np_attr_set_text(a, out, a->ec2_absent);
			continue;
		}
		if (*text && np_attr_set_text(a, out, text) < 0) {
			struct np_buf safe = NP_BUF_INIT;

			np_buf_add_visible(&safe, text, 64);
			np_error(err, "instance %s: %s '%s' is not a value nestplan knows",
				 out->instance_id, a->ec2, safe.ptr);
			np_buf_release(&safe);
			free(text);
			return -1;
		}
		free(text);
	}
	return 0;
}

/* The root device's mapping: its volume (DescribeVolumes reads the rest)
 * and whether it goes with the instance. */
static void root_device(xmlNode *item, struct np_instance *out)
{
	xmlNode *set = np_xml_child(item, "blockDeviceMapping");

	out->root_device_name = np_xml_text(item, "rootDeviceName");
	for (xmlNode *it = set ? set->children : NULL; it && out->root_device_name; it = it->next) {
		char *dev, *dot;

		if (it->type != XML_ELEMENT_NODE || !(dev = np_xml_text(it, "deviceName")))
			continue;
		if (!strcmp(dev, out->root_device_name)) {
			xmlNode *ebs = np_xml_child(it, "ebs");

			free(out->root_volume_id);
			out->root_volume_id = ebs ? np_xml_text(ebs, "volumeId") : NULL;
			dot = ebs ? np_xml_text(ebs, "deleteOnTermination") : NULL;
			if (dot)
				out->root_delete_on_termination =
				    !strcmp(dot, "true") ? NP_BOOL_TRUE : NP_BOOL_FALSE;
			free(dot);
		}
		free(dev);
	}
}

static int parse_instance(xmlNode *item, struct np_instance *out, struct np_err *err)
{
	xmlNode *n;
	char *s;
	int launch_index = -1;

	memset(out, 0, sizeof(*out));
	if (np_ec2_item_id(item, "instanceId", "i-", "an instance", &out->instance_id, err) < 0)
		return -1;
	out->image_id = np_xml_text(item, "imageId");
	out->instance_type = np_xml_text(item, "instanceType");
	if (!out->instance_type || !np_xml_token_ok(out->instance_type, 64))
		return np_error(err, "instance %s: %s", out->instance_id,
				out->instance_type ? "instanceType is not an instance type"
						   : "no instanceType in the answer");
	out->key_name = np_xml_text(item, "keyName");
	out->subnet_id = np_xml_text(item, "subnetId");
	out->client_token = np_xml_text(item, "clientToken");
	out->launch_time = np_xml_text(item, "launchTime");
	if (np_xml_int(item, "amiLaunchIndex", 0, NP_EC2_MAX_LISTED, &launch_index,
		       "amiLaunchIndex", err) < 0)
		goto bad;
	if (!(n = np_xml_child(item, "instanceState")))
		return np_error(err, "instance %s: no instanceState in the answer",
				out->instance_id);
	if (!(out->state = state_of(n, err)))
		goto bad;
	s = np_xml_text(item, "platform");
	out->platform = s && np_platform_parse(s) == NP_PLATFORM_WINDOWS ? NP_PLATFORM_WINDOWS
									 : NP_PLATFORM_LINUX;
	free(s);
	if ((s = np_xml_text(item, "instanceLifecycle"))) {
		out->spot = !strcmp(s, "spot");
		free(s);
	}
	if ((n = np_xml_child(item, "placement"))) {
		s = np_xml_text(n, "tenancy");
		out->tenancy = s ? np_tenancy_parse(s) : NP_TENANCY_DEFAULT;
		free(s);
		out->host_id = np_xml_text(n, "hostId");
		out->availability_zone = np_xml_text(n, "availabilityZone");
		if (out->host_id && !*out->host_id) {
			free(out->host_id);
			out->host_id = NULL;
		}
	}
	if (!out->tenancy)
		out->tenancy = NP_TENANCY_DEFAULT;
	if ((n = np_xml_child(item, "cpuOptions"))) {
		/* EC2's largest types have a few hundred cores and two threads each. */
		if (np_xml_int(n, "coreCount", 1, 4096, &out->core_count, "cpuOptions.coreCount",
			       err) < 0 ||
		    np_xml_int(n, "threadsPerCore", 1, 16, &out->threads_per_core,
			       "cpuOptions.threadsPerCore", err) < 0)
			goto bad;
		s = np_xml_text(n, "nestedVirtualization");
		out->nested_virtualization =
		    s && !strcmp(s, "enabled") ? NP_NV_ENABLED : NP_NV_DISABLED;
		free(s);
	} else {
		out->nested_virtualization = NP_NV_DISABLED;
	}
	if ((n = np_xml_child(item, "hibernationOptions"))) {
		s = np_xml_text(n, "configured");
		out->hibernation = s && !strcmp(s, "true") ? NP_BOOL_TRUE : NP_BOOL_FALSE;
		free(s);
	}
	if ((n = np_xml_child(item, "groupSet"))) {
		out->security_groups_set = true;
		for (xmlNode *g = n->children; g; g = g->next) {
			if (g->type != XML_ELEMENT_NODE)
				continue;
			s = np_xml_text(g, "groupId");
			if (s)
				np_strv_push(&out->security_group_ids, s);
			free(s);
		}
	}
	np_ec2_tag_set(item, &out->address, &out->lineage, &out->tags);
	if (out->address) {
		s = address_of(out->address, launch_index);
		free(out->address);
		out->address = s;
	}
	out->tags_set = true;
	root_device(item, out);
	return gen_attrs(item, out, err);
bad:
	np_error_prefix(err, "instance %s", out->instance_id);
	return -1;
}

int np_ec2_parse_instance(xmlNode *item, struct np_instance *out, struct np_err *err)
{
	if (parse_instance(item, out, err) == 0)
		return 0;
	np_instance_release(out);
	return -1;
}

static int add_items(xmlNode *set, struct np_instance **v, size_t *n, size_t *alloc,
		     struct np_err *err)
{
	for (xmlNode *it = set ? set->children : NULL; it; it = it->next) {
		if (it->type != XML_ELEMENT_NODE || strcmp((const char *)it->name, "item"))
			continue;
		if (*n >= NP_EC2_MAX_LISTED)
			return np_error(err, "more than %d instances in one listing; refusing it",
					NP_EC2_MAX_LISTED);
		NP_ALLOC_GROW(*v, *n + 1, *alloc);
		if (np_ec2_parse_instance(it, &(*v)[*n], err) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

int np_ec2_owner_of(xmlNode *n, char **out, struct np_err *err)
{
	char *owner = np_xml_text(n, "ownerId");

	*out = NULL;
	if (owner && (strlen(owner) != 12 || strspn(owner, "0123456789") != 12)) {
		struct np_buf safe = NP_BUF_INIT;

		np_buf_add_visible(&safe, owner, 40);
		np_error(err, "ownerId '%s' is not an AWS account id", safe.ptr);
		np_buf_release(&safe);
		free(owner);
		return -1;
	}
	*out = owner;
	return 0;
}

/* A reservation's instances carry its ownerId: the account the state pins. */
static int add_reservation(xmlNode *r, struct np_instance **v, size_t *n, size_t *alloc,
			   struct np_err *err)
{
	size_t first = *n;
	char *owner;

	if (add_items(np_xml_child(r, "instancesSet"), v, n, alloc, err) < 0)
		return -1;
	if (*n == first)
		return 0;
	if (np_ec2_owner_of(r, &owner, err) < 0)
		return -1;
	for (size_t i = first; i < *n; i++)
		(*v)[i].owner_id = np_xstrdup(owner);
	free(owner);
	return 0;
}

char *np_ec2_next_token(xmlNode *root)
{
	char *t = np_xml_text(root, "nextToken");

	if (t && !*t) {
		free(t);
		t = NULL;
	}
	return t;
}

int np_ec2_parse_instances(xmlDoc *doc, const char *action, struct np_instance **v, size_t *n,
			   size_t *alloc, char **next_token, struct np_err *err)
{
	xmlNode *root, *rs;
	size_t before = *n;

	if (next_token)
		*next_token = NULL;
	if (np_ec2_answer_root(doc, action, &root, err) < 0)
		return -1;
	/* DescribeInstances: reservationSet/item/instancesSet; RunInstances: instancesSet. */
	if ((rs = np_xml_child(root, "reservationSet"))) {
		for (xmlNode *r = rs->children; r; r = r->next)
			if (r->type == XML_ELEMENT_NODE && add_reservation(r, v, n, alloc, err) < 0)
				goto fail;
	}
	if (add_reservation(root, v, n, alloc, err) < 0)
		goto fail;
	if (next_token)
		*next_token = np_ec2_next_token(root);
	return 0;
fail:
	/* One instance this answer cannot describe makes the whole answer an
	 * error: a listing with a hole would plan that instance as gone. */
	while (*n > before)
		np_instance_release(&(*v)[--*n]);
	np_error_prefix(err, "%s", action);
	return -1;
}

/* Every <item> of set as a number in [lo, hi]. */
static int ints_of(xmlNode *set, int **v, size_t *n, long lo, long hi, const char *what,
		   struct np_err *err)
{
	size_t alloc = 0;

	for (xmlNode *it = set ? set->children : NULL; it; it = it->next) {
		int x = 0;

		if (it->type != XML_ELEMENT_NODE)
			continue;
		if (*n >= 4096)
			return np_error(err, "%s: more than 4096 values", what);
		if (np_xml_int(it, NULL, lo, hi, &x, what, err) < 0)
			return -1;
		NP_ALLOC_GROW(*v, *n + 1, alloc);
		(*v)[(*n)++] = x;
	}
	return 0;
}

static bool bool_of(xmlNode *n, const char *name)
{
	char *s = np_xml_text(n, name);
	bool b = s && !strcmp(s, "true");

	free(s);
	return b;
}

static int parse_itype(xmlNode *it, struct np_itype *t, struct np_err *err)
{
	xmlNode *vc, *pi;

	if (!np_xml_token_ok(t->name, 64))
		return np_error(err, "instanceType is not an instance type");
	if ((vc = np_xml_child(it, "vCpuInfo"))) {
		if (np_xml_int(vc, "defaultVCpus", 1, 8192, &t->default_vcpus, "defaultVCpus",
			       err) < 0 ||
		    np_xml_int(vc, "defaultCores", 1, 4096, &t->default_cores, "defaultCores",
			       err) < 0 ||
		    np_xml_int(vc, "defaultThreadsPerCore", 1, 16, &t->default_threads_per_core,
			       "defaultThreadsPerCore", err) < 0 ||
		    ints_of(np_xml_child(vc, "validCores"), &t->valid_cores, &t->n_valid_cores, 1,
			    4096, "validCores", err) < 0 ||
		    ints_of(np_xml_child(vc, "validThreadsPerCore"), &t->valid_threads,
			    &t->n_valid_threads, 1, 16, "validThreadsPerCore", err) < 0)
			return -1;
	}
	if ((pi = np_xml_child(it, "processorInfo"))) {
		xmlNode *f = np_xml_child(pi, "supportedFeatures");

		for (xmlNode *x = f ? f->children : NULL; x; x = x->next) {
			char *s = x->type == XML_ELEMENT_NODE ? np_xml_text(x, NULL) : NULL;

			if (s && !strcmp(s, "nested-virtualization"))
				t->nested_virtualization = true;
			free(s);
		}
	}
	t->hibernation_supported = bool_of(it, "hibernationSupported");
	t->dedicated_hosts_supported = bool_of(it, "dedicatedHostsSupported");
	t->bare_metal = bool_of(it, "bareMetal");
	return 0;
}

int np_ec2_parse_instance_types(xmlDoc *doc, struct np_catalog *out, char **next_token,
				struct np_err *err)
{
	xmlNode *root, *set;

	if (next_token)
		*next_token = NULL;
	if (np_ec2_answer_root(doc, "DescribeInstanceTypes", &root, err) < 0)
		return -1;
	set = np_xml_child(root, "instanceTypeSet");
	for (xmlNode *it = set ? set->children : NULL; it; it = it->next) {
		struct np_itype t;

		if (it->type != XML_ELEMENT_NODE)
			continue;
		memset(&t, 0, sizeof(t));
		t.name = np_xml_text(it, "instanceType");
		if (!t.name)
			continue;
		if (parse_itype(it, &t, err) < 0) {
			struct np_buf safe = NP_BUF_INIT;

			np_buf_add_visible(&safe, t.name, 64);
			np_error_prefix(err, "DescribeInstanceTypes: type '%s'", safe.ptr);
			np_buf_release(&safe);
			np_itype_release(&t);
			return -1;
		}
		np_catalog_add(out, &t);
		np_itype_release(&t);
	}
	if (next_token)
		*next_token = np_ec2_next_token(root);
	return 0;
}
