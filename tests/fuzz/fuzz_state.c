/* libFuzzer target: the state opener. The bytes are written to a state file
 * and opened as `show` and `apply` open it: read-only first, then for
 * writing (which migrates an older schema); each time the resources, the
 * pending journal, the history and the catalog cache are read and shown. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "nestplan/render.h"
#include "nestplan/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[300];

/* The state and the side files SQLite makes next to it. */
static void remove_files(void)
{
	static const char *const sides[] = { "", "-wal", "-shm", "-journal" };
	char p[320];

	for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sides[i]);
		unlink(p);
	}
}

static void read_all(struct np_state *st, FILE *null)
{
	struct np_err err = NP_ERR_INIT;
	struct np_render_opts ro = { .color = false };
	struct np_instance *res = NULL;
	struct np_journal_entry *jv = NULL;
	struct np_history_entry *hv = NULL;
	struct np_catalog cat = NP_CATALOG_INIT;
	size_t n = 0;

	if (np_state_list(st, &res, &n, &err) == 0) {
		json_t *j = np_render_state_json(np_state_lineage(st), np_state_serial(st),
						 np_state_region(st), np_state_account(st), res, n);

		json_dumpf(j, null, JSON_INDENT(2));
		json_decref(j);
		np_render_state_text(null, res, n, &ro);
		np_instances_free(res, n);
	}
	if (np_state_journal_pending(st, &jv, &n, &err) == 0) {
		/* apply resumes from these and compares both without checking. */
		for (size_t i = 0; i < n; i++)
			if (!jv[i].address || !jv[i].step)
				abort();
		np_journal_entries_free(jv, n);
	}
	if (np_state_history_list(st, &hv, &n, &err) == 0) {
		np_render_history(null, hv, n, false);
		np_render_history(null, hv, n, true);
		np_history_entries_free(hv, n);
	}
	/* now = 0, ttl = -1: every cached row counts as fresh. */
	np_state_catalog_load(st, &cat, 0, -1, &err);
	np_catalog_release(&cat);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	static const unsigned modes[] = { NP_STATE_READONLY, 0 };
	struct np_err err = NP_ERR_INIT;

	if (!path[0])
		np_fuzz_path(path, sizeof(path), "nestplan.db", remove_files);
	if (!null && !(null = fopen("/dev/null", "w")))
		abort();
	np_fuzz_write(path, data, size);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct np_state *st = NULL;

		if (np_state_open(&st, path, modes[i], &err) < 0)
			continue;
		read_all(st, null);
		np_state_close(st);
	}
	remove_files();
	return 0;
}
