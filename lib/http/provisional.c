/* PROVISIONAL (lead): replaced by the http helper's module on merge. */
#include "tenantgate/http.h"

#include <ctype.h>
#include <strings.h>
#include <openssl/evp.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int decode(tg_arena_t *a, const char *s, size_t n, tg_iovec_t *out)
{
    char *d = tg_arena_alloc(a, n + 1);
    size_t i, j = 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            d[j++] = ' ';
        } else if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n + 0 && i + 2 > n - 1 + 1)
                return -1;
            if (i + 2 >= n + 1)
                return -1;
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            d[j++] = (char)(h * 16 + l);
            i += 2;
        } else {
            d[j++] = s[i];
        }
    }
    d[j] = 0;
    *out = tg_iov(d, j);
    return 0;
}

int tg_params_parse(tg_arena_t *a, tg_iovec_t raw, int from_body, struct tg_params *out,
                    const char **err)
{
    const char *p = raw.base, *end = raw.base + raw.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
        const char *stop = amp ? amp : end;
        struct tg_param prm;
        if (stop == p) {
            p = stop + 1;
            continue;
        }
        if (memchr(p, ';', (size_t)(stop - p))) {
            *err = "invalid semicolon separator in query";
            return -1;
        }
        eq = memchr(p, '=', (size_t)(stop - p));
        if (decode(a, p, (size_t)((eq ? eq : stop) - p), &prm.name) ||
            decode(a, eq ? eq + 1 : stop, eq ? (size_t)(stop - eq - 1) : 0, &prm.value)) {
            *err = "invalid URL escape";
            return -1;
        }
        prm.from_body = from_body;
        if (out->n == out->cap) {
            size_t nc = out->cap ? out->cap * 2 : 8;
            out->v = tg_arena_realloc(a, out->v, out->cap * sizeof(*out->v), nc * sizeof(*out->v));
            out->cap = nc;
        }
        out->v[out->n++] = prm;
        p = stop + 1;
    }
    return 0;
}

int tg_http_path_is_canonical(tg_iovec_t path)
{
    size_t i;
    if (path.len == 0 || path.base[0] != '/')
        return 0;
    for (i = 0; i < path.len; i++) {
        char c = path.base[i];
        if (c == '%' || c == ';' || c == '\\' || c == '#' || (unsigned char)c < 0x21 || c == 0x7f)
            return 0;
        if (c == '/' && i + 1 < path.len) {
            tg_iovec_t rest = tg_iov(path.base + i + 1, path.len - i - 1);
            if (rest.base[0] == '/')
                return 0;
            if (rest.base[0] == '.' && (rest.len == 1 || rest.base[1] == '/'))
                return 0;
            if (rest.len >= 2 && rest.base[0] == '.' && rest.base[1] == '.' &&
                (rest.len == 2 || rest.base[2] == '/'))
                return 0;
        }
    }
    return 1;
}

void tg_http_error_body(tg_sb_t *out, const char *error_type, tg_iovec_t message)
{
    tg_sb_adds(out, "{\"status\":\"error\",\"errorType\":\"");
    tg_sb_add_json_escaped(out, tg_iov_str(error_type));
    tg_sb_adds(out, "\",\"error\":\"");
    tg_sb_add_json_escaped(out, message);
    tg_sb_adds(out, "\"}");
}

static int ieq(tg_iovec_t a, const char *s)
{
    return a.len == strlen(s) && strncasecmp(a.base, s, a.len) == 0;
}

int tg_http_header_is_hop_by_hop(tg_iovec_t n)
{
    return ieq(n, "connection") || ieq(n, "keep-alive") || ieq(n, "proxy-authenticate") ||
           ieq(n, "proxy-authorization") || ieq(n, "te") || ieq(n, "trailer") ||
           ieq(n, "transfer-encoding") || ieq(n, "upgrade") || ieq(n, "proxy-connection");
}

int tg_http_header_is_credential(tg_iovec_t n)
{
    return ieq(n, "authorization") || ieq(n, "cookie") ||
           (n.len >= 9 && strncasecmp(n.base, "x-remote-", 9) == 0);
}

int tg_http_parse_authorization(tg_arena_t *a, tg_iovec_t v, tg_iovec_t *token)
{
    if (v.len > 7 && strncasecmp(v.base, "bearer ", 7) == 0) {
        *token = tg_iov(v.base + 7, v.len - 7);
        return token->len ? 0 : -1;
    }
    if (v.len > 6 && strncasecmp(v.base, "basic ", 6) == 0) {
        unsigned char *d = tg_arena_alloc(a, v.len);
        int n = EVP_DecodeBlock(d, (const unsigned char *)v.base + 6, (int)v.len - 6);
        char *colon;
        if (n <= 0)
            return -1;
        while (n > 0 && d[n - 1] == 0 && (v.base[v.len - 1] == '='))
            n--;
        colon = memchr(d, ':', (size_t)n);
        if (!colon)
            return -1;
        *token = tg_iov(colon + 1, (size_t)n - (size_t)(colon + 1 - (char *)d));
        return token->len ? 0 : -1;
    }
    return -1;
}

int tg_http_is_form_urlencoded(tg_iovec_t ct)
{
    static const char want[] = "application/x-www-form-urlencoded";
    size_t n = sizeof(want) - 1;
    if (ct.len < n || strncasecmp(ct.base, want, n) != 0)
        return 0;
    return ct.len == n || ct.base[n] == ';' || ct.base[n] == ' ';
}
