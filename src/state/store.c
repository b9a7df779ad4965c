/* Opening, checking, creating and migrating the state file. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nestplan/alloc.h"
#include "nestplan/clock.h"
#include "nestplan/log.h"
#include "state/internal.h"

int np_state_sqlerr(struct np_state *st, struct np_err *err, const char *what)
{
	return np_error(err, "state '%s': %s: %s", st->name, what, sqlite3_errmsg(st->db));
}

void np_state_uuid(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		FILE *f = fopen("/dev/urandom", "rb");

		if (!f || fread(b, 1, sizeof(b), f) != sizeof(b))
			abort(); /* no randomness: a lineage must never repeat */
		fclose(f);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

/* "file:PATH?immutable=1" with the characters a URI path cannot hold as
 * they are ('%', '?', '#') percent-encoded (sqlite3_free it). */
static char *immutable_uri(const char *path)
{
	char *enc = sqlite3_mprintf("%s", ""), *uri;

	for (const char *p = path; *p; p++) {
		char *next = *p == '%' || *p == '?' || *p == '#'
				 ? sqlite3_mprintf("%s%%%02X", enc, (unsigned char)*p)
				 : sqlite3_mprintf("%s%c", enc, *p);

		sqlite3_free(enc);
		enc = next;
	}
	uri = sqlite3_mprintf("file:%s?immutable=1", enc);
	sqlite3_free(enc);
	return uri;
}

/* Look at an existing file without changing a byte of it: no journal, no
 * -wal/-shm side files (immutable=1), read-only. */
static int inspect(const char *path, int *version, struct np_err *err)
{
	char *uri = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	unsigned char head[16];
	int rc = -1, app = 0;
	FILE *f = fopen(path, "rb");
	size_t got;

	if (!f)
		return np_error(err, "cannot open state '%s': %s", path, strerror(errno));
	got = fread(head, 1, sizeof(head), f);
	fclose(f);
	if (got == 0) {
		*version = 0; /* an empty file: made by us a moment ago, or touched */
		return 0;
	}
	if (got < sizeof(head) || memcmp(head, "SQLite format 3", 16))
		return np_error(err,
				"'%s' is not a nestplan state (not an SQLite file); refusing to "
				"touch it",
				path);
	uri = immutable_uri(path);
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		np_error(err, "cannot read state '%s': %s", path,
			 db ? sqlite3_errmsg(db) : "no memory");
		goto cleanup;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok")) {
		np_error(err,
			 "state '%s' is damaged (%s); refusing to touch it — restore the backup "
			 "'%s.backup' or the file from version control",
			 path,
			 s && sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0)
							: sqlite3_errmsg(db),
			 path);
		goto cleanup;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		np_state_sqlerr(
		    &(struct np_state){ .db = db, .path = (char *)path, .name = (char *)path }, err,
		    "reading");
		goto cleanup;
	}
	app = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		np_state_sqlerr(
		    &(struct np_state){ .db = db, .path = (char *)path, .name = (char *)path }, err,
		    "reading");
		goto cleanup;
	}
	*version = sqlite3_column_int(s, 0);
	if (app != NP_STATE_APP_ID) {
		bool empty = false;

		/* An SQLite file with no tables is one being created right now. */
		sqlite3_finalize(s);
		s = NULL;
		if (*version == 0 &&
		    sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL) ==
			SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			empty = sqlite3_column_int(s, 0) == 0;
		if (!empty) {
			np_error(err,
				 "'%s' is an SQLite file but not a nestplan state; refusing to "
				 "touch it",
				 path);
			goto cleanup;
		}
	}
	if (app == NP_STATE_APP_ID && *version == 0) {
		np_error(err,
			 "state '%s' is damaged (a nestplan state without a schema version); "
			 "refusing to touch it",
			 path);
		goto cleanup;
	}
	if ((size_t)*version > np_state_sql_count) {
		np_error(err,
			 "state '%s' was written by a newer nestplan (schema %d > %zu); upgrade "
			 "nestplan",
			 path, *version, np_state_sql_count);
		goto cleanup;
	}
	rc = 0;
cleanup:
	sqlite3_finalize(s);
	sqlite3_close(db);
	sqlite3_free(uri);
	return rc;
}

static int exec(struct np_state *st, const char *sql, struct np_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		np_error(err, "state '%s': %s", st->name, msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int read_meta(struct np_state *st, struct np_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = -1, r;

	if (sqlite3_prepare_v2(st->db, "SELECT key, value FROM meta", -1, &s, NULL) != SQLITE_OK)
		return np_state_sqlerr(st, err, "reading meta");
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		const char *v = (const char *)sqlite3_column_text(s, 1);

		/* A damaged file can hold NULLs where the schema expects text. */
		if (!k || !v)
			continue;
		if (!strcmp(k, "lineage"))
			snprintf(st->lineage, sizeof(st->lineage), "%s", v);
		else if (!strcmp(k, "serial"))
			st->serial = atoll(v);
		else if (!strcmp(k, "region"))
			snprintf(st->region, sizeof(st->region), "%s", v);
		else if (!strcmp(k, "account"))
			snprintf(st->account, sizeof(st->account), "%s", v);
	}
	if (r != SQLITE_DONE)
		np_state_sqlerr(st, err, "reading meta");
	else if (!st->lineage[0])
		np_error(err, "state '%s' has no lineage; refusing it", st->name);
	else
		rc = 0;
	sqlite3_finalize(s);
	return rc;
}

/* Bring the schema from user_version `from` to the newest, in one
 * transaction; a new file also gets its lineage. */
static int migrate(struct np_state *st, int from, struct np_err *err)
{
	char sql[256];
	int version = from;

	if (exec(st, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	/* Another process may have migrated it while we waited for the write lock. */
	{
		sqlite3_stmt *s = NULL;

		if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			version = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	for (size_t i = (size_t)version; i < np_state_sql_count; i++)
		if (exec(st, np_state_sql[i], err) < 0)
			goto fail;
	if (version == 0) {
		char lineage[37];
		char *ins;

		np_state_uuid(lineage);
		ins = sqlite3_mprintf("INSERT INTO meta(key, value) VALUES ('lineage', %Q), "
				      "('serial', '0'), ('created_at', '%lld'), ('created_by', %Q)",
				      lineage, (long long)np_wall_now(), "nestplan " NP_VERSION);
		if (exec(st, ins, err) < 0) {
			sqlite3_free(ins);
			goto fail;
		}
		sqlite3_free(ins);
	}
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %zu",
		 NP_STATE_APP_ID, np_state_sql_count);
	if (exec(st, sql, err) < 0 || exec(st, "COMMIT", err) < 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Side files of WAL mode must be as private as the state itself. */
static void tighten(const char *path)
{
	char side[4096];

	chmod(path, 0600);
	snprintf(side, sizeof(side), "%s-wal", path);
	chmod(side, 0600);
	snprintf(side, sizeof(side), "%s-shm", path);
	chmod(side, 0600);
}

/* A new state appears whole: made and migrated under a private name, then
 * linked into place (link fails if another process was first, and then its
 * file is the state). Nobody ever opens a half-made file. */
static int create_whole(const char *path, struct np_err *err)
{
	struct np_state tmp = { 0 };
	char *name = np_xasprintf("%s.new-%ld", path, (long)getpid());
	int rc = -1;

	unlink(name);
	tmp.path = tmp.name = name;
	if (sqlite3_open_v2(name, &tmp.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		np_state_sqlerr(&tmp, err, "creating");
		goto done;
	}
	if (chmod(name, 0600) < 0 || exec(&tmp, "PRAGMA journal_mode = DELETE", err) < 0 ||
	    migrate(&tmp, 0, err) < 0)
		goto done;
	sqlite3_close(tmp.db);
	tmp.db = NULL;
	if (link(name, path) < 0 && errno != EEXIST) {
		np_error(err, "cannot create state '%s': %s", path, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	sqlite3_close(tmp.db);
	unlink(name);
	free(name);
	return rc;
}

static const char *file_kind(mode_t m)
{
	return S_ISDIR(m)                 ? "a directory"
	       : S_ISFIFO(m)              ? "a FIFO"
	       : S_ISSOCK(m)              ? "a socket"
	       : S_ISCHR(m) || S_ISBLK(m) ? "a device"
					  : "not a regular file";
}

/* A state is a regular file: a FIFO would block open() until someone
 * writes, a device or directory is nothing SQLite should touch. stat first
 * (a device is never opened), then the open descriptor itself, without
 * blocking, in case the name changed in between. */
static int regular_or_absent(const char *path, struct np_err *err)
{
	struct stat sb;
	int fd;

	if (stat(path, &sb) < 0)
		return errno == ENOENT
			   ? 0
			   : np_error(err, "cannot open state '%s': %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return np_error(err, "state '%s' is %s, not a regular file; refusing it", path,
				file_kind(sb.st_mode));
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT
			   ? 0
			   : np_error(err, "cannot open state '%s': %s", path, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return np_error(err, "state '%s' is %s, not a regular file; refusing it", path,
				file_kind(sb.st_mode));
	}
	close(fd);
	return 1;
}

/* Read-only commands on a state they cannot write beside (a read-only
 * mount): SQLite's WAL mode needs the -shm file, which it cannot create
 * there, so the first read fails with SQLITE_CANTOPEN. With no write-ahead
 * log left behind, the file alone is the whole state and is read as
 * immutable; with one, its last writes would be missed, so it is refused. */
static int reopen_immutable(struct np_state *st, struct np_err *err)
{
	char *wal = np_xasprintf("%s-wal", st->path), *uri;
	struct stat sb;
	int rc = 0;

	if (stat(wal, &sb) == 0 && sb.st_size > 0) {
		rc = np_error(err,
			      "cannot read state '%s': its directory is not writable and it has "
			      "an unfinished write-ahead log ('%s'); open it once where it can "
			      "be written (any nestplan command) to finish it",
			      st->name, wal);
		free(wal);
		return rc;
	}
	free(wal);
	sqlite3_close(st->db);
	st->db = NULL;
	uri = immutable_uri(st->path);
	if (sqlite3_open_v2(uri, &st->db,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK)
		rc = np_state_sqlerr(st, err, "opening");
	sqlite3_free(uri);
	return rc;
}

/* Can this process write the file and make its side files (-wal, -shm)? */
static bool writable_here(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir =
	    slash ? np_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : np_xstrdup(".");
	bool ok = access(path, W_OK) == 0 && access(dir, W_OK) == 0;

	free(dir);
	return ok;
}

static bool wal_exists(const char *path)
{
	char *wal = np_xasprintf("%s-wal", path);
	bool yes = access(wal, F_OK) == 0;

	free(wal);
	return yes;
}

int np_state_open(struct np_state **out, const char *path, unsigned flags, struct np_err *err)
{
	return np_state_open_as(out, path, path, flags, err);
}

int np_state_open_as(struct np_state **out, const char *path, const char *name, unsigned flags,
		     struct np_err *err)
{
	struct np_state *st = np_xcalloc(1, sizeof(*st));
	int version = 0, oflags, there;
	mode_t old;

	st->lock_fd = -1;
	*out = NULL;
	st->path = np_xstrdup(path);
	st->name = np_xstrdup(name);
	if ((there = regular_or_absent(path, err)) < 0)
		goto fail;
	/* A state on a read-only mount is still read by the commands that only
	 * read it; whatever would write it says why it cannot. */
	if (there && !(flags & NP_STATE_READONLY) && !writable_here(path)) {
		np_log_debug("state: '%s' cannot be written here; opening it read-only", path);
		flags |= NP_STATE_READONLY;
	}
	st->readonly = (flags & NP_STATE_READONLY) != 0;
	if (!there) {
		if (!(flags & NP_STATE_CREATE)) {
			np_error(err,
				 "no state at '%s': run 'nestplan init' (or apply) first, or point "
				 "-state or NESTPLAN_STATE at the state file",
				 path);
			goto fail;
		}
		if (create_whole(path, err) < 0)
			goto fail;
	}
	if (inspect(path, &version, err) < 0)
		goto fail;

	oflags = (flags & NP_STATE_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	old = umask(077);
	if ((flags & NP_STATE_PEEK) && (flags & NP_STATE_READONLY) && !wal_exists(path)) {
		/* No -wal: every committed byte is in the file; immutable=1 reads
		 * it without creating the side files a WAL reader needs. */
		char *uri = sqlite3_mprintf("file:%s?immutable=1", path);
		int r = sqlite3_open_v2(uri, &st->db,
					oflags | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, NULL);

		sqlite3_free(uri);
		if (r != SQLITE_OK) {
			umask(old);
			np_state_sqlerr(st, err, "opening");
			goto fail;
		}
	} else if (sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_FULLMUTEX, NULL) !=
		   SQLITE_OK) {
		umask(old);
		np_state_sqlerr(st, err, "opening");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 10000);
	if (!(flags & NP_STATE_READONLY)) {
		if (exec(st,
			 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
			 "PRAGMA foreign_keys = ON",
			 err) < 0) {
			umask(old);
			goto fail;
		}
		if ((size_t)version < np_state_sql_count && migrate(st, version, err) < 0) {
			umask(old);
			goto fail;
		}
		tighten(path);
	} else if (version == 0) {
		umask(old);
		np_error(err, "state '%s' is empty: run 'nestplan init' first", path);
		goto fail;
	} else if (sqlite3_exec(st->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) !=
		       SQLITE_OK &&
		   (sqlite3_errcode(st->db) & 0xff) == SQLITE_CANTOPEN &&
		   reopen_immutable(st, err) < 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (read_meta(st, err) < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	np_state_close(st);
	return -1;
}

void np_state_close(struct np_state *st)
{
	if (!st)
		return;
	if (st->locked)
		np_state_unlock(st, NULL);
	sqlite3_close(st->snap);
	sqlite3_close(st->db);
	free(st->path);
	free(st->name);
	free(st);
}

const char *np_state_lineage(const struct np_state *st) { return st->lineage; }

const char *np_state_region(const struct np_state *st) { return st->region[0] ? st->region : NULL; }

const char *np_state_account(const struct np_state *st)
{
	return st->account[0] ? st->account : NULL;
}

static int pin_one(struct np_state *st, const char *key, const char *value, char *field,
		   size_t size, struct np_err *err)
{
	char *sql;
	int rc;

	if (!value || !*value || field[0])
		return 0;
	if (strlen(value) >= size)
		return np_error(err, "state '%s': %s '%s' is too long", st->name, key, value);
	sql =
	    sqlite3_mprintf("INSERT OR REPLACE INTO meta(key, value) VALUES (%Q, %Q)", key, value);
	rc = exec(st, sql, err);
	sqlite3_free(sql);
	if (rc == 0)
		snprintf(field, size, "%s", value);
	return rc;
}

int np_state_pin(struct np_state *st, const char *region, const char *account, struct np_err *err)
{
	if (pin_one(st, "region", region, st->region, sizeof(st->region), err) < 0 ||
	    pin_one(st, "account", account, st->account, sizeof(st->account), err) < 0)
		return -1;
	return 0;
}

long long np_state_serial(const struct np_state *st) { return st->serial; }

const char *np_state_path(const struct np_state *st) { return st->path; }

const char *np_state_name(const struct np_state *st) { return st->name; }

static int bump_serial(struct np_state *st, struct np_err *err)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "UPDATE meta SET value = '%lld' WHERE key = 'serial'",
		 st->serial + 1);
	if (exec(st, sql, err) < 0)
		return -1;
	st->serial++;
	return 0;
}

static int refuse_readonly(struct np_state *st, struct np_err *err)
{
	return np_error(err,
			"state '%s' is read-only here (its file or directory cannot be "
			"written, e.g. a read-only mount): this command would change it",
			st->name);
}

bool np_state_readonly(const struct np_state *st) { return st->readonly; }

int np_state_begin(struct np_state *st, struct np_err *err)
{
	if (st->readonly)
		return refuse_readonly(st, err);
	if (st->depth)
		return np_error(err, "state '%s': transaction already open", st->name);
	if (exec(st, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	st->depth = 1;
	st->dirty = false;
	return 0;
}

int np_state_commit(struct np_state *st, struct np_err *err)
{
	if (!st->depth)
		return np_error(err, "state '%s': no transaction open", st->name);
	if (st->dirty && bump_serial(st, err) < 0) {
		np_state_rollback(st, NULL);
		return -1;
	}
	if (exec(st, "COMMIT", err) < 0) {
		np_state_rollback(st, NULL);
		return -1;
	}
	st->depth = 0;
	st->dirty = false;
	return 0;
}

void np_state_rollback(struct np_state *st, struct np_err *err)
{
	if (!st->depth)
		return;
	if (exec(st, "ROLLBACK", err) == 0 && st->dirty)
		read_meta(st, NULL);
	st->depth = 0;
	st->dirty = false;
}

/* Writes nest: a write made inside another (move = remove + put) joins it. */
int np_state_write_begin(struct np_state *st, struct np_err *err)
{
	if (st->depth || st->implicit) {
		st->implicit++;
		return 0;
	}
	if (st->readonly)
		return refuse_readonly(st, err);
	if (exec(st, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	st->implicit = 1;
	st->dirty = false;
	return 0;
}

int np_state_write_end(struct np_state *st, int rc, bool changes_resources, struct np_err *err)
{
	if (rc == 0 && changes_resources)
		st->dirty = true;
	if (st->depth || --st->implicit > 0) {
		if (!st->depth && st->implicit > 0 && rc < 0)
			st->failed = true;
		return rc;
	}
	changes_resources = st->dirty;
	st->dirty = false;
	if (st->failed)
		rc = -1;
	st->failed = false;
	if (rc == 0 && changes_resources && bump_serial(st, err) < 0)
		rc = -1;
	if (rc == 0 && exec(st, "COMMIT", err) == 0)
		return 0;
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (changes_resources)
		read_meta(st, NULL);
	return -1;
}

int np_state_backup(struct np_state *st, const char *dest, struct np_err *err)
{
	sqlite3 *db = NULL;
	sqlite3_backup *b;
	int rc = -1, fd;
	mode_t old = umask(077);

	unlink(dest);
	fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0)
		close(fd);
	if (sqlite3_open(dest, &db) != SQLITE_OK) {
		np_error(err, "cannot write state backup '%s': %s", dest, sqlite3_errmsg(db));
		goto cleanup;
	}
	b = sqlite3_backup_init(db, "main", st->db, "main");
	if (!b || sqlite3_backup_step(b, -1) != SQLITE_DONE) {
		np_error(err, "cannot write state backup '%s': %s", dest, sqlite3_errmsg(db));
		sqlite3_backup_finish(b);
		goto cleanup;
	}
	sqlite3_backup_finish(b);
	rc = 0;
cleanup:
	sqlite3_close(db);
	chmod(dest, 0600);
	umask(old);
	return rc;
}

static int data_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

int np_state_snapshot(struct np_state *st, struct np_buf *out, bool *changed, struct np_err *err)
{
	unsigned char *bytes;
	sqlite3_int64 size = 0;
	bool first = !st->snap;
	int v = 0;

	*changed = false;
	if (first) {
		if (sqlite3_open_v2(st->path, &st->snap,
				    SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX,
				    NULL) != SQLITE_OK) {
			np_error(err, "state '%s': cannot open it for a snapshot: %s", st->name,
				 st->snap ? sqlite3_errmsg(st->snap) : "no memory");
			sqlite3_close(st->snap);
			st->snap = NULL;
			return -1;
		}
		sqlite3_busy_timeout(st->snap, 10000);
	}
	if (data_version(st->snap, &v) < 0)
		return np_error(err, "state '%s': snapshot: %s", st->name,
				sqlite3_errmsg(st->snap));
	if (!first && v == st->snap_version)
		return 0;
	/* data_version moves only for commits of other connections: ours is
	 * read-only, so every change is the state's. */
	bytes = sqlite3_serialize(st->snap, "main", &size, 0);
	if (!bytes)
		return np_error(err, "state '%s': snapshot: %s", st->name,
				sqlite3_errmsg(st->snap));
	np_buf_add(out, (const char *)bytes, (size_t)size);
	sqlite3_free(bytes);
	st->snap_version = v;
	*changed = true;
	return 0;
}
