/* libFuzzer target: the state opener. The bytes are written to a state file
 * and opened as `show` and `apply` open it: read-only first, then for
 * writing (which migrates an older schema); each time the resources, the
 * pending journal, the history and the catalog cache are read and shown. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nestplan/render.h"
#include "nestplan/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], path[300];
static const char *const sides[] = {"", "-wal", "-shm", "-journal"};

static void remove_files(void)
{
	char p[320];

	for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sides[i]);
		unlink(p);
	}
}

static void remove_dir(void)
{
	remove_files();
	rmdir(dir);
}

/* A private directory, on tmpfs when there is one: each run writes a file. */
static int setup(void)
{
	const char *base = getenv("NP_FUZZ_TMPDIR");

	if (!base && access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	if (!base)
		base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof(dir), "%s/np-fuzz-state-XXXXXX", base);
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/nestplan.db", dir);
	atexit(remove_dir);
	return 0;
}

static int write_file(const char *p, const uint8_t *data, size_t size)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

static void read_all(struct np_state *st, FILE *null)
{
	struct np_err err = NP_ERR_INIT;
	struct np_render_opts ro = {.color = false};
	struct np_instance *res = NULL;
	struct np_journal_entry *jv = NULL;
	struct np_history_entry *hv = NULL;
	struct np_catalog cat = NP_CATALOG_INIT;
	size_t n = 0;

	if (np_state_list(st, &res, &n, &err) == 0) {
		json_t *j = np_render_state_json(np_state_lineage(st), np_state_serial(st), res, n);

		json_dumpf(j, null, JSON_INDENT(2));
		json_decref(j);
		np_render_state_text(null, res, n, &ro);
		np_instances_free(res, n);
	}
	if (np_state_journal_pending(st, &jv, &n, &err) == 0)
		np_journal_entries_free(jv, n);
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
	static const unsigned modes[] = {NP_STATE_READONLY, 0};
	struct np_err err = NP_ERR_INIT;

	if (!dir[0] && setup() < 0)
		abort();
	if (!null && !(null = fopen("/dev/null", "w")))
		abort();
	if (write_file(path, data, size) < 0)
		abort();
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
