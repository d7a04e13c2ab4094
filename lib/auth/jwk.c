/*
 * JWK Sets (RFC 7517) into OpenSSL public keys, through EVP_PKEY_fromdata
 * (OpenSSL 3: no deprecated RSA/EC_KEY setters). One bad key never spoils
 * the set: it is skipped with a reason, the others are kept, so a provider
 * that also publishes encryption keys or a curve we lack still works.
 */
#include "tenantgate/core.h"
#include "tenantgate/jwt.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/http.h"
#include "tenantgate/jsonutil.h"

/* A base64url member decoded into `a`; NULL on absence or bad encoding. */
static const char *bytes_member(tg_arena_t *a, yajl_val key, const char *name, tg_iovec_t *out)
{
    yajl_val v = tg_json_member(key, name);
    if (!YAJL_IS_STRING(v) || tg_base64url_decode(a, tg_iov_str(tg_json_str(v)), out) < 0 ||
        out->len == 0)
        return "missing or bad base64url member";
    return NULL;
}

static EVP_PKEY *from_params(const char *type, const OSSL_PARAM *params)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static const char *rsa_key(tg_arena_t *a, yajl_val key, EVP_PKEY **out)
{
    tg_iovec_t n, e;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    const char *why = NULL;
    int bits;

    if (bytes_member(a, key, "n", &n) || bytes_member(a, key, "e", &e))
        return "RSA key without a valid \"n\" and \"e\"";
    if (n.len > TG_JWK_MAX_RSA_BITS / 8 + 1 || e.len > 8)
        return "RSA key too large";
    bn = BN_bin2bn((const unsigned char *)n.base, (int)n.len, NULL);
    be = BN_bin2bn((const unsigned char *)e.base, (int)e.len, NULL);
    if (bn == NULL || be == NULL || !BN_is_odd(be) || BN_is_one(be)) {
        why = "RSA key with a bad exponent";
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (*out = from_params("RSA", params)) == NULL) {
        why = "RSA key rejected by OpenSSL";
        goto out;
    }
    bits = EVP_PKEY_get_bits(*out);
    if (bits < TG_JWK_MIN_RSA_BITS || bits > TG_JWK_MAX_RSA_BITS) {
        why = "RSA modulus outside 2048..16384 bits";
        EVP_PKEY_free(*out);
        *out = NULL;
    }
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return why;
}

static const struct curve {
    const char *crv;   /* JWK "crv" */
    const char *group; /* OpenSSL group name */
    size_t len;        /* bytes of x and y */
    enum tg_jwk_type type;
} curves[] = {
    {"P-256", "prime256v1", 32, TG_JWK_EC_P256},
    {"P-384", "secp384r1", 48, TG_JWK_EC_P384},
    {"P-521", "secp521r1", 66, TG_JWK_EC_P521},
};

/* A decoded point must be on its curve: OpenSSL's public check says so. */
static int point_ok(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static const char *ec_key(tg_arena_t *a, yajl_val key, const char *crv, EVP_PKEY **out,
                          enum tg_jwk_type *type)
{
    const struct curve *c = NULL;
    tg_iovec_t x, y;
    unsigned char pub[1 + 2 * 66];
    OSSL_PARAM params[3];
    size_t i;

    for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
        if (crv && strcmp(crv, curves[i].crv) == 0)
            c = &curves[i];
    if (c == NULL)
        return "EC key on an unsupported curve";
    /* RFC 7518 6.2.1.2: x and y are exactly the coordinate size */
    if (bytes_member(a, key, "x", &x) || bytes_member(a, key, "y", &y) || x.len != c->len ||
        y.len != c->len)
        return "EC key without full-length \"x\" and \"y\"";
    pub[0] = 0x04; /* uncompressed point */
    memcpy(pub + 1, x.base, c->len);
    memcpy(pub + 1 + c->len, y.base, c->len);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)c->group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * c->len);
    params[2] = OSSL_PARAM_construct_end();
    if ((*out = from_params("EC", params)) == NULL || !point_ok(*out)) {
        EVP_PKEY_free(*out);
        *out = NULL;
        return "EC point not on its curve";
    }
    *type = c->type;
    return NULL;
}

static const char *okp_key(tg_arena_t *a, yajl_val key, const char *crv, EVP_PKEY **out,
                           enum tg_jwk_type *type)
{
    int ed448 = crv && strcmp(crv, "Ed448") == 0;
    size_t want = ed448 ? 57 : 32;
    tg_iovec_t x;

    if (!ed448 && !(crv && strcmp(crv, "Ed25519") == 0))
        return "OKP key on an unsupported curve";
    if (bytes_member(a, key, "x", &x) || x.len != want)
        return "OKP key without a full-length \"x\"";
    *out = EVP_PKEY_new_raw_public_key_ex(NULL, ed448 ? "ED448" : "ED25519", NULL,
                                          (const unsigned char *)x.base, x.len);
    if (*out == NULL)
        return "OKP key rejected by OpenSSL";
    *type = ed448 ? TG_JWK_ED448 : TG_JWK_ED25519;
    return NULL;
}

static int has_verify_op(yajl_val ops)
{
    size_t i;
    for (i = 0; YAJL_IS_ARRAY(ops) && i < YAJL_GET_ARRAY(ops)->len; i++) {
        yajl_val v = YAJL_GET_ARRAY(ops)->values[i];
        if (tg_json_str(v) && strcmp(tg_json_str(v), "verify") == 0)
            return 1;
    }
    return 0;
}

/* What the key says about its use, before we build it. */
static const char *usable(yajl_val key, struct tg_jwk *k)
{
    yajl_val use = tg_json_member(key, "use"), ops = tg_json_member(key, "key_ops"),
             alg = tg_json_member(key, "alg");
    yajl_val kid = tg_json_member(key, "kid");

    if (use != NULL && !(tg_json_str(use) && strcmp(tg_json_str(use), "sig") == 0))
        return "key not for signatures (\"use\")";
    if (ops != NULL && !has_verify_op(ops))
        return "key not for verification (\"key_ops\")";
    if (alg != NULL) {
        if (!YAJL_IS_STRING(alg) ||
            (k->alg = tg_jws_alg_from_name(tg_iov_str(tg_json_str(alg)))) == 0)
            return "key for an algorithm we never accept (\"alg\")";
    }
    if (kid != NULL && !YAJL_IS_STRING(kid))
        return "\"kid\" is not a string";
    return NULL;
}

static const char *one_key(yajl_val key, struct tg_jwk *k)
{
    yajl_val kty = tg_json_member(key, "kty"), crv = tg_json_member(key, "crv");
    const char *t = tg_json_str(kty);
    const char *c = tg_json_str(crv);
    const char *why;
    tg_arena_t a;

    memset(k, 0, sizeof(*k));
    if (!YAJL_IS_OBJECT(key))
        return "not an object";
    if ((why = usable(key, k)) != NULL)
        return why;
    if (t == NULL)
        return "no \"kty\"";
    tg_arena_init(&a, NULL, 0);
    if (strcmp(t, "RSA") == 0) {
        k->type = TG_JWK_RSA;
        why = rsa_key(&a, key, &k->pkey);
    } else if (strcmp(t, "EC") == 0) {
        why = ec_key(&a, key, c, &k->pkey, &k->type);
    } else if (strcmp(t, "OKP") == 0) {
        why = okp_key(&a, key, c, &k->pkey, &k->type);
    } else {
        why = strcmp(t, "oct") == 0 ? "symmetric key (never used)" : "unsupported \"kty\"";
    }
    tg_arena_destroy(&a);
    ERR_clear_error();
    if (why == NULL && tg_json_str(tg_json_member(key, "kid")) != NULL) {
        k->kid = tg_strdup(tg_json_str(tg_json_member(key, "kid")));
    }
    return why;
}

int tg_jwks_parse(const char *json, size_t len, struct tg_jwks *out, size_t *skipped, char *err,
                  size_t errlen)
{
    char *text = tg_malloc(len + 1);
    yajl_val root, keys;
    size_t i, n, dummy;

    memset(out, 0, sizeof(*out));
    if (skipped == NULL)
        skipped = &dummy;
    *skipped = 0;
    err[0] = '\0';
    memcpy(text, json, len);
    text[len] = '\0';
    root = memchr(json, '\0', len) ? NULL : yajl_tree_parse(text, NULL, 0);
    free(text);
    keys = tg_json_member(root, "keys");
    if (!YAJL_IS_ARRAY(keys)) {
        snprintf(err, errlen, "not a JWK Set: want an object with a \"keys\" array");
        yajl_tree_free(root);
        return -1;
    }
    n = YAJL_GET_ARRAY(keys)->len;
    out->keys = tg_calloc(n < TG_JWKS_MAX_KEYS ? n + 1 : TG_JWKS_MAX_KEYS, sizeof(*out->keys));
    for (i = 0; i < n; i++) {
        const char *why = out->n < TG_JWKS_MAX_KEYS
                              ? one_key(YAJL_GET_ARRAY(keys)->values[i], &out->keys[out->n])
                              : "more keys than we keep";
        if (why == NULL) {
            out->n++;
            continue;
        }
        if ((*skipped)++ == 0)
            snprintf(err, errlen, "key %zu skipped: %s", i, why);
    }
    yajl_tree_free(root);
    return 0;
}

void tg_jwks_free(struct tg_jwks *s)
{
    size_t i;
    for (i = 0; i < s->n; i++) {
        EVP_PKEY_free(s->keys[i].pkey);
        free(s->keys[i].kid);
    }
    free(s->keys);
    memset(s, 0, sizeof(*s));
}
