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
};

/* Report one error at a node; keeps going. */
void np_cfg_errorf(struct cfg_parse *p, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
