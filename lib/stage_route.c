/*
 * Stage 1, route: a fixed table of the Prometheus read API and the
 * Alertmanager API v2. Paths are matched exactly on the raw request target:
 * anything not canonical is refused (400) rather than "fixed", so no two
 * spellings of a path can be treated differently here and upstream.
 * Parameters are read once, from the URL and an urlencoded POST body (a JSON
 * silence on the Alertmanager API), for every later stage.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "tenantgate/alertmanager.h"
#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/server.h"
#include "tenantgate/stages.h"

#define GP   (TG_M_GET | TG_M_POST)
#define PROM TG_API_PROMETHEUS, 0

static const struct tg_route routes[] = {
    {"/api/v1/query", TG_ROUTE_QUERY, GP, 1, "query", PROM},
    {"/api/v1/query_range", TG_ROUTE_QUERY, GP, 1, "query_range", PROM},
    {"/api/v1/query_exemplars", TG_ROUTE_QUERY, GP, 1, "query_exemplars", PROM},
    {"/api/v1/series", TG_ROUTE_MATCH, GP, 1, "series", PROM},
    {"/api/v1/labels", TG_ROUTE_MATCH, GP, 1, "labels", PROM},
    {"/api/v1/label/", TG_ROUTE_MATCH, TG_M_GET, 1, "label_values", PROM}, /* + <name>/values */
    {"/api/v1/metadata", TG_ROUTE_METADATA, TG_M_GET, 1, "metadata", PROM},
    {"/api/v1/format_query", TG_ROUTE_LOCAL, GP, 0, "format_query", PROM},
    {"/api/v1/parse_query", TG_ROUTE_LOCAL, GP, 0, "parse_query", PROM},
    {"/api/v1/rules", TG_ROUTE_RULES, TG_M_GET, 1, "rules", PROM},
    {"/api/v1/alerts", TG_ROUTE_ALERTS, TG_M_GET, 1, "alerts", PROM},
    {"/api/v1/status/buildinfo", TG_ROUTE_PASS, TG_M_GET, 1, "buildinfo", PROM},
    {"/federate", TG_ROUTE_FEDERATE, TG_M_GET, 1, "federate", PROM},
/* Alertmanager API v2; POST alerts (injecting alerts), receivers and
 * every other path are not served */
#define AM TG_API_ALERTMANAGER
    {"/api/v2/alerts", TG_ROUTE_AM_ALERTS, TG_M_GET, 1, "am_alerts", AM, TG_M_POST},
    {"/api/v2/alerts/groups", TG_ROUTE_AM_GROUPS, TG_M_GET, 1, "am_alert_groups", AM, 0},
    {"/api/v2/silences", TG_ROUTE_AM_SILENCES, GP, 1, "am_silences", AM, 0},
    {"/api/v2/silence/", TG_ROUTE_AM_SILENCE, TG_M_GET | TG_M_DELETE, 1, "am_silence", AM,
     0}, /* + <id> */
    {"/api/v2/status", TG_ROUTE_AM_STATUS, TG_M_GET, 1, "am_status", AM, 0},
#undef AM
};

static const tg_iovec_t am_prefix = TG_IOV_LIT("/api/v2/");

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

/* "/api/v1/label/" and "/api/v2/silence/" take one more path part. */
static int is_prefix_route(const struct tg_route *rt)
{
    return rt->path[strlen(rt->path) - 1] == '/';
}

static const struct tg_route *route_of_kind(enum tg_route_kind kind, int prefix)
{
    size_t i;
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (routes[i].kind == kind && is_prefix_route(&routes[i]) == prefix)
            return &routes[i];
    return NULL;
}

const struct tg_route *tg_route_find(tg_iovec_t path, tg_iovec_t *label_name)
{
    static const tg_iovec_t prefix = TG_IOV_LIT("/api/v1/label/");
    static const tg_iovec_t suffix = TG_IOV_LIT("/values");
    static const tg_iovec_t silence = TG_IOV_LIT("/api/v2/silence/");
    size_t i;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (tg_iov_eq_str(path, routes[i].path) && !is_prefix_route(&routes[i]))
            return &routes[i];
    if (tg_iov_has_prefix(path, prefix) && path.len > prefix.len + suffix.len &&
        memcmp(path.base + path.len - suffix.len, suffix.base, suffix.len) == 0) {
        tg_iovec_t name = tg_iov(path.base + prefix.len, path.len - prefix.len - suffix.len);
        if (label_name_ok(name)) {
            *label_name = name;
            return route_of_kind(TG_ROUTE_MATCH, 1);
        }
    }
    /* /api/v2/silence/<id>: one more segment; the ID is checked after
     * authentication, and a bad one gets Alertmanager's 422, not a 404 */
    if (tg_iov_has_prefix(path, silence) && path.len > silence.len &&
        memchr(path.base + silence.len, '/', path.len - silence.len) == NULL) {
        *label_name = tg_iov(path.base + silence.len, path.len - silence.len);
        return route_of_kind(TG_ROUTE_AM_SILENCE, 1);
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

/* POST /api/v2/silences: the body is a JSON silence, read once here (the
 * authz stage needs to know whether it updates one) and bounded by
 * alertmanager.maxBodyBytes. Errors in Alertmanager's words. */
static enum tg_verdict read_silence(struct tg_req *r)
{
    struct evbuffer *body = r->in_body;
    size_t blen = body ? evbuffer_get_length(body) : 0;
    const char *ct = evhttp_find_header(r->in_headers, "Content-Type");
    struct tg_am_error err;

    if (ct == NULL || !tg_http_is_json_content_type(tg_iov_str(ct)))
        return tg_req_error(r, 415, "bad_data",
                            "unsupported media type \"%s\", only [application/json] are allowed",
                            ct ? ct : "");
    if (blen > r->cfg->am_max_body_bytes)
        return tg_req_error(r, 413, "bad_data",
                            "silence body of %zu bytes is larger than alertmanager.maxBodyBytes "
                            "(%zu)",
                            blen, r->cfg->am_max_body_bytes);
    r->am_silence = tg_arena_calloc(&r->arena, sizeof(*r->am_silence));
    if (tg_am_silence_parse(&r->arena, blen ? (const char *)evbuffer_pullup(body, -1) : "", blen,
                            r->am_silence, &err) != 0)
        return tg_req_am_error(r, &err);
    return TG_NEXT;
}

static enum tg_verdict route_alertmanager(struct tg_req *r)
{
    if (r->route->kind == TG_ROUTE_AM_SILENCE) { /* checked by the enforce stage */
        r->am_check_id = r->label_name;
        r->label_name = TG_IOV_NULL;
    }
    if (r->route->kind == TG_ROUTE_AM_SILENCES && r->method == TG_M_POST)
        return read_silence(r);
    return TG_NEXT;
}

/* Alertmanager's words for a method a path does not take. */
static enum tg_verdict method_not_allowed(struct tg_req *r)
{
    unsigned m = r->route->methods;
    const char *allow = m == (TG_M_GET | TG_M_POST)     ? "GET, POST"
                        : m == (TG_M_GET | TG_M_DELETE) ? "GET, DELETE"
                                                        : "GET";
    const char *name = r->method == TG_M_DELETE ? "method DELETE"
                       : r->method == TG_M_POST ? "method POST"
                       : r->method == TG_M_GET  ? "method GET"
                                                : "this method";

    tg_req_add_header(r, "Allow", allow);
    if (r->api == TG_API_ALERTMANAGER)
        return tg_req_error(r, 405, "bad_data", "%s is not allowed, but [%s] are", name, allow);
    return tg_req_error(r, 405, "bad_data", "method not allowed");
}

enum tg_verdict tg_stage_route(struct tg_req *r)
{
    const char *uri = r->uri;
    const char *q = strchr(uri, '?');
    tg_iovec_t path = tg_iov(uri, q ? (size_t)(q - uri) : strlen(uri));
    tg_iovec_t query = q ? tg_iov_str(q + 1) : TG_IOV_NULL;

    if (tg_iov_has_prefix(path, am_prefix) || tg_iov_eq_str(path, "/api/v2"))
        r->api = TG_API_ALERTMANAGER;
    if (!tg_http_path_is_canonical(path))
        return tg_req_error(r, 400, "bad_data", "non-canonical request path");
    r->path = tg_arena_iovdup(&r->arena, path);
    r->route = tg_route_find(r->path, &r->label_name);
    if (r->route == NULL || (r->route->not_served & r->method))
        return tg_req_error(r, 404, "not_found", "%s%.*s is not served by tenantgate",
                            r->route ? "this method on " : "", TG_IOV_FMT(r->path));
    if (!(r->route->methods & r->method))
        return method_not_allowed(r);
    /* the Alertmanager API to --alertmanager-upstream when there is one,
     * everything else (and it, without one) to --upstream */
    r->upstream = r->api == TG_API_ALERTMANAGER && r->srv->am_upstream != NULL ? r->srv->am_upstream
                                                                               : r->srv->upstream;
    if (r->api == TG_API_ALERTMANAGER) {
        tg_params_init(&r->params, &r->arena);
        if (tg_params_parse(&r->arena, query, 0, &r->params, NULL) != 0)
            return tg_req_error(r, 400, "bad_data", "invalid query string");
        return route_alertmanager(r);
    }
    return read_params(r, query);
}
