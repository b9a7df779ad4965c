/* Reading EC2 answers: local element names only, unknown elements skipped,
 * a missing element is "not set". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/ec2.h"

static int int_of(xmlNode *n, const char *name)
{
	char *s = np_xml_text(n, name);
	int v = s ? atoi(s) : 0;

	free(s);
	return v;
}

/* Instances launched together carry "group[A..B]" in nestplan:address (one
 * RunInstances call tags them all alike); the one with launch index k is
 * group[A+k]. Other values are addresses as they are. */
static char *address_of(const char *tag, int launch_index)
{
	const char *open = strrchr(tag, '[');
	long lo, hi;
	int used = 0;

	if (open && launch_index >= 0 &&
	    sscanf(open, "[%ld..%ld]%n", &lo, &hi, &used) == 2 && open[used] == '\0' &&
	    lo >= 0 && hi >= lo && launch_index <= hi - lo)
		return np_xasprintf("%.*s[%ld]", (int)(open - tag), tag, lo + launch_index);
	return np_xstrdup(tag);
}

int np_ec2_parse_instance(xmlNode *item, struct np_instance *out)
{
	xmlNode *n;
	char *s;
	int launch_index = -1;

	memset(out, 0, sizeof(*out));
	out->instance_id = np_xml_text(item, "instanceId");
	out->image_id = np_xml_text(item, "imageId");
	out->instance_type = np_xml_text(item, "instanceType");
	out->key_name = np_xml_text(item, "keyName");
	out->subnet_id = np_xml_text(item, "subnetId");
	out->client_token = np_xml_text(item, "clientToken");
	out->launch_time = np_xml_text(item, "launchTime");
	if ((s = np_xml_text(item, "amiLaunchIndex"))) {
		launch_index = atoi(s);
		free(s);
	}
	if ((n = np_xml_child(item, "instanceState")))
		/* The high byte of the code is internal to EC2. */
		switch (int_of(n, "code") & 0xff) {
		case 0: out->state = NP_RUN_PENDING; break;
		case 16: out->state = NP_RUN_RUNNING; break;
		case 32: out->state = NP_RUN_SHUTTING_DOWN; break;
		case 48: out->state = NP_RUN_TERMINATED; break;
		case 64: out->state = NP_RUN_STOPPING; break;
		case 80: out->state = NP_RUN_STOPPED; break;
		default: {
			char *name = np_xml_text(n, "name");

			out->state = np_run_state_parse(name);
			free(name);
		}
		}
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
		out->core_count = int_of(n, "coreCount");
		out->threads_per_core = int_of(n, "threadsPerCore");
		s = np_xml_text(n, "nestedVirtualization");
		out->nested_virtualization = s && !strcmp(s, "enabled") ? NP_NV_ENABLED : NP_NV_DISABLED;
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
	if ((n = np_xml_child(item, "tagSet"))) {
		for (xmlNode *t = n->children; t; t = t->next) {
			char *k, *v;

			if (t->type != XML_ELEMENT_NODE)
				continue;
			k = np_xml_text(t, "key");
			v = np_xml_text(t, "value");
			if (k && !strcmp(k, NP_TAG_ADDRESS)) {
				free(out->address);
				out->address = address_of(v ? v : "", launch_index);
			} else if (k && !strcmp(k, NP_TAG_LINEAGE)) {
				free(out->lineage);
				out->lineage = np_xstrdup(v ? v : "");
			} else if (k) {
				np_tags_set(&out->tags, k, v ? v : "");
			}
			free(k);
			free(v);
		}
	}
	out->tags_set = true;
	return launch_index;
}

static void add_items(xmlNode *set, struct np_instance **v, size_t *n, size_t *alloc)
{
	for (xmlNode *it = set ? set->children : NULL; it; it = it->next) {
		if (it->type != XML_ELEMENT_NODE || strcmp((const char *)it->name, "item"))
			continue;
		NP_ALLOC_GROW(*v, *n + 1, *alloc);
		np_ec2_parse_instance(it, &(*v)[*n]);
		if (!(*v)[*n].instance_id) {
			np_instance_release(&(*v)[*n]);
			continue;
		}
		(*n)++;
	}
}

/* A reservation's instances carry its ownerId: the account the state pins. */
static void add_reservation(xmlNode *r, struct np_instance **v, size_t *n, size_t *alloc)
{
	size_t first = *n;
	char *owner;

	add_items(np_xml_child(r, "instancesSet"), v, n, alloc);
	if (*n == first)
		return;
	owner = np_xml_text(r, "ownerId");
	for (size_t i = first; i < *n; i++)
		(*v)[i].owner_id = np_xstrdup(owner);
	free(owner);
}

int np_ec2_parse_instances(xmlDoc *doc, struct np_instance **v, size_t *n, size_t *alloc,
                           char **next_token)
{
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL, *rs;

	if (next_token)
		*next_token = NULL;
	if (!root)
		return -1;
	/* DescribeInstances: reservationSet/item/instancesSet; RunInstances: instancesSet. */
	if ((rs = np_xml_child(root, "reservationSet"))) {
		for (xmlNode *r = rs->children; r; r = r->next)
			if (r->type == XML_ELEMENT_NODE)
				add_reservation(r, v, n, alloc);
	}
	add_reservation(root, v, n, alloc);
	if (next_token) {
		*next_token = np_xml_text(root, "nextToken");
		if (*next_token && !**next_token) {
			free(*next_token);
			*next_token = NULL;
		}
	}
	return 0;
}

static void ints_of(xmlNode *set, int **v, size_t *n)
{
	size_t alloc = 0;

	*v = NULL;
	*n = 0;
	for (xmlNode *it = set ? set->children : NULL; it; it = it->next) {
		char *s;

		if (it->type != XML_ELEMENT_NODE)
			continue;
		s = np_xml_text(it, NULL);
		NP_ALLOC_GROW(*v, *n + 1, alloc);
		(*v)[(*n)++] = s ? atoi(s) : 0;
		free(s);
	}
}

static bool bool_of(xmlNode *n, const char *name)
{
	char *s = np_xml_text(n, name);
	bool b = s && !strcmp(s, "true");

	free(s);
	return b;
}

int np_ec2_parse_instance_types(xmlDoc *doc, struct np_catalog *out, char **next_token)
{
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL, *set;

	if (next_token)
		*next_token = NULL;
	if (!root)
		return -1;
	set = np_xml_child(root, "instanceTypeSet");
	for (xmlNode *it = set ? set->children : NULL; it; it = it->next) {
		struct np_itype t;
		xmlNode *vc, *pi;

		if (it->type != XML_ELEMENT_NODE)
			continue;
		memset(&t, 0, sizeof(t));
		t.name = np_xml_text(it, "instanceType");
		if (!t.name)
			continue;
		if ((vc = np_xml_child(it, "vCpuInfo"))) {
			t.default_vcpus = int_of(vc, "defaultVCpus");
			t.default_cores = int_of(vc, "defaultCores");
			t.default_threads_per_core = int_of(vc, "defaultThreadsPerCore");
			ints_of(np_xml_child(vc, "validCores"), &t.valid_cores, &t.n_valid_cores);
			ints_of(np_xml_child(vc, "validThreadsPerCore"), &t.valid_threads,
			        &t.n_valid_threads);
		}
		if ((pi = np_xml_child(it, "processorInfo"))) {
			xmlNode *f = np_xml_child(pi, "supportedFeatures");

			for (xmlNode *x = f ? f->children : NULL; x; x = x->next) {
				char *s = x->type == XML_ELEMENT_NODE ? np_xml_text(x, NULL) : NULL;

				if (s && !strcmp(s, "nested-virtualization"))
					t.nested_virtualization = true;
				free(s);
			}
		}
		t.hibernation_supported = bool_of(it, "hibernationSupported");
		t.dedicated_hosts_supported = bool_of(it, "dedicatedHostsSupported");
		t.bare_metal = bool_of(it, "bareMetal");
		np_catalog_add(out, &t);
		np_itype_release(&t);
	}
	if (next_token) {
		*next_token = np_xml_text(root, "nextToken");
		if (*next_token && !**next_token) {
			free(*next_token);
			*next_token = NULL;
		}
	}
	return 0;
}
