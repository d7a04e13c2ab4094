/* A consumer of lib/upstream/parse.c for the tests and the fuzzer: feeds one
 * response stream in pieces, the way the client does (the head from its
 * first byte in one growing buffer, the body as it comes), then EOF, and
 * records what came out. Any broken promise of the parser is reported in
 * `violation`, never asserted here, so that the unit test (cmocka) and the
 * fuzzer (abort) each fail their own way. Header-only, static functions. */
#ifndef TG_TEST_UP_PARSE_DRIVER_H
#define TG_TEST_UP_PARSE_DRIVER_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tenantgate/upstream_parse.h"

struct up_outcome {
    int rc; /* TG_UP_END or TG_UP_ERR */
    int status, keep_alive, framing, heads;
    char body[1024]; /* the first bytes of the body */
    uint64_t body_len, body_sum;
    uint64_t extra; /* bytes after the end of the response */
    char hdrs[512]; /* "name=value;" of the final head */
    const char *error;
    uint64_t error_at;
    const char *violation; /* a promise the parser broke, or NULL */
};

static void up_dump_headers(struct up_outcome *o, const char *head, size_t len)
{
    size_t pos = 0, n = 0;
    tg_iovec_t name, value;
    while (tg_up_header_next(head, len, &pos, &name, &value)) {
        if (name.len == 0 || memchr(name.base, ':', name.len) || memchr(name.base, ' ', name.len) ||
            memchr(value.base, '\r', value.len) || memchr(value.base, '\n', value.len) || pos > len)
            o->violation = "a header with a line break, or outside the head";
        if (n < sizeof(o->hdrs))
            n += (size_t)snprintf(o->hdrs + n, sizeof(o->hdrs) - n, "%.*s=%.*s;", TG_IOV_FMT(name),
                                  TG_IOV_FMT(value));
    }
}

static int up_body_data(struct up_outcome *o, const char *in, size_t bpos, size_t used,
                        tg_iovec_t d)
{
    size_t i;
    if (d.len == 0 || d.base < in + bpos || d.base + d.len > in + bpos + used) {
        o->violation = "a body span outside the bytes used";
        return -1;
    }
    for (i = 0; i < d.len; i++) {
        if (o->body_len + i < sizeof(o->body))
            o->body[o->body_len + i] = d.base[i];
        o->body_sum = o->body_sum * 31 + (unsigned char)d.base[i];
    }
    o->body_len += d.len;
    return 0;
}

/* Feed in[0..n) in pieces ending at cuts[] (ascending, <= n), then EOF. */
static void up_run(const char *in, size_t n, const size_t *cuts, size_t ncuts, size_t max_head,
                   int head_request, struct up_outcome *o)
{
    struct tg_up_parser p;
    size_t hstart = 0, bpos = 0, k;
    int body = 0, rc;

    memset(o, 0, sizeof(*o));
    tg_up_parser_init(&p, max_head, head_request);
    for (k = 0; k <= ncuts; k++) {
        size_t have = k < ncuts ? cuts[k] : n;
        while (!body) {
            rc = tg_up_parse_head(&p, in + hstart, have - hstart);
            if (rc == TG_UP_MORE)
                break;
            if (rc == TG_UP_ERR)
                goto refused;
            o->heads++;
            if (p.head_len > max_head || p.status < 100 || p.status > 599)
                o->violation = "a head over the limit or a status out of range";
            if (rc == TG_UP_INFO) {
                if (p.status >= 200)
                    o->violation = "a final status reported as interim";
                hstart += p.head_len;
                continue;
            }
            o->status = p.status;
            o->keep_alive = p.keep_alive;
            o->framing = (int)p.framing;
            up_dump_headers(o, in + hstart, p.head_len);
            bpos = hstart + p.head_len;
            body = 1;
        }
        while (body) {
            tg_iovec_t d = {0};
            size_t used;
            rc = tg_up_parse_body(&p, in + bpos, have - bpos, &used, &d);
            if (used > have - bpos) {
                o->violation = "more bytes used than given";
                return;
            }
            if (rc == TG_UP_DATA && up_body_data(o, in, bpos, used, d) != 0)
                return;
            bpos += used;
            if (rc == TG_UP_MORE) {
                if (bpos != have)
                    o->violation = "MORE without using every byte";
                break;
            }
            if (rc == TG_UP_END) {
                if (!tg_up_parse_done(&p) ||
                    (p.framing == TG_UP_BODY_LENGTH && o->body_len != p.content_length))
                    o->violation = "an end that does not match the framing";
                o->rc = TG_UP_END;
                o->extra = n - bpos;
                return;
            }
            if (rc == TG_UP_ERR)
                goto refused;
        }
    }
    if (tg_up_parse_eof(&p) == TG_UP_END) {
        o->rc = TG_UP_END;
        return;
    }
refused:
    o->rc = TG_UP_ERR;
    o->error = p.error;
    o->error_at = p.error_at;
    if (p.error == NULL || p.error_at > n || tg_up_parse_eof(&p) != TG_UP_ERR)
        o->violation = "an error without a reason, outside the input, or not sticky";
}

/* Why a and b differ, or NULL. */
static const char *up_differ(const struct up_outcome *a, const struct up_outcome *b)
{
    if (a->rc != b->rc || a->error != b->error || a->error_at != b->error_at)
        return "verdict or error";
    if (a->status != b->status || a->keep_alive != b->keep_alive || a->framing != b->framing ||
        a->heads != b->heads || strcmp(a->hdrs, b->hdrs) != 0)
        return "head";
    if (a->body_len != b->body_len || a->body_sum != b->body_sum || a->extra != b->extra)
        return "body";
    return NULL;
}

#endif
