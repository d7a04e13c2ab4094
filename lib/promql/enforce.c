/*
 * Tenant enforcement: every vector and matrix selector gets the tenant
 * matcher. Selectors are conjunctions, so an added matcher can only narrow;
 * the one thing that could widen is losing the injected matcher, which this
 * code never does. Matchers on the tenant label are compared after unquoting,
 * so {"namespace"=...} is caught like {namespace=...}.
 */
#include "promql-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct enforcer {
    tg_arena_t *a;
    const struct tg_promql_enforce *e;
    struct tg_promql_matcher inject; /* template; copied into each selector */
    int name_label;                  /* the tenant label is __name__ */
    struct tg_promql_error *err;
};

static int enforce_error(struct tg_promql_error *err, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int enforce_error(struct tg_promql_error *err, size_t pos, const char *fmt, ...)
{
    va_list ap;
    char msg[220];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err->pos = pos;
    err->line = err->col = 0;
    snprintf(err->msg, sizeof(err->msg), "enforce error: %s", msg);
    return -1;
}

static void matcher_text(tg_arena_t *a, char *buf, size_t n, const struct tg_promql_matcher *m)
{
    tg_sb_t sb;
    static const char *const ops[] = {"=", "!=", "=~", "!~"};

    tg_sb_init(&sb, a, 64);
    tg_promql_label_name(&sb, m->name);
    tg_sb_adds(&sb, ops[m->op]);
    tg_promql_quote(&sb, m->value);
    snprintf(buf, n, "%s", tg_sb_cstr(&sb));
}

/* error_on_replace: keep an existing matcher on the label when it matches
 * some tenant value (it only narrows), refuse it when it matches none or when
 * that cannot be decided (a regex we do not model). */
int tg_promql_matcher_allows(const struct tg_promql_matcher *m, const tg_iovec_t *values, size_t n)
{
    size_t i;
    int unknown = 0;

    for (i = 0; i < n; i++) {
        int r = pq_matcher_matches(m, values[i]);
        if (r == 1)
            return 1;
        unknown |= r < 0;
    }
    return unknown ? -1 : 0;
}

static int check_existing(struct enforcer *en, const struct tg_promql_node *vs,
                          const struct tg_promql_matcher *m)
{
    char have[100], want[100];
    int r = tg_promql_matcher_allows(m, en->e->values, en->e->n_values);

    if (r == 1)
        return 0;
    matcher_text(en->a, have, sizeof(have), m);
    matcher_text(en->a, want, sizeof(want), &en->inject);
    return enforce_error(en->err, vs->pos, "label matcher %s %s injected matcher %s", have,
                         r < 0 ? "cannot be checked against" : "conflicts with", want);
}

/* Whether the selector's own matchers on the tenant label stay next to the
 * injected one. They can only narrow (a selector is a conjunction), so
 * keeping them is always safe; the question is what the user meant. With one
 * value, label="v" alone decides and an own matcher could only make the
 * answer empty: replace it (prom-label-proxy). With several values,
 * label=~"a|b" is ANDed with them, so a user with two namespaces who asks for
 * one gets that one (prom-label-proxy's regex enforcer). --error-on-replace
 * keeps what passed its conflict check, with any number of values. */
int tg_promql_keeps_own_matchers(const struct tg_promql_enforce *e)
{
    return e->error_on_replace || e->n_values > 1;
}

static int enforce_vs(struct enforcer *en, struct tg_promql_node *vs)
{
    struct tg_promql_matcher **pp = &vs->u.vs.matchers, *m, *inj;

    /* a tenant label of __name__ would make the bare metric name a matcher on it */
    if (vs->u.vs.name.len > 0 && en->name_label) {
        struct tg_promql_matcher *nm = tg_arena_calloc(en->a, sizeof(*nm));
        nm->name = en->e->label;
        nm->value = vs->u.vs.name;
        nm->op = TG_PROMQL_EQ;
        nm->next = vs->u.vs.matchers;
        vs->u.vs.matchers = nm;
        vs->u.vs.n_matchers++;
        vs->u.vs.name = TG_IOV_NULL;
    }
    while ((m = *pp) != NULL) {
        if (!tg_iov_eq(m->name, en->e->label)) {
            pp = &m->next;
            continue;
        }
        if (en->e->error_on_replace && check_existing(en, vs, m) < 0)
            return -1;
        if (tg_promql_keeps_own_matchers(en->e)) {
            pp = &m->next;
            continue;
        }
        *pp = m->next; /* one value, replace mode: drop it */
        vs->u.vs.n_matchers--;
    }
    inj = pq_alloc(en->a, sizeof(*inj));
    *inj = en->inject;
    inj->next = NULL;
    *pp = inj;
    vs->u.vs.n_matchers++;
    return 0;
}

typedef int (*vs_fn)(struct enforcer *en, struct tg_promql_node *vs);

/* Calls fn on every vector selector under n, in query order; refuses info()
 * unless allowed. */
static int walk(struct enforcer *en, struct tg_promql_node *n, vs_fn fn)
{
    struct tg_promql_node *a;

    switch (n->kind) {
    case TG_PROMQL_VECTOR: return fn(en, n);
    case TG_PROMQL_MATRIX: return fn(en, n->u.matrix.vs);
    case TG_PROMQL_SUBQUERY: return walk(en, n->u.subquery.expr, fn);
    case TG_PROMQL_PAREN: return walk(en, n->u.paren.expr, fn);
    case TG_PROMQL_UNARY: return walk(en, n->u.unary.expr, fn);
    case TG_PROMQL_BINARY:
        return walk(en, n->u.binary.lhs, fn) < 0 ? -1 : walk(en, n->u.binary.rhs, fn);
    case TG_PROMQL_AGGREGATE:
        if (n->u.agg.param != NULL && walk(en, n->u.agg.param, fn) < 0)
            return -1;
        return walk(en, n->u.agg.expr, fn);
    case TG_PROMQL_CALL:
        /* info() joins target_info series that the tenant matcher cannot scope */
        if (!en->e->allow_info && pq_func_is_info(n->u.call.func))
            return enforce_error(en->err, n->pos, "info() is not allowed");
        for (a = n->u.call.args; a != NULL; a = a->next)
            if (walk(en, a, fn) < 0)
                return -1;
        return 0;
    case TG_PROMQL_NUMBER:
    case TG_PROMQL_STRING:
    case TG_PROMQL_DURATION: return 0;
    }
    return 0;
}

/* Crosscheck of the selector list: vs ends with the injected matcher. */
static int injected_last(struct enforcer *en, struct tg_promql_node *vs)
{
    const struct tg_promql_matcher *m = vs->u.vs.matchers;

    while (m != NULL && m->next != NULL)
        m = m->next;
    /* the tenant matcher is the last one of every selector we print */
    TG_CHECK(m != NULL && m->op == en->inject.op && tg_iov_eq(m->name, en->inject.name) &&
             tg_iov_eq(m->value, en->inject.value));
    return 0;
}

void tg_promql_values_regex(tg_sb_t *out, const tg_iovec_t *values, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (i > 0)
            tg_sb_addc(out, '|');
        pq_quote_meta(out, values[i]);
    }
}

/* Validates e and builds the matcher to inject. */
static int make_inject(tg_arena_t *a, const struct tg_promql_enforce *e,
                       struct tg_promql_matcher *m, struct tg_promql_error *err)
{
    size_t i;
    tg_sb_t re;

    if (e == NULL || e->label.len == 0 || e->n_values == 0 || e->values == NULL)
        return enforce_error(err, 0, "no tenant label or value");
    for (i = 0; i < e->n_values; i++)
        if (e->values[i].len == 0)
            return enforce_error(err, 0, "empty tenant value");
    memset(m, 0, sizeof(*m));
    m->name = e->label;
    if (pq_is_legacy_label(m->name))
        m->pflags = PQ_MF_NAME_PLAIN;
    if (e->n_values == 1) {
        m->op = TG_PROMQL_EQ;
        m->value = e->values[0];
        if (!pq_needs_escape(m->value))
            m->pflags |= PQ_MF_VALUE_PLAIN;
        return 0;
    }
    tg_sb_init(&re, a, 64);
    tg_promql_values_regex(&re, e->values, e->n_values);
    m->op = TG_PROMQL_RE;
    m->value = tg_sb_iov(&re);
    if (!pq_needs_escape(m->value))
        m->pflags |= PQ_MF_VALUE_PLAIN;
    return 0;
}

static int enforcer_init(struct enforcer *en, tg_arena_t *a, const struct tg_promql_enforce *e,
                         struct tg_promql_error *err)
{
    err->pos = 0;
    err->line = err->col = 0;
    err->msg[0] = '\0';
    en->a = a;
    en->e = e;
    en->err = err;
    if (make_inject(a, e, &en->inject, err) < 0)
        return -1;
    en->name_label = tg_iov_eq(e->label, TG_IOV_LIT("__name__"));
    return 0;
}

int tg_promql_enforce(tg_arena_t *a, struct tg_promql_node *root, const struct tg_promql_enforce *e,
                      struct tg_promql_error *err)
{
    struct enforcer en;

    if (enforcer_init(&en, a, e, err) < 0)
        return -1;
    return walk(&en, root, enforce_vs);
}

/* tg_promql_enforce on a fresh parse, using the parser's list of selectors
 * instead of walking the tree; info() (refused or not) takes the walk, which
 * also finds the first error in the same order. */
static inline __attribute__((always_inline)) int
enforce_parsed(tg_arena_t *a, struct tg_promql_node *root, const struct pq_selectors *sel,
               const struct tg_promql_enforce *e, struct tg_promql_error *err)
{
    struct enforcer en;
    struct tg_promql_node *vs;

    if (sel->has_info)
        return tg_promql_enforce(a, root, e, err);
    if (enforcer_init(&en, a, e, err) < 0)
        return -1;
    for (vs = sel->first; vs != NULL; vs = vs->u.vs.next_vs)
        if (enforce_vs(&en, vs) < 0)
            return -1;
    if (PQ_CROSSCHECK)
        walk(&en, root, injected_last); /* no selector of the tree was missed */
    return 0;
}

static void print_to_arena(tg_arena_t *a, const struct tg_promql_node *root, size_t hint,
                           tg_iovec_t *out)
{
    tg_sb_t sb;
    tg_sb_init(&sb, a, hint + 64);
    tg_promql_print(root, &sb);
    *out = tg_sb_iov(&sb);
}

/* The limits' look at the query, between parse and enforcement: the window
 * does not depend on matchers, the text must be the query as written. */
static void inspect(tg_arena_t *a, const struct tg_promql_node *root, size_t len,
                    struct tg_promql_inspect *in)
{
    if (in->times != NULL)
        tg_promql_window(root, in->times, &in->window);
    if (in->want_text)
        print_to_arena(a, root, len, &in->text);
}

/* One body for both entry points, inlined into each: the one without
 * inspection pays nothing for it. */
static inline __attribute__((always_inline)) int
enforce_query(tg_arena_t *a, tg_iovec_t query, const struct tg_promql_opts *o,
              const struct tg_promql_enforce *e, struct tg_promql_inspect *in, tg_iovec_t *out,
              struct tg_promql_error *err)
{
    struct tg_promql_node *root;
    struct pq_selectors sel;

    *out = TG_IOV_NULL;
    if (pq_parse(a, query, o, 0, &root, &sel, err) < 0)
        return -1;
    if (in != NULL)
        inspect(a, root, query.len, in);
    if (enforce_parsed(a, root, &sel, e, err) < 0)
        return -1;
    print_to_arena(a, root, 2 * query.len, out);
    return 0;
}

int tg_promql_enforce_query(tg_arena_t *a, tg_iovec_t query, const struct tg_promql_opts *o,
                            const struct tg_promql_enforce *e, tg_iovec_t *out,
                            struct tg_promql_error *err)
{
    return enforce_query(a, query, o, e, NULL, out, err);
}

int tg_promql_enforce_query_ex(tg_arena_t *a, tg_iovec_t query, const struct tg_promql_opts *o,
                               const struct tg_promql_enforce *e, struct tg_promql_inspect *in,
                               tg_iovec_t *out, struct tg_promql_error *err)
{
    return enforce_query(a, query, o, e, in, out, err);
}

int tg_promql_enforce_selector(tg_arena_t *a, tg_iovec_t selector, const struct tg_promql_opts *o,
                               const struct tg_promql_enforce *e, tg_iovec_t *out,
                               struct tg_promql_error *err)
{
    struct tg_promql_node *root;
    const struct tg_promql_mods *m;

    *out = TG_IOV_NULL;
    if (pq_parse(a, selector, o, 1, &root, NULL, err) < 0)
        return -1;
    m = &root->u.vs.mods;
    if (root->kind != TG_PROMQL_VECTOR || m->offset.ns != 0 || m->offset.expr != NULL ||
        m->at != TG_PROMQL_AT_NONE || m->anchored || m->smoothed) {
        snprintf(err->msg, sizeof(err->msg), "1:1: parse error: expected a single vector selector");
        err->pos = 0;
        err->line = err->col = 1;
        return -1;
    }
    if (tg_promql_enforce(a, root, e, err) < 0)
        return -1;
    print_to_arena(a, root, 2 * selector.len, out);
    return 0;
}

int tg_promql_tenant_selector(tg_arena_t *a, const struct tg_promql_enforce *e, tg_iovec_t *out,
                              struct tg_promql_error *err)
{
    struct tg_promql_matcher m;
    tg_sb_t sb;
    static const char *const ops[] = {"=", "!=", "=~", "!~"};

    memset(err, 0, sizeof(*err));
    *out = TG_IOV_NULL;
    if (make_inject(a, e, &m, err) < 0)
        return -1;
    tg_sb_init(&sb, a, 64);
    tg_sb_addc(&sb, '{');
    tg_promql_label_name(&sb, m.name);
    tg_sb_adds(&sb, ops[m.op]);
    tg_promql_quote(&sb, m.value);
    tg_sb_addc(&sb, '}');
    *out = tg_sb_iov(&sb);
    return 0;
}
