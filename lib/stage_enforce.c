/*
 * Stage 4, enforce: rewrite what the upstream will evaluate so that it can
 * only see the authorized tenants. Per route kind:
 *   query      every `query` parameter is parsed and each selector gets the
 *              tenant matcher (all copies must be identical: the upstream must
 *              never get to pick an unenforced one);
 *   match      every `match[]` selector is enforced; none given means
 *              {label="tenant"};
 *   rules, alerts  nothing to rewrite: the response is filtered instead;
 *   Alertmanager   lib/stage_enforce_am.c.
 * The upstream request is rebuilt from scratch out of the enforced values and
 * the harmless parameters (body ones first, as Go's ParseForm orders them);
 * the tenant parameter is dropped.
 * With a limits: section the same parse also measures what the query reads
 * (and keeps its canonical spelling for the blocked queries), for the limit
 * stage: nothing is parsed twice.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tenantgate/core.h"
#include "tenantgate/log.h"
#include "tenantgate/promql.h"
#include "tenantgate/req.h"
#include "tenantgate/stages.h"

static void promql_opts(const struct tg_config *cfg, struct tg_promql_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->duration_expr = cfg->promql_duration_expr;
    o->experimental_functions = cfg->promql_experimental_functions;
    o->extended_range = cfg->promql_extended_range_selectors;
    o->binop_fill = cfg->promql_binop_fill_modifiers;
    o->max_len = cfg->max_query_bytes;
    o->max_depth = cfg->max_query_depth;
}

static void enforcement(const struct tg_req *r, struct tg_promql_enforce *e)
{
    memset(e, 0, sizeof(*e));
    e->label = tg_iov_str(r->cfg->label);
    e->values = r->tenants;
    e->n_values = r->n_tenants;
    e->error_on_replace = r->cfg->error_on_replace;
    e->allow_info = r->cfg->allow_info_function;
}

void tg_enforce_add_param(struct tg_req *r, tg_iovec_t name, tg_iovec_t value)
{
    if (r->up_args.len > 0)
        tg_sb_addc(&r->up_args, '&');
    tg_sb_add_urlencoded(&r->up_args, name);
    tg_sb_addc(&r->up_args, '=');
    tg_sb_add_urlencoded(&r->up_args, value);
}

/* Parameters never copied as they came: the PromQL ones, enforced where the
 * route uses them and dropped where it does not (an upstream that reads them
 * anyway, now or in a later version, must never get one unenforced), and
 * metadata's limit, which upstream would apply before our filter. */
static int is_enforced_name(const struct tg_req *r, tg_iovec_t name)
{
    if (tg_iov_eq_str(name, "query") || tg_iov_eq_str(name, "match[]"))
        return 1;
    return r->route->kind == TG_ROUTE_METADATA && tg_iov_eq_str(name, "limit");
}

/* Copy every parameter we do not rewrite, body ones first. */
static void copy_plain_params(struct tg_req *r)
{
    int pass;
    size_t i;
    for (pass = 1; pass >= 0; pass--)
        for (i = 0; i < r->params.n; i++) {
            const struct tg_param *p = &r->params.items[i];
            if (p->from_body != pass || is_enforced_name(r, p->name) ||
                (!r->cfg->header_name && tg_iov_eq_str(p->name, r->cfg->query_param)))
                continue;
            tg_enforce_add_param(r, p->name, p->value);
        }
}

/* ---- query times, for the limits' window guards ---- */

/* r.FormValue(name) of Go: body parameters come first. */
static const struct tg_param *form_value(const struct tg_req *r, const char *name)
{
    const struct tg_param *url = NULL;
    size_t i;
    for (i = 0; i < r->params.n; i++) {
        const struct tg_param *p = &r->params.items[i];
        if (!tg_iov_eq_str(p->name, name))
            continue;
        if (p->from_body)
            return p;
        if (url == NULL)
            url = p;
    }
    return url;
}

/* Prometheus' parseTimeParam: absent = `deflt`, else a time or a 400. */
static enum tg_verdict time_param(struct tg_req *r, const char *name, int64_t deflt, int64_t *ms)
{
    const struct tg_param *p = form_value(r, name);
    if (p == NULL) {
        *ms = deflt;
        return TG_NEXT;
    }
    if (tg_http_parse_time(p->value, ms) != 0)
        return tg_req_error(r, 400, "bad_data",
                            "invalid parameter \"%s\": cannot parse \"%.*s\" to a valid timestamp",
                            name, TG_IOV_FMT(p->value));
    return TG_NEXT;
}

/* step: float seconds or a duration; a bad one is the upstream's to refuse
 * (it evaluates nothing then), here it counts as 0. */
static int64_t step_param(const struct tg_req *r)
{
    const struct tg_param *p = form_value(r, "step");
    int64_t ns;
    char *end;
    double s;

    if (p == NULL || p->value.len == 0)
        return 0;
    s = strtod(p->value.base, &end); /* values are NUL-terminated arena copies */
    if (end == p->value.base + p->value.len && isfinite(s) && s > 0 && s < 1e12)
        return (int64_t)(s * 1000.0);
    return tg_promql_parse_duration(p->value, &ns) == 0 ? ns / 1000000 : 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* When the request's query is evaluated, as Prometheus' API reads it:
 * query at `time` (now), query_range over [start, end], exemplars and the
 * match[] APIs over [start, end] with all time as the default, federate at now. */
static enum tg_verdict query_times(struct tg_req *r, struct tg_promql_times *t)
{
    const char *name = r->route->name;
    int64_t now = r->now_ms;
    enum tg_verdict v;

    memset(t, 0, sizeof(*t));
    t->lookback_delta_ms = r->cfg->limits->lookback_delta_ms;
    if (r->route->kind == TG_ROUTE_FEDERATE) { /* always evaluated at now */
        t->start_ms = t->end_ms = now;
        return TG_NEXT;
    }
    if (strcmp(name, "query") == 0) {
        v = time_param(r, "time", now, &t->start_ms);
        t->end_ms = t->start_ms;
        return v;
    }
    if (strcmp(name, "query_range") == 0) {
        if ((v = time_param(r, "start", 0, &t->start_ms)) != TG_NEXT ||
            (v = time_param(r, "end", 0, &t->end_ms)) != TG_NEXT)
            return v;
        if (form_value(r, "start") == NULL || form_value(r, "end") == NULL)
            return tg_req_error(r, 400, "bad_data",
                                "invalid parameter \"%s\": cannot parse \"\" "
                                "to a valid timestamp",
                                form_value(r, "start") ? "end" : "start");
        t->step_ms = step_param(r);
    } else if ((v = time_param(r, "start", INT64_MIN, &t->start_ms)) != TG_NEXT ||
               (v = time_param(r, "end", INT64_MAX, &t->end_ms)) != TG_NEXT) {
        return v;
    }
    if (t->end_ms < t->start_ms)
        return tg_req_error(r, 400, "bad_data", "end timestamp must not be before start time");
    return TG_NEXT;
}

/* match[] routes read their series over [start, end] (federate: the lookback
 * delta before now), whatever the selectors. */
static void match_window(struct tg_req *r, const struct tg_promql_times *t)
{
    r->have_window = 1;
    r->window.selectors = 1;
    if (r->route->kind == TG_ROUTE_FEDERATE) {
        r->window.length_ms = 0;
        r->window.earliest_ms = t->start_ms - t->lookback_delta_ms;
        return;
    }
    r->window.earliest_ms = t->start_ms;
    r->window.length_ms =
        t->end_ms == INT64_MAX || t->start_ms == INT64_MIN ? INT64_MAX : t->end_ms - t->start_ms;
}

static enum tg_verdict enforce_query(struct tg_req *r, const struct tg_promql_opts *o,
                                     const struct tg_promql_enforce *e)
{
    const struct tg_param *first = NULL;
    const struct tg_limits_config *lc = r->cfg->limits;
    struct tg_promql_inspect in, *inp = NULL;
    struct tg_promql_times t;
    struct tg_promql_error err;
    tg_iovec_t out;
    size_t i;

    for (i = 0; i < r->params.n; i++) {
        const struct tg_param *p = &r->params.items[i];
        if (!tg_iov_eq_str(p->name, "query"))
            continue;
        if (first != NULL && !tg_iov_eq(first->value, p->value))
            return tg_req_error(r, 400, "bad_data", "conflicting values of the query parameter");
        first = p;
    }
    if (first == NULL)
        return tg_req_error(r, 400, "bad_data", "missing query parameter");
    if (lc != NULL && (lc->windows || lc->n_blocked > 0)) {
        memset(&in, 0, sizeof(in));
        if (lc->windows) {
            enum tg_verdict v = query_times(r, &t);
            if (v != TG_NEXT)
                return v;
            in.times = &t;
        }
        in.want_text = lc->n_blocked > 0;
        inp = &in;
    }
    if (tg_promql_enforce_query_ex(&r->arena, first->value, o, e, inp, &out, &err) != 0)
        return tg_req_error(r, 400, "bad_data", "%s", err.msg);
    if (inp != NULL) {
        r->have_window = in.times != NULL;
        r->window = in.window;
        r->query_text = in.text;
    }
    r->query = first->value;
    tg_enforce_add_param(r, TG_IOV_LIT("query"), out);
    return TG_NEXT;
}

static int seen_before(const struct tg_req *r, size_t upto, tg_iovec_t v)
{
    size_t i;
    for (i = 0; i < upto; i++)
        if (tg_iov_eq_str(r->params.items[i].name, "match[]") &&
            tg_iov_eq(r->params.items[i].value, v))
            return 1;
    return 0;
}

static enum tg_verdict enforce_matchers(struct tg_req *r, const struct tg_promql_opts *o,
                                        const struct tg_promql_enforce *e)
{
    struct tg_promql_error err;
    tg_iovec_t out;
    size_t i, n = 0;

    for (i = 0; i < r->params.n; i++) {
        const struct tg_param *p = &r->params.items[i];
        if (!tg_iov_eq_str(p->name, "match[]") || seen_before(r, i, p->value))
            continue;
        if (tg_promql_enforce_selector(&r->arena, p->value, o, e, &out, &err) != 0)
            return tg_req_error(r, 400, "bad_data", "match[]: %s", err.msg);
        tg_enforce_add_param(r, TG_IOV_LIT("match[]"), out);
        n++;
    }
    if (n == 0) {
        if (tg_promql_tenant_selector(&r->arena, e, &out, &err) != 0)
            return tg_req_error(r, 400, "bad_data", "%s", err.msg);
        tg_enforce_add_param(r, TG_IOV_LIT("match[]"), out);
    }
    if (r->cfg->limits != NULL && r->cfg->limits->windows) {
        struct tg_promql_times t;
        enum tg_verdict v = query_times(r, &t);
        if (v != TG_NEXT)
            return v;
        match_window(r, &t);
    }
    return TG_NEXT;
}

enum tg_verdict tg_stage_enforce(struct tg_req *r)
{
    struct tg_promql_opts o;
    struct tg_promql_enforce e;
    struct tg_promql_error err;
    enum tg_verdict v = TG_NEXT;

    /* authz ran: an endpoint of a tenant has its tenant values */
    TG_CHECK(r->authenticated && (r->n_tenants > 0 || !r->route->needs_tenant));
    promql_opts(r->cfg, &o);
    enforcement(r, &e);
    if (r->cfg->limits != NULL)
        r->now_ms = wall_ms();
    tg_sb_init(&r->up_args, &r->arena, 256);
    r->up_post = r->method == TG_M_POST;
    r->filter = r->route->kind;
    if (r->api == TG_API_ALERTMANAGER) {
        v = tg_enforce_alertmanager(r, &e);
        r->enforced = v == TG_NEXT;
        return v;
    }
    switch (r->route->kind) {
    case TG_ROUTE_QUERY: v = enforce_query(r, &o, &e); break;
    case TG_ROUTE_MATCH:
    case TG_ROUTE_FEDERATE: v = enforce_matchers(r, &o, &e); break;
    case TG_ROUTE_LOCAL: return tg_local_answer(r, &o);
    case TG_ROUTE_METADATA:
        /* the upstream stage first asks which names the tenant has */
        if (tg_promql_tenant_selector(&r->arena, &e, &r->tenant_selector, &err) != 0)
            return tg_req_error(r, 400, "bad_data", "%s", err.msg);
        break;
    case TG_ROUTE_RULES:
    case TG_ROUTE_ALERTS:
    case TG_ROUTE_PASS: break;
    default: TG_CHECK(0 && "the Alertmanager routes went above"); return TG_DONE;
    }
    if (v != TG_NEXT)
        return v;
    copy_plain_params(r);
    r->enforced = 1;
    return TG_NEXT;
}
