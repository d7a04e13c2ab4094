/* Upstream target and keep-alive pool; see include/tenantgate/upstream.h. */
#include "tenantgate/upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tenantgate/log.h"
#include "tenantgate/tls.h"

struct tg_upconn {
    struct tg_upstream *u;
    struct evhttp_connection *evcon;
    struct tg_upconn *next; /* in the idle list */
    int dead;               /* TLS connection that evhttp reset: cannot reconnect */
};

struct tg_upstream {
    struct event_base *base;
    struct evdns_base *dns;
    SSL_CTX *ssl_ctx;       /* https upstream only */
    char *host;             /* for connect and SNI */
    int port;
    char *host_header;
    char *prefix;
    struct tg_upconn *idle;
    int n_idle, max_idle;
    int timeout_s;
};

/* The URL was validated when the config was loaded. */
static int set_target(struct tg_upstream *u, const struct tg_url *url)
{
    size_t plen = strlen(url->path);

    u->host = strdup(url->host);
    u->port = url->port;
    u->host_header = malloc(strlen(url->host) + 16);
    if (u->host == NULL || u->host_header == NULL)
        abort();
    sprintf(u->host_header, strchr(url->host, ':') ? "[%s]:%d" : "%s:%d", url->host, u->port);
    while (plen > 0 && url->path[plen - 1] == '/')
        plen--;
    u->prefix = strndup(url->path, plen);
    return url->https;
}

/* One target: its URL and TLS files; pool size and timeout from cfg. */
static struct tg_upstream *upstream_new(struct event_base *base, struct evdns_base *dns,
                                        const struct tg_config *cfg, const struct tg_url *url,
                                        const char *ca, const char *cert, const char *key,
                                        char *err, size_t errlen)
{
    struct tg_upstream *u = calloc(1, sizeof(*u));
    int https;

    if (u == NULL)
        abort();
    u->base = base;
    u->dns = dns;
    u->max_idle = cfg->upstream_max_idle > 0 ? cfg->upstream_max_idle : 64;
    u->timeout_s = cfg->upstream_timeout_ms > 0 ? (cfg->upstream_timeout_ms + 999) / 1000 : 300;
    https = set_target(u, url);
    if (https) {
        u->ssl_ctx = tg_tls_client_ctx_new(ca, cert, key, err, errlen);
        if (u->ssl_ctx == NULL)
            goto fail;
    }
    return u;
fail:
    tg_upstream_free(u);
    return NULL;
}

struct tg_upstream *tg_upstream_new(struct event_base *base, struct evdns_base *dns,
                                    const struct tg_config *cfg, char *err, size_t errlen)
{
    return upstream_new(base, dns, cfg, &cfg->upstream_url, cfg->upstream_ca_file,
                        cfg->upstream_client_cert_file, cfg->upstream_client_key_file, err, errlen);
}

struct tg_upstream *tg_upstream_new_alertmanager(struct event_base *base, struct evdns_base *dns,
                                                 const struct tg_config *cfg, char *err,
                                                 size_t errlen)
{
    return upstream_new(base, dns, cfg, &cfg->am_upstream_url, cfg->am_ca_file,
                        cfg->am_client_cert_file, cfg->am_client_key_file, err, errlen);
}

static void free_conn(struct tg_upconn *c)
{
    evhttp_connection_free(c->evcon);
    free(c);
}

void tg_upstream_free(struct tg_upstream *u)
{
    struct tg_upconn *c, *next;
    if (u == NULL)
        return;
    for (c = u->idle; c; c = next) {
        next = c->next;
        free_conn(c);
    }
    SSL_CTX_free(u->ssl_ctx);
    free(u->host);
    free(u->host_header);
    free(u->prefix);
    free(u);
}

tg_iovec_t tg_upstream_host_header(const struct tg_upstream *u)
{
    return tg_iov_str(u->host_header);
}

tg_iovec_t tg_upstream_prefix(const struct tg_upstream *u)
{
    return tg_iov_str(u->prefix);
}

/* evhttp resets a connection when the peer closes it and would reconnect it
 * with the same bufferevent: fine for plain sockets, broken for TLS, whose
 * session cannot be reused. A TLS connection that closed is thrown away. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct tg_upconn *c = arg;
    if (c->u->ssl_ctx)
        c->dead = 1;
}

static struct bufferevent *tls_bev(struct tg_upstream *u)
{
    SSL *ssl = SSL_new(u->ssl_ctx);
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

    SSL_set_tlsext_host_name(ssl, u->host);
    /* verify the name we connect to: an IP literal or a DNS name */
    if (X509_VERIFY_PARAM_set1_ip_asc(param, u->host) != 1)
        SSL_set1_host(ssl, u->host);
    return bufferevent_openssl_socket_new(u->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                          BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

struct tg_upconn *tg_upstream_acquire(struct tg_upstream *u)
{
    struct tg_upconn *c;

    while ((c = u->idle) != NULL) {
        u->idle = c->next;
        u->n_idle--;
        if (!c->dead)
            return c;
        free_conn(c);
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->u = u;
    c->evcon = evhttp_connection_base_bufferevent_new(u->base, u->dns,
                                                      u->ssl_ctx ? tls_bev(u) : NULL, u->host,
                                                      (unsigned short)u->port);
    if (c->evcon == NULL)
        abort();
    evhttp_connection_set_closecb(c->evcon, on_close, c);
    /* inactivity limit once the response streams; the stage times the
     * headers itself, so this one is set a little longer */
    evhttp_connection_set_timeout(c->evcon, u->timeout_s + 1);
    return c;
}

struct evhttp_connection *tg_upconn_evcon(struct tg_upconn *c)
{
    return c->evcon;
}

static void deferred_free(evutil_socket_t fd, short what, void *arg)
{
    free_conn(arg);
}

void tg_upstream_release(struct tg_upconn *c, int reusable)
{
    struct tg_upstream *u = c->u;
    static const struct timeval now = {0, 0};

    if (reusable && !c->dead && u->n_idle < u->max_idle) {
        c->next = u->idle;
        u->idle = c;
        u->n_idle++;
        return;
    }
    /* we may be inside this connection's callbacks: free it on the next turn */
    event_base_once(u->base, -1, EV_TIMEOUT, deferred_free, c, &now);
}
