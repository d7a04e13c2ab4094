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
 * cleared). The header-read deadline (slowloris) runs from the accept, and
 * for later requests from their first byte, which a callback on the input
 * buffer sees; that callback also runs every byte through the framing check (lib/http/framing.c)
 * before evhttp parses it: a request that could be framed two ways (smuggling), or whose head or
 * announced body is over the limits, is answered with a JSON error and the connection closed,
 * without evhttp ever seeing it.
 */
#include "tenantgate/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "tenantgate/core.h"
#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/server.h"
#include "tenantgate/tls.h"

struct tg_conn {
    struct tg_server *srv;
    struct bufferevent *bev; /* evhttp's, with one reference of ours */
    struct evbuffer_cb_entry *input_cb;
    struct evhttp_connection *evcon; /* known once a first request arrived */
    struct tg_req *req;              /* request in progress */
    struct event *deadline;          /* header-read deadline (slowloris) */
    struct event *close_watch;       /* EV_CLOSED while a request waits */
    struct event *release_ev;        /* runs release() after evhttp let go */
    struct tg_conn *prev, *next;     /* all connections, for the sweep */
    int fd;                          /* -1 until the socket is known */
    int reading;                     /* a request head is due: the deadline runs */
    struct tg_http_framing framing;  /* what the client sent so far is well framed */
    uint64_t stream_end;             /* bytes received on the connection */
    int refused;                     /* framing refused: the input is dropped */
    int refuse_pending;              /* ... and the answer waits for earlier requests */
    int refilling;                   /* on_input: we are putting good bytes back */
    int refused_via_evhttp;          /* TLS: the refusal is answered through evhttp */
};

/* Over TLS nothing can be written past evhttp's bufferevent, so a refused
 * request is replaced by this one, which evhttp parses after the requests
 * before it and tg_conn_request_start() answers with the JSON error. */
static const char refused_request[] = "GET /-/tenantgate-refused HTTP/1.1\r\n\r\n";
#define REFUSED_URI "/-/tenantgate-refused"

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
        srv->conn_by_fd = tg_realloc(srv->conn_by_fd, n * sizeof(*srv->conn_by_fd));
        memset(srv->conn_by_fd + srv->conn_by_fd_len, 0,
               (n - srv->conn_by_fd_len) * sizeof(*srv->conn_by_fd));
        srv->conn_by_fd_len = n;
    }
    c->fd = fd;
    srv->conn_by_fd[fd] = c;
    {
        /* evhttp sends a response's head and its body separately; with
         * Nagle the body waits for the client's delayed ACK (40 ms on Linux)
         * on a keep-alive connection. Best effort: a failure costs latency. */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

/* evhttp dropped the bufferevent: bufferevent_free() cleared its callbacks. */
static int orphaned(const struct tg_conn *c)
{
    bufferevent_event_cb eventcb = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
    return eventcb == NULL;
}

/* Answer a refused stream and close the connection. The answer is written
 * straight to the socket: evhttp's bufferevent would call evhttp's own write
 * callback, which expects a response of its making. Over TLS (no plain
 * socket to write to) the connection is only closed. evhttp sees the shutdown
 * as an EOF and frees the connection. */
static void refuse_and_close(struct tg_conn *c)
{
    const struct tg_http_framing *f = &c->framing;
    tg_sb_t body;
    char head[256];
    int n;

    if (c->fd < 0)
        return;
    if (bufferevent_openssl_get_ssl(c->bev) == NULL &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        tg_sb_init(&body, NULL, 256);
        tg_http_error_body(&body, tg_http_error_type(f->status), tg_iov_str(f->error));
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     f->status,
                     f->status == 413   ? "Payload Too Large"
                     : f->status == 417 ? "Expectation Failed"
                     : f->status == 431 ? "Request Header Fields Too Large"
                     : f->status == 501 ? "Not Implemented"
                                        : "Bad Request",
                     body.len);
        /* a fresh answer on an idle socket: the send buffer takes it whole,
         * and if not the client gets a truncated answer before the close */
        if (send(c->fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
            (void)send(c->fd, body.base, body.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        tg_sb_free(&body);
    }
    shutdown(c->fd, SHUT_RDWR);
}

/* Run the bytes just added to the input through the framing check; returns
 * the status to refuse the connection with, or 0. */
static int check_framing(struct tg_conn *c, struct evbuffer *buf, size_t n_added)
{
    struct tg_http_framing *f = &c->framing;
    struct evbuffer_ptr pos;
    struct evbuffer_iovec v[8];
    size_t len = evbuffer_get_length(buf), left = n_added;

    /* callbacks run right after each change, so the new bytes are the last */
    if (n_added > len || evbuffer_ptr_set(buf, &pos, len - n_added, EVBUFFER_PTR_SET) != 0)
        goto unreadable;
    while (left > 0) {
        int i, nv = evbuffer_peek(buf, (ev_ssize_t)left, &pos, v, 8);
        size_t done = 0;
        if (nv <= 0)
            goto unreadable;
        for (i = 0; i < nv && i < 8 && done < left; i++) {
            size_t take = v[i].iov_len < left - done ? v[i].iov_len : left - done;
            if (tg_http_framing_feed(f, v[i].iov_base, take) != 0)
                return f->status;
            done += take;
        }
        left -= done;
        if (left > 0 && evbuffer_ptr_set(buf, &pos, done, EVBUFFER_PTR_ADD) != 0)
            goto unreadable;
    }
    return 0;
unreadable:
    f->status = 400;
    f->error = "unreadable request";
    return f->status;
}

/* The head of the next request must be complete within the header timeout
 * (slowloris): armed on accept for the first request, on its first byte for
 * the following ones (an idle keep-alive connection is evhttp's idle timeout). */
static void arm_deadline(struct tg_conn *c)
{
    struct timeval tv = {c->srv->cfg->header_timeout_ms / 1000,
                         (c->srv->cfg->header_timeout_ms % 1000) * 1000};
    c->reading = 1;
    evtimer_add(c->deadline, &tv);
}

/* Keep only the first `keep` bytes of the input (evbuffers drain from the
 * front only: the kept bytes go out and back in). */
static void keep_front(struct tg_conn *c, struct evbuffer *buf, size_t keep)
{
    struct evbuffer *good;

    if (keep == 0) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        return;
    }
    good = evbuffer_new();
    evbuffer_remove_buffer(buf, good, keep);
    evbuffer_drain(buf, evbuffer_get_length(buf));
    c->refilling = 1;
    evbuffer_add_buffer(buf, good);
    c->refilling = 0;
    evbuffer_free(good);
}

/* Drop every byte of the refused request and what follows it, keeping the
 * complete requests before it (pipelined) for evhttp to answer first. Returns
 * how many bytes were kept; *started: evhttp already read the first lines of
 * the refused request (they left the buffer). */
static size_t drop_refused(struct tg_conn *c, struct evbuffer *buf, int *started)
{
    size_t len = evbuffer_get_length(buf);
    uint64_t buf_start = c->stream_end - len;
    size_t keep = c->framing.req_start > buf_start ? (size_t)(c->framing.req_start - buf_start) : 0;

    *started = c->framing.req_start < buf_start;
    if (keep > len)
        keep = 0;
    keep_front(c, buf, keep);
    return keep;
}

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct tg_conn *c = arg;
    size_t kept;
    int started;

    if (info->n_added == 0 || c->refilling || orphaned(c))
        return;
    if (c->fd < 0)
        conn_register(c);
    if (c->refused) {
        /* what arrives after a refusal is never parsed; what was kept
         * before it (earlier requests, the stand-in request) stays */
        size_t len = evbuffer_get_length(buf);
        keep_front(c, buf, info->n_added < len ? len - info->n_added : 0);
        return;
    }
    c->stream_end += info->n_added;
    if (check_framing(c, buf, info->n_added) != 0) {
        /* debug like every other refusal: clients must not be able to flood the log */
        tg_debug("conn fd %d: request refused (%d): %s", c->fd, c->framing.status,
                 c->framing.error);
        tg_server_request_refused(c->srv, c->framing.status);
        /* evhttp must never parse the refused request or what follows */
        c->refused = 1;
        kept = drop_refused(c, buf, &started);
        evtimer_del(c->deadline);
        /* the stand-in must start a request of its own: not when evhttp is
         * in the middle of reading the refused one (then: close) */
        if (bufferevent_openssl_get_ssl(c->bev) != NULL && !started) {
            c->refused_via_evhttp = 1;
            c->refilling = 1;
            evbuffer_add(buf, refused_request, sizeof(refused_request) - 1);
            c->refilling = 0;
            return;
        }
        if (c->req == NULL && kept == 0)
            refuse_and_close(c);
        else
            c->refuse_pending = 1; /* after the responses to the requests before it */
        return;
    }
    if (!c->reading && c->req == NULL)
        arm_deadline(c);
}

/* Drop our reference: the bufferevent and its socket go now. */
static void release(struct tg_conn *c)
{
    struct tg_server *srv = c->srv;

    TG_CHECK(c->req == NULL);
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
    /* the bufferevent knows the socket even when no byte arrived (c->fd not) */
    evutil_socket_t sock = bufferevent_getfd(c->bev);
    tg_debug("conn fd %d: request headers not complete in time, closing", (int)sock);
    /* evhttp owns the connection and notices the shutdown as an EOF */
    if (sock >= 0)
        shutdown(sock, SHUT_RDWR);
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
    struct tg_conn *c = tg_calloc(1, sizeof(*c));

    TG_NOTNULL(bev);
    c->srv = srv;
    c->bev = bev;
    c->fd = -1;
    c->deadline = evtimer_new(srv->base, on_header_deadline, c);
    c->release_ev = evtimer_new(srv->base, on_release, c);
    c->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
    tg_http_framing_init(&c->framing, srv->boot_cfg->max_header_bytes,
                         srv->boot_cfg->max_body_bytes);
    arm_deadline(c); /* a client that connects and sends nothing is slowloris too */
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
    if (r != NULL)
        tg_req_client_gone(r);
}

static struct tg_conn *conn_of(struct tg_server *srv, struct evhttp_request *ev)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    int fd = (int)bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));

    return fd >= 0 && (size_t)fd < srv->conn_by_fd_len ? srv->conn_by_fd[fd] : NULL;
}

/* The stand-in for a refused request (see refused_request): the JSON error,
 * then close. */
static void answer_refused(struct tg_conn *c, struct evhttp_request *ev)
{
    tg_sb_t body;
    struct evbuffer *b;

    tg_sb_init(&body, NULL, 256);
    tg_http_error_body(&body, tg_http_error_type(c->framing.status), tg_iov_str(c->framing.error));
    b = evbuffer_new();
    evbuffer_add(b, body.base, body.len);
    evhttp_add_header(evhttp_request_get_output_headers(ev), "Content-Type", "application/json");
    evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
    evhttp_send_reply(ev, c->framing.status, tg_http_reason(c->framing.status), b);
    evbuffer_free(b);
    tg_sb_free(&body);
}

struct tg_conn *tg_conn_take_request(struct tg_server *srv, struct evhttp_request *ev)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    struct tg_conn *c = conn_of(srv, ev);

    TG_CHECK(c != NULL && c->req == NULL);
    if (c->refused_via_evhttp && strcmp(evhttp_request_get_uri(ev), REFUSED_URI) == 0) {
        answer_refused(c, ev);
        return NULL;
    }
    evtimer_del(c->deadline);
    c->reading = 0;
    if (c->evcon == NULL) {
        c->evcon = evcon;
        evhttp_connection_set_closecb(evcon, on_evcon_close, c);
    }
    return c;
}

void tg_conn_attach(struct tg_conn *c, struct tg_req *r)
{
    TG_CHECK(c->req == NULL);
    c->req = r;
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

void tg_conn_detach(struct tg_conn *c, struct tg_req *r)
{
    TG_CHECK(c->req == r);
    if (c->close_watch)
        event_del(c->close_watch);
    c->req = NULL;
    /* a pipelined request after this one was refused: answer it once the
     * requests before it are answered (evcon NULL: the connection is going
     * anyway) */
    if (c->refuse_pending && c->evcon != NULL &&
        evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
        c->refuse_pending = 0;
        refuse_and_close(c);
    }
}
