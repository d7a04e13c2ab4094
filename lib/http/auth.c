/* Authorization header parsing and base64; see include/tenantgate/http.h. */
#include "tenantgate/http.h"

#include <string.h>
#include <strings.h>

/* Both alphabets: a value of 0..63 and the alphabet it belongs to, so that
 * each mode accepts exactly its own. */
static int b64val(unsigned char c, int *url)
{
    *url = 0;
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '/')
        return c == '+' ? 62 : 63;
    *url = 1;
    if (c == '-' || c == '_')
        return c == '-' ? 62 : 63;
    return -1;
}

static int b64_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

long tg_base64_decode_buf(const char *in, size_t len, enum tg_base64_mode mode, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    unsigned long bits = 0;
    size_t i, nchars = 0, pad = 0;
    long n = 0;
    int nbits = 0, url;

    for (i = 0; i < len; i++) {
        int v;
        if (mode == TG_BASE64_LAX && b64_space(s[i]))
            continue;
        if (s[i] == '=' && mode != TG_BASE64_URL) {
            pad++;
            continue;
        }
        v = b64val(s[i], &url);
        if (v < 0 || pad > 0 || (mode == TG_BASE64_STD && url) ||
            (mode == TG_BASE64_URL && !url && v >= 62))
            return -1; /* not in the alphabet, or data after padding */
        nchars++;
        bits = (bits << 6 | (unsigned long)v) & 0xffffff;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out[n++] = (char)(bits >> nbits & 0xff);
        }
    }
    if (nbits >= 6 || pad > 2) /* a lone sextet at the end encodes no byte */
        return -1;
    if (mode == TG_BASE64_STD && ((nchars + pad) % 4 != 0 || (pad && nchars % 4 != 4 - pad)))
        return -1;
    /* the bits a short final quantum does not use must be zero, so that
     * every byte string has exactly one accepted encoding */
    if (mode != TG_BASE64_LAX && (bits & ((1ul << nbits) - 1)) != 0)
        return -1;
    return n;
}

static int decode_arena(tg_arena_t *a, tg_iovec_t in, enum tg_base64_mode mode, tg_iovec_t *out)
{
    char *d = tg_arena_alloc(a, in.len / 4 * 3 + 3);
    long n = tg_base64_decode_buf(in.base, in.len, mode, d);

    if (n < 0)
        return -1;
    d[n] = '\0';
    *out = tg_iov(d, (size_t)n);
    return 0;
}

int tg_base64_decode(tg_arena_t *a, tg_iovec_t in, tg_iovec_t *out)
{
    return decode_arena(a, in, TG_BASE64_STD, out);
}

int tg_base64url_decode(tg_arena_t *a, tg_iovec_t in, tg_iovec_t *out)
{
    return decode_arena(a, in, TG_BASE64_URL, out);
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
