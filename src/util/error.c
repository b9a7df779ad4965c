#include <stdio.h>
#include <string.h>

#include "nestplan/error.h"

int np_verror(struct np_err *err, const char *fmt, va_list ap)
{
	if (!err)
		return -1;
	if (err->cls == NP_ERRC_NONE)
		err->cls = NP_ERRC_GENERIC;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return -1;
}

int np_error(struct np_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	np_verror(err, fmt, ap);
	va_end(ap);
	return -1;
}

int np_error_cls(struct np_err *err, enum np_err_class cls, const char *fmt, ...)
{
	va_list ap;

	if (err)
		err->cls = cls;
	va_start(ap, fmt);
	np_verror(err, fmt, ap);
	va_end(ap);
	return -1;
}

int np_error_prefix(struct np_err *err, const char *fmt, ...)
{
	char prefix[1024];
	char old[NP_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation is fine: the start of the message says what failed. */
	if (snprintf(err->msg, sizeof(err->msg), "%s: ", prefix) < (int)sizeof(err->msg)) {
		size_t used = strlen(err->msg);

		snprintf(err->msg + used, sizeof(err->msg) - used, "%s", old);
	}
	if (err->cls == NP_ERRC_NONE)
		err->cls = NP_ERRC_GENERIC;
	return -1;
}

void np_err_clear(struct np_err *err)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
}
