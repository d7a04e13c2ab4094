/* Unit tests for lib/upstream/client.c: the keep-alive pool (reuse, idle
 * limits, the server closing idle connections, idle expiry), the one retry
 * (and every case where there must be none), timeouts, protocol errors,
 * backpressure, cancelling from inside callbacks, and the request head
 * builder. The server is scripted in-process on the same event loop, on a
 * loopback socket; tests wait for events, never for a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "tenantgate/upstream_client.h"

/* ---- the scripted server ---- */

enum action {
    A_ANSWER,     /* write srv.answer */
    A_CLOSE,      /* close without answering */
    A_HEAD_CLOSE, /* write the first line of an answer, then close */
    A_STALL,      /* keep the connection, answer nothing */
};

struct sconn {
    int fd;
    int id;       /* 1, 2, ... in accept order */
    int requests; /* complete requests read */
    int closed;   /* by us, or EOF seen */
    struct event *ev, *wev;
    char buf[65536];
    size_t len;
    const char *out; /* being written (the loop is shared with the client) */
    size_t out_len;
    int close_after; /* once out is written */
};

#define MAX_SCONNS 32

static struct {
    struct event_base *base;
    int lfd, port;
    struct event *accept_ev;
    struct sconn conns[MAX_SCONNS];
    int n_conns;
    int requests; /* complete requests read, all connections */
    int eofs;     /* connections the client closed */
    /* what to do with request k (1-based) on connection c: decide(c, k) */
    enum action (*decide)(const struct sconn *c, int k);
    const char *answer;
    size_t answer_len;
    char last_request[4096];
} srv;

static enum action answer_all(const struct sconn *c, int k)
{
    return A_ANSWER;
}

static void sconn_close(struct sconn *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    event_free(c->ev);
    event_free(c->wev);
    close(c->fd);
}

static void flush(struct sconn *c)
{
    while (c->out_len > 0) {
        ssize_t w = write(c->fd, c->out, c->out_len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            event_add(c->wev, NULL);
            return;
        }
        if (w <= 0) { /* the client went */
            c->out_len = 0;
            break;
        }
        c->out += w;
        c->out_len -= (size_t)w;
    }
    event_del(c->wev);
    if (c->close_after)
        sconn_close(c);
}

static void on_swrite(evutil_socket_t fd, short what, void *arg)
{
    flush(arg);
}

/* Write (in the background), then close if asked. */
static void swrite(struct sconn *c, const char *p, size_t n, int close_after)
{
    c->out = p;
    c->out_len = n;
    c->close_after = close_after;
    flush(c);
}

/* One complete request at the front of c->buf: its length, or 0. */
static size_t request_len(const struct sconn *c)
{
    const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *cl;
    size_t head, body = 0;

    if (end == NULL)
        return 0;
    head = (size_t)(end - c->buf) + 4;
    cl = memmem(c->buf, head, "Content-Length: ", 16);
    if (cl != NULL)
        body = strtoul(cl + 16, NULL, 10);
    return c->len >= head + body ? head + body : 0;
}

static void on_sconn(evutil_socket_t fd, short what, void *arg)
{
    struct sconn *c = arg;
    ssize_t n = read(fd, c->buf + c->len, sizeof(c->buf) - c->len);
    size_t rl;

    if (n <= 0) {
        srv.eofs++;
        sconn_close(c);
        return;
    }
    c->len += (size_t)n;
    while (!c->closed && (rl = request_len(c)) > 0) {
        enum action a;
        c->requests++;
        srv.requests++;
        snprintf(srv.last_request, sizeof(srv.last_request), "%.*s", (int)rl, c->buf);
        memmove(c->buf, c->buf + rl, c->len - rl);
        c->len -= rl;
        a = srv.decide(c, c->requests);
        if (a == A_ANSWER)
            swrite(c, srv.answer, srv.answer_len, 0);
        else if (a == A_CLOSE)
            sconn_close(c);
        else if (a == A_HEAD_CLOSE)
            swrite(c, "HTTP/1.1 200 OK\r\n", 17, 1);
    }
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    int cfd = accept(fd, NULL, NULL);
    struct sconn *c;

    if (cfd < 0)
        return;
    assert_true(srv.n_conns < MAX_SCONNS);
    c = &srv.conns[srv.n_conns++];
    memset(c, 0, sizeof(*c));
    c->fd = cfd;
    c->id = srv.n_conns;
    evutil_make_socket_nonblocking(cfd);
    c->ev = event_new(srv.base, cfd, EV_READ | EV_PERSIST, on_sconn, c);
    c->wev = event_new(srv.base, cfd, EV_WRITE | EV_PERSIST, on_swrite, c);
    event_add(c->ev, NULL);
}

static void answer(const char *a)
{
    srv.answer = a;
    srv.answer_len = strlen(a);
}

static int setup(void **state)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    signal(SIGPIPE, SIG_IGN);
    memset(&srv, 0, sizeof(srv));
    srv.base = event_base_new();
    srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(srv.lfd, 64), 0);
    getsockname(srv.lfd, (struct sockaddr *)&sa, &sl);
    srv.port = ntohs(sa.sin_port);
    srv.accept_ev = event_new(srv.base, srv.lfd, EV_READ | EV_PERSIST, on_accept, NULL);
    event_add(srv.accept_ev, NULL);
    srv.decide = answer_all;
    answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    return 0;
}

static int teardown(void **state)
{
    int i;
    for (i = 0; i < srv.n_conns; i++)
        sconn_close(&srv.conns[i]);
    event_free(srv.accept_ev);
    close(srv.lfd);
    event_base_free(srv.base);
    return 0;
}

/* ---- the client side ---- */

struct result {
    int heads, done, status;
    enum tg_up_error err;
    char detail[256];
    char body[8192];
    size_t body_len, total;
    /* behaviours */
    int head_rc; /* on_head returns this */
    int cancel_in_head, cancel_in_body;
    int pause_each_body; /* pause after every piece; a zero timer resumes */
    int paused, pauses;
    int in_send;
    struct tg_up_xfer *x;
};

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct result *r = arg;
    r->paused = 0;
    tg_up_resume(r->x);
    tg_up_resume(r->x); /* twice is once */
}

static int on_head(void *arg, const struct tg_up_response *resp)
{
    struct result *r = arg;
    assert_false(r->in_send);
    r->heads++;
    r->status = resp->status;
    if (r->cancel_in_head) {
        tg_up_cancel(r->x);
        r->done = -1;
    }
    return r->head_rc;
}

static int on_body(void *arg, const char *data, size_t len)
{
    static const struct timeval zero = {0, 0};
    struct result *r = arg;

    assert_false(r->paused); /* nothing while paused */
    if (r->body_len + len <= sizeof(r->body)) {
        memcpy(r->body + r->body_len, data, len);
        r->body_len += len;
    }
    r->total += len;
    if (r->cancel_in_body) {
        tg_up_cancel(r->x);
        r->done = -1;
        return 0;
    }
    if (r->pause_each_body) {
        tg_up_pause(r->x);
        tg_up_pause(r->x); /* twice is once */
        r->paused = 1;
        r->pauses++;
        event_base_once(srv.base, -1, EV_TIMEOUT, resume_cb, r, &zero);
    }
    return 0;
}

static void on_done(void *arg, enum tg_up_error err, const char *detail)
{
    struct result *r = arg;
    assert_false(r->in_send);
    assert_int_equal(r->done, 0);
    r->done = 1;
    r->err = err;
    snprintf(r->detail, sizeof(r->detail), "%s", detail ? detail : "");
}

static const struct tg_up_callbacks cbs = {on_head, on_body, on_done};

static struct tg_up_pool *pool_at(int port, const struct tg_up_opts *o)
{
    struct tg_up_target t = {"127.0.0.1", port, NULL, NULL};
    return tg_up_pool_new(srv.base, NULL, &t, o);
}

static const char *get_head = "GET /x HTTP/1.1\r\nHost: test\r\n\r\n";

static struct tg_up_xfer *send_req(struct tg_up_pool *p, struct result *r, int idempotent,
                                   int timeout_ms)
{
    struct tg_up_request req = {0};
    req.head = tg_iov_str(get_head);
    req.idempotent = idempotent;
    req.timeout_ms = timeout_ms;
    r->in_send = 1;
    r->x = tg_up_send(p, &req, &cbs, r);
    r->in_send = 0;
    assert_non_null(r->x);
    return r->x;
}

/* Run the loop until cond() holds (every test waits for an event this way). */
static void run_until(int (*cond)(void *), void *arg)
{
    int turns = 0;
    while (!cond(arg)) {
        event_base_loop(srv.base, EVLOOP_ONCE);
        assert_true(++turns < 1000000);
    }
}

static int is_done(void *arg)
{
    return ((struct result *)arg)->done != 0;
}

static void exchange(struct tg_up_pool *p, struct result *r, int idempotent)
{
    memset(r, 0, sizeof(*r));
    send_req(p, r, idempotent, 0);
    run_until(is_done, r);
}

static void assert_ok(const struct result *r, const char *body)
{
    if (r->err != TG_UP_OK)
        fail_msg("exchange failed (%d): %s", r->err, r->detail);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, strlen(body));
    assert_memory_equal(r->body, body, r->body_len);
}

static const struct tg_up_stats *st(struct tg_up_pool *p)
{
    return tg_up_pool_stats(p);
}

/* ---- tests ---- */

static void test_reuse(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;
    int i;

    for (i = 0; i < 3; i++) {
        exchange(p, &r, 1);
        assert_ok(&r, "hello");
    }
    assert_int_equal(st(p)->connects, 1);
    assert_int_equal(st(p)->reuses, 2);
    assert_int_equal(st(p)->idle, 1);
    assert_int_equal(st(p)->busy, 0);
    assert_int_equal(srv.n_conns, 1);
    assert_int_equal(srv.conns[0].requests, 3);
    assert_string_equal(srv.last_request, get_head);
    tg_up_pool_free(p);
}

static int idle_closed_seen(void *arg)
{
    return st(arg)->idle_closed > 0;
}

/* The server closes an idle pooled connection: the armed read event sees it,
 * the connection leaves the pool, the next request goes on a new one. */
static void test_server_closes_idle(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    exchange(p, &r, 1);
    assert_ok(&r, "hello");
    sconn_close(&srv.conns[0]);
    run_until(idle_closed_seen, p);
    assert_int_equal(st(p)->idle, 0);
    exchange(p, &r, 1);
    assert_ok(&r, "hello");
    assert_int_equal(st(p)->connects, 2);
    assert_int_equal(st(p)->retries, 0);
    assert_int_equal(srv.n_conns, 2);
    tg_up_pool_free(p);
}

/* Data on an idle connection (nobody asked): it cannot be trusted. */
static void test_unsolicited_data_on_idle(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    exchange(p, &r, 1);
    swrite(&srv.conns[0], "HTTP/1.1 200 OK\r\n", 17, 0);
    run_until(idle_closed_seen, p);
    exchange(p, &r, 1);
    assert_ok(&r, "hello");
    assert_int_equal(st(p)->connects, 2);
    tg_up_pool_free(p);
}

/* The second request on a connection is read, and the connection closed
 * without an answer (the race the retry exists for). */
static enum action close_second(const struct sconn *c, int k)
{
    return k == 2 ? A_CLOSE : A_ANSWER;
}

static void test_retry_on_stale(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    srv.decide = close_second;
    exchange(p, &r, 1);
    assert_ok(&r, "hello");
    exchange(p, &r, 1);
    assert_ok(&r, "hello");
    assert_int_equal(st(p)->retries, 1);
    assert_int_equal(st(p)->connects, 2);
    assert_int_equal(srv.requests, 3); /* 2 on the first connection, 1 on the second */
    assert_int_equal(srv.conns[0].requests, 2);
    assert_int_equal(srv.conns[1].requests, 1);
    tg_up_pool_free(p);
}

static void test_no_retry_when_not_idempotent(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    srv.decide = close_second;
    exchange(p, &r, 0);
    assert_ok(&r, "hello");
    exchange(p, &r, 0);
    assert_int_equal(r.err, TG_UP_ERESET);
    assert_int_equal(r.heads, 0);
    assert_int_equal(st(p)->retries, 0);
    assert_int_equal(srv.requests, 2);
    tg_up_pool_free(p);
}

static enum action head_close_second(const struct sconn *c, int k)
{
    return k == 2 ? A_HEAD_CLOSE : A_ANSWER;
}

/* A byte of the answer came back: the server took the request; never again. */
static void test_no_retry_after_answer_started(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    srv.decide = head_close_second;
    exchange(p, &r, 1);
    exchange(p, &r, 1);
    assert_int_equal(r.err, TG_UP_EPROTO); /* a head cut short is not HTTP */
    assert_non_null(strstr(r.detail, "closed before the response head was complete"));
    assert_int_equal(st(p)->retries, 0);
    assert_int_equal(srv.requests, 2);
    tg_up_pool_free(p);
}

static enum action close_all(const struct sconn *c, int k)
{
    return A_CLOSE;
}

/* A new connection that fails proves the server is failing: no retry. And
 * the retry itself is never retried. */
static void test_no_retry_on_fresh_connection(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    srv.decide = close_all;
    exchange(p, &r, 1);
    assert_int_equal(r.err, TG_UP_ERESET);
    assert_int_equal(st(p)->retries, 0);
    assert_int_equal(srv.requests, 1);

    srv.decide = answer_all;
    exchange(p, &r, 1); /* a pooled connection again */
    srv.decide = close_all;
    exchange(p, &r, 1);
    assert_int_equal(r.err, TG_UP_ERESET);
    assert_int_equal(st(p)->retries, 1);
    assert_int_equal(srv.requests, 4); /* the pooled try and one retry */
    tg_up_pool_free(p);
}

static void test_max_idle(void **state)
{
    struct tg_up_opts o = {.max_idle = 2};
    struct tg_up_pool *p = pool_at(srv.port, &o);
    struct result r[4];
    int i;

    memset(r, 0, sizeof(r));
    for (i = 0; i < 4; i++)
        send_req(p, &r[i], 1, 0);
    assert_int_equal(st(p)->busy, 4);
    for (i = 0; i < 4; i++) {
        run_until(is_done, &r[i]);
        assert_ok(&r[i], "hello");
    }
    assert_int_equal(st(p)->connects, 4);
    assert_int_equal(st(p)->idle, 2);
    assert_int_equal(st(p)->busy, 0);
    tg_up_pool_free(p);
}

static int idle_expired_seen(void *arg)
{
    return st(arg)->idle_expired > 0;
}

static int server_saw_eofs(void *arg)
{
    return srv.eofs >= *(int *)arg;
}

static void test_idle_timeout(void **state)
{
    struct tg_up_opts o = {.idle_timeout_ms = 1};
    struct tg_up_pool *p = pool_at(srv.port, &o);
    struct result r;
    int one = 1;

    exchange(p, &r, 1);
    assert_ok(&r, "hello");
    run_until(idle_expired_seen, p);
    assert_int_equal(st(p)->idle, 0);
    run_until(server_saw_eofs, &one);
    tg_up_pool_free(p);
}

static enum action stall(const struct sconn *c, int k)
{
    return A_STALL;
}

static void test_head_timeout(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    srv.decide = stall;
    memset(&r, 0, sizeof(r));
    send_req(p, &r, 1, 20);
    run_until(is_done, &r);
    assert_int_equal(r.err, TG_UP_ETIMEOUT);
    assert_int_equal(r.heads, 0);
    assert_int_equal(st(p)->busy, 0);
    assert_int_equal(st(p)->idle, 0);
    tg_up_pool_free(p);
}

/* The head came, then the body stopped: the silence limit. */
static void test_body_silence(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
    memset(&r, 0, sizeof(r));
    send_req(p, &r, 1, 20);
    run_until(is_done, &r);
    assert_int_equal(r.err, TG_UP_ETIMEOUT);
    assert_int_equal(r.heads, 1);
    assert_int_equal(r.body_len, 3);
    tg_up_pool_free(p);
}

static void test_connect_refused(void **state)
{
    struct tg_up_pool *p;
    struct result r;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    /* a port that was just free: bound, never listened on */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    port = ntohs(sa.sin_port);
    p = pool_at(port, NULL);
    exchange(p, &r, 1);
    assert_int_equal(r.err, TG_UP_ECONNECT);
    assert_non_null(strstr(r.detail, "refused"));
    close(fd);
    tg_up_pool_free(p);
}

static void test_no_dns_resolver(void **state)
{
    struct tg_up_target t = {"upstream.invalid", srv.port, NULL, NULL};
    struct tg_up_pool *p = tg_up_pool_new(srv.base, NULL, &t, NULL);
    struct result r;

    exchange(p, &r, 1);
    assert_int_equal(r.err, TG_UP_ECONNECT);
    assert_non_null(strstr(r.detail, "no DNS resolver"));
    tg_up_pool_free(p);
}

/* A name from /etc/hosts: answered inside the lookup call. */
static void test_hosts_file_name(void **state)
{
    struct evdns_base *dns = evdns_base_new(srv.base, 0);
    struct tg_up_target t = {"localhost", srv.port, NULL, NULL};
    struct tg_up_pool *p;
    struct result r;

    if (evdns_base_load_hosts(dns, "/etc/hosts") != 0) {
        evdns_base_free(dns, 0);
        skip();
    }
    p = tg_up_pool_new(srv.base, dns, &t, NULL);
    /* localhost may be ::1 first, where nobody listens: the next address is tried */
    exchange(p, &r, 1);
    assert_ok(&r, "hello");
    tg_up_pool_free(p);
    evdns_base_free(dns, 0);
}

static void test_protocol_error_not_reused(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    exchange(p, &r, 1);
    assert_int_equal(r.err, TG_UP_EPROTO);
    assert_non_null(strstr(r.detail, "Content-Length together with Transfer-Encoding"));
    assert_non_null(strstr(r.detail, "byte 36"));
    assert_int_equal(r.heads, 0);
    assert_int_equal(st(p)->idle, 0);
    tg_up_pool_free(p);
}

/* Responses that leave the connection unusable are not pooled. */
static void test_not_reusable(void **state)
{
    static const char *const answers[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    };
    size_t i;

    for (i = 0; i < 3; i++) {
        struct tg_up_pool *p = pool_at(srv.port, NULL);
        struct result r;
        answer(answers[i]);
        exchange(p, &r, 1);
        assert_ok(&r, "hello");
        assert_int_equal(st(p)->idle, 0);
        tg_up_pool_free(p);
    }
}

static enum action answer_then_close(const struct sconn *c, int k)
{
    swrite((struct sconn *)c, srv.answer, srv.answer_len, 1);
    return A_STALL;
}

static void test_close_delimited(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    srv.decide = answer_then_close;
    answer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end");
    exchange(p, &r, 1);
    assert_ok(&r, "to the end");
    assert_int_equal(st(p)->idle, 0);
    /* a Content-Length body cut short by the close */
    answer("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nto the end");
    exchange(p, &r, 1);
    assert_int_equal(r.err, TG_UP_ERESET);
    assert_non_null(strstr(r.detail, "closed before the end of the body"));
    tg_up_pool_free(p);
}

static void test_interim_and_chunked(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    answer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n");
    exchange(p, &r, 1);
    assert_ok(&r, "hello");
    assert_int_equal(r.heads, 1);
    exchange(p, &r, 1);
    assert_ok(&r, "hello");
    assert_int_equal(st(p)->reuses, 1);
    tg_up_pool_free(p);
}

/* A body far bigger than the read buffer, with the consumer pausing after
 * every piece: no piece arrives while paused, none is lost. */
static void test_pause_resume(void **state)
{
    static char big[1 << 20];
    char *resp = malloc(sizeof(big) + 128);
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;
    int n;

    memset(big, 'b', sizeof(big));
    n = sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof(big));
    memcpy(resp + n, big, sizeof(big));
    srv.answer = resp;
    srv.answer_len = (size_t)n + sizeof(big);
    memset(&r, 0, sizeof(r));
    r.pause_each_body = 1;
    send_req(p, &r, 1, 0);
    run_until(is_done, &r);
    if (r.err != TG_UP_OK)
        fail_msg("failed (%d): %s after %zu bytes", r.err, r.detail, r.total);
    assert_int_equal(r.total, sizeof(big));
    assert_true(r.pauses > 1);
    assert_int_equal(st(p)->idle, 1);
    free(resp);
    tg_up_pool_free(p);
}

static int eof_seen(void *arg)
{
    return srv.eofs > 0;
}

static void test_cancel_in_callbacks(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    memset(&r, 0, sizeof(r));
    r.cancel_in_head = 1;
    send_req(p, &r, 1, 0);
    run_until(is_done, &r);
    assert_int_equal(r.done, -1); /* never on_done */
    assert_int_equal(st(p)->busy, 0);
    assert_int_equal(st(p)->idle, 0);
    run_until(eof_seen, NULL);

    memset(&r, 0, sizeof(r));
    r.cancel_in_body = 1;
    send_req(p, &r, 1, 0);
    run_until(is_done, &r);
    assert_int_equal(r.done, -1);
    assert_int_equal(r.heads, 1);
    assert_int_equal(st(p)->busy, 0);

    /* cancelled right after sending, before anything came back */
    memset(&r, 0, sizeof(r));
    send_req(p, &r, 1, 0);
    tg_up_cancel(r.x);
    exchange(p, &r, 1); /* the loop runs on; the cancelled one never calls back */
    assert_ok(&r, "hello");
    tg_up_pool_free(p);
}

static void test_abort_from_callback(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r;

    memset(&r, 0, sizeof(r));
    r.head_rc = -1;
    send_req(p, &r, 1, 0);
    run_until(is_done, &r);
    assert_int_equal(r.err, TG_UP_EABORT);
    assert_int_equal(r.body_len, 0);
    assert_int_equal(st(p)->idle, 0);
    tg_up_pool_free(p);
}

/* The request goes out whole: head and body in one write, even large. */
static void test_post_body(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    static char body[40000];
    char head[128];
    struct tg_up_request req = {0};
    struct result r;

    memset(body, 'q', sizeof(body));
    snprintf(head, sizeof(head), "POST /q HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n",
             sizeof(body));
    req.head = tg_iov_str(head);
    req.body = tg_iov(body, sizeof(body));
    req.idempotent = 1;
    memset(&r, 0, sizeof(r));
    r.x = tg_up_send(p, &req, &cbs, &r);
    run_until(is_done, &r);
    assert_ok(&r, "hello");
    assert_int_equal(srv.requests, 1);
    tg_up_pool_free(p);
}

/* Exchanges still running when the pool goes end without a callback. */
static void test_pool_free_with_exchanges(void **state)
{
    struct tg_up_pool *p = pool_at(srv.port, NULL);
    struct result r1, r2;

    srv.decide = stall;
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    send_req(p, &r1, 1, 0);
    send_req(p, &r2, 1, 0);
    event_base_loop(srv.base, EVLOOP_NONBLOCK);
    tg_up_pool_free(p);
    event_base_loop(srv.base, EVLOOP_NONBLOCK);
    assert_int_equal(r1.done, 0);
    assert_int_equal(r2.done, 0);
}

static void test_head_builder(void **state)
{
    tg_sb_t sb;
    tg_sb_init(&sb, NULL, 0);
    tg_up_head_start(&sb, TG_IOV_LIT("GET"), TG_IOV_LIT("/api/v1/query?query=up"),
                     TG_IOV_LIT("prom:9090"));
    assert_int_equal(tg_up_head_add(&sb, TG_IOV_LIT("Accept"), TG_IOV_LIT("*/*")), 0);
    assert_int_equal(tg_up_head_add(&sb, TG_IOV_LIT("X-Empty"), TG_IOV_LIT("")), 0);
    /* no header injection, whatever the caller hands in */
    assert_int_equal(tg_up_head_add(&sb, TG_IOV_LIT("X"), TG_IOV_LIT("a\r\nEvil: 1")), -1);
    assert_int_equal(tg_up_head_add(&sb, TG_IOV_LIT("X"), TG_IOV_LIT("a\nb")), -1);
    assert_int_equal(tg_up_head_add(&sb, TG_IOV_LIT("X"), tg_iov("a\0b", 3)), -1);
    assert_int_equal(tg_up_head_add(&sb, TG_IOV_LIT("X Y"), TG_IOV_LIT("v")), -1);
    assert_int_equal(tg_up_head_add(&sb, TG_IOV_LIT("X:Y"), TG_IOV_LIT("v")), -1);
    assert_int_equal(tg_up_head_add(&sb, TG_IOV_LIT(""), TG_IOV_LIT("v")), -1);
    tg_up_head_end(&sb);
    assert_string_equal(sb.base, "GET /api/v1/query?query=up HTTP/1.1\r\nHost: prom:9090\r\n"
                                 "Accept: */*\r\nX-Empty: \r\n\r\n");
    tg_sb_free(&sb);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_reuse),
        T(test_server_closes_idle),
        T(test_unsolicited_data_on_idle),
        T(test_retry_on_stale),
        T(test_no_retry_when_not_idempotent),
        T(test_no_retry_after_answer_started),
        T(test_no_retry_on_fresh_connection),
        T(test_max_idle),
        T(test_idle_timeout),
        T(test_head_timeout),
        T(test_body_silence),
        T(test_connect_refused),
        T(test_no_dns_resolver),
        T(test_hosts_file_name),
        T(test_protocol_error_not_reused),
        T(test_not_reusable),
        T(test_close_delimited),
        T(test_interim_and_chunked),
        T(test_pause_resume),
        T(test_cancel_in_callbacks),
        T(test_abort_from_callback),
        T(test_post_body),
        T(test_pool_free_with_exchanges),
        cmocka_unit_test(test_head_builder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
