/*
 * libFuzzer target: the HTTP request path as a whole, without sockets.
 *
 * Input: one control byte, then a raw HTTP/1.1 request (request line,
 * header lines, empty line, body). The control byte picks one of the
 * configurations below; the request is split the way evhttp would hand it to
 * us (method, target, header list, body) by a small lenient parser here, and
 * driven through the real stages route -> authn -> authz -> enforce with
 * static tokens and static rules (no Kubernetes, no upstream). The same raw
 * bytes also go through the connection's framing check (lib/http/framing.c)
 * in one piece and byte by byte, which must agree.
 *
 * Properties, for every input:
 *   - no crash, leak or sanitizer report;
 *   - the chain either answers (an error, or a local 200 for format_query /
 *     parse_query) or reaches the upstream stage fully enforced:
 *       * the route exists and the caller is authenticated;
 *       * every tenant value was granted to the caller (checked against this
 *         file's own table, not the library's authorizer);
 *       * the upstream arguments parse; the tenant query parameter is not
 *         among them;
 *       * every forwarded `query` / `match[]` re-parses and each of its
 *         selectors carries the tenant matcher (label="v" or label=~"v1|v2");
 *         routes that do not enforce them forward neither;
 *       * Alertmanager routes: every forwarded `filter` parses, the first is
 *         the tenant matcher (alerts, groups; silences with one value); a
 *         posted silence is rewritten to a body owned by a tenant value with
 *         exactly one matcher on the label; a silence ID to check first is a
 *         UUID; writes are never authorized as `get`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "tenantgate/alertmanager.h"
#include "tenantgate/config.h"
#include "tenantgate/http.h"
#include "tenantgate/log.h"
#include "tenantgate/promql.h"
#include "tenantgate/req.h"
#include "tenantgate/server.h"
#include "tenantgate/stages.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WEIRD "we\"ird\\|x.*"

/* token -> the tenants its user may read (mirrors the static rules below) */
static const struct {
    const char *token;
    const char *tenants[3];
} grants[] = {
    {"alice-token", {"alpha"}},
    {"bob-token", {"beta"}},
    {"carol-token", {"alpha", "beta"}},
    {"dave-token", {"team.a", WEIRD}},
    /* system:serviceaccount:alpha:grafana */
    {"sa-token", {"alpha"}},
    {"mallory-token", {NULL}},
};

static const char tokens_csv[] =
    "alice-token,alice,1,\"devs\"\n"
    "bob-token,bob,2,\"devs\"\n"
    "carol-token,carol,3,\"devs,ops\"\n"
    "dave-token,dave,4,\"\"\n"
    "sa-token,system:serviceaccount:alpha:grafana,5,\"system:serviceaccounts\"\n"
    "mallory-token,mallory,6,\"other\"\n";

static const char rules[] =
    "  static:\n"
    "  - {user: {name: alice}, verb: get, namespace: alpha, resource: services, subresource: "
    "proxy, resourceRequest: true}\n"
    "  - {user: {name: bob}, verb: get, namespace: beta, resource: services, subresource: proxy, "
    "resourceRequest: true}\n"
    "  - {user: {name: carol}, verb: get, namespace: alpha, resource: services, subresource: "
    "proxy, resourceRequest: true}\n"
    "  - {user: {name: carol}, verb: get, namespace: beta, resource: services, subresource: proxy, "
    "resourceRequest: true}\n"
    "  - {user: {name: dave}, verb: get, namespace: team.a, resource: services, subresource: "
    "proxy, resourceRequest: true}\n"
    "  - {user: {name: dave}, verb: get, namespace: '" WEIRD
    "', resource: services, subresource: proxy, resourceRequest: true}\n"
    "  - {user: {name: 'system:serviceaccount:alpha:grafana'}, verb: get, namespace: alpha, "
    "resource: services, subresource: proxy, resourceRequest: true}\n"
    /* any verb: the Alertmanager writes (create, update, delete) */
    "  - {user: {name: carol}, namespace: alpha, resource: services, subresource: proxy, "
    "resourceRequest: true}\n"
    "  - {user: {name: carol}, namespace: beta, resource: services, subresource: proxy, "
    "resourceRequest: true}\n"
    "  - {user: {name: dave}, namespace: '" WEIRD
    "', resource: services, subresource: proxy, resourceRequest: true}\n";

static const char attrs[] = "  resourceAttributes:\n"
                            "    apiVersion: v1\n    resource: services\n    subresource: proxy\n"
                            "    namespace: \"{{ .Value }}\"\n";

#define N_CFG 3
static struct tg_config *cfgs[N_CFG];
static struct tg_server srv; /* no Kubernetes, no upstream: only what the stages read */

static void write_file(const char *path, const char *a, const char *b, const char *c)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%s%s%s", a, b ? b : "", c ? c : "") < 0 || fclose(f) != 0)
        abort();
}

static struct tg_config *load(const char *dir, const char *name, const char *rewrite,
                              const char *extra1, const char *extra2)
{
    char yaml[512], tokens[512], cfgflag[600], tokflag[600], err[1024];
    char *argv[9];
    int argc = 0;
    char head[256];
    struct tg_config *c;

    snprintf(yaml, sizeof(yaml), "%s/%s.yaml", dir, name);
    snprintf(tokens, sizeof(tokens), "%s/tokens.csv", dir);
    snprintf(head, sizeof(head), "authorization:\n  rewrites:\n%s", rewrite);
    write_file(yaml, head, attrs, rules);
    snprintf(cfgflag, sizeof(cfgflag), "--config-file=%s", yaml);
    snprintf(tokflag, sizeof(tokflag), "--token-auth-file=%s", tokens);
    argv[argc++] = "tenantgate";
    argv[argc++] = "--insecure-listen-address=127.0.0.1:1";
    argv[argc++] = "--upstream=http://127.0.0.1:2/prefix/";
    argv[argc++] = cfgflag;
    argv[argc++] = tokflag;
    argv[argc++] = "--access-log=false";
    if (extra1)
        argv[argc++] = (char *)extra1;
    if (extra2)
        argv[argc++] = (char *)extra2;
    argv[argc] = NULL;
    c = tg_config_load(argc, argv, err, sizeof(err), NULL);
    if (c == NULL) {
        fprintf(stderr, "fuzz_request: config %s: %s\n", name, err);
        abort();
    }
    c->access_log = 0;
    return c;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/fuzz_request.XXXXXX";
    char path[600];

    tg_log_set_level(TG_LOG_ERROR);
    /* the server the chain sees: the product's stages up to the upstream,
     * which the fuzzer replaces by its check of what would be sent */
    srv.stages = tg_chain;
    srv.n_stages = TG_STAGE_UPSTREAM;
    srv.metrics = tg_server_metrics_new();
    srv.sha256 = tg_sha256_new();
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof(path), "%s/tokens.csv", dir);
    write_file(path, tokens_csv, NULL, NULL);
    cfgs[0] = load(dir, "param", "    byQueryParameter:\n      name: namespace\n", NULL, NULL);
    cfgs[1] = load(dir, "header", "    byHttpHeader:\n      name: X-Tenant\n", NULL, NULL);
    cfgs[2] = load(dir, "replace", "    byQueryParameter:\n      name: tenant\n", "--label=tenant",
                   "--error-on-replace");
    /* the files are read: nothing on disk is needed any more */
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    if (system(path) != 0)
        abort();
    return 0;
}

static void __attribute__((noreturn))
fail(const char *what, const struct tg_req *r, tg_iovec_t detail)
{
    fprintf(stderr, "PROPERTY VIOLATED: %s\n  uri: %s\n  upstream args: %.*s\n  detail: %.*s\n",
            what, r->uri ? r->uri : "", (int)r->up_args.len, r->up_args.base ? r->up_args.base : "",
            TG_IOV_FMT(detail));
    abort();
}

/* ---- the raw request, split as evhttp would ---- */

struct raw_req {
    char *method, *target;
    struct evkeyvalq headers;
    struct evbuffer *body;
};

/* Lenient: lines end with LF (CR before it dropped), a header is name ':'
 * value with spaces trimmed; what evhttp would refuse is simply skipped. */
static int split_request(const char *p, size_t n, struct raw_req *rq)
{
    const char *end = p + n, *nl, *sp1, *sp2;
    size_t len;

    TAILQ_INIT(&rq->headers);
    rq->body = evbuffer_new();
    nl = memchr(p, '\n', n);
    len = nl ? (size_t)(nl - p) : n;
    if (len > 0 && p[len - 1] == '\r')
        len--;
    sp1 = memchr(p, ' ', len);
    if (sp1 == NULL)
        return -1;
    sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p));
    if (sp2 == NULL)
        sp2 = p + len;
    rq->method = strndup(p, (size_t)(sp1 - p));
    rq->target = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    if (memchr(p, '\0', len)) /* evhttp's strings end at the first NUL */
        return -1;
    p = nl ? nl + 1 : end;
    while (p < end) {
        const char *colon;
        char *name, *value, *v, *e;
        nl = memchr(p, '\n', (size_t)(end - p));
        len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len == 0) {
            p = nl ? nl + 1 : end;
            break;
        }
        colon = memchr(p, ':', len);
        if (colon != NULL && colon > p) {
            name = strndup(p, (size_t)(colon - p));
            value = strndup(colon + 1, len - (size_t)(colon + 1 - p));
            for (v = value; *v == ' ' || *v == '\t'; v++)
                ;
            for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
                ;
            *e = '\0';
            evhttp_add_header(&rq->headers, name, v); /* refuses CR/LF itself */
            free(name);
            free(value);
        }
        p = nl ? nl + 1 : end;
    }
    if (p < end)
        evbuffer_add(rq->body, p, (size_t)(end - p));
    return 0;
}

static void free_request(struct raw_req *rq)
{
    free(rq->method);
    free(rq->target);
    evhttp_clear_headers(&rq->headers);
    if (rq->body)
        evbuffer_free(rq->body);
}

/* ---- property checks ---- */

static int granted(const struct tg_req *r, tg_iovec_t tenant)
{
    size_t i, j;
    for (i = 0; i < sizeof(grants) / sizeof(grants[0]); i++) {
        if (!tg_iov_eq_str(r->token, grants[i].token))
            continue;
        for (j = 0; j < 3 && grants[i].tenants[j]; j++)
            if (tg_iov_eq_str(tenant, grants[i].tenants[j]))
                return 1;
        return 0;
    }
    return 0;
}

struct want {
    tg_iovec_t label, value;
    enum tg_promql_match op;
};

/* 1 if every selector under n carries the wanted matcher. */
static int carries(const struct tg_promql_node *n, const struct want *w)
{
    const struct tg_promql_node *a;
    const struct tg_promql_matcher *m;

    switch (n->kind) {
    case TG_PROMQL_VECTOR:
        for (m = n->u.vs.matchers; m != NULL; m = m->next)
            if (tg_iov_eq(m->name, w->label) && m->op == w->op && tg_iov_eq(m->value, w->value))
                return 1;
        return 0;
    case TG_PROMQL_MATRIX: return carries(n->u.matrix.vs, w);
    case TG_PROMQL_SUBQUERY: return carries(n->u.subquery.expr, w);
    case TG_PROMQL_PAREN: return carries(n->u.paren.expr, w);
    case TG_PROMQL_UNARY: return carries(n->u.unary.expr, w);
    case TG_PROMQL_BINARY: return carries(n->u.binary.lhs, w) && carries(n->u.binary.rhs, w);
    case TG_PROMQL_AGGREGATE:
        return (n->u.agg.param == NULL || carries(n->u.agg.param, w)) && carries(n->u.agg.expr, w);
    case TG_PROMQL_CALL:
        for (a = n->u.call.args; a != NULL; a = a->next)
            if (!carries(a, w))
                return 0;
        return 1;
    default: return 1;
    }
}

/* The tenant matcher the enforcer must have injected, from its own selector. */
static void wanted_matcher(struct tg_req *r, struct want *w)
{
    struct tg_promql_enforce e = {0};
    struct tg_promql_error err;
    struct tg_promql_node *sel;
    tg_iovec_t text;

    e.label = tg_iov_str(r->cfg->label);
    e.values = r->tenants;
    e.n_values = r->n_tenants;
    if (tg_promql_tenant_selector(&r->arena, &e, &text, &err) != 0 ||
        tg_promql_parse(&r->arena, text, NULL, &sel, &err) != 0 || sel->kind != TG_PROMQL_VECTOR ||
        sel->u.vs.matchers == NULL)
        fail("cannot build the tenant selector", r, tg_iov_str(err.msg));
    w->label = sel->u.vs.matchers->name;
    w->value = sel->u.vs.matchers->value;
    w->op = sel->u.vs.matchers->op;
}

static void check_alertmanager(struct tg_req *r, const struct tg_params *up)
{
    struct tg_promql_enforce e = {tg_iov_str(r->cfg->label), r->tenants, r->n_tenants, 0, 0};
    enum tg_route_kind kind = r->route->kind;
    struct tg_promql_matcher m;
    struct tg_am_error err;
    struct tg_am_silence s;
    tg_iovec_t owner;
    size_t i, n_filter = 0, n_label = 0;

    if (r->method != TG_M_GET && tg_iov_eq_str(r->verb, "get"))
        fail("an Alertmanager write authorized as get", r, r->verb);
    for (i = 0; i < up->n; i++) {
        if (!tg_iov_eq_str(up->items[i].name, "filter"))
            continue;
        if (tg_am_matcher_parse(&r->arena, up->items[i].value, &m, &err) != 0)
            fail("forwarded filter does not parse", r, up->items[i].value);
        if (n_filter++ == 0 && (kind != TG_ROUTE_AM_SILENCES || r->n_tenants == 1) &&
            (!tg_iov_eq(m.name, e.label) ||
             m.op != (r->n_tenants == 1 ? TG_PROMQL_EQ : TG_PROMQL_RE)))
            fail("first filter is not the tenant matcher", r, up->items[i].value);
    }
    if ((kind == TG_ROUTE_AM_ALERTS || kind == TG_ROUTE_AM_GROUPS) && n_filter == 0)
        fail("alerts forwarded without the tenant filter", r, TG_IOV_NULL);
    if (kind == TG_ROUTE_AM_SILENCE && !tg_am_silence_id_ok(r->am_check_id))
        fail("silence ID not checked", r, r->am_check_id);
    if (kind != TG_ROUTE_AM_SILENCES || r->method != TG_M_POST)
        return;
    if (tg_am_silence_parse(&r->arena, r->up_body.base, r->up_body.len, &s, &err) != 0)
        fail("forwarded silence does not parse", r, r->up_body);
    if (!tg_am_silence_owner(&s, &e, &owner))
        fail("forwarded silence not owned by a tenant value", r, r->up_body);
    for (i = 0; i < s.n_matchers; i++)
        n_label += tg_iov_eq(s.matchers[i].name, e.label);
    if (n_label != 1)
        fail("forwarded silence with other matchers on the label", r, r->up_body);
    if (r->am_silence->has_id != (r->am_check_id.len > 0))
        fail("an update forwarded without the ownership check", r, r->up_body);
}

static void check_enforced(struct tg_req *r)
{
    const struct tg_config *cfg = r->cfg;
    struct tg_params up = {0};
    struct tg_promql_opts o = {0};
    struct want w;
    size_t i, n_query = 0, n_match = 0;
    enum tg_route_kind kind;

    if (r->route == NULL || !r->authenticated)
        fail("forwarded without a route or unauthenticated", r, TG_IOV_NULL);
    kind = r->route->kind;
    if (kind == TG_ROUTE_LOCAL)
        fail("local route forwarded", r, TG_IOV_NULL);
    if (r->n_tenants == 0)
        fail("forwarded without a tenant", r, TG_IOV_NULL);
    for (i = 0; i < r->n_tenants; i++)
        if (!granted(r, r->tenants[i]))
            fail("tenant not granted to the caller", r, r->tenants[i]);
    if (tg_params_parse(&r->arena, tg_sb_iov(&r->up_args), 0, &up, NULL) != 0)
        fail("upstream arguments do not parse", r, TG_IOV_NULL);
    wanted_matcher(r, &w);
    o.duration_expr = cfg->promql_duration_expr;
    o.experimental_functions = cfg->promql_experimental_functions;
    o.extended_range = cfg->promql_extended_range_selectors;
    for (i = 0; i < up.n; i++) {
        const struct tg_param *p = &up.items[i];
        struct tg_promql_node *root;
        struct tg_promql_error err;
        int is_query = tg_iov_eq_str(p->name, "query");

        if (!cfg->header_name && tg_iov_eq_str(p->name, cfg->query_param))
            fail("tenant parameter forwarded", r, p->name);
        if (!is_query && !tg_iov_eq_str(p->name, "match[]"))
            continue;
        if (is_query ? kind != TG_ROUTE_QUERY : kind != TG_ROUTE_MATCH && kind != TG_ROUTE_FEDERATE)
            fail("unenforced query/match[] forwarded", r, p->value);
        n_query += is_query;
        n_match += !is_query;
        if (tg_promql_parse(&r->arena, p->value, &o, &root, &err) != 0)
            fail("forwarded expression does not re-parse", r, p->value);
        if (!carries(root, &w))
            fail("selector without the tenant matcher", r, p->value);
    }
    if (kind == TG_ROUTE_QUERY && n_query != 1)
        fail("query route without exactly one query", r, TG_IOV_NULL);
    if ((kind == TG_ROUTE_MATCH || kind == TG_ROUTE_FEDERATE) && n_match == 0)
        fail("match route without match[]", r, TG_IOV_NULL);
    if (kind == TG_ROUTE_METADATA && r->tenant_selector.len == 0)
        fail("metadata without the tenant selector", r, TG_IOV_NULL);
    if (r->api == TG_API_ALERTMANAGER)
        check_alertmanager(r, &up);
}

static void check_framing(const uint8_t *data, size_t size)
{
    struct tg_http_framing whole, bytes;
    int rw, rb = 0;
    size_t i;

    tg_http_framing_init(&whole, 4096, 1u << 20);
    tg_http_framing_init(&bytes, 4096, 1u << 20);
    rw = tg_http_framing_feed(&whole, (const char *)data, size);
    for (i = 0; i < size && rb == 0; i++)
        rb = tg_http_framing_feed(&bytes, (const char *)data + i, 1);
    if (rw != rb) {
        fprintf(stderr, "framing: %d in one piece, %d byte by byte (%s / %s)\n", rw, rb,
                whole.error ? whole.error : "", bytes.error ? bytes.error : "");
        abort();
    }
    if (rw != 0 && (rw < 400 || rw > 599 || whole.error == NULL))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raw_req rq;
    struct tg_req_in in;
    struct tg_req *r;

    if (size < 1)
        return 0;
    check_framing(data + 1, size - 1);
    memset(&rq, 0, sizeof(rq));
    if (split_request((const char *)data + 1, size - 1, &rq) != 0) {
        free_request(&rq);
        return 0;
    }
    srv.cfg = cfgs[data[0] % N_CFG];
    in.method = strcmp(rq.method, "GET") == 0      ? TG_M_GET
                : strcmp(rq.method, "POST") == 0   ? TG_M_POST
                : strcmp(rq.method, "DELETE") == 0 ? TG_M_DELETE
                                                   : 0;
    in.uri = rq.target;
    in.headers = &rq.headers;
    in.body = rq.body;
    r = tg_req_new(&srv, &in);
    tg_req_run(r);    /* the product's chain, cut before the upstream stage */
    if (r->suspended) /* only Kubernetes or the upstream suspend a request */
        fail("a stage suspended without Kubernetes", r, TG_IOV_NULL);
    if (r->stage == TG_STAGE_UPSTREAM)
        check_enforced(r);
    else if (r->status == 0 || (r->status != 200 && r->status < 400) ||
             (r->status == 200 && (r->route == NULL || r->route->kind != TG_ROUTE_LOCAL)))
        fail("answered without an error status", r, TG_IOV_NULL);
    tg_req_end(r);
    free_request(&rq);
    return 0;
}
