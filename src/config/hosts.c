/* The hosts: block (Dedicated Hosts, issue 18): one entry per host or group
 * of hosts, count expanded as instances are, read before instances: so that
 * placement.host and the names shared by both blocks are checked where they
 * are written. */
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "nestplan/alloc.h"

static const char *const host_keys[] = { "count",
					 "instance_family",
					 "instance_type",
					 "availability_zone",
					 "auto_placement",
					 "host_recovery",
					 "tags",
					 "lifecycle",
					 NULL };
static const char *const host_lifecycle_keys[] = { "prevent_destroy", NULL };

struct host_ctx {
	struct np_desired_host d;
	int count;
	yaml_node_t *count_node;
	bool has_kind, has_zone; /* the keys, even with a value in error */
};

static bool valid_name(const char *name)
{
	return name && *name && strlen(name) <= 64 &&
	       !name[strspn(name,
			    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")];
}

/* "m8i", "c8i-flex": what comes before the dot of a type. */
static bool valid_family(const char *f)
{
	return *f && strlen(f) <= 32 && !f[strspn(f, "abcdefghijklmnopqrstuvwxyz0123456789-")];
}

static void host_lifecycle_pair(struct cfg_parse *p, const char *key, yaml_node_t *k,
				yaml_node_t *v, void *ctx)
{
	struct host_ctx *hc = ctx;

	np_cfg_note_key(p, "lifecycle", key, k, v);
	np_cfg_get_bool(p, v, key, &hc->d.prevent_destroy);
}

static void on_off(struct cfg_parse *p, yaml_node_t *v, const char *key, enum np_bool *out)
{
	bool b;

	if (np_cfg_get_bool(p, v, key, &b))
		*out = b ? NP_BOOL_TRUE : NP_BOOL_FALSE;
}

static void host_pair(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
		      void *ctx)
{
	struct host_ctx *hc = ctx;
	struct np_host *w = &hc->d.want;
	char *s;

	np_cfg_note_key(p, NULL, key, k, v);
	hc->has_kind |= !strcmp(key, "instance_family") || !strcmp(key, "instance_type");
	hc->has_zone |= !strcmp(key, "availability_zone");
	if (!strcmp(key, "count")) {
		hc->count_node = k;
		np_cfg_get_int(p, v, key, 0, NP_CONFIG_MAX_HOSTS, &hc->count);
	} else if (!strcmp(key, "instance_family")) {
		if ((s = np_cfg_get_string(p, v, key, 32)) && !valid_family(s)) {
			np_cfg_errorf(p, v, "'instance_family' must look like m8i, not '%s'", s);
			free(s);
			s = NULL;
		}
		free(w->instance_family);
		w->instance_family = s;
	} else if (!strcmp(key, "instance_type")) {
		if ((s = np_cfg_get_string(p, v, key, 64)) && !np_cfg_valid_type(s)) {
			np_cfg_errorf(p, v, "'instance_type' must look like m8i.4xlarge, not '%s'",
				      s);
			free(s);
			s = NULL;
		}
		free(w->instance_type);
		w->instance_type = s;
	} else if (!strcmp(key, "availability_zone")) {
		if ((s = np_cfg_get_string(p, v, key, 64)) && !np_cfg_valid_zone(s)) {
			np_cfg_errorf(p, v,
				      "'availability_zone' must look like us-east-1a, not '%s'", s);
			free(s);
			s = NULL;
		}
		free(w->availability_zone);
		w->availability_zone = s;
	} else if (!strcmp(key, "auto_placement")) {
		on_off(p, v, key, &w->auto_placement);
	} else if (!strcmp(key, "host_recovery")) {
		on_off(p, v, key, &w->host_recovery);
	} else if (!strcmp(key, "tags")) {
		np_cfg_tags(p, v, &w->tags, &w->tags_set);
	} else {
		np_cfg_walk_map(p, v, "lifecycle", host_lifecycle_keys, host_lifecycle_pair, ctx);
	}
}

static void release_desired_host(struct np_desired_host *d)
{
	np_host_release(&d->want);
	free(d->name);
	memset(d, 0, sizeof(*d));
}

static void add_host(struct np_config *cfg, const struct host_ctx *hc, int index, size_t *alloc)
{
	struct np_desired_host *one;
	const char *name = hc->d.name;

	NP_ALLOC_GROW(cfg->hosts, cfg->n_hosts + 1, *alloc);
	one = &cfg->hosts[cfg->n_hosts++];
	*one = hc->d;
	np_host_copy(&one->want, &hc->d.want);
	one->name = np_xstrdup(name);
	one->index = index;
	free(one->want.address);
	one->want.address = index >= 0 ? np_xasprintf("%s[%d]", name, index) : np_xstrdup(name);
}

void np_cfg_load_hosts(struct cfg_parse *p, yaml_node_t *map)
{
	struct np_config *cfg = p->cfg;
	size_t alloc = 0;
	bool *dups;

	if (map->type == YAML_SCALAR_NODE && !map->data.scalar.length)
		return; /* "hosts:" with nothing under it */
	if (map->type != YAML_MAPPING_NODE) {
		np_cfg_errorf(p, map, "'hosts' must be a mapping, not %s",
			      map->type == YAML_SEQUENCE_NODE ? "a list" : "a scalar");
		return;
	}
	dups = np_cfg_find_duplicates(p, map, "hosts");
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = np_cfg_node(p, pair->key), *v = np_cfg_node(p, pair->value);
		const char *name;
		struct host_ctx hc;

		if (!k || !v)
			break;
		name = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : NULL;
		if (!valid_name(name)) {
			np_cfg_errorf(p, k,
				      "host names must be 1 to 64 letters, digits, '_' or '-', "
				      "not '%s'",
				      name ? name : "a collection");
			continue;
		}
		if (dups && dups[pair - map->data.mapping.pairs.start])
			continue;
		memset(&hc, 0, sizeof(hc));
		hc.d.keys_at = cfg->n_keypos;
		np_cfg_note_key(p, NULL, NULL, k, v);
		np_cfg_walk_map(p, v, name, host_keys, host_pair, &hc);
		hc.d.n_keys = cfg->n_keypos - hc.d.keys_at;
		hc.d.name = np_xstrdup(name);
		hc.d.line = (int)k->start_mark.line + 1;
		hc.d.column = (int)k->start_mark.column + 1;
		if (hc.d.want.instance_family && hc.d.want.instance_type)
			np_cfg_errorf(p, k,
				      "host '%s' takes 'instance_family' (mixed sizes) or "
				      "'instance_type' (one type), not both",
				      name);
		else if (!hc.has_kind)
			np_cfg_errorf(p, k, "host '%s' needs 'instance_family' or 'instance_type'",
				      name);
		if (!hc.has_zone)
			np_cfg_errorf(p, k, "host '%s' needs 'availability_zone'", name);
		if (cfg->n_hosts + (size_t)(hc.count > 0 ? hc.count : 1) > NP_CONFIG_MAX_HOSTS)
			np_cfg_errorf(p, hc.count_node ? hc.count_node : k,
				      "more than %d hosts in all", NP_CONFIG_MAX_HOSTS);
		else if (hc.count_node)
			for (int i = 0; i < hc.count; i++)
				add_host(cfg, &hc, i, &alloc);
		else
			add_host(cfg, &hc, -1, &alloc);
		/* A group scaled to 0 still names itself for placement.host. */
		np_strv_push(&cfg->host_groups, name);
		release_desired_host(&hc.d);
	}
	free(dups);
}

const struct np_desired_host *np_config_find_host(const struct np_config *cfg, const char *address)
{
	for (size_t i = 0; cfg && address && i < cfg->n_hosts; i++)
		if (!strcmp(cfg->hosts[i].want.address, address))
			return &cfg->hosts[i];
	return NULL;
}

static bool group_named(const struct np_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->host_groups.n; i++)
		if (!strcmp(cfg->host_groups.v[i], name))
			return true;
	return false;
}

void np_cfg_placement_host(struct cfg_parse *p, yaml_node_t *v, struct np_instance *w)
{
	char *s = np_cfg_get_string(p, v, "host", 80);

	if (!s)
		return;
	if (!group_named(p->cfg, s) && !np_config_find_host(p->cfg, s)) {
		np_cfg_errorf(p, v,
			      "'placement.host' names no host under 'hosts': '%s' is neither a "
			      "group nor a host's address",
			      s);
		free(s);
		return;
	}
	free(w->host_address);
	w->host_address = s;
}

void np_cfg_check_instance_name(struct cfg_parse *p, yaml_node_t *k, const char *name)
{
	if (group_named(p->cfg, name))
		np_cfg_errorf(p, k,
			      "'%s' is a name under both 'instances' and 'hosts'; names are "
			      "unique across both (addresses would clash)",
			      name);
}

void np_cfg_check_placement(struct cfg_parse *p, struct np_instance *w, yaml_node_t *at)
{
	if (!w->host_address)
		return;
	if (w->host_id)
		np_cfg_errorf(p, at,
			      "'placement.host' and 'placement.host_id' both name a host; keep "
			      "one");
	if (w->tenancy == NP_TENANCY_DEFAULT || w->tenancy == NP_TENANCY_DEDICATED)
		np_cfg_errorf(p, at,
			      "'placement.host' needs tenancy host, not '%s' (leave tenancy out "
			      "or set it to host)",
			      np_tenancy_name(w->tenancy));
	else
		w->tenancy = NP_TENANCY_HOST;
}

void np_cfg_free_hosts(struct np_config *cfg)
{
	for (size_t i = 0; i < cfg->n_hosts; i++)
		release_desired_host(&cfg->hosts[i]);
	free(cfg->hosts);
	cfg->hosts = NULL;
	cfg->n_hosts = 0;
	np_strv_release(&cfg->host_groups);
}
