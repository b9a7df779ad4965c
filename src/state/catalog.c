/* The instance-type catalog cache: DescribeInstanceTypes answers with the
 * time they were fetched, so a warm plan asks EC2 nothing about types. */
#include <stdlib.h>

#include "nestplan/json.h"
#include "state/internal.h"

int np_state_catalog_load(struct np_state *st, struct np_catalog *out, long long now,
			  long long ttl_seconds, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (sqlite3_prepare_v2(st->db, "SELECT data FROM catalog WHERE fetched_at > ?", -1, &s,
			       NULL) != SQLITE_OK)
		return np_state_sqlerr(st, err, "reading the catalog");
	sqlite3_bind_int64(s, 1, now - ttl_seconds);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *j = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
		struct np_itype t;

		/* A bad cache row is skipped: EC2 or the built-in table fills in. */
		if (j && np_itype_from_json(&t, j, NULL) == 0) {
			np_catalog_add(out, &t);
			np_itype_release(&t);
		}
		json_decref(j);
	}
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : np_state_sqlerr(st, err, "reading the catalog");
}

int np_state_catalog_store(struct np_state *st, const struct np_catalog *cat, long long now,
			   struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (np_state_write_begin(st, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(
		st->db, "INSERT OR REPLACE INTO catalog(name, data, fetched_at) VALUES (?, ?, ?)",
		-1, &s, NULL) != SQLITE_OK)
		rc = np_state_sqlerr(st, err, "writing the catalog");
	for (size_t i = 0; rc == 0 && i < cat->n; i++) {
		json_t *j = np_itype_to_json(&cat->v[i]);
		char *text = json_dumps(j, JSON_COMPACT);

		sqlite3_bind_text(s, 1, cat->v[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, now);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = np_state_sqlerr(st, err, "writing the catalog");
		sqlite3_reset(s);
		free(text);
		json_decref(j);
	}
	sqlite3_finalize(s);
	return np_state_write_end(st, rc, false, err);
}
