/* libFuzzer target for lib/http/: query/form parsing (with an encode ->
 * parse round trip), request-target splitting, path canonicality,
 * Authorization and Content-Type parsing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_params(tg_arena_t *a, tg_iovec_t in)
{
    struct tg_params p = {0}, q = {0};
    tg_sb_t sb;
    size_t i;

    if (tg_params_parse(a, in, 0, &p, NULL) != 0)
        return;
    /* what we rebuild for the upstream must parse back to the same list */
    tg_sb_init(&sb, a, 0);
    tg_params_encode(&p, &sb, NULL, NULL);
    if (tg_params_parse(a, tg_sb_iov(&sb), 0, &q, NULL) != 0 || q.n != p.n)
        abort();
    for (i = 0; i < p.n; i++)
        if (!tg_iov_eq(p.items[i].name, q.items[i].name) ||
            !tg_iov_eq(p.items[i].value, q.items[i].value))
            abort();
    for (i = 0; i < p.n; i++)
        if (tg_params_get(&p, p.items[i].name) == NULL)
            abort();
}

static void check_target(tg_iovec_t in)
{
    tg_iovec_t path, query;

    if (tg_http_split_target(in, &path, &query) == 0 && tg_http_path_is_canonical(path)) {
        /* a canonical path has no dot segment, no escape, no empty segment */
        if (memchr(path.base, '%', path.len) || memmem(path.base, path.len, "//", 2) ||
            memmem(path.base, path.len, "/./", 3) || memmem(path.base, path.len, "/../", 4))
            abort();
        if ((path.len >= 2 && memcmp(path.base + path.len - 2, "/.", 2) == 0) ||
            (path.len >= 3 && memcmp(path.base + path.len - 3, "/..", 3) == 0))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tg_arena_t a;
    tg_iovec_t in = tg_iov((const char *)data, size), tok;

    tg_arena_init(&a, NULL, 0);
    check_params(&a, in);
    check_target(in);
    if (tg_http_parse_authorization(&a, in, &tok) == 0 && tok.len == 0)
        abort();
    tg_http_is_form_content_type(in);
    tg_base64_decode(&a, in, &tok);
    {
        tg_iovec_t rest = in;
        while (tg_http_next_token(&rest, &tok))
            if (tok.len == 0)
                abort();
    }
    tg_http_header_is_credential(in);
    tg_http_header_is_hop_by_hop(in);
    tg_arena_destroy(&a);
    return 0;
}
