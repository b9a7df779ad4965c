/* What tools/gen_endpoints.py embeds beside the partition table: the rule
 * sets (JSON text) and the legacy resolver's variants (endpoints.json). */
#ifndef NESTPLAN_UTIL_ENDPOINTS_DATA_H
#define NESTPLAN_UTIL_ENDPOINTS_DATA_H

#include <stdbool.h>
#include <stddef.h>

extern const char np_ruleset_ec2[];
extern const char np_ruleset_sts[];
extern const char np_ruleset_s3[];

/* Variant masks: bit 0 fips, bit 1 dualstack, bit 2 both. */
struct np_legacy_endpoint {
	const char *name;
	unsigned variants;
	const char *scope_region; /* credentialScope: what SigV4 signs for */
};

struct np_legacy_service {
	unsigned variants;              /* the service's defaults */
	const char *partition_endpoint; /* NULL when none */
	bool regionalized;
	const struct np_legacy_endpoint *endpoints; /* ends with a NULL name */
};

struct np_legacy_partition {
	const char *id;
	const char *region_regex_posix;
	unsigned variants; /* the partition's defaults */
	const char *const *regions;
	struct np_legacy_service services[3]; /* by enum np_service */
};

extern const struct np_legacy_partition np_legacy_partitions[];
extern const size_t np_n_legacy_partitions;

#endif
