/*
 * An upstream (Prometheus / Thanos Querier from --upstream, Alertmanager
 * from --alertmanager-upstream): its target and the keep-alive pool of our
 * HTTP/1.1 client toward it (upstream_client.h, lib/upstream/).
 *
 * Ownership: the server owns struct tg_upstream; it owns the pool, the TLS
 * context and the strings below, which live as long as it does.
 */
#ifndef TENANTGATE_UPSTREAM_H
#define TENANTGATE_UPSTREAM_H

#include <stddef.h>
#include "tenantgate/config.h"
#include "tenantgate/iovec.h"

struct event_base;
struct evdns_base;
struct tg_upstream;
struct tg_up_pool;

struct tg_upstream *tg_upstream_new(struct event_base *base, struct evdns_base *dns,
                                    const struct tg_config *cfg, char *err, size_t errlen);
/* The same toward --alertmanager-upstream (cfg->am_upstream must be set). */
struct tg_upstream *tg_upstream_new_alertmanager(struct event_base *base, struct evdns_base *dns,
                                                 const struct tg_config *cfg, char *err,
                                                 size_t errlen);
/* Closes every pooled connection; exchanges still running end without a callback. */
void tg_upstream_free(struct tg_upstream *u);

/* "host[:port]" for the Host header, and the path prefix without a trailing
 * slash ("" for none): the upstream path of /api/v1/query is prefix + that. */
tg_iovec_t tg_upstream_host_header(const struct tg_upstream *u);
tg_iovec_t tg_upstream_prefix(const struct tg_upstream *u);

/* The client pool requests to the upstream go through. */
struct tg_up_pool *tg_upstream_pool(const struct tg_upstream *u);

#endif
