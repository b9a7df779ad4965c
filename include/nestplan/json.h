/* JSON forms of the shared model (jansson), used by the state, saved plans
 * and every -json output, so there is one spelling of each attribute. */
#ifndef NESTPLAN_JSON_H
#define NESTPLAN_JSON_H

#include <jansson.h>

#include "nestplan/error.h"
#include "nestplan/host.h"
#include "nestplan/model.h"

/* {"address", "instance_id", "instance_type", "state", "cpu_options": {...},
 *  "placement": {...}, "tags": {...}, ...}; unset attributes are left out. */
json_t *np_instance_to_json(const struct np_instance *in);
int np_instance_from_json(struct np_instance *out, const json_t *j, struct np_err *err);
/* {"address", "host_id", "instance_family" | "instance_type",
 *  "availability_zone", "auto_placement", "host_recovery", "tags", "state", ...}:
 * every field but the live-only capacity (capacity, instance_ids), which
 * from_json reads when present ("capacity": [{"instance_type", "available",
 * "total"}], "instance_ids": [...]): saved live answers and test fixtures. */
json_t *np_host_to_json(const struct np_host *h);
int np_host_from_json(struct np_host *out, const json_t *j, struct np_err *err);
/* {"KEY": "VALUE", ...}; what names the map in an error. */
json_t *np_tags_to_json(const struct np_tags *t);
int np_tags_from_json(struct np_tags *out, const json_t *v, const char *what, struct np_err *err);
json_t *np_itype_to_json(const struct np_itype *t);
int np_itype_from_json(struct np_itype *out, const json_t *j, struct np_err *err);

#endif
