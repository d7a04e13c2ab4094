/*
 * Hand-written PromQL parser: recursive descent with precedence climbing,
 * following the grammar of Prometheus' generated_parser.y (including how its
 * LALR conflicts resolve), then a type-checking pass like parser.checkAST.
 * The first error wins; every function leaves through `fail` on error.
 *
 * The type-checking pass only runs when needed: while building each node the
 * parser does a cheap, conservative pre-check (precheck_*) that sets
 * p->suspect for anything check() could refuse. Almost every real query is
 * clean and skips the second walk; a suspect one gets the full pass, which
 * reports the error Prometheus reports, in its order. Builds with assertions
 * (tests) and fuzzing builds run both and verify the pre-check is
 * conservative.
 */
#include "promql-int.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    tg_arena_t *a;
    const char *s;
    size_t len;
    struct pq_lexed lx;
    const struct pq_token *t;    /* current token */
    const struct pq_token *last; /* the final EOF or ERROR token */
    struct tg_promql_opts o;
    int rdepth;        /* recursion depth */
    int selector_only; /* match[]: no empty-matcher check */
    struct tg_promql_error *err;
    int failed;
    int suspect;             /* the pre-check saw something check() may refuse */
    struct pq_selectors sel; /* selectors in query order */
    struct tg_promql_node **sel_tail;
};

/* ---- errors ---------------------------------------------------------- */

static void set_error_v(struct tg_promql_error *err, const char *s, size_t len, size_t pos,
                        const char *fmt, va_list ap)
{
    char msg[200];
    size_t i;
    int line = 1;
    size_t last_nl = (size_t)-1;

    if (pos > len)
        pos = len;
    for (i = 0; i < pos; i++)
        if (s[i] == '\n')
            line++, last_nl = i;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    err->pos = pos;
    err->line = line;
    err->col = (int)(pos - last_nl);
    if (len == 0)
        snprintf(err->msg, sizeof(err->msg), "unknown position: parse error: %s", msg);
    else
        snprintf(err->msg, sizeof(err->msg), "%d:%d: parse error: %s", line, err->col, msg);
}

static void perr(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(struct parser *p, size_t pos, const char *fmt, ...)
{
    va_list ap;
    if (p->failed)
        return;
    p->failed = 1;
    va_start(ap, fmt);
    set_error_v(p->err, p->s, p->len, pos, fmt, ap);
    va_end(ap);
}

static inline const struct pq_token *cur(const struct parser *p)
{
    return p->t;
}

static inline const struct pq_token *peek_tok(const struct parser *p, size_t ahead)
{
    return (size_t)(p->last - p->t) > ahead ? p->t + ahead : p->last;
}

static inline int cur_type(const struct parser *p)
{
    return p->t->type;
}

/* Every caller has seen a token other than the final EOF/ERROR first. */
static inline void adv(struct parser *p)
{
    if (PQ_CROSSCHECK)
        TG_CHECK(p->t < p->last);
    p->t++;
}

static tg_iovec_t tok_text(const struct parser *p, const struct pq_token *t)
{
    return tg_iov(p->s + t->pos, t->len);
}

/* Prometheus' Item.desc() */
static void tok_desc(const struct parser *p, const struct pq_token *t, char *buf, size_t n)
{
    char q[96];
    tg_iovec_t v = tok_text(p, t);

    switch (t->type) {
    case T_EOF: snprintf(buf, n, "end of input"); return;
    case T_IDENT:
        pq_go_quote(q, sizeof(q), v.base, v.len, 40);
        snprintf(buf, n, "identifier %s", q);
        return;
    case T_METRIC_IDENT:
        pq_go_quote(q, sizeof(q), v.base, v.len, 40);
        snprintf(buf, n, "metric identifier %s", q);
        return;
    case T_NUMBER:
        pq_go_quote(q, sizeof(q), v.base, v.len, 40);
        snprintf(buf, n, "number %s", q);
        return;
    case T_DURATION:
        pq_go_quote(q, sizeof(q), v.base, v.len, 40);
        snprintf(buf, n, "duration %s", q);
        return;
    case T_STRING:
        pq_go_quote(q, sizeof(q), v.base, v.len, 10);
        snprintf(buf, n, "string %s", q);
        return;
    }
    if (PQ_IS_KEYWORD(t->type))
        snprintf(buf, n, "<%.*s>", TG_IOV_FMT(v));
    else if (PQ_IS_OPERATOR(t->type))
        snprintf(buf, n, "<op:%.*s>", TG_IOV_FMT(v));
    else if (PQ_IS_AGGREGATOR(t->type))
        snprintf(buf, n, "<aggr:%.*s>", TG_IOV_FMT(v));
    else
        pq_go_quote(buf, n, v.base, v.len, 40);
}

/* "unexpected X[ in ctx][, expected exp]", or the lexer's message. */
static void unexpected(struct parser *p, const char *ctx, const char *exp)
{
    const struct pq_token *t = cur(p);
    char d[128];

    if (t->type == T_ERROR) {
        perr(p, t->pos, "%s", p->lx.msg);
        return;
    }
    tok_desc(p, t, d, sizeof(d));
    perr(p, t->pos, "unexpected %s%s%s%s%s", d, ctx ? " in " : "", ctx ? ctx : "",
         exp ? ", expected " : "", exp ? exp : "");
}

static int expect(struct parser *p, int type, const char *ctx, const char *exp)
{
    if (cur_type(p) != type) {
        unexpected(p, ctx, exp);
        return -1;
    }
    adv(p);
    return 0;
}

/* ---- nodes ----------------------------------------------------------- */

/* Bytes of a node of each kind that hold data: the header and its member of
 * the union. Only those are cleared (nothing reads the other members); the
 * binary member is much larger than the selector one. */
#define NODE_SIZE(m)                                                                               \
    (offsetof(struct tg_promql_node, u) + sizeof(((struct tg_promql_node *)0)->u.m))
static const uint8_t node_size[] = {
    [TG_PROMQL_NUMBER] = NODE_SIZE(num),        [TG_PROMQL_STRING] = NODE_SIZE(str),
    [TG_PROMQL_VECTOR] = NODE_SIZE(vs),         [TG_PROMQL_MATRIX] = NODE_SIZE(matrix),
    [TG_PROMQL_SUBQUERY] = NODE_SIZE(subquery), [TG_PROMQL_PAREN] = NODE_SIZE(paren),
    [TG_PROMQL_UNARY] = NODE_SIZE(unary),       [TG_PROMQL_BINARY] = NODE_SIZE(binary),
    [TG_PROMQL_AGGREGATE] = NODE_SIZE(agg),     [TG_PROMQL_CALL] = NODE_SIZE(call),
    [TG_PROMQL_DURATION] = NODE_SIZE(dur),
};
#undef NODE_SIZE

static struct tg_promql_node *new_node(struct parser *p, enum tg_promql_kind kind, size_t pos)
{
    struct tg_promql_node *n = pq_alloc(p->a, sizeof(*n));
    if (PQ_CROSSCHECK)
        memset(n, 0xa5, sizeof(*n)); /* a read of another member shows up in tests */
    memset(n, 0, node_size[kind]);
    n->kind = kind;
    n->pos = n->end = (uint32_t)pos;
    n->depth = 1;
    return n;
}

/* Height bookkeeping: later passes recurse, so the AST height is bounded. */
static int set_depth(struct parser *p, struct tg_promql_node *n, const struct tg_promql_node *a,
                     const struct tg_promql_node *b)
{
    int d = 0;
    if (a && a->depth > d)
        d = a->depth;
    if (b && b->depth > d)
        d = b->depth;
    if (d + 1 > n->depth)
        n->depth = d + 1;
    if (n->depth > p->o.max_depth) {
        perr(p, n->pos, "query is nested too deeply (limit %d)", p->o.max_depth);
        return -1;
    }
    return 0;
}

static int enter(struct parser *p)
{
    if (++p->rdepth > p->o.max_depth) {
        perr(p, cur(p)->pos, "query is nested too deeply (limit %d)", p->o.max_depth);
        return -1;
    }
    return 0;
}

static const char *vtype_doc(enum tg_promql_vtype t)
{
    switch (t) {
    case TG_PROMQL_VSCALAR: return "scalar";
    case TG_PROMQL_VVECTOR: return "instant vector";
    case TG_PROMQL_VMATRIX: return "range vector";
    case TG_PROMQL_VSTRING: return "string";
    default: return "none";
    }
}

static const char *vtype_name(enum tg_promql_vtype t)
{
    switch (t) {
    case TG_PROMQL_VSCALAR: return "scalar";
    case TG_PROMQL_VVECTOR: return "vector";
    case TG_PROMQL_VMATRIX: return "matrix";
    case TG_PROMQL_VSTRING: return "string";
    default: return "none";
    }
}

static enum tg_promql_vtype letter_type(char c)
{
    switch (c) {
    case 'v': return TG_PROMQL_VVECTOR;
    case 'm': return TG_PROMQL_VMATRIX;
    case 's': return TG_PROMQL_VSCALAR;
    case 'S': return TG_PROMQL_VSTRING;
    }
    return TG_PROMQL_VNONE;
}

/* ---- pre-check (see the top of the file) ------------------------------ */

static int is_comparison(enum tg_promql_op op)
{
    return op == TG_PROMQL_EQLC || op == TG_PROMQL_NEQ || op == TG_PROMQL_LSS ||
           op == TG_PROMQL_LTE || op == TG_PROMQL_GTR || op == TG_PROMQL_GTE;
}

static int is_set_op(enum tg_promql_op op)
{
    return op == TG_PROMQL_LAND || op == TG_PROMQL_LOR || op == TG_PROMQL_LUNLESS;
}

static int scalar_or_vector(enum tg_promql_vtype t)
{
    return t == TG_PROMQL_VSCALAR || t == TG_PROMQL_VVECTOR;
}

/* Index of the first on(...) label that group_x(...) repeats, or -1. */
static long on_group_overlap(const struct tg_promql_node *n)
{
    size_t i, j;

    if (!n->u.binary.on)
        return -1;
    for (i = 0; i < n->u.binary.matching.n; i++)
        for (j = 0; j < n->u.binary.include.n; j++)
            if (tg_iov_eq(n->u.binary.matching.names[i], n->u.binary.include.names[j]))
                return (long)i;
    return -1;
}

/* check_vs would pass: no metric name set twice, and without a name some
 * matcher that cannot match the empty string (only the plain label="x" case
 * is recognised here; the rest goes to check_vs). */
static void precheck_vs(struct parser *p, const struct tg_promql_node *vs)
{
    const struct tg_promql_matcher *m;

    if (vs->u.vs.name.len > 0) {
        for (m = vs->u.vs.matchers; m != NULL; m = m->next)
            if (pq_is_name_label(m->name))
                p->suspect = 1;
        return;
    }
    if (p->selector_only)
        return;
    for (m = vs->u.vs.matchers; m != NULL; m = m->next)
        if (m->op == TG_PROMQL_EQ && m->value.len > 0)
            return;
    p->suspect = 1;
}

/* Also sets what check_binary would derive: has_matching and the
 * many-to-many cardinality of set operators. */
static void precheck_binary(struct parser *p, struct tg_promql_node *n)
{
    enum tg_promql_op op = n->u.binary.op;
    enum tg_promql_vtype lt = n->u.binary.lhs->type, rt = n->u.binary.rhs->type;
    int vv = lt == TG_PROMQL_VVECTOR && rt == TG_PROMQL_VVECTOR;
    int fill = n->u.binary.has_fill_lhs || n->u.binary.has_fill_rhs;

    if (is_set_op(op) && n->u.binary.card == TG_PROMQL_ONE_TO_ONE)
        n->u.binary.card = TG_PROMQL_MANY_TO_MANY;
    n->u.binary.has_matching = vv;
    if (!scalar_or_vector(lt) || !scalar_or_vector(rt) ||
        (n->u.binary.return_bool && !is_comparison(op)) ||
        (is_comparison(op) && !n->u.binary.return_bool && lt == TG_PROMQL_VSCALAR &&
         rt == TG_PROMQL_VSCALAR) ||
        (!vv && (n->u.binary.matching.n > 0 || fill)) ||
        (is_set_op(op) && (!vv || fill || n->u.binary.card != TG_PROMQL_MANY_TO_MANY)) ||
        on_group_overlap(n) >= 0)
        p->suspect = 1;
}

static void precheck_call(struct parser *p, const struct tg_promql_node *n)
{
    const struct tg_promql_func *f = n->u.call.func;
    const struct tg_promql_node *a;
    size_t nargs = f->n_args, got = n->u.call.n_args, i = 0;

    if (pq_func_is_info(f)) {
        p->sel.has_info = 1;
        p->suspect = 1; /* check_call marks its second argument */
        return;
    }
    if (f->variadic == 0
            ? got != nargs
            : got + 1 < nargs || (f->variadic > 0 && got > nargs - 1 + (size_t)f->variadic)) {
        p->suspect = 1;
        return;
    }
    for (a = n->u.call.args; a != NULL; a = a->next, i++)
        if (a->type != letter_type(f->args[i < nargs ? i : nargs - 1]))
            p->suspect = 1;
}

static void precheck_agg(struct parser *p, const struct tg_promql_node *n)
{
    const struct tg_promql_node *param = n->u.agg.param;

    if (n->u.agg.expr->type != TG_PROMQL_VVECTOR ||
        (n->u.agg.op == TG_PROMQL_COUNT_VALUES ? param == NULL || param->type != TG_PROMQL_VSTRING
                                               : param != NULL && param->type != TG_PROMQL_VSCALAR))
        p->suspect = 1;
}

/* ---- literals -------------------------------------------------------- */

static const double dur_limit = 9223372036.854775807; /* 1<<63 ns in seconds */

static int64_t seconds_to_ns(double v)
{
    double r = round(v * 1e9);
    if (isnan(r))
        return 0;
    if (r >= 9223372036854775807.0)
        return INT64_MAX;
    if (r <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)r;
}

static struct tg_promql_node *number_literal(struct parser *p)
{
    const struct pq_token *t = cur(p);
    struct tg_promql_node *n = new_node(p, TG_PROMQL_NUMBER, t->pos);
    char msg[128], q[96];
    int r;

    n->type = TG_PROMQL_VSCALAR;
    n->u.num.text = tok_text(p, t);
    n->end = t->pos + t->len;
    if (t->type == T_DURATION) {
        int64_t ns;
        n->u.num.duration = 1;
        if (pq_parse_duration(p->s + t->pos, t->len, &ns, msg, sizeof(msg)) < 0) {
            perr(p, t->pos, "%s", msg);
            return NULL;
        }
        n->u.num.val = (double)ns / 1e9;
    } else if ((r = pq_parse_number(p->a, p->s + t->pos, t->len, &n->u.num.val)) < 0) {
        pq_go_quote(q, sizeof(q), p->s + t->pos, t->len, 64);
        perr(p, t->pos, "error parsing number: strconv.ParseFloat: parsing %s: %s", q,
             r == -2 ? "value out of range" : "invalid syntax");
        return NULL;
    }
    adv(p);
    return n;
}

static void negate(struct tg_promql_node *n)
{
    n->u.num.val = -n->u.num.val;
    n->u.num.neg = !n->u.num.neg;
}

/* ---- duration expressions (inside [] and after offset) -------------- */

static struct tg_promql_node *dur_binary(struct parser *p, int min_prec);

static void experimental_dur(struct parser *p, const struct tg_promql_node *n)
{
    if (!p->o.duration_expr)
        perr(p, n->pos, "experimental duration expression is not enabled");
}

static struct tg_promql_node *dur_literal(struct parser *p)
{
    struct tg_promql_node *n = number_literal(p);
    /* NaN is refused too: it has no duration (Go would turn it into INT64_MIN) */
    if (n != NULL &&
        (n->u.num.val > dur_limit || n->u.num.val < -dur_limit || isnan(n->u.num.val))) {
        perr(p, n->pos, "duration out of range");
        return NULL;
    }
    return n;
}

/* step() / range() */
static struct tg_promql_node *dur_nullary(struct parser *p)
{
    struct tg_promql_node *n = new_node(p, TG_PROMQL_DURATION, cur(p)->pos);
    n->type = TG_PROMQL_VSCALAR;
    n->u.dur.op = cur_type(p) == T_STEP ? TG_PROMQL_STEP : TG_PROMQL_RANGE;
    adv(p);
    if (expect(p, T_LPAREN, "duration expression", "\"(\"") < 0 ||
        expect(p, T_RPAREN, "duration expression", "\")\"") < 0)
        return NULL;
    experimental_dur(p, n);
    return p->failed ? NULL : n;
}

/* min_of(a, b) / max_of(a, b) */
static struct tg_promql_node *dur_minmax(struct parser *p)
{
    struct tg_promql_node *n = new_node(p, TG_PROMQL_DURATION, cur(p)->pos);
    n->type = TG_PROMQL_VSCALAR;
    n->u.dur.op = cur_type(p) == T_MIN_OF ? TG_PROMQL_MIN_OF : TG_PROMQL_MAX_OF;
    adv(p);
    if (expect(p, T_LPAREN, "duration expression", "\"(\"") < 0)
        return NULL;
    if ((n->u.dur.lhs = dur_binary(p, 0)) == NULL)
        return NULL;
    if (expect(p, T_COMMA, "duration expression", "\",\"") < 0)
        return NULL;
    if ((n->u.dur.rhs = dur_binary(p, 0)) == NULL)
        return NULL;
    if (expect(p, T_RPAREN, "duration expression", "\")\"") < 0)
        return NULL;
    experimental_dur(p, n);
    if (p->failed || set_depth(p, n, n->u.dur.lhs, n->u.dur.rhs) < 0)
        return NULL;
    return n;
}

/* Parenthesised: a number becomes a wrapped unary plus, like Prometheus. */
static struct tg_promql_node *wrap_paren(struct parser *p, struct tg_promql_node *e, size_t pos)
{
    struct tg_promql_node *w;
    if (e->kind == TG_PROMQL_DURATION) {
        e->u.dur.wrapped = 1;
        return e;
    }
    w = new_node(p, TG_PROMQL_DURATION, pos);
    w->type = TG_PROMQL_VSCALAR;
    w->u.dur.op = TG_PROMQL_ADD;
    w->u.dur.rhs = e;
    w->u.dur.wrapped = 1;
    return set_depth(p, w, e, NULL) < 0 ? NULL : w;
}

static struct tg_promql_node *dur_paren(struct parser *p)
{
    size_t pos = cur(p)->pos;
    struct tg_promql_node *e;

    adv(p);
    if ((e = dur_binary(p, 0)) == NULL)
        return NULL;
    if (expect(p, T_RPAREN, "duration expression", "\")\"") < 0)
        return NULL;
    experimental_dur(p, e);
    return p->failed ? NULL : wrap_paren(p, e, pos);
}

static struct tg_promql_node *apply_unary_dur(struct parser *p, int op, size_t pos,
                                              struct tg_promql_node *e)
{
    struct tg_promql_node *u;
    if (e->kind == TG_PROMQL_NUMBER) {
        if (op == T_SUB)
            negate(e);
        if (e->u.num.val > dur_limit || e->u.num.val < -dur_limit) {
            perr(p, pos, "duration out of range");
            return NULL;
        }
        e->pos = (uint32_t)pos;
        return e;
    }
    if (op == T_ADD)
        return e;
    u = new_node(p, TG_PROMQL_DURATION, pos);
    u->type = TG_PROMQL_VSCALAR;
    u->u.dur.op = TG_PROMQL_SUB;
    u->u.dur.rhs = e;
    return set_depth(p, u, e, NULL) < 0 ? NULL : u;
}

static int is_dur_atom(int t)
{
    return t == T_NUMBER || t == T_DURATION || t == T_STEP || t == T_RANGE || t == T_MIN_OF ||
           t == T_MAX_OF;
}

/* A literal, step()/range() or min_of()/max_of() (is_dur_atom). */
static struct tg_promql_node *dur_atom(struct parser *p)
{
    switch (cur_type(p)) {
    case T_NUMBER:
    case T_DURATION: return dur_literal(p);
    case T_STEP:
    case T_RANGE: return dur_nullary(p);
    default: return dur_minmax(p);
    }
}

static struct tg_promql_node *dur_unary(struct parser *p)
{
    int t = cur_type(p);
    size_t pos = cur(p)->pos;
    struct tg_promql_node *e;

    if (is_dur_atom(t))
        return dur_atom(p);
    switch (t) {
    case T_ADD:
    case T_SUB:
        adv(p);
        /* %prec MUL: only ^ binds tighter than a sign */
        if ((e = dur_binary(p, 6)) == NULL)
            return NULL;
        return apply_unary_dur(p, t, pos, e);
    case T_LPAREN: return dur_paren(p);
    }
    unexpected(p, "duration expression", "number, duration, step(), or range()");
    return NULL;
}

static int dur_prec(int t)
{
    switch (t) {
    case T_ADD:
    case T_SUB: return 4;
    case T_MUL:
    case T_DIV:
    case T_MOD: return 5;
    case T_POW: return 6;
    }
    return -1;
}

static enum tg_promql_op tok_op(int t)
{
    static const uint8_t map[T__COUNT] = {
        [T_ADD] = TG_PROMQL_ADD,
        [T_SUB] = TG_PROMQL_SUB,
        [T_MUL] = TG_PROMQL_MUL,
        [T_DIV] = TG_PROMQL_DIV,
        [T_MOD] = TG_PROMQL_MOD,
        [T_POW] = TG_PROMQL_POW,
        [T_ATAN2] = TG_PROMQL_ATAN2,
        [T_EQLC] = TG_PROMQL_EQLC,
        [T_NEQ] = TG_PROMQL_NEQ,
        [T_LSS] = TG_PROMQL_LSS,
        [T_LTE] = TG_PROMQL_LTE,
        [T_GTR] = TG_PROMQL_GTR,
        [T_GTE] = TG_PROMQL_GTE,
        [T_TRIM_UPPER] = TG_PROMQL_TRIM_UPPER,
        [T_TRIM_LOWER] = TG_PROMQL_TRIM_LOWER,
        [T_LAND] = TG_PROMQL_LAND,
        [T_LOR] = TG_PROMQL_LOR,
        [T_LUNLESS] = TG_PROMQL_LUNLESS,
        [T_SUM] = TG_PROMQL_SUM,
        [T_AVG] = TG_PROMQL_AVG,
        [T_COUNT] = TG_PROMQL_COUNT,
        [T_MIN] = TG_PROMQL_MIN,
        [T_MAX] = TG_PROMQL_MAX,
        [T_GROUP] = TG_PROMQL_GROUP,
        [T_STDDEV] = TG_PROMQL_STDDEV,
        [T_STDVAR] = TG_PROMQL_STDVAR,
        [T_TOPK] = TG_PROMQL_TOPK,
        [T_BOTTOMK] = TG_PROMQL_BOTTOMK,
        [T_COUNT_VALUES] = TG_PROMQL_COUNT_VALUES,
        [T_QUANTILE] = TG_PROMQL_QUANTILE,
        [T_LIMITK] = TG_PROMQL_LIMITK,
        [T_LIMIT_RATIO] = TG_PROMQL_LIMIT_RATIO,
    };
    return t >= 0 && t < T__COUNT ? (enum tg_promql_op)map[t] : TG_PROMQL_OP_NONE;
}

static struct tg_promql_node *dur_binary(struct parser *p, int min_prec)
{
    struct tg_promql_node *lhs, *rhs, *n;
    int t, pr;
    size_t op_pos;

    if (enter(p) < 0)
        return NULL;
    if ((lhs = dur_unary(p)) == NULL)
        goto fail;
    while ((pr = dur_prec(t = cur_type(p))) >= 0 && pr >= min_prec) {
        op_pos = cur(p)->pos;
        adv(p);
        if ((rhs = dur_binary(p, t == T_POW ? pr : pr + 1)) == NULL)
            goto fail;
        experimental_dur(p, lhs);
        if ((t == T_DIV || t == T_MOD) && rhs->kind == TG_PROMQL_NUMBER && rhs->u.num.val == 0)
            perr(p, op_pos, t == T_DIV ? "division by zero" : "modulo by zero");
        if (p->failed)
            goto fail;
        n = new_node(p, TG_PROMQL_DURATION, lhs->pos);
        n->type = TG_PROMQL_VSCALAR;
        n->u.dur.op = tok_op(t);
        n->u.dur.lhs = lhs;
        n->u.dur.rhs = rhs;
        if (set_depth(p, n, lhs, rhs) < 0)
            goto fail;
        lhs = n;
    }
    p->rdepth--;
    return lhs;
fail:
    p->rdepth--;
    return NULL;
}

/* positive_duration_expr inside brackets */
static int bracket_duration(struct parser *p, struct tg_promql_dur *d)
{
    struct tg_promql_node *e = dur_binary(p, 0);
    if (e == NULL)
        return -1;
    if (e->kind == TG_PROMQL_NUMBER) {
        if (e->u.num.val <= 0) {
            perr(p, e->pos, "duration must be greater than 0");
            return -1;
        }
        d->ns = seconds_to_ns(e->u.num.val);
        d->expr = NULL;
        d->text = e->u.num.text;
    } else {
        d->ns = 0;
        d->expr = e;
        d->text = TG_IOV_NULL;
    }
    return 0;
}

/* The operand of offset. A literal, a signed literal, step()/range(),
 * min_of/max_of and -(..) end at once; an offset starting with '(' (or an
 * unusual sign sequence) keeps taking duration operators, which is how
 * Prometheus' grammar resolves its conflicts ("foo offset (1h) * 2" is a
 * 2h offset, "foo offset 1h * 2" a multiplication). */
static struct tg_promql_node *offset_duration(struct parser *p)
{
    int t = cur_type(p), t2;
    size_t pos = cur(p)->pos;
    struct tg_promql_node *e;

    if (is_dur_atom(t))
        return dur_atom(p);
    switch (t) {
    case T_LPAREN: return dur_binary(p, 0);
    case T_ADD:
    case T_SUB:
        t2 = peek_tok(p, 1)->type;
        if (t2 == T_NUMBER || t2 == T_DURATION) {
            adv(p);
            if ((e = number_literal(p)) == NULL)
                return NULL;
            return apply_unary_dur(p, t, pos, e);
        }
        if (is_dur_atom(t2)) { /* step(), range(), min_of(), max_of() */
            struct tg_promql_node *u;
            adv(p);
            if ((e = dur_atom(p)) == NULL)
                return NULL;
            u = new_node(p, TG_PROMQL_DURATION, pos);
            u->type = TG_PROMQL_VSCALAR;
            u->u.dur.op = t == T_SUB ? TG_PROMQL_SUB : TG_PROMQL_ADD;
            u->u.dur.rhs = e;
            return set_depth(p, u, e, NULL) < 0 ? NULL : u;
        }
        if (t2 == T_LPAREN) {
            size_t ppos;
            adv(p);
            ppos = cur(p)->pos;
            adv(p);
            if ((e = dur_binary(p, 0)) == NULL)
                return NULL;
            if (expect(p, T_RPAREN, "duration expression", "\")\"") < 0)
                return NULL;
            if ((e = wrap_paren(p, e, ppos)) == NULL)
                return NULL;
            return apply_unary_dur(p, t, pos, e);
        }
        return dur_binary(p, 0);
    }
    unexpected(p, "offset", "number, duration, step(), or range()");
    return NULL;
}

/* ---- selectors ------------------------------------------------------- */

static int match_op(int t, enum tg_promql_match *op)
{
    switch (t) {
    case T_EQL: *op = TG_PROMQL_EQ; return 0;
    case T_NEQ: *op = TG_PROMQL_NE; return 0;
    case T_EQL_REGEX: *op = TG_PROMQL_RE; return 0;
    case T_NEQ_REGEX: *op = TG_PROMQL_NRE; return 0;
    }
    return -1;
}

static tg_iovec_t string_value(struct parser *p)
{
    const struct pq_token *t = cur(p);
    tg_iovec_t v = (t->flags & PQ_TF_ESC) ? pq_unquote(p->a, p->s + t->pos, t->len)
                                          : tg_iov(p->s + t->pos + 1, t->len - 2);
    adv(p);
    return v;
}

static struct tg_promql_matcher *label_matcher(struct parser *p)
{
    struct tg_promql_matcher *m = pq_alloc(p->a, sizeof(*m));
    const struct pq_token *t0 = cur(p);
    int t = t0->type, is_string = t == T_STRING;
    unsigned name_flags = t0->flags;
    size_t name_pos = t0->pos;

    memset(m, 0, sizeof(*m));
    /* the common name="value" / name!="value" without escapes straight from
     * the tokens (t0[1], t0[2] exist: only the final EOF/ERROR token has no
     * successor) */
    if (t == T_IDENT && (t0[1].type == T_EQL || t0[1].type == T_NEQ) && t0[2].type == T_STRING &&
        (t0[2].flags & PQ_TF_CLEAN)) {
        m->name = tok_text(p, t0);
        m->value = tg_iov(p->s + t0[2].pos + 1, t0[2].len - 2);
        m->op = t0[1].type == T_EQL ? TG_PROMQL_EQ : TG_PROMQL_NE;
        m->pflags = PQ_MF_NAME_PLAIN | PQ_MF_VALUE_PLAIN;
        p->t += 3;
        return m;
    }
    if (t != T_IDENT && t != T_STRING) {
        unexpected(p, "label matching", "identifier or \"}\"");
        return NULL;
    }
    if (is_string) {
        m->name = string_value(p);
    } else {
        /* an identifier inside braces is [a-zA-Z_][a-zA-Z0-9_]* */
        m->name = tok_text(p, cur(p));
        m->pflags = PQ_MF_NAME_PLAIN;
        adv(p);
    }
    if (match_op(cur_type(p), &m->op) < 0) {
        if (is_string) {
            /* {"metric.name"} */
            m->value = m->name;
            m->name = TG_IOV_LIT("__name__");
            m->op = TG_PROMQL_EQ;
            m->pflags = PQ_MF_NAME_PLAIN | ((name_flags & PQ_TF_CLEAN) ? PQ_MF_VALUE_PLAIN : 0);
            return m;
        }
        unexpected(p, "label matching", "label matching operator");
        return NULL;
    }
    adv(p);
    if (cur_type(p) != T_STRING) {
        unexpected(p, "label matching", "string");
        return NULL;
    }
    if (cur(p)->flags & PQ_TF_CLEAN)
        m->pflags |= PQ_MF_VALUE_PLAIN;
    m->value = string_value(p);
    if (m->op == TG_PROMQL_RE || m->op == TG_PROMQL_NRE) {
        /* Prometheus compiles the regex while parsing: refuse what it
         * refuses, as written (before any enforcement) */
        char msg[180];
        if (pq_regex_check(p->a, m->value, msg, sizeof(msg)) < 0) {
            perr(p, name_pos, "%s", msg);
            return NULL;
        }
    }
    return m;
}

/* '{' matchers '}' into vs */
static int label_matchers(struct parser *p, struct tg_promql_node *vs)
{
    struct tg_promql_matcher **tail = &vs->u.vs.matchers;

    adv(p); /* { */
    while (cur_type(p) != T_RBRACE) {
        const struct pq_token *t0 = cur(p);
        struct tg_promql_matcher *m = label_matcher(p);
        if (m == NULL)
            return -1;
        *tail = m;
        tail = &m->next;
        vs->u.vs.n_matchers++;
        /* name op "value" with nothing in between: the printer's spelling
         * (tokens never overlap, so no gap when the span is the sum of the first two) */
        if (p->t == t0 + 3 && m->pflags == (PQ_MF_NAME_PLAIN | PQ_MF_VALUE_PLAIN) &&
            p->s[t0[2].pos] == '"' && t0[2].pos - t0[0].pos == t0[0].len + t0[1].len)
            m->pflags |= PQ_MF_SRC;
        if (cur_type(p) == T_COMMA) {
            adv(p);
            continue;
        }
        if (cur_type(p) != T_RBRACE) {
            unexpected(p, "label matching", "\",\" or \"}\"");
            return -1;
        }
    }
    vs->end = cur(p)->pos + 1;
    adv(p);
    return 0;
}

static struct tg_promql_node *vector_selector(struct parser *p)
{
    struct tg_promql_node *vs = new_node(p, TG_PROMQL_VECTOR, cur(p)->pos);

    vs->type = TG_PROMQL_VVECTOR;
    if (cur_type(p) != T_LBRACE) {
        vs->u.vs.name = tok_text(p, cur(p));
        vs->u.vs.name_plain = (cur(p)->flags & PQ_TF_PLAIN) != 0;
        vs->end = cur(p)->pos + cur(p)->len;
        adv(p);
    }
    if (cur_type(p) == T_LBRACE && label_matchers(p, vs) < 0)
        return NULL;
    precheck_vs(p, vs);
    *p->sel_tail = vs;
    p->sel_tail = &vs->u.vs.next_vs;
    return vs;
}

/* ---- grouping labels --------------------------------------------------- */

/* Tokens accepted as a label name in by/without/on/ignoring/group_x lists
 * (the maybe_label rule): identifiers and every keyword but "without". */
static int maybe_label(int t)
{
    return t == T_IDENT || t == T_METRIC_IDENT ||
           ((PQ_IS_AGGREGATOR(t) || PQ_IS_KEYWORD(t) || (t >= T_START && t <= T_MIN_OF) ||
             t == T_LAND || t == T_LOR || t == T_LUNLESS || t == T_ATAN2) &&
            t != T_WITHOUT);
}

static int grouping_labels(struct parser *p, struct tg_promql_labels *l)
{
    size_t cap = 0;

    if (cur_type(p) != T_LPAREN) {
        unexpected(p, "grouping opts", "\"(\"");
        return -1;
    }
    adv(p);
    l->n = 0;
    l->names = NULL;
    l->plain = 1;
    while (cur_type(p) != T_RPAREN) {
        tg_iovec_t name;
        size_t pos = cur(p)->pos;
        char q[96];
        int is_string = cur_type(p) == T_STRING;
        /* identifiers without ':' and keywords are legacy label names */
        if (is_string || cur_type(p) == T_METRIC_IDENT)
            l->plain = 0;
        if (is_string) {
            name = string_value(p);
        } else if (maybe_label(cur_type(p))) {
            name = tok_text(p, cur(p));
            adv(p);
        } else {
            unexpected(p, "grouping opts", "label");
            return -1;
        }
        /* identifiers and keywords are ASCII and never empty */
        if (is_string && (name.len == 0 || !pq_utf8_valid(name.base, name.len))) {
            pq_go_quote(q, sizeof(q), name.base, name.len, 64);
            perr(p, pos, "invalid label name for grouping: %s", q);
            return -1;
        }
        if (l->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            l->names = cap ? tg_arena_realloc(p->a, l->names, cap * sizeof(*l->names),
                                              ncap * sizeof(*l->names))
                           : pq_alloc(p->a, ncap * sizeof(*l->names));
            cap = ncap;
        }
        l->names[l->n++] = name;
        if (cur_type(p) == T_COMMA) {
            adv(p);
            continue;
        }
        if (cur_type(p) != T_RPAREN) {
            unexpected(p, "grouping opts", "\",\" or \")\"");
            return -1;
        }
    }
    adv(p);
    return 0;
}

/* ---- expressions ----------------------------------------------------- */

static struct tg_promql_node *binary_expr(struct parser *p, int min_prec);

/* '(' args ')' shared by calls and aggregations; *n counts them. */
static struct tg_promql_node *call_args(struct parser *p, size_t *n)
{
    struct tg_promql_node *first = NULL, **tail = &first;

    *n = 0;
    if (expect(p, T_LPAREN, NULL, NULL) < 0)
        return NULL;
    if (cur_type(p) == T_RPAREN) {
        adv(p);
        return NULL;
    }
    for (;;) {
        struct tg_promql_node *e = binary_expr(p, 0);
        if (e == NULL)
            return NULL;
        *tail = e;
        tail = &e->next;
        (*n)++;
        if (cur_type(p) == T_RPAREN)
            break;
        if (cur_type(p) != T_COMMA) {
            unexpected(p, "function call", "\",\" or \")\"");
            return NULL;
        }
        adv(p);
        if (cur_type(p) == T_RPAREN) {
            perr(p, cur(p)->pos - 1, "trailing commas not allowed in function call args");
            return NULL;
        }
    }
    adv(p);
    return first;
}

static struct tg_promql_node *function_call(struct parser *p)
{
    const struct pq_token *t = cur(p);
    tg_iovec_t name = tok_text(p, t);
    struct tg_promql_node *n = new_node(p, TG_PROMQL_CALL, t->pos), *a;
    char q[96];

    n->u.call.func = tg_promql_func_lookup(name);
    if (n->u.call.func == NULL || (n->u.call.func->experimental && !p->o.experimental_functions)) {
        pq_go_quote(q, sizeof(q), name.base, name.len, 64);
        if (n->u.call.func == NULL)
            perr(p, t->pos, "unknown function with name %s", q);
        else
            perr(p, t->pos, "function %s is not enabled", q);
        return NULL;
    }
    adv(p);
    n->u.call.args = call_args(p, &n->u.call.n_args);
    if (p->failed)
        return NULL;
    n->type = letter_type(n->u.call.func->ret);
    n->end = p->t[-1].pos + 1;
    precheck_call(p, n);
    for (a = n->u.call.args; a != NULL; a = a->next)
        if (set_depth(p, n, a, NULL) < 0)
            return NULL;
    return n;
}

static int is_param_agg(enum tg_promql_op op)
{
    return op == TG_PROMQL_TOPK || op == TG_PROMQL_BOTTOMK || op == TG_PROMQL_COUNT_VALUES ||
           op == TG_PROMQL_QUANTILE || op == TG_PROMQL_LIMITK || op == TG_PROMQL_LIMIT_RATIO;
}

static int agg_modifier(struct parser *p, struct tg_promql_node *n)
{
    n->u.agg.without = cur_type(p) == T_WITHOUT;
    adv(p);
    return grouping_labels(p, &n->u.agg.grouping);
}

static struct tg_promql_node *aggregate_expr(struct parser *p)
{
    const struct pq_token *t = cur(p);
    struct tg_promql_node *n = new_node(p, TG_PROMQL_AGGREGATE, t->pos), *args;
    tg_iovec_t opname = tok_text(p, t);
    size_t nargs, want = 1;
    int modifier = 0;

    n->type = TG_PROMQL_VVECTOR;
    n->u.agg.op = tok_op(t->type);
    adv(p);
    if (cur_type(p) == T_BY || cur_type(p) == T_WITHOUT) {
        if (agg_modifier(p, n) < 0)
            return NULL;
        modifier = 1;
    }
    if (cur_type(p) != T_LPAREN) {
        unexpected(p, "aggregation", modifier ? NULL : NULL);
        return NULL;
    }
    args = call_args(p, &nargs);
    if (p->failed)
        return NULL;
    n->end = p->t[-1].pos + 1;
    if (!modifier && (cur_type(p) == T_BY || cur_type(p) == T_WITHOUT) && agg_modifier(p, n) < 0)
        return NULL;
    if (nargs == 0) {
        perr(p, n->pos, "no arguments for aggregate expression provided");
        return NULL;
    }
    if (is_param_agg(n->u.agg.op)) {
        if (!p->o.experimental_functions &&
            (n->u.agg.op == TG_PROMQL_LIMITK || n->u.agg.op == TG_PROMQL_LIMIT_RATIO)) {
            perr(p, n->pos,
                 "%.*s() is experimental and must be enabled with "
                 "--enable-feature=promql-experimental-functions",
                 TG_IOV_FMT(opname));
            return NULL;
        }
        want = 2;
        n->u.agg.param = args;
    }
    if (nargs != want) {
        perr(p, n->pos,
             "wrong number of arguments for aggregate expression provided, expected %zu, got %zu",
             want, nargs);
        return NULL;
    }
    n->u.agg.expr = want == 2 ? args->next : args;
    if (n->u.agg.param)
        n->u.agg.param->next = NULL; /* args list no longer needed */
    precheck_agg(p, n);
    if (set_depth(p, n, n->u.agg.param, n->u.agg.expr) < 0)
        return NULL;
    return n;
}

static struct tg_promql_node *paren_expr(struct parser *p)
{
    struct tg_promql_node *n = new_node(p, TG_PROMQL_PAREN, cur(p)->pos);

    adv(p);
    if ((n->u.paren.expr = binary_expr(p, 0)) == NULL)
        return NULL;
    if (cur_type(p) != T_RPAREN) {
        unexpected(p, "paren expression", "\")\"");
        return NULL;
    }
    n->end = cur(p)->pos + 1;
    adv(p);
    n->type = n->u.paren.expr->type;
    return set_depth(p, n, n->u.paren.expr, NULL) < 0 ? NULL : n;
}

/* The selector a modifier applies to, or NULL (error already set). */
static struct tg_promql_mods *mods_of(struct parser *p, struct tg_promql_node *e, const char *what)
{
    switch (e->kind) {
    case TG_PROMQL_VECTOR: return &e->u.vs.mods;
    case TG_PROMQL_MATRIX: return &e->u.matrix.vs->u.vs.mods;
    case TG_PROMQL_SUBQUERY: return &e->u.subquery.mods;
    default: break;
    }
    perr(p, e->pos,
         "%s must be preceded by an instant vector selector or range vector selector or a subquery",
         what);
    return NULL;
}

static int offset_modifier(struct parser *p, struct tg_promql_node *e)
{
    struct tg_promql_node *d;
    struct tg_promql_mods *m;

    adv(p); /* offset */
    if ((d = offset_duration(p)) == NULL)
        return -1;
    if ((m = mods_of(p, e, "offset modifier")) == NULL)
        return -1;
    if (m->offset.ns != 0 || m->offset.expr != NULL) {
        perr(p, e->pos, "offset may not be set multiple times");
        return -1;
    }
    if (d->kind == TG_PROMQL_NUMBER) {
        m->offset.ns = seconds_to_ns(d->u.num.val);
        m->offset.text = d->u.num.text;
    } else
        m->offset.expr = d;
    return set_depth(p, e, d, NULL);
}

static int at_modifier(struct parser *p, struct tg_promql_node *e)
{
    struct tg_promql_mods *m;
    int sign = 0, t;
    struct tg_promql_node *num = NULL;
    enum tg_promql_at at = TG_PROMQL_AT_TIME;

    adv(p); /* @ */
    t = cur_type(p);
    if (t == T_ADD || t == T_SUB) {
        sign = t;
        adv(p);
        t = cur_type(p);
    }
    if (t == T_NUMBER || t == T_DURATION) {
        if ((num = number_literal(p)) == NULL)
            return -1;
        if (sign == T_SUB)
            negate(num);
    } else if (!sign && (t == T_START || t == T_END) && peek_tok(p, 1)->type == T_LPAREN &&
               peek_tok(p, 2)->type == T_RPAREN) {
        at = t == T_START ? TG_PROMQL_AT_START : TG_PROMQL_AT_END;
        adv(p), adv(p), adv(p);
    } else {
        unexpected(p, "@", "timestamp");
        return -1;
    }
    if (num != NULL) {
        double ts = num->u.num.val;
        /* also keeps ts*1000 inside int64 */
        if (isinf(ts) || isnan(ts) || ts >= 9223372036854775.0 || ts <= -9223372036854775.0) {
            perr(p, e->pos, "timestamp out of bounds for @ modifier: %f", ts);
            return -1;
        }
    }
    if ((m = mods_of(p, e, "@ modifier")) == NULL)
        return -1;
    if (m->at != TG_PROMQL_AT_NONE) {
        perr(p, e->pos, "@ <timestamp> may not be set multiple times");
        return -1;
    }
    m->at = at;
    if (num != NULL)
        m->at_ms = (int64_t)round(num->u.num.val * 1000.0);
    return 0;
}

static int range_modifier(struct parser *p, struct tg_promql_node *e, int anchored)
{
    const char *what = anchored ? "anchored" : "smoothed";
    struct tg_promql_mods *m = NULL;

    if (!p->o.extended_range) {
        perr(p, e->pos, "%s modifier is experimental and not enabled", what);
        return -1;
    }
    adv(p);
    if (e->kind == TG_PROMQL_VECTOR)
        m = &e->u.vs.mods;
    else if (e->kind == TG_PROMQL_MATRIX)
        m = &e->u.matrix.vs->u.vs.mods;
    else if (e->kind == TG_PROMQL_SUBQUERY)
        perr(p, e->pos, "%s modifier is not supported for subqueries", what);
    else
        perr(p, e->pos, "%s modifier must follow a vector or range selector", what);
    if (m == NULL)
        return -1;
    if (anchored)
        m->anchored = 1;
    else
        m->smoothed = 1;
    if (m->anchored && m->smoothed) {
        perr(p, e->pos, "anchored and smoothed modifiers cannot be used together");
        return -1;
    }
    return 0;
}

static struct tg_promql_node *range_or_subquery(struct parser *p, struct tg_promql_node *e)
{
    size_t lb = cur(p)->pos;
    struct tg_promql_dur range, step = {0, NULL, TG_IOV_NULL};
    struct tg_promql_node *n;

    adv(p); /* [ */
    if (bracket_duration(p, &range) < 0)
        return NULL;
    if (cur_type(p) == T_RBRACKET) {
        const char *msg = NULL;
        if (e->kind != TG_PROMQL_VECTOR)
            msg = "ranges only allowed for vector selectors";
        else if (e->u.vs.mods.offset.ns != 0 || e->u.vs.mods.offset.expr != NULL)
            msg = "no offset modifiers allowed before range";
        else if (e->u.vs.mods.at != TG_PROMQL_AT_NONE)
            msg = "no @ modifiers allowed before range";
        if (msg != NULL) {
            perr(p, lb, "%s", msg);
            return NULL;
        }
        n = new_node(p, TG_PROMQL_MATRIX, e->pos);
        n->type = TG_PROMQL_VMATRIX;
        n->u.matrix.vs = e;
        n->u.matrix.range = range;
        n->end = cur(p)->pos + 1;
        adv(p);
        return set_depth(p, n, e, range.expr) < 0 ? NULL : n;
    }
    if (cur_type(p) != T_COLON) {
        unexpected(p, "subquery or range", "\":\" or \"]\"");
        return NULL;
    }
    adv(p);
    if (cur_type(p) != T_RBRACKET) {
        if (bracket_duration(p, &step) < 0)
            return NULL;
        if (cur_type(p) != T_RBRACKET) {
            unexpected(p, "subquery selector", "\"]\"");
            return NULL;
        }
    }
    n = new_node(p, TG_PROMQL_SUBQUERY, e->pos);
    n->type = TG_PROMQL_VMATRIX;
    if (e->type != TG_PROMQL_VVECTOR)
        p->suspect = 1;
    n->u.subquery.expr = e;
    n->u.subquery.range = range;
    n->u.subquery.step = step;
    n->end = cur(p)->pos + 1;
    adv(p);
    if (set_depth(p, n, e, range.expr) < 0 || set_depth(p, n, step.expr, NULL) < 0)
        return NULL;
    return n;
}

/* offset, @, [range], [range:step], anchored, smoothed bind to the
 * expression right before them, tighter than any operator. */
static struct tg_promql_node *postfix(struct parser *p, struct tg_promql_node *e)
{
    for (;;) {
        switch (cur_type(p)) {
        case T_LBRACKET:
            if ((e = range_or_subquery(p, e)) == NULL)
                return NULL;
            break;
        case T_OFFSET:
            if (offset_modifier(p, e) < 0)
                return NULL;
            break;
        case T_AT:
            if (at_modifier(p, e) < 0)
                return NULL;
            break;
        case T_ANCHORED:
        case T_SMOOTHED:
            if (range_modifier(p, e, cur_type(p) == T_ANCHORED) < 0)
                return NULL;
            break;
        default: return e;
        }
    }
}

/* Keywords that double as metric names (metric_identifier). */
static int metric_keyword(int t)
{
    return PQ_IS_AGGREGATOR(t) || t == T_BY || t == T_FILL || t == T_FILL_LEFT ||
           t == T_FILL_RIGHT || t == T_LAND || t == T_LOR || t == T_LUNLESS || t == T_OFFSET ||
           t == T_WITHOUT || t == T_ANCHORED || t == T_SMOOTHED || (t >= T_START && t <= T_MIN_OF);
}

static struct tg_promql_node *primary(struct parser *p)
{
    int t = cur_type(p), next = peek_tok(p, 1)->type;
    struct tg_promql_node *n;

    switch (t) {
    case T_NUMBER:
    case T_DURATION: return number_literal(p);
    case T_STRING:
        n = new_node(p, TG_PROMQL_STRING, cur(p)->pos);
        n->type = TG_PROMQL_VSTRING;
        n->end = cur(p)->pos + cur(p)->len;
        n->u.str.val = string_value(p);
        return n;
    case T_LPAREN: return paren_expr(p);
    case T_LBRACE:
    case T_METRIC_IDENT: return vector_selector(p);
    case T_IDENT: return next == T_LPAREN ? function_call(p) : vector_selector(p);
    }
    if (PQ_IS_AGGREGATOR(t) && (next == T_LPAREN || next == T_BY || next == T_WITHOUT))
        return aggregate_expr(p);
    if (t >= T_START && t <= T_MIN_OF && next == T_LPAREN)
        return function_call(p);
    if (metric_keyword(t))
        return vector_selector(p);
    unexpected(p, NULL, NULL);
    return NULL;
}

static struct tg_promql_node *unary_expr(struct parser *p)
{
    int t = cur_type(p);
    size_t pos = cur(p)->pos;
    struct tg_promql_node *e, *u;

    if (t != T_ADD && t != T_SUB) {
        if ((e = primary(p)) == NULL)
            return NULL;
        return postfix(p, e);
    }
    adv(p);
    /* %prec MUL: the operand takes ^ and postfix modifiers only */
    if ((e = binary_expr(p, 6)) == NULL)
        return NULL;
    if (e->kind == TG_PROMQL_NUMBER) {
        if (t == T_SUB)
            negate(e);
        e->pos = (uint32_t)pos;
        return e;
    }
    u = new_node(p, TG_PROMQL_UNARY, pos);
    u->u.unary.op = t == T_SUB ? TG_PROMQL_SUB : TG_PROMQL_ADD;
    u->u.unary.expr = e;
    u->type = e->type;
    u->end = e->end;
    if (!scalar_or_vector(u->type))
        p->suspect = 1;
    return set_depth(p, u, e, NULL) < 0 ? NULL : u;
}

static int binop_prec(int t)
{
    switch (t) {
    case T_LOR: return 1;
    case T_LAND:
    case T_LUNLESS: return 2;
    case T_EQLC:
    case T_NEQ:
    case T_LSS:
    case T_LTE:
    case T_GTR:
    case T_GTE:
    case T_TRIM_UPPER:
    case T_TRIM_LOWER: return 3;
    case T_ADD:
    case T_SUB: return 4;
    case T_MUL:
    case T_DIV:
    case T_MOD:
    case T_ATAN2: return 5;
    case T_POW: return 6;
    }
    return -1;
}

/* fill_value: '(' [+-] number ')' */
static int fill_value(struct parser *p, double *v)
{
    int sign = 0;
    struct tg_promql_node *num;

    if (expect(p, T_LPAREN, "fill modifier", "\"(\"") < 0)
        return -1;
    if (cur_type(p) == T_ADD || cur_type(p) == T_SUB) {
        sign = cur_type(p);
        adv(p);
    }
    if (cur_type(p) != T_NUMBER && cur_type(p) != T_DURATION) {
        unexpected(p, "fill modifier", "number");
        return -1;
    }
    if ((num = number_literal(p)) == NULL)
        return -1;
    *v = sign == T_SUB ? -num->u.num.val : num->u.num.val;
    return expect(p, T_RPAREN, "fill modifier", "\")\"");
}

static int fill_modifiers(struct parser *p, struct tg_promql_node *n)
{
    int t = cur_type(p);

    if (t != T_FILL && t != T_FILL_LEFT && t != T_FILL_RIGHT)
        return 0;
    adv(p);
    if (t == T_FILL) {
        if (fill_value(p, &n->u.binary.fill_lhs) < 0)
            return -1;
        n->u.binary.fill_rhs = n->u.binary.fill_lhs;
        n->u.binary.has_fill_lhs = n->u.binary.has_fill_rhs = 1;
    } else {
        int other = t == T_FILL_LEFT ? T_FILL_RIGHT : T_FILL_LEFT;
        if (fill_value(p, t == T_FILL_LEFT ? &n->u.binary.fill_lhs : &n->u.binary.fill_rhs) < 0)
            return -1;
        *(t == T_FILL_LEFT ? &n->u.binary.has_fill_lhs : &n->u.binary.has_fill_rhs) = 1;
        if (cur_type(p) == other) {
            adv(p);
            if (fill_value(p, other == T_FILL_LEFT ? &n->u.binary.fill_lhs
                                                   : &n->u.binary.fill_rhs) < 0)
                return -1;
            *(other == T_FILL_LEFT ? &n->u.binary.has_fill_lhs : &n->u.binary.has_fill_rhs) = 1;
        }
    }
    if (!p->o.binop_fill) {
        perr(p, n->pos, "binop fill modifiers are experimental and not enabled");
        return -1;
    }
    return 0;
}

/* bool, on/ignoring, group_left/group_right, fill* after an operator */
static int bin_modifiers(struct parser *p, struct tg_promql_node *n)
{
    if (cur_type(p) == T_BOOL) {
        n->u.binary.return_bool = 1;
        adv(p);
    }
    if (cur_type(p) == T_ON || cur_type(p) == T_IGNORING) {
        n->u.binary.on = cur_type(p) == T_ON;
        adv(p);
        if (grouping_labels(p, &n->u.binary.matching) < 0)
            return -1;
        if (cur_type(p) == T_GROUP_LEFT || cur_type(p) == T_GROUP_RIGHT) {
            n->u.binary.card =
                cur_type(p) == T_GROUP_LEFT ? TG_PROMQL_MANY_TO_ONE : TG_PROMQL_ONE_TO_MANY;
            adv(p);
            if (cur_type(p) == T_LPAREN && grouping_labels(p, &n->u.binary.include) < 0)
                return -1;
        }
    }
    return fill_modifiers(p, n);
}

static struct tg_promql_node *binary_expr(struct parser *p, int min_prec)
{
    struct tg_promql_node *lhs, *rhs, *n;
    int t, pr;

    if (enter(p) < 0)
        return NULL;
    if ((lhs = unary_expr(p)) == NULL)
        goto fail;
    while ((pr = binop_prec(t = cur_type(p))) >= 0 && pr >= min_prec) {
        n = new_node(p, TG_PROMQL_BINARY, lhs->pos);
        n->u.binary.op = tok_op(t);
        n->u.binary.card = TG_PROMQL_ONE_TO_ONE;
        adv(p);
        if (bin_modifiers(p, n) < 0)
            goto fail;
        /* ^ is right-associative, the others left */
        if ((rhs = binary_expr(p, t == T_POW ? pr : pr + 1)) == NULL)
            goto fail;
        n->u.binary.lhs = lhs;
        n->u.binary.rhs = rhs;
        n->end = rhs->end;
        n->type = lhs->type == TG_PROMQL_VSCALAR && rhs->type == TG_PROMQL_VSCALAR
                      ? TG_PROMQL_VSCALAR
                      : TG_PROMQL_VVECTOR;
        precheck_binary(p, n);
        if (set_depth(p, n, lhs, rhs) < 0)
            goto fail;
        lhs = n;
    }
    p->rdepth--;
    return lhs;
fail:
    p->rdepth--;
    return NULL;
}

/* ---- type checks (parser.checkAST) ----------------------------------- */

static int check(struct parser *p, struct tg_promql_node *n);

static int expect_type(struct parser *p, struct tg_promql_node *n, enum tg_promql_vtype want,
                       const char *ctx)
{
    if (check(p, n) < 0)
        return -1;
    if (n->type != want) {
        perr(p, n->pos, "expected type %s in %s, got %s", vtype_doc(want), ctx, vtype_doc(n->type));
        return -1;
    }
    return 0;
}

/* Error position of a binary operator: after the spaces that follow the lhs. */
static size_t after_space(const struct parser *p, size_t pos)
{
    while (pos < p->len &&
           (p->s[pos] == ' ' || p->s[pos] == '\t' || p->s[pos] == '\n' || p->s[pos] == '\r'))
        pos++;
    return pos;
}

static int check_binary(struct parser *p, struct tg_promql_node *n)
{
    enum tg_promql_op op = n->u.binary.op;
    enum tg_promql_vtype lt, rt;
    size_t pos = n->u.binary.lhs->end;
    long dup;
    int fill = n->u.binary.has_fill_lhs || n->u.binary.has_fill_rhs;

    if (check(p, n->u.binary.lhs) < 0 || check(p, n->u.binary.rhs) < 0)
        return -1;
    lt = n->u.binary.lhs->type;
    rt = n->u.binary.rhs->type;
    if (n->u.binary.return_bool && !is_comparison(op))
        perr(p, after_space(p, pos), "bool modifier can only be used on comparison operators");
    if (is_comparison(op) && !n->u.binary.return_bool && lt == TG_PROMQL_VSCALAR &&
        rt == TG_PROMQL_VSCALAR)
        perr(p, after_space(p, pos), "comparisons between scalars must use BOOL modifier");
    /* precheck_binary derived the set operators' many-to-many cardinality */
    assert(!is_set_op(op) || n->u.binary.card != TG_PROMQL_ONE_TO_ONE);
    if ((dup = on_group_overlap(n)) >= 0) {
        char q[96];
        pq_go_quote(q, sizeof(q), n->u.binary.matching.names[dup].base,
                    n->u.binary.matching.names[dup].len, 64);
        perr(p, after_space(p, pos), "label %s must not occur in ON and GROUP clause at once", q);
    }
    if (lt != TG_PROMQL_VSCALAR && lt != TG_PROMQL_VVECTOR)
        perr(p, n->u.binary.lhs->pos,
             "binary expression must contain only scalar and instant vector types");
    if (rt != TG_PROMQL_VSCALAR && rt != TG_PROMQL_VVECTOR)
        perr(p, n->u.binary.rhs->pos,
             "binary expression must contain only scalar and instant vector types");
    if (lt != TG_PROMQL_VVECTOR || rt != TG_PROMQL_VVECTOR) {
        if (n->u.binary.matching.n > 0)
            perr(p, n->pos, "vector matching only allowed between instant vectors");
        if (fill)
            perr(p, n->pos, "filling in missing series only allowed between instant vectors");
        assert(!n->u.binary.has_matching);
    } else {
        assert(n->u.binary.has_matching);
        if (is_set_op(op)) {
            if (n->u.binary.card == TG_PROMQL_ONE_TO_MANY ||
                n->u.binary.card == TG_PROMQL_MANY_TO_ONE)
                perr(p, n->pos, "no grouping allowed for \"%s\" operation", tg_promql_op_str(op));
            if (n->u.binary.card != TG_PROMQL_MANY_TO_MANY)
                perr(p, n->pos, "set operations must always be many-to-many");
            if (fill)
                perr(p, n->pos, "filling in missing series not allowed for set operators");
        }
    }
    if ((lt == TG_PROMQL_VSCALAR || rt == TG_PROMQL_VSCALAR) && is_set_op(op))
        perr(p, n->pos, "set operator \"%s\" not allowed in binary scalar expression",
             tg_promql_op_str(op));
    return p->failed ? -1 : 0;
}

static int check_call(struct parser *p, struct tg_promql_node *n)
{
    const struct tg_promql_func *f = n->u.call.func;
    size_t nargs = f->n_args, i = 0, k;
    struct tg_promql_node *a, *second = n->u.call.args ? n->u.call.args->next : NULL;
    char q[64];

    if (f->variadic == 0 && nargs == n->u.call.n_args && second == NULL && nargs <= 1) {
        /* the common f() / f(x): only the argument type to check */
        if (nargs == 0)
            return 0;
        a = n->u.call.args;
        if (check(p, a) < 0)
            return -1;
        if (a->type == letter_type(f->args[0]))
            return 0;
    }
    snprintf(q, sizeof(q), "\"%s\"", f->name);
    if (f->variadic == 0) {
        if (nargs != n->u.call.n_args)
            perr(p, n->pos, "expected %zu argument(s) in call to %s, got %zu", nargs, q,
                 n->u.call.n_args);
    } else {
        size_t na = nargs - 1;
        if (na > n->u.call.n_args)
            perr(p, n->pos, "expected at least %zu argument(s) in call to %s, got %zu", na, q,
                 n->u.call.n_args);
        else if (f->variadic > 0 && na + (size_t)f->variadic < n->u.call.n_args)
            perr(p, n->pos, "expected at most %zu argument(s) in call to %s, got %zu",
                 na + (size_t)f->variadic, q, n->u.call.n_args);
    }
    if (p->failed)
        return -1;
    if (second != NULL && pq_func_is_info(f)) {
        if (second->type != TG_PROMQL_VVECTOR)
            perr(p, n->pos, "expected type instant vector in call to function %s, got %s", q,
                 vtype_doc(second->type));
        else if (second->kind == TG_PROMQL_VECTOR && second->u.vs.name.len > 0)
            perr(p, second->pos, "expected label selectors only, got vector selector instead");
        else if (second->kind == TG_PROMQL_VECTOR)
            second->u.vs.bypass_empty_check = 1;
        else
            perr(p, second->pos, "expected label selectors only");
        if (p->failed)
            return -1;
    }
    for (a = n->u.call.args; a != NULL; a = a->next, i++) {
        k = i;
        if (k >= nargs) {
            if (f->variadic == 0)
                break;
            k = nargs - 1;
        }
        if (check(p, a) < 0)
            return -1;
        if (a->type != letter_type(f->args[k])) {
            perr(p, a->pos, "expected type %s in call to function %s, got %s",
                 vtype_doc(letter_type(f->args[k])), q, vtype_doc(a->type));
            return -1;
        }
    }
    return 0;
}

static int check_vs(struct parser *p, struct tg_promql_node *n)
{
    const struct tg_promql_matcher *m;
    char q1[96], q2[96];

    if (n->u.vs.name.len > 0) {
        for (m = n->u.vs.matchers; m != NULL; m = m->next)
            if (pq_is_name_label(m->name)) {
                pq_go_quote(q1, sizeof(q1), n->u.vs.name.base, n->u.vs.name.len, 64);
                pq_go_quote(q2, sizeof(q2), m->value.base, m->value.len, 64);
                perr(p, n->pos, "metric name must not be set twice: %s or %s", q1, q2);
                return -1;
            }
        return 0;
    }
    if (n->u.vs.bypass_empty_check || p->selector_only)
        return 0;
    for (m = n->u.vs.matchers; m != NULL; m = m->next)
        if (m->op == TG_PROMQL_EQ ? m->value.len > 0 : pq_matcher_matches(m, TG_IOV_LIT("")) == 0)
            return 0;
    /* unknown regexes count as non-empty: the injected matcher is never empty */
    for (m = n->u.vs.matchers; m != NULL; m = m->next)
        if (pq_matcher_matches(m, TG_IOV_LIT("")) < 0)
            return 0;
    perr(p, n->pos, "vector selector must contain at least one non-empty matcher");
    return -1;
}

static int check(struct parser *p, struct tg_promql_node *n)
{
    switch (n->kind) {
    case TG_PROMQL_AGGREGATE:
        if (expect_type(p, n->u.agg.expr, TG_PROMQL_VVECTOR, "aggregation expression") < 0)
            return -1;
        if (n->u.agg.op == TG_PROMQL_COUNT_VALUES)
            return expect_type(p, n->u.agg.param, TG_PROMQL_VSTRING, "aggregation parameter");
        if (n->u.agg.param != NULL)
            return expect_type(p, n->u.agg.param, TG_PROMQL_VSCALAR, "aggregation parameter");
        return 0;
    case TG_PROMQL_BINARY: return check_binary(p, n);
    case TG_PROMQL_CALL: return check_call(p, n);
    case TG_PROMQL_PAREN:
        if (check(p, n->u.paren.expr) < 0)
            return -1;
        n->type = n->u.paren.expr->type;
        return 0;
    case TG_PROMQL_UNARY:
        if (check(p, n->u.unary.expr) < 0)
            return -1;
        if (n->type != TG_PROMQL_VSCALAR && n->type != TG_PROMQL_VVECTOR) {
            perr(p, n->pos,
                 "unary expression only allowed on expressions of type scalar or instant vector, "
                 "got \"%s\"",
                 vtype_doc(n->type));
            return -1;
        }
        return 0;
    case TG_PROMQL_SUBQUERY:
        if (check(p, n->u.subquery.expr) < 0)
            return -1;
        if (n->u.subquery.expr->type != TG_PROMQL_VVECTOR) {
            perr(p, n->pos, "subquery is only allowed on instant vector, got %s instead",
                 vtype_name(n->u.subquery.expr->type));
            return -1;
        }
        return 0;
    case TG_PROMQL_MATRIX: return check_vs(p, n->u.matrix.vs);
    case TG_PROMQL_VECTOR: return check_vs(p, n);
    default: return 0;
    }
}

/* ---- entry points ---------------------------------------------------- */

static void resolve_opts(struct tg_promql_opts *dst, const struct tg_promql_opts *o)
{
    if (o != NULL)
        *dst = *o;
    else
        memset(dst, 0, sizeof(*dst));
    if (dst->max_len == 0)
        dst->max_len = TG_PROMQL_DEFAULT_MAX_LEN;
    if (dst->max_len > 0xFFFFFFF0u)
        dst->max_len = 0xFFFFFFF0u;
    if (dst->max_depth <= 0)
        dst->max_depth = TG_PROMQL_DEFAULT_MAX_DEPTH;
}

int pq_parse(tg_arena_t *a, tg_iovec_t query, const struct tg_promql_opts *o, int selector_only,
             struct tg_promql_node **out, struct pq_selectors *sel, struct tg_promql_error *err)
{
    struct parser p;
    struct tg_promql_node *root = NULL;

    resolve_opts(&p.o, o);
    p.a = a;
    p.s = query.base ? query.base : "";
    p.len = query.len;
    p.t = p.last = NULL;
    p.rdepth = 0;
    p.err = err;
    p.selector_only = selector_only;
    p.failed = 0;
    p.suspect = 0;
    p.sel.first = NULL;
    p.sel.has_info = 0;
    p.sel_tail = &p.sel.first;
    *out = NULL;
    err->pos = 0;
    err->line = err->col = 0;
    err->msg[0] = '\0';
    if (p.len > p.o.max_len) {
        perr(&p, 0, "query too long (%zu bytes, limit %zu)", p.len, p.o.max_len);
        goto fail;
    }
    pq_lex(a, p.s, p.len, &p.lx);
    p.t = p.lx.toks;
    p.last = p.lx.toks + p.lx.n - 1;
    if (cur_type(&p) == T_EOF) {
        perr(&p, 0, "no expression found in input");
        goto fail;
    }
    if ((root = binary_expr(&p, 0)) == NULL)
        goto fail;
    if (cur_type(&p) != T_EOF) {
        unexpected(&p, NULL, NULL);
        goto fail;
    }
    /* PQ_CROSSCHECK: run the full pass anyway and verify the pre-check */
    if ((p.suspect || PQ_CROSSCHECK) && check(&p, root) < 0) {
        TG_CHECK(p.suspect); /* the pre-check must be conservative */
        goto fail;
    }
    *out = root;
    if (sel != NULL)
        *sel = p.sel;
    return 0;
fail:
    if (!p.failed)
        perr(&p, cur(&p)->pos, "unexpected error");
    return -1;
}

int tg_promql_parse(tg_arena_t *a, tg_iovec_t query, const struct tg_promql_opts *o,
                    struct tg_promql_node **out, struct tg_promql_error *err)
{
    return pq_parse(a, query, o, 0, out, NULL, err);
}

#define OPN(op, str) [op] = {str, sizeof(str) - 1}
const struct pq_opname pq_ops[TG_PROMQL_LIMIT_RATIO + 1] = {
    OPN(TG_PROMQL_OP_NONE, ""),
    OPN(TG_PROMQL_ADD, "+"),
    OPN(TG_PROMQL_SUB, "-"),
    OPN(TG_PROMQL_MUL, "*"),
    OPN(TG_PROMQL_DIV, "/"),
    OPN(TG_PROMQL_MOD, "%"),
    OPN(TG_PROMQL_POW, "^"),
    OPN(TG_PROMQL_ATAN2, "atan2"),
    OPN(TG_PROMQL_EQLC, "=="),
    OPN(TG_PROMQL_NEQ, "!="),
    OPN(TG_PROMQL_LSS, "<"),
    OPN(TG_PROMQL_LTE, "<="),
    OPN(TG_PROMQL_GTR, ">"),
    OPN(TG_PROMQL_GTE, ">="),
    OPN(TG_PROMQL_TRIM_UPPER, "</"),
    OPN(TG_PROMQL_TRIM_LOWER, ">/"),
    OPN(TG_PROMQL_LAND, "and"),
    OPN(TG_PROMQL_LOR, "or"),
    OPN(TG_PROMQL_LUNLESS, "unless"),
    OPN(TG_PROMQL_STEP, "step"),
    OPN(TG_PROMQL_RANGE, "range"),
    OPN(TG_PROMQL_MIN_OF, "min_of"),
    OPN(TG_PROMQL_MAX_OF, "max_of"),
    OPN(TG_PROMQL_SUM, "sum"),
    OPN(TG_PROMQL_AVG, "avg"),
    OPN(TG_PROMQL_COUNT, "count"),
    OPN(TG_PROMQL_MIN, "min"),
    OPN(TG_PROMQL_MAX, "max"),
    OPN(TG_PROMQL_GROUP, "group"),
    OPN(TG_PROMQL_STDDEV, "stddev"),
    OPN(TG_PROMQL_STDVAR, "stdvar"),
    OPN(TG_PROMQL_TOPK, "topk"),
    OPN(TG_PROMQL_BOTTOMK, "bottomk"),
    OPN(TG_PROMQL_COUNT_VALUES, "count_values"),
    OPN(TG_PROMQL_QUANTILE, "quantile"),
    OPN(TG_PROMQL_LIMITK, "limitk"),
    OPN(TG_PROMQL_LIMIT_RATIO, "limit_ratio"),
};

const char *tg_promql_op_str(enum tg_promql_op op)
{
    if ((size_t)op >= sizeof(pq_ops) / sizeof(pq_ops[0]))
        return "";
    return pq_ops[op].s;
}
