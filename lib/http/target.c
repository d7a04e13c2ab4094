/* Request-target and path checks; see include/tenantgate/http.h. */
#include "tenantgate/http.h"

#include <string.h>

static int is_ctl_or_space(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

int tg_http_split_target(tg_iovec_t target, tg_iovec_t *path, tg_iovec_t *query)
{
    const char *q;
    size_t i;

    /* Only origin-form: evhttp hands us the raw target; an absolute-form
     * target would make "which host/path did the client mean" ambiguous. */
    if (target.len == 0 || target.base[0] != '/')
        return -1;
    for (i = 0; i < target.len; i++) {
        unsigned char c = (unsigned char)target.base[i];
        if (is_ctl_or_space(c) || c == '#')
            return -1;
    }
    q = memchr(target.base, '?', target.len);
    if (q == NULL) {
        *path = target;
        *query = tg_iov(target.base + target.len, 0);
    } else {
        *path = tg_iov(target.base, (size_t)(q - target.base));
        *query = tg_iov(q + 1, target.len - (size_t)(q - target.base) - 1);
    }
    return 0;
}

/* A segment is the text between two '/' (or after the last one). */
static int segment_ok(const char *s, size_t len, int last)
{
    if (len == 0)
        return last; /* only a trailing "/" may end in an empty segment */
    if (len == 1 && s[0] == '.')
        return 0;
    if (len == 2 && s[0] == '.' && s[1] == '.')
        return 0;
    return 1;
}

int tg_http_path_is_canonical(tg_iovec_t path)
{
    size_t i, seg;

    if (path.len == 0 || path.base[0] != '/')
        return 0;
    for (i = 0; i < path.len; i++) {
        unsigned char c = (unsigned char)path.base[i];
        /* '%': our routes are fixed ASCII, so any encoding is either useless
         * or an attempt to make us and the upstream disagree on the path. */
        if (is_ctl_or_space(c) || c >= 0x80 || c == '%' || c == ';' || c == '\\' || c == '#' ||
            c == '?')
            return 0;
    }
    seg = 1;
    for (i = 1; i <= path.len; i++) {
        if (i == path.len || path.base[i] == '/') {
            if (!segment_ok(path.base + seg, i - seg, i == path.len))
                return 0;
            seg = i + 1;
        }
    }
    return 1;
}
