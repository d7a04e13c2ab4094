/*
 * Decision cache in front of TokenReview / SubjectAccessReview.
 *
 * - TokenReview results are keyed by SHA-256(token, audiences): the raw token
 *   is never stored. SAR results are keyed by SHA-256 of a canonical
 *   serialization of the whole review spec (user, uid, sorted groups, sorted
 *   extra, attributes).
 * - TTLs: authenticated 2m, unauthenticated 30s, allowed 5m, denied 30s.
 *   Errors are never cached.
 * - Bounded: LRU eviction beyond max_entries (hash table + doubly linked
 *   lists). Negative answers (unauthenticated, denied) are evicted first, so
 *   a flood of bad tokens cannot push out the answers of good ones.
 * - Concurrent identical misses coalesce: the first creates a pending entry
 *   and one backend call; later ones wait on it. Each waiter is cancellable
 *   on its own; when the call completes every remaining waiter gets the result
 *   (from the loop, in arrival order).
 * - Optional grace: when the backend fails (ERROR), an expired positive entry
 *   (authenticated / allowed) no older than TTL + grace is served instead.
 *
 * One cache per loop, created by the server; no threads, no globals.
 */
#ifndef TENANTGATE_AUTHCACHE_H
#define TENANTGATE_AUTHCACHE_H

#include <stddef.h>
#include <stdint.h>
#include "tenantgate/arena.h"
#include "tenantgate/auth.h"
#include "tenantgate/iovec.h"
#include "tenantgate/kube.h"

struct tg_authcache;
struct tg_pending;

/* What the cache asks when it misses. tg_authcache_kube_backend() adapts a
 * struct tg_kube_client; unit tests plug in a fake. Contract: start functions
 * never call `done` synchronously; they return an opaque call handle, or NULL
 * when the call could not even start (treated as TG_KUBE_ERROR). */
struct tg_authcache_backend {
    void *ctx;
    void *(*authenticate)(void *ctx, tg_iovec_t token, const char *const *audiences,
                          size_t n_audiences, tg_kube_authn_cb done, void *arg);
    void *(*authorize)(void *ctx, const struct tg_user *user, const struct tg_authz_attrs *attrs,
                       tg_kube_authz_cb done, void *arg);
    void (*cancel)(void *ctx, void *call);
};

/* Fill `be` to call the Kubernetes client `kc` (not owned). */
void tg_authcache_kube_backend(struct tg_authcache_backend *be, struct tg_kube_client *kc);

struct tg_authcache_opts {
    int authn_ttl_ms;             /* 120000 */
    int unauthn_ttl_ms;           /* 30000 */
    int allow_ttl_ms;             /* 300000 */
    int deny_ttl_ms;              /* 30000 */
    size_t max_entries;           /* 10000 ready entries (pending ones are not bounded here);
                                     0 = keep no answer (identical calls still coalesce) */
    int grace_ms;                 /* 0 = off */
    const char *const *audiences; /* requested TokenReview audiences; copied */
    size_t n_audiences;
    /* Monotonic clock in ms; NULL = CLOCK_MONOTONIC. For tests. */
    uint64_t (*now_ms)(void *clock_arg);
    void *clock_arg;
};

/* Defaults above, overridden from cfg->cache_* and cfg->auth_token_audiences
 * when cfg is not NULL (the audiences then point into cfg until
 * tg_authcache_new() copies them). */
void tg_authcache_opts_init(struct tg_authcache_opts *o, const struct tg_config *cfg);

struct tg_authcache_stats {
    uint64_t hits;
    uint64_t misses;       /* backend calls started */
    uint64_t coalesced;    /* waits that joined a pending call */
    uint64_t evictions;    /* LRU evictions (not expiries) */
    uint64_t expired;      /* entries dropped because their TTL passed */
    uint64_t grace_served; /* stale positive answers served on backend error */
    uint64_t errors;       /* backend calls that ended in TG_KUBE_ERROR */
    uint64_t cancelled;    /* waiters cancelled */
    uint64_t entries;      /* ready entries now */
    uint64_t pending;      /* backend calls in flight now */
    /* the TokenReview share of hits, misses and evictions (the rest are
     * SubjectAccessReviews), for the authn_* / authz_* metric families */
    uint64_t authn_hits;
    uint64_t authn_misses;
    uint64_t authn_evictions;
};

/* Returns NULL only on an incomplete backend. `be` is copied. */
struct tg_authcache *tg_authcache_new(const struct tg_authcache_backend *be,
                                      const struct tg_authcache_opts *opts);
/* Cancels backend calls in flight; waiters still pending are forgotten
 * (their callbacks never run). */
void tg_authcache_free(struct tg_authcache *c);
const struct tg_authcache_stats *tg_authcache_stats(const struct tg_authcache *c);
/* Drop every ready entry (e.g. on config reload or SIGHUP). */
void tg_authcache_clear(struct tg_authcache *c);

/* Results. Strings and the user live in the caller's arena `a` given to
 * the lookup, so they stay valid for the whole request whatever the cache
 * does later (eviction, clear). */
struct tg_authn_result {
    enum tg_kube_result res; /* OK = authenticated, DENIED = unauthenticated, ERROR */
    struct tg_user user;     /* valid when res == TG_KUBE_OK */
    const char *reason;      /* may be NULL */
    int from_grace;          /* 1 when a stale entry was served on backend error */
};
struct tg_authz_result {
    enum tg_kube_result res; /* OK = allowed, DENIED, ERROR */
    const char *reason;
    int from_grace;
};

typedef void (*tg_authn_cb)(void *arg, const struct tg_authn_result *r);
typedef void (*tg_authz_cb)(void *arg, const struct tg_authz_result *r);

enum tg_authcache_status {
    TG_AC_DONE = 0,    /* answered now: *out is filled, the callback will not run */
    TG_AC_PENDING = 1, /* *pending is set; cb runs later from the loop unless cancelled */
};

/* Look up / authenticate `token` (not retained). The waiter lives in `a`:
 * cancel it (tg_pending_cancel) before destroying the arena if the callback
 * has not run yet. The result pointer given to cb is valid during the
 * callback; its strings and user live in `a`. */
enum tg_authcache_status tg_authcache_authenticate(struct tg_authcache *c, tg_iovec_t token,
                                                   tg_arena_t *a, struct tg_authn_result *out,
                                                   tg_authn_cb cb, void *arg,
                                                   struct tg_pending **pending);

/* Same for one SubjectAccessReview. `user` and `attrs` are not retained.
 * Callers checking several tenant values issue one call per value. */
enum tg_authcache_status tg_authcache_authorize(struct tg_authcache *c, const struct tg_user *user,
                                                const struct tg_authz_attrs *attrs, tg_arena_t *a,
                                                struct tg_authz_result *out, tg_authz_cb cb,
                                                void *arg, struct tg_pending **pending);

/* Guarantees the callback is never called. Only valid before it ran. */
void tg_pending_cancel(struct tg_pending *p);

/* Deep copy of `src` in one heap block, returned (free() it): *dst points
 * into the block. How a cache keeps a user past the request it came from
 * (this cache's entries, the OIDC verdict cache). */
void *tg_user_flat_copy(struct tg_user *dst, const struct tg_user *src);

/* Server start-up in one call: find the API server (cfg->kubeconfig, else
 * in-cluster), create the client (opts from cfg->kube_*) and the cache
 * (cfg->cache_*, cfg->auth_token_audiences) on `base`.
 * Returns 0 with both set; 1 when Kubernetes is not configured (both NULL:
 * no kubeconfig and not in a cluster); -1 with a message in err. */
int tg_kube_auth_new(struct event_base *base, const struct tg_config *cfg,
                     struct tg_kube_client **kc, struct tg_authcache **cache, char *err,
                     size_t errlen);
/* Free both (the cache first: it cancels its calls on the client). NULLs ok. */
void tg_kube_auth_free(struct tg_kube_client *kc, struct tg_authcache *cache);

#endif
