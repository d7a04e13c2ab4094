/*
 * The server: listeners, the request entry point, the internal endpoints,
 * signals (SIGTERM drains, SIGHUP reloads) and certificate reloads.
 */
#include "tenantgate/core.h"
#include "tenantgate/server.h"

#include <arpa/inet.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "tenantgate/authcache.h"
#include "tenantgate/conn.h"
#include "tenantgate/kube.h"
#include "tenantgate/limits.h"
#include "tenantgate/log.h"
#include "tenantgate/oidc.h"
#include "tenantgate/req.h"
#include "tenantgate/stages.h"
#include "tenantgate/tls.h"
#include "tenantgate/upstream.h"

#define ALL_METHODS                                                                                \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |     \
     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

static struct timeval ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static void answer_text(struct evhttp_request *ev, int code, const char *ctype, const char *body,
                        size_t len)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, len);
    evhttp_add_header(evhttp_request_get_output_headers(ev), "Content-Type", ctype);
    evhttp_send_reply(ev, code, tg_http_reason(code), b);
    evbuffer_free(b);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct tg_server *srv = arg;

    if (srv->draining) {
        static const char body[] =
            "{\"status\":\"error\",\"errorType\":\"unavailable\",\"error\":\"shutting down\"}";
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
        answer_text(ev, 503, "application/json", body, sizeof(body) - 1);
        return;
    }
    tg_req_start(srv, ev);
}

/* /healthz, /readyz, /metrics: no authentication, never the Kubernetes API. */
static void on_internal(struct evhttp_request *ev, void *arg)
{
    struct tg_server *srv = arg;
    const char *uri = evhttp_request_get_uri(ev);

    if (strcmp(uri, "/healthz") == 0) {
        answer_text(ev, 200, "text/plain", "ok\n", 3);
    } else if (strcmp(uri, "/readyz") == 0) {
        if (srv->draining)
            answer_text(ev, 503, "text/plain", "draining\n", 9);
        else
            answer_text(ev, 200, "text/plain", "ok\n", 3);
    } else if (strcmp(uri, "/metrics") == 0) {
        tg_sb_t out;
        tg_sb_init(&out, NULL, 4096);
        tg_server_render_metrics(srv, &out);
        answer_text(ev, 200, "text/plain; version=0.0.4; charset=utf-8", out.base, out.len);
        tg_sb_free(&out);
    } else {
        answer_text(ev, 404, "text/plain", "not found\n", 10);
    }
}

static int parse_addr(const struct tg_listen *l, struct sockaddr_storage *ss, socklen_t *len)
{
    const char *host = l->host && *l->host ? l->host : NULL;
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (host == NULL || inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(l->port);
        *len = sizeof(*in4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(l->port);
        *len = sizeof(*in6);
        return 0;
    }
    if (strcmp(host, "localhost") == 0) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(l->port);
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof(*in4);
        return 0;
    }
    return -1;
}

static int bind_one(struct tg_server *srv, struct evhttp *http, const struct tg_listen *l,
                    int counted, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct evconnlistener *lev;

    if (parse_addr(l, &ss, &len) != 0) {
        snprintf(err, errlen, "listen address %s: not an IP address", l->host);
        return -1;
    }
    lev = evconnlistener_new_bind(srv->base, NULL, NULL,
                                  LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                  1024, (struct sockaddr *)&ss, (int)len);
    if (lev == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", l->host ? l->host : "", l->port,
                 strerror(errno));
        return -1;
    }
    if (evhttp_bind_listener(http, lev) == NULL) {
        evconnlistener_free(lev);
        snprintf(err, errlen, "cannot serve on %s:%u", l->host ? l->host : "", l->port);
        return -1;
    }
    if (counted)
        srv->listeners[srv->n_listeners++] = lev;
    tg_info("listening on %s:%u", l->host && *l->host ? l->host : "*", l->port);
    return 0;
}

static struct evhttp *proxy_http(struct tg_server *srv, int tls)
{
    const struct tg_config *cfg = srv->boot_cfg;
    struct evhttp *http = evhttp_new(srv->base);
    struct timeval idle = ms_tv(cfg->idle_timeout_ms);

    evhttp_set_bevcb(http, tls ? tg_conn_new_tls : tg_conn_new_plain, srv);
    evhttp_set_gencb(http, on_request, srv);
    evhttp_set_allowed_methods(http, ALL_METHODS);
    evhttp_set_max_headers_size(http, (ev_ssize_t)cfg->max_header_bytes);
    evhttp_set_max_body_size(http, (ev_ssize_t)cfg->max_body_bytes);
    evhttp_set_timeout_tv(http, &idle);
    evhttp_set_default_content_type(http, "application/json");
    return http;
}

static int setup_listeners(struct tg_server *srv, char *err, size_t errlen)
{
    const struct tg_config *cfg = srv->boot_cfg;

    if (cfg->insecure_listen.set) {
        srv->http_proxy = proxy_http(srv, 0);
        if (bind_one(srv, srv->http_proxy, &cfg->insecure_listen, 1, err, errlen))
            return -1;
    }
    if (cfg->secure_listen.set) {
        srv->tls = tg_tls_server_new(cfg, err, errlen);
        if (srv->tls == NULL)
            return -1;
        srv->http_proxy_tls = proxy_http(srv, 1);
        if (bind_one(srv, srv->http_proxy_tls, &cfg->secure_listen, 1, err, errlen))
            return -1;
    }
    if (cfg->internal_listen.set || cfg->proxy_endpoints_port) {
        srv->http_internal = evhttp_new(srv->base);
        evhttp_set_gencb(srv->http_internal, on_internal, srv);
        if (cfg->internal_listen.set &&
            bind_one(srv, srv->http_internal, &cfg->internal_listen, 0, err, errlen))
            return -1;
        if (cfg->proxy_endpoints_port) {
            /* kube-rbac-proxy serves these on the secure listener's host, over TLS */
            struct tg_listen l = cfg->secure_listen.set ? cfg->secure_listen : cfg->insecure_listen;
            l.port = (uint16_t)cfg->proxy_endpoints_port;
            if (srv->tls)
                evhttp_set_bevcb(srv->http_internal, tg_conn_new_tls, srv);
            if (bind_one(srv, srv->http_internal, &l, 0, err, errlen))
                return -1;
        }
    }
    return 0;
}

static void set_listeners(struct tg_server *srv, int on)
{
    int i;
    for (i = 0; i < srv->n_listeners; i++)
        if (on)
            evconnlistener_enable(srv->listeners[i]);
        else
            evconnlistener_disable(srv->listeners[i]);
}

void tg_server_conn_opened(struct tg_server *srv)
{
    if (srv->stats.open_connections >= srv->boot_cfg->max_connections && !srv->listeners_paused) {
        tg_warn("%lld connections open: not accepting more until some close",
                (long long)srv->stats.open_connections);
        srv->listeners_paused = 1;
        set_listeners(srv, 0);
    }
}

void tg_server_conn_closed(struct tg_server *srv)
{
    if (srv->listeners_paused && !srv->draining &&
        srv->stats.open_connections < srv->boot_cfg->max_connections) {
        srv->listeners_paused = 0;
        set_listeners(srv, 1);
    }
}

static void check_drained(evutil_socket_t fd, short what, void *arg)
{
    struct tg_server *srv = arg;
    if (srv->stats.in_flight <= 0 || tg_now_ns() >= srv->drain_deadline_ns) {
        if (srv->stats.in_flight > 0)
            tg_warn("shutdown grace over with %lld requests in flight",
                    (long long)srv->stats.in_flight);
        event_base_loopexit(srv->base, NULL);
    }
}

static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
    struct tg_server *srv = arg;
    struct timeval tick = ms_tv(50);

    if (srv->draining)
        return;
    tg_info("signal %d: draining %lld in-flight requests", (int)sig,
            (long long)srv->stats.in_flight);
    srv->draining = 1;
    set_listeners(srv, 0);
    tg_stage_limit_drain(srv); /* queued requests: 503 now, they hold no upstream request */
    srv->drain_deadline_ns = tg_now_ns() + (uint64_t)srv->boot_cfg->shutdown_grace_ms * 1000000u;
    srv->ev_drain = event_new(srv->base, -1, EV_PERSIST, check_drained, srv);
    event_add(srv->ev_drain, &tick);
    check_drained(-1, 0, srv);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    struct tg_server *srv = arg;
    char err[1024];
    struct tg_config *next = tg_config_reload(srv->cfg, err, sizeof(err));

    if (next == NULL) {
        char *nl;
        while ((nl = strchr(err, '\n')) != NULL) /* several errors: one log line */
            *nl = ';';
        tg_err("SIGHUP: configuration not reloaded, keeping the current one: %s", err);
        return;
    }
    tg_config_unref(srv->cfg);
    srv->cfg = next;
    tg_log_set_level((enum tg_log_level)next->log_level);
    tg_info("SIGHUP: configuration reloaded (listeners, TLS, upstream and OIDC issuers need a "
            "restart)");
}

static void on_tls_tick(evutil_socket_t fd, short what, void *arg)
{
    struct tg_server *srv = arg;
    tg_tls_server_maybe_reload(srv->tls);
}

/* Free heap memory above which the sweep gives it back to the system. */
#define TG_TRIM_MIN (1024 * 1024)

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    struct tg_server *srv = arg;
    tg_conn_sweep(srv);
    tg_limits_sweep(srv->limiter, tg_now_ns());
#ifdef __GLIBC__
    /* glibc returns freed memory only from the top of the heap: after a burst
     * (1000 requests in flight: +11 MiB) RSS would stay at its peak for good.
     * Once a second, if enough is free, release the free pages wherever they
     * are (BENCHMARKS.md, memory). */
    if (mallinfo2().fordblks > TG_TRIM_MIN)
        malloc_trim(0);
#endif
}

/* The access log (stdout) is written in batches: one write per flush
 * interval or per full buffer instead of one per request. */
#define TG_ACCESS_LOG_FLUSH_MS 100
#define TG_ACCESS_LOG_BUFFER   (64 * 1024)

static void on_log_flush(evutil_socket_t fd, short what, void *arg)
{
    struct tg_server *srv = arg;
    if (srv->log_pending) {
        srv->log_pending = 0;
        fflush(stdout);
    }
}

static int setup_signals(struct tg_server *srv)
{
    struct timeval second = {1, 0};

    signal(SIGPIPE, SIG_IGN);
    srv->ev_sigterm = evsignal_new(srv->base, SIGTERM, on_sigterm, srv);
    srv->ev_sigint = evsignal_new(srv->base, SIGINT, on_sigterm, srv);
    srv->ev_sighup = evsignal_new(srv->base, SIGHUP, on_sighup, srv);
    if (!srv->ev_sigterm || !srv->ev_sigint || !srv->ev_sighup)
        return -1;
    event_add(srv->ev_sigterm, NULL);
    event_add(srv->ev_sigint, NULL);
    event_add(srv->ev_sighup, NULL);
    srv->ev_sweep = event_new(srv->base, -1, EV_PERSIST, on_sweep, srv);
    event_add(srv->ev_sweep, &second);
    {
        /* stdout's buffer: it must live as long as stdout (flushed at exit,
         * after the server is freed), so it is the process's, not ours */
        static char logbuf[TG_ACCESS_LOG_BUFFER];
        struct timeval tv = ms_tv(TG_ACCESS_LOG_FLUSH_MS);
        fflush(stdout);
        setvbuf(stdout, logbuf, _IOFBF, sizeof(logbuf));
        srv->ev_logflush = event_new(srv->base, -1, EV_PERSIST, on_log_flush, srv);
        event_add(srv->ev_logflush, &tv);
    }
    if (srv->tls && srv->boot_cfg->tls_cert_file) {
        struct timeval tv =
            ms_tv(srv->boot_cfg->tls_reload_interval_ms > 0 ? srv->boot_cfg->tls_reload_interval_ms
                                                            : 10000);
        srv->ev_tls_reload = event_new(srv->base, -1, EV_PERSIST, on_tls_tick, srv);
        event_add(srv->ev_tls_reload, &tv);
    }
    return 0;
}

struct tg_server *tg_server_new(struct event_base *base, struct tg_config *cfg, char *err,
                                size_t errlen)
{
    struct tg_server *srv = tg_calloc(1, sizeof(*srv));

    srv->stages = tg_chain;
    srv->n_stages = TG_N_STAGES;
    srv->base = base;
    srv->cfg = tg_config_ref(cfg);
    srv->boot_cfg = tg_config_ref(cfg);
    srv->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (srv->dns == NULL)
        srv->dns = evdns_base_new(base, 0); /* no resolv.conf: IP literals still work */
    srv->metrics = tg_server_metrics_new();
    srv->limiter = tg_limits_new();
    srv->sha256 = TG_NOTNULL(tg_sha256_new());
    if (tg_kube_auth_new(base, cfg, &srv->kube, &srv->authcache, err, errlen) < 0) {
        tg_server_free(srv);
        return NULL;
    }
    if (srv->kube)
        tg_kube_client_set_observer(srv->kube, tg_server_kube_observed, srv);
    if (cfg->n_oidc_issuers > 0 && (srv->oidc = tg_oidc_new(base, cfg, err, errlen)) == NULL) {
        tg_server_free(srv);
        return NULL;
    }
    srv->upstream = tg_upstream_new(base, srv->dns, cfg, err, errlen);
    if (srv->upstream != NULL && cfg->am_upstream != NULL &&
        (srv->am_upstream = tg_upstream_new_alertmanager(base, srv->dns, cfg, err, errlen)) ==
            NULL) {
        tg_server_free(srv);
        return NULL;
    }
    if (srv->upstream == NULL || setup_listeners(srv, err, errlen) != 0 ||
        setup_signals(srv) != 0) {
        tg_server_free(srv);
        return NULL;
    }
    return srv;
}

int tg_server_run(struct tg_server *srv)
{
    event_base_dispatch(srv->base);
    fflush(stdout);
    tg_info("stopped");
    return srv->exit_code;
}

void tg_server_free(struct tg_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->http_proxy)
        evhttp_free(srv->http_proxy);
    if (srv->http_proxy_tls)
        evhttp_free(srv->http_proxy_tls);
    if (srv->http_internal)
        evhttp_free(srv->http_internal);
    /* the listeners went with their evhttp (LEV_OPT_CLOSE_ON_FREE) */
    tg_upstream_free(srv->upstream);
    tg_upstream_free(srv->am_upstream);
    tg_req_cache_free(srv);
    tg_sha256_free(srv->sha256);
    tg_kube_auth_free(srv->kube, srv->authcache);
    tg_oidc_free(srv->oidc);
    tg_tls_server_free(srv->tls);
    if (srv->dns)
        evdns_base_free(srv->dns, 0);
    if (srv->ev_sigterm)
        event_free(srv->ev_sigterm);
    if (srv->ev_sigint)
        event_free(srv->ev_sigint);
    if (srv->ev_sighup)
        event_free(srv->ev_sighup);
    if (srv->ev_drain)
        event_free(srv->ev_drain);
    if (srv->ev_tls_reload)
        event_free(srv->ev_tls_reload);
    if (srv->ev_sweep)
        event_free(srv->ev_sweep);
    if (srv->ev_logflush)
        event_free(srv->ev_logflush);
    fflush(stdout);
    tg_conn_sweep(srv); /* evhttp_free() dropped every connection */
    tg_server_metrics_free(srv->metrics);
    tg_limits_free(srv->limiter);
    free(srv->conn_by_fd);
    tg_config_unref(srv->cfg);
    tg_config_unref(srv->boot_cfg);
    free(srv);
}
