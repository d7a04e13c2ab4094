/* Unit tests for lib/metrics.c: registry and text exposition 0.0.4. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tenantgate/metrics.h"

static char *render(const struct tg_metrics *m, tg_sb_t *sb)
{
    tg_sb_init(sb, NULL, 0);
    tg_metrics_render(m, sb);
    return sb->base;
}

static void expect_render(const struct tg_metrics *m, const char *want)
{
    tg_sb_t sb;
    char *got = render(m, &sb);
    if (strcmp(got, want) != 0)
        fail_msg("got:\n%s\nwant:\n%s", got, want);
    tg_sb_free(&sb);
}

static void test_counter_and_gauge(void **state)
{
    static const char *const lbl[] = {"route", "code"};
    struct tg_metrics *m = tg_metrics_new();
    struct tg_metric_family *req, *inflight;
    struct tg_metric *c;

    req =
        tg_metrics_register(m, "x_requests_total", "Requests.", TG_METRIC_COUNTER, lbl, 2, NULL, 0);
    inflight =
        tg_metrics_register(m, "x_in_flight", "In flight.", TG_METRIC_GAUGE, NULL, 0, NULL, 0);
    assert_non_null(req);
    assert_non_null(inflight);
    c = tg_metric_get2(req, "query", "200");
    tg_metric_inc(c);
    tg_metric_add(c, 2);
    tg_metric_add(c, -5);  /* ignored */
    tg_metric_add(c, NAN); /* ignored */
    tg_metric_set(c, 100); /* ignored: not a gauge */
    assert_ptr_equal(tg_metric_get2(req, "query", "200"), c);
    tg_metric_inc(tg_metric_get2(req, "query", "400"));
    tg_metric_inc(tg_metric_get2(req, "alerts", "200"));
    tg_metric_inc(tg_metric_get0(inflight));
    tg_metric_inc(tg_metric_get0(inflight));
    tg_metric_dec(tg_metric_get0(inflight));
    assert_true(tg_metric_value(c) == 3);
    expect_render(m, "# HELP x_in_flight In flight.\n"
                     "# TYPE x_in_flight gauge\n"
                     "x_in_flight 1\n"
                     "# HELP x_requests_total Requests.\n"
                     "# TYPE x_requests_total counter\n"
                     "x_requests_total{route=\"alerts\",code=\"200\"} 1\n"
                     "x_requests_total{route=\"query\",code=\"200\"} 3\n"
                     "x_requests_total{route=\"query\",code=\"400\"} 1\n");
    tg_metric_set(tg_metric_get0(inflight), -2.5);
    tg_metric_add(tg_metric_get0(inflight), 0.25);
    assert_true(tg_metric_value(tg_metric_get0(inflight)) == -2.25);
    tg_metrics_free(m);
}

static void test_histogram(void **state)
{
    static const char *const lbl[] = {"route"};
    static const double b[] = {0.005, 0.5, 1, 2.5};
    struct tg_metrics *m = tg_metrics_new();
    struct tg_metric_family *h =
        tg_metrics_register(m, "x_seconds", "Latency.", TG_METRIC_HISTOGRAM, lbl, 1, b, 4);
    struct tg_metric *c = tg_metric_get1(h, "query");

    tg_metric_observe(c, 0.00390625); /* exact in binary */
    tg_metric_observe(c, 0.5);        /* le is inclusive */
    tg_metric_observe(c, 0.75);
    tg_metric_observe(c, 3);
    tg_metric_inc(c); /* ignored: not a counter */
    assert_true(tg_metric_value(c) == 4);
    expect_render(m, "# HELP x_seconds Latency.\n"
                     "# TYPE x_seconds histogram\n"
                     "x_seconds_bucket{route=\"query\",le=\"0.005\"} 1\n"
                     "x_seconds_bucket{route=\"query\",le=\"0.5\"} 2\n"
                     "x_seconds_bucket{route=\"query\",le=\"1\"} 3\n"
                     "x_seconds_bucket{route=\"query\",le=\"2.5\"} 3\n"
                     "x_seconds_bucket{route=\"query\",le=\"+Inf\"} 4\n"
                     "x_seconds_sum{route=\"query\"} 4.25390625\n"
                     "x_seconds_count{route=\"query\"} 4\n");
    tg_metrics_free(m);
}

static void test_unlabelled_histogram(void **state)
{
    static const double b[] = {1};
    struct tg_metrics *m = tg_metrics_new();
    struct tg_metric_family *h =
        tg_metrics_register(m, "h", "", TG_METRIC_HISTOGRAM, NULL, 0, b, 1);
    tg_metric_observe(tg_metric_get0(h), 2);
    expect_render(m, "# HELP h \n# TYPE h histogram\n"
                     "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_sum 2\nh_count 1\n");
    tg_metrics_free(m);
}

static void test_escaping(void **state)
{
    static const char *const lbl[] = {"v"};
    struct tg_metrics *m = tg_metrics_new();
    struct tg_metric_family *f = tg_metrics_register(m, "esc", "Help with \\ and\nnewline \"q\".",
                                                     TG_METRIC_GAUGE, lbl, 1, NULL, 0);
    tg_metric_set(tg_metric_get1(f, "a\"b\\c\nd"), 1);
    expect_render(m, "# HELP esc Help with \\\\ and\\nnewline \"q\".\n"
                     "# TYPE esc gauge\n"
                     "esc{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    tg_metrics_free(m);
}

static void test_number_format(void **state)
{
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0, "0"},           {1, "1"},
        {100, "100"},       {123456, "123456"},
        {1e6, "1e+06"},     {1234567, "1.234567e+06"},
        {0.1, "0.1"},       {0.0001, "0.0001"},
        {0.00001, "1e-05"}, {2.5, "2.5"},
        {-3, "-3"},         {1.0 / 3, "0.3333333333333333"},
        {1e21, "1e+21"},    {1712345678.123, "1.712345678123e+09"},
        {INFINITY, "+Inf"}, {-INFINITY, "-Inf"},
        {NAN, "NaN"},
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tg_metrics *m = tg_metrics_new();
        struct tg_metric_family *f =
            tg_metrics_register(m, "g", "", TG_METRIC_GAUGE, NULL, 0, NULL, 0);
        char want[128];
        tg_metric_set(tg_metric_get0(f), cases[i].v);
        snprintf(want, sizeof(want), "# HELP g \n# TYPE g gauge\ng %s\n", cases[i].s);
        expect_render(m, want);
        tg_metrics_free(m);
    }
}

static void test_invalid_registrations(void **state)
{
    static const char *const le[] = {"le"}, *const dup[] = {"a", "a"};
    static const char *const bad_lbl[] = {"a-b"}, *const reserved[] = {"__x"};
    static const char *const ok[] = {"a"};
    static const double b[] = {1, 2}, unsorted[] = {2, 1}, inf[] = {1, INFINITY};
    struct tg_metrics *m = tg_metrics_new();

    assert_null(tg_metrics_register(m, "", "", TG_METRIC_COUNTER, NULL, 0, NULL, 0));
    assert_null(tg_metrics_register(m, "1x", "", TG_METRIC_COUNTER, NULL, 0, NULL, 0));
    assert_null(tg_metrics_register(m, "a-b", "", TG_METRIC_COUNTER, NULL, 0, NULL, 0));
    assert_null(tg_metrics_register(m, "h", "", TG_METRIC_HISTOGRAM, le, 1, b, 2));
    assert_null(tg_metrics_register(m, "h", "", TG_METRIC_HISTOGRAM, NULL, 0, NULL, 0));
    assert_null(tg_metrics_register(m, "h", "", TG_METRIC_HISTOGRAM, NULL, 0, unsorted, 2));
    assert_null(tg_metrics_register(m, "h", "", TG_METRIC_HISTOGRAM, NULL, 0, inf, 2));
    assert_null(tg_metrics_register(m, "c", "", TG_METRIC_COUNTER, NULL, 0, b, 2));
    assert_null(tg_metrics_register(m, "c", "", TG_METRIC_COUNTER, dup, 2, NULL, 0));
    assert_null(tg_metrics_register(m, "c", "", TG_METRIC_COUNTER, bad_lbl, 1, NULL, 0));
    assert_null(tg_metrics_register(m, "c", "", TG_METRIC_COUNTER, reserved, 1, NULL, 0));
    assert_non_null(tg_metrics_register(m, "ns:c_total", "", TG_METRIC_COUNTER, ok, 1, NULL, 0));
    assert_null(tg_metrics_register(m, "ns:c_total", "", TG_METRIC_GAUGE, NULL, 0, NULL, 0));
    /* label-count mismatch and NULL are harmless */
    assert_null(tg_metric_get0(tg_metrics_register(m, "x", "", TG_METRIC_COUNTER, ok, 1, NULL, 0)));
    assert_null(tg_metric_get2(NULL, "a", "b"));
    tg_metric_inc(NULL);
    tg_metric_observe(NULL, 1);
    tg_metric_set(NULL, 1);
    tg_metric_dec(NULL);
    assert_true(tg_metric_value(NULL) == 0);
    /* a labelled family without children renders nothing */
    expect_render(m, "");
    tg_metrics_free(m);
}

static void test_cardinality_cap_and_hashing(void **state)
{
    static const char *const lbl[] = {"code"};
    struct tg_metrics *m = tg_metrics_new();
    struct tg_metric_family *f =
        tg_metrics_register(m, "c_total", "", TG_METRIC_COUNTER, lbl, 1, NULL, 0);
    struct tg_metric *first = NULL;
    char v[16];
    int i;

    for (i = 0; i < TG_METRICS_MAX_CHILDREN; i++) {
        struct tg_metric *c;
        snprintf(v, sizeof(v), "%d", i);
        c = tg_metric_get1(f, v);
        assert_non_null(c);
        if (i == 0)
            first = c;
        tg_metric_add(c, i);
    }
    assert_null(tg_metric_get1(f, "overflow"));
    assert_ptr_equal(tg_metric_get1(f, "0"), first); /* still found after many rehashes */
    for (i = 0; i < TG_METRICS_MAX_CHILDREN; i++) {
        snprintf(v, sizeof(v), "%d", i);
        assert_true(tg_metric_value(tg_metric_get1(f, v)) == i);
    }
    tg_metrics_free(m);
}

/* The values must not be confused when label boundaries shift. */
static void test_label_boundaries(void **state)
{
    static const char *const lbl[] = {"a", "b"};
    struct tg_metrics *m = tg_metrics_new();
    struct tg_metric_family *f =
        tg_metrics_register(m, "c_total", "", TG_METRIC_COUNTER, lbl, 2, NULL, 0);
    assert_ptr_not_equal(tg_metric_get2(f, "ab", "c"), tg_metric_get2(f, "a", "bc"));
    assert_ptr_not_equal(tg_metric_get2(f, "", "x"), tg_metric_get2(f, "x", ""));
    tg_metrics_free(m);
}

static void test_std_series(void **state)
{
    struct tg_metrics *m = tg_metrics_new();
    struct tg_std_metrics s;
    tg_sb_t sb;
    char *out;

    assert_int_equal(tg_metrics_register_std(m, "0.1.0", &s), 0);
    tg_metric_inc(tg_metric_get2(s.requests_total, "query", "200"));
    tg_metric_observe(tg_metric_get1(s.request_duration_seconds, "query"), 0.02);
    tg_metric_inc(tg_metric_get1(s.upstream_errors_total, "timeout"));
    tg_metric_inc(tg_metric_get0(s.authz_cache_hits_total));
    tg_metric_observe(tg_metric_get1(s.kube_api_request_duration_seconds, "tokenreview"), 0.2);
    tg_metric_inc(tg_metric_get2(s.kube_api_errors_total, "subjectaccessreview", "0"));
    out = render(m, &sb);
    assert_non_null(strstr(out, "\ntenantgate_build_info{version=\"0.1.0\"} 1\n"));
    assert_non_null(strstr(out, "\ntenantgate_requests_total{route=\"query\",code=\"200\"} 1\n"));
    assert_non_null(strstr(out, "\ntenantgate_request_duration_seconds_bucket{route=\"query\","
                                "le=\"0.025\"} 1\n"));
    assert_non_null(strstr(out, "\ntenantgate_request_duration_seconds_bucket{route=\"query\","
                                "le=\"120\"} 1\n"));
    assert_non_null(strstr(out, "\ntenantgate_upstream_errors_total{kind=\"timeout\"} 1\n"));
    assert_non_null(strstr(out, "\ntenantgate_authz_cache_hits_total 1\n"));
    assert_non_null(strstr(out, "\ntenantgate_authn_cache_misses_total 0\n"));
    assert_non_null(strstr(out, "\ntenantgate_requests_in_flight 0\n"));
    assert_non_null(strstr(out, "\ntenantgate_open_connections 0\n"));
    assert_non_null(strstr(out, "\ntenantgate_cache_coalesced_waits_total 0\n"));
    assert_non_null(strstr(out, "\ntenantgate_cache_grace_served_total 0\n"));
    assert_non_null(strstr(out, "# TYPE tenantgate_kube_api_request_duration_seconds histogram\n"));
    assert_non_null(strstr(out, "\ntenantgate_kube_api_errors_total{call=\"subjectaccessreview\","
                                "code=\"0\"} 1\n"));
    assert_non_null(strstr(out, "# TYPE tenantgate_authn_cache_evictions_total counter\n"));
    assert_non_null(strstr(out, "# TYPE tenantgate_authz_cache_evictions_total counter\n"));
    assert_non_null(strstr(out, "# TYPE tenantgate_authz_cache_misses_total counter\n"));
    assert_non_null(strstr(out, "# TYPE tenantgate_authn_cache_hits_total counter\n"));
    assert_int_equal(tg_metrics_register_std(m, "0.1.0", &s), -1);
    tg_sb_free(&sb);
    tg_metrics_free(m);
}

/* Every line is a comment or "name{labels} value", validated with promtool.
 * The suite installs its tools (scripts/deps.sh test): a missing promtool is
 * a failure, not a skip that passes. */
static void test_promtool_accepts(void **state)
{
    struct tg_metrics *m = tg_metrics_new();
    struct tg_std_metrics s;
    tg_sb_t sb;
    FILE *p;
    int rc;

    if (system("command -v promtool >/dev/null 2>&1") != 0)
        fail_msg("promtool not found: install it with `bash scripts/deps.sh test` (Debian "
                 "package prometheus)");
    assert_int_equal(tg_metrics_register_std(m, "0.1.0\"x", &s), 0);
    tg_metric_inc(tg_metric_get2(s.requests_total, "query", "200"));
    tg_metric_observe(tg_metric_get1(s.request_duration_seconds, "a\\b"), 7);
    render(m, &sb);
    p = popen("promtool check metrics >/dev/null 2>&1", "w");
    assert_non_null(p);
    fwrite(sb.base, 1, sb.len, p);
    rc = pclose(p);
    assert_int_equal(rc, 0);
    tg_sb_free(&sb);
    tg_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_unlabelled_histogram),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_number_format),
        cmocka_unit_test(test_invalid_registrations),
        cmocka_unit_test(test_cardinality_cap_and_hashing),
        cmocka_unit_test(test_label_boundaries),
        cmocka_unit_test(test_std_series),
        cmocka_unit_test(test_promtool_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
