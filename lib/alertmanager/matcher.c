/*
 * Alertmanager's matcher syntax (the `filter` parameter); see
 * include/tenantgate/alertmanager.h.
 *
 * Alertmanager 0.25 parses a filter with one regular expression,
 *   ^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$
 * then unquotes the third group by hand. This is the same, written as a
 * scanner: no label name character is an operator or a space, and the value
 * group matches anything, so each step has exactly one way to go and the
 * error positions are exact. \s is Go's Perl class: tab, newline, form
 * feed, carriage return, space.
 */
#include "tenantgate/alertmanager.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tenantgate/http.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static int set_error(struct tg_am_error *err, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_error(struct tg_am_error *err, size_t pos, const char *fmt, ...)
{
    va_list ap;

    err->status = 400;
    err->code = 0; /* Alertmanager's handler answers a JSON string */
    err->pos = pos;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

/* Unquote the raw value (group 3) at s[start, end). */
static int unquote(tg_arena_t *a, const char *s, size_t start, size_t end, tg_iovec_t *out,
                   struct tg_am_error *err)
{
    const char *raw = s + start;
    size_t len = end - start, i = 0, n, w;
    int quoted = len > 0 && raw[0] == '"', escaped = 0;
    tg_sb_t v;

    if (quoted)
        i = 1;
    for (n = i; n < len; n += w)
        if ((w = tg_http_utf8_len((const unsigned char *)raw + n, len - n)) == 0)
            return set_error(err, start + n, "matcher value not valid UTF-8: %.*s", (int)len, raw);
    tg_sb_init(&v, a, len + 1);
    for (; i < len; i++) {
        char c = raw[i];
        if (escaped) {
            escaped = 0;
            if (c == 'n') {
                tg_sb_addc(&v, '\n');
            } else if (c == '"' || c == '\\') {
                tg_sb_addc(&v, c);
            } else { /* a spurious escape: the backslash is literal */
                tg_sb_addc(&v, '\\');
                tg_sb_addc(&v, c);
            }
            continue;
        }
        if (c == '\\' && i < len - 1) {
            escaped = 1;
        } else if (c == '"') {
            if (!quoted || i < len - 1)
                return set_error(err, start + i,
                                 "matcher value contains unescaped double quote: %.*s", (int)len,
                                 raw);
            quoted = 0; /* the closing quote */
        } else {
            tg_sb_addc(&v, c);
        }
    }
    if (quoted)
        return set_error(err, end, "matcher value contains unescaped double quote: %.*s", (int)len,
                         raw);
    *out = tg_sb_iov(&v);
    return 0;
}

/* Alertmanager compiles ^(?:value)$ with Go's regexp: the same check on the
 * same text gives its message word for word. */
static int check_regex(tg_arena_t *a, tg_iovec_t value, size_t pos, struct tg_am_error *err)
{
    char msg[256];
    tg_sb_t re;

    tg_sb_init(&re, a, value.len + 8);
    tg_sb_adds(&re, "^(?:");
    tg_sb_addiov(&re, value);
    tg_sb_adds(&re, ")$");
    if (tg_promql_regex_check(a, tg_sb_iov(&re), msg, sizeof(msg)) == 0)
        return 0;
    return set_error(err, pos, "%s", msg);
}

int tg_am_matcher_parse(tg_arena_t *a, tg_iovec_t in, struct tg_promql_matcher *out,
                        struct tg_am_error *err)
{
    const char *s = in.base;
    size_t n = in.len, i = 0, name_start, name_end, value_start, value_end;

    memset(out, 0, sizeof(*out));
    while (i < n && is_space(s[i]))
        i++;
    name_start = i;
    if (i == n || !is_name_start(s[i]))
        return set_error(err, i, "bad matcher format: %.*s", (int)n, s);
    while (i < n && is_name_char(s[i]))
        i++;
    name_end = i;
    while (i < n && is_space(s[i]))
        i++;
    if (i + 1 < n && s[i] == '=' && s[i + 1] == '~') {
        out->op = TG_PROMQL_RE;
        i += 2;
    } else if (i < n && s[i] == '=') {
        out->op = TG_PROMQL_EQ;
        i += 1;
    } else if (i + 1 < n && s[i] == '!' && (s[i + 1] == '=' || s[i + 1] == '~')) {
        out->op = s[i + 1] == '=' ? TG_PROMQL_NE : TG_PROMQL_NRE;
        i += 2;
    } else {
        return set_error(err, i, "bad matcher format: %.*s", (int)n, s);
    }
    while (i < n && is_space(s[i]))
        i++;
    value_start = i;
    value_end = n;
    while (value_end > value_start && is_space(s[value_end - 1]))
        value_end--;
    if (unquote(a, s, value_start, value_end, &out->value, err) < 0)
        return -1;
    out->name = tg_arena_iovdup(a, tg_iov(s + name_start, name_end - name_start));
    if (out->op == TG_PROMQL_RE || out->op == TG_PROMQL_NRE)
        return check_regex(a, out->value, value_start, err);
    return 0;
}

void tg_am_matcher_print(tg_sb_t *out, const struct tg_promql_matcher *m)
{
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    size_t i;

    tg_sb_addiov(out, m->name);
    tg_sb_adds(out, ops[m->op]);
    tg_sb_addc(out, '"');
    for (i = 0; i < m->value.len; i++) {
        char c = m->value.base[i];
        if (c == '\n') {
            tg_sb_adds(out, "\\n");
            continue;
        }
        if (c == '\\' || c == '"')
            tg_sb_addc(out, '\\');
        tg_sb_addc(out, c);
    }
    tg_sb_addc(out, '"');
}
