/* The two clocks (include/nestplan/clock.h). */
#include <time.h>

#include "nestplan/clock.h"

static double seconds(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double np_monotonic_now(void) { return seconds(CLOCK_MONOTONIC); }

double np_wall_now(void) { return seconds(CLOCK_REALTIME); }
