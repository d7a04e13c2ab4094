/* Scalar value parsers shared by flags and the config file; see config-int.h. */
#include "config-int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "tenantgate/log.h"

int tg_cfg_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void tg_cfg_err_add(char *err, size_t errlen, const char *fmt, ...)
{
    static const char more[] = "\n(more errors not shown)";
    char line[600];
    size_t used, need;
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    used = strlen(err);
    if (used >= sizeof(more) && strcmp(err + used - (sizeof(more) - 1), more) == 0)
        return; /* already full */
    need = (used ? 1 : 0) + strlen(line);
    if (used + need + sizeof(more) <= errlen)
        snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", line);
    else if (used == 0)
        snprintf(err, errlen, "%s", line);
    else if (used + sizeof(more) <= errlen)
        memcpy(err + used, more, sizeof(more));
}

/* ---- durations ---- */

struct dur_unit {
    const char *name;
    int64_t ns;
};

static const struct dur_unit dur_units[] = {
    {"ns", 1LL},
    {"us", 1000LL},
    {"\xc2\xb5s", 1000LL}, /* U+00B5 micro sign, accepted by Go */
    {"\xce\xbcs", 1000LL}, /* U+03BC greek mu, accepted by Go */
    {"ms", 1000000LL},
    {"s", 1000000000LL},
    {"m", 60LL * 1000000000LL},
    {"h", 3600LL * 1000000000LL},
};

/* Longest unit name at p (so "ms" wins over "m"). */
static const struct dur_unit *dur_unit_at(const char *p, size_t *len)
{
    const struct dur_unit *best = NULL;
    size_t i, best_len = 0;
    for (i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
        size_t l = strlen(dur_units[i].name);
        if (l > best_len && strncmp(p, dur_units[i].name, l) == 0) {
            best = &dur_units[i];
            best_len = l;
        }
    }
    *len = best_len;
    return best;
}

/* Prometheus' model.Duration units on top of Go's (tg_parse_duration_ms64). */
static const struct dur_unit long_units[] = {
    {"d", 86400LL * 1000000000LL},
    {"w", 7 * 86400LL * 1000000000LL},
    {"y", 365 * 86400LL * 1000000000LL},
};

static const struct dur_unit *long_unit_at(const char *p, size_t *len)
{
    size_t i;
    for (i = 0; i < sizeof(long_units) / sizeof(long_units[0]); i++)
        if (*p == long_units[i].name[0]) {
            *len = 1;
            return &long_units[i];
        }
    return NULL;
}

/* One "<number><unit>" term starting at *pp, added to *total_ns. The fraction
 * is kept exactly up to nanoseconds (more digits are truncated, as Go does).
 * long_ok: d, w and y are units too. */
static int dur_term(const char **pp, int64_t *total_ns, int long_ok)
{
    const char *p = *pp;
    int64_t whole = 0, frac = 0, frac_scale = 1, term;
    int digits = 0;
    const struct dur_unit *u;
    size_t ulen;

    for (; isdigit((unsigned char)*p); p++, digits++) {
        if (whole > (INT64_MAX - 9) / 10)
            return -1;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, digits++) {
            if (frac_scale < 1000000000LL) {
                frac = frac * 10 + (*p - '0');
                frac_scale *= 10;
            }
        }
    }
    if (digits == 0)
        return -1;
    u = dur_unit_at(p, &ulen);
    if (u == NULL && long_ok)
        u = long_unit_at(p, &ulen);
    if (u == NULL)
        return -1;
    if (whole > INT64_MAX / u->ns)
        return -1;
    term = whole * u->ns + (int64_t)((double)frac * (double)u->ns / (double)frac_scale);
    if (term < 0 || *total_ns > INT64_MAX - term)
        return -1;
    *total_ns += term;
    *pp = p + ulen;
    return 0;
}

/* The duration in s, in milliseconds (sub-millisecond rests rounded up);
 * -1 bad syntax, -2 negative. */
static int parse_ms(const char *s, int long_ok, int64_t *out_ms)
{
    const char *p = s;
    int64_t ns = 0;

    if (*p == '-')
        return -2;
    if (*p == '+')
        p++;
    if (strcmp(p, "0") == 0) {
        *out_ms = 0;
        return 0;
    }
    if (*p == '\0')
        return -1;
    while (*p != '\0') {
        if (dur_term(&p, &ns, long_ok) < 0)
            return -1;
    }
    *out_ms = ns / 1000000 + (ns % 1000000 != 0);
    return 0;
}

int tg_parse_duration_ms(const char *s, int *out_ms, char *err, size_t errlen)
{
    int64_t ms;
    int rc;

    if (s == NULL || *s == '\0')
        return tg_cfg_err(err, errlen, "empty duration");
    rc = parse_ms(s, 0, &ms);
    if (rc == -2)
        return tg_cfg_err(err, errlen, "invalid duration \"%s\": must not be negative", s);
    if (rc < 0)
        return tg_cfg_err(err, errlen,
                          "invalid duration \"%s\" (Go syntax: 30s, 5m, 1h2m3.5s, 500ms)", s);
    if (ms > INT_MAX)
        return tg_cfg_err(err, errlen, "duration \"%s\" is too long (at most %d days)", s,
                          INT_MAX / 86400000);
    *out_ms = (int)ms;
    return 0;
}

int tg_parse_duration_ms64(const char *s, int64_t *out_ms, char *err, size_t errlen)
{
    int rc;

    if (s == NULL || *s == '\0')
        return tg_cfg_err(err, errlen, "empty duration");
    rc = parse_ms(s, 1, out_ms);
    if (rc == -2)
        return tg_cfg_err(err, errlen, "invalid duration \"%s\": must not be negative", s);
    if (rc < 0)
        return tg_cfg_err(err, errlen,
                          "invalid duration \"%s\" (30s, 5m, 1h30m, 7d, 2w, 1y; at most 292y)", s);
    return 0;
}

/* ---- sizes ---- */

int tg_parse_size(const char *s, size_t *out, char *err, size_t errlen)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } sfx[] = {{"", 0}, {"Ki", 10}, {"Mi", 20}, {"Gi", 30}};
    unsigned long long v = 0;
    const char *p = s;
    size_t i;

    if (s == NULL || !isdigit((unsigned char)*s))
        goto bad;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (ULLONG_MAX - 9) / 10)
            goto big;
        v = v * 10 + (unsigned)(*p - '0');
    }
    for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        if (strcmp(p, sfx[i].suffix) == 0) {
            if (v > (SIZE_MAX >> sfx[i].shift))
                goto big;
            *out = (size_t)(v << sfx[i].shift);
            return 0;
        }
    }
bad:
    return tg_cfg_err(err, errlen, "invalid size \"%s\" (bytes, or with Ki, Mi, Gi: 64Ki)",
                      s ? s : "");
big:
    return tg_cfg_err(err, errlen, "size \"%s\" is too large", s);
}

/* ---- booleans and integers ---- */

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

int tg_parse_bool(const char *s, int *out, char *err, size_t errlen)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True", NULL};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False", NULL};
    if (s && in_list(s, t)) {
        *out = 1;
        return 0;
    }
    if (s && in_list(s, f)) {
        *out = 0;
        return 0;
    }
    return tg_cfg_err(err, errlen, "invalid boolean \"%s\" (true or false)", s ? s : "");
}

int tg_parse_yaml_bool(const char *s, int *out, char *err, size_t errlen)
{
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                    "on",   "On",   "ON",   "y",   "Y",   NULL};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "NO",
                                    "off",   "Off",   "OFF",   "n",  "N",  NULL};
    if (s && in_list(s, t)) {
        *out = 1;
        return 0;
    }
    if (s && in_list(s, f)) {
        *out = 0;
        return 0;
    }
    return tg_cfg_err(err, errlen, "invalid boolean \"%s\" (true or false)", s ? s : "");
}

int tg_parse_int(const char *s, long min, long max, long *out, char *err, size_t errlen)
{
    char *end;
    long v;
    if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
        return tg_cfg_err(err, errlen, "invalid integer \"%s\"", s ? s : "");
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end != '\0')
        return tg_cfg_err(err, errlen, "invalid integer \"%s\"", s);
    if (errno == ERANGE || v < min || v > max)
        return tg_cfg_err(err, errlen, "%s is out of range [%ld, %ld]", s, min, max);
    *out = v;
    return 0;
}

int tg_parse_qps(const char *s, double *out, char *err, size_t errlen)
{
    char *end;
    double q;
    /* decimal only: strtod would also take inf, nan and hex */
    if (s == NULL || !(isdigit((unsigned char)*s) || *s == '.') || strpbrk(s, "xXnN") != NULL)
        return tg_cfg_err(err, errlen, "invalid QPS \"%s\" (a number from 0 to 100000)",
                          s ? s : "");
    q = strtod(s, &end);
    if (*end != '\0' || !(q >= 0) || q > 100000)
        return tg_cfg_err(err, errlen, "invalid QPS \"%s\" (a number from 0 to 100000)", s);
    *out = q;
    return 0;
}

/* ---- addresses ---- */

static int parse_port(const char *s, size_t len, long min, uint16_t *out)
{
    long v = 0;
    size_t i;
    if (len == 0 || len > 5)
        return -1;
    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* Host part of an address: a name or IPv4 literal, or a bracketed IPv6
 * literal. Copies it without brackets into *host (heap). */
static int parse_host(const char *s, size_t len, char **host)
{
    size_t i;
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
        for (i = 0; i < len; i++)
            if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
                return -1;
        if (len == 0)
            return -1;
    } else {
        for (i = 0; i < len; i++)
            if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
                return -1;
    }
    *host = tg_strndup(s, len);
    return 0;
}

int tg_parse_listen(const char *s, struct tg_listen *out, char *err, size_t errlen)
{
    const char *colon;
    char *host = NULL;
    uint16_t port;

    if (s == NULL || *s == '\0')
        return tg_cfg_err(err, errlen, "empty address");
    colon = strrchr(s, ':');
    if (colon == NULL)
        return tg_cfg_err(err, errlen, "address \"%s\" has no port (HOST:PORT or :PORT)", s);
    if (parse_port(colon + 1, strlen(colon + 1), 0, &port) < 0)
        return tg_cfg_err(err, errlen, "address \"%s\": invalid port", s);
    if (colon > s) {
        if (memchr(s, ':', (size_t)(colon - s)) && s[0] != '[')
            return tg_cfg_err(err, errlen, "address \"%s\": IPv6 hosts need brackets ([::1]:%u)", s,
                              port);
        if (parse_host(s, (size_t)(colon - s), &host) < 0)
            return tg_cfg_err(err, errlen, "address \"%s\": invalid host", s);
    }
    free(out->host);
    out->host = host;
    out->port = port;
    out->set = 1;
    return 0;
}

int tg_parse_upstream_url(const char *s, struct tg_url *out, char *err, size_t errlen)
{
    const char *p, *auth_end, *colon;
    struct tg_url u = {0};
    size_t hostlen;

    if (s == NULL || *s == '\0')
        return tg_cfg_err(err, errlen, "empty upstream URL");
    if (strncasecmp(s, "http://", 7) == 0) {
        p = s + 7;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        p = s + 8;
        u.https = 1;
    } else {
        return tg_cfg_err(err, errlen,
                          "upstream URL \"%s\": only http:// and https:// are supported", s);
    }
    if (strpbrk(s, "?#"))
        return tg_cfg_err(err, errlen, "upstream URL \"%s\" must not have a query or fragment", s);
    auth_end = p + strcspn(p, "/");
    if (memchr(p, '@', (size_t)(auth_end - p)))
        return tg_cfg_err(err, errlen, "upstream URL \"%s\" must not contain user info", s);
    /* the port colon is the last one, unless it sits inside an IPv6 literal */
    colon = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == ':')
            colon = q;
    if (colon && p[0] == '[' && memchr(colon, ']', (size_t)(auth_end - colon)))
        colon = NULL;
    hostlen = (size_t)((colon ? colon : auth_end) - p);
    if (hostlen == 0 || parse_host(p, hostlen, &u.host) < 0)
        return tg_cfg_err(err, errlen, "upstream URL \"%s\": invalid or missing host", s);
    u.port = u.https ? 443 : 80;
    if (colon && parse_port(colon + 1, (size_t)(auth_end - colon - 1), 1, &u.port) < 0) {
        free(u.host);
        return tg_cfg_err(err, errlen, "upstream URL \"%s\": invalid port", s);
    }
    u.path = tg_strdup(*auth_end ? auth_end : "/");
    free(out->host);
    free(out->path);
    *out = u;
    return 0;
}

/* ---- TLS ---- */

int tg_parse_tls_version(const char *s, int *out, char *err, size_t errlen)
{
    if (s && strcmp(s, "VersionTLS12") == 0) {
        *out = TLS1_2_VERSION;
        return 0;
    }
    if (s && strcmp(s, "VersionTLS13") == 0) {
        *out = TLS1_3_VERSION;
        return 0;
    }
    if (s && (strcmp(s, "VersionTLS10") == 0 || strcmp(s, "VersionTLS11") == 0))
        return tg_cfg_err(err, errlen, "%s is not supported: the minimum is VersionTLS12", s);
    return tg_cfg_err(err, errlen, "unknown TLS version \"%s\" (VersionTLS12 or VersionTLS13)",
                      s ? s : "");
}

/* Go crypto/tls names -> OpenSSL names. NULL openssl name: a TLS 1.3 suite,
 * accepted and ignored because Go does not let them be configured either. */
static const struct {
    const char *go;
    const char *openssl;
} cipher_map[] = {
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_AES_128_GCM_SHA256", NULL},
    {"TLS_AES_256_GCM_SHA384", NULL},
    {"TLS_CHACHA20_POLY1305_SHA256", NULL},
};

/* RC4 and 3DES suites: Go knows them, we refuse them. */
static int cipher_is_weak(const char *name, size_t len)
{
    return (memmem(name, len, "RC4", 3) || memmem(name, len, "3DES", 4)) &&
           strncmp(name, "TLS_", 4) == 0;
}

static const char *cipher_lookup(const char *name, size_t len, int *found)
{
    size_t i;
    *found = 0;
    for (i = 0; i < sizeof(cipher_map) / sizeof(cipher_map[0]); i++) {
        if (strlen(cipher_map[i].go) == len && memcmp(cipher_map[i].go, name, len) == 0) {
            *found = 1;
            return cipher_map[i].openssl;
        }
    }
    return NULL;
}

int tg_translate_cipher_suites(const char *go_list, char **out, char *err, size_t errlen)
{
    const char *p = go_list, *name;
    char *res = NULL;
    size_t reslen = 0;

    while (p && *p) {
        size_t len = strcspn(p, ",");
        int found;
        const char *ossl = cipher_lookup(p, len, &found);
        name = p;
        p += len + (p[len] == ',');
        if (len == 0)
            continue;
        if (!found) {
            free(res);
            if (cipher_is_weak(name, len))
                return tg_cfg_err(err, errlen, "cipher suite %.*s is insecure and not supported",
                                  (int)len, name);
            return tg_cfg_err(err, errlen, "unknown cipher suite %.*s (use Go crypto/tls names)",
                              (int)len, name);
        }
        if (ossl == NULL)
            continue;
        res = tg_realloc(res, reslen + strlen(ossl) + 2);
        reslen += (size_t)sprintf(res + reslen, "%s%s", reslen ? ":" : "", ossl);
    }
    free(*out);
    *out = res;
    return 0;
}

/* ---- enums ---- */

int tg_parse_verb_mode(const char *s, enum tg_verb_mode *out, char *err, size_t errlen)
{
    if (s && strcmp(s, "get") == 0) {
        *out = TG_VERB_GET;
        return 0;
    }
    if (s && strcmp(s, "http") == 0) {
        *out = TG_VERB_HTTP;
        return 0;
    }
    return tg_cfg_err(err, errlen, "invalid verb mode \"%s\" (get or http)", s ? s : "");
}

int tg_parse_klog_v(const char *s, int *out, char *err, size_t errlen)
{
    long v = 0;
    if (tg_parse_int(s, 0, 100, &v, err, errlen) < 0)
        return -1;
    *out = (int)tg_log_level_from_klog((int)v);
    return 0;
}

int tg_parse_log_level(const char *s, int *out, char *err, size_t errlen)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    int i;
    for (i = 0; s && i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    if (s && isdigit((unsigned char)*s) && tg_parse_klog_v(s, out, err, errlen) == 0)
        return 0;
    return tg_cfg_err(err, errlen,
                      "invalid log level \"%s\" (error, warn, info, debug or a klog "
                      "verbosity 0-100)",
                      s ? s : "");
}

/* ---- the {{ .Value }} template ---- */

/* Length of a `{{ .Value }}` action at p (any spaces or tabs around the
 * field), 0 when p starts some other action. */
static size_t value_action_len(const char *p)
{
    const char *q = p + 2;
    while (*q == ' ' || *q == '\t')
        q++;
    if (strncmp(q, ".Value", 6) != 0)
        return 0;
    q += 6;
    while (*q == ' ' || *q == '\t')
        q++;
    if (q[0] != '}' || q[1] != '}')
        return 0;
    return (size_t)(q + 2 - p);
}

int tg_normalize_template(const char *s, char **out, int *has_template, char *err, size_t errlen)
{
    size_t cap = strlen(s) + 1, n = 0;
    char *res;
    const char *p = s;

    *has_template = 0;
    /* each 2+6+2-byte minimum action grows to at most 12 bytes */
    res = tg_realloc(NULL, cap * 2 + 16);
    while (*p) {
        if (p[0] == '{' && p[1] == '{') {
            size_t l = value_action_len(p);
            if (l == 0) {
                free(res);
                return tg_cfg_err(err, errlen,
                                  "unsupported template action in \"%s\": only {{ .Value }} is "
                                  "allowed",
                                  s);
            }
            memcpy(res + n, TG_VALUE_TEMPLATE, sizeof(TG_VALUE_TEMPLATE) - 1);
            n += sizeof(TG_VALUE_TEMPLATE) - 1;
            p += l;
            *has_template = 1;
            continue;
        }
        res[n++] = *p++;
    }
    res[n] = '\0';
    *out = res;
    return 0;
}

/* ---- string lists (out of memory aborts: core.h) ---- */

void tg_strlist_push(char ***list, size_t *n, const char *s, size_t len)
{
    *list = tg_realloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = tg_strndup(s, len);
}

void tg_strlist_free(char **list, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        free(list[i]);
    free(list);
}
