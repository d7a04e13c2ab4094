/*
 * libFuzzer target: the JOSE parsers an attacker reaches before any
 * signature holds (lib/auth/jwt.c, jwk.c) and the claim rules after it
 * (lib/auth/oidc_claims.c).
 * Input: one control byte, then the data.
 *   bit 0 clear: a compact JWT. Parsed; its issuer peeked when refused;
 *     when parsed, verified against a fixed JWK Set (RSA, P-256, Ed25519)
 *     and run through the claim rules of a fixed issuer.
 *   bit 0 set: a JWK Set document; each key kept is checked against every
 *     algorithm.
 * Properties: no crash, no leak, no sanitizer report; a parsed token has a
 * signing input that is a prefix of the input; a key kept has a public key;
 * nothing verifies under a key that does not fit its algorithm.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/jwt.h"
#include "tenantgate/log.h"
#include "tenantgate/oidc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* keys rsa1, ec1 and ed1 of test/unit/data/jwt/jwks.json, inline so that the
 * fuzzer needs no file */
static const char fixed_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"EC\",\"kid\":\"ec1\",\"crv\":\"P-256\","
    "\"x\":\"f9Om3OuwnaCjEGn5wFCEPD_HRX07lCF1e2cXEkU2gzo\","
    "\"y\":\"bgg3QA-RHSe2YLyPhZskUse_ePJkaIgMXtfkw6Rg2pc\"},"
    "{\"kty\":\"OKP\",\"kid\":\"ed1\",\"crv\":\"Ed25519\","
    "\"x\":\"0ZI6M5qHH0ywdyi_HvAEKIt9kTOTgY-l95pYEgXv3zA\"},"
    "{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"e\":\"AQAB\",\"n\":\""
    "yQSzhO7bH4CoupW_7yA10gdJ0em6nt6IbUk-BhoNqufUSf7CgI8u_DGfKW_z9u65ibIeMebO6yofCMcNWLMEwiEmeW"
    "oHm5Ts7CYL1DLS2rqhq2Ico7r3fbZdNUYceG_Ye9bmAavldXi5xVqKwUEX7wwIY5DxOMybxaqtQGsFFRsK17dLkRpQ"
    "5yTxZ0d6gmzdw8cNXqDzTUZsOQ6WlYFO_FHER6pk2NqgsQE0m2nyIU1OzKVboY4tLQx_h3F_AqBCTDclNHMAo_Yl-f"
    "PB-qWP24FvXl7-uXs1I4kZLXwL5_Vl-mIVmMGK6XWFLWbhkcUgUCXFc64O0MdxNUMGhxv_aQ"
    "\"}]}";

static struct tg_jwks keys;
static struct tg_oidc_issuer issuer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char *algs[] = {"RS256", "ES256", "EdDSA"};
    static char *req_names[] = {"hd"}, *req_values[] = {"example.com"};
    char err[256];

    tg_log_set_level(TG_LOG_ERROR);
    if (tg_jwks_parse(fixed_jwks, sizeof(fixed_jwks) - 1, &keys, NULL, err, sizeof(err)) != 0 ||
        keys.n != 3)
        abort();
    issuer.url = "https://idp.example";
    issuer.client_id = "tenantgate";
    issuer.username_claim = "email";
    issuer.username_prefix = "oidc:";
    issuer.groups_claim = "groups";
    issuer.groups_prefix = "oidc:";
    issuer.sign_algs = algs;
    issuer.n_sign_algs = 3;
    issuer.required_claims = req_names;
    issuer.required_values = req_values;
    issuer.n_required_claims = 1;
    return 0;
}

static void one_token(tg_arena_t *a, tg_iovec_t token)
{
    struct tg_jwt j;
    struct tg_user u;
    const char *why;
    tg_iovec_t iss;
    int64_t exp, from;

    if (tg_jwt_parse(a, token, &j, &why) != 0) {
        if (why == NULL)
            abort();
        (void)tg_jwt_peek_issuer(a, token, &iss);
        return;
    }
    if (j.signing_input.base != token.base || j.signing_input.len >= token.len ||
        !YAJL_IS_OBJECT(j.claims))
        abort();
    for (size_t i = 0; i < keys.n; i++)
        if (tg_jws_verify(&j, &keys.keys[i]) && !tg_jwk_fits(&keys.keys[i], j.alg))
            abort();
    (void)tg_oidc_check_times(&issuer, &j, 1700000000, 10, &exp, &from, a);
    if (tg_oidc_map_identity(&issuer, &j, a, &u) == NULL &&
        (u.n_groups == 0 || !tg_iov_has_prefix(u.name, TG_IOV_LIT("oidc:"))))
        abort();
    tg_jwt_free(&j);
}

static void one_jwks(const uint8_t *data, size_t size)
{
    struct tg_jwks s;
    size_t skipped;
    char err[256];

    if (tg_jwks_parse((const char *)data, size, &s, &skipped, err, sizeof(err)) != 0) {
        if (s.n != 0 || err[0] == '\0')
            abort();
        return;
    }
    for (size_t i = 0; i < s.n; i++) {
        if (s.keys[i].pkey == NULL)
            abort();
        for (int alg = 0; alg < TG_JWS_ALG_COUNT; alg++)
            (void)tg_jwk_fits(&s.keys[i], (enum tg_jws_alg)alg);
    }
    tg_jwks_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tg_arena_t a;

    if (size < 1)
        return 0;
    if (data[0] & 1) {
        one_jwks(data + 1, size - 1);
        return 0;
    }
    tg_arena_init(&a, NULL, 0);
    one_token(&a, tg_iov((const char *)data + 1, size - 1));
    tg_arena_destroy(&a);
    return 0;
}
