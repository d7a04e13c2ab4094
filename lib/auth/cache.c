/*
 * Decision cache for TokenReview / SubjectAccessReview; see authcache.h.
 *
 * Entries live in a chained hash table keyed by a SHA-256 digest. Ready
 * entries are also on an LRU list (most recent at the head); pending entries
 * (a backend call in flight) are only in the table and carry the waiter list
 * that coalesces identical misses. An entry whose results are being handed
 * to waiters is pinned (refs) so that a callback that evicts or clears
 * cannot free it under the delivery loop.
 */
#include "tenantgate/core.h"
#include "tenantgate/authcache.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tenantgate/log.h"

enum kind { K_AUTHN = 1, K_AUTHZ = 2 };
enum state { E_PENDING = 0, E_READY = 1 };

struct entry {
    unsigned char key[32];
    struct entry *hnext;         /* hash chain */
    struct entry *lprev, *lnext; /* LRU, ready entries only */
    int in_lru;                  /* 1 in the positive LRU, 2 in the negative one, 0 none */
    struct tg_authcache *c;
    enum kind kind;
    enum state state;
    int in_table;
    int refs;   /* deliveries in progress */
    void *call; /* backend call while pending */
    struct tg_pending *waiters, *waiters_tail;

    /* the answer (or, while pending, the stale answer kept for grace) */
    int has_result;
    enum tg_kube_result res;
    uint64_t expires_ms;
    struct tg_user user; /* points into user_block */
    void *user_block;
    char *reason;
    int from_grace; /* the answer being delivered is stale */
};

struct tg_pending {
    struct tg_pending *prev, *next;
    struct entry *e;
    tg_arena_t *a;
    union {
        tg_authn_cb authn;
        tg_authz_cb authz;
    } cb;
    void *arg;
};

struct tg_authcache {
    struct tg_authcache_backend be;
    struct tg_authcache_opts o;
    char **audiences; /* owned copies */
    struct entry **buckets;
    size_t nbuckets; /* power of two */
    /* ready entries, most recently used first: [0] positive answers, [1]
     * negative ones, which are evicted first (anyone can make them) */
    struct lru {
        struct entry *head, *tail;
    } lru[2];
    size_t ready;
    struct tg_authcache_stats st;
};

/* ---- clock, options ---- */

static uint64_t mono_ms(void *arg)
{
    struct timespec ts;
    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms(const struct tg_authcache *c)
{
    return c->o.now_ms(c->o.clock_arg);
}

void tg_authcache_opts_init(struct tg_authcache_opts *o, const struct tg_config *cfg)
{
    memset(o, 0, sizeof(*o));
    o->authn_ttl_ms = 120000;
    o->unauthn_ttl_ms = 30000;
    o->allow_ttl_ms = 300000;
    o->deny_ttl_ms = 30000;
    o->max_entries = 10000;
    if (!cfg)
        return;
    if (cfg->cache_authn_ttl_ms > 0)
        o->authn_ttl_ms = cfg->cache_authn_ttl_ms;
    if (cfg->cache_unauthn_ttl_ms > 0)
        o->unauthn_ttl_ms = cfg->cache_unauthn_ttl_ms;
    if (cfg->cache_allow_ttl_ms > 0)
        o->allow_ttl_ms = cfg->cache_allow_ttl_ms;
    if (cfg->cache_deny_ttl_ms > 0)
        o->deny_ttl_ms = cfg->cache_deny_ttl_ms;
    o->max_entries = cfg->cache_max_entries; /* 0: caching off (docs/config.md) */
    if (cfg->cache_grace_ms > 0)
        o->grace_ms = cfg->cache_grace_ms;
    o->audiences = (const char *const *)cfg->auth_token_audiences;
    o->n_audiences = cfg->n_auth_token_audiences;
}

/* ---- keys: SHA-256 over length-prefixed fields ---- */

static void h_bytes(EVP_MD_CTX *h, const void *p, size_t n)
{
    uint64_t len = n; /* the prefix keeps ("ab","c") and ("a","bc") apart */
    EVP_DigestUpdate(h, &len, sizeof(len));
    if (n)
        EVP_DigestUpdate(h, p, n);
}

static void h_iov(EVP_MD_CTX *h, tg_iovec_t v)
{
    h_bytes(h, v.base, v.len);
}

static EVP_MD_CTX *h_begin(const char *domain)
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    TG_NOTNULL(h);
    TG_CHECK(EVP_DigestInit_ex(h, EVP_sha256(), NULL));
    h_bytes(h, domain, strlen(domain));
    return h;
}

static void h_end(EVP_MD_CTX *h, unsigned char key[32])
{
    unsigned int n = 32;
    EVP_DigestFinal_ex(h, key, &n);
    EVP_MD_CTX_free(h);
}

static void authn_key(const struct tg_authcache *c, tg_iovec_t token, unsigned char key[32])
{
    EVP_MD_CTX *h = h_begin("tokenreview/v1");
    h_bytes(h, &c->o.n_audiences, sizeof(c->o.n_audiences));
    for (size_t i = 0; i < c->o.n_audiences; i++)
        h_iov(h, tg_iov_str(c->audiences[i]));
    h_iov(h, token);
    h_end(h, key);
}

static int iov_cmp(const void *a, const void *b)
{
    const tg_iovec_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = n ? memcmp(x->base, y->base, n) : 0;
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

static int kv_cmp(const void *a, const void *b)
{
    return iov_cmp(&(*(const struct tg_kv_list *const *)a)->key,
                   &(*(const struct tg_kv_list *const *)b)->key);
}

/* Groups are a set and extra is a map: sort both so the same identity always
 * hashes the same. Extra values keep their order (a list in the API). */
static void h_user(EVP_MD_CTX *h, const struct tg_user *u)
{
    size_t ng = u->n_groups, ne = u->n_extra;
    tg_iovec_t *g = ng ? tg_malloc(ng * sizeof(*g)) : NULL;
    const struct tg_kv_list **e = ne ? tg_malloc(ne * sizeof(*e)) : NULL;

    h_iov(h, u->name);
    h_iov(h, u->uid);
    if (ng)
        memcpy(g, u->groups, ng * sizeof(*g));
    if (ng > 1)
        qsort(g, ng, sizeof(*g), iov_cmp);
    h_bytes(h, &ng, sizeof(ng));
    for (size_t i = 0; i < ng; i++)
        h_iov(h, g[i]);
    for (size_t i = 0; i < ne; i++)
        e[i] = &u->extra[i];
    if (ne > 1)
        qsort(e, ne, sizeof(*e), kv_cmp);
    h_bytes(h, &ne, sizeof(ne));
    for (size_t i = 0; i < ne; i++) {
        h_iov(h, e[i]->key);
        h_bytes(h, &e[i]->n_values, sizeof(e[i]->n_values));
        for (size_t j = 0; j < e[i]->n_values; j++)
            h_iov(h, e[i]->values[j]);
    }
    free(g);
    free(e);
}

static void authz_key(const struct tg_user *u, const struct tg_authz_attrs *at,
                      unsigned char key[32])
{
    EVP_MD_CTX *h = h_begin("subjectaccessreview/v1");
    int rr = at->resource_request ? 1 : 0;
    h_user(h, u);
    h_bytes(h, &rr, sizeof(rr));
    h_iov(h, at->verb);
    if (rr) {
        h_iov(h, at->namespace_);
        h_iov(h, at->api_group);
        h_iov(h, at->api_version);
        h_iov(h, at->resource);
        h_iov(h, at->subresource);
        h_iov(h, at->name);
    } else {
        h_iov(h, at->path);
    }
    h_end(h, key);
}

/* ---- flat copy of a user into one heap block ---- */

#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

static size_t user_flat_size(const struct tg_user *u)
{
    size_t n = ALIGN8(u->n_groups * sizeof(tg_iovec_t)) +
               ALIGN8(u->n_extra * sizeof(struct tg_kv_list)) + u->name.len + u->uid.len + 2;
    for (size_t i = 0; i < u->n_groups; i++)
        n += u->groups[i].len + 1;
    for (size_t i = 0; i < u->n_extra; i++) {
        n += ALIGN8(u->extra[i].n_values * sizeof(tg_iovec_t)) + u->extra[i].key.len + 1;
        for (size_t j = 0; j < u->extra[i].n_values; j++)
            n += u->extra[i].values[j].len + 1;
    }
    return ALIGN8(n);
}

static tg_iovec_t flat_str(char **p, tg_iovec_t v)
{
    char *d = *p;
    if (v.len)
        memcpy(d, v.base, v.len);
    d[v.len] = '\0';
    *p += v.len + 1;
    return tg_iov(d, v.len);
}

void *tg_user_flat_copy(struct tg_user *dst, const struct tg_user *src)
{
    size_t size = user_flat_size(src);
    char *block = tg_malloc(size), *p = block;
    *dst = *src;
    dst->groups = (tg_iovec_t *)p;
    p += ALIGN8(src->n_groups * sizeof(tg_iovec_t));
    dst->extra = (struct tg_kv_list *)p;
    p += ALIGN8(src->n_extra * sizeof(struct tg_kv_list));
    for (size_t i = 0; i < src->n_extra; i++) {
        dst->extra[i].values = (tg_iovec_t *)p;
        dst->extra[i].n_values = src->extra[i].n_values;
        p += ALIGN8(src->extra[i].n_values * sizeof(tg_iovec_t));
    }
    dst->name = flat_str(&p, src->name);
    dst->uid = flat_str(&p, src->uid);
    for (size_t i = 0; i < src->n_groups; i++)
        dst->groups[i] = flat_str(&p, src->groups[i]);
    for (size_t i = 0; i < src->n_extra; i++) {
        dst->extra[i].key = flat_str(&p, src->extra[i].key);
        for (size_t j = 0; j < src->extra[i].n_values; j++)
            dst->extra[i].values[j] = flat_str(&p, src->extra[i].values[j]);
    }
    return block;
}

/* ---- table and LRU ---- */

static size_t bucket_of(const struct tg_authcache *c, const unsigned char key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    return (size_t)h & (c->nbuckets - 1);
}

static struct entry *table_find(const struct tg_authcache *c, const unsigned char key[32])
{
    for (struct entry *e = c->buckets[bucket_of(c, key)]; e; e = e->hnext)
        if (memcmp(e->key, key, 32) == 0)
            return e;
    return NULL;
}

static void table_insert(struct tg_authcache *c, struct entry *e)
{
    size_t b = bucket_of(c, e->key);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    e->in_table = 1;
}

static void table_remove(struct tg_authcache *c, struct entry *e)
{
    struct entry **pp = &c->buckets[bucket_of(c, e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    e->hnext = NULL;
    e->in_table = 0;
}

static void lru_unlink(struct tg_authcache *c, struct entry *e)
{
    struct lru *l = &c->lru[e->in_lru - 1];
    if (e->lprev)
        e->lprev->lnext = e->lnext;
    else
        l->head = e->lnext;
    if (e->lnext)
        e->lnext->lprev = e->lprev;
    else
        l->tail = e->lprev;
    e->lprev = e->lnext = NULL;
    e->in_lru = 0;
    c->ready--;
}

/* Into the positive or the negative LRU, after its answer. */
static void lru_push_front(struct tg_authcache *c, struct entry *e)
{
    struct lru *l;
    e->in_lru = e->res == TG_KUBE_OK ? 1 : 2;
    l = &c->lru[e->in_lru - 1];
    e->lprev = NULL;
    e->lnext = l->head;
    if (l->head)
        l->head->lprev = e;
    else
        l->tail = e;
    l->head = e;
    c->ready++;
}

static void entry_clear_result(struct entry *e)
{
    free(e->user_block);
    free(e->reason);
    e->user_block = NULL;
    e->reason = NULL;
    memset(&e->user, 0, sizeof(e->user));
    e->has_result = 0;
}

static void entry_free(struct entry *e)
{
    entry_clear_result(e);
    free(e);
}

/* Take `e` out of the cache; freed now unless a delivery holds it. */
static void entry_drop(struct tg_authcache *c, struct entry *e)
{
    if (e->in_lru)
        lru_unlink(c, e);
    if (e->in_table)
        table_remove(c, e);
    if (e->refs == 0)
        entry_free(e);
}

static void update_gauges(struct tg_authcache *c)
{
    c->st.entries = c->ready;
}

static void evict_over_limit(struct tg_authcache *c)
{
    while (c->ready > c->o.max_entries) {
        /* a flood of bad tokens only ever pushes out other negative answers */
        struct entry *victim = c->lru[1].tail ? c->lru[1].tail : c->lru[0].tail;
        c->st.evictions++;
        c->st.authn_evictions += victim->kind == K_AUTHN;
        entry_drop(c, victim);
    }
    update_gauges(c);
}

/* ---- results into the caller's arena ---- */

static void fill_authn(const struct entry *e, tg_arena_t *a, struct tg_authn_result *out)
{
    memset(out, 0, sizeof(*out));
    out->res = e->res;
    out->from_grace = e->from_grace;
    out->reason = e->reason ? tg_arena_strndup(a, e->reason, strlen(e->reason)) : NULL;
    if (e->res == TG_KUBE_OK)
        tg_user_copy(a, &out->user, &e->user);
}

static void fill_authz(const struct entry *e, tg_arena_t *a, struct tg_authz_result *out)
{
    memset(out, 0, sizeof(*out));
    out->res = e->res;
    out->from_grace = e->from_grace;
    out->reason = e->reason ? tg_arena_strndup(a, e->reason, strlen(e->reason)) : NULL;
}

/* ---- completion ---- */

static uint64_t ttl_for(const struct tg_authcache *c, enum kind k, enum tg_kube_result r)
{
    if (k == K_AUTHN)
        return (uint64_t)(r == TG_KUBE_OK ? c->o.authn_ttl_ms : c->o.unauthn_ttl_ms);
    return (uint64_t)(r == TG_KUBE_OK ? c->o.allow_ttl_ms : c->o.deny_ttl_ms);
}

static int stale_usable(const struct tg_authcache *c, const struct entry *e, uint64_t now)
{
    return c->o.grace_ms > 0 && e->has_result && e->res == TG_KUBE_OK &&
           now <= e->expires_ms + (uint64_t)c->o.grace_ms;
}

/* Record the backend's answer in `e` (pending -> ready, or dropped from the
 * table on error unless a stale positive answer may be served). */
static void entry_complete(struct tg_authcache *c, struct entry *e, enum tg_kube_result res,
                           const struct tg_user *user, const char *reason)
{
    uint64_t now = now_ms(c);

    e->call = NULL;
    c->st.pending--;
    if (res == TG_KUBE_ERROR) {
        c->st.errors++;
        if (stale_usable(c, e, now)) {
            tg_warn("authcache: API error (%s); serving a stale %s decision within grace",
                    reason ? reason : "unknown",
                    e->kind == K_AUTHN ? "authentication" : "authorization");
            e->from_grace = 1;
            e->state = E_READY; /* expired: the next lookup asks the API again */
            lru_push_front(c, e);
            evict_over_limit(c);
            return;
        }
        entry_clear_result(e);
        e->res = TG_KUBE_ERROR;
        e->reason = tg_strdup(reason);
        e->has_result = 1;
        table_remove(c, e); /* errors are never cached */
        return;
    }
    entry_clear_result(e);
    e->res = res;
    e->from_grace = 0;
    e->has_result = 1;
    e->reason = tg_strdup(reason);
    if (res == TG_KUBE_OK && user)
        e->user_block = tg_user_flat_copy(&e->user, user);
    if (c->o.max_entries == 0) {
        /* caching off: the waiters get the answer, nothing is kept (the
         * LRU would free the entry before deliver() runs) */
        table_remove(c, e);
        return;
    }
    e->expires_ms = now + ttl_for(c, e->kind, res);
    e->state = E_READY;
    lru_push_front(c, e);
    evict_over_limit(c);
}

static void unlink_waiter(struct entry *e, struct tg_pending *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        e->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        e->waiters_tail = w->prev;
    w->prev = w->next = NULL;
    w->e = NULL;
}

static void deliver(struct tg_authcache *c, struct entry *e)
{
    struct tg_pending *w;

    e->refs++;
    while ((w = e->waiters) != NULL) {
        unlink_waiter(e, w);
        if (e->from_grace)
            c->st.grace_served++;
        if (e->kind == K_AUTHN) {
            struct tg_authn_result r;
            fill_authn(e, w->a, &r);
            w->cb.authn(w->arg, &r);
        } else {
            struct tg_authz_result r;
            fill_authz(e, w->a, &r);
            w->cb.authz(w->arg, &r);
        }
    }
    e->refs--;
    if (!e->in_table && e->refs == 0)
        entry_free(e);
}

static void on_authn_done(void *arg, enum tg_kube_result res, const struct tg_user *user,
                          const char *reason)
{
    struct entry *e = arg;
    struct tg_authcache *c = e->c;
    entry_complete(c, e, res, user, reason);
    deliver(c, e);
}

static void on_authz_done(void *arg, enum tg_kube_result res, const char *reason)
{
    struct entry *e = arg;
    struct tg_authcache *c = e->c;
    entry_complete(c, e, res, NULL, reason);
    deliver(c, e);
}

/* ---- lookup ---- */

struct lookup {
    enum kind kind;
    tg_iovec_t token;           /* authn */
    const struct tg_user *user; /* authz */
    const struct tg_authz_attrs *attrs;
};

static void *start_call(struct tg_authcache *c, struct entry *e, const struct lookup *l)
{
    if (l->kind == K_AUTHN)
        return c->be.authenticate(c->be.ctx, l->token, (const char *const *)c->audiences,
                                  c->o.n_audiences, on_authn_done, e);
    return c->be.authorize(c->be.ctx, l->user, l->attrs, on_authz_done, e);
}

/* Find a fresh entry, or the pending one to wait on (joined), or start a
 * call. Returns the entry; *hit is set when it can answer now. */
static struct entry *lookup_or_start(struct tg_authcache *c, const unsigned char key[32],
                                     const struct lookup *l, int *hit)
{
    uint64_t now = now_ms(c);
    struct entry *e = table_find(c, key);

    *hit = 0;
    if (e && e->state == E_PENDING) {
        c->st.coalesced++;
        return e;
    }
    if (e && now < e->expires_ms) {
        /* Move to the front of the LRU. */
        lru_unlink(c, e);
        lru_push_front(c, e);
        c->st.hits++;
        c->st.authn_hits += l->kind == K_AUTHN;
        *hit = 1;
        return e;
    }
    if (e && stale_usable(c, e, now)) {
        lru_unlink(c, e); /* keep the stale answer while refreshing */
    } else if (e) {
        c->st.expired++;
        entry_drop(c, e);
        e = NULL;
    }
    if (!e) {
        e = tg_calloc(1, sizeof(*e));
        memcpy(e->key, key, 32);
        e->c = c;
        e->kind = l->kind;
        table_insert(c, e);
    }
    e->state = E_PENDING;
    e->from_grace = 0;
    c->st.misses++;
    c->st.authn_misses += l->kind == K_AUTHN;
    c->st.pending++;
    update_gauges(c);
    e->call = start_call(c, e, l);
    if (!e->call) { /* could not even start: same as an immediate error */
        entry_complete(c, e, TG_KUBE_ERROR, NULL, "Kubernetes API client unavailable");
        *hit = 1;
    }
    return e;
}

static struct tg_pending *add_waiter(struct entry *e, tg_arena_t *a, void *arg)
{
    struct tg_pending *w = tg_arena_calloc(a, sizeof(*w));
    w->e = e;
    w->a = a;
    w->arg = arg;
    w->prev = e->waiters_tail;
    if (e->waiters_tail)
        e->waiters_tail->next = w;
    else
        e->waiters = w;
    e->waiters_tail = w;
    return w;
}

/* An immediately answered error leaves an entry outside the table. */
static void release_if_orphan(struct tg_authcache *c, struct entry *e)
{
    if (e->from_grace)
        c->st.grace_served++;
    if (!e->in_table && e->refs == 0 && !e->waiters)
        entry_free(e);
}

enum tg_authcache_status tg_authcache_authenticate(struct tg_authcache *c, tg_iovec_t token,
                                                   tg_arena_t *a, struct tg_authn_result *out,
                                                   tg_authn_cb cb, void *arg,
                                                   struct tg_pending **pending)
{
    unsigned char key[32];
    struct lookup l = {.kind = K_AUTHN, .token = token};
    struct entry *e;
    int hit;

    *pending = NULL;
    authn_key(c, token, key);
    e = lookup_or_start(c, key, &l, &hit);
    if (hit) {
        fill_authn(e, a, out);
        release_if_orphan(c, e);
        return TG_AC_DONE;
    }
    *pending = add_waiter(e, a, arg);
    (*pending)->cb.authn = cb;
    return TG_AC_PENDING;
}

enum tg_authcache_status tg_authcache_authorize(struct tg_authcache *c, const struct tg_user *user,
                                                const struct tg_authz_attrs *attrs, tg_arena_t *a,
                                                struct tg_authz_result *out, tg_authz_cb cb,
                                                void *arg, struct tg_pending **pending)
{
    unsigned char key[32];
    struct lookup l = {.kind = K_AUTHZ, .user = user, .attrs = attrs};
    struct entry *e;
    int hit;

    *pending = NULL;
    authz_key(user, attrs, key);
    e = lookup_or_start(c, key, &l, &hit);
    if (hit) {
        fill_authz(e, a, out);
        release_if_orphan(c, e);
        return TG_AC_DONE;
    }
    *pending = add_waiter(e, a, arg);
    (*pending)->cb.authz = cb;
    return TG_AC_PENDING;
}

void tg_pending_cancel(struct tg_pending *p)
{
    struct entry *e;
    if (!p || !p->e)
        return;
    e = p->e;
    unlink_waiter(e, p);
    e->c->st.cancelled++;
    /* The backend call keeps running: its answer will serve the next
     * request with the same key, and the API server already did the work. */
}

/* ---- lifecycle ---- */

struct tg_authcache *tg_authcache_new(const struct tg_authcache_backend *be,
                                      const struct tg_authcache_opts *opts)
{
    struct tg_authcache *c;
    size_t nb = 16;

    if (!be || !be->authenticate || !be->authorize || !be->cancel)
        return NULL;
    c = tg_calloc(1, sizeof(*c));
    c->be = *be;
    c->o = *opts;
    if (!c->o.now_ms)
        c->o.now_ms = mono_ms;
    c->audiences = tg_calloc(opts->n_audiences + 1, sizeof(char *));
    for (size_t i = 0; i < opts->n_audiences; i++)
        c->audiences[i] = tg_strdup(opts->audiences[i]);
    c->o.audiences = (const char *const *)c->audiences;
    while (nb < opts->max_entries && nb < ((size_t)1 << 24))
        nb <<= 1;
    c->nbuckets = nb;
    c->buckets = tg_calloc(nb, sizeof(*c->buckets));
    return c;
}

void tg_authcache_clear(struct tg_authcache *c)
{
    while (c->lru[0].head)
        entry_drop(c, c->lru[0].head);
    while (c->lru[1].head)
        entry_drop(c, c->lru[1].head);
    update_gauges(c);
}

void tg_authcache_free(struct tg_authcache *c)
{
    if (!c)
        return;
    for (size_t b = 0; b < c->nbuckets; b++) {
        struct entry *e = c->buckets[b], *next;
        for (; e; e = next) {
            next = e->hnext;
            if (e->state == E_PENDING && e->call)
                c->be.cancel(c->be.ctx, e->call);
            entry_free(e);
        }
    }
    for (size_t i = 0; i < c->o.n_audiences; i++)
        free(c->audiences[i]);
    free(c->audiences);
    free(c->buckets);
    free(c);
}

const struct tg_authcache_stats *tg_authcache_stats(const struct tg_authcache *c)
{
    return &c->st;
}

/* ---- adapter to the Kubernetes client ---- */

static void *kube_authn(void *ctx, tg_iovec_t token, const char *const *aud, size_t n,
                        tg_kube_authn_cb done, void *arg)
{
    return tg_kube_tokenreview(ctx, token, aud, n, done, arg);
}

static void *kube_authz(void *ctx, const struct tg_user *u, const struct tg_authz_attrs *at,
                        tg_kube_authz_cb done, void *arg)
{
    return tg_kube_sar(ctx, u, at, done, arg);
}

static void kube_cancel(void *ctx, void *call)
{
    (void)ctx;
    tg_kube_call_cancel(call);
}

void tg_authcache_kube_backend(struct tg_authcache_backend *be, struct tg_kube_client *kc)
{
    be->ctx = kc;
    be->authenticate = kube_authn;
    be->authorize = kube_authz;
    be->cancel = kube_cancel;
}
