/* Saved plans: JSON, created 0600, read back strictly and with a size cap. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nestplan/render.h"

#define PLANFILE_MAX (64u * 1024 * 1024)

int np_planfile_save(const struct np_plan *plan, const char *path, struct np_err *err)
{
	json_t *j = np_plan_to_json_full(plan);
	char tmp[4096];
	int fd, rc = -1;
	FILE *f;

	json_object_set_new(j, "nestplan_plan", json_true());
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		np_error(err, "cannot write plan '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	fchmod(fd, 0600);
	f = fdopen(fd, "w");
	if (!f || json_dumpf(j, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER) < 0 || fflush(f) ||
	    fsync(fileno(f))) {
		np_error(err, "cannot write plan '%s': %s", path, strerror(errno));
		if (f)
			fclose(f);
		else
			close(fd);
		unlink(tmp);
		goto cleanup;
	}
	fclose(f);
	/* Rename: a reader never sees half a plan. */
	if (rename(tmp, path) < 0) {
		np_error(err, "cannot write plan '%s': %s", path, strerror(errno));
		unlink(tmp);
		goto cleanup;
	}
	rc = 0;
cleanup:
	json_decref(j);
	return rc;
}

int np_planfile_load(struct np_plan *out, const char *path, struct np_err *err)
{
	struct stat sb;
	json_error_t je;
	json_t *j = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (stat(path, &sb) < 0)
		return np_error(err, "cannot read plan '%s': %s", path, strerror(errno));
	if (sb.st_size > (off_t)PLANFILE_MAX)
		return np_error(err, "plan '%s' is too large to be a nestplan plan", path);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return np_error(err, "'%s' is not a nestplan plan: %s (line %d)", path, je.text,
				je.line);
	if (!json_is_object(j) || !json_is_true(json_object_get(j, "nestplan_plan"))) {
		np_error(err, "'%s' is not a nestplan plan", path);
		goto cleanup;
	}
	if (np_plan_from_json_full(out, j, err) < 0) {
		np_error_prefix(err, "plan '%s'", path);
		goto cleanup;
	}
	rc = 0;
cleanup:
	json_decref(j);
	return rc;
}
