/*
 * Diagnostic logging to stderr, one line per event, level-filtered. The level
 * is part of the loaded configuration (set once at start-up and on reload);
 * it is the only mutable global besides the config itself. The access log is
 * separate (see accesslog.h) and always JSON.
 */
#ifndef TENANTGATE_LOG_H
#define TENANTGATE_LOG_H

enum tg_log_level { TG_LOG_ERROR = 0, TG_LOG_WARN, TG_LOG_INFO, TG_LOG_DEBUG };

void tg_log_set_level(enum tg_log_level level);
enum tg_log_level tg_log_get_level(void);
/* Map klog's -v verbosity (0..10) onto our levels: 0-1 info, >=4 debug. */
enum tg_log_level tg_log_level_from_klog(int v);
void tg_log(enum tg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tg_err(...)   tg_log(TG_LOG_ERROR, __VA_ARGS__)
#define tg_warn(...)  tg_log(TG_LOG_WARN, __VA_ARGS__)
#define tg_info(...)  tg_log(TG_LOG_INFO, __VA_ARGS__)
#define tg_debug(...) tg_log(TG_LOG_DEBUG, __VA_ARGS__)

#endif
