/*
 * Asynchronous HTTPS client toward the Kubernetes API server, on one
 * libevent loop. Our own small HTTP/1.1 over bufferevent_openssl rather than
 * evhttp's client: evhttp cannot reconnect a TLS connection cleanly, gives
 * no control over the pool, and cannot tell a stale keep-alive connection
 * from a failing server. Responses are read by the product's one strict
 * parser (lib/upstream/parse.c): a shape it refuses (smuggling, obs-fold, two
 * Content-Lengths...) fails the attempt like a connection error.
 *
 * A call goes: queue -> (token bucket) -> connection (idle one or a new one,
 * at most max_conns, one request each) -> response -> callback, or -> backoff
 * timer -> queue again. A deadline timer per call bounds the whole thing.
 */
#include "tenantgate/core.h"
#include "tenantgate/kube.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube_int.h"
#include "tenantgate/log.h"
#include "tenantgate/tls.h"
#include "tenantgate/upstream_parse.h"
#include "tenantgate/upstream_tls.h"

#define PATH_TOKENREVIEW "/apis/authentication.k8s.io/v1/tokenreviews"
#define PATH_SAR         "/apis/authorization.k8s.io/v1/subjectaccessreviews"
#define MAX_HEAD_BYTES   65536 /* status line and headers, and separately trailers */

enum call_kind { CALL_AUTHN, CALL_AUTHZ, CALL_GET /* tg_kube_get: body handed over as is */ };
enum call_state { CS_QUEUED, CS_INFLIGHT, CS_BACKOFF };

struct conn {
    struct tg_kube_client *c;
    struct bufferevent *bev;
    struct conn *prev, *next;  /* c->conns */
    struct tg_kube_call *call; /* in flight, or NULL when idle */
    int reused;                /* served a response before: may be stale */
    int got_bytes;             /* response bytes seen for the current call */
    /* the response: lib/upstream/parse.c reads it from the input buffer */
    struct tg_up_parser p;
    int head_seen; /* the final head is parsed: body bytes follow */
    int status;
    int keepalive;
    int retry_after_ms; /* -1 = none */
    struct evbuffer *body;
};

struct tg_kube_call {
    struct tg_kube_client *c;
    struct tg_kube_call *prev, *next;   /* c->calls (all live calls) */
    struct tg_kube_call *qprev, *qnext; /* c->queue while CS_QUEUED */
    enum call_kind kind;
    enum call_state state;
    const char *path;
    tg_sb_t body;
    char **audiences;
    size_t n_audiences;
    union {
        tg_kube_authn_cb authn;
        tg_kube_authz_cb authz;
        tg_kube_get_cb get;
    } cb;
    int status; /* HTTP status of the last answer (CALL_GET) */
    void *arg;
    int attempts; /* HTTP attempts made */
    int stale_retried;
    int throttled;
    uint64_t deadline_ms;
    uint64_t sent_ms;
    struct event *deadline_ev;
    struct event *retry_ev;
    struct conn *conn;
    char last_error[160];
};

struct tg_kube_client {
    struct event_base *base;
    struct evdns_base *dns;
    struct tg_kube_target t;
    struct tg_kube_opts o;
    SSL_CTX *ssl_ctx;
    char *host_header;
    int host_is_ip;
    /* bearer token */
    char *token;
    uint64_t token_read_ms;
    int token_stale; /* a 401 said our token may have rotated: re-read it now */
    /* pool */
    struct conn *conns;
    int nconns, nbusy;
    /* calls */
    struct tg_kube_call *calls;
    struct tg_kube_call *queue, *queue_tail;
    struct event *pump_ev;
    /* token bucket */
    double tokens;
    uint64_t bucket_ms;
    uint64_t rng;
    struct tg_kube_stats st;
    tg_kube_observe_cb observe;
    void *observe_arg;
};

static void pump(struct tg_kube_client *c);
static void attempt_failed(struct tg_kube_call *call, const char *why, int retry_after_ms);

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timeval ms_tv(uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

void tg_kube_opts_init(struct tg_kube_opts *o, const struct tg_config *cfg)
{
    memset(o, 0, sizeof(*o));
    o->timeout_ms = 10000;
    o->retries = 3;
    o->backoff_base_ms = 100;
    o->backoff_max_ms = 5000;
    o->max_conns = 16;
    o->idle_timeout_ms = 90000;
    o->token_reload_ms = 60000;
    o->max_response_bytes = 4u << 20;
    if (!cfg)
        return;
    if (cfg->kube_timeout_ms > 0)
        o->timeout_ms = cfg->kube_timeout_ms;
    if (cfg->kube_qps > 0)
        o->qps = cfg->kube_qps;
    if (cfg->kube_burst > 0)
        o->burst = cfg->kube_burst;
    if (cfg->kube_retries >= 0)
        o->retries = cfg->kube_retries;
}

/* One HTTP attempt of `call` ended (status 0: without a response). */
static void observe(struct tg_kube_call *call, int status)
{
    struct tg_kube_client *c = call->c;
    if (c->observe)
        c->observe(c->observe_arg,
                   call->kind == CALL_AUTHN   ? "tokenreview"
                   : call->kind == CALL_AUTHZ ? "subjectaccessreview"
                                              : "get",
                   status, (double)(now_ms() - call->sent_ms) / 1000.0);
}

/* ---- bearer token (re-read from token_file like client-go) ---- */

static void wipe_free(char *s)
{
    if (s)
        memset(s, 0, strlen(s));
    free(s);
}

static int reload_token(struct tg_kube_client *c, char *err, size_t errlen)
{
    char *tok, ebuf[64];
    size_t len;

    if (tg_read_file(c->t.token_file, 1u << 20, &tok, &len, ebuf, sizeof(ebuf)) < 0) {
        if (err)
            snprintf(err, errlen, "token file %s: %s", c->t.token_file, strerror(errno));
        return -1;
    }
    tg_kube_trim(tok);
    c->token_read_ms = now_ms();
    if (c->token && strcmp(c->token, tok) == 0) {
        wipe_free(tok);
        return 0;
    }
    if (c->token) {
        c->st.token_reloads++;
        tg_info("kube: bearer token file %s changed, using the new token", c->t.token_file);
    }
    wipe_free(c->token);
    c->token = tok;
    return 0;
}

static const char *current_token(struct tg_kube_client *c)
{
    if (c->t.token_file &&
        (c->token_stale || now_ms() - c->token_read_ms >= (uint64_t)c->o.token_reload_ms)) {
        char err[256];
        c->token_stale = 0;
        if (reload_token(c, err, sizeof(err)) < 0) {
            /* keep the old token: a rotation in progress is not an outage */
            tg_warn("kube: %s; keeping the previous token", err);
            c->token_read_ms = now_ms();
        }
    }
    return c->token;
}

/* ---- TLS ---- */

/* Used to pick the address without DNS (tg_up_tls_set_peer() decides the
 * same way which check the name gets). */
static int is_ip_literal(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* One SSL per connection, checking the name (or IP) the kubeconfig names
 * the way every client of ours does. */
static SSL *make_ssl(struct tg_kube_client *c)
{
    SSL *ssl = SSL_new(c->ssl_ctx);
    const char *name = c->t.tls_server_name ? c->t.tls_server_name : c->t.host;

    if (ssl && tg_up_tls_set_peer(ssl, name) < 0) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

/* ---- connections ---- */

static void conn_reset_parser(struct conn *k)
{
    tg_up_parser_init(&k->p, MAX_HEAD_BYTES, 0);
    k->head_seen = 0;
    k->status = 0;
    k->keepalive = 0;
    k->retry_after_ms = -1;
    k->got_bytes = 0;
    evbuffer_drain(k->body, evbuffer_get_length(k->body));
}

static void conn_free(struct conn *k)
{
    struct tg_kube_client *c = k->c;
    if (k->prev)
        k->prev->next = k->next;
    else
        c->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    if (k->call) {
        k->call->conn = NULL;
        c->nbusy--;
    }
    c->nconns--;
    bufferevent_free(k->bev);
    evbuffer_free(k->body);
    free(k);
}

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

static struct conn *conn_new(struct tg_kube_client *c, char *err, size_t errlen)
{
    struct conn *k = tg_calloc(1, sizeof(*k));
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    int rc;

    k->c = c;
    k->body = evbuffer_new();
    if (c->t.https) {
        SSL *ssl = make_ssl(c);
        k->bev =
            ssl ? bufferevent_openssl_socket_new(c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts)
                : NULL;
        if (k->bev) /* Go and Python servers often close without close_notify */
            bufferevent_openssl_set_allow_dirty_shutdown(k->bev, 1);
        else if (ssl)
            SSL_free(ssl);
    } else {
        k->bev = bufferevent_socket_new(c->base, -1, opts);
    }
    if (!k->bev) {
        snprintf(err, errlen, "cannot create a connection");
        evbuffer_free(k->body);
        free(k);
        return NULL;
    }
    bufferevent_setcb(k->bev, conn_read_cb, NULL, conn_event_cb, k);
    if (c->host_is_ip) {
        struct sockaddr_storage ss;
        int sl = sizeof(ss);
        char hp[300];
        snprintf(hp, sizeof(hp), strchr(c->t.host, ':') ? "[%s]:%u" : "%s:%u", c->t.host,
                 c->t.port);
        memset(&ss, 0, sizeof(ss));
        rc = evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &sl);
        if (rc == 0)
            rc = bufferevent_socket_connect(k->bev, (struct sockaddr *)&ss, sl);
    } else {
        if (!c->dns)
            c->dns = evdns_base_new(c->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
        rc = c->dns ? bufferevent_socket_connect_hostname(k->bev, c->dns, AF_UNSPEC, c->t.host,
                                                          c->t.port)
                    : -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "connect to %s:%u failed: %s", c->t.host, c->t.port, strerror(errno));
        bufferevent_free(k->bev);
        evbuffer_free(k->body);
        free(k);
        return NULL;
    }
    bufferevent_enable(k->bev, EV_READ | EV_WRITE);
    k->next = c->conns;
    if (c->conns)
        c->conns->prev = k;
    c->conns = k;
    c->nconns++;
    c->st.connects++;
    return k;
}

static struct conn *conn_idle(struct tg_kube_client *c)
{
    for (struct conn *k = c->conns; k; k = k->next)
        if (!k->call)
            return k;
    return NULL;
}

/* ---- calls ---- */

static void queue_push(struct tg_kube_client *c, struct tg_kube_call *call, int front)
{
    call->state = CS_QUEUED;
    call->qprev = call->qnext = NULL;
    if (!c->queue) {
        c->queue = c->queue_tail = call;
    } else if (front) {
        call->qnext = c->queue;
        c->queue->qprev = call;
        c->queue = call;
    } else {
        call->qprev = c->queue_tail;
        c->queue_tail->qnext = call;
        c->queue_tail = call;
    }
}

static void queue_remove(struct tg_kube_client *c, struct tg_kube_call *call)
{
    if (call->qprev)
        call->qprev->qnext = call->qnext;
    else
        c->queue = call->qnext;
    if (call->qnext)
        call->qnext->qprev = call->qprev;
    else
        c->queue_tail = call->qprev;
    call->qprev = call->qnext = NULL;
}

/* Take the call out of every structure and free it; no callback. */
static void call_release(struct tg_kube_call *call)
{
    struct tg_kube_client *c = call->c;
    if (call->state == CS_QUEUED)
        queue_remove(c, call);
    if (call->conn) /* in flight: the connection is mid-response, close it */
        conn_free(call->conn);
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    event_free(call->deadline_ev);
    event_free(call->retry_ev);
    tg_sb_free(&call->body);
    if (call->kind == CALL_GET)
        free((char *)call->path);
    for (size_t i = 0; i < call->n_audiences; i++)
        free(call->audiences[i]);
    free(call->audiences);
    free(call);
}

/* Finish with a parsed body (res from the parser) or an error. */
static void call_finish(struct tg_kube_call *call, enum tg_kube_result res, const char *body,
                        size_t len, const char *reason)
{
    struct tg_kube_client *c = call->c;
    tg_kube_authn_cb acb = call->cb.authn;
    tg_kube_authz_cb zcb = call->cb.authz;
    tg_kube_get_cb gcb = call->cb.get;
    int status = call->status;
    void *arg = call->arg;
    enum call_kind kind = call->kind;
    struct tg_user user;
    tg_arena_t a;

    tg_arena_init(&a, NULL, 0);
    memset(&user, 0, sizeof(user));
    if (reason) /* it may point into the call, released before the callback */
        reason = tg_arena_strndup(&a, reason, strlen(reason));
    if (body && kind != CALL_GET) {
        if (kind == CALL_AUTHN)
            res = tg_kube_tokenreview_parse(body, len, (const char *const *)call->audiences,
                                            call->n_audiences, &a, &user, &reason);
        else
            res = tg_kube_sar_parse(body, len, &a, &reason);
    }
    if (res == TG_KUBE_ERROR) {
        c->st.errors++;
    }
    if (res == TG_KUBE_ERROR && kind != CALL_GET) { /* a GET's caller says what failed */
        tg_warn("kube: %s failed: %s", kind == CALL_AUTHN ? "TokenReview" : "SubjectAccessReview",
                reason ? reason : "error");
    }
    /* Release first: the callback may start new calls or free other ones. */
    call_release(call);
    if (kind == CALL_AUTHN)
        acb(arg, res, res == TG_KUBE_OK ? &user : NULL, reason);
    else if (kind == CALL_AUTHZ)
        zcb(arg, res, reason);
    else
        gcb(arg, status, res == TG_KUBE_OK ? body : NULL, res == TG_KUBE_OK ? len : 0, reason);
    tg_arena_destroy(&a);
}

static uint64_t backoff_ms(struct tg_kube_call *call)
{
    struct tg_kube_client *c = call->c;
    uint64_t d = (uint64_t)c->o.backoff_base_ms;
    for (int i = 1; i < call->attempts && d < (uint64_t)c->o.backoff_max_ms; i++)
        d *= 2;
    if (d > (uint64_t)c->o.backoff_max_ms)
        d = (uint64_t)c->o.backoff_max_ms;
    /* xorshift64: jitter of +-50% so that many proxies do not retry in step */
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return d / 2 + (d ? c->rng % (d + 1) : 0);
}

static void attempt_failed(struct tg_kube_call *call, const char *why, int retry_after_ms)
{
    struct tg_kube_client *c = call->c;
    uint64_t delay, now = now_ms();

    snprintf(call->last_error, sizeof(call->last_error), "%s", why);
    if (call->attempts > c->o.retries) {
        call_finish(call, TG_KUBE_ERROR, NULL, 0, call->last_error);
        return;
    }
    delay = retry_after_ms >= 0 ? (uint64_t)retry_after_ms : backoff_ms(call);
    if (now + delay >= call->deadline_ms) {
        call_finish(call, TG_KUBE_ERROR, NULL, 0, call->last_error);
        return;
    }
    c->st.retries++;
    tg_debug("kube: %s; retrying in %llums", why, (unsigned long long)delay);
    call->state = CS_BACKOFF;
    {
        struct timeval tv = ms_tv(delay);
        evtimer_add(call->retry_ev, &tv);
    }
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tg_kube_call *call = arg;
    queue_push(call->c, call, 0);
    pump(call->c);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tg_kube_call *call = arg;
    char why[240];
    call->c->st.timeouts++;
    if (call->state == CS_INFLIGHT) /* the attempt on the wire is abandoned */
        observe(call, 0);
    if (call->last_error[0])
        snprintf(why, sizeof(why), "timeout after %dms (last error: %s)", call->c->o.timeout_ms,
                 call->last_error);
    else
        snprintf(why, sizeof(why), "timeout after %dms", call->c->o.timeout_ms);
    call_finish(call, TG_KUBE_ERROR, NULL, 0, why);
}

/* ---- response handling ---- */

static void handle_response(struct tg_kube_call *call, int status, int retry_after_ms,
                            const char *body, size_t len)
{
    struct tg_kube_client *c = call->c;
    uint64_t lat = now_ms() - call->sent_ms;
    char why[96];

    observe(call, status);
    call->status = status;
    c->st.by_status[status >= 100 && status < 600 ? status / 100 : 0]++;
    if (status == 429)
        c->st.status_429++;
    if (status >= 200 && status < 300) {
        c->st.latency_ms_sum += lat;
        c->st.latency_count++;
        if (lat > c->st.latency_ms_max)
            c->st.latency_ms_max = lat;
        call_finish(call, TG_KUBE_OK, body, len, NULL);
        return;
    }
    snprintf(why, sizeof(why), "API server answered HTTP %d", status);
    if (status == 429 || status >= 500) {
        attempt_failed(call, why, retry_after_ms);
    } else if (status == 401 && c->t.token_file) {
        /* our token may just have rotated: re-read it. A flag, not
         * token_read_ms = 0: the monotonic clock starts at boot, so "long
         * ago" is not older than the period on a machine up for less. */
        c->token_stale = 1;
        attempt_failed(call, why, 0);
    } else {
        call_finish(call, TG_KUBE_ERROR, NULL, 0, why);
    }
}

/* The response on `k` is complete: detach, recycle or close, then hand it
 * to the call. Must be the last thing a callback does with `k`. */
static void response_done(struct conn *k)
{
    struct tg_kube_client *c = k->c;
    struct tg_kube_call *call = k->call;
    int status = k->status, ra = k->retry_after_ms;
    size_t len = evbuffer_get_length(k->body);
    char *body = tg_malloc(len + 1);

    evbuffer_remove(k->body, body, len);
    body[len] = '\0';
    k->call = NULL;
    call->conn = NULL;
    c->nbusy--;
    if (k->keepalive) {
        struct timeval tv = ms_tv((uint64_t)c->o.idle_timeout_ms);
        k->reused = 1;
        conn_reset_parser(k);
        bufferevent_set_timeouts(k->bev, &tv, NULL);
    } else {
        conn_free(k);
    }
    handle_response(call, status, ra, body, len);
    free(body);
    pump(c);
}

/* Retry-After in seconds (the HTTP-date form is ignored: backoff applies). */
static int parse_retry_after(tg_iovec_t v)
{
    int s = 0;
    if (v.len == 0 || v.len > 4)
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return -1;
        s = s * 10 + (v.base[i] - '0');
    }
    return s < 3600 ? s * 1000 : -1;
}

static int refused(struct conn *k, char *why, size_t whylen)
{
    snprintf(why, whylen, "response refused: %s (byte %llu)", k->p.error,
             (unsigned long long)k->p.error_at);
    return -1;
}

/* The head: parsed in place at the front of `in` (pulled up contiguous, at
 * most MAX_HEAD_BYTES + 1 so that the parser sees a head too large), then
 * drained. Returns 1 once the final head is in, 0 for more, -1 (why). */
static int read_head(struct conn *k, struct evbuffer *in, char *why, size_t whylen)
{
    while (!k->head_seen) {
        size_t n = evbuffer_get_length(in);
        const char *head;
        int rc;

        if (n == 0)
            return 0;
        if (n > MAX_HEAD_BYTES + 1)
            n = MAX_HEAD_BYTES + 1;
        head = TG_NOTNULL((const char *)evbuffer_pullup(in, (ev_ssize_t)n));
        rc = tg_up_parse_head(&k->p, head, n);
        if (rc == TG_UP_MORE)
            return 0;
        if (rc == TG_UP_ERR)
            return refused(k, why, whylen);
        if (rc == TG_UP_HEAD) { /* TG_UP_INFO: a 1xx, skipped */
            k->head_seen = 1;
            k->status = k->p.status;
            k->keepalive = k->p.keep_alive;
            k->retry_after_ms =
                parse_retry_after(tg_up_header_get(head, k->p.head_len, TG_IOV_LIT("retry-after")));
        }
        evbuffer_drain(in, k->p.head_len);
    }
    return 1;
}

/* Body bytes from `in` into k->body, whatever their framing. Returns 1
 * when the response is complete, 0 for more, -1 (why). */
static int read_body(struct conn *k, struct evbuffer *in, char *why, size_t whylen)
{
    for (;;) {
        struct evbuffer_iovec v = {(void *)"", 0};
        tg_iovec_t data;
        size_t used;
        int rc;

        if (evbuffer_get_length(in) > 0)
            evbuffer_peek(in, -1, NULL, &v, 1); /* the first contiguous span */
        rc = tg_up_parse_body(&k->p, v.iov_base, v.iov_len, &used, &data);
        if (rc == TG_UP_ERR)
            return refused(k, why, whylen);
        if (rc == TG_UP_DATA) {
            if (evbuffer_get_length(k->body) + data.len > k->c->o.max_response_bytes) {
                snprintf(why, whylen, "response body too large");
                return -1;
            }
            evbuffer_add(k->body, data.base, data.len); /* before the drain: data is in `in` */
        }
        evbuffer_drain(in, used);
        if (rc == TG_UP_END) {
            if (evbuffer_get_length(in) > 0) /* bytes nobody asked for: not reusable */
                k->keepalive = 0;
            return 1;
        }
        if (rc == TG_UP_MORE && evbuffer_get_length(in) == 0)
            return 0;
    }
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *k = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char why[160];
    int r;

    if (!k->call) { /* nothing asked: a stray byte on an idle connection */
        conn_free(k);
        return;
    }
    if (evbuffer_get_length(in))
        k->got_bytes = 1;
    r = read_head(k, in, why, sizeof(why));
    if (r == 1)
        r = read_body(k, in, why, sizeof(why));
    if (r == 1) {
        response_done(k);
    } else if (r < 0) {
        struct tg_kube_call *call = k->call;
        struct tg_kube_client *c = k->c;
        conn_free(k);
        observe(call, 0);
        attempt_failed(call, why, -1);
        pump(c);
    }
}

static void conn_error_text(struct conn *k, short what, char *buf, size_t len)
{
    unsigned long e = k->c->t.https ? bufferevent_get_openssl_error(k->bev) : 0;
    int serr = EVUTIL_SOCKET_ERROR();
    if (e) {
        char ebuf[160];
        ERR_error_string_n(e, ebuf, sizeof(ebuf));
        snprintf(buf, len, "TLS error: %s", ebuf);
    } else if (what & BEV_EVENT_EOF) {
        snprintf(buf, len, "connection closed by the API server");
    } else if (what & BEV_EVENT_TIMEOUT) {
        snprintf(buf, len, "connection timed out");
    } else {
        snprintf(buf, len, "connection error: %s",
                 serr ? evutil_socket_error_to_string(serr) : "unknown");
    }
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *k = arg;
    struct tg_kube_client *c = k->c;
    struct tg_kube_call *call = k->call;
    char why[200];

    if (what & BEV_EVENT_CONNECTED)
        return;
    if (!call) { /* idle connection closed or idle timeout */
        conn_free(k);
        return;
    }
    if ((what & BEV_EVENT_EOF) && k->got_bytes) {
        /* complete for a close-delimited body, else a response cut short */
        if (tg_up_parse_eof(&k->p) == TG_UP_END) {
            response_done(k);
            return;
        }
        snprintf(why, sizeof(why), "%s (byte %llu)", k->p.error, (unsigned long long)k->p.error_at);
    } else {
        conn_error_text(k, what, why, sizeof(why));
    }
    if (k->reused && !k->got_bytes && !call->stale_retried) {
        /* The server closed a keep-alive connection as we reused it: not
         * a failure of the API server, resend at once (once). */
        call->stale_retried = 1;
        call->attempts--;
        conn_free(k);
        queue_push(c, call, 1);
        pump(c);
        return;
    }
    conn_free(k);
    observe(call, 0);
    attempt_failed(call, why, -1);
    pump(c);
}

/* ---- sending ---- */

static void send_call(struct tg_kube_client *c, struct conn *k, struct tg_kube_call *call)
{
    struct evbuffer *out = bufferevent_get_output(k->bev);
    const char *tok = current_token(c);

    k->call = call;
    call->conn = k;
    call->state = CS_INFLIGHT;
    call->attempts++;
    call->sent_ms = now_ms();
    c->nbusy++;
    c->st.attempts++;
    conn_reset_parser(k);
    bufferevent_set_timeouts(k->bev, NULL, NULL); /* the call's deadline rules now */
    if (call->kind == CALL_GET) {
        evbuffer_add_printf(out,
                            "GET %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tenantgate/" TG_VERSION
                            "\r\nAccept: application/json\r\n",
                            c->t.path_prefix, call->path, c->host_header);
        if (tok && tok[0])
            evbuffer_add_printf(out, "Authorization: Bearer %s\r\n", tok);
        evbuffer_add(out, "\r\n", 2);
        return;
    }
    evbuffer_add_printf(out,
                        "POST %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tenantgate/" TG_VERSION
                        "\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\n",
                        c->t.path_prefix, call->path, c->host_header, call->body.len);
    if (tok && tok[0])
        evbuffer_add_printf(out, "Authorization: Bearer %s\r\n", tok);
    evbuffer_add(out, "\r\n", 2);
    evbuffer_add(out, call->body.base, call->body.len);
}

/* Milliseconds until a token is available (0 = took one). */
static uint64_t bucket_take(struct tg_kube_client *c)
{
    uint64_t now = now_ms();
    double cap = c->o.burst > 0 ? c->o.burst : 1;
    c->tokens += (double)(now - c->bucket_ms) * c->o.qps / 1000.0;
    if (c->tokens > cap)
        c->tokens = cap;
    c->bucket_ms = now;
    if (c->tokens >= 1.0) {
        c->tokens -= 1.0;
        return 0;
    }
    return (uint64_t)((1.0 - c->tokens) * 1000.0 / c->o.qps) + 1;
}

static void pump(struct tg_kube_client *c)
{
    while (c->queue) {
        struct tg_kube_call *call = c->queue;
        struct conn *k = conn_idle(c);
        char err[200];

        if (!k && c->nconns >= c->o.max_conns)
            return; /* a response will free a connection and pump again */
        if (c->o.qps > 0) {
            uint64_t wait = bucket_take(c);
            if (wait > 0) {
                struct timeval tv = ms_tv(wait);
                if (!call->throttled) {
                    call->throttled = 1;
                    c->st.throttled++;
                }
                event_add(c->pump_ev, &tv);
                return;
            }
        }
        queue_remove(c, call);
        call->throttled = 0;
        if (!k)
            k = conn_new(c, err, sizeof(err));
        if (!k) {
            call->attempts++;
            call->sent_ms = now_ms();
            observe(call, 0);
            attempt_failed(call, err, -1);
            continue;
        }
        send_call(c, k, call);
    }
}

static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
    pump(arg);
}

/* ---- public ---- */

struct tg_kube_client *tg_kube_client_new(struct event_base *base, const struct tg_kube_target *t,
                                          const struct tg_kube_opts *opts, char *err, size_t errlen)
{
    struct tg_kube_client *c = tg_calloc(1, sizeof(*c));
    c->base = base;
    c->o = *opts;
    if (c->o.max_conns <= 0)
        c->o.max_conns = 16;
    c->t.https = t->https;
    c->t.host = tg_strdup(t->host);
    c->t.port = t->port;
    c->t.path_prefix = tg_strdup(t->path_prefix ? t->path_prefix : "");
    c->t.tls_server_name = tg_strdup(t->tls_server_name);
    c->t.token = tg_strdup(t->token);
    c->t.token_file = tg_strdup(t->token_file);
    c->t.source = tg_strdup(t->source);
    c->host_is_ip = is_ip_literal(t->host);
    c->host_header = tg_asprintf(strchr(t->host, ':') ? "[%s]:%u" : "%s:%u", t->host, t->port);
    c->rng = (uint64_t)(uintptr_t)c ^ ((uint64_t)time(NULL) << 20) ^ 0x9e3779b97f4a7c15ull;
    c->tokens = c->o.burst > 0 ? c->o.burst : 1;
    c->bucket_ms = now_ms();
    c->pump_ev = event_new(base, -1, 0, pump_cb, c);
    if (c->t.https && !(c->ssl_ctx = tg_tls_client_ctx_from_pem(
                            t->ca_pem, t->ca_pem_len, t->cert_pem, t->cert_pem_len, t->key_pem,
                            t->key_pem_len, err, errlen)))
        goto fail;
    if (c->t.token) {
        c->token = tg_strdup(c->t.token);
    } else if (c->t.token_file && reload_token(c, err, errlen) < 0) {
        goto fail;
    }
    return c;
fail:
    tg_kube_client_free(c);
    return NULL;
}

void tg_kube_client_free(struct tg_kube_client *c)
{
    if (!c)
        return;
    while (c->calls)
        call_release(c->calls);
    while (c->conns)
        conn_free(c->conns);
    if (c->pump_ev)
        event_free(c->pump_ev);
    if (c->dns)
        evdns_base_free(c->dns, 0);
    SSL_CTX_free(c->ssl_ctx);
    wipe_free(c->token);
    free(c->host_header);
    tg_kube_target_free(&c->t);
    free(c);
}

const struct tg_kube_stats *tg_kube_client_stats(const struct tg_kube_client *c)
{
    return &c->st;
}

void tg_kube_client_set_observer(struct tg_kube_client *c, tg_kube_observe_cb cb, void *arg)
{
    c->observe = cb;
    c->observe_arg = arg;
}

static struct tg_kube_call *call_new(struct tg_kube_client *c, enum call_kind kind, void *arg)
{
    struct tg_kube_call *call = tg_calloc(1, sizeof(*call));
    struct timeval tv;

    call->c = c;
    call->kind = kind;
    call->arg = arg;
    call->path = kind == CALL_AUTHN ? PATH_TOKENREVIEW : PATH_SAR;
    tg_sb_init(&call->body, NULL, 512);
    call->deadline_ms = now_ms() + (uint64_t)c->o.timeout_ms;
    call->deadline_ev = evtimer_new(c->base, deadline_cb, call);
    call->retry_ev = evtimer_new(c->base, retry_cb, call);
    tv = ms_tv((uint64_t)c->o.timeout_ms);
    evtimer_add(call->deadline_ev, &tv);
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    c->st.calls++;
    return call;
}

/* Queue and pump from the loop: the callback must never run inside the
 * starting function (see kube.h). */
static void call_start(struct tg_kube_client *c, struct tg_kube_call *call)
{
    queue_push(c, call, 0);
    event_active(c->pump_ev, EV_TIMEOUT, 0);
}

struct tg_kube_call *tg_kube_tokenreview(struct tg_kube_client *c, tg_iovec_t token,
                                         const char *const *audiences, size_t n_audiences,
                                         tg_kube_authn_cb cb, void *arg)
{
    struct tg_kube_call *call = call_new(c, CALL_AUTHN, arg);
    call->cb.authn = cb;
    call->audiences = tg_calloc(n_audiences + 1, sizeof(char *));
    for (size_t i = 0; i < n_audiences; i++)
        call->audiences[i] = tg_strdup(audiences[i]);
    call->n_audiences = n_audiences;
    tg_kube_tokenreview_json(&call->body, token, audiences, n_audiences);
    call_start(c, call);
    return call;
}

struct tg_kube_call *tg_kube_sar(struct tg_kube_client *c, const struct tg_user *user,
                                 const struct tg_authz_attrs *attrs, tg_kube_authz_cb cb, void *arg)
{
    struct tg_kube_call *call = call_new(c, CALL_AUTHZ, arg);
    call->cb.authz = cb;
    tg_kube_sar_json(&call->body, user, attrs);
    call_start(c, call);
    return call;
}

struct tg_kube_call *tg_kube_get(struct tg_kube_client *c, const char *path, tg_kube_get_cb cb,
                                 void *arg)
{
    struct tg_kube_call *call = call_new(c, CALL_GET, arg);
    call->cb.get = cb;
    call->path = tg_strdup(path);
    call_start(c, call);
    return call;
}

void tg_kube_call_cancel(struct tg_kube_call *call)
{
    struct tg_kube_client *c;
    if (!call)
        return;
    c = call->c;
    call_release(call);
    /* A closed connection may let a queued call go; from the loop, so that
     * no other call's callback runs inside cancel. */
    if (c->queue)
        event_active(c->pump_ev, EV_TIMEOUT, 0);
}
