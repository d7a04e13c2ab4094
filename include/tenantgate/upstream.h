/*
 * An upstream (Prometheus / Thanos Querier from --upstream, Alertmanager
 * from --alertmanager-upstream): its target and a keep-alive pool of evhttp
 * client connections toward it.
 *
 * Ownership: the pool owns every connection. A borrowed struct tg_upconn is
 * lent to exactly one request at a time and must be given back with
 * tg_upstream_release() (reusable or not); never freed by the borrower.
 */
#ifndef TENANTGATE_UPSTREAM_H
#define TENANTGATE_UPSTREAM_H

#include <stddef.h>
#include "tenantgate/config.h"
#include "tenantgate/iovec.h"

struct event_base;
struct evdns_base;
struct evhttp_connection;
struct tg_upstream;
struct tg_upconn;

struct tg_upstream *tg_upstream_new(struct event_base *base, struct evdns_base *dns,
                                    const struct tg_config *cfg, char *err, size_t errlen);
/* The same toward --alertmanager-upstream (cfg->am_upstream must be set). */
struct tg_upstream *tg_upstream_new_alertmanager(struct event_base *base, struct evdns_base *dns,
                                                 const struct tg_config *cfg, char *err,
                                                 size_t errlen);
void tg_upstream_free(struct tg_upstream *u);

/* "host[:port]" for the Host header, and the path prefix without a trailing
 * slash ("" for none): the upstream path of /api/v1/query is prefix + that. */
tg_iovec_t tg_upstream_host_header(const struct tg_upstream *u);
tg_iovec_t tg_upstream_prefix(const struct tg_upstream *u);

struct tg_upconn *tg_upstream_acquire(struct tg_upstream *u);
struct evhttp_connection *tg_upconn_evcon(struct tg_upconn *c);
/* Give the connection back. `reusable` is 0 after an error or a cancelled
 * request. Safe to call from inside the connection's own callbacks. */
void tg_upstream_release(struct tg_upconn *c, int reusable);

#endif
