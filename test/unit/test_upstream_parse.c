/* Unit tests for lib/upstream/parse.c, the strict HTTP/1.1 response parser:
 * every framing, every smuggling shape, and the same verdict (status, body,
 * error and its position) whether the response arrives whole, split in two at
 * every byte boundary, or one byte at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tenantgate/upstream_parse.h"
#include "up_parse_driver.h"

#define MAX_HEAD 4096 /* small, so that the limit cases stay small */

#define outcome up_outcome

static void run(const char *in, size_t n, const size_t *cuts, size_t ncuts, int head_request,
                struct outcome *o)
{
    up_run(in, n, cuts, ncuts, MAX_HEAD, head_request, o);
    if (o->violation)
        fail_msg("parser broke a promise: %s", o->violation);
}

static void same(const struct outcome *a, const struct outcome *b, const char *name,
                 const char *how)
{
    const char *d = up_differ(a, b);
    if (d != NULL)
        fail_msg("%s: %s gives another %s: rc %d/%d status %d/%d body %llu/%llu error %s/%s "
                 "at %llu/%llu",
                 name, how, d, a->rc, b->rc, a->status, b->status, (unsigned long long)a->body_len,
                 (unsigned long long)b->body_len, a->error ? a->error : "-",
                 b->error ? b->error : "-", (unsigned long long)a->error_at,
                 (unsigned long long)b->error_at);
}

/* The whole stream, then every split in two, then one byte at a time. */
static void run_all_splits(const char *in, size_t n, int head_request, const char *name,
                           struct outcome *whole)
{
    struct outcome o;
    size_t *cuts = malloc((n + 1) * sizeof(*cuts));
    size_t i;

    run(in, n, NULL, 0, head_request, whole);
    for (i = 0; i <= n; i++) {
        char how[64];
        run(in, n, &i, 1, head_request, &o);
        snprintf(how, sizeof(how), "a split at byte %zu", i);
        same(whole, &o, name, how);
    }
    for (i = 0; i < n; i++)
        cuts[i] = i + 1;
    run(in, n, cuts, n, head_request, &o);
    same(whole, &o, name, "one byte at a time");
    free(cuts);
}

#define OK_LEN   TG_UP_BODY_LENGTH
#define OK_CHUNK TG_UP_BODY_CHUNKED
#define OK_CLOSE TG_UP_BODY_CLOSE
#define OK_NONE  TG_UP_BODY_NONE

struct accept_case {
    const char *name, *in;
    int status, framing, keep_alive;
    const char *body;
    size_t extra;
    const char *hdrs; /* NULL: not checked */
};

static const struct accept_case accepted[] = {
    {"content-length",
     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello", 200,
     OK_LEN, 1, "hello", 0, "Content-Type=application/json;Content-Length=5;"},
    {"content-length 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, OK_LEN, 1, "", 0,
     NULL},
    {"leading zeros", "HTTP/1.1 200 OK\r\nContent-Length: 0005\r\n\r\nhello", 200, OK_LEN, 1,
     "hello", 0, NULL},
    {"length with OWS", "HTTP/1.1 200 OK\r\nContent-Length: \t 5 \t\r\n\r\nhello", 200, OK_LEN, 1,
     "hello", 0, "Content-Length=5;"},
    {"any case", "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh:3\r\n\r\nabc", 200, OK_LEN, 1, "abc", 0, NULL},
    {"extra after the body", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 200, OK_LEN, 1,
     "ok", 5, NULL},
    {"chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
     200, OK_CHUNK, 1, "hello world", 0, NULL},
    {"chunked, any case",
     "HTTP/1.1 200 OK\r\ntransfer-encoding: ChUnKeD\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", 200,
     OK_CHUNK, 1, "0123456789", 0, NULL},
    {"chunk size hex and zeros",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00b\r\nhello world\r\n000\r\n\r\n", 200,
     OK_CHUNK, 1, "hello world", 0, NULL},
    {"chunk extensions",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c=\"d "
     "e\"\r\nhello\r\n0;last\r\n\r\n",
     200, OK_CHUNK, 1, "hello", 0, NULL},
    {"trailers dropped",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: "
     "v\r\nContent-Length: 99\r\n\r\n",
     200, OK_CHUNK, 1, "ok", 0, "Transfer-Encoding=chunked;"},
    {"chunked extra", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1", 200,
     OK_CHUNK, 1, "", 8, NULL},
    {"close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", 200,
     OK_CLOSE, 0, "until the end", 0, NULL},
    {"close-delimited empty", "HTTP/1.1 200 OK\r\n\r\n", 200, OK_CLOSE, 0, "", 0, ""},
    {"HTTP/1.0 never kept",
     "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok", 200, OK_LEN, 0,
     "ok", 0, NULL},
    {"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
     200, OK_LEN, 0, "ok", 0, NULL},
    {"Connection list with close",
     "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nok", 200, OK_LEN,
     0, "ok", 0, NULL},
    {"Connection: closed is not close",
     "HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 2\r\n\r\nok", 200, OK_LEN, 1, "ok",
     0, NULL},
    {"204", "HTTP/1.1 204 No Content\r\nX: y\r\n\r\n", 204, OK_NONE, 1, "", 0, "X=y;"},
    {"204 with Content-Length 0", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 204,
     OK_NONE, 1, "", 0, NULL},
    {"304 with a length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 304, OK_NONE,
     1, "", 0, NULL},
    {"100 Continue first",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, OK_LEN, 1,
     "ok", 0, "Content-Length=2;"},
    {"103 with headers, then 201",
     "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
     "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx",
     201, OK_LEN, 1, "x", 0, "Content-Length=1;"},
    {"empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 200, OK_LEN, 1, "", 0, NULL},
    {"no reason", "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", 503, OK_LEN, 1, "", 0, NULL},
    {"reason with tab and obs-text", "HTTP/1.1 404 Not\tF\xc3\xb6und\r\nContent-Length: 0\r\n\r\n",
     404, OK_LEN, 1, "", 0, NULL},
    {"values: obs-text, tabs, empty",
     "HTTP/1.1 200 OK\r\nX-A: caf\xc3\xa9\tb\r\nX-Empty:\r\nX-Sp:   \r\nContent-Length: 0\r\n\r\n",
     200, OK_LEN, 1, "", 0, "X-A=caf\xc3\xa9\tb;X-Empty=;X-Sp=;Content-Length=0;"},
    {"token punctuation in names",
     "HTTP/1.1 200 OK\r\nX!#$%&'*+-.^_`|~9: v\r\nContent-Length: 0\r\n\r\n", 200, OK_LEN, 1, "", 0,
     "X!#$%&'*+-.^_`|~9=v;Content-Length=0;"},
    {"5xx passed", "HTTP/1.1 599 Whatever\r\nContent-Length: 1\r\n\r\n!", 599, OK_LEN, 1, "!", 0,
     NULL},
};

static void test_accepted(void **state)
{
    size_t i;
    for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        const struct accept_case *c = &accepted[i];
        struct outcome o;
        run_all_splits(c->in, strlen(c->in), 0, c->name, &o);
        if (o.rc != TG_UP_END)
            fail_msg("%s: refused: %s at %llu", c->name, o.error, (unsigned long long)o.error_at);
        if (o.status != c->status || o.framing != c->framing || o.keep_alive != c->keep_alive)
            fail_msg("%s: status %d framing %d keep-alive %d", c->name, o.status, o.framing,
                     o.keep_alive);
        if (o.body_len != strlen(c->body) || memcmp(o.body, c->body, strlen(c->body)) != 0)
            fail_msg("%s: body \"%.*s\"", c->name, (int)o.body_len, o.body);
        if (o.extra != c->extra)
            fail_msg("%s: %llu bytes after the end, want %zu", c->name, (unsigned long long)o.extra,
                     c->extra);
        if (c->hdrs && strcmp(o.hdrs, c->hdrs) != 0)
            fail_msg("%s: headers \"%s\"", c->name, o.hdrs);
    }
}

struct refuse_case {
    const char *name;
    const char *in;
    size_t len;      /* 0: strlen(in) */
    const char *why; /* a substring of the error */
    long at;         /* offset of the offending byte; -1: not checked */
};

#define H200   "HTTP/1.1 200 OK\r\n"
#define CL5    "Content-Length: 5\r\n"
#define TECH   "Transfer-Encoding: chunked\r\n"
#define CHUNKS "5\r\nhello\r\n0\r\n\r\n"

static const struct refuse_case refused[] = {
    /* framing ambiguities: every smuggling shape */
    {"CL then TE", H200 CL5 TECH "\r\n" CHUNKS, 0, "together", 36},
    {"TE then CL", H200 TECH CL5 "\r\n" CHUNKS, 0, "together", 45},
    {"two equal lengths", H200 CL5 CL5 "\r\nhello", 0, "duplicate Content-Length", 36},
    {"two lengths", H200 CL5 "Content-Length: 7\r\n\r\nhello", 0, "duplicate Content-Length", 36},
    {"length list", H200 "Content-Length: 5, 5\r\n\r\nhello", 0, "1-18 digits", 17},
    {"negative length", H200 "Content-Length: -1\r\n\r\n", 0, "1-18 digits", 17},
    {"plus length", H200 "Content-Length: +5\r\n\r\nhello", 0, "1-18 digits", 17},
    {"hex length", H200 "Content-Length: 0x5\r\n\r\nhello", 0, "1-18 digits", 17},
    {"length with inner space", H200 "Content-Length: 5 5\r\n\r\nhello", 0, "1-18 digits", 17},
    {"empty length", H200 "Content-Length:\r\n\r\n", 0, "1-18 digits", 17},
    {"19 digits", H200 "Content-Length: 1000000000000000000\r\n\r\n", 0, "1-18 digits", 17},
    {"TE gzip, chunked", H200 "Transfer-Encoding: gzip, chunked\r\n\r\n" CHUNKS, 0,
     "other than chunked", 17},
    {"TE chunked, identity", H200 "Transfer-Encoding: chunked, identity\r\n\r\n" CHUNKS, 0,
     "other than chunked", 17},
    {"TE identity", H200 "Transfer-Encoding: identity\r\n\r\nhello", 0, "other than chunked", 17},
    {"TE xchunked", H200 "Transfer-Encoding: xchunked\r\n\r\n" CHUNKS, 0, "other than chunked", 17},
    {"TE chunked;q", H200 "Transfer-Encoding: chunked;q=1\r\n\r\n" CHUNKS, 0, "other than chunked",
     17},
    {"two TE", H200 TECH TECH "\r\n" CHUNKS, 0, "duplicate Transfer-Encoding", 45},
    {"TE in HTTP/1.0", "HTTP/1.0 200 OK\r\n" TECH "\r\n" CHUNKS, 0, "HTTP/1.0", 17},
    {"obs-fold", H200 "X-A: a\r\n b\r\n" CL5 "\r\nhello", 0, "obs-fold", 25},
    {"obs-fold tab", H200 "X-A: a\r\n\tb\r\n" CL5 "\r\nhello", 0, "obs-fold", 25},
    {"obs-fold TE", H200 "Transfer-Encoding:\r\n chunked\r\n\r\n" CHUNKS, 0, "other than chunked",
     17},
    {"fold as first header", H200 " X: y\r\n" CL5 "\r\nhello", 0, "obs-fold", 17},
    {"space before colon", H200 "Content-Length : 5\r\n\r\nhello", 0, "whitespace before the colon",
     31},
    {"tab before colon", H200 "Transfer-Encoding\t: chunked\r\n\r\n" CHUNKS, 0,
     "whitespace before the colon", 34},
    {"empty name", H200 ": x\r\n" CL5 "\r\nhello", 0, "empty header name", 17},
    {"no colon", H200 "garbage\r\n" CL5 "\r\nhello", 0, "bad byte in a header name", 24},
    {"bad name byte", H200 "Con(tent: 1\r\n\r\n", 0, "bad byte in a header name", 20},
    {"NUL in name", H200 "Ho\0st: x\r\n\r\n", 29, "bad byte in a header name", 19},
    {"NUL in value", H200 "X: a\0b\r\n" CL5 "\r\nhello", 51, "control byte", 21},
    {"control byte in value",
     H200 "X: a\x01"
          "b\r\n" CL5 "\r\nhello",
     0, "control byte", 21},
    {"DEL in value", H200 "X: a\x7f\r\n" CL5 "\r\nhello", 0, "control byte", 21},
    {"bare LF ends a header", H200 "X: a\n" CL5 "\r\nhello", 0, "bare LF", 21},
    {"bare LF, all lines", "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello", 0, "bare LF", 15},
    {"bare LF as the blank line", H200 CL5 "\nhello", 0, "bare LF", 36},
    {"bare CR in a value", H200 "X: a\rb\r\n" CL5 "\r\nhello", 0, "bare CR", 21},
    {"bare CR hiding a header", H200 "X: a\rTransfer-Encoding: chunked\r\n\r\n" CHUNKS, 0,
     "bare CR", 21},
    {"CR CR LF", H200 "X: a\r\r\n" CL5 "\r\nhello", 0, "bare CR", 21},
    /* status line */
    {"HTTP/1.2", "HTTP/1.2 200 OK\r\n" CL5 "\r\nhello", 0, "status line", 0},
    {"HTTP/2", "HTTP/2 200\r\n\r\n", 0, "status line", 0},
    {"lower case version", "http/1.1 200 OK\r\n\r\n", 0, "status line", 0},
    {"two digit status", "HTTP/1.1 20 OK\r\n\r\n", 0, "three digits", 11},
    {"four digit status", "HTTP/1.1 2000 OK\r\n\r\n", 0, "space after the status code", 12},
    {"status 600", "HTTP/1.1 600 X\r\n\r\n", 0, "out of range", 9},
    {"status 099", "HTTP/1.1 099 X\r\n\r\n", 0, "out of range", 9},
    {"two spaces", "HTTP/1.1  200 OK\r\n\r\n", 0, "three digits", 9},
    {"tab after version", "HTTP/1.1\t200 OK\r\n\r\n", 0, "no space after the version", 8},
    {"control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 0, "control byte", 14},
    {"leading blank line", "\r\nHTTP/1.1 200 OK\r\n" CL5 "\r\nhello", 0, "empty line", 0},
    {"not HTTP", "\x00\x01\x02 this is not HTTP \xff\xfe\r\n\r\n", 27, "status line", 0},
    {"HTTP/0.9 body", "hello world", 0, "closed before the response head", 0},
    /* bodies on responses that have none */
    {"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", 0, "101", 9},
    {"204 with a length", "HTTP/1.1 204 No Content\r\n" CL5 "\r\nhello", 0, "has none", 9},
    {"204 chunked", "HTTP/1.1 204 No Content\r\n" TECH "\r\n" CHUNKS, 0, "has none", 9},
    {"100 with a length", "HTTP/1.1 100 Continue\r\n" CL5 "\r\nhelloHTTP/1.1 200 OK\r\n\r\n", 0,
     "has none", 9},
    {"304 chunked", "HTTP/1.1 304 Not Modified\r\n" TECH "\r\n" CHUNKS, 0, "has none", 9},
    {"nine interim heads",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
     0, "interim", 8 * 25 + 9},
    /* chunked bodies */
    {"chunk size not hex", H200 TECH "\r\nzz\r\nhello\r\n0\r\n\r\n", 0, "not hex", 47},
    {"negative chunk size", H200 TECH "\r\n-5\r\nhello\r\n0\r\n\r\n", 0, "not hex", 47},
    {"chunk size 0x", H200 TECH "\r\n0x5\r\nhello\r\n0\r\n\r\n", 0, "bad byte after a chunk size",
     48},
    {"space after chunk size", H200 TECH "\r\n5 \r\nhello\r\n0\r\n\r\n", 0,
     "bad byte after a chunk size", 48},
    {"bare LF after chunk size", H200 TECH "\r\n5\nhello\r\n0\r\n\r\n", 0, "bare LF", 48},
    {"bare CR after chunk size", H200 TECH "\r\n5\rhello\r\n0\r\n\r\n", 0, "bare CR", 48},
    {"16 hex digits", H200 TECH "\r\n0000000000000005\r\nhello\r\n0\r\n\r\n", 0, "too large", 62},
    {"huge chunk size", H200 TECH "\r\nfffffffffffffffff\r\n", 0, "too large", 62},
    {"chunk longer than its size", H200 TECH "\r\n2\r\nhello\r\n0\r\n\r\n", 0,
     "not followed by CRLF", 52},
    {"chunk data then LF", H200 TECH "\r\n5\r\nhello\n0\r\n\r\n", 0, "not followed by CRLF", 55},
    {"chunk data then bare CR", H200 TECH "\r\n5\r\nhello\rX0\r\n\r\n", 0, "bare CR", 55},
    {"empty chunk size line", H200 TECH "\r\n\r\nhello\r\n0\r\n\r\n", 0, "not hex", 47},
    {"control byte in chunk extension", H200 TECH "\r\n5;a\x01\r\nhello\r\n0\r\n\r\n", 0,
     "control byte", 50},
    {"bare LF in chunk extension", H200 TECH "\r\n5;a\nhello\r\n0\r\n\r\n", 0, "bare LF", 50},
    {"trailer obs-fold", H200 TECH "\r\n0\r\nX: a\r\n b\r\n\r\n", 0, "obs-fold", 56},
    {"trailer bare LF", H200 TECH "\r\n0\r\nX: a\n\r\n", 0, "bare LF", 54},
    {"trailer without colon", H200 TECH "\r\n0\r\nXY\r\n\r\n", 0, "bad byte in a trailer name", 52},
    {"trailer space before colon", H200 TECH "\r\n0\r\nX : a\r\n\r\n", 0, "whitespace", 51},
    {"end without its CRLF", H200 TECH "\r\n0\r\n\rX", 0, "bare CR", 50},
    /* cut short */
    {"closed mid head", H200 "Content-Le", 0, "closed before the response head", 17},
    {"closed before any byte", "", 0, "closed before the response head", 0},
    {"closed mid body", H200 CL5 "\r\nhel", 0, "closed before the end of the body", 41},
    {"closed mid chunk", H200 TECH "\r\n5\r\nhel", 0, "closed before the end of the body", 53},
    {"closed before the last chunk", H200 TECH "\r\n5\r\nhello\r\n", 0, "closed before the end",
     57},
    {"closed before the final CRLF", H200 TECH "\r\n5\r\nhello\r\n0\r\n", 0,
     "closed before the end", 60},
};

static void test_refused(void **state)
{
    size_t i;
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const struct refuse_case *c = &refused[i];
        size_t n = c->len ? c->len : strlen(c->in);
        struct outcome o;
        run_all_splits(c->in, n, 0, c->name, &o);
        if (o.rc != TG_UP_ERR)
            fail_msg("%s: accepted (status %d, body \"%.*s\")", c->name, o.status, (int)o.body_len,
                     o.body);
        if (strstr(o.error, c->why) == NULL)
            fail_msg("%s: error \"%s\", want \"%s\"", c->name, o.error, c->why);
        if (c->at >= 0 && o.error_at != (uint64_t)c->at)
            fail_msg("%s: error at byte %llu, want %ld (%s)", c->name,
                     (unsigned long long)o.error_at, c->at, o.error);
    }
}

/* The head limit: a head of exactly MAX_HEAD bytes passes, one more is
 * refused at the byte past the limit, with or without its line end. */
static void test_head_limit(void **state)
{
    static char buf[3 * MAX_HEAD];
    struct outcome o;
    size_t cuts[3];

    memset(buf, 'a', sizeof(buf));
    memcpy(buf, H200 "X: ", strlen(H200) + 3);
    memcpy(buf + MAX_HEAD - 4, "\r\n\r\n", 4);
    run(buf, MAX_HEAD, NULL, 0, 0, &o);
    assert_int_equal(o.rc, TG_UP_END);
    assert_int_equal(o.framing, TG_UP_BODY_CLOSE);

    memcpy(buf + MAX_HEAD - 4, "a\r\n\r\n", 5);
    run(buf, MAX_HEAD + 1, NULL, 0, 0, &o);
    assert_int_equal(o.rc, TG_UP_ERR);
    assert_string_equal(o.error, "response head too large");
    assert_int_equal(o.error_at, MAX_HEAD);

    /* no line end at all: refused once the limit is passed, not at EOF */
    memset(buf + strlen(H200) + 3, 'a', sizeof(buf) - strlen(H200) - 3);
    cuts[0] = MAX_HEAD;
    cuts[1] = MAX_HEAD + 1;
    cuts[2] = 2 * MAX_HEAD;
    run(buf, sizeof(buf), cuts, 3, 0, &o);
    assert_int_equal(o.rc, TG_UP_ERR);
    assert_string_equal(o.error, "response head too large");
    assert_int_equal(o.error_at, MAX_HEAD);

    /* many small headers adding up */
    {
        size_t n = strlen(H200), k;
        for (k = 0; n < 2 * MAX_HEAD; k++)
            n += (size_t)sprintf(buf + n, "X-%zu: v\r\n", k);
        memcpy(buf + n, "\r\n", 2);
        run(buf, n + 2, NULL, 0, 0, &o);
        assert_int_equal(o.rc, TG_UP_ERR);
        assert_string_equal(o.error, "response head too large");
    }
}

static void test_trailer_limit(void **state)
{
    static char buf[3 * MAX_HEAD];
    size_t n = (size_t)sprintf(buf, H200 TECH "\r\n0\r\n"), start = n;
    struct outcome o;

    while (n < start + MAX_HEAD + 100)
        n += (size_t)sprintf(buf + n, "T: vvvvvvvvvvvvvvvvvvvv\r\n");
    n += (size_t)sprintf(buf + n, "\r\n");
    run_all_splits(buf, n, 0, "trailers", &o);
    assert_int_equal(o.rc, TG_UP_ERR);
    assert_string_equal(o.error, "trailers too large");
    assert_int_equal(o.error_at, start + MAX_HEAD);
}

/* The answer to HEAD has no body whatever its head announces. */
static void test_head_request(void **state)
{
    static const char *const ins[] = {
        H200 CL5 "\r\n",
        H200 TECH "\r\n",
        H200 "\r\n",
    };
    size_t i;
    for (i = 0; i < 3; i++) {
        struct outcome o;
        run_all_splits(ins[i], strlen(ins[i]), 1, ins[i], &o);
        assert_int_equal(o.rc, TG_UP_END);
        assert_int_equal(o.framing, TG_UP_BODY_NONE);
        assert_int_equal(o.body_len, 0);
        assert_int_equal(o.keep_alive, 1);
    }
}

/* Big bodies: lengths above 4 GiB are fine, and the body of a Content-Length
 * response is handed on in the pieces it came in (no copy, no buffering). */
static void test_big_lengths(void **state)
{
    struct tg_up_parser p;
    const char *head = H200 "Content-Length: 999999999999999999\r\n\r\n";
    char chunk[4096];
    tg_iovec_t data;
    size_t used;
    int i;

    tg_up_parser_init(&p, MAX_HEAD, 0);
    assert_int_equal(tg_up_parse_head(&p, head, strlen(head)), TG_UP_HEAD);
    assert_true(p.content_length == 999999999999999999ull);
    memset(chunk, 'x', sizeof(chunk));
    for (i = 0; i < 1000; i++) {
        assert_int_equal(tg_up_parse_body(&p, chunk, sizeof(chunk), &used, &data), TG_UP_DATA);
        assert_ptr_equal(data.base, chunk);
        assert_int_equal(data.len, sizeof(chunk));
        assert_int_equal(used, sizeof(chunk));
    }
    assert_int_equal(tg_up_parse_eof(&p), TG_UP_ERR);

    head = H200 TECH "\r\n";
    tg_up_parser_init(&p, MAX_HEAD, 0);
    assert_int_equal(tg_up_parse_head(&p, head, strlen(head)), TG_UP_HEAD);
    assert_int_equal(tg_up_parse_body(&p, "fffffffffffffff\r\n", 17, &used, &data), TG_UP_MORE);
    assert_int_equal(used, 17);
    assert_int_equal(tg_up_parse_body(&p, chunk, sizeof(chunk), &used, &data), TG_UP_DATA);
    assert_int_equal(data.len, sizeof(chunk));
}

static void test_header_lookup(void **state)
{
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type:  application/json \r\nVary: a\r\n"
                       "vary: b\r\nX-Empty:\r\n\r\n";
    size_t len = strlen(head), pos = 0, n = 0;
    tg_iovec_t name, value;
    struct tg_up_parser p;

    tg_up_parser_init(&p, MAX_HEAD, 0);
    assert_int_equal(tg_up_parse_head(&p, head, len), TG_UP_HEAD);
    assert_int_equal(p.head_len, len);
    assert_true(
        tg_iov_eq_str(tg_up_header_get(head, len, TG_IOV_LIT("content-type")), "application/json"));
    assert_true(tg_iov_eq_str(tg_up_header_get(head, len, TG_IOV_LIT("VARY")), "a"));
    value = tg_up_header_get(head, len, TG_IOV_LIT("X-Empty"));
    assert_non_null(value.base);
    assert_int_equal(value.len, 0);
    assert_null(tg_up_header_get(head, len, TG_IOV_LIT("Content-Length")).base);
    assert_null(tg_up_header_get(head, len, TG_IOV_LIT("Content-Typ")).base);
    while (tg_up_header_next(head, len, &pos, &name, &value))
        n++;
    assert_int_equal(n, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),      cmocka_unit_test(test_refused),
        cmocka_unit_test(test_head_limit),    cmocka_unit_test(test_trailer_limit),
        cmocka_unit_test(test_head_request),  cmocka_unit_test(test_big_lengths),
        cmocka_unit_test(test_header_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
