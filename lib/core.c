/* The one out-of-memory path and invariant failure; see include/tenantgate/core.h. */
#include "tenantgate/core.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tg_oom(size_t n)
{
    fprintf(stderr, "tenantgate: out of memory (%zu bytes)\n", n);
    abort();
}

void tg_invariant_failed(const char *file, int line, const char *expr)
{
    fprintf(stderr, "tenantgate: %s:%d: invariant failed: %s\n", file, line, expr);
    abort();
}

void *tg_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        tg_oom(n);
    return p;
}

void *tg_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        tg_oom(count * size);
    return p;
}

void *tg_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        tg_oom(n);
    return q;
}

char *tg_strdup(const char *s)
{
    return s ? tg_strndup(s, strlen(s)) : NULL;
}

char *tg_strndup(const char *s, size_t n)
{
    char *p = tg_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *tg_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        tg_oom(0);
    return s;
}

void *tg_notnull_(const void *p, const char *what)
{
    if (p == NULL) {
        fprintf(stderr, "tenantgate: out of memory (%s)\n", what);
        abort();
    }
    return (void *)(uintptr_t)p; /* TG_NOTNULL gives the caller's type back */
}

int tg_read_file(const char *path, size_t max, char **data, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int e = 0;

    if (f == NULL) {
        e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    for (;;) {
        size_t got;
        if (cap - n < 4096)
            buf = tg_realloc(buf, cap = cap ? cap * 2 : 8192);
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n > max) {
            e = EFBIG;
            break;
        }
        if (got == 0) {
            e = ferror(f) ? EIO : 0;
            break;
        }
    }
    fclose(f);
    if (e != 0) {
        snprintf(err, errlen, "%s: %s", path, e == EFBIG ? "file too large" : "read error");
        free(buf);
        errno = e;
        return -1;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}
