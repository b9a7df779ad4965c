/* Dedicated Hosts in the model: release and copy, state names, and the
 * capacity a host has for an instance type (the simulator's model,
 * tests/ec2sim/README.md "Capacity"). */
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/host.h"
#include "nestplan/plan.h"

void np_host_release(struct np_host *h)
{
	if (!h)
		return;
	free(h->address);
	free(h->host_id);
	free(h->instance_family);
	free(h->instance_type);
	free(h->availability_zone);
	np_tags_release(&h->tags);
	free(h->client_token);
	free(h->lineage);
	free(h->owner_id);
	free(h->allocation_time);
	for (size_t i = 0; i < h->n_capacity; i++)
		free(h->capacity[i].instance_type);
	free(h->capacity);
	np_strv_release(&h->instance_ids);
	memset(h, 0, sizeof(*h));
}

void np_host_copy(struct np_host *dst, const struct np_host *src)
{
	*dst = *src;
	dst->address = np_xstrdup(src->address);
	dst->host_id = np_xstrdup(src->host_id);
	dst->instance_family = np_xstrdup(src->instance_family);
	dst->instance_type = np_xstrdup(src->instance_type);
	dst->availability_zone = np_xstrdup(src->availability_zone);
	np_tags_copy(&dst->tags, &src->tags);
	dst->client_token = np_xstrdup(src->client_token);
	dst->lineage = np_xstrdup(src->lineage);
	dst->owner_id = np_xstrdup(src->owner_id);
	dst->allocation_time = np_xstrdup(src->allocation_time);
	dst->capacity = NULL;
	if (src->n_capacity) {
		dst->capacity = np_xmalloc(src->n_capacity * sizeof(*dst->capacity));
		for (size_t i = 0; i < src->n_capacity; i++) {
			dst->capacity[i] = src->capacity[i];
			dst->capacity[i].instance_type = np_xstrdup(src->capacity[i].instance_type);
		}
	}
	np_strv_copy(&dst->instance_ids, &src->instance_ids);
}

void np_hosts_free(struct np_host *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		np_host_release(&v[i]);
	free(v);
}

/* By enum value; DescribeHosts' spelling. */
static const char *const state_names[] = {
	[NP_HOST_UNSET] = NULL,
	[NP_HOST_AVAILABLE] = "available",
	[NP_HOST_UNDER_ASSESSMENT] = "under-assessment",
	[NP_HOST_PERMANENT_FAILURE] = "permanent-failure",
	[NP_HOST_RELEASED] = "released",
	[NP_HOST_RELEASED_PERMANENT_FAILURE] = "released-permanent-failure",
	[NP_HOST_PENDING] = "pending",
};
#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

const char *np_host_state_name(enum np_host_state s)
{
	return (unsigned)s < N_STATES ? state_names[s] : NULL;
}

enum np_host_state np_host_state_parse(const char *s)
{
	for (size_t i = 1; s && i < N_STATES; i++)
		if (!strcmp(state_names[i], s))
			return (enum np_host_state)i;
	return NP_HOST_UNSET;
}

const char *np_kind_name(enum np_kind k) { return k == NP_KIND_HOST ? "host" : "instance"; }

/* "m8i" of "m8i.4xlarge"; false when the name has no dot. */
static bool family_of(const char *itype, char *out, size_t size)
{
	const char *dot = itype ? strchr(itype, '.') : NULL;

	if (!dot || (size_t)(dot - itype) >= size)
		return false;
	memcpy(out, itype, (size_t)(dot - itype));
	out[dot - itype] = '\0';
	return true;
}

int np_host_type_cores(const struct np_catalog *cat, const char *itype)
{
	const struct np_itype *t = itype ? np_catalog_find(cat, itype) : NULL;

	return t && t->default_cores > 0 ? t->default_cores : 0;
}

/* The cores of a host of this family: its largest size that runs on
 * Dedicated Hosts. */
static int family_cores(const struct np_catalog *cat, const char *family)
{
	size_t flen = strlen(family);
	int best = 0;

	for (size_t i = 0; cat && i < cat->n; i++) {
		const struct np_itype *t = &cat->v[i];

		if (t->name && !strncmp(t->name, family, flen) && t->name[flen] == '.' &&
		    t->dedicated_hosts_supported && t->default_cores > best)
			best = t->default_cores;
	}
	return best;
}

int np_host_free_slots(const struct np_host *h, const struct np_catalog *cat, const char *itype)
{
	char fam[64], want_fam[64];
	const struct np_itype *t = itype ? np_catalog_find(cat, itype) : NULL;
	int cores;

	if (!itype || !family_of(itype, want_fam, sizeof(want_fam)))
		return -1;
	if (h->instance_type && strcmp(h->instance_type, itype))
		return -1;
	if (!h->instance_type && (!h->instance_family || strcmp(h->instance_family, want_fam)))
		return -1;
	if (h->host_id) {
		if (h->state && h->state != NP_HOST_AVAILABLE)
			return 0;
		for (size_t i = 0; i < h->n_capacity; i++)
			if (h->capacity[i].instance_type &&
			    !strcmp(h->capacity[i].instance_type, itype))
				return h->capacity[i].available > 0 ? h->capacity[i].available : 0;
		return 0;
	}
	if (!t || !t->dedicated_hosts_supported || (cores = np_host_type_cores(cat, itype)) <= 0)
		return -1;
	if (!family_of(h->instance_type ? h->instance_type : itype, fam, sizeof(fam)))
		return -1;
	return family_cores(cat, fam) / cores;
}
