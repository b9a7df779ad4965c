#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nestplan/alloc.h"
#include "nestplan/model.h"

void np_strv_push(struct np_strv *sv, const char *s)
{
	NP_ALLOC_GROW(sv->v, sv->n + 1, sv->alloc);
	sv->v[sv->n++] = np_xstrdup(s);
}

void np_strv_release(struct np_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

void np_strv_copy(struct np_strv *dst, const struct np_strv *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++)
		np_strv_push(dst, src->v[i]);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool np_strv_equal_unordered(const struct np_strv *a, const struct np_strv *b)
{
	char **x, **y;
	bool eq = true;

	if (a->n != b->n)
		return false;
	if (a->n == 0)
		return true;
	x = np_xmalloc(a->n * sizeof(*x));
	y = np_xmalloc(b->n * sizeof(*y));
	memcpy(x, a->v, a->n * sizeof(*x));
	memcpy(y, b->v, b->n * sizeof(*y));
	qsort(x, a->n, sizeof(*x), cmp_str);
	qsort(y, b->n, sizeof(*y), cmp_str);
	for (size_t i = 0; i < a->n && eq; i++)
		eq = strcmp(x[i], y[i]) == 0;
	free(x);
	free(y);
	return eq;
}

/* Binary search; returns the index where key is or would be inserted. */
static size_t tag_pos(const struct np_tags *t, const char *key, bool *found)
{
	size_t lo = 0, hi = t->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->v[mid].key, key);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void drop(char *p);

void np_tags_set(struct np_tags *t, const char *key, const char *value)
{
	bool found;
	size_t i = tag_pos(t, key, &found);

	if (found) {
		drop(t->v[i].value);
		t->v[i].value = np_xstrdup(value ? value : "");
		return;
	}
	NP_ALLOC_GROW(t->v, t->n + 1, t->alloc);
	memmove(t->v + i + 1, t->v + i, (t->n - i) * sizeof(*t->v));
	t->v[i].key = np_xstrdup(key);
	t->v[i].value = np_xstrdup(value ? value : "");
	t->n++;
}

const char *np_tags_get(const struct np_tags *t, const char *key)
{
	bool found;
	size_t i = tag_pos(t, key, &found);

	return found ? t->v[i].value : NULL;
}

bool np_tags_remove(struct np_tags *t, const char *key)
{
	bool found;
	size_t i = tag_pos(t, key, &found);

	if (!found)
		return false;
	drop(t->v[i].key);
	drop(t->v[i].value);
	memmove(t->v + i, t->v + i + 1, (t->n - i - 1) * sizeof(*t->v));
	t->n--;
	return true;
}

void np_tags_release(struct np_tags *t)
{
	for (size_t i = 0; i < t->n; i++) {
		drop(t->v[i].key);
		drop(t->v[i].value);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

void np_tags_copy(struct np_tags *dst, const struct np_tags *src)
{
	memset(dst, 0, sizeof(*dst));
	if (!src->n)
		return;
	dst->v = np_xmalloc(src->n * sizeof(*dst->v));
	dst->alloc = dst->n = src->n;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i].key = np_xstrdup(src->v[i].key);
		dst->v[i].value = np_xstrdup(src->v[i].value);
	}
}

bool np_tags_equal(const struct np_tags *a, const struct np_tags *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, b->v[i].key) || strcmp(a->v[i].value, b->v[i].value))
			return false;
	return true;
}

/* Shared strings: a fleet's instances mostly hold the same image, type,
 * subnet, zone, key, lineage, account and user-data hash, and a plan holds
 * each instance several times (the file's, the state's, EC2's, the
 * change's). One copy per distinct value, for the life of the process (the
 * values are few), in an open-addressing set; np_instance_release knows a
 * shared pointer from its own and frees only its own. */
static struct {
	char **v;
	size_t n, cap; /* cap a power of two, at most half full */
	pthread_mutex_t lock;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The fields that may hold a shared string: no code frees them but
 * np_instance_release (np_instance_copy gives private copies). */
static const size_t shared_fields[] = {
	offsetof(struct np_instance, image_id),  offsetof(struct np_instance, instance_type),
	offsetof(struct np_instance, subnet_id), offsetof(struct np_instance, availability_zone),
	offsetof(struct np_instance, key_name),  offsetof(struct np_instance, lineage),
	offsetof(struct np_instance, owner_id),  offsetof(struct np_instance, user_data_sha256),
};
#define N_SHARED          (sizeof(shared_fields) / sizeof(shared_fields[0]))
#define FIELD_AT(in, off) ((char **)((char *)(in) + (off)))

static size_t pool_slot(char **v, size_t cap, const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	size_t i;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	for (i = (size_t)h & (cap - 1); v[i] && strcmp(v[i], s); i = (i + 1) & (cap - 1))
		;
	return i;
}

/* With the lock held. */
static const char *pool_intern(const char *s)
{
	size_t i;

	if ((pool.n + 1) * 2 > pool.cap) {
		size_t cap = pool.cap ? pool.cap * 2 : 64;
		char **v = np_xcalloc(cap, sizeof(*v));

		for (size_t k = 0; k < pool.cap; k++)
			if (pool.v[k])
				v[pool_slot(v, cap, pool.v[k])] = pool.v[k];
		free(pool.v);
		pool.v = v;
		pool.cap = cap;
	}
	i = pool_slot(pool.v, pool.cap, s);
	if (!pool.v[i]) {
		pool.v[i] = np_xstrdup(s);
		pool.n++;
	}
	return pool.v[i];
}

static bool pool_has(const char *p)
{
	return pool.cap && pool.v[pool_slot(pool.v, pool.cap, p)] == p;
}

/* free(), unless p is a shared string. */
static void drop(char *p)
{
	bool shared;

	if (!p)
		return;
	pthread_mutex_lock(&pool.lock);
	shared = pool_has(p);
	pthread_mutex_unlock(&pool.lock);
	if (!shared)
		free(p);
}

void np_instance_share_strings(struct np_instance *in)
{
	char *old[N_SHARED] = { 0 };

	pthread_mutex_lock(&pool.lock);
	for (size_t i = 0; i < N_SHARED; i++) {
		char **f = FIELD_AT(in, shared_fields[i]);

		if (*f && !pool_has(*f)) {
			old[i] = *f;
			*f = (char *)pool_intern(*f);
		}
	}
	/* A count's instances carry the same tags: keys and values shared too. */
	for (size_t i = 0; i < in->tags.n; i++)
		for (int k = 0; k < 2; k++) {
			char **f = k ? &in->tags.v[i].value : &in->tags.v[i].key;

			if (*f && !pool_has(*f)) {
				char *mine = *f;

				*f = (char *)pool_intern(mine);
				free(mine);
			}
		}
	pthread_mutex_unlock(&pool.lock);
	for (size_t i = 0; i < N_SHARED; i++)
		free(old[i]);
}

void np_instance_copy_shared(struct np_instance *dst, const struct np_instance *src)
{
	np_instance_copy(dst, src);
	np_instance_share_strings(dst);
}

void np_shared_strings_release(void)
{
	pthread_mutex_lock(&pool.lock);
	for (size_t i = 0; i < pool.cap; i++)
		free(pool.v[i]);
	free(pool.v);
	pool.v = NULL;
	pool.n = pool.cap = 0;
	pthread_mutex_unlock(&pool.lock);
}

void np_instance_release(struct np_instance *in)
{
	for (size_t i = 0; i < N_SHARED; i++) {
		drop(*FIELD_AT(in, shared_fields[i]));
		*FIELD_AT(in, shared_fields[i]) = NULL;
	}
	free(in->address);
	free(in->instance_id);
	free(in->host_address);
	free(in->client_token);
	free(in->launch_time);
	np_attrs_release(in);
	free(in->root_device_name);
	free(in->root_volume_id);
	memset(in, 0, sizeof(*in));
}

void np_instance_copy(struct np_instance *dst, const struct np_instance *src)
{
	*dst = *src;
	dst->address = np_xstrdup(src->address);
	dst->instance_id = np_xstrdup(src->instance_id);
	dst->host_address = np_xstrdup(src->host_address);
	dst->client_token = np_xstrdup(src->client_token);
	dst->lineage = np_xstrdup(src->lineage);
	dst->launch_time = np_xstrdup(src->launch_time);
	dst->owner_id = np_xstrdup(src->owner_id);
	np_attrs_copy(dst, src);
	dst->root_device_name = np_xstrdup(src->root_device_name);
	dst->root_volume_id = np_xstrdup(src->root_volume_id);
}

void np_instances_free(struct np_instance *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		np_instance_release(&v[i]);
	free(v);
}

const char *const np_nv_names[] = { NULL, "disabled", "enabled", NULL };
const char *const np_tenancy_names[] = { NULL, "default", "dedicated", "host", NULL };
const char *const np_platform_names[] = { NULL, "linux", "windows", NULL };
const char *const np_run_state_names[] = { NULL,         "pending",  "running", "shutting-down",
					   "terminated", "stopping", "stopped", NULL };
#define nv_names       np_nv_names
#define tenancy_names  np_tenancy_names
#define platform_names np_platform_names
#define run_names      np_run_state_names

#define NAME_OF(table, v) \
	((unsigned)(v) < sizeof(table) / sizeof(table[0]) ? table[(unsigned)(v)] : NULL)

const char *np_nv_name(enum np_nv v) { return NAME_OF(nv_names, v); }
const char *np_tenancy_name(enum np_tenancy v) { return NAME_OF(tenancy_names, v); }
const char *np_platform_name(enum np_platform v) { return NAME_OF(platform_names, v); }
const char *np_run_state_name(enum np_run_state v) { return NAME_OF(run_names, v); }

static int lookup(const char *const *table, size_t n, const char *s, bool nocase)
{
	if (!s)
		return 0;
	for (size_t i = 1; i < n && table[i]; i++)
		if (nocase ? !strcasecmp(table[i], s) : !strcmp(table[i], s))
			return (int)i;
	return 0;
}

#define LOOKUP(table, s, nocase) lookup(table, sizeof(table) / sizeof(table[0]), s, nocase)

enum np_nv np_nv_parse(const char *s) { return (enum np_nv)LOOKUP(nv_names, s, false); }
enum np_tenancy np_tenancy_parse(const char *s)
{
	return (enum np_tenancy)LOOKUP(tenancy_names, s, false);
}
enum np_platform np_platform_parse(const char *s)
{
	return (enum np_platform)LOOKUP(platform_names, s, true);
}
enum np_run_state np_run_state_parse(const char *s)
{
	return (enum np_run_state)LOOKUP(run_names, s, false);
}

void np_itype_release(struct np_itype *t)
{
	free(t->name);
	free(t->valid_cores);
	free(t->valid_threads);
	memset(t, 0, sizeof(*t));
}

static int *dup_ints(const int *v, size_t n)
{
	int *p;

	if (!n)
		return NULL;
	p = np_xmalloc(n * sizeof(*p));
	memcpy(p, v, n * sizeof(*p));
	return p;
}

void np_itype_copy(struct np_itype *dst, const struct np_itype *src)
{
	*dst = *src;
	dst->name = np_xstrdup(src->name);
	dst->valid_cores = dup_ints(src->valid_cores, src->n_valid_cores);
	dst->valid_threads = dup_ints(src->valid_threads, src->n_valid_threads);
}

/* Kept sorted by name so lookups are a binary search. */
static size_t itype_pos(const struct np_catalog *c, const char *name, bool *found)
{
	size_t lo = 0, hi = c->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(c->v[mid].name, name);

		if (r == 0) {
			*found = true;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void np_catalog_add(struct np_catalog *c, const struct np_itype *t)
{
	bool found;
	size_t i = itype_pos(c, t->name, &found);

	if (found) {
		np_itype_release(&c->v[i]);
		np_itype_copy(&c->v[i], t);
		return;
	}
	NP_ALLOC_GROW(c->v, c->n + 1, c->alloc);
	memmove(c->v + i + 1, c->v + i, (c->n - i) * sizeof(*c->v));
	np_itype_copy(&c->v[i], t);
	c->n++;
	c->sorted = true;
}

const struct np_itype *np_catalog_find(const struct np_catalog *c, const char *name)
{
	bool found;
	size_t i;

	if (!c || !name)
		return NULL;
	i = itype_pos(c, name, &found);
	return found ? &c->v[i] : NULL;
}

void np_catalog_release(struct np_catalog *c)
{
	for (size_t i = 0; i < c->n; i++)
		np_itype_release(&c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

bool np_address_valid(const char *address)
{
	size_t name = address
			  ? strspn(address, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "0123456789_-")
			  : 0;
	const char *rest = address ? address + name : NULL;
	size_t digits;

	if (name < 1 || name > 64)
		return false;
	if (!*rest)
		return true;
	digits = strspn(rest + 1, "0123456789");
	return rest[0] == '[' && digits >= 1 && digits <= 6 && (rest[1] != '0' || digits == 1) &&
	       rest[1 + digits] == ']' && !rest[2 + digits];
}
