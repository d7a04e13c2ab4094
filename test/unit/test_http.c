/* Unit tests for lib/http/: parameters, targets, paths, error bodies,
 * header policy, Authorization, Content-Type. */
#include <ctype.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tenantgate/http.h"

#define IOV(s) tg_iov_str(s)

static int setup(void **state)
{
    static tg_arena_t a;
    tg_arena_init(&a, NULL, 0);
    *state = &a;
    return 0;
}

static int teardown(void **state)
{
    tg_arena_destroy(*state);
    return 0;
}

static void assert_iov(tg_iovec_t v, const char *s)
{
    if (!tg_iov_eq_str(v, s))
        fail_msg("got \"%.*s\" (%zu bytes), want \"%s\"", TG_IOV_FMT(v), v.len, s);
}

/* ---- parameters ---------------------------------------------------------- */

static void test_params_basic(void **state)
{
    struct tg_params p = {0};
    const char *err = NULL;

    assert_int_equal(
        tg_params_parse(*state, IOV("query=up&time=123&&x&=v&a=1+2%20%2B3"), 0, &p, &err), 0);
    assert_int_equal(p.n, 5);
    assert_iov(p.items[0].name, "query");
    assert_iov(p.items[0].value, "up");
    assert_iov(p.items[1].name, "time");
    assert_iov(p.items[2].name, "x");
    assert_iov(p.items[2].value, "");
    assert_iov(p.items[3].name, "");
    assert_iov(p.items[3].value, "v");
    assert_iov(p.items[4].value, "1 2 +3");
    assert_int_equal(p.items[4].from_body, 0);
    assert_int_equal(p.items[4].value.base[p.items[4].value.len], '\0');
}

/* The word-at-a-time decoder against a byte-by-byte one, with escapes, '+'
 * and bad escapes at every offset of values longer than a word. */
static int ref_unescape(const char *s, size_t len, char *out, size_t *n)
{
    size_t i, k = 0;
    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            unsigned v;
            if (len - i < 3 || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return -1;
            sscanf(s + i + 1, "%2x", &v);
            out[k++] = (char)v;
            i += 2;
        } else {
            out[k++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    *n = k;
    return 0;
}

static void test_params_decode_every_offset(void **state)
{
    static const char *const pieces[] = {"%2F", "+", "%zz", "%4", "a", "%e9", "%00", "&"};
    unsigned seed = 1;
    int round;

    for (round = 0; round < 4000; round++) {
        char raw[96], want[96], input[112];
        size_t len = 0, wn = 0;
        struct tg_params p = {0};
        int rc, wrc;

        seed = seed * 1103515245u + 12345u;
        while (len < 40 + seed % 40) {
            const char *piece;
            seed = seed * 1103515245u + 12345u;
            piece = (seed >> 16) % 3 ? "abcdefgh" + (seed >> 8) % 8 : pieces[(seed >> 20) % 7];
            if (len + strlen(piece) >= sizeof(raw) - 1)
                break;
            memcpy(raw + len, piece, strlen(piece));
            len += strlen(piece);
        }
        raw[len] = '\0';
        snprintf(input, sizeof(input), "v=%s", raw);
        wrc = ref_unescape(raw, len, want, &wn);
        rc = tg_params_parse(*state, tg_iov_str(input), 0, &p, NULL);
        assert_int_equal(rc, wrc);
        if (rc == 0) {
            assert_int_equal(p.n, 1);
            assert_int_equal(p.items[0].value.len, wn);
            assert_memory_equal(p.items[0].value.base, want, wn);
        }
    }
}

static void test_params_empty_and_separators(void **state)
{
    struct tg_params p = {0};
    assert_int_equal(tg_params_parse(*state, IOV(""), 0, &p, NULL), 0);
    assert_int_equal(p.n, 0);
    /* a request without '?' has no query at all (fuzz finding: pointer
     * arithmetic on NULL, reported by UBSan) */
    assert_int_equal(tg_params_parse(*state, TG_IOV_NULL, 0, &p, NULL), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(tg_params_parse(*state, IOV("&&&"), 0, &p, NULL), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(tg_params_parse(*state, IOV("a=b=c&"), 0, &p, NULL), 0);
    assert_int_equal(p.n, 1);
    assert_iov(p.items[0].value, "b=c");
}

static void test_params_errors(void **state)
{
    static const char *const bad[] = {
        "a=%", "a=%4", "a=%zz", "%=1", "a=1;b=2", "a;=1", "x=1&a=%g0", "a=%%41", "q=up%", NULL,
    };
    size_t i;
    for (i = 0; bad[i]; i++) {
        struct tg_params p = {0};
        const char *err = NULL;
        if (tg_params_parse(*state, IOV(bad[i]), 0, &p, &err) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(err);
    }
    {
        struct tg_params p = {0};
        const char *err = NULL;
        assert_int_equal(tg_params_parse(*state, IOV("a=1;b"), 0, &p, &err), -1);
        assert_string_equal(err, "invalid semicolon separator in query");
    }
}

static void test_params_binary_values(void **state)
{
    struct tg_params p = {0};
    assert_int_equal(tg_params_parse(*state, IOV("n%00me=%ff%3B%26%3D"), 1, &p, NULL), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.items[0].name.len, 4);
    assert_memory_equal(p.items[0].name.base, "n\0me", 4);
    assert_memory_equal(p.items[0].value.base, "\xff;&=", 4);
    assert_int_equal(p.items[0].from_body, 1);
}

static void test_params_lookup(void **state)
{
    struct tg_params p = {0};
    const struct tg_param *it;
    int n = 0;

    assert_int_equal(tg_params_parse(*state, IOV("match[]=a&x=1&match[]=b"), 0, &p, NULL), 0);
    assert_int_equal(tg_params_parse(*state, IOV("match[]=c"), 1, &p, NULL), 0);
    assert_int_equal(tg_params_count(&p, IOV("match[]")), 3);
    assert_int_equal(tg_params_count(&p, IOV("nope")), 0);
    assert_null(tg_params_get(&p, IOV("nope")));
    assert_iov(tg_params_get(&p, IOV("match[]"))->value, "a");
    for (it = NULL; (it = tg_params_next(&p, IOV("match[]"), it)) != NULL; n++)
        assert_int_equal(it->value.base[0], "abc"[n]);
    assert_int_equal(n, 3);
    assert_int_equal(tg_params_remove(&p, IOV("match[]")), 3);
    assert_int_equal(p.n, 1);
    assert_iov(p.items[0].name, "x");
}

static int skip_x(void *arg, const struct tg_param *q)
{
    (*(int *)arg)++;
    return tg_iov_eq_str(q->name, "x");
}

static void test_params_encode_roundtrip(void **state)
{
    struct tg_params p = {0}, q = {0};
    tg_sb_t sb;
    int calls = 0;
    size_t i;

    assert_int_equal(tg_params_parse(*state,
                                     IOV("query=sum(rate(x%7Bns%3D%22a%22%7D[5m]))+by+(a)"
                                         "&x=drop&e=&%C3%A9=%E2%82%AC&sp=a+b%2Bc"),
                                     0, &p, NULL),
                     0);
    tg_sb_init(&sb, *state, 0);
    tg_params_encode(&p, &sb, skip_x, &calls);
    assert_int_equal(calls, 5);
    assert_string_equal(tg_sb_cstr(&sb), "query=sum(rate(x%7Bns%3D%22a%22%7D%5B5m%5D))+by+"
                                         "(a)&e=&%C3%A9=%E2%82%AC&sp=a+b%2Bc");
    assert_int_equal(tg_params_parse(*state, tg_sb_iov(&sb), 0, &q, NULL), 0);
    assert_int_equal(q.n, 4);
    for (i = 0; i < q.n; i++) {
        const struct tg_param *orig = &p.items[i < 1 ? i : i + 1];
        assert_true(tg_iov_eq(q.items[i].name, orig->name));
        assert_true(tg_iov_eq(q.items[i].value, orig->value));
    }
    tg_sb_clear(&sb);
    tg_params_init(&q, *state);
    tg_params_encode(&q, &sb, NULL, NULL);
    assert_int_equal(sb.len, 0);
}

static void test_params_many(void **state)
{
    tg_sb_t sb;
    struct tg_params p = {0};
    int i;
    tg_sb_init(&sb, *state, 0);
    for (i = 0; i < 1000; i++)
        tg_sb_printf(&sb, "%sk%d=v%d", i ? "&" : "", i, i);
    assert_int_equal(tg_params_parse(*state, tg_sb_iov(&sb), 0, &p, NULL), 0);
    assert_int_equal(p.n, 1000);
    assert_iov(p.items[999].value, "v999");
    assert_iov(tg_params_get(&p, IOV("k500"))->value, "v500");
}

/* ---- request target and path -------------------------------------------- */

static void test_split_target(void **state)
{
    tg_iovec_t path, query;
    assert_int_equal(tg_http_split_target(IOV("/api/v1/query?query=up&x=1"), &path, &query), 0);
    assert_iov(path, "/api/v1/query");
    assert_iov(query, "query=up&x=1");
    assert_int_equal(tg_http_split_target(IOV("/a"), &path, &query), 0);
    assert_iov(path, "/a");
    assert_iov(query, "");
    assert_int_equal(tg_http_split_target(IOV("/a?"), &path, &query), 0);
    assert_iov(query, "");
    assert_int_equal(tg_http_split_target(IOV("/a?b?c"), &path, &query), 0);
    assert_iov(path, "/a");
    assert_iov(query, "b?c");
    assert_int_equal(tg_http_split_target(IOV("http://evil/api/v1/query"), &path, &query), -1);
    assert_int_equal(tg_http_split_target(IOV("*"), &path, &query), -1);
    assert_int_equal(tg_http_split_target(IOV(""), &path, &query), -1);
    assert_int_equal(tg_http_split_target(IOV("example.com:443"), &path, &query), -1);
    assert_int_equal(tg_http_split_target(IOV("/a#frag"), &path, &query), -1);
    assert_int_equal(tg_http_split_target(IOV("/a?q=1 2"), &path, &query), -1);
    assert_int_equal(tg_http_split_target(IOV("/a?q=\t"), &path, &query), -1);
    assert_int_equal(tg_http_split_target(tg_iov("/a?q\0", 5), &path, &query), -1);
    assert_int_equal(tg_http_split_target(IOV("/a?q=\x7f"), &path, &query), -1);
}

static void test_path_canonical(void **state)
{
    static const char *const good[] = {
        "/",
        "/api/v1/query",
        "/api/v1/label/__name__/values",
        "/a/b/",
        "/.well-known",
        "/a/..b",
        "/a/b..",
        "/a/.../b",
        "/federate",
        "/-/healthy",
        NULL,
    };
    static const char *const bad[] = {
        "",
        "api",
        "//",
        "//api/v1/query",
        "/api//v1",
        "/api/v1/query//",
        "/./api",
        "/api/./v1",
        "/api/../v1",
        "/api/.",
        "/api/..",
        "/.",
        "/..",
        "/api/v1/%71uery",
        "/api%2Fv1",
        "/a;b",
        "/api/v1/query;x=1",
        "/a\\b",
        "/a#b",
        "/a?b",
        "/a b",
        "/a\tb",
        "/a\x7f",
        "/a\x01",
        "/\xc3\xa9",
        NULL,
    };
    size_t i;
    for (i = 0; good[i]; i++)
        if (!tg_http_path_is_canonical(IOV(good[i])))
            fail_msg("rejected %s", good[i]);
    for (i = 0; bad[i]; i++)
        if (tg_http_path_is_canonical(IOV(bad[i])))
            fail_msg("accepted %s", bad[i]);
    assert_false(tg_http_path_is_canonical(tg_iov("/a\0b", 4)));
}

/* ---- error bodies -------------------------------------------------------- */

static void test_error_body(void **state)
{
    tg_sb_t sb;
    tg_sb_init(&sb, *state, 0);
    tg_http_error_body(&sb, "bad_data", IOV("parse error: unexpected \"}\"\n\\ at char 3"));
    assert_string_equal(tg_sb_cstr(&sb), "{\"status\":\"error\",\"errorType\":\"bad_data\","
                                         "\"error\":\"parse error: unexpected \\\"}\\\"\\n\\\\ "
                                         "at char 3\"}");
    tg_sb_clear(&sb);
    /* invalid UTF-8 (lone continuation, overlong, surrogate, truncated) -> U+FFFD; valid kept */
    tg_http_error_body(&sb, "x",
                       IOV("a\x80"
                           "b\xc0\xaf"
                           "c\xed\xa0\x80"
                           "d\xc3\xa9\xe2\x82"));
    assert_string_equal(
        tg_sb_cstr(&sb),
        "{\"status\":\"error\",\"errorType\":\"x\",\"error\":\"a\\ufffdb\\ufffd\\ufffdc"
        "\\ufffd\\ufffd\\ufffdd\xc3\xa9\\ufffd\\ufffd\"}");
}

static void test_error_types(void **state)
{
    assert_string_equal(tg_http_error_type(400), "bad_data");
    assert_string_equal(tg_http_error_type(401), "unauthorized");
    assert_string_equal(tg_http_error_type(403), "forbidden");
    assert_string_equal(tg_http_error_type(404), "not_found");
    assert_string_equal(tg_http_error_type(405), "bad_data");
    assert_string_equal(tg_http_error_type(406), "not_acceptable");
    assert_string_equal(tg_http_error_type(413), "bad_data");
    assert_string_equal(tg_http_error_type(422), "execution");
    assert_string_equal(tg_http_error_type(499), "canceled");
    assert_string_equal(tg_http_error_type(500), "internal");
    assert_string_equal(tg_http_error_type(502), "unavailable");
    assert_string_equal(tg_http_error_type(503), "unavailable");
    assert_string_equal(tg_http_error_type(504), "timeout");
    assert_string_equal(tg_http_error_type(507), "internal");
}

/* ---- headers --------------------------------------------------------------- */

static void test_hop_by_hop(void **state)
{
    static const char *const hop[] = {"Connection",
                                      "connection",
                                      "KEEP-ALIVE",
                                      "te",
                                      "Trailer",
                                      "transfer-encoding",
                                      "Upgrade",
                                      "Proxy-Authorization",
                                      "proxy-authenticate",
                                      "Proxy-Connection",
                                      NULL};
    static const char *const end[] = {
        "Content-Type", "Accept", "Trailers", "Connectio", "T", "Host", "Content-Length", "", NULL};
    size_t i;
    for (i = 0; hop[i]; i++)
        assert_true(tg_http_header_is_hop_by_hop(IOV(hop[i])));
    for (i = 0; end[i]; i++)
        assert_false(tg_http_header_is_hop_by_hop(IOV(end[i])));
}

static void test_connection_tokens(void **state)
{
    tg_iovec_t rest = IOV(" keep-alive ,, X-Foo\t,close,"), tok;
    assert_true(tg_http_next_token(&rest, &tok));
    assert_iov(tok, "keep-alive");
    assert_true(tg_http_next_token(&rest, &tok));
    assert_iov(tok, "X-Foo");
    assert_true(tg_http_next_token(&rest, &tok));
    assert_iov(tok, "close");
    assert_false(tg_http_next_token(&rest, &tok));
    assert_false(tg_http_next_token(&rest, &tok));
    rest = IOV(" , ,");
    assert_false(tg_http_next_token(&rest, &tok));
    assert_true(tg_http_connection_lists(IOV("close, x-secret-hop"), IOV("X-Secret-Hop")));
    assert_false(tg_http_connection_lists(IOV("close, x-secret-hop"), IOV("X-Secret")));
    assert_false(tg_http_connection_lists(IOV(""), IOV("")));
}

static void test_credential_headers(void **state)
{
    static const char *const yes[] = {"Authorization",         "authorization",    "COOKIE",
                                      "Proxy-Authorization",   "X-Remote-User",    "x-remote-group",
                                      "X-Remote-Extra-Scopes", "Impersonate-User", NULL};
    static const char *const no[] = {
        "X-Remote",     "X-Remot-User",    "Cookie2x",   "Authorizatio",
        "Content-Type", "X-Forwarded-For", "Set-Cookie", NULL};
    size_t i;
    for (i = 0; yes[i]; i++)
        assert_true(tg_http_header_is_credential(IOV(yes[i])));
    for (i = 0; no[i]; i++)
        assert_false(tg_http_header_is_credential(IOV(no[i])));
}

static void test_identity_headers(void **state)
{
    tg_iovec_t groups[] = {TG_IOV_LIT("oidc:a"), TG_IOV_LIT("system:authenticated")};
    tg_iovec_t bad[] = {TG_IOV_LIT("ok"), TG_IOV_LIT("x\r\nX-Remote-User: root")};
    tg_sb_t sb;

    assert_true(tg_http_is_identity_header(IOV("X-REMOTE-USER"), "x-remote-user", NULL));
    assert_true(tg_http_is_identity_header(IOV("x-forwarded-groups"), NULL, "X-Forwarded-Groups"));
    assert_false(tg_http_is_identity_header(IOV("x-remote-user"), NULL, NULL));
    assert_false(tg_http_is_identity_header(IOV("x-remote-users"), "x-remote-user", "g"));
    assert_true(tg_http_header_value_ok(IOV("alice@example.com\tx")));
    assert_false(tg_http_header_value_ok(IOV("a\nb")));
    assert_false(tg_http_header_value_ok(IOV("a\x7f")));
    tg_sb_init(&sb, *state, 16);
    assert_int_equal(tg_http_join_values(&sb, groups, 2, "|"), 0);
    assert_string_equal(tg_sb_cstr(&sb), "oidc:a|system:authenticated");
    tg_sb_clear(&sb);
    assert_int_equal(tg_http_join_values(&sb, groups, 0, "|"), 0);
    assert_string_equal(tg_sb_cstr(&sb), "");
    assert_int_equal(tg_http_join_values(&sb, bad, 2, ","), -1);
}

/* ---- Authorization ----------------------------------------------------------- */

static void test_base64(void **state)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"", ""},
        {"Zg==", "f"},
        {"Zm8=", "fo"},
        {"Zm9v", "foo"},
        {"Zm9vYg==", "foob"},
        {"Zm9vYmE=", "fooba"},
        {"Zm9vYmFy", "foobar"},
        {"+/+/", "\xfb\xff\xbf"},
    };
    static const char *const bad[] = {
        "Zg",     "Zg=",   "Zg===",    "Zh==",     "Zm9=", "Z===", "====",
        "Zm9v\n", "Zm 9v", "Zm9v-_==", "Zg==Zg==", "=Zg=", NULL};
    size_t i;
    tg_iovec_t out;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(tg_base64_decode(*state, IOV(ok[i].in), &out), 0);
        assert_iov(out, ok[i].out);
    }
    for (i = 0; bad[i]; i++)
        if (tg_base64_decode(*state, IOV(bad[i]), &out) != -1)
            fail_msg("accepted %s", bad[i]);
}

static void test_authorization(void **state)
{
    tg_iovec_t tok;
    assert_int_equal(tg_http_parse_authorization(*state, IOV("Bearer abc.def-_~+/="), &tok), 0);
    assert_iov(tok, "abc.def-_~+/=");
    assert_int_equal(tg_http_parse_authorization(*state, IOV("  bearer \t tok  "), &tok), 0);
    assert_iov(tok, "tok");
    assert_int_equal(tg_http_parse_authorization(*state, IOV("BEARER x"), &tok), 0);
    assert_iov(tok, "x");
    /* base64("grafana:s3cr:et") */
    assert_int_equal(tg_http_parse_authorization(*state, IOV("Basic Z3JhZmFuYTpzM2NyOmV0"), &tok),
                     0);
    assert_iov(tok, "s3cr:et");
    /* base64(":pw"): empty user is fine, the password is the token */
    assert_int_equal(tg_http_parse_authorization(*state, IOV("basic OnB3"), &tok), 0);
    assert_iov(tok, "pw");
}

static void test_authorization_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "Bearer",
        "Bearer ",
        "Bearer  ",
        "Bearertok",
        "Bearer a b",
        "Bearer a\x01",
        "Bearer \xc3\xa9",
        "Token abc",
        "Digest x",
        "Basic",
        "Basic Zm9v" /* no ':' */,
        "Basic dXNlcjo=" /* empty password */,
        "Basic Zm9v YmFy",
        "Basic !!!!",
        " Basic",
        "Negotiate abc",
        NULL,
    };
    size_t i;
    tg_iovec_t tok;
    for (i = 0; bad[i]; i++)
        if (tg_http_parse_authorization(*state, IOV(bad[i]), &tok) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
}

static void test_form_content_type(void **state)
{
    static const char *const yes[] = {
        "application/x-www-form-urlencoded",
        "Application/X-WWW-Form-Urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/x-www-form-urlencoded;charset=UTF-8",
        " application/x-www-form-urlencoded ; charset=\"utf-8\" ",
        "application/x-www-form-urlencoded;",
        "application/x-www-form-urlencoded; a=b; c=\"d;e\"",
        NULL,
    };
    static const char *const no[] = {
        "",
        "application/json",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencodedx",
        "application/x-www-form-urlencoded charset=utf-8",
        "application/x-www-form-urlencoded; charset=latin1",
        "application/x-www-form-urlencoded; charset",
        "application/x-www-form-urlencoded; =x",
        "application/x-www-form-urlencoded; a=\"unterminated",
        "application/x-www-form-urlencoded; a=b c",
        "application /x-www-form-urlencoded",
        "text/plain",
        NULL,
    };
    size_t i;
    for (i = 0; yes[i]; i++)
        if (!tg_http_is_form_content_type(IOV(yes[i])))
            fail_msg("rejected %s", yes[i]);
    for (i = 0; no[i]; i++)
        if (tg_http_is_form_content_type(IOV(no[i])))
            fail_msg("accepted %s", no[i]);
}

/* ---- request framing ---- */

static int framing(const char *raw, size_t max_head, uint64_t max_body, uint64_t *requests)
{
    struct tg_http_framing f, g;
    int whole, bytes = 0;
    size_t i, n = strlen(raw);

    tg_http_framing_init(&f, max_head, max_body);
    tg_http_framing_init(&g, max_head, max_body);
    whole = tg_http_framing_feed(&f, raw, n);
    for (i = 0; i < n && bytes == 0; i++)
        bytes = tg_http_framing_feed(&g, raw + i, 1);
    assert_int_equal(whole, bytes);
    if (whole)
        assert_non_null(f.error);
    if (requests)
        *requests = f.requests;
    return whole;
}

static void test_time_params(void **state)
{
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"0", 0},
        {"1700000000", 1700000000000LL},
        {"1700000000.123", 1700000000123LL},
        {"1700000000.1234", 1700000000123LL},
        {"1.7e9", 1700000000000LL},
        {"-1.5", -1500},
        {"1970-01-01T00:00:00Z", 0},
        {"2023-11-14T22:13:20Z", 1700000000000LL},
        {"2023-11-14T22:13:20.5Z", 1700000000500LL},
        {"2023-11-14T22:13:20.123456789Z", 1700000000123LL},
        {"2023-11-14T23:13:20+01:00", 1700000000000LL},
        {"2023-11-14T21:43:20-00:30", 1700000000000LL},
        {"2024-02-29T00:00:00Z", 1709164800000LL},
        {"1969-12-31T23:59:59Z", -1000},
        {"-292273086-05-16T16:47:06Z", INT64_MIN},
        {"292277025-08-18T07:12:54.999999999Z", INT64_MAX},
        {"1e300", INT64_MAX},
    };
    static const char *const bad[] = {
        "",
        " 1",
        "1 ",
        "abc",
        "NaN",
        "Inf",
        "2023-11-14",
        "2023-11-14T22:13:20",
        "2023-11-14 22:13:20Z",
        "2023-11-14t22:13:20Z",
        "2023-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2023-11-14T24:00:00Z",
        "2023-11-14T22:60:00Z",
        "2023-11-14T22:13:60Z",
        "2023-11-14T22:13:20.Z",
        "2023-11-14T22:13:20+0100",
        "2023-11-14T22:13:20z",
        "23-11-14T22:13:20Z",
    };
    size_t i;
    int64_t ms;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (tg_http_parse_time(tg_iov_str(ok[i].s), &ms) != 0)
            fail_msg("%s: refused", ok[i].s);
        if (ms != ok[i].ms)
            fail_msg("%s: %lld, want %lld", ok[i].s, (long long)ms, (long long)ok[i].ms);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (tg_http_parse_time(tg_iov_str(bad[i]), &ms) == 0)
            fail_msg("%s: accepted", bad[i]);
}

static void test_framing_accepts(void **state)
{
    static const struct {
        const char *raw;
        uint64_t requests;
    } ok[] = {
        {"GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\n\r\n", 1},
        {"POST /q HTTP/1.1\r\nContent-Length: 5\r\nX: a\tb \x80\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
         2},
        {"POST /q HTTP/1.1\r\ncontent-length:  3  \r\n\r\nabc", 1},
        {"POST /q HTTP/1.1\r\nTransfer-Encoding: "
         "Chunked\r\n\r\n5\r\nhello\r\n0A\r\n0123456789\r\n0\r\n\r\n",
         1},
        {"HEAD / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 1},
        {"POST /q HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\nHost: y\r\n\r\nGET /", 2},
        {"GET / HTTP/1.1\r\nX-Content-Length: -1\r\nTransfer-Encodings: x\r\n\r\n", 1},
        {"POST /q HTTP/1.1\r\nExpect: 100-Continue \r\nContent-Length: 2\r\n\r\nab", 1},
        {"PATCH / HTTP/1.1\r\n\r\nTRACE / HTTP/1.1\r\n\r\nOPTIONS * HTTP/1.1\r\n\r\n", 3},
        {"GET / HTTP/1.1\r\nX_Long-Header.Name~!#$%&'*+^`|: v\r\nX-Content-Length-Is-Not: "
         "-1\r\n\r\n",
         1},
    };
    size_t i;
    uint64_t n;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (framing(ok[i].raw, 4096, 1000, &n) != 0)
            fail_msg("refused: %s", ok[i].raw);
        assert_int_equal(n, ok[i].requests);
    }
}

static void test_framing_refuses(void **state)
{
    static const struct {
        const char *raw;
        int status;
    } bad[] = {
        {"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413},
        {"POST / HTTP/1.1\r\nContent-Length:\t5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding:\tchunked\r\n\r\n", 400},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n", 413},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", 413},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1f4\r\n", 0}, /* 500: fine so far */
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Tenant: beta\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n", 400},
        {"GET / HTTP/1.1\nHost: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 0}, /* strlen stops at the NUL: see below */
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX-Long-Name(x): x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX-Long-Name\x80: x\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nCONTENT-LENGTH: 5\r\nTransfer-ENCODING: chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-LENGTH: 6\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: \x7f\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: \x01\r\n\r\n", 400},
        {"GET /a b HTTP/1.1\r\n\r\n", 400},
        {"FOO / HTTP/1.1\r\n\r\n", 501},
        {"get / HTTP/1.1\r\n\r\n", 501},
        {"PROPFIND / HTTP/1.1\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nExpect: 100-continue-please\r\n\r\n", 417},
        {"POST / HTTP/1.1\r\nExpect: x\r\nContent-Length: 1\r\n\r\n", 417},
        {"POST / HTTP/1.1\r\nExpect:\r\n\r\n", 417},
        {"POST / HTTP/1.1\r\nExpect: 100-continue, x\r\n\r\n", 417},
        {"GET / HTTP/1.1 \r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\n\r\n", 400},
        {"GET / HTTP/1.10\r\n\r\n", 400},
        {"GET /\r\n\r\n", 400},
        {"\r\nGET / HTTP/1.1\r\n\r\n", 400},
        {"G(T / HTTP/1.1\r\n\r\n", 400},
        {"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400},
        {"HEAD / HTTP/1.1\r\nContent-Length: 30\r\n\r\n", 400},
        {"TRACE / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"BREW / HTTP/1.1\r\nContent-Length: 3\r\n\r\n", 501}, /* unknown methods first */
        {"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nContent-Length: "
         "1\r\nContent-Length: 2\r\n\r\n",
         400},
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int got = framing(bad[i].raw, 4096, 1000, NULL);
        if (got != bad[i].status)
            fail_msg("want %d, got %d: %s", bad[i].status, got, bad[i].raw);
    }
}

/* The long runs of a head (target, header values) are skipped eight bytes at a
 * time: a refused byte at any offset of such a run, on either side of a word
 * boundary, is still refused, and an accepted one still accepted; framing()
 * also compares each answer with the byte-by-byte one. */
static void test_framing_long_runs(void **state)
{
    static const struct {
        unsigned char c;
        int in_target, in_value; /* status wanted */
    } cases[] = {
        {' ', 400, 0},    {'\t', 400, 0},   {0x7f, 400, 400}, {0x80, 400, 0},   {0xff, 400, 0},
        {0x01, 400, 400}, {0x1f, 400, 400}, {'\r', 400, 400}, {'\n', 400, 400}, {'%', 0, 0},
    };
    char raw[256];
    size_t i, pos;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (pos = 0; pos < 40; pos++) {
            char run[48];
            memset(run, 'a', sizeof(run) - 1);
            run[sizeof(run) - 1] = '\0';
            run[pos] = (char)cases[i].c;
            snprintf(raw, sizeof(raw), "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", run);
            if (framing(raw, 4096, 1000, NULL) != cases[i].in_target)
                fail_msg("target, 0x%02x at %zu: want %d", cases[i].c, pos, cases[i].in_target);
            snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nX-Long: %s\r\n\r\n", run);
            if (framing(raw, 4096, 1000, NULL) != cases[i].in_value)
                fail_msg("value, 0x%02x at %zu: want %d", cases[i].c, pos, cases[i].in_value);
        }
    }
    /* the head limit, exactly: a head of max_head bytes passes, one more is 431,
     * whether the last bytes are in the target or in a value */
    for (pos = 60; pos < 80; pos++) {
        char run[128];
        int n;
        memset(run, 'b', sizeof(run));
        n = snprintf(raw, sizeof(raw), "GET /%.*s HTTP/1.1\r\n\r\n", (int)(pos - 22), run);
        assert_int_equal(framing(raw, (size_t)n, 1000, NULL), 0);
        assert_int_equal(framing(raw, (size_t)n - 1, 1000, NULL), 431);
        n = snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nX: %.*s\r\n\r\n", (int)(pos - 23), run);
        assert_int_equal(framing(raw, (size_t)n, 1000, NULL), 0);
        assert_int_equal(framing(raw, (size_t)n - 1, 1000, NULL), 431);
        n = snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nX%.*s: v\r\n\r\n", (int)(pos - 24), run);
        assert_int_equal(framing(raw, (size_t)n, 1000, NULL), 0);
        assert_int_equal(framing(raw, (size_t)n - 1, 1000, NULL), 431);
    }
}

static void test_framing_nul_and_limits(void **state)
{
    static const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    struct tg_http_framing f;
    char big[2048];

    tg_http_framing_init(&f, 4096, 1000);
    assert_int_equal(tg_http_framing_feed(&f, nul, sizeof(nul) - 1), 400);
    tg_http_framing_init(&f, 4096, 1000);
    assert_int_equal(tg_http_framing_feed(&f, "GET / HTTP/1.1\r\n\0", 17), 400);
    /* the head limit counts every byte of the head, CRLFs included */
    memset(big, 'a', sizeof(big));
    tg_http_framing_init(&f, 1024, 1000);
    assert_int_equal(tg_http_framing_feed(&f, "GET / HTTP/1.1\r\nX: ", 19), 0);
    assert_int_equal(tg_http_framing_feed(&f, big, sizeof(big)), 431);
    /* sticky */
    assert_int_equal(tg_http_framing_feed(&f, "\r\n\r\n", 4), 431);
    /* the limit is per request: many pipelined small heads are fine */
    tg_http_framing_init(&f, 1024, 1000);
    {
        int i;
        for (i = 0; i < 100; i++)
            assert_int_equal(tg_http_framing_feed(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 0);
        assert_int_equal(f.requests, 100);
    }
    /* where the current request starts, for dropping a refused one and
     * keeping the complete ones before it */
    tg_http_framing_init(&f, 1024, 1000);
    assert_int_equal(
        tg_http_framing_feed(
            &f, "GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", 58),
        0);
    assert_int_equal(f.requests, 2);
    assert_int_equal(f.req_start, 58);
    assert_int_equal(
        tg_http_framing_feed(&f, "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                             56),
        400);
    assert_int_equal(f.req_start, 58);
    /* chunked body total over the limit */
    tg_http_framing_init(&f, 1024, 1000);
    assert_int_equal(
        tg_http_framing_feed(&f, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 47), 0);
    memset(big, 'b', 600);
    assert_int_equal(tg_http_framing_feed(&f, "258\r\n", 5), 0);
    assert_int_equal(tg_http_framing_feed(&f, big, 600), 0);
    assert_int_equal(tg_http_framing_feed(&f, "\r\n258\r\n", 7), 413);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_params_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_decode_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_empty_and_separators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_binary_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_encode_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_many, setup, teardown),
        cmocka_unit_test(test_split_target),
        cmocka_unit_test(test_path_canonical),
        cmocka_unit_test_setup_teardown(test_error_body, setup, teardown),
        cmocka_unit_test(test_error_types),
        cmocka_unit_test(test_hop_by_hop),
        cmocka_unit_test(test_connection_tokens),
        cmocka_unit_test(test_credential_headers),
        cmocka_unit_test_setup_teardown(test_identity_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorization, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorization_rejects, setup, teardown),
        cmocka_unit_test(test_form_content_type),
        cmocka_unit_test(test_time_params),
        cmocka_unit_test(test_framing_accepts),
        cmocka_unit_test(test_framing_refuses),
        cmocka_unit_test(test_framing_nul_and_limits),
        cmocka_unit_test(test_framing_long_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
