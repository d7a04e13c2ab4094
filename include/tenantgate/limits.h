/*
 * Per-tenant limits: the state that outlives requests and reloads (one
 * token bucket, in-flight count and FIFO queue per tenant value), and the
 * helpers that read a tenant's limits and the blocked queries from the
 * config. No libevent and no clock of its own: every call that needs the
 * time takes it, so unit tests drive it without an event loop. The request
 * stage (lib/stage_limit.c) turns its verdicts into answers.
 *
 * Several tenant values, one request. A request counts against each of its
 * values: it needs a token from every bucket (all or none are taken) and a
 * slot under every bound. Waiting is all-or-nothing with FIFO fairness: a
 * request that cannot run at once takes a place at the end of the queue of
 * every bounded value it names, and it is granted only when it is first in
 * all of those queues and each of them has a free slot; then it takes all
 * its slots at once. Nobody holds a slot while waiting for another, so there
 * is no deadlock; queues are ordered by arrival, so the oldest waiting
 * request is first in every queue it is in and only waits for slots to free
 * up, and no later request can take a slot of a value it waits for: no
 * starvation. The price: a request for {a, b} waiting on b also holds back
 * later requests of a (each value's queue is strictly FIFO).
 *
 * Ownership: the limiter owns its tenant entries (names copied) and is
 * owned by the server. A ticket belongs to its request (its arena); the
 * limiter points to it from the moment tg_limits_admit() queues or grants
 * it until tg_limits_leave(), which the request must call before its memory
 * goes (tg_req_end does). Not thread-safe: event loop thread only.
 */
#ifndef TENANTGATE_LIMITS_H
#define TENANTGATE_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include "tenantgate/config.h"
#include "tenantgate/iovec.h"

/* The limits of one tenant value, resolved: override, else default, else
 * none (0 = no bound). */
struct tg_limit_values {
    int max_inflight;
    int max_queued;
    int64_t queue_timeout_ms;
    double rate;
    int burst;
    int64_t max_query_length_ms;
    int64_t max_lookback_ms;
};

#define TG_LIMIT_DEFAULT_QUEUE_TIMEOUT_MS 10000

/* Resolve `tenant`'s limits from the config's limits section (NULL: none). */
void tg_limits_for(const struct tg_limits_config *lc, tg_iovec_t tenant,
                   struct tg_limit_values *out);

/* The first blocked query whose pattern occurs in the query as written or
 * in `text` (its canonical spelling; may be empty), or NULL. */
const struct tg_blocked_query *tg_limits_blocked(const struct tg_limits_config *lc,
                                                 tg_iovec_t query, tg_iovec_t text);

/* ---- the limiter ---- */

struct tg_limits;
struct tg_limit_tenant;
struct tg_limit_ticket;

enum tg_limit_state { TG_TICKET_NEW, TG_TICKET_QUEUED, TG_TICKET_HOLDING, TG_TICKET_DONE };

/* Called when a queued ticket gets its slots (from inside tg_limits_leave
 * or tg_limits_admit of another ticket): it must not call into the limiter;
 * resume the request from the event loop instead. */
typedef void (*tg_limit_grant_fn)(struct tg_limit_ticket *tk, void *arg);

/* One tenant value of a ticket (internal). */
struct tg_limit_slot {
    struct tg_limit_tenant *tenant;
    struct tg_limit_slot *prev, *next; /* in the tenant's queue while waiting */
    struct tg_limit_ticket *ticket;
};

/* One request's claim. Allocate TG_LIMIT_TICKET_SIZE(n) zeroed bytes, set
 * on_grant/arg, and pass it to tg_limits_admit; the rest is the limiter's. */
struct tg_limit_ticket {
    tg_limit_grant_fn on_grant;
    void *arg;
    enum tg_limit_state state;
    uint64_t seq;                        /* arrival order */
    uint64_t since_ns;                   /* queued at, then granted at */
    struct tg_limit_ticket *prev, *next; /* every queued ticket (drain) */
    size_t n;
    struct tg_limit_slot slots[];
};
#define TG_LIMIT_TICKET_SIZE(n)                                                                    \
    (sizeof(struct tg_limit_ticket) + (n) * sizeof(struct tg_limit_slot))

enum tg_limit_verdict {
    TG_LIMIT_GRANTED,    /* go on: the ticket holds a slot of every value */
    TG_LIMIT_QUEUED,     /* wait for on_grant (or time out / leave) */
    TG_LIMIT_RATE,       /* refused: no token in value `index`'s bucket */
    TG_LIMIT_QUEUE_FULL, /* refused: value `index` is full and so is its queue */
};

struct tg_limit_refusal {
    size_t index;         /* the value (of the request's list) that refused */
    double retry_after_s; /* estimated seconds until a token or a place frees up */
};

struct tg_limits *tg_limits_new(void);
void tg_limits_free(struct tg_limits *l);

/* Admit a request for the distinct tenant values `tenants` (n >= 1) with the
 * limits `vals` (one per value, from the request's config: the limiter keeps
 * the newest it was given for each value). On a refusal nothing is taken and
 * *why tells which value and when to retry. */
enum tg_limit_verdict tg_limits_admit(struct tg_limits *l, struct tg_limit_ticket *tk,
                                      const tg_iovec_t *tenants, const struct tg_limit_values *vals,
                                      size_t n, uint64_t now_ns, struct tg_limit_refusal *why);

/* The ticket's request is over (done, failed, client gone, timed out): its
 * queue places or slots are given back, exactly once (a second call, or one
 * for a ticket never admitted, does nothing), which may grant waiting
 * tickets. Returns the state it was in. */
enum tg_limit_state tg_limits_leave(struct tg_limits *l, struct tg_limit_ticket *tk,
                                    uint64_t now_ns);

/* Seconds a queued ticket would wait if it queued again now (for
 * Retry-After when it timed out). */
double tg_limits_wait_estimate(const struct tg_limits *l, const struct tg_limit_ticket *tk);

/* SIGTERM: call fn on every queued ticket, in arrival order; fn answers its
 * request and calls tg_limits_leave (else it is done here). From now on
 * nothing queued is granted: tickets that hold slots keep them until they
 * leave, new ones are only granted at once or queued (the caller refuses
 * those). */
void tg_limits_drain(struct tg_limits *l, void (*fn)(struct tg_limit_ticket *tk, void *arg),
                     void *arg);

/* Forget idle tenant values (nothing in flight or queued, bucket full):
 * keeps the table as small as the set of busy tenants. */
void tg_limits_sweep(struct tg_limits *l, uint64_t now_ns);

/* For tests and /metrics: what the limiter knows of one value (0 when it
 * has no entry). Tokens as of now_ns. */
struct tg_limit_tenant_stats {
    int known, inflight, queued;
    double tokens;
};
void tg_limits_stats(struct tg_limits *l, tg_iovec_t tenant, uint64_t now_ns,
                     struct tg_limit_tenant_stats *out);
/* Tenant entries held. */
size_t tg_limits_size(const struct tg_limits *l);

#endif
