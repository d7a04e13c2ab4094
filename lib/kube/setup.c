/* One-call creation of the Kubernetes client + decision cache for the server. */
#include "tenantgate/authcache.h"

#include <stdio.h>

#include "tenantgate/log.h"

int tg_kube_auth_new(struct event_base *base, const struct tg_config *cfg,
                     struct tg_kube_client **kc, struct tg_authcache **cache, char *err,
                     size_t errlen)
{
    struct tg_kube_target t;
    struct tg_kube_opts ko;
    struct tg_authcache_opts co;
    struct tg_authcache_backend be;
    int rc;

    *kc = NULL;
    *cache = NULL;
    rc = tg_kube_target_from_config(cfg, &t, err, errlen);
    if (rc != 0)
        return rc;
    tg_kube_opts_init(&ko, cfg);
    *kc = tg_kube_client_new(base, &t, &ko, err, errlen);
    if (*kc)
        tg_info("kube: API server %s:%u (%s)", t.host, t.port, t.source ? t.source : "");
    tg_kube_target_free(&t);
    if (!*kc)
        return -1;
    tg_authcache_opts_init(&co, cfg);
    tg_authcache_kube_backend(&be, *kc);
    *cache = tg_authcache_new(&be, &co);
    if (!*cache) {
        snprintf(err, errlen, "decision cache: invalid options");
        tg_kube_client_free(*kc);
        *kc = NULL;
        return -1;
    }
    return 0;
}

void tg_kube_auth_free(struct tg_kube_client *kc, struct tg_authcache *cache)
{
    tg_authcache_free(cache);
    tg_kube_client_free(kc);
}
