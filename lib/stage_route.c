/*
 * Stage 1, route: a fixed table of the Prometheus read API. Paths are matched
 * exactly on the raw request target: anything not canonical is refused (400)
 * rather than "fixed", so no two spellings of a path can be treated
 * differently here and upstream. Parameters are read once, from the URL and
 * an urlencoded POST body, for every later stage.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/stages.h"

#define GP (TG_M_GET | TG_M_POST)

static const struct tg_route routes[] = {
    {"/api/v1/query", TG_ROUTE_QUERY, GP, 1, "query"},
    {"/api/v1/query_range", TG_ROUTE_QUERY, GP, 1, "query_range"},
    {"/api/v1/query_exemplars", TG_ROUTE_QUERY, GP, 1, "query_exemplars"},
    {"/api/v1/series", TG_ROUTE_MATCH, GP, 1, "series"},
    {"/api/v1/labels", TG_ROUTE_MATCH, GP, 1, "labels"},
    {"/api/v1/label/", TG_ROUTE_MATCH, TG_M_GET, 1, "label_values"}, /* + <name>/values */
    {"/api/v1/metadata", TG_ROUTE_METADATA, TG_M_GET, 1, "metadata"},
    {"/api/v1/format_query", TG_ROUTE_LOCAL, GP, 0, "format_query"},
    {"/api/v1/parse_query", TG_ROUTE_LOCAL, GP, 0, "parse_query"},
    {"/api/v1/rules", TG_ROUTE_RULES, TG_M_GET, 1, "rules"},
    {"/api/v1/alerts", TG_ROUTE_ALERTS, TG_M_GET, 1, "alerts"},
    {"/api/v1/status/buildinfo", TG_ROUTE_PASS, TG_M_GET, 1, "buildinfo"},
    {"/federate", TG_ROUTE_FEDERATE, TG_M_GET, 1, "federate"},
};

static int label_name_ok(tg_iovec_t n)
{
    size_t i;
    if (n.len == 0)
        return 0;
    for (i = 0; i < n.len; i++) {
        char c = n.base[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (c >= '0' && c <= '9' && i > 0)))
            return 0;
    }
    return 1;
}

const struct tg_route *tg_route_find(tg_iovec_t path, tg_iovec_t *label_name)
{
    static const tg_iovec_t prefix = TG_IOV_LIT("/api/v1/label/");
    static const tg_iovec_t suffix = TG_IOV_LIT("/values");
    size_t i;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (tg_iov_eq_str(path, routes[i].path))
            return &routes[i];
    if (tg_iov_has_prefix(path, prefix) && path.len > prefix.len + suffix.len &&
        memcmp(path.base + path.len - suffix.len, suffix.base, suffix.len) == 0) {
        tg_iovec_t name = tg_iov(path.base + prefix.len, path.len - prefix.len - suffix.len);
        if (label_name_ok(name)) {
            *label_name = name;
            return &routes[5];
        }
    }
    return NULL;
}

static enum tg_verdict read_params(struct tg_req *r, tg_iovec_t query)
{
    struct evbuffer *body = r->in_body;
    size_t blen = body ? evbuffer_get_length(body) : 0;
    const char *ct, *err = NULL;
    tg_iovec_t form;

    tg_params_init(&r->params, &r->arena);
    if (tg_params_parse(&r->arena, query, 0, &r->params, &err) != 0)
        return tg_req_error(r, 400, "bad_data", "invalid query string: %s", err);
    if (r->method != TG_M_POST || blen == 0)
        return TG_NEXT;
    ct = evhttp_find_header(r->in_headers, "Content-Type");
    if (ct == NULL || !tg_http_is_form_content_type(tg_iov_str(ct)))
        return tg_req_error(r, 415, "bad_data",
                            "unsupported body type %s: use application/x-www-form-urlencoded",
                            ct ? ct : "(none)");
    /* parsed in place: evhttp keeps the body until the request ends */
    form = tg_iov((const char *)evbuffer_pullup(body, -1), blen);
    if (tg_params_parse(&r->arena, form, 1, &r->params, &err) != 0)
        return tg_req_error(r, 400, "bad_data", "invalid form body: %s", err);
    return TG_NEXT;
}

enum tg_verdict tg_stage_route(struct tg_req *r)
{
    const char *uri = r->uri;
    const char *q = strchr(uri, '?');
    tg_iovec_t path = tg_iov(uri, q ? (size_t)(q - uri) : strlen(uri));
    tg_iovec_t query = q ? tg_iov_str(q + 1) : TG_IOV_NULL;

    if (!tg_http_path_is_canonical(path))
        return tg_req_error(r, 400, "bad_data", "non-canonical request path");
    r->path = tg_arena_iovdup(&r->arena, path);
    r->route = tg_route_find(r->path, &r->label_name);
    if (r->route == NULL)
        return tg_req_error(r, 404, "not_found", "%.*s is not served by tenantgate",
                            TG_IOV_FMT(r->path));
    if (!(r->route->methods & r->method)) {
        tg_req_add_header(r, "Allow", r->route->methods & TG_M_POST ? "GET, POST" : "GET");
        return tg_req_error(r, 405, "bad_data", "method not allowed");
    }
    return read_params(r, query);
}
