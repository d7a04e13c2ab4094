/* An upstream target (--upstream, --alertmanager-upstream) and its client pool; see
 * include/tenantgate/upstream.h. */
#include "tenantgate/core.h"
#include "tenantgate/upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "tenantgate/tls.h"
#include "tenantgate/upstream_client.h"

/* A TCP connect (and TLS handshake) that takes longer than this fails with
 * 504 rather than holding the request for the whole --upstream-timeout. */
#define CONNECT_TIMEOUT_MS (10 * 1000)

struct tg_upstream {
    SSL_CTX *ssl_ctx; /* https upstream only */
    char *host_header;
    char *prefix;
    struct tg_up_pool *pool;
};

/* The URL was validated when the config was loaded. */
static void set_target(struct tg_upstream *u, const struct tg_url *url)
{
    size_t plen = strlen(url->path);

    u->host_header =
        tg_asprintf(strchr(url->host, ':') ? "[%s]:%d" : "%s:%d", url->host, url->port);
    while (plen > 0 && url->path[plen - 1] == '/')
        plen--;
    u->prefix = tg_strndup(url->path, plen);
}

/* One target: its URL and TLS files; pool size and timeout from cfg. */
static struct tg_upstream *upstream_new(struct event_base *base, struct evdns_base *dns,
                                        const struct tg_config *cfg, const struct tg_url *url,
                                        const char *ca, const char *cert, const char *key,
                                        char *err, size_t errlen)
{
    struct tg_upstream *u = tg_calloc(1, sizeof(*u));
    struct tg_up_target t = {0};
    struct tg_up_opts o = {0};

    set_target(u, url);
    if (url->https) {
        u->ssl_ctx = tg_tls_client_ctx_new(ca, cert, key, err, errlen);
        if (u->ssl_ctx == NULL) {
            tg_upstream_free(u);
            return NULL;
        }
    }
    t.host = url->host;
    t.port = url->port;
    t.ssl_ctx = u->ssl_ctx;
    o.max_idle = cfg->upstream_max_idle > 0 ? cfg->upstream_max_idle : 64;
    o.timeout_ms = cfg->upstream_timeout_ms;
    o.connect_timeout_ms =
        cfg->upstream_timeout_ms > 0 && cfg->upstream_timeout_ms < CONNECT_TIMEOUT_MS
            ? cfg->upstream_timeout_ms
            : CONNECT_TIMEOUT_MS;
    u->pool = tg_up_pool_new(base, dns, &t, &o);
    return u;
}

struct tg_upstream *tg_upstream_new(struct event_base *base, struct evdns_base *dns,
                                    const struct tg_config *cfg, char *err, size_t errlen)
{
    return upstream_new(base, dns, cfg, &cfg->upstream_url, cfg->upstream_ca_file,
                        cfg->upstream_client_cert_file, cfg->upstream_client_key_file, err, errlen);
}

struct tg_upstream *tg_upstream_new_alertmanager(struct event_base *base, struct evdns_base *dns,
                                                 const struct tg_config *cfg, char *err,
                                                 size_t errlen)
{
    return upstream_new(base, dns, cfg, &cfg->am_upstream_url, cfg->am_ca_file,
                        cfg->am_client_cert_file, cfg->am_client_key_file, err, errlen);
}

void tg_upstream_free(struct tg_upstream *u)
{
    if (u == NULL)
        return;
    tg_up_pool_free(u->pool);
    SSL_CTX_free(u->ssl_ctx);
    free(u->host_header);
    free(u->prefix);
    free(u);
}

tg_iovec_t tg_upstream_host_header(const struct tg_upstream *u)
{
    return tg_iov_str(u->host_header);
}

tg_iovec_t tg_upstream_prefix(const struct tg_upstream *u)
{
    return tg_iov_str(u->prefix);
}

struct tg_up_pool *tg_upstream_pool(const struct tg_upstream *u)
{
    return u->pool;
}
