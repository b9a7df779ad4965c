/* Logging on stderr (or NESTPLAN_LOG_FILE), level from NESTPLAN_LOG. */
#ifndef NESTPLAN_LOG_H
#define NESTPLAN_LOG_H

enum np_log_level {
	NP_LOG_OFF = 0,
	NP_LOG_ERROR,
	NP_LOG_WARN,
	NP_LOG_INFO,
	NP_LOG_DEBUG,
	NP_LOG_TRACE,
};

/* Reads NESTPLAN_LOG and NESTPLAN_LOG_FILE; safe to call more than once. */
void np_log_init(void);
void np_log_set_level(enum np_log_level level);
int np_log_enabled(enum np_log_level level);
/* Thread-safe: one call writes one whole line. Callers redact secrets first. */
void np_log(enum np_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define np_log_error(...) np_log(NP_LOG_ERROR, __VA_ARGS__)
#define np_log_warn(...)  np_log(NP_LOG_WARN, __VA_ARGS__)
#define np_log_info(...)  np_log(NP_LOG_INFO, __VA_ARGS__)
#define np_log_debug(...) np_log(NP_LOG_DEBUG, __VA_ARGS__)
#define np_log_trace(...) np_log(NP_LOG_TRACE, __VA_ARGS__)

#endif
