/*
 * Identities and authorization attributes shared by every authn/authz
 * provider (static token file, x509, TokenReview, static rules, SAR).
 *
 * Ownership: a struct tg_user and a struct tg_authz_attrs never own their
 * strings; they point into the request arena, the loaded config, or a cache
 * entry that outlives the request's use of them.
 */
#ifndef TENANTGATE_AUTH_H
#define TENANTGATE_AUTH_H

#include <stddef.h>
#include "tenantgate/arena.h"
#include "tenantgate/config.h"
#include "tenantgate/iovec.h"

struct tg_kv_list {
    tg_iovec_t key;
    tg_iovec_t *values;
    size_t n_values;
};

struct tg_user {
    tg_iovec_t name; /* e.g. system:serviceaccount:alpha:grafana */
    tg_iovec_t uid;
    tg_iovec_t *groups;
    size_t n_groups;
    struct tg_kv_list *extra; /* TokenReview's user.extra */
    size_t n_extra;
    const char *provider; /* "token-file", "x509", "tokenreview": for logs/metrics */
};

/* Kubernetes authorizer.Attributes, as in a SubjectAccessReview spec. */
struct tg_authz_attrs {
    tg_iovec_t verb;
    tg_iovec_t namespace_;
    tg_iovec_t api_group;
    tg_iovec_t api_version;
    tg_iovec_t resource;
    tg_iovec_t subresource;
    tg_iovec_t name;
    tg_iovec_t path; /* for non-resource requests */
    int resource_request;
};

enum tg_authz_decision {
    TG_AUTHZ_NO_OPINION = 0, /* static rules did not match: ask the next provider */
    TG_AUTHZ_ALLOW = 1,
    TG_AUTHZ_DENY = 2,
};

/* Static token file lookup. Every entry is compared (SHA-256 digests with
 * CRYPTO_memcmp), so timing reveals neither where a candidate differs nor
 * which entry matched. Returns the matching entry of cfg->tokens or NULL. */
struct tg_sha256;
const struct tg_static_token *tg_auth_token_lookup(struct tg_sha256 *h, const struct tg_config *cfg,
                                                   tg_iovec_t token);
/* The same with the token's SHA-256 already computed (the authn stage hashes
 * once for the token file and the OIDC verdict cache). */
const struct tg_static_token *tg_auth_token_lookup_digest(const struct tg_config *cfg,
                                                          const unsigned char digest[32]);
/* SHA-256 with the algorithm and a context fetched once (per call they were
 * ~2k instructions a request): owned by the server (srv->sha256) or a test,
 * used by one thread. tg_sha256_new() is NULL if OpenSSL has no SHA-256. */
struct tg_sha256 *tg_sha256_new(void);
void tg_sha256_free(struct tg_sha256 *h);
/* SHA-256 of `in`: 0 / -1. */
int tg_auth_sha256(struct tg_sha256 *h, tg_iovec_t in, unsigned char out[32]);

/* Fill `u` from a token entry: strings point into `t` (the config), only the
 * groups array comes from the arena. Adds "system:authenticated" to the
 * groups, as kube-apiserver does for every authenticated user. */
void tg_auth_user_from_token(struct tg_user *u, const struct tg_static_token *t, tg_arena_t *a);

/* If `user` is system:serviceaccount:<ns>:<name> (both parts non-empty, no
 * further colon), set *ns to <ns> (pointing into user->name) and return 1. */
int tg_auth_sa_namespace(const struct tg_user *user, tg_iovec_t *ns);

/* Expand cfg->resource_attributes for one tenant value ({{ .Value }}
 * replaced), with `verb`; resource_request = 1. Without resourceAttributes
 * (kube-rbac-proxy's default) the result is a non-resource request on
 * `path`. Expanded strings go in the arena; the others point into cfg or
 * the arguments. */
void tg_auth_attrs_for_value(tg_arena_t *a, const struct tg_config *cfg, tg_iovec_t verb,
                             tg_iovec_t path, tg_iovec_t value, struct tg_authz_attrs *out);
/* The same with another set of attributes (alertmanager.resourceAttributes);
 * r NULL = none: a non-resource request on `path`. */
void tg_auth_attrs_expand(tg_arena_t *a, const struct tg_resource_attributes *r, tg_iovec_t verb,
                          tg_iovec_t path, tg_iovec_t value, struct tg_authz_attrs *out);

/* kube-rbac-proxy's static authorizer, with user.groups honoured:
 * TG_AUTHZ_ALLOW when a rule matches, else TG_AUTHZ_NO_OPINION. */
enum tg_authz_decision tg_auth_static_decide(const struct tg_config *cfg,
                                             const struct tg_user *user,
                                             const struct tg_authz_attrs *attrs);

#endif
