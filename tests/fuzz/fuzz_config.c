/* libFuzzer target: the config loader (np_config_parse) on any bytes, then
 * what `validate` does: np_config_check_data (every error with its span, and
 * the configuration as far as it could be read), the index, the spans of the
 * keys, and the nested-virtualization checks against the built-in catalog. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "nestplan/config.h"
#include "nestplan/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct np_catalog cat = NP_CATALOG_INIT;
	static int have_cat;
	struct np_config *cfg = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_plan plan;

	if (!have_cat) {
		np_catalog_builtin(&cat);
		have_cat = 1;
	}
	struct np_config_diags diags = NP_CONFIG_DIAGS_INIT;
	int ok = np_config_parse(&cfg, "fuzz.yaml", (const char *)data, size, &err);

	np_config_free(cfg);
	cfg = NULL;
	/* validate's path fails exactly when the plain one does. */
	if ((np_config_check_data(&cfg, "fuzz.yaml", (const char *)data, size, &diags, &err) < 0) !=
	    (ok < 0))
		abort();
	/* Every span lies within the bytes, in order. */
	for (size_t i = 0; i < diags.n; i++)
		if (diags.v[i].has_span && (diags.v[i].span.start.byte > diags.v[i].span.end.byte ||
					    diags.v[i].span.end.byte > size))
			abort();
	np_config_diags_release(&diags);
	if (!cfg)
		return 0;
	for (size_t i = 0; i < cfg->n_keypos; i++)
		if (cfg->keypos[i].span.start.byte > cfg->keypos[i].span.end.byte ||
		    cfg->keypos[i].span.end.byte > size)
			abort();
	/* Every address the file expands to is found again through the index. */
	for (size_t i = 0; i < cfg->n_instances; i++)
		if (np_config_find(cfg, cfg->instances[i].want.address) != &cfg->instances[i])
			abort();
	if (np_plan_check_config(&plan, cfg, &cat, &err) == 0)
		np_plan_release(&plan);
	np_config_free(cfg);
	return 0;
}
