/*
 * Stage 3, authz: which tenants does the request name, and may the caller
 * read each of them. The tenant values are read once, here, from one place
 * (the tenant query parameter in URL and body, or the tenant header, or the
 * fixed --label-value list, or the caller's service-account namespace) and
 * the very same set is what the enforce stage injects: no second parser can
 * disagree with the one that was authorized.
 *
 * Every value must be allowed: static rules first (no API call), then a
 * SubjectAccessReview per value when Kubernetes is configured. Reads are
 * verb get; Alertmanager writes are create / update / delete. Denials are
 * 403 naming the namespace, never 400 (Grafana retries a 400 POST as GET).
 */
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "tenantgate/core.h"
#include "tenantgate/alertmanager.h"
#include "tenantgate/kubeauth.h"
#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/server.h"
#include "tenantgate/stages.h"

#define MAX_TENANTS 256

static int add_tenant(struct tg_req *r, tg_iovec_t v)
{
    size_t i;
    for (i = 0; i < r->n_tenants; i++)
        if (tg_iov_eq(r->tenants[i], v))
            return 0;
    if (r->n_tenants == MAX_TENANTS)
        return -1;
    r->tenants[r->n_tenants++] = v;
    return 0;
}

/* Fills r->tenants; answers 400 itself on bad input. */
static enum tg_verdict collect_tenants(struct tg_req *r)
{
    const struct tg_config *cfg = r->cfg;
    size_t i;

    r->tenants = tg_arena_alloc(&r->arena, MAX_TENANTS * sizeof(*r->tenants));
    if (cfg->n_label_values > 0) {
        for (i = 0; i < cfg->n_label_values; i++)
            add_tenant(r, tg_iov_str(cfg->label_values[i]));
        return TG_NEXT;
    }
    if (cfg->header_name) {
        struct evkeyval *h;
        TAILQ_FOREACH(h, r->in_headers, next)
        {
            if (strcasecmp(h->key, cfg->header_name) != 0)
                continue;
            if (h->value[0] == '\0' || add_tenant(r, tg_iov_str(h->value)) != 0)
                return tg_req_error(r, 400, "bad_data", "bad tenant header %s", cfg->header_name);
        }
    } else {
        for (i = 0; i < r->params.n; i++) {
            const struct tg_param *p = &r->params.items[i];
            if (!tg_iov_eq_str(p->name, cfg->query_param))
                continue;
            if (p->value.len == 0)
                return tg_req_error(r, 400, "bad_data", "empty %s parameter", cfg->query_param);
            if (add_tenant(r, p->value) != 0)
                return tg_req_error(r, 400, "bad_data", "too many %s values", cfg->query_param);
        }
    }
    if (r->n_tenants == 0 && cfg->sa_namespace_default) {
        tg_iovec_t ns;
        if (tg_auth_sa_namespace(&r->user, &ns))
            add_tenant(r, ns);
    }
    if (r->n_tenants == 0)
        return tg_req_error(r, 400, "bad_data", "missing tenant: set the %s %s",
                            cfg->header_name ? cfg->header_name : cfg->query_param,
                            cfg->header_name ? "header" : "parameter");
    return TG_NEXT;
}

static tg_iovec_t verb_for(const struct tg_req *r)
{
    /* Alertmanager writes change state: they need the write verb whatever
     * --verb-mode says, so a tenant that may only read cannot silence */
    if (r->api == TG_API_ALERTMANAGER && r->method == TG_M_DELETE)
        return TG_IOV_LIT("delete");
    if (r->api == TG_API_ALERTMANAGER && r->method == TG_M_POST)
        return r->am_silence && r->am_silence->has_id ? TG_IOV_LIT("update") : TG_IOV_LIT("create");
    if (r->cfg->verb_mode == TG_VERB_HTTP && r->method == TG_M_POST)
        return TG_IOV_LIT("create"); /* kube-rbac-proxy's mapping, on request */
    return TG_IOV_LIT("get");
}

/* The attributes one tenant value is checked with: the Alertmanager API's
 * own (alertmanager.resourceAttributes, e.g. prometheusrules in
 * monitoring.coreos.com) when configured, else the common ones. */
static void attrs_for(struct tg_req *r, tg_iovec_t value, struct tg_authz_attrs *a)
{
    const struct tg_config *c = r->cfg;

    if (r->api == TG_API_ALERTMANAGER && c->has_am_resource_attributes)
        tg_auth_attrs_expand(&r->arena, &c->am_resource_attributes, r->verb, r->path, value, a);
    else
        tg_auth_attrs_for_value(&r->arena, c, r->verb, r->path, value, a);
}

enum tg_verdict tg_stage_authz(struct tg_req *r)
{
    enum tg_verdict v;
    struct tg_authz_attrs *ask; /* what only the API server can decide */
    size_t i, n_ask = 0;

    TG_CHECK(r->authenticated);
    if (!r->route->needs_tenant)
        return TG_NEXT;
    v = collect_tenants(r);
    if (v != TG_NEXT)
        return v;
    r->verb = verb_for(r);
    ask = tg_arena_alloc(&r->arena, r->n_tenants * sizeof(*ask));
    for (i = 0; i < r->n_tenants; i++) {
        struct tg_authz_attrs *a = &ask[n_ask];
        attrs_for(r, r->tenants[i], a);
        if (tg_auth_static_decide(r->cfg, &r->user, a) == TG_AUTHZ_ALLOW)
            continue;
        if (r->srv->kube == NULL)
            return tg_req_error(r, 403, "forbidden", "user %.*s may not %.*s %s of namespace %.*s",
                                TG_IOV_FMT(r->user.name), TG_IOV_FMT(r->verb),
                                r->api == TG_API_ALERTMANAGER ? "alerts and silences" : "metrics",
                                TG_IOV_FMT(r->tenants[i]));
        n_ask++;
    }
    if (n_ask == 0)
        return TG_NEXT;
    return tg_kubeauth_authorize(r, ask, n_ask);
}
