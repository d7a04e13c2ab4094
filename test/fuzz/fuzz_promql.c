/*
 * libFuzzer target: input = one control byte + a PromQL query.
 * Control byte: bit 0 one/two tenant values, bit 1 error_on_replace,
 * bit 2 feature flags on, bit 3 allow_info.
 * Properties: never crash; an enforced query prints to text that re-parses
 * to the same AST, in which every selector carries the tenant matcher (and,
 * when replacing with one value, no other matcher on the tenant label).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/arena.h"
#include "tenantgate/promql.h"
#include "tenantgate/sb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, tg_iovec_t q, const char *printed)
{
    fprintf(stderr, "PROPERTY VIOLATED: %s\n  query: %.*s\n  printed: %s\n", what, TG_IOV_FMT(q),
            printed ? printed : "");
    abort();
}

struct ctx {
    const struct tg_promql_enforce *e;
    tg_iovec_t want_value;
    enum tg_promql_match want_op;
    int ok;
};

static void check(const struct tg_promql_node *n, struct ctx *c)
{
    const struct tg_promql_node *a;
    const struct tg_promql_matcher *m;
    int found = 0, others = 0;

    switch (n->kind) {
    case TG_PROMQL_VECTOR:
        for (m = n->u.vs.matchers; m != NULL; m = m->next) {
            if (!tg_iov_eq(m->name, c->e->label))
                continue;
            if (m->op == c->want_op && tg_iov_eq(m->value, c->want_value))
                found++;
            else
                others++;
        }
        if (!found || (!tg_promql_keeps_own_matchers(c->e) && (found != 1 || others)))
            c->ok = 0;
        return;
    case TG_PROMQL_MATRIX: check(n->u.matrix.vs, c); return;
    case TG_PROMQL_SUBQUERY: check(n->u.subquery.expr, c); return;
    case TG_PROMQL_PAREN: check(n->u.paren.expr, c); return;
    case TG_PROMQL_UNARY: check(n->u.unary.expr, c); return;
    case TG_PROMQL_BINARY:
        check(n->u.binary.lhs, c);
        check(n->u.binary.rhs, c);
        return;
    case TG_PROMQL_AGGREGATE:
        if (n->u.agg.param)
            check(n->u.agg.param, c);
        check(n->u.agg.expr, c);
        return;
    case TG_PROMQL_CALL:
        for (a = n->u.call.args; a != NULL; a = a->next)
            check(a, c);
        return;
    default: return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tg_iovec_t values[] = {TG_IOV_LIT("alpha"), TG_IOV_LIT("be.ta")};
    struct tg_promql_opts opts;
    struct tg_promql_enforce e;
    struct tg_promql_error err;
    struct tg_promql_node *root, *again;
    struct ctx c;
    tg_arena_t a;
    tg_sb_t sb;
    tg_iovec_t q;
    uint8_t ctl;

    if (size < 1)
        return 0;
    ctl = data[0];
    q = tg_iov((const char *)data + 1, size - 1);
    memset(&opts, 0, sizeof(opts));
    if (ctl & 4)
        opts.duration_expr = opts.experimental_functions = opts.extended_range = opts.binop_fill =
            1;
    memset(&e, 0, sizeof(e));
    e.label = TG_IOV_LIT("namespace");
    e.values = values;
    e.n_values = (ctl & 1) ? 2 : 1;
    e.error_on_replace = (ctl & 2) != 0;
    e.allow_info = (ctl & 8) != 0;

    tg_arena_init(&a, NULL, 0);
    if (tg_promql_parse(&a, q, &opts, &root, &err) == 0) {
        /* the Prometheus-style printers only need to survive */
        tg_sb_init(&sb, &a, 64);
        tg_promql_format(root, &sb);
        tg_sb_init(&sb, &a, 64);
        tg_promql_ast_json(root, &sb);
        /* plain printing round trip before enforcement */
        tg_sb_init(&sb, &a, 64);
        tg_promql_print(root, &sb);
        if (tg_promql_parse(&a, tg_sb_iov(&sb), &opts, &again, &err) != 0)
            fail(err.msg, q, tg_sb_cstr(&sb));
        if (!tg_promql_equal(root, again))
            fail("AST changed by printing", q, tg_sb_cstr(&sb));
        if (tg_promql_enforce(&a, root, &e, &err) == 0) {
            tg_sb_init(&sb, &a, 64);
            tg_promql_print(root, &sb);
            if (tg_promql_parse(&a, tg_sb_iov(&sb), &opts, &again, &err) != 0)
                fail(err.msg, q, tg_sb_cstr(&sb));
            if (!tg_promql_equal(root, again))
                fail("enforced AST changed by printing", q, tg_sb_cstr(&sb));
            c.e = &e;
            c.ok = 1;
            c.want_op = e.n_values == 1 ? TG_PROMQL_EQ : TG_PROMQL_RE;
            c.want_value = e.n_values == 1 ? values[0] : TG_IOV_LIT("alpha|be\\.ta");
            check(again, &c);
            if (!c.ok)
                fail("selector without the tenant matcher", q, tg_sb_cstr(&sb));
        }
    }
    /* the match[] entry point */
    tg_arena_reset(&a);
    {
        tg_iovec_t out;
        if (tg_promql_enforce_selector(&a, q, &opts, &e, &out, &err) == 0 &&
            tg_promql_enforce_selector(&a, out, &opts, &e, &out, &err) != 0 && !e.error_on_replace)
            fail("enforced selector does not re-parse", q, err.msg);
    }
    tg_arena_destroy(&a);
    return 0;
}
