/*
 * Safe string builder (after Varnish's vsb). Bytes live in an arena when one
 * is given, else on the heap (then tg_sb_free() releases them). Appends never
 * fail: growth comes from the arena/heap, which abort on exhaustion. The
 * buffer is always NUL-terminated after base[len], so tg_sb_cstr() is free.
 */
#ifndef TENANTGATE_SB_H
#define TENANTGATE_SB_H

#include <stddef.h>
#include "tenantgate/arena.h"
#include "tenantgate/iovec.h"

typedef struct tg_sb {
    char *base;
    size_t len;
    size_t cap;        /* bytes usable for content, excluding the NUL */
    tg_arena_t *arena; /* NULL: heap */
} tg_sb_t;

void tg_sb_init(tg_sb_t *sb, tg_arena_t *arena, size_t initial_cap);
void tg_sb_free(tg_sb_t *sb); /* heap builders only; no-op for arena ones */
void tg_sb_reserve(tg_sb_t *sb, size_t extra);
void tg_sb_add(tg_sb_t *sb, const void *p, size_t n);
void tg_sb_addc(tg_sb_t *sb, char c);
void tg_sb_adds(tg_sb_t *sb, const char *s);
void tg_sb_addiov(tg_sb_t *sb, tg_iovec_t v);
void tg_sb_printf(tg_sb_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append `v` as the inside of a JSON string (no surrounding quotes). */
void tg_sb_add_json_escaped(tg_sb_t *sb, tg_iovec_t v);
/* Append `v` encoded for a URL query/form component (space as +; see sb.c). */
void tg_sb_add_urlencoded(tg_sb_t *sb, tg_iovec_t v);
/* Append n in decimal, zero-padded to at least `width` digits. */
void tg_sb_add_u64(tg_sb_t *sb, unsigned long long n, unsigned width);
void tg_sb_clear(tg_sb_t *sb);

static inline tg_iovec_t tg_sb_iov(const tg_sb_t *sb)
{
    return tg_iov(sb->base, sb->len);
}

static inline const char *tg_sb_cstr(const tg_sb_t *sb)
{
    return sb->base ? sb->base : "";
}

#endif
