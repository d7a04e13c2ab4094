/*
 * Printers. The canonical printer (tg_promql_print) is what the proxy sends
 * upstream: it keeps matchers in AST order, numbers in their source spelling
 * and durations exact, and it protects the few spots where Prometheus'
 * grammar would read the text differently. The "prom" mode reproduces
 * Prometheus' own Expr.String() (sorted matchers, model.Duration) for
 * format_query's Pretty().
 */
#include "promql-int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hot-path appends: one capacity check inline, the builder grows otherwise.
 * They do not NUL-terminate: every public printer ends with finish(). */
static inline void put_c(tg_sb_t *sb, char c)
{
    if (sb->len < sb->cap)
        sb->base[sb->len++] = c;
    else
        tg_sb_addc(sb, c);
}

/* Room for n more bytes at sb->base + sb->len. */
static inline char *room(tg_sb_t *sb, size_t n)
{
    if (sb->cap - sb->len < n)
        tg_sb_reserve(sb, n);
    return sb->base + sb->len;
}

/* memcpy for the short strings a query is made of: a few overlapping
 * fixed-size moves instead of a libc call and its size dispatch. */
static inline void copy_short(char *d, const char *s, size_t n)
{
    if (n <= 16) {
        if (n >= 8) {
            uint64_t x, y;
            memcpy(&x, s, 8);
            memcpy(&y, s + n - 8, 8);
            memcpy(d, &x, 8);
            memcpy(d + n - 8, &y, 8);
        } else if (n >= 4) {
            uint32_t x, y;
            memcpy(&x, s, 4);
            memcpy(&y, s + n - 4, 4);
            memcpy(d, &x, 4);
            memcpy(d + n - 4, &y, 4);
        } else if (n > 0) {
            char x = s[0], y = s[n / 2], z = s[n - 1];
            d[0] = x;
            d[n / 2] = y;
            d[n - 1] = z;
        }
    } else if (n <= 32) {
        char x[16], y[16];
        memcpy(x, s, 16);
        memcpy(y, s + n - 16, 16);
        memcpy(d, x, 16);
        memcpy(d + n - 16, y, 16);
    } else if (n <= 64) {
        char w[16], x[16], y[16], z[16];
        memcpy(w, s, 16);
        memcpy(x, s + 16, 16);
        memcpy(y, s + n - 32, 16);
        memcpy(z, s + n - 16, 16);
        memcpy(d, w, 16);
        memcpy(d + 16, x, 16);
        memcpy(d + n - 32, y, 16);
        memcpy(d + n - 16, z, 16);
    } else {
        memcpy(d, s, n);
    }
}

static inline void put_n(tg_sb_t *sb, const char *s, size_t n)
{
    copy_short(room(sb, n), s, n);
    sb->len += n;
}

static inline void put_iov(tg_sb_t *sb, tg_iovec_t v)
{
    put_n(sb, v.base, v.len);
}

static inline void finish(tg_sb_t *sb)
{
    room(sb, 0)[0] = '\0';
}

#define PUT_LIT(sb, lit) put_n((sb), (lit), sizeof(lit) - 1)

static inline void put_op(tg_sb_t *sb, enum tg_promql_op op)
{
    if ((size_t)op < sizeof(pq_ops) / sizeof(pq_ops[0]))
        put_n(sb, pq_ops[op].s, pq_ops[op].n);
}

struct printer {
    tg_sb_t *sb;
    int prom; /* Prometheus String() spelling */
};

static void print_node(const struct printer *pr, const struct tg_promql_node *n, int tail);
static void print_dur(const struct printer *pr, const struct tg_promql_node *n);

void pq_format_g(tg_sb_t *sb, double v)
{
    char digits[24];
    int exp10, nd;

    if (isnan(v) || isinf(v) || v == 0) {
        pq_format_float(sb, v);
        return;
    }
    nd = pq_shortest_digits(sb, v, digits, &exp10);
    if (exp10 < -4 || exp10 >= 6) { /* strconv shortest %g */
        tg_sb_addc(sb, digits[0]);
        if (nd > 1) {
            tg_sb_addc(sb, '.');
            tg_sb_add(sb, digits + 1, (size_t)nd - 1);
        }
        tg_sb_printf(sb, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        return;
    }
    pq_put_fixed(sb, digits, nd, exp10);
}

/* model.Duration spelling (milliseconds, truncating) for prom mode. */
static void prom_duration(tg_sb_t *sb, int64_t ns)
{
    pq_print_duration(sb, ns - ns % 1000000);
}

static void print_number(const struct printer *pr, const struct tg_promql_node *n)
{
    if (pr->prom || n->u.num.text.len == 0) {
        if (n->u.num.duration && !isnan(n->u.num.val) && fabs(n->u.num.val) < 9.2e9)
            prom_duration(pr->sb, (int64_t)(n->u.num.val * 1e9));
        else
            pq_format_float(pr->sb, n->u.num.val);
        return;
    }
    if (n->u.num.neg)
        put_c(pr->sb, '-');
    put_iov(pr->sb, n->u.num.text);
}

/* A literal range, step or offset. The canonical printer writes the
 * literal as the query spelled it when the parser kept that: the same text
 * reads back as the same |ns| (the sign comes from ns), whereas
 * pq_print_duration() has to find the units. */
static void print_lit(const struct printer *pr, const struct tg_promql_dur *d)
{
    size_t n = d->text.len;
    char *o;

    if (pr->prom) {
        prom_duration(pr->sb, d->ns);
        return;
    }
    if (n == 0) {
        pq_print_duration(pr->sb, d->ns);
        return;
    }
    o = room(pr->sb, n + 1);
    if (d->ns < 0)
        *o++ = '-';
    copy_short(o, d->text.base, n);
    pr->sb->len = (size_t)(o + n - pr->sb->base);
}

/* "a, b, c" */
static void print_labels(tg_sb_t *sb, const struct tg_promql_labels *l)
{
    size_t i;
    for (i = 0; i < l->n; i++) {
        tg_iovec_t v = l->names[i];
        if (l->plain || pq_is_legacy_label(v)) {
            char *o = room(sb, v.len + 2), *start = o;
            if (i > 0)
                o[0] = ',', o[1] = ' ', o += 2;
            copy_short(o, v.base, v.len);
            sb->len += (size_t)(o + v.len - start);
            continue;
        }
        if (i > 0)
            put_n(sb, ", ", 2);
        tg_promql_label_name(sb, v);
    }
}

static const char *match_str(enum tg_promql_match op)
{
    switch (op) {
    case TG_PROMQL_EQ: return "=";
    case TG_PROMQL_NE: return "!=";
    case TG_PROMQL_RE: return "=~";
    case TG_PROMQL_NRE: return "!~";
    }
    return "=";
}

static void print_matcher(tg_sb_t *sb, tg_iovec_t name, enum tg_promql_match op, tg_iovec_t value)
{
    const char *ops = match_str(op);
    tg_promql_label_name(sb, name);
    put_n(sb, ops, op == TG_PROMQL_EQ ? 1 : 2);
    tg_promql_quote(sb, value);
}

/* The name may stay before the braces only if the lexer reads it back as a
 * plain identifier: not a keyword (sum, offset, inf, ...) in any case. */
static int name_outside(const struct tg_promql_node *vs)
{
    tg_iovec_t name = vs->u.vs.name;
    if (name.len > 0 && vs->u.vs.name_plain)
        return 1;
    return name.len > 0 && pq_is_legacy_metric(name) && pq_keyword(name.base, name.len) == T_IDENT;
}

static int cmp_str(const void *a, const void *b)
{
    const tg_iovec_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->base, y->base, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Prometheus prints matchers sorted by their text. */
static void prom_matchers(const struct printer *pr, const struct tg_promql_node *n)
{
    tg_arena_t *a = pr->sb->arena;
    tg_iovec_t small[16], *v = small;
    const struct tg_promql_matcher *m;
    size_t i = 0, k;
    tg_sb_t tmp;

    if (n->u.vs.n_matchers > 16)
        v = a ? tg_arena_alloc(a, n->u.vs.n_matchers * sizeof(*v))
              : tg_malloc(n->u.vs.n_matchers * sizeof(*v));
    tg_sb_init(&tmp, a, 64);
    for (m = n->u.vs.matchers; m != NULL; m = m->next) {
        size_t start = tmp.len;
        print_matcher(&tmp, m->name, m->op, m->value);
        v[i++] = tg_iov((const char *)(uintptr_t)start, tmp.len - start);
    }
    for (k = 0; k < i; k++)
        v[k].base = tmp.base + (uintptr_t)v[k].base;
    qsort(v, i, sizeof(*v), cmp_str);
    put_c(pr->sb, '{');
    for (k = 0; k < i; k++) {
        if (k > 0)
            put_c(pr->sb, ',');
        put_iov(pr->sb, v[k]);
    }
    put_c(pr->sb, '}');
    tg_sb_free(&tmp);
    if (v != small && a == NULL)
        free(v);
}

/* End of the query text of a PQ_MF_SRC matcher (after the closing quote). */
static inline const char *src_end(const struct tg_promql_matcher *m)
{
    return m->value.base + m->value.len + 1;
}

/* Prometheus' spelling of a selector: the name, then matchers sorted. */
static void prom_selector(const struct printer *pr, const struct tg_promql_node *n)
{
    if (n->u.vs.name.len > 0)
        put_iov(pr->sb, n->u.vs.name);
    if (n->u.vs.n_matchers > 0 || n->u.vs.name.len == 0)
        prom_matchers(pr, n);
}

static void print_at(const struct printer *pr, const struct tg_promql_mods *m)
{
    uint64_t mag;
    switch (m->at) {
    case TG_PROMQL_AT_NONE: return;
    case TG_PROMQL_AT_START: PUT_LIT(pr->sb, " @ start()"); return;
    case TG_PROMQL_AT_END: PUT_LIT(pr->sb, " @ end()"); return;
    case TG_PROMQL_AT_TIME:
        mag = m->at_ms < 0 ? (uint64_t)0 - (uint64_t)m->at_ms : (uint64_t)m->at_ms;
        tg_sb_printf(pr->sb, " @ %s%llu.%03llu", m->at_ms < 0 ? "-" : "",
                     (unsigned long long)(mag / 1000), (unsigned long long)(mag % 1000));
        return;
    }
}

static int is_dur_leaf_call(const struct tg_promql_node *e)
{
    return e->kind == TG_PROMQL_DURATION &&
           (e->u.dur.op == TG_PROMQL_STEP || e->u.dur.op == TG_PROMQL_RANGE ||
            e->u.dur.op == TG_PROMQL_MIN_OF || e->u.dur.op == TG_PROMQL_MAX_OF);
}

/* Offset operands that Prometheus' grammar ends right after (see
 * offset_duration in parse.c); anything else keeps taking operators. */
static int offset_self_delimited(const struct tg_promql_node *e)
{
    if (is_dur_leaf_call(e))
        return 1;
    return e->kind == TG_PROMQL_DURATION && e->u.dur.lhs == NULL && !e->u.dur.wrapped &&
           e->u.dur.rhs != NULL &&
           (is_dur_leaf_call(e->u.dur.rhs) || e->u.dur.rhs->u.dur.wrapped) &&
           e->u.dur.rhs->kind == TG_PROMQL_DURATION;
}

static void print_dur_inner(const struct printer *pr, const struct tg_promql_node *n)
{
    struct tg_promql_node copy = *n;
    if (n->u.dur.op == TG_PROMQL_ADD && n->u.dur.lhs == NULL) {
        print_dur(pr, n->u.dur.rhs);
        return;
    }
    copy.u.dur.wrapped = 0;
    print_dur(pr, &copy);
}

static void print_offset(const struct printer *pr, const struct tg_promql_dur *d, int tail)
{
    if (d->expr == NULL) {
        if (d->ns == 0)
            return;
        PUT_LIT(pr->sb, " offset ");
        print_lit(pr, d);
        return;
    }
    PUT_LIT(pr->sb, " offset ");
    if (pr->prom || offset_self_delimited(d->expr) ||
        (d->expr->kind == TG_PROMQL_DURATION && d->expr->u.dur.wrapped && !tail)) {
        print_dur(pr, d->expr);
        return;
    }
    /* "(...)" keeps taking duration operators, fine when none follows;
     * "+(...)" is a complete offset operand whatever follows */
    put_n(pr->sb, tail ? "+(" : "(", tail ? 2 : 1);
    if (d->expr->kind == TG_PROMQL_DURATION)
        print_dur_inner(pr, d->expr);
    else
        print_dur(pr, d->expr);
    put_c(pr->sb, ')');
}

static void print_mods(const struct printer *pr, const struct tg_promql_mods *m, int tail)
{
    if (m->at == TG_PROMQL_AT_NONE && !m->anchored && !m->smoothed && m->offset.ns == 0 &&
        m->offset.expr == NULL)
        return;
    print_at(pr, m);
    if (m->anchored)
        PUT_LIT(pr->sb, " anchored");
    else if (m->smoothed)
        PUT_LIT(pr->sb, " smoothed");
    print_offset(pr, &m->offset, tail);
}

static void print_range(const struct printer *pr, const struct tg_promql_dur *d)
{
    if (d->expr != NULL)
        print_dur(pr, d->expr);
    else
        print_lit(pr, d);
}

/* "[range]" (the node printer writes a literal in its source spelling itself) */
static void print_matrix_range(const struct printer *pr, const struct tg_promql_dur *d)
{
    put_c(pr->sb, '[');
    print_range(pr, d);
    put_c(pr->sb, ']');
}

static void print_dur(const struct printer *pr, const struct tg_promql_node *n)
{
    if (n->kind == TG_PROMQL_NUMBER) {
        print_number(pr, n);
        return;
    }
    if (n->u.dur.wrapped)
        put_c(pr->sb, '(');
    switch (n->u.dur.op) {
    case TG_PROMQL_STEP: PUT_LIT(pr->sb, "step()"); break;
    case TG_PROMQL_RANGE: PUT_LIT(pr->sb, "range()"); break;
    case TG_PROMQL_MIN_OF:
    case TG_PROMQL_MAX_OF:
        put_op(pr->sb, n->u.dur.op);
        put_c(pr->sb, '(');
        print_dur(pr, n->u.dur.lhs);
        put_n(pr->sb, ", ", 2);
        print_dur(pr, n->u.dur.rhs);
        put_c(pr->sb, ')');
        break;
    default:
        if (n->u.dur.lhs == NULL) {
            /* a wrapped unary plus is just the parentheses */
            if (n->u.dur.op == TG_PROMQL_SUB || (!n->u.dur.wrapped && !pr->prom))
                put_op(pr->sb, n->u.dur.op);
            print_dur(pr, n->u.dur.rhs);
        } else {
            print_dur(pr, n->u.dur.lhs);
            put_c(pr->sb, ' ');
            put_op(pr->sb, n->u.dur.op);
            put_c(pr->sb, ' ');
            print_dur(pr, n->u.dur.rhs);
        }
    }
    if (n->u.dur.wrapped)
        put_c(pr->sb, ')');
}

/* " fill (v)", " fill_left (v) fill_right (w)" */
static void print_fill(const struct printer *pr, const struct tg_promql_node *n)
{
    if (n->u.binary.has_fill_lhs && n->u.binary.has_fill_rhs &&
        (n->u.binary.fill_lhs == n->u.binary.fill_rhs ||
         (isnan(n->u.binary.fill_lhs) && isnan(n->u.binary.fill_rhs)))) {
        PUT_LIT(pr->sb, " fill (");
        pq_format_g(pr->sb, n->u.binary.fill_lhs);
        put_c(pr->sb, ')');
        return;
    }
    if (n->u.binary.has_fill_lhs) {
        PUT_LIT(pr->sb, " fill_left (");
        pq_format_g(pr->sb, n->u.binary.fill_lhs);
        put_c(pr->sb, ')');
    }
    if (n->u.binary.has_fill_rhs) {
        PUT_LIT(pr->sb, " fill_right (");
        pq_format_g(pr->sb, n->u.binary.fill_rhs);
        put_c(pr->sb, ')');
    }
}

static void print_subquery_suffix(const struct printer *pr, const struct tg_promql_node *n,
                                  int tail)
{
    put_c(pr->sb, '[');
    print_range(pr, &n->u.subquery.range);
    put_c(pr->sb, ':');
    if (n->u.subquery.step.expr != NULL || n->u.subquery.step.ns != 0)
        print_range(pr, &n->u.subquery.step);
    put_c(pr->sb, ']');
    print_mods(pr, &n->u.subquery.mods, tail);
}

/* ---- canonical printer: the hot paths ----------------------------------
 * tg_promql_print writes through a cursor o into the builder's buffer (end
 * is where its capacity ends) and checks the room once per piece. The rare
 * paths (escapes, modifiers, subqueries, duration expressions) hand over to
 * the builder-based printers above: cp_sync() before, cp_resume() after. */

struct cp {
    struct printer pr; /* canonical (prom = 0); pr.sb is the builder */
    char *end;
};

static inline void cp_sync(const struct cp *c, char *o)
{
    c->pr.sb->len = (size_t)(o - c->pr.sb->base);
}

static inline char *cp_resume(struct cp *c)
{
    c->end = c->pr.sb->base + c->pr.sb->cap;
    return c->pr.sb->base + c->pr.sb->len;
}

static __attribute__((noinline)) char *cp_grow(struct cp *c, char *o, size_t n)
{
    cp_sync(c, o);
    tg_sb_reserve(c->pr.sb, n);
    return cp_resume(c);
}

/* Room for n bytes at o. */
static inline char *cp_room(struct cp *c, char *o, size_t n)
{
    if ((size_t)(c->end - o) < n)
        o = cp_grow(c, o, n);
    return o;
}

static inline char *cp_put(struct cp *c, char *o, const char *s, size_t n)
{
    o = cp_room(c, o, n);
    copy_short(o, s, n);
    return o + n;
}

/* The operator at o, which has room for 16 bytes. */
static inline char *cp_op16(char *o, enum tg_promql_op op)
{
    if ((size_t)op >= sizeof(pq_ops) / sizeof(pq_ops[0]))
        return o;
    memcpy(o, pq_ops[op].s, 16); /* NUL-padded: one 16-byte move */
    return o + pq_ops[op].n;
}

static inline char *cp_op(struct cp *c, char *o, enum tg_promql_op op)
{
    return cp_op16(cp_room(c, o, 16), op);
}

/* The query has *mp (and maybe the next matchers, one ',' apart) as the
 * printer writes them: copy the text from a (the first matcher, or the metric
 * name before it) to the end of the run at once, after a ',' unless first;
 * *mp becomes the last matcher of the run. */
static inline __attribute__((always_inline)) char *
cp_src_run(struct cp *c, char *o, const struct tg_promql_matcher **mp, const char *a, int first)
{
    const struct tg_promql_matcher *m = *mp;
    const char *b = src_end(m);
    size_t len;

    while (m->next != NULL && (m->next->pflags & PQ_MF_SRC) && m->next->name.base == b + 1 &&
           *b == ',') {
        m = m->next;
        b = src_end(m);
    }
    *mp = m;
    len = (size_t)(b - a);
    o = cp_room(c, o, len + 1);
    if (!first)
        *o++ = ',';
    copy_short(o, a, len);
    return o + len;
}

static inline char *cp_plain_matcher(struct cp *c, char *o, const struct tg_promql_matcher *m,
                                     int first)
{
    size_t nl = m->name.len, vl = m->value.len;

    o = cp_room(c, o, nl + vl + 6);
    if (!first)
        *o++ = ',';
    copy_short(o, m->name.base, nl);
    o += nl;
    switch (m->op) {
    case TG_PROMQL_EQ: *o++ = '='; break;
    case TG_PROMQL_NE:
        o[0] = '!', o[1] = '=';
        o += 2;
        break;
    case TG_PROMQL_RE:
        o[0] = '=', o[1] = '~';
        o += 2;
        break;
    case TG_PROMQL_NRE:
        o[0] = '!', o[1] = '~';
        o += 2;
        break;
    }
    *o++ = '"';
    copy_short(o, m->value.base, vl);
    o[vl] = '"';
    return o + vl + 1;
}

static char *cp_selector(struct cp *c, char *o, const struct tg_promql_node *n)
{
    const struct tg_promql_matcher *m = n->u.vs.matchers;
    tg_iovec_t name = n->u.vs.name;
    int outside, first = 1;

    if (__builtin_expect(c->pr.prom, 0)) {
        cp_sync(c, o);
        prom_selector(&c->pr, n);
        return cp_resume(c);
    }
    outside = name_outside(n);

    if (outside) {
        if (m == NULL)
            return cp_put(c, o, name.base, name.len);
        if ((m->pflags & PQ_MF_SRC) && m->name.base == name.base + name.len + 1 &&
            m->name.base[-1] == '{') {
            /* "name{" and the first matchers, as the query has them */
            o = cp_src_run(c, o, &m, name.base, 1);
            m = m->next;
            first = 0;
        } else {
            o = cp_room(c, o, name.len + 1);
            copy_short(o, name.base, name.len);
            o += name.len;
            *o++ = '{';
        }
    } else {
        o = cp_room(c, o, 1);
        *o++ = '{';
    }
    for (; m != NULL; m = m->next, first = 0) {
        if (m->pflags & PQ_MF_SRC) {
            o = cp_src_run(c, o, &m, m->name.base, first);
        } else if ((m->pflags & (PQ_MF_NAME_PLAIN | PQ_MF_VALUE_PLAIN)) ==
                   (PQ_MF_NAME_PLAIN | PQ_MF_VALUE_PLAIN)) {
            o = cp_plain_matcher(c, o, m, first);
        } else {
            if (!first)
                o = cp_put(c, o, ",", 1);
            cp_sync(c, o);
            print_matcher(c->pr.sb, m->name, m->op, m->value);
            o = cp_resume(c);
        }
    }
    if (!outside && name.len > 0) {
        if (!first)
            o = cp_put(c, o, ",", 1);
        cp_sync(c, o);
        print_matcher(c->pr.sb, TG_IOV_LIT("__name__"), TG_PROMQL_EQ, name);
        o = cp_resume(c);
    }
    return cp_put(c, o, "}", 1);
}

static inline char *cp_mods(struct cp *c, char *o, const struct tg_promql_mods *m, int tail)
{
    if (m->at == TG_PROMQL_AT_NONE && !m->anchored && !m->smoothed && m->offset.ns == 0 &&
        m->offset.expr == NULL)
        return o;
    cp_sync(c, o);
    print_mods(&c->pr, m, tail);
    return cp_resume(c);
}

/* "a, b, c"; plain names that the query has ", " apart are copied at once
 * (plain names are identifiers from the query). */
static char *cp_labels(struct cp *c, char *o, const struct tg_promql_labels *l)
{
    size_t i = 0, j;

    if (!l->plain) {
        cp_sync(c, o);
        print_labels(c->pr.sb, l);
        return cp_resume(c);
    }
    while (i < l->n) {
        const char *a = l->names[i].base, *b = a + l->names[i].len;
        for (j = i + 1; j < l->n && l->names[j].base == b + 2 && b[0] == ',' && b[1] == ' '; j++)
            b = l->names[j].base + l->names[j].len;
        o = cp_room(c, o, (size_t)(b - a) + 2);
        if (i > 0)
            o[0] = ',', o[1] = ' ', o += 2;
        copy_short(o, a, (size_t)(b - a));
        o += b - a;
        i = j;
    }
    return o;
}

/* "op", "op bool on (..) group_left (..) fill (..)" */
static inline char *cp_binop(struct cp *c, char *o, const struct tg_promql_node *n)
{
    int group =
        n->u.binary.card == TG_PROMQL_MANY_TO_ONE || n->u.binary.card == TG_PROMQL_ONE_TO_MANY;

    o = cp_room(c, o, 32);
    o = cp_op16(o, n->u.binary.op);
    if (n->u.binary.return_bool) {
        memcpy(o, " bool", 5);
        o += 5;
    }
    if (!n->u.binary.has_matching)
        return o;
    if (n->u.binary.matching.n > 0 || n->u.binary.on || group) {
        o = n->u.binary.on ? cp_put(c, o, " on (", 5) : cp_put(c, o, " ignoring (", 11);
        o = cp_labels(c, o, &n->u.binary.matching);
        o = cp_put(c, o, ")", 1);
    }
    if (group) {
        if (n->u.binary.card == TG_PROMQL_MANY_TO_ONE)
            o = cp_put(c, o, " group_left (", 13);
        else
            o = cp_put(c, o, " group_right (", 14);
        o = cp_labels(c, o, &n->u.binary.include);
        o = cp_put(c, o, ")", 1);
    }
    if (n->u.binary.has_fill_lhs || n->u.binary.has_fill_rhs) {
        cp_sync(c, o);
        print_fill(&c->pr, n);
        o = cp_resume(c);
    }
    return o;
}

/* "sum", "sum by (a) ", "sum without () " */
static inline char *cp_aggop(struct cp *c, char *o, const struct tg_promql_node *n)
{
    o = cp_room(c, o, 32);
    o = cp_op16(o, n->u.agg.op);
    if (!n->u.agg.without && n->u.agg.grouping.n == 0)
        return o;
    if (n->u.agg.without) {
        memcpy(o, " without (", 10);
        o += 10;
    } else {
        memcpy(o, " by (", 5);
        o += 5;
    }
    o = cp_labels(c, o, &n->u.agg.grouping);
    return cp_put(c, o, ") ", 2);
}

/* tail: a binary operator follows (matters for offset expressions). Both
 * spellings: the prom one differs in numbers, selectors and ranges only. */
static char *cp_node(struct cp *c, char *o, const struct tg_promql_node *n, int tail)
{
    const struct tg_promql_node *a;
    const struct tg_promql_dur *d;
    int prom = c->pr.prom;

    switch (n->kind) {
    case TG_PROMQL_NUMBER:
        if (n->u.num.text.len == 0 || prom) {
            cp_sync(c, o);
            print_number(&c->pr, n);
            return cp_resume(c);
        }
        o = cp_room(c, o, n->u.num.text.len + 1);
        if (n->u.num.neg)
            *o++ = '-';
        copy_short(o, n->u.num.text.base, n->u.num.text.len);
        return o + n->u.num.text.len;
    case TG_PROMQL_STRING:
        cp_sync(c, o);
        tg_promql_quote(c->pr.sb, n->u.str.val);
        return cp_resume(c);
    case TG_PROMQL_VECTOR: o = cp_selector(c, o, n); return cp_mods(c, o, &n->u.vs.mods, tail);
    case TG_PROMQL_MATRIX:
        o = cp_selector(c, o, n->u.matrix.vs);
        d = &n->u.matrix.range;
        if (d->expr == NULL && d->text.len > 0 && d->ns >= 0 && !prom) {
            o = cp_room(c, o, d->text.len + 2);
            *o++ = '[';
            copy_short(o, d->text.base, d->text.len);
            o += d->text.len;
            *o++ = ']';
        } else {
            cp_sync(c, o);
            print_matrix_range(&c->pr, d);
            o = cp_resume(c);
        }
        return cp_mods(c, o, &n->u.matrix.vs->u.vs.mods, tail);
    case TG_PROMQL_SUBQUERY:
        o = cp_node(c, o, n->u.subquery.expr, 0);
        cp_sync(c, o);
        print_subquery_suffix(&c->pr, n, tail);
        return cp_resume(c);
    case TG_PROMQL_PAREN:
        o = cp_put(c, o, "(", 1);
        o = cp_node(c, o, n->u.paren.expr, 0);
        return cp_put(c, o, ")", 1);
    case TG_PROMQL_UNARY:
        o = cp_op(c, o, n->u.unary.op);
        return cp_node(c, o, n->u.unary.expr, tail);
    case TG_PROMQL_BINARY:
        o = cp_node(c, o, n->u.binary.lhs, 1);
        o = cp_put(c, o, " ", 1);
        o = cp_binop(c, o, n);
        o = cp_put(c, o, " ", 1);
        return cp_node(c, o, n->u.binary.rhs, tail);
    case TG_PROMQL_AGGREGATE:
        o = cp_aggop(c, o, n);
        o = cp_put(c, o, "(", 1);
        if (n->u.agg.param != NULL) {
            o = cp_node(c, o, n->u.agg.param, 0);
            o = cp_put(c, o, ", ", 2);
        }
        o = cp_node(c, o, n->u.agg.expr, 0);
        return cp_put(c, o, ")", 1);
    case TG_PROMQL_CALL:
        o = cp_room(c, o, (size_t)n->u.call.func->name_len + 1);
        copy_short(o, n->u.call.func->name, n->u.call.func->name_len);
        o += n->u.call.func->name_len;
        *o++ = '(';
        for (a = n->u.call.args; a != NULL; a = a->next) {
            o = cp_node(c, o, a, 0);
            if (a->next != NULL)
                o = cp_put(c, o, ", ", 2);
        }
        return cp_put(c, o, ")", 1);
    case TG_PROMQL_DURATION:
        cp_sync(c, o);
        print_dur(&c->pr, n);
        return cp_resume(c);
    }
    return o;
}

/* The cursor printers on a builder, for the builder-based callers. */
static void print_node(const struct printer *pr, const struct tg_promql_node *n, int tail)
{
    struct cp c = {*pr, NULL};
    cp_sync(&c, cp_node(&c, cp_resume(&c), n, tail));
}

static void print_binop(const struct printer *pr, const struct tg_promql_node *n)
{
    struct cp c = {*pr, NULL};
    cp_sync(&c, cp_binop(&c, cp_resume(&c), n));
}

static void print_aggop(const struct printer *pr, const struct tg_promql_node *n)
{
    struct cp c = {*pr, NULL};
    cp_sync(&c, cp_aggop(&c, cp_resume(&c), n));
}

void tg_promql_print(const struct tg_promql_node *root, tg_sb_t *out)
{
    struct cp c = {{out, 0}, NULL};
    char *o = cp_resume(&c);

    o = cp_node(&c, o, root, 0);
    cp_sync(&c, o);
    finish(out);
}

/* ---- Pretty (format_query) ------------------------------------------ */

#define PRETTY_MAX_LINE 100

static size_t prom_len(const struct printer *pr, const struct tg_promql_node *n)
{
    tg_sb_t tmp;
    struct printer p2 = {&tmp, 1};
    size_t len;

    tg_sb_init(&tmp, pr->sb->arena, 256);
    print_node(&p2, n, 0);
    len = tmp.len;
    tg_sb_free(&tmp);
    return len;
}

static void indent(tg_sb_t *sb, int level)
{
    int i;
    for (i = 0; i < level; i++)
        tg_sb_add(sb, "  ", 2);
}

static void pretty(const struct printer *pr, const struct tg_promql_node *n, int level);

static void pretty_unary(const struct printer *pr, const struct tg_promql_node *n, int level)
{
    tg_sb_t tmp;
    struct printer p2 = {&tmp, 1};
    size_t s = 0, e;

    tg_sb_init(&tmp, pr->sb->arena, 256);
    pretty(&p2, n->u.unary.expr, level);
    e = tmp.len;
    while (s < e && (tmp.base[s] == ' ' || tmp.base[s] == '\n' || tmp.base[s] == '\t' ||
                     tmp.base[s] == '\r'))
        s++;
    while (e > s && (tmp.base[e - 1] == ' ' || tmp.base[e - 1] == '\n' || tmp.base[e - 1] == '\t' ||
                     tmp.base[e - 1] == '\r'))
        e--;
    indent(pr->sb, level);
    put_op(pr->sb, n->u.unary.op);
    put_n(pr->sb, tmp.base + s, e - s);
    tg_sb_free(&tmp);
}

static void pretty(const struct printer *pr, const struct tg_promql_node *n, int level)
{
    const struct tg_promql_node *a;
    int split = n->kind != TG_PROMQL_UNARY && prom_len(pr, n) > PRETTY_MAX_LINE;

    switch (n->kind) {
    case TG_PROMQL_AGGREGATE:
        if (!split)
            break;
        indent(pr->sb, level);
        print_aggop(pr, n);
        put_n(pr->sb, "(\n", 2);
        if (n->u.agg.param != NULL) {
            pretty(pr, n->u.agg.param, level + 1);
            put_n(pr->sb, ",\n", 2);
        }
        pretty(pr, n->u.agg.expr, level + 1);
        put_c(pr->sb, '\n');
        indent(pr->sb, level);
        put_c(pr->sb, ')');
        return;
    case TG_PROMQL_BINARY:
        if (!split)
            break;
        pretty(pr, n->u.binary.lhs, level + 1);
        put_c(pr->sb, '\n');
        indent(pr->sb, level);
        print_binop(pr, n);
        put_c(pr->sb, '\n');
        pretty(pr, n->u.binary.rhs, level + 1);
        return;
    case TG_PROMQL_CALL:
        if (!split)
            break;
        indent(pr->sb, level);
        put_n(pr->sb, n->u.call.func->name, n->u.call.func->name_len);
        put_n(pr->sb, "(\n", 2);
        for (a = n->u.call.args; a != NULL; a = a->next) {
            pretty(pr, a, level + 1);
            if (a->next != NULL)
                put_n(pr->sb, ",\n", 2);
        }
        put_c(pr->sb, '\n');
        indent(pr->sb, level);
        put_c(pr->sb, ')');
        return;
    case TG_PROMQL_PAREN:
        if (!split)
            break;
        indent(pr->sb, level);
        put_n(pr->sb, "(\n", 2);
        pretty(pr, n->u.paren.expr, level + 1);
        put_c(pr->sb, '\n');
        indent(pr->sb, level);
        put_c(pr->sb, ')');
        return;
    case TG_PROMQL_SUBQUERY:
        if (!split) {
            print_node(pr, n, 0);
            return;
        }
        pretty(pr, n->u.subquery.expr, level);
        print_subquery_suffix(pr, n, 0);
        return;
    case TG_PROMQL_UNARY: pretty_unary(pr, n, level); return;
    default: break;
    }
    indent(pr->sb, level);
    print_node(pr, n, 0);
}

void tg_promql_format(const struct tg_promql_node *root, tg_sb_t *out)
{
    struct printer pr = {out, 1};
    pretty(&pr, root, 0);
    finish(out);
}

/* ---- parse_query JSON ------------------------------------------------ */

/* Go's encoding/json string (HTML-safe, invalid UTF-8 as U+FFFD). */
static void json_str(tg_sb_t *sb, tg_iovec_t v)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)v.base;
    size_t i = 0;

    tg_sb_addc(sb, '"');
    while (i < v.len) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t w = 1;
            while (i + w < v.len && w < 4 && (p[i + w] & 0xC0) == 0x80)
                w++;
            while (w > 1 && !pq_utf8_valid(v.base + i, w))
                w--;
            if (w == 1) {
                tg_sb_adds(sb, "\\ufffd");
            } else if (w == 3 && p[i] == 0xE2 && p[i + 1] == 0x80 &&
                       (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
                tg_sb_adds(sb, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
            } else {
                tg_sb_add(sb, v.base + i, w);
            }
            i += w;
            continue;
        }
        if (c == '"' || c == '\\') {
            tg_sb_addc(sb, '\\');
            tg_sb_addc(sb, (char)c);
        } else if (c == '\n') {
            tg_sb_adds(sb, "\\n");
        } else if (c == '\r') {
            tg_sb_adds(sb, "\\r");
        } else if (c == '\t') {
            tg_sb_adds(sb, "\\t");
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            tg_sb_add(sb, e, 6);
        } else {
            tg_sb_addc(sb, (char)c);
        }
        i++;
    }
    tg_sb_addc(sb, '"');
}

static void json_key(tg_sb_t *sb, const char *k, int *first)
{
    if (!*first)
        tg_sb_addc(sb, ',');
    *first = 0;
    tg_sb_addc(sb, '"');
    tg_sb_adds(sb, k);
    tg_sb_add(sb, "\":", 2);
}

static void json_labels(tg_sb_t *sb, const struct tg_promql_labels *l)
{
    size_t i;
    tg_sb_addc(sb, '[');
    for (i = 0; i < l->n; i++) {
        if (i > 0)
            tg_sb_addc(sb, ',');
        json_str(sb, l->names[i]);
    }
    tg_sb_addc(sb, ']');
}

static void json_float_str(tg_sb_t *sb, double v)
{
    tg_sb_addc(sb, '"');
    pq_format_float(sb, v);
    tg_sb_addc(sb, '"');
}

static void json_number(tg_sb_t *sb, double v)
{
    if (isnan(v) || isinf(v))
        tg_sb_adds(sb, "null");
    else if (v != 0 && (fabs(v) < 1e-6 || fabs(v) >= 1e21))
        tg_sb_printf(sb, "%.17g", v);
    else
        pq_format_float(sb, v);
}

static void json_node(tg_sb_t *sb, const struct tg_promql_node *n);

static void json_dur(tg_sb_t *sb, const struct tg_promql_node *n)
{
    int f = 1;
    if (n == NULL) {
        tg_sb_adds(sb, "null");
        return;
    }
    tg_sb_addc(sb, '{');
    if (n->kind == TG_PROMQL_NUMBER) {
        json_key(sb, "duration", &f);
        tg_sb_adds(sb, n->u.num.duration ? "true" : "false");
        json_key(sb, "type", &f);
        tg_sb_adds(sb, "\"numberLiteral\"");
        json_key(sb, "val", &f);
        json_float_str(sb, n->u.num.val);
    } else {
        json_key(sb, "lhs", &f);
        json_dur(sb, n->u.dur.lhs);
        json_key(sb, "op", &f);
        tg_sb_printf(sb, "\"%s\"", tg_promql_op_str(n->u.dur.op));
        json_key(sb, "rhs", &f);
        json_dur(sb, n->u.dur.rhs);
        json_key(sb, "type", &f);
        tg_sb_adds(sb, "\"durationExpr\"");
        json_key(sb, "wrapped", &f);
        tg_sb_adds(sb, n->u.dur.wrapped ? "true" : "false");
    }
    tg_sb_addc(sb, '}');
}

static int64_t ns_to_ms(int64_t ns)
{
    return ns / 1000000; /* Duration.Milliseconds() truncates */
}

static void json_mods(tg_sb_t *sb, const struct tg_promql_mods *m, int *f, int extended)
{
    if (extended) {
        json_key(sb, "anchored", f);
        tg_sb_adds(sb, m->anchored ? "true" : "false");
    }
    json_key(sb, "offset", f);
    tg_sb_printf(sb, "%lld", (long long)ns_to_ms(m->offset.ns));
    json_key(sb, "offsetExpr", f);
    json_dur(sb, m->offset.expr);
}

static void json_at(tg_sb_t *sb, const struct tg_promql_mods *m, int *f)
{
    json_key(sb, "startOrEnd", f);
    tg_sb_adds(sb, m->at == TG_PROMQL_AT_START ? "\"start\""
                   : m->at == TG_PROMQL_AT_END ? "\"end\""
                                               : "null");
    json_key(sb, "timestamp", f);
    if (m->at == TG_PROMQL_AT_TIME)
        tg_sb_printf(sb, "%lld", (long long)m->at_ms);
    else
        tg_sb_adds(sb, "null");
}

static void json_matchers(tg_sb_t *sb, const struct tg_promql_node *vs)
{
    const struct tg_promql_matcher *m;
    int first = 1;

    tg_sb_addc(sb, '[');
    for (m = vs->u.vs.matchers; m != NULL; m = m->next) {
        if (!first)
            tg_sb_addc(sb, ',');
        first = 0;
        tg_sb_adds(sb, "{\"name\":");
        json_str(sb, m->name);
        tg_sb_printf(sb, ",\"type\":\"%s\",\"value\":", match_str(m->op));
        json_str(sb, m->value);
        tg_sb_addc(sb, '}');
    }
    if (vs->u.vs.name.len > 0) {
        if (!first)
            tg_sb_addc(sb, ',');
        tg_sb_adds(sb, "{\"name\":\"__name__\",\"type\":\"=\",\"value\":");
        json_str(sb, vs->u.vs.name);
        tg_sb_addc(sb, '}');
    }
    tg_sb_addc(sb, ']');
}

static void json_selector(tg_sb_t *sb, const struct tg_promql_node *vs,
                          const struct tg_promql_dur *range)
{
    const struct tg_promql_mods *m = &vs->u.vs.mods;
    int f = 1;

    tg_sb_addc(sb, '{');
    json_key(sb, "anchored", &f);
    tg_sb_adds(sb, m->anchored ? "true" : "false");
    json_key(sb, "matchers", &f);
    json_matchers(sb, vs);
    json_key(sb, "name", &f);
    json_str(sb, vs->u.vs.name);
    json_mods(sb, m, &f, 0);
    if (range != NULL) {
        json_key(sb, "range", &f);
        tg_sb_printf(sb, "%lld", (long long)ns_to_ms(range->ns));
        json_key(sb, "rangeExpr", &f);
        json_dur(sb, range->expr);
    }
    json_key(sb, "smoothed", &f);
    tg_sb_adds(sb, m->smoothed ? "true" : "false");
    json_at(sb, m, &f);
    json_key(sb, "type", &f);
    tg_sb_adds(sb, range ? "\"matrixSelector\"" : "\"vectorSelector\"");
    tg_sb_addc(sb, '}');
}

static const char *letter_name(char c)
{
    switch (c) {
    case 'v': return "vector";
    case 'm': return "matrix";
    case 's': return "scalar";
    case 'S': return "string";
    }
    return "none";
}

static void json_call(tg_sb_t *sb, const struct tg_promql_node *n)
{
    const struct tg_promql_func *fn = n->u.call.func;
    const struct tg_promql_node *a;
    const char *t;
    int f = 1;

    tg_sb_addc(sb, '{');
    json_key(sb, "args", &f);
    tg_sb_addc(sb, '[');
    for (a = n->u.call.args; a != NULL; a = a->next) {
        json_node(sb, a);
        if (a->next)
            tg_sb_addc(sb, ',');
    }
    tg_sb_addc(sb, ']');
    json_key(sb, "func", &f);
    tg_sb_adds(sb, "{\"argTypes\":[");
    for (t = fn->args; *t; t++)
        tg_sb_printf(sb, "%s\"%s\"", t == fn->args ? "" : ",", letter_name(*t));
    tg_sb_printf(sb, "],\"name\":\"%s\",\"returnType\":\"%s\",\"variadic\":%d}", fn->name,
                 letter_name(fn->ret), fn->variadic);
    json_key(sb, "type", &f);
    tg_sb_adds(sb, "\"call\"}");
}

static void json_binary(tg_sb_t *sb, const struct tg_promql_node *n)
{
    static const char *const card[] = {"one-to-one", "many-to-one", "one-to-many", "many-to-many"};
    int f = 1;

    tg_sb_addc(sb, '{');
    json_key(sb, "bool", &f);
    tg_sb_adds(sb, n->u.binary.return_bool ? "true" : "false");
    json_key(sb, "lhs", &f);
    json_node(sb, n->u.binary.lhs);
    json_key(sb, "matching", &f);
    if (!n->u.binary.has_matching) {
        tg_sb_adds(sb, "null");
    } else {
        tg_sb_printf(sb, "{\"card\":\"%s\",\"fillValues\":{\"lhs\":", card[n->u.binary.card]);
        if (n->u.binary.has_fill_lhs)
            json_number(sb, n->u.binary.fill_lhs);
        else
            tg_sb_adds(sb, "null");
        tg_sb_adds(sb, ",\"rhs\":");
        if (n->u.binary.has_fill_rhs)
            json_number(sb, n->u.binary.fill_rhs);
        else
            tg_sb_adds(sb, "null");
        tg_sb_adds(sb, "},\"include\":");
        json_labels(sb, &n->u.binary.include);
        tg_sb_adds(sb, ",\"labels\":");
        json_labels(sb, &n->u.binary.matching);
        tg_sb_printf(sb, ",\"on\":%s}", n->u.binary.on ? "true" : "false");
    }
    json_key(sb, "op", &f);
    tg_sb_printf(sb, "\"%s\"", tg_promql_op_str(n->u.binary.op));
    json_key(sb, "rhs", &f);
    json_node(sb, n->u.binary.rhs);
    json_key(sb, "type", &f);
    tg_sb_adds(sb, "\"binaryExpr\"}");
}

static void json_node(tg_sb_t *sb, const struct tg_promql_node *n)
{
    int f = 1;

    if (n == NULL) {
        tg_sb_adds(sb, "null");
        return;
    }
    switch (n->kind) {
    case TG_PROMQL_AGGREGATE:
        tg_sb_addc(sb, '{');
        json_key(sb, "expr", &f);
        json_node(sb, n->u.agg.expr);
        json_key(sb, "grouping", &f);
        json_labels(sb, &n->u.agg.grouping);
        json_key(sb, "op", &f);
        tg_sb_printf(sb, "\"%s\"", tg_promql_op_str(n->u.agg.op));
        json_key(sb, "param", &f);
        json_node(sb, n->u.agg.param);
        tg_sb_printf(sb, ",\"type\":\"aggregation\",\"without\":%s}",
                     n->u.agg.without ? "true" : "false");
        return;
    case TG_PROMQL_BINARY: json_binary(sb, n); return;
    case TG_PROMQL_CALL: json_call(sb, n); return;
    case TG_PROMQL_MATRIX: json_selector(sb, n->u.matrix.vs, &n->u.matrix.range); return;
    case TG_PROMQL_VECTOR: json_selector(sb, n, NULL); return;
    case TG_PROMQL_SUBQUERY:
        tg_sb_addc(sb, '{');
        json_key(sb, "expr", &f);
        json_node(sb, n->u.subquery.expr);
        json_mods(sb, &n->u.subquery.mods, &f, 0);
        json_key(sb, "range", &f);
        tg_sb_printf(sb, "%lld", (long long)ns_to_ms(n->u.subquery.range.ns));
        json_key(sb, "rangeExpr", &f);
        json_dur(sb, n->u.subquery.range.expr);
        json_at(sb, &n->u.subquery.mods, &f);
        json_key(sb, "step", &f);
        tg_sb_printf(sb, "%lld", (long long)ns_to_ms(n->u.subquery.step.ns));
        json_key(sb, "stepExpr", &f);
        json_dur(sb, n->u.subquery.step.expr);
        json_key(sb, "type", &f);
        tg_sb_adds(sb, "\"subquery\"}");
        return;
    case TG_PROMQL_DURATION: json_dur(sb, n); return;
    case TG_PROMQL_NUMBER:
        tg_sb_adds(sb, "{\"type\":\"numberLiteral\",\"val\":");
        json_float_str(sb, n->u.num.val);
        tg_sb_addc(sb, '}');
        return;
    case TG_PROMQL_PAREN:
        tg_sb_adds(sb, "{\"expr\":");
        json_node(sb, n->u.paren.expr);
        tg_sb_adds(sb, ",\"type\":\"parenExpr\"}");
        return;
    case TG_PROMQL_STRING:
        tg_sb_adds(sb, "{\"type\":\"stringLiteral\",\"val\":");
        json_str(sb, n->u.str.val);
        tg_sb_addc(sb, '}');
        return;
    case TG_PROMQL_UNARY:
        tg_sb_adds(sb, "{\"expr\":");
        json_node(sb, n->u.unary.expr);
        tg_sb_printf(sb, ",\"op\":\"%s\",\"type\":\"unaryExpr\"}", tg_promql_op_str(n->u.unary.op));
        return;
    }
}

void tg_promql_ast_json(const struct tg_promql_node *root, tg_sb_t *out)
{
    json_node(out, root);
    finish(out);
}

/* ---- structural equality --------------------------------------------- */

static int labels_eq(const struct tg_promql_labels *a, const struct tg_promql_labels *b)
{
    size_t i;
    if (a->n != b->n)
        return 0;
    for (i = 0; i < a->n; i++)
        if (!tg_iov_eq(a->names[i], b->names[i]))
            return 0;
    return 1;
}

/* Duration trees compare modulo parentheses and unary plus. */
static const struct tg_promql_node *dur_skip(const struct tg_promql_node *n)
{
    while (n != NULL && n->kind == TG_PROMQL_DURATION && n->u.dur.op == TG_PROMQL_ADD &&
           n->u.dur.lhs == NULL)
        n = n->u.dur.rhs;
    return n;
}

static int num_eq(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static int dur_eq(const struct tg_promql_node *a, const struct tg_promql_node *b)
{
    a = dur_skip(a);
    b = dur_skip(b);
    if (a == NULL || b == NULL)
        return a == b;
    if (a->kind != b->kind)
        return 0;
    if (a->kind == TG_PROMQL_NUMBER)
        return num_eq(a->u.num.val, b->u.num.val);
    return a->u.dur.op == b->u.dur.op && dur_eq(a->u.dur.lhs, b->u.dur.lhs) &&
           dur_eq(a->u.dur.rhs, b->u.dur.rhs);
}

static int durv_eq(const struct tg_promql_dur *a, const struct tg_promql_dur *b)
{
    return a->ns == b->ns && dur_eq(a->expr, b->expr);
}

static int mods_eq(const struct tg_promql_mods *a, const struct tg_promql_mods *b)
{
    return durv_eq(&a->offset, &b->offset) && a->at == b->at &&
           (a->at != TG_PROMQL_AT_TIME || a->at_ms == b->at_ms) && a->anchored == b->anchored &&
           a->smoothed == b->smoothed;
}

/* i-th matcher of the effective list: matchers, then the name as __name__= */
static int nth_matcher(const struct tg_promql_node *vs, size_t i, struct tg_promql_matcher *out)
{
    const struct tg_promql_matcher *m = vs->u.vs.matchers;
    for (; m != NULL && i > 0; m = m->next, i--)
        ;
    if (m != NULL) {
        *out = *m;
        return 1;
    }
    if (i == 0 && vs->u.vs.name.len > 0) {
        out->name = TG_IOV_LIT("__name__");
        out->value = vs->u.vs.name;
        out->op = TG_PROMQL_EQ;
        return 1;
    }
    return 0;
}

static int vs_eq(const struct tg_promql_node *a, const struct tg_promql_node *b)
{
    struct tg_promql_matcher ma, mb;
    const struct tg_promql_matcher *x, *y;
    size_t i;

    if (!mods_eq(&a->u.vs.mods, &b->u.vs.mods))
        return 0;
    if (a->u.vs.n_matchers + (a->u.vs.name.len > 0) != b->u.vs.n_matchers + (b->u.vs.name.len > 0))
        return 0;
    if (tg_iov_eq(a->u.vs.name, b->u.vs.name) && a->u.vs.n_matchers == b->u.vs.n_matchers) {
        for (x = a->u.vs.matchers, y = b->u.vs.matchers; x != NULL; x = x->next, y = y->next)
            if (x->op != y->op || !tg_iov_eq(x->name, y->name) || !tg_iov_eq(x->value, y->value))
                return 0;
        return 1;
    }
    for (i = 0; nth_matcher(a, i, &ma); i++) {
        if (!nth_matcher(b, i, &mb) || ma.op != mb.op || !tg_iov_eq(ma.name, mb.name) ||
            !tg_iov_eq(ma.value, mb.value))
            return 0;
    }
    return 1;
}

int tg_promql_equal(const struct tg_promql_node *a, const struct tg_promql_node *b)
{
    const struct tg_promql_node *x, *y;

    if (a == NULL || b == NULL)
        return a == b;
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case TG_PROMQL_NUMBER:
        return num_eq(a->u.num.val, b->u.num.val) && a->u.num.duration == b->u.num.duration;
    case TG_PROMQL_STRING: return tg_iov_eq(a->u.str.val, b->u.str.val);
    case TG_PROMQL_VECTOR: return vs_eq(a, b);
    case TG_PROMQL_MATRIX:
        return durv_eq(&a->u.matrix.range, &b->u.matrix.range) &&
               vs_eq(a->u.matrix.vs, b->u.matrix.vs);
    case TG_PROMQL_SUBQUERY:
        return durv_eq(&a->u.subquery.range, &b->u.subquery.range) &&
               durv_eq(&a->u.subquery.step, &b->u.subquery.step) &&
               mods_eq(&a->u.subquery.mods, &b->u.subquery.mods) &&
               tg_promql_equal(a->u.subquery.expr, b->u.subquery.expr);
    case TG_PROMQL_PAREN: return tg_promql_equal(a->u.paren.expr, b->u.paren.expr);
    case TG_PROMQL_UNARY:
        return a->u.unary.op == b->u.unary.op && tg_promql_equal(a->u.unary.expr, b->u.unary.expr);
    case TG_PROMQL_BINARY:
        if (a->u.binary.op != b->u.binary.op ||
            a->u.binary.return_bool != b->u.binary.return_bool ||
            a->u.binary.has_matching != b->u.binary.has_matching)
            return 0;
        if (a->u.binary.has_matching &&
            (a->u.binary.card != b->u.binary.card || a->u.binary.on != b->u.binary.on ||
             !labels_eq(&a->u.binary.matching, &b->u.binary.matching) ||
             !labels_eq(&a->u.binary.include, &b->u.binary.include) ||
             a->u.binary.has_fill_lhs != b->u.binary.has_fill_lhs ||
             a->u.binary.has_fill_rhs != b->u.binary.has_fill_rhs ||
             (a->u.binary.has_fill_lhs && !num_eq(a->u.binary.fill_lhs, b->u.binary.fill_lhs)) ||
             (a->u.binary.has_fill_rhs && !num_eq(a->u.binary.fill_rhs, b->u.binary.fill_rhs))))
            return 0;
        return tg_promql_equal(a->u.binary.lhs, b->u.binary.lhs) &&
               tg_promql_equal(a->u.binary.rhs, b->u.binary.rhs);
    case TG_PROMQL_AGGREGATE:
        return a->u.agg.op == b->u.agg.op && a->u.agg.without == b->u.agg.without &&
               labels_eq(&a->u.agg.grouping, &b->u.agg.grouping) &&
               tg_promql_equal(a->u.agg.param, b->u.agg.param) &&
               tg_promql_equal(a->u.agg.expr, b->u.agg.expr);
    case TG_PROMQL_CALL:
        if (a->u.call.func != b->u.call.func || a->u.call.n_args != b->u.call.n_args)
            return 0;
        for (x = a->u.call.args, y = b->u.call.args; x != NULL && y != NULL;
             x = x->next, y = y->next)
            if (!tg_promql_equal(x, y))
                return 0;
        return x == y;
    case TG_PROMQL_DURATION: return dur_eq(a, b);
    }
    return 0;
}
