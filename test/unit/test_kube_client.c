/* Unit tests for lib/kube/client.c against an in-process evhttp server (plain
 * HTTP on loopback; TLS is covered by test/e2e/test_kube.py). The target's
 * path prefix picks the server's behaviour. Responses evhttp cannot send
 * (malformed framing, odd splits) come from a raw in-process server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tenantgate/authcache.h"
#include "tenantgate/kube.h"

static const char *TR_OK = "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true,"
                           "\"user\":{\"username\":\"alice\",\"groups\":[\"g\"]},"
                           "\"audiences\":[\"tenantgate\"]}}";

struct srv {
    struct event_base *base;
    struct evhttp *http;
    int port;
    int requests;
    char tokens[8]; /* the token of each TokenReview received, in order ("a", "b", ...) */
    int count429;
    struct evhttp_request *held;
    char last_auth[64];
    char last_uri[128];
    int last_get;
};

static void reply(struct evhttp_request *req, int code, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, code, "x", b);
    evbuffer_free(b);
}

static void on_req(struct evhttp_request *req, void *arg)
{
    struct srv *s = arg;
    const char *uri = evhttp_request_get_uri(req);
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(in);
    const char *body = (const char *)evbuffer_pullup(in, -1); /* not NUL-terminated */
    const char *tok = body ? memmem(body, blen, "\"token\":\"", 9) : NULL;
    if (tok && tok + 9 < body + blen && (size_t)s->requests < sizeof(s->tokens) - 1)
        s->tokens[s->requests] = tok[9];
    s->requests++;
    snprintf(s->last_auth, sizeof(s->last_auth), "%s", auth ? auth : "");
    snprintf(s->last_uri, sizeof(s->last_uri), "%s", uri);
    s->last_get = evhttp_request_get_command(req) == EVHTTP_REQ_GET;
    if (strncmp(uri, "/chunked/", 9) == 0) {
        struct evbuffer *b = evbuffer_new();
        size_t n = strlen(TR_OK);
        evhttp_send_reply_start(req, 201, "Created");
        evbuffer_add(b, TR_OK, n / 2);
        evhttp_send_reply_chunk(req, b);
        evbuffer_add(b, TR_OK + n / 2, n - n / 2);
        evhttp_send_reply_chunk(req, b);
        evhttp_send_reply_end(req);
        evbuffer_free(b);
    } else if (strncmp(uri, "/slow/", 6) == 0) {
        s->held = req; /* never answered */
    } else if (strncmp(uri, "/retry429/", 10) == 0 && s->count429++ == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "0");
        reply(req, 429, "{}");
    } else if (strncmp(uri, "/bad/", 5) == 0) {
        reply(req, 200, "<html>not json</html>");
    } else if (strncmp(uri, "/forbidden/", 11) == 0) {
        reply(req, 403, "{\"kind\":\"Status\"}");
    } else if (strstr(uri, "subjectaccessreviews")) {
        reply(req, 201, "{\"status\":{\"allowed\":false,\"reason\":\"no rule\"}}");
    } else {
        reply(req, 201, TR_OK);
    }
}

struct result {
    int calls;
    enum tg_kube_result res;
    char user[32];
    char reason[128];
    struct event_base *base;
};

static void on_authn(void *arg, enum tg_kube_result res, const struct tg_user *u,
                     const char *reason)
{
    struct result *r = arg;
    r->calls++;
    r->res = res;
    if (u)
        snprintf(r->user, sizeof(r->user), "%.*s", TG_IOV_FMT(u->name));
    snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
    event_base_loopbreak(r->base);
}

static void on_authz(void *arg, enum tg_kube_result res, const char *reason)
{
    on_authn(arg, res, NULL, reason);
}

struct env {
    struct srv s;
    struct tg_kube_client *kc;
};

static struct env *env_new(const char *prefix, int max_conns, int timeout_ms)
{
    struct env *e = calloc(1, sizeof(*e));
    struct evhttp_bound_socket *bs;
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    struct tg_kube_target t;
    struct tg_kube_opts o;
    char err[256];

    e->s.base = event_base_new();
    e->s.http = evhttp_new(e->s.base);
    evhttp_set_gencb(e->s.http, on_req, &e->s);
    bs = evhttp_bind_socket_with_handle(e->s.http, "127.0.0.1", 0);
    assert_non_null(bs);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
    e->s.port = ntohs(sin.sin_port);

    memset(&t, 0, sizeof(t));
    t.https = 0;
    t.host = "127.0.0.1";
    t.port = (uint16_t)e->s.port;
    t.path_prefix = (char *)prefix;
    t.token = "proxy-token";
    tg_kube_opts_init(&o, NULL);
    o.max_conns = max_conns;
    o.timeout_ms = timeout_ms;
    o.backoff_base_ms = 5;
    e->kc = tg_kube_client_new(e->s.base, &t, &o, err, sizeof(err));
    assert_non_null(e->kc);
    return e;
}

static void env_free(struct env *e)
{
    tg_kube_client_free(e->kc);
    evhttp_free(e->s.http);
    event_base_free(e->s.base);
    free(e);
}

static void test_chunked_and_never_synchronous(void **state)
{
    struct env *e = env_new("/chunked", 4, 2000);
    struct result r = {.base = e->s.base};
    const char *aud[] = {"tenantgate"};
    assert_non_null(tg_kube_tokenreview(e->kc, TG_IOV_LIT("tok"), aud, 1, on_authn, &r));
    assert_int_equal(r.calls, 0); /* never from inside the start function */
    event_base_dispatch(e->s.base);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.res, TG_KUBE_OK);
    assert_string_equal(r.user, "alice");
    assert_string_equal(e->s.last_auth, "Bearer proxy-token");
    env_free(e);
}

static void test_keepalive_reuse(void **state)
{
    struct env *e = env_new("", 4, 2000);
    struct result r = {.base = e->s.base};
    struct tg_user u = {.name = TG_IOV_LIT("alice")};
    struct tg_authz_attrs at = {.verb = TG_IOV_LIT("get"),
                                .namespace_ = TG_IOV_LIT("a"),
                                .resource = TG_IOV_LIT("pods"),
                                .resource_request = 1};
    for (int i = 0; i < 3; i++) {
        tg_kube_sar(e->kc, &u, &at, on_authz, &r);
        event_base_dispatch(e->s.base);
        assert_int_equal(r.res, TG_KUBE_DENIED);
        assert_string_equal(r.reason, "no rule");
    }
    assert_int_equal(r.calls, 3);
    assert_int_equal(tg_kube_client_stats(e->kc)->connects, 1);
    env_free(e);
}

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

/* Run the loop until the in-process server has received n requests (an
 * event, not a time); the 10 s guard only ends a wait that never would. */
static void run_until_requests(struct env *e, int n)
{
    int expired = 0;
    struct event *guard = evtimer_new(e->s.base, on_guard, &expired);
    struct timeval tv = {10, 0};
    evtimer_add(guard, &tv);
    while (e->s.requests < n && !expired)
        event_base_loop(e->s.base, EVLOOP_ONCE);
    event_free(guard);
    assert_int_equal(e->s.requests, n);
}

static void test_cancel_inflight_and_queued(void **state)
{
    struct env *e = env_new("/slow", 1, 5000);
    struct result r1 = {.base = e->s.base}, r2 = {.base = e->s.base}, r3 = {.base = e->s.base};
    struct tg_kube_call *c1 = tg_kube_tokenreview(e->kc, TG_IOV_LIT("a"), NULL, 0, on_authn, &r1);
    struct tg_kube_call *c2 = tg_kube_tokenreview(e->kc, TG_IOV_LIT("b"), NULL, 0, on_authn, &r2);
    run_until_requests(e, 1); /* c1 in flight (held by the server), c2 queued behind it */
    assert_int_equal(e->s.tokens[0], 'a');
    tg_kube_call_cancel(c2);
    tg_kube_call_cancel(c1);
    /* one connection only: a third call goes out after whatever was queued
     * before it, so when the server has it, c2 would have come first */
    tg_kube_tokenreview(e->kc, TG_IOV_LIT("c"), NULL, 0, on_authn, &r3);
    run_until_requests(e, 2);
    assert_string_equal(e->s.tokens, "ac");
    assert_int_equal(r1.calls, 0);
    assert_int_equal(r2.calls, 0);
    env_free(e);
}

static void test_timeout(void **state)
{
    struct env *e = env_new("/slow", 1, 150);
    struct result r = {.base = e->s.base};
    tg_kube_tokenreview(e->kc, TG_IOV_LIT("a"), NULL, 0, on_authn, &r);
    event_base_dispatch(e->s.base);
    assert_int_equal(r.res, TG_KUBE_ERROR);
    assert_non_null(strstr(r.reason, "timeout"));
    assert_int_equal(tg_kube_client_stats(e->kc)->timeouts, 1);
    env_free(e);
}

static void test_429_then_ok(void **state)
{
    struct env *e = env_new("/retry429", 4, 2000);
    struct result r = {.base = e->s.base};
    tg_kube_tokenreview(e->kc, TG_IOV_LIT("a"), NULL, 0, on_authn, &r);
    event_base_dispatch(e->s.base);
    assert_int_equal(r.res, TG_KUBE_OK);
    assert_int_equal(e->s.requests, 2);
    assert_int_equal(tg_kube_client_stats(e->kc)->status_429, 1);
    assert_int_equal(tg_kube_client_stats(e->kc)->retries, 1);
    env_free(e);
}

static void test_errors_without_retry(void **state)
{
    struct env *e = env_new("/bad", 4, 2000);
    struct result r = {.base = e->s.base};
    tg_kube_tokenreview(e->kc, TG_IOV_LIT("a"), NULL, 0, on_authn, &r);
    event_base_dispatch(e->s.base);
    assert_int_equal(r.res, TG_KUBE_ERROR);
    assert_non_null(strstr(r.reason, "JSON"));
    assert_int_equal(e->s.requests, 1);
    env_free(e);

    e = env_new("/forbidden", 4, 2000); /* our own SA may not create reviews */
    r.base = e->s.base;
    tg_kube_tokenreview(e->kc, TG_IOV_LIT("a"), NULL, 0, on_authn, &r);
    event_base_dispatch(e->s.base);
    assert_int_equal(r.res, TG_KUBE_ERROR);
    assert_non_null(strstr(r.reason, "403"));
    assert_int_equal(e->s.requests, 1);
    env_free(e);
}

/* The per-attempt observer: one report per HTTP attempt, with the status
 * (0 when the deadline cut the attempt off) and the call kind. */
struct seen {
    int n;
    char calls[4][24];
    int status[4];
};

static void on_observe(void *arg, const char *call, int status, double seconds)
{
    struct seen *s = arg;
    assert_true(seconds >= 0);
    if (s->n < 4) {
        snprintf(s->calls[s->n], sizeof(s->calls[0]), "%s", call);
        s->status[s->n] = status;
    }
    s->n++;
}

struct got {
    int calls, status;
    char body[512], error[128];
    struct event_base *base;
};

static void on_get(void *arg, int status, const char *body, size_t len, const char *error)
{
    struct got *g = arg;
    g->calls++;
    g->status = status;
    snprintf(g->body, sizeof(g->body), "%.*s", body ? (int)len : 0, body ? body : "");
    snprintf(g->error, sizeof(g->error), "%s", error ? error : "");
    event_base_loopbreak(g->base);
}

/* The generic GET OIDC discovery and JWKS use: the path with its query as
 * given, the body of a 2xx as it is, a status and a reason otherwise. */
static void test_get(void **state)
{
    struct env *e = env_new("", 4, 2000);
    struct got g = {.base = e->s.base};

    assert_non_null(tg_kube_get(e->kc, "/keys?x=1", on_get, &g));
    assert_int_equal(g.calls, 0);
    event_base_dispatch(e->s.base);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.status, 201);
    assert_string_equal(g.body, TR_OK);
    assert_string_equal(e->s.last_uri, "/keys?x=1");
    assert_true(e->s.last_get);
    env_free(e);

    e = env_new("/forbidden", 4, 2000);
    g = (struct got){.base = e->s.base};
    tg_kube_get(e->kc, "/.well-known/openid-configuration", on_get, &g);
    event_base_dispatch(e->s.base);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.status, 403);
    assert_string_equal(g.body, "");
    assert_non_null(strstr(g.error, "403"));
    assert_string_equal(e->s.last_uri, "/forbidden/.well-known/openid-configuration");
    assert_int_equal(e->s.requests, 1); /* a 4xx is not retried */
    env_free(e);
}

static void test_observer(void **state)
{
    struct env *e = env_new("/retry429", 4, 2000);
    struct result r = {.base = e->s.base};
    struct seen seen = {0};
    struct tg_user u = {.name = TG_IOV_LIT("alice")};
    struct tg_authz_attrs at = {.verb = TG_IOV_LIT("get"),
                                .resource = TG_IOV_LIT("pods"),
                                .namespace_ = TG_IOV_LIT("alpha"),
                                .resource_request = 1};

    tg_kube_client_set_observer(e->kc, on_observe, &seen);
    tg_kube_tokenreview(e->kc, TG_IOV_LIT("a"), NULL, 0, on_authn, &r);
    event_base_dispatch(e->s.base);
    assert_int_equal(r.res, TG_KUBE_OK);
    tg_kube_sar(e->kc, &u, &at, on_authz, &r);
    event_base_dispatch(e->s.base);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.calls[0], "tokenreview");
    assert_int_equal(seen.status[0], 429);
    assert_string_equal(seen.calls[1], "tokenreview");
    assert_int_equal(seen.status[1], 201);
    assert_string_equal(seen.calls[2], "subjectaccessreview");
    assert_int_equal(seen.status[2], 201);
    env_free(e);

    e = env_new("/slow", 1, 150);
    r.base = e->s.base;
    seen.n = 0;
    tg_kube_client_set_observer(e->kc, on_observe, &seen);
    tg_kube_tokenreview(e->kc, TG_IOV_LIT("a"), NULL, 0, on_authn, &r);
    event_base_dispatch(e->s.base);
    assert_int_equal(r.res, TG_KUBE_ERROR);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.status[0], 0);
    env_free(e);
}

static void test_free_with_calls_outstanding(void **state)
{
    struct env *e = env_new("/slow", 2, 5000);
    struct result r = {.base = e->s.base};
    for (int i = 0; i < 5; i++)
        tg_kube_tokenreview(e->kc, TG_IOV_LIT("a"), NULL, 0, on_authn, &r);
    run_until_requests(e, 2); /* two in flight, three queued */
    env_free(e);              /* no callback, no leak (ASan build) */
    assert_int_equal(r.calls, 0);
}

/* ---- raw server: canned response bytes, in pieces ---- */

struct raw {
    struct event_base *base;
    struct evconnlistener *l;
    int port;
    const char *const *pieces; /* one response, NULL-terminated; sent per request */
    int requests, accepts;
};

struct rawconn {
    struct raw *r;
    struct bufferevent *bev;
    struct event *tick;
    int next; /* piece to send; -1 = waiting for a request */
};

static void rawconn_free(struct rawconn *rc)
{
    event_free(rc->tick);
    bufferevent_free(rc->bev);
    free(rc);
}

/* One piece per loop turn plus 2 ms, so that the client reads most pieces
 * on their own (the splits are the point, not the time). */
static void raw_tick(evutil_socket_t fd, short what, void *arg)
{
    struct rawconn *rc = arg;
    struct timeval tv = {0, 2000};
    const char *piece = rc->r->pieces[rc->next];

    bufferevent_write(rc->bev, piece, strlen(piece));
    if (rc->r->pieces[++rc->next])
        evtimer_add(rc->tick, &tv);
    else
        rc->next = -1;
}

/* A whole request (head and Content-Length body) is in: answer it. */
static void raw_read(struct bufferevent *bev, void *arg)
{
    struct rawconn *rc = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in), head, body = 0;
    const char *b = (const char *)evbuffer_pullup(in, -1);
    const char *end = b ? memmem(b, n, "\r\n\r\n", 4) : NULL;
    const char *cl;

    if (!end || rc->next >= 0)
        return;
    head = (size_t)(end - b) + 4;
    cl = memmem(b, head, "Content-Length: ", 16);
    if (cl)
        body = strtoul(cl + 16, NULL, 10);
    if (n < head + body)
        return;
    evbuffer_drain(in, head + body);
    rc->r->requests++;
    rc->next = 0;
    raw_tick(-1, 0, rc);
}

static void raw_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        rawconn_free(arg);
}

static void raw_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                       void *arg)
{
    struct raw *r = arg;
    struct rawconn *rc = calloc(1, sizeof(*rc));
    assert_non_null(rc);
    rc->r = r;
    rc->next = -1;
    rc->bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
    rc->tick = evtimer_new(r->base, raw_tick, rc);
    bufferevent_setcb(rc->bev, raw_read, NULL, raw_event, rc);
    bufferevent_enable(rc->bev, EV_READ | EV_WRITE);
    r->accepts++;
}

struct rawenv {
    struct raw r;
    struct tg_kube_client *kc;
};

static struct rawenv *rawenv_new(const char *const *pieces)
{
    struct rawenv *e = calloc(1, sizeof(*e));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    struct tg_kube_target t = {.host = "127.0.0.1", .path_prefix = "", .token = "proxy-token"};
    struct tg_kube_opts o;
    char err[256];

    e->r.base = event_base_new();
    e->r.pieces = pieces;
    e->r.l = evconnlistener_new_bind(e->r.base, raw_accept, &e->r,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                     (struct sockaddr *)&sin, sizeof(sin));
    assert_non_null(e->r.l);
    getsockname(evconnlistener_get_fd(e->r.l), (struct sockaddr *)&sin, &sl);
    e->r.port = ntohs(sin.sin_port);
    t.port = (uint16_t)e->r.port;
    tg_kube_opts_init(&o, NULL);
    o.max_conns = 1;
    o.timeout_ms = 5000;
    o.backoff_base_ms = 5;
    e->kc = tg_kube_client_new(e->r.base, &t, &o, err, sizeof(err));
    assert_non_null(e->kc);
    return e;
}

static void rawenv_free(struct rawenv *e)
{
    tg_kube_client_free(e->kc); /* closes its connections: the server's see EOF */
    event_base_loop(e->r.base, EVLOOP_NONBLOCK);
    evconnlistener_free(e->r.l);
    event_base_free(e->r.base);
    free(e);
}

#define TR_OK_LEN "124" /* strlen(TR_OK), checked in test_raw_chunked_split */

/* A TokenReview against a response the parser must refuse: every attempt
 * fails like a connection error (retried, then TG_KUBE_ERROR) and the
 * reason names the parser's verdict. */
static void expect_refused(const char *const *pieces, const char *verdict)
{
    struct rawenv *e = rawenv_new(pieces);
    struct result r = {.base = e->r.base};
    const char *aud[] = {"tenantgate"};

    tg_kube_tokenreview(e->kc, TG_IOV_LIT("a"), aud, 1, on_authn, &r);
    event_base_dispatch(e->r.base);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.res, TG_KUBE_ERROR);
    if (!strstr(r.reason, verdict))
        fail_msg("reason \"%s\" does not say \"%s\"", r.reason, verdict);
    assert_int_equal(e->r.requests, 4);                             /* 1 + 3 retries */
    assert_int_equal(tg_kube_client_stats(e->kc)->retries, 3);      /* like any connection error */
    assert_int_equal(tg_kube_client_stats(e->kc)->by_status[2], 0); /* no answer was taken */
    rawenv_free(e);
}

static void test_raw_refuses_two_content_lengths(void **state)
{
    /* the old parser took the last one and read a valid TokenReview */
    const char *const p[] = {"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n"
                             "Content-Length: " TR_OK_LEN "\r\n\r\n",
                             TR_OK, NULL};
    expect_refused(p, "duplicate Content-Length");
}

static void test_raw_refuses_obs_fold(void **state)
{
    const char *const p[] = {"HTTP/1.1 201 Created\r\nX-A: a\r\n b\r\n"
                             "Content-Length: " TR_OK_LEN "\r\n\r\n",
                             TR_OK, NULL};
    expect_refused(p, "obs-fold");
}

static void test_raw_refuses_te_and_cl(void **state)
{
    const char *const p[] = {"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
                             "Content-Length: 3\r\n\r\n",
                             "7c\r\n", TR_OK, "\r\n0\r\n\r\n", NULL};
    expect_refused(p, "Content-Length together with Transfer-Encoding");
}

/* A 100 Continue, then a chunked TokenReview with an extension and a
 * trailer, split inside the version, between CR and LF, inside a chunk size
 * and its data, and inside the trailer; twice on one connection, so the
 * first response must have been consumed to its last byte. */
static void test_raw_chunked_split(void **state)
{
    static char a[80], b[200];
    const char *const p[] = {"HTT",
                             "P/1.1 100 Continue\r",
                             "\n\r\nHTTP/1.1 201 Created\r\nTransfer-Enc",
                             "oding: chunked\r",
                             "\n\r\n4",
                             "0;ext=1\r\n",
                             a,
                             b,
                             "\r",
                             "\n0\r\nX-Tr",
                             "ailer: 1\r\n\r",
                             "\n",
                             NULL};
    struct rawenv *e;
    struct result r;
    const char *aud[] = {"tenantgate"};
    size_t n = strlen(TR_OK);

    assert_int_equal(n, strtoul(TR_OK_LEN, NULL, 10));
    /* chunk 0x40 bytes, then chunk n-0x40 bytes, the 2nd one's size line split */
    snprintf(a, sizeof(a), "%.*s\r\n%zx", 0x40, TR_OK, n - 0x40);
    assert_true(strlen(a) > 0x41);
    snprintf(b, sizeof(b), "\r\n%s", TR_OK + 0x40);
    e = rawenv_new(p);
    r = (struct result){.base = e->r.base};
    for (int i = 0; i < 2; i++) {
        r.res = TG_KUBE_ERROR;
        tg_kube_tokenreview(e->kc, TG_IOV_LIT("a"), aud, 1, on_authn, &r);
        event_base_dispatch(e->r.base);
        assert_int_equal(r.calls, i + 1);
        if (r.res != TG_KUBE_OK)
            fail_msg("response %d: %s", i, r.reason);
        assert_string_equal(r.user, "alice");
    }
    assert_int_equal(e->r.requests, 2);
    assert_int_equal(e->r.accepts, 1); /* kept alive after the trailer */
    assert_int_equal(tg_kube_client_stats(e->kc)->connects, 1);
    rawenv_free(e);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 65536);
    assert_non_null(f);
    assert_non_null(buf);
    *len = fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

/* TLS contexts from the target's PEM bytes (lib/tls.c): a CA bundle without
 * a certificate, a client certificate that is not one, a key that is not
 * the certificate's, each a NULL client with the reason; the right pair a
 * client. */
static void test_tls_from_pem(void **state)
{
    struct event_base *base = event_base_new();
    struct tg_kube_target t = {.https = 1, .host = "127.0.0.1", .port = 1, .path_prefix = ""};
    struct tg_kube_opts o;
    struct tg_kube_client *kc;
    size_t crt_len, key_len, other_len;
    char *crt = slurp("test/unit/data/config/tls.crt", &crt_len);
    char *key = slurp("test/unit/data/config/tls.key", &key_len);
    char *other = slurp("test/unit/data/config/other.key", &other_len);
    char err[256];

    tg_kube_opts_init(&o, NULL);
    t.ca_pem = "not PEM";
    t.ca_pem_len = 7;
    assert_null(tg_kube_client_new(base, &t, &o, err, sizeof(err)));
    assert_non_null(strstr(err, "no PEM certificate"));
    t.ca_pem = crt;
    t.ca_pem_len = crt_len;
    t.cert_pem = "junk";
    t.cert_pem_len = 4;
    t.key_pem = key;
    t.key_pem_len = key_len;
    assert_null(tg_kube_client_new(base, &t, &o, err, sizeof(err)));
    assert_non_null(strstr(err, "not a PEM certificate"));
    t.cert_pem = crt;
    t.cert_pem_len = crt_len;
    t.key_pem = other;
    t.key_pem_len = other_len;
    assert_null(tg_kube_client_new(base, &t, &o, err, sizeof(err)));
    assert_non_null(strstr(err, "does not match"));
    t.key_pem = key;
    t.key_pem_len = key_len;
    kc = tg_kube_client_new(base, &t, &o, err, sizeof(err));
    if (!kc)
        fail_msg("%s", err);
    tg_kube_client_free(kc);
    free(crt);
    free(key);
    free(other);
    event_base_free(base);
}

static void test_setup_helper(void **state)
{
    struct event_base *base = event_base_new();
    struct tg_config cfg;
    struct tg_kube_client *kc;
    struct tg_authcache *cache;
    char err[256] = "", path[] = "/tmp/tgkcXXXXXX";
    char *aud[] = {"tenantgate"};
    int fd = mkstemp(path);
    const char *kcfg = "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, "
                       "user: u}\nclusters:\n- name: c\n  cluster: {server: "
                       "'http://127.0.0.1:1'}\nusers:\n- name: u\n  user: {token: x}\n";

    assert_true(fd >= 0);
    assert_int_equal(write(fd, kcfg, strlen(kcfg)), (ssize_t)strlen(kcfg));
    close(fd);
    memset(&cfg, 0, sizeof(cfg));
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(tg_kube_auth_new(base, &cfg, &kc, &cache, err, sizeof(err)), 1);
    assert_null(kc);
    assert_null(cache);
    cfg.kubeconfig = path;
    cfg.auth_token_audiences = aud;
    cfg.n_auth_token_audiences = 1;
    cfg.cache_max_entries = 5;
    assert_int_equal(tg_kube_auth_new(base, &cfg, &kc, &cache, err, sizeof(err)), 0);
    assert_non_null(kc);
    assert_non_null(cache);
    tg_kube_auth_free(kc, cache);
    cfg.kubeconfig = "/nonexistent/kubeconfig";
    assert_int_equal(tg_kube_auth_new(base, &cfg, &kc, &cache, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/kubeconfig"));
    unlink(path);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_and_never_synchronous),
        cmocka_unit_test(test_keepalive_reuse),
        cmocka_unit_test(test_cancel_inflight_and_queued),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_429_then_ok),
        cmocka_unit_test(test_errors_without_retry),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_observer),
        cmocka_unit_test(test_free_with_calls_outstanding),
        cmocka_unit_test(test_setup_helper),
        cmocka_unit_test(test_tls_from_pem),
        cmocka_unit_test(test_raw_refuses_two_content_lengths),
        cmocka_unit_test(test_raw_refuses_obs_fold),
        cmocka_unit_test(test_raw_refuses_te_and_cl),
        cmocka_unit_test(test_raw_chunked_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
