/*
 * Stage 5, upstream: send the enforced request to the upstream over a pooled
 * keep-alive connection and stream the answer back.
 *
 * Backpressure (after libevent's le-proxy): when the client's output buffer
 * grows past HIGH_WATER we stop reading from the upstream, and resume once
 * evhttp tells us the client has taken everything. Memory per response stays
 * around one read plus the watermark, whatever the response size.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "tenantgate/conn.h"
#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/server-t.h"
#include "tenantgate/stages.h"
#include "tenantgate/upstream.h"

#define HIGH_WATER (256 * 1024)

struct fwd {
    struct tg_req *r;
    struct tg_upconn *uc;
    struct evhttp_request *ureq;     /* NULL once evhttp is done with it */
    struct event *timer;
    int headers_seen;                /* response headers arrived */
    int started;                     /* reply started toward the client */
    int paused;                      /* upstream reads stopped (backpressure) */
    const char *error_kind;          /* connect / timeout / reset / protocol */
};

static void fwd_free(struct fwd *f)
{
    if (f->timer)
        event_free(f->timer);
    f->r->stage_data = NULL;
}

/* Give the upstream connection back and forget the upstream request. */
static void fwd_detach(struct fwd *f, int reusable)
{
    if (f->uc) {
        tg_upstream_release(f->uc, reusable);
        f->uc = NULL;
    }
    f->ureq = NULL;
}

static struct bufferevent *upstream_bev(struct fwd *f)
{
    return f->uc ? evhttp_connection_get_bufferevent(tg_upconn_evcon(f->uc)) : NULL;
}

/* Cut a response that cannot be completed: the client must see a truncated
 * transfer, never a clean end of a partial answer. */
static void abort_client(struct tg_req *r)
{
    struct evhttp_connection *evcon = r->ev ? evhttp_request_get_connection(r->ev) : NULL;
    if (evcon != NULL)
        evhttp_connection_free(evcon); /* ends the request through the close callback */
}

static void fail(struct fwd *f, int status, const char *kind, const char *msg)
{
    struct tg_req *r = f->r;
    int started = f->started;

    r->upstream_error = kind;
    fwd_free(f);
    if (!started) {
        tg_req_error(r, status, status == 504 ? "timeout" : "unavailable", "upstream: %s", msg);
        tg_req_resume(r, TG_DONE);
    } else {
        tg_req_resume(r, TG_DONE);
        abort_client(r);
    }
}

static void copy_response_headers(struct tg_req *r, struct evhttp_request *ureq)
{
    static const char *const keep[] = {"Content-Type", "Content-Encoding", "Content-Length",
                                       "Cache-Control", "Vary", "Warning", NULL};
    struct evkeyvalq *in = evhttp_request_get_input_headers(ureq);
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    const char *const *k;

    for (k = keep; *k; k++) {
        const char *v = evhttp_find_header(in, *k);
        if (v != NULL)
            evhttp_add_header(out, *k, v);
    }
}

static int on_headers(struct evhttp_request *ureq, void *arg)
{
    struct fwd *f = arg;
    struct tg_req *r = f->r;

    f->headers_seen = 1;
    evtimer_del(f->timer);
    if (r->ev == NULL)
        return -1;
    copy_response_headers(r, ureq);
    r->status = evhttp_request_get_response_code(ureq);
    f->started = 1;
    tg_conn_reply_started(r);
    evhttp_send_reply_start(r->ev, r->status, evhttp_request_get_response_code_line(ureq));
    return 0;
}

static void on_client_drained(struct evhttp_connection *evcon, void *arg)
{
    struct fwd *f = arg;
    struct bufferevent *ub = upstream_bev(f);
    if (f->paused && ub != NULL) {
        f->paused = 0;
        bufferevent_enable(ub, EV_READ);
    }
}

static void on_chunk(struct evhttp_request *ureq, void *arg)
{
    struct fwd *f = arg;
    struct tg_req *r = f->r;
    struct evbuffer *in = evhttp_request_get_input_buffer(ureq);
    struct bufferevent *cb = tg_conn_client_bev(r);

    if (r->ev == NULL || !f->started)
        return;
    r->bytes_out += evbuffer_get_length(in);
    evhttp_send_reply_chunk_with_cb(r->ev, in, on_client_drained, f);
    if (cb != NULL && evbuffer_get_length(bufferevent_get_output(cb)) > HIGH_WATER) {
        f->paused = 1;
        bufferevent_disable(upstream_bev(f), EV_READ);
    }
}

static void on_error(enum evhttp_request_error e, void *arg)
{
    struct fwd *f = arg;
    switch (e) {
    case EVREQ_HTTP_TIMEOUT: f->error_kind = "timeout"; break;
    case EVREQ_HTTP_EOF: f->error_kind = f->headers_seen ? "reset" : "connect"; break;
    case EVREQ_HTTP_REQUEST_CANCEL: f->error_kind = "cancelled"; break;
    default: f->error_kind = "protocol"; break;
    }
}

/* evhttp calls this once: response complete, or failure (ureq NULL or code 0). */
static void on_done(struct evhttp_request *ureq, void *arg)
{
    struct fwd *f = arg;
    struct tg_req *r = f->r;
    int ok = ureq != NULL && evhttp_request_get_response_code(ureq) != 0 && f->error_kind == NULL;

    if (!ok) {
        const char *kind = f->error_kind ? f->error_kind : "connect";
        tg_warn("req %llu: upstream %s error", (unsigned long long)r->id, kind);
        fwd_detach(f, 0);
        fail(f, 502, kind, strcmp(kind, "connect") == 0 ? "connection failed" : "bad response");
        return;
    }
    fwd_detach(f, 1);
    fwd_free(f);
    tg_req_resume(r, TG_DONE);
    if (r->ev != NULL)
        evhttp_send_reply_end(r->ev);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct fwd *f = arg;
    struct evhttp_request *ureq = f->ureq;
    struct tg_upconn *uc = f->uc;

    f->ureq = NULL;
    f->uc = NULL;
    f->error_kind = "timeout";
    evhttp_cancel_request(ureq); /* calls on_error(CANCEL) synchronously, never on_done */
    tg_upstream_release(uc, 0);
    fail(f, 504, "timeout", "no response within --upstream-timeout");
}

/* The client went away while we wait: drop the upstream request. */
static void on_cancel(struct tg_req *r, void *arg)
{
    struct fwd *f = arg;
    if (f->ureq != NULL) {
        evhttp_cancel_request(f->ureq);
        f->ureq = NULL;
    }
    fwd_detach(f, 0);
    fwd_free(f);
}

static void copy_request_headers(struct tg_req *r, struct evhttp_request *ureq, size_t body_len)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(r->ev);
    struct evkeyvalq *out = evhttp_request_get_output_headers(ureq);
    const char *xff = evhttp_find_header(in, "X-Forwarded-For");
    const char *peer = tg_conn_peer(r);
    struct evkeyval *h;

    TAILQ_FOREACH(h, in, next)
    {
        tg_iovec_t name = tg_iov_str(h->key);
        if (tg_http_header_is_hop_by_hop(name) || tg_http_header_is_credential(name) ||
            !strcasecmp(h->key, "Host") || !strcasecmp(h->key, "Content-Length") ||
            !strcasecmp(h->key, "Content-Type") || !strcasecmp(h->key, "X-Forwarded-For") ||
            !strcasecmp(h->key, "Expect") ||
            (r->filter != TG_ROUTE_PASS && !strcasecmp(h->key, "Accept-Encoding")) ||
            (r->cfg->header_name && !strcasecmp(h->key, r->cfg->header_name)) ||
            (r->cfg->upstream_tenant_header && !strcasecmp(h->key, r->cfg->upstream_tenant_header)))
            continue;
        evhttp_add_header(out, h->key, h->value);
    }
    evhttp_add_header(out, "Host", tg_upstream_host_header(r->srv->upstream).base);
    evhttp_add_header(out, "X-Forwarded-For",
                      xff ? tg_arena_printf(&r->arena, "%s, %s", xff, peer) : peer);
    if (r->cfg->upstream_tenant_header && r->n_tenants > 0) {
        tg_sb_t v;
        size_t i;
        tg_sb_init(&v, &r->arena, 64);
        for (i = 0; i < r->n_tenants; i++) {
            if (i)
                tg_sb_addc(&v, ',');
            tg_sb_addiov(&v, r->tenants[i]);
        }
        evhttp_add_header(out, r->cfg->upstream_tenant_header, tg_sb_cstr(&v));
    }
    if (r->up_post) {
        evhttp_add_header(out, "Content-Type", "application/x-www-form-urlencoded");
        evhttp_add_header(out, "Content-Length", tg_arena_printf(&r->arena, "%zu", body_len));
    }
}

static const char *upstream_uri(struct tg_req *r)
{
    tg_sb_t uri;
    tg_sb_init(&uri, &r->arena, 256);
    tg_sb_addiov(&uri, tg_upstream_prefix(r->srv->upstream));
    tg_sb_addiov(&uri, r->up_path.len ? r->up_path : r->path);
    if (!r->up_post && r->up_args.len > 0) {
        tg_sb_addc(&uri, '?');
        tg_sb_addiov(&uri, tg_sb_iov(&r->up_args));
    }
    return tg_sb_cstr(&uri);
}

enum tg_verdict tg_stage_upstream(struct tg_req *r)
{
    struct fwd *f = tg_arena_calloc(&r->arena, sizeof(*f));
    struct timeval tv = {r->cfg->upstream_timeout_ms / 1000,
                         (r->cfg->upstream_timeout_ms % 1000) * 1000};
    size_t body_len = r->up_post ? r->up_args.len : 0;

    f->r = r;
    f->uc = tg_upstream_acquire(r->srv->upstream);
    f->ureq = evhttp_request_new(on_done, f);
    evhttp_request_set_header_cb(f->ureq, on_headers);
    evhttp_request_set_chunked_cb(f->ureq, on_chunk);
    evhttp_request_set_error_cb(f->ureq, on_error);
    copy_request_headers(r, f->ureq, body_len);
    if (body_len)
        evbuffer_add(evhttp_request_get_output_buffer(f->ureq), r->up_args.base, body_len);
    f->timer = evtimer_new(r->srv->base, on_timeout, f);
    evtimer_add(f->timer, &tv);
    r->stage_data = f;
    tg_req_on_cancel(r, on_cancel, f);
    if (evhttp_make_request(tg_upconn_evcon(f->uc), f->ureq,
                            r->up_post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET, upstream_uri(r)) != 0) {
        /* evhttp freed the request */
        f->ureq = NULL;
        fwd_detach(f, 0);
        fwd_free(f);
        return tg_req_error(r, 502, "unavailable", "upstream: cannot send request");
    }
    return TG_WAIT;
}
