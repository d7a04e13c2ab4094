/*
 * The long-lived state of one tenantgate process: the event loop, listeners,
 * the current configuration, the upstream pool, metrics and (with Kubernetes)
 * the API client and decision cache. Created once by main(), passed to every
 * request; nothing here is global. Stages read it through r->srv; only
 * server.c changes it (the per-request counters aside: chain.c and conn.c).
 */
#ifndef TENANTGATE_SERVER_H
#define TENANTGATE_SERVER_H

#include <stdint.h>
#include "tenantgate/config.h"
#include "tenantgate/iovec.h"
#include "tenantgate/req.h"

struct event;
struct event_base;
struct evdns_base;
struct evhttp;
struct evconnlistener;
struct ssl_ctx_st;
struct tg_upstream;
struct tg_server_metrics;
struct tg_tls_server;
struct tg_authcache;
struct tg_kube_client;
struct tg_oidc;
struct tg_limits;
struct tg_sha256;

struct tg_server_stats {
    uint64_t requests;
    int64_t in_flight;
    int64_t open_connections;
};

struct tg_server {
    const tg_stage_fn *stages; /* the chain every request runs: tg_chain (stages.h) */
    unsigned n_stages;
    struct event_base *base;
    struct evdns_base *dns;
    struct tg_config *cfg;      /* current configuration (a counted reference) */
    struct tg_config *boot_cfg; /* the one listeners, TLS and upstream were built from */

    struct evhttp *http_proxy; /* plain and TLS proxy listeners share it */
    struct evhttp *http_proxy_tls;
    struct evhttp *http_internal; /* /healthz /readyz /metrics */
    struct evconnlistener *listeners[4];
    int n_listeners;

    struct tg_tls_server *tls;         /* server certificate, reloaded on change */
    struct tg_upstream *upstream;      /* keep-alive pool toward --upstream */
    struct tg_upstream *am_upstream;   /* toward --alertmanager-upstream, or NULL: upstream */
    struct tg_server_metrics *metrics; /* lib/server_metrics.c */
    struct tg_authcache *authcache;    /* decision cache, when Kubernetes is on */
    struct tg_kube_client *kube;       /* API client, when Kubernetes is on */
    struct tg_oidc *oidc;              /* OIDC issuers, keys, verdicts, when configured */
    struct tg_limits *limiter;
    struct tg_sha256 *sha256; /* token digests (auth.h) */
    char date[40];            /* the Date header, formatted at date_at */
    int64_t date_at;          /* per-tenant buckets, slots and queues (limits.h) */

    struct tg_server_stats stats;
    uint64_t next_req_id;
    void *req_cache; /* finished request blocks for the next ones (lib/chain.c) */
    unsigned n_req_cache;
    struct tg_conn *conns;       /* every open client connection (see conn.c) */
    struct tg_conn **conn_by_fd; /* the same, by socket, once it is known */
    size_t conn_by_fd_len;
    int draining;
    int exit_code;
    struct event *ev_sigterm, *ev_sigint, *ev_sighup, *ev_drain, *ev_tls_reload, *ev_sweep;
    struct event *ev_logflush; /* flushes the buffered access log */
    int log_pending;           /* access log lines not yet flushed */
    uint64_t drain_deadline_ns;
    int listeners_paused; /* at --max-connections */
};

/* Hooks server.c offers to conn.c and chain.c. */
struct tg_req;
void tg_server_conn_opened(struct tg_server *srv);
void tg_server_conn_closed(struct tg_server *srv);
void tg_server_request_done(struct tg_server *srv, struct tg_req *r, uint64_t dur_ns);
/* A request the framing check refused before evhttp parsed it: counted as
 * route "refused" with its status. */
void tg_server_request_refused(struct tg_server *srv, int status);
/* tg_kube_observe_cb for srv's Kubernetes client: API latency and errors. */
void tg_server_kube_observed(void *arg, const char *call, int status, double seconds);

/* Per-tenant metrics (lib/server_metrics.c), for the limit stage: the label
 * of a tenant value (itself for the first `max` values seen, then "other";
 * stable for the process's life, owned by the server), the in-flight and
 * queued gauges, refusals by limit, and the queue wait. */
const char *tg_server_tenant_label(struct tg_server *srv, tg_iovec_t tenant, size_t max);
void tg_server_tenant_gauges(struct tg_server *srv, const char *label, int d_inflight,
                             int d_queued);
void tg_server_tenant_rejected(struct tg_server *srv, const char *label, const char *limit);
void tg_server_tenant_waited(struct tg_server *srv, const char *label, double seconds);

/* lib/server_metrics.c: the /metrics families of the server. */
struct tg_sb;
struct tg_server_metrics *tg_server_metrics_new(void);
void tg_server_metrics_free(struct tg_server_metrics *m);
void tg_server_render_metrics(struct tg_server *srv, struct tg_sb *out);

/* Build the server for `cfg` (takes a reference). On error returns NULL and
 * writes a message into errbuf. */
struct tg_server *tg_server_new(struct event_base *base, struct tg_config *cfg, char *errbuf,
                                size_t errlen);
/* Run the event loop until SIGTERM/SIGINT has drained in-flight requests.
 * Returns the process exit code. */
int tg_server_run(struct tg_server *srv);
void tg_server_free(struct tg_server *srv);

#endif
