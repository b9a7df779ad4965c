/* Dedicated Hosts, the second resource kind (issue 18): a host as the file
 * wants it, as the state recorded it and as DescribeHosts reports it, and
 * its capacity for instance types. */
#ifndef NESTPLAN_HOST_H
#define NESTPLAN_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "nestplan/error.h"
#include "nestplan/model.h"

/* Bounds: a file's hosts, and what one DescribeHosts item may list. */
#define NP_CONFIG_MAX_HOSTS     1000
#define NP_HOST_MAX_INSTANCES   1000 /* instances on one host */
#define NP_HOST_MAX_CAPACITIES  64   /* availableInstanceCapacity items */
#define NP_EC2_HOSTS_PAGE       500  /* DescribeHosts MaxResults */
#define NP_EC2_MAX_HOSTS_LISTED 100000

/* The host states DescribeHosts reports; UNSET in a desired host. */
enum np_host_state {
	NP_HOST_UNSET = 0,
	NP_HOST_AVAILABLE,
	NP_HOST_UNDER_ASSESSMENT,
	NP_HOST_PERMANENT_FAILURE,
	NP_HOST_RELEASED,
	NP_HOST_RELEASED_PERMANENT_FAILURE,
	NP_HOST_PENDING,
};
const char *np_host_state_name(enum np_host_state s);  /* NULL for UNSET */
enum np_host_state np_host_state_parse(const char *s); /* UNSET when unknown */

/* availableInstanceCapacity: one item per instance type the host runs. */
struct np_host_capacity {
	char *instance_type;
	int available; /* availableCapacity */
	int total;     /* totalCapacity */
};

struct np_host {
	char *address; /* "kvm-hosts[0]", "build-host" */
	char *host_id; /* desired: set only to adopt (import) a host */
	/* One of the two: a family host runs mixed sizes, a type host one type. */
	char *instance_family;
	char *instance_type;
	char *availability_zone;
	enum np_bool auto_placement; /* EC2's "on"/"off" */
	enum np_bool host_recovery;
	struct np_tags tags; /* user tags; nestplan:* never here */
	bool tags_set;
	/* What only EC2 knows (live); recorded too. */
	enum np_host_state state;
	char *client_token;
	char *lineage; /* nestplan:lineage tag */
	char *owner_id;
	char *allocation_time;
	int cores, sockets, total_vcpus; /* hostProperties */
	int available_vcpus;             /* availableCapacity.availableVCpus */
	struct np_host_capacity *capacity;
	size_t n_capacity;
	struct np_strv instance_ids; /* instances on it (they hold capacity) */
};

void np_host_release(struct np_host *h);
void np_host_copy(struct np_host *dst, const struct np_host *src);
void np_hosts_free(struct np_host *v, size_t n);
/* The state's JSON of a host: np_host_to_json and np_host_from_json in
 * nestplan/json.h. */

/* How many more instances of itype the host takes: for a live host from its
 * availableInstanceCapacity (0 when it does not list the type), for a host
 * not allocated yet (host_id NULL) from the catalog: the family's largest
 * size is the hardware, an instance takes its type's default cores (the
 * simulator's model, tests/ec2sim/README.md). -1: the host cannot run the
 * type at all (another family, another single type, or the catalog does not
 * know it). */
int np_host_free_slots(const struct np_host *h, const struct np_catalog *cat, const char *itype);
/* The cores an instance of itype takes on a host (its type's default cores);
 * 0 when the catalog does not know the type. */
int np_host_type_cores(const struct np_catalog *cat, const char *itype);

#endif
