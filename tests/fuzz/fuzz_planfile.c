/* libFuzzer target: the saved-plan loader. The bytes are written to a plan
 * file and loaded with np_planfile_load, then shown as `show PLANFILE`
 * shows a plan (text and JSON). */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nestplan/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], path[300];

static void remove_dir(void)
{
	unlink(path);
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
	snprintf(dir, sizeof(dir), "%s/np-fuzz-plan-XXXXXX", base);
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/plan.json", dir);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct np_err err = NP_ERR_INIT;
	struct np_render_opts ro = {.color = true};
	struct np_plan plan;

	if (!dir[0] && setup() < 0)
		abort();
	if (!null && !(null = fopen("/dev/null", "w")))
		abort();
	if (write_file(path, data, size) < 0)
		abort();
	if (np_planfile_load(&plan, path, &err) == 0) {
		json_t *j = np_render_plan_json(&plan);
		char *s = json_dumps(j, JSON_COMPACT);

		free(s);
		json_decref(j);
		np_render_plan_text(null, &plan, &ro);
		/* What apply reads back is what a save would write again. */
		j = np_plan_to_json_full(&plan);
		json_decref(j);
	}
	np_plan_release(&plan);
	unlink(path);
	return 0;
}
