/* The loaders that read files get the fuzz input as a private file. */
#ifndef NESTPLAN_FUZZ_FILE_H
#define NESTPLAN_FUZZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static inline int np_fuzz_file(char *path, size_t size, const char *what, const uint8_t *data,
                               size_t len)
{
	int fd;

	snprintf(path, size, "/tmp/np-fuzz-%s-%ld", what, (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

#endif
