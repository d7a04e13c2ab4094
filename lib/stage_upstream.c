/*
 * Stage 5, upstream: send the enforced request to the upstream over a pooled
 * keep-alive connection and stream the answer back. Two routes make a first
 * request of their own before it (the phases below): /api/v1/metadata asks
 * which metric names the tenant has, and the Alertmanager routes that touch
 * one silence fetch it and check that the tenant owns it.
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
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "tenantgate/alertmanager.h"
#include "tenantgate/conn.h"
#include "tenantgate/jsonfilter.h"
#include "tenantgate/jsonutil.h"
#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/server-t.h"
#include "tenantgate/stages.h"
#include "tenantgate/upstream.h"

#define HIGH_WATER (256 * 1024)
#define MAX_NAMES_BODY (64u * 1024 * 1024)
#define MAX_SILENCE_BODY (1u * 1024 * 1024)

enum phase {
    PH_NAMES,   /* /api/v1/metadata only: which metric names does the tenant have */
    PH_SILENCE, /* Alertmanager: GET /api/v2/silence/{id}, whose owner decides */
    PH_MAIN,    /* the request itself */
};

struct fwd {
    struct tg_req *r;
    enum phase phase;
    struct tg_upconn *uc;
    struct evhttp_request *ureq;     /* NULL once evhttp is done with it */
    struct event *timer;
    struct tg_jf *jf;                /* response filter (rules, alerts, metadata) */
    struct evbuffer *out;            /* filtered bytes on their way to the client */
    struct evbuffer *names;          /* PH_NAMES / PH_SILENCE response body */
    size_t names_max;                /* its bound */
    int fetch_status;                /* PH_SILENCE response code */
    int headers_seen;                /* response headers arrived */
    int started;                     /* reply started toward the client */
    int paused;                      /* upstream reads stopped (backpressure) */
    int broken;                      /* body unusable: fail when the transfer ends */
    const char *error_kind;          /* connect / timeout / reset / protocol */
};

static void fwd_free(struct fwd *f)
{
    if (f->timer)
        event_del(f->timer); /* its memory is the request's arena */
    if (f->jf)
        tg_jf_free(f->jf);
    if (f->out)
        evbuffer_free(f->out);
    if (f->names)
        evbuffer_free(f->names);
    f->timer = NULL;
    f->jf = NULL;
    f->out = f->names = NULL;
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

/* Where the request goes: the Alertmanager API to --alertmanager-upstream
 * when there is one, everything else (and it, without one) to --upstream. */
static struct tg_upstream *target(const struct tg_req *r)
{
    if (r->api == TG_API_ALERTMANAGER && r->srv->am_upstream != NULL)
        return r->srv->am_upstream;
    return r->srv->upstream;
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

/* evhttp formats a Date header for every response (time, gmtime, snprintf:
 * ~3k instructions); we give it one formatted once a second. */
static const char *http_date(void)
{
    static time_t last = (time_t)-1;
    static char buf[40];
    time_t now = time(NULL);
    struct tm tm;

    if (now != last && gmtime_r(&now, &tm) != NULL &&
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
        last = now;
    return buf;
}

static void copy_response_headers(struct tg_req *r, struct evhttp_request *ureq)
{
    static const struct {
        const char *name;
        size_t len;
    } keep[] = {{"Content-Type", 12}, {"Content-Encoding", 16}, {"Content-Length", 14},
                {"Cache-Control", 13}, {"Vary", 4}, {"Warning", 7}};
    struct evkeyvalq *in = evhttp_request_get_input_headers(ureq);
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    struct evkeyval *h;
    unsigned copied = 0; /* the first of each name only, as evhttp_find_header gives */
    size_t k;

    /* one pass over the upstream's headers (six evhttp_find_header calls
     * were six passes of case-insensitive compares) */
    TAILQ_FOREACH(h, in, next)
    {
        size_t len = strlen(h->key);
        for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
            if (len == keep[k].len && !(copied & (1u << k)) && !strcasecmp(h->key, keep[k].name)) {
                copied |= 1u << k;
                evhttp_add_header(out, keep[k].name, h->value);
                break;
            }
        }
    }
    evhttp_add_header(out, "Date", http_date());
}

static void start_reply(struct fwd *f)
{
    struct tg_req *r = f->r;
    if (f->started || r->ev == NULL)
        return;
    f->started = 1;
    tg_conn_reply_started(r);
    evhttp_send_reply_start(r->ev, r->status, NULL);
}

static int identity_encoding(struct evhttp_request *ureq)
{
    const char *enc = evhttp_find_header(evhttp_request_get_input_headers(ureq),
                                         "Content-Encoding");
    return enc == NULL || strcasecmp(enc, "identity") == 0;
}

static int on_headers(struct evhttp_request *ureq, void *arg)
{
    struct fwd *f = arg;
    struct tg_req *r = f->r;

    f->headers_seen = 1;
    if (r->ev == NULL)
        return -1;
    if (f->phase == PH_SILENCE)
        f->fetch_status = evhttp_request_get_response_code(ureq);
    if (f->phase != PH_MAIN) {
        f->broken = evhttp_request_get_response_code(ureq) != 200 || !identity_encoding(ureq);
        return 0;
    }
    evtimer_del(f->timer);
    if (f->jf != NULL && !identity_encoding(ureq)) {
        f->error_kind = "protocol"; /* we asked for identity: cannot filter this */
        return -1;
    }
    copy_response_headers(r, ureq);
    if (f->jf != NULL)
        evhttp_remove_header(evhttp_request_get_output_headers(r->ev), "Content-Length");
    r->status = evhttp_request_get_response_code(ureq);
    /* a filtered answer starts with its first filtered bytes, so that a body
     * the filter rejects early still gets a clean 502 */
    if (f->jf == NULL)
        start_reply(f);
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

static void emit_filtered(void *arg, const char *buf, size_t len)
{
    struct fwd *f = arg;
    evbuffer_add(f->out, buf, len);
}

/* Run the body through the response filter; returns what to send. */
static struct evbuffer *filter_chunk(struct fwd *f, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    if (!f->broken && len > 0 && tg_jf_feed(f->jf, evbuffer_pullup(in, (ev_ssize_t)len), len) != 0) {
        tg_warn("req %llu: upstream response not filterable: %s", (unsigned long long)f->r->id,
                tg_jf_error(f->jf));
        f->broken = 1;
    }
    evbuffer_drain(in, len);
    return f->out;
}

static void on_chunk(struct evhttp_request *ureq, void *arg)
{
    struct fwd *f = arg;
    struct tg_req *r = f->r;
    struct evbuffer *in = evhttp_request_get_input_buffer(ureq);
    struct bufferevent *cb = tg_conn_client_bev(r);

    if (f->phase != PH_MAIN) {
        if (evbuffer_get_length(f->names) + evbuffer_get_length(in) > f->names_max)
            f->broken = 1;
        if (!f->broken)
            evbuffer_add_buffer(f->names, in);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if (r->ev == NULL)
        return;
    if (f->jf != NULL)
        in = filter_chunk(f, in);
    if (f->broken || evbuffer_get_length(in) == 0)
        return;
    start_reply(f);
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

static void names_done(struct fwd *f);
static void silence_fetched(struct fwd *f);

/* evhttp calls this once: response complete, or failure (ureq NULL or code 0). */
static void on_done(struct evhttp_request *ureq, void *arg)
{
    struct fwd *f = arg;
    struct tg_req *r = f->r;
    int ok = ureq != NULL && evhttp_request_get_response_code(ureq) != 0 && f->error_kind == NULL;

    if (!ok) {
        const char *kind = f->error_kind ? f->error_kind : "connect";
        int timeout = strcmp(kind, "timeout") == 0;
        tg_warn("req %llu: upstream %s error", (unsigned long long)r->id, kind);
        fwd_detach(f, 0);
        fail(f, timeout ? 504 : 502, kind,
             timeout                          ? "no response within --upstream-timeout"
             : strcmp(kind, "connect") == 0 ? "connection failed"
                                              : "bad response");
        return;
    }
    fwd_detach(f, 1);
    if (f->phase == PH_NAMES) {
        names_done(f);
        return;
    }
    if (f->phase == PH_SILENCE) {
        silence_fetched(f);
        return;
    }
    if (f->jf != NULL && !f->broken && tg_jf_finish(f->jf) != 0)
        f->broken = 1;
    if (f->broken) {
        fail(f, 502, "protocol", "response could not be filtered");
        return;
    }
    start_reply(f);
    if (f->jf != NULL && evbuffer_get_length(f->out) > 0 && r->ev != NULL) {
        r->bytes_out += evbuffer_get_length(f->out);
        evhttp_send_reply_chunk(r->ev, f->out);
    }
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

/* The response filter of a route, or -1 for none. */
static int filter_kind(const struct tg_req *r)
{
    switch (r->filter) {
    case TG_ROUTE_RULES:
        return TG_JF_RULES;
    case TG_ROUTE_ALERTS:
        return TG_JF_ALERTS;
    case TG_ROUTE_METADATA:
        return TG_JF_METADATA;
    case TG_ROUTE_AM_ALERTS:
        return TG_JF_AM_ALERTS;
    case TG_ROUTE_AM_GROUPS:
        return TG_JF_AM_GROUPS;
    case TG_ROUTE_AM_SILENCES:
        return TG_JF_AM_SILENCES;
    case TG_ROUTE_AM_STATUS:
        return TG_JF_AM_STATUS;
    default:
        return -1;
    }
}

/* Routes whose responses we rewrite: we need them uncompressed. */
static int filtered(const struct tg_req *r)
{
    return filter_kind(r) >= 0;
}

/* kube-rbac-proxy's --auth-header-fields-enabled: who is calling, as the
 * authn stage found it (tg_stage_upstream() checked the values). */
static void add_identity(struct tg_req *r, struct evkeyvalq *out)
{
    const struct tg_config *c = r->cfg;
    tg_sb_t v;

    if (!c->auth_header_fields_enabled)
        return;
    if (c->auth_header_user_field)
        evhttp_add_header(out, c->auth_header_user_field,
                          tg_arena_strndup(&r->arena, r->user.name.base, r->user.name.len));
    tg_sb_init(&v, &r->arena, 64);
    if (c->auth_header_groups_field &&
        tg_http_join_values(&v, r->user.groups, r->user.n_groups, c->auth_header_groups_sep) == 0)
        evhttp_add_header(out, c->auth_header_groups_field, tg_sb_cstr(&v));
}

static int identity_sendable(const struct tg_req *r)
{
    int ok = tg_http_header_value_ok(r->user.name);
    for (size_t i = 0; ok && i < r->user.n_groups; i++)
        ok = tg_http_header_value_ok(r->user.groups[i]);
    return ok || !r->cfg->auth_header_fields_enabled;
}

/* The upstream request's headers: the client's minus hop-by-hop, credential
 * and tenant headers. `ctype` and `body_len` describe the body (ctype NULL:
 * none); `identity` asks for an uncompressed answer (we read it). */
static void copy_request_headers(struct tg_req *r, struct evhttp_request *ureq, const char *ctype,
                                 size_t body_len, int identity)
{
    const struct evkeyvalq *in = r->in_headers;
    struct evkeyvalq *out = evhttp_request_get_output_headers(ureq);
    const char *xff = evhttp_find_header(in, "X-Forwarded-For");
    const char *conn = evhttp_find_header(in, "Connection");
    const char *peer = tg_conn_peer(r);
    const struct tg_http_forward_policy policy = {
        .connection = conn ? tg_iov_str(conn) : TG_IOV_NULL,
        .tenant_in = r->cfg->header_name,
        .tenant_out = r->cfg->upstream_tenant_header,
        .drop = r->cfg->upstream_drop_headers,
        .n_drop = r->cfg->n_upstream_drop_headers,
        .filtered = identity,
        .identity_user = r->cfg->auth_header_user_field,
        .identity_groups = r->cfg->auth_header_groups_field,
    };
    struct evkeyval *h;

    TAILQ_FOREACH(h, in, next)
    {
        if (!tg_http_header_never_upstream(&policy, tg_iov_str(h->key)))
            evhttp_add_header(out, h->key, h->value);
    }
    evhttp_add_header(out, "Host", tg_upstream_host_header(target(r)).base);
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
    add_identity(r, out);
    if (ctype != NULL) {
        evhttp_add_header(out, "Content-Type", ctype);
        evhttp_add_header(out, "Content-Length", tg_arena_printf(&r->arena, "%zu", body_len));
    }
}

static const char *upstream_uri(struct tg_req *r, tg_iovec_t path, tg_iovec_t args)
{
    tg_sb_t uri;
    tg_sb_init(&uri, &r->arena, 256);
    tg_sb_addiov(&uri, tg_upstream_prefix(target(r)));
    tg_sb_addiov(&uri, path);
    if (args.len > 0) {
        tg_sb_addc(&uri, '?');
        tg_sb_addiov(&uri, args);
    }
    return tg_sb_cstr(&uri);
}

/* Send one upstream request for `f` (the phase decides what): `method`
 * TG_M_GET / TG_M_POST / TG_M_DELETE, a POST body of type `ctype`. Returns
 * -1 when evhttp refused it (then nothing is pending). */
static int send_upstream(struct fwd *f, unsigned method, const char *uri, const char *ctype,
                         tg_iovec_t body)
{
    struct tg_req *r = f->r;
    struct timeval tv = {r->cfg->upstream_timeout_ms / 1000,
                         (r->cfg->upstream_timeout_ms % 1000) * 1000};
    int post = method == TG_M_POST;

    f->headers_seen = 0;
    f->uc = tg_upstream_acquire(target(r));
    f->ureq = evhttp_request_new(on_done, f);
    evhttp_request_set_header_cb(f->ureq, on_headers);
    evhttp_request_set_chunked_cb(f->ureq, on_chunk);
    evhttp_request_set_error_cb(f->ureq, on_error);
    copy_request_headers(r, f->ureq, post ? ctype : NULL, post ? body.len : 0,
                         f->phase != PH_MAIN || filtered(r));
    if (post && body.len)
        evbuffer_add(evhttp_request_get_output_buffer(f->ureq), body.base, body.len);
    evtimer_add(f->timer, &tv);
    if (evhttp_make_request(tg_upconn_evcon(f->uc), f->ureq,
                            post                    ? EVHTTP_REQ_POST
                            : method == TG_M_DELETE ? EVHTTP_REQ_DELETE
                                                    : EVHTTP_REQ_GET,
                            uri) != 0) {
        f->ureq = NULL; /* evhttp freed it */
        fwd_detach(f, 0);
        return -1;
    }
    return 0;
}

static int send_main(struct fwd *f)
{
    struct tg_req *r = f->r;
    tg_iovec_t args = tg_sb_iov(&r->up_args);
    /* a form POST carries the arguments as its body; a JSON one its own */
    int form = r->up_post && r->up_content_type == NULL;

    f->phase = PH_MAIN;
    if (filtered(r)) {
        if (f->jf == NULL)
            f->jf = tg_jf_new((enum tg_jf_kind)filter_kind(r), tg_iov_str(r->cfg->label),
                              r->tenants, r->n_tenants, emit_filtered, f);
        f->out = evbuffer_new();
    }
    return send_upstream(f,
                         r->up_post     ? TG_M_POST
                         : r->up_delete ? TG_M_DELETE
                                        : TG_M_GET,
                         upstream_uri(r, r->path, form ? TG_IOV_NULL : args),
                         form ? "application/x-www-form-urlencoded" : r->up_content_type,
                         form ? args : r->up_body);
}

/* A GET of our own before the request (PH_NAMES, PH_SILENCE): its body,
 * at most `max` bytes, is collected in f->names. */
static int send_first(struct fwd *f, enum phase phase, size_t max, tg_iovec_t path, tg_iovec_t args)
{
    f->phase = phase;
    f->names = evbuffer_new();
    f->names_max = max;
    return send_upstream(f, TG_M_GET, upstream_uri(f->r, path, args), NULL, TG_IOV_NULL);
}

/* /api/v1/metadata: first ask which metric names the tenant has. */
static int send_names(struct fwd *f)
{
    struct tg_req *r = f->r;
    tg_sb_t args;

    tg_sb_init(&args, &r->arena, 128);
    tg_sb_adds(&args, "match%5B%5D=");
    tg_sb_add_urlencoded(&args, r->tenant_selector);
    return send_first(f, PH_NAMES, MAX_NAMES_BODY, TG_IOV_LIT("/api/v1/label/__name__/values"),
                      tg_sb_iov(&args));
}

/* Alertmanager: first fetch the silence the request reads, updates or
 * expires (the ID was checked to be a UUID: it goes into the path as is). */
static int send_fetch(struct fwd *f)
{
    struct tg_req *r = f->r;
    tg_sb_t path;

    tg_sb_init(&path, &r->arena, 64);
    tg_sb_adds(&path, "/api/v2/silence/");
    tg_sb_addiov(&path, r->am_check_id);
    return send_first(f, PH_SILENCE, MAX_SILENCE_BODY, tg_sb_iov(&path), TG_IOV_NULL);
}

/* The fetched silence arrived: answer 404 / 403, reply with it, or go on
 * with the request. */
static void silence_fetched(struct fwd *f)
{
    struct tg_req *r = f->r;
    size_t len = evbuffer_get_length(f->names);
    const char *body = (const char *)evbuffer_pullup(f->names, (ev_ssize_t)len);
    struct tg_promql_enforce e = {tg_iov_str(r->cfg->label), r->tenants, r->n_tenants, 0, 0};
    struct tg_am_silence s;
    struct tg_am_error err;
    tg_iovec_t owner;

    if (f->fetch_status == 404) {
        struct tg_am_error nf = {404, 0, 0, "silence not found"};
        fwd_free(f);
        tg_req_am_error(r, &nf);
        tg_req_resume(r, TG_DONE);
        return;
    }
    if (f->broken || tg_am_silence_parse(&r->arena, body, len, &s, &err) != 0) {
        fail(f, 502, "protocol", "cannot read the silence from the Alertmanager");
        return;
    }
    if (!tg_am_silence_owner(&s, &e, &owner)) {
        fwd_free(f);
        tg_req_error(r, 403, "forbidden", "silence %.*s does not belong to %s %.*s%s",
                     TG_IOV_FMT(r->am_check_id), r->cfg->label, TG_IOV_FMT(r->tenants[0]),
                     r->n_tenants > 1 ? " (or the other values asked for)" : "");
        tg_req_resume(r, TG_DONE);
        return;
    }
    if (r->am_reply_fetched) { /* GET silence/{id}: what we checked is the answer */
        tg_req_reply_json(r, 200, tg_iov(body, len));
        fwd_free(f);
        tg_req_resume(r, TG_DONE);
        return;
    }
    evbuffer_free(f->names);
    f->names = NULL;
    if (send_main(f) != 0)
        fail(f, 502, "connect", "cannot send request");
}

/* Metadata is keyed by metric family: a counter's series are foo_total but
 * its metadata entry is foo (OpenMetrics), a histogram's are foo_bucket,
 * foo_sum and foo_count. Allow each name and its family name. */
static tg_iovec_t *with_family_names(tg_arena_t *a, const tg_iovec_t *names, size_t *n)
{
    static const char *const suffixes[] = {"_total", "_bucket", "_sum", "_count", "_created",
                                           "_info", "_gsum", "_gcount"};
    tg_iovec_t *out = tg_arena_alloc(a, 2 * (*n + 1) * sizeof(*out));
    size_t i, j, m = 0;

    for (i = 0; i < *n; i++) {
        out[m++] = names[i];
        for (j = 0; j < sizeof(suffixes) / sizeof(suffixes[0]); j++) {
            size_t sl = strlen(suffixes[j]);
            if (names[i].len > sl &&
                memcmp(names[i].base + names[i].len - sl, suffixes[j], sl) == 0) {
                out[m++] = tg_iov(names[i].base, names[i].len - sl);
                break;
            }
        }
    }
    *n = m;
    return out;
}

/* The names arrived: load them into the metadata filter and go on. */
static void names_done(struct fwd *f)
{
    struct tg_req *r = f->r;
    size_t len = evbuffer_get_length(f->names);
    tg_iovec_t *names = NULL;
    size_t n = 0;

    if (f->broken || tg_json_string_array(&r->arena, (const char *)evbuffer_pullup(f->names, (ev_ssize_t)len),
                                          len, &names, &n) != 0) {
        fail(f, 502, "protocol", "cannot read the tenant's metric names");
        return;
    }
    f->jf = tg_jf_new(TG_JF_METADATA, tg_iov_str(r->cfg->label), r->tenants, r->n_tenants,
                      emit_filtered, f);
    names = with_family_names(&r->arena, names, &n);
    tg_jf_set_metric_names(f->jf, names, n);
    if (send_main(f) != 0)
        fail(f, 502, "connect", "cannot send request");
}

enum tg_verdict tg_stage_upstream(struct tg_req *r)
{
    struct fwd *f;
    int rc;

    /* a name with CR or LF would put headers of its own in our request */
    if (!identity_sendable(r))
        return tg_req_error(r, 403, "forbidden",
                            "the user name or a group cannot be sent in an HTTP header");
    f = tg_arena_calloc(&r->arena, sizeof(*f));
    f->r = r;
    /* in the request's arena: one malloc/free pair less per request */
    f->timer = tg_arena_alloc(&r->arena, event_get_struct_event_size());
    evtimer_assign(f->timer, r->srv->base, on_timeout, f);
    r->stage_data = f;
    rc = r->filter == TG_ROUTE_METADATA ? send_names(f)
         : r->am_check_id.len > 0       ? send_fetch(f)
                                        : send_main(f);
    if (rc != 0) {
        fwd_free(f);
        return tg_req_error(r, 502, "unavailable", "upstream: cannot send request");
    }
    tg_req_on_cancel(r, on_cancel, f);
    return TG_WAIT;
}
