/*
 * Query window analysis: which stretch of time each vector selector of a
 * parsed query reads, for the per-tenant query guards (maxQueryLength,
 * maxLookback). See tg_promql_window() in include/tenantgate/promql.h.
 *
 * The walk carries the evaluation times of the node it is at as one
 * interval of absolute milliseconds, its first time `lo` and its `span`: the
 * query's start and end - start at the root. An `@` makes it one instant
 * (start(), end() or the time written), an offset shifts it back, a subquery
 * of range R widens it by R to the left for its inner expression (the
 * subquery's steps all lie in there). At a selector, a range R reads from
 * lo - R over span + R; an instant selector reads from lo - lookback delta.
 * Length and earliest time are kept apart so that one saturating never
 * distorts the other. So `rate(up[2d])` inside `[6d:1h]` of an
 * instant query reads 8 days, and an `@` inside a range query pins its
 * selector whatever the query's range. Arithmetic saturates: a query whose
 * figures overflow reads "everything" and is refused by any limit.
 */
#include "promql-int.h"

#include <math.h>

struct pq_win {
    const struct tg_promql_times *t;
    struct tg_promql_window *w;
};

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b > 0 ? INT64_MIN : INT64_MAX;
    return r;
}

/* Milliseconds of `ns`, rounded up (towards "reads more"). */
static int64_t ns_to_ms(int64_t ns)
{
    return ns / 1000000 + (ns % 1000000 > 0);
}

/* Seconds (a duration expression's value) to milliseconds, saturated; NaN
 * reads as the longest duration. */
static int64_t secs_to_ms(double s)
{
    double ms = ceil(s * 1000.0);
    if (isnan(ms) || ms >= 9223372036854775807.0)
        return INT64_MAX;
    if (ms <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)ms;
}

/* Value in seconds of a duration expression (TG_PROMQL_DURATION/NUMBER), as
 * Prometheus evaluates it: float64 seconds, step() and range() of the query. */
static double dur_eval(const struct tg_promql_node *n, const struct tg_promql_times *t)
{
    double l, r;

    if (n->kind == TG_PROMQL_NUMBER)
        return n->u.num.val;
    if (n->kind != TG_PROMQL_DURATION)
        return NAN;
    switch (n->u.dur.op) {
    case TG_PROMQL_STEP: return (double)t->step_ms / 1000.0;
    case TG_PROMQL_RANGE: return ((double)t->end_ms - (double)t->start_ms) / 1000.0;
    default: break;
    }
    l = n->u.dur.lhs ? dur_eval(n->u.dur.lhs, t) : 0.0;
    r = dur_eval(n->u.dur.rhs, t);
    switch (n->u.dur.op) {
    case TG_PROMQL_ADD: return l + r;
    case TG_PROMQL_SUB: return l - r;
    case TG_PROMQL_MUL: return l * r;
    case TG_PROMQL_DIV: return l / r;
    case TG_PROMQL_MOD: return fmod(l, r);
    case TG_PROMQL_POW: return pow(l, r);
    case TG_PROMQL_MIN_OF: return isnan(l) || isnan(r) ? NAN : fmin(l, r);
    case TG_PROMQL_MAX_OF: return isnan(l) || isnan(r) ? NAN : fmax(l, r);
    default: return NAN;
    }
}

/* A range, step or offset in milliseconds (rounded up). */
static int64_t dur_ms(const struct tg_promql_dur *d, const struct tg_promql_times *t)
{
    return d->expr != NULL ? secs_to_ms(dur_eval(d->expr, t)) : ns_to_ms(d->ns);
}

/* A range: what Prometheus would refuse (<= 0) reads nothing more. */
static int64_t range_ms(const struct tg_promql_dur *d, const struct tg_promql_times *t)
{
    int64_t ms = dur_ms(d, t);
    return ms > 0 ? ms : 0;
}

/* Evaluation times: the first one and how far the last is after it. */
struct pq_times {
    int64_t lo, span;
};

/* Evaluation times of the node carrying `m`, from those of its parent. */
static struct pq_times apply_mods(const struct pq_win *c, const struct tg_promql_mods *m,
                                  struct pq_times e)
{
    switch (m->at) {
    case TG_PROMQL_AT_START: e.lo = c->t->start_ms, e.span = 0; break;
    case TG_PROMQL_AT_END: e.lo = c->t->end_ms, e.span = 0; break;
    case TG_PROMQL_AT_TIME: e.lo = m->at_ms, e.span = 0; break;
    case TG_PROMQL_AT_NONE: break;
    }
    if (m->offset.ns != 0 || m->offset.expr != NULL)
        e.lo = sat_sub(e.lo, dur_ms(&m->offset, c->t));
    return e;
}

/* A selector evaluated at `e` reading `range` before each time (lookback:
 * the lookback delta before the earliest one, not counted in its length). */
static void selector(const struct pq_win *c, const struct tg_promql_mods *m, int64_t range,
                     int lookback, struct pq_times e)
{
    struct tg_promql_window *w = c->w;
    int64_t from, len;

    e = apply_mods(c, m, e);
    from = sat_sub(e.lo, range);
    len = sat_add(e.span, range);
    if (lookback)
        from = sat_sub(from, c->t->lookback_delta_ms);
    if (w->selectors == 0 || len > w->length_ms)
        w->length_ms = len;
    if (w->selectors == 0 || from < w->earliest_ms)
        w->earliest_ms = from;
    w->selectors++;
}

static void walk(const struct pq_win *c, const struct tg_promql_node *n, struct pq_times e)
{
    const struct tg_promql_node *a;
    const struct tg_promql_mods *m;
    int64_t range;

    switch (n->kind) {
    case TG_PROMQL_VECTOR: selector(c, &n->u.vs.mods, 0, 1, e); return;
    case TG_PROMQL_MATRIX:
        m = &n->u.matrix.vs->u.vs.mods;
        /* anchored/smoothed also take the last sample before the range */
        selector(c, m, range_ms(&n->u.matrix.range, c->t), m->anchored || m->smoothed, e);
        return;
    case TG_PROMQL_SUBQUERY:
        e = apply_mods(c, &n->u.subquery.mods, e);
        range = range_ms(&n->u.subquery.range, c->t);
        e.lo = sat_sub(e.lo, range);
        e.span = sat_add(e.span, range);
        walk(c, n->u.subquery.expr, e);
        return;
    case TG_PROMQL_PAREN: walk(c, n->u.paren.expr, e); return;
    case TG_PROMQL_UNARY: walk(c, n->u.unary.expr, e); return;
    case TG_PROMQL_BINARY:
        walk(c, n->u.binary.lhs, e);
        walk(c, n->u.binary.rhs, e);
        return;
    case TG_PROMQL_AGGREGATE:
        if (n->u.agg.param != NULL)
            walk(c, n->u.agg.param, e);
        walk(c, n->u.agg.expr, e);
        return;
    case TG_PROMQL_CALL:
        for (a = n->u.call.args; a != NULL; a = a->next)
            walk(c, a, e);
        return;
    case TG_PROMQL_NUMBER:
    case TG_PROMQL_STRING:
    case TG_PROMQL_DURATION: return;
    }
}

void tg_promql_window(const struct tg_promql_node *root, const struct tg_promql_times *t,
                      struct tg_promql_window *w)
{
    struct pq_win c = {t, w};
    struct pq_times e = {t->start_ms, sat_sub(t->end_ms, t->start_ms)};

    memset(w, 0, sizeof(*w));
    walk(&c, root, e);
}
