#ifndef NESTPLAN_CONFIG_INTERNAL_H
#define NESTPLAN_CONFIG_INTERNAL_H

#include <yaml.h>

#include "nestplan/buf.h"
#include "nestplan/config.h"

/* Walking budget: aliases may share nodes, but a document whose aliases
 * would expand beyond this many node visits is refused (billion laughs). */
#define NP_CONFIG_MAX_VISITS 2000000

struct cfg_parse {
	const char *file;
	yaml_document_t *doc;
	struct np_buf errors;
	int n_errors;
	long visits;
	bool exhausted;
	/* Positions: the bytes parsed, where each 64th character starts (libyaml
	 * counts characters, Terraform's ranges bytes), the config whose keys are
	 * recorded, and validate's list of errors (NULL: not wanted). */
	const char *data;
	size_t len;
	size_t *char_bytes;
	size_t n_char_bytes;
	struct np_config *cfg;
	struct np_config_diags *diags;
};

/* Report one error at a node; keeps going. */
void np_cfg_errorf(struct cfg_parse *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A libyaml mark as a position in the file. */
struct np_pos np_cfg_pos(struct cfg_parse *p, const yaml_mark_t *m);

/* The readers of load.c, for hosts.c (Dedicated Hosts, issue 18). */
typedef void (*np_cfg_pair_fn)(struct cfg_parse *p, const char *key, yaml_node_t *k, yaml_node_t *v,
			       void *ctx);
void np_cfg_walk_map(struct cfg_parse *p, yaml_node_t *map, const char *what,
		     const char *const *keys, np_cfg_pair_fn fn, void *ctx);
bool *np_cfg_find_duplicates(struct cfg_parse *p, yaml_node_t *map, const char *what);
yaml_node_t *np_cfg_node(struct cfg_parse *p, int index);
char *np_cfg_get_string(struct cfg_parse *p, const yaml_node_t *n, const char *key, size_t max);
bool np_cfg_get_int(struct cfg_parse *p, const yaml_node_t *n, const char *key, long lo, long hi,
		    int *out);
bool np_cfg_get_bool(struct cfg_parse *p, const yaml_node_t *n, const char *key, bool *out);
bool np_cfg_valid_type(const char *t);
bool np_cfg_valid_zone(const char *az);
void np_cfg_tags(struct cfg_parse *p, yaml_node_t *v, struct np_tags *tags, bool *set);
void np_cfg_note_key(struct cfg_parse *p, const char *parent, const char *name, yaml_node_t *k,
		     yaml_node_t *v);

/* src/config/hosts.c: the hosts: block, read before instances: so that
 * placement.host and the names can be checked against it. */
void np_cfg_load_hosts(struct cfg_parse *p, yaml_node_t *map);
/* placement.host = v: a group under hosts: or one host's address. */
void np_cfg_placement_host(struct cfg_parse *p, yaml_node_t *v, struct np_instance *w);
/* An instance entry's name must not be a name under hosts:. */
void np_cfg_check_instance_name(struct cfg_parse *p, yaml_node_t *k, const char *name);
/* After defaults are merged: placement.host implies tenancy host, refuses
 * another tenancy and host_id. at: where to point. */
void np_cfg_check_placement(struct cfg_parse *p, struct np_instance *w, yaml_node_t *at);
void np_cfg_free_hosts(struct np_config *cfg);

#endif
