/*
 * The server's /metrics: request counters and latency by route and code,
 * upstream errors, in-flight requests, open connections, build info, and the
 * Kubernetes decision cache counters when the cache exists.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tenantgate/authcache.h"
#include "tenantgate/metrics.h"
#include "tenantgate/req.h"
#include "tenantgate/server-t.h"

struct tg_server_metrics {
    struct tg_metrics *reg;
    struct tg_std_metrics std;
};

struct tg_server_metrics *tg_server_metrics_new(void)
{
    struct tg_server_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    m->reg = tg_metrics_new();
    tg_metrics_register_std(m->reg, TG_VERSION, &m->std);
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

/* Gauges and cache counters are read at scrape time from their owners. */
static void sync_gauges(struct tg_server *srv)
{
    struct tg_server_metrics *m = srv->metrics;

    tg_metric_set(tg_metric_get0(m->std.requests_in_flight), (double)srv->stats.in_flight);
    tg_metric_set(tg_metric_get0(m->std.open_connections), (double)srv->stats.open_connections);
    if (srv->authcache != NULL) {
        /* one cache serves both kinds of decision: its counters go to the
         * authz families, which is where a miss costs an API call */
        const struct tg_authcache_stats *s = tg_authcache_stats(srv->authcache);
        tg_metric_set(tg_metric_get0(m->std.authz_cache_hits_total), (double)s->hits);
        tg_metric_set(tg_metric_get0(m->std.authz_cache_misses_total), (double)s->misses);
        tg_metric_set(tg_metric_get0(m->std.authz_cache_evictions_total), (double)s->evictions);
        tg_metric_set(tg_metric_get0(m->std.cache_coalesced_waits_total), (double)s->coalesced);
        tg_metric_set(tg_metric_get0(m->std.cache_grace_served_total), (double)s->grace_served);
    }
}

void tg_server_render_metrics(struct tg_server *srv, struct tg_sb *out)
{
    sync_gauges(srv);
    tg_metrics_render(srv->metrics->reg, out);
}
