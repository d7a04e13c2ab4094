/* Unit tests for lib/alertmanager/ (matcher parser, filter rewrite, silence
 * parse / rewrite / ownership) and lib/json/dom.c. The matcher cases follow
 * Alertmanager 0.25's labels.ParseMatcher; the messages are the ones
 * Debian's prometheus-alertmanager 0.25 answers for the same filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tenantgate/alertmanager.h"
#include "tenantgate/jsondom.h"

static tg_arena_t A;

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

/* ---- matcher parser --------------------------------------------------------- */

static const char *const OPS[] = {"=", "!=", "=~", "!~"};

static void test_matcher_parse_ok(void **state)
{
    static const struct {
        const char *in, *name, *op, *value;
    } v[] = {
        {"foo=bar", "foo", "=", "bar"},
        {"foo=\"bar\"", "foo", "=", "bar"},
        {"  foo  =  \"bar\"  ", "foo", "=", "bar"},
        {"\t\n foo\f=\rbar \n", "foo", "=", "bar"},
        {"foo!=bar", "foo", "!=", "bar"},
        {"foo=~5..", "foo", "=~", "5.."},
        {"foo!~\"a|b\"", "foo", "!~", "a|b"},
        {"a:b_c9=x", "a:b_c9", "=", "x"},
        {":a=x", ":a", "=", "x"},
        {"foo=", "foo", "=", ""},
        {"foo=\"\"", "foo", "=", ""},
        {"foo=  ", "foo", "=", ""},
        {"foo==bar", "foo", "=", "=bar"}, /* the value may start with = */
        {"foo=~~x", "foo", "=~", "~x"},
        {"foo=\" a b \"", "foo", "=", " a b "}, /* quotes keep the spaces */
        {"foo=a b", "foo", "=", "a b"},
        {"q=\"She said: \\\"Hi\\\"\"", "q", "=", "She said: \"Hi\""},
        {"n=\"a\\nb\"", "n", "=", "a\nb"},
        {"n=\"a\nb\"", "n", "=", "a\nb"},   /* a literal line feed is tolerated */
        {"b=\"a\\\\b\"", "b", "=", "a\\b"}, /* \\ */
        {"b=\"a\\xb\"", "b", "=", "a\\xb"}, /* a spurious escape stays */
        {"b=a\\", "b", "=", "a\\"},         /* a trailing backslash is literal */
        {"b=\"a\\\\\"", "b", "=", "a\\"},
        {"u=\"n\xc3\xa4me\"", "u", "=", "n\xc3\xa4me"},
        {"r=~\"[a-z]+\"", "r", "=~", "[a-z]+"},
        {"r=~\"\"", "r", "=~", ""},
        {"c=a,b", "c", "=", "a,b"}, /* one filter is one matcher: commas are plain */
    };
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct tg_promql_matcher m;
        struct tg_am_error err;
        if (tg_am_matcher_parse(&A, tg_iov_str(v[i].in), &m, &err) != 0)
            fail_msg("%s: %s", v[i].in, err.msg);
        assert_true(tg_iov_eq_str(m.name, v[i].name));
        assert_string_equal(OPS[m.op], v[i].op);
        if (!tg_iov_eq_str(m.value, v[i].value))
            fail_msg("%s: value %.*s, want %s", v[i].in, TG_IOV_FMT(m.value), v[i].value);
    }
}

static void test_matcher_parse_errors(void **state)
{
    static const struct {
        const char *in, *msg;
        size_t pos;
    } v[] = {
        {"foo", "bad matcher format: foo", 3},
        {"", "bad matcher format: ", 0},
        {"1a=b", "bad matcher format: 1a=b", 0},
        {"a b=c", "bad matcher format: a b=c", 2},
        {"a~=b", "bad matcher format: a~=b", 1},
        {"a!b", "bad matcher format: a!b", 1},
        {"{a=b}", "bad matcher format: {a=b}", 0},
        {"a=\"b", "matcher value contains unescaped double quote: \"b", 4},
        {"a=b\"", "matcher value contains unescaped double quote: b\"", 3},
        {"a=\"b\"c\"", "matcher value contains unescaped double quote: \"b\"c\"", 4},
        {"a=\"", "matcher value contains unescaped double quote: \"", 3},
        {"a=\"b\\\"", "matcher value contains unescaped double quote: \"b\\\"", 6},
        {"a=\xff", "matcher value not valid UTF-8: \xff", 2},
        {"a=\"x\xc3\x28\"", "matcher value not valid UTF-8: \"x\xc3\x28\"", 4},
        {"a=\xed\xa0\x80", "matcher value not valid UTF-8: \xed\xa0\x80", 2}, /* a surrogate */
        {"a=~\"(\"", "error parsing regexp: missing closing ): `^(?:()$`", 3},
        {"a=~(", "error parsing regexp: missing closing ): `^(?:()$`", 3},
        {"a!~\"[a-\"", "error parsing regexp: invalid character class range: `a-)`", 3},
    };
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct tg_promql_matcher m;
        struct tg_am_error err;
        if (tg_am_matcher_parse(&A, tg_iov_str(v[i].in), &m, &err) == 0)
            fail_msg("%s: parsed", v[i].in);
        assert_int_equal(err.status, 400);
        assert_int_equal(err.code, 0);
        if (strcmp(err.msg, v[i].msg) != 0 || err.pos != v[i].pos)
            fail_msg("%s:\n  got  %s (pos %zu)\n  want %s (pos %zu)", v[i].in, err.msg, err.pos,
                     v[i].msg, v[i].pos);
    }
}

/* printing gives Alertmanager's spelling, which parses back to the same */
static void test_matcher_print_roundtrip(void **state)
{
    static const char *const v[] = {"a=b",         "a!=\"x y\"", "a=~\"\\\\d+\"", "q=\"\\\"\"",
                                    "n=\"a\\nb\"", "e=",         "b=\"a\\\\\"",   "s=\"a\\xb\""};
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct tg_promql_matcher m, m2;
        struct tg_am_error err;
        tg_sb_t sb;
        assert_int_equal(tg_am_matcher_parse(&A, tg_iov_str(v[i]), &m, &err), 0);
        tg_sb_init(&sb, &A, 32);
        tg_am_matcher_print(&sb, &m);
        assert_int_equal(tg_am_matcher_parse(&A, tg_sb_iov(&sb), &m2, &err), 0);
        assert_true(tg_iov_eq(m.name, m2.name));
        assert_int_equal(m.op, m2.op);
        if (!tg_iov_eq(m.value, m2.value))
            fail_msg("%s printed as %s", v[i], tg_sb_cstr(&sb));
    }
    {
        struct tg_promql_matcher m = {NULL, TG_IOV_LIT("x"), TG_IOV_LIT("a\"b\\c\nd"),
                                      TG_PROMQL_NRE, 0};
        tg_sb_t sb;
        tg_sb_init(&sb, &A, 32);
        tg_am_matcher_print(&sb, &m);
        assert_string_equal(tg_sb_cstr(&sb), "x!~\"a\\\"b\\\\c\\nd\"");
    }
}

/* ---- filter rewrite ----------------------------------------------------------- */

/* Runs the rewrite and joins the output with " & ", or "ERR <msg>". */
static const char *rewrite(const char *const *in, size_t n, size_t n_values, int eor, int inject)
{
    static const tg_iovec_t values[] = {TG_IOV_LIT("alpha"), TG_IOV_LIT("team.a")};
    struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), values, n_values, eor, 0};
    tg_iovec_t iv[8] = {TG_IOV_NULL}, *out;
    struct tg_am_error err;
    size_t i, n_out;
    tg_sb_t sb;

    for (i = 0; i < n; i++)
        iv[i] = tg_iov_str(in[i]);
    if (tg_am_filter_rewrite(&A, iv, n, &e, inject, &out, &n_out, &err) != 0)
        return tg_arena_printf(&A, "ERR %s", err.msg);
    tg_sb_init(&sb, &A, 64);
    for (i = 0; i < n_out; i++) {
        if (i)
            tg_sb_adds(&sb, " & ");
        tg_sb_addiov(&sb, out[i]);
    }
    return tg_sb_cstr(&sb);
}

static void test_filter_rewrite(void **state)
{
#define ONE "namespace=\"alpha\""
#define TWO "namespace=~\"alpha|team\\\\.a\""
    static const struct {
        const char *in[3];
        const char *one, *one_eor, *two, *two_eor; /* "E" = refused */
    } v[] = {
        {{NULL}, ONE, ONE, TWO, TWO},
        {{"alertname=Foo"},
         ONE " & alertname=\"Foo\"",
         ONE " & alertname=\"Foo\"",
         TWO " & alertname=\"Foo\"",
         TWO " & alertname=\"Foo\""},
        {{"namespace=alpha"},
         ONE,
         ONE " & " ONE,
         TWO " & namespace=\"alpha\"",
         TWO " & namespace=\"alpha\""},
        {{"namespace=team.a"},
         ONE,
         "E",
         TWO " & namespace=\"team.a\"",
         TWO " & namespace=\"team.a\""},
        {{"namespace=beta"}, ONE, "E", TWO " & namespace=\"beta\"", "E"},
        {{"namespace!=alpha"},
         ONE,
         "E",
         TWO " & namespace!=\"alpha\"",
         TWO " & namespace!=\"alpha\""},
        {{"namespace!=beta"},
         ONE,
         ONE " & namespace!=\"beta\"",
         TWO " & namespace!=\"beta\"",
         TWO " & namespace!=\"beta\""},
        {{"namespace=~\"al.*\""},
         ONE,
         ONE " & namespace=~\"al.*\"",
         TWO " & namespace=~\"al.*\"",
         TWO " & namespace=~\"al.*\""},
        {{"namespace=~be.*"}, ONE, "E", TWO " & namespace=~\"be.*\"", "E"},
        {{"namespace!~\".*\""}, ONE, "E", TWO " & namespace!~\".*\"", "E"},
        {{"namespace!~team.*", " severity = \"page\" "},
         ONE " & severity=\"page\"",
         ONE " & namespace!~\"team.*\" & severity=\"page\"",
         TWO " & namespace!~\"team.*\" & severity=\"page\"",
         TWO " & namespace!~\"team.*\" & severity=\"page\""},
        {{"alertname=Foo", "bad"}, "E", "E", "E", "E"},
    };
#undef ONE
#undef TWO
    size_t i, k;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const char *want[4] = {v[i].one, v[i].one_eor, v[i].two, v[i].two_eor};
        size_t n = 0;
        while (n < 3 && v[i].in[n])
            n++;
        for (k = 0; k < 4; k++) {
            const char *got = rewrite(v[i].in, n, k < 2 ? 1 : 2, (int)(k & 1), 1);
            int ok = strcmp(want[k], "E") == 0 ? strncmp(got, "ERR ", 4) == 0
                                               : strcmp(got, want[k]) == 0;
            if (!ok)
                fail_msg("case %zu (%s), %s value(s)%s:\n  got  %s\n  want %s", i,
                         v[i].in[0] ? v[i].in[0] : "", k < 2 ? "one" : "two",
                         k & 1 ? ", error_on_replace" : "", got, want[k]);
        }
    }
    {
        /* silences with several values: nothing injected, the user's kept */
        static const char *const in[] = {"namespace=alpha", "a=b"};
        assert_string_equal(rewrite(in, 2, 2, 0, 0), "namespace=\"alpha\" & a=\"b\"");
        assert_string_equal(rewrite(NULL, 0, 2, 0, 0), "");
        /* the error names the filter and where in it */
        static const char *const bad[] = {"a=b", "a=\"x"};
        assert_string_equal(
            rewrite(bad, 2, 1, 0, 1),
            "ERR matcher value contains unescaped double quote: \"x (filter 2, byte 4)");
        static const char *const conflict[] = {"namespace=\"beta\""};
        assert_string_equal(
            rewrite(conflict, 1, 1, 1, 1),
            "ERR filter 1: label matcher namespace=\"beta\" conflicts with the tenant values");
    }
}

/* ---- silences ------------------------------------------------------------------ */

#define TIMES "\"startsAt\":\"2030-01-01T00:00:00Z\",\"endsAt\":\"2030-01-02T00:00:00Z\""
#define REST  TIMES ",\"createdBy\":\"me\",\"comment\":\"c\""

static void test_silence_parse_errors(void **state)
{
    static const struct {
        const char *body;
        int status, code;
        const char *msg; /* prefix */
    } v[] = {
        {"", 422, 602, "silence in body is required"},
        {" \n", 422, 602, "silence in body is required"},
        {"{", 400, 400, "parsing silence body from \"\" failed, because offset"},
        {"{}x", 400, 400, "parsing silence body from \"\" failed, because offset"},
        {"{} {}", 400, 400, "parsing silence body from \"\" failed, because offset"},
        {"/* c */ {}", 400, 400, "parsing silence body from \"\" failed, because offset"},
        {"[]", 400, 400,
         "parsing silence body from \"\" failed, because the silence is an array, not an object"},
        {"{" REST "}", 422, 602, "matchers in body is required"},
        {"{\"matchers\":null," REST "}", 422, 602, "matchers in body is required"},
        {"{\"matchers\":[]," REST "}", 422, 612, "matchers in body should have at least 1 items"},
        {"{\"matchers\":{}," REST "}", 400, 400,
         "parsing silence body from \"\" failed, because matchers is an object, not an array"},
        {"{\"matchers\":[5]," REST "}", 400, 400,
         "parsing silence body from \"\" failed, because matchers.0 is a number"},
        {"{\"matchers\":[{\"value\":\"b\",\"isRegex\":false}]," REST "}", 422, 602,
         "matchers.0.name in body is required"},
        {"{\"matchers\":[{\"name\":\"a\",\"isRegex\":false}]," REST "}", 422, 602,
         "matchers.0.value in body is required"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}]," REST "}", 422, 602,
         "matchers.0.isRegex in body is required"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\",\"isRegex\":\"no\"}]," REST "}", 400, 400,
         "parsing silence body from \"\" failed, because matchers.0.isRegex is a string, not a "
         "boolean"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\",\"isRegex\":false,\"isEqual\":1}]," REST
         "}",
         400, 400, "parsing silence body from \"\" failed, because matchers.0.isEqual is a number"},
        {"{\"matchers\":[{\"name\":1,\"value\":\"b\",\"isRegex\":false}]," REST "}", 400, 400,
         "parsing silence body from \"\" failed, because matchers.0.name is a number"},
        {"{\"id\":5,\"matchers\":[{\"name\":\"a\",\"value\":\"b\",\"isRegex\":false}]," REST "}",
         400, 400, "parsing silence body from \"\" failed, because id is a number"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\",\"isRegex\":false}]," TIMES
         ",\"createdBy\":\"me\"}",
         422, 602, "comment in body is required"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\",\"isRegex\":false}]," REST
         ",\"comment\":\"again\"}",
         400, 400, "parsing silence body from \"\" failed, because offset"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\",\"isRegex\":false,\"name\":\"c\"}]," REST
         "}",
         400, 400, "parsing silence body from \"\" failed, because offset"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\",\"isRegex\":false}]," REST
         ",\"annotations\":{\"a\":1}}",
         400, 400, "parsing silence body from \"\" failed, because an annotation is a number"},
        {"{\"matcherSets\":[{\"matchers\":[]}]," REST "}", 400, 0,
         "silences with several matcher sets"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"\xff\",\"isRegex\":false}]," REST "}", 400,
         400, "parsing silence body from \"\" failed, because offset"},
    };
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct tg_am_silence s;
        struct tg_am_error err;
        if (tg_am_silence_parse(&A, v[i].body, strlen(v[i].body), &s, &err) == 0)
            fail_msg("parsed: %s", v[i].body);
        if (err.status != v[i].status || err.code != v[i].code ||
            strncmp(err.msg, v[i].msg, strlen(v[i].msg)) != 0)
            fail_msg("%s:\n  got  %d %d %s\n  want %d %d %s", v[i].body, err.status, err.code,
                     err.msg, v[i].status, v[i].code, v[i].msg);
    }
}

static struct tg_am_silence parse_ok(const char *body)
{
    struct tg_am_silence s;
    struct tg_am_error err;
    if (tg_am_silence_parse(&A, body, strlen(body), &s, &err) != 0)
        fail_msg("%s: %s", body, err.msg);
    return s;
}

/* Rewrite for values[0..n), or "ERR <msg>". */
static const char *srewrite(const char *body, size_t n_values, int eor)
{
    static const tg_iovec_t values[] = {TG_IOV_LIT("alpha"), TG_IOV_LIT("beta")};
    struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), values, n_values, eor, 0};
    struct tg_am_silence s = parse_ok(body);
    struct tg_am_error err;
    tg_sb_t out;

    tg_sb_init(&out, &A, 256);
    if (tg_am_silence_rewrite(&A, &s, &e, &out, &err) != 0) {
        assert_int_equal(err.status, 400);
        assert_int_equal(err.code, 0);
        return tg_arena_printf(&A, "ERR %s", err.msg);
    }
    return tg_sb_cstr(&out);
}

#define M(n, v) "{\"name\":\"" n "\",\"value\":\"" v "\",\"isRegex\":false}"
#define MX(n, v, r, e)                                                                             \
    "{\"name\":\"" n "\",\"value\":\"" v "\",\"isRegex\":" r ",\"isEqual\":" e "}"
#define OUT(n, v, r, e)                                                                            \
    "{\"name\":\"" n "\",\"value\":\"" v "\",\"isRegex\":" r ",\"isEqual\":" e "}"
#define TENANT(v) OUT("namespace", v, "false", "true")
#define BODY(ms)  "{\"matchers\":[" ms "]," REST "}"
#define WANT(ms)  "{\"matchers\":[" ms "]," REST "}"

static void test_silence_rewrite(void **state)
{
    static const struct {
        const char *body, *one, *two; /* with alpha; with alpha and beta ("ERR" prefix) */
    } v[] = {
        /* no matcher on the label: the tenant's added (two values: which one?) */
        {BODY(M("alertname", "A")),
         WANT(TENANT("alpha") "," OUT("alertname", "A", "false", "true")), "ERR"},
        /* aimed at another namespace: replaced by the own one */
        {BODY(M("namespace", "gamma") "," M("alertname", "A")),
         WANT(TENANT("alpha") "," OUT("alertname", "A", "false", "true")), "ERR"},
        /* the own one kept; with two values it picks beta */
        {BODY(M("namespace", "beta") "," M("alertname", "A")),
         WANT(TENANT("alpha") "," OUT("alertname", "A", "false", "true")),
         WANT(TENANT("beta") "," OUT("alertname", "A", "false", "true"))},
        /* a regex on the label is removed, never kept */
        {BODY(MX("namespace", ".*", "true", "true") "," M("alertname", "A")),
         WANT(TENANT("alpha") "," OUT("alertname", "A", "false", "true")), "ERR"},
        {BODY(MX("namespace", "alpha", "true", "true") "," M("namespace", "alpha")),
         WANT(TENANT("alpha")), WANT(TENANT("alpha"))},
        /* isEqual: false on the label is no owner */
        {BODY(MX("namespace", "beta", "false", "false")), WANT(TENANT("alpha")), "ERR"},
        /* only the tenant matcher left: silences all the tenant's alerts */
        {BODY(M("namespace", "alpha")), WANT(TENANT("alpha")), WANT(TENANT("alpha"))},
        /* two owned values named: ambiguous */
        {BODY(M("namespace", "alpha") "," M("namespace", "beta")), WANT(TENANT("alpha")), "ERR"},
        /* other matchers keep their type */
        {BODY(M("namespace", "alpha") "," MX("sev", "crit|page", "true", "false")),
         WANT(TENANT("alpha") "," OUT("sev", "crit|page", "true", "false")),
         WANT(TENANT("alpha") "," OUT("sev", "crit|page", "true", "false"))},
    };
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const char *got = srewrite(v[i].body, 1, 0);
        if (strcmp(got, v[i].one) != 0)
            fail_msg("%s\n  got  %s\n  want %s", v[i].body, got, v[i].one);
        got = srewrite(v[i].body, 2, 0);
        if (strncmp(v[i].two, "ERR", 3) == 0 ? strncmp(got, "ERR", 3) != 0
                                             : strcmp(got, v[i].two) != 0)
            fail_msg("%s (two values)\n  got  %s\n  want %s", v[i].body, got, v[i].two);
    }
    /* the id, annotations and strings come out as given; unknown fields are dropped */
    assert_string_equal(
        srewrite("{\"id\":\"x\",\"matchers\":[" M(
                     "a", "b\\\"c") "]," REST
                                    ",\"annotations\":{\"k\":\"v\"},\"unknown\":[1,{\"a\":null}]}",
                 1, 0),
        "{\"id\":\"x\",\"matchers\":[" TENANT("alpha") "," OUT(
            "a", "b\\\"c", "false", "true") "]," REST ",\"annotations\":{\"k\":\"v\"}}");
    /* "id": "" is a new silence, as in Alertmanager */
    assert_int_equal(parse_ok("{\"id\":\"\",\"matchers\":[" M("a", "b") "]," REST "}").has_id, 0);
    assert_int_equal(parse_ok("{\"id\":null,\"matchers\":[" M("a", "b") "]," REST "}").has_id, 0);
    assert_int_equal(parse_ok("{\"id\":\"i\",\"matchers\":[" M("a", "b") "]," REST "}").has_id, 1);
    /* error_on_replace: a matcher on the label outside the tenant set is refused */
    assert_string_equal(srewrite(BODY(M("namespace", "gamma")), 1, 1),
                        "ERR silence matcher namespace=\"gamma\" conflicts with the tenant values");
    assert_string_equal(srewrite(BODY(MX("namespace", "al.*", "true", "true")), 1, 1),
                        WANT(TENANT("alpha")));
    assert_string_equal(
        srewrite(BODY(M("namespace", "beta") "," MX("namespace", "gamma", "false", "false")), 2, 1),
        WANT(TENANT("beta")));
    assert_non_null(
        strstr(srewrite(BODY(M("alertname", "A")), 2, 0),
               "several values of namespace (alpha|beta): the silence needs a matcher"));
    assert_non_null(strstr(srewrite(BODY(M("namespace", "alpha") "," M("namespace", "beta")), 2, 0),
                           "it names alpha and beta"));
}

static void test_silence_owner(void **state)
{
    static const tg_iovec_t values[] = {TG_IOV_LIT("alpha"), TG_IOV_LIT("beta")};
    struct tg_promql_enforce one = {TG_IOV_LIT("namespace"), values, 1, 0, 0};
    struct tg_promql_enforce two = {TG_IOV_LIT("namespace"), values, 2, 0, 0};
    static const struct {
        const char *matchers;
        const char *owner_one, *owner_two; /* NULL = not owned */
    } v[] = {
        {M("namespace", "alpha"), "alpha", "alpha"},
        {M("alertname", "A") "," M("namespace", "beta"), NULL, "beta"},
        {MX("namespace", "alpha", "false", "true"), "alpha", "alpha"},
        {MX("namespace", "alpha", "false", "false"), NULL, NULL}, /* namespace!="alpha" */
        {MX("namespace", "alpha", "true", "true"), NULL, NULL},   /* a regex, even a literal one */
        {MX("namespace", "alpha|beta", "true", "true"), NULL, NULL},
        {M("namespace", "gamma"), NULL, NULL},
        {M("Namespace", "alpha"), NULL, NULL},
        {M("namespace", ""), NULL, NULL},
        {MX("namespace", "alpha", "false", "false") "," M("namespace", "beta"), NULL, "beta"},
    };
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct tg_am_silence s = parse_ok(tg_arena_printf(
            &A, "{\"id\":\"x\",\"matchers\":[%s]," REST ",\"status\":{\"state\":\"active\"}}",
            v[i].matchers));
        tg_iovec_t owner;
        int r1 = tg_am_silence_owner(&s, &one, &owner);
        assert_int_equal(r1, v[i].owner_one != NULL);
        if (r1)
            assert_true(tg_iov_eq_str(owner, v[i].owner_one));
        r1 = tg_am_silence_owner(&s, &two, &owner);
        assert_int_equal(r1, v[i].owner_two != NULL);
        if (r1)
            assert_true(tg_iov_eq_str(owner, v[i].owner_two));
    }
}

static void test_silence_id(void **state)
{
    assert_true(tg_am_silence_id_ok(TG_IOV_LIT("38ecd627-a4bd-455c-b005-291be2f0cae9")));
    assert_true(tg_am_silence_id_ok(TG_IOV_LIT("38ECD627-A4BD-455C-B005-291BE2F0CAE9")));
    assert_false(tg_am_silence_id_ok(TG_IOV_LIT("38ecd627a4bd455cb005291be2f0cae9")));
    assert_false(tg_am_silence_id_ok(TG_IOV_LIT("38ecd627-a4bd-455c-b005-291be2f0cae")));
    assert_false(tg_am_silence_id_ok(TG_IOV_LIT("38ecd627-a4bd-455c-b005-291be2f0cae9a")));
    assert_false(tg_am_silence_id_ok(TG_IOV_LIT("38ecd627-a4bd-455c-b005-291be2f0caeg")));
    assert_false(tg_am_silence_id_ok(TG_IOV_LIT("../../api/v2/status-aaaa-aaaaaaaaaaaa")));
    assert_false(tg_am_silence_id_ok(TG_IOV_LIT("")));
}

/* ---- JSON tree -------------------------------------------------------------------- */

static void test_json_dom(void **state)
{
    struct tg_json *root;
    char err[200];
    tg_sb_t out;
    const char *in = " {\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\\\"\"],\"b\":{},\"\":\"e\"} ";

    assert_int_equal(tg_json_parse(&A, in, strlen(in), 0, &root, err, sizeof(err)), 0);
    assert_int_equal(root->type, TG_JSON_OBJECT);
    assert_int_equal(root->n, 3);
    assert_int_equal(tg_json_get(root, "a")->n, 6);
    assert_int_equal(tg_json_get(root, "b")->type, TG_JSON_OBJECT);
    assert_true(tg_iov_eq_str(tg_json_get(root, "")->text, "e"));
    assert_null(tg_json_get(root, "c"));
    assert_null(tg_json_get(tg_json_get(root, "a"), "x"));
    tg_sb_init(&out, &A, 64);
    tg_json_write(&out, root);
    assert_string_equal(tg_sb_cstr(&out),
                        "{\"a\":[1,-2.5e3,true,false,null,\"x\xc3\xa9\\\"\"],\"b\":{},\"\":\"e\"}");

    static const char *const bad[] = {
        "",         "{",       "{\"a\":1,\"a\":2}", "{\"a\":{\"b\":1,\"c\":2,\"b\":3}}",
        "[1] [2]",  "// c\n1", "{'a':1}",           "[1,]",
        "\"\xff\"", "nul",     "{\"a\" 1}",         "[\"\\x\"]"};
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (tg_json_parse(&A, bad[i], strlen(bad[i]), 0, &root, err, sizeof(err)) == 0)
            fail_msg("parsed: %s", bad[i]);
    assert_int_equal(tg_json_parse(&A, "{\"a\":1,\"a\":2}", 13, 0, &root, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "duplicate key"));
    /* depth: 3 levels allowed with max_depth 3, not 4 */
    assert_int_equal(tg_json_parse(&A, "[[[1]]]", 7, 3, &root, err, sizeof(err)), 0);
    assert_int_equal(tg_json_parse(&A, "[[[[1]]]]", 9, 3, &root, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nested too deeply"));
    /* many keys: duplicates found without quadratic work */
    {
        tg_sb_t big;
        tg_sb_init(&big, &A, 1 << 20);
        tg_sb_addc(&big, '{');
        for (i = 0; i < 50000; i++)
            tg_sb_printf(&big, "%s\"k%zu\":%zu", i ? "," : "", i, i);
        tg_sb_adds(&big, ",\"k17\":0}");
        assert_int_equal(tg_json_parse(&A, big.base, big.len, 0, &root, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "duplicate key"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matcher_parse_ok),
        cmocka_unit_test(test_matcher_parse_errors),
        cmocka_unit_test(test_matcher_print_roundtrip),
        cmocka_unit_test(test_filter_rewrite),
        cmocka_unit_test(test_silence_parse_errors),
        cmocka_unit_test(test_silence_rewrite),
        cmocka_unit_test(test_silence_owner),
        cmocka_unit_test(test_silence_id),
        cmocka_unit_test(test_json_dom),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
