/*
 * The server's /metrics: request counters and latency by route and code,
 * upstream errors, in-flight requests, open connections, build info, and the
 * Kubernetes decision cache counters when the cache exists.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tenantgate/authcache.h"
#include "tenantgate/metrics.h"
#include "tenantgate/oidc.h"
#include "tenantgate/req.h"
#include "tenantgate/server-t.h"

struct tg_server_metrics {
    struct tg_metrics *reg;
    struct tg_std_metrics std;
    /* OIDC (lib/auth/oidc.c counts, we mirror) */
    struct tg_metric_family *oidc_fetches;    /* counter {issuer,result} */
    struct tg_metric_family *oidc_tokens;     /* counter {result} */
    struct tg_metric_family *oidc_cache_hits; /* counter */
    struct tg_metric_family *oidc_keys;       /* gauge {issuer} */
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

struct tg_server_metrics *tg_server_metrics_new(void)
{
    struct tg_server_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    m->reg = tg_metrics_new();
    tg_metrics_register_std(m->reg, TG_VERSION, &m->std);
    register_oidc(m);
    return m;
}

void tg_server_metrics_free(struct tg_server_metrics *m)
{
    if (m == NULL)
        return;
    tg_metrics_free(m->reg);
    free(m);
}

void tg_server_request_done(struct tg_server *srv, struct tg_req *r, uint64_t dur_ns)
{
    struct tg_server_metrics *m = srv->metrics;
    const char *route = r->route ? r->route->name : "none";
    char code[8];

    snprintf(code, sizeof(code), "%d", r->status ? r->status : 499);
    tg_metric_inc(tg_metric_get2(m->std.requests_total, route, code));
    tg_metric_observe(tg_metric_get1(m->std.request_duration_seconds, route),
                      (double)dur_ns / 1e9);
    if (r->upstream_error)
        tg_metric_inc(tg_metric_get1(m->std.upstream_errors_total, r->upstream_error));
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
        tg_metric_observe(tg_metric_get1(m->std.kube_api_request_duration_seconds, call),
                          seconds);
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
