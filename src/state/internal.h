#ifndef NESTPLAN_STATE_INTERNAL_H
#define NESTPLAN_STATE_INTERNAL_H

#include <jansson.h>
#include <sqlite3.h>

#include "nestplan/state.h"

/* "nest" in ASCII: marks a SQLite file as a nestplan state. */
#define NP_STATE_APP_ID 0x6e657374

struct np_state {
	sqlite3 *db;
	char *path;
	char lineage[40];
	long long serial;
	char region[64]; /* where the state lives: pinned by the first apply */
	char account[32];
	int depth;    /* explicit transaction open */
	bool dirty;   /* resources changed in the open transaction */
	int implicit; /* nesting of implicit write transactions */
	bool failed;  /* an inner write failed: the outer one rolls back */
	bool locked;
	char lock_id[40];
	int lock_fd;      /* PATH.lock, flock()ed for the whole run; -1 when not */
	bool readonly;    /* opened read-only (asked, or the file system said so) */
	sqlite3 *snap;    /* read-only, for np_state_snapshot; NULL until then */
	int snap_version; /* its PRAGMA data_version at the last snapshot */
};

extern const char *const np_state_sql[];
extern const size_t np_state_sql_count;

int np_state_sqlerr(struct np_state *st, struct np_err *err, const char *what);
/* Run a write: inside the explicit transaction, or in its own. */
int np_state_write_begin(struct np_state *st, struct np_err *err);
int np_state_write_end(struct np_state *st, int rc, bool changes_resources, struct np_err *err);
void np_state_uuid(char out[37]);

/* Each row of sql (columns: the JSON data, the address; bind: its one
 * parameter, or NULL) parsed and given to fn; a row that is not JSON, or
 * that fn refuses, is an error naming the state. */
typedef int (*np_state_row_fn)(void *ctx, const json_t *j, struct np_err *err);
int np_state_rows(struct np_state *st, const char *sql, const char *bind, np_state_row_fn fn,
		  void *ctx, struct np_err *err);
/* Write address's row with sql (parameters address, id, the JSON text of j,
 * which is taken), refused when other_sql (parameter address) finds the
 * address: its first column names the other kind. */
int np_state_put_row(struct np_state *st, const char *sql, const char *other_sql,
		     const char *address, const char *id, json_t *j, struct np_err *err);
/* Run sql with parameters a (and b when not NULL); *changes the rows changed. */
int np_state_exec_changes(struct np_state *st, const char *sql, const char *a, const char *b,
			  int *changes, struct np_err *err);

#endif
