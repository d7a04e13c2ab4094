/*
 * OIDC ID tokens for people: kube-rbac-proxy's --oidc-* flags, with
 * kube-apiserver's OIDC authenticator as the reference for every rule, and
 * several issuers.
 *
 * A bearer token is ours when it is a JWT whose "iss" is a configured issuer;
 * any other token is TG_OIDC_NOT_MINE and goes to the next authenticator
 * (TokenReview). Ours is verified (algorithm in the issuer's list, "aud",
 * exp / nbf / iat with the configured leeway, signature with the issuer's
 * published key) and mapped to a user (username claim + prefix, groups claim
 * + prefix, system:authenticated) that authorization treats like any other.
 *
 * Keys: each issuer's discovery document and JWKS are fetched on the event
 * loop over verified TLS when the server starts, every
 * oidc.jwksRefreshInterval, after a failure (backoff up to 30s), and when a
 * token names a key we do not have - then at most once per
 * oidc.jwksRefetchInterval per issuer, so a flood of made-up kids costs no
 * flood of fetches. A token waiting for a fetch in flight is answered when
 * it ends. Until an issuer's keys are known its tokens get 401.
 *
 * Cache: every verdict (accepted, refused, not ours) is kept by the SHA-256
 * of the token, so a repeated token costs one hash lookup. Accepted tokens
 * until "exp" (at most cache.authnTTL), refusals for cache.unauthnTTL (a
 * "not yet valid" one no longer than until it becomes valid, an unknown key
 * only until the issuer's keys change). Bounded by cache.maxEntries; a
 * refusal never pushes out an accepted token.
 *
 * One object per server (struct tg_server owns it), on one event loop; no
 * globals. Its configuration is the one the server started with (SIGHUP does
 * not change issuers): the object holds a reference to it.
 */
#ifndef TENANTGATE_OIDC_H
#define TENANTGATE_OIDC_H

#include <stddef.h>
#include <stdint.h>

#include "tenantgate/arena.h"
#include "tenantgate/auth.h"
#include "tenantgate/config.h"
#include "tenantgate/iovec.h"
#include "tenantgate/jwt.h"

struct event_base;
struct tg_oidc;
struct tg_oidc_wait;

enum tg_oidc_result {
    TG_OIDC_NOT_MINE = 0, /* not a JWT of a configured issuer: ask the next authenticator */
    TG_OIDC_OK,           /* authenticated: the user is filled */
    TG_OIDC_REFUSED,      /* 401; the reason says why (never contains the token) */
    TG_OIDC_PENDING,      /* waits for the issuer's keys: the callback will say */
};

/* Counters for /metrics (plain sums; the server mirrors them). */
struct tg_oidc_issuer_stats {
    const char *url;      /* the issuer (points into the configuration) */
    uint64_t fetches_ok;  /* JWKS read and installed */
    uint64_t fetches_err; /* discovery or JWKS fetch, or parse, failed */
    uint64_t keys;        /* keys in use now */
};
struct tg_oidc_stats {
    uint64_t accepted;    /* tokens verified and accepted (cache hits not counted) */
    uint64_t refused;     /* tokens refused for what they are */
    uint64_t unavailable; /* refused because the issuer's key is not (yet) known */
    uint64_t cache_hits;  /* verdicts served from the cache */
    size_t n_issuers;
    const struct tg_oidc_issuer_stats *issuers;
};

/* Start authenticating for cfg->oidc_issuers on `base`: the first fetches
 * begin at once. NULL with a message when an issuer's client cannot be made
 * (unreadable CA file). Never blocks on an issuer. */
struct tg_oidc *tg_oidc_new(struct event_base *base, struct tg_config *cfg, char *err,
                            size_t errlen);
/* Cancels fetches; waiters still pending are forgotten (callbacks never run). */
void tg_oidc_free(struct tg_oidc *o);
const struct tg_oidc_stats *tg_oidc_stats(const struct tg_oidc *o);

/* `user` (strings in the arena given to tg_oidc_authenticate) is valid for
 * that arena's life; `reason` likewise. */
typedef void (*tg_oidc_cb)(void *arg, enum tg_oidc_result res, const struct tg_user *user,
                           const char *reason);

/* Authenticate `token`, whose SHA-256 the caller already has (the static
 * token lookup computed it). On OK / REFUSED / NOT_MINE the answer is in
 * *user / *reason now (arena strings) and cb never runs. On PENDING, *wait
 * is set and cb runs later from the loop, once, unless tg_oidc_wait_cancel()
 * comes first; `token` and the arena must live until then. */
enum tg_oidc_result tg_oidc_authenticate(struct tg_oidc *o, tg_iovec_t token,
                                         const unsigned char sha256[32], tg_arena_t *a,
                                         struct tg_user *user, const char **reason, tg_oidc_cb cb,
                                         void *arg, struct tg_oidc_wait **wait);
/* The callback will never run. Only valid before it ran. */
void tg_oidc_wait_cancel(struct tg_oidc_wait *w);

/* ---- the claim rules (lib/auth/oidc_claims.c): pure, for tests ---- */

/* "iss" exact, "aud" (a string or a list of strings) contains the client
 * ID, "exp" a number with now <= exp + leeway, "nbf" and "iat" numbers when
 * present with nbf <= now + leeway and iat <= now + leeway. Times in
 * seconds since the epoch. NULL when they hold, else why (arena or static);
 * *exp gets "exp", *valid_from the time a token refused only for being early
 * becomes acceptable (0 otherwise). */
const char *tg_oidc_check_times(const struct tg_oidc_issuer *is, const struct tg_jwt *j,
                                int64_t now, int64_t leeway, int64_t *exp, int64_t *valid_from,
                                tg_arena_t *a);
/* The identity, as kube-apiserver maps it: the username claim present, a
 * non-empty string (with "email", an "email_verified" claim must be true),
 * prefixed; the groups claim absent, a string or a list of strings, each
 * prefixed; every required claim a string of its value. Then
 * system:authenticated joins the groups. Refused as well: names or groups
 * with control characters, or starting with "system:" (kube's reserved
 * namespace: a token must not become a service account or system:masters).
 * NULL and *user filled (arena strings, provider "oidc"), or why. */
const char *tg_oidc_map_identity(const struct tg_oidc_issuer *is, const struct tg_jwt *j,
                                 tg_arena_t *a, struct tg_user *user);

#endif
