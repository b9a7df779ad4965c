/* Refresh of Dedicated Hosts (issue 18): one DescribeHosts listing filtered
 * on the lineage tag, then by id for the recorded hosts and the file's
 * adoptions it did not show (a host whose tag was removed outside is still
 * the state's). Hosts are few: no sorted sets, plain scans. */
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/ec2.h"
#include "nestplan/refresh.h"

static bool listed(const struct np_host *v, size_t n, const char *id)
{
	for (size_t i = 0; id && i < n; i++)
		if (v[i].host_id && !strcmp(v[i].host_id, id))
			return true;
	return false;
}

/* Add id to the ids to ask for, once, unless the listing has it. */
static void want(const char **ids, size_t *n, const struct np_host *live, size_t n_live,
		 const char *id)
{
	if (!id || listed(live, n_live, id))
		return;
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(ids[i], id))
			return;
	ids[(*n)++] = id;
}

/* A host of another account than the state's: the wrong credentials, never
 * a host to plan with (as for instances). */
static int check_account(const struct np_refresh_src *src, const struct np_host *live,
			 size_t n_live, struct np_err *err)
{
	const char *account = np_state_account(src->state);

	for (size_t i = 0; account && i < n_live; i++)
		if (live[i].owner_id && strcmp(live[i].owner_id, account))
			return np_error_cls(err, NP_ERRC_USAGE,
					    "EC2 answered for account %s (host %s), but state "
					    "'%s' belongs to account %s: refusing (wrong "
					    "credentials or profile?)",
					    live[i].owner_id, live[i].host_id,
					    np_state_path(src->state), account);
	return 0;
}

int np_refresh_live_hosts(const struct np_refresh_src *src, const struct np_host *recorded,
			  size_t n_recorded, struct np_host **out, size_t *n_out,
			  struct np_err *err)
{
	const char *lineage = np_state_lineage(src->state);
	size_t n_file = src->config ? src->config->n_hosts : 0, n_ids = 0, n_more = 0;
	struct np_host *more = NULL;
	const char **ids;

	if (np_ec2_describe_hosts_filter(src->aws, "tag:" NP_TAG_LINEAGE, &lineage, 1, out, n_out,
					 err) < 0)
		return -1;
	ids = np_xmalloc((n_recorded + n_file + 1) * sizeof(*ids));
	for (size_t i = 0; i < n_recorded; i++)
		want(ids, &n_ids, *out, *n_out, recorded[i].host_id);
	for (size_t i = 0; i < n_file; i++)
		want(ids, &n_ids, *out, *n_out, src->config->hosts[i].want.host_id);
	/* By id, an id EC2 no longer knows is just absent: the planner reads
	 * that as a host released outside. */
	if (n_ids && np_ec2_describe_hosts_by_id(src->aws, ids, n_ids, &more, &n_more, err) < 0)
		goto fail;
	if (n_more) {
		*out = np_xrealloc(*out, (*n_out + n_more) * sizeof(**out));
		memcpy(*out + *n_out, more, n_more * sizeof(*more));
		*n_out += n_more;
	}
	free(more);
	if (check_account(src, *out, *n_out, err) < 0)
		goto fail;
	free(ids);
	return 0;
fail:
	np_hosts_free(*out, *n_out);
	*out = NULL;
	*n_out = 0;
	free(ids);
	return -1;
}
