/*
 * Request framing check (smuggling guard); see include/tenantgate/http.h.
 *
 * libevent 2.1's evhttp is lenient where a front proxy may not be: it takes a
 * bare LF as a line end, unfolds obs-fold, prefers Transfer-Encoding over
 * Content-Length, ignores a Transfer-Encoding other than exactly "chunked",
 * reads the first of two Content-Lengths, accepts "+5" as a length, reads no
 * body for HEAD (so the announced body is parsed as the next request), and
 * merges chunked trailers into the request headers. Each of these lets two
 * parsers in a row disagree on where a request ends. Rather than patch
 * evhttp, every byte a client sends goes through this small state machine
 * first, which passes only messages that any parser frames the same way.
 */
#include "tenantgate/http.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum {
    F_METHOD,     /* request line: method */
    F_TARGET,     /* request line: target */
    F_VERSION,    /* request line: version */
    F_LINE_START, /* start of a header line (or the empty line ending the head) */
    F_NAME,       /* header name */
    F_VALUE,      /* header value */
    F_BODY,       /* Content-Length body */
    F_CHUNK_SIZE, /* chunk-size line */
    F_CHUNK_DATA, /* chunk data */
    F_CHUNK_END,  /* the CRLF after chunk data */
    F_LAST_CHUNK, /* after "0" CRLF: the final CRLF (no trailers) */
};

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int refuse(struct tg_http_framing *f, int status, const char *why)
{
    f->status = status;
    f->error = why;
    return status;
}

static void next_request(struct tg_http_framing *f)
{
    size_t max_head = f->max_head;
    uint64_t max_body = f->max_body, requests = f->requests + 1, fed = f->fed;

    tg_http_framing_init(f, max_head, max_body);
    f->requests = requests;
    f->fed = fed;
    f->req_start = fed;
}

void tg_http_framing_init(struct tg_http_framing *f, size_t max_head, uint64_t max_body)
{
    memset(f, 0, sizeof(*f));
    f->max_head = max_head;
    f->max_body = max_body;
    f->state = F_METHOD;
}

/* The methods evhttp parses (for any other it would answer with its own HTML
 * page) and whether it reads a body for them (for HEAD and TRACE an announced
 * body would be read as the next request): 1 or 0, -1 for unknown. */
static int method_body(const struct tg_http_framing *f)
{
    static const struct {
        const char *name;
        int body;
    } methods[] = {
        {"GET", 1},     {"POST", 1},    {"PUT", 1},  {"PATCH", 1}, {"DELETE", 1},
        {"OPTIONS", 1}, {"CONNECT", 1}, {"HEAD", 0}, {"TRACE", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (f->tok_len == strlen(methods[i].name) &&
            memcmp(f->tok, methods[i].name, f->tok_len) == 0)
            return methods[i].body;
    return -1;
}

/* A Content-Length or Transfer-Encoding header line is complete. */
static int end_field(struct tg_http_framing *f)
{
    size_t n = f->val_len;
    size_t i;

    if (f->field == 3) {
        /* evhttp would answer anything but 100-continue with its HTML page */
        while (n > 0 && n <= sizeof(f->val) && f->val[n - 1] == ' ')
            n--;
        if (n != 12 || strncasecmp(f->val, "100-continue", 12) != 0)
            return refuse(f, 417, "unsupported Expect: only \"100-continue\"");
        return 0;
    }
    if (n > sizeof(f->val))
        return refuse(f, 400,
                      f->field == 1 ? "invalid Content-Length" : "unsupported Transfer-Encoding");
    while (n > 0 && f->val[n - 1] == ' ')
        n--;
    if (f->field == 1) {
        f->n_cl++;
        if (n == 0 || n > 18)
            return refuse(f, 400, "invalid Content-Length");
        f->cl = 0;
        for (i = 0; i < n; i++) {
            if (f->val[i] < '0' || f->val[i] > '9')
                return refuse(f, 400, "invalid Content-Length");
            f->cl = f->cl * 10 + (uint64_t)(f->val[i] - '0');
        }
        return 0;
    }
    f->n_te++;
    f->te_chunked = n == 7 && strncasecmp(f->val, "chunked", 7) == 0;
    return 0;
}

/* The empty line: decide how the body is framed. */
static int end_head(struct tg_http_framing *f)
{
    if (f->n_te > 0) {
        if (f->n_cl > 0)
            return refuse(f, 400, "both Content-Length and Transfer-Encoding");
        if (f->n_te > 1 || !f->te_chunked)
            return refuse(f, 400, "unsupported Transfer-Encoding: only a single \"chunked\"");
        if (f->http10)
            return refuse(f, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (f->no_body)
            return refuse(f, 400, "a body announced for a method that has none");
        f->state = F_CHUNK_SIZE;
        return 0;
    }
    if (f->n_cl > 1)
        return refuse(f, 400, "more than one Content-Length");
    if (f->n_cl == 1 && f->cl > f->max_body)
        return refuse(f, 413, "request body too large");
    if (f->n_cl == 1 && f->cl > 0) {
        if (f->no_body)
            return refuse(f, 400, "a body announced for a method that has none");
        f->left = f->cl;
        f->state = F_BODY;
        return 0;
    }
    next_request(f);
    return 0;
}

/* CRLF seen: the line of the current state is complete. */
static int end_line(struct tg_http_framing *f)
{
    switch (f->state) {
    case F_VERSION:
        if (f->tok_len != 8 ||
            (memcmp(f->tok, "HTTP/1.1", 8) != 0 && memcmp(f->tok, "HTTP/1.0", 8) != 0))
            return refuse(f, 400, "unsupported HTTP version");
        f->http10 = f->tok[7] == '0';
        f->state = F_LINE_START;
        return 0;
    case F_LINE_START: return end_head(f);
    case F_VALUE: f->state = F_LINE_START; return f->field ? end_field(f) : 0;
    case F_CHUNK_SIZE:
        if (f->digits == 0)
            return refuse(f, 400, "invalid chunk size");
        f->body += f->left;
        f->digits = 0;
        f->state = f->left == 0 ? F_LAST_CHUNK : F_CHUNK_DATA;
        return 0;
    case F_CHUNK_END: f->state = F_CHUNK_SIZE; return 0;
    case F_LAST_CHUNK: next_request(f); return 0;
    default: return refuse(f, 400, "malformed request line or header");
    }
}

static int byte(struct tg_http_framing *f, unsigned char c)
{
    if (f->state <= F_VALUE && ++f->head_len > f->max_head)
        return refuse(f, 431, "request header fields too large");
    if (f->cr) {
        if (c != '\n')
            return refuse(f, 400, "bare CR in the request");
        f->cr = 0;
        return end_line(f);
    }
    if (c == '\r') {
        f->cr = 1;
        return 0;
    }
    if (c == '\n')
        return refuse(f, 400, "bare LF in the request");
    switch (f->state) {
    case F_METHOD:
        if (c == ' ' && f->tok_len > 0) {
            int body = method_body(f);
            if (body < 0)
                return refuse(f, 501, "unknown HTTP method");
            f->no_body = !body;
            f->tok_len = 0;
            f->state = F_TARGET;
            return 0;
        }
        if (!is_tchar(c))
            return refuse(f, 400, "malformed request line");
        if (f->tok_len < sizeof(f->tok))
            f->tok[f->tok_len] = (char)c;
        f->tok_len++;
        return 0;
    case F_TARGET:
        if (c == ' ' && f->tok_len > 0) {
            f->tok_len = 0;
            f->state = F_VERSION;
            return 0;
        }
        if (c <= ' ' || c >= 0x7f)
            return refuse(f, 400, "malformed request target");
        f->tok_len = 1;
        return 0;
    case F_VERSION:
        if (f->tok_len >= 8)
            return refuse(f, 400, "unsupported HTTP version");
        f->tok[f->tok_len++] = (char)c;
        return 0;
    case F_LINE_START:
        if (c == ' ' || c == '\t')
            return refuse(f, 400, "obsolete line folding in the request headers");
        f->tok_len = 0;
        f->state = F_NAME;
        /* fall through */
    case F_NAME:
        if (c == ':' && f->tok_len > 0) {
            f->field = f->tok_len == 14 && memcmp(f->tok, "content-length", 14) == 0      ? 1
                       : f->tok_len == 17 && memcmp(f->tok, "transfer-encoding", 17) == 0 ? 2
                       : f->tok_len == 6 && memcmp(f->tok, "expect", 6) == 0              ? 3
                                                                                          : 0;
            f->val_len = 0;
            f->state = F_VALUE;
            return 0;
        }
        if (!is_tchar(c))
            return refuse(f, 400, "malformed header name");
        if (f->tok_len < sizeof(f->tok))
            f->tok[f->tok_len] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        f->tok_len++;
        return 0;
    case F_VALUE:
        if ((c < ' ' && c != '\t') || c == 0x7f)
            return refuse(f, 400, "control character in a header value");
        if (f->field == 0)
            return 0;
        /* evhttp skips leading spaces but not tabs: refuse tabs in the two
         * headers that frame the body rather than read them differently */
        if (c == '\t')
            return refuse(f, 400, "tab in a Content-Length, Transfer-Encoding or Expect value");
        if (c == ' ' && f->val_len == 0)
            return 0;
        if (f->val_len < sizeof(f->val))
            f->val[f->val_len] = (char)c;
        if (f->val_len <= sizeof(f->val))
            f->val_len++;
        return 0;
    case F_CHUNK_SIZE: {
        int d = tg_hexval(c);
        if (d < 0)
            return refuse(f, 400, "invalid chunk size");
        if (f->left > (f->max_body - f->body) / 16)
            return refuse(f, 413, "request body too large");
        f->left = f->left * 16 + (uint64_t)d;
        if (f->left > f->max_body - f->body)
            return refuse(f, 413, "request body too large");
        f->digits++;
        return 0;
    }
    case F_CHUNK_END: return refuse(f, 400, "chunk data longer than its size");
    case F_LAST_CHUNK: return refuse(f, 400, "trailer fields are not accepted");
    default: return refuse(f, 400, "malformed request");
    }
}

/* Fast path for the long runs of a head: the request target and the values of
 * headers that do not frame the body. byte() would accept each of these bytes
 * and change nothing but the counters, so a run of them is skipped in one go.
 * Eight bytes are tested at a time with word arithmetic; a word that may hold
 * an unacceptable byte (the test has false positives, never false negatives)
 * is looked at byte by byte with the same rule as byte(). */
#define ONES 0x0101010101010101ull
#define HIGH 0x8080808080808080ull

/* flags (high bit of each byte) the bytes b with (b & 0x7f) < k, or == 0x7f */
static uint64_t below_or_del(uint64_t x, unsigned k)
{
    return (~((x | HIGH) - ONES * k) | ((x & ~HIGH) + ONES)) & HIGH;
}

static int target_ok(unsigned char c)
{
    return c > ' ' && c < 0x7f; /* what F_TARGET takes without ending the token */
}

static int value_ok(unsigned char c)
{
    return (c >= ' ' && c != 0x7f) || c == '\t'; /* what F_VALUE takes for field 0 */
}

#ifdef __SSE2__
/* 1 if all 16 bytes at p are acceptable (no false positives or negatives:
 * signed byte compares, so bytes >= 0x80 are negative) */
static int block16_ok(const unsigned char *p, int value)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p), ok;

    if (value) /* >= 0x20 or >= 0x80, and not 0x7f (a tab falls to the byte loop) */
        ok = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)),
                              _mm_or_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)),
                                           _mm_cmplt_epi8(v, _mm_setzero_si128())));
    else /* 0x21 .. 0x7e */
        ok = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x20)),
                           _mm_cmplt_epi8(v, _mm_set1_epi8(0x7f)));
    return _mm_movemask_epi8(ok) == 0xffff;
}
#endif

static size_t skip_run(const unsigned char *p, size_t n, int value)
{
    size_t i = 0;

    for (;;) {
        size_t end;
#ifdef __SSE2__
        while (i + 16 <= n && block16_ok(p + i, value))
            i += 16;
#endif
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            if ((value ? below_or_del(x, 0x20) : (x & HIGH) | below_or_del(x, 0x21)) != 0)
                break;
            i += 8;
        }
        end = i + 8 < n ? i + 8 : n;
        for (; i < end; i++)
            if (!(value ? value_ok(p[i]) : target_ok(p[i])))
                return i;
        if (i >= n)
            return n;
    }
}

/* A run of header-name bytes (tchar, not ':'): copied lower-cased into tok
 * as byte() would; returns how many. */
static size_t name_run(struct tg_http_framing *f, const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') &&
                 (c == ':' || !is_tchar(c)))
            break;
        if (f->tok_len < sizeof(f->tok))
            f->tok[f->tok_len] = (char)c;
        f->tok_len++;
    }
    return i;
}

/* Bytes skipped from p (n available) in the state f is in; 0 when the fast
 * path does not apply. Only runs of 8 bytes or more take it, so feeding a
 * stream byte by byte goes through byte() alone: the unit tests and
 * fuzz_request compare the two. */
static size_t fast_run(struct tg_http_framing *f, const char *p, size_t n)
{
    size_t room, run;
    int value = f->state == F_VALUE;

    if (n < 8 || f->cr)
        return 0;
    /* head_len <= max_head while not refused: the byte past the limit goes
     * through byte(), which refuses it with 431 */
    room = f->max_head - f->head_len;
    if (f->state == F_NAME) {
        run = name_run(f, (const unsigned char *)p, n < room ? n : room);
        f->head_len += run;
        f->fed += run;
        return run;
    }
    if (!(f->state == F_TARGET || (value && f->field == 0)))
        return 0;
    run = skip_run((const unsigned char *)p, n < room ? n : room, value);
    f->head_len += run;
    f->fed += run;
    if (run > 0 && !value)
        f->tok_len = 1;
    return run;
}

int tg_http_framing_feed(struct tg_http_framing *f, const char *p, size_t n)
{
    size_t i = 0;

    if (f->status)
        return f->status;
    while (i < n) {
        if (f->state == F_BODY || f->state == F_CHUNK_DATA) {
            /* body bytes are not looked at: skip them in one go */
            size_t take = n - i < f->left ? n - i : (size_t)f->left;
            f->left -= take;
            f->fed += take;
            i += take;
            if (f->left == 0) {
                if (f->state == F_BODY)
                    next_request(f);
                else
                    f->state = F_CHUNK_END;
            }
            continue;
        }
        if (f->state == F_TARGET || f->state == F_VALUE || f->state == F_NAME) {
            size_t run = fast_run(f, p + i, n - i);
            i += run;
            if (i == n)
                break;
        }
        f->fed++;
        if (byte(f, (unsigned char)p[i++]) != 0)
            return f->status;
    }
    return 0;
}
