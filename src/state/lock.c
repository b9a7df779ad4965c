/* The state lock: one row saying who holds it. A holder that died on this
 * host does not block the next run. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nestplan/alloc.h"
#include "state/internal.h"

void np_lock_info_release(struct np_lock_info *li)
{
	if (!li)
		return;
	free(li->id);
	free(li->user);
	free(li->host);
	free(li->command);
	memset(li, 0, sizeof(*li));
}

static bool read_holder(struct np_state *st, struct np_lock_info *li)
{
	sqlite3_stmt *s = NULL;
	bool found = false;

	memset(li, 0, sizeof(*li));
	if (sqlite3_prepare_v2(st->db, "SELECT id, user, host, pid, command, since FROM lock", -1, &s,
	                       NULL) != SQLITE_OK)
		return false;
	if (sqlite3_step(s) == SQLITE_ROW) {
		li->id = np_xstrdup((const char *)sqlite3_column_text(s, 0));
		li->user = np_xstrdup((const char *)sqlite3_column_text(s, 1));
		li->host = np_xstrdup((const char *)sqlite3_column_text(s, 2));
		li->pid = (long)sqlite3_column_int64(s, 3);
		li->command = np_xstrdup((const char *)sqlite3_column_text(s, 4));
		li->since = sqlite3_column_int64(s, 5);
		found = true;
	}
	sqlite3_finalize(s);
	return found;
}

static bool holder_dead(const struct np_lock_info *li, const char *host)
{
	return li->host && !strcmp(li->host, host) && li->pid > 0 &&
	       kill((pid_t)li->pid, 0) < 0 && errno == ESRCH;
}

/* One attempt in one transaction: 1 taken, 0 held by another, -1 error. */
static int try_lock(struct np_state *st, const char *command, const char *host,
                    struct np_lock_info *holder, bool *took_over, struct np_err *err)
{
	struct passwd *pw = getpwuid(getuid());
	struct np_lock_info cur;
	sqlite3_stmt *s = NULL;
	char id[37];
	int rc = -1;

	*took_over = false;
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		if (sqlite3_errcode(st->db) == SQLITE_BUSY)
			return 0;
		return np_state_sqlerr(st, err, "locking");
	}
	if (read_holder(st, &cur)) {
		if (!holder_dead(&cur, host)) {
			np_lock_info_release(holder);
			*holder = cur;
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return 0;
		}
		np_lock_info_release(holder);
		*holder = cur;
		*took_over = true;
	}
	np_state_uuid(id);
	if (sqlite3_prepare_v2(st->db,
	                       "INSERT OR REPLACE INTO lock(one, id, user, host, pid, command, since) "
	                       "VALUES (1, ?, ?, ?, ?, ?, ?)",
	                       -1, &s, NULL) != SQLITE_OK) {
		np_state_sqlerr(st, err, "locking");
		goto fail;
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, pw ? pw->pw_name : "?", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (long long)getpid());
	sqlite3_bind_text(s, 5, command, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, np_state_now());
	if (sqlite3_step(s) != SQLITE_DONE) {
		np_state_sqlerr(st, err, "locking");
		goto fail;
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		np_state_sqlerr(st, err, "locking");
		goto fail;
	}
	snprintf(st->lock_id, sizeof(st->lock_id), "%s", id);
	st->locked = true;
	rc = 1;
	sqlite3_finalize(s);
	return rc;
fail:
	sqlite3_finalize(s);
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int np_state_lock(struct np_state *st, const char *command, double timeout,
                  struct np_lock_info *holder, struct np_err *err)
{
	struct timespec start, now, pause = {0, 100 * 1000000L};
	char host[256] = "";
	bool took_over = false;

	memset(holder, 0, sizeof(*holder));
	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int r = try_lock(st, command, host, holder, &took_over, err);
		double waited;

		if (r < 0)
			return -1;
		if (r == 1) {
			if (!took_over)
				np_lock_info_release(holder);
			return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
		if (waited >= timeout)
			break;
		nanosleep(&pause, NULL);
	}
	if (holder->id) {
		char since[32] = "?";
		time_t t = (time_t)holder->since;
		struct tm tm;

		if (gmtime_r(&t, &tm))
			strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
		np_error_cls(err, NP_ERRC_LOCKED,
		             "state '%s' is locked by %s@%s (pid %ld, '%s', since %s); lock id %s. "
		             "Wait with -lock-timeout=DURATION, or if that process is gone for good: "
		             "nestplan force-unlock %s",
		             st->path, holder->user ? holder->user : "?", holder->host ? holder->host : "?",
		             holder->pid, holder->command ? holder->command : "?", since, holder->id,
		             holder->id);
	} else {
		np_error_cls(err, NP_ERRC_LOCKED, "state '%s' is busy; try again", st->path);
	}
	np_lock_info_release(holder);
	return -1;
}

static int delete_lock(struct np_state *st, const char *id, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM lock WHERE id = ?", -1, &s, NULL) != SQLITE_OK)
		return np_state_sqlerr(st, err, "unlocking");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = np_state_sqlerr(st, err, "unlocking");
	else if (sqlite3_changes(st->db) == 0)
		rc = np_error(err, "state '%s' holds no lock with id '%s'", st->path, id);
	sqlite3_finalize(s);
	return rc;
}

int np_state_unlock(struct np_state *st, struct np_err *err)
{
	int rc;

	if (!st || !st->locked)
		return 0;
	rc = delete_lock(st, st->lock_id, err);
	st->locked = false;
	return rc;
}

int np_state_force_unlock(struct np_state *st, const char *lock_id, struct np_err *err)
{
	return delete_lock(st, lock_id, err);
}
