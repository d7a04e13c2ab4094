/*
 * OIDC issuers in the configuration: the checks both the flags and the
 * config file's oidc section go through, kube-apiserver's username prefix
 * rule, and the final list (the flags' issuer first). See config.h for
 * struct tg_oidc_issuer and config-int.h for the functions.
 */
#include "config-int.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/jwt.h"
#include "tenantgate/log.h"

int tg_oidc_check_url(const char *s, char *msg, size_t len)
{
    struct tg_url u = {0};
    int rc;

    if (strncmp(s, "https://", 8) != 0)
        return tg_cfg_err(msg, len, "\"%s\": the issuer must be an https:// URL", s);
    if (strpbrk(s, "?#") != NULL)
        return tg_cfg_err(msg, len, "\"%s\": an issuer URL has no query or fragment", s);
    rc = tg_parse_upstream_url(s, &u, msg, len);
    free(u.host);
    free(u.path);
    return rc;
}

int tg_oidc_check_sign_alg(const char *s, char *msg, size_t len)
{
    if (tg_jws_alg_from_name(tg_iov_str(s)) != TG_JWS_UNSUPPORTED)
        return 0;
    return tg_cfg_err(msg, len,
                      "\"%s\" is not an accepted signature algorithm (RS256, RS384, RS512, "
                      "PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)",
                      s);
}

int tg_oidc_add_required(struct tg_oidc_issuer *is, const char *s, char *msg, size_t len)
{
    const char *eq = strchr(s, '=');
    size_t n = is->n_required_claims;

    if (eq == NULL || eq == s)
        return tg_cfg_err(msg, len, "\"%s\": want claim=value", s);
    tg_strlist_push(&is->required_claims, &n, s, (size_t)(eq - s));
    n = is->n_required_claims; /* two parallel lists, one count */
    tg_strlist_push(&is->required_values, &n, eq + 1, strlen(eq + 1));
    is->n_required_claims = n;
    return 0;
}

static int check_ca_file(const char *path, char *msg, size_t len)
{
    X509_STORE *st = X509_STORE_new();
    int ok = st != NULL && X509_STORE_load_file(st, path) == 1;
    unsigned long e = ERR_peek_last_error();
    char buf[200] = "cannot be loaded";

    X509_STORE_free(st);
    if (!ok && e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return ok ? 0 : tg_cfg_err(msg, len, "%s: %s", path, buf);
}

/* kube-apiserver's --oidc-username-prefix: unset means none for the email
 * claim and the issuer URL + "#" for any other (two issuers' "sub" values
 * cannot collide), "-" means none. */
static char *effective_prefix(const struct tg_oidc_issuer *is)
{
    const char *p = is->username_prefix;
    char *out;

    if (p != NULL && strcmp(p, "-") == 0)
        return tg_strdup("");
    if (p != NULL && *p)
        return tg_strdup(p);
    if (strcmp(is->username_claim, "email") == 0)
        return tg_strdup("");
    out = tg_realloc(NULL, strlen(is->url) + 2);
    strcpy(out, is->url);
    strcat(out, "#");
    return out;
}

int tg_oidc_issuer_finish(struct tg_oidc_issuer *is, const char **key, char *msg, size_t len)
{
    size_t i;
    char *prefix;

    *key = "issuer";
    if (is->url == NULL)
        return tg_cfg_err(msg, len, "an issuer URL is required");
    if (tg_oidc_check_url(is->url, msg, len) < 0)
        return -1;
    *key = "clientID";
    if (is->client_id == NULL)
        return tg_cfg_err(msg, len, "the client ID (the audience tokens must carry) is required");
    *key = "usernameClaim";
    if (is->username_claim == NULL)
        return tg_cfg_err(msg, len, "the username claim must not be empty");
    *key = "signAlgs";
    for (i = 0; i < is->n_sign_algs; i++)
        if (tg_oidc_check_sign_alg(is->sign_algs[i], msg, len) < 0)
            return -1;
    if (is->n_sign_algs == 0)
        tg_strlist_push(&is->sign_algs, &is->n_sign_algs, "RS256", 5);
    *key = "caFile";
    if (is->ca_file &&
        (check_ca_file(is->ca_file, msg, len) < 0 ||
         tg_read_file(is->ca_file, TG_FILE_MAX, &is->ca_pem, &is->ca_pem_len, msg, len) < 0))
        return -1;
    prefix = effective_prefix(is);
    free(is->username_prefix);
    is->username_prefix = prefix;
    if (is->groups_prefix == NULL)
        is->groups_prefix = tg_strdup("");
    return 0;
}

void tg_oidc_issuer_free(struct tg_oidc_issuer *is)
{
    free(is->url);
    free(is->client_id);
    free(is->username_claim);
    free(is->username_prefix);
    free(is->groups_claim);
    free(is->groups_prefix);
    free(is->ca_file);
    free(is->ca_pem);
    tg_strlist_free(is->sign_algs, is->n_sign_algs);
    tg_strlist_free(is->required_claims, is->n_required_claims);
    tg_strlist_free(is->required_values, is->n_required_claims);
    memset(is, 0, sizeof(*is));
}

/* The file key a flag mirrors, for messages about the flags' issuer. */
static const char *flag_of(const char *key)
{
    static const char *const map[][2] = {
        {"issuer", "--oidc-issuer"},
        {"clientID", "--oidc-clientID"},
        {"usernameClaim", "--oidc-username-claim"},
        {"signAlgs", "--oidc-sign-alg"},
        {"caFile", "--oidc-ca-file"},
        {"requiredClaims", "oidc.requiredClaims"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i][0], key) == 0)
            return map[i][1];
    return key;
}

static char *dup_or_null(const char *s)
{
    return s ? tg_strdup(s) : NULL;
}

/* The issuer the --oidc-* flags (and the oidc section's top-level keys)
 * describe, into *is. */
static int flags_issuer(const struct tg_config *c, struct tg_oidc_issuer *is, char *err,
                        size_t errlen)
{
    char msg[300];
    const char *key = "requiredClaims";
    size_t i;

    memset(is, 0, sizeof(*is));
    is->url = tg_strdup(c->oidc_issuer);
    is->client_id = dup_or_null(c->oidc_client_id);
    is->username_claim = dup_or_null(c->oidc_username_claim);
    is->username_prefix = dup_or_null(c->oidc_username_prefix);
    is->groups_claim = dup_or_null(c->oidc_groups_claim);
    is->groups_prefix = dup_or_null(c->oidc_groups_prefix);
    is->ca_file = dup_or_null(c->oidc_ca_file);
    for (i = 0; i < c->n_oidc_sign_algs; i++)
        tg_strlist_push(&is->sign_algs, &is->n_sign_algs, c->oidc_sign_algs[i],
                        strlen(c->oidc_sign_algs[i]));
    for (i = 0; i < c->n_oidc_required_claims; i++)
        if (tg_oidc_add_required(is, c->oidc_required_claims[i], msg, sizeof(msg)) < 0)
            goto fail;
    if (tg_oidc_issuer_finish(is, &key, msg, sizeof(msg)) == 0)
        return 0;
fail:
    tg_oidc_issuer_free(is);
    return tg_cfg_err(err, errlen, "%s: %s", flag_of(key), msg);
}

int tg_oidc_build(struct tg_config *c, char *err, size_t errlen)
{
    struct tg_oidc_issuer first;
    size_t i, j;

    if (c->oidc_issuer != NULL) {
        if (flags_issuer(c, &first, err, errlen) < 0)
            return -1;
        c->oidc_issuers =
            tg_realloc(c->oidc_issuers, (c->n_oidc_issuers + 1) * sizeof(*c->oidc_issuers));
        memmove(c->oidc_issuers + 1, c->oidc_issuers, c->n_oidc_issuers * sizeof(first));
        c->oidc_issuers[0] = first;
        c->n_oidc_issuers++;
    } else if (c->oidc_client_id || c->oidc_username_prefix || c->oidc_groups_prefix ||
               c->oidc_ca_file || c->n_oidc_sign_algs || c->n_oidc_required_claims) {
        tg_warn("--oidc-* settings without --oidc-issuer (oidc.issuer) have no effect");
    }
    /* a token is routed by its "iss": one issuer, one set of rules */
    for (i = 0; i < c->n_oidc_issuers; i++)
        for (j = i + 1; j < c->n_oidc_issuers; j++)
            if (strcmp(c->oidc_issuers[i].url, c->oidc_issuers[j].url) == 0)
                return tg_cfg_err(err, errlen, "OIDC issuer %s is configured twice",
                                  c->oidc_issuers[i].url);
    if (c->oidc_clock_skew_ms > 5 * 60 * 1000)
        return tg_cfg_err(err, errlen, "oidc.clockSkew: at most 5m");
    if (c->n_oidc_issuers && (c->oidc_jwks_refresh_ms < 1000 || c->oidc_jwks_refetch_ms < 100))
        return tg_cfg_err(err, errlen,
                          "oidc.jwksRefreshInterval must be at least 1s and "
                          "oidc.jwksRefetchInterval at least 100ms");
    return 0;
}
