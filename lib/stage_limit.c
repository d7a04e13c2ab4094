/*
 * Stage 5, limit: per-tenant limits between enforcement and the upstream
 * (include/tenantgate/limits.h). Without a limits: section it does nothing.
 * In order, cheapest first, each refusal naming the limit and the tenant:
 *   blockedQueries   the query as written or printed contains a pattern: 422
 *   maxQueryLength   a selector reads a longer stretch than allowed: 422
 *   maxLookback      a selector reads further back from now: 422
 *   rate             no token in the tenant's bucket: 429 + Retry-After
 *   maxInflight      no free slot: wait in the tenant's FIFO queue, holding
 *                    no upstream connection; queue full (maxQueued): 429 +
 *                    Retry-After; waited queueTimeout: 429 + Retry-After;
 *                    SIGTERM: 503.
 * A request for several tenant values counts against each (limits.h says how
 * waiting works then). Its slots are given back in tg_req_end, the one place
 * every request ends (tg_stage_limit_end), so no path can keep one.
 *
 * 422 (Prometheus' status for a query it cannot execute) rather than 400:
 * Grafana retries a POST that got 400 as a GET, which would only repeat the
 * refusal, and shows a 422's "error" text on the panel. A 429's body Grafana
 * does not read (it shows "client error: 429"); the limit is on /metrics and
 * in the access log (README "Protecting the querier").
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "tenantgate/core.h"
#include "tenantgate/limits.h"
#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/server.h"
#include "tenantgate/stages.h"

/* A request's state here; in its arena, reached through r->limit->arg. */
struct lwait {
    struct tg_req *r;
    const char **labels;                /* metrics label per tenant value */
    const struct tg_limit_values *vals; /* limits per tenant value, from r->cfg */
    struct event *timer;                /* queueTimeout, then the deferred resume after a grant */
    int granted;                        /* the limiter gave it its slots while it was queued */
    uint64_t queued_ns;
};

static struct tg_limits *limiter(const struct tg_req *r)
{
    return r->srv->limiter;
}

/* "8d", "7d1m", "1h30m", "300ms", as limits are written (days at most: a
 * limit of 7d reads 7d, not 1w); a figure that saturated: "all time". */
static const char *dur_text(struct tg_req *r, int64_t ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    tg_sb_t sb;
    size_t i;

    if (ms == INT64_MAX || ms == INT64_MIN)
        return "all time";
    tg_sb_init(&sb, &r->arena, 24);
    if (ms < 0) {
        tg_sb_addc(&sb, '-');
        ms = -ms;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (ms >= units[i].ms) {
            tg_sb_add_u64(&sb, (unsigned long long)(ms / units[i].ms), 1);
            tg_sb_adds(&sb, units[i].unit);
            ms %= units[i].ms;
        }
    return sb.len ? tg_sb_cstr(&sb) : "0s";
}

static void retry_after(struct tg_req *r, double seconds)
{
    char v[24];
    double s = ceil(seconds);
    snprintf(v, sizeof(v), "%d", s < 1 ? 1 : s > 3600 ? 3600 : (int)s);
    tg_req_add_header(r, "Retry-After", v);
}

static enum tg_verdict refuse(struct tg_req *r, const struct lwait *w, size_t i, const char *limit,
                              int status, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Answer with the refusal of `limit` by tenant value i. */
static enum tg_verdict refuse(struct tg_req *r, const struct lwait *w, size_t i, const char *limit,
                              int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->limit_refused = limit;
    tg_server_tenant_rejected(r->srv, w->labels[i], limit);
    return tg_req_error(r, status,
                        status == 429   ? "too_many_requests"
                        : status == 503 ? "unavailable"
                                        : "execution",
                        "%s", msg);
}

/* ---- the query guards ---- */

static enum tg_verdict check_query(struct tg_req *r, const struct tg_limits_config *lc,
                                   const struct tg_limit_values *vals, const struct lwait *w)
{
    const struct tg_blocked_query *b;
    int64_t back;
    size_t i;

    if (r->query.len > 0 && (b = tg_limits_blocked(lc, r->query, r->query_text)) != NULL)
        return refuse(r, w, 0, "blockedQueries", 422,
                      "query blocked%s%s: it contains %s\"%s\" (tenantgate limits.blockedQueries)",
                      b->reason ? ": " : "", b->reason ? b->reason : "",
                      b->regex ? "a match of " : "", b->pattern);
    if (!r->have_window || r->window.selectors == 0)
        return TG_NEXT;
    if (__builtin_sub_overflow(r->now_ms, r->window.earliest_ms, &back))
        back = INT64_MAX; /* from the beginning of time */
    for (i = 0; i < r->n_tenants; i++) {
        const struct tg_limit_values *v = &vals[i];
        if (v->max_query_length_ms > 0 && r->window.length_ms > v->max_query_length_ms)
            return refuse(r, w, i, "maxQueryLength", 422,
                          "query reads %s, limit for %.*s is %s (tenantgate limits.maxQueryLength)",
                          dur_text(r, r->window.length_ms), TG_IOV_FMT(r->tenants[i]),
                          dur_text(r, v->max_query_length_ms));
        if (v->max_lookback_ms > 0 && back > v->max_lookback_ms)
            return refuse(r, w, i, "maxLookback", 422,
                          "query reads %s back from now, limit for %.*s is %s (tenantgate "
                          "limits.maxLookback)",
                          dur_text(r, back), TG_IOV_FMT(r->tenants[i]),
                          dur_text(r, v->max_lookback_ms));
    }
    return TG_NEXT;
}

/* ---- slots ---- */

/* Give the ticket back and move the gauges with what it held. */
static void leave(struct tg_req *r, struct lwait *w)
{
    enum tg_limit_state was = tg_limits_leave(limiter(r), r->limit, tg_now_ns());
    size_t i;

    for (i = 0; i < r->n_tenants; i++)
        tg_server_tenant_gauges(r->srv, w->labels[i], was == TG_TICKET_HOLDING ? -1 : 0,
                                was == TG_TICKET_QUEUED ? -1 : 0);
}

static void observe_wait(struct tg_req *r, const struct lwait *w, double seconds)
{
    size_t i;
    for (i = 0; i < r->n_tenants; i++)
        tg_server_tenant_waited(r->srv, w->labels[i], seconds);
}

/* The limiter granted a queued ticket: move it from queued to in flight and
 * resume its request from the event loop (never from inside the limiter). */
static void on_grant(struct tg_limit_ticket *tk, void *arg)
{
    static const struct timeval now = {0, 0};
    struct lwait *w = arg;
    struct tg_req *r = w->r;
    size_t i;

    for (i = 0; i < r->n_tenants; i++)
        tg_server_tenant_gauges(r->srv, w->labels[i], 1, -1);
    observe_wait(r, w, (double)(tg_now_ns() - w->queued_ns) / 1e9);
    w->granted = 1;
    evtimer_add(w->timer, &now);
}

/* The value a queued request still waits for (its first full one), for the
 * timeout message. */
static size_t waiting_on(const struct tg_req *r, const struct lwait *w)
{
    struct tg_limit_tenant_stats s;
    size_t i;
    for (i = 0; i < r->n_tenants; i++) {
        tg_limits_stats(limiter(r), r->tenants[i], tg_now_ns(), &s);
        if (w->vals[i].max_inflight > 0 && s.inflight >= w->vals[i].max_inflight)
            return i;
    }
    return 0;
}

static void timer_dispose(void *ev)
{
    event_del(ev);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct lwait *w = arg;
    struct tg_req *r = w->r;
    const struct tg_limit_values *v;
    double wait;
    size_t i;

    if (w->granted) {
        tg_req_resume(r, TG_NEXT);
        return;
    }
    wait = tg_limits_wait_estimate(limiter(r), r->limit);
    i = waiting_on(r, w);
    v = &w->vals[i];
    observe_wait(r, w, (double)(tg_now_ns() - w->queued_ns) / 1e9);
    leave(r, w);
    retry_after(r, wait);
    refuse(r, w, i, "queueTimeout", 429,
           "waited %s for one of the %d request slots of %.*s (tenantgate limits.queueTimeout)",
           dur_text(r, v->queue_timeout_ms), v->max_inflight, TG_IOV_FMT(r->tenants[i]));
    tg_req_resume(r, TG_DONE);
}

/* The client went away while queued: tg_req_end gives the place back. */
static void on_cancel(struct tg_req *r, void *arg)
{
    struct lwait *w = arg;
    event_del(w->timer);
}

static enum tg_verdict queue(struct tg_req *r, struct lwait *w, const struct tg_limit_values *vals)
{
    int64_t timeout = vals[0].queue_timeout_ms;
    struct timeval tv;
    size_t i;

    for (i = 0; i < r->n_tenants; i++) {
        tg_server_tenant_gauges(r->srv, w->labels[i], 0, 1);
        if (vals[i].queue_timeout_ms < timeout)
            timeout = vals[i].queue_timeout_ms;
    }
    if (r->srv->draining) { /* SIGTERM came while this one was on its way */
        leave(r, w);
        return refuse(r, w, 0, "shutdown", 503, "shutting down");
    }
    w->queued_ns = tg_now_ns();
    w->timer = tg_arena_alloc(&r->arena, event_get_struct_event_size());
    evtimer_assign(w->timer, r->srv->base, on_timer, w);
    tg_arena_defer(&r->arena, timer_dispose, w->timer); /* its memory is the arena's */
    tv.tv_sec = (time_t)(timeout / 1000);
    tv.tv_usec = (suseconds_t)(timeout % 1000) * 1000;
    evtimer_add(w->timer, &tv);
    tg_req_on_cancel(r, on_cancel, w);
    return TG_WAIT;
}

static enum tg_verdict admit(struct tg_req *r, struct lwait *w, const struct tg_limit_values *vals)
{
    struct tg_limit_ticket *tk = tg_arena_calloc(&r->arena, TG_LIMIT_TICKET_SIZE(r->n_tenants));
    struct tg_limit_refusal why;
    struct tg_limit_tenant_stats s;
    size_t i;

    tk->on_grant = on_grant;
    tk->arg = w;
    switch (tg_limits_admit(limiter(r), tk, r->tenants, vals, r->n_tenants, tg_now_ns(), &why)) {
    case TG_LIMIT_GRANTED:
        r->limit = tk;
        for (i = 0; i < r->n_tenants; i++)
            tg_server_tenant_gauges(r->srv, w->labels[i], 1, 0);
        observe_wait(r, w, 0);
        return TG_NEXT;
    case TG_LIMIT_QUEUED: r->limit = tk; return queue(r, w, vals);
    case TG_LIMIT_RATE:
        i = why.index;
        retry_after(r, why.retry_after_s);
        return refuse(r, w, i, "rate", 429,
                      "too many requests for %.*s: more than %g per second, burst %d "
                      "(tenantgate limits.rate)",
                      TG_IOV_FMT(r->tenants[i]), vals[i].rate, vals[i].burst);
    case TG_LIMIT_QUEUE_FULL: break;
    }
    i = why.index;
    tg_limits_stats(limiter(r), r->tenants[i], tg_now_ns(), &s);
    retry_after(r, why.retry_after_s);
    return refuse(r, w, i, "maxQueued", 429,
                  "too many requests for %.*s: %d in flight, %d waiting (tenantgate "
                  "limits.maxInflight %d, limits.maxQueued %d)",
                  TG_IOV_FMT(r->tenants[i]), s.inflight, s.queued, vals[i].max_inflight,
                  vals[i].max_queued);
}

enum tg_verdict tg_stage_limit(struct tg_req *r)
{
    const struct tg_limits_config *lc = r->cfg->limits;
    struct tg_limit_values *vals;
    struct lwait *w;
    enum tg_verdict v;
    size_t i;

    TG_CHECK(r->enforced);
    if (lc == NULL || r->n_tenants == 0)
        return TG_NEXT;
    vals = tg_arena_alloc(&r->arena, r->n_tenants * sizeof(*vals));
    w = tg_arena_calloc(&r->arena, sizeof(*w));
    w->r = r;
    w->vals = vals;
    w->labels = tg_arena_alloc(&r->arena, r->n_tenants * sizeof(*w->labels));
    for (i = 0; i < r->n_tenants; i++) {
        tg_limits_for(lc, r->tenants[i], &vals[i]);
        w->labels[i] = tg_server_tenant_label(r->srv, r->tenants[i], lc->metrics_max_tenants);
    }
    if ((v = check_query(r, lc, vals, w)) != TG_NEXT)
        return v;
    return admit(r, w, vals);
}

void tg_stage_limit_end(struct tg_req *r)
{
    struct lwait *w;

    if (r->limit == NULL)
        return;
    w = r->limit->arg;
    leave(r, w);
}

static void drain_one(struct tg_limit_ticket *tk, void *arg)
{
    struct lwait *w = tk->arg;
    struct tg_req *r = w->r;

    event_del(w->timer);
    leave(r, w);
    tg_req_add_header(r, "Connection", "close");
    refuse(r, w, 0, "shutdown", 503, "shutting down: the request was still waiting for a slot");
    tg_req_resume(r, TG_DONE);
}

void tg_stage_limit_drain(struct tg_server *srv)
{
    tg_limits_drain(srv->limiter, drain_one, NULL);
}
