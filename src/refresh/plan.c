/* The one way plan, apply, drift and destroy build a plan. */
#include <stdlib.h>
#include <string.h>

#include "nestplan/refresh.h"

/* Whether this run has Dedicated Hosts to look at: the file declares some,
 * the state has some, or an instance is (or is to be) of tenancy host. A
 * file and state without any make no DescribeHosts call. */
static bool uses_hosts(const struct np_refresh_src *src, const struct np_instance *recorded,
		       size_t n_recorded, size_t n_recorded_hosts)
{
	if (n_recorded_hosts || (src->config && src->config->n_hosts))
		return true;
	for (size_t i = 0; src->config && i < src->config->n_instances; i++)
		if (src->config->instances[i].want.tenancy == NP_TENANCY_HOST)
			return true;
	for (size_t i = 0; i < n_recorded; i++)
		if (recorded[i].tenancy == NP_TENANCY_HOST)
			return true;
	return false;
}

int np_refresh_plan(const struct np_refresh_src *src, const struct np_refresh_req *req,
		    struct np_plan *out, struct np_err *err)
{
	struct np_instance *recorded = NULL, *live = NULL;
	struct np_host *recorded_hosts = NULL, *live_hosts = NULL;
	size_t n_recorded = 0, n_live = 0, n_read = 0, n_recorded_hosts = 0, n_live_hosts = 0;
	struct np_catalog cat = NP_CATALOG_INIT;
	struct np_plan_input in;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (np_state_list(src->state, &recorded, &n_recorded, err) < 0 ||
	    np_state_host_list(src->state, &recorded_hosts, &n_recorded_hosts, err) < 0)
		goto cleanup;
	if (req->refresh) {
		if (np_refresh_live(src, recorded, n_recorded, &live, &n_live, err) < 0)
			goto cleanup;
		if (uses_hosts(src, recorded, n_recorded, n_recorded_hosts) &&
		    np_refresh_live_hosts(src, recorded_hosts, n_recorded_hosts, &live_hosts,
					  &n_live_hosts, err) < 0)
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
	in.recorded_hosts = recorded_hosts;
	in.n_recorded_hosts = n_recorded_hosts;
	in.live_hosts = req->refresh ? live_hosts : recorded_hosts;
	in.n_live_hosts = req->refresh ? n_live_hosts : n_recorded_hosts;
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
	np_hosts_free(recorded_hosts, n_recorded_hosts);
	np_hosts_free(live_hosts, n_live_hosts);
	np_catalog_release(&cat);
	return rc;
}
