/* Header policy for the upstream request; see include/tenantgate/http.h. */
#include "tenantgate/http.h"

#include <string.h>
#include <strings.h>

int tg_http_iequal(tg_iovec_t a, tg_iovec_t b)
{
    return a.len == b.len && (a.len == 0 || strncasecmp(a.base, b.base, a.len) == 0);
}

static int has_iprefix(tg_iovec_t name, const char *prefix)
{
    size_t n = strlen(prefix);
    return name.len >= n && strncasecmp(name.base, prefix, n) == 0;
}

/* Header name lists carry their lengths: most names are told apart by
 * length alone, without a strlen or a compare per entry (every forwarded
 * header goes through several lists). */
#define NAME(s)                                                                                    \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
static int in_list(tg_iovec_t name, const tg_iovec_t *list)
{
    for (; list->base != NULL; list++)
        if (name.len == list->len && strncasecmp(name.base, list->base, name.len) == 0)
            return 1;
    return 0;
}

int tg_http_header_is_hop_by_hop(tg_iovec_t name)
{
    /* RFC 9110 7.6.1 plus Proxy-Connection, as Go's httputil.ReverseProxy */
    static const tg_iovec_t hop[] = {NAME("Connection"),
                                     NAME("Proxy-Connection"),
                                     NAME("Keep-Alive"),
                                     NAME("Proxy-Authenticate"),
                                     NAME("Proxy-Authorization"),
                                     NAME("TE"),
                                     NAME("Trailer"),
                                     NAME("Transfer-Encoding"),
                                     NAME("Upgrade"),
                                     {NULL, 0}};
    return in_list(name, hop);
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int tg_http_next_token(tg_iovec_t *rest, tg_iovec_t *tok)
{
    const char *p = rest->base, *end = rest->base + rest->len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *s = p, *e = comma ? comma : end;
        p = comma ? comma + 1 : end;
        while (s < e && is_ows(*s))
            s++;
        while (e > s && is_ows(e[-1]))
            e--;
        if (e > s) {
            *tok = tg_iov(s, (size_t)(e - s));
            *rest = tg_iov(p, (size_t)(end - p));
            return 1;
        }
    }
    *rest = tg_iov(end, 0);
    return 0;
}

int tg_http_connection_lists(tg_iovec_t connection, tg_iovec_t name)
{
    tg_iovec_t rest = connection, tok;

    while (tg_http_next_token(&rest, &tok))
        if (tg_http_iequal(tok, name))
            return 1;
    return 0;
}

int tg_http_header_is_credential(tg_iovec_t name)
{
    static const tg_iovec_t cred[] = {
        NAME("Authorization"), NAME("Proxy-Authorization"), NAME("Cookie"), {NULL, 0}};
    /* X-Remote-User/-Group/-Extra-* are kube-rbac-proxy's identity headers:
     * a client must not be able to forge them toward the upstream. */
    return in_list(name, cred) || has_iprefix(name, "X-Remote-") ||
           has_iprefix(name, "Impersonate-");
}

int tg_http_is_identity_header(tg_iovec_t name, const char *user_field, const char *groups_field)
{
    return (user_field && tg_http_iequal(name, tg_iov_str(user_field))) ||
           (groups_field && tg_http_iequal(name, tg_iov_str(groups_field)));
}

int tg_http_header_value_ok(tg_iovec_t v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

int tg_http_join_values(tg_sb_t *sb, const tg_iovec_t *v, size_t n, const char *sep)
{
    for (size_t i = 0; i < n; i++) {
        if (!tg_http_header_value_ok(v[i]))
            return -1;
        if (i > 0)
            tg_sb_adds(sb, sep);
        tg_sb_addiov(sb, v[i]);
    }
    return 0;
}

/* token chars of RFC 9110 5.6.2 */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int tg_http_is_token(tg_iovec_t s)
{
    size_t i;
    for (i = 0; i < s.len; i++)
        if (!is_tchar((unsigned char)s.base[i]))
            return 0;
    return s.len > 0;
}

int tg_http_header_selects_tenant(tg_iovec_t name)
{
    /* Thanos Querier/Receive (--query.tenant-header, --receive.tenant-header
     * default) and Cortex/Mimir/Loki pick the tenant from these: forwarded,
     * a client would choose whose data the upstream reads */
    static const tg_iovec_t tenant[] = {NAME("THANOS-TENANT"), NAME("X-Scope-OrgID"), {NULL, 0}};
    return in_list(name, tenant);
}

static int named(tg_iovec_t name, const char *s)
{
    return s != NULL && tg_http_iequal(name, tg_iov_str(s));
}

int tg_http_header_never_upstream(const struct tg_http_forward_policy *p, tg_iovec_t name)
{
    /* set by the proxy itself: the upstream's Host, the rebuilt body's
     * framing and type, X-Forwarded-For with the peer appended */
    static const tg_iovec_t own[] = {NAME("Host"),   NAME("Content-Length"),  NAME("Content-Type"),
                                     NAME("Expect"), NAME("X-Forwarded-For"), {NULL, 0}};
    size_t i;

    if (tg_http_header_is_hop_by_hop(name) || tg_http_header_is_credential(name) ||
        tg_http_header_selects_tenant(name) || in_list(name, own) ||
        (p->connection.len > 0 && tg_http_connection_lists(p->connection, name)) ||
        named(name, p->tenant_in) || named(name, p->tenant_out) ||
        tg_http_is_identity_header(name, p->identity_user, p->identity_groups) ||
        (p->filtered && tg_http_iequal(name, TG_IOV_LIT("Accept-Encoding"))))
        return 1;
    for (i = 0; i < p->n_drop; i++)
        if (named(name, p->drop[i]))
            return 1;
    return 0;
}

static void skip_ows(const char **p, const char *end)
{
    while (*p < end && is_ows(**p))
        (*p)++;
}

static tg_iovec_t take_token(const char **p, const char *end)
{
    const char *s = *p;
    while (*p < end && is_tchar((unsigned char)**p))
        (*p)++;
    return tg_iov(s, (size_t)(*p - s));
}

/* quoted-string; sets *val to the raw inside (escapes left in) */
static int take_quoted(const char **p, const char *end, tg_iovec_t *val)
{
    const char *s = ++*p;
    for (; *p < end; (*p)++) {
        unsigned char c = (unsigned char)**p;
        if (c == '"') {
            *val = tg_iov(s, (size_t)(*p - s));
            (*p)++;
            return 0;
        }
        if (c == '\\') {
            if (++*p == end)
                return -1;
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return -1;
        }
    }
    return -1;
}

static int charset_ok(tg_iovec_t v)
{
    return tg_http_iequal(v, TG_IOV_LIT("utf-8")) || tg_http_iequal(v, TG_IOV_LIT("utf8")) ||
           tg_http_iequal(v, TG_IOV_LIT("us-ascii"));
}

/* ct names the media type `want` (case-insensitive) with well-formed
 * parameters, and a charset among them, if any, is UTF-8 or ASCII. */
static int media_type_is(tg_iovec_t ct, tg_iovec_t want)
{
    const char *p = ct.base, *end = ct.base + ct.len;
    tg_iovec_t type, pname, pval;

    skip_ows(&p, end);
    type = take_token(&p, end);
    if (p < end && *p == '/') {
        p++;
        take_token(&p, end);
        type = tg_iov(type.base, (size_t)(p - type.base));
    }
    if (!tg_http_iequal(type, want))
        return 0;
    for (;;) {
        skip_ows(&p, end);
        if (p == end)
            return 1;
        if (*p++ != ';')
            return 0;
        skip_ows(&p, end);
        if (p == end)
            return 1; /* tolerate a trailing ';' as Go's mime package does */
        pname = take_token(&p, end);
        if (pname.len == 0 || p == end || *p++ != '=')
            return 0;
        if (p < end && *p == '"') {
            if (take_quoted(&p, end, &pval) < 0)
                return 0;
        } else {
            pval = take_token(&p, end);
            if (pval.len == 0)
                return 0;
        }
        if (tg_http_iequal(pname, TG_IOV_LIT("charset")) && !charset_ok(pval))
            return 0;
    }
}

int tg_http_is_form_content_type(tg_iovec_t ct)
{
    return media_type_is(ct, TG_IOV_LIT("application/x-www-form-urlencoded"));
}

int tg_http_is_json_content_type(tg_iovec_t ct)
{
    return media_type_is(ct, TG_IOV_LIT("application/json"));
}
