/* The backend's front: the local file or S3, chosen once, and the remote
 * state's copy: download, snapshot, conditional upload, pull and push. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/log.h"
#include "nestplan/sigv4.h"

int np_backend_parse_url(const char *text, char *buf, size_t size, struct np_backend_s3 *out,
			 struct np_err *err)
{
	char *slash;

	memset(out, 0, sizeof(*out));
	if (!text || strncmp(text, "s3://", 5))
		return 1;
	if (strlen(text + 5) >= size)
		return np_error_cls(err, NP_ERRC_USAGE, "state '%s' is too long", text);
	snprintf(buf, size, "%s", text + 5);
	slash = strchr(buf, '/');
	if (!slash || slash == buf || !slash[1] || slash[strlen(slash) - 1] == '/')
		return np_error_cls(
		    err, NP_ERRC_USAGE,
		    "state '%s' is not s3://BUCKET/KEY (a bucket, a slash, an object key)", text);
	*slash = '\0';
	out->bucket = buf;
	out->key = slash + 1;
	return 0;
}

struct np_backend *np_backend_local(const char *path)
{
	struct np_backend *b = np_xcalloc(1, sizeof(*b));

	b->name = np_xstrdup(path);
	b->path = np_xstrdup(path);
	b->writable = true;
	return b;
}

static double lease_seconds(void)
{
	const char *v = getenv("NESTPLAN_S3_LOCK_LEASE");
	double d = v && *v ? strtod(v, NULL) : 0;

	/* Short leases are for tests; below a second a renewal could not keep up. */
	return d >= 1 ? d : 60;
}

int np_backend_s3_new(struct np_backend **out, struct np_aws *aws, const struct np_backend_s3 *o,
		      struct np_err *err)
{
	struct np_backend *b = np_xcalloc(1, sizeof(*b));
	struct np_s3_options so = { .bucket = o->bucket,
				    .region = o->region,
				    .endpoint = o->endpoint,
				    .kms_key_id = o->kms_key_id };

	*out = NULL;
	if (!o->key || !*o->key || o->key[strlen(o->key) - 1] == '/') {
		free(b);
		return np_error_cls(err, NP_ERRC_USAGE,
				    "the S3 backend needs an object key, not '%s'",
				    o->key ? o->key : "");
	}
	if (np_s3_new(&b->s3, aws, &so, err) < 0) {
		free(b);
		return -1;
	}
	b->remote = true;
	b->aws = aws;
	b->bucket = np_xstrdup(o->bucket);
	b->key = np_xstrdup(o->key);
	b->lock_key = np_xasprintf("%s.lock", o->key);
	b->name = np_xasprintf("s3://%s/%s", o->bucket, o->key);
	b->lease = lease_seconds();
	np_buf_init(&b->pending, 0);
	pthread_mutex_init(&b->sync_lock, NULL);
	pthread_mutex_init(&b->lock_mu, NULL);
	pthread_cond_init(&b->lock_cv, NULL);
	*out = b;
	return 0;
}

static void remove_copy(struct np_backend *b)
{
	static const char *const side[] = { "", "-wal", "-shm", "-journal", ".lock", NULL };

	if (!b->dir)
		return;
	for (size_t i = 0; side[i]; i++) {
		char *p = np_xasprintf("%s%s", b->path, side[i]);

		unlink(p);
		free(p);
	}
	rmdir(b->dir);
}

void np_backend_free(struct np_backend *b)
{
	if (!b)
		return;
	if (b->remote) {
		if (b->locked)
			np_backend_s3_unlock(b, NULL);
		remove_copy(b);
		np_s3_free(b->s3);
		np_buf_release(&b->pending);
		pthread_mutex_destroy(&b->sync_lock);
		pthread_mutex_destroy(&b->lock_mu);
		pthread_cond_destroy(&b->lock_cv);
	}
	free(b->name);
	free(b->path);
	free(b->bucket);
	free(b->key);
	free(b->lock_key);
	free(b->dir);
	free(b->etag);
	free(b->lock_etag);
	free(b->lock_operation);
	free(b);
}

bool np_backend_is_remote(const struct np_backend *b) { return b && b->remote; }

const char *np_backend_name(const struct np_backend *b) { return b->name; }

long np_backend_uploads(const struct np_backend *b) { return b->uploads; }

void np_backend_opened(struct np_backend *b, struct np_state *st)
{
	b->read_serial = np_state_serial(st);
}

void np_backend_set_writable(struct np_backend *b, bool writable) { b->writable = writable; }

/* A private directory in $TMPDIR: the copy and SQLite's side files are
 * nobody else's to read. */
static int make_dir(struct np_backend *b, struct np_err *err)
{
	const char *tmp = getenv("TMPDIR");
	char *tmpl = np_xasprintf("%s/nestplan-state-XXXXXX", tmp && *tmp ? tmp : "/tmp");

	if (!mkdtemp(tmpl)) {
		np_error(err, "cannot make a private directory for the state copy ('%s'): %s", tmpl,
			 strerror(errno));
		free(tmpl);
		return -1;
	}
	chmod(tmpl, 0700);
	b->dir = tmpl;
	b->path = np_xasprintf("%s/state.db", tmpl);
	return 0;
}

static int write_file(const char *path, const char *data, size_t len, struct np_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t off = 0;

	if (fd < 0)
		return np_error(err, "cannot write '%s': %s", path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			np_error(err, "cannot write '%s': %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return np_error(err, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

int np_backend_fetch(struct np_backend *b, const char **path, bool *found, struct np_err *err)
{
	struct np_s3_object o;

	*path = NULL;
	*found = false;
	if (!b->remote) {
		*path = b->path;
		*found = access(b->path, F_OK) == 0;
		return 0;
	}
	if (!b->dir && make_dir(b, err) < 0)
		return -1;
	if (np_s3_get(b->s3, b->key, &o, err) < 0) {
		np_error_prefix(err, "cannot read the state");
		return -1;
	}
	if (o.found) {
		if (write_file(b->path, o.body.ptr, o.body.len, err) < 0) {
			np_s3_object_release(&o);
			return -1;
		}
		free(b->etag);
		b->etag = o.etag;
		o.etag = NULL;
		np_sha256_hex(o.body.ptr, o.body.len, b->sha);
		np_log_debug("backend: read %s (%zu bytes, ETag %s%s%s)", b->name, o.body.len,
			     b->etag ? b->etag : "?", o.version_id ? ", version " : "",
			     o.version_id ? o.version_id : "");
		*found = true;
	}
	np_s3_object_release(&o);
	*path = b->path;
	return 0;
}

/* One conditional upload of bytes; b->sync_lock held. */
static int upload(struct np_backend *b, const char *bytes, size_t len, struct np_err *err)
{
	struct np_s3_condition c = { .if_match = b->etag, .if_none_match = !b->etag };
	struct np_s3_object o;

	if (np_s3_put(b->s3, b->key, bytes, len, "application/vnd.sqlite3", &c, &o, err) < 0) {
		if (err->http_status == 412 || !strcmp(err->code, "NoSuchKey"))
			np_error(err,
				 "the state %s was %s by another writer since this run read it "
				 "(ETag %s); "
				 "refusing to overwrite it: nothing of this run past that point is "
				 "saved "
				 "there. Run plan again to see what EC2 holds",
				 b->name, b->etag ? "replaced or deleted" : "created",
				 b->etag ? b->etag : "none");
		else
			np_error_prefix(err, "cannot save the state to %s", b->name);
		return -1;
	}
	free(b->etag);
	b->etag = o.etag;
	o.etag = NULL;
	np_sha256_hex(bytes, len, b->sha);
	b->uploads++;
	np_log_debug("backend: wrote %s (%zu bytes, ETag %s%s%s; upload %ld)", b->name, len,
		     b->etag ? b->etag : "?", o.version_id ? ", version " : "",
		     o.version_id ? o.version_id : "", b->uploads);
	np_s3_object_release(&o);
	return 0;
}

int np_backend_sync(struct np_backend *b, struct np_state *st, struct np_err *err)
{
	struct np_buf snap = NP_BUF_INIT;
	bool changed = false;
	char sha[65];
	int rc = 0;

	if (!b || !b->remote || !st || b->pushed)
		return 0;
	pthread_mutex_lock(&b->sync_lock);
	pthread_mutex_lock(&b->lock_mu);
	if (b->lost)
		rc = np_error(err,
			      "the lock on %s was lost (its lease ran out and another run took "
			      "it); refusing to write the state",
			      b->name);
	pthread_mutex_unlock(&b->lock_mu);
	if (rc < 0)
		goto done;
	np_buf_init(&snap, 0);
	if (np_state_snapshot(st, &snap, &changed, err) < 0) {
		rc = -1;
		goto done;
	}
	if (!changed && b->pending.len) {
		np_buf_release(&snap);
		snap = b->pending;
		np_buf_init(&b->pending, 0);
		changed = true;
	}
	if (!changed)
		goto done;
	np_sha256_hex(snap.ptr, snap.len, sha);
	if (b->etag && !strcmp(sha, b->sha))
		goto done;
	if (!b->writable) {
		if (!b->pushed && np_state_serial(st) != b->read_serial)
			np_log_warn(
			    "the changes to the state were not saved to %s: this run holds no "
			    "lock (-lock=false)",
			    b->name);
		goto done;
	}
	if (upload(b, snap.ptr, snap.len, err) < 0) {
		rc = -1;
		np_buf_release(&b->pending);
		b->pending = snap;
		np_buf_init(&snap, 0);
	}
done:
	np_buf_release(&snap);
	pthread_mutex_unlock(&b->sync_lock);
	return rc;
}

int np_backend_lock(struct np_backend *b, struct np_state *st, const char *operation,
		    double timeout, struct np_backend_lock_info *took_over, struct np_err *err)
{
	if (took_over)
		memset(took_over, 0, sizeof(*took_over));
	if (!b->remote) {
		struct np_lock_info h = { 0 };

		if (np_state_lock(st, operation, timeout, &h, err) < 0)
			return -1;
		if (h.id && took_over) {
			took_over->id = h.id;
			took_over->who =
			    np_xasprintf("%s@%s", h.user ? h.user : "?", h.host ? h.host : "?");
			took_over->operation = h.command;
			took_over->pid = h.pid;
			took_over->created = h.since;
			h.id = h.command = NULL;
		}
		np_lock_info_release(&h);
		return 0;
	}
	return np_backend_s3_lock(b, operation, timeout, took_over, err);
}

int np_backend_unlock(struct np_backend *b, struct np_state *st, struct np_err *err)
{
	if (!b->remote)
		return np_state_unlock(st, err);
	return np_backend_s3_unlock(b, err);
}

int np_backend_force_unlock(struct np_backend *b, struct np_state *st, const char *id, bool force,
			    struct np_err *err)
{
	if (!b->remote)
		return np_state_force_unlock(st, id, err);
	return np_backend_s3_force_unlock(b, id, force, err);
}

void np_backend_lock_info_release(struct np_backend_lock_info *li)
{
	if (!li)
		return;
	free(li->id);
	free(li->who);
	free(li->operation);
	free(li->version);
	memset(li, 0, sizeof(*li));
}

int np_backend_read(struct np_backend *b, struct np_state *st, struct np_buf *out,
		    struct np_err *err)
{
	struct np_s3_object o;
	bool changed;

	if (!b->remote)
		return np_state_snapshot(st, out, &changed, err);
	if (np_s3_get(b->s3, b->key, &o, err) < 0)
		return -1;
	if (!o.found) {
		np_s3_object_release(&o);
		return np_error(err, "no state at %s", b->name);
	}
	np_buf_add(out, o.body.ptr, o.body.len);
	np_s3_object_release(&o);
	return 0;
}

/* Lineage and serial of a state file, without changing it. */
static int identify(const char *path, char **lineage, long long *serial, struct np_buf *bytes,
		    struct np_err *err)
{
	struct np_state *st = NULL;
	bool changed;
	int rc = -1;

	if (np_state_open(&st, path, NP_STATE_READONLY, err) < 0)
		return -1;
	*lineage = np_xstrdup(np_state_lineage(st));
	*serial = np_state_serial(st);
	if (!bytes || np_state_snapshot(st, bytes, &changed, err) == 0)
		rc = 0;
	np_state_close(st);
	return rc;
}

int np_backend_push(struct np_backend *b, const char *file, bool force, bool migrate,
		    struct np_err *err)
{
	struct np_buf bytes = NP_BUF_INIT;
	struct np_s3_object cur;
	char *lineage = NULL, *cur_lineage = NULL, *tmp = NULL;
	long long serial = 0, cur_serial = 0;
	int rc = -1;

	memset(&cur, 0, sizeof(cur));
	if (!b->remote)
		return np_error_cls(err, NP_ERRC_USAGE,
				    "the state is the local file '%s': copy the file instead",
				    b->name);
	np_buf_init(&bytes, 0);
	if (identify(file, &lineage, &serial, &bytes, err) < 0)
		goto done;
	pthread_mutex_lock(&b->sync_lock);
	if (np_s3_get(b->s3, b->key, &cur, err) < 0)
		goto unlock;
	if (cur.found) {
		if (!b->dir && make_dir(b, err) < 0)
			goto unlock;
		tmp = np_xasprintf("%s/current.db", b->dir);
		unlink(tmp);
		if (write_file(tmp, cur.body.ptr, cur.body.len, err) < 0 ||
		    identify(tmp, &cur_lineage, &cur_serial, NULL, err) < 0)
			goto unlock;
		/* A state nothing was ever recorded in (serial 0, as a plan makes
		 * one) is no one's work: a migration may replace it. */
		if (strcmp(cur_lineage, lineage) && (migrate ? cur_serial > 0 : !force)) {
			np_error(
			    err,
			    "%s holds a state of another lineage (%s, serial %lld) than '%s' (%s, "
			    "serial %lld); refusing to overwrite it%s",
			    b->name, cur_lineage, cur_serial, file, lineage, serial,
			    migrate ? "" : " (state push -force would)");
			goto unlock;
		}
		if (!force && !strcmp(cur_lineage, lineage) && serial < cur_serial) {
			np_error(
			    err,
			    "%s is at serial %lld, newer than '%s' (serial %lld); refusing to go "
			    "back (state push -force would)",
			    b->name, cur_serial, file, serial);
			goto unlock;
		}
		free(b->etag);
		b->etag = cur.etag;
		cur.etag = NULL;
	} else {
		free(b->etag);
		b->etag = NULL;
	}
	if (upload(b, bytes.ptr, bytes.len, err) < 0)
		goto unlock;
	/* What this run opened is no longer the state: never upload it over this. */
	b->pushed = true;
	rc = 0;
unlock:
	pthread_mutex_unlock(&b->sync_lock);
done:
	if (tmp) {
		char *side = np_xasprintf("%s-shm", tmp);

		unlink(side);
		free(side);
		side = np_xasprintf("%s-wal", tmp);
		unlink(side);
		free(side);
		unlink(tmp);
	}
	free(tmp);
	free(lineage);
	free(cur_lineage);
	np_s3_object_release(&cur);
	np_buf_release(&bytes);
	return rc;
}
