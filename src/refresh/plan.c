/* The one way plan, apply, drift and destroy build a plan. */
#include <stdlib.h>
#include <string.h>

#include "nestplan/refresh.h"

int np_refresh_plan(const struct np_refresh_src *src, const struct np_refresh_req *req,
		    struct np_plan *out, struct np_err *err)
{
	struct np_instance *recorded = NULL, *live = NULL;
	size_t n_recorded = 0, n_live = 0, n_read = 0;
	struct np_catalog cat = NP_CATALOG_INIT;
	struct np_plan_input in;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (np_state_list(src->state, &recorded, &n_recorded, err) < 0)
		goto cleanup;
	if (req->refresh) {
		if (np_refresh_live(src, recorded, n_recorded, &live, &n_live, err) < 0)
			goto cleanup;
	}
	np_refresh_catalog(src, recorded, n_recorded, req->refresh, &cat);

	memset(&in, 0, sizeof(in));
	in.config = src->config;
	in.recorded = recorded;
	in.n_recorded = n_recorded;
	in.live = req->refresh ? live : recorded;
	in.n_live = req->refresh ? n_live : n_recorded;
	in.catalog = &cat;
	in.lineage = np_state_lineage(src->state);
	in.serial = np_state_serial(src->state);
	in.targets = req->targets;
	in.n_targets = req->n_targets;
	in.replace = req->replace;
	in.n_replace = req->n_replace;
	in.destroy = req->destroy;
	in.refresh_only = req->refresh_only;
	if (req->refresh && req->deep &&
	    np_refresh_read_described(src, NULL, recorded, n_recorded, live, n_live, &n_read, err) <
		0)
		goto cleanup;
	if (np_plan_build(out, &in, err) < 0)
		goto cleanup;
	/* The protection flags cost a call per instance and flag: read them only
	 * where this plan would stop, modify or terminate, then plan again. */
	if (req->refresh && !req->deep && !req->refresh_only) {
		if (np_refresh_read_described(src, out, recorded, n_recorded, live, n_live, &n_read,
					      err) < 0)
			goto cleanup;
		if (n_read) {
			np_plan_release(out);
			memset(out, 0, sizeof(*out));
			if (np_plan_build(out, &in, err) < 0)
				goto cleanup;
		}
	}
	if (src->config)
		memcpy(out->config_sha256, src->config->sha256, sizeof(out->config_sha256));
	rc = 0;
cleanup:
	np_instances_free(recorded, n_recorded);
	np_instances_free(live, n_live);
	np_catalog_release(&cat);
	return rc;
}
