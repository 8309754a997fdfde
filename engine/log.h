/* log.h: leveled log lines to stderr, one line per call, with a UTC timestamp.
 * No dependencies. Used by every daemon. */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_level;

void log_set_level_name(const char *name);   /* "error", "warn", "info", "debug" */
void log_line(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_line(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_line(LOG_WARN, __VA_ARGS__)
#define log_info(...)  do { if (log_level >= LOG_INFO) log_line(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_level >= LOG_DEBUG) log_line(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
