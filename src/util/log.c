#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nestplan/clock.h"
#include "nestplan/log.h"

static enum np_log_level level = NP_LOG_WARN;
static FILE *out;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const names[] = { "off", "error", "warn", "info", "debug", "trace" };

void np_log_init(void)
{
	const char *lv = getenv("NESTPLAN_LOG");
	const char *file = getenv("NESTPLAN_LOG_FILE");

	if (lv && *lv) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcasecmp(lv, names[i]))
				level = (enum np_log_level)i;
	}
	pthread_mutex_lock(&lock);
	if (file && *file && !out) {
		out = fopen(file, "a");
		if (out)
			setvbuf(out, NULL, _IOLBF, 0);
	}
	pthread_mutex_unlock(&lock);
}

void np_log_set_level(enum np_log_level l) { level = l; }

int np_log_enabled(enum np_log_level l) { return l != NP_LOG_OFF && l <= level; }

void np_log(enum np_log_level l, const char *fmt, ...)
{
	char line[8192];
	double now = np_wall_now();
	time_t secs = (time_t)now;
	struct tm tm;
	va_list ap;
	int n;

	if (!np_log_enabled(l))
		return;
	gmtime_r(&secs, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ [%s] ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (int)((now - (double)secs) * 1000), names[l]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&lock);
	fprintf(out ? out : stderr, "%s\n", line);
	pthread_mutex_unlock(&lock);
}
