/*
 * Our HTTP/1.1 client (lib/upstream/client.c): one keep-alive pool per
 * target server, exchanges streamed through callbacks, on one libevent loop.
 * Plain non-blocking sockets and events: a request is one sendmsg (head +
 * body; with TLS one SSL_write), a write event is armed only when the socket
 * is full, and a pooled connection's read event stays armed while it is idle,
 * so that the server closing it is seen at once (and a request costs no
 * epoll_ctl). The response is parsed in place by the one strict parser
 * (upstream_parse.h) and its body handed on as it arrives.
 *
 * One exchange: tg_up_send() -> on_head (once) -> on_body (any number of
 * times) -> on_done (exactly once, unless tg_up_cancel() came first). No
 * callback ever runs inside tg_up_send(). A callback may call tg_up_pause(),
 * tg_up_resume() and tg_up_cancel() on its own exchange; returning -1 from
 * on_head/on_body ends the exchange with TG_UP_EABORT.
 *
 * Retry: a request marked idempotent is sent again, once, on a new connection
 * when the reused connection it went out on failed (closed, reset) before any
 * byte of the response arrived: the server closed an idle connection as we
 * reused it. Nothing else is ever retried.
 *
 * Ownership: the pool owns its connections and exchanges; a struct
 * tg_up_xfer is valid from tg_up_send() until on_done returns or
 * tg_up_cancel() is called, never after. The caller's request bytes
 * (head, body) and `arg` must stay valid as long. The target's SSL_CTX and
 * strings are borrowed for the pool's life. The response view given to
 * on_head and the bytes given to on_body are valid during that call only.
 */
#ifndef TENANTGATE_UPSTREAM_CLIENT_H
#define TENANTGATE_UPSTREAM_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "tenantgate/iovec.h"
#include "tenantgate/sb.h"
#include "tenantgate/upstream_parse.h"

struct event_base;
struct evdns_base;
struct ssl_ctx_st;
struct tg_up_pool;
struct tg_up_xfer;

struct tg_up_target {
    const char *host; /* DNS name or IP literal (no brackets) */
    int port;
    struct ssl_ctx_st *ssl_ctx; /* NULL: plain HTTP */
    const char *tls_name;       /* name verified and sent as SNI; NULL: host */
};

struct tg_up_opts {
    int max_idle;           /* idle connections kept (default 64) */
    int idle_timeout_ms;    /* an idle connection is closed after this (default 90 s) */
    int connect_timeout_ms; /* TCP connect + TLS handshake (default 10 s) */
    int timeout_ms;         /* default per-request timeout (see tg_up_request) */
    size_t max_head;        /* response head limit (default 64 KiB) */
};

struct tg_up_request {
    tg_iovec_t head;  /* the complete request head (tg_up_head_*) */
    tg_iovec_t body;  /* may be empty */
    int idempotent;   /* may be sent again after a stale connection (see above) */
    int head_request; /* the method is HEAD: the response has no body */
    int timeout_ms;   /* until the response head is complete, and then the longest
                       * silence while the body streams; 0: the pool's default */
};

/* The response head, during on_head. */
struct tg_up_response {
    int status;
    int minor; /* HTTP/1.<minor> */
    enum tg_up_framing framing;
    uint64_t content_length; /* with TG_UP_BODY_LENGTH */
    const char *head;        /* the head's bytes, for tg_up_header_next/get */
    size_t head_len;
};

enum tg_up_error {
    TG_UP_OK,       /* the response is complete */
    TG_UP_ECONNECT, /* no connection (DNS, refused, TLS handshake or verification) */
    TG_UP_ETIMEOUT, /* connect timeout, no head within the timeout, or body silence */
    TG_UP_ERESET,   /* the server closed or reset the connection mid-exchange */
    TG_UP_EPROTO,   /* the response was refused by the parser, or a TLS error */
    TG_UP_EABORT,   /* a callback returned -1 */
};

struct tg_up_callbacks {
    /* 0 to go on, -1 to end the exchange (TG_UP_EABORT) */
    int (*on_head)(void *arg, const struct tg_up_response *resp);
    int (*on_body)(void *arg, const char *data, size_t len);
    /* detail: why, for the log (NULL with TG_UP_OK); valid during the call */
    void (*on_done)(void *arg, enum tg_up_error err, const char *detail);
};

/* What the pool did, for tests and metrics. */
struct tg_up_stats {
    uint64_t connects;     /* connections opened */
    uint64_t reuses;       /* exchanges sent on a pooled connection */
    uint64_t retries;      /* idempotent requests sent again after a stale connection */
    uint64_t idle_closed;  /* idle connections the server closed (or wrote to) */
    uint64_t idle_expired; /* idle connections we closed after idle_timeout_ms */
    int idle;              /* idle connections now */
    int busy;              /* connections carrying an exchange now */
};

/* opts may be NULL (defaults); zero fields take the defaults. dns may be
 * NULL when the host is an IP literal. */
struct tg_up_pool *tg_up_pool_new(struct event_base *base, struct evdns_base *dns,
                                  const struct tg_up_target *t, const struct tg_up_opts *opts);
/* Closes every connection; exchanges still running end without a callback. */
void tg_up_pool_free(struct tg_up_pool *pool);
const struct tg_up_stats *tg_up_pool_stats(const struct tg_up_pool *pool);

/* Start an exchange. NULL only when nothing can be started at all (no
 * socket); every later failure comes through on_done. */
struct tg_up_xfer *tg_up_send(struct tg_up_pool *pool, const struct tg_up_request *req,
                              const struct tg_up_callbacks *cb, void *arg);
/* Backpressure: stop reading the response / go on (bytes already read are
 * delivered first). Pausing also stops the body-silence timer. */
void tg_up_pause(struct tg_up_xfer *x);
void tg_up_resume(struct tg_up_xfer *x);
/* End the exchange now, without a callback; its connection is closed. */
void tg_up_cancel(struct tg_up_xfer *x);

/* Request head builder, into sb (an arena's, typically):
 *   tg_up_head_start(sb, "GET", target, host); tg_up_head_add(...)...; tg_up_head_end(sb);
 * tg_up_head_add refuses (-1, nothing added) a name that is not a token or a
 * value with CR, LF, NUL or another control byte but HTAB: no header injection,
 * whatever the caller passes on. Content-Length is the caller's to add. */
void tg_up_head_start(tg_sb_t *sb, tg_iovec_t method, tg_iovec_t target, tg_iovec_t host);
int tg_up_head_add(tg_sb_t *sb, tg_iovec_t name, tg_iovec_t value);
void tg_up_head_end(tg_sb_t *sb);

#endif
