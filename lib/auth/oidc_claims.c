/*
 * The claim rules of an OIDC ID token, after kube-apiserver's authenticator
 * (k8s.io/apiserver/plugin/pkg/authenticator/token/oidc) and go-oidc's
 * verifier: which claims must be there, of which JSON type, and how they
 * become a user. Pure functions; see include/tenantgate/oidc.h.
 */
#include "tenantgate/oidc.h"

#include <math.h>
#include <string.h>

#include "tenantgate/jsonutil.h"

#define AUTHENTICATED_GROUP "system:authenticated"
#define RESERVED_PREFIX     "system:"

/* A JSON number as seconds (NumericDate may have a fraction). */
static int numeric(yajl_val v, double *out)
{
    if (!YAJL_IS_NUMBER(v))
        return -1;
    *out = YAJL_IS_INTEGER(v) ? (double)YAJL_GET_INTEGER(v) : YAJL_GET_DOUBLE(v);
    return isfinite(*out) ? 0 : -1;
}

/* "aud": one string or a list of strings, as go-oidc's audience type. */
static const char *check_audience(const struct tg_oidc_issuer *is, yajl_val aud)
{
    size_t i;
    int found = 0;

    if (tg_json_str(aud) != NULL)
        return strcmp(tg_json_str(aud), is->client_id) == 0 ? NULL : "wrong audience";
    if (!YAJL_IS_ARRAY(aud))
        return aud == NULL ? "no \"aud\" claim" : "\"aud\" is not a string or a list of strings";
    for (i = 0; i < YAJL_GET_ARRAY(aud)->len; i++) {
        const char *s = tg_json_str(YAJL_GET_ARRAY(aud)->values[i]);
        if (s == NULL)
            return "\"aud\" is not a string or a list of strings";
        found |= strcmp(s, is->client_id) == 0;
    }
    return found ? NULL : "wrong audience";
}

const char *tg_oidc_check_times(const struct tg_oidc_issuer *is, const struct tg_jwt *j,
                                int64_t now, int64_t leeway, int64_t *exp, int64_t *valid_from,
                                tg_arena_t *a)
{
    const char *iss = tg_json_str(tg_jwt_claim(j, "iss")), *why;
    yajl_val vexp = tg_jwt_claim(j, "exp"), vnbf = tg_jwt_claim(j, "nbf");
    yajl_val viat = tg_jwt_claim(j, "iat");
    double e, nbf, iat;

    *exp = 0;
    *valid_from = 0;
    if (iss == NULL || strcmp(iss, is->url) != 0)
        return "wrong issuer";
    if ((why = check_audience(is, tg_jwt_claim(j, "aud"))) != NULL)
        return strcmp(why, "wrong audience") == 0
                   ? tg_arena_printf(a, "wrong audience (want %s)", is->client_id)
                   : why;
    /* go-oidc refuses a token without exp: an ID token always has one */
    if (numeric(vexp, &e) < 0)
        return "no numeric \"exp\" claim";
    *exp = e > 9e15 ? (int64_t)9e15 : (int64_t)e;
    if ((double)now > e + (double)leeway)
        return "token expired";
    if (vnbf != NULL && numeric(vnbf, &nbf) < 0)
        return "\"nbf\" is not a number";
    if (vnbf != NULL && (double)(now + leeway) < nbf) {
        *valid_from = nbf > 9e15 ? (int64_t)9e15 : (int64_t)ceil(nbf) - leeway;
        return "token not valid yet (nbf)";
    }
    if (viat != NULL && numeric(viat, &iat) < 0)
        return "\"iat\" is not a number";
    if (viat != NULL && (double)(now + leeway) < iat) {
        *valid_from = iat > 9e15 ? (int64_t)9e15 : (int64_t)ceil(iat) - leeway;
        return "token issued in the future (iat)";
    }
    return NULL;
}

/* Names that end up in headers, logs and SubjectAccessReviews. */
static const char *name_ok(tg_iovec_t v, const char *what, tg_arena_t *a)
{
    size_t i;
    for (i = 0; i < v.len; i++)
        if ((unsigned char)v.base[i] < 0x20 || v.base[i] == 0x7f)
            return tg_arena_printf(a, "%s contains control characters", what);
    if (tg_iov_has_prefix(v, TG_IOV_LIT(RESERVED_PREFIX)))
        return tg_arena_printf(a, "%s is in the reserved \"system:\" namespace", what);
    return NULL;
}

static tg_iovec_t prefixed(tg_arena_t *a, const char *prefix, const char *s)
{
    return tg_iov_str(tg_arena_printf(a, "%s%s", prefix, s));
}

static const char *map_username(const struct tg_oidc_issuer *is, const struct tg_jwt *j,
                                tg_arena_t *a, struct tg_user *u)
{
    yajl_val v = tg_jwt_claim(j, is->username_claim), verified;
    const char *s = tg_json_str(v);

    if (v == NULL)
        return tg_arena_printf(a, "no \"%s\" claim (the username claim)", is->username_claim);
    if (s == NULL || *s == '\0')
        return tg_arena_printf(a, "username claim \"%s\" is not a non-empty string",
                               is->username_claim);
    if (strcmp(is->username_claim, "email") == 0 &&
        (verified = tg_jwt_claim(j, "email_verified")) != NULL) {
        if (!YAJL_IS_TRUE(verified) && !YAJL_IS_FALSE(verified))
            return "\"email_verified\" is not a boolean";
        if (YAJL_IS_FALSE(verified))
            return "email not verified";
    }
    u->name = prefixed(a, is->username_prefix, s);
    return name_ok(u->name, "user name", a);
}

/* A string, or a list of strings (kube-apiserver's stringOrArray); empty
 * names are left out. */
static const char *map_groups(const struct tg_oidc_issuer *is, const struct tg_jwt *j,
                              tg_arena_t *a, struct tg_user *u)
{
    yajl_val v = is->groups_claim ? tg_jwt_claim(j, is->groups_claim) : NULL;
    size_t i, n = YAJL_IS_ARRAY(v) ? YAJL_GET_ARRAY(v)->len : 1;
    const char *why;

    u->groups = tg_arena_alloc(a, (n + 1) * sizeof(*u->groups));
    u->n_groups = 0;
    if (v != NULL && !YAJL_IS_NULL(v)) {
        if (!YAJL_IS_ARRAY(v) && tg_json_str(v) == NULL)
            return tg_arena_printf(a, "groups claim \"%s\" is not a string or a list of strings",
                                   is->groups_claim);
        for (i = 0; i < n; i++) {
            const char *s = tg_json_str(YAJL_IS_ARRAY(v) ? YAJL_GET_ARRAY(v)->values[i] : v);
            if (s == NULL)
                return tg_arena_printf(a, "groups claim \"%s\" has a non-string member",
                                       is->groups_claim);
            if (*s == '\0')
                continue;
            u->groups[u->n_groups] = prefixed(a, is->groups_prefix, s);
            if ((why = name_ok(u->groups[u->n_groups], "a group", a)) != NULL)
                return why;
            u->n_groups++;
        }
    }
    u->groups[u->n_groups++] = TG_IOV_LIT(AUTHENTICATED_GROUP);
    return NULL;
}

static const char *check_required(const struct tg_oidc_issuer *is, const struct tg_jwt *j,
                                  tg_arena_t *a)
{
    size_t i;
    for (i = 0; i < is->n_required_claims; i++) {
        yajl_val v = tg_jwt_claim(j, is->required_claims[i]);
        const char *s = tg_json_str(v);
        if (v == NULL)
            return tg_arena_printf(a, "required claim \"%s\" missing", is->required_claims[i]);
        if (s == NULL || strcmp(s, is->required_values[i]) != 0)
            return tg_arena_printf(a, "required claim \"%s\" does not have its value",
                                   is->required_claims[i]);
    }
    return NULL;
}

const char *tg_oidc_map_identity(const struct tg_oidc_issuer *is, const struct tg_jwt *j,
                                 tg_arena_t *a, struct tg_user *user)
{
    const char *why;

    memset(user, 0, sizeof(*user));
    user->provider = "oidc";
    if ((why = map_username(is, j, a, user)) != NULL ||
        (why = map_groups(is, j, a, user)) != NULL || (why = check_required(is, j, a)) != NULL) {
        memset(user, 0, sizeof(*user));
        return why;
    }
    return NULL;
}
