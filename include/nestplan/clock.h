/* The two clocks: monotonic for durations and deadlines, wall for what is
 * written down (state rows, journal, history, log lines, SigV4 dates). Code
 * whose clock a test injects (apply: struct np_clock) takes it as a
 * parameter instead. */
#ifndef NESTPLAN_CLOCK_H
#define NESTPLAN_CLOCK_H

/* Seconds on CLOCK_MONOTONIC: only differences mean anything. */
double np_monotonic_now(void);
/* Seconds since the epoch (CLOCK_REALTIME), with the fraction. */
double np_wall_now(void);

#endif
