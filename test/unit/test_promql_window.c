/* Unit tests for lib/promql/window.c: what each node type does to the
 * stretch of time a query reads (length, earliest sample), and the inspect
 * side of tg_promql_enforce_query_ex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tenantgate/arena.h"
#include "tenantgate/promql.h"

#define S     1000LL
#define M     (60 * S)
#define H     (60 * M)
#define D     (24 * H)
#define T     1700000000000LL /* "now", ms */
#define DELTA (5 * M)

static const struct tg_promql_opts all_flags = {1, 1, 1, 1, 0, 0};

struct want {
    const char *q;
    int64_t start, end, step; /* query times, ms */
    size_t selectors;
    int64_t length, earliest;
};

static void check(const struct want *w)
{
    struct tg_promql_times t = {w->start, w->end, w->step, DELTA};
    struct tg_promql_window win;
    struct tg_promql_node *root;
    struct tg_promql_error err;
    tg_arena_t a;

    tg_arena_init(&a, NULL, 0);
    if (tg_promql_parse(&a, tg_iov_str(w->q), &all_flags, &root, &err) != 0)
        fail_msg("%s: %s", w->q, err.msg);
    tg_promql_window(root, &t, &win);
    if (win.selectors != w->selectors || win.length_ms != w->length ||
        win.earliest_ms != w->earliest)
        fail_msg("%s: selectors %zu length %lld earliest T%+lld, want %zu %lld T%+lld", w->q,
                 win.selectors, (long long)win.length_ms, (long long)(win.earliest_ms - T),
                 w->selectors, (long long)w->length, (long long)(w->earliest - T));
    tg_arena_destroy(&a);
}

/* instant query at T */
#define I(q, n, len, early)                                                                        \
    {                                                                                              \
        q, T, T, 0, n, len, early                                                                  \
    }
/* range query over the last day, step 1m */
#define R(q, n, len, early)                                                                        \
    {                                                                                              \
        q, T - D, T, M, n, len, early                                                              \
    }

static void test_selectors(void **state)
{
    static const struct want w[] = {
        I("up", 1, 0, T - DELTA),
        I("up{job=\"a\"}", 1, 0, T - DELTA),
        I("rate(up[5m])", 1, 5 * M, T - 5 * M),
        I("rate(up[1.5])", 1, 1500, T - 1500),
        I("rate(up[90])", 1, 90 * S, T - 90 * S),
        R("up", 1, D, T - D - DELTA),
        R("rate(up[5m])", 1, D + 5 * M, T - D - 5 * M),
        /* the example: 2d inside a 6d subquery reads 8 days */
        I("max_over_time(rate(up[2d])[6d:1h])", 1, 8 * D, T - 8 * D),
        R("max_over_time(rate(up[2d])[6d:1h])", 1, 9 * D, T - 9 * D),
        /* a bare subquery, the default step */
        I("rate(up[5m])[1h:]", 1, H + 5 * M, T - H - 5 * M),
        I("up[1h:1m]", 1, H, T - H - DELTA),
    };
    size_t i;
    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        check(&w[i]);
}

static void test_nested_subqueries(void **state)
{
    static const struct want w[] = {
        I("max_over_time(max_over_time(rate(up[1h])[1d:5m])[7d:1h])", 1, 8 * D + H, T - 8 * D - H),
        I("sum_over_time(avg_over_time(up[2h:1m])[3h:1m])", 1, 5 * H, T - 5 * H - DELTA),
        /* a subquery's offset applies to everything inside it */
        I("max_over_time(rate(up[5m])[1h:1m] offset 1d)", 1, H + 5 * M, T - D - H - 5 * M),
        I("max_over_time(rate(up[5m] offset 1h)[1h:1m] offset 1d)", 1, H + 5 * M,
          T - D - 2 * H - 5 * M),
    };
    size_t i;
    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        check(&w[i]);
}

static void test_offset_and_at(void **state)
{
    static const struct want w[] = {
        I("up offset 1d", 1, 0, T - D - DELTA),
        I("rate(up[1h] offset 1d)", 1, H, T - D - H),
        I("up offset -1h", 1, 0, T + H - DELTA),
        I("up @ 1000", 1, 0, 1000 * S - DELTA),
        I("up @ 1000.5 offset 10s", 1, 0, 1000500 - 10 * S - DELTA),
        I("rate(up[5m] @ -100)", 1, 5 * M, -100 * S - 5 * M),
        /* @ pins a selector of a range query to one instant */
        R("rate(up[5m] @ start())", 1, 5 * M, T - D - 5 * M),
        R("rate(up[5m] @ end())", 1, 5 * M, T - 5 * M),
        R("up @ end()", 1, 0, T - DELTA),
        R("up @ start() offset 1h", 1, 0, T - D - H - DELTA),
        I("up @ start()", 1, 0, T - DELTA),
        /* @ on a subquery pins the subquery; its inner times still spread */
        R("max_over_time(up[1h:1m] @ start())", 1, H, T - D - H - DELTA),
        R("max_over_time(rate(up[5m])[1h:1m] @ end() offset 1d)", 1, H + 5 * M, T - D - H - 5 * M),
        /* @ inside a subquery: pinned whatever the subquery's steps */
        I("max_over_time((up @ 1000)[1d:1m])", 1, 0, 1000 * S - DELTA),
    };
    size_t i;
    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        check(&w[i]);
}

static void test_operators_and_calls(void **state)
{
    static const struct want w[] = {
        I("up + rate(foo[1h])", 2, H, T - H),
        I("rate(foo[1h]) / on(job) group_left rate(bar[2h] offset 1h)", 2, 2 * H, T - 3 * H),
        I("-rate(foo[1h])", 1, H, T - H),
        I("(rate(foo[1h]))", 1, H, T - H),
        I("sum by (job) (rate(foo[3h]))", 1, 3 * H, T - 3 * H),
        I("topk(scalar(max_over_time(x[2h])), up)", 2, 2 * H, T - 2 * H),
        I("quantile_over_time(0.9, x[4h])", 1, 4 * H, T - 4 * H),
        I("label_replace(rate(x[3h]), \"a\", \"b\", \"c\", \"d\")", 1, 3 * H, T - 3 * H),
        I("count_values(\"v\", up)", 1, 0, T - DELTA),
        I("absent_over_time(x[10m]) or vector(1)", 1, 10 * M, T - 10 * M),
        I("up > bool 1", 1, 0, T - DELTA),
        /* no selector: nothing is read */
        I("1 + 2", 0, 0, 0),
        I("vector(1)", 0, 0, 0),
        I("time()", 0, 0, 0),
        I("\"text\"", 0, 0, 0),
        I("scalar(vector(1)) * 2", 0, 0, 0),
    };
    size_t i;
    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        check(&w[i]);
}

static void test_duration_expressions(void **state)
{
    static const struct want w[] = {
        I("rate(up[5m * 2])", 1, 10 * M, T - 10 * M),
        I("rate(up[1h + 30m])", 1, H + 30 * M, T - H - 30 * M),
        I("rate(up[2h / 4])", 1, 30 * M, T - 30 * M),
        I("rate(up[2 ^ 3])", 1, 8 * S, T - 8 * S),
        I("rate(up[min_of(1h, 2h)])", 1, H, T - H),
        I("rate(up[max_of(1h, 2h)])", 1, 2 * H, T - 2 * H),
        I("rate(up[(1h)])", 1, H, T - H),
        I("up offset (1h + 30m)", 1, 0, T - H - 30 * M - DELTA),
        I("up offset -(1h)", 1, 0, T + H - DELTA),
        I("up offset (2h % 3600)", 1, 0, T - DELTA),
        /* step() and range() of a range query (step 1m, range 1d) */
        R("rate(up[step() * 10])", 1, D + 10 * M, T - D - 10 * M),
        R("rate(up[range()])", 1, 2 * D, T - 2 * D),
        R("up offset step()", 1, D, T - D - M - DELTA),
        R("max_over_time(up[1d:step()])", 1, 2 * D, T - 2 * D - DELTA),
        /* of an instant query both are 0: a range of 0 reads nothing more */
        I("rate(up[step() + 1m])", 1, M, T - M),
    };
    size_t i;
    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        check(&w[i]);
}

static void test_extended_ranges(void **state)
{
    static const struct want w[] = {
        /* anchored/smoothed look for the sample before the range too */
        I("rate(up[1h] anchored)", 1, H, T - H - DELTA),
        I("rate(up[1h] smoothed)", 1, H, T - H - DELTA),
        I("rate(up[1h])", 1, H, T - H),
    };
    size_t i;
    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        check(&w[i]);
}

static void test_saturation(void **state)
{
    static const struct want w[] = {
        /* figures beyond int64 milliseconds read as "everything" */
        I("up @ -9223372036854774 offset 290y", 1, 0, INT64_MIN),
        I("max_over_time(rate(up[290y])[290y:1d] @ -9223372036854774)", 1, 2 * 290 * 365 * D,
          INT64_MIN),
        R("up offset -290y", 1, D, T - D + 290 * 365 * D - DELTA),
        /* a query over all time (a series call without start/end) */
        {"rate(up[1h])", INT64_MIN, INT64_MAX, 0, 1, INT64_MAX, INT64_MIN},
    };
    size_t i;
    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        check(&w[i]);
}

static void test_enforce_query_ex(void **state)
{
    static const tg_iovec_t values[] = {TG_IOV_LIT("alpha")};
    struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), values, 1, 0, 0};
    struct tg_promql_times t = {T - H, T, 15 * S, DELTA};
    struct tg_promql_inspect in = {.times = &t, .want_text = 1};
    struct tg_promql_error err;
    tg_iovec_t out, plain;
    tg_arena_t a;

    tg_arena_init(&a, NULL, 0);
    assert_int_equal(
        tg_promql_enforce_query_ex(&a, TG_IOV_LIT("max_over_time(  {__name__=~\".+\"}[2d:1h])"),
                                   NULL, &e, &in, &out, &err),
        0);
    /* the text is the query as parsed, without the tenant matcher */
    assert_string_equal(in.text.base, "max_over_time({__name__=~\".+\"}[2d:1h])");
    assert_string_equal(out.base, "max_over_time({__name__=~\".+\",namespace=\"alpha\"}[2d:1h])");
    assert_int_equal(in.window.selectors, 1);
    assert_int_equal(in.window.length_ms, 2 * D + H);
    assert_int_equal(in.window.earliest_ms, T - H - 2 * D - DELTA);
    /* no inspect: the same answer as tg_promql_enforce_query */
    assert_int_equal(tg_promql_enforce_query_ex(&a, TG_IOV_LIT("up"), NULL, &e, NULL, &out, &err),
                     0);
    assert_int_equal(tg_promql_enforce_query(&a, TG_IOV_LIT("up"), NULL, &e, &plain, &err), 0);
    assert_true(tg_iov_eq(out, plain));
    /* only the text, no window */
    memset(&in, 0, sizeof(in));
    in.want_text = 1;
    assert_int_equal(
        tg_promql_enforce_query_ex(&a, TG_IOV_LIT("sum(up)"), NULL, &e, &in, &out, &err), 0);
    assert_string_equal(in.text.base, "sum(up)");
    assert_int_equal(in.window.selectors, 0);
    /* a parse error leaves the inspection empty */
    memset(&in, 0, sizeof(in));
    in.times = &t;
    in.want_text = 1;
    assert_int_equal(
        tg_promql_enforce_query_ex(&a, TG_IOV_LIT("rate(up[5m]"), NULL, &e, &in, &out, &err), -1);
    assert_null(in.text.base);
    tg_arena_destroy(&a);
}

static void test_parse_duration(void **state)
{
    static const struct {
        int64_t ms;
        const char *s;
    } d[] = {{8 * D, "8d"},         {90 * D, "90d"}, {14 * D, "2w"}, {D + 12 * H, "1d12h"},
             {H + 30 * M, "1h30m"}, {500, "500ms"},  {0, "0"}};
    size_t i;
    int64_t ns;

    for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        assert_int_equal(tg_promql_parse_duration(tg_iov_str(d[i].s), &ns), 0);
        assert_int_equal(ns, d[i].ms * 1000000);
    }
    assert_int_equal(tg_promql_parse_duration(TG_IOV_LIT("1h1d"), &ns), -1);
    assert_int_equal(tg_promql_parse_duration(TG_IOV_LIT("1.5h"), &ns), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_nested_subqueries),
        cmocka_unit_test(test_offset_and_at),
        cmocka_unit_test(test_operators_and_calls),
        cmocka_unit_test(test_duration_expressions),
        cmocka_unit_test(test_extended_ranges),
        cmocka_unit_test(test_saturation),
        cmocka_unit_test(test_enforce_query_ex),
        cmocka_unit_test(test_parse_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
