/*
 * JOSE for OIDC ID tokens: the JWS compact serialization (RFC 7515) with the
 * asymmetric algorithms of RFC 7518 and RFC 8037, the JWT payload as a yajl
 * tree, and JWK Sets (RFC 7517) turned into OpenSSL public keys. No event
 * loop and no I/O: lib/auth/oidc.c fetches, caches and decides; the unit
 * tests and the fuzzer call these directly.
 *
 * What is never accepted, whatever the configuration: "alg": "none", HMAC
 * (a public key used as an HMAC secret is the RS256 -> HS256 confusion), a
 * key whose type or curve does not match "alg", a "crit" header, keys the
 * token brings itself ("jwk", "jku", "x5u", "x5c" headers are ignored).
 *
 * Ownership: a struct tg_jwt points into the token it was parsed from and
 * into the arena given to tg_jwt_parse(); its two yajl trees are heap and
 * are released by tg_jwt_free(). A struct tg_jwks owns its keys and their
 * kids (tg_jwks_free()).
 */
#ifndef TENANTGATE_JWT_H
#define TENANTGATE_JWT_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "tenantgate/arena.h"
#include "tenantgate/iovec.h"

struct evp_pkey_st;

/* The signature algorithms we can verify. 0 is every other "alg" value. */
enum tg_jws_alg {
    TG_JWS_UNSUPPORTED = 0,
    TG_JWS_RS256,
    TG_JWS_RS384,
    TG_JWS_RS512,
    TG_JWS_PS256,
    TG_JWS_PS384,
    TG_JWS_PS512,
    TG_JWS_ES256,
    TG_JWS_ES384,
    TG_JWS_ES512,
    TG_JWS_EDDSA,
    TG_JWS_ALG_COUNT
};

/* "RS256" ... "EdDSA" (exact spelling) -> the algorithm; 0 for anything
 * else ("none", "HS256", "rs256"). */
enum tg_jws_alg tg_jws_alg_from_name(tg_iovec_t name);
/* The RFC spelling of `alg` ("?" for 0). Static. */
const char *tg_jws_alg_name(enum tg_jws_alg alg);

struct tg_jwt {
    tg_iovec_t signing_input; /* "header.payload" as received: points into the token */
    tg_iovec_t signature;     /* decoded, in the arena */
    enum tg_jws_alg alg;      /* 0 when the header names an algorithm we never verify */
    tg_iovec_t alg_name;      /* the header's "alg" (arena; for messages) */
    tg_iovec_t kid;           /* the header's "kid"; base NULL when absent */
    yajl_val header;          /* heap, an object */
    yajl_val claims;          /* heap, an object */
};

/* Limits that keep one token's work bounded before any signature check. */
#define TG_JWT_MAX_BYTES  16384 /* the whole compact token */
#define TG_JWT_MAX_CLAIMS 256   /* members of the payload object */

/* Split and decode a compact JWS: exactly three strict base64url parts (the
 * last may be empty: "alg": "none", refused by the caller as such), a
 * header and a payload that are JSON objects without duplicate members
 * (two "iss" would let two parsers read two issuers), "alg" a string, "kid"
 * a string when present, no "crit". The signature is not checked here.
 * Returns 0, or -1 with *err (static text) set; nothing to free on -1. */
int tg_jwt_parse(tg_arena_t *a, tg_iovec_t token, struct tg_jwt *out, const char **err);
void tg_jwt_free(struct tg_jwt *j);
/* The "iss" string of a token tg_jwt_parse() refused, if its payload can be
 * read at all: which issuer's rules say why it is refused. Unverified, for
 * routing and messages only. 0 with *iss (arena), or -1. */
int tg_jwt_peek_issuer(tg_arena_t *a, tg_iovec_t token, tg_iovec_t *iss);
/* Member `name` of the payload, or NULL. */
yajl_val tg_jwt_claim(const struct tg_jwt *j, const char *name);

/* Key types, with the curve: what an algorithm needs is one of them. */
enum tg_jwk_type {
    TG_JWK_RSA = 1,
    TG_JWK_EC_P256,
    TG_JWK_EC_P384,
    TG_JWK_EC_P521,
    TG_JWK_ED25519,
    TG_JWK_ED448,
};

struct tg_jwk {
    char *kid; /* heap; NULL when the key has none */
    enum tg_jwk_type type;
    enum tg_jws_alg alg;      /* the key's "alg" member; 0 when absent */
    struct evp_pkey_st *pkey; /* public key (EVP_PKEY), owned */
};

struct tg_jwks {
    struct tg_jwk *keys; /* heap */
    size_t n;
};

/* At most this many keys are kept from one JWK Set. */
#define TG_JWKS_MAX_KEYS    64
#define TG_JWK_MIN_RSA_BITS 2048
#define TG_JWK_MAX_RSA_BITS 16384

/* Parse a JWK Set ({"keys": [...]}). Keys that cannot verify a signature
 * for us are skipped and counted in *skipped (may be NULL), the reason of
 * the first in `err`: symmetric ("oct") keys, "use" other than "sig",
 * "key_ops" without "verify", unknown types or curves, malformed members,
 * EC points off the curve, RSA moduli outside 2048..16384 bits. Returns 0
 * (possibly with no key), or -1 with a message in err when the document is
 * not a JWK Set; *out is empty then. */
int tg_jwks_parse(const char *json, size_t len, struct tg_jwks *out, size_t *skipped, char *err,
                  size_t errlen);
void tg_jwks_free(struct tg_jwks *s);

/* 1 if `k` may verify `alg`: the type (and curve) the algorithm needs, and
 * the key's own "alg" member, when it has one, is `alg`. */
int tg_jwk_fits(const struct tg_jwk *k, enum tg_jws_alg alg);
/* 1 if j's signature is valid under `k` for j->alg; 0 otherwise (also for a
 * key that does not fit, an algorithm we never accept, or a signature of
 * the wrong length). */
int tg_jws_verify(const struct tg_jwt *j, const struct tg_jwk *k);

#endif
