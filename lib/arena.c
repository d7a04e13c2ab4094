/* Bump allocator in chunks; see include/tenantgate/arena.h. */
#include "tenantgate/arena.h"

#include "tenantgate/core.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ALIGN          16u
#define FIRST_CHUNK    4096u
#define MAX_CHUNK_GROW (1u << 20)

struct tg_arena_chunk {
    struct tg_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    char pad[ALIGN - (sizeof(void *) + sizeof(size_t)) % ALIGN];
};

struct tg_arena_hook {
    struct tg_arena_hook *next;
    void (*fn)(void *arg);
    void *arg;
};

static size_t align_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

void tg_arena_init(tg_arena_t *a, void *buf, size_t buflen)
{
    a->chunks = NULL;
    a->cur = a->end = a->last = NULL;
    a->chunk_size = FIRST_CHUNK;
    a->allocated = 0;
    a->buf = a->buf_end = NULL;
    a->hooks = NULL;
    if (buf != NULL && buflen > ALIGN) {
        uintptr_t p = ((uintptr_t)buf + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
        a->buf = a->cur = (char *)p;
        a->buf_end = a->end = (char *)buf + buflen;
    }
}

/* Hooks may allocate from the arena (their nodes live in it): take the list
 * first, run it until no new hook appears. */
static void run_hooks(tg_arena_t *a)
{
    while (a->hooks != NULL) {
        struct tg_arena_hook *h = a->hooks;
        a->hooks = h->next;
        h->fn(h->arg);
    }
}

void tg_arena_defer(tg_arena_t *a, void (*fn)(void *arg), void *arg)
{
    struct tg_arena_hook *h = tg_arena_alloc(a, sizeof(*h));
    h->fn = fn;
    h->arg = arg;
    h->next = a->hooks;
    a->hooks = h;
}

void tg_arena_destroy(tg_arena_t *a)
{
    struct tg_arena_chunk *c, *next;

    run_hooks(a);
    c = a->chunks;
    for (; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    a->chunks = NULL;
    a->cur = a->end = a->last = NULL;
    a->allocated = 0;
}

void tg_arena_reset(tg_arena_t *a)
{
    struct tg_arena_chunk *keep, *c, *next;

    run_hooks(a);
    keep = a->chunks;
    a->last = NULL;
    if (keep == NULL) {
        a->cur = a->buf;
        a->end = a->buf_end;
        return;
    }
    /* keep the newest chunk: it is the largest one */
    for (c = keep->next; c != NULL; c = next) {
        next = c->next;
        a->allocated -= c->size + sizeof(*c);
        free(c);
    }
    keep->next = NULL;
    a->cur = (char *)(keep + 1);
    a->end = a->cur + keep->size;
}

static void *new_chunk(tg_arena_t *a, size_t n)
{
    size_t size = a->chunk_size;
    struct tg_arena_chunk *c;

    while (size < n)
        size *= 2;
    c = tg_malloc(sizeof(*c) + size);
    c->size = size;
    c->next = a->chunks;
    a->chunks = c;
    a->allocated += sizeof(*c) + size;
    if (a->chunk_size < MAX_CHUNK_GROW)
        a->chunk_size *= 2;
    a->cur = (char *)(c + 1);
    a->end = a->cur + size;
    return a->cur;
}

void *tg_arena_alloc(tg_arena_t *a, size_t n)
{
    char *p;
    n = align_up(n ? n : 1);
    if (a->cur == NULL || (size_t)(a->end - a->cur) < n)
        new_chunk(a, n);
    p = a->cur;
    a->cur += n;
    a->last = p;
    TG_CHECK(((uintptr_t)p & (ALIGN - 1)) == 0);
    return p;
}

void *tg_arena_calloc(tg_arena_t *a, size_t n)
{
    void *p = tg_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

void *tg_arena_realloc(tg_arena_t *a, void *p, size_t oldn, size_t newn)
{
    void *q;
    if (p == NULL)
        return tg_arena_alloc(a, newn);
    if (newn <= oldn)
        return p;
    if (p == a->last && (size_t)(a->end - (char *)p) >= align_up(newn)) {
        a->cur = (char *)p + align_up(newn);
        return p;
    }
    q = tg_arena_alloc(a, newn);
    memcpy(q, p, oldn);
    return q;
}

char *tg_arena_strndup(tg_arena_t *a, const char *s, size_t len)
{
    char *p = tg_arena_alloc(a, len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

tg_iovec_t tg_arena_iovdup(tg_arena_t *a, tg_iovec_t v)
{
    return tg_iov(tg_arena_strndup(a, v.base, v.len), v.len);
}

char *tg_arena_printf(tg_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    char small[256], *p;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    TG_CHECK(n >= 0);
    p = tg_arena_alloc(a, (size_t)n + 1);
    if ((size_t)n < sizeof(small)) {
        memcpy(p, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}
