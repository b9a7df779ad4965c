/* One row per managed instance, its attributes as JSON. */
#include <stdlib.h>
#include <string.h>

#include "nestplan/alloc.h"
#include "nestplan/json.h"
#include "state/internal.h"

int np_state_rows(struct np_state *st, const char *sql, const char *bind, np_state_row_fn fn,
		  void *ctx, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int r = SQLITE_DONE, rc = 0;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return np_state_sqlerr(st, err, "reading");
	if (bind)
		sqlite3_bind_text(s, 1, bind, -1, SQLITE_STATIC);
	while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
		json_error_t je;
		json_t *j = json_loads((const char *)sqlite3_column_text(s, 0), 0, &je);

		/* A damaged row is an error, never a row skipped: a resource
		 * missing from the state would be planned as new. */
		if (!j) {
			rc = np_error(err, "state '%s': a row of '%s' is not JSON: %s", st->path,
				      (const char *)sqlite3_column_text(s, 1), je.text);
			break;
		}
		rc = fn(ctx, j, err);
		json_decref(j);
		if (rc < 0)
			np_error_prefix(err, "state '%s'", st->path);
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = np_state_sqlerr(st, err, "reading");
	sqlite3_finalize(s);
	return rc;
}

int np_state_put_row(struct np_state *st, const char *sql, const char *other_sql,
		     const char *address, const char *id, json_t *j, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	char *text = NULL;
	int rc = -1;

	if (np_state_write_begin(st, err) < 0) {
		json_decref(j);
		return -1;
	}
	/* The other kind's table must not hold the address. */
	if (sqlite3_prepare_v2(st->db, other_sql, -1, &s, NULL) != SQLITE_OK) {
		np_state_sqlerr(st, err, "writing");
		goto done;
	}
	sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		np_error(err, "state '%s': '%s' is already %s's address", st->path, address,
			 (const char *)sqlite3_column_text(s, 0));
		goto done;
	}
	sqlite3_finalize(s);
	s = NULL;
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		np_state_sqlerr(st, err, "writing");
		goto done;
	}
	sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		np_state_sqlerr(st, err, "writing");
	else
		rc = 0;
done:
	sqlite3_finalize(s);
	free(text);
	json_decref(j);
	return np_state_write_end(st, rc, true, err);
}

struct instances {
	struct np_instance *v;
	size_t n, alloc;
};

static int add_instance(void *ctx, const json_t *j, struct np_err *err)
{
	struct instances *l = ctx;

	NP_ALLOC_GROW(l->v, l->n + 1, l->alloc);
	if (np_instance_from_json(&l->v[l->n], j, err) < 0)
		return -1;
	l->n++;
	return 0;
}

int np_state_list(struct np_state *st, struct np_instance **out, size_t *n, struct np_err *err)
{
	struct instances l = { 0 };

	*out = NULL;
	*n = 0;
	if (np_state_rows(st, "SELECT data, address FROM resources ORDER BY address", NULL,
			  add_instance, &l, err) < 0) {
		np_instances_free(l.v, l.n);
		return -1;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

int np_state_get(struct np_state *st, const char *address, struct np_instance *out, bool *found,
		 struct np_err *err)
{
	struct instances l = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	*found = false;
	rc = np_state_rows(st, "SELECT data, address FROM resources WHERE address = ?", address,
			   add_instance, &l, err);
	if (rc == 0 && l.n) {
		*out = l.v[0];
		*found = true;
		free(l.v);
	} else {
		np_instances_free(l.v, l.n);
	}
	return rc;
}

int np_state_put(struct np_state *st, const struct np_instance *in, struct np_err *err)
{
	if (!in->address)
		return np_error(err, "state '%s': an instance needs an address", st->path);
	return np_state_put_row(
	    st,
	    "INSERT INTO resources(address, instance_id, data) VALUES (?, ?, ?) "
	    "ON CONFLICT(address) DO UPDATE SET instance_id = "
	    "excluded.instance_id, data = excluded.data",
	    "SELECT 'a host' FROM hosts WHERE address = ?", in->address, in->instance_id,
	    np_instance_to_json(in), err);
}

int np_state_exec_changes(struct np_state *st, const char *sql, const char *a, const char *b,
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
	rc = np_state_exec_changes(st, "DELETE FROM resources WHERE address = ?", address, NULL,
				   &changes, err);
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
	if (np_state_exec_changes(st, "DELETE FROM resources WHERE address = ?", from, NULL,
				  &changes, err) == 0 &&
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
