/*
 * HTTP request utilities with no libevent dependency: form/query parameters,
 * request-target and path checks, Prometheus-style error bodies, header
 * policy for the upstream request, Authorization parsing.
 *
 * Ownership: every tg_iovec_t produced here points into the arena passed in
 * (NUL-terminated copies) unless a function says otherwise. Inputs are only
 * read, never kept, except where noted.
 */
#ifndef TENANTGATE_HTTP_H
#define TENANTGATE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "tenantgate/arena.h"
#include "tenantgate/iovec.h"
#include "tenantgate/sb.h"

/* ---- form / query parameters ------------------------------------------ */

struct tg_param {
    tg_iovec_t name;  /* decoded, arena copy, NUL-terminated */
    tg_iovec_t value; /* decoded, arena copy, NUL-terminated */
    int from_body;    /* 1: came from an x-www-form-urlencoded body */
};

/* Growable list in an arena, in the order the parameters were seen. */
struct tg_params {
    struct tg_param *items; /* arena */
    size_t n, cap;
    tg_arena_t *arena;
};

void tg_params_init(struct tg_params *p, tg_arena_t *a);

/* Parse a URL query string or an x-www-form-urlencoded body and append to
 * `out` (initialised on first use if out->arena is NULL). Semantics follow
 * Go's url.ParseQuery (which Prometheus uses): '&' separates, '+' is a space,
 * %XX decodes, empty pieces are skipped, a piece without '=' has an empty
 * value. Errors (whole input rejected; `out` may hold a prefix): a malformed
 * % escape, a ';' anywhere in a piece (Go >= 1.17). On error *err (if not
 * NULL) is a static message. Returns 0 / -1. */
int tg_params_parse(tg_arena_t *a, tg_iovec_t raw, int from_body, struct tg_params *out,
                    const char **err);

/* Append one parameter; name/value are NOT copied (caller guarantees they
 * live as long as the list, e.g. arena or config strings). */
void tg_params_add(struct tg_params *p, tg_iovec_t name, tg_iovec_t value, int from_body);

/* First parameter named `name`, or NULL. */
const struct tg_param *tg_params_get(const struct tg_params *p, tg_iovec_t name);
/* Number of parameters named `name`. */
size_t tg_params_count(const struct tg_params *p, tg_iovec_t name);
/* Iterate over parameters named `name`: pass prev = NULL to start; returns
 * NULL when done. */
const struct tg_param *tg_params_next(const struct tg_params *p, tg_iovec_t name,
                                      const struct tg_param *prev);
/* Remove every parameter named `name` (order of the rest kept); returns how
 * many were removed. */
size_t tg_params_remove(struct tg_params *p, tg_iovec_t name);

/* Return non-zero to leave `param` out of the encoding. */
typedef int (*tg_params_skip_fn)(void *arg, const struct tg_param *param);

/* Append "n1=v1&n2=v2..." (percent-encoded, in list order) to `out`,
 * leaving out parameters for which skip(arg, param) is non-zero (skip may be
 * NULL). Nothing is appended for an empty list. */
void tg_params_encode(const struct tg_params *p, tg_sb_t *out, tg_params_skip_fn skip, void *arg);

/* ---- request target ---------------------------------------------------- */

/* Split an origin-form request target "/path?query" into its path and query
 * (without '?'; empty when absent). Both point into `target`. Rejects (-1)
 * anything not starting with '/' (absolute-form, authority-form, '*'), a
 * '#', and control characters, space or DEL anywhere. The path still needs
 * tg_http_path_is_canonical(). */
int tg_http_split_target(tg_iovec_t target, tg_iovec_t *path, tg_iovec_t *query);

/* 1 if `path` (raw, before '?') is canonical: starts with '/', no empty
 * segment ("//"), no "." or ".." segment, no '%' (no percent-encoding at
 * all), no ';', '\\', '#', '?', space, control character, DEL or non-ASCII
 * byte. Else 0. */
int tg_http_path_is_canonical(tg_iovec_t path);

/* ---- time parameters (lib/http/time.c) ------------------------------------ */

/* A start/end/time parameter as Prometheus' API parses it: unix seconds as a
 * float ("1700000000.5") or RFC 3339 ("2023-11-14T22:13:20.5Z", "...+01:00"),
 * or Prometheus' own MinTime/MaxTime spellings (INT64_MIN / INT64_MAX).
 * Milliseconds since the epoch (saturated); 0 / -1. */
int tg_http_parse_time(tg_iovec_t s, int64_t *ms);

/* ---- error bodies -------------------------------------------------------- */

/* Prometheus API errorType for an HTTP status we answer with (see
 * docs/http.md): 400 bad_data, 401 unauthorized, 403 forbidden, 404
 * not_found, 406 not_acceptable, 422 execution, 499 canceled, 500 internal,
 * 502/503 unavailable, 504 timeout; other 4xx bad_data, other 5xx internal.
 * Static string. */
const char *tg_http_error_type(int status);
/* The reason phrase of a status evhttp does not know (422, 429, ...), or NULL
 * for evhttp's own; for evhttp_send_reply*(). */
const char *tg_http_reason(int status);

/* Append {"status":"error","errorType":"<type>","error":"<message>"} with
 * both strings JSON-escaped. */
void tg_http_error_body(tg_sb_t *out, const char *error_type, tg_iovec_t message);

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF; what Go's utf8.Valid takes), or 0. */
size_t tg_http_utf8_len(const unsigned char *s, size_t avail);

/* Alertmanager's error shapes: go-openapi's {"code":<code>,"message":"..."}
 * and its handlers' JSON string "..." followed by a newline (both as
 * Alertmanager writes them). Invalid UTF-8 becomes U+FFFD, as above. */
void tg_http_am_error_body(tg_sb_t *out, int code, tg_iovec_t message);
void tg_http_json_string(tg_sb_t *out, tg_iovec_t message);

/* ---- headers ------------------------------------------------------------- */

/* Case-insensitive ASCII comparison. */
int tg_http_iequal(tg_iovec_t a, tg_iovec_t b);

/* 1 for the fixed hop-by-hop headers (Connection, Proxy-Connection,
 * Keep-Alive, Proxy-Authenticate, Proxy-Authorization, TE, Trailer,
 * Transfer-Encoding, Upgrade), case-insensitive. Names listed in the
 * request's Connection header are hop-by-hop too: check them with
 * tg_http_connection_lists(). */
int tg_http_header_is_hop_by_hop(tg_iovec_t name);

/* Iterate over the comma-separated tokens of a header value such as
 * Connection ("keep-alive, X-Foo"): returns 1 and sets *tok (pointing into
 * the value, whitespace trimmed, never empty) and advances *rest; returns 0
 * at the end. Start with *rest = the header value. */
int tg_http_next_token(tg_iovec_t *rest, tg_iovec_t *tok);

/* 1 if the Connection header value `connection` lists `name`. */
int tg_http_connection_lists(tg_iovec_t connection, tg_iovec_t name);

/* 1 for headers that carry the client's credentials or identity and must
 * never reach the upstream: Authorization, Proxy-Authorization, Cookie, and
 * the prefixes X-Remote- and Impersonate- (case-insensitive). The configured
 * upstream tenant header is the caller's business. */
int tg_http_header_is_credential(tg_iovec_t name);

/* 1 for the headers upstreams pick a tenant from: THANOS-TENANT (Thanos)
 * and X-Scope-OrgID (Cortex, Mimir, Loki), case-insensitive. */
int tg_http_header_selects_tenant(tg_iovec_t name);

/* 1 if `s` is a non-empty RFC 9110 token (what a header name must be). */
int tg_http_is_token(tg_iovec_t s);

/* What decides which client request headers are not copied upstream. All
 * pointers are borrowed for the call; NULL names are ignored. */
struct tg_http_forward_policy {
    tg_iovec_t connection;  /* the request's Connection value (its names are hop-by-hop) */
    const char *tenant_in;  /* header the tenant is read from (--header-name) */
    const char *tenant_out; /* header tenantgate sets upstream (upstream.tenantHeader) */
    char *const *drop;      /* more names never forwarded (upstream.dropHeaders) */
    size_t n_drop;
    int filtered;                /* the answer is filtered: Accept-Encoding is not forwarded */
    const char *identity_user;   /* --auth-header-user-field-name (dropped even when not enabled) */
    const char *identity_groups; /* --auth-header-groups-field-name likewise */
};

/* The one decision "never forward this client header as it came": 1 for
 * hop-by-hop headers, credentials and identity headers, tenant-selecting
 * headers (tg_http_header_selects_tenant, the policy's tenant_in, tenant_out
 * and drop names), the identity header names the proxy sets (identity_*), and the headers the proxy
 * writes itself (Host, Content-Length, Content-Type, Expect, X-Forwarded-For). Case-insensitive. */
int tg_http_header_never_upstream(const struct tg_http_forward_policy *p, tg_iovec_t name);

/* The identity headers toward the upstream (kube-rbac-proxy's
 * --auth-header-*-field-name; either may be NULL): 1 if `name` is one of
 * them, case-insensitive. A client's own are always dropped. */
int tg_http_is_identity_header(tg_iovec_t name, const char *user_field, const char *groups_field);
/* 1 if `v` can be a header value as it is: no control character but HTAB,
 * no DEL (a CR or LF would start a header of the sender's choosing). */
int tg_http_header_value_ok(tg_iovec_t v);
/* Append v[0] sep v[1] sep ... to `sb`; -1 (sb then holds a prefix) when one
 * of them fails tg_http_header_value_ok(). */
int tg_http_join_values(tg_sb_t *sb, const tg_iovec_t *v, size_t n, const char *sep);

/* ---- Authorization ------------------------------------------------------- */

/* The one base64 decoder (RFC 4648), in three modes:
 *   STD  standard alphabet, '=' padding required, no whitespace, zero pad
 *        bits (Basic auth);
 *   URL  base64url alphabet, no padding, no whitespace, zero pad bits (JWS
 *        compact serialization, RFC 7515 section 2);
 *   LAX  either alphabet, whitespace skipped, padding optional, pad bits not
 *        checked (kubeconfig *-data, as client-go reads them).
 * `out` has room for len / 4 * 3 + 3 bytes. Returns the decoded length, or
 * -1 on malformed input. */
enum tg_base64_mode { TG_BASE64_STD, TG_BASE64_URL, TG_BASE64_LAX };
long tg_base64_decode_buf(const char *in, size_t len, enum tg_base64_mode mode, char *out);
/* STD and URL into the arena, NUL-terminated. Return 0 / -1. */
int tg_base64_decode(tg_arena_t *a, tg_iovec_t in, tg_iovec_t *out);
int tg_base64url_decode(tg_arena_t *a, tg_iovec_t in, tg_iovec_t *out);

/* Parse an Authorization header value. Leading/trailing spaces and tabs are
 * trimmed; the scheme is case-insensitive and followed by one or more spaces.
 *   "Bearer <token>"           -> *token = <token> (visible ASCII, no spaces)
 *   "Basic base64(user:pass)"  -> *token = pass (user ignored; must be non-empty)
 * Returns 0 with *token an arena copy, or -1 (other scheme, missing/empty
 * token, trailing garbage, bad base64, no ':'). */
int tg_http_parse_authorization(tg_arena_t *a, tg_iovec_t header_value, tg_iovec_t *token);

/* 1 if a Content-Type value is application/x-www-form-urlencoded
 * (case-insensitive, optional whitespace, optional ";param=value" parameters
 * with token or quoted-string values; a charset other than utf-8 or
 * us-ascii is refused). */
int tg_http_is_form_content_type(tg_iovec_t content_type);
/* The same for application/json (the Alertmanager API's bodies). */
int tg_http_is_json_content_type(tg_iovec_t content_type);

/* ---- request framing (smuggling guard) --------------------------------- */

/* Incremental check of the bytes a client sends on one connection, run
 * before evhttp parses them. Only messages whose framing no two HTTP/1.1
 * parsers can read differently pass:
 *   request line   METHOD SP origin-or-other-target SP HTTP/1.0|HTTP/1.1
 *   header lines   token ":" value; no obs-fold, no NUL or other control
 *                  character but HTAB, no whitespace before the colon
 *   line ends      CRLF only (no bare LF, no bare CR)
 *   body           none; or one Content-Length (1-18 digits); or one
 *                  Transfer-Encoding that is exactly "chunked" (HTTP/1.1,
 *                  never together with Content-Length), chunk sizes of hex
 *                  digits only (no extensions), each chunk followed by CRLF,
 *                  no trailer fields. HEAD, TRACE and unknown methods, for
 *                  which evhttp reads no body, may not announce one.
 * Limits: the head (request line + headers) at most max_head bytes (431),
 * the body at most max_body bytes (413), told as soon as the head says so.
 * Pipelined requests are followed one after the other. */
struct tg_http_framing {
    size_t max_head;
    uint64_t max_body;
    int state;
    int cr;          /* the previous byte was CR: LF must follow */
    size_t head_len; /* bytes of the current head so far */
    size_t tok_len;  /* bytes of the current token (method, version, name) */
    char tok[24];    /* its first bytes, lower-cased for header names */
    int field;    /* header being read: 1 Content-Length, 2 Transfer-Encoding, 3 Expect, 0 other */
    char val[24]; /* value of that header, spaces trimmed at the start */
    size_t val_len; /* may exceed sizeof(val): then the value is invalid */
    int n_cl, n_te, te_chunked, no_body, http10;
    uint64_t cl;        /* the Content-Length */
    uint64_t left;      /* body or chunk bytes still to come */
    uint64_t body;      /* chunked body bytes so far */
    int digits;         /* hex digits of the current chunk size */
    uint64_t requests;  /* complete requests seen */
    uint64_t fed;       /* bytes of the stream looked at */
    uint64_t req_start; /* stream offset where the current request starts */
    int status;         /* 0, or the HTTP status the stream was refused with */
    const char *error;  /* static message once refused */
};

void tg_http_framing_init(struct tg_http_framing *f, size_t max_head, uint64_t max_body);
/* Feed the next n bytes of the stream. Returns 0 (fine so far), or the status
 * to refuse the connection with (400, 413, 417, 431, 501); once refused,
 * every call returns the same status. */
int tg_http_framing_feed(struct tg_http_framing *f, const char *p, size_t n);

#endif
