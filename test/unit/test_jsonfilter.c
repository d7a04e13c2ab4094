/* Unit tests for lib/json/filter.c: streaming filters of /api/v1/rules,
 * /api/v1/alerts and /api/v1/metadata responses, and of the Alertmanager
 * API's alerts, groups, silences and status. Fixtures under
 * test/unit/data/jsonfilter/ were captured from Prometheus 2.42 and
 * Alertmanager 0.25 (see docs/http.md for how). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "tenantgate/jsonfilter.h"
#include "tenantgate/sb.h"
#include "jf_oracle.h"

#define IOV(s) tg_iov_str(s)

static void collect(void *arg, const char *buf, size_t len)
{
    assert_true(len > 0);
    tg_sb_add(arg, buf, len);
}

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    FILE *fp;
    long n;
    char *buf;

    snprintf(path, sizeof(path), "%s/test/unit/data/jsonfilter/%s", TG_SOURCE_DIR, name);
    fp = fopen(path, "rb");
    if (fp == NULL)
        fail_msg("cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

struct run {
    enum tg_jf_kind kind;
    const char *const *values;
    size_t n_values;
    const char *const *names;
    size_t n_names;
};

/* Filter `in` fed in pieces of `chunk` bytes (0: one piece). Returns 0/-1,
 * output appended to `out`; on error the message is stored in *err. */
static int run_filter(const struct run *r, const char *in, size_t len, size_t chunk, tg_sb_t *out,
                      char *err, size_t errlen)
{
    tg_iovec_t vals[16], names[16];
    struct tg_jf *f;
    size_t i;
    int rc = 0;

    for (i = 0; i < r->n_values; i++)
        vals[i] = IOV(r->values[i]);
    for (i = 0; i < r->n_names; i++)
        names[i] = IOV(r->names[i]);
    f = tg_jf_new(r->kind, IOV("namespace"), vals, r->n_values, collect, out);
    assert_non_null(f);
    if (r->kind == TG_JF_METADATA)
        assert_int_equal(tg_jf_set_metric_names(f, names, r->n_names), 0);
    if (chunk == 0)
        chunk = len ? len : 1;
    for (i = 0; i < len && rc == 0; i += chunk)
        rc = tg_jf_feed(f, in + i, len - i < chunk ? len - i : chunk);
    if (rc == 0)
        rc = tg_jf_finish(f);
    if (rc != 0) {
        assert_non_null(tg_jf_error(f));
        if (err)
            snprintf(err, errlen, "%s", tg_jf_error(f));
    } else {
        assert_null(tg_jf_error(f));
    }
    tg_jf_free(f);
    return rc;
}

static char *filter_ok(const struct run *r, const char *in)
{
    tg_sb_t out;
    char err[256];
    tg_sb_init(&out, NULL, 0);
    if (run_filter(r, in, strlen(in), 0, &out, err, sizeof(err)) != 0)
        fail_msg("filter failed: %s\ninput: %s", err, in);
    return out.base; /* caller frees */
}

static void expect(const struct run *r, const char *in, const char *want)
{
    char *got = filter_ok(r, in);
    if (strcmp(got, want) != 0)
        fail_msg("\ninput: %s\n got: %s\nwant: %s", in, got, want);
    free(got);
}

static void expect_error(const struct run *r, const char *in, const char *msg_part)
{
    tg_sb_t out;
    char err[256];
    tg_sb_init(&out, NULL, 0);
    if (run_filter(r, in, strlen(in), 0, &out, err, sizeof(err)) != -1)
        fail_msg("accepted: %s\noutput: %s", in, out.base);
    if (msg_part && strstr(err, msg_part) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, msg_part);
    tg_sb_free(&out);
}

/* Output must be valid JSON and equal to the DOM oracle's; chunking at every
 * byte boundary (and feeding byte by byte) must not change it. */
static char *check_all_ways(const struct run *r, const char *in, size_t len)
{
    struct jfo o = {r->kind, "namespace", r->values, r->n_values, r->names, r->n_names, NULL};
    tg_sb_t whole, ref;
    char err[256], *s;
    yajl_val v;
    size_t cut;

    tg_sb_init(&whole, NULL, 0);
    if (run_filter(r, in, len, 0, &whole, err, sizeof(err)) != 0)
        fail_msg("filter failed: %s", err);
    tg_sb_init(&ref, NULL, 0);
    o.out = &ref;
    assert_int_equal(jfo_run(&o, in), 0);
    assert_string_equal(whole.base, ref.base);
    v = yajl_tree_parse(whole.base, err, sizeof(err));
    if (v == NULL)
        fail_msg("output is not JSON: %s", err);
    yajl_tree_free(v);
    for (cut = 1; cut < len; cut++) {
        tg_sb_t two;
        struct tg_jf *f;
        tg_iovec_t vals[16], names[16];
        size_t i;
        for (i = 0; i < r->n_values; i++)
            vals[i] = IOV(r->values[i]);
        for (i = 0; i < r->n_names; i++)
            names[i] = IOV(r->names[i]);
        tg_sb_init(&two, NULL, 0);
        f = tg_jf_new(r->kind, IOV("namespace"), vals, r->n_values, collect, &two);
        tg_jf_set_metric_names(f, names, r->n_names);
        assert_int_equal(tg_jf_feed(f, in, cut), 0);
        assert_int_equal(tg_jf_feed(f, in + cut, len - cut), 0);
        assert_int_equal(tg_jf_finish(f), 0);
        tg_jf_free(f);
        if (strcmp(two.base, whole.base) != 0)
            fail_msg("split at %zu differs", cut);
        tg_sb_free(&two);
    }
    {
        tg_sb_t bytes;
        tg_sb_init(&bytes, NULL, 0);
        assert_int_equal(run_filter(r, in, len, 1, &bytes, NULL, 0), 0);
        assert_string_equal(bytes.base, whole.base);
        tg_sb_free(&bytes);
    }
    tg_sb_free(&ref);
    s = whole.base;
    return s;
}

static void assert_absent(const char *out, const char *s)
{
    if (strstr(out, s) != NULL)
        fail_msg("\"%s\" leaked into: %s", s, out);
}

static void assert_present(const char *out, const char *s)
{
    if (strstr(out, s) == NULL)
        fail_msg("\"%s\" missing from: %s", s, out);
}

/* ---- RULES --------------------------------------------------------------- */

static const char *const alpha[] = {"alpha"};
static const char *const alpha_beta[] = {"alpha", "beta"};

static void test_rules_fixture_alpha(void **state)
{
    struct run r = {TG_JF_RULES, alpha, 1, NULL, 0};
    size_t len;
    char *in = slurp("rules.json", &len), *out = check_all_ways(&r, in, len);

    assert_present(out, "\"name\":\"alpha-group\"");
    assert_present(out, "\"name\":\"AlphaHigh\"");
    assert_present(out, "\"name\":\"alpha:up:sum\"");
    assert_present(out, "alpha \\\"quoted\\\" <b> & \xc3\xbcn\xc3\xaf"
                        "c\xc3\xb6"
                        "d\xc3\xa9");
    assert_present(out, "\"evaluationTime\":0.000914515"); /* numbers verbatim */
    assert_present(out, "\"interval\":1,\"limit\":0");
    /* the mixed group only has rules without a namespace or of other tenants */
    assert_absent(out, "\"mixed\"");
    assert_absent(out, "beta");
    assert_absent(out, "gamma");
    assert_absent(out, "PerNamespace");
    assert_absent(out, "global:sum");
    assert_absent(out, "secret-beta-team");
    free(out);
    free(in);
}

static void test_rules_fixture_two_tenants(void **state)
{
    struct run r = {TG_JF_RULES, alpha_beta, 2, NULL, 0};
    size_t len;
    char *in = slurp("rules.json", &len), *out = check_all_ways(&r, in, len);

    assert_present(out, "\"name\":\"alpha-group\"");
    assert_present(out, "\"name\":\"beta-only\"");
    assert_present(out, "\"name\":\"mixed\"");
    assert_present(out, "\"name\":\"BetaDown\"");
    assert_absent(out, "gamma");
    assert_absent(out, "GammaPending");
    assert_absent(out, "PerNamespace"); /* the rule has no namespace label */
    assert_absent(out, "global:sum");
    free(out);
    free(in);
}

static void test_rules_unknown_tenant_gets_empty_groups(void **state)
{
    static const char *const nobody[] = {"delta"};
    struct run r = {TG_JF_RULES, nobody, 1, NULL, 0};
    size_t len;
    char *in = slurp("rules.json", &len), *out = check_all_ways(&r, in, len);
    assert_string_equal(out, "{\"status\":\"success\",\"data\":{\"groups\":[]}}");
    free(out);
    free(in);
}

static void test_rules_alerts_inside_rule(void **state)
{
    struct run r = {TG_JF_RULES, alpha, 1, NULL, 0};
    /* labels after alerts; an alert of another tenant inside an alpha rule
     * (only possible with a hand-made or relabelled upstream) is dropped */
    expect(&r,
           "{\"status\":\"success\",\"data\":{\"groups\":[{\"name\":\"g\",\"rules\":["
           "{\"name\":\"R\",\"alerts\":[{\"labels\":{\"namespace\":\"beta\"},\"value\":\"1\"},"
           "{\"value\":\"2\",\"labels\":{\"namespace\":\"alpha\"}},{\"labels\":{}},"
           "{\"labels\":{\"namespace\":\"alpha\"},\"value\":\"3\"}],"
           "\"labels\":{\"severity\":\"x\",\"namespace\":\"alpha\"},\"type\":\"alerting\"}],"
           "\"interval\":30}]}}",
           "{\"status\":\"success\",\"data\":{\"groups\":[{\"name\":\"g\",\"rules\":["
           "{\"name\":\"R\",\"alerts\":[{\"value\":\"2\",\"labels\":{\"namespace\":\"alpha\"}},"
           "{\"labels\":{\"namespace\":\"alpha\"},\"value\":\"3\"}],"
           "\"labels\":{\"severity\":\"x\",\"namespace\":\"alpha\"},\"type\":\"alerting\"}],"
           "\"interval\":30}]}}");
}

static void test_rules_commas_when_first_items_dropped(void **state)
{
    struct run r = {TG_JF_RULES, alpha, 1, NULL, 0};
    expect(
        &r,
        "{\"data\":{\"groups\":[{\"rules\":[{\"labels\":{\"namespace\":\"b\"}}]},"
        "{\"rules\":[]},{\"rules\":null},{},"
        "{\"name\":\"k\",\"rules\":[{\"labels\":{\"namespace\":\"b\"}},{\"labels\":{\"namespace\":"
        "\"alpha\"},\"n\":1},{\"labels\":{\"namespace\":\"c\"}},{\"labels\":{\"namespace\":"
        "\"alpha\"},\"n\":2}]},{\"rules\":[{\"labels\":{\"namespace\":\"b\"}}]}]},"
        "\"status\":\"success\"}",
        "{\"data\":{\"groups\":[{\"name\":\"k\",\"rules\":[{\"labels\":{\"namespace\":"
        "\"alpha\"},\"n\":1},{\"labels\":{\"namespace\":\"alpha\"},\"n\":2}]}]},"
        "\"status\":\"success\"}");
}

static void test_rules_label_edge_cases(void **state)
{
    struct run r = {TG_JF_RULES, alpha, 1, NULL, 0};
    const char *pre = "{\"data\":{\"groups\":[{\"rules\":[";
    const char *post = "]}]}}";
    static const char *const dropped[] = {
        "{\"name\":\"nolabels\"}",
        "{\"labels\":null}",
        "{\"labels\":{\"namespace\":\"\"}}",
        "{\"labels\":{\"namespace\":\"alphax\"}}",
        "{\"labels\":{\"namespace\":\"Alpha\"}}",
        "{\"labels\":{\"namespace\":\"alpha\\u0000\"}}",
        "{\"labels\":{\"namespace\":1}}",
        "{\"labels\":{\"namespace\":[\"alpha\"]}}",
        "{\"labels\":{\"namespace\":{\"alpha\":\"alpha\"}}}",
        "{\"labels\":{\"namespace\":null}}",
        "{\"labels\":{\"namespace\":\"alpha\",\"namespace\":\"beta\"}}", /* duplicate key */
        "{\"labels\":{\"namespace\":\"beta\",\"namespace\":\"alpha\"}}",
        "{\"labels\":{\"namespace\":\"alpha\"},\"labels\":{\"namespace\":\"beta\"}}",
        "{\"labels\":{\"Namespace\":\"alpha\"}}",
        "{\"labels\":{\"namespac\":\"alpha\"}}",
        "{\"annotations\":{\"namespace\":\"alpha\"}}",
        "{\"x\":{\"labels\":{\"namespace\":\"alpha\"}}}",
        NULL,
    };
    static const char *const kept[] = {
        "{\"labels\":{\"namespace\":\"alpha\"}}",
        "{\"labels\":{\"n\\u0061mespace\":\"\\u0061lpha\"}}", /* escapes are decoded */
        "{\"labels\":{\"namespace\":\"alpha\",\"namespace\":\"alpha\"}}",
        "{\"labels\":{\"namespace\":\"alpha\"},\"labels\":null}",
        NULL,
    };
    size_t i;
    char in[512], *out;

    for (i = 0; dropped[i]; i++) {
        snprintf(in, sizeof(in), "%s%s%s", pre, dropped[i], post);
        out = filter_ok(&r, in);
        if (strcmp(out, "{\"data\":{\"groups\":[]}}") != 0)
            fail_msg("kept %s: %s", dropped[i], out);
        free(out);
    }
    for (i = 0; kept[i]; i++) {
        snprintf(in, sizeof(in), "%s%s%s", pre, kept[i], post);
        out = filter_ok(&r, in);
        if (strstr(out, "\"rules\":[{") == NULL)
            fail_msg("dropped %s: %s", kept[i], out);
        free(out);
    }
}

static void test_rules_top_level_and_data_keys(void **state)
{
    struct run r = {TG_JF_RULES, alpha, 1, NULL, 0};
    expect(&r,
           "{\"status\":\"success\",\"leak\":{\"namespace\":\"beta\"},\"data\":{\"groups\":[],"
           "\"groupNextToken\":\"abc\",\"other\":[\"beta\"]},\"warnings\":[\"w1\"],"
           "\"infos\":[\"i\"]}",
           "{\"status\":\"success\",\"data\":{\"groups\":[],\"groupNextToken\":\"abc\"},"
           "\"warnings\":[\"w1\"],\"infos\":[\"i\"]}");
    expect(&r, "{\"data\":{\"groups\":null}}", "{\"data\":{\"groups\":null}}");
    expect(&r, "{\"data\":null}", "{\"data\":null}");
    expect(&r, "{}", "{}");
    expect(&r, " {\"data\" : { } } \n", "{\"data\":{}}");
}

static void test_error_response_passes(void **state)
{
    struct run r = {TG_JF_RULES, alpha, 1, NULL, 0};
    size_t len;
    char *in = slurp("error.json", &len), *out;
    in[strcspn(in, "\n")] = '\0';
    out = filter_ok(&r, in);
    assert_string_equal(out, in);
    free(out);
    free(in);
}

static void test_strings_reescaped(void **state)
{
    struct run r = {TG_JF_ALERTS, alpha, 1, NULL, 0};
    expect(&r,
           "{\"data\":{\"alerts\":[{\"labels\":{\"namespace\":\"alpha\",\"q\\\"k\":\"a\\\\b\\/c"
           "\\n\\t\\u0001\\u00e9\\ud83d\\ude00\\u2028\"},\"value\":-1.5e+300}]}}",
           "{\"data\":{\"alerts\":[{\"labels\":{\"namespace\":\"alpha\",\"q\\\"k\":\"a\\\\b/c"
           "\\n\\t\\u0001\xc3\xa9\xf0\x9f\x98\x80\xe2\x80\xa8\"},\"value\":-1.5e+300}]}}");
}

static void test_malformed_fails(void **state)
{
    struct run r = {TG_JF_RULES, alpha, 1, NULL, 0};
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"", "premature EOF"},
        {"   ", "premature EOF"},
        {"[]", "not a JSON object"},
        {"\"x\"", "not a JSON object"},
        {"{\"data\":[]}", "\"data\" is not an object"},
        {"{\"data\":\"x\"}", "\"data\" is not an object"},
        {"{\"data\":{\"groups\":{}}}", "not an array"},
        {"{\"data\":{\"groups\":[1]}}", "not an object"},
        {"{\"data\":{\"groups\":[[]]}}", "not an object"},
        {"{\"data\":{\"groups\":[{\"rules\":{}}]}}", "not an array"},
        {"{\"data\":{\"groups\":[{\"rules\":[\"r\"]}]}}", "not an object"},
        {"{\"data\":{\"groups\":[{\"rules\":[{\"labels\":[]}]}]}}", "\"labels\" is not"},
        {"{\"data\":{\"groups\":[{\"rules\":[{\"labels\":\"ns\"}]}]}}", "\"labels\" is not"},
        {"{\"data\":{\"groups\":[{\"rules\":[{\"alerts\":{}}]}]}}", "not an array"},
        {"{\"data\":{\"groups\":[{\"rules\":[{\"alerts\":[1]}]}]}}", "not an object"},
        {"{\"data\":{\"groups\":[]}}x", "invalid JSON"},
        {"{\"data\":{\"groups\":[]}}{}", "invalid JSON"},
        {"{\"data\":{\"groups\":[]}", "premature EOF"},
        {"{\"data\":{\"groups\":[],}}", "invalid JSON"},
        {"{\"data\":{\"groups\":[\"\xff\"]}}", "invalid JSON"},
        {"{'data':1}", "invalid JSON"},
        {"{\"data\":{\"groups\":[/*c*/]}}", "invalid JSON"},
        {"{\"a\":01}", "invalid JSON"},
        {NULL, NULL},
    };
    size_t i;
    for (i = 0; bad[i].in; i++)
        expect_error(&r, bad[i].in, bad[i].msg);
}

static void test_depth_limit(void **state)
{
    struct run r = {TG_JF_RULES, alpha, 1, NULL, 0};
    tg_sb_t in;
    int i;
    tg_sb_init(&in, NULL, 0);
    tg_sb_adds(&in, "{\"warnings\":");
    for (i = 0; i < 100000; i++)
        tg_sb_addc(&in, '[');
    expect_error(&r, in.base, "nested too deeply");
    tg_sb_clear(&in);
    tg_sb_adds(&in, "{\"warnings\":");
    for (i = 0; i < 62; i++)
        tg_sb_addc(&in, '[');
    for (i = 0; i < 62; i++)
        tg_sb_addc(&in, ']');
    tg_sb_addc(&in, '}');
    free(filter_ok(&r, in.base));
    tg_sb_free(&in);
}

static void test_error_is_sticky_and_positioned(void **state)
{
    tg_iovec_t v = IOV("alpha");
    tg_sb_t out;
    struct tg_jf *f;
    tg_sb_init(&out, NULL, 0);
    f = tg_jf_new(TG_JF_RULES, IOV("namespace"), &v, 1, collect, &out);
    assert_int_equal(tg_jf_feed(f, "{\"data\":", 8), 0);
    assert_int_equal(tg_jf_feed(f, "  [", 3), -1);
    assert_string_equal(tg_jf_error(f), "offset 11: \"data\" is not an object");
    assert_int_equal(tg_jf_feed(f, "]}", 2), -1);
    assert_int_equal(tg_jf_finish(f), -1);
    tg_jf_free(f);
    tg_sb_free(&out);
}

static void test_nothing_undecided_is_emitted(void **state)
{
    /* While a group is open nothing may leave, even across many feeds. */
    tg_iovec_t v = IOV("alpha");
    tg_sb_t out;
    struct tg_jf *f;
    const char *head =
        "{\"status\":\"success\",\"data\":{\"groups\":[{\"name\":\"secret\",\"rules\":[";
    int i;

    tg_sb_init(&out, NULL, 0);
    f = tg_jf_new(TG_JF_RULES, IOV("namespace"), &v, 1, collect, &out);
    assert_int_equal(tg_jf_feed(f, head, strlen(head)), 0);
    for (i = 0; i < 2000; i++) {
        const char *rule = "{\"name\":\"beta-rule-with-a-long-name\",\"labels\":{\"namespace\":"
                           "\"beta\"}},";
        assert_int_equal(tg_jf_feed(f, rule, strlen(rule)), 0);
        assert_null(strstr(tg_sb_cstr(&out), "secret"));
    }
    assert_string_equal(tg_sb_cstr(&out), "{\"status\":\"success\",\"data\":{\"groups\":[");
    assert_int_equal(tg_jf_feed(f, "{}]}]}}", 7), 0);
    assert_int_equal(tg_jf_finish(f), 0);
    assert_string_equal(tg_sb_cstr(&out), "{\"status\":\"success\",\"data\":{\"groups\":[]}}");
    tg_jf_free(f);
    tg_sb_free(&out);
}

static void test_buffer_limit(void **state)
{
    tg_iovec_t v = IOV("alpha");
    tg_sb_t out;
    struct tg_jf *f;
    const char *in =
        "{\"data\":{\"alerts\":[{\"labels\":{\"namespace\":\"alpha\"},\"annotations\":"
        "{\"big\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}]}}";
    tg_sb_init(&out, NULL, 0);
    f = tg_jf_new(TG_JF_ALERTS, IOV("namespace"), &v, 1, collect, &out);
    tg_jf_set_max_buffer(f, 64);
    assert_int_equal(tg_jf_feed(f, in, strlen(in)), -1);
    assert_non_null(strstr(tg_jf_error(f), "buffer limit"));
    tg_jf_free(f);
    tg_sb_free(&out);
}

/* A big response streams out in pieces and memory stays bounded by one alert. */
static void test_alerts_stream_in_pieces(void **state)
{
    tg_iovec_t v = IOV("alpha");
    size_t emitted_before_end;
    tg_sb_t out;
    struct tg_jf *f;
    int i;

    tg_sb_init(&out, NULL, 0);
    f = tg_jf_new(TG_JF_ALERTS, IOV("namespace"), &v, 1, collect, &out);
    tg_jf_set_max_buffer(f, 4096);
    assert_int_equal(tg_jf_feed(f, "{\"data\":{\"alerts\":[", 19), 0);
    for (i = 0; i < 20000; i++) {
        char a[160];
        int n = snprintf(a, sizeof(a),
                         "%s{\"labels\":{\"alertname\":\"A%d\",\"namespace\":\"%s\"},"
                         "\"state\":\"firing\",\"value\":\"1e+00\"}",
                         i ? "," : "", i, i % 2 ? "alpha" : "beta");
        assert_int_equal(tg_jf_feed(f, a, (size_t)n), 0);
    }
    emitted_before_end = out.len;
    assert_int_equal(tg_jf_feed(f, "]}}", 3), 0);
    assert_int_equal(tg_jf_finish(f), 0);
    assert_true(emitted_before_end > 100000);
    assert_non_null(strstr(out.base, "\"A19999\""));
    assert_null(strstr(out.base, "beta"));
    assert_null(strstr(out.base, "\"A0\""));
    tg_jf_free(f);
    tg_sb_free(&out);
}

/* ---- ALERTS ---------------------------------------------------------------- */

static void test_alerts_fixture(void **state)
{
    struct run r = {TG_JF_ALERTS, alpha, 1, NULL, 0};
    size_t len;
    char *in = slurp("alerts.json", &len), *out = check_all_ways(&r, in, len);

    assert_present(out, "\"alertname\":\"AlphaHigh\"");
    assert_present(out, "\"alertname\":\"PerNamespace\",\"namespace\":\"alpha\"");
    assert_present(out, "\"value\":\"1e+00\"");
    assert_absent(out, "beta");
    assert_absent(out, "gamma");
    assert_absent(out, "BetaDown");
    assert_absent(out, "GammaPending");
    assert_absent(out, "ns beta");
    free(out);
    free(in);
}

static void test_alerts_shapes(void **state)
{
    struct run r = {TG_JF_ALERTS, alpha_beta, 2, NULL, 0};
    expect(&r, "{\"status\":\"success\",\"data\":{\"alerts\":[]}}",
           "{\"status\":\"success\",\"data\":{\"alerts\":[]}}");
    expect(&r, "{\"data\":{\"groups\":[{\"labels\":{\"namespace\":\"alpha\"}}],\"alerts\":null}}",
           "{\"data\":{\"alerts\":null}}");
    expect(&r,
           "{\"data\":{\"alerts\":[{\"labels\":{\"namespace\":\"beta\"},\"annotations\":{"
           "\"namespace\":\"gamma\"}},{\"annotations\":{\"namespace\":\"alpha\"}}]}}",
           "{\"data\":{\"alerts\":[{\"labels\":{\"namespace\":\"beta\"},\"annotations\":{"
           "\"namespace\":\"gamma\"}}]}}");
    expect_error(&r, "{\"data\":{\"alerts\":{}}}", "not an array");
    expect_error(&r, "{\"data\":{\"alerts\":[null]}}", "not an object");
}

/* ---- Alertmanager API v2 -------------------------------------------------- */
/* Fixtures: Debian's prometheus-alertmanager 0.25 on loopback, alerts A1 and
 * A2 posted for alpha, beta and gamma plus NoNs without a namespace, the
 * silences of docs/alertmanager.md's ownership table; then
 * curl 127.0.0.1:PORT/api/v2/{alerts,alerts/groups,silences,status}. */

static void test_am_alerts_fixture(void **state)
{
    struct run r = {TG_JF_AM_ALERTS, alpha, 1, NULL, 0};
    size_t len;
    char *in = slurp("am_alerts.json", &len), *out = check_all_ways(&r, in, len);

    assert_present(out, "\"alertname\":\"A1\",\"namespace\":\"alpha\"");
    assert_present(out, "\"alertname\":\"A2\",\"namespace\":\"alpha\"");
    assert_absent(out, "beta");
    assert_absent(out, "gamma");
    assert_absent(out, "NoNs");
    free(out);
    free(in);
}

static void test_am_groups_fixture(void **state)
{
    struct run r = {TG_JF_AM_GROUPS, alpha_beta, 2, NULL, 0};
    size_t len;
    char *in = slurp("am_groups.json", &len), *out = check_all_ways(&r, in, len);

    assert_present(out, "\"namespace\":\"alpha\"");
    assert_present(out, "\"namespace\":\"beta\"");
    assert_present(out, "\"labels\":{\"alertname\":\"A1\"}");
    assert_absent(out, "gamma");
    assert_absent(out, "NoNs"); /* its group is left empty: dropped */
    free(out);
    free(in);
}

static void test_am_silences_fixture(void **state)
{
    struct run r = {TG_JF_AM_SILENCES, alpha, 1, NULL, 0};
    size_t len;
    char *in = slurp("am_silences.json", &len), *out = check_all_ways(&r, in, len);

    /* owned: namespace="alpha" (isEqual, not a regex), active or expired */
    assert_present(out, "284c39b1-");
    assert_present(out, "5db9aefe-");
    assert_present(out, "de1ceccf-");
    /* not owned: namespace!="alpha", namespace=~"alpha", other namespaces */
    assert_absent(out, "c4cfcb15-");
    assert_absent(out, "9db6a40f-");
    assert_absent(out, "ee50c1e1-");
    assert_absent(out, "3d5757ed-");
    assert_absent(out, "38ecd627-");
    assert_absent(out, "11694e44-");
    free(out);
    free(in);
}

static void test_am_status_fixture(void **state)
{
    struct run r = {TG_JF_AM_STATUS, alpha, 1, NULL, 0};
    size_t len;
    char *in = slurp("am_status.json", &len), *out = check_all_ways(&r, in, len);

    assert_present(in, "receivers");
    assert_present(out, "\"config\":{\"original\":\"\"}");
    assert_present(out, "\"versionInfo\":{");
    assert_present(out, "\"cluster\":{");
    assert_present(out, "\"uptime\":");
    assert_absent(out, "receivers");
    assert_absent(out, "route");
    free(out);
    free(in);
}

static void test_am_shapes(void **state)
{
    struct run al = {TG_JF_AM_ALERTS, alpha_beta, 2, NULL, 0};
    struct run gr = {TG_JF_AM_GROUPS, alpha, 1, NULL, 0};
    struct run si = {TG_JF_AM_SILENCES, alpha_beta, 2, NULL, 0};
    struct run st = {TG_JF_AM_STATUS, alpha, 1, NULL, 0};
#define MATCHER(n, v, r, e) "{\"name\":\"" n "\",\"value\":\"" v "\",\"isRegex\":" r e "}"
#define OWNED               MATCHER("namespace", "alpha", "false", "")

    expect(&al, "[]", "[]");
    /* error answers: Alertmanager's string passes, of an object code and message */
    expect(&al, "\"bad matcher format: x\"", "\"bad matcher format: x\"");
    expect(&al, "{\"code\":400,\"message\":\"m\",\"extra\":{\"namespace\":\"gamma\"}}",
           "{\"code\":400,\"message\":\"m\"}");
    expect(&al, "[{\"labels\":{\"namespace\":\"gamma\"}},{\"labels\":{\"namespace\":\"beta\"}},{}]",
           "[{\"labels\":{\"namespace\":\"beta\"}}]");
    expect(&al, "[{\"labels\":{\"namespace\":\"alpha\"},\"labels\":{\"namespace\":\"gamma\"}}]",
           "[]");
    expect_error(&al, "null", "not a JSON array");
    expect_error(&al, "5", "not a JSON array");
    expect_error(&al, "[5]", "not an object");
    expect_error(&al, "[{\"labels\":[]}]", "not an object");
    /* groups: kept alerts only, empty groups dropped, group labels do not decide */
    expect(
        &gr,
        "[{\"labels\":{\"namespace\":\"gamma\"},\"alerts\":[{\"labels\":{\"namespace\":\"alpha\"}},"
        "{\"labels\":{\"namespace\":\"gamma\"}}]},{\"labels\":{\"namespace\":\"alpha\"},\"alerts\":"
        "["
        "{\"labels\":{}}]},{\"alerts\":null}]",
        "[{\"labels\":{\"namespace\":\"gamma\"},\"alerts\":[{\"labels\":{\"namespace\":\"alpha\"}}]"
        "}]");
    expect_error(&gr, "[{\"alerts\":{}}]", "not an array");
    /* silences: the ownership test, field by field */
    expect(&si, "[{\"id\":\"1\",\"matchers\":[" OWNED "]}]",
           "[{\"id\":\"1\",\"matchers\":[" OWNED "]}]");
    expect(&si,
           "[{\"id\":\"1\",\"matchers\":[" MATCHER("namespace", "beta", "false",
                                                   ",\"isEqual\":true") "]}]",
           "[{\"id\":\"1\",\"matchers\":[" MATCHER("namespace", "beta", "false",
                                                   ",\"isEqual\":true") "]}]");
    {
        static const char *const not_owned[] = {
            MATCHER("namespace", "alpha", "false", ",\"isEqual\":false"),
            MATCHER("namespace", "alpha", "true", ""),
            MATCHER("namespace", "gamma", "false", ""),
            MATCHER("namespace", "", "false", ""),
            MATCHER("Namespace", "alpha", "false", ""),
            MATCHER("namespace", "alpha", "null", ""),
            MATCHER("namespace", "alpha", "\"false\"", ""),
            MATCHER("namespace", "alpha", "false", ",\"isEqual\":null"),
            MATCHER("namespace", "alpha", "false", ",\"isEqual\":1"),
            MATCHER("namespace", "alpha", "false", ",\"name\":\"other\""),
            MATCHER("namespace", "alpha", "false", ",\"value\":\"gamma\""),
            MATCHER("namespace", "alpha", "false", ",\"isRegex\":true"),
            MATCHER("namespace", "alpha", "false", ",\"isEqual\":true,\"isEqual\":false"),
            "{\"name\":\"namespace\",\"value\":[\"alpha\"],\"isRegex\":false}",
            "{\"name\":{\"namespace\":1},\"value\":\"alpha\",\"isRegex\":false}",
            "{\"value\":\"alpha\",\"isRegex\":false}",
            "{\"name\":\"namespace\",\"isRegex\":false}",
        };
        size_t i;
        for (i = 0; i < sizeof(not_owned) / sizeof(not_owned[0]); i++) {
            char in[512];
            snprintf(in, sizeof(in),
                     "[{\"matchers\":[%s]},{\"id\":\"k\",\"matchers\":[" OWNED "]}]", not_owned[i]);
            expect(&si, in, "[{\"id\":\"k\",\"matchers\":[" OWNED "]}]");
            free(check_all_ways(&si, in, strlen(in))); /* and the oracle agrees */
        }
    }
    /* one owning matcher is enough, whatever the others say */
    expect(&si, "[{\"matchers\":[" MATCHER("namespace", "gamma", "true", "") "," OWNED "]}]",
           "[{\"matchers\":[" MATCHER("namespace", "gamma", "true", "") "," OWNED "]}]");
    /* two lists of matchers (Go keeps the last) or matcher sets: dropped */
    expect(&si, "[{\"matchers\":[" OWNED "],\"matchers\":[" MATCHER("a", "b", "false", "") "]}]",
           "[]");
    expect(&si, "[{\"matchers\":[" OWNED "],\"matcherSets\":[]}]", "[]");
    expect(&si, "[{\"matchers\":null}]", "[]");
    expect(&si, "[{\"status\":{\"matchers\":[" OWNED "]}}]", "[]");
    expect_error(&si, "[{\"matchers\":{}}]", "not an array");
    expect_error(&si, "[{\"matchers\":[5]}]", "not an object");
    expect_error(&si, "[[]]", "not an object");
    /* status */
    expect(&st, "{\"config\":{\"original\":\"secret\"},\"uptime\":\"u\",\"new\":{\"a\":1}}",
           "{\"config\":{\"original\":\"\"},\"uptime\":\"u\"}");
    expect(&st, "{\"uptime\":\"u\",\"config\":\"x\"}",
           "{\"uptime\":\"u\",\"config\":{\"original\":\"\"}}");
    expect_error(&st, "[]", "not a JSON object");
    expect_error(&st, "\"x\"", "not a JSON object");
#undef MATCHER
#undef OWNED
}

/* ---- METADATA ------------------------------------------------------------- */

static void test_metadata_fixture(void **state)
{
    static const char *const names[] = {"go_info", "prometheus_tsdb_head_chunks", "nope"};
    struct run r = {TG_JF_METADATA, alpha, 1, names, 3};
    size_t len;
    char *in = slurp("metadata.json", &len), *out = check_all_ways(&r, in, len);

    assert_string_equal(out,
                        "{\"status\":\"success\",\"data\":{\"go_info\":[{\"type\":\"gauge\","
                        "\"help\":\"Information about the Go environment.\",\"unit\":\"\"}],"
                        "\"prometheus_tsdb_head_chunks\":[{\"type\":\"gauge\",\"help\":\"Total "
                        "number of chunks in the head block.\",\"unit\":\"\"}]}}");
    free(out);
    free(in);
}

static void test_metadata_shapes(void **state)
{
    static const char *const names[] = {"a", "c"};
    struct run r = {TG_JF_METADATA, alpha, 1, names, 2};
    struct run none = {TG_JF_METADATA, alpha, 1, NULL, 0};
    expect(&r, "{\"data\":{\"b\":[{}],\"a\":[{\"type\":\"counter\"}],\"d\":[],\"c\":[]}}",
           "{\"data\":{\"a\":[{\"type\":\"counter\"}],\"c\":[]}}");
    expect(&none, "{\"data\":{\"b\":[{}],\"a\":[]}}", "{\"data\":{}}");
    expect_error(&r, "{\"data\":{\"a\":{}}}", "metadata entry is not an array");
    expect_error(&r, "{\"data\":{\"b\":\"x\"}}", "metadata entry is not an array");
}

static void test_metadata_many_names(void **state)
{
    enum { N = 5000 };
    tg_iovec_t *names = calloc(N, sizeof(*names));
    char **bufs = calloc(N, sizeof(*bufs));
    tg_iovec_t v = IOV("alpha");
    tg_sb_t in, out;
    struct tg_jf *f;
    int i;

    for (i = 0; i < N; i++) {
        bufs[i] = malloc(32);
        snprintf(bufs[i], 32, "metric_%d", i * 2); /* even names allowed */
        names[i] = IOV(bufs[i]);
    }
    tg_sb_init(&in, NULL, 0);
    tg_sb_init(&out, NULL, 0);
    tg_sb_adds(&in, "{\"data\":{");
    for (i = 0; i < 2 * N; i++)
        tg_sb_printf(&in, "%s\"metric_%d\":[{\"type\":\"counter\"}]", i ? "," : "", i);
    tg_sb_adds(&in, "}}");
    f = tg_jf_new(TG_JF_METADATA, IOV("namespace"), &v, 1, collect, &out);
    assert_int_equal(tg_jf_set_metric_names(f, names, N), 0);
    assert_int_equal(tg_jf_feed(f, in.base, in.len), 0);
    assert_int_equal(tg_jf_finish(f), 0);
    assert_int_equal(tg_jf_set_metric_names(f, names, N), -1); /* too late */
    assert_non_null(strstr(out.base, "\"metric_9998\":"));
    assert_null(strstr(out.base, "\"metric_9999\":"));
    assert_null(strstr(out.base, "\"metric_1\":"));
    tg_jf_free(f);
    for (i = 0; i < N; i++)
        free(bufs[i]);
    free(bufs);
    free(names);
    tg_sb_free(&in);
    tg_sb_free(&out);
}

static void test_new_rejects_bad_arguments(void **state)
{
    tg_iovec_t v = IOV("alpha");
    tg_sb_t out;
    tg_sb_init(&out, NULL, 0);
    assert_null(tg_jf_new(TG_JF_RULES, IOV(""), &v, 1, collect, &out));
    assert_null(tg_jf_new(TG_JF_RULES, IOV("namespace"), &v, 1, NULL, &out));
    tg_jf_free(NULL);
    tg_sb_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_fixture_alpha),
        cmocka_unit_test(test_rules_fixture_two_tenants),
        cmocka_unit_test(test_rules_unknown_tenant_gets_empty_groups),
        cmocka_unit_test(test_rules_alerts_inside_rule),
        cmocka_unit_test(test_rules_commas_when_first_items_dropped),
        cmocka_unit_test(test_rules_label_edge_cases),
        cmocka_unit_test(test_rules_top_level_and_data_keys),
        cmocka_unit_test(test_error_response_passes),
        cmocka_unit_test(test_strings_reescaped),
        cmocka_unit_test(test_malformed_fails),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_error_is_sticky_and_positioned),
        cmocka_unit_test(test_nothing_undecided_is_emitted),
        cmocka_unit_test(test_buffer_limit),
        cmocka_unit_test(test_alerts_stream_in_pieces),
        cmocka_unit_test(test_alerts_fixture),
        cmocka_unit_test(test_alerts_shapes),
        cmocka_unit_test(test_am_alerts_fixture),
        cmocka_unit_test(test_am_groups_fixture),
        cmocka_unit_test(test_am_silences_fixture),
        cmocka_unit_test(test_am_status_fixture),
        cmocka_unit_test(test_am_shapes),
        cmocka_unit_test(test_metadata_fixture),
        cmocka_unit_test(test_metadata_shapes),
        cmocka_unit_test(test_metadata_many_names),
        cmocka_unit_test(test_new_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
