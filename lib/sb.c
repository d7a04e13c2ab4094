/* String builder; see include/tenantgate/sb.h. */
#include "tenantgate/core.h"
#include "tenantgate/sb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void tg_sb_init(tg_sb_t *sb, tg_arena_t *arena, size_t initial_cap)
{
    sb->arena = arena;
    sb->len = 0;
    sb->cap = initial_cap ? initial_cap : 64;
    sb->base = arena ? tg_arena_alloc(arena, sb->cap + 1) : tg_realloc(NULL, sb->cap + 1);
    sb->base[0] = '\0';
}

void tg_sb_free(tg_sb_t *sb)
{
    if (sb->arena == NULL)
        free(sb->base);
    sb->base = NULL;
    sb->len = sb->cap = 0;
}

void tg_sb_reserve(tg_sb_t *sb, size_t extra)
{
    size_t need = sb->len + extra, cap = sb->cap;
    if (need <= cap)
        return;
    while (cap < need)
        cap *= 2;
    if (sb->arena)
        sb->base = tg_arena_realloc(sb->arena, sb->base, sb->cap + 1, cap + 1);
    else
        sb->base = tg_realloc(sb->base, cap + 1);
    sb->cap = cap;
}

void tg_sb_add(tg_sb_t *sb, const void *p, size_t n)
{
    tg_sb_reserve(sb, n);
    if (n)
        memcpy(sb->base + sb->len, p, n);
    sb->len += n;
    sb->base[sb->len] = '\0';
}

void tg_sb_addc(tg_sb_t *sb, char c)
{
    tg_sb_reserve(sb, 1);
    sb->base[sb->len++] = c;
    sb->base[sb->len] = '\0';
}

void tg_sb_adds(tg_sb_t *sb, const char *s)
{
    tg_sb_add(sb, s, strlen(s));
}

void tg_sb_addiov(tg_sb_t *sb, tg_iovec_t v)
{
    tg_sb_add(sb, v.base, v.len);
}

void tg_sb_printf(tg_sb_t *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(sb->base + sb->len, sb->cap - sb->len + 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sb->cap - sb->len) {
        tg_sb_reserve(sb, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(sb->base + sb->len, sb->cap - sb->len + 1, fmt, ap);
        va_end(ap);
    }
    sb->len += (size_t)n;
}

void tg_sb_add_json_escaped(tg_sb_t *sb, tg_iovec_t v)
{
    static const char hex[] = "0123456789abcdef";
    char *o;
    size_t i;

    /* worst case every byte becomes \u00XX: reserve once, write in place
     * (a call per byte was most of the access log's cost) */
    tg_sb_reserve(sb, 6 * v.len);
    o = sb->base + sb->len;
    for (i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default: o[0] = 'u', o[1] = '0', o[2] = '0', o[3] = hex[c >> 4], o[4] = hex[c & 15]; o += 5;
        }
    }
    sb->len = (size_t)(o - sb->base);
    sb->base[sb->len] = '\0';
}

/* Bytes that stay as they are in a URL query component: RFC 3986's
 * unreserved and those of its sub-delims, ':' '@' '/' '?' that no form decoder
 * reads as anything but themselves. Escaped: '&' '=' '+' (form syntax), ';'
 * (a separator to old decoders, refused by Go's since 1.17), '%', '#', and
 * what a URI may not hold ('{' '"' '[' '|' space, controls, non-ASCII).
 * Encoded PromQL is ~30% shorter and cheaper to write than with unreserved
 * only. */
static const unsigned char url_plain[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['!'] = 1, ['$'] = 1, ['\''] = 1, ['('] = 1,
    [')'] = 1, ['*'] = 1, [','] = 1, [':'] = 1, ['@'] = 1, ['/'] = 1, ['?'] = 1,  ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,  ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,  ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,  ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,  ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,  ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,  ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,  ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

void tg_sb_add_urlencoded(tg_sb_t *sb, tg_iovec_t v)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o;
    size_t i;

    /* worst case every byte becomes %XX: reserve once, write in place */
    tg_sb_reserve(sb, 3 * v.len);
    o = sb->base + sb->len;
    for (i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (url_plain[c]) {
            *o++ = (char)c;
        } else if (c == ' ') {
            *o++ = '+'; /* form encoding: one byte, not three */
        } else {
            o[0] = '%';
            o[1] = hex[c >> 4];
            o[2] = hex[c & 15];
            o += 3;
        }
    }
    sb->len = (size_t)(o - sb->base);
    sb->base[sb->len] = '\0';
}

/* Append n in decimal, at least `width` digits (zero-padded). */
void tg_sb_add_u64(tg_sb_t *sb, unsigned long long n, unsigned width)
{
    unsigned long long t = n;
    unsigned digits = 1, i;
    char *o;

    while (t >= 10) {
        t /= 10;
        digits++;
    }
    if (width > 20)
        width = 20;
    if (digits < width)
        digits = width;
    tg_sb_reserve(sb, digits);
    o = sb->base + sb->len;
    for (i = digits; i-- > 0; n /= 10)
        o[i] = (char)('0' + n % 10);
    sb->len += digits;
    sb->base[sb->len] = '\0';
}

void tg_sb_clear(tg_sb_t *sb)
{
    sb->len = 0;
    if (sb->base)
        sb->base[0] = '\0';
}
