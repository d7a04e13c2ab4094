/*
 * Static authentication and authorization: the token file, service-account
 * names, resourceAttributes templating and kube-rbac-proxy's static
 * authorizer (with user.groups honoured). See include/tenantgate/auth.h.
 */
#include "tenantgate/auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tenantgate/core.h"
#include "tenantgate/sb.h"

#define VALUE_TEMPLATE      "{{ .Value }}" /* the canonical spelling config loading leaves */
#define AUTHENTICATED_GROUP "system:authenticated"
#define SA_PREFIX           "system:serviceaccount:"

/*
 * Every entry is compared, and the comparison is of SHA-256 digests in
 * constant time (digest_eq): the time taken depends neither on where a candidate first
 * differs from a real token nor on which entry matched, and the digest hides
 * the token length too.
 */
/* EVP_Digest(..., EVP_sha256(), ...) fetches the algorithm and allocates a
 * context on every call (OpenSSL 3): fetch once, reuse one context. The
 * proxy is single-threaded, as is everything that calls this. */
struct tg_sha256 {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

struct tg_sha256 *tg_sha256_new(void)
{
    struct tg_sha256 *h = tg_calloc(1, sizeof(*h));

    h->md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (h->md == NULL || h->ctx == NULL) {
        tg_sha256_free(h);
        return NULL;
    }
    return h;
}

void tg_sha256_free(struct tg_sha256 *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    free(h);
}

int tg_auth_sha256(struct tg_sha256 *h, tg_iovec_t in, unsigned char out[32])
{
    unsigned int n = 0;

    if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 ||
        EVP_DigestUpdate(h->ctx, in.base, in.len) != 1 ||
        EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != 32)
        return -1;
    return 0;
}

const struct tg_static_token *tg_auth_token_lookup(struct tg_sha256 *h, const struct tg_config *cfg,
                                                   tg_iovec_t token)
{
    unsigned char digest[32];
    const struct tg_static_token *t;

    if (cfg->n_tokens == 0 || token.len == 0)
        return NULL;
    if (tg_auth_sha256(h, token, digest) != 0)
        return NULL;
    t = tg_auth_token_lookup_digest(cfg, digest);
    OPENSSL_cleanse(digest, sizeof(digest));
    return t;
}

/* 1 if the 32-byte digests are equal, else 0, in the same time either way:
 * the words are OR-ed together with no early exit (what CRYPTO_memcmp does,
 * inline and a word at a time instead of a byte at a time). */
static uintptr_t digest_eq(const uint64_t want[4], const unsigned char have[32])
{
    uint64_t w[4], d;

    memcpy(w, have, sizeof(w));
    d = (want[0] ^ w[0]) | (want[1] ^ w[1]) | (want[2] ^ w[2]) | (want[3] ^ w[3]);
    /* d == 0 -> 1, else 0, without a branch: (d | -d) has the top bit set iff d != 0 */
    return (uintptr_t)(1 ^ ((d | (0 - d)) >> 63));
}

const struct tg_static_token *tg_auth_token_lookup_digest(const struct tg_config *cfg,
                                                          const unsigned char digest[32])
{
    uint64_t want[4];
    uintptr_t hit = 0;
    size_t i;

    memcpy(want, digest, sizeof(want));
    for (i = 0; i < cfg->n_tokens; i++) {
        uintptr_t mask = (uintptr_t)0 - digest_eq(want, cfg->tokens[i].token_sha256);
        hit = (hit & ~mask) | ((uintptr_t)&cfg->tokens[i] & mask);
    }
    return (const struct tg_static_token *)hit;
}

/* kube-apiserver adds system:authenticated to every authenticated user; the
 * token file authenticator is no exception, and SARs must see the same. */
void tg_auth_user_from_token(struct tg_user *u, const struct tg_static_token *t, tg_arena_t *a)
{
    size_t i, n = 0;
    int has_authenticated = 0;

    memset(u, 0, sizeof(*u));
    u->name = tg_iov_str(t->user);
    u->uid = tg_iov_str(t->uid);
    u->provider = "token-file";
    for (i = 0; i < t->n_groups; i++)
        has_authenticated |= strcmp(t->groups[i], AUTHENTICATED_GROUP) == 0;
    u->groups = tg_arena_alloc(a, (t->n_groups + 1) * sizeof(*u->groups));
    for (i = 0; i < t->n_groups; i++)
        u->groups[n++] = tg_iov_str(t->groups[i]);
    if (!has_authenticated)
        u->groups[n++] = TG_IOV_LIT(AUTHENTICATED_GROUP);
    u->n_groups = n;
}

/* Kubernetes' serviceaccount.SplitUsername: exactly "<ns>:<name>" after the
 * prefix, both non-empty. */
int tg_auth_sa_namespace(const struct tg_user *user, tg_iovec_t *ns)
{
    tg_iovec_t rest;
    const char *colon;

    if (!tg_iov_has_prefix(user->name, TG_IOV_LIT(SA_PREFIX)))
        return 0;
    rest = tg_iov(user->name.base + sizeof(SA_PREFIX) - 1, user->name.len - sizeof(SA_PREFIX) + 1);
    colon = rest.len ? memchr(rest.base, ':', rest.len) : NULL;
    if (colon == NULL || colon == rest.base)
        return 0;
    if (colon + 1 == rest.base + rest.len ||
        memchr(colon + 1, ':', (size_t)(rest.base + rest.len - colon - 1)))
        return 0;
    *ns = tg_iov(rest.base, (size_t)(colon - rest.base));
    return 1;
}

/* One attribute: the config string itself when it has no template, else a
 * copy in the arena with every {{ .Value }} replaced. */
static tg_iovec_t expand(tg_arena_t *a, const char *tmpl, tg_iovec_t value)
{
    const char *p, *hit;
    tg_sb_t sb;

    if (tmpl == NULL)
        return TG_IOV_LIT("");
    if (strcmp(tmpl, VALUE_TEMPLATE) == 0) /* namespace: "{{ .Value }}", every request */
        return value;
    if (strstr(tmpl, VALUE_TEMPLATE) == NULL)
        return tg_iov_str(tmpl);
    tg_sb_init(&sb, a, strlen(tmpl) + value.len);
    for (p = tmpl; (hit = strstr(p, VALUE_TEMPLATE)) != NULL;
         p = hit + sizeof(VALUE_TEMPLATE) - 1) {
        tg_sb_add(&sb, p, (size_t)(hit - p));
        tg_sb_addiov(&sb, value);
    }
    tg_sb_adds(&sb, p);
    return tg_sb_iov(&sb);
}

void tg_auth_attrs_for_value(tg_arena_t *a, const struct tg_config *cfg, tg_iovec_t verb,
                             tg_iovec_t path, tg_iovec_t value, struct tg_authz_attrs *out)
{
    tg_auth_attrs_expand(a, cfg->has_resource_attributes ? &cfg->resource_attributes : NULL, verb,
                         path, value, out);
}

void tg_auth_attrs_expand(tg_arena_t *a, const struct tg_resource_attributes *r, tg_iovec_t verb,
                          tg_iovec_t path, tg_iovec_t value, struct tg_authz_attrs *out)
{
    tg_iovec_t empty = TG_IOV_LIT("");

    out->verb = verb;
    if (r == NULL) {
        /* kube-rbac-proxy without resourceAttributes: a non-resource request
         * on the path */
        out->namespace_ = out->api_group = out->api_version = empty;
        out->resource = out->subresource = out->name = empty;
        out->path = path;
        out->resource_request = 0;
        return;
    }
    out->namespace_ = expand(a, r->namespace_, value);
    out->api_group = expand(a, r->api_group, value);
    out->api_version = expand(a, r->api_version, value);
    out->resource = expand(a, r->resource, value);
    out->subresource = expand(a, r->subresource, value);
    out->name = expand(a, r->name, value);
    out->path = empty;
    out->resource_request = 1;
}

/* An unset rule field matches anything (kube-rbac-proxy's isAllowed). */
static int field_ok(const char *rule, tg_iovec_t v)
{
    return rule == NULL || tg_iov_eq_str(v, rule);
}

static int groups_ok(const struct tg_static_rule *r, const struct tg_user *u)
{
    size_t i, j;
    if (r->n_user_groups == 0)
        return 1;
    for (i = 0; i < r->n_user_groups; i++)
        for (j = 0; j < u->n_groups; j++)
            if (tg_iov_eq_str(u->groups[j], r->user_groups[i]))
                return 1;
    return 0;
}

static int rule_matches(const struct tg_static_rule *r, const struct tg_user *u,
                        const struct tg_authz_attrs *at)
{
    return field_ok(r->user_name, u->name) && groups_ok(r, u) && field_ok(r->verb, at->verb) &&
           field_ok(r->namespace_, at->namespace_) && field_ok(r->api_group, at->api_group) &&
           field_ok(r->resource, at->resource) && field_ok(r->subresource, at->subresource) &&
           field_ok(r->name, at->name) && field_ok(r->path, at->path) &&
           !r->resource_request == !at->resource_request;
}

enum tg_authz_decision tg_auth_static_decide(const struct tg_config *cfg,
                                             const struct tg_user *user,
                                             const struct tg_authz_attrs *attrs)
{
    size_t i;
    for (i = 0; i < cfg->n_static_rules; i++)
        if (rule_matches(&cfg->static_rules[i], user, attrs))
            return TG_AUTHZ_ALLOW;
    return TG_AUTHZ_NO_OPINION;
}
