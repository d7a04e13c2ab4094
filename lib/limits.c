/*
 * Per-tenant limiter: token buckets, in-flight counts and FIFO queues per
 * tenant value, and the config lookups the limit stage needs. See
 * include/tenantgate/limits.h for the waiting rule with several values.
 */
#include "tenantgate/core.h"
#include "tenantgate/limits.h"

#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

/* ---- limits from the config ---- */

static int cmp_tenant(tg_iovec_t key, const char *name)
{
    size_t nl = strlen(name);
    int c = memcmp(key.base, name, key.len < nl ? key.len : nl);
    return c != 0 ? c : (key.len > nl) - (key.len < nl);
}

static const struct tg_limit_set *override_for(const struct tg_limits_config *lc, tg_iovec_t t)
{
    size_t lo = 0, hi = lc->n_tenants;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_tenant(t, lc->tenants[mid].tenant);
        if (c == 0)
            return &lc->tenants[mid].set;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

#define PICK(field, none) (o && o->field >= 0 ? o->field : d->field >= 0 ? d->field : (none))

void tg_limits_for(const struct tg_limits_config *lc, tg_iovec_t tenant,
                   struct tg_limit_values *out)
{
    const struct tg_limit_set *d, *o;

    memset(out, 0, sizeof(*out));
    out->queue_timeout_ms = TG_LIMIT_DEFAULT_QUEUE_TIMEOUT_MS;
    if (lc == NULL)
        return;
    d = &lc->defaults;
    o = override_for(lc, tenant);
    out->max_inflight = PICK(max_inflight, 0);
    out->max_queued = PICK(max_queued, 0);
    out->queue_timeout_ms = PICK(queue_timeout_ms, TG_LIMIT_DEFAULT_QUEUE_TIMEOUT_MS);
    out->rate = PICK(rate, 0.0);
    out->burst = PICK(burst, 0);
    if (out->burst <= 0) /* default: one second's worth, at least one request */
        out->burst = out->rate > 1.0 ? (int)ceil(out->rate) : 1;
    out->max_query_length_ms = PICK(max_query_length_ms, 0);
    out->max_lookback_ms = PICK(max_lookback_ms, 0);
}

static int occurs(const struct tg_blocked_query *b, tg_iovec_t s)
{
    regmatch_t m;

    if (s.len == 0)
        return 0;
    if (!b->regex)
        return memmem(s.base, s.len, b->pattern, strlen(b->pattern)) != NULL;
    /* REG_STARTEND: the text is not NUL-terminated and may hold NUL bytes */
    m.rm_so = 0;
    m.rm_eo = (regoff_t)s.len;
    return regexec(b->compiled, s.base, 1, &m, REG_STARTEND) == 0;
}

const struct tg_blocked_query *tg_limits_blocked(const struct tg_limits_config *lc,
                                                 tg_iovec_t query, tg_iovec_t text)
{
    size_t i;
    if (lc == NULL)
        return NULL;
    for (i = 0; i < lc->n_blocked; i++)
        if (occurs(&lc->blocked[i], query) || occurs(&lc->blocked[i], text))
            return &lc->blocked[i];
    return NULL;
}

/* ---- tenant entries ---- */

struct tg_limit_tenant {
    struct tg_limit_tenant *hnext; /* hash chain */
    uint64_t hash;
    struct tg_limit_values lim; /* newest limits a request brought */
    double tokens;
    uint64_t refill_ns;
    int inflight, queued;
    struct tg_limit_slot *qhead, *qtail;
    double hold_s; /* moving average of how long a slot is held */
    size_t len;
    char name[];
};

struct tg_limits {
    struct tg_limit_tenant **table;
    size_t size, n; /* buckets (power of two), entries */
    uint64_t next_seq;
    struct tg_limit_ticket *qfirst, *qlast; /* queued tickets, by arrival */
    struct tg_limit_tenant **work;          /* tenants whose queue heads to look at */
    size_t n_work, cap_work;
    int draining; /* SIGTERM: nothing is granted any more */
};

struct tg_limits *tg_limits_new(void)
{
    struct tg_limits *l = tg_calloc(1, sizeof(*l));
    l->size = 64;
    l->table = tg_calloc(l->size, sizeof(*l->table));
    return l;
}

void tg_limits_free(struct tg_limits *l)
{
    size_t i;
    if (l == NULL)
        return;
    for (i = 0; i < l->size; i++)
        while (l->table[i] != NULL) {
            struct tg_limit_tenant *t = l->table[i];
            l->table[i] = t->hnext;
            free(t);
        }
    free(l->table);
    free(l->work);
    free(l);
}

static void grow(struct tg_limits *l)
{
    size_t size = l->size * 2, i;
    struct tg_limit_tenant **table = tg_calloc(size, sizeof(*table));
    for (i = 0; i < l->size; i++)
        while (l->table[i] != NULL) {
            struct tg_limit_tenant *t = l->table[i];
            l->table[i] = t->hnext;
            t->hnext = table[t->hash & (size - 1)];
            table[t->hash & (size - 1)] = t;
        }
    free(l->table);
    l->table = table;
    l->size = size;
}

static struct tg_limit_tenant *find(const struct tg_limits *l, tg_iovec_t name, uint64_t h)
{
    struct tg_limit_tenant *t;
    for (t = l->table[h & (l->size - 1)]; t != NULL; t = t->hnext)
        if (t->hash == h && t->len == name.len && memcmp(t->name, name.base, name.len) == 0)
            return t;
    return NULL;
}

static struct tg_limit_tenant *get(struct tg_limits *l, tg_iovec_t name, uint64_t now_ns,
                                   const struct tg_limit_values *v)
{
    uint64_t h = tg_iov_hash(name);
    struct tg_limit_tenant *t = find(l, name, h);

    if (t != NULL)
        return t;
    if (l->n >= l->size)
        grow(l);
    t = tg_calloc(1, sizeof(*t) + name.len + 1);
    memcpy(t->name, name.base, name.len);
    t->len = name.len;
    t->hash = h;
    t->tokens = v->burst; /* a new bucket starts full */
    t->refill_ns = now_ns;
    t->hnext = l->table[h & (l->size - 1)];
    l->table[h & (l->size - 1)] = t;
    l->n++;
    return t;
}

/* ---- token bucket ---- */

static void refill(struct tg_limit_tenant *t, uint64_t now_ns)
{
    if (now_ns > t->refill_ns && t->lim.rate > 0)
        t->tokens += t->lim.rate * (double)(now_ns - t->refill_ns) / 1e9;
    if (t->tokens > t->lim.burst)
        t->tokens = t->lim.burst;
    if (now_ns > t->refill_ns)
        t->refill_ns = now_ns;
}

/* ---- queues ---- */

static int bounded(const struct tg_limit_tenant *t)
{
    return t->lim.max_inflight > 0;
}

/* The value cannot take a new request now: full, or others wait before it. */
static int busy(const struct tg_limit_tenant *t)
{
    return bounded(t) && (t->inflight >= t->lim.max_inflight || t->qhead != NULL);
}

static void work_add(struct tg_limits *l, struct tg_limit_tenant *t)
{
    if (l->n_work == l->cap_work) {
        l->cap_work = l->cap_work ? 2 * l->cap_work : 16;
        l->work = tg_realloc(l->work, l->cap_work * sizeof(*l->work));
    }
    l->work[l->n_work++] = t;
}

static void enqueue(struct tg_limits *l, struct tg_limit_ticket *tk)
{
    size_t i;
    for (i = 0; i < tk->n; i++) {
        struct tg_limit_slot *s = &tk->slots[i];
        struct tg_limit_tenant *t = s->tenant;
        if (!bounded(t))
            continue;
        s->prev = t->qtail;
        s->next = NULL;
        if (t->qtail)
            t->qtail->next = s;
        else
            t->qhead = s;
        t->qtail = s;
        t->queued++;
    }
    tk->prev = l->qlast;
    tk->next = NULL;
    if (l->qlast)
        l->qlast->next = tk;
    else
        l->qfirst = tk;
    l->qlast = tk;
    tk->state = TG_TICKET_QUEUED;
}

/* Out of every queue; the tenants whose head changed go on the work list. */
static void dequeue(struct tg_limits *l, struct tg_limit_ticket *tk)
{
    size_t i;
    for (i = 0; i < tk->n; i++) {
        struct tg_limit_slot *s = &tk->slots[i];
        struct tg_limit_tenant *t = s->tenant;
        if (s->prev == NULL && t->qhead != s)
            continue; /* an unbounded value: never queued */
        if (t->qhead == s)
            work_add(l, t);
        if (s->prev)
            s->prev->next = s->next;
        else
            t->qhead = s->next;
        if (s->next)
            s->next->prev = s->prev;
        else
            t->qtail = s->prev;
        s->prev = s->next = NULL;
        t->queued--;
    }
    if (tk->prev)
        tk->prev->next = tk->next;
    else
        l->qfirst = tk->next;
    if (tk->next)
        tk->next->prev = tk->prev;
    else
        l->qlast = tk->prev;
    tk->prev = tk->next = NULL;
}

static void hold(struct tg_limit_ticket *tk, uint64_t now_ns)
{
    size_t i;
    for (i = 0; i < tk->n; i++)
        tk->slots[i].tenant->inflight++;
    tk->state = TG_TICKET_HOLDING;
    tk->since_ns = now_ns;
}

/* First in every queue it is in, and a slot free under every bound. */
static int grantable(const struct tg_limit_ticket *tk)
{
    size_t i;
    for (i = 0; i < tk->n; i++) {
        const struct tg_limit_tenant *t = tk->slots[i].tenant;
        if (bounded(t) && (t->qhead != &tk->slots[i] || t->inflight >= t->lim.max_inflight))
            return 0;
    }
    return 1;
}

/* Grant queue heads while any can go; a grant moves the heads of each of its
 * values, so those are looked at again. */
static void pump(struct tg_limits *l, uint64_t now_ns)
{
    if (l->draining)
        l->n_work = 0;
    while (l->n_work > 0) {
        struct tg_limit_tenant *t = l->work[--l->n_work];
        struct tg_limit_ticket *tk;
        if (t->qhead == NULL || !grantable(tk = t->qhead->ticket))
            continue;
        dequeue(l, tk);
        hold(tk, now_ns);
        tk->on_grant(tk, tk->arg);
    }
}

/* ---- admission ---- */

static double slot_wait_s(const struct tg_limit_tenant *t, int ahead)
{
    int m = t->lim.max_inflight > 0 ? t->lim.max_inflight : 1;
    return t->hold_s * (double)(ahead + 1) / (double)m;
}

enum tg_limit_verdict tg_limits_admit(struct tg_limits *l, struct tg_limit_ticket *tk,
                                      const tg_iovec_t *tenants, const struct tg_limit_values *vals,
                                      size_t n, uint64_t now_ns, struct tg_limit_refusal *why)
{
    size_t i;
    int wait = 0;

    TG_CHECK(tk->state == TG_TICKET_NEW && n >= 1);
    tk->n = n;
    tk->seq = ++l->next_seq;
    for (i = 0; i < n; i++) {
        struct tg_limit_tenant *t = get(l, tenants[i], now_ns, &vals[i]);
        int raised = vals[i].max_inflight != t->lim.max_inflight;
        t->lim = vals[i];
        tk->slots[i].tenant = t;
        tk->slots[i].ticket = tk;
        tk->slots[i].prev = tk->slots[i].next = NULL;
        if (raised && t->qhead != NULL) /* a reload changed the bound: maybe room now */
            work_add(l, t);
    }
    pump(l, now_ns);
    for (i = 0; i < n; i++) {
        struct tg_limit_tenant *t = tk->slots[i].tenant;
        refill(t, now_ns);
        if (t->lim.rate > 0 && t->tokens < 1.0) {
            why->index = i;
            why->retry_after_s = (1.0 - t->tokens) / t->lim.rate;
            return TG_LIMIT_RATE;
        }
    }
    for (i = 0; i < n; i++) {
        struct tg_limit_tenant *t = tk->slots[i].tenant;
        if (!busy(t))
            continue;
        if (t->queued >= t->lim.max_queued) {
            why->index = i;
            why->retry_after_s = slot_wait_s(t, 0);
            return TG_LIMIT_QUEUE_FULL;
        }
        wait = 1;
    }
    for (i = 0; i < n; i++)
        if (tk->slots[i].tenant->lim.rate > 0)
            tk->slots[i].tenant->tokens -= 1.0;
    if (!wait) {
        hold(tk, now_ns);
        return TG_LIMIT_GRANTED;
    }
    tk->since_ns = now_ns;
    enqueue(l, tk);
    return TG_LIMIT_QUEUED;
}

enum tg_limit_state tg_limits_leave(struct tg_limits *l, struct tg_limit_ticket *tk,
                                    uint64_t now_ns)
{
    enum tg_limit_state was = tk->state;
    size_t i;

    if (was == TG_TICKET_QUEUED) {
        dequeue(l, tk);
    } else if (was == TG_TICKET_HOLDING) {
        double held = now_ns > tk->since_ns ? (double)(now_ns - tk->since_ns) / 1e9 : 0;
        for (i = 0; i < tk->n; i++) {
            struct tg_limit_tenant *t = tk->slots[i].tenant;
            TG_CHECK(t->inflight > 0);
            t->inflight--;
            t->hold_s = t->hold_s > 0 ? 0.8 * t->hold_s + 0.2 * held : held;
            if (t->qhead != NULL)
                work_add(l, t);
        }
    } else {
        return was; /* never admitted, or already left */
    }
    tk->state = TG_TICKET_DONE;
    pump(l, now_ns);
    return was;
}

double tg_limits_wait_estimate(const struct tg_limits *l, const struct tg_limit_ticket *tk)
{
    double w = 0;
    size_t i;
    (void)l;
    for (i = 0; i < tk->n; i++) {
        const struct tg_limit_tenant *t = tk->slots[i].tenant;
        double s = bounded(t) ? slot_wait_s(t, t->queued) : 0;
        if (s > w)
            w = s;
    }
    return w;
}

void tg_limits_drain(struct tg_limits *l, void (*fn)(struct tg_limit_ticket *tk, void *arg),
                     void *arg)
{
    l->draining = 1;
    while (l->qfirst != NULL) {
        struct tg_limit_ticket *tk = l->qfirst;
        fn(tk, arg);
        if (tk->state == TG_TICKET_QUEUED) /* fn was to leave it */
            tg_limits_leave(l, tk, tk->since_ns);
    }
}

/* ---- housekeeping ---- */

static int idle(struct tg_limit_tenant *t, uint64_t now_ns)
{
    if (t->inflight > 0 || t->queued > 0)
        return 0;
    refill(t, now_ns);
    return t->lim.rate <= 0 || t->tokens >= t->lim.burst;
}

void tg_limits_sweep(struct tg_limits *l, uint64_t now_ns)
{
    size_t i;
    for (i = 0; i < l->size; i++) {
        struct tg_limit_tenant **pp = &l->table[i];
        while (*pp != NULL) {
            struct tg_limit_tenant *t = *pp;
            if (idle(t, now_ns)) {
                *pp = t->hnext;
                free(t);
                l->n--;
            } else {
                pp = &t->hnext;
            }
        }
    }
}

void tg_limits_stats(struct tg_limits *l, tg_iovec_t tenant, uint64_t now_ns,
                     struct tg_limit_tenant_stats *out)
{
    struct tg_limit_tenant *t = find(l, tenant, tg_iov_hash(tenant));

    memset(out, 0, sizeof(*out));
    if (t == NULL)
        return;
    refill(t, now_ns);
    out->known = 1;
    out->inflight = t->inflight;
    out->queued = t->queued;
    out->tokens = t->tokens;
}

size_t tg_limits_size(const struct tg_limits *l)
{
    return l->n;
}
