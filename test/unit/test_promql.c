/* Unit tests for lib/promql: parsing, printing round trips, enforcement,
 * errors and limits. The corpus (TG_CORPUS) is parsed, printed, re-parsed and
 * compared query by query, before and after enforcement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tenantgate/arena.h"
#include "tenantgate/promql.h"
#include "tenantgate/sb.h"
#include "../../lib/promql/promql-int.h"

static const struct tg_promql_opts all_flags = {1, 1, 1, 1, 0, 0};

/* ---- helpers --------------------------------------------------------- */

static char *load_corpus(size_t *n_out, char ***lines_out)
{
    FILE *f = fopen(TG_CORPUS, "rb");
    char *buf, **lines;
    long len;
    size_t n = 0, i, j;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    buf[len] = '\0';
    lines = malloc(sizeof(*lines) * ((size_t)len + 1));
    /* one query per line; the two characters \n stand for a newline */
    for (i = 0; i < (size_t)len;) {
        char *start = buf + i, *o = start;
        for (j = i; j < (size_t)len && buf[j] != '\n'; j++) {
            if (buf[j] == '\\' && j + 1 < (size_t)len && buf[j + 1] == 'n') {
                *o++ = '\n';
                j++;
            } else {
                *o++ = buf[j];
            }
        }
        *o = '\0';
        if (o > start)
            lines[n++] = start;
        i = j + 1;
    }
    *n_out = n;
    *lines_out = lines;
    return buf;
}

static struct tg_promql_node *parse_ok(tg_arena_t *a, const char *q, const struct tg_promql_opts *o)
{
    struct tg_promql_node *root = NULL;
    struct tg_promql_error err;
    if (tg_promql_parse(a, tg_iov_str(q), o, &root, &err) != 0)
        fail_msg("parse failed: %s\n  query: %s", err.msg, q);
    return root;
}

static const char *print(tg_arena_t *a, const struct tg_promql_node *n)
{
    tg_sb_t sb;
    tg_sb_init(&sb, a, 128);
    tg_promql_print(n, &sb);
    return tg_sb_cstr(&sb);
}

/* print, re-parse, compare; returns the printed text */
static const char *roundtrip(tg_arena_t *a, const char *q, const struct tg_promql_opts *o)
{
    struct tg_promql_node *n1 = parse_ok(a, q, o), *n2;
    const char *p1 = print(a, n1), *p2;

    n2 = parse_ok(a, p1, o);
    if (!tg_promql_equal(n1, n2))
        fail_msg("AST changed after printing\n  query:   %s\n  printed: %s", q, p1);
    p2 = print(a, n2);
    if (strcmp(p1, p2) != 0)
        fail_msg("printing not idempotent\n  %s\n  %s", p1, p2);
    return p1;
}

struct sel_check {
    tg_iovec_t label;
    const struct tg_promql_matcher *want;
    int replace;
    int n_selectors;
};

/* every selector carries the injected matcher; in replace mode nothing else on the label */
static void check_selectors(const struct tg_promql_node *n, struct sel_check *c)
{
    const struct tg_promql_node *a;
    const struct tg_promql_matcher *m;
    int found = 0, others = 0;

    switch (n->kind) {
    case TG_PROMQL_VECTOR:
        for (m = n->u.vs.matchers; m != NULL; m = m->next) {
            if (!tg_iov_eq(m->name, c->label))
                continue;
            if (m->op == c->want->op && tg_iov_eq(m->value, c->want->value))
                found++;
            else
                others++;
        }
        if (found < 1 || (c->replace && (found != 1 || others != 0)))
            fail_msg("selector without the tenant matcher (found %d, others %d)", found, others);
        c->n_selectors++;
        return;
    case TG_PROMQL_MATRIX: check_selectors(n->u.matrix.vs, c); return;
    case TG_PROMQL_SUBQUERY: check_selectors(n->u.subquery.expr, c); return;
    case TG_PROMQL_PAREN: check_selectors(n->u.paren.expr, c); return;
    case TG_PROMQL_UNARY: check_selectors(n->u.unary.expr, c); return;
    case TG_PROMQL_BINARY:
        check_selectors(n->u.binary.lhs, c);
        check_selectors(n->u.binary.rhs, c);
        return;
    case TG_PROMQL_AGGREGATE:
        if (n->u.agg.param)
            check_selectors(n->u.agg.param, c);
        check_selectors(n->u.agg.expr, c);
        return;
    case TG_PROMQL_CALL:
        for (a = n->u.call.args; a != NULL; a = a->next)
            check_selectors(a, c);
        return;
    default: return;
    }
}

static int count_selectors(const struct tg_promql_node *n)
{
    const struct tg_promql_node *a;
    int k = 0;
    switch (n->kind) {
    case TG_PROMQL_VECTOR: return 1;
    case TG_PROMQL_MATRIX: return 1;
    case TG_PROMQL_SUBQUERY: return count_selectors(n->u.subquery.expr);
    case TG_PROMQL_PAREN: return count_selectors(n->u.paren.expr);
    case TG_PROMQL_UNARY: return count_selectors(n->u.unary.expr);
    case TG_PROMQL_BINARY:
        return count_selectors(n->u.binary.lhs) + count_selectors(n->u.binary.rhs);
    case TG_PROMQL_AGGREGATE:
        return (n->u.agg.param ? count_selectors(n->u.agg.param) : 0) +
               count_selectors(n->u.agg.expr);
    case TG_PROMQL_CALL:
        for (a = n->u.call.args; a != NULL; a = a->next)
            k += count_selectors(a);
        return k;
    default: return 0;
    }
}

/* enforce, print, re-parse: same AST as the enforced one, all selectors scoped */
static const char *enforce_check(tg_arena_t *a, const char *q, const struct tg_promql_opts *o,
                                 const struct tg_promql_enforce *e)
{
    struct tg_promql_node *n1 = parse_ok(a, q, o), *n2;
    struct tg_promql_error err;
    struct tg_promql_matcher want;
    struct sel_check c;
    const char *p;
    int before = count_selectors(n1);
    tg_sb_t re;
    size_t i;

    if (tg_promql_enforce(a, n1, e, &err) != 0)
        fail_msg("enforce failed: %s\n  query: %s", err.msg, q);
    p = print(a, n1);
    n2 = parse_ok(a, p, o);
    if (!tg_promql_equal(n1, n2))
        fail_msg("enforced AST changed after printing\n  query: %s\n  printed: %s", q, p);
    memset(&want, 0, sizeof(want));
    want.name = e->label;
    if (e->n_values == 1) {
        want.op = TG_PROMQL_EQ;
        want.value = e->values[0];
    } else {
        tg_sb_init(&re, a, 64);
        for (i = 0; i < e->n_values; i++) {
            if (i)
                tg_sb_addc(&re, '|');
            pq_quote_meta(&re, e->values[i]);
        }
        want.op = TG_PROMQL_RE;
        want.value = tg_sb_iov(&re);
    }
    c.label = e->label;
    c.want = &want;
    c.replace = !tg_promql_keeps_own_matchers(e);
    c.n_selectors = 0;
    check_selectors(n2, &c);
    assert_int_equal(c.n_selectors, before);
    return p;
}

static void expect_error(const char *q, const struct tg_promql_opts *o, const char *want)
{
    tg_arena_t a;
    struct tg_promql_node *root;
    struct tg_promql_error err;

    tg_arena_init(&a, NULL, 0);
    if (tg_promql_parse(&a, tg_iov_str(q), o, &root, &err) == 0)
        fail_msg("expected an error for: %s\n  printed: %s", q, print(&a, root));
    if (strstr(err.msg, want) == NULL)
        fail_msg("query: %s\n  error: %s\n  want:  %s", q, err.msg, want);
    tg_arena_destroy(&a);
}

static const char *enforce_str(tg_arena_t *a, const char *q, const char *const *values, size_t n,
                               int eor)
{
    tg_iovec_t v[8], out;
    struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), v, n, eor, 0};
    struct tg_promql_error err;
    size_t i;

    for (i = 0; i < n; i++)
        v[i] = tg_iov_str(values[i]);
    if (tg_promql_enforce_query(a, tg_iov_str(q), &all_flags, &e, &out, &err) != 0)
        return tg_arena_printf(a, "ERR %s", err.msg);
    return out.base;
}

/* ---- corpus ---------------------------------------------------------- */

static void test_corpus_roundtrip(void **state)
{
    char **lines, *buf;
    size_t n, i;
    tg_arena_t a;
    static const struct tg_promql_opts none;

    buf = load_corpus(&n, &lines);
    assert_true(n >= 800);
    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < n; i++) {
        tg_sb_t sb;
        struct tg_promql_node *root;
        struct tg_promql_error err;

        tg_arena_reset(&a);
        roundtrip(&a, lines[i], &none);
        roundtrip(&a, lines[i], &all_flags);
        /* the Prometheus-style printers must produce parseable text too */
        root = parse_ok(&a, lines[i], &none);
        tg_sb_init(&sb, &a, 256);
        tg_promql_format(root, &sb);
        if (tg_promql_parse(&a, tg_sb_iov(&sb), &none, &root, &err) != 0)
            fail_msg("format output does not parse: %s\n%s", err.msg, tg_sb_cstr(&sb));
        tg_sb_init(&sb, &a, 256);
        tg_promql_ast_json(root, &sb);
        assert_true(sb.len > 2 && sb.base[0] == '{' && sb.base[sb.len - 1] == '}');
    }
    tg_arena_destroy(&a);
    free(lines);
    free(buf);
}

static void test_corpus_enforce(void **state)
{
    static const tg_iovec_t one[] = {TG_IOV_LIT("alpha")};
    static const tg_iovec_t two[] = {TG_IOV_LIT("alpha"), TG_IOV_LIT("be.ta|x")};
    struct tg_promql_enforce e1 = {TG_IOV_LIT("namespace"), one, 1, 0, 0};
    struct tg_promql_enforce e2 = {TG_IOV_LIT("namespace"), two, 2, 0, 0};
    struct tg_promql_enforce e3 = {TG_IOV_LIT("job"), one, 1, 0, 0};
    char **lines, *buf;
    size_t n, i;
    tg_arena_t a;

    buf = load_corpus(&n, &lines);
    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < n; i++) {
        tg_arena_reset(&a);
        enforce_check(&a, lines[i], NULL, &e1);
        enforce_check(&a, lines[i], NULL, &e2);
        enforce_check(&a, lines[i], NULL, &e3);
    }
    tg_arena_destroy(&a);
    free(lines);
    free(buf);
}

/* ---- grammar edge cases ---------------------------------------------- */

static const char *const edge_queries[] = {
    /* numbers */
    "1",
    "-1",
    "+1",
    "- - 1",
    "0x1f",
    "0X1F",
    "0x1e",
    "0x1E",
    "0xe",
    "0x1e+1",
    "0x1e#c\n",
    "1_000",
    "0x_1f",
    "010",
    "08",
    ".5",
    "5.",
    "1e3",
    "1E-3",
    "1.5e+3",
    "Inf",
    "-Inf",
    "inf",
    "NaN",
    "nan",
    "-nan",
    "1 - -1",
    "2 ^ -1",
    "-2 ^ 2",
    "(-2) ^ 2",
    "-(2) ^ 2",
    "9223372036854775807",
    "99999999999999999999",
    "0.1 + 0.2",
    /* durations */
    "foo[5m]",
    "foo[1h30m]",
    "foo[1y2w3d4h5m6s7ms]",
    "foo[300]",
    "foo[1.5]",
    "foo[0.0001]",
    "foo[0x10]",
    "foo[ 5m ]",
    "foo offset 5m",
    "foo offset -5m",
    "foo offset 1h30m",
    "foo offset 0s",
    "5m",
    "-5m",
    "foo > 5m",
    "foo[5m:]",
    "foo[1h:5m]",
    "foo[1h:5m] offset 1d",
    "rate(foo[5m])[1h:1m]",
    "foo offset 1m [5m:1m]",
    "foo[5m] offset 1m @ 100",
    "foo @ 100 offset 1m",
    /* strings */
    "\"a\"",
    "'a'",
    "`a\\b`",
    "\"\\\"\"",
    "'\\''",
    "\"\\x41\\101\\u00e9\\U0001F600\"",
    "\"\\a\\b\\f\\n\\r\\t\\v\\\\\"",
    "\"\\xff\"",
    "\"é\"",
    "\"\\ufffd\"",
    "`multi\nline`",
    "'\"'",
    "\"'\"",
    /* selectors */
    "foo",
    "foo{}",
    "foo{a=\"b\"}",
    "foo{a=\"b\",}",
    "{a=\"b\"}",
    "{a=~\".+\"}",
    "{a!=\"\", b=\"\"}",
    "foo{a=\"b\", c!=\"d\", e=~\"f\", g!~\"h\"}",
    "{\"http.requests\", \"service.name\"=\"x\"}",
    "{\"foo\"}",
    "{\"foo\", a=\"b\"}",
    "{\"a\", \"b\"}",
    "{__name__=\"foo\"}",
    "{__name__=~\"foo|bar\"}",
    "{\"\"=\"x\", a=\"b\"}",
    "foo{sum=\"a\", by=\"b\", offset=\"c\", bool=\"d\"}",
    "a:b:c",
    "a:b{c=\"d\"}",
    "{'a'='b'}",
    "{`a`=`b`}",
    "foo{\"a\\\"b\"=\"c\"}",
    "{\"Inf\"}",
    "{\"sum\"}",
    "{\"a b\"=\"c\"}",
    /* keywords as names */
    "sum",
    "sum + by",
    "offset",
    "offset offset 5m",
    "by{a=\"b\"}",
    "without",
    "and",
    "or + unless",
    "start",
    "end",
    "step",
    "range",
    "max_of",
    "min_of",
    "anchored",
    "smoothed",
    "fill",
    "fill + fill_left",
    "count(count)",
    "topk(1, topk)",
    "SUM(x)",
    "Sum By (a) (x)",
    "rate(by[5m])",
    "x and and",
    "OFFSET",
    /* functions */
    "rate(foo[5m])",
    "time()",
    "pi()",
    "vector(1)",
    "scalar(x)",
    "label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")",
    "label_join(up, \"a\", \",\", \"b\", \"c\", \"d\")",
    "round(x)",
    "round(x, 5)",
    "hour()",
    "hour(x)",
    "histogram_quantile(0.9, rate(x[5m]))",
    "quantile_over_time(0.5, x[5m])",
    "clamp(x, 0, 1)",
    "absent_over_time(x[5m])",
    "predict_linear(x[1h], 3600)",
    "sort_by_label(x, \"a\", \"b\")",
    "info(up)",
    "info(up, {k8s_cluster_name=~\".+\"})",
    "info(up, {a=~\".*\"})",
    "step()",
    "range()",
    "start()",
    "end()",
    "max_of(1, 2)",
    "min_of(time(), 2)",
    "double_exponential_smoothing(x[5m], 0.5, 0.5)",
    "histogram_quantiles(x, \"q\", 0.5, 0.9)",
    "ts_of_max_over_time(x[5m])",
    /* aggregations */
    "sum(x)",
    "sum by (a) (x)",
    "sum(x) by (a)",
    "sum without (a) (x)",
    "sum(x) without (a, b,)",
    "sum by () (x)",
    "sum without () (x)",
    "sum by (\"service.name\", job) (x)",
    "sum by (a:b) (x)",
    "sum by (sum, by, offset, bool, on, group_left, atan2, start, end, step) (x)",
    "topk(5, x)",
    "topk(scalar(y), x)",
    "bottomk(1 + 1, x)",
    "quantile(0.9, x)",
    "count_values(\"label\", x)",
    "limitk(2, x)",
    "limit_ratio(0.5, x)",
    "group(x)",
    "stddev(x)",
    "stdvar(x)",
    "avg(x)",
    "min(x)",
    "max(x)",
    "count by (a) (x) > 1",
    /* binary operators */
    "a + b",
    "a - b - c",
    "a - (b - c)",
    "a * b + c",
    "a + b * c",
    "a ^ b ^ c",
    "(a ^ b) ^ c",
    "a / b % c",
    "a atan2 b",
    "a == b",
    "a != bool b",
    "a < b",
    "a <= b",
    "a > bool b",
    "a >= b",
    "a </ 5",
    "a >/ b",
    "a and b",
    "a or b and c",
    "a unless b",
    "a or b unless c",
    "a > 1 and b < 2 or c",
    "a + on (x) b",
    "a + on () b",
    "a + ignoring (x) b",
    "a + ignoring () b",
    "a * on (x) group_left b",
    "a * on (x) group_left () b",
    "a * on (x) group_left (y, z) b",
    "a * ignoring (x) group_right (y) b",
    "a * on (x) group_left (y) (b)",
    "a and on (x) b",
    "a or ignoring (\"x.y\") b",
    "1 + 2",
    "1 == bool 2",
    "a + fill (0) b",
    "a + fill_left (1) b",
    "a + fill_right (-1) b",
    "a + fill_left (1) fill_right (2) b",
    "a + fill_right (1) fill_left (2) b",
    "a + on (x) group_left fill (0) b",
    "a > bool fill (1) b",
    "a + fill (1e6) b",
    "-a",
    "-a * b",
    "-a ^ b",
    "a * -b",
    "+a",
    "- -a",
    "-(a)",
    "-a offset 5m",
    "-rate(x[5m])",
    "a - -1",
    "a+-1",
    /* modifiers */
    "foo @ 100",
    "foo @ 100.5",
    "foo @ -100",
    "foo @ +1",
    "foo @ 1e3",
    "foo @ start()",
    "foo @ end()",
    "foo @ start() offset 5m",
    "foo offset 5m @ end()",
    "rate(foo[5m] @ 100)",
    "foo[5m:] @ 100",
    "sum(foo)[5m:] offset 1m",
    "foo anchored",
    "foo smoothed",
    "foo[5m] anchored",
    "foo[5m] smoothed",
    "foo anchored[5m]",
    "rate(foo[5m] anchored)",
    "foo @ 1.2345",
    "foo @ 5m",
    /* duration expressions */
    "foo[5m+1m]",
    "foo[5m * 2]",
    "foo[10m / 2]",
    "foo[10m % 3m]",
    "foo[2 ^ 3]",
    "foo[-5m + 10m]",
    "foo[(5m)]",
    "foo[(5m + 1m) * 2]",
    "foo[-(10s - 5s) + 20s]",
    "foo[11s+10s-5*2^2]",
    "foo[step()]",
    "foo[  -  step  (  )  ]",
    "foo[-step()]",
    "foo[step() * 2]",
    "foo[range()]",
    "foo[2m/range()]",
    "foo[max_of(step(), 5s)]",
    "foo[min_of(5s, 1m)]",
    "foo[4s+4s:1s*2] offset (5s-8)",
    "foo[5m:step()]",
    "foo offset step()",
    "foo offset -step()",
    "foo offset +step()",
    "foo offset range()",
    "foo offset max_of(step(), 5s)",
    "foo offset -min_of(5s, step() + 8s)",
    "foo offset (1h * 2)",
    "foo offset (1h) * 2",
    "foo offset (1h)",
    "foo offset -(1h)",
    "foo offset -(1h * 2)",
    "foo offset 5s-8",
    "foo offset -1^1",
    "foo offset -(1^2)",
    "foo offset (-1^2)",
    "(foo offset (1h)) * 2",
    "foo offset +(1h) * 2",
    "foo offset - -5m * 2",
    "foo offset --step() * 2",
    "rate(foo[2m+2m])",
    "foo[5m] offset (1m)",
    "foo[5m:1m] offset (1m * 2)",
    "sum(foo offset (2m))",
    /* comments and spacing */
    "foo # comment",
    "# c\nfoo",
    "sum(\n  foo # c\n) # d",
    "foo{a=\"b\" # c\n}",
    "foo[5m # c\n]",
    "\tfoo\r\n+\rbar",
    "  sum  by  (  a  )  (  x  )  ",
    "a\n/\non(b)\ngroup_left\nc",
    /* misc */
    "(((foo)))",
    "((1))",
    "sum(rate(foo{job=\"a\"}[5m])) by (job) / on (job) group_left sum(bar) by (job)",
    "absent(nonexistent{job=\"myjob\"})",
    "count_values(\"x\", foo) > bool 1",
    "vector(time())[5m:]",
};

static void test_edge_roundtrip(void **state)
{
    static const tg_iovec_t one[] = {TG_IOV_LIT("alpha")};
    static const tg_iovec_t two[] = {TG_IOV_LIT("a"), TG_IOV_LIT("b")};
    struct tg_promql_enforce e1 = {TG_IOV_LIT("namespace"), one, 1, 0, 1};
    struct tg_promql_enforce e2 = {TG_IOV_LIT("namespace"), two, 2, 1, 1};
    tg_arena_t a;
    size_t i;

    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < sizeof(edge_queries) / sizeof(edge_queries[0]); i++) {
        tg_arena_reset(&a);
        roundtrip(&a, edge_queries[i], &all_flags);
        enforce_check(&a, edge_queries[i], &all_flags, &e1);
        enforce_check(&a, edge_queries[i], &all_flags, &e2);
    }
    tg_arena_destroy(&a);
}

static void test_print_canonical(void **state)
{
    static const char *const cases[][2] = {
        {"sum(x) by (a)", "sum by (a) (x)"},
        {"sum by () (x)", "sum(x)"},
        {"a + ignoring () b", "a + b"},
        {"a + on () b", "a + on () b"},
        {"a * on(x) group_left b", "a * on (x) group_left () b"},
        {"{'a'='b\\'c'}", "{a=\"b'c\"}"},
        {"{`a\\b`=\"x\"}", "{\"a\\\\b\"=\"x\"}"},
        {"{\"foo\", a=\"b\"}", "{__name__=\"foo\",a=\"b\"}"},
        {"sum", "{__name__=\"sum\"}"},
        {"foo[300]", "foo[300]"},
        {"foo[1.5]", "foo[1.5]"},
        {"foo[1e-12]", "foo[1e-12]"},
        {"foo[0x10:1_0]", "foo[0x10:1_0]"},
        {"foo[5m:1e-12]", "foo[5m:]"},
        {"foo offset 1e-12", "foo"},
        {"foo offset --5m", "foo offset 5m"},
        {"foo offset - 1.5", "foo offset -1.5"},
        {"foo offset -1h30m", "foo offset -1h30m"},
        {"foo[0.0001]", "foo[0.0001]"},
        {"foo[7d]", "foo[7d]"},
        {"foo @ 1.2345", "foo @ 1.235"},
        {"foo @ -1.5", "foo @ -1.500"},
        {"foo offset 5m @ 1", "foo @ 1.000 offset 5m"},
        {"- - 5", "5"},
        {"-inf", "-inf"},
        {"x{a=\"\\x41\\u00e9\"}", "x{a=\"A\xc3\xa9\"}"},
        {"x{a=\"\\ufffd\\xff\\n\"}", "x{a=\"\\ufffd\\xff\\n\"}"},
        {"foo offset (1h) * 2", "foo offset ((1h) * 2)"},
        {"(foo offset (1h)) * 2", "(foo offset (1h)) * 2"},
        {"foo offset +(1h) * 2", "foo offset +(1h) * 2"},
        {"foo offset - -5m * 2", "foo offset (5m * 2)"},
        {"(foo offset - -5m * 2) + x", "(foo offset (5m * 2)) + x"},
        {"(foo offset (1h) * 2) + x", "(foo offset ((1h) * 2)) + x"},
        {"-foo offset +(1h * 2) + x", "-foo offset +(1h * 2) + x"},
        {"a + fill (1e6) b", "a + fill (1e+06) b"},
        {"foo # comment\n + bar", "foo + bar"},
        {"sum by (a, b,c ,d,  e, f) (x)", "sum by (a, b, c, d, e, f) (x)"},
        {"a / ignoring (x, y) group_right (z,w) b", "a / ignoring (x, y) group_right (z, w) b"},
        {"a > bool on () group_left b", "a > bool on () group_left () b"},
        {"a and on (x) b or ignoring(y) c unless d", "a and on (x) b or ignoring (y) c unless d"},
        {"topk(3, x) atan2 count_values(\"v\", y) % limit_ratio(0.5, z)",
         "topk(3, x) atan2 count_values(\"v\", y) % limit_ratio(0.5, z)"},
        {"foo {a=\"b\"} + foo{a=\"b\", c=\"d\",e=\"f\"} - foo{\"a\"=\"b\"}",
         "foo{a=\"b\"} + foo{a=\"b\",c=\"d\",e=\"f\"} - foo{a=\"b\"}"},
        {"{__name__=\"foo\", a=\"b\"}", "{__name__=\"foo\",a=\"b\"}"},
        {"-(foo) ^ - 2 != bool -min_over_time(foo[5m:] offset 1m)",
         "-(foo) ^ -2 != bool -min_over_time(foo[5m:] offset 1m)"},
    };
    tg_arena_t a;
    size_t i;

    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *p = roundtrip(&a, cases[i][0], &all_flags);
        if (strcmp(p, cases[i][1]) != 0)
            fail_msg("query %s\n  got:  %s\n  want: %s", cases[i][0], p, cases[i][1]);
    }
    tg_arena_destroy(&a);
}

/* "foo offset (1h) * 2": Prometheus' grammar keeps taking duration operators
 * after a parenthesised offset, so the offset is 2h; "foo offset 1h * 2" is
 * a multiplication. */
static void test_offset_grammar_quirks(void **state)
{
    tg_arena_t a;
    struct tg_promql_node *n;

    tg_arena_init(&a, NULL, 0);
    n = parse_ok(&a, "foo offset (1h) * 2", &all_flags);
    assert_int_equal(n->kind, TG_PROMQL_VECTOR);
    assert_non_null(n->u.vs.mods.offset.expr);
    n = parse_ok(&a, "foo offset 1h * 2", &all_flags);
    assert_int_equal(n->kind, TG_PROMQL_BINARY);
    n = parse_ok(&a, "foo offset 5s-8", &all_flags);
    assert_int_equal(n->kind, TG_PROMQL_BINARY);
    n = parse_ok(&a, "foo offset -1^1", &all_flags);
    assert_int_equal(n->kind, TG_PROMQL_BINARY);
    assert_int_equal(n->u.binary.op, TG_PROMQL_POW);
    n = parse_ok(&a, "foo offset -(1h) * 2", &all_flags);
    assert_int_equal(n->kind, TG_PROMQL_BINARY);
    n = parse_ok(&a, "-a * b", &all_flags);
    assert_int_equal(n->kind, TG_PROMQL_BINARY);
    n = parse_ok(&a, "-a ^ b", &all_flags);
    assert_int_equal(n->kind, TG_PROMQL_UNARY);
    n = parse_ok(&a, "a + b offset 5m", &all_flags);
    assert_int_equal(n->kind, TG_PROMQL_BINARY);
    assert_int_equal(n->u.binary.rhs->u.vs.mods.offset.ns, 300000000000LL);
    n = parse_ok(&a, "010", &all_flags);
    assert_true(n->u.num.val == 8);
    n = parse_ok(&a, "0x1e5", &all_flags);
    assert_true(n->u.num.val == 0x1e5);
    tg_arena_destroy(&a);
}

/* ---- errors ---------------------------------------------------------- */

static void test_errors(void **state)
{
    static const struct tg_promql_opts none;
    static const char *const cases[][2] = {
        {"", "no expression found in input"},
        {"   # only a comment", "no expression found in input"},
        {"1 +", "1:4: parse error: unexpected end of input"},
        {"sum(", "unclosed left parenthesis"},
        {")", "1:2: parse error: unexpected right parenthesis ')'"},
        {"x[5m", "unclosed left bracket"},
        {"x]", "unexpected right bracket ']'"},
        {"{a=\"b\"", "unexpected end of input inside braces"},
        {"foo{a:b=\"c\"}", "unexpected character inside braces: ':'"},
        {"foo{a=~b}", "unexpected identifier \"b\" in label matching, expected string"},
        {"foo{a}", "unexpected \"}\" in label matching, expected label matching operator"},
        {"{}", "vector selector must contain at least one non-empty matcher"},
        {"{a=~\".*\"}", "vector selector must contain at least one non-empty matcher"},
        {"{a=\"\", b!~\"x\"}", "vector selector must contain at least one non-empty matcher"},
        {"foo{__name__=\"bar\"}", "metric name must not be set twice: \"foo\" or \"bar\""},
        {"rate(x)", "1:6: parse error: expected type range vector in call to function \"rate\", "
                    "got instant vector"},
        {"rate(x[5m], 1)", "expected 1 argument(s) in call to \"rate\", got 2"},
        {"round()", "expected at least 1 argument(s) in call to \"round\", got 0"},
        {"round(x, 1, 2)", "expected at most 2 argument(s) in call to \"round\", got 3"},
        {"unknownfn(x)", "unknown function with name \"unknownfn\""},
        {"STEP()", "unknown function with name \"STEP\""},
        {"step()", "function \"step\" is not enabled"},
        {"limitk(1, x)", "limitk() is experimental"},
        {"sum(x,)", "trailing commas not allowed in function call args"},
        {"sum()", "no arguments for aggregate expression provided"},
        {"topk(x)",
         "wrong number of arguments for aggregate expression provided, expected 2, got 1"},
        {"sum(1)", "expected type instant vector in aggregation expression, got scalar"},
        {"topk(x, y)", "expected type scalar in aggregation parameter, got instant vector"},
        {"count_values(1, x)", "expected type string in aggregation parameter, got scalar"},
        {"1 > 2", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
        {"a + bool b", "bool modifier can only be used on comparison operators"},
        {"1 and 2", "set operator \"and\" not allowed in binary scalar expression"},
        {"a and on(x) group_left b", "no grouping allowed for \"and\" operation"},
        {"a + on(x) group_left(x) b", "label \"x\" must not occur in ON and GROUP clause at once"},
        {"1 + on(x) b", "vector matching only allowed between instant vectors"},
        {"a[5m] + b", "binary expression must contain only scalar and instant vector types"},
        {"-\"a\"", "unary expression only allowed on expressions of type scalar or instant vector, "
                   "got \"string\""},
        {"x[5m][1h:]", "subquery is only allowed on instant vector, got matrix instead"},
        {"rate(x)[5m]", "ranges only allowed for vector selectors"},
        {"x offset 1m [5m]", "no offset modifiers allowed before range"},
        {"x @ 1 [5m]", "no @ modifiers allowed before range"},
        {"x offset 1m offset 2m", "offset may not be set multiple times"},
        {"x @ 1 @ 2", "@ <timestamp> may not be set multiple times"},
        {"sum(x) offset 1m", "offset modifier must be preceded by an instant vector selector"},
        {"sum(x) @ 1", "@ modifier must be preceded by an instant vector selector"},
        {"x @ 1e30", "timestamp out of bounds for @ modifier"},
        {"x @ foo", "unexpected identifier \"foo\" in @, expected timestamp"},
        {"x offset foo", "unexpected identifier \"foo\" in offset"},
        {"x[0]", "duration must be greater than 0"},
        {"x[-1]", "duration must be greater than 0"},
        {"x[5m:0s]", "duration must be greater than 0"},
        {"x[9.5e10]", "duration out of range"},
        {"x offset 9.5e10", "duration out of range"},
        {"x offset NaN", "duration out of range"}, /* fuzz: UB converting NaN */
        {"x[5m:NaN]", "unexpected character: 'N', expected ':'"},
        {"x @ NaN", "timestamp out of bounds"},
        {"x[5m+1m]", "experimental duration expression is not enabled"},
        {"x offset (1h)", "experimental duration expression is not enabled"},
        {"x[step()]", "experimental duration expression is not enabled"},
        {"x anchored", "anchored modifier is experimental and not enabled"},
        {"x smoothed", "smoothed modifier is experimental and not enabled"},
        {"x + fill(0) y", "binop fill modifiers are experimental and not enabled"},
        {"1e400",
         "error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of range"},
        {"0x", "error parsing number"},
        {"1__0", "bad number or duration syntax"},
        {"5mm", "bad number or duration syntax"},
        {"5m1h", "not a valid duration string: \"5m1h\""},
        {"5hs", "unknown unit \"hs\" in duration \"5hs\""},
        {"\"abc", "unterminated quoted string"},
        {"\"a\nb\"", "unterminated quoted string"},
        {"`abc", "unterminated raw string"},
        {"\"\\q\"", "unknown escape sequence U+0071 'q'"},
        {"\"\\x4\"", "illegal character U+0022 '\"' in escape sequence"},
        {"\"\\ud800\"", "escape sequence is an invalid Unicode code point"},
        {"\"\\400\"", "escape sequence is an invalid Unicode code point"},
        {"\"\xff\"", "invalid UTF-8 rune"},
        {"\"\xef\xbf\xbd\"", "invalid UTF-8 rune"},
        {"foo\xff", "unexpected character"},
        {"a = b", "unexpected \"=\""},
        {"a =~ b", "unexpected character after '=': '~'"},
        {"a ! b", "unexpected character after '!'"},
        {"bool", "unexpected <bool>"},
        {"sum by (without) (x)", "unexpected <without> in grouping opts, expected label"},
        {"sum by x (y)", "unexpected identifier \"x\" in grouping opts, expected \"(\""},
        {"sum by (\"\") (x)", "invalid label name for grouping: \"\""},
        {"sum by (a) (x) by (b)", "unexpected <by>"},
        {"x[5m::1m]", "unexpected colon ':'"},
        {"x[step()::]", "experimental duration expression is not enabled"},
        {"x[1s:step()::]", "unexpected colon ':'"},
        {"x[:5m]", "unexpected colon before duration in duration expression"},
        {"x[5m foo]", "unexpected character: 'f', expected ':'"},
        {"x[foo]", "unexpected character in duration expression: 'f'"},
        {"x[5m[1m]]", "unexpected left bracket '['"},
        {"x[[5m]]", "unexpected character in duration expression: '['"},
        {"x[step]", "unexpected \"]\""},
        {"x[5m/0]", "division by zero"},
        {"x[5m%0]", "modulo by zero"},
        {"info(x, foo)", "expected label selectors only, got vector selector instead"},
        {"foo{a=\"b\"}{c=\"d\"}", "unexpected \"{\""},
        {"a\n+ (b", "unclosed left parenthesis"},
        {"foo offset (1h) * 2 + x", "unexpected identifier \"x\" in duration expression"},
        {"a +\n  *", "2:3: parse error: unexpected <op:*>"},
    };
    struct tg_promql_opts dur = {1, 1, 0, 0, 0, 0};
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *q = cases[i][0];
        int needs_flags = strstr(q, "/0]") || strstr(q, "%0]") || strstr(q, "info(") ||
                          strstr(q, ":step()::") || strstr(q, "(1h) * 2 + x");
        expect_error(q, needs_flags ? &dur : &none, cases[i][1]);
    }
}

/* ---- limits ---------------------------------------------------------- */

static void test_limits(void **state)
{
    tg_arena_t a;
    size_t n = 100000, i;
    char *q = malloc(2 * n + 8), *big;
    struct tg_promql_node *root;
    struct tg_promql_error err;
    struct tg_promql_opts small = {0, 0, 0, 0, 64, 0};

    tg_arena_init(&a, NULL, 0);
    /* 100 000 nested parentheses */
    memset(q, '(', n);
    q[n] = '1';
    memset(q + n + 1, ')', n);
    q[2 * n + 1] = '\0';
    assert_int_equal(tg_promql_parse(&a, tg_iov(q, 2 * n + 1), NULL, &root, &err), -1);
    assert_non_null(strstr(err.msg, "nested too deeply"));
    assert_int_equal(tg_promql_parse(&a, tg_iov(q, 2 * n + 1), &small, &root, &err), -1);
    assert_non_null(strstr(err.msg, "too long"));
    {
        struct tg_promql_opts big_len = {0, 0, 0, 0, 1 << 20, 0};
        assert_int_equal(tg_promql_parse(&a, tg_iov(q, 2 * n + 1), &big_len, &root, &err), -1);
        assert_non_null(strstr(err.msg, "nested too deeply"));
    }
    /* deep unary, ^ chains and left-deep + chains */
    for (i = 0; i < n; i++)
        q[i] = '-';
    q[n] = '1';
    q[n + 1] = '\0';
    {
        struct tg_promql_opts big_len = {0, 0, 0, 0, 1 << 20, 0};
        assert_int_equal(tg_promql_parse(&a, tg_iov(q, n + 1), &big_len, &root, &err), -1);
        for (i = 0; i + 2 < n; i += 2)
            q[i] = 'a', q[i + 1] = '+';
        q[i] = 'a';
        q[i + 1] = '\0';
        assert_int_equal(tg_promql_parse(&a, tg_iov(q, i + 1), &big_len, &root, &err), -1);
        assert_non_null(strstr(err.msg, "nested too deeply"));
        for (i = 0; i + 2 < n; i += 2)
            q[i] = 'a', q[i + 1] = '^';
        assert_int_equal(tg_promql_parse(&a, tg_iov(q, i + 1), &big_len, &root, &err), -1);
        memset(q, '[', 1000);
        assert_int_equal(tg_promql_parse(&a, tg_iov(q, 1000), &big_len, &root, &err), -1);
    }
    /* 999 levels are fine with the default depth */
    tg_arena_reset(&a);
    memset(q, '(', 990);
    q[990] = 'x';
    memset(q + 991, ')', 990);
    assert_int_equal(tg_promql_parse(&a, tg_iov(q, 1981), NULL, &root, &err), 0);
    tg_arena_reset(&a);
    /* 10 MB query */
    big = malloc(10u << 20);
    memset(big, 'a', 10u << 20);
    assert_int_equal(tg_promql_parse(&a, tg_iov(big, 10u << 20), NULL, &root, &err), -1);
    assert_non_null(strstr(err.msg, "too long"));
    assert_int_equal(tg_promql_parse(&a, tg_iov(big, 100), &small, &root, &err), -1);
    /* invalid UTF-8 and NUL bytes */
    assert_int_equal(tg_promql_parse(&a, tg_iov("foo{a=\"\xc3\x28\"}", 12), NULL, &root, &err), -1);
    assert_int_equal(tg_promql_parse(&a, tg_iov("foo\0bar", 7), NULL, &root, &err), -1);
    assert_int_equal(tg_promql_parse(&a, tg_iov("\"a\0b\"", 5), NULL, &root, &err), 0);
    free(big);
    free(q);
    tg_arena_destroy(&a);
}

/* ---- enforcement ----------------------------------------------------- */

static void test_enforce_semantics(void **state)
{
    static const char *const v1[] = {"alpha"};
    static const char *const v2[] = {"a", "b.c"};
    static const char *const cases[][3] = {
        /* query, single value (own matchers replaced), two values (own matchers ANDed) */
        {"x", "x{namespace=\"alpha\"}", "x{namespace=~\"a|b\\\\.c\"}"},
        {"x{namespace=\"other\"}", "x{namespace=\"alpha\"}",
         "x{namespace=\"other\",namespace=~\"a|b\\\\.c\"}"},
        {"x{namespace=~\".*\"}", "x{namespace=\"alpha\"}",
         "x{namespace=~\".*\",namespace=~\"a|b\\\\.c\"}"},
        {"x{namespace!=\"x\", namespace=\"y\", a=\"b\"}", "x{a=\"b\",namespace=\"alpha\"}",
         "x{namespace!=\"x\",namespace=\"y\",a=\"b\",namespace=~\"a|b\\\\.c\"}"},
        {"{\"namespace\"=\"other\", job=\"j\"}", "{job=\"j\",namespace=\"alpha\"}",
         "{namespace=\"other\",job=\"j\",namespace=~\"a|b\\\\.c\"}"},
        {"{__name__=~\".+\"}", "{__name__=~\".+\",namespace=\"alpha\"}",
         "{__name__=~\".+\",namespace=~\"a|b\\\\.c\"}"},
        {"{namespace=\"\"}", "ERR", "ERR"}, /* Prometheus refuses the input already */
        {"1 + 2", "1 + 2", "1 + 2"},
        {"\"s\"", "\"s\"", "\"s\""},
        {"topk(scalar(y), count_values(\"l\", x))",
         "topk(scalar(y{namespace=\"alpha\"}), count_values(\"l\", x{namespace=\"alpha\"}))", NULL},
        {"rate(x[5m] offset 1m @ 100)", "rate(x{namespace=\"alpha\"}[5m] @ 100.000 offset 1m)",
         NULL},
        {"sum(x)[1h:5m] offset 1d", "sum(x{namespace=\"alpha\"})[1h:5m] offset 1d", NULL},
        {"a / on(b) group_left c",
         "a{namespace=\"alpha\"} / on (b) group_left () c{namespace=\"alpha\"}", NULL},
        {"info(up)", "ERR", "ERR"},
        {"sum", "{namespace=\"alpha\",__name__=\"sum\"}", NULL},
    };
    tg_arena_t a;
    size_t i;

    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = enforce_str(&a, cases[i][0], v1, 1, 0);
        if (strcmp(cases[i][1], "ERR") == 0 ? strncmp(got, "ERR", 3) != 0
                                            : strcmp(got, cases[i][1]) != 0)
            fail_msg("query %s\n  got:  %s\n  want: %s", cases[i][0], got, cases[i][1]);
        if (cases[i][2] == NULL)
            continue;
        got = enforce_str(&a, cases[i][0], v2, 2, 0);
        if (strcmp(cases[i][2], "ERR") == 0 ? strncmp(got, "ERR", 3) != 0
                                            : strcmp(got, cases[i][2]) != 0)
            fail_msg("query %s (2 values)\n  got:  %s\n  want: %s", cases[i][0], got, cases[i][2]);
    }
    tg_arena_destroy(&a);
}

static void test_enforce_error_on_replace(void **state)
{
    static const char *const v1[] = {"alpha"};
    static const char *const v2[] = {"alpha", "beta"};
    static const char *const cases[][3] = {
        /* query, single value, two values ("ERR" = refused) */
        {"x{namespace=\"alpha\"}", "x{namespace=\"alpha\",namespace=\"alpha\"}",
         "x{namespace=\"alpha\",namespace=~\"alpha|beta\"}"},
        {"x{namespace=\"other\"}", "ERR", "ERR"},
        {"x{namespace=\"beta\"}", "ERR", "x{namespace=\"beta\",namespace=~\"alpha|beta\"}"},
        {"x{namespace!=\"other\"}", "x{namespace!=\"other\",namespace=\"alpha\"}", NULL},
        {"x{namespace!=\"alpha\"}", "ERR", "x{namespace!=\"alpha\",namespace=~\"alpha|beta\"}"},
        {"x{namespace=~\"al.*\"}", "x{namespace=~\"al.*\",namespace=\"alpha\"}", NULL},
        {"x{namespace=~\".*\"}", "x{namespace=~\".*\",namespace=\"alpha\"}", NULL},
        {"x{namespace=~\"b.*|x\"}", "ERR", "x{namespace=~\"b.*|x\",namespace=~\"alpha|beta\"}"},
        {"x{namespace!~\"al.*\"}", "ERR", "x{namespace!~\"al.*\",namespace=~\"alpha|beta\"}"},
        {"x{namespace=~\"\\\\pL+\"}", "ERR", "ERR"}, /* not modelled: refused */
        {"x{\"namespace\"=\"other\"}", "ERR", "ERR"},
        {"x{namespace=\"\"}", "ERR", "ERR"},
        {"x{namespace=\"alpha\", namespace=\"other\"}", "ERR", "ERR"},
    };
    tg_arena_t a;
    size_t i;

    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = enforce_str(&a, cases[i][0], v1, 1, 1);
        if (strcmp(cases[i][1], "ERR") == 0 ? strncmp(got, "ERR", 3) != 0
                                            : strcmp(got, cases[i][1]) != 0)
            fail_msg("query %s\n  got:  %s\n  want: %s", cases[i][0], got, cases[i][1]);
        if (cases[i][2] == NULL)
            continue;
        got = enforce_str(&a, cases[i][0], v2, 2, 1);
        if (strcmp(cases[i][2], "ERR") == 0 ? strncmp(got, "ERR", 3) != 0
                                            : strcmp(got, cases[i][2]) != 0)
            fail_msg("query %s (2 values)\n  got:  %s\n  want: %s", cases[i][0], got, cases[i][2]);
    }
    {
        /* the first conflicting selector in query order is the one reported */
        static const tg_iovec_t one[] = {TG_IOV_LIT("alpha")};
        struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), one, 1, 1, 0};
        struct tg_promql_error err;
        tg_iovec_t out;
        assert_int_equal(tg_promql_enforce_query(&a,
                                                 TG_IOV_LIT("sum(rate(x{namespace=\"one\"}[5m])) / "
                                                            "topk(2, y{namespace=\"two\"})"),
                                                 NULL, &e, &out, &err),
                         -1);
        assert_non_null(strstr(err.msg, "\"one\""));
        assert_int_equal(tg_promql_enforce_query(
                             &a, TG_IOV_LIT("z + on() topk(2, y{namespace=\"two\"} offset 1m)"),
                             NULL, &e, &out, &err),
                         -1);
        assert_non_null(strstr(err.msg, "\"two\""));
    }
    tg_arena_destroy(&a);
}

/* One multi-value semantics: each matcher type on the tenant label, with one
 * tenant value and with several, in replace mode and with --error-on-replace.
 * Several values AND the injected regex with the query's own matchers
 * (prom-label-proxy's regex enforcer); one value replaces them. The same
 * table drives match[] (tg_promql_enforce_selector). */
static void test_enforce_vectors(void **state)
{
    static const char *const one[] = {"alpha"};
    static const char *const two[] = {"alpha", "beta"};
#define RE2 "namespace=~\"alpha|beta\""
    static const struct {
        const char *sel;           /* matcher written in the query */
        const char *one, *one_eor; /* output with one value: replace / error_on_replace */
        const char *two, *two_eor; /* output with two values ("ERR" = refused) */
    } v[] = {
        {"", "up{namespace=\"alpha\"}", "up{namespace=\"alpha\"}", "up{" RE2 "}", "up{" RE2 "}"},
        /* = */
        {"namespace=\"alpha\"", "up{namespace=\"alpha\"}",
         "up{namespace=\"alpha\",namespace=\"alpha\"}", "up{namespace=\"alpha\"," RE2 "}",
         "up{namespace=\"alpha\"," RE2 "}"},
        {"namespace=\"beta\"", "up{namespace=\"alpha\"}", "ERR", "up{namespace=\"beta\"," RE2 "}",
         "up{namespace=\"beta\"," RE2 "}"},
        {"namespace=\"gamma\"", "up{namespace=\"alpha\"}", "ERR", "up{namespace=\"gamma\"," RE2 "}",
         "ERR"},
        /* != */
        {"namespace!=\"alpha\"", "up{namespace=\"alpha\"}", "ERR",
         "up{namespace!=\"alpha\"," RE2 "}", "up{namespace!=\"alpha\"," RE2 "}"},
        {"namespace!=\"gamma\"", "up{namespace=\"alpha\"}",
         "up{namespace!=\"gamma\",namespace=\"alpha\"}", "up{namespace!=\"gamma\"," RE2 "}",
         "up{namespace!=\"gamma\"," RE2 "}"},
        {"namespace!=\"\"", "up{namespace=\"alpha\"}", "up{namespace!=\"\",namespace=\"alpha\"}",
         "up{namespace!=\"\"," RE2 "}", "up{namespace!=\"\"," RE2 "}"},
        /* =~ */
        {"namespace=~\"al.*\"", "up{namespace=\"alpha\"}",
         "up{namespace=~\"al.*\",namespace=\"alpha\"}", "up{namespace=~\"al.*\"," RE2 "}",
         "up{namespace=~\"al.*\"," RE2 "}"},
        {"namespace=~\"beta|gamma\"", "up{namespace=\"alpha\"}", "ERR",
         "up{namespace=~\"beta|gamma\"," RE2 "}", "up{namespace=~\"beta|gamma\"," RE2 "}"},
        {"namespace=~\"gam.*\"", "up{namespace=\"alpha\"}", "ERR",
         "up{namespace=~\"gam.*\"," RE2 "}", "ERR"},
        {"namespace=~\".*\"", "up{namespace=\"alpha\"}",
         "up{namespace=~\".*\",namespace=\"alpha\"}", "up{namespace=~\".*\"," RE2 "}",
         "up{namespace=~\".*\"," RE2 "}"},
        /* !~ */
        {"namespace!~\"alpha\"", "up{namespace=\"alpha\"}", "ERR",
         "up{namespace!~\"alpha\"," RE2 "}", "up{namespace!~\"alpha\"," RE2 "}"},
        {"namespace!~\"alpha|beta\"", "up{namespace=\"alpha\"}", "ERR",
         "up{namespace!~\"alpha|beta\"," RE2 "}", "ERR"},
        {"namespace!~\"gam.*\"", "up{namespace=\"alpha\"}",
         "up{namespace!~\"gam.*\",namespace=\"alpha\"}", "up{namespace!~\"gam.*\"," RE2 "}",
         "up{namespace!~\"gam.*\"," RE2 "}"},
        /* two matchers on the label: all kept with several values */
        {"namespace!=\"alpha\",namespace=~\"a.*|b.*\"", "up{namespace=\"alpha\"}", "ERR",
         "up{namespace!=\"alpha\",namespace=~\"a.*|b.*\"," RE2 "}",
         "up{namespace!=\"alpha\",namespace=~\"a.*|b.*\"," RE2 "}"},
    };
#undef RE2
    tg_arena_t a;
    size_t i, k;

    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const char *q = tg_arena_printf(&a, "up{%s}", v[i].sel);
        const char *want[4] = {v[i].one, v[i].one_eor, v[i].two, v[i].two_eor};
        for (k = 0; k < 4; k++) {
            const char *got = enforce_str(&a, q, k < 2 ? one : two, k < 2 ? 1 : 2, (int)(k & 1));
            int err_wanted = strcmp(want[k], "ERR") == 0;
            tg_iovec_t vals[2] = {TG_IOV_LIT("alpha"), TG_IOV_LIT("beta")}, out;
            struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), vals, k < 2 ? 1 : 2,
                                          (int)(k & 1), 0};
            struct tg_promql_error err;
            int rc;

            if (err_wanted ? strncmp(got, "ERR", 3) != 0 : strcmp(got, want[k]) != 0)
                fail_msg("query %s (%s value%s%s)\n  got:  %s\n  want: %s", q,
                         k < 2 ? "one" : "two", k < 2 ? "" : "s", k & 1 ? ", error_on_replace" : "",
                         got, want[k]);
            /* match[] goes through the same rule */
            rc = tg_promql_enforce_selector(&a, tg_iov_str(q), NULL, &e, &out, &err);
            if (err_wanted ? rc == 0 : rc != 0 || strcmp(out.base, want[k]) != 0)
                fail_msg("match[] %s (case %zu)\n  got:  %s\n  want: %s", q, k,
                         rc ? err.msg : out.base, want[k]);
        }
    }
    tg_arena_destroy(&a);
}

static void test_enforce_config_errors(void **state)
{
    tg_arena_t a;
    struct tg_promql_node *root;
    struct tg_promql_error err;
    static const tg_iovec_t empty[] = {TG_IOV_LIT("")};
    static const tg_iovec_t one[] = {TG_IOV_LIT("alpha")};
    struct tg_promql_enforce e_empty = {TG_IOV_LIT("namespace"), empty, 1, 0, 0};
    struct tg_promql_enforce e_none = {TG_IOV_LIT("namespace"), one, 0, 0, 0};
    struct tg_promql_enforce e_nolabel = {TG_IOV_LIT(""), one, 1, 0, 0};
    struct tg_promql_enforce e_info = {TG_IOV_LIT("namespace"), one, 1, 0, 1};
    struct tg_promql_opts exp = {0, 1, 0, 0, 0, 0};
    tg_iovec_t out;

    tg_arena_init(&a, NULL, 0);
    root = parse_ok(&a, "x", NULL);
    assert_int_equal(tg_promql_enforce(&a, root, &e_empty, &err), -1);
    assert_int_equal(tg_promql_enforce(&a, root, &e_none, &err), -1);
    assert_int_equal(tg_promql_enforce(&a, root, &e_nolabel, &err), -1);
    assert_int_equal(tg_promql_enforce(&a, root, NULL, &err), -1);
    assert_int_equal(
        tg_promql_enforce_query(&a, TG_IOV_LIT("info(up, {a=~\".+\"})"), &exp, &e_info, &out, &err),
        0);
    assert_string_equal(out.base, "info(up{namespace=\"alpha\"}, {a=~\".+\",namespace=\"alpha\"})");
    e_info.allow_info = 0;
    assert_int_equal(tg_promql_enforce_query(&a, TG_IOV_LIT("info(up)"), &exp, &e_info, &out, &err),
                     -1);
    assert_non_null(strstr(err.msg, "info() is not allowed"));
    tg_arena_destroy(&a);
}

static void test_enforce_selector(void **state)
{
    static const tg_iovec_t one[] = {TG_IOV_LIT("alpha")};
    static const tg_iovec_t two[] = {TG_IOV_LIT("a\"b"), TG_IOV_LIT("c.d")};
    struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), one, 1, 0, 0};
    struct tg_promql_enforce e2 = {TG_IOV_LIT("k8s.namespace"), two, 2, 0, 0};
    struct tg_promql_error err;
    tg_iovec_t out;
    tg_arena_t a;

    tg_arena_init(&a, NULL, 0);
    assert_int_equal(tg_promql_enforce_selector(&a, TG_IOV_LIT("up"), NULL, &e, &out, &err), 0);
    assert_string_equal(out.base, "up{namespace=\"alpha\"}");
    assert_int_equal(
        tg_promql_enforce_selector(&a, TG_IOV_LIT("{__name__=~\".*\"}"), NULL, &e, &out, &err), 0);
    assert_string_equal(out.base, "{__name__=~\".*\",namespace=\"alpha\"}");
    assert_int_equal(tg_promql_enforce_selector(&a, TG_IOV_LIT("{}"), NULL, &e, &out, &err), 0);
    assert_string_equal(out.base, "{namespace=\"alpha\"}");
    assert_int_equal(
        tg_promql_enforce_selector(&a, TG_IOV_LIT("rate(x[5m])"), NULL, &e, &out, &err), -1);
    assert_int_equal(
        tg_promql_enforce_selector(&a, TG_IOV_LIT("x offset 5m"), NULL, &e, &out, &err), -1);
    assert_int_equal(tg_promql_enforce_selector(&a, TG_IOV_LIT("x[5m]"), NULL, &e, &out, &err), -1);
    assert_int_equal(tg_promql_enforce_selector(&a, TG_IOV_LIT("x + y"), NULL, &e, &out, &err), -1);
    assert_int_equal(tg_promql_tenant_selector(&a, &e, &out, &err), 0);
    assert_string_equal(out.base, "{namespace=\"alpha\"}");
    assert_int_equal(tg_promql_tenant_selector(&a, &e2, &out, &err), 0);
    assert_string_equal(out.base, "{\"k8s.namespace\"=~\"a\\\"b|c\\\\.d\"}");
    assert_int_equal(tg_promql_enforce_selector(&a, TG_IOV_LIT("{\"k8s.namespace\"=\"z\"}"), NULL,
                                                &e2, &out, &err),
                     0);
    /* several values: the selector's own matcher stays, ANDed */
    assert_string_equal(out.base,
                        "{\"k8s.namespace\"=\"z\",\"k8s.namespace\"=~\"a\\\"b|c\\\\.d\"}");
    tg_arena_destroy(&a);
}

/* ---- Prometheus-compatible output ------------------------------------ */

static void test_format_pretty(void **state)
{
    tg_arena_t a;
    tg_sb_t sb;
    struct tg_promql_node *n;

    tg_arena_init(&a, NULL, 0);
    n = parse_ok(&a, "sum(rate(foo{z=\"1\",a=\"2\"}[300])) by (job)", NULL);
    tg_sb_init(&sb, &a, 64);
    tg_promql_format(n, &sb);
    assert_string_equal(tg_sb_cstr(&sb), "sum by (job) (rate(foo{a=\"2\",z=\"1\"}[5m]))");
    n = parse_ok(
        &a,
        "sum by (namespace) (rate(container_cpu_usage_seconds_total{job=\"kubelet\", "
        "metrics_path=\"/metrics/cadvisor\", image!=\"\"}[5m])) / on (namespace) group_left "
        "sum by (namespace) (kube_pod_info)",
        NULL);
    tg_sb_init(&sb, &a, 64);
    tg_promql_format(n, &sb);
    assert_string_equal(tg_sb_cstr(&sb), "  sum by (namespace) (\n"
                                         "    rate(\n"
                                         "      "
                                         "container_cpu_usage_seconds_total{image!=\"\",job="
                                         "\"kubelet\",metrics_path=\"/metrics/cadvisor\"}[5m]\n"
                                         "    )\n"
                                         "  )\n"
                                         "/ on (namespace) group_left ()\n"
                                         "  sum by (namespace) (kube_pod_info)");
    tg_arena_destroy(&a);
}

static void test_ast_json(void **state)
{
    tg_arena_t a;
    tg_sb_t sb;
    struct tg_promql_node *n;

    tg_arena_init(&a, NULL, 0);
    n = parse_ok(&a, "sum by (a) (rate(foo{b=\"<\"}[5m] offset 1m)) > bool 1", NULL);
    tg_sb_init(&sb, &a, 64);
    tg_promql_ast_json(n, &sb);
    assert_string_equal(tg_sb_cstr(&sb),
                        "{\"bool\":true,\"lhs\":{\"expr\":{\"args\":[{\"anchored\":false,"
                        "\"matchers\":[{\"name\":\"b\",\"type\":\"=\","
                        "\"value\":\"\\u003c\"},{\"name\":\"__name__\",\"type\":\"=\",\"value\":"
                        "\"foo\"}],\"name\":\"foo\",\"offset\":60000,"
                        "\"offsetExpr\":null,\"range\":300000,\"rangeExpr\":null,\"smoothed\":"
                        "false,\"startOrEnd\":null,"
                        "\"timestamp\":null,\"type\":\"matrixSelector\"}],\"func\":{\"argTypes\":["
                        "\"matrix\"],\"name\":\"rate\","
                        "\"returnType\":\"vector\",\"variadic\":0},\"type\":\"call\"},\"grouping\":"
                        "[\"a\"],\"op\":\"sum\",\"param\":null,"
                        "\"type\":\"aggregation\",\"without\":false},\"matching\":null,\"op\":\">"
                        "\",\"rhs\":{\"type\":\"numberLiteral\","
                        "\"val\":\"1\"},\"type\":\"binaryExpr\"}");
    tg_arena_destroy(&a);
}

/* ---- helpers --------------------------------------------------------- */

static void test_regex(void **state)
{
    static const struct {
        const char *re, *s;
        int want;
    } cases[] = {
        {".*", "", 1},
        {".+", "", 0},
        {"", "", 1},
        {"a|", "", 1},
        {"a?", "", 1},
        {"(a|b)*", "", 1},
        {"a{0,2}", "", 1},
        {"a{1,2}", "", 0},
        {"^$", "", 1},
        {"\\b", "", 0},
        {"[a-z]*", "", 1},
        {"alpha", "alpha", 1},
        {"al.*", "alpha", 1},
        {"al", "alpha", 0},
        {"(?i)ALPHA", "alpha", 1},
        {"a|b\\.c", "b.c", 1},
        {"a|b\\.c", "bxc", 0},
        {"[^x]+", "abc", 1},
        {"[^x]+", "axc", 0},
        {"\\d+", "123", 1},
        {"\\w+-\\d", "ab-1", 1},
        {"a{2}", "aa", 1},
        {"a{2}", "aaa", 0},
        {"(a+)+b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaac", -1},
        {"\\pL", "a", -1},
        {"[[:alpha:]]", "a", -1},
        {".", "\n", 1},
        {"(?-s).", "\n", 0},
        {"a*?", "aaa", 1},
        {"(?:ab)+", "abab", 1},
        {"(?P<x>a)", "a", 1},
        {"(", "", -1},
        {"*", "", -1},
        {"é+", "éé", 1},
        {"a**", "", -1},
        /* fuzz: nested repetitions overflowed the stack */
        {"((((((((((((((((((((a?)*)*)*)*)*)*)*)*)*)*)*)*)*)*)*)*)*)*)*)*",
         "aaaaaaaaaaaaaaaaaaaaaaaab", -1},
        {"^^**+++", "", -1},
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int r = pq_regex_match(tg_iov_str(cases[i].re), tg_iov_str(cases[i].s));
        if (r != cases[i].want)
            fail_msg("regex %s on \"%s\": got %d want %d", cases[i].re, cases[i].s, r,
                     cases[i].want);
    }
}

/* The printer's shortcuts (matchers copied from the query, plain names and
 * values, operator tables) give exactly the canonical text. */
static void test_print_fast_paths(void **state)
{
    static const tg_iovec_t values[] = {TG_IOV_LIT("alpha")};
    const struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), values, 1, 0, 0};
    static const char *const cases[][3] = {
        {"foo{a=\"b\",c=\"d\"}", "foo{a=\"b\",c=\"d\"}",
         "foo{a=\"b\",c=\"d\",namespace=\"alpha\"}"},
        {"foo{a = \"b\" , c=\"d\",}", "foo{a=\"b\",c=\"d\"}",
         "foo{a=\"b\",c=\"d\",namespace=\"alpha\"}"},
        {"foo{a='b',c=\"d\"}", "foo{a=\"b\",c=\"d\"}", "foo{a=\"b\",c=\"d\",namespace=\"alpha\"}"},
        {"foo{a=`b`,c=\"d\\\"e\"}", "foo{a=\"b\",c=\"d\\\"e\"}",
         "foo{a=\"b\",c=\"d\\\"e\",namespace=\"alpha\"}"},
        {"foo{a=\"b\", c=\"d\",namespace=\"x\",e=\"f\"}",
         "foo{a=\"b\",c=\"d\",namespace=\"x\",e=\"f\"}",
         "foo{a=\"b\",c=\"d\",e=\"f\",namespace=\"alpha\"}"},
        {"foo{a=\"b\",c=\"d\\n\",e=\"f\"}", "foo{a=\"b\",c=\"d\\n\",e=\"f\"}",
         "foo{a=\"b\",c=\"d\\n\",e=\"f\",namespace=\"alpha\"}"},
        {"foo{\"a.b\"=\"c\",d=\"e\"}", "foo{\"a.b\"=\"c\",d=\"e\"}",
         "foo{\"a.b\"=\"c\",d=\"e\",namespace=\"alpha\"}"},
        {"{\"foo.bar\",a=\"b\"}", "{__name__=\"foo.bar\",a=\"b\"}",
         "{__name__=\"foo.bar\",a=\"b\",namespace=\"alpha\"}"},
        {"foo{a=\"\xc3\xa9\",b=\"c\"}", "foo{a=\"\xc3\xa9\",b=\"c\"}",
         "foo{a=\"\xc3\xa9\",b=\"c\",namespace=\"alpha\"}"},
        {"foo{a=\"b\",\nc=\"d\"} # comment", "foo{a=\"b\",c=\"d\"}",
         "foo{a=\"b\",c=\"d\",namespace=\"alpha\"}"},
        {"sum by (a, \"b.c\", d) (rate(foo:bar{a=\"b\"}[5m] offset 1h)) > on (a) group_left (x) "
         "count without () "
         "(fill{a=\"b\"})",
         "sum by (a, \"b.c\", d) (rate(foo:bar{a=\"b\"}[5m] offset 1h)) > on (a) group_left (x) "
         "count without () "
         "({a=\"b\",__name__=\"fill\"})",
         "sum by (a, \"b.c\", d) (rate(foo:bar{a=\"b\",namespace=\"alpha\"}[5m] offset 1h)) > on "
         "(a) group_left (x) "
         "count without () ({a=\"b\",namespace=\"alpha\",__name__=\"fill\"})"},
        {"sum(foo) BY (x)", "sum by (x) (foo)", "sum by (x) (foo{namespace=\"alpha\"})"},
        {"Sum by (ON, bool) (SUM)", "sum by (ON, bool) ({__name__=\"SUM\"})",
         "sum by (ON, bool) ({namespace=\"alpha\",__name__=\"SUM\"})"},
        {"inf + nan + 0x1f + 1_000 + 010 + 1e3 + .5 + 5.",
         "inf + nan + 0x1f + 1_000 + 010 + 1e3 + .5 + 5.",
         "inf + nan + 0x1f + 1_000 + 010 + 1e3 + .5 + 5."},
        {"rate(x[1h30m]) + rate(x[300]) + max_over_time(x[90s:1500ms])",
         "rate(x[1h30m]) + rate(x[300]) + max_over_time(x[90s:1500ms])",
         "rate(x{namespace=\"alpha\"}[1h30m]) + rate(x{namespace=\"alpha\"}[300]) + "
         "max_over_time(x{namespace=\"alpha\"}[90s:1500ms])"},
        {"a atan2 b unless c", "a atan2 b unless c",
         "a{namespace=\"alpha\"} atan2 b{namespace=\"alpha\"} unless c{namespace=\"alpha\"}"},
    };
    tg_arena_t a;
    size_t i;

    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tg_promql_error err;
        tg_iovec_t out;
        const char *p = roundtrip(&a, cases[i][0], NULL);
        if (strcmp(p, cases[i][1]) != 0)
            fail_msg("print %s\n  got  %s\n  want %s", cases[i][0], p, cases[i][1]);
        if (tg_promql_enforce_query(&a, tg_iov_str(cases[i][0]), NULL, &e, &out, &err) != 0)
            fail_msg("enforce %s: %s", cases[i][0], err.msg);
        if (strcmp(out.base, cases[i][2]) != 0)
            fail_msg("enforce %s\n  got  %s\n  want %s", cases[i][0], out.base, cases[i][2]);
    }
    tg_arena_destroy(&a);
}

/* Literal ranges, steps and offsets print as the query spelled them; without
 * that hint (a synthesised or edited AST) the printer finds the units. */
static void test_print_duration_spelling(void **state)
{
    tg_arena_t a;
    struct tg_promql_node *n;
    const char *p;

    tg_arena_init(&a, NULL, 0);
    n = parse_ok(&a, "x[90s:1500ms] offset -1.5", NULL);
    assert_string_equal(print(&a, n), "x[90s:1500ms] offset -1.5");
    n->u.subquery.range.text = TG_IOV_NULL;
    n->u.subquery.step.text = TG_IOV_NULL;
    n->u.subquery.mods.offset.text = TG_IOV_NULL;
    p = print(&a, n);
    assert_string_equal(p, "x[1m30s:1s500ms] offset -1s500ms");
    assert_true(tg_promql_equal(n, parse_ok(&a, p, NULL)));
    n = parse_ok(&a, "rate(x[0x1_0]) + y offset 2h", NULL);
    assert_string_equal(print(&a, n), "rate(x[0x1_0]) + y offset 2h");
    n->u.binary.rhs->u.vs.mods.offset.ns = 3600000000000LL;
    n->u.binary.rhs->u.vs.mods.offset.text = TG_IOV_NULL;
    assert_string_equal(print(&a, n), "rate(x[0x1_0]) + y offset 1h");
    tg_arena_destroy(&a);
    (void)state;
}

/* pq_needs_escape: printable ASCII but '"' and '\\' go between quotes as
 * they are, every other byte needs an escape, wherever it stands. */
static void test_needs_escape(void **state)
{
    char buf[9] = "abcdefgh";
    int c;
    size_t pos;

    assert_false(pq_needs_escape(TG_IOV_NULL));
    assert_false(pq_needs_escape(TG_IOV_LIT(" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~")));
    for (c = 0; c < 256; c++) {
        int want = c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
        for (pos = 0; pos < 8; pos++) {
            size_t len;
            buf[pos] = (char)c;
            for (len = pos + 1; len <= 8; len++)
                assert_int_equal(pq_needs_escape(tg_iov(buf, len)), want);
            assert_false(pq_needs_escape(tg_iov(buf, pos)));
            buf[pos] = (char)('a' + pos);
        }
    }
    (void)state;
}

/* Keywords by perfect hash: every keyword in any case, nothing else */
static void test_keywords(void **state)
{
    static const struct {
        const char *kw;
        int type;
    } kws[] = {
        {"or", T_LOR},
        {"by", T_BY},
        {"on", T_ON},
        {"and", T_LAND},
        {"sum", T_SUM},
        {"avg", T_AVG},
        {"min", T_MIN},
        {"max", T_MAX},
        {"end", T_END},
        {"inf", T_NUMBER},
        {"nan", T_NUMBER},
        {"topk", T_TOPK},
        {"fill", T_FILL},
        {"bool", T_BOOL},
        {"step", T_STEP},
        {"atan2", T_ATAN2},
        {"count", T_COUNT},
        {"group", T_GROUP},
        {"start", T_START},
        {"range", T_RANGE},
        {"unless", T_LUNLESS},
        {"stddev", T_STDDEV},
        {"stdvar", T_STDVAR},
        {"limitk", T_LIMITK},
        {"offset", T_OFFSET},
        {"max_of", T_MAX_OF},
        {"min_of", T_MIN_OF},
        {"bottomk", T_BOTTOMK},
        {"without", T_WITHOUT},
        {"quantile", T_QUANTILE},
        {"smoothed", T_SMOOTHED},
        {"anchored", T_ANCHORED},
        {"ignoring", T_IGNORING},
        {"fill_left", T_FILL_LEFT},
        {"group_left", T_GROUP_LEFT},
        {"fill_right", T_FILL_RIGHT},
        {"limit_ratio", T_LIMIT_RATIO},
        {"group_right", T_GROUP_RIGHT},
        {"count_values", T_COUNT_VALUES},
    };
    static const char *const not_kw[] = {
        "o",     "ox",   "su",    "summ",        "sum_",          "rate",
        "bye",   "atan", "atan3", "count_value", "count_valuesx", "group_lefT_",
        "fill:", "in",   "nana"};
    size_t i, j, k;
    tg_arena_t a;
    struct pq_lexed lx;
    (void)state;

    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
        char up[16], mixed[16], q[20];
        const char *spell[3] = {kws[i].kw, up, mixed};
        size_t n = strlen(kws[i].kw);
        for (j = 0; j < n; j++) {
            char c = kws[i].kw[j];
            up[j] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
            mixed[j] = (j % 2) ? up[j] : c;
        }
        for (k = 0; k < 3; k++) {
            assert_int_equal(pq_keyword(spell[k], n), kws[i].type);
            /* the lexer's own lookup, on a query: "kw(" (fill* only before '(') */
            memcpy(q, spell[k], n);
            q[n] = '(';
            pq_lex(&a, q, n + 1, &lx);
            assert_true(lx.n >= 2);
            assert_int_equal(lx.toks[0].type, kws[i].type);
            assert_int_equal(lx.toks[0].len, n);
        }
    }
    for (i = 0; i < sizeof(not_kw) / sizeof(not_kw[0]); i++) {
        size_t n = strlen(not_kw[i]);
        assert_int_equal(pq_keyword(not_kw[i], n), T_IDENT);
        pq_lex(&a, not_kw[i], n, &lx);
        assert_int_equal(lx.toks[0].type, strchr(not_kw[i], ':') ? T_METRIC_IDENT : T_IDENT);
        assert_int_equal(lx.toks[0].len, n);
    }
    tg_arena_destroy(&a);
}

/* RE2 syntax of =~ and !~ values, as Go's regexp/syntax (Perl flags) */
static void test_regex_syntax(void **state)
{
    static const struct {
        const char *re, *err;
    } cases[] = {
        /* valid */
        {"", NULL},
        {".*", NULL},
        {"a|b|c", NULL},
        {"kube-system|monitoring", NULL},
        {"(a|b)+c?", NULL},
        {"^$", NULL},
        {"^*", NULL},
        {"a{2}", NULL},
        {"a{2,}", NULL},
        {"a{2,5}?", NULL},
        {"a{1000}", NULL},
        {"((a{10}){10}){10}", NULL},
        {"(a{0}){1000}", NULL},
        {"x{,3}", NULL},
        {"x{01}", NULL},
        {"{", NULL},
        {"a{", NULL},
        {"a{1", NULL},
        {"a{1,", NULL},
        {"}", NULL},
        {"]", NULL},
        {"[]a]", NULL},
        {"[^]a]", NULL},
        {"[a-]", NULL},
        {"[-a]", NULL},
        {"[a\\-z]", NULL},
        {"[[:alpha:][:^digit:]]", NULL},
        {"[[:word:]]", NULL},
        {"[\\d\\s\\w\\D\\S\\W]", NULL},
        {"[\\pL\\p{Greek}]", NULL},
        {"\\pL\\PL\\pN\\p{^Greek}\\P{Any}", NULL},
        {"\\p{Han}\\p{latin}\\p{Lu}\\p{ASCII}", NULL},
        {"\\d\\D\\s\\S\\w\\W\\b\\B\\A\\z", NULL},
        {"\\Qa.b*c\\E+", NULL},
        {"\\Q(", NULL},
        {"\\Q\\E", NULL},
        {"\\01\\123\\x41\\x{1F600}\\a\\f\\t\\n\\r\\v", NULL},
        {"\\.\\+\\*\\?\\(\\)\\|\\[\\]\\{\\}\\^\\$\\\\\\_\\-\\/", NULL},
        {"(?i)abc", NULL},
        {"(?i:a)(?-s:b)(?U)c*", NULL},
        {"(?im-sU:x)", NULL},
        {"(?P<name>x)(?<n2>y)", NULL},
        {"(?:)", NULL},
        {"()", NULL},
        {"(|)*", NULL},
        {"a*?b+?c??", NULL},
        {"\xc3\xa9+", NULL},
        {"a\\Q\\E*", NULL},
        {"\xff", NULL}, /* plain literal: never parsed */
        {"[\\x00-\\x{10FFFF}]", NULL},
        {"[\\]]", NULL},
        {"[[]", NULL},
        {"[a-b-c]", NULL},
        /* the fast path for literals, '.', groups, '|' and single quantifiers */
        {"(/dev/)?(mmcblk.p.+|nvme.+|dm-.+)", NULL},
        {"((a|b)+(c.)*)?d", NULL},
        {"(|a)+", NULL},
        /* invalid */
        {"(", "missing closing ): `(`"},
        {"(a|b", "missing closing ): `(a|b`"},
        {"a)", "unexpected ): `a)`"},
        {"*a", "missing argument to repetition operator: `*`"},
        {"a|*", "missing argument to repetition operator: `*`"},
        {"(*)", "missing argument to repetition operator: `*`"},
        {"(?i)+", "missing argument to repetition operator: `+`"},
        {"{2}", "missing argument to repetition operator: `{2}`"},
        {"a**", "invalid nested repetition operator: `**`"},
        {"(a)*+", "invalid nested repetition operator: `*+`"},
        {"((a)", "missing closing ): `((a)`"},
        {"a|b)", "unexpected ): `a|b)`"},
        {"(|*)", "missing argument to repetition operator: `*`"},
        {"a+?*", "invalid nested repetition operator: `+?*`"},
        {"x{2}{3}", "invalid nested repetition operator: `{2}{3}`"},
        {"a{1001}", "invalid repeat count: `{1001}`"},
        {"a{2,1}", "invalid repeat count: `{2,1}`"},
        {"a{0,1001}", "invalid repeat count: `{0,1001}`"},
        {"a{99999999999}", "invalid repeat count: `{99999999999}`"},
        {"(a{500}){3}", "invalid repeat count: `{3}`"},
        {"((a{10}){10}){11}", "invalid repeat count: `{11}`"},
        {"[a", "missing closing ]: `[a`"},
        {"[]", "missing closing ]: `[]`"},
        {"x[^", "missing closing ]: `[^`"},
        {"[z-a]", "invalid character class range: `z-a`"},
        {"[[:foo:]]", "invalid character class range: `[:foo:]`"},
        {"[[:ALPHA:]]", "invalid character class range: `[:ALPHA:]`"},
        {"\\p{Foo}", "invalid character class range: `\\p{Foo}`"},
        {"\\pX", "invalid character class range: `\\pX`"},
        {"\\p{", "invalid character class range: `\\p{`"},
        {"\\p", "invalid character class range: `\\p`"},
        {"\\8", "invalid escape sequence: `\\8`"},
        {"\\1", "invalid escape sequence: `\\1`"},
        {"\\q", "invalid escape sequence: `\\q`"},
        {"\\C", "invalid escape sequence: `\\C`"},
        {"[\\b]", "invalid escape sequence: `\\b`"},
        {"[a-\\d]", "invalid escape sequence: `\\d`"},
        {"\\x{}", "invalid escape sequence: `\\x{}`"},
        {"\\x{110000}", "invalid escape sequence: `\\x{110000`"},
        {"\\x{12", "invalid escape sequence: `\\x{12`"},
        {"\\xg1", "invalid escape sequence: `\\xg1`"},
        {"\\x4", "invalid escape sequence: `\\x4`"},
        {"\\", "trailing backslash at end of expression: ``"},
        {"(?x)", "invalid or unsupported Perl syntax: `(?x`"},
        {"(?", "invalid or unsupported Perl syntax: `(?`"},
        {"(?i", "invalid or unsupported Perl syntax: `(?i`"},
        {"(?-)", "invalid or unsupported Perl syntax: `(?-)`"},
        {"(?i--s)", "invalid or unsupported Perl syntax: `(?i--`"},
        {"(?P=n)", "invalid or unsupported Perl syntax: `(?P`"},
        {"(?'n'x)", "invalid or unsupported Perl syntax: `(?'`"},
        {"(?P<n!>a)", "invalid named capture: `(?P<n!>`"},
        {"(?P<>a)", "invalid named capture: `(?P<>`"},
        {"(?P<name", "invalid named capture: `(?P<name`"},
        {"a.\xff(", "invalid UTF-8: `\xef\xbf\xbd(`"},
        {"\\Q\xff\\E.", "invalid UTF-8: `\xef\xbf\xbd`"},
    };
    tg_arena_t a;
    size_t i;

    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[180], want[180];
        int r = pq_regex_check(&a, tg_iov_str(cases[i].re), msg, sizeof(msg));
        if (cases[i].err == NULL) {
            if (r != 0)
                fail_msg("regex %s: unexpected error %s", cases[i].re, msg);
            continue;
        }
        snprintf(want, sizeof(want), "error parsing regexp: %s", cases[i].err);
        if (r == 0 || strcmp(msg, want) != 0)
            fail_msg("regex %s: got %s, want %s", cases[i].re, r == 0 ? "(valid)" : msg, want);
    }
    {
        /* nesting deeper than the frames on the stack (the arena takes over);
         * non-capturing groups, which add no height in Go's tree */
        char re[4010], msg[180];
        size_t k;
        for (k = 0; k < 1000; k++)
            memcpy(re + 3 * k, "(?:", 3);
        re[3000] = 'a';
        memset(re + 3001, ')', 1000);
        re[4001] = '\0';
        assert_int_equal(pq_regex_check(&a, tg_iov_str(re), msg, sizeof(msg)), 0);
        re[4000] = '\0';
        assert_int_equal(pq_regex_check(&a, tg_iov_str(re), msg, sizeof(msg)), -1);
        assert_true(strncmp(msg, "error parsing regexp: missing closing ): `(?:(?:", 48) == 0);
        assert_true(strlen(msg) < sizeof(msg));
    }
    tg_arena_destroy(&a);
}

/* the parser refuses them where the matcher starts, also on the tenant label
 * (the query must be valid as written) and in match[] selectors */
static void test_regex_syntax_parse(void **state)
{
    static const tg_iovec_t values[] = {TG_IOV_LIT("alpha")};
    const struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), values, 1, 0, 0};
    struct tg_promql_node *root;
    struct tg_promql_error err;
    tg_arena_t a;
    tg_iovec_t out;

    tg_arena_init(&a, NULL, 0);
    assert_int_equal(tg_promql_parse(&a, tg_iov_str("up{job=~\"(\"}"), NULL, &root, &err), -1);
    assert_string_equal(err.msg, "1:4: parse error: error parsing regexp: missing closing ): `(`");
    assert_int_equal(tg_promql_parse(&a, tg_iov_str("sum(rate(x{a=\"b\",\n  \"c\"!~\"a**\"}[5m]))"),
                                     NULL, &root, &err),
                     -1);
    assert_string_equal(
        err.msg,
        "2:3: parse error: error parsing regexp: invalid nested repetition operator: `**`");
    assert_int_equal(
        tg_promql_enforce_query(&a, tg_iov_str("up{namespace=~\"[a\"}"), NULL, &e, &out, &err), -1);
    assert_string_equal(err.msg, "1:4: parse error: error parsing regexp: missing closing ]: `[a`");
    assert_int_equal(
        tg_promql_enforce_selector(&a, tg_iov_str("{job!~\"*\"}"), NULL, &e, &out, &err), -1);
    assert_string_equal(
        err.msg,
        "1:2: parse error: error parsing regexp: missing argument to repetition operator: `*`");
    /* a regex error comes before later syntax errors */
    assert_int_equal(tg_promql_parse(&a, tg_iov_str("up{job=~\"(\"} +"), NULL, &root, &err), -1);
    assert_string_equal(err.msg, "1:4: parse error: error parsing regexp: missing closing ): `(`");
    /* valid ones still enforce */
    assert_int_equal(
        tg_promql_enforce_query(&a, tg_iov_str("up{job=~\"(?i)a.*|b{2}\"}"), NULL, &e, &out, &err),
        0);
    assert_string_equal(out.base, "up{job=~\"(?i)a.*|b{2}\",namespace=\"alpha\"}");
    tg_arena_destroy(&a);
}

static void test_quote_and_numbers(void **state)
{
    tg_arena_t a;
    tg_sb_t sb;
    double d;
    int64_t ns;
    char msg[128];

    tg_arena_init(&a, NULL, 0);
    tg_sb_init(&sb, &a, 16);
    pq_quote_meta(&sb, TG_IOV_LIT("a.b*c[d]|e-f"));
    assert_string_equal(tg_sb_cstr(&sb), "a\\.b\\*c\\[d\\]\\|e-f");
    tg_sb_clear(&sb);
    tg_promql_label_name(&sb, TG_IOV_LIT("service.name"));
    tg_sb_addc(&sb, ' ');
    tg_promql_label_name(&sb, TG_IOV_LIT("_ok9"));
    tg_sb_addc(&sb, ' ');
    tg_promql_label_name(&sb, TG_IOV_LIT("9no"));
    assert_string_equal(tg_sb_cstr(&sb), "\"service.name\" _ok9 \"9no\"");
    tg_sb_clear(&sb);
    pq_format_float(&sb, 1e21);
    tg_sb_addc(&sb, ' ');
    pq_format_float(&sb, 0.000001);
    tg_sb_addc(&sb, ' ');
    pq_format_float(&sb, -1.5);
    tg_sb_addc(&sb, ' ');
    pq_format_float(&sb, 1.0 / 0.0);
    assert_string_equal(tg_sb_cstr(&sb), "1000000000000000000000 0.000001 -1.5 +Inf");
    assert_int_equal(pq_parse_number(&a, "0x10", 4, &d), 0);
    assert_true(d == 16);
    assert_int_equal(pq_parse_number(&a, "1_000.5", 7, &d), 0);
    assert_true(d == 1000.5);
    assert_int_equal(pq_parse_number(&a, "1__0", 4, &d), -1);
    assert_int_equal(pq_parse_number(&a, "0xffffffffffffffffff", 20, &d), -1);
    assert_int_equal(pq_parse_duration("1y2w", 4, &ns, msg, sizeof(msg)), 0);
    assert_true(ns == (365 + 14) * 86400LL * 1000000000LL);
    assert_int_equal(pq_parse_duration("300y", 4, &ns, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "duration out of range");
    tg_arena_destroy(&a);
}

static void test_func_table(void **state)
{
    size_t n, i;
    const struct tg_promql_func *f = tg_promql_funcs(&n);
    assert_true(n > 80);
    for (i = 1; i < n; i++)
        assert_true(strcmp(f[i - 1].name, f[i].name) < 0);
    for (i = 0; i < n; i++) {
        assert_ptr_equal(tg_promql_func_lookup(tg_iov_str(f[i].name)), &f[i]);
        assert_int_equal(f[i].name_len, strlen(f[i].name));
        assert_int_equal(f[i].n_args, strlen(f[i].args));
    }
    assert_null(tg_promql_func_lookup(TG_IOV_LIT("rat")));
    assert_null(tg_promql_func_lookup(TG_IOV_LIT("rates")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_roundtrip),
        cmocka_unit_test(test_corpus_enforce),
        cmocka_unit_test(test_edge_roundtrip),
        cmocka_unit_test(test_print_canonical),
        cmocka_unit_test(test_offset_grammar_quirks),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_enforce_semantics),
        cmocka_unit_test(test_enforce_error_on_replace),
        cmocka_unit_test(test_enforce_vectors),
        cmocka_unit_test(test_enforce_config_errors),
        cmocka_unit_test(test_enforce_selector),
        cmocka_unit_test(test_format_pretty),
        cmocka_unit_test(test_ast_json),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_regex_syntax),
        cmocka_unit_test(test_print_fast_paths),
        cmocka_unit_test(test_print_duration_spelling),
        cmocka_unit_test(test_needs_escape),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_regex_syntax_parse),
        cmocka_unit_test(test_quote_and_numbers),
        cmocka_unit_test(test_func_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
