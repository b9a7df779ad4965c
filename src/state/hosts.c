/* One row per managed Dedicated Host, its attributes as JSON (issue 18). */
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/json.h"
#include "state/internal.h"

struct hosts {
	struct np_host *v;
	size_t n, alloc;
};

static int add_host(void *ctx, const json_t *j, struct np_err *err)
{
	struct hosts *l = ctx;

	NP_ALLOC_GROW(l->v, l->n + 1, l->alloc);
	if (np_host_from_json(&l->v[l->n], j, err) < 0)
		return -1;
	l->n++;
	return 0;
}

/* A state of schema 2 opened read-only was not migrated: it has no hosts. */
static bool has_hosts_table(struct np_state *st)
{
	sqlite3_stmt *s = NULL;
	bool yes = false;

	if (sqlite3_prepare_v2(
		st->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hosts'", -1,
		&s, NULL) == SQLITE_OK)
		yes = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return yes;
}

int np_state_host_list(struct np_state *st, struct np_host **out, size_t *n, struct np_err *err)
{
	struct hosts l = { 0 };

	*out = NULL;
	*n = 0;
	if (!has_hosts_table(st))
		return 0;
	if (np_state_rows(st, "SELECT data, address FROM hosts ORDER BY address", NULL, add_host,
			  &l, err) < 0) {
		np_hosts_free(l.v, l.n);
		return -1;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

int np_state_host_put(struct np_state *st, const struct np_host *h, struct np_err *err)
{
	if (!h->address)
		return np_error(err, "state '%s': a host needs an address", st->path);
	return np_state_put_row(st,
				"INSERT INTO hosts(address, host_id, data) VALUES (?, ?, ?) "
				"ON CONFLICT(address) DO UPDATE SET host_id = excluded.host_id, "
				"data = excluded.data",
				"SELECT 'an instance' FROM resources WHERE address = ?", h->address,
				h->host_id, np_host_to_json(h), err);
}

int np_state_host_remove(struct np_state *st, const char *address, struct np_err *err)
{
	int changes = 0, rc;

	if (np_state_write_begin(st, err) < 0)
		return -1;
	rc = np_state_exec_changes(st, "DELETE FROM hosts WHERE address = ?", address, NULL,
				   &changes, err);
	if (rc == 0 && changes == 0)
		rc = np_error(err, "no host '%s' in the state", address);
	return np_state_write_end(st, rc, true, err);
}
