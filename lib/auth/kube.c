/*
 * The Kubernetes half of authn and authz: ask the decision cache (which asks
 * the API server on a miss, coalescing identical questions) and turn its
 * answers into verdicts. Bad credentials are 401, a denied namespace 403, an
 * API server we cannot reach 503: fail closed, never open.
 */
#include "tenantgate/kubeauth.h"

#include <event2/http.h>

#include "tenantgate/authcache.h"
#include "tenantgate/log.h"
#include "tenantgate/server.h"

struct authn_wait {
    struct tg_req *r;
    struct tg_pending *pending;
};

static enum tg_verdict authn_verdict(struct tg_req *r, const struct tg_authn_result *res)
{
    switch (res->res) {
    case TG_KUBE_OK:
        r->user = res->user;
        r->authenticated = 1;
        return TG_NEXT;
    case TG_KUBE_DENIED:
        /* same challenge as the static-token 401 (RFC 6750 requires one) */
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "WWW-Authenticate",
                          "Bearer realm=\"tenantgate\"");
        return tg_req_error(r, 401, "unauthorized", "invalid token%s%s", res->reason ? ": " : "",
                            res->reason ? res->reason : "");
    default:
        tg_warn("req %llu: TokenReview failed: %s", (unsigned long long)r->id,
                res->reason ? res->reason : "unknown error");
        return tg_req_error(r, 503, "unavailable", "cannot verify the token now: %s",
                            res->reason ? res->reason : "Kubernetes API unavailable");
    }
}

static void on_authn(void *arg, const struct tg_authn_result *res)
{
    struct authn_wait *w = arg;
    w->pending = NULL;
    tg_req_resume(w->r, authn_verdict(w->r, res) == TG_NEXT ? TG_NEXT : TG_DONE);
}

static void cancel_authn(struct tg_req *r, void *arg)
{
    struct authn_wait *w = arg;
    if (w->pending)
        tg_pending_cancel(w->pending);
    w->pending = NULL;
}

enum tg_verdict tg_kubeauth_authenticate(struct tg_req *r)
{
    struct authn_wait *w = tg_arena_calloc(&r->arena, sizeof(*w));
    struct tg_authn_result res;

    w->r = r;
    if (tg_authcache_authenticate(r->srv->authcache, r->token, &r->arena, &res, on_authn, w,
                                  &w->pending) == TG_AC_DONE)
        return authn_verdict(r, &res);
    tg_req_on_cancel(r, cancel_authn, w);
    return TG_WAIT;
}

/* All tenant values of one request are checked at once; the first denial or
 * error decides, and the other checks are dropped. */
struct authz_wait {
    struct tg_req *r;
    size_t n, remaining;
    struct tg_pending **pending;
    const struct tg_authz_attrs *attrs;
    size_t decided_by;         /* index of the deny/error, when there is one */
    enum tg_kube_result worst; /* OK, then DENIED/ERROR once one arrives */
    const char *reason;
};

static void cancel_rest(struct authz_wait *w)
{
    size_t i;
    for (i = 0; i < w->n; i++)
        if (w->pending[i]) {
            tg_pending_cancel(w->pending[i]);
            w->pending[i] = NULL;
        }
}

static void cancel_authz(struct tg_req *r, void *arg)
{
    cancel_rest(arg);
}

static void record(struct authz_wait *w, size_t i, const struct tg_authz_result *res)
{
    if (res->res == TG_KUBE_OK || w->worst != TG_KUBE_OK)
        return;
    w->worst = res->res;
    w->decided_by = i;
    w->reason = res->reason;
}

static enum tg_verdict authz_verdict(struct authz_wait *w)
{
    struct tg_req *r = w->r;
    const struct tg_authz_attrs *a = &w->attrs[w->decided_by];

    if (w->worst == TG_KUBE_OK)
        return TG_NEXT;
    if (w->worst == TG_KUBE_DENIED)
        return tg_req_error(
            r, 403, "forbidden", "user %.*s may not %.*s %.*s%s%.*s in namespace %.*s%s%s",
            TG_IOV_FMT(r->user.name), TG_IOV_FMT(a->verb), TG_IOV_FMT(a->resource),
            a->subresource.len ? "/" : "", TG_IOV_FMT(a->subresource), TG_IOV_FMT(a->namespace_),
            w->reason && *w->reason ? ": " : "", w->reason ? w->reason : "");
    tg_warn("req %llu: SubjectAccessReview failed: %s", (unsigned long long)r->id,
            w->reason ? w->reason : "unknown error");
    return tg_req_error(r, 503, "unavailable", "cannot check access now: %s",
                        w->reason ? w->reason : "Kubernetes API unavailable");
}

static void on_authz(void *arg, const struct tg_authz_result *res);

struct authz_slot {
    struct authz_wait *w;
    size_t i;
};

static void on_authz(void *arg, const struct tg_authz_result *res)
{
    struct authz_slot *s = arg;
    struct authz_wait *w = s->w;

    w->pending[s->i] = NULL;
    w->remaining--;
    record(w, s->i, res);
    if (w->worst != TG_KUBE_OK)
        cancel_rest(w);
    else if (w->remaining > 0)
        return;
    tg_req_resume(w->r, authz_verdict(w) == TG_NEXT ? TG_NEXT : TG_DONE);
}

enum tg_verdict tg_kubeauth_authorize(struct tg_req *r, const struct tg_authz_attrs *attrs,
                                      size_t n)
{
    struct authz_wait *w = tg_arena_calloc(&r->arena, sizeof(*w));
    struct authz_slot *slots = tg_arena_calloc(&r->arena, n * sizeof(*slots));
    size_t i;

    w->r = r;
    w->n = n;
    w->attrs = attrs;
    w->worst = TG_KUBE_OK;
    w->pending = tg_arena_calloc(&r->arena, n * sizeof(*w->pending));
    for (i = 0; i < n && w->worst == TG_KUBE_OK; i++) {
        struct tg_authz_result res;
        slots[i].w = w;
        slots[i].i = i;
        if (tg_authcache_authorize(r->srv->authcache, &r->user, &attrs[i], &r->arena, &res,
                                   on_authz, &slots[i], &w->pending[i]) == TG_AC_DONE)
            record(w, i, &res);
        else
            w->remaining++;
    }
    if (w->worst != TG_KUBE_OK)
        cancel_rest(w);
    if (w->worst != TG_KUBE_OK || w->remaining == 0)
        return authz_verdict(w);
    tg_req_on_cancel(r, cancel_authz, w);
    return TG_WAIT;
}
