/* libFuzzer target for lib/upstream/parse.c, the response parser. Input: one
 * byte of options (bit 0: the request was HEAD), two bytes of a split point,
 * then the response stream. It is parsed whole, split in two at that point,
 * and one byte at a time (short inputs): every run must reach the same
 * verdict, body and error position, and what the parser hands out must hold
 * its promises (spans inside the input, a Content-Length body as long as
 * announced, headers without line breaks, errors inside the input). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/upstream_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEAD 2048

struct outcome {
    int rc, status, keep_alive, framing;
    uint64_t body_len, body_sum, extra, error_at;
    const char *error;
};

static void check_head(const struct tg_up_parser *p, const char *head)
{
    size_t pos = 0;
    tg_iovec_t name, value;

    if (p->head_len > MAX_HEAD || p->status < 100 || p->status > 599)
        abort();
    while (tg_up_header_next(head, p->head_len, &pos, &name, &value)) {
        if (name.len == 0 || memchr(name.base, ':', name.len) ||
            memchr(value.base, '\n', value.len) || memchr(value.base, '\r', value.len) ||
            memchr(name.base, ' ', name.len))
            abort();
        if (pos > p->head_len)
            abort();
    }
}

static void run(const char *in, size_t n, const size_t *cuts, size_t ncuts, int head_req,
                struct outcome *o)
{
    struct tg_up_parser p;
    size_t hstart = 0, bpos = 0, k;
    int body = 0, rc;

    memset(o, 0, sizeof(*o));
    tg_up_parser_init(&p, MAX_HEAD, head_req);
    for (k = 0; k <= ncuts; k++) {
        size_t have = k < ncuts ? cuts[k] : n;
        while (!body) {
            rc = tg_up_parse_head(&p, in + hstart, have - hstart);
            if (rc == TG_UP_MORE)
                break;
            if (rc == TG_UP_ERR)
                goto refused;
            check_head(&p, in + hstart);
            if (rc == TG_UP_INFO) {
                hstart += p.head_len;
                continue;
            }
            o->status = p.status;
            o->keep_alive = p.keep_alive;
            o->framing = (int)p.framing;
            bpos = hstart + p.head_len;
            body = 1;
        }
        while (body) {
            tg_iovec_t d = {0};
            size_t used, i;
            rc = tg_up_parse_body(&p, in + bpos, have - bpos, &used, &d);
            if (used > have - bpos)
                abort();
            if (rc == TG_UP_DATA) {
                if (d.len == 0 || d.base < in + bpos || d.base + d.len > in + bpos + used)
                    abort();
                for (i = 0; i < d.len; i++)
                    o->body_sum = o->body_sum * 31 + (unsigned char)d.base[i];
                o->body_len += d.len;
            }
            bpos += used;
            if (rc == TG_UP_MORE)
                break;
            if (rc == TG_UP_END) {
                if (p.framing == TG_UP_BODY_LENGTH && o->body_len != p.content_length)
                    abort();
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
    if (p.error == NULL || p.error_at > n)
        abort();
}

static void same(const struct outcome *a, const struct outcome *b)
{
    if (a->rc != b->rc || a->status != b->status || a->keep_alive != b->keep_alive ||
        a->framing != b->framing || a->body_len != b->body_len || a->body_sum != b->body_sum ||
        a->extra != b->extra || a->error != b->error || a->error_at != b->error_at)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome whole, o;
    const char *in = (const char *)data + 3;
    size_t n, cut, i, *cuts;
    int head_req;

    if (size < 3)
        return 0;
    head_req = data[0] & 1;
    n = size - 3;
    cut = ((size_t)data[1] << 8 | data[2]) % (n + 1);
    run(in, n, NULL, 0, head_req, &whole);
    run(in, n, &cut, 1, head_req, &o);
    same(&whole, &o);
    if (n <= 4096) {
        cuts = malloc((n + 1) * sizeof(*cuts));
        if (cuts == NULL)
            abort();
        for (i = 0; i < n; i++)
            cuts[i] = i + 1;
        run(in, n, cuts, n, head_req, &o);
        same(&whole, &o);
        free(cuts);
    }
    return 0;
}
