/* libFuzzer target: the config loader (np_config_parse) on any bytes, then
 * what `validate` does with a file that loads: the index and the
 * nested-virtualization checks against the built-in catalog. */
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
	if (np_config_parse(&cfg, "fuzz.yaml", (const char *)data, size, &err) < 0)
		return 0;
	/* Every address the file expands to is found again through the index. */
	for (size_t i = 0; i < cfg->n_instances; i++)
		if (np_config_find(cfg, cfg->instances[i].want.address) != &cfg->instances[i])
			abort();
	if (np_plan_check_config(&plan, cfg, &cat, &err) == 0)
		np_plan_release(&plan);
	np_config_free(cfg);
	return 0;
}
