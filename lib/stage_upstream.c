/*
 * Stage 5, upstream: send the enforced request to the upstream over a pooled
 * keep-alive connection (our client, lib/upstream/) and stream the answer back.
 * Two routes make a first request of their own before it (the phases below):
 * /api/v1/metadata asks which metric names the tenant has, and the
 * Alertmanager routes that touch one silence fetch it and check that the
 * tenant owns it.
 *
 * Backpressure (after libevent's le-proxy): when the client's output buffer
 * grows past HIGH_WATER we stop reading from the upstream, and resume once
 * evhttp tells us the client has taken everything. Memory per response stays
 * around one read plus the watermark, whatever the response size.
 *
 * Retries: a read is marked idempotent, so the client sends it again (once,
 * on a new connection) when a reused keep-alive connection turns out closed
 * before any response byte came back. GETs are reads (the first-phase fetches
 * too); so are form POSTs: they carry the parameters of read endpoints
 * (query, query_range, series, labels...), which change nothing upstream.
 * The Alertmanager writes (a JSON silence POST, a DELETE) change something
 * and are sent once: the upstream may have acted on a request whose answer
 * never came back.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "tenantgate/core.h"
#include "tenantgate/alertmanager.h"
#include "tenantgate/conn.h"
#include "tenantgate/jsonfilter.h"
#include "tenantgate/jsonutil.h"
#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/server.h"
#include "tenantgate/stages.h"
#include "tenantgate/upstream.h"
#include "tenantgate/upstream_client.h"

#define HIGH_WATER       (256 * 1024)
#define MAX_NAMES_BODY   (64u * 1024 * 1024)
#define MAX_SILENCE_BODY (1u * 1024 * 1024)

enum phase {
    PH_NAMES,   /* /api/v1/metadata only: which metric names does the tenant have */
    PH_SILENCE, /* Alertmanager: GET /api/v2/silence/{id}, whose owner decides */
    PH_MAIN,    /* the request itself */
};

struct fwd {
    struct tg_req *r;
    enum phase phase;
    struct tg_up_xfer *x;   /* the upstream exchange; NULL once it ended */
    struct tg_jf *jf;       /* response filter (rules, alerts, metadata) */
    struct evbuffer *out;   /* (filtered) bytes on their way to the client */
    struct evbuffer *names; /* PH_NAMES / PH_SILENCE response body */
    size_t names_max;       /* its bound */
    int fetch_status;       /* PH_SILENCE response code */
    int started;            /* reply started toward the client */
    int paused;             /* upstream reads stopped (backpressure) */
    const char *abort_msg;  /* why we stopped it (the 502's message) */
};

/* Registered with the request's arena when the stage starts: what the
 * exchange holds outside the arena goes with the request, however it ends. */
static void fwd_dispose(void *arg)
{
    struct fwd *f = arg;
    if (f->jf)
        tg_jf_free(f->jf);
    if (f->out)
        evbuffer_free(f->out);
    if (f->names)
        evbuffer_free(f->names);
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
    if (!started) {
        tg_req_error(r, status, status == 504 ? "timeout" : "unavailable", "upstream: %s", msg);
        tg_req_resume(r, TG_DONE);
    } else {
        tg_req_resume(r, TG_DONE);
        abort_client(r);
    }
}

/* evhttp formats a Date header for every response (time, gmtime, snprintf:
 * ~3k instructions); we give it one the server formats once a second. */
static const char *http_date(struct tg_server *srv)
{
    time_t now = time(NULL);
    struct tm tm;

    if (now != srv->date_at && gmtime_r(&now, &tm) != NULL &&
        strftime(srv->date, sizeof(srv->date), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
        srv->date_at = now;
    return srv->date;
}

static void copy_response_headers(struct tg_req *r, const struct tg_up_response *resp)
{
    static const struct {
        const char *name;
        size_t len;
    } keep[] = {{"Content-Type", 12},
                {"Content-Encoding", 16},
                {"Content-Length", 14},
                {"Cache-Control", 13},
                {"Vary", 4},
                {"Warning", 7}};
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    tg_iovec_t name, value;
    size_t pos = 0, k;
    unsigned copied = 0; /* the first of each name only */

    /* one pass over the upstream's headers, read in place */
    while (tg_up_header_next(resp->head, resp->head_len, &pos, &name, &value)) {
        for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
            if (name.len == keep[k].len && !(copied & (1u << k)) &&
                !strncasecmp(name.base, keep[k].name, name.len)) {
                copied |= 1u << k;
                evhttp_add_header(out, keep[k].name,
                                  tg_arena_strndup(&r->arena, value.base, value.len));
                break;
            }
        }
    }
    evhttp_add_header(out, "Date", http_date(r->srv));
}

static void start_reply(struct fwd *f)
{
    struct tg_req *r = f->r;
    if (f->started || r->ev == NULL)
        return;
    f->started = 1;
    evhttp_send_reply_start(r->ev, r->status, tg_http_reason(r->status));
}

static int identity_encoding(const struct tg_up_response *resp)
{
    tg_iovec_t enc = tg_up_header_get(resp->head, resp->head_len, TG_IOV_LIT("Content-Encoding"));
    return enc.base == NULL || (enc.len == 8 && strncasecmp(enc.base, "identity", 8) == 0);
}

/* The 502's message when a first-phase answer cannot be used. */
static const char *first_error(const struct fwd *f)
{
    return f->phase == PH_SILENCE ? "cannot read the silence from the Alertmanager"
                                  : "cannot read the tenant's metric names";
}

/* Stop the exchange: the response cannot be used (a 502 with `msg`). */
static int stop(struct fwd *f, const char *msg)
{
    f->abort_msg = msg;
    return -1;
}

static int on_head(void *arg, const struct tg_up_response *resp)
{
    struct fwd *f = arg;
    struct tg_req *r = f->r;

    if (r->ev == NULL)
        return -1;
    if (f->phase != PH_MAIN) {
        if (f->phase == PH_SILENCE && resp->status == 404) {
            f->fetch_status = 404; /* its body is not read: silence_fetched() answers */
            return 0;
        }
        if (resp->status != 200 || !identity_encoding(resp))
            return stop(f, first_error(f));
        return 0;
    }
    if (f->jf != NULL && !identity_encoding(resp)) /* we asked for identity: cannot filter */
        return stop(f, "bad response");
    copy_response_headers(r, resp);
    if (f->jf != NULL)
        evhttp_remove_header(evhttp_request_get_output_headers(r->ev), "Content-Length");
    r->status = resp->status;
    /* a filtered answer starts with its first filtered bytes, so that a body
     * the filter rejects early still gets a clean 502 */
    if (f->jf == NULL)
        start_reply(f);
    return 0;
}

static void on_client_drained(struct evhttp_connection *evcon, void *arg)
{
    struct fwd *f = arg;
    if (f->paused && f->x != NULL) {
        f->paused = 0;
        tg_up_resume(f->x);
    }
}

static void emit_filtered(void *arg, const char *buf, size_t len)
{
    struct fwd *f = arg;
    evbuffer_add(f->out, buf, len);
}

/* Run body bytes through the response filter (it emits into f->out). */
static int filter_chunk(struct fwd *f, const char *data, size_t len)
{
    if (tg_jf_feed(f->jf, data, len) != 0) {
        tg_warn("req %llu: upstream response not filterable: %s", (unsigned long long)f->r->id,
                tg_jf_error(f->jf));
        return stop(f, "response could not be filtered");
    }
    return 0;
}

static int on_body(void *arg, const char *data, size_t len)
{
    struct fwd *f = arg;
    struct tg_req *r = f->r;
    struct bufferevent *cb = tg_conn_client_bev(r);

    if (f->phase != PH_MAIN) {
        if (f->fetch_status == 404)
            return 0;
        if (evbuffer_get_length(f->names) + len > f->names_max)
            return stop(f, first_error(f));
        evbuffer_add(f->names, data, len);
        return 0;
    }
    if (r->ev == NULL)
        return -1;
    if (f->jf != NULL) {
        if (filter_chunk(f, data, len) != 0)
            return -1;
    } else {
        evbuffer_add(f->out, data, len);
    }
    if (evbuffer_get_length(f->out) == 0)
        return 0;
    start_reply(f);
    r->bytes_out += evbuffer_get_length(f->out);
    evhttp_send_reply_chunk_with_cb(r->ev, f->out, on_client_drained, f);
    if (cb != NULL && evbuffer_get_length(bufferevent_get_output(cb)) > HIGH_WATER) {
        f->paused = 1;
        tg_up_pause(f->x);
    }
    return 0;
}

static const char *error_kind(enum tg_up_error e)
{
    switch (e) {
    case TG_UP_ECONNECT: return "connect";
    case TG_UP_ETIMEOUT: return "timeout";
    case TG_UP_ERESET: return "reset";
    default: return "protocol";
    }
}

static void names_done(struct fwd *f);
static void silence_fetched(struct fwd *f);

/* The client calls this once: the response is complete, or the exchange failed. */
static void on_done(void *arg, enum tg_up_error err, const char *detail)
{
    struct fwd *f = arg;
    struct tg_req *r = f->r;

    f->x = NULL;
    if (err != TG_UP_OK) {
        const char *kind = error_kind(err);
        int timeout = err == TG_UP_ETIMEOUT;
        tg_warn("req %llu: upstream %s error: %s", (unsigned long long)r->id, kind,
                err == TG_UP_EABORT ? f->abort_msg : detail);
        fail(f, timeout ? 504 : 502, kind,
             err == TG_UP_EABORT     ? f->abort_msg
             : timeout               ? "no response within --upstream-timeout"
             : err == TG_UP_ECONNECT ? "connection failed"
                                     : "bad response");
        return;
    }
    if (f->phase == PH_NAMES) {
        names_done(f);
        return;
    }
    if (f->phase == PH_SILENCE) {
        silence_fetched(f);
        return;
    }
    if (f->jf != NULL && tg_jf_finish(f->jf) != 0) {
        fail(f, 502, "protocol", "response could not be filtered");
        return;
    }
    start_reply(f);
    if (f->jf != NULL && evbuffer_get_length(f->out) > 0 && r->ev != NULL) {
        r->bytes_out += evbuffer_get_length(f->out);
        evhttp_send_reply_chunk(r->ev, f->out);
    }
    tg_req_resume(r, TG_DONE);
    if (r->ev != NULL)
        evhttp_send_reply_end(r->ev);
}

/* The client went away while we wait: drop the upstream exchange. */
static void on_cancel(struct tg_req *r, void *arg)
{
    struct fwd *f = arg;
    if (f->x != NULL) {
        tg_up_cancel(f->x);
        f->x = NULL;
    }
}

/* The response filter of a route, or -1 for none. */
static int filter_kind(const struct tg_req *r)
{
    switch (r->filter) {
    case TG_ROUTE_RULES: return TG_JF_RULES;
    case TG_ROUTE_ALERTS: return TG_JF_ALERTS;
    case TG_ROUTE_METADATA: return TG_JF_METADATA;
    case TG_ROUTE_AM_ALERTS: return TG_JF_AM_ALERTS;
    case TG_ROUTE_AM_GROUPS: return TG_JF_AM_GROUPS;
    case TG_ROUTE_AM_SILENCES: return TG_JF_AM_SILENCES;
    case TG_ROUTE_AM_STATUS: return TG_JF_AM_STATUS;
    default: return -1;
    }
}

/* Routes whose responses we rewrite: we need them uncompressed. */
static int filtered(const struct tg_req *r)
{
    return filter_kind(r) >= 0;
}

/* Headers toward the upstream, appended to the request head `out` (Host is
 * already there). A header our head builder refuses (never one that passed
 * the framing check) is dropped. */
static void add_header(tg_sb_t *out, const char *name, const char *value)
{
    (void)tg_up_head_add(out, tg_iov_str(name), tg_iov_str(value));
}

/* kube-rbac-proxy's --auth-header-fields-enabled: who is calling, as the
 * authn stage found it (tg_stage_upstream() checked the values; the head
 * builder would refuse CR/LF anyway). */
static void add_identity(struct tg_req *r, tg_sb_t *out)
{
    const struct tg_config *c = r->cfg;
    tg_sb_t v;

    if (!c->auth_header_fields_enabled)
        return;
    if (c->auth_header_user_field)
        (void)tg_up_head_add(out, tg_iov_str(c->auth_header_user_field), r->user.name);
    tg_sb_init(&v, &r->arena, 64);
    if (c->auth_header_groups_field &&
        tg_http_join_values(&v, r->user.groups, r->user.n_groups, c->auth_header_groups_sep) == 0)
        (void)tg_up_head_add(out, tg_iov_str(c->auth_header_groups_field), tg_sb_iov(&v));
}

static int identity_sendable(const struct tg_req *r)
{
    int ok = tg_http_header_value_ok(r->user.name);
    for (size_t i = 0; ok && i < r->user.n_groups; i++)
        ok = tg_http_header_value_ok(r->user.groups[i]);
    return ok || !r->cfg->auth_header_fields_enabled;
}

/* The upstream request's headers: the client's minus what the one forwarding
 * policy keeps back (hop-by-hop, credential, tenant, identity, ours).
 * `ctype` and `body_len` describe the body (ctype NULL: none); `identity`
 * asks for an uncompressed answer (we read it). */
static void copy_request_headers(struct tg_req *r, tg_sb_t *out, const char *ctype, size_t body_len,
                                 int identity)
{
    const struct evkeyvalq *in = r->in_headers;
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
            add_header(out, h->key, h->value);
    }
    add_header(out, "X-Forwarded-For",
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
        add_header(out, r->cfg->upstream_tenant_header, tg_sb_cstr(&v));
    }
    add_identity(r, out);
    if (ctype != NULL) {
        add_header(out, "Content-Type", ctype);
        tg_sb_adds(out, "Content-Length: ");
        tg_sb_add_u64(out, (unsigned long long)body_len, 1);
        tg_sb_add(out, "\r\n", 2);
    }
}

static const char *upstream_uri(struct tg_req *r, tg_iovec_t path, tg_iovec_t args)
{
    tg_sb_t uri;
    tg_sb_init(&uri, &r->arena, 256);
    tg_sb_addiov(&uri, tg_upstream_prefix(r->upstream));
    tg_sb_addiov(&uri, path);
    if (args.len > 0) {
        tg_sb_addc(&uri, '?');
        tg_sb_addiov(&uri, args);
    }
    return tg_sb_cstr(&uri);
}

static const struct tg_up_callbacks upstream_cb = {on_head, on_body, on_done};

static tg_iovec_t method_name(unsigned method)
{
    return method == TG_M_POST     ? TG_IOV_LIT("POST")
           : method == TG_M_DELETE ? TG_IOV_LIT("DELETE")
                                   : TG_IOV_LIT("GET");
}

/* Send one upstream request for `f` (the phase decides what): `method`
 * TG_M_GET / TG_M_POST / TG_M_DELETE, a POST body of type `ctype`; only an
 * `idempotent` one may be sent twice (see the top of this file). The head is
 * built in the request's arena and goes out with the body in one write.
 * Returns -1 when nothing could be started (then nothing is pending). */
static int send_upstream(struct fwd *f, unsigned method, const char *uri, const char *ctype,
                         tg_iovec_t body, int idempotent)
{
    struct tg_req *r = f->r;
    struct tg_up_request req = {0};
    int post = method == TG_M_POST;
    tg_sb_t head;

    tg_sb_init(&head, &r->arena, 512);
    tg_up_head_start(&head, method_name(method), tg_iov_str(uri),
                     tg_upstream_host_header(r->upstream));
    copy_request_headers(r, &head, post ? ctype : NULL, post ? body.len : 0,
                         f->phase != PH_MAIN || filtered(r));
    tg_up_head_end(&head);
    req.head = tg_sb_iov(&head);
    req.body = post ? body : TG_IOV_NULL;
    req.idempotent = idempotent;
    req.timeout_ms = r->cfg->upstream_timeout_ms;
    f->x = tg_up_send(tg_upstream_pool(r->upstream), &req, &upstream_cb, f);
    return f->x != NULL ? 0 : -1;
}

static int send_main(struct fwd *f)
{
    struct tg_req *r = f->r;
    tg_iovec_t args = tg_sb_iov(&r->up_args);
    /* a form POST carries the arguments as its body; a JSON one its own */
    int form = r->up_post && r->up_content_type == NULL;
    unsigned method = r->up_post ? TG_M_POST : r->up_delete ? TG_M_DELETE : TG_M_GET;

    f->phase = PH_MAIN;
    if (filtered(r) && f->jf == NULL)
        f->jf = tg_jf_new((enum tg_jf_kind)filter_kind(r), tg_iov_str(r->cfg->label), r->tenants,
                          r->n_tenants, emit_filtered, f);
    if (f->out == NULL)
        f->out = evbuffer_new();
    return send_upstream(f, method, upstream_uri(r, r->path, form ? TG_IOV_NULL : args),
                         form ? "application/x-www-form-urlencoded" : r->up_content_type,
                         form ? args : r->up_body, method == TG_M_GET || form);
}

/* A GET of our own before the request (PH_NAMES, PH_SILENCE): its body,
 * at most `max` bytes, is collected in f->names. */
static int send_first(struct fwd *f, enum phase phase, size_t max, tg_iovec_t path, tg_iovec_t args)
{
    f->phase = phase;
    f->names = evbuffer_new();
    f->names_max = max;
    return send_upstream(f, TG_M_GET, upstream_uri(f->r, path, args), NULL, TG_IOV_NULL, 1);
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
        tg_req_am_error(r, &nf);
        tg_req_resume(r, TG_DONE);
        return;
    }
    if (tg_am_silence_parse(&r->arena, body, len, &s, &err) != 0) {
        fail(f, 502, "protocol", "cannot read the silence from the Alertmanager");
        return;
    }
    if (!tg_am_silence_owner(&s, &e, &owner)) {
        tg_req_error(r, 403, "forbidden", "silence %.*s does not belong to %s %.*s%s",
                     TG_IOV_FMT(r->am_check_id), r->cfg->label, TG_IOV_FMT(r->tenants[0]),
                     r->n_tenants > 1 ? " (or the other values asked for)" : "");
        tg_req_resume(r, TG_DONE);
        return;
    }
    if (r->am_reply_fetched) { /* GET silence/{id}: what we checked is the answer */
        tg_req_reply_json(r, 200, tg_iov(body, len));
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
    static const char *const suffixes[] = {"_total",   "_bucket", "_sum",  "_count",
                                           "_created", "_info",   "_gsum", "_gcount"};
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

    if (tg_json_string_array(&r->arena, (const char *)evbuffer_pullup(f->names, (ev_ssize_t)len),
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

    /* never unenforced to the upstream: the enforce stage built what is sent */
    TG_CHECK(r->authenticated && r->enforced);
    /* a name with CR or LF would put headers of its own in our request */
    if (!identity_sendable(r))
        return tg_req_error(r, 403, "forbidden",
                            "the user name or a group cannot be sent in an HTTP header");
    f = tg_arena_calloc(&r->arena, sizeof(*f));
    f->r = r;
    tg_arena_defer(&r->arena, fwd_dispose, f);
    rc = r->filter == TG_ROUTE_METADATA ? send_names(f)
         : r->am_check_id.len > 0       ? send_fetch(f)
                                        : send_main(f);
    if (rc != 0)
        return tg_req_error(r, 502, "unavailable", "upstream: cannot send request");
    tg_req_on_cancel(r, on_cancel, f);
    return TG_WAIT;
}
