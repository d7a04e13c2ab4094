/* Authorization header parsing and base64; see include/tenantgate/http.h. */
#include "tenantgate/http.h"

#include <string.h>
#include <strings.h>

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int tg_base64_decode(tg_arena_t *a, tg_iovec_t in, tg_iovec_t *out)
{
    const unsigned char *s = (const unsigned char *)in.base;
    size_t i, n = 0, pad = 0;
    char *d;

    if (in.len % 4 != 0)
        return -1;
    if (in.len > 0 && s[in.len - 1] == '=')
        pad = (in.len > 1 && s[in.len - 2] == '=') ? 2 : 1;
    d = tg_arena_alloc(a, in.len / 4 * 3 + 1);
    for (i = 0; i < in.len; i += 4) {
        int v[4], k, nv = (i + 4 == in.len) ? 4 - (int)pad : 4;
        unsigned long bits = 0;
        for (k = 0; k < 4; k++) {
            v[k] = k < nv ? b64val(s[i + k]) : 0;
            if (v[k] < 0)
                return -1;
            bits = bits << 6 | (unsigned long)v[k];
        }
        /* the bits a short final quantum does not use must be zero, so that
         * every byte string has exactly one accepted encoding */
        if ((nv == 3 && (bits & 0xff)) || (nv == 2 && (bits & 0xffff)))
            return -1;
        d[n++] = (char)(bits >> 16);
        if (nv > 2)
            d[n++] = (char)(bits >> 8 & 0xff);
        if (nv > 3)
            d[n++] = (char)(bits & 0xff);
    }
    d[n] = '\0';
    *out = tg_iov(d, n);
    return 0;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Visible ASCII only: a token never contains spaces or control bytes. */
static int all_visible(tg_iovec_t v)
{
    size_t i;
    for (i = 0; i < v.len; i++)
        if ((unsigned char)v.base[i] <= 0x20 || (unsigned char)v.base[i] >= 0x7f)
            return 0;
    return 1;
}

int tg_http_parse_authorization(tg_arena_t *a, tg_iovec_t hv, tg_iovec_t *token)
{
    const char *p = hv.base, *end = hv.base + hv.len, *sp;
    tg_iovec_t scheme, cred, decoded;
    const char *colon;

    while (p < end && is_ows(*p))
        p++;
    while (end > p && is_ows(end[-1]))
        end--;
    for (sp = p; sp < end && !is_ows(*sp); sp++)
        ;
    scheme = tg_iov(p, (size_t)(sp - p));
    while (sp < end && is_ows(*sp))
        sp++;
    cred = tg_iov(sp, (size_t)(end - sp));
    if (cred.len == 0 || !all_visible(cred))
        return -1;
    if (tg_http_iequal(scheme, TG_IOV_LIT("Bearer"))) {
        *token = tg_arena_iovdup(a, cred);
        return 0;
    }
    if (!tg_http_iequal(scheme, TG_IOV_LIT("Basic")) || tg_base64_decode(a, cred, &decoded) < 0)
        return -1;
    colon = memchr(decoded.base, ':', decoded.len);
    if (colon == NULL || colon + 1 == decoded.base + decoded.len)
        return -1;
    *token = tg_iov(colon + 1, decoded.len - (size_t)(colon + 1 - decoded.base));
    return 0; /* the arena copy is NUL-terminated by tg_base64_decode */
}
