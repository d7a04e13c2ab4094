/* Prometheus- and Alertmanager-style error bodies; see include/tenantgate/http.h and
 * docs/http.md. */
#include "tenantgate/http.h"

const char *tg_http_error_type(int status)
{
    switch (status) {
    case 400: return "bad_data";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 406: return "not_acceptable";
    case 422: return "execution";
    case 499: return "canceled";
    case 500: return "internal";
    case 501: return "bad_data"; /* a method we do not take: the client's doing */
    case 502: return "unavailable";
    case 503: return "unavailable";
    case 504: return "timeout";
    default: return status >= 500 ? "internal" : "bad_data";
    }
}

const char *tg_http_reason(int status)
{
    /* libevent 2.1's table stops at RFC 2616 (417 / 505): it says "Client
     * Error" for 422 and 429, which Prometheus and our limits answer */
    switch (status) {
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return NULL; /* evhttp's own phrase */
    }
}

size_t tg_http_utf8_len(const unsigned char *s, size_t avail)
{
    size_t n, i;
    unsigned lo = 0x80, hi = 0xbf;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0;
    if (avail < n)
        return 0;
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    for (i = 1; i < n; i++) {
        if (s[i] < lo || s[i] > hi)
            return 0;
        lo = 0x80;
        hi = 0xbf;
    }
    return n;
}

/* Messages may quote the client's query, which can be any bytes: like Go's
 * encoding/json, replace invalid UTF-8 with U+FFFD so the body stays JSON. */
static void add_escaped_utf8(tg_sb_t *out, tg_iovec_t v)
{
    const unsigned char *s = (const unsigned char *)v.base;
    size_t i = 0, run = 0;

    while (i < v.len) {
        size_t n = tg_http_utf8_len(s + i, v.len - i);
        if (n > 0) {
            i += n;
            continue;
        }
        tg_sb_add_json_escaped(out, tg_iov(v.base + run, i - run));
        tg_sb_adds(out, "\\ufffd");
        run = ++i;
    }
    tg_sb_add_json_escaped(out, tg_iov(v.base + run, v.len - run));
}

void tg_http_error_body(tg_sb_t *out, const char *error_type, tg_iovec_t message)
{
    tg_sb_adds(out, "{\"status\":\"error\",\"errorType\":\"");
    add_escaped_utf8(out, tg_iov_str(error_type));
    tg_sb_adds(out, "\",\"error\":\"");
    add_escaped_utf8(out, message);
    tg_sb_adds(out, "\"}");
}

void tg_http_am_error_body(tg_sb_t *out, int code, tg_iovec_t message)
{
    tg_sb_adds(out, "{\"code\":");
    tg_sb_add_u64(out, (unsigned long long)(code > 0 ? code : 500), 1);
    tg_sb_adds(out, ",\"message\":\"");
    add_escaped_utf8(out, message);
    tg_sb_adds(out, "\"}");
}

void tg_http_json_string(tg_sb_t *out, tg_iovec_t message)
{
    tg_sb_addc(out, '"');
    add_escaped_utf8(out, message);
    tg_sb_adds(out, "\"\n");
}
