/* PROVISIONAL (lead): replaced by the http helper's module on merge. */
#ifndef TENANTGATE_HTTP_H
#define TENANTGATE_HTTP_H

#include <stddef.h>
#include "tenantgate/arena.h"
#include "tenantgate/iovec.h"
#include "tenantgate/sb.h"

struct tg_param {
    tg_iovec_t name, value;
    int from_body;
};

struct tg_params {
    struct tg_param *v;
    size_t n, cap;
};

int tg_params_parse(tg_arena_t *a, tg_iovec_t raw, int from_body, struct tg_params *out,
                    const char **err);
int tg_http_path_is_canonical(tg_iovec_t path);
void tg_http_error_body(tg_sb_t *out, const char *error_type, tg_iovec_t message);
int tg_http_header_is_hop_by_hop(tg_iovec_t name);
int tg_http_header_is_credential(tg_iovec_t name);
int tg_http_parse_authorization(tg_arena_t *a, tg_iovec_t value, tg_iovec_t *token);
int tg_http_is_form_urlencoded(tg_iovec_t content_type);

#endif
