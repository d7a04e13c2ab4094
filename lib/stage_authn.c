/*
 * Stage 2, authn: who is calling. Providers, in this order:
 *   1. a verified TLS client certificate (--client-ca-file): user CN, groups O;
 *   2. a bearer token (or the password of HTTP Basic auth, for clients that
 *      cannot send a bearer header) found in --token-auth-file;
 *   3. the same token through a Kubernetes TokenReview (when configured).
 * No credential, or one no provider accepts, is 401.
 */
#include <strings.h>

#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "tenantgate/conn.h"
#include "tenantgate/kubeauth.h"
#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/server-t.h"
#include "tenantgate/stages.h"
#include "tenantgate/tls.h"

/* Authorization is a singleton field (RFC 9110 11.6.2): with two, which
 * credential speaks for the request would be a guess. */
static int several_authorization(const struct evkeyvalq *h)
{
    const struct evkeyval *kv;
    int n = 0;
    TAILQ_FOREACH(kv, h, next)
    {
        if (strcasecmp(kv->key, "Authorization") == 0 && ++n > 1)
            return 1;
    }
    return 0;
}

static enum tg_verdict unauthorized(struct tg_req *r, const char *why)
{
    tg_req_add_header(r, "WWW-Authenticate", "Bearer realm=\"tenantgate\"");
    return tg_req_error(r, 401, "unauthorized", "%s", why);
}

enum tg_verdict tg_stage_authn(struct tg_req *r)
{
    const char *h = evhttp_find_header(r->in_headers, "Authorization");
    const struct tg_static_token *t;

    if (several_authorization(r->in_headers))
        return tg_req_error(r, 400, "bad_data",
                            "more than one Authorization header: send one credential");
    if (tg_tls_peer_user(tg_conn_client_ssl(r), &r->arena, &r->user) == 0) {
        r->authenticated = 1;
        return TG_NEXT;
    }
    if (h == NULL)
        return unauthorized(r, "no credentials: send a bearer token");
    if (tg_http_parse_authorization(&r->arena, tg_iov_str(h), &r->token) != 0)
        return unauthorized(r, "malformed Authorization header");
    t = tg_auth_token_lookup(r->cfg, r->token);
    if (t != NULL) {
        tg_auth_user_from_token(&r->user, t, &r->arena);
        r->authenticated = 1;
        return TG_NEXT;
    }
    if (r->srv->kube != NULL)
        return tg_kubeauth_authenticate(r);
    return unauthorized(r, "invalid token");
}
