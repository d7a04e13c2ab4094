/*
 * The server's /metrics: request counters and latency by route and code,
 * upstream errors, in-flight requests, open connections, build info, and the
 * Kubernetes decision cache counters when the cache exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/core.h"
#include "tenantgate/authcache.h"
#include "tenantgate/metrics.h"
#include "tenantgate/oidc.h"
#include "tenantgate/req.h"
#include "tenantgate/server.h"

/* Per-tenant families (limits:): label values are the first
 * limits.metricsMaxTenants tenant values seen, then "other". */
struct tenant_metrics {
    struct tg_metric_family *requests, *inflight, *queued, *rejected, *queue_wait;
    char **names; /* open addressing, power-of-two size; admitted tenant values */
    size_t size, n;
};

struct tg_server_metrics {
    struct tg_metrics *reg;
    struct tg_std_metrics std;
    /* OIDC (lib/auth/oidc.c counts, we mirror) */
    struct tg_metric_family *oidc_fetches;    /* counter {issuer,result} */
    struct tg_metric_family *oidc_tokens;     /* counter {result} */
    struct tg_metric_family *oidc_cache_hits; /* counter */
    struct tg_metric_family *oidc_keys;       /* gauge {issuer} */
    struct tenant_metrics tenant;
};

static void register_oidc(struct tg_server_metrics *m)
{
    static const char *const issuer_result[] = {"issuer", "result"}, *const result[] = {"result"},
                             *const issuer[] = {"issuer"};
    m->oidc_fetches =
        tg_metrics_register(m->reg, "tenantgate_oidc_jwks_fetches_total",
                            "Key fetches of OIDC issuers (discovery + JWKS) by result: ok, error.",
                            TG_METRIC_COUNTER, issuer_result, 2, NULL, 0);
    m->oidc_tokens = tg_metrics_register(
        m->reg, "tenantgate_oidc_tokens_total",
        "OIDC ID tokens verified, by result: accepted, refused, unavailable (the issuer's key is "
        "not known); cache hits are not counted here.",
        TG_METRIC_COUNTER, result, 1, NULL, 0);
    m->oidc_cache_hits = tg_metrics_register(m->reg, "tenantgate_oidc_cache_hits_total",
                                             "OIDC verdicts served from the verdict cache.",
                                             TG_METRIC_COUNTER, NULL, 0, NULL, 0);
    m->oidc_keys = tg_metrics_register(m->reg, "tenantgate_oidc_signing_keys",
                                       "Signing keys known per OIDC issuer (0: its tokens are "
                                       "refused).",
                                       TG_METRIC_GAUGE, issuer, 1, NULL, 0);
}

/* Families the label set bounds (tenants x codes or reasons): the
 * registry's own cap is only a safety net there. */
#define TENANT_FAMILY_MAX_CHILDREN 2000000

static void register_tenant_families(struct tg_metrics *reg, struct tenant_metrics *t)
{
    static const double wait_buckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5,
                                          1,     2.5,   5,    10,   30,  60};
    static const char *const tenant[] = {"tenant"}, *const tenant_code[] = {"tenant", "code"},
                             *const tenant_reason[] = {"tenant", "reason"};

    t->requests = tg_metrics_register(
        reg, "tenantgate_tenant_requests_total",
        "Requests of each tenant value (limits: section set), by HTTP status code.",
        TG_METRIC_COUNTER, tenant_code, 2, NULL, 0);
    t->inflight = tg_metrics_register(reg, "tenantgate_tenant_inflight",
                                      "Upstream requests in flight, by tenant value.",
                                      TG_METRIC_GAUGE, tenant, 1, NULL, 0);
    t->queued =
        tg_metrics_register(reg, "tenantgate_tenant_queued",
                            "Requests waiting for a slot (limits.maxInflight), by tenant value.",
                            TG_METRIC_GAUGE, tenant, 1, NULL, 0);
    t->rejected = tg_metrics_register(
        reg, "tenantgate_tenant_rejected_total",
        "Requests refused by a limit, by tenant value and limit (rate, maxQueued, queueTimeout, "
        "maxQueryLength, maxLookback, blockedQueries, shutdown).",
        TG_METRIC_COUNTER, tenant_reason, 2, NULL, 0);
    t->queue_wait = tg_metrics_register(
        reg, "tenantgate_tenant_queue_wait_seconds",
        "Time admitted requests waited for their slots (0 when one was free), by tenant value.",
        TG_METRIC_HISTOGRAM, tenant, 1, wait_buckets,
        sizeof(wait_buckets) / sizeof(wait_buckets[0]));
    tg_metrics_family_set_max_children(t->requests, TENANT_FAMILY_MAX_CHILDREN);
    tg_metrics_family_set_max_children(t->inflight, TENANT_FAMILY_MAX_CHILDREN);
    tg_metrics_family_set_max_children(t->queued, TENANT_FAMILY_MAX_CHILDREN);
    tg_metrics_family_set_max_children(t->rejected, TENANT_FAMILY_MAX_CHILDREN);
    tg_metrics_family_set_max_children(t->queue_wait, TENANT_FAMILY_MAX_CHILDREN);
}

static char **tenant_slot(char **names, size_t size, tg_iovec_t v)
{
    size_t i = (size_t)tg_iov_hash(v) & (size - 1);
    while (names[i] != NULL && !tg_iov_eq_str(v, names[i]))
        i = (i + 1) & (size - 1);
    return &names[i];
}

const char *tg_server_tenant_label(struct tg_server *srv, tg_iovec_t tenant, size_t max)
{
    struct tenant_metrics *t = &srv->metrics->tenant;
    char **slot;

    if (t->size == 0)
        return "other";
    slot = tenant_slot(t->names, t->size, tenant);
    if (*slot != NULL)
        return *slot;
    if (t->n >= max)
        return "other";
    if (2 * (t->n + 1) > t->size) { /* keep it at most half full */
        size_t size = 2 * t->size, i;
        char **names = tg_calloc(size, sizeof(*names));
        for (i = 0; i < t->size; i++)
            if (t->names[i])
                *tenant_slot(names, size, tg_iov_str(t->names[i])) = t->names[i];
        free(t->names);
        t->names = names;
        t->size = size;
        slot = tenant_slot(t->names, t->size, tenant);
    }
    *slot = tg_malloc(tenant.len + 1);
    memcpy(*slot, tenant.base, tenant.len);
    (*slot)[tenant.len] = '\0';
    t->n++;
    return *slot;
}

void tg_server_tenant_gauges(struct tg_server *srv, const char *label, int d_inflight, int d_queued)
{
    struct tenant_metrics *t = &srv->metrics->tenant;
    if (d_inflight)
        tg_metric_add(tg_metric_get1(t->inflight, label), d_inflight);
    if (d_queued)
        tg_metric_add(tg_metric_get1(t->queued, label), d_queued);
}

void tg_server_tenant_rejected(struct tg_server *srv, const char *label, const char *limit)
{
    tg_metric_inc(tg_metric_get2(srv->metrics->tenant.rejected, label, limit));
}

void tg_server_tenant_waited(struct tg_server *srv, const char *label, double seconds)
{
    tg_metric_observe(tg_metric_get1(srv->metrics->tenant.queue_wait, label), seconds);
}

static void tenant_requests_done(struct tg_server *srv, struct tg_req *r, const char *code)
{
    size_t i;
    for (i = 0; i < r->n_tenants; i++)
        tg_metric_inc(tg_metric_get2(
            srv->metrics->tenant.requests,
            tg_server_tenant_label(srv, r->tenants[i], r->cfg->limits->metrics_max_tenants), code));
}

struct tg_server_metrics *tg_server_metrics_new(void)
{
    struct tg_server_metrics *m = tg_calloc(1, sizeof(*m));
    m->reg = tg_metrics_new();
    tg_metrics_register_std(m->reg, TG_VERSION, &m->std);
    register_oidc(m);
    register_tenant_families(m->reg, &m->tenant);
    m->tenant.size = 64;
    m->tenant.names = tg_calloc(m->tenant.size, sizeof(*m->tenant.names));
    return m;
}

void tg_server_metrics_free(struct tg_server_metrics *m)
{
    size_t i;
    if (m == NULL)
        return;
    for (i = 0; i < m->tenant.size; i++)
        free(m->tenant.names[i]);
    free(m->tenant.names);
    tg_metrics_free(m->reg);
    free(m);
}

/* The status as the code label: snprintf was ~600 instructions a request. */
static void status_text(char out[8], int status)
{
    if (status >= 100 && status <= 999) {
        out[0] = (char)('0' + status / 100);
        out[1] = (char)('0' + status / 10 % 10);
        out[2] = (char)('0' + status % 10);
        out[3] = '\0';
    } else {
        snprintf(out, 8, "%d", status);
    }
}

void tg_server_request_done(struct tg_server *srv, struct tg_req *r, uint64_t dur_ns)
{
    struct tg_server_metrics *m = srv->metrics;
    const char *route = r->route ? r->route->name : "none";
    char code[8];

    status_text(code, r->status ? r->status : 499);
    tg_metric_inc(tg_metric_get2(m->std.requests_total, route, code));
    tg_metric_observe(tg_metric_get1(m->std.request_duration_seconds, route), (double)dur_ns / 1e9);
    if (r->upstream_error)
        tg_metric_inc(tg_metric_get1(m->std.upstream_errors_total, r->upstream_error));
    if (r->cfg->limits != NULL)
        tenant_requests_done(srv, r, code);
}

void tg_server_request_refused(struct tg_server *srv, int status)
{
    char code[8];

    snprintf(code, sizeof(code), "%d", status);
    tg_metric_inc(tg_metric_get2(srv->metrics->std.requests_total, "refused", code));
}

/* The Kubernetes client reports each API attempt (kube.h). */
void tg_server_kube_observed(void *arg, const char *call, int status, double seconds)
{
    struct tg_server_metrics *m = ((struct tg_server *)arg)->metrics;
    char code[8];

    if (status != 0)
        tg_metric_observe(tg_metric_get1(m->std.kube_api_request_duration_seconds, call), seconds);
    if (status >= 200 && status < 300)
        return;
    snprintf(code, sizeof(code), "%d", status);
    tg_metric_inc(tg_metric_get2(m->std.kube_api_errors_total, call, code));
}

/* A counter owned elsewhere (a plain uint64_t) mirrored into the registry:
 * counters cannot be set, only raised, so add what was counted since. */
static void mirror_child(struct tg_metric *c, uint64_t total)
{
    double now = (double)total, had = tg_metric_value(c);
    if (now > had)
        tg_metric_add(c, now - had);
}

static void mirror(struct tg_metric_family *f, uint64_t total)
{
    mirror_child(tg_metric_get0(f), total);
}

static void sync_oidc(struct tg_server_metrics *m, const struct tg_oidc_stats *s)
{
    mirror_child(tg_metric_get1(m->oidc_tokens, "accepted"), s->accepted);
    mirror_child(tg_metric_get1(m->oidc_tokens, "refused"), s->refused);
    mirror_child(tg_metric_get1(m->oidc_tokens, "unavailable"), s->unavailable);
    mirror(m->oidc_cache_hits, s->cache_hits);
    for (size_t i = 0; i < s->n_issuers; i++) {
        const struct tg_oidc_issuer_stats *is = &s->issuers[i];
        mirror_child(tg_metric_get2(m->oidc_fetches, is->url, "ok"), is->fetches_ok);
        mirror_child(tg_metric_get2(m->oidc_fetches, is->url, "error"), is->fetches_err);
        tg_metric_set(tg_metric_get1(m->oidc_keys, is->url), (double)is->keys);
    }
}

/* Gauges and cache counters are read at scrape time from their owners. */
static void sync_gauges(struct tg_server *srv)
{
    struct tg_server_metrics *m = srv->metrics;

    tg_metric_set(tg_metric_get0(m->std.requests_in_flight), (double)srv->stats.in_flight);
    tg_metric_set(tg_metric_get0(m->std.open_connections), (double)srv->stats.open_connections);
    if (srv->authcache != NULL) {
        /* one cache serves both kinds of decision; it counts the
         * TokenReview share apart */
        const struct tg_authcache_stats *s = tg_authcache_stats(srv->authcache);
        mirror(m->std.authn_cache_hits_total, s->authn_hits);
        mirror(m->std.authn_cache_misses_total, s->authn_misses);
        mirror(m->std.authn_cache_evictions_total, s->authn_evictions);
        mirror(m->std.authz_cache_hits_total, s->hits - s->authn_hits);
        mirror(m->std.authz_cache_misses_total, s->misses - s->authn_misses);
        mirror(m->std.authz_cache_evictions_total, s->evictions - s->authn_evictions);
        mirror(m->std.cache_coalesced_waits_total, s->coalesced);
        mirror(m->std.cache_grace_served_total, s->grace_served);
    }
    if (srv->oidc != NULL)
        sync_oidc(m, tg_oidc_stats(srv->oidc));
}

void tg_server_render_metrics(struct tg_server *srv, struct tg_sb *out)
{
    sync_gauges(srv);
    tg_metrics_render(srv->metrics->reg, out);
}
