/* The state lock: the kernel's. An flock() on PATH.lock, held for the whole
 * run, is what excludes a second writer: it dies with its process, in any
 * PID namespace, so no liveness guess is needed. SQLite's own fcntl locks
 * cannot serve: they vanish when any descriptor of the file is closed. The
 * row in the lock table only says who holds it. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nestplan/alloc.h"
#include "nestplan/clock.h"
#include "state/internal.h"

#define BUSY_WAIT 10.0 /* seconds, as the store's sqlite3_busy_timeout */

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
	if (sqlite3_prepare_v2(st->db, "SELECT id, user, host, pid, command, since FROM lock", -1,
			       &s, NULL) != SQLITE_OK)
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

/* Open PATH.lock (never through a symlink) and try to flock it: 1 held now,
 * 0 another process holds it, -1 error. */
static int kernel_lock(struct np_state *st, int *fd_out, struct np_err *err)
{
	char *path = np_xasprintf("%s.lock", st->path);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	int rc = -1;
	struct stat sb;

	*fd_out = -1;
	if (fd < 0) {
		np_error(err, "cannot open the lock file '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		np_error(err, "lock file '%s' is not a regular file; refusing it", path);
		close(fd);
		goto cleanup;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK || errno == EINTR) {
			rc = 0;
		} else {
			np_error(err, "cannot lock '%s': %s", path, strerror(errno));
		}
		close(fd);
		goto cleanup;
	}
	*fd_out = fd;
	rc = 1;
cleanup:
	free(path);
	return rc;
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

	int fd, k;

	*took_over = false;
	if ((k = kernel_lock(st, &fd, err)) <= 0) {
		/* Held by a live process: name it from the row. */
		if (k == 0 && read_holder(st, &cur)) {
			np_lock_info_release(holder);
			*holder = cur;
		}
		return k;
	}
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		close(fd);
		if (sqlite3_errcode(st->db) == SQLITE_BUSY)
			return 0;
		return np_state_sqlerr(st, err, "locking");
	}
	/* We hold the kernel lock, so a row left is that of a process that died. */
	if (read_holder(st, &cur)) {
		np_lock_info_release(holder);
		*holder = cur;
		*took_over = true;
	}
	np_state_uuid(id);
	if (sqlite3_prepare_v2(
		st->db,
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
	sqlite3_bind_int64(s, 6, (long long)np_wall_now());
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
	st->lock_fd = fd;
	rc = 1;
	sqlite3_finalize(s);
	return rc;
fail:
	sqlite3_finalize(s);
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	close(fd);
	return -1;
}

int np_state_lock(struct np_state *st, const char *command, double timeout,
		  struct np_lock_info *holder, struct np_err *err)
{
	struct timespec pause = { 0, 100 * 1000000L };
	double start;
	char host[256] = "";
	bool took_over = false;

	memset(holder, 0, sizeof(*holder));
	gethostname(host, sizeof(host) - 1);
	start = np_monotonic_now();
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
		waited = np_monotonic_now() - start;
		/* A lock held with no row yet (or no more) is being taken or
		 * released this moment: wait for it as SQLite waits for a busy file. */
		if (waited >= timeout && (holder->id || waited >= BUSY_WAIT))
			break;
		nanosleep(&pause, NULL);
	}
	if (holder->id) {
		char since[32] = "?";
		time_t t = (time_t)holder->since;
		struct tm tm;

		if (gmtime_r(&t, &tm))
			strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
		np_error_cls(
		    err, NP_ERRC_LOCKED,
		    "state '%s' is locked by %s@%s (pid %ld, '%s', since %s); lock id %s. "
		    "Wait with -lock-timeout=DURATION, or if that process is gone for good: "
		    "nestplan force-unlock %s",
		    st->name, holder->user ? holder->user : "?", holder->host ? holder->host : "?",
		    holder->pid, holder->command ? holder->command : "?", since, holder->id,
		    holder->id);
	} else {
		np_error_cls(err, NP_ERRC_LOCKED, "state '%s' is busy; try again", st->name);
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
		rc = np_error(err, "state '%s' holds no lock with id '%s'", st->name, id);
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
	/* The row goes first: the next holder never sees ours. */
	close(st->lock_fd);
	st->lock_fd = -1;
	return rc;
}

int np_state_force_unlock(struct np_state *st, const char *lock_id, struct np_err *err)
{
	struct np_lock_info cur;
	int fd, k, rc;

	if ((k = kernel_lock(st, &fd, err)) < 0)
		return -1;
	if (k == 0) {
		bool named = read_holder(st, &cur);

		np_error_cls(
		    err, NP_ERRC_LOCKED,
		    "state '%s' is locked by a live process%s%s%s%s (pid %ld, '%s'): a local "
		    "lock that a running nestplan holds cannot be broken; wait for it, or stop "
		    "that process",
		    st->name, named ? " " : "", named && cur.user ? cur.user : "", named ? "@" : "",
		    named && cur.host ? cur.host : "", named ? cur.pid : 0L,
		    named && cur.command ? cur.command : "?");
		if (named)
			np_lock_info_release(&cur);
		return -1;
	}
	rc = delete_lock(st, lock_id, err);
	close(fd);
	return rc;
}
