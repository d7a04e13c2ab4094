/* Unit tests for the JOSE primitives (lib/auth/jwt.c, jwk.c), base64url,
 * and the OIDC claim rules (lib/auth/oidc_claims.c). Signature vectors are
 * fixed files made once by test/unit/data/jwt/make_vectors.py. Runs in the
 * source dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "../../lib/config/config-int.h"
#include "tenantgate/http.h"
#include "tenantgate/jsonutil.h"
#include "tenantgate/jwt.h"
#include "tenantgate/oidc.h"
#include "tenantgate/sb.h"

#define DATA "test/unit/data/jwt/"

static tg_arena_t A;
static char err[512];

static int setup(void **state)
{
    tg_arena_init(&A, NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    tg_arena_destroy(&A);
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    char *data;
    assert_int_equal(tg_read_file(path, TG_FILE_MAX, &data, len, err, sizeof(err)), 0);
    return data;
}

/* ---- base64url ---- */

static void test_base64url(void **state)
{
    static const struct {
        const char *in, *out;
        size_t n;
    } ok[] = {
        {"", "", 0},           {"Zg", "f", 1},
        {"Zm8", "fo", 2},      {"Zm9v", "foo", 3},
        {"Zm9vYg", "foob", 4}, {"-_8", "\xfb\xff", 2},
        {"AA", "\0", 1},       {"_-_-", "\xff\xef\xfe", 3},
    };
    static const char *const bad[] = {"Zg==", "Zg=",   "Z",      "Zm9vY", "Zh",     "Zm9",
                                      "+/8",  "Zm 9v", "Zm9v\n", "Zm9v.", "Zg\x80", NULL};
    tg_iovec_t out;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(tg_base64url_decode(&A, tg_iov_str(ok[i].in), &out), 0);
        assert_int_equal(out.len, ok[i].n);
        assert_memory_equal(out.base, ok[i].out, ok[i].n);
        assert_int_equal(out.base[out.len], '\0');
    }
    for (size_t i = 0; bad[i]; i++)
        if (tg_base64url_decode(&A, tg_iov_str(bad[i]), &out) != -1)
            fail_msg("base64url accepted \"%s\"", bad[i]);
}

/* The LAX mode client-go's kubeconfig data needs, through the same decoder. */
static void test_base64_lax(void **state)
{
    char buf[16];
    assert_int_equal(tg_base64_decode_buf("Zm9v\nYmFy", 9, TG_BASE64_LAX, buf), 6);
    assert_memory_equal(buf, "foobar", 6);
    assert_int_equal(tg_base64_decode_buf("Zg", 2, TG_BASE64_LAX, buf), 1);
    assert_int_equal(tg_base64_decode_buf("-_8=", 4, TG_BASE64_LAX, buf), 2);
    assert_int_equal(tg_base64_decode_buf("Zg=a", 4, TG_BASE64_LAX, buf), -1);
    assert_int_equal(tg_base64_decode_buf("Z", 1, TG_BASE64_LAX, buf), -1);
    assert_int_equal(tg_base64_decode_buf("Zh==", 4, TG_BASE64_STD, buf), -1);
}

/* ---- tokens from JSON, for the parser and the claim rules ---- */

static tg_iovec_t enc_n(const char *json, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *s = (const unsigned char *)json;
    size_t i;
    tg_sb_t sb;

    tg_sb_init(&sb, &A, n * 2);
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        char q[4] = {tab[v >> 18], tab[v >> 12 & 63], tab[v >> 6 & 63], tab[v & 63]};
        tg_sb_add(&sb, q, 4);
    }
    if (n - i == 1) {
        tg_sb_addc(&sb, tab[s[i] >> 2]);
        tg_sb_addc(&sb, tab[(s[i] & 3) << 4]);
    } else if (n - i == 2) {
        unsigned v = (unsigned)s[i] << 8 | s[i + 1];
        tg_sb_addc(&sb, tab[v >> 10]);
        tg_sb_addc(&sb, tab[v >> 4 & 63]);
        tg_sb_addc(&sb, tab[(v & 15) << 2]);
    }
    return tg_sb_iov(&sb);
}

static tg_iovec_t enc(const char *json)
{
    return enc_n(json, strlen(json));
}

/* header.payload.sig from JSON texts (sig already base64url). */
static tg_iovec_t jwt(const char *header, const char *payload, const char *sig)
{
    return tg_iov_str(tg_arena_printf(&A, "%.*s.%.*s.%s", TG_IOV_FMT(enc(header)),
                                      TG_IOV_FMT(enc(payload)), sig));
}

static const char *parse_err(tg_iovec_t token)
{
    struct tg_jwt j;
    const char *why = NULL;
    if (tg_jwt_parse(&A, token, &j, &why) == 0) {
        tg_jwt_free(&j);
        return NULL;
    }
    assert_non_null(why);
    return why;
}

static void test_jwt_parse(void **state)
{
    struct tg_jwt j;
    const char *why;
    tg_iovec_t iss;
    tg_iovec_t t =
        jwt("{\"alg\":\"ES256\",\"kid\":\"k1\"}", "{\"iss\":\"https://i\",\"n\":1}", "AAAA");

    assert_int_equal(tg_jwt_parse(&A, t, &j, &why), 0);
    assert_int_equal(j.alg, TG_JWS_ES256);
    assert_true(tg_iov_eq_str(j.kid, "k1"));
    assert_int_equal(j.signature.len, 3);
    assert_int_equal(j.signing_input.len, (size_t)(strrchr(t.base, '.') - t.base));
    assert_string_equal(tg_json_str(tg_jwt_claim(&j, "iss")), "https://i");
    assert_null(tg_jwt_claim(&j, "nope"));
    tg_jwt_free(&j);

    /* alg none / HS256 parse, with an algorithm we never verify */
    assert_int_equal(tg_jwt_parse(&A, jwt("{\"alg\":\"none\"}", "{}", ""), &j, &why), 0);
    assert_int_equal(j.alg, TG_JWS_UNSUPPORTED);
    assert_null(j.kid.base);
    tg_jwt_free(&j);
    assert_int_equal(tg_jwt_parse(&A, jwt("{\"alg\":\"HS256\"}", "{}", "AAAA"), &j, &why), 0);
    assert_int_equal(j.alg, TG_JWS_UNSUPPORTED);
    tg_jwt_free(&j);

    assert_string_equal(parse_err(TG_IOV_LIT("abc")), "not a JWT: want three dot-separated parts");
    assert_string_equal(parse_err(TG_IOV_LIT("a.b")), "not a JWT: want three dot-separated parts");
    assert_string_equal(parse_err(TG_IOV_LIT("a.b.c.d")),
                        "not a JWT: want three dot-separated parts");
    assert_string_equal(parse_err(TG_IOV_LIT(".e30.AA")), "not a JWT: empty part");
    assert_string_equal(parse_err(TG_IOV_LIT("e30..AA")), "not a JWT: empty part");
    assert_string_equal(parse_err(TG_IOV_LIT("e30=.e30.AA")), "not a JWT: bad base64url");
    assert_string_equal(parse_err(jwt("[1]", "{}", "AA")),
                        "header is not a JSON object (or repeats a member)");
    assert_string_equal(
        parse_err(jwt("{\"alg\":\"RS256\"}", "{\"iss\":\"a\",\"iss\":\"b\"}", "AA")),
        "payload is not a JSON object (or repeats a member)");
    assert_string_equal(parse_err(jwt("{\"alg\":\"RS256\"}", "{} x", "AA")),
                        "payload is not a JSON object (or repeats a member)");
    assert_string_equal(parse_err(jwt("{\"kid\":\"x\"}", "{}", "AA")),
                        "header has no \"alg\" string");
    assert_string_equal(parse_err(jwt("{\"alg\":\"RS256\",\"kid\":7}", "{}", "AA")),
                        "header \"kid\" is not a string");
    assert_string_equal(parse_err(jwt("{\"alg\":\"RS256\",\"crit\":[\"b64\"]}", "{}", "AA")),
                        "header has \"crit\" extensions");
    /* a NUL inside the JSON, or in a string: yajl would stop reading there */
    assert_string_equal(parse_err(tg_iov_str(tg_arena_printf(
                            &A, "%.*s.%.*s.AA", TG_IOV_FMT(enc("{\"alg\":\"RS256\"}")),
                            TG_IOV_FMT(enc_n("{\"iss\":\"a\"}\0{}", 14))))),
                        "payload is not a JSON object (or repeats a member)");
    assert_string_equal(parse_err(jwt("{\"alg\":\"RS256\"}", "{\"email\":\"a@x\\u0000@y\"}", "AA")),
                        "payload is not a JSON object (or repeats a member)");

    /* the issuer of a refused token, for the message */
    assert_int_equal(
        tg_jwt_peek_issuer(&A, jwt("{\"crit\":1}", "{\"iss\":\"https://i\"}", "AA"), &iss), 0);
    assert_true(tg_iov_eq_str(iss, "https://i"));
    assert_int_equal(tg_jwt_peek_issuer(&A, jwt("{}", "{\"iss\":1}", "AA"), &iss), -1);
    assert_int_equal(tg_jwt_peek_issuer(&A, TG_IOV_LIT("garbage"), &iss), -1);
}

static void test_alg_names(void **state)
{
    static const char *const names[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                        "PS512", "ES256", "ES384", "ES512", "EdDSA"};
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(tg_jws_alg_from_name(tg_iov_str(names[i])), (int)i + 1);
        assert_string_equal(tg_jws_alg_name((enum tg_jws_alg)(i + 1)), names[i]);
    }
    assert_int_equal(tg_jws_alg_from_name(TG_IOV_LIT("none")), 0);
    assert_int_equal(tg_jws_alg_from_name(TG_IOV_LIT("HS256")), 0);
    assert_int_equal(tg_jws_alg_from_name(TG_IOV_LIT("rs256")), 0);
    assert_int_equal(tg_jws_alg_from_name(TG_IOV_LIT("RS256 ")), 0);
}

/* ---- JWK Sets ---- */

static struct tg_jwks keys;

static const struct tg_jwk *key(const char *kid)
{
    for (size_t i = 0; i < keys.n; i++)
        if (keys.keys[i].kid && strcmp(keys.keys[i].kid, kid) == 0)
            return &keys.keys[i];
    return NULL;
}

static int setup_keys(void **state)
{
    size_t len, skipped;
    char *data = slurp(DATA "jwks.json", &len);
    setup(state);
    assert_int_equal(tg_jwks_parse(data, len, &keys, &skipped, err, sizeof(err)), 0);
    free(data);
    assert_int_equal(skipped, 10);
    return 0;
}

static int teardown_keys(void **state)
{
    tg_jwks_free(&keys);
    return teardown(state);
}

static void test_jwks_parse(void **state)
{
    static const char *const skipped[] = {"hmac",  "small", "enc", "noverify", "offcurve",
                                          "short", "k256",  "noe", "hs",       "what"};
    assert_int_equal(keys.n, 5);
    assert_int_equal(key("rsa1")->type, TG_JWK_RSA);
    assert_int_equal(key("rsa1")->alg, TG_JWS_UNSUPPORTED);
    assert_int_equal(key("rsa1-ps")->alg, TG_JWS_PS256);
    assert_int_equal(key("ec1")->type, TG_JWK_EC_P256);
    assert_int_equal(key("ec384")->type, TG_JWK_EC_P384);
    assert_int_equal(key("ed1")->type, TG_JWK_ED25519);
    for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
        assert_null(key(skipped[i]));
}

static void test_jwks_skip_reasons(void **state)
{
    static const struct {
        const char *json, *why;
    } cases[] = {
        {"{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", "symmetric key (never used)"},
        {"{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
         "key not for signatures (\"use\")"},
        {"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
         "RSA modulus outside 2048..16384 bits"},
        {"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"Ag\"}]}",
         "RSA key with a bad exponent"},
        {"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQ\"}]}",
         "RSA key with a bad exponent"},
        {"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}",
         "EC key without full-length \"x\" and \"y\""},
        {"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AA\"}]}",
         "OKP key on an unsupported curve"},
        {"{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RSA-OAEP\"}]}",
         "key for an algorithm we never accept (\"alg\")"},
        {"{\"keys\":[7]}", "not an object"},
        {"{\"keys\":[{\"n\":\"AQAB\"}]}", "no \"kty\""},
    };
    struct tg_jwks s;
    size_t skipped;
    char want[200];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(
            tg_jwks_parse(cases[i].json, strlen(cases[i].json), &s, &skipped, err, sizeof(err)), 0);
        assert_int_equal(s.n, 0);
        assert_int_equal(skipped, 1);
        snprintf(want, sizeof(want), "key 0 skipped: %s", cases[i].why);
        assert_string_equal(err, want);
        tg_jwks_free(&s);
    }
    assert_int_equal(tg_jwks_parse("{\"keys\":[]}", 11, &s, &skipped, err, sizeof(err)), 0);
    assert_int_equal(s.n, 0);
    tg_jwks_free(&s);
    assert_int_equal(tg_jwks_parse("{\"key\":[]}", 10, &s, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "not a JWK Set: want an object with a \"keys\" array");
    assert_int_equal(tg_jwks_parse("not json", 8, &s, NULL, err, sizeof(err)), -1);
    assert_int_equal(tg_jwks_parse("{\"keys\":{}}", 11, &s, NULL, err, sizeof(err)), -1);
    assert_int_equal(tg_jwks_parse("{\"keys\":[]}\0x", 13, &s, NULL, err, sizeof(err)), -1);
}

/* ---- signatures: the fixed vectors ---- */

struct vector {
    char name[32];
    char *token;
};
static struct vector vec[16];
static size_t n_vec;

static const char *token_of(const char *name)
{
    size_t len;
    char *data, *line, *save = NULL;

    if (n_vec == 0) {
        data = slurp(DATA "tokens.txt", &len);
        for (line = strtok_r(data, "\n", &save); line && n_vec < 16;
             line = strtok_r(NULL, "\n", &save)) {
            char *sp = strchr(line, ' ');
            assert_non_null(sp);
            snprintf(vec[n_vec].name, sizeof(vec[n_vec].name), "%.*s", (int)(sp - line), line);
            vec[n_vec++].token = strdup(sp + 1);
        }
        free(data);
    }
    for (size_t i = 0; i < n_vec; i++)
        if (strcmp(vec[i].name, name) == 0)
            return vec[i].token;
    fail_msg("no vector %s", name);
    return NULL;
}

static int verifies(const char *token, const char *kid)
{
    struct tg_jwt j;
    const char *why;
    int ok;
    if (tg_jwt_parse(&A, tg_iov_str(token), &j, &why) < 0)
        return 0; /* tampering may leave no JWT at all */
    ok = tg_jws_verify(&j, key(kid));
    tg_jwt_free(&j);
    return ok;
}

static void test_signatures(void **state)
{
    static const struct {
        const char *name, *kid;
    } good[] = {{"rs256", "rsa1"},  {"rs384", "rsa1"}, {"rs512", "rsa1"}, {"ps256", "rsa1-ps"},
                {"ps256", "rsa1"},  {"ps384", "rsa1"}, {"ps512", "rsa1"}, {"es256", "ec1"},
                {"es384", "ec384"}, {"eddsa", "ed1"}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!verifies(token_of(good[i].name), good[i].kid))
            fail_msg("%s does not verify with %s", good[i].name, good[i].kid);
    /* RFC 7518 3.5: PSS salt as long as the hash, nothing else */
    assert_false(verifies(token_of("ps256-salt0"), "rsa1"));
    /* the key's own "alg" member restricts it */
    assert_false(verifies(token_of("rs256"), "rsa1-ps"));
    /* a key of another type or curve never verifies */
    assert_false(verifies(token_of("rs256"), "ec1"));
    assert_false(verifies(token_of("es256"), "ec384"));
    assert_false(verifies(token_of("es384"), "ec1"));
    assert_false(verifies(token_of("es256"), "rsa1"));
    assert_false(verifies(token_of("eddsa"), "ec1"));
}

static void test_tampering(void **state)
{
    const char *t = token_of("rs256"), *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
    tg_iovec_t other = enc("{\"iss\":\"https://idp.example\",\"aud\":\"tg\",\"email\":"
                           "\"root@example.com\",\"exp\":4102444800}");
    char *forged = tg_arena_printf(&A, "%.*s.%.*s%s", (int)(dot1 - t), t, TG_IOV_FMT(other), dot2);
    struct tg_jwt j;
    const char *why;
    char *copy, *last;

    /* other claims under the same signature: parses, never verifies */
    assert_int_equal(tg_jwt_parse(&A, tg_iov_str(forged), &j, &why), 0);
    assert_false(tg_jws_verify(&j, key("rsa1")));
    tg_jwt_free(&j);
    /* the signature cut short, or one of its bytes changed */
    copy = tg_arena_strndup(&A, t, strlen(t) - 4);
    assert_false(verifies(copy, "rsa1"));
    copy = tg_arena_strndup(&A, t, strlen(t));
    last = strrchr(copy, '.') + 10;
    *last = *last == 'A' ? 'B' : 'A';
    assert_false(verifies(copy, "rsa1"));
    assert_true(verifies(t, "rsa1"));
}

/* ES256 must be raw r||s of 64 bytes: the DER form a library may emit is refused. */
static void test_ecdsa_signature_shape(void **state)
{
    const char *t = token_of("es256");
    struct tg_jwt j;
    const char *why;
    tg_iovec_t der;

    assert_int_equal(tg_jwt_parse(&A, tg_iov_str(t), &j, &why), 0);
    assert_int_equal(j.signature.len, 64);
    der = j.signature;
    j.signature.len = 63;
    assert_false(tg_jws_verify(&j, key("ec1")));
    j.signature = der;
    assert_true(tg_jws_verify(&j, key("ec1")));
    tg_jwt_free(&j);
}

/* RS256 -> HS256: the public key used as an HMAC secret never gets near a MAC. */
static void test_key_confusion(void **state)
{
    const char *t = token_of("rs256");
    const char *p = strchr(t, '.');
    struct tg_jwt j;
    const char *why;
    tg_iovec_t h = enc("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}");
    char *forged = tg_arena_printf(&A, "%.*s%.*s", TG_IOV_FMT(h), (int)strlen(p), p);

    assert_int_equal(tg_jwt_parse(&A, tg_iov_str(forged), &j, &why), 0);
    assert_int_equal(j.alg, TG_JWS_UNSUPPORTED);
    for (size_t i = 0; i < keys.n; i++)
        assert_false(tg_jws_verify(&j, &keys.keys[i]));
    tg_jwt_free(&j);
}

/* ---- claim rules ---- */

static struct tg_oidc_issuer issuer(void)
{
    static char *algs[] = {"RS256"};
    struct tg_oidc_issuer is = {0};
    is.url = "https://idp.example";
    is.client_id = "tg";
    is.username_claim = "email";
    is.username_prefix = "";
    is.groups_claim = "groups";
    is.groups_prefix = "";
    is.sign_algs = algs;
    is.n_sign_algs = 1;
    return is;
}

#define NOW 1700000000

static const char *times(const struct tg_oidc_issuer *is, const char *payload, int64_t *exp,
                         int64_t *from)
{
    struct tg_jwt j;
    const char *why;
    assert_int_equal(tg_jwt_parse(&A, jwt("{\"alg\":\"RS256\"}", payload, "AA"), &j, &why), 0);
    why = tg_oidc_check_times(is, &j, NOW, 10, exp, from, &A);
    tg_jwt_free(&j);
    return why;
}

static void test_claims_times_audience(void **state)
{
    struct tg_oidc_issuer is = issuer();
    int64_t exp, from;
#define T(p) times(&is, p, &exp, &from)
    assert_null(T("{\"iss\":\"https://idp.example\",\"aud\":\"tg\",\"exp\":1700000100}"));
    assert_int_equal(exp, 1700000100);
    assert_null(T("{\"iss\":\"https://idp.example\",\"aud\":[\"x\",\"tg\"],\"exp\":1.7000001e9}"));
    assert_string_equal(T("{\"iss\":\"https://idp.example/\",\"aud\":\"tg\",\"exp\":1700000100}"),
                        "wrong issuer");
    assert_string_equal(T("{\"aud\":\"tg\",\"exp\":1700000100}"), "wrong issuer");
    assert_string_equal(T("{\"iss\":\"https://idp.example\",\"aud\":\"TG\",\"exp\":1700000100}"),
                        "wrong audience (want tg)");
    assert_string_equal(T("{\"iss\":\"https://idp.example\",\"aud\":[],\"exp\":1700000100}"),
                        "wrong audience (want tg)");
    assert_string_equal(T("{\"iss\":\"https://idp.example\",\"aud\":[\"tg\",1],\"exp\":1}"),
                        "\"aud\" is not a string or a list of strings");
    assert_string_equal(T("{\"iss\":\"https://idp.example\",\"exp\":1700000100}"),
                        "no \"aud\" claim");
    assert_string_equal(T("{\"iss\":\"https://idp.example\",\"aud\":\"tg\"}"),
                        "no numeric \"exp\" claim");
    assert_string_equal(
        T("{\"iss\":\"https://idp.example\",\"aud\":\"tg\",\"exp\":\"1700000100\"}"),
        "no numeric \"exp\" claim");
    /* leeway 10 s: expired at exp + 10 s, not before */
    assert_null(T("{\"iss\":\"https://idp.example\",\"aud\":\"tg\",\"exp\":1699999990}"));
    assert_string_equal(T("{\"iss\":\"https://idp.example\",\"aud\":\"tg\",\"exp\":1699999989}"),
                        "token expired");
    assert_null(T("{\"iss\":\"https://idp.example\",\"aud\":\"tg\",\"exp\":1700000100,"
                  "\"nbf\":1700000010,\"iat\":1700000010}"));
    assert_string_equal(T("{\"iss\":\"https://idp.example\",\"aud\":\"tg\",\"exp\":1700000100,"
                          "\"nbf\":1700000011}"),
                        "token not valid yet (nbf)");
    assert_int_equal(from, 1700000001); /* acceptable from nbf - leeway */
    assert_string_equal(T("{\"iss\":\"https://idp.example\",\"aud\":\"tg\",\"exp\":1700000100,"
                          "\"iat\":1700000050}"),
                        "token issued in the future (iat)");
    assert_string_equal(T("{\"iss\":\"https://idp.example\",\"aud\":\"tg\",\"exp\":1700000100,"
                          "\"nbf\":null}"),
                        "\"nbf\" is not a number");
    assert_string_equal(T("{\"iss\":\"https://idp.example\",\"aud\":\"tg\",\"exp\":1700000100,"
                          "\"iat\":true}"),
                        "\"iat\" is not a number");
#undef T
}

static const char *identity(const struct tg_oidc_issuer *is, const char *payload, struct tg_user *u)
{
    struct tg_jwt j;
    const char *why;
    assert_int_equal(tg_jwt_parse(&A, jwt("{\"alg\":\"RS256\"}", payload, "AA"), &j, &why), 0);
    why = tg_oidc_map_identity(is, &j, &A, u);
    tg_jwt_free(&j);
    return why;
}

static void assert_groups(const struct tg_user *u, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    assert_int_equal(u->n_groups, n);
    for (size_t i = 0; i < n; i++)
        if (!tg_iov_eq_str(u->groups[i], want[i]))
            fail_msg("group %zu is %.*s, want %s", i, TG_IOV_FMT(u->groups[i]), want[i]);
}

static void test_claims_identity(void **state)
{
    struct tg_oidc_issuer is = issuer();
    struct tg_user u;
    static const char *const g_ab[] = {"a", "b", "system:authenticated", NULL};
    static const char *const g_one[] = {"oidc:solo", "system:authenticated", NULL};
    static const char *const g_none[] = {"system:authenticated", NULL};

    assert_null(identity(&is, "{\"email\":\"al@x\",\"groups\":[\"a\",\"\",\"b\"]}", &u));
    assert_true(tg_iov_eq_str(u.name, "al@x"));
    assert_string_equal(u.provider, "oidc");
    assert_groups(&u, g_ab);
    assert_null(identity(&is, "{\"email\":\"al@x\",\"email_verified\":true}", &u));
    assert_groups(&u, g_none);
    assert_string_equal(identity(&is, "{\"email\":\"al@x\",\"email_verified\":false}", &u),
                        "email not verified");
    assert_string_equal(identity(&is, "{\"email\":\"al@x\",\"email_verified\":\"true\"}", &u),
                        "\"email_verified\" is not a boolean");
    assert_string_equal(identity(&is, "{\"sub\":\"al\"}", &u),
                        "no \"email\" claim (the username claim)");
    assert_string_equal(identity(&is, "{\"email\":7}", &u),
                        "username claim \"email\" is not a non-empty string");
    assert_string_equal(identity(&is, "{\"email\":\"\"}", &u),
                        "username claim \"email\" is not a non-empty string");
    assert_string_equal(identity(&is, "{\"email\":\"a@x\",\"groups\":{}}", &u),
                        "groups claim \"groups\" is not a string or a list of strings");
    assert_string_equal(identity(&is, "{\"email\":\"a@x\",\"groups\":[\"a\",[]]}", &u),
                        "groups claim \"groups\" has a non-string member");
    assert_null(identity(&is, "{\"email\":\"a@x\",\"groups\":null}", &u));
    assert_groups(&u, g_none);
    /* kube's reserved names, and bytes that would break a header or a log line */
    assert_string_equal(identity(&is, "{\"email\":\"system:admin\"}", &u),
                        "user name is in the reserved \"system:\" namespace");
    assert_string_equal(identity(&is, "{\"email\":\"a@x\",\"groups\":[\"system:masters\"]}", &u),
                        "a group is in the reserved \"system:\" namespace");
    assert_string_equal(identity(&is, "{\"email\":\"a@x\\r\\nX-Remote-User: root\"}", &u),
                        "user name contains control characters");
    assert_string_equal(identity(&is, "{\"email\":\"a@x\",\"groups\":\"g\\u0001\"}", &u),
                        "a group contains control characters");

    /* prefixes; email_verified only matters for the email claim; a string group */
    is.username_claim = "sub";
    is.username_prefix = "https://idp.example#";
    is.groups_prefix = "oidc:";
    assert_null(identity(&is, "{\"sub\":\"u1\",\"email_verified\":false,\"groups\":\"solo\"}", &u));
    assert_true(tg_iov_eq_str(u.name, "https://idp.example#u1"));
    assert_groups(&u, g_one);
    /* a prefix makes a reserved-looking claim harmless */
    is.username_prefix = "oidc:";
    assert_null(identity(&is, "{\"sub\":\"system:admin\"}", &u));
    assert_true(tg_iov_eq_str(u.name, "oidc:system:admin"));
    /* no groups claim configured */
    is.groups_claim = NULL;
    assert_null(identity(&is, "{\"sub\":\"u1\",\"groups\":[\"a\"]}", &u));
    assert_groups(&u, g_none);
}

static void test_claims_required(void **state)
{
    struct tg_oidc_issuer is = issuer();
    char *names[] = {"hd", "tier"}, *values[] = {"example.com", ""};
    struct tg_user u;

    is.required_claims = names;
    is.required_values = values;
    is.n_required_claims = 2;
    assert_null(identity(&is, "{\"email\":\"a@x\",\"hd\":\"example.com\",\"tier\":\"\"}", &u));
    assert_string_equal(identity(&is, "{\"email\":\"a@x\",\"tier\":\"\"}", &u),
                        "required claim \"hd\" missing");
    assert_string_equal(identity(&is, "{\"email\":\"a@x\",\"hd\":\"evil.com\",\"tier\":\"\"}", &u),
                        "required claim \"hd\" does not have its value");
    assert_string_equal(
        identity(&is, "{\"email\":\"a@x\",\"hd\":[\"example.com\"],\"tier\":\"\"}", &u),
        "required claim \"hd\" does not have its value");
    assert_int_equal(u.n_groups, 0); /* nothing half-filled on a refusal */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_base64url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base64_lax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jwt_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alg_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jwks_parse, setup_keys, teardown_keys),
        cmocka_unit_test_setup_teardown(test_jwks_skip_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signatures, setup_keys, teardown_keys),
        cmocka_unit_test_setup_teardown(test_tampering, setup_keys, teardown_keys),
        cmocka_unit_test_setup_teardown(test_ecdsa_signature_shape, setup_keys, teardown_keys),
        cmocka_unit_test_setup_teardown(test_key_confusion, setup_keys, teardown_keys),
        cmocka_unit_test_setup_teardown(test_claims_times_audience, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims_required, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (size_t i = 0; i < n_vec; i++)
        free(vec[i].token);
    return rc;
}
