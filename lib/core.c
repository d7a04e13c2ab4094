/* The one out-of-memory path and invariant failure; see include/tenantgate/core.h. */
#include "tenantgate/core.h"

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
    return tg_strndup(s, strlen(s));
}

char *tg_strndup(const char *s, size_t n)
{
    char *p = tg_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *tg_notnull_(void *p, const char *what)
{
    if (p == NULL) {
        fprintf(stderr, "tenantgate: out of memory (%s)\n", what);
        abort();
    }
    return p;
}
