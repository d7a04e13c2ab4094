/*
 * Client connection lifecycle around evhttp; see include/tenantgate/conn.h.
 *
 * libevent 2.1's evhttp tells us nothing about a connection until a whole
 * request has been read, and nothing when a connection without a request in
 * progress goes away. So we create each connection's bufferevent ourselves
 * (evhttp_set_bevcb) and keep a reference on it: evhttp's bufferevent_free()
 * then leaves it (and its socket) alive until we release it, which we do when
 * evhttp's close callback fires or, for connections that never completed a
 * request, when a sweep finds evhttp has dropped it (its callbacks are
 * cleared). A callback on its input buffer shows when the bytes of a new
 * request start arriving, which arms the header-read deadline (slowloris).
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
    struct bufferevent *bev;        /* evhttp's, with one reference of ours */
    struct evbuffer_cb_entry *input_cb;
    struct evhttp_connection *evcon;/* known once a first request arrived */
    struct tg_req *req;             /* request in progress */
    struct event *deadline;         /* header-read deadline (slowloris) */
    struct event *close_watch;      /* EV_CLOSED while a request waits */
    struct event *release_ev;       /* runs release() after evhttp let go */
    struct tg_conn *prev, *next;    /* all connections, for the sweep */
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

/* evhttp dropped the bufferevent: bufferevent_free() cleared its callbacks. */
static int orphaned(const struct tg_conn *c)
{
    bufferevent_event_cb eventcb = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
    return eventcb == NULL;
}

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct tg_conn *c = arg;

    if (info->n_added == 0 || orphaned(c))
        return;
    if (c->fd < 0)
        conn_register(c);
    if (!c->reading && c->req == NULL) {
        struct timeval tv = {c->srv->cfg->header_timeout_ms / 1000,
                             (c->srv->cfg->header_timeout_ms % 1000) * 1000};
        c->reading = 1;
        evtimer_add(c->deadline, &tv);
    }
}

/* Drop our reference: the bufferevent and its socket go now. */
static void release(struct tg_conn *c)
{
    struct tg_server *srv = c->srv;

    assert(c->req == NULL);
    if (c->fd >= 0 && (size_t)c->fd < srv->conn_by_fd_len && srv->conn_by_fd[c->fd] == c)
        srv->conn_by_fd[c->fd] = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    event_free(c->deadline);
    event_free(c->release_ev);
    if (c->close_watch)
        event_free(c->close_watch);
    evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    bufferevent_decref(c->bev);
    srv->stats.open_connections--;
    tg_server_conn_closed(srv);
    free(c);
}

static void on_release(evutil_socket_t fd, short what, void *arg)
{
    release(arg);
}

static void on_header_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct tg_conn *c = arg;
    if (orphaned(c)) {
        release(c);
        return;
    }
    tg_debug("conn fd %d: request headers not complete in time, closing", c->fd);
    /* evhttp owns the connection and notices the shutdown as an EOF */
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
}

/* Connections evhttp dropped before any request completed have no close
 * callback: find them here. */
void tg_conn_sweep(struct tg_server *srv)
{
    struct tg_conn *c = srv->conns, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        if (c->req == NULL && orphaned(c))
            release(c);
    }
}

static struct bufferevent *track(struct tg_server *srv, struct bufferevent *bev)
{
    struct tg_conn *c = calloc(1, sizeof(*c));
    if (c == NULL || bev == NULL)
        abort();
    c->srv = srv;
    c->bev = bev;
    c->fd = -1;
    c->deadline = evtimer_new(srv->base, on_header_deadline, c);
    c->release_ev = evtimer_new(srv->base, on_release, c);
    c->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
    bufferevent_incref(bev);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->stats.open_connections++;
    tg_server_conn_opened(srv);
    return bev;
}

struct bufferevent *tg_conn_new_plain(struct event_base *base, void *arg)
{
    return track(arg, bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE));
}

struct bufferevent *tg_conn_new_tls(struct event_base *base, void *arg)
{
    struct tg_server *srv = arg;
    SSL *ssl = tg_tls_server_new_ssl(srv->tls);
    return track(srv, bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                     BEV_OPT_CLOSE_ON_FREE));
}

/* evhttp is freeing the connection (client gone, error, or keep-alive over). */
static void on_evcon_close(struct evhttp_connection *evcon, void *arg)
{
    static const struct timeval now = {0, 0};
    struct tg_conn *c = arg;
    struct tg_req *r = c->req;

    c->evcon = NULL;
    evtimer_add(c->release_ev, &now); /* after evhttp has finished freeing */
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
    /* only the context is zeroed: the arena part needs no clearing (calloc
     * of the whole block was ~6% of a request's instructions) */
    r = malloc(REQ_BLOCK);
    if (r == NULL)
        abort();
    memset(r, 0, sizeof(*r));
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
    return r->conn ? bufferevent_openssl_get_ssl(r->conn->bev) : NULL;
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
