/*
 * The request chain: one table of stages walked in one place. A request is
 * created here when evhttp has read it, runs the stages in order, is
 * suspended and resumed by them, and is ended here exactly once, whether it
 * was answered or the client went away. See include/tenantgate/req.h.
 *
 * Reading order for one request: tg_req_start() -> tg_req_run() -> the
 * stages of tg_chain (route, authn, authz, enforce, limit, upstream, each in
 * lib/stage_<name>.c) -> on_complete() or tg_req_client_gone() ->
 * tg_req_end().
 */
#include "tenantgate/req.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "tenantgate/alertmanager.h"
#include "tenantgate/conn.h"
#include "tenantgate/core.h"
#include "tenantgate/log.h"
#include "tenantgate/sb.h"
#include "tenantgate/server.h"
#include "tenantgate/stages.h"

/* The first arena block lives in the same allocation as the request context,
 * large enough that most requests never allocate again; the server keeps up
 * to REQ_CACHE finished blocks for the next requests (a block of this size
 * costs malloc and free ~2k instructions per request: glibc's large-chunk
 * path). Not under ASan, which must see a finished request's memory die. */
#define REQ_BLOCK 16384
#if defined(__SANITIZE_ADDRESS__)
#define REQ_CACHE 0
#else
#define REQ_CACHE 32
#endif

struct req_block {
    struct req_block *next;
};

static void *block_get(struct tg_server *srv)
{
    struct req_block *b = srv->req_cache;

    if (b == NULL)
        return tg_malloc(REQ_BLOCK);
    srv->req_cache = b->next;
    srv->n_req_cache--;
    return b;
}

static void block_put(struct tg_server *srv, void *p)
{
    struct req_block *b = p;

#if REQ_CACHE > 0
    if (srv->n_req_cache >= REQ_CACHE)
#endif
    {
        free(p);
        return;
    }
    b->next = srv->req_cache;
    srv->req_cache = b;
    srv->n_req_cache++;
}

void tg_req_cache_free(struct tg_server *srv)
{
    while (srv->req_cache != NULL) {
        struct req_block *b = srv->req_cache;
        srv->req_cache = b->next;
        free(b);
    }
    srv->n_req_cache = 0;
}

const tg_stage_fn tg_chain[TG_N_STAGES] = {
    [TG_STAGE_ROUTE] = tg_stage_route, [TG_STAGE_AUTHN] = tg_stage_authn,
    [TG_STAGE_AUTHZ] = tg_stage_authz, [TG_STAGE_ENFORCE] = tg_stage_enforce,
    [TG_STAGE_LIMIT] = tg_stage_limit, [TG_STAGE_UPSTREAM] = tg_stage_upstream,
};

uint64_t tg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct tg_req *tg_req_new(struct tg_server *srv, const struct tg_req_in *in)
{
    /* only the context is zeroed: the arena part needs no clearing (calloc
     * of the whole block was ~6% of a request's instructions) */
    struct tg_req *r = block_get(srv);

    memset(r, 0, sizeof(*r));
    tg_arena_init(&r->arena, (char *)(r + 1), REQ_BLOCK - sizeof(*r));
    r->srv = srv;
    r->cfg = tg_config_ref(srv->cfg);
    r->method = in->method;
    r->uri = in->uri;
    r->in_headers = in->headers;
    r->in_body = in->body;
    r->id = ++srv->next_req_id;
    r->start_ns = tg_now_ns();
    srv->stats.in_flight++;
    srv->stats.requests++;
    return r;
}

/* evhttp has sent the whole response: it frees `ev` when this returns. */
static void on_complete(struct evhttp_request *ev, void *arg)
{
    struct tg_req *r = arg;

    (void)ev;
    r->ev = NULL;
    tg_req_end(r);
}

void tg_req_start(struct tg_server *srv, struct evhttp_request *ev)
{
    struct tg_conn *c = tg_conn_take_request(srv, ev);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(ev);
    struct tg_req_in in;
    struct tg_req *r;

    if (c == NULL)
        return; /* the connection answered it (a request the framing check refused) */
    in.method = cmd == EVHTTP_REQ_GET      ? TG_M_GET
                : cmd == EVHTTP_REQ_POST   ? TG_M_POST
                : cmd == EVHTTP_REQ_DELETE ? TG_M_DELETE
                                           : 0;
    in.uri = evhttp_request_get_uri(ev);
    in.headers = evhttp_request_get_input_headers(ev);
    in.body = evhttp_request_get_input_buffer(ev);
    r = tg_req_new(srv, &in);
    r->ev = ev;
    r->conn = c;
    tg_conn_attach(c, r);
    evhttp_request_set_on_complete_cb(ev, on_complete, r);
    tg_req_run(r);
}

void tg_req_client_gone(struct tg_req *r)
{
    /* A request evhttp detached from the failed connection is ours to free;
     * one still attached is freed by evhttp right after this returns. */
    if (r->ev != NULL && evhttp_request_get_connection(r->ev) == NULL)
        evhttp_request_free(r->ev);
    r->ev = NULL;
    tg_req_end(r);
}

/* A stage ended the request's run: check what the chain promises. */
static void stage_returned(struct tg_req *r, enum tg_verdict v)
{
    /* answered means a status was chosen (the client may have gone since) */
    TG_CHECK(v != TG_DONE || r->status != 0);
    if (v == TG_WAIT) {
        r->suspended = 1;
        tg_conn_watch_close(r);
    }
}

void tg_req_run(struct tg_req *r)
{
    const tg_stage_fn *stages = r->srv->stages;
    unsigned n = r->srv->n_stages;

    TG_CHECK(!r->suspended && r->status == 0);
    while (r->stage < n) {
        enum tg_verdict v = stages[r->stage](r);
        if (v != TG_NEXT) {
            stage_returned(r, v);
            return;
        }
        r->stage++;
    }
    /* The last stage of a whole chain answers or waits: a request that falls
     * off its end would never be answered. Only a chain cut short on purpose
     * (test/fuzz/fuzz_request.c stops before the upstream) gets here. */
    TG_CHECK(stages != tg_chain || n < TG_N_STAGES);
}

void tg_req_resume(struct tg_req *r, enum tg_verdict v)
{
    TG_CHECK(r->suspended);
    r->suspended = 0;
    r->cancel = NULL;
    r->cancel_arg = NULL;
    tg_conn_unwatch_close(r);
    if (v == TG_NEXT) {
        r->stage++;
        tg_req_run(r);
        return;
    }
    stage_returned(r, v); /* TG_WAIT: the stage started another wait (streaming) */
}

void tg_req_on_cancel(struct tg_req *r, tg_cancel_fn fn, void *arg)
{
    r->cancel = fn;
    r->cancel_arg = arg;
}

static void send_body(struct tg_req *r, int status, tg_iovec_t body)
{
    struct evbuffer *buf;
    struct evkeyvalq *h;

    r->status = status;
    if (r->ev == NULL)
        return;
    h = evhttp_request_get_output_headers(r->ev);
    evhttp_remove_header(h, "Content-Type");
    evhttp_add_header(h, "Content-Type", "application/json");
    buf = evbuffer_new();
    evbuffer_add(buf, body.base, body.len);
    r->bytes_out += body.len;
    evhttp_send_reply(r->ev, status, tg_http_reason(status), buf);
    evbuffer_free(buf);
}

void tg_req_add_header(struct tg_req *r, const char *name, const char *value)
{
    if (r->ev != NULL)
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

enum tg_verdict tg_req_reply_json(struct tg_req *r, int status, tg_iovec_t body)
{
    send_body(r, status, body);
    return TG_DONE;
}

enum tg_verdict tg_req_error(struct tg_req *r, int status, const char *error_type, const char *fmt,
                             ...)
{
    char msg[1024];
    tg_sb_t body;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->error_type = error_type;
    tg_sb_init(&body, &r->arena, 128);
    if (r->api == TG_API_ALERTMANAGER && status == 400)
        tg_http_json_string(&body, tg_iov_str(msg)); /* the API's BadRequest is a string */
    else if (r->api == TG_API_ALERTMANAGER)
        tg_http_am_error_body(&body, status, tg_iov_str(msg));
    else
        tg_http_error_body(&body, error_type, tg_iov_str(msg));
    tg_debug("req %llu: %d %s: %s", (unsigned long long)r->id, status, error_type, msg);
    send_body(r, status, tg_sb_iov(&body));
    return TG_DONE;
}

enum tg_verdict tg_req_am_error(struct tg_req *r, const struct tg_am_error *e)
{
    tg_sb_t body;

    r->error_type = tg_http_error_type(e->status);
    tg_sb_init(&body, &r->arena, 128);
    if (e->code != 0)
        tg_http_am_error_body(&body, e->code, tg_iov_str(e->msg));
    else
        tg_http_json_string(&body, tg_iov_str(e->msg));
    tg_debug("req %llu: %d: %s", (unsigned long long)r->id, e->status, e->msg);
    send_body(r, e->status, tg_sb_iov(&body));
    return TG_DONE;
}

/* One JSON line per request on stdout; never the credential. Built without
 * printf (vsnprintf with %f was ~5% of a proxied request's instructions): same output as
 * "ts":%.3f of a whole second and "duration_seconds":%.6f. */
static void access_log(struct tg_req *r, uint64_t dur_ns)
{
    uint64_t dur_us = (dur_ns + 500) / 1000;
    tg_sb_t line;
    size_t i;

/* literals by length: no strlen per piece of a line written for every request */
#define LIT(s) tg_sb_add(&line, s, sizeof(s) - 1)
    tg_sb_init(&line, &r->arena, 256);
    LIT("{\"ts\":");
    tg_sb_add_u64(&line, (unsigned long long)time(NULL), 1);
    LIT(".000,\"id\":");
    tg_sb_add_u64(&line, (unsigned long long)r->id, 1);
    LIT(",\"route\":\"");
    tg_sb_adds(&line, r->route ? r->route->name : "-");
    LIT("\",\"method\":\"");
    tg_sb_adds(&line, r->method == TG_M_POST     ? "POST"
                      : r->method == TG_M_GET    ? "GET"
                      : r->method == TG_M_DELETE ? "DELETE"
                                                 : "OTHER");
    LIT("\",\"status\":");
    tg_sb_add_u64(&line, (unsigned long long)(r->status > 0 ? r->status : 499), 1);
    LIT(",\"user\":\"");
    tg_sb_add_json_escaped(&line, r->user.name);
    LIT("\",\"tenants\":[");
    for (i = 0; i < r->n_tenants; i++) {
        tg_sb_adds(&line, i ? ",\"" : "\"");
        tg_sb_add_json_escaped(&line, r->tenants[i]);
        tg_sb_addc(&line, '"');
    }
    LIT("],\"duration_seconds\":");
    tg_sb_add_u64(&line, (unsigned long long)(dur_us / 1000000), 1);
    tg_sb_addc(&line, '.');
    tg_sb_add_u64(&line, (unsigned long long)(dur_us % 1000000), 6);
    LIT(",\"bytes\":");
    tg_sb_add_u64(&line, (unsigned long long)r->bytes_out, 1);
    if (r->error_type) {
        LIT(",\"error_type\":\"");
        tg_sb_adds(&line, r->error_type);
        tg_sb_addc(&line, '"');
    }
    if (r->upstream_error) {
        LIT(",\"upstream_error\":\"");
        tg_sb_adds(&line, r->upstream_error);
        tg_sb_addc(&line, '"');
    }
    if (r->limit_refused) {
        LIT(",\"limit\":\"");
        tg_sb_adds(&line, r->limit_refused);
        tg_sb_addc(&line, '"');
    }
    LIT("}\n");
    /* stdout is fully buffered: the server flushes it every
     * TG_ACCESS_LOG_FLUSH_MS (one write per batch, not per request) */
    fwrite(line.base, 1, line.len, stdout);
    r->srv->log_pending = 1;
#undef LIT
}

void tg_req_end(struct tg_req *r)
{
    uint64_t dur = tg_now_ns() - r->start_ns;

    if (r->cancel != NULL) {
        tg_cancel_fn fn = r->cancel;
        r->cancel = NULL;
        fn(r, r->cancel_arg);
    }
    tg_stage_limit_end(r); /* the one place a request's slots are given back */
    if (r->cfg->access_log)
        access_log(r, dur);
    tg_server_request_done(r->srv, r, dur);
    if (r->conn != NULL)
        tg_conn_detach(r->conn, r);
    r->conn = NULL;
    r->srv->stats.in_flight--;
    tg_config_unref(r->cfg);
    tg_arena_destroy(&r->arena); /* runs the hooks registered with tg_arena_defer() */
    block_put(r->srv, r);
}
