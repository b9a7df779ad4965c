/* The YAML file to struct np_config: libyaml's document, walked once with a
 * visit budget, every problem reported with its line and column. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config/internal.h"
#include "nestplan/alloc.h"
#include "nestplan/endpoints.h"
#include "nestplan/sha256.h"
#include "nestplan/suggest.h"

/* Where the character at libyaml's index m->index starts: libyaml counts
 * characters (a BOM not included), the file is UTF-8. */
struct np_pos np_cfg_pos(struct cfg_parse *p, const yaml_mark_t *m)
{
	size_t base = p->len >= 3 && !memcmp(p->data, "\xef\xbb\xbf", 3) ? 3 : 0, b, left;

	if (!p->char_bytes) {
		size_t chars = 0, alloc = 0;

		for (b = base; b <= p->len; b++) {
			if (b < p->len && ((unsigned char)p->data[b] & 0xc0) == 0x80)
				continue;
			if (chars++ % 64 == 0) {
				NP_ALLOC_GROW(p->char_bytes, p->n_char_bytes + 1, alloc);
				p->char_bytes[p->n_char_bytes++] = b;
			}
		}
	}
	if (m->index / 64 >= p->n_char_bytes)
		b = p->len;
	else
		for (b = p->char_bytes[m->index / 64], left = m->index % 64; left && b < p->len;
		     left--)
			while (++b < p->len && ((unsigned char)p->data[b] & 0xc0) == 0x80)
				;
	return (struct np_pos){ (int)m->line + 1, (int)m->column + 1, b };
}

static void note_diag(struct cfg_parse *p, const yaml_node_t *n, const char *fmt, va_list ap)
{
	struct np_config_diags *d = p->diags;
	struct np_config_diag *x;
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	if (strlen(msg) > 1024)
		msg[1024] = '\0';
	NP_ALLOC_GROW(d->v, d->n + 1, d->alloc);
	x = &d->v[d->n++];
	memset(x, 0, sizeof(*x));
	x->message = msg;
	if (n) {
		x->has_span = true;
		x->span.start = np_cfg_pos(p, &n->start_mark);
		x->span.end = np_cfg_pos(p, &n->end_mark);
	}
}

void np_cfg_errorf(struct cfg_parse *p, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	p->n_errors++;
	if (p->n_errors > NP_CONFIG_MAX_ERRORS)
		return;
	if (p->diags) {
		va_start(ap, fmt);
		note_diag(p, n, fmt, ap);
		va_end(ap);
	}
	if (p->errors.len)
		np_buf_putc(&p->errors, '\n');
	np_buf_printf(&p->errors, "%s:%zu:%zu: error: ", p->file, n ? n->start_mark.line + 1 : 1,
		      n ? n->start_mark.column + 1 : 1);
	va_start(ap, fmt);
	np_buf_vprintf(&p->errors, fmt, ap);
	va_end(ap);
	/* Only what fits in struct np_err reaches the caller: keep no more, so
	 * messages quoting huge (or aliased) values do not pile up. */
	if (p->errors.len > NP_ERR_MSG_MAX) {
		p->errors.len = NP_ERR_MSG_MAX;
		p->errors.ptr[p->errors.len] = '\0';
	}
}

static yaml_node_t *node(struct cfg_parse *p, int index)
{
	if (++p->visits > NP_CONFIG_MAX_VISITS) {
		if (!p->exhausted)
			np_cfg_errorf(p, NULL,
				      "document too large once its aliases are expanded "
				      "(more than %d nodes); refusing it",
				      NP_CONFIG_MAX_VISITS);
		p->exhausted = true;
		return NULL;
	}
	return yaml_document_get_node(p->doc, index);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool quoted(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	       n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
}

static const char *kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a scalar";
	}
}

static bool want_kind(struct cfg_parse *p, const yaml_node_t *n, yaml_node_type_t t,
		      const char *key)
{
	static const char *const names[] = { "", "a scalar", "a list", "a mapping" };

	if (n->type == t)
		return true;
	np_cfg_errorf(p, n, "'%s' must be %s, not %s", key, names[t], kind_name(n));
	return false;
}

static char *get_string(struct cfg_parse *p, const yaml_node_t *n, const char *key, size_t max)
{
	const char *s;

	if (!want_kind(p, n, YAML_SCALAR_NODE, key))
		return NULL;
	s = scalar(n);
	if (strlen(s) > max) {
		np_cfg_errorf(p, n, "'%s' is too long (%zu characters, at most %zu)", key,
			      strlen(s), max);
		return NULL;
	}
	if (!quoted(n) && (!strcmp(s, "~") || !strcmp(s, "null") || !*s)) {
		np_cfg_errorf(p, n, "'%s' must not be empty", key);
		return NULL;
	}
	return np_xstrdup(s);
}

static bool get_int(struct cfg_parse *p, const yaml_node_t *n, const char *key, long lo, long hi,
		    int *out)
{
	const char *s;
	char *end;
	long v;

	if (!want_kind(p, n, YAML_SCALAR_NODE, key))
		return false;
	s = scalar(n);
	errno = 0;
	v = strtol(s, &end, 10);
	if (quoted(n) || !*s || *end || errno) {
		np_cfg_errorf(p, n, "'%s' must be a whole number, not '%s'", key, s);
		return false;
	}
	if (v < lo || v > hi) {
		np_cfg_errorf(p, n, "'%s' must be between %ld and %ld, not %ld", key, lo, hi, v);
		return false;
	}
	*out = (int)v;
	return true;
}

static bool get_bool(struct cfg_parse *p, const yaml_node_t *n, const char *key, bool *out)
{
	const char *s;

	if (!want_kind(p, n, YAML_SCALAR_NODE, key))
		return false;
	s = scalar(n);
	if (!quoted(n) && !strcmp(s, "true")) {
		*out = true;
		return true;
	}
	if (!quoted(n) && !strcmp(s, "false")) {
		*out = false;
		return true;
	}
	np_cfg_errorf(p, n, "'%s' must be true or false, not '%s'", key, s);
	return false;
}

static int get_enum(struct cfg_parse *p, const yaml_node_t *n, const char *key,
		    const char *const *allowed)
{
	const char *s;
	struct np_buf list = NP_BUF_INIT;

	if (!want_kind(p, n, YAML_SCALAR_NODE, key))
		return -1;
	s = scalar(n);
	for (int i = 0; allowed[i]; i++)
		if (!strcmp(s, allowed[i]))
			return i;
	for (int i = 0; allowed[i]; i++)
		np_buf_printf(&list, "%s%s", i ? ", " : "", allowed[i]);
	np_cfg_errorf(p, n, "'%s' must be one of %s, not '%s'", key, list.ptr, s);
	np_buf_release(&list);
	return -1;
}

static char *get_id(struct cfg_parse *p, const yaml_node_t *n, const char *key, const char *prefix)
{
	char *s = get_string(p, n, key, 64);
	size_t plen = strlen(prefix), hex;

	if (!s)
		return NULL;
	hex = strncmp(s, prefix, plen) || s[plen] != '-' ? 0
							 : strspn(s + plen + 1, "0123456789abcdef");
	if (hex < 8 || hex > 17 || s[plen + 1 + hex]) {
		np_cfg_errorf(p, n, "'%s' must look like %s-0123456789abcdef0, not '%s'", key,
			      prefix, s);
		free(s);
		return NULL;
	}
	return s;
}

struct keyref {
	const char *name;
	size_t pos;
};

static int cmp_keyref(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Duplicate keys of a mapping, found by sorting (maps can hold 50,000
 * instances); reported at each repeat. NULL when there are none. */
static bool *find_duplicates(struct cfg_parse *p, yaml_node_t *map, const char *what)
{
	size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start), m = 0;
	struct keyref *refs;
	bool *dups = NULL;

	if (n < 2)
		return NULL;
	refs = np_xmalloc(n * sizeof(*refs));
	for (size_t i = 0; i < n; i++) {
		const char *name =
		    scalar(yaml_document_get_node(p->doc, map->data.mapping.pairs.start[i].key));

		if (name)
			refs[m++] = (struct keyref){ name, i };
	}
	qsort(refs, m, sizeof(*refs), cmp_keyref);
	for (size_t i = 1; i < m; i++) {
		size_t first = i - 1;
		yaml_node_t *k, *fk;

		if (strcmp(refs[i].name, refs[i - 1].name))
			continue;
		while (first > 0 && !strcmp(refs[first - 1].name, refs[i].name))
			first--;
		if (!dups)
			dups = np_xcalloc(n, sizeof(*dups));
		dups[refs[i].pos] = true;
		k = yaml_document_get_node(p->doc, map->data.mapping.pairs.start[refs[i].pos].key);
		fk = yaml_document_get_node(p->doc,
					    map->data.mapping.pairs.start[refs[first].pos].key);
		np_cfg_errorf(p, k, "duplicate key '%s' in '%s' (first at line %zu)", refs[i].name,
			      what, fk->start_mark.line + 1);
	}
	free(refs);
	return dups;
}

/* Walk a mapping: check keys against `keys`, report unknown and duplicate
 * ones, and hand each (key, value) to fn. */
typedef void (*pair_fn)(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
			void *ctx);

static void walk_map(struct cfg_parse *p, yaml_node_t *map, const char *what,
		     const char *const *keys, pair_fn fn, void *ctx)
{
	yaml_node_pair_t *pair;
	bool *dups;

	if (!want_kind(p, map, YAML_MAPPING_NODE, what))
		return;
	dups = find_duplicates(p, map, what);
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(p, pair->key), *v = node(p, pair->value);
		const char *name;

		if (!k || !v)
			break;
		name = scalar(k);
		if (!name) {
			np_cfg_errorf(p, k, "keys in '%s' must be plain names", what);
			continue;
		}
		if (dups && dups[pair - map->data.mapping.pairs.start])
			continue;
		if (!strcmp(name, "<<")) {
			np_cfg_errorf(p, k,
				      "YAML merge keys ('<<') are not supported; use 'defaults:'");
			continue;
		}
		if (keys) {
			bool known = false;

			for (size_t i = 0; keys[i] && !known; i++)
				known = !strcmp(keys[i], name);
			if (!known) {
				const char *hint = np_suggest(name, keys);

				if (hint)
					np_cfg_errorf(
					    p, k, "unknown key '%s' in '%s'; did you mean '%s'?",
					    name, what, hint);
				else
					np_cfg_errorf(p, k, "unknown key '%s' in '%s'", name, what);
				continue;
			}
		}
		fn(p, name, k, v, ctx);
	}
	free(dups);
}

/* ---- one instance (or the defaults) ---- */

static const char *const key_names[NP_KEY__COUNT] = {
	[NP_KEY_ENTRY] = "",
	[NP_KEY_COUNT] = "count",
	[NP_KEY_INSTANCE_ID] = "instance_id",
	[NP_KEY_IMAGE_ID] = "image_id",
	[NP_KEY_INSTANCE_TYPE] = "instance_type",
	[NP_KEY_KEY_NAME] = "key_name",
	[NP_KEY_SUBNET_ID] = "subnet_id",
	[NP_KEY_SECURITY_GROUP_IDS] = "security_group_ids",
	[NP_KEY_USER_DATA] = "user_data",
	[NP_KEY_PLATFORM] = "platform",
	[NP_KEY_CPU_OPTIONS] = "cpu_options",
	[NP_KEY_CORE_COUNT] = "cpu_options.core_count",
	[NP_KEY_THREADS_PER_CORE] = "cpu_options.threads_per_core",
	[NP_KEY_NESTED_VIRTUALIZATION] = "cpu_options.nested_virtualization",
	[NP_KEY_PLACEMENT] = "placement",
	[NP_KEY_TENANCY] = "placement.tenancy",
	[NP_KEY_HOST_ID] = "placement.host_id",
	[NP_KEY_AVAILABILITY_ZONE] = "placement.availability_zone",
	[NP_KEY_HIBERNATION] = "hibernation",
	[NP_KEY_STATE] = "state",
	[NP_KEY_TAGS] = "tags",
	[NP_KEY_ROLLOUT] = "rollout",
	[NP_KEY_MAX_UNAVAILABLE] = "rollout.max_unavailable",
	[NP_KEY_LIFECYCLE] = "lifecycle",
	[NP_KEY_PREVENT_DESTROY] = "lifecycle.prevent_destroy",
	[NP_KEY_CREATE_BEFORE_DESTROY] = "lifecycle.create_before_destroy",
	[NP_KEY_USER_DATA_CHANGE] = "lifecycle.user_data_change",
	[NP_KEY_HOST] = "placement.host",
	[NP_KEY_INSTANCE_FAMILY] = "instance_family",
	[NP_KEY_AUTO_PLACEMENT] = "auto_placement",
	[NP_KEY_HOST_RECOVERY] = "host_recovery",
};

const char *np_cfg_key_name(enum np_cfg_key k)
{
	return (unsigned)k < NP_KEY__COUNT ? key_names[k] : "";
}

/* Record where a key of the entry being read stands: key to end of value;
 * name NULL: the entry itself. */
static void note_key(struct cfg_parse *p, const char *parent, const char *name, yaml_node_t *k,
		     yaml_node_t *v)
{
	size_t plen = parent ? strlen(parent) : 0;
	struct np_config *cfg = p->cfg;
	struct np_keypos *kp;
	int i;

	for (i = name ? 1 : 0; name && i < NP_KEY__COUNT; i++) {
		const char *full = key_names[i];

		if (!full) /* a key declared before its reader names it */
			continue;
		if (parent && (strncmp(full, parent, plen) || full[plen] != '.'))
			continue;
		if (!strcmp(parent ? full + plen + 1 : full, name))
			break;
	}
	if (i == NP_KEY__COUNT)
		return;
	NP_ALLOC_GROW(cfg->keypos, cfg->n_keypos + 1, cfg->alloc_keypos);
	kp = &cfg->keypos[cfg->n_keypos++];
	kp->key = (enum np_cfg_key)i;
	kp->span.start = np_cfg_pos(p, &k->start_mark);
	/* An alias's node stands where its anchor is: then the key alone. */
	kp->span.end =
	    np_cfg_pos(p, v->end_mark.index >= k->end_mark.index ? &v->end_mark : &k->end_mark);
}

const struct np_span *np_config_key_span(const struct np_config *cfg, const struct np_desired *d,
					 enum np_cfg_key key)
{
	const size_t at[2] = { d ? d->keys_at : 0, cfg->defaults_at };
	const size_t n[2] = { d ? d->n_keys : 0, key == NP_KEY_ENTRY ? 0 : cfg->n_defaults_keys };

	for (int w = 0; w < 2; w++)
		for (size_t i = at[w]; i < at[w] + n[w] && i < cfg->n_keypos; i++)
			if (cfg->keypos[i].key == key)
				return &cfg->keypos[i].span;
	return NULL;
}

struct inst_ctx {
	struct np_desired d;
	int count;           /* 0: no count */
	bool allow_identity; /* count and instance_id (not in defaults) */
	yaml_node_t *count_node, *id_node;
	yaml_node_t *host_node; /* placement.host */
	char group[32];         /* the map of gen attributes being read */
};

/* The keys that are not the attribute table's (keys_of adds those). A map
 * listed here is walked by its own function, which asks the table first. */
static const char *const instance_keys[] = {
	"count", "instance_id", "placement", "rollout", "lifecycle", NULL,
};
static const char *const placement_keys[] = { "host", NULL };
static const char *const rollout_keys[] = { "max_unavailable", NULL };
static const char *const lifecycle_keys[] = { "prevent_destroy", "create_before_destroy",
					      "user_data_change", NULL };
/* By enum np_ud_change value less one. */
static const char *const ud_change_names[] = { "replace", "in_place", NULL };

/* ---- the attributes the table handles alone ---- */

#define MAX_KEYS 64

/* The keys of a map: the fixed ones, and those the attribute table adds
 * (group NULL: the instance's own keys, where a dotted name adds its group). */
static const char *const *keys_of(const char **out, const char *const *fixed, const char *group)
{
	size_t n = 0, glen = group ? strlen(group) : 0;

	for (size_t i = 0; fixed && fixed[i] && n < MAX_KEYS - 1; i++)
		out[n++] = fixed[i];
	for (size_t i = 0; i < np_n_attrs && n < MAX_KEYS - 1; i++) {
		const char *name = np_attrs[i].name, *dot = strchr(name, '.'), *key = NULL;
		static char groups[8][32];
		bool dup = false;

		if (group && !strncmp(name, group, glen) && name[glen] == '.') {
			key = name + glen + 1;
		} else if (!group && !dot) {
			key = name;
		} else if (!group) {
			/* A group such as metadata_options: once, and only if not fixed. */
			size_t g = (size_t)(dot - name), slot = 0;

			for (size_t j = 0; j < n && !dup; j++)
				dup = strlen(out[j]) == g && !strncmp(out[j], name, g);
			for (; slot < 8 && groups[slot][0] &&
			       !(strlen(groups[slot]) == g && !strncmp(groups[slot], name, g));
			     slot++)
				;
			if (dup || slot == 8 || g >= sizeof(groups[0]))
				continue;
			snprintf(groups[slot], sizeof(groups[slot]), "%.*s", (int)g, name);
			key = groups[slot];
		}
		for (size_t j = 0; key && j < n && !dup; j++)
			dup = !strcmp(out[j], key);
		if (key && !dup)
			out[n++] = key;
	}
	out[n] = NULL;
	return out;
}

static const struct np_attr_def *gen_attr(const char *group, const char *key)
{
	char name[128];

	snprintf(name, sizeof(name), "%s%s%s", group ? group : "", group ? "." : "", key);
	for (size_t i = 0; i < np_n_attrs; i++)
		if (!strcmp(np_attrs[i].name, name))
			return &np_attrs[i];
	return NULL;
}

/* A list of EC2 ids, at most a->max of them. */
static void gen_list(struct cfg_parse *p, const struct np_attr_def *a, const char *key,
		     yaml_node_t *v, struct np_instance *w)
{
	struct np_strv *sv = (struct np_strv *)((char *)w + a->offset);

	if (!want_kind(p, v, YAML_SEQUENCE_NODE, key))
		return;
	np_strv_release(sv);
	if (a->set_flag)
		*(bool *)((char *)w + a->set_flag) = true;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *x = node(p, *it);
		char *id;

		if (!x)
			return;
		if (it - v->data.sequence.items.start == a->max) {
			np_cfg_errorf(
			    p, x, "at most %d values in '%s' (EC2's limit), not %ld", a->max, key,
			    (long)(v->data.sequence.items.top - v->data.sequence.items.start));
			return;
		}
		if ((id = get_id(p, x, key, a->id_prefix))) {
			np_strv_push(sv, id);
			free(id);
		}
	}
}

static void tags_into(struct cfg_parse *p, yaml_node_t *v, struct np_instance *w);
static char *sha256_hex(const char *data, size_t len);

/* One value of an attribute, checked as its type and limits say. */
static bool gen_value(struct cfg_parse *p, const struct np_attr_def *a, const char *key,
		      yaml_node_t *v, struct inst_ctx *ic)
{
	struct np_instance *w = &ic->d.want;
	char num[32];
	int n;
	bool b;
	char *s;

	switch (a->type) {
	case NP_ATTR_BOOL:
		if (get_bool(p, v, key, &b))
			np_attr_set_text(a, w, b ? "true" : "false");
		return true;
	case NP_ATTR_INT:
		if (get_int(p, v, key, a->min, a->max, &n)) {
			snprintf(num, sizeof(num), "%d", n);
			np_attr_set_text(a, w, num);
		}
		return true;
	case NP_ATTR_ENUM: {
		const char *const *names = a->file_names ? a->file_names : a->names + 1;

		if ((n = get_enum(p, v, key, names)) >= 0)
			np_attr_set_text(a, w, names[n]);
		return true;
	}
	case NP_ATTR_STR:
		if (a->id_prefix) {
			free(*(char **)((char *)w + a->offset));
			*(char **)((char *)w + a->offset) = get_id(p, v, key, a->id_prefix);
			return true;
		}
		if ((s = get_string(p, v, key, a->max ? (size_t)a->max : a->check ? 2048 : 255))) {
			char *why = a->check ? a->check(s) : NULL;

			if (why)
				np_cfg_errorf(p, v, "'%s' %s", key, why);
			else
				np_attr_set_text(a, w, s);
			free(why);
			free(s);
		}
		return true;
	case NP_ATTR_STRV:
		gen_list(p, a, key, v, w);
		return true;
	case NP_ATTR_SHA256:
		if ((s = get_string(p, v, key, (size_t)a->max))) {
			char **hash = (char **)((char *)w + a->offset);

			/* Kept once in the config, however many instances a count makes
			 * of the entry: 16 KiB times 100,000 would be gigabytes. */
			free(*hash);
			*hash = sha256_hex(s, strlen(s));
			np_strv_push(&p->cfg->texts, s);
			free(s);
			ic->d.user_data = p->cfg->texts.v[p->cfg->texts.n - 1];
		}
		return true;
	case NP_ATTR_TAGS:
		tags_into(p, v, w);
		return true;
	}
	return false;
}

static void gen_group_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
			   void *ctx);

/* A key of the instance (group NULL) or of one of its maps that the table
 * handles: true when it was this one's. */
static bool gen_pair(struct cfg_parse *p, const char *group, const char *key, yaml_node_t *v,
		     void *ctx)
{
	const struct np_attr_def *a = gen_attr(group, key);
	const char *keys[MAX_KEYS];

	size_t len = strlen(key);

	if (a)
		return gen_value(p, a, key, v, ctx);
	if (group)
		return false;
	/* A map of the table's alone, unless it has a pair function of its own
	 * (placement: its function asks here key by key). */
	for (size_t i = 0; instance_keys[i]; i++)
		if (!strcmp(instance_keys[i], key))
			return false;
	for (size_t i = 0; i < np_n_attrs; i++) {
		if (!strncmp(np_attrs[i].name, key, len) && np_attrs[i].name[len] == '.') {
			struct inst_ctx *ic = ctx;

			snprintf(ic->group, sizeof(ic->group), "%s", key);
			walk_map(p, v, key, keys_of(keys, NULL, key), gen_group_pair, ctx);
			return true;
		}
	}
	return false;
}

static void gen_group_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
			   void *ctx)
{
	struct inst_ctx *ic = ctx;
	char group[sizeof(ic->group)];

	snprintf(group, sizeof(group), "%s", ic->group);
	note_key(p, group, key, k, v);
	gen_pair(p, group, key, v, ctx);
}

static void placement_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
			   void *ctx)
{
	note_key(p, "placement", key, k, v);
	if (!strcmp(key, "host")) {
		((struct inst_ctx *)ctx)->host_node = v;
		np_cfg_placement_host(p, v, &((struct inst_ctx *)ctx)->d.want);
		return;
	}
	gen_pair(p, "placement", key, v, ctx);
}

static void rollout_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
			 void *ctx)
{
	struct np_desired *d = &((struct inst_ctx *)ctx)->d;
	const char *s = scalar(v);
	size_t len;

	note_key(p, "rollout", key, k, v);
	if (!want_kind(p, v, YAML_SCALAR_NODE, key))
		return;
	len = strlen(s);
	if (len > 1 && s[len - 1] == '%') {
		char *end;
		long pct = strtol(s, &end, 10);

		if (end != s + len - 1 || pct < 1 || pct > 100) {
			np_cfg_errorf(
			    p, v,
			    "'max_unavailable' must be 1%% to 100%% or a whole number, not "
			    "'%s'",
			    s);
			return;
		}
		d->max_unavailable = (int)pct;
		d->max_unavailable_percent = true;
		return;
	}
	if (get_int(p, v, key, 1, NP_CONFIG_MAX_COUNT, &d->max_unavailable))
		d->max_unavailable_percent = false;
}

static void lifecycle_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
			   void *ctx)
{
	struct np_desired *d = &((struct inst_ctx *)ctx)->d;

	note_key(p, "lifecycle", key, k, v);
	if (!strcmp(key, "user_data_change")) {
		int i = get_enum(p, v, "lifecycle.user_data_change", ud_change_names);

		if (i >= 0)
			d->user_data_change = (enum np_ud_change)(i + 1);
		return;
	}
	get_bool(p, v, key,
		 !strcmp(key, "prevent_destroy") ? &d->prevent_destroy : &d->create_before_destroy);
}

static void tags_into(struct cfg_parse *p, yaml_node_t *v, struct np_instance *w)
{
	yaml_node_pair_t *pair;

	if (!want_kind(p, v, YAML_MAPPING_NODE, "tags"))
		return;
	w->tags_set = true;
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(p, pair->key), *val = node(p, pair->value);
		const char *key, *value;

		if (!k || !val)
			return;
		key = scalar(k);
		value = scalar(val);
		if (!key || !*key) {
			np_cfg_errorf(p, k, "tag keys must be non-empty strings");
			continue;
		}
		if (!value) {
			np_cfg_errorf(p, val, "tag '%s' must have a string value, not %s", key,
				      kind_name(val));
			continue;
		}
		if (!strncasecmp(key, "aws:", 4) || !strncmp(key, "nestplan:", 9)) {
			np_cfg_errorf(
			    p, k, "tag key '%s' is reserved (aws: and nestplan: prefixes)", key);
			continue;
		}
		if (strlen(key) > 127 || strlen(value) > 256) {
			np_cfg_errorf(p, k,
				      "tag '%.40s' is too long (keys at most 127, values 256 "
				      "characters)",
				      key);
			continue;
		}
		if (np_tags_get(&w->tags, key)) {
			np_cfg_errorf(p, k, "duplicate tag '%s'", key);
			continue;
		}
		np_tags_set(&w->tags, key, value);
	}
	if (w->tags.n > 50)
		np_cfg_errorf(p, v, "at most 50 tags per instance (EC2's limit), not %zu",
			      w->tags.n);
}

static char *sha256_hex(const char *data, size_t len)
{
	char *hex = np_xmalloc(65);

	np_sha256_hex(data, len, hex);
	return hex;
}

static void instance_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
			  void *ctx)
{
	const char *keys[MAX_KEYS];
	struct inst_ctx *ic = ctx;
	struct np_instance *w = &ic->d.want;

	note_key(p, NULL, key, k, v);
	if (gen_pair(p, NULL, key, v, ctx))
		return;
	if (!strcmp(key, "count") || !strcmp(key, "instance_id")) {
		if (!ic->allow_identity) {
			np_cfg_errorf(p, k, "'%s' cannot be a default; set it on the instance",
				      key);
			return;
		}
		if (key[0] == 'c') {
			ic->count_node = k;
			/* 0 scales the group to nothing: its instances are destroyed. */
			get_int(p, v, key, 0, NP_CONFIG_MAX_COUNT, &ic->count);
		} else {
			ic->id_node = k;
			free(w->instance_id);
			w->instance_id = get_id(p, v, key, "i");
		}
	} else if (!strcmp(key, "placement")) {
		walk_map(p, v, "placement", keys_of(keys, placement_keys, "placement"),
			 placement_pair, ic);
	} else if (!strcmp(key, "rollout")) {
		walk_map(p, v, "rollout", rollout_keys, rollout_pair, ic);
	} else if (!strcmp(key, "lifecycle")) {
		walk_map(p, v, "lifecycle", lifecycle_keys, lifecycle_pair, ic);
	}
}

static void release_desired(struct np_desired *d)
{
	np_instance_release(&d->want);
	free(d->name);
	d->user_data = NULL; /* borrowed from np_config.texts */
	memset(d, 0, sizeof(*d));
}

#define TAKE_STR(f)          \
	if (!w->f && def->f) \
	w->f = np_xstrdup(def->f)
/* defaults: fill what the instance leaves unset (np_attrs_defaults). */
static void merge_defaults(struct np_desired *d, const struct np_desired *dd)
{
	struct np_instance *w = &d->want;
	const struct np_instance *def = &dd->want;

	np_attrs_defaults(w, def); /* tags key by key */
	TAKE_STR(host_address);
	if (!d->user_data && dd->user_data)
		d->user_data = dd->user_data;
	if (!d->max_unavailable) {
		d->max_unavailable = dd->max_unavailable;
		d->max_unavailable_percent = dd->max_unavailable_percent;
	}
	d->prevent_destroy = d->prevent_destroy || dd->prevent_destroy;
	d->create_before_destroy = d->create_before_destroy || dd->create_before_destroy;
	if (!d->user_data_change)
		d->user_data_change = dd->user_data_change;
}

/* ---- the document ---- */

struct top_ctx {
	struct np_config *cfg;
	bool scaled_to_zero; /* an entry with count: 0: an empty fleet is meant */
	yaml_node_t *defaults, *instances, *version;
	yaml_node_t *hosts;
	size_t alloc;
};

static const char *const top_keys[] = { "version",   "provider", "backend", "defaults",
					"instances", "hosts",    NULL };
static const char *const backend_keys[] = { "s3", NULL };
static const char *const s3_keys[] = { "bucket", "key", "region", "endpoint", "kms_key_id", NULL };

/* backend: s3: { bucket, key, region, endpoint, kms_key_id } */
static void s3_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	struct np_config *cfg = ctx;
	char *s = get_string(p, v, key, 1024), **slot;

	(void)k;
	if (!s)
		return;
	if (!strcmp(key, "bucket")) {
		size_t n = strlen(s);
		bool ok = n >= 3 && n <= 63;

		for (size_t i = 0; i < n && ok; i++)
			ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
			     s[i] == '-' || s[i] == '.';
		if (!ok || s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.') {
			np_cfg_errorf(p, v,
				      "'bucket' must be an S3 bucket name (3 to 63 of a-z 0-9 . -, "
				      "a letter or digit at each end), not '%s'",
				      s);
			free(s);
			return;
		}
		slot = &cfg->backend.bucket;
	} else if (!strcmp(key, "key")) {
		if (s[0] == '/' || s[strlen(s) - 1] == '/') {
			np_cfg_errorf(
			    p, v,
			    "'key' must be an object key such as 'team/nestplan.db', not '%s'", s);
			free(s);
			return;
		}
		slot = &cfg->backend.key;
	} else if (!strcmp(key, "region")) {
		struct np_err rerr = NP_ERR_INIT;

		if (np_region_check(s, "'region'", &rerr) < 0) {
			np_cfg_errorf(p, v, "%s", rerr.msg);
			free(s);
			return;
		}
		slot = &cfg->backend.region;
	} else if (!strcmp(key, "endpoint")) {
		if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8)) {
			np_cfg_errorf(p, v,
				      "'endpoint' must be an http:// or https:// URL, not '%s'", s);
			free(s);
			return;
		}
		slot = &cfg->backend.endpoint;
	} else {
		slot = &cfg->backend.kms_key_id;
	}
	free(*slot);
	*slot = s;
}

static void backend_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
			 void *ctx)
{
	struct np_config *cfg = ctx;

	(void)key;
	cfg->has_backend = true;
	walk_map(p, v, "s3", s3_keys, s3_pair, cfg);
	if (!cfg->backend.bucket)
		np_cfg_errorf(p, v, "'backend.s3' needs 'bucket'");
	if (!cfg->backend.key)
		np_cfg_errorf(p, v, "'backend.s3' needs 'key'");
	(void)k;
}
static const char *const provider_keys[] = { "region", "profile", "endpoint", NULL };

static void provider_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
			  void *ctx)
{
	struct np_config *cfg = ctx;
	char *s = get_string(p, v, key, 1024);

	(void)k;
	if (!s)
		return;
	if (!strcmp(key, "region")) {
		struct np_err rerr = NP_ERR_INIT;

		/* Any partition's region (aws, aws-cn, aws-us-gov, aws-eusc, aws-iso…). */
		if (np_region_check(s, "'region'", &rerr) < 0) {
			np_cfg_errorf(p, v, "%s", rerr.msg);
			free(s);
			return;
		}
		free(cfg->region);
		cfg->region = s;
	} else if (!strcmp(key, "profile")) {
		free(cfg->profile);
		cfg->profile = s;
	} else {
		if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8)) {
			np_cfg_errorf(p, v,
				      "'endpoint' must be an http:// or https:// URL, not '%s'", s);
			free(s);
			return;
		}
		free(cfg->endpoint);
		cfg->endpoint = s;
	}
}

static void top_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
		     void *ctx)
{
	struct top_ctx *t = ctx;

	(void)k;
	if (!strcmp(key, "version"))
		t->version = v;
	else if (!strcmp(key, "provider"))
		walk_map(p, v, "provider", provider_keys, provider_pair, t->cfg);
	else if (!strcmp(key, "backend"))
		walk_map(p, v, "backend", backend_keys, backend_pair, t->cfg);
	else if (!strcmp(key, "defaults"))
		t->defaults = v;
	else if (!strcmp(key, "hosts"))
		t->hosts = v;
	else
		t->instances = v;
}

static void add_instance(struct top_ctx *t, struct np_desired *d)
{
	struct np_config *cfg = t->cfg;

	NP_ALLOC_GROW(cfg->instances, cfg->n_instances + 1, t->alloc);
	cfg->instances[cfg->n_instances++] = *d;
}

static void copy_desired(struct np_desired *dst, const struct np_desired *src)
{
	*dst = *src;
	np_instance_copy_shared(&dst->want, &src->want); /* a count's copies share strings */
	dst->name = np_xstrdup(src->name);
	dst->user_data = src->user_data; /* shared: np_config.texts owns it */
}

static void load_instances(struct cfg_parse *p, struct top_ctx *t, const struct np_desired *def)
{
	const char *keys[MAX_KEYS];
	yaml_node_t *map = t->instances;
	bool *dups = NULL;

	if (!map) {
		/* A file of Dedicated Hosts alone (hosts for other stacks) is one. */
		if (!t->hosts)
			np_cfg_errorf(p, NULL,
				      "'instances' is missing: the file must list at least "
				      "one instance or host");
		return;
	}
	if (!want_kind(p, map, YAML_MAPPING_NODE, "instances"))
		return;
	dups = find_duplicates(p, map, "instances");
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(p, pair->key), *v = node(p, pair->value);
		struct inst_ctx ic;
		const char *name;

		if (!k || !v)
			break;
		name = scalar(k);
		if (!name || !*name || strlen(name) > 64 ||
		    name[strspn(
			name,
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")]) {
			np_cfg_errorf(p, k,
				      "instance names must be 1 to 64 letters, digits, '_' or '-', "
				      "not '%s'",
				      name ? name : kind_name(k));
			continue;
		}
		if (dups && dups[pair - map->data.mapping.pairs.start])
			continue;
		np_cfg_check_instance_name(p, k, name);
		memset(&ic, 0, sizeof(ic));
		ic.allow_identity = true;
		ic.d.keys_at = t->cfg->n_keypos;
		note_key(p, NULL, NULL, k, v); /* the entry */
		walk_map(p, v, name, keys_of(keys, instance_keys, NULL), instance_pair, &ic);
		ic.d.n_keys = t->cfg->n_keypos - ic.d.keys_at;
		ic.d.name = np_xstrdup(name);
		ic.d.line = (int)k->start_mark.line + 1;
		ic.d.column = (int)k->start_mark.column + 1;
		ic.d.index = -1;
		if (def)
			merge_defaults(&ic.d, def);
		np_cfg_check_placement(p, &ic.d.want, ic.host_node ? ic.host_node : k);
		if (ic.count_node && ic.id_node)
			np_cfg_errorf(p, ic.id_node,
				      "'instance_id' adopts one instance; it cannot go with "
				      "'count'");
		if (!ic.d.want.instance_id && !ic.id_node) {
			if (!ic.d.want.image_id)
				np_cfg_errorf(
				    p, k, "instance '%s' needs 'image_id' (here or in defaults)",
				    name);
			if (!ic.d.want.instance_type)
				np_cfg_errorf(
				    p, k,
				    "instance '%s' needs 'instance_type' (here or in defaults)",
				    name);
		}
		/* Entries without count count too: the file size alone allows millions. */
		if (t->cfg->n_instances + (size_t)(ic.count > 0 ? ic.count : 1) >
		    NP_CONFIG_MAX_INSTANCES) {
			np_cfg_errorf(p, ic.count_node ? ic.count_node : k,
				      "more than %d instances in all; split the fleet "
				      "into several files and states",
				      NP_CONFIG_MAX_INSTANCES);
			release_desired(&ic.d);
		} else if (ic.count > 0 || ic.count_node) {
			t->scaled_to_zero |= ic.count == 0;
			for (int i = 0; i < ic.count; i++) {
				struct np_desired one;

				copy_desired(&one, &ic.d);
				one.index = i;
				free(one.want.address);
				one.want.address = np_xasprintf("%s[%d]", name, i);
				add_instance(t, &one);
			}
			release_desired(&ic.d);
		} else {
			ic.d.want.address = np_xstrdup(name);
			add_instance(t, &ic.d);
		}
	}
	free(dups);
}

static int cmp_addr(const void *a, const void *b)
{
	const struct np_desired *x = *(const struct np_desired *const *)a;
	const struct np_desired *y = *(const struct np_desired *const *)b;

	return strcmp(x->want.address, y->want.address);
}

static void build_index(struct np_config *cfg)
{
	struct np_desired **idx =
	    np_xmalloc((cfg->n_instances ? cfg->n_instances : 1) * sizeof(*idx));

	for (size_t i = 0; i < cfg->n_instances; i++)
		idx[i] = &cfg->instances[i];
	qsort(idx, cfg->n_instances, sizeof(*idx), cmp_addr);
	cfg->index = idx;
}

const struct np_desired *np_config_find(const struct np_config *cfg, const char *address)
{
	size_t lo = 0, hi;

	if (!cfg || !address || !cfg->index)
		return NULL;
	hi = cfg->n_instances;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(cfg->index[mid]->want.address, address);

		if (c == 0)
			return cfg->index[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A file needs three or four levels of '[' and '{'. */
#define NP_CONFIG_MAX_FLOW_DEPTH 64

/* libyaml's scanner spends time in proportion to the flow depth on every
 * token (its simple-key stack), so a file of nested '[' is quadratic before
 * any document exists. Its tokens are read first, and the scan stops at the
 * first collection deeper than NP_CONFIG_MAX_FLOW_DEPTH: a pre-scan of the
 * bytes would have to tell quoted, block and plain scalars and comments
 * apart exactly as libyaml does, so libyaml's own scanner does it. A scanner
 * error is left for the loader to report. */
static bool flow_depth_ok(struct cfg_parse *p, const char *data, size_t len)
{
	yaml_parser_t sc;
	yaml_token_t tok;
	int depth = 0;
	bool ok = true, done = false;

	yaml_parser_initialize(&sc);
	yaml_parser_set_input_string(&sc, (const unsigned char *)data, len);
	while (!done && yaml_parser_scan(&sc, &tok)) {
		switch (tok.type) {
		case YAML_FLOW_SEQUENCE_START_TOKEN:
		case YAML_FLOW_MAPPING_START_TOKEN:
			if (++depth > NP_CONFIG_MAX_FLOW_DEPTH) {
				p->n_errors++;
				np_buf_printf(&p->errors,
					      "%s:%zu:%zu: error: flow collections ('[' and "
					      "'{') nested deeper than %d; refusing the file",
					      p->file, tok.start_mark.line + 1,
					      tok.start_mark.column + 1, NP_CONFIG_MAX_FLOW_DEPTH);
				ok = false;
				done = true;
			}
			break;
		case YAML_FLOW_SEQUENCE_END_TOKEN:
		case YAML_FLOW_MAPPING_END_TOKEN:
			depth--;
			break;
		case YAML_STREAM_END_TOKEN:
			done = true;
			break;
		default:
			break;
		}
		yaml_token_delete(&tok);
	}
	yaml_parser_delete(&sc);
	return ok;
}

/* A second document would be dropped without a word (and the instances in
 * it planned for destruction): refuse it, pointing at its start. An empty
 * one (a lone trailing '---') holds nothing to lose. */
static void one_document_only(struct cfg_parse *p, yaml_parser_t *parser)
{
	yaml_document_t more;
	yaml_node_t *r;

	if (!yaml_parser_load(parser, &more)) {
		p->n_errors++;
		np_buf_printf(&p->errors,
			      "%s:%zu:%zu: error: malformed YAML after the first "
			      "document: %s",
			      p->file, parser->problem_mark.line + 1,
			      parser->problem_mark.column + 1,
			      parser->problem ? parser->problem : "cannot parse");
		return;
	}
	r = yaml_document_get_root_node(&more);
	if (r && !(r->type == YAML_SCALAR_NODE && !r->data.scalar.length &&
		   r->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)) {
		p->n_errors++;
		np_buf_printf(&p->errors,
			      "%s%s:%zu:%zu: error: a second YAML document ('---'): "
			      "nestplan reads one document per file; remove the '---' or "
			      "move what follows it into the first document",
			      p->errors.len ? "\n" : "", p->file, more.start_mark.line + 1,
			      more.start_mark.column + 1);
	}
	yaml_document_delete(&more);
}

/* libyaml's own error, for validate's list: a position, no node. */
static void note_yaml_error(struct cfg_parse *p, const yaml_parser_t *parser)
{
	struct np_config_diags *d = p->diags;
	struct np_config_diag *x;

	NP_ALLOC_GROW(d->v, d->n + 1, d->alloc);
	x = &d->v[d->n++];
	memset(x, 0, sizeof(*x));
	x->message = np_xasprintf(
	    "malformed YAML: %s%s%s", parser->problem ? parser->problem : "cannot parse",
	    parser->context ? " " : "", parser->context ? parser->context : "");
	x->has_span = true;
	x->span.start = np_cfg_pos(p, &parser->problem_mark);
	x->span.end = x->span.start;
}

static int parse(struct np_config **out, const char *name, const char *data, size_t len,
		 struct np_config_diags *diags, struct np_err *err)
{
	const char *keys[MAX_KEYS];
	struct np_config *cfg = np_xcalloc(1, sizeof(*cfg));
	struct cfg_parse p = { .file = name, .data = data, .len = len, .cfg = cfg, .diags = diags };
	struct top_ctx t = { .cfg = cfg };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct np_desired def;
	bool have_doc = false, have_def = false;
	char *hash;

	*out = NULL;
	memset(&def, 0, sizeof(def));
	np_buf_init(&p.errors, 0);
	cfg->path = np_xstrdup(name);
	hash = sha256_hex(data, len);
	memcpy(cfg->sha256, hash, 65);
	free(hash);

	if (len > NP_CONFIG_MAX_BYTES) {
		np_cfg_errorf(&p, NULL, "file too large (%zu bytes, at most %u)", len,
			      NP_CONFIG_MAX_BYTES);
		goto done;
	}
	if (!flow_depth_ok(&p, data, len))
		goto done;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		if (diags)
			note_yaml_error(&p, &parser);
		p.n_errors++;
		np_buf_printf(&p.errors, "%s:%zu:%zu: error: malformed YAML: %s%s%s", name,
			      parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			      parser.problem ? parser.problem : "cannot parse",
			      parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		goto done;
	}
	have_doc = true;
	one_document_only(&p, &parser);
	yaml_parser_delete(&parser);
	if (p.n_errors)
		goto done;
	p.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		np_cfg_errorf(&p, NULL,
			      "the file is empty: it needs 'version: 1' and 'instances:'");
		goto done;
	}
	if (root->type != YAML_MAPPING_NODE) {
		np_cfg_errorf(&p, root,
			      "the file must be a mapping with 'version' and 'instances', "
			      "not %s",
			      kind_name(root));
		goto done;
	}
	walk_map(&p, root, "the file", top_keys, top_pair, &t);
	if (!t.version)
		np_cfg_errorf(&p, root, "'version' is missing: add 'version: 1'");
	else
		get_int(&p, t.version, "version", 1, 1, &cfg->version);
	if (t.defaults) {
		struct inst_ctx ic;

		memset(&ic, 0, sizeof(ic));
		cfg->defaults_at = cfg->n_keypos;
		walk_map(&p, t.defaults, "defaults", keys_of(keys, instance_keys, NULL),
			 instance_pair, &ic);
		cfg->n_defaults_keys = cfg->n_keypos - cfg->defaults_at;
		def = ic.d;
		have_def = true;
	}
	if (!p.exhausted && t.hosts)
		np_cfg_load_hosts(&p, t.hosts);
	if (!p.exhausted)
		load_instances(&p, &t, have_def ? &def : NULL);
	if (!p.n_errors && cfg->n_instances == 0 && !t.scaled_to_zero && t.instances)
		np_cfg_errorf(&p, t.instances, "'instances' is empty: list at least one instance");
done:
	if (have_def)
		release_desired(&def);
	if (have_doc)
		yaml_document_delete(&doc);
	free(p.char_bytes);
	if (p.n_errors) {
		if (p.n_errors > NP_CONFIG_MAX_ERRORS)
			np_buf_printf(&p.errors, "\n%s: %d more errors not shown", name,
				      p.n_errors - NP_CONFIG_MAX_ERRORS);
		np_error_cls(err, NP_ERRC_USAGE, "%s", p.errors.ptr);
		np_buf_release(&p.errors);
		/* validate checks the rules on what could be read. */
		if (diags && have_doc) {
			diags->not_shown = p.n_errors > NP_CONFIG_MAX_ERRORS
					       ? p.n_errors - NP_CONFIG_MAX_ERRORS
					       : 0;
			build_index(cfg);
			*out = cfg;
		} else {
			np_config_free(cfg);
		}
		return -1;
	}
	np_buf_release(&p.errors);
	build_index(cfg);
	*out = cfg;
	return 0;
}

int np_config_parse(struct np_config **out, const char *name, const char *data, size_t len,
		    struct np_err *err)
{
	return parse(out, name, data, len, NULL, err);
}

int np_config_check_data(struct np_config **out, const char *name, const char *data, size_t len,
			 struct np_config_diags *diags, struct np_err *err)
{
	return parse(out, name, data, len, diags, err);
}

void np_config_diags_release(struct np_config_diags *d)
{
	for (size_t i = 0; d && i < d->n; i++)
		free(d->v[i].message);
	if (d) {
		free(d->v);
		memset(d, 0, sizeof(*d));
	}
}

static int load(struct np_config **out, const char *path, struct np_config_diags *diags,
		struct np_err *err)
{
	struct np_buf b;
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc;

	*out = NULL;
	if (!f)
		return np_error_cls(err, NP_ERRC_USAGE, "%s: cannot read the configuration: %s",
				    path, strerror(errno));
	np_buf_init(&b, NP_CONFIG_MAX_BYTES);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (np_buf_add(&b, chunk, n) < 0) {
			fclose(f);
			np_buf_release(&b);
			return np_error_cls(err, NP_ERRC_USAGE,
					    "%s:1:1: error: file too large (at most %u "
					    "bytes)",
					    path, NP_CONFIG_MAX_BYTES);
		}
	}
	fclose(f);
	rc = parse(out, path, b.ptr, b.len, diags, err);
	np_buf_release(&b);
	return rc;
}

int np_config_load(struct np_config **out, const char *path, struct np_err *err)
{
	return load(out, path, NULL, err);
}

int np_config_check(struct np_config **out, const char *path, struct np_config_diags *diags,
		    struct np_err *err)
{
	return load(out, path, diags, err);
}

void np_config_free(struct np_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_instances; i++)
		release_desired(&cfg->instances[i]);
	free(cfg->instances);
	np_cfg_free_hosts(cfg);
	free(cfg->index);
	free(cfg->keypos);
	free(cfg->path);
	free(cfg->region);
	free(cfg->profile);
	free(cfg->endpoint);
	free(cfg->backend.bucket);
	free(cfg->backend.key);
	free(cfg->backend.region);
	free(cfg->backend.endpoint);
	free(cfg->backend.kms_key_id);
	np_strv_release(&cfg->texts);
	free(cfg);
}

/* ---- the readers above, for hosts.c ---- */

void np_cfg_walk_map(struct cfg_parse *p, yaml_node_t *map, const char *what,
		     const char *const *keys, np_cfg_pair_fn fn, void *ctx)
{
	walk_map(p, map, what, keys, fn, ctx);
}

bool *np_cfg_find_duplicates(struct cfg_parse *p, yaml_node_t *map, const char *what)
{
	return find_duplicates(p, map, what);
}

yaml_node_t *np_cfg_node(struct cfg_parse *p, int index) { return node(p, index); }

char *np_cfg_get_string(struct cfg_parse *p, const yaml_node_t *n, const char *key, size_t max)
{
	return get_string(p, n, key, max);
}

bool np_cfg_get_int(struct cfg_parse *p, const yaml_node_t *n, const char *key, long lo, long hi,
		    int *out)
{
	return get_int(p, n, key, lo, hi, out);
}

bool np_cfg_get_bool(struct cfg_parse *p, const yaml_node_t *n, const char *key, bool *out)
{
	return get_bool(p, n, key, out);
}

/* As the instance attributes of the same name check them (their entries). */
static bool attr_accepts(const char *name, const char *value)
{
	char *why = np_attr_find(name)->check(value);
	bool ok = !why;

	free(why);
	return ok;
}

bool np_cfg_valid_type(const char *t) { return attr_accepts("instance_type", t); }

bool np_cfg_valid_zone(const char *az) { return attr_accepts("placement.availability_zone", az); }

void np_cfg_tags(struct cfg_parse *p, yaml_node_t *v, struct np_tags *tags, bool *set)
{
	struct np_instance w;

	memset(&w, 0, sizeof(w));
	tags_into(p, v, &w);
	np_tags_release(tags);
	*tags = w.tags;
	*set = w.tags_set;
}

void np_cfg_note_key(struct cfg_parse *p, const char *parent, const char *name, yaml_node_t *k,
		     yaml_node_t *v)
{
	note_key(p, parent, name, k, v);
}
