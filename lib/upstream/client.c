/*
 * HTTP/1.1 client: keep-alive pool, exchanges; see
 * include/tenantgate/upstream_client.h.
 *
 * A connection goes RESOLVING -> CONNECTING -> HANDSHAKE (TLS) -> SEND ->
 * RECV -> IDLE (pooled) -> SEND -> ... Its read event is added once the TCP
 * connection is up and stays added for the connection's life (idle: it sees
 * the server closing; busy: it reads the response) except while the consumer
 * pauses the body. Its write event is added only while connecting or when a
 * write would block. Timeouts ride on events that exist anyway: the read
 * event's timeout is the idle limit while pooled and the body-silence limit
 * while streaming; one timer per exchange bounds the wait for the head.
 *
 * Re-entrancy: the consumer's callbacks may cancel the exchange or start
 * others. Code that calls back (or may end a connection) returns STOP and
 * its callers touch neither the connection nor the exchange afterwards;
 * a cancel from inside a callback is finished by the code that called it.
 */
#include "tenantgate/upstream_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "tenantgate/upstream_tls.h"
#include "upstream_int.h"

#define BUF_SIZE (16 * 1024) /* read buffer of a busy connection */

#define GO_ON 0
#define STOP  1

enum cstate { C_RESOLVING, C_CONNECTING, C_HANDSHAKE, C_SEND, C_RECV, C_IDLE };

struct conn;

/* An asynchronous DNS lookup; outlives its connection if that goes first. */
struct lookup {
    struct conn *c; /* NULL: the connection is gone, drop the answer */
    struct evdns_getaddrinfo_request *req;
    int inside; /* evdns_getaddrinfo() is running: an answer waits in result/res */
    int answered, result;
    struct evutil_addrinfo *res;
};

struct conn {
    struct tg_up_pool *pool;
    struct tg_up_xfer *x;       /* the exchange it carries; NULL while idle */
    struct conn *prev, *next;   /* pool->conns: every connection */
    struct conn *iprev, *inext; /* pool->idle, while idle */
    enum cstate state;
    int fd;
    SSL *ssl;
    struct event *rev, *wev, *ctimer; /* read, write, connect+handshake limit */
    int wev_on;
    int write_wants_read; /* TLS: SSL_write waits for the socket readable */
    int reused;           /* carried an exchange before */
    int broken;           /* may not go back to the pool */
    struct evutil_addrinfo *ai, *ai_next;
    struct lookup *lookup;
    char *buf; /* response bytes [rpos, rlen) not yet parsed */
    size_t cap, rpos, rlen;
    struct tg_up_parser p;
};

struct tg_up_xfer {
    struct tg_up_pool *pool;
    struct conn *c;
    struct tg_up_request req;
    const struct tg_up_callbacks *cb;
    void *arg;
    struct event *deadline; /* the response head is due */
    struct event *later;    /* deferred work: a failure, a resume */
    char *wbuf;             /* TLS: head and body in one piece */
    size_t woff;            /* request bytes written */
    int in_send, in_cb, cancelled, done;
    int paused, resume_pending;
    int silence; /* the read event's timeout is the body-silence limit */
    int retried, got_bytes, head_seen;
    int pending; /* a failure waits in err/detail for `later` */
    enum tg_up_error err;
    char detail[200];
    struct tg_up_xfer *lprev, *lnext; /* pool->live, from tg_up_send() to the end */
    struct tg_up_xfer *next_free;
};

struct tg_up_pool {
    struct event_base *base;
    struct evdns_base *dns;
    char *host, *tls_name;
    char port[8];
    SSL_CTX *ssl_ctx;
    struct tg_up_opts o;
    struct conn *conns, *idle;
    struct tg_up_xfer *live, *free_x;
    int n_free_x;
    char **free_bufs; /* read buffers kept for reuse: as many as idle connections */
    int n_free_bufs;
    struct tg_up_stats st;
};

static struct timeval ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static void *xcalloc(size_t n)
{
    void *p = calloc(1, n);
    if (p == NULL)
        abort();
    return p;
}

/* ---- buffers ---- */

static char *buf_get(struct tg_up_pool *pool)
{
    char *b;
    if (pool->n_free_bufs > 0)
        return pool->free_bufs[--pool->n_free_bufs];
    b = malloc(BUF_SIZE);
    if (b == NULL)
        abort();
    return b;
}

static void buf_put(struct conn *c)
{
    struct tg_up_pool *pool = c->pool;
    if (c->buf == NULL)
        return;
    if (c->cap == BUF_SIZE && pool->n_free_bufs < pool->o.max_idle)
        pool->free_bufs[pool->n_free_bufs++] = c->buf;
    else
        free(c->buf);
    c->buf = NULL;
    c->cap = c->rpos = c->rlen = 0;
}

/* ---- connections ---- */

static void wev_set(struct conn *c, int on)
{
    if (on && !c->wev_on)
        event_add(c->wev, NULL);
    else if (!on && c->wev_on)
        event_del(c->wev);
    c->wev_on = on;
}

static void idle_unlink(struct conn *c)
{
    struct tg_up_pool *pool = c->pool;
    if (c->iprev)
        c->iprev->inext = c->inext;
    else
        pool->idle = c->inext;
    if (c->inext)
        c->inext->iprev = c->iprev;
    c->iprev = c->inext = NULL;
    pool->st.idle--;
}

static void close_fd(struct conn *c)
{
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    c->rev = c->wev = NULL;
    c->wev_on = 0;
    tg_up_tls_free(c->ssl, !c->broken);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* The connection goes; its exchange (if any) must have been detached. */
static void conn_close(struct conn *c)
{
    struct tg_up_pool *pool = c->pool;

    TG_UP_CHECK(c->x == NULL);
    if (c->state == C_IDLE)
        idle_unlink(c);
    else
        pool->st.busy--;
    if (c->prev)
        c->prev->next = c->next;
    else
        pool->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->lookup) {
        c->lookup->c = NULL; /* the lookup frees itself when it reports */
        evdns_getaddrinfo_cancel(c->lookup->req);
    }
    close_fd(c);
    if (c->ctimer)
        event_free(c->ctimer);
    if (c->ai)
        evutil_freeaddrinfo(c->ai);
    buf_put(c);
    free(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_connect_timeout(evutil_socket_t fd, short what, void *arg);
static int send_some(struct conn *c);
static int read_some(struct conn *c);

/* ---- ending exchanges ---- */

static void xfer_recycle(struct tg_up_xfer *x)
{
    struct tg_up_pool *pool = x->pool;

    if (x->lprev)
        x->lprev->lnext = x->lnext;
    else
        pool->live = x->lnext;
    if (x->lnext)
        x->lnext->lprev = x->lprev;
    evtimer_del(x->deadline);
    event_del(x->later);
    free(x->wbuf);
    x->wbuf = NULL;
    if (pool->n_free_x < pool->o.max_idle) {
        x->next_free = pool->free_x;
        pool->free_x = x;
        pool->n_free_x++;
        return;
    }
    event_free(x->deadline);
    event_free(x->later);
    free(x);
}

/* Hand the outcome to the consumer: the last thing done with x. From inside
 * tg_up_send() it is put off to the next loop turn (no callback there). */
static void deliver(struct tg_up_xfer *x, enum tg_up_error err, const char *detail)
{
    TG_UP_CHECK(x->c == NULL && !x->done);
    if (x->in_send) {
        x->pending = 1;
        x->err = err;
        snprintf(x->detail, sizeof(x->detail), "%s", detail ? detail : "");
        event_active(x->later, EV_TIMEOUT, 0);
        return;
    }
    x->done = 1;
    evtimer_del(x->deadline);
    x->in_cb++;
    x->cb->on_done(x->arg, err, err == TG_UP_OK ? NULL : detail);
    x->in_cb--;
    xfer_recycle(x);
}

static void detach(struct conn *c)
{
    struct tg_up_xfer *x = c->x;
    c->x = NULL;
    x->c = NULL;
}

/* The exchange fails (the connection with it). */
static int conn_fail(struct conn *c, enum tg_up_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int conn_fail(struct conn *c, enum tg_up_error err, const char *fmt, ...)
{
    struct tg_up_xfer *x = c->x;
    char detail[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    c->broken = 1;
    if (x == NULL) {
        conn_close(c);
        return STOP;
    }
    detach(c);
    conn_close(c);
    deliver(x, err, detail);
    return STOP;
}

/* A cancel that came from inside a callback, finished by the caller. */
static int finish_cancel(struct conn *c)
{
    struct tg_up_xfer *x = c->x;
    detach(c);
    c->broken = 1;
    conn_close(c);
    xfer_recycle(x);
    return STOP;
}

static void pool_put(struct conn *c)
{
    struct tg_up_pool *pool = c->pool;
    struct timeval tv = ms_tv(pool->o.idle_timeout_ms);

    buf_put(c);
    c->reused = 1;
    if (pool->st.idle >= pool->o.max_idle) {
        conn_close(c);
        return;
    }
    pool->st.busy--;
    pool->st.idle++;
    c->state = C_IDLE;
    c->iprev = NULL;
    c->inext = pool->idle;
    if (pool->idle)
        pool->idle->iprev = c;
    pool->idle = c;
    /* already added: only its timer changes (no epoll_ctl) */
    event_add(c->rev, &tv);
}

/* The response is complete. */
static int complete(struct conn *c)
{
    struct tg_up_xfer *x = c->x;
    size_t total = x->req.head.len + x->req.body.len;
    int reusable = c->p.keep_alive && !c->broken && c->rpos == c->rlen && x->woff == total &&
                   !(c->ssl && tg_up_tls_pending(c->ssl));

    detach(c);
    if (reusable)
        pool_put(c);
    else
        conn_close(c);
    deliver(x, TG_UP_OK, NULL);
    return STOP;
}

/* ---- connecting ---- */

static struct conn *conn_new(struct tg_up_pool *pool);
static void attach(struct conn *c, struct tg_up_xfer *x);

/* The connection broke before the exchange could end: send the request
 * again on a new connection when that is safe, else fail. */
static int conn_lost(struct conn *c, const char *why)
{
    struct tg_up_xfer *x = c->x;
    struct tg_up_pool *pool = c->pool;
    struct conn *fresh;

    if (!(c->reused && !x->got_bytes && x->req.idempotent && !x->retried))
        return conn_fail(c, TG_UP_ERESET, "%s", why);
    detach(c);
    c->broken = 1;
    conn_close(c);
    pool->st.retries++;
    x->retried = 1;
    x->woff = 0;
    free(x->wbuf);
    x->wbuf = NULL;
    fresh = conn_new(pool);
    if (fresh == NULL) {
        deliver(x, TG_UP_ECONNECT, "no socket for the retry");
        return STOP;
    }
    attach(fresh, x);
    return STOP;
}

/* A failure while connecting: reported on the next loop turn, so that
 * tg_up_send() and a retry never call back. */
static void connect_failed(struct conn *c, enum tg_up_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void connect_failed(struct conn *c, enum tg_up_error err, const char *fmt, ...)
{
    struct tg_up_xfer *x = c->x;
    va_list ap;

    c->broken = 1;
    if (x == NULL) {
        conn_close(c);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(x->detail, sizeof(x->detail), fmt, ap);
    va_end(ap);
    detach(c);
    conn_close(c);
    x->pending = 1;
    x->err = err;
    event_active(x->later, EV_TIMEOUT, 0);
}

static void connect_next(struct conn *c)
{
    struct tg_up_pool *pool = c->pool;
    struct timeval tv = ms_tv(pool->o.connect_timeout_ms);
    int err = 0, one = 1;

    close_fd(c);
    while (c->ai_next != NULL) {
        struct evutil_addrinfo *ai = c->ai_next;
        int fd;

        c->ai_next = ai->ai_next;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        /* one write per request already; no Nagle wait for the rest of a big one */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
            c->fd = fd;
            c->rev = event_new(pool->base, fd, EV_READ | EV_PERSIST, on_read, c);
            c->wev = event_new(pool->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
            if (c->rev == NULL || c->wev == NULL)
                abort();
            c->state = C_CONNECTING;
            wev_set(c, 1);
            if (!evtimer_pending(c->ctimer, NULL))
                evtimer_add(c->ctimer, &tv);
            return;
        }
        err = errno;
        close(fd);
    }
    connect_failed(c, TG_UP_ECONNECT, "connect to %s:%s: %s", pool->host, pool->port,
                   strerror(err ? err : ECONNREFUSED));
}

static void resolved(struct conn *c, int result, struct evutil_addrinfo *res)
{
    if (result != 0 || res == NULL) {
        connect_failed(c, TG_UP_ECONNECT, "resolving %s: %s", c->pool->host,
                       evutil_gai_strerror(result));
        return;
    }
    c->ai = c->ai_next = res;
    connect_next(c);
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    struct lookup *l = arg;
    struct conn *c = l->c;

    if (l->inside) { /* answered at once (/etc/hosts): resolve() goes on */
        l->answered = 1;
        l->result = result;
        l->res = res;
        return;
    }
    free(l);
    if (c == NULL) { /* cancelled: the connection is gone */
        if (res)
            evutil_freeaddrinfo(res);
        return;
    }
    c->lookup = NULL;
    resolved(c, result, res);
}

static void resolve(struct conn *c)
{
    struct tg_up_pool *pool = c->pool;
    struct evutil_addrinfo hints;
    struct evutil_addrinfo *res = NULL;
    struct lookup *l;
    struct evdns_getaddrinfo_request *req;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
    rc = evutil_getaddrinfo(pool->host, pool->port, &hints, &res);
    if (rc == 0) { /* an IP literal: no lookup */
        c->ai = c->ai_next = res;
        connect_next(c);
        return;
    }
    if (pool->dns == NULL) {
        connect_failed(c, TG_UP_ECONNECT, "resolving %s: no DNS resolver", pool->host);
        return;
    }
    hints.ai_flags = EVUTIL_AI_NUMERICSERV;
    l = xcalloc(sizeof(*l));
    l->c = c;
    l->inside = 1;
    c->state = C_RESOLVING;
    req = evdns_getaddrinfo(pool->dns, pool->host, pool->port, &hints, on_resolved, l);
    l->inside = 0;
    if (l->answered) {
        rc = l->result;
        res = l->res;
        free(l);
        resolved(c, rc, res);
        return;
    }
    l->req = req;
    c->lookup = l;
}

static struct conn *conn_new(struct tg_up_pool *pool)
{
    struct conn *c = xcalloc(sizeof(*c));

    c->pool = pool;
    c->fd = -1;
    c->ctimer = evtimer_new(pool->base, on_connect_timeout, c);
    if (c->ctimer == NULL)
        abort();
    c->next = pool->conns;
    if (pool->conns)
        pool->conns->prev = c;
    pool->conns = c;
    pool->st.connects++;
    pool->st.busy++;
    c->state = C_RESOLVING;
    return c;
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    connect_failed(c, TG_UP_ETIMEOUT, "connect to %s:%s: timed out after %d ms", c->pool->host,
                   c->pool->port, c->pool->o.connect_timeout_ms);
}

static int handshake(struct conn *c)
{
    char err[160];
    int rc = tg_up_tls_handshake(c->ssl, err, sizeof(err));

    if (rc == TG_UP_TLS_WANT_READ || rc == TG_UP_TLS_WANT_WRITE) {
        wev_set(c, rc == TG_UP_TLS_WANT_WRITE);
        return GO_ON;
    }
    if (rc != 0)
        return conn_fail(c, TG_UP_ECONNECT, "TLS handshake with %s:%s: %s", c->pool->host,
                         c->pool->port, err);
    evtimer_del(c->ctimer);
    c->state = C_SEND;
    return send_some(c);
}

static int connected(struct conn *c)
{
    struct tg_up_pool *pool = c->pool;
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        if (c->ai_next != NULL) {
            connect_next(c);
            return STOP;
        }
        return conn_fail(c, TG_UP_ECONNECT, "connect to %s:%s: %s", pool->host, pool->port,
                         strerror(err));
    }
    event_add(c->rev, NULL); /* stays added for the connection's life */
    if (pool->ssl_ctx == NULL) {
        evtimer_del(c->ctimer);
        c->state = C_SEND;
        return send_some(c);
    }
    c->ssl = tg_up_tls_new(pool->ssl_ctx, pool->tls_name, c->fd);
    if (c->ssl == NULL)
        return conn_fail(c, TG_UP_ECONNECT, "TLS toward %s:%s: cannot create a session", pool->host,
                         pool->port);
    c->state = C_HANDSHAKE;
    return handshake(c);
}

/* ---- sending ---- */

static int send_plain(struct conn *c, struct tg_up_xfer *x, size_t total)
{
    while (x->woff < total) {
        struct iovec iov[2];
        struct msghdr msg;
        size_t hl = x->req.head.len, off = x->woff;
        ssize_t n;
        int niov = 0;

        if (off < hl)
            iov[niov++] = (struct iovec){(char *)x->req.head.base + off, hl - off};
        if (x->req.body.len > 0) {
            size_t boff = off > hl ? off - hl : 0;
            iov[niov++] = (struct iovec){(char *)x->req.body.base + boff, x->req.body.len - boff};
        }
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)niov;
        n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            x->woff += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wev_set(c, 1);
            return GO_ON;
        }
        return conn_lost(c, strerror(errno));
    }
    return GO_ON;
}

static int send_tls(struct conn *c, struct tg_up_xfer *x, size_t total)
{
    const char *bytes = x->req.head.base;
    char err[160];

    if (x->req.body.len > 0) { /* one record, one write: head and body together */
        if (x->wbuf == NULL) {
            x->wbuf = malloc(total);
            if (x->wbuf == NULL)
                abort();
            memcpy(x->wbuf, x->req.head.base, x->req.head.len);
            memcpy(x->wbuf + x->req.head.len, x->req.body.base, x->req.body.len);
        }
        bytes = x->wbuf;
    }
    while (x->woff < total) {
        long n = tg_up_tls_write(c->ssl, bytes + x->woff, total - x->woff, err, sizeof(err));
        if (n > 0) {
            x->woff += (size_t)n;
            continue;
        }
        if (n == TG_UP_TLS_WANT_WRITE || n == TG_UP_TLS_WANT_READ) {
            c->write_wants_read = n == TG_UP_TLS_WANT_READ;
            wev_set(c, n == TG_UP_TLS_WANT_WRITE);
            return GO_ON;
        }
        return conn_lost(c, err);
    }
    return GO_ON;
}

/* Write what is left of the request; at the end wait for the answer. */
static int send_some(struct conn *c)
{
    struct tg_up_xfer *x = c->x;
    size_t total = x->req.head.len + x->req.body.len;
    int rc = c->ssl ? send_tls(c, x, total) : send_plain(c, x, total);

    if (rc != GO_ON || x->woff < total)
        return rc;
    wev_set(c, 0);
    c->write_wants_read = 0;
    c->state = C_RECV;
    free(x->wbuf);
    x->wbuf = NULL;
    return GO_ON;
}

/* ---- receiving ---- */

/* Call a consumer callback; STOP when the exchange ended meanwhile. */
static int call_head(struct conn *c, const struct tg_up_response *resp)
{
    struct tg_up_xfer *x = c->x;
    int rc;

    x->in_cb++;
    rc = x->cb->on_head(x->arg, resp);
    x->in_cb--;
    if (x->cancelled)
        return finish_cancel(c);
    if (rc != 0)
        return conn_fail(c, TG_UP_EABORT, "stopped by the caller after the head");
    return GO_ON;
}

static int call_body(struct conn *c, tg_iovec_t data)
{
    struct tg_up_xfer *x = c->x;
    int rc;

    x->in_cb++;
    rc = x->cb->on_body(x->arg, data.base, data.len);
    x->in_cb--;
    if (x->cancelled)
        return finish_cancel(c);
    if (rc != 0)
        return conn_fail(c, TG_UP_EABORT, "stopped by the caller in the body");
    return x->paused ? STOP : GO_ON;
}

static int head_arrived(struct conn *c)
{
    struct tg_up_xfer *x = c->x;
    struct tg_up_response resp;

    x->head_seen = 1;
    evtimer_del(x->deadline);
    resp.status = c->p.status;
    resp.minor = c->p.minor;
    resp.framing = c->p.framing;
    resp.content_length = c->p.content_length;
    resp.head = c->buf + c->rpos;
    resp.head_len = c->p.head_len;
    if (call_head(c, &resp) != GO_ON)
        return STOP;
    c->rpos += c->p.head_len;
    return GO_ON;
}

/* Parse what the buffer holds and hand it on. */
static int process(struct conn *c)
{
    struct tg_up_xfer *x = c->x;

    while (!x->head_seen) {
        int rc = tg_up_parse_head(&c->p, c->buf + c->rpos, c->rlen - c->rpos);
        if (rc == TG_UP_MORE)
            return GO_ON;
        if (rc == TG_UP_ERR)
            return conn_fail(c, TG_UP_EPROTO, "response refused: %s (byte %llu)", c->p.error,
                             (unsigned long long)c->p.error_at);
        if (rc == TG_UP_INFO) {
            c->rpos += c->p.head_len;
            continue;
        }
        if (head_arrived(c) != GO_ON)
            return STOP;
    }
    while (!x->paused) {
        tg_iovec_t data;
        size_t used;
        int rc = tg_up_parse_body(&c->p, c->buf + c->rpos, c->rlen - c->rpos, &used, &data);

        c->rpos += used;
        if (rc == TG_UP_DATA) {
            if (call_body(c, data) != GO_ON)
                return STOP;
        } else if (rc == TG_UP_MORE) {
            c->rpos = c->rlen = 0;
            if (!x->silence) { /* the body goes on past this read: limit its silences */
                struct timeval tv = ms_tv(x->req.timeout_ms);
                x->silence = 1;
                event_add(c->rev, &tv);
            }
            return GO_ON;
        } else if (rc == TG_UP_END) {
            return complete(c);
        } else {
            return conn_fail(c, TG_UP_EPROTO, "response refused: %s (byte %llu)", c->p.error,
                             (unsigned long long)c->p.error_at);
        }
    }
    return STOP;
}

/* The server closed the connection. */
static int at_eof(struct conn *c, int clean)
{
    struct tg_up_xfer *x = c->x;

    if (!x->got_bytes)
        return conn_lost(c, "the server closed the connection without answering");
    /* bytes that never made a head are not HTTP; a body cut short is a reset */
    if (tg_up_parse_eof(&c->p) != TG_UP_END)
        return conn_fail(c, x->head_seen ? TG_UP_ERESET : TG_UP_EPROTO, "%s", c->p.error);
    if (c->ssl && !clean && c->p.framing == TG_UP_BODY_CLOSE) /* could be a truncation */
        return conn_fail(c, TG_UP_ERESET, "TLS closed without close_notify mid-body");
    c->broken = 1;
    return complete(c);
}

/* Make room at the end of the buffer (the head may need to grow it). */
static void make_room(struct conn *c)
{
    size_t limit = c->pool->o.max_head + 1; /* enough for the parser to see "too large" */

    if (c->rpos == c->rlen)
        c->rpos = c->rlen = 0;
    if (c->rlen < c->cap)
        return;
    if (c->rpos > 0) {
        memmove(c->buf, c->buf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
        return;
    }
    TG_UP_CHECK(!c->x->head_seen && c->cap < limit);
    c->cap = c->cap * 2 < limit ? c->cap * 2 : limit;
    c->buf = realloc(c->buf, c->cap);
    if (c->buf == NULL)
        abort();
}

static int read_some(struct conn *c)
{
    struct tg_up_xfer *x = c->x;
    char err[160];

    /* first what a pause left: bytes, or the end of a body already read */
    if (x->paused || process(c) != GO_ON)
        return STOP;
    for (;;) {
        size_t room;
        long n;
        int clean = 0;

        make_room(c);
        room = c->cap - c->rlen;
        if (c->ssl) {
            n = tg_up_tls_read(c->ssl, c->buf + c->rlen, room, &clean, err, sizeof(err));
            if (n == TG_UP_TLS_WANT_READ || n == TG_UP_TLS_WANT_WRITE) {
                wev_set(c, n == TG_UP_TLS_WANT_WRITE);
                return GO_ON;
            }
        } else {
            n = read(c->fd, c->buf + c->rlen, room);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return GO_ON;
            if (n < 0)
                snprintf(err, sizeof(err), "%s", strerror(errno));
        }
        if (n == 0)
            return at_eof(c, clean);
        if (n < 0)
            return conn_lost(c, err);
        x->got_bytes = 1;
        c->rlen += (size_t)n;
        if (process(c) != GO_ON)
            return STOP;
        /* a short read emptied the socket; a TLS session may hold more */
        if ((size_t)n < room && !(c->ssl && tg_up_tls_pending(c->ssl)))
            return GO_ON;
    }
}

/* An idle connection became readable: the server closed it (or wrote
 * something nobody asked for). Either way it cannot carry a request. */
static void idle_readable(struct conn *c)
{
    char b;
    long n;
    int clean;

    if (c->ssl) {
        char err[160];
        n = tg_up_tls_read(c->ssl, &b, 1, &clean, err, sizeof(err));
        if (n == TG_UP_TLS_WANT_READ) /* a TLS record without data (session ticket) */
            return;
    } else {
        n = recv(c->fd, &b, 1, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
    }
    c->pool->st.idle_closed++;
    c->broken = 1;
    conn_close(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    if (what & EV_TIMEOUT) {
        if (c->state == C_IDLE) {
            c->pool->st.idle_expired++;
            conn_close(c);
            return;
        }
        conn_fail(c, TG_UP_ETIMEOUT, "no response data for %d ms", c->x->req.timeout_ms);
        return;
    }
    switch (c->state) {
    case C_IDLE: idle_readable(c); return;
    case C_HANDSHAKE: handshake(c); return;
    case C_SEND:
        if (c->write_wants_read) {
            c->write_wants_read = 0;
            send_some(c);
            return;
        }
        read_some(c); /* an early answer, or the server closing */
        return;
    case C_RECV: read_some(c); return;
    default: return;
    }
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    switch (c->state) {
    case C_CONNECTING: connected(c); return;
    case C_HANDSHAKE: handshake(c); return;
    case C_SEND: send_some(c); return;
    case C_RECV: /* SSL_read wanted to write */
        wev_set(c, 0);
        read_some(c);
        return;
    default: wev_set(c, 0); return;
    }
}

/* ---- exchanges ---- */

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct tg_up_xfer *x = arg;
    if (x->c != NULL)
        conn_fail(x->c, TG_UP_ETIMEOUT, "no response within %d ms", x->req.timeout_ms);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    struct tg_up_xfer *x = arg;

    if (x->pending) {
        x->pending = 0;
        deliver(x, x->err, x->detail);
        return;
    }
    if (x->resume_pending) {
        x->resume_pending = 0;
        if (x->c != NULL && (x->c->state == C_RECV || x->c->state == C_SEND))
            read_some(x->c);
    }
}

static struct tg_up_xfer *xfer_get(struct tg_up_pool *pool)
{
    struct tg_up_xfer *x = pool->free_x;

    if (x != NULL) {
        struct event *deadline = x->deadline, *later = x->later;
        pool->free_x = x->next_free;
        pool->n_free_x--;
        memset(x, 0, sizeof(*x));
        x->deadline = deadline;
        x->later = later;
    } else {
        x = xcalloc(sizeof(*x));
        x->deadline = evtimer_new(pool->base, on_deadline, x);
        x->later = event_new(pool->base, -1, 0, on_later, x);
        if (x->deadline == NULL || x->later == NULL)
            abort();
    }
    x->pool = pool;
    x->lnext = pool->live;
    if (pool->live)
        pool->live->lprev = x;
    pool->live = x;
    return x;
}

/* Give the exchange a connection: a pooled one writes at once, a new one
 * once it is up. */
static void attach(struct conn *c, struct tg_up_xfer *x)
{
    struct tg_up_pool *pool = c->pool;

    c->x = x;
    x->c = c;
    x->got_bytes = x->head_seen = 0;
    if (c->buf == NULL) {
        c->buf = buf_get(pool);
        c->cap = BUF_SIZE;
    }
    c->rpos = c->rlen = 0;
    tg_up_parser_init(&c->p, pool->o.max_head, x->req.head_request);
    if (c->state == C_IDLE) {
        idle_unlink(c);
        pool->st.busy++;
        pool->st.reuses++;
        event_remove_timer(c->rev); /* the idle limit; the read event stays */
        c->state = C_SEND;
        send_some(c);
        return;
    }
    resolve(c);
}

struct tg_up_xfer *tg_up_send(struct tg_up_pool *pool, const struct tg_up_request *req,
                              const struct tg_up_callbacks *cb, void *arg)
{
    struct tg_up_xfer *x = xfer_get(pool);
    struct timeval tv;
    struct conn *c = pool->idle;

    x->req = *req;
    if (x->req.timeout_ms <= 0)
        x->req.timeout_ms = pool->o.timeout_ms;
    x->cb = cb;
    x->arg = arg;
    tv = ms_tv(x->req.timeout_ms);
    evtimer_add(x->deadline, &tv);
    x->in_send = 1;
    if (c == NULL)
        c = conn_new(pool);
    attach(c, x);
    x->in_send = 0;
    return x;
}

void tg_up_pause(struct tg_up_xfer *x)
{
    if (x->paused || x->done)
        return;
    x->paused = 1;
    if (x->c != NULL && (x->c->state == C_SEND || x->c->state == C_RECV))
        event_del(x->c->rev);
}

void tg_up_resume(struct tg_up_xfer *x)
{
    struct timeval tv = ms_tv(x->req.timeout_ms);

    if (!x->paused || x->done)
        return;
    x->paused = 0;
    if (x->c == NULL || (x->c->state != C_SEND && x->c->state != C_RECV))
        return;
    x->silence = x->head_seen;
    event_add(x->c->rev, x->head_seen ? &tv : NULL);
    /* what was read (or decrypted) before the pause is not signalled by the
     * socket again, nor is the end of a body whose last bytes came in */
    x->resume_pending = 1;
    event_active(x->later, EV_TIMEOUT, 0);
}

void tg_up_cancel(struct tg_up_xfer *x)
{
    struct conn *c = x->c;

    if (x->done || x->cancelled)
        return;
    x->cancelled = 1;
    if (x->in_cb > 0)
        return; /* finished by the code that called the callback */
    if (c != NULL) {
        detach(c);
        c->broken = 1;
        conn_close(c);
    }
    xfer_recycle(x);
}

/* ---- pool ---- */

struct tg_up_pool *tg_up_pool_new(struct event_base *base, struct evdns_base *dns,
                                  const struct tg_up_target *t, const struct tg_up_opts *opts)
{
    struct tg_up_pool *pool = xcalloc(sizeof(*pool));

    pool->base = base;
    pool->dns = dns;
    pool->host = strdup(t->host);
    pool->tls_name = strdup(t->tls_name ? t->tls_name : t->host);
    if (pool->host == NULL || pool->tls_name == NULL)
        abort();
    snprintf(pool->port, sizeof(pool->port), "%d", t->port);
    pool->ssl_ctx = t->ssl_ctx;
    if (opts)
        pool->o = *opts;
    if (pool->o.max_idle <= 0)
        pool->o.max_idle = 64;
    if (pool->o.idle_timeout_ms <= 0)
        pool->o.idle_timeout_ms = 90 * 1000;
    if (pool->o.connect_timeout_ms <= 0)
        pool->o.connect_timeout_ms = 10 * 1000;
    if (pool->o.timeout_ms <= 0)
        pool->o.timeout_ms = 5 * 60 * 1000;
    if (pool->o.max_head == 0)
        pool->o.max_head = 64 * 1024;
    /* under load every busy connection needs one: malloc + free of 16 KiB per
     * request (and glibc consolidating) otherwise */
    pool->free_bufs = calloc((size_t)pool->o.max_idle, sizeof(*pool->free_bufs));
    if (pool->free_bufs == NULL)
        abort();
    return pool;
}

void tg_up_pool_free(struct tg_up_pool *pool)
{
    struct tg_up_xfer *x;

    if (pool == NULL)
        return;
    while ((x = pool->live) != NULL) {
        if (x->c != NULL) {
            struct conn *c = x->c;
            detach(c);
            conn_close(c);
        }
        x->done = 1;
        xfer_recycle(x);
    }
    while (pool->conns != NULL)
        conn_close(pool->conns);
    while ((x = pool->free_x) != NULL) {
        pool->free_x = x->next_free;
        event_free(x->deadline);
        event_free(x->later);
        free(x);
    }
    while (pool->n_free_bufs > 0)
        free(pool->free_bufs[--pool->n_free_bufs]);
    free(pool->free_bufs);
    free(pool->host);
    free(pool->tls_name);
    free(pool);
}

const struct tg_up_stats *tg_up_pool_stats(const struct tg_up_pool *pool)
{
    return &pool->st;
}

/* ---- request heads ---- */

void tg_up_head_start(tg_sb_t *sb, tg_iovec_t method, tg_iovec_t target, tg_iovec_t host)
{
    /* our own code built these: what would split the request line is a bug */
    TG_UP_CHECK(tg_up_is_token(method) && target.len > 0 && tg_up_is_value(host) &&
                memchr(target.base, ' ', target.len) == NULL &&
                memchr(target.base, '\r', target.len) == NULL &&
                memchr(target.base, '\n', target.len) == NULL &&
                memchr(target.base, '\0', target.len) == NULL);
    tg_sb_reserve(sb, method.len + target.len + host.len + 24);
    tg_sb_addiov(sb, method);
    tg_sb_addc(sb, ' ');
    tg_sb_addiov(sb, target);
    tg_sb_add(sb, " HTTP/1.1\r\nHost: ", 17);
    tg_sb_addiov(sb, host);
    tg_sb_add(sb, "\r\n", 2);
}

int tg_up_head_add(tg_sb_t *sb, tg_iovec_t name, tg_iovec_t value)
{
    if (!tg_up_is_token(name) || !tg_up_is_value(value))
        return -1;
    tg_sb_reserve(sb, name.len + value.len + 4);
    tg_sb_addiov(sb, name);
    tg_sb_add(sb, ": ", 2);
    tg_sb_addiov(sb, value);
    tg_sb_add(sb, "\r\n", 2);
    return 0;
}

void tg_up_head_end(tg_sb_t *sb)
{
    tg_sb_add(sb, "\r\n", 2);
}
