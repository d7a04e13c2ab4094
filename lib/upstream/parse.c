/*
 * Strict HTTP/1.1 response parser; see include/tenantgate/upstream_parse.h.
 *
 * The head is validated line by line in the caller's buffer (a line counts
 * once its CRLF is there, so a head split anywhere gives the same verdict);
 * the body framing is a byte state machine fed with whatever arrives. Every
 * refusal names the offending byte's offset in the response, HAProxy style,
 * so a log line says where an upstream went wrong.
 */
#include "tenantgate/upstream_parse.h"

#include <string.h>
#include <strings.h>

#include "upstream_int.h"

enum {
    S_HEAD,
    S_LENGTH,
    S_CLOSE,
    S_CHUNK_SIZE,
    S_CHUNK_EXT,
    S_CHUNK_SIZE_LF,
    S_CHUNK_DATA,
    S_CHUNK_DATA_CR,
    S_CHUNK_DATA_LF,
    S_TRAILER,
    S_TRAILER_NAME,
    S_TRAILER_VALUE,
    S_TRAILER_LF,
    S_END_LF,
    S_DONE,
    S_ERROR,
};

/* p->seen bits */
#define SEEN_CL    1u
#define SEEN_TE    2u
#define SEEN_CLOSE 4u

#define MAX_INTERIM   8  /* 1xx heads before the final one */
#define MAX_CHUNK_HEX 15 /* digits of a chunk size: < 2^60 */
#define MAX_CL_DIGITS 18

/* Byte classes: C_TOKEN (RFC 9110 tchar: ALPHA DIGIT !#$%&'*+-.^_`|~) and
 * C_VALUE (field-vchar, SP, HTAB, obs-text); CTLs and DEL are neither. */
#define C_TOKEN 1
#define C_VALUE 2
static const unsigned char cls[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 3, 2, 3, 3, 3, 3, 3, 2, 2, 3, 3, 2, 3, 3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2,
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 2, 3, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

void tg_up_parser_init(struct tg_up_parser *p, size_t max_head, int head_request)
{
    memset(p, 0, sizeof(*p));
    p->max_head = max_head;
    p->head_request = head_request;
    p->state = S_HEAD;
}

static int refuse(struct tg_up_parser *p, const char *why, uint64_t at)
{
    p->state = S_ERROR;
    p->error = why;
    p->error_at = at;
    return TG_UP_ERR;
}

/* What a byte that may not be in a line is. */
static const char *bad_byte(unsigned char c)
{
    return c == '\r' ? "bare CR" : c == '\n' ? "bare LF" : "control byte";
}

/* "HTTP/1.x SP 3DIGIT [SP reason]" */
static int status_line(struct tg_up_parser *p, const char *s, size_t n)
{
    size_t i;

    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1'))
        return refuse(p, "not an HTTP/1.0 or HTTP/1.1 status line", p->offset);
    if (s[8] != ' ')
        return refuse(p, "no space after the version", p->offset + 8);
    for (i = 9; i < 12; i++)
        if (s[i] < '0' || s[i] > '9')
            return refuse(p, "status code is not three digits", p->offset + i);
    if (s[9] < '1' || s[9] > '5')
        return refuse(p, "status code out of range", p->offset + 9);
    if (n > 12 && s[12] != ' ')
        return refuse(p, "no space after the status code", p->offset + 12);
    for (i = 13; i < n; i++)
        if (!(cls[(unsigned char)s[i]] & C_VALUE))
            return refuse(p, bad_byte((unsigned char)s[i]), p->offset + i);
    p->minor = s[7] - '0';
    p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    p->seen = 0;
    return 0;
}

static int name_is(const char *s, size_t n, const char *lit, size_t litlen)
{
    return n == litlen && strncasecmp(s, lit, n) == 0;
}

/* Connection: a comma-separated token list; only "close" matters to us. */
static void connection_tokens(struct tg_up_parser *p, const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t start, end;
        while (i < n && (v[i] == ',' || v[i] == ' ' || v[i] == '\t'))
            i++;
        start = i;
        while (i < n && v[i] != ',')
            i++;
        end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (name_is(v + start, end - start, "close", 5))
            p->seen |= SEEN_CLOSE;
    }
}

/* One header field the framing depends on; `at` is the line's offset. */
static int framing_field(struct tg_up_parser *p, const char *name, size_t nlen, const char *v,
                         size_t vlen, uint64_t at)
{
    size_t i;

    if (name_is(name, nlen, "content-length", 14)) {
        uint64_t cl = 0;
        if (p->seen & SEEN_CL)
            return refuse(p, "duplicate Content-Length", at);
        if (p->seen & SEEN_TE)
            return refuse(p, "Content-Length together with Transfer-Encoding", at);
        if (vlen == 0 || vlen > MAX_CL_DIGITS)
            return refuse(p, "Content-Length is not 1-18 digits", at);
        for (i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9')
                return refuse(p, "Content-Length is not 1-18 digits", at);
            cl = cl * 10 + (uint64_t)(v[i] - '0');
        }
        p->seen |= SEEN_CL;
        p->content_length = cl;
    } else if (name_is(name, nlen, "transfer-encoding", 17)) {
        if (p->seen & SEEN_TE)
            return refuse(p, "duplicate Transfer-Encoding", at);
        if (p->seen & SEEN_CL)
            return refuse(p, "Content-Length together with Transfer-Encoding", at);
        if (!name_is(v, vlen, "chunked", 7))
            return refuse(p, "Transfer-Encoding other than chunked", at);
        if (p->minor == 0)
            return refuse(p, "Transfer-Encoding in an HTTP/1.0 response", at);
        p->seen |= SEEN_TE;
    } else if (name_is(name, nlen, "connection", 10)) {
        connection_tokens(p, v, vlen);
    }
    return 0;
}

/* "name:" OWS value OWS, name a token right before the colon. */
static int field_line(struct tg_up_parser *p, const char *s, size_t n, uint64_t at)
{
    size_t i = 0, v, end;

    if (s[0] == ' ' || s[0] == '\t')
        return refuse(p, "obs-fold (continuation line)", at);
    while (i < n && (cls[(unsigned char)s[i]] & C_TOKEN))
        i++;
    if (i == n || s[i] != ':') {
        if (i < n && (s[i] == ' ' || s[i] == '\t'))
            return refuse(p, "whitespace before the colon", at + i);
        return refuse(p, i == 0 ? "empty header name" : "bad byte in a header name", at + i);
    }
    if (i == 0)
        return refuse(p, "empty header name", at);
    for (v = i + 1; v < n && (s[v] == ' ' || s[v] == '\t'); v++)
        ;
    for (end = v; end < n; end++)
        if (!(cls[(unsigned char)s[end]] & C_VALUE))
            return refuse(p, bad_byte((unsigned char)s[end]), at + end);
    while (end > v && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    return framing_field(p, s, i, s + v, end - v, at);
}

/* The blank line: decide the framing. */
static int head_done(struct tg_up_parser *p)
{
    int bodyless = p->status < 200 || p->status == 204 || p->status == 304;
    uint64_t at = p->offset + 9; /* the status code */

    p->head_len = p->scan;
    if ((p->status < 200 || p->status == 204) &&
        ((p->seen & SEEN_TE) || ((p->seen & SEEN_CL) && p->content_length != 0)))
        return refuse(p, "body announced on a response that has none", at);
    if (p->status == 304 && (p->seen & SEEN_TE))
        return refuse(p, "body announced on a response that has none", at);
    p->keep_alive = p->minor == 1 && !(p->seen & SEEN_CLOSE);
    if (p->status < 200) {
        if (p->status == 101)
            return refuse(p, "101 Switching Protocols was never asked for", at);
        if (++p->interim > MAX_INTERIM)
            return refuse(p, "too many interim (1xx) responses", at);
        p->framing = TG_UP_BODY_NONE;
        p->offset += p->head_len;
        p->scan = 0; /* the next head starts after this one */
        return TG_UP_INFO;
    }
    p->offset += p->head_len;
    if (bodyless || p->head_request) {
        p->framing = TG_UP_BODY_NONE;
        p->state = S_DONE;
    } else if (p->seen & SEEN_TE) {
        p->framing = TG_UP_BODY_CHUNKED;
        p->state = S_CHUNK_SIZE;
        p->digits = 0;
        p->remaining = 0;
    } else if (p->seen & SEEN_CL) {
        p->framing = TG_UP_BODY_LENGTH;
        p->remaining = p->content_length;
        p->state = S_LENGTH;
    } else {
        p->framing = TG_UP_BODY_CLOSE;
        p->keep_alive = 0;
        p->state = S_CLOSE;
    }
    return TG_UP_HEAD;
}

int tg_up_parse_head(struct tg_up_parser *p, const char *buf, size_t len)
{
    TG_UP_CHECK(p->state == S_HEAD && len >= p->scan);
    for (;;) {
        const char *lf = len > p->scan ? memchr(buf + p->scan, '\n', len - p->scan) : NULL;
        size_t start = p->scan, e, n;
        uint64_t at = p->offset + start;
        int rc;

        if (lf == NULL) {
            if (len > p->max_head)
                return refuse(p, "response head too large", p->offset + p->max_head);
            return TG_UP_MORE;
        }
        e = (size_t)(lf - buf);
        if (e + 1 > p->max_head)
            return refuse(p, "response head too large", p->offset + p->max_head);
        if (e == start || buf[e - 1] != '\r')
            return refuse(p, "bare LF", p->offset + e);
        /* the line without its CRLF; a CR inside it is refused by the byte
         * classes of the status line and field checks ("bare CR") */
        n = e - 1 - start;
        p->scan = e + 1;
        if (start == 0)
            rc = n == 0 ? refuse(p, "empty line before the status line", at)
                        : status_line(p, buf, n);
        else if (n == 0)
            return head_done(p);
        else
            rc = field_line(p, buf + start, n, at);
        if (rc != 0)
            return rc;
    }
}

/* Trailer fields are checked like header fields and dropped. */
static int trailer_byte(struct tg_up_parser *p, unsigned char c, uint64_t at)
{
    if (++p->trailer_bytes > p->max_head)
        return refuse(p, "trailers too large", at);
    switch (p->state) {
    case S_TRAILER:
        if (c == '\r')
            p->state = S_END_LF;
        else if (c == ' ' || c == '\t')
            return refuse(p, "obs-fold (continuation line)", at);
        else if (cls[c] & C_TOKEN)
            p->state = S_TRAILER_NAME;
        else
            return refuse(p, "bad byte in a trailer name", at);
        return 0;
    case S_TRAILER_NAME:
        if (c == ':')
            p->state = S_TRAILER_VALUE;
        else if (!(cls[c] & C_TOKEN))
            return refuse(p,
                          c == ' ' || c == '\t' ? "whitespace before the colon"
                                                : "bad byte in a trailer name",
                          at);
        return 0;
    case S_TRAILER_VALUE:
        if (c == '\r')
            p->state = S_TRAILER_LF;
        else if (!(cls[c] & C_VALUE))
            return refuse(p, bad_byte(c), at);
        return 0;
    default: /* S_TRAILER_LF */
        if (c != '\n')
            return refuse(p, "bare CR", at - 1);
        p->state = S_TRAILER;
        return 0;
    }
}

/* One byte of chunked framing outside chunk data. */
static int chunk_byte(struct tg_up_parser *p, unsigned char c, uint64_t at)
{
    int h;

    switch (p->state) {
    case S_CHUNK_SIZE:
        h = tg_hexval(c);
        if (h >= 0) {
            if (++p->digits > MAX_CHUNK_HEX)
                return refuse(p, "chunk size too large", at);
            p->remaining = p->remaining * 16 + (uint64_t)h;
        } else if (p->digits == 0) {
            return refuse(p, "chunk size is not hex", at);
        } else if (c == ';') {
            p->state = S_CHUNK_EXT;
        } else if (c == '\r') {
            p->state = S_CHUNK_SIZE_LF;
        } else {
            return refuse(p, c == '\n' ? "bare LF" : "bad byte after a chunk size", at);
        }
        return 0;
    case S_CHUNK_EXT: /* ignored, but no byte a line parser could split on */
        if (c == '\r')
            p->state = S_CHUNK_SIZE_LF;
        else if (!(cls[c] & C_VALUE))
            return refuse(p, bad_byte(c), at);
        return 0;
    case S_CHUNK_SIZE_LF:
        if (c != '\n')
            return refuse(p, "bare CR", at - 1);
        p->digits = 0;
        p->state = p->remaining == 0 ? S_TRAILER : S_CHUNK_DATA;
        return 0;
    case S_CHUNK_DATA_CR:
        if (c != '\r')
            return refuse(p, "chunk data not followed by CRLF", at);
        p->state = S_CHUNK_DATA_LF;
        return 0;
    case S_CHUNK_DATA_LF:
        if (c != '\n')
            return refuse(p, "bare CR", at - 1);
        p->state = S_CHUNK_SIZE;
        p->remaining = 0;
        return 0;
    case S_END_LF:
        if (c != '\n')
            return refuse(p, "bare CR", at - 1);
        p->state = S_DONE;
        return 0;
    default: return trailer_byte(p, c, at);
    }
}

static int body_span(struct tg_up_parser *p, const char *buf, size_t skip, size_t avail,
                     size_t *used, tg_iovec_t *data)
{
    size_t take = avail < p->remaining ? avail : (size_t)p->remaining;
    *data = tg_iov(buf + skip, take);
    p->remaining -= take;
    *used = skip + take;
    p->offset += *used;
    return TG_UP_DATA;
}

int tg_up_parse_body(struct tg_up_parser *p, const char *buf, size_t len, size_t *used,
                     tg_iovec_t *data)
{
    size_t i;

    *used = 0;
    switch (p->state) {
    case S_DONE: return TG_UP_END;
    case S_ERROR: return TG_UP_ERR;
    case S_LENGTH:
        if (p->remaining == 0) {
            p->state = S_DONE;
            return TG_UP_END;
        }
        return len == 0 ? TG_UP_MORE : body_span(p, buf, 0, len, used, data);
    case S_CLOSE:
        if (len == 0)
            return TG_UP_MORE;
        *data = tg_iov(buf, len);
        *used = len;
        p->offset += len;
        return TG_UP_DATA;
    default: TG_UP_CHECK(p->state != S_HEAD); break;
    }
    for (i = 0; i < len; i++) {
        if (p->state == S_CHUNK_DATA) {
            int rc = body_span(p, buf, i, len - i, used, data);
            if (p->remaining == 0)
                p->state = S_CHUNK_DATA_CR;
            return rc;
        }
        if (chunk_byte(p, (unsigned char)buf[i], p->offset + i) != 0)
            return TG_UP_ERR;
        if (p->state == S_DONE) {
            *used = i + 1;
            p->offset += *used;
            return TG_UP_END;
        }
    }
    *used = len;
    p->offset += len;
    return TG_UP_MORE;
}

int tg_up_parse_eof(struct tg_up_parser *p)
{
    switch (p->state) {
    case S_CLOSE: p->state = S_DONE; return TG_UP_END;
    case S_DONE: return TG_UP_END;
    case S_ERROR: return TG_UP_ERR;
    case S_HEAD:
        return refuse(p, "closed before the response head was complete", p->offset + p->scan);
    default: return refuse(p, "closed before the end of the body", p->offset);
    }
}

int tg_up_parse_done(const struct tg_up_parser *p)
{
    return p->state == S_DONE;
}

int tg_up_header_next(const char *head, size_t head_len, size_t *pos, tg_iovec_t *name,
                      tg_iovec_t *value)
{
    size_t i = *pos, colon, v, end;
    const char *lf;

    if (i == 0) { /* skip the status line */
        lf = memchr(head, '\n', head_len);
        if (lf == NULL)
            return 0;
        i = (size_t)(lf - head) + 1;
    }
    if (i + 2 > head_len || head[i] == '\r')
        return 0;
    lf = memchr(head + i, '\n', head_len - i);
    if (lf == NULL)
        return 0;
    end = (size_t)(lf - head) - 1; /* the CR */
    for (colon = i; colon < end && head[colon] != ':'; colon++)
        ;
    for (v = colon + 1; v < end && (head[v] == ' ' || head[v] == '\t'); v++)
        ;
    *pos = end + 2;
    while (end > v && (head[end - 1] == ' ' || head[end - 1] == '\t'))
        end--;
    *name = tg_iov(head + i, colon - i);
    *value = tg_iov(head + v, end > v ? end - v : 0);
    return 1;
}

tg_iovec_t tg_up_header_get(const char *head, size_t head_len, tg_iovec_t name)
{
    size_t pos = 0;
    tg_iovec_t n, v;
    while (tg_up_header_next(head, head_len, &pos, &n, &v))
        if (n.len == name.len && strncasecmp(n.base, name.base, n.len) == 0)
            return v;
    return TG_IOV_NULL;
}

int tg_up_is_token(tg_iovec_t v)
{
    size_t i;
    for (i = 0; i < v.len; i++)
        if (!(cls[(unsigned char)v.base[i]] & C_TOKEN))
            return 0;
    return v.len > 0;
}

int tg_up_is_value(tg_iovec_t v)
{
    size_t i;
    for (i = 0; i < v.len; i++)
        if (!(cls[(unsigned char)v.base[i]] & C_VALUE))
            return 0;
    return 1;
}
