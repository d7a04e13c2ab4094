/*
 * HTTP/1.1 response parser (lib/upstream/parse.c): one strict parser for every
 * response tenantgate reads (the upstream client; lib/kube/client.c for the
 * Kubernetes API and, through tg_kube_get(), OIDC issuers). No I/O and no
 * allocation: the caller owns the bytes and hands them in; what the parser
 * returns points into them.
 *
 *   head:  tg_up_parse_head(p, buf, len) with `buf` the response's bytes from
 *          its first one on (contiguous; called again with more bytes after
 *          TG_UP_MORE). The head is parsed in place: headers are read back
 *          from `buf` with tg_up_header_next() while those bytes are kept.
 *          TG_UP_INFO is an interim (1xx) head: drop its head_len bytes and
 *          call tg_up_parse_head() again on what follows.
 *   body:  tg_up_parse_body(p, buf, len, &used, &data) with the bytes after the
 *          head, in order, as they come (any split); each TG_UP_DATA gives one
 *          span of body bytes (inside buf) and how many input bytes it used.
 *          Call it until TG_UP_END; at end of input call tg_up_parse_eof().
 *
 * Anything two parsers could frame differently is refused (TG_UP_ERR, with
 * p->error and p->error_at, the offset of the offending byte in the response):
 * obs-fold, bare CR or LF, a space before a colon, control bytes, more than one
 * Content-Length or Transfer-Encoding, a Content-Length that is not 1-18 digits,
 * a Transfer-Encoding other than exactly "chunked", both together, chunked in
 * HTTP/1.0, a body announced on 1xx/204, a head or trailer section over
 * max_head, bad chunk sizes, chunk data not followed by CRLF, 101 (never
 * asked for), versions other than HTTP/1.0 and HTTP/1.1.
 */
#ifndef TENANTGATE_UPSTREAM_PARSE_H
#define TENANTGATE_UPSTREAM_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include "tenantgate/iovec.h"

/* Return codes (consistent across the functions below). */
#define TG_UP_ERR  (-1) /* refused: p->error, p->error_at */
#define TG_UP_MORE 0    /* every byte given was used: need more */
#define TG_UP_HEAD 1    /* a final response head is complete (p->head_len bytes) */
#define TG_UP_INFO 2    /* an interim 1xx head is complete: skip it, parse the next */
#define TG_UP_DATA 3    /* body bytes in *data */
#define TG_UP_END  4    /* the response is complete */

enum tg_up_framing {
    TG_UP_BODY_NONE,    /* 1xx, 204, 304, or the answer to HEAD */
    TG_UP_BODY_LENGTH,  /* Content-Length (may be 0) */
    TG_UP_BODY_CHUNKED, /* Transfer-Encoding: chunked */
    TG_UP_BODY_CLOSE,   /* until the server closes: the connection is not reusable */
};

struct tg_up_parser {
    /* set by tg_up_parser_init(), read-only afterwards */
    size_t max_head;  /* limit of the head, and separately of the trailers */
    int head_request; /* the request was HEAD: no body whatever the head says */

    /* the head, once TG_UP_HEAD/INFO was returned */
    int status;
    int minor;      /* HTTP/1.<minor> */
    int keep_alive; /* the connection may carry another exchange */
    enum tg_up_framing framing;
    uint64_t content_length; /* TG_UP_BODY_LENGTH only */
    size_t head_len;         /* bytes of the head, its final CRLF included */

    /* why TG_UP_ERR (a static string), and where */
    const char *error;
    uint64_t error_at;

    /* internal state */
    int state;
    size_t scan;        /* head: bytes of complete, validated lines */
    uint64_t offset;    /* response bytes used before the current buf */
    uint64_t remaining; /* body or chunk bytes still due */
    size_t trailer_bytes;
    unsigned seen;    /* headers met in this head (bit set) */
    unsigned digits;  /* hex digits of the chunk size so far */
    unsigned interim; /* 1xx heads skipped */
};

void tg_up_parser_init(struct tg_up_parser *p, size_t max_head, int head_request);

/* See above. `buf` holds the head from its first byte; `len` only grows
 * between calls for one head. */
int tg_up_parse_head(struct tg_up_parser *p, const char *buf, size_t len);

/* Body bytes: *used is how many of buf's bytes were consumed (always all of
 * them for TG_UP_MORE); *data is set for TG_UP_DATA only. After TG_UP_END the
 * rest of buf is not part of this response. */
int tg_up_parse_body(struct tg_up_parser *p, const char *buf, size_t len, size_t *used,
                     tg_iovec_t *data);

/* The server closed the connection: TG_UP_END for a close-delimited body,
 * else TG_UP_ERR (the response was cut short). */
int tg_up_parse_eof(struct tg_up_parser *p);

/* The response is complete (TG_UP_END was returned). */
int tg_up_parse_done(const struct tg_up_parser *p);

/* Header fields of a head tg_up_parse_head() accepted (`head`, `head_len` as
 * given to it). Start with *pos = 0; returns 1 with the next name and value
 * (value without surrounding whitespace), 0 after the last. */
int tg_up_header_next(const char *head, size_t head_len, size_t *pos, tg_iovec_t *name,
                      tg_iovec_t *value);
/* First value of `name` (any case), or {NULL, 0}. */
tg_iovec_t tg_up_header_get(const char *head, size_t head_len, tg_iovec_t name);

#endif
