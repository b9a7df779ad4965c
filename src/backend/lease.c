/* The S3 lock: KEY.lock, a JSON object created with If-None-Match: *, so
 * exactly one run makes it; renewed with If-Match on its ETag by a thread
 * while the run lasts, so a lock whose holder died expires instead of
 * looking alive forever; an expired one is replaced with If-Match on the
 * expired object's ETag (two runs cannot both do it); released with
 * If-Match on our ETag, so it never deletes the next holder's lock. */
#include <jansson.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/log.h"

/* The state module's uuid generator is internal; a lock id is as random. */
#include <openssl/rand.h>

static void new_id(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		abort();
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static void rfc3339(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static long long parse_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return (long long)timegm(&tm);
}

/* Who, as Terraform writes it: user@host. No secret goes in. */
static char *lock_body(const struct np_backend *b, long long now)
{
	struct passwd *pw = getpwuid(getuid());
	char host[256] = "", created[32], expires[32], *who, *s;
	json_t *j;

	gethostname(host, sizeof(host) - 1);
	who = np_xasprintf("%s@%s", pw ? pw->pw_name : "?", host);
	rfc3339(b->lock_created, created);
	rfc3339(now + (long long)ceil(b->lease), expires);
	j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "id", b->lock_id, "operation",
		      b->lock_operation, "who", who, "pid", (json_int_t)getpid(), "version",
		      "nestplan " NP_VERSION, "created", created, "expires", expires, "path",
		      b->name);
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	free(who);
	if (!s)
		abort();
	return s;
}

static void parse_holder(const char *body, size_t len, struct np_backend_lock_info *li,
			 long long now)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *s;

	memset(li, 0, sizeof(*li));
	if (!j) {
		li->id = np_xstrdup("?");
		return;
	}
	s = json_string_value(json_object_get(j, "id"));
	li->id = np_xstrdup(s ? s : "?");
	s = json_string_value(json_object_get(j, "who"));
	li->who = np_xstrdup(s ? s : "?");
	s = json_string_value(json_object_get(j, "operation"));
	li->operation = np_xstrdup(s ? s : "?");
	s = json_string_value(json_object_get(j, "version"));
	li->version = np_xstrdup(s ? s : "?");
	li->pid = (long)json_integer_value(json_object_get(j, "pid"));
	li->created = parse_time(json_string_value(json_object_get(j, "created")));
	li->expires = parse_time(json_string_value(json_object_get(j, "expires")));
	/* No readable expiry: it never expires by itself; force-unlock removes it. */
	li->expired = li->expires && now > li->expires;
	json_decref(j);
}

static void ago(long long secs, char *out, size_t size)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(out, size, "%llds", secs);
	else if (secs < 7200)
		snprintf(out, size, "%lldm", secs / 60);
	else
		snprintf(out, size, "%lldh", secs / 3600);
}

static void describe(const struct np_backend_lock_info *h, long long now, char *out, size_t size)
{
	char age[32], left[32];

	ago(now - h->created, age, sizeof(age));
	ago(h->expired ? now - h->expires : h->expires - now, left, sizeof(left));
	snprintf(out, size, "%s (pid %ld, '%s', %s, %s ago; %s %s%s)", h->who ? h->who : "?",
		 h->pid, h->operation ? h->operation : "?", h->version ? h->version : "?",
		 h->created ? age : "?",
		 h->expires ? (h->expired ? "expired" : "expires in") : "no expiry",
		 h->expires ? left : "", h->expires && h->expired ? " ago" : "");
}

static void *renew_main(void *arg)
{
	struct np_backend *b = arg;
	double every = b->lease / 3;

	pthread_mutex_lock(&b->lock_mu);
	while (!b->stop && !b->lost) {
		struct timespec until;
		struct np_s3_condition c = { 0 };
		struct np_s3_object o;
		struct np_err err = NP_ERR_INIT;
		char *body, *etag;
		int r;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)every;
		until.tv_nsec += (long)((every - floor(every)) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!b->stop && pthread_cond_timedwait(&b->lock_cv, &b->lock_mu, &until) == 0)
			;
		if (b->stop)
			break;
		body = lock_body(b, (long long)time(NULL));
		etag = np_xstrdup(b->lock_etag);
		pthread_mutex_unlock(&b->lock_mu);
		c.if_match = etag;
		r = np_s3_put(b->s3, b->lock_key, body, strlen(body), "application/json", &c, &o,
			      &err);
		pthread_mutex_lock(&b->lock_mu);
		if (r == 0) {
			free(b->lock_etag);
			b->lock_etag = o.etag;
			o.etag = NULL;
			np_s3_object_release(&o);
			np_log_debug("backend: renewed the lock %s on %s", b->lock_id, b->name);
		} else if (err.http_status == 412 || err.http_status == 404) {
			/* Someone replaced or removed it: ours expired, or force-unlock. */
			b->lost = true;
			np_log_error(
			    "the lock %s on %s is no longer ours (%s); this run saves nothing more",
			    b->lock_id, b->name, err.msg);
		} else {
			np_log_warn("cannot renew the lock on %s (will try again): %s", b->name,
				    err.msg);
		}
		free(body);
		free(etag);
	}
	pthread_mutex_unlock(&b->lock_mu);
	return NULL;
}

int np_backend_s3_lock(struct np_backend *b, const char *operation, double timeout,
		       struct np_backend_lock_info *took_over, struct np_err *err)
{
	struct timespec start, t;
	struct np_backend_lock_info h;
	struct np_s3_object o;
	char what[512];
	double waited;

	memset(&h, 0, sizeof(h));
	clock_gettime(CLOCK_MONOTONIC, &start);
	new_id(b->lock_id);
	free(b->lock_operation);
	b->lock_operation = np_xstrdup(operation);
	for (;;) {
		struct np_s3_condition c = { .if_none_match = true };
		struct np_s3_object cur;
		long long now = (long long)time(NULL);
		char *body;
		int r;

		b->lock_created = now;
		body = lock_body(b, now);
		r = np_s3_put(b->s3, b->lock_key, body, strlen(body), "application/json", &c, &o,
			      err);
		if (r == 0) {
			free(body);
			goto taken;
		}
		if (err->http_status != 412) {
			free(body);
			np_error_prefix(err, "cannot lock %s", b->name);
			return -1;
		}
		np_err_clear(err);
		if (np_s3_get(b->s3, b->lock_key, &cur, err) < 0) {
			free(body);
			np_error_prefix(err, "cannot read the lock of %s", b->name);
			return -1;
		}
		if (!cur.found) {
			/* Released between the two requests: try again at once. */
			free(body);
			np_s3_object_release(&cur);
			continue;
		}
		np_backend_lock_info_release(&h);
		parse_holder(cur.body.ptr, cur.body.len, &h, now);
		if (h.expired) {
			/* Only one run can replace exactly this expired object. */
			c = (struct np_s3_condition){ .if_match = cur.etag };
			r = np_s3_put(b->s3, b->lock_key, body, strlen(body), "application/json",
				      &c, &o, err);
			np_s3_object_release(&cur);
			free(body);
			if (r == 0) {
				if (took_over) {
					*took_over = h;
					memset(&h, 0, sizeof(h));
				}
				goto taken;
			}
			if (err->http_status != 412 && err->http_status != 404) {
				np_error_prefix(err, "cannot take over the expired lock of %s",
						b->name);
				np_backend_lock_info_release(&h);
				return -1;
			}
			np_err_clear(err);
			continue;
		}
		np_s3_object_release(&cur);
		free(body);
		clock_gettime(CLOCK_MONOTONIC, &t);
		waited =
		    (double)(t.tv_sec - start.tv_sec) + (double)(t.tv_nsec - start.tv_nsec) / 1e9;
		if (waited >= timeout)
			break;
		{
			double pause = fmin(1.0, timeout - waited);
			struct timespec ts = { (time_t)pause,
					       (long)((pause - floor(pause)) * 1e9) };

			nanosleep(&ts, NULL);
		}
	}
	describe(&h, (long long)time(NULL), what, sizeof(what));
	np_error_cls(err, NP_ERRC_LOCKED,
		     "state %s is locked by %s; lock id %s. Wait with -lock-timeout=DURATION; a "
		     "holder that died lets its lock expire, after which the next run takes it; or "
		     "remove it: nestplan force-unlock -force %s",
		     b->name, what, h.id, h.id);
	np_backend_lock_info_release(&h);
	return -1;
taken:
	pthread_mutex_lock(&b->lock_mu);
	free(b->lock_etag);
	b->lock_etag = o.etag;
	o.etag = NULL;
	b->locked = true;
	b->lost = false;
	b->stop = false;
	b->writable = true;
	pthread_mutex_unlock(&b->lock_mu);
	np_s3_object_release(&o);
	np_backend_lock_info_release(&h);
	np_log_debug("backend: locked %s (lock %s, lease %.0fs)", b->name, b->lock_id, b->lease);
	if (pthread_create(&b->renewer, NULL, renew_main, b) == 0)
		b->renewing = true;
	else
		np_log_warn("cannot start the lock renewal; the lock on %s expires in %.0fs",
			    b->name, b->lease);
	return 0;
}

int np_backend_s3_unlock(struct np_backend *b, struct np_err *err)
{
	bool lost;
	int rc = 0;

	if (!b->locked)
		return 0;
	pthread_mutex_lock(&b->lock_mu);
	b->stop = true;
	pthread_cond_broadcast(&b->lock_cv);
	pthread_mutex_unlock(&b->lock_mu);
	if (b->renewing)
		pthread_join(b->renewer, NULL);
	b->renewing = false;
	b->locked = false;
	lost = b->lost;
	if (lost)
		return np_error(err,
				"the lock %s on %s was taken by another run before this one ended",
				b->lock_id, b->name);
	/* If-Match: a lock that is no longer ours (expired and taken) stays. */
	if (np_s3_delete(b->s3, b->lock_key, b->lock_etag, err) < 0) {
		if (err && err->http_status == 412)
			np_error(err,
				 "the lock %s on %s was replaced by another run; left in place",
				 b->lock_id, b->name);
		else
			np_error_prefix(err, "cannot release the lock on %s", b->name);
		rc = -1;
	} else {
		np_log_debug("backend: released the lock %s on %s", b->lock_id, b->name);
	}
	return rc;
}

int np_backend_s3_force_unlock(struct np_backend *b, const char *id, bool force, struct np_err *err)
{
	struct np_backend_lock_info h;
	struct np_s3_object cur;
	long long now = (long long)time(NULL);
	char what[512];
	int rc = -1;

	if (np_s3_get(b->s3, b->lock_key, &cur, err) < 0)
		return -1;
	if (!cur.found) {
		np_s3_object_release(&cur);
		return np_error(err, "state %s is not locked", b->name);
	}
	parse_holder(cur.body.ptr, cur.body.len, &h, now);
	describe(&h, now, what, sizeof(what));
	if (strcmp(h.id, id)) {
		np_error(err, "the lock on %s has id %s (held by %s), not '%s'", b->name, h.id,
			 what, id);
		goto done;
	}
	if (!h.expired && !force) {
		np_error_cls(
		    err, NP_ERRC_LOCKED,
		    "the lock %s on %s is live: %s. A run may still be using it; remove it "
		    "anyway with: nestplan force-unlock -force %s",
		    id, b->name, what, id);
		goto done;
	}
	/* If-Match: if its holder renewed or released it meanwhile, nothing is removed. */
	if (np_s3_delete(b->s3, b->lock_key, cur.etag, err) < 0) {
		if (err->http_status == 412)
			np_error(err,
				 "the lock on %s changed while it was being removed; look again",
				 b->name);
		goto done;
	}
	rc = 0;
done:
	np_backend_lock_info_release(&h);
	np_s3_object_release(&cur);
	return rc;
}
