/* The loaders that read files get the fuzz input as a file in a private
 * directory (on tmpfs when there is one: every run writes one), removed at
 * exit. Static functions: each target is one translation unit. */
#ifndef NESTPLAN_FUZZ_FILE_H
#define NESTPLAN_FUZZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char np_fuzz_dir[256];
static void (*np_fuzz_cleanup)(void);

static void np_fuzz_remove_dir(void)
{
	if (np_fuzz_cleanup)
		np_fuzz_cleanup();
	rmdir(np_fuzz_dir);
}

/* out = DIR/name, the directory made on the first call; cleanup (may be
 * NULL) removes what the target leaves in it. Aborts when there is no
 * place to write: the run would test nothing. */
static void np_fuzz_path(char *out, size_t size, const char *name, void (*cleanup)(void))
{
	if (!np_fuzz_dir[0]) {
		const char *base = getenv("NP_FUZZ_TMPDIR");

		if (!base && access("/dev/shm", W_OK) == 0)
			base = "/dev/shm";
		if (!base)
			base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(np_fuzz_dir, sizeof(np_fuzz_dir), "%s/np-fuzz-XXXXXX", base);
		if (!mkdtemp(np_fuzz_dir))
			abort();
		np_fuzz_cleanup = cleanup;
		atexit(np_fuzz_remove_dir);
	}
	snprintf(out, size, "%s/%s", np_fuzz_dir, name);
}

/* Write data to path (created 0600, truncated); aborts on failure. */
static void np_fuzz_write(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t off = 0;

	if (fd < 0)
		abort();
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	if (close(fd) < 0)
		abort();
}

#endif
