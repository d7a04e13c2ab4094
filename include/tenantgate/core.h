/*
 * What every module of tenantgate uses: the one out-of-memory path and the
 * invariant checks that stay in release builds.
 *
 * Out of memory is fatal (as in h2o): a proxy that cannot allocate a few KiB
 * cannot answer either, and every input that could make it allocate much is
 * bounded before. The wrappers never return NULL.
 *
 * TG_CHECK is for invariants of our own code (Varnish's AN/AZ spirit), never
 * for bad input: bad input gets an error answer. A broken invariant means the
 * process can no longer be trusted to keep tenants apart, so it aborts with
 * where it happened, in every build (unlike assert()).
 */
#ifndef TENANTGATE_CORE_H
#define TENANTGATE_CORE_H

#include <stddef.h>

/* Print "tenantgate: out of memory (<n> bytes)" and abort. */
void tg_oom(size_t n) __attribute__((noreturn));
/* Print where an invariant broke and abort. */
void tg_invariant_failed(const char *file, int line, const char *expr) __attribute__((noreturn));

#define TG_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0))                                                          \
            tg_invariant_failed(__FILE__, __LINE__, #cond);                                        \
    } while (0)

/* Allocation that never fails (the caller owns the result, free() it). A
 * size of 0 allocates 1 byte, so the result is never NULL, except that
 * tg_strdup(NULL) is NULL. tg_strndup copies exactly n bytes and adds a NUL. */
void *tg_malloc(size_t n);
void *tg_calloc(size_t count, size_t size);
void *tg_realloc(void *p, size_t n);
char *tg_strdup(const char *s);
char *tg_strndup(const char *s, size_t n);
char *tg_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A pointer another library allocated (OpenSSL, libevent): NULL is out of
 * memory. Returns p. */
#define TG_NOTNULL(p) ((__typeof__(p))tg_notnull_((p), #p))
void *tg_notnull_(const void *p, const char *what);

/* Read a whole file into a NUL-terminated heap buffer the caller frees: 0,
 * or -1 with "<path>: <reason>" in err and errno set (EFBIG: over `max` bytes). */
#define TG_FILE_MAX (64u << 20) /* config, tokens, CA bundles, keys */
int tg_read_file(const char *path, size_t max, char **data, size_t *len, char *err, size_t errlen);

#endif
