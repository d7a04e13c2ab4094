/* stderr logging; see include/tenantgate/log.h. */
#include "tenantgate/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum tg_log_level current_level = TG_LOG_INFO;

void tg_log_set_level(enum tg_log_level level)
{
    current_level = level;
}

enum tg_log_level tg_log_get_level(void)
{
    return current_level;
}

enum tg_log_level tg_log_level_from_klog(int v)
{
    return v >= 4 ? TG_LOG_DEBUG : TG_LOG_INFO;
}

void tg_log(enum tg_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char ts[32];
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (level > current_level)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s ", ts, now.tv_nsec / 1000000, names[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
