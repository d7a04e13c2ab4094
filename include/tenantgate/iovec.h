/*
 * Pointer + length strings (after h2o_iovec_t). A tg_iovec_t never owns its
 * bytes: they live in an arena, the loaded config or the caller's buffer, and
 * the holder of the iovec must not outlive them. Not NUL-terminated unless the
 * producer says so.
 */
#ifndef TENANTGATE_IOVEC_H
#define TENANTGATE_IOVEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct tg_iovec {
    const char *base;
    size_t len;
} tg_iovec_t;

#define TG_IOV_LIT(s) ((tg_iovec_t){(s), sizeof(s) - 1})
#define TG_IOV_NULL   ((tg_iovec_t){NULL, 0})
/* printf("%.*s", TG_IOV_FMT(v)) */
#define TG_IOV_FMT(v) (int)(v).len, (v).base

static inline tg_iovec_t tg_iov(const char *base, size_t len)
{
    return (tg_iovec_t){base, len};
}

static inline tg_iovec_t tg_iov_str(const char *s)
{
    return (tg_iovec_t){s, s ? strlen(s) : 0};
}

static inline int tg_iov_eq(tg_iovec_t a, tg_iovec_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

static inline int tg_iov_eq_str(tg_iovec_t a, const char *s)
{
    return tg_iov_eq(a, tg_iov_str(s));
}

static inline int tg_iov_has_prefix(tg_iovec_t a, tg_iovec_t prefix)
{
    return a.len >= prefix.len && memcmp(a.base, prefix.base, prefix.len) == 0;
}

/* FNV-1a hash of the bytes (for hash tables keyed by a string). */
static inline uint64_t tg_iov_hash(tg_iovec_t s)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;
    for (i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.base[i]) * 1099511628211ULL;
    return h;
}

/* Value of a hex digit (either case), -1 for anything else (any int,
 * e.g. a decoded rune). */
static inline int tg_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
