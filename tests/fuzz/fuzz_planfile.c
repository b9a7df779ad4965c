/* libFuzzer target: the saved-plan loader. The bytes are written to a plan
 * file and loaded with np_planfile_load (which reads it with
 * np_plan_from_json_full), then shown as `show PLANFILE` shows a plan (text
 * and JSON) and turned back into the JSON a save would write. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "nestplan/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[300];

static void remove_plan(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct np_err err = NP_ERR_INIT;
	struct np_render_opts ro = { .color = true };
	struct np_plan plan;

	if (!path[0])
		np_fuzz_path(path, sizeof(path), "plan.json", remove_plan);
	if (!null && !(null = fopen("/dev/null", "w")))
		abort();
	np_fuzz_write(path, data, size);
	if (np_planfile_load(&plan, path, &err) == 0) {
		json_t *j = np_render_plan_json(&plan);

		free(json_dumps(j, JSON_COMPACT));
		json_decref(j);
		np_render_plan_text(null, &plan, &ro);
		j = np_plan_to_json_full(&plan);
		free(json_dumps(j, JSON_COMPACT));
		json_decref(j);
	}
	np_plan_release(&plan);
	remove_plan();
	return 0;
}
