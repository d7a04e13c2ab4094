/*
 * Per-request memory arena (after h2o's mem pool). Everything a request
 * allocates comes from its arena and is released at once by
 * tg_arena_destroy(). Allocation never fails: out of memory aborts, like h2o,
 * because a proxy that cannot allocate a few KiB cannot answer either. Input
 * size limits (query length, body size) keep one request's arena bounded.
 *
 * Ownership: the arena owns every block it returned; callers never free them.
 */
#ifndef TENANTGATE_ARENA_H
#define TENANTGATE_ARENA_H

#include <stddef.h>
#include "tenantgate/iovec.h"

struct tg_arena_chunk;
struct tg_arena_hook;

typedef struct tg_arena {
    struct tg_arena_chunk *chunks; /* newest first; last one may be the inline buffer */
    char *cur;                     /* bump pointer in chunks */
    char *end;
    size_t chunk_size;           /* size of the next chunk to allocate */
    size_t allocated;            /* bytes obtained from malloc, for metrics/limits */
    char *last;                  /* start of the most recent allocation, for realloc() */
    char *buf, *buf_end;         /* caller's first block, if any */
    struct tg_arena_hook *hooks; /* tg_arena_defer(), newest first */
} tg_arena_t;

/* Start an arena. `buf` (may be NULL) is a caller-owned first block used
 * before any malloc; it must outlive the arena. */
void tg_arena_init(tg_arena_t *a, void *buf, size_t buflen);
/* Run the deferred hooks (newest first), then release every block. The
 * arena may be initialised again afterwards. */
void tg_arena_destroy(tg_arena_t *a);
/* Call fn(arg) when the arena is destroyed or reset (like h2o's dispose
 * callbacks or nginx's pool cleanup): what a request holds outside its arena
 * (evbuffers, JSON filters, events) is registered where it is created and
 * released with the request, whichever way it ends. */
void tg_arena_defer(tg_arena_t *a, void (*fn)(void *arg), void *arg);
/* Run the deferred hooks, forget every allocation but keep the first malloc'ed chunk for reuse, so
 * a loop over many small jobs (benchmark, CLI) allocates from the heap once. */
void tg_arena_reset(tg_arena_t *a);

/* 16-byte aligned, uninitialised. */
void *tg_arena_alloc(tg_arena_t *a, size_t n);
void *tg_arena_calloc(tg_arena_t *a, size_t n);
/* Grow the most recent allocation `p` from `oldn` to `newn` bytes, in place
 * when it is the last block of the current chunk, else by copying. */
void *tg_arena_realloc(tg_arena_t *a, void *p, size_t oldn, size_t newn);
/* Copy `s` (len bytes) and add a NUL. */
char *tg_arena_strndup(tg_arena_t *a, const char *s, size_t len);
tg_iovec_t tg_arena_iovdup(tg_arena_t *a, tg_iovec_t v);
/* printf into the arena; result is NUL-terminated. */
char *tg_arena_printf(tg_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
