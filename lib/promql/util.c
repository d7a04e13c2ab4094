/* PromQL helpers: string unquoting, number and duration parsing/printing,
 * quoting for output and error messages. */
#include "promql-int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t utf8_encode(char *p, uint32_t r)
{
    if (r < 0x80) {
        p[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        p[0] = (char)(0xC0 | (r >> 6));
        p[1] = (char)(0x80 | (r & 0x3F));
        return 2;
    }
    if (r >= 0xD800 && r <= 0xDFFF)
        r = 0xFFFD; /* the lexer refuses surrogates; keep Go's behaviour anyway */
    if (r < 0x10000) {
        p[0] = (char)(0xE0 | (r >> 12));
        p[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        p[2] = (char)(0x80 | (r & 0x3F));
        return 3;
    }
    p[0] = (char)(0xF0 | (r >> 18));
    p[1] = (char)(0x80 | ((r >> 12) & 0x3F));
    p[2] = (char)(0x80 | ((r >> 6) & 0x3F));
    p[3] = (char)(0x80 | (r & 0x3F));
    return 4;
}

/* The lexer has validated every escape, so this cannot fail. */
tg_iovec_t pq_unquote(tg_arena_t *a, const char *s, size_t len)
{
    const char *in = s + 1, *end = s + len - 1;
    char *buf, *o;

    if (s[0] == '`' || memchr(in, '\\', (size_t)(end - in)) == NULL)
        return tg_iov(in, (size_t)(end - in));
    o = buf = tg_arena_alloc(a, (size_t)(end - in) + 1);
    while (in < end) {
        uint32_t v = 0;
        int n = 0, i;
        if (*in != '\\') {
            *o++ = *in++;
            continue;
        }
        in++;
        switch (*in++) {
        case 'a': *o++ = '\a'; continue;
        case 'b': *o++ = '\b'; continue;
        case 'f': *o++ = '\f'; continue;
        case 'n': *o++ = '\n'; continue;
        case 'r': *o++ = '\r'; continue;
        case 't': *o++ = '\t'; continue;
        case 'v': *o++ = '\v'; continue;
        case 'x': n = 2; break;
        case 'u': n = 4; break;
        case 'U': n = 8; break;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
            v = (uint32_t)(in[-1] - '0');
            for (i = 0; i < 2; i++)
                v = v * 8 + (uint32_t)(*in++ - '0');
            *o++ = (char)v;
            continue;
        default: /* \\ \" \' */ *o++ = in[-1]; continue;
        }
        for (i = 0; i < n; i++)
            v = v * 16 + (uint32_t)tg_hexval(*in++);
        if (n == 2)
            *o++ = (char)v; /* a single byte, possibly not UTF-8 */
        else
            o += utf8_encode(o, v);
    }
    *o = '\0';
    return tg_iov(buf, (size_t)(o - buf));
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Go's strconv underscoreOK */
static int underscore_ok(const char *s, size_t n)
{
    char saw = '^';
    size_t i = 0;
    int hex = 0;

    if (n >= 2 && s[0] == '0' && (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
        i = 2;
        saw = '0';
        hex = lower(s[1]) == 'x';
    }
    for (; i < n; i++) {
        char c = s[i];
        if ((c >= '0' && c <= '9') || (hex && lower(c) >= 'a' && lower(c) <= 'f')) {
            saw = '0';
            continue;
        }
        if (c == '_') {
            if (saw != '0')
                return 0;
            saw = '_';
            continue;
        }
        if (saw == '_')
            return 0;
        saw = '!';
    }
    return saw != '_';
}

/* ParseInt(s, 0, 64) on a string without underscores: 1 ok, 0 not an int,
 * -1 int syntax but out of range. */
static int parse_int(const char *s, size_t n, int64_t *out)
{
    uint64_t v = 0, lim = (uint64_t)INT64_MAX;
    unsigned base = 10;
    size_t i = 0;

    if (n >= 2 && s[0] == '0' && lower(s[1]) == 'x') {
        base = 16, i = 2;
        if (n == 2)
            return 0;
    } else if (n >= 2 && s[0] == '0') {
        base = 8, i = 1;
    }
    if (n == 0)
        return 0;
    for (; i < n; i++) {
        int d = tg_hexval(s[i]);
        if (d < 0 || (unsigned)d >= base)
            return 0;
        if (v > (lim - (uint64_t)d) / base) {
            /* keep scanning: a later bad digit makes it "not an int" */
            for (i++; i < n; i++) {
                d = tg_hexval(s[i]);
                if (d < 0 || (unsigned)d >= base)
                    return 0;
            }
            return -1;
        }
        v = v * base + (uint64_t)d;
    }
    *out = (int64_t)v;
    return 1;
}

int pq_parse_number(tg_arena_t *a, const char *s, size_t len, double *out)
{
    char small[128], *buf = small, *end;
    size_t i, n = 0;
    int64_t iv;
    int r;
    double d;

    if (len >= 1 && len <= 16) {
        /* plain decimal integers (exact in a double; a leading 0 means octal) */
        uint64_t v = 0;
        for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            v = v * 10 + (uint64_t)(s[i] - '0');
        if (i == len && len <= 15 && (len == 1 || s[0] != '0')) {
            *out = (double)v;
            return 0;
        }
        /* digits.digits: mantissa and power of ten are exact doubles, so one
         * division rounds correctly, as ParseFloat does */
        if (i < len && s[i] == '.' && len - i >= 2) {
            static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                           1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
            size_t dot = i;
            for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
                v = v * 10 + (uint64_t)(s[i] - '0');
            if (i == len) {
                *out = (double)v / pow10[len - dot - 1];
                if (PQ_CROSSCHECK) {
                    memcpy(small, s, len);
                    small[len] = '\0';
                    TG_CHECK(strtod(small, NULL) == *out);
                }
                return 0;
            }
        }
    }
    if (memchr(s, '_', len) != NULL && !underscore_ok(s, len))
        return -1;
    if (len >= sizeof(small))
        buf = tg_arena_alloc(a, len + 1);
    for (i = 0; i < len; i++)
        if (s[i] != '_')
            buf[n++] = s[i];
    buf[n] = '\0';
    r = parse_int(buf, n, &iv);
    if (r == 1) {
        *out = (double)iv;
        return 0;
    }
    /* Go's ParseFloat wants a 'p' exponent in hex: an overlong hex int fails */
    if (n >= 2 && buf[0] == '0' && lower(buf[1]) == 'x')
        return -1;
    errno = 0;
    d = strtod(buf, &end);
    if (end == buf || *end != '\0')
        return -1;
    if (errno == ERANGE && isinf(d))
        return -2;
    *out = d;
    return 0;
}

struct unit {
    const char *name;
    int64_t mult;
    int pos;
};

static const struct unit units[] = {
    {"y", 31536000000000000LL, 1}, {"w", 604800000000000LL, 2}, {"d", 86400000000000LL, 3},
    {"h", 3600000000000LL, 4},     {"m", 60000000000LL, 5},     {"s", 1000000000LL, 6},
    {"ms", 1000000LL, 7},
};

int pq_parse_duration(const char *s, size_t len, int64_t *ns, char *msg, size_t msglen)
{
    char q[96];
    uint64_t dur = 0;
    size_t i = 0, j, k;
    int last = 0;

    if (len == 1 && s[0] == '0') {
        *ns = 0;
        return 0;
    }
    if (len == 0) {
        snprintf(msg, msglen, "empty duration string");
        return -1;
    }
    while (i < len) {
        uint64_t v = 0;
        const struct unit *u = NULL;
        if (s[i] < '0' || s[i] > '9')
            goto bad;
        for (j = i; j < len && s[j] >= '0' && s[j] <= '9'; j++) {
            if (v > (UINT64_MAX - 9) / 10)
                goto bad;
            v = v * 10 + (uint64_t)(s[j] - '0');
        }
        for (k = j; k < len && (s[k] < '0' || s[k] > '9'); k++)
            ;
        if (k == j)
            goto bad;
        if (k - j == 1) {
            switch (s[j]) {
            case 'y': u = &units[0]; break;
            case 'w': u = &units[1]; break;
            case 'd': u = &units[2]; break;
            case 'h': u = &units[3]; break;
            case 'm': u = &units[4]; break;
            case 's': u = &units[5]; break;
            }
        } else if (k - j == 2 && s[j] == 'm' && s[j + 1] == 's') {
            u = &units[6];
        }
        if (u == NULL) {
            char uq[64];
            pq_go_quote(q, sizeof(q), s, len, 64);
            pq_go_quote(uq, sizeof(uq), s + j, k - j, 16);
            snprintf(msg, msglen, "unknown unit %s in duration %s", uq, q);
            return -1;
        }
        if (u->pos <= last)
            goto bad;
        last = u->pos;
        if (v > ((uint64_t)1 << 63) / (uint64_t)u->mult)
            goto range;
        dur += v * (uint64_t)u->mult;
        if (dur > (uint64_t)INT64_MAX)
            goto range;
        i = k;
    }
    *ns = (int64_t)dur;
    return 0;
bad:
    pq_go_quote(q, sizeof(q), s, len, 64);
    snprintf(msg, msglen, "not a valid duration string: %s", q);
    return -1;
range:
    snprintf(msg, msglen, "duration out of range");
    return -1;
}

void pq_print_duration(tg_sb_t *sb, int64_t ns)
{
    static const struct {
        char u[3];
        uint8_t ulen;
        int64_t mult;
        int exact;
    } f[] = {
        {"y", 1, 31536000000LL, 1},
        {"w", 1, 604800000LL, 1},
        {"d", 1, 86400000LL, 0},
        {"h", 1, 3600000LL, 0},
        {"m", 1, 60000LL, 0},
        {"s", 1, 1000LL, 0},
        {"ms", 2, 1, 0},
    };
    uint64_t ms, mag = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    char buf[96];
    size_t i, o = 0;

    if (ns < 0)
        buf[o++] = '-';
    if (mag % 1000000 != 0) {
        /* not whole milliseconds (a plain number of seconds): print seconds */
        int n = snprintf(buf + o, sizeof(buf) - o, "%llu.%09llu",
                         (unsigned long long)(mag / 1000000000),
                         (unsigned long long)(mag % 1000000000));
        o += (size_t)n;
        while (buf[o - 1] == '0')
            o--;
        tg_sb_add(sb, buf, o);
        return;
    }
    ms = mag / 1000000;
    if (ms == 0) {
        tg_sb_add(sb, buf, o);
        tg_sb_add(sb, "0s", 2);
        return;
    }
    for (i = 0; i < sizeof(f) / sizeof(f[0]) && ms != 0; i++) {
        uint64_t v;
        if (ms < (uint64_t)f[i].mult || (f[i].exact && ms % (uint64_t)f[i].mult != 0))
            continue;
        v = ms / (uint64_t)f[i].mult;
        if (v > 0) {
            char d[24];
            int k = (int)sizeof(d);
            ms -= v * (uint64_t)f[i].mult;
            do
                d[--k] = (char)('0' + v % 10);
            while ((v /= 10) > 0);
            memcpy(buf + o, d + k, sizeof(d) - (size_t)k);
            o += sizeof(d) - (size_t)k;
            memcpy(buf + o, f[i].u, f[i].ulen);
            o += f[i].ulen;
        }
    }
    tg_sb_add(sb, buf, o);
}

/* Bytes that cannot be copied raw into a double-quoted PromQL string:
 * anything but printable ASCII, '"' and '\\'. */
static const uint8_t esc_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

int pq_needs_escape(tg_iovec_t s)
{
    const unsigned char *p = (const unsigned char *)s.base;
    size_t i = 0;
    for (; i + 4 <= s.len; i += 4)
        if (esc_class[p[i]] | esc_class[p[i + 1]] | esc_class[p[i + 2]] | esc_class[p[i + 3]])
            return 1;
    for (; i < s.len; i++)
        if (esc_class[p[i]])
            return 1;
    return 0;
}

/* The shortest decimal digits that read back as v (|v| finite, non-zero),
 * as Go's strconv finds them: writes a '-' to sb for negative v, the digits
 * (no trailing zeros) to digits[24], the decimal exponent of the first digit
 * to *exp10, and returns the number of digits. */
int pq_shortest_digits(tg_sb_t *sb, double v, char digits[24], int *exp10)
{
    char buf[40], *p, *e;
    int prec, nd = 0;

    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    p = buf;
    if (*p == '-') {
        tg_sb_addc(sb, '-');
        p++;
    }
    e = strchr(p, 'e');
    *exp10 = atoi(e + 1);
    for (; p < e; p++)
        if (*p != '.')
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    return nd;
}

void pq_format_float(tg_sb_t *sb, double v)
{
    char digits[24];
    int exp10, nd;

    if (isnan(v)) {
        tg_sb_adds(sb, "NaN");
        return;
    }
    if (isinf(v)) {
        tg_sb_adds(sb, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        tg_sb_adds(sb, signbit(v) ? "-0" : "0");
        return;
    }
    nd = pq_shortest_digits(sb, v, digits, &exp10);
    pq_put_fixed(sb, digits, nd, exp10);
}

void pq_put_fixed(tg_sb_t *sb, const char *digits, int nd, int exp10)
{
    int i;

    /* value = 0.d1d2d3... * 10^(exp10+1) */
    if (exp10 < 0) {
        tg_sb_add(sb, "0.", 2);
        for (i = 0; i < -exp10 - 1; i++)
            tg_sb_addc(sb, '0');
        tg_sb_add(sb, digits, (size_t)nd);
        return;
    }
    for (i = 0; i <= exp10; i++)
        tg_sb_addc(sb, i < nd ? digits[i] : '0');
    if (nd > exp10 + 1) {
        tg_sb_addc(sb, '.');
        tg_sb_add(sb, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
    }
}

/* Appends at most what fits; always NUL-terminates. */
static void put(char *dst, size_t dstlen, size_t *o, const char *s, size_t n)
{
    while (n-- > 0 && *o + 1 < dstlen)
        dst[(*o)++] = *s++;
    dst[*o] = '\0';
}

void pq_go_quote(char *dst, size_t dstlen, const char *s, size_t len, size_t max_runes)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, runes = 0, o = 0;

    if (dstlen == 0)
        return;
    dst[0] = '\0';
    put(dst, dstlen, &o, "\"", 1);
    for (; i < len && runes < max_runes; runes++) {
        unsigned char c = (unsigned char)s[i];
        char e[4] = {'\\', (char)c, 0, 0};
        if (c == '"' || c == '\\') {
            put(dst, dstlen, &o, e, 2);
        } else if (c == '\n' || c == '\t' || c == '\r') {
            e[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
            put(dst, dstlen, &o, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15];
            put(dst, dstlen, &o, e, 4);
        } else if (c < 0x80) {
            put(dst, dstlen, &o, (const char *)&s[i], 1);
        } else {
            size_t w = 1;
            while (i + w < len && w < 4 && ((unsigned char)s[i + w] & 0xC0) == 0x80)
                w++;
            while (w > 1 && !pq_utf8_valid(s + i, w))
                w--;
            if (w > 1) {
                put(dst, dstlen, &o, s + i, w);
                i += w;
                continue;
            }
            e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15];
            put(dst, dstlen, &o, e, 4);
        }
        i++;
    }
    put(dst, dstlen, &o, "\"", 1);
    if (i < len)
        put(dst, dstlen, &o, "...", 3);
}

/* 1: [a-zA-Z_], 2: [0-9], 4: ':' */
static const uint8_t name_class[256] = {
    ['_'] = 1, [':'] = 4, ['0'] = 2, ['1'] = 2, ['2'] = 2, ['3'] = 2, ['4'] = 2, ['5'] = 2,
    ['6'] = 2, ['7'] = 2, ['8'] = 2, ['9'] = 2, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
    ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
};

static int name_ok(tg_iovec_t s, uint8_t first, uint8_t rest)
{
    const unsigned char *p = (const unsigned char *)s.base;
    size_t i;
    if (s.len == 0 || !(name_class[p[0]] & first))
        return 0;
    for (i = 1; i < s.len; i++)
        if (!(name_class[p[i]] & rest))
            return 0;
    return 1;
}

int pq_is_legacy_label(tg_iovec_t s)
{
    return name_ok(s, 1, 1 | 2);
}

int pq_is_legacy_metric(tg_iovec_t s)
{
    return name_ok(s, 1 | 4, 1 | 2 | 4);
}

void tg_promql_quote(tg_sb_t *out, tg_iovec_t s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s.base;
    size_t i = 0;

    if (!pq_needs_escape(s)) {
        char *o;
        tg_sb_reserve(out, s.len + 2);
        o = out->base + out->len;
        o[0] = '"';
        if (s.len)
            memcpy(o + 1, s.base, s.len);
        o[s.len + 1] = '"';
        out->len += s.len + 2;
        out->base[out->len] = '\0';
        return;
    }
    tg_sb_reserve(out, s.len + 2);
    tg_sb_addc(out, '"');
    while (i < s.len) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            tg_sb_add(out, e, 2);
        } else if (c == '\n') {
            tg_sb_add(out, "\\n", 2);
        } else if (c == '\t') {
            tg_sb_add(out, "\\t", 2);
        } else if (c == '\r') {
            tg_sb_add(out, "\\r", 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            tg_sb_add(out, e, 4);
        } else if (c >= 0x80) {
            size_t w = 1;
            while (i + w < s.len && w < 4 && (p[i + w] & 0xC0) == 0x80)
                w++;
            /* The lexer refuses invalid UTF-8 and a raw U+FFFD alike. */
            while (w > 1 && !pq_utf8_valid(s.base + i, w))
                w--;
            if (w > 1 && !(w == 3 && p[i] == 0xEF && p[i + 1] == 0xBF && p[i + 2] == 0xBD)) {
                tg_sb_add(out, s.base + i, w);
                i += w;
                continue;
            }
            if (w == 3) {
                tg_sb_add(out, "\\ufffd", 6);
                i += 3;
                continue;
            }
            {
                char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
                tg_sb_add(out, e, 4);
            }
        } else {
            tg_sb_addc(out, (char)c);
        }
        i++;
    }
    tg_sb_addc(out, '"');
}

void tg_promql_label_name(tg_sb_t *out, tg_iovec_t name)
{
    if (pq_is_legacy_label(name))
        tg_sb_addiov(out, name);
    else
        tg_promql_quote(out, name);
}

int tg_promql_parse_duration(tg_iovec_t s, int64_t *ns)
{
    char msg[128];
    return pq_parse_duration(s.base, s.len, ns, msg, sizeof(msg));
}
