/*
 * Stage 2, authn: who is calling. Providers, in this order:
 *   1. a verified TLS client certificate (--client-ca-file): user CN, groups O;
 *   2. a bearer token (or the password of HTTP Basic auth, for clients that
 *      cannot send a bearer header) found in --token-auth-file;
 *   3. a JWT whose "iss" is a configured OIDC issuer (lib/auth/oidc.c);
 *   4. any other token through a Kubernetes TokenReview (when configured).
 * No credential, or one no provider accepts, is 401. The token is hashed
 * once: the token file and the OIDC verdict cache both look up its SHA-256.
 */
#include <strings.h>

#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "tenantgate/core.h"
#include "tenantgate/conn.h"
#include "tenantgate/kubeauth.h"
#include "tenantgate/log.h"
#include "tenantgate/oidc.h"
#include "tenantgate/req.h"
#include "tenantgate/server.h"
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

/* After the token file and OIDC: TokenReview, or nobody. */
static enum tg_verdict last_provider(struct tg_req *r)
{
    if (r->srv->kube != NULL)
        return tg_kubeauth_authenticate(r);
    return unauthorized(r, "invalid token");
}

static enum tg_verdict oidc_verdict(struct tg_req *r, enum tg_oidc_result res,
                                    const struct tg_user *user, const char *reason)
{
    if (res == TG_OIDC_OK) {
        r->user = *user;
        r->authenticated = 1;
        return TG_NEXT;
    }
    if (res == TG_OIDC_REFUSED)
        return unauthorized(r, tg_arena_printf(&r->arena, "invalid token: %s", reason));
    return last_provider(r);
}

struct oidc_wait {
    struct tg_req *r;
    struct tg_oidc_wait *w;
};

static void on_oidc(void *arg, enum tg_oidc_result res, const struct tg_user *user,
                    const char *reason)
{
    struct oidc_wait *ow = arg;
    ow->w = NULL;
    tg_req_resume(ow->r, oidc_verdict(ow->r, res, user, reason));
}

static void cancel_oidc(struct tg_req *r, void *arg)
{
    struct oidc_wait *ow = arg;
    tg_oidc_wait_cancel(ow->w);
    ow->w = NULL;
}

static enum tg_verdict oidc_authn(struct tg_req *r, const unsigned char digest[32])
{
    struct oidc_wait *ow = tg_arena_calloc(&r->arena, sizeof(*ow));
    struct tg_user user;
    const char *reason;
    enum tg_oidc_result res;

    ow->r = r;
    res = tg_oidc_authenticate(r->srv->oidc, r->token, digest, &r->arena, &user, &reason, on_oidc,
                               ow, &ow->w);
    if (res != TG_OIDC_PENDING)
        return oidc_verdict(r, res, &user, reason);
    tg_req_on_cancel(r, cancel_oidc, ow);
    return TG_WAIT;
}

enum tg_verdict tg_stage_authn(struct tg_req *r)
{
    const char *h = evhttp_find_header(r->in_headers, "Authorization");
    const struct tg_static_token *t;
    unsigned char digest[32];

    TG_CHECK(r->route != NULL); /* the route stage answered every other path */
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
    if (r->cfg->n_tokens == 0 && r->srv->oidc == NULL)
        return last_provider(r);
    if (tg_auth_sha256(r->srv->sha256, r->token, digest) != 0)
        return tg_req_error(r, 500, "internal", "cannot hash the token");
    t = tg_auth_token_lookup_digest(r->cfg, digest);
    if (t != NULL) {
        tg_auth_user_from_token(&r->user, t, &r->arena);
        r->authenticated = 1;
        return TG_NEXT;
    }
    if (r->srv->oidc != NULL)
        return oidc_authn(r, digest);
    return last_provider(r);
}
