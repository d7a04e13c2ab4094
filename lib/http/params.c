/* Form / query parameters; see include/tenantgate/http.h. */
#include "tenantgate/http.h"

#include <string.h>

#include "tenantgate/core.h"

void tg_params_init(struct tg_params *p, tg_arena_t *a)
{
    p->items = NULL;
    p->n = p->cap = 0;
    p->arena = a;
}

void tg_params_add(struct tg_params *p, tg_iovec_t name, tg_iovec_t value, int from_body)
{
    TG_CHECK(p->arena != NULL);
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 8;
        p->items = tg_arena_realloc(p->arena, p->items, p->cap * sizeof(*p->items),
                                    ncap * sizeof(*p->items));
        p->cap = ncap;
    }
    p->items[p->n++] = (struct tg_param){name, value, from_body};
}

/* Hex digit values, -1 for a byte that is not one (inline: unescape runs
 * over every byte of every query). */
static const signed char hexval[256] = {
    ['0'] = 0 + 1,  ['1'] = 1 + 1,  ['2'] = 2 + 1,  ['3'] = 3 + 1,  ['4'] = 4 + 1,  ['5'] = 5 + 1,
    ['6'] = 6 + 1,  ['7'] = 7 + 1,  ['8'] = 8 + 1,  ['9'] = 9 + 1,  ['a'] = 10 + 1, ['b'] = 11 + 1,
    ['c'] = 12 + 1, ['d'] = 13 + 1, ['e'] = 14 + 1, ['f'] = 15 + 1, ['A'] = 10 + 1, ['B'] = 11 + 1,
    ['C'] = 12 + 1, ['D'] = 13 + 1, ['E'] = 14 + 1, ['F'] = 15 + 1,
}; /* value + 1: the zero-initialised rest reads as -1 below */

/* Decode one query component ('+' is a space) into the arena. (A
 * word-at-a-time scan for '%' and '+' was measured slower: in encoded
 * PromQL an escape comes every few bytes.) */
static int unescape(tg_arena_t *a, const char *s, size_t len, tg_iovec_t *out)
{
    char *d = tg_arena_alloc(a, len + 1);
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi, lo;
            if (len - i < 3) /* need two hex digits after '%' */
                return -1;
            hi = hexval[(unsigned char)s[i + 1]] - 1;
            lo = hexval[(unsigned char)s[i + 2]] - 1;
            if ((hi | lo) < 0)
                return -1;
            d[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[n++] = c == '+' ? ' ' : (char)c;
        }
    }
    d[n] = '\0';
    *out = tg_iov(d, n);
    return 0;
}

int tg_params_parse(tg_arena_t *a, tg_iovec_t raw, int from_body, struct tg_params *out,
                    const char **err)
{
    const char *p = raw.base, *end, *msg = NULL;

    if (out->arena == NULL)
        tg_params_init(out, a);
    if (raw.len == 0) /* and maybe raw.base == NULL: no arithmetic on it */
        return 0;
    end = raw.base + raw.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *piece_end = amp ? amp : end;
        const char *eq;
        tg_iovec_t name, value;

        if (piece_end == p) {
            p = piece_end + 1;
            continue;
        }
        if (memchr(p, ';', (size_t)(piece_end - p)) != NULL) {
            msg = "invalid semicolon separator in query";
            goto error;
        }
        eq = memchr(p, '=', (size_t)(piece_end - p));
        if (unescape(a, p, (size_t)((eq ? eq : piece_end) - p), &name) < 0)
            goto bad_escape;
        if (eq == NULL)
            value = tg_iov(tg_arena_strndup(a, "", 0), 0);
        else if (unescape(a, eq + 1, (size_t)(piece_end - eq - 1), &value) < 0)
            goto bad_escape;
        tg_params_add(out, name, value, from_body);
        p = amp ? amp + 1 : end;
    }
    return 0;

bad_escape:
    msg = "invalid URL escape";
error:
    if (err != NULL)
        *err = msg;
    return -1;
}

const struct tg_param *tg_params_next(const struct tg_params *p, tg_iovec_t name,
                                      const struct tg_param *prev)
{
    size_t i = prev ? (size_t)(prev - p->items) + 1 : 0;

    for (; i < p->n; i++)
        if (tg_iov_eq(p->items[i].name, name))
            return &p->items[i];
    return NULL;
}

const struct tg_param *tg_params_get(const struct tg_params *p, tg_iovec_t name)
{
    return tg_params_next(p, name, NULL);
}

size_t tg_params_count(const struct tg_params *p, tg_iovec_t name)
{
    size_t i, n = 0;

    for (i = 0; i < p->n; i++)
        n += tg_iov_eq(p->items[i].name, name);
    return n;
}

size_t tg_params_remove(struct tg_params *p, tg_iovec_t name)
{
    size_t i, j = 0;

    for (i = 0; i < p->n; i++)
        if (!tg_iov_eq(p->items[i].name, name))
            p->items[j++] = p->items[i];
    i = p->n - j;
    p->n = j;
    return i;
}

void tg_params_encode(const struct tg_params *p, tg_sb_t *out, tg_params_skip_fn skip, void *arg)
{
    size_t i;
    int first = 1;

    for (i = 0; i < p->n; i++) {
        const struct tg_param *q = &p->items[i];
        if (skip != NULL && skip(arg, q))
            continue;
        if (!first)
            tg_sb_addc(out, '&');
        first = 0;
        tg_sb_add_urlencoded(out, q->name);
        tg_sb_addc(out, '=');
        tg_sb_add_urlencoded(out, q->value);
    }
}
