/* The apply journal (each entry durable before the call it describes) and
 * the history of applies. */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nestplan/alloc.h"
#include "nestplan/clock.h"
#include "state/internal.h"

static char *col(sqlite3_stmt *s, int i)
{
	return np_xstrdup((const char *)sqlite3_column_text(s, i));
}

int np_state_journal_begin(struct np_state *st, const struct np_journal_entry *e, long long *id,
			   struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (np_state_write_begin(st, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(
		st->db,
		"INSERT INTO journal(run_id, address, step, instance_id, client_token, "
		"status, detail, started_at) VALUES (?, ?, ?, ?, ?, 'started', ?, ?)",
		-1, &s, NULL) != SQLITE_OK) {
		np_state_sqlerr(st, err, "writing the journal");
		goto done;
	}
	sqlite3_bind_text(s, 1, e->run_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, e->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, e->step, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, e->instance_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, e->client_token, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, e->detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, (long long)np_wall_now());
	if (sqlite3_step(s) != SQLITE_DONE) {
		np_state_sqlerr(st, err, "writing the journal");
		goto done;
	}
	*id = sqlite3_last_insert_rowid(st->db);
	rc = 0;
done:
	sqlite3_finalize(s);
	return np_state_write_end(st, rc, false, err);
}

int np_state_journal_end(struct np_state *st, long long id, const char *status,
			 const char *instance_id, const char *detail, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (np_state_write_begin(st, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db,
			       "UPDATE journal SET status = ?, ended_at = ?, "
			       "instance_id = coalesce(?, instance_id), "
			       "detail = coalesce(?, detail) WHERE id = ?",
			       -1, &s, NULL) != SQLITE_OK) {
		np_state_sqlerr(st, err, "writing the journal");
		goto done;
	}
	sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (long long)np_wall_now());
	sqlite3_bind_text(s, 3, instance_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, id);
	if (sqlite3_step(s) != SQLITE_DONE)
		np_state_sqlerr(st, err, "writing the journal");
	else
		rc = 0;
done:
	sqlite3_finalize(s);
	return np_state_write_end(st, rc, false, err);
}

int np_state_journal_pending(struct np_state *st, struct np_journal_entry **out, size_t *n,
			     struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	struct np_journal_entry *v = NULL;
	size_t nv = 0, alloc = 0;
	int r;

	*out = NULL;
	*n = 0;
	/* Rows without address or step (a damaged file: the schema forbids them)
	 * cannot be resumed, and callers rely on both. */
	if (sqlite3_prepare_v2(
		st->db,
		"SELECT id, run_id, address, step, instance_id, client_token, status, "
		"detail, started_at FROM journal WHERE status = 'started' "
		"AND address IS NOT NULL AND step IS NOT NULL ORDER BY id",
		-1, &s, NULL) != SQLITE_OK)
		return np_state_sqlerr(st, err, "reading the journal");
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		struct np_journal_entry *e;

		NP_ALLOC_GROW(v, nv + 1, alloc);
		e = &v[nv++];
		memset(e, 0, sizeof(*e));
		e->id = sqlite3_column_int64(s, 0);
		e->run_id = col(s, 1);
		e->address = col(s, 2);
		e->step = col(s, 3);
		e->instance_id = col(s, 4);
		e->client_token = col(s, 5);
		e->status = col(s, 6);
		e->detail = col(s, 7);
		e->started_at = sqlite3_column_int64(s, 8);
	}
	sqlite3_finalize(s);
	if (r != SQLITE_DONE) {
		np_journal_entries_free(v, nv);
		return np_state_sqlerr(st, err, "reading the journal");
	}
	*out = v;
	*n = nv;
	return 0;
}

int np_state_journal_has(struct np_state *st, const char *run_id, const char *address,
			 const char *step, bool *out, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int r;

	*out = false;
	if (sqlite3_prepare_v2(
		st->db,
		"SELECT 1 FROM journal WHERE run_id IS ? AND address = ? AND step = ? "
		"AND status IN ('started', 'done') LIMIT 1",
		-1, &s, NULL) != SQLITE_OK)
		return np_state_sqlerr(st, err, "reading the journal");
	sqlite3_bind_text(s, 1, run_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, step, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	*out = r == SQLITE_ROW;
	sqlite3_finalize(s);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return np_state_sqlerr(st, err, "reading the journal");
	return 0;
}

void np_journal_entries_free(struct np_journal_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].run_id);
		free(v[i].address);
		free(v[i].step);
		free(v[i].instance_id);
		free(v[i].client_token);
		free(v[i].status);
		free(v[i].detail);
	}
	free(v);
}

int np_state_history_record(struct np_state *st, const struct np_history_entry *e,
			    struct np_err *err)
{
	struct passwd *pw = getpwuid(getuid());
	char host[256] = "";
	sqlite3_stmt *s = NULL;
	int rc = -1;

	gethostname(host, sizeof(host) - 1);
	if (np_state_write_begin(st, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(
		st->db,
		"INSERT INTO history(run_id, command, user, host, at, added, changed, "
		"destroyed, failed, outcome, serial, changes) "
		"VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
		-1, &s, NULL) != SQLITE_OK) {
		np_state_sqlerr(st, err, "writing the history");
		goto done;
	}
	sqlite3_bind_text(s, 1, e->run_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, e->command, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, pw ? pw->pw_name : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (long long)np_wall_now());
	sqlite3_bind_int(s, 6, e->added);
	sqlite3_bind_int(s, 7, e->changed);
	sqlite3_bind_int(s, 8, e->destroyed);
	sqlite3_bind_int(s, 9, e->failed);
	sqlite3_bind_text(s, 10, e->outcome, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 11, st->serial);
	sqlite3_bind_text(s, 12, e->changes ? e->changes : "[]", -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		np_state_sqlerr(st, err, "writing the history");
	else
		rc = 0;
done:
	sqlite3_finalize(s);
	return np_state_write_end(st, rc, false, err);
}

int np_state_history_list(struct np_state *st, struct np_history_entry **out, size_t *n,
			  struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	struct np_history_entry *v = NULL;
	size_t nv = 0, alloc = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(
		st->db,
		"SELECT id, run_id, command, user, host, at, added, changed, destroyed, "
		"failed, outcome, serial, changes FROM history ORDER BY id",
		-1, &s, NULL) != SQLITE_OK)
		return np_state_sqlerr(st, err, "reading the history");
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		struct np_history_entry *e;

		NP_ALLOC_GROW(v, nv + 1, alloc);
		e = &v[nv++];
		e->id = sqlite3_column_int64(s, 0);
		e->run_id = col(s, 1);
		e->command = col(s, 2);
		e->user = col(s, 3);
		e->host = col(s, 4);
		e->at = sqlite3_column_int64(s, 5);
		e->added = sqlite3_column_int(s, 6);
		e->changed = sqlite3_column_int(s, 7);
		e->destroyed = sqlite3_column_int(s, 8);
		e->failed = sqlite3_column_int(s, 9);
		e->outcome = col(s, 10);
		e->serial = sqlite3_column_int64(s, 11);
		e->changes = col(s, 12);
	}
	sqlite3_finalize(s);
	if (r != SQLITE_DONE) {
		np_history_entries_free(v, nv);
		return np_state_sqlerr(st, err, "reading the history");
	}
	*out = v;
	*n = nv;
	return 0;
}

void np_history_entries_free(struct np_history_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].run_id);
		free(v[i].command);
		free(v[i].user);
		free(v[i].host);
		free(v[i].outcome);
		free(v[i].changes);
	}
	free(v);
}
