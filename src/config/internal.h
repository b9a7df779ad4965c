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

#endif
