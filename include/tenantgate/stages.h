/*
 * The filter modules of the request chain, in the order a request meets
 * them. Each lives in its own file lib/stage_<name>.c and follows the
 * contract of tg_stage_fn in req.h.
 */
#ifndef TENANTGATE_STAGES_H
#define TENANTGATE_STAGES_H

#include "tenantgate/req.h"

/* The chain's order; tg_chain[i] is the stage's function. The server hands
 * this table to every request (srv->stages); a test may hand another. */
enum tg_stage_index {
    TG_STAGE_ROUTE,
    TG_STAGE_AUTHN,
    TG_STAGE_AUTHZ,
    TG_STAGE_ENFORCE,
    TG_STAGE_LIMIT,
    TG_STAGE_UPSTREAM,
    TG_N_STAGES
};
extern const tg_stage_fn tg_chain[TG_N_STAGES];

enum tg_verdict tg_stage_route(struct tg_req *r);    /* fixed table of endpoints */
enum tg_verdict tg_stage_authn(struct tg_req *r);    /* who is calling */
enum tg_verdict tg_stage_authz(struct tg_req *r);    /* which tenants, and may they */
enum tg_verdict tg_stage_enforce(struct tg_req *r);  /* PromQL / Alertmanager enforcement */
enum tg_verdict tg_stage_limit(struct tg_req *r);    /* per-tenant limits (limits.h) */
enum tg_verdict tg_stage_upstream(struct tg_req *r); /* forward and stream back */

/* Append name=value (urlencoded) to the upstream arguments r->up_args. */
void tg_enforce_add_param(struct tg_req *r, tg_iovec_t name, tg_iovec_t value);

/* The enforce stage for the Alertmanager API v2 (lib/stage_enforce_am.c). */
struct tg_promql_enforce;
enum tg_verdict tg_enforce_alertmanager(struct tg_req *r, const struct tg_promql_enforce *e);

/* Answers format_query / parse_query with our own parser (lib/local.c). */
struct tg_promql_opts;
enum tg_verdict tg_local_answer(struct tg_req *r, const struct tg_promql_opts *o);

/* lib/stage_limit.c: tg_req_end gives back the request's queue place or
 * slots (exactly once, whatever ended it); SIGTERM answers every queued
 * request with 503. */
void tg_stage_limit_end(struct tg_req *r);
void tg_stage_limit_drain(struct tg_server *srv);

/* Route lookup, exposed for tests. */
const struct tg_route *tg_route_find(tg_iovec_t path, tg_iovec_t *label_name);

#endif
