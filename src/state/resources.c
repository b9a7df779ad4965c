/* One row per managed instance, its attributes as JSON. */
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/json.h"
#include "state/internal.h"

static int row_to_instance(struct np_state *st, sqlite3_stmt *s, int col, struct np_instance *out,
			   struct np_err *err)
{
	json_error_t je;
	json_t *j = json_loads((const char *)sqlite3_column_text(s, col), 0, &je);
	int rc;

	if (!j)
		return np_error(err, "state '%s': a resource row is not JSON: %s", st->name,
				je.text);
	rc = np_instance_from_json(out, j, err);
	json_decref(j);
	if (rc < 0)
		return np_error_prefix(err, "state '%s'", st->name);
	return 0;
}

int np_state_list(struct np_state *st, struct np_instance **out, size_t *n, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	struct np_instance *v = NULL;
	size_t nv = 0, alloc = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT data FROM resources ORDER BY address", -1, &s,
			       NULL) != SQLITE_OK)
		return np_state_sqlerr(st, err, "listing");
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		NP_ALLOC_GROW(v, nv + 1, alloc);
		if (row_to_instance(st, s, 0, &v[nv], err) < 0)
			goto fail;
		/* Now, while the row's own strings are the last ones made: the
		 * next row reuses their memory. */
		np_instance_share_strings(&v[nv]);
		nv++;
	}
	if (r != SQLITE_DONE) {
		np_state_sqlerr(st, err, "listing");
		goto fail;
	}
	sqlite3_finalize(s);
	*out = v;
	*n = nv;
	return 0;
fail:
	sqlite3_finalize(s);
	np_instances_free(v, nv);
	return -1;
}

int np_state_get(struct np_state *st, const char *address, struct np_instance *out, bool *found,
		 struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int r, rc = 0;

	memset(out, 0, sizeof(*out));
	*found = false;
	if (sqlite3_prepare_v2(st->db, "SELECT data FROM resources WHERE address = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return np_state_sqlerr(st, err, "reading");
	sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		rc = row_to_instance(st, s, 0, out, err);
		*found = rc == 0;
	} else if (r != SQLITE_DONE) {
		rc = np_state_sqlerr(st, err, "reading");
	}
	sqlite3_finalize(s);
	return rc;
}

int np_state_put(struct np_state *st, const struct np_instance *in, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	char *text;
	json_t *j;
	int rc = -1;

	if (!in->address)
		return np_error(err, "state '%s': an instance needs an address", st->name);
	if (np_state_write_begin(st, err) < 0)
		return -1;
	j = np_instance_to_json(in);
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (sqlite3_prepare_v2(
		st->db,
		"INSERT INTO resources(address, instance_id, data) VALUES (?, ?, ?) "
		"ON CONFLICT(address) DO UPDATE SET instance_id = excluded.instance_id, "
		"data = excluded.data",
		-1, &s, NULL) != SQLITE_OK) {
		np_state_sqlerr(st, err, "writing");
		goto done;
	}
	sqlite3_bind_text(s, 1, in->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, in->instance_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		np_state_sqlerr(st, err, "writing");
	else
		rc = 0;
done:
	sqlite3_finalize(s);
	free(text);
	return np_state_write_end(st, rc, true, err);
}

static int exec_changes(struct np_state *st, const char *sql, const char *a, const char *b,
			int *changes, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return np_state_sqlerr(st, err, "writing");
	sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = np_state_sqlerr(st, err, "writing");
	*changes = sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return rc;
}

int np_state_remove(struct np_state *st, const char *address, struct np_err *err)
{
	int changes = 0, rc;

	if (np_state_write_begin(st, err) < 0)
		return -1;
	rc = exec_changes(st, "DELETE FROM resources WHERE address = ?", address, NULL, &changes,
			  err);
	if (rc == 0 && changes == 0)
		rc = np_error(err, "no instance '%s' in the state", address);
	return np_state_write_end(st, rc, true, err);
}

int np_state_move(struct np_state *st, const char *from, const char *to, struct np_err *err)
{
	struct np_instance in;
	bool found = false;
	int rc = -1, changes = 0;

	if (np_state_write_begin(st, err) < 0)
		return -1;
	if (np_state_get(st, to, &in, &found, err) < 0)
		goto done;
	np_instance_release(&in);
	if (found) {
		np_error(err, "cannot move '%s' to '%s': '%s' is already in the state", from, to,
			 to);
		goto done;
	}
	if (np_state_get(st, from, &in, &found, err) < 0)
		goto done;
	if (!found) {
		np_error(err, "no instance '%s' in the state", from);
		goto done;
	}
	free(in.address);
	in.address = np_xstrdup(to);
	if (exec_changes(st, "DELETE FROM resources WHERE address = ?", from, NULL, &changes,
			 err) == 0 &&
	    np_state_put(st, &in, err) == 0)
		rc = 0;
	np_instance_release(&in);
done:
	return np_state_write_end(st, rc, true, err);
}

int np_state_next_generation(struct np_state *st, const char *address, int *gen, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	*gen = 1;
	if (np_state_write_begin(st, err) < 0)
		return -1;
	/* Generations live in meta so they survive the resource row (replace, rm). */
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO meta(key, value) VALUES ('gen:' || ?, '1') "
			       "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 "
			       "RETURNING value",
			       -1, &s, NULL) != SQLITE_OK) {
		np_state_sqlerr(st, err, "writing");
		goto done;
	}
	sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*gen = sqlite3_column_int(s, 0);
		rc = 0;
	} else {
		np_state_sqlerr(st, err, "writing");
	}
done:
	sqlite3_finalize(s);
	return np_state_write_end(st, rc, false, err);
}
