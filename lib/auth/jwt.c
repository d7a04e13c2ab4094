/*
 * JWS compact serialization: split, decode, parse, verify. See
 * include/tenantgate/jwt.h for what is accepted and who owns what.
 */
#include "tenantgate/jwt.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <string.h>

#include "tenantgate/http.h"
#include "tenantgate/jsonutil.h"

enum family { F_NONE, F_RSA, F_PSS, F_EC, F_EDDSA };

static const struct alg_def {
    const char *name;
    enum family family;
    const char *md;       /* OpenSSL digest name; NULL for EdDSA */
    enum tg_jwk_type key; /* the key type (and curve) it needs; 0 = any EdDSA curve */
    size_t coord;         /* ECDSA: bytes of r and of s */
} algs[TG_JWS_ALG_COUNT] = {
    [TG_JWS_RS256] = {"RS256", F_RSA, "SHA256", TG_JWK_RSA, 0},
    [TG_JWS_RS384] = {"RS384", F_RSA, "SHA384", TG_JWK_RSA, 0},
    [TG_JWS_RS512] = {"RS512", F_RSA, "SHA512", TG_JWK_RSA, 0},
    [TG_JWS_PS256] = {"PS256", F_PSS, "SHA256", TG_JWK_RSA, 0},
    [TG_JWS_PS384] = {"PS384", F_PSS, "SHA384", TG_JWK_RSA, 0},
    [TG_JWS_PS512] = {"PS512", F_PSS, "SHA512", TG_JWK_RSA, 0},
    [TG_JWS_ES256] = {"ES256", F_EC, "SHA256", TG_JWK_EC_P256, 32},
    [TG_JWS_ES384] = {"ES384", F_EC, "SHA384", TG_JWK_EC_P384, 48},
    [TG_JWS_ES512] = {"ES512", F_EC, "SHA512", TG_JWK_EC_P521, 66},
    [TG_JWS_EDDSA] = {"EdDSA", F_EDDSA, NULL, 0, 0},
};

enum tg_jws_alg tg_jws_alg_from_name(tg_iovec_t name)
{
    for (int i = 1; i < TG_JWS_ALG_COUNT; i++)
        if (tg_iov_eq_str(name, algs[i].name))
            return (enum tg_jws_alg)i;
    return TG_JWS_UNSUPPORTED;
}

const char *tg_jws_alg_name(enum tg_jws_alg alg)
{
    return alg > 0 && alg < TG_JWS_ALG_COUNT ? algs[alg].name : "?";
}

/* ---- parsing ---- */

/* A JSON object without duplicate members; anything else is NULL. */
static yajl_val parse_object(tg_iovec_t json, size_t max_members)
{
    yajl_val v;
    size_t i, j, n;

    /* yajl reads up to the first NUL, and hands strings over NUL-terminated:
     * bytes after a NUL, or after a \u0000 in a string, would go unread */
    if (memchr(json.base, '\0', json.len) != NULL || strstr(json.base, "\\u0000") != NULL)
        return NULL;
    v = yajl_tree_parse(json.base, NULL, 0);
    if (!YAJL_IS_OBJECT(v) || YAJL_GET_OBJECT(v)->len > max_members) {
        yajl_tree_free(v);
        return NULL;
    }
    n = YAJL_GET_OBJECT(v)->len;
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (strcmp(YAJL_GET_OBJECT(v)->keys[i], YAJL_GET_OBJECT(v)->keys[j]) == 0) {
                yajl_tree_free(v);
                return NULL;
            }
    return v;
}

yajl_val tg_jwt_claim(const struct tg_jwt *j, const char *name)
{
    return tg_json_member(j->claims, name);
}

/* The header's members we act on. */
static const char *read_header(tg_arena_t *a, struct tg_jwt *out)
{
    yajl_val alg = tg_json_member(out->header, "alg"), kid = tg_json_member(out->header, "kid");

    if (!YAJL_IS_STRING(alg))
        return "header has no \"alg\" string";
    out->alg_name = tg_arena_iovdup(a, tg_iov_str(tg_json_str(alg)));
    out->alg = tg_jws_alg_from_name(out->alg_name);
    if (kid != NULL) {
        if (!YAJL_IS_STRING(kid))
            return "header \"kid\" is not a string";
        out->kid = tg_arena_iovdup(a, tg_iov_str(tg_json_str(kid)));
    }
    /* RFC 7515 4.1.11: extensions we would have to understand */
    if (tg_json_member(out->header, "crit") != NULL)
        return "header has \"crit\" extensions";
    return NULL;
}

/* The three base64url parts of a compact JWS, not decoded. */
static const char *split3(tg_iovec_t token, tg_iovec_t part[3])
{
    const char *p = token.base, *end = token.base + token.len, *dot1, *dot2;

    if (token.len > TG_JWT_MAX_BYTES)
        return "token too long";
    dot1 = memchr(p, '.', token.len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL)
        return "not a JWT: want three dot-separated parts";
    /* an empty signature is "alg": "none": parsed, so that it is refused as such */
    if (dot1 == p || dot2 == dot1 + 1)
        return "not a JWT: empty part";
    part[0] = tg_iov(p, (size_t)(dot1 - p));
    part[1] = tg_iov(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    part[2] = tg_iov(dot2 + 1, (size_t)(end - dot2 - 1));
    return NULL;
}

static const char *split_and_parse(tg_arena_t *a, tg_iovec_t token, struct tg_jwt *out)
{
    tg_iovec_t part[3], h, c;
    const char *why = split3(token, part);

    if (why != NULL)
        return why;
    if (tg_base64url_decode(a, part[0], &h) < 0 || tg_base64url_decode(a, part[1], &c) < 0 ||
        tg_base64url_decode(a, part[2], &out->signature) < 0)
        return "not a JWT: bad base64url";
    out->signing_input = tg_iov(token.base, part[1].base + part[1].len - token.base);
    if ((out->header = parse_object(h, 64)) == NULL)
        return "header is not a JSON object (or repeats a member)";
    if ((out->claims = parse_object(c, TG_JWT_MAX_CLAIMS)) == NULL)
        return "payload is not a JSON object (or repeats a member)";
    return read_header(a, out);
}

int tg_jwt_peek_issuer(tg_arena_t *a, tg_iovec_t token, tg_iovec_t *iss)
{
    tg_iovec_t part[3], c;
    yajl_val claims;
    const char *s;

    if (split3(token, part) != NULL || tg_base64url_decode(a, part[1], &c) < 0 ||
        (claims = parse_object(c, TG_JWT_MAX_CLAIMS)) == NULL)
        return -1;
    s = tg_json_str(tg_json_member(claims, "iss"));
    if (s != NULL)
        *iss = tg_arena_iovdup(a, tg_iov_str(s));
    yajl_tree_free(claims);
    return s != NULL ? 0 : -1;
}

int tg_jwt_parse(tg_arena_t *a, tg_iovec_t token, struct tg_jwt *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    *err = split_and_parse(a, token, out);
    if (*err == NULL)
        return 0;
    tg_jwt_free(out);
    return -1;
}

void tg_jwt_free(struct tg_jwt *j)
{
    yajl_tree_free(j->header);
    yajl_tree_free(j->claims);
    j->header = j->claims = NULL;
}

/* ---- verification ---- */

int tg_jwk_fits(const struct tg_jwk *k, enum tg_jws_alg alg)
{
    const struct alg_def *d;
    if (alg <= 0 || alg >= TG_JWS_ALG_COUNT || k->pkey == NULL)
        return 0;
    if (k->alg != TG_JWS_UNSUPPORTED && k->alg != alg)
        return 0;
    d = &algs[alg];
    if (d->family == F_EDDSA)
        return k->type == TG_JWK_ED25519 || k->type == TG_JWK_ED448;
    return k->type == d->key;
}

/* JOSE's ECDSA signature is r || s, each zero-padded to the curve size;
 * OpenSSL verifies the DER SEQUENCE of two INTEGERs. Returns the DER length
 * in *der (heap, OPENSSL_free) or -1. */
static int ecdsa_der(const unsigned char *sig, size_t coord, unsigned char **der)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)coord, NULL), *s = BN_bin2bn(sig + coord, (int)coord, NULL);
    int n = -1;

    *der = NULL;
    if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        n = i2d_ECDSA_SIG(es, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return n;
}

static int verify_with(const struct tg_jwt *j, const struct tg_jwk *k, const struct alg_def *d,
                       const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;

    if (ctx == NULL)
        return 0;
    if (EVP_DigestVerifyInit_ex(ctx, &pctx, d->md, NULL, NULL, k->pkey, NULL) == 1 &&
        (d->family != F_PSS ||
         (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
          /* RFC 7518 3.5: the salt is as long as the hash */
          EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1)))
        ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)j->signing_input.base,
                              j->signing_input.len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int tg_jws_verify(const struct tg_jwt *j, const struct tg_jwk *k)
{
    const struct alg_def *d;
    const unsigned char *sig = (const unsigned char *)j->signature.base;
    unsigned char *der = NULL;
    int ok, n;

    if (!tg_jwk_fits(k, j->alg))
        return 0;
    d = &algs[j->alg];
    if (d->family != F_EC) {
        ok = verify_with(j, k, d, sig, j->signature.len);
    } else {
        /* exactly 2 * coord bytes: a DER signature or a short one is malformed */
        if (j->signature.len != 2 * d->coord || (n = ecdsa_der(sig, d->coord, &der)) <= 0)
            ok = 0;
        else
            ok = verify_with(j, k, d, der, (size_t)n);
        OPENSSL_free(der);
    }
    ERR_clear_error(); /* a bad signature leaves errors on the thread's queue */
    return ok;
}
