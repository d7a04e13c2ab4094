/*
 * Client connection lifecycle around evhttp; see include/tenantgate/conn.h.
 *
 * Why a filter bufferevent: libevent 2.1's evhttp tells us nothing about a
 * connection until a whole request has been read, and nothing when a
 * connection without a request in progress goes away. The pass-through filter
 * (no copy: evbuffer chains are moved) gives us both: its input callback sees
 * each byte arriving and its free callback runs when evhttp frees the
 * connection.
 */
#include "tenantgate/conn.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/server-t.h"
#include "tenantgate/tls.h"

/* First arena block lives in the same allocation as the request context: most
 * requests never call malloc again. */
#define REQ_BLOCK 8192

struct tg_conn {
    struct tg_server *srv;
    struct bufferevent *bev;        /* the filter evhttp reads and writes */
    struct evhttp_connection *evcon;/* known once a first request arrived */
    struct tg_req *req;             /* request in progress */
    struct event *deadline;         /* header-read deadline (slowloris) */
    struct event *close_watch;      /* EV_CLOSED while a request waits */
    int fd;                         /* -1 until the socket is known */
    int reading;                    /* bytes of a new request are arriving */
};

static void conn_register(struct tg_conn *c)
{
    struct tg_server *srv = c->srv;
    int fd = (int)bufferevent_getfd(c->bev);
    if (fd < 0)
        return;
    if ((size_t)fd >= srv->conn_by_fd_len) {
        size_t n = srv->conn_by_fd_len ? srv->conn_by_fd_len : 256;
        while (n <= (size_t)fd)
            n *= 2;
        srv->conn_by_fd = realloc(srv->conn_by_fd, n * sizeof(*srv->conn_by_fd));
        if (srv->conn_by_fd == NULL)
            abort();
        memset(srv->conn_by_fd + srv->conn_by_fd_len, 0,
               (n - srv->conn_by_fd_len) * sizeof(*srv->conn_by_fd));
        srv->conn_by_fd_len = n;
    }
    c->fd = fd;
    srv->conn_by_fd[fd] = c;
}

static void on_header_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct tg_conn *c = arg;
    tg_debug("conn fd %d: request headers not complete in time, closing", c->fd);
    /* evhttp owns the connection and notices the shutdown as an EOF */
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
}

static enum bufferevent_filter_result conn_input(struct evbuffer *src, struct evbuffer *dst,
                                                 ev_ssize_t limit,
                                                 enum bufferevent_flush_mode mode, void *arg)
{
    struct tg_conn *c = arg;

    if (c->fd < 0)
        conn_register(c);
    if (!c->reading && c->req == NULL && evbuffer_get_length(src) > 0) {
        struct timeval tv = {c->srv->cfg->header_timeout_ms / 1000,
                             (c->srv->cfg->header_timeout_ms % 1000) * 1000};
        c->reading = 1;
        evtimer_add(c->deadline, &tv);
    }
    if (evbuffer_remove_buffer(src, dst, limit < 0 ? (size_t)-1 : (size_t)limit) < 0)
        return BEV_ERROR;
    return BEV_OK;
}

static void conn_free(void *arg)
{
    struct tg_conn *c = arg;
    struct tg_server *srv = c->srv;

    assert(c->req == NULL);
    if (c->fd >= 0 && (size_t)c->fd < srv->conn_by_fd_len && srv->conn_by_fd[c->fd] == c)
        srv->conn_by_fd[c->fd] = NULL;
    event_free(c->deadline);
    if (c->close_watch)
        event_free(c->close_watch);
    srv->stats.open_connections--;
    tg_server_conn_closed(srv);
    free(c);
}

static struct bufferevent *wrap(struct tg_server *srv, struct bufferevent *under)
{
    struct tg_conn *c = calloc(1, sizeof(*c));
    if (c == NULL || under == NULL)
        abort();
    c->srv = srv;
    c->fd = -1;
    c->deadline = evtimer_new(srv->base, on_header_deadline, c);
    /* deferred callbacks: evhttp must never finish a request inside our own
     * call to send it, or the chain would touch a freed request */
    c->bev = bufferevent_filter_new(under, conn_input, NULL,
                                    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, conn_free, c);
    if (c->bev == NULL)
        abort();
    srv->stats.open_connections++;
    tg_server_conn_opened(srv);
    return c->bev;
}

struct bufferevent *tg_conn_new_plain(struct event_base *base, void *arg)
{
    return wrap(arg, bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE));
}

struct bufferevent *tg_conn_new_tls(struct event_base *base, void *arg)
{
    struct tg_server *srv = arg;
    SSL *ssl = tg_tls_server_new_ssl(srv->tls);
    return wrap(srv, bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                    BEV_OPT_CLOSE_ON_FREE));
}

/* evhttp is freeing the connection (client gone, error, or keep-alive over). */
static void on_evcon_close(struct evhttp_connection *evcon, void *arg)
{
    struct tg_conn *c = arg;
    struct tg_req *r = c->req;

    c->evcon = NULL;
    if (r == NULL)
        return;
    /* A request evhttp detached from the failed connection is ours to free;
     * one still attached is freed by evhttp right after this callback. */
    if (r->ev != NULL && evhttp_request_get_connection(r->ev) == NULL)
        evhttp_request_free(r->ev);
    r->ev = NULL;
    tg_req_end(r);
}

static void on_complete(struct evhttp_request *ev, void *arg)
{
    struct tg_req *r = arg;
    r->ev = NULL; /* evhttp frees it when we return */
    tg_req_end(r);
}

struct tg_req *tg_conn_request_start(struct tg_server *srv, struct evhttp_request *ev)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    int fd = (int)bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    struct tg_conn *c = NULL;
    struct tg_req *r;

    if (fd >= 0 && (size_t)fd < srv->conn_by_fd_len)
        c = srv->conn_by_fd[fd];
    assert(c != NULL && c->req == NULL);
    evtimer_del(c->deadline);
    c->reading = 0;
    if (c->evcon == NULL) {
        c->evcon = evcon;
        evhttp_connection_set_closecb(evcon, on_evcon_close, c);
    }
    r = calloc(1, REQ_BLOCK);
    if (r == NULL)
        abort();
    tg_arena_init(&r->arena, (char *)(r + 1), REQ_BLOCK - sizeof(*r));
    r->srv = srv;
    r->cfg = tg_config_ref(srv->cfg);
    r->ev = ev;
    r->conn = c;
    r->id = ++srv->next_req_id;
    r->start_ns = tg_now_ns();
    c->req = r;
    srv->stats.in_flight++;
    srv->stats.requests++;
    evhttp_request_set_on_complete_cb(ev, on_complete, r);
    return r;
}

static void on_peer_closed(evutil_socket_t fd, short what, void *arg)
{
    struct tg_conn *c = arg;
    tg_debug("conn fd %d: client closed while its request was waiting", c->fd);
    /* frees the attached request (through on_evcon_close) and the connection */
    if (c->evcon)
        evhttp_connection_free(c->evcon);
}

void tg_conn_watch_close(struct tg_req *r)
{
    struct tg_conn *c = r->conn;
    if (c == NULL || c->fd < 0)
        return;
    if (!(event_base_get_features(c->srv->base) & EV_FEATURE_EARLY_CLOSE))
        return;
    if (c->close_watch == NULL)
        c->close_watch = event_new(c->srv->base, c->fd, EV_CLOSED, on_peer_closed, c);
    event_add(c->close_watch, NULL);
}

void tg_conn_unwatch_close(struct tg_req *r)
{
    if (r->conn && r->conn->close_watch)
        event_del(r->conn->close_watch);
}

void tg_conn_reply_started(struct tg_req *r)
{
    r->replied = 1;
}

struct bufferevent *tg_conn_client_bev(struct tg_req *r)
{
    return r->conn ? r->conn->bev : NULL;
}

void *tg_conn_client_ssl(struct tg_req *r)
{
    struct bufferevent *under;
    if (r->conn == NULL)
        return NULL;
    under = bufferevent_get_underlying(r->conn->bev);
    return under ? bufferevent_openssl_get_ssl(under) : NULL;
}

const char *tg_conn_peer(struct tg_req *r)
{
    char *host = NULL;
    ev_uint16_t port;
    if (r->conn == NULL || r->conn->evcon == NULL)
        return "";
    evhttp_connection_get_peer(r->conn->evcon, &host, &port);
    return host ? host : "";
}

/* Detach the request from its connection (called by tg_req_end). */
void tg_conn_request_done(struct tg_req *r)
{
    if (r->conn) {
        tg_conn_unwatch_close(r);
        r->conn->req = NULL;
        r->conn = NULL;
    }
    r->srv->stats.in_flight--;
}
