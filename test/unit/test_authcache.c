/* Unit tests for lib/auth/cache.c with a fake backend and an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/authcache.h"

/* ---- fake backend: calls are parked until the test completes them ---- */

struct fcall {
    int kind; /* 1 authn, 2 authz */
    tg_kube_authn_cb authn;
    tg_kube_authz_cb authz;
    void *arg;
    int cancelled;
    int done;
    char ns[32];
};

struct fake {
    struct fcall calls[64];
    int n;
    int fail_start; /* return NULL from start */
    uint64_t now;
};

static void *fk_authn(void *ctx, tg_iovec_t token, const char *const *aud, size_t naud,
                      tg_kube_authn_cb done, void *arg)
{
    struct fake *f = ctx;
    struct fcall *c;
    if (f->fail_start)
        return NULL;
    assert_true(f->n < 64);
    c = &f->calls[f->n++];
    memset(c, 0, sizeof(*c));
    c->kind = 1;
    c->authn = done;
    c->arg = arg;
    return c;
}

static void *fk_authz(void *ctx, const struct tg_user *u, const struct tg_authz_attrs *at,
                      tg_kube_authz_cb done, void *arg)
{
    struct fake *f = ctx;
    struct fcall *c;
    if (f->fail_start)
        return NULL;
    assert_true(f->n < 64);
    c = &f->calls[f->n++];
    memset(c, 0, sizeof(*c));
    c->kind = 2;
    c->authz = done;
    c->arg = arg;
    snprintf(c->ns, sizeof(c->ns), "%.*s", TG_IOV_FMT(at->namespace_));
    return c;
}

static void fk_cancel(void *ctx, void *call)
{
    ((struct fcall *)call)->cancelled = 1;
}

static uint64_t fk_now(void *arg)
{
    return ((struct fake *)arg)->now;
}

static tg_iovec_t G[] = {TG_IOV_LIT("system:authenticated"), TG_IOV_LIT("team-a")};
static const struct tg_user ALICE = {.name = TG_IOV_LIT("alice"),
                                     .uid = TG_IOV_LIT("1"),
                                     .groups = G,
                                     .n_groups = 2,
                                     .provider = "tokenreview"};

static void complete_authn(struct fcall *c, enum tg_kube_result r)
{
    assert_false(c->done);
    c->done = 1;
    c->authn(c->arg, r, r == TG_KUBE_OK ? &ALICE : NULL, r == TG_KUBE_OK ? NULL : "why");
}

static void complete_authz(struct fcall *c, enum tg_kube_result r)
{
    assert_false(c->done);
    c->done = 1;
    c->authz(c->arg, r, r == TG_KUBE_OK ? "ok" : "no");
}

struct env {
    struct fake f;
    struct tg_authcache *c;
    tg_arena_t a;
};

static struct env *env_new(int max_entries, int grace_ms)
{
    struct env *e = calloc(1, sizeof(*e));
    struct tg_authcache_backend be = {&e->f, fk_authn, fk_authz, fk_cancel};
    struct tg_authcache_opts o;
    static const char *const aud[] = {"tenantgate"};
    tg_authcache_opts_init(&o, NULL);
    o.max_entries = (size_t)max_entries;
    o.grace_ms = grace_ms;
    o.now_ms = fk_now;
    o.clock_arg = &e->f;
    o.audiences = aud;
    o.n_audiences = 1;
    e->f.now = 1000000;
    e->c = tg_authcache_new(&be, &o);
    assert_non_null(e->c);
    tg_arena_init(&e->a, NULL, 0);
    return e;
}

static void env_free(struct env *e)
{
    tg_authcache_free(e->c);
    tg_arena_destroy(&e->a);
    free(e);
}

/* ---- recording callbacks ---- */

struct rec {
    int calls;
    enum tg_kube_result res;
    int from_grace;
    char name[32];
};

static void rec_authn(void *arg, const struct tg_authn_result *r)
{
    struct rec *rc = arg;
    rc->calls++;
    rc->res = r->res;
    rc->from_grace = r->from_grace;
    if (r->res == TG_KUBE_OK)
        snprintf(rc->name, sizeof(rc->name), "%.*s", TG_IOV_FMT(r->user.name));
}

static void rec_authz(void *arg, const struct tg_authz_result *r)
{
    struct rec *rc = arg;
    rc->calls++;
    rc->res = r->res;
    rc->from_grace = r->from_grace;
}

static enum tg_authcache_status authn(struct env *e, const char *tok, struct rec *rc,
                                      struct tg_authn_result *out, struct tg_pending **p)
{
    return tg_authcache_authenticate(e->c, tg_iov_str(tok), &e->a, out, rec_authn, rc, p);
}

static enum tg_authcache_status authz(struct env *e, const char *ns, struct rec *rc,
                                      struct tg_authz_result *out, struct tg_pending **p)
{
    struct tg_authz_attrs at = {.verb = TG_IOV_LIT("get"),
                                .namespace_ = tg_iov_str(ns),
                                .resource = TG_IOV_LIT("pods"),
                                .api_version = TG_IOV_LIT("v1"),
                                .resource_request = 1};
    return tg_authcache_authorize(e->c, &ALICE, &at, &e->a, out, rec_authz, rc, p);
}

/* ---- tests ---- */

static void test_authn_miss_then_hit(void **state)
{
    struct env *e = env_new(100, 0);
    struct rec rc = {0};
    struct tg_authn_result out;
    struct tg_pending *p;

    assert_int_equal(authn(e, "tok", &rc, &out, &p), TG_AC_PENDING);
    assert_non_null(p);
    assert_int_equal(e->f.n, 1);
    assert_int_equal(rc.calls, 0);
    complete_authn(&e->f.calls[0], TG_KUBE_OK);
    assert_int_equal(rc.calls, 1);
    assert_int_equal(rc.res, TG_KUBE_OK);
    assert_string_equal(rc.name, "alice");

    assert_int_equal(authn(e, "tok", &rc, &out, &p), TG_AC_DONE);
    assert_null(p);
    assert_int_equal(out.res, TG_KUBE_OK);
    assert_true(tg_iov_eq_str(out.user.name, "alice"));
    assert_int_equal(out.user.n_groups, 2);
    assert_true(tg_iov_eq_str(out.user.groups[1], "team-a"));
    assert_int_equal(e->f.n, 1);
    assert_int_equal(tg_authcache_stats(e->c)->hits, 1);
    assert_int_equal(tg_authcache_stats(e->c)->misses, 1);
    assert_int_equal(tg_authcache_stats(e->c)->entries, 1);

    /* user stays valid after the cache drops everything */
    tg_authcache_clear(e->c);
    assert_true(tg_iov_eq_str(out.user.uid, "1"));
    assert_int_equal(tg_authcache_stats(e->c)->entries, 0);
    env_free(e);
}

/* The TokenReview share of the counters is kept apart (the authn_* and
 * authz_* metric families are computed from it). */
static void test_stats_by_kind(void **state)
{
    struct env *e = env_new(2, 0);
    struct rec rc = {0};
    struct tg_authn_result aout;
    struct tg_authz_result zout;
    struct tg_pending *p;
    const struct tg_authcache_stats *st = tg_authcache_stats(e->c);

    assert_int_equal(authn(e, "tok", &rc, &aout, &p), TG_AC_PENDING);
    complete_authn(&e->f.calls[0], TG_KUBE_OK);
    assert_int_equal(authn(e, "tok", &rc, &aout, &p), TG_AC_DONE);
    assert_int_equal(authz(e, "alpha", &rc, &zout, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[1], TG_KUBE_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(authz(e, "alpha", &rc, &zout, &p), TG_AC_DONE);
    assert_int_equal(st->hits, 4);
    assert_int_equal(st->authn_hits, 1);
    assert_int_equal(st->misses, 2);
    assert_int_equal(st->authn_misses, 1);
    /* a third entry evicts the least recently used: the TokenReview */
    assert_int_equal(authz(e, "beta", &rc, &zout, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[2], TG_KUBE_OK);
    assert_int_equal(st->evictions, 1);
    assert_int_equal(st->authn_evictions, 1);
    env_free(e);
}

/* TTL boundary: hit just before, miss at expiry. */
static void check_ttl_authn(enum tg_kube_result r, uint64_t ttl)
{
    struct env *e = env_new(100, 0);
    struct rec rc = {0};
    struct tg_authn_result out;
    struct tg_pending *p;

    assert_int_equal(authn(e, "t", &rc, &out, &p), TG_AC_PENDING);
    complete_authn(&e->f.calls[0], r);
    assert_int_equal(rc.res, r);
    e->f.now += ttl - 1;
    assert_int_equal(authn(e, "t", &rc, &out, &p), TG_AC_DONE);
    assert_int_equal(out.res, r);
    e->f.now += 1;
    assert_int_equal(authn(e, "t", &rc, &out, &p), TG_AC_PENDING);
    assert_int_equal(e->f.n, 2);
    assert_int_equal(tg_authcache_stats(e->c)->expired, 1);
    complete_authn(&e->f.calls[1], r);
    env_free(e);
}

static void check_ttl_authz(enum tg_kube_result r, uint64_t ttl)
{
    struct env *e = env_new(100, 0);
    struct rec rc = {0};
    struct tg_authz_result out;
    struct tg_pending *p;

    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[0], r);
    e->f.now += ttl - 1;
    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_DONE);
    assert_int_equal(out.res, r);
    e->f.now += 1;
    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[1], r);
    env_free(e);
}

static void test_ttls(void **state)
{
    check_ttl_authn(TG_KUBE_OK, 120000);
    check_ttl_authn(TG_KUBE_DENIED, 30000);
    check_ttl_authz(TG_KUBE_OK, 300000);
    check_ttl_authz(TG_KUBE_DENIED, 30000);
}

static void test_errors_not_cached(void **state)
{
    struct env *e = env_new(100, 0);
    struct rec rc = {0};
    struct tg_authn_result out;
    struct tg_pending *p;

    assert_int_equal(authn(e, "t", &rc, &out, &p), TG_AC_PENDING);
    complete_authn(&e->f.calls[0], TG_KUBE_ERROR);
    assert_int_equal(rc.res, TG_KUBE_ERROR);
    assert_int_equal(authn(e, "t", &rc, &out, &p), TG_AC_PENDING);
    assert_int_equal(e->f.n, 2);
    complete_authn(&e->f.calls[1], TG_KUBE_OK);
    assert_int_equal(rc.res, TG_KUBE_OK);
    assert_int_equal(tg_authcache_stats(e->c)->errors, 1);
    env_free(e);
}

static void test_coalescing_100(void **state)
{
    struct env *e = env_new(100, 0);
    struct rec rc[100];
    struct tg_authn_result out;
    struct tg_authz_result zout;
    struct tg_pending *p;

    memset(rc, 0, sizeof(rc));
    for (int i = 0; i < 100; i++)
        assert_int_equal(authn(e, "same-token", &rc[i], &out, &p), TG_AC_PENDING);
    assert_int_equal(e->f.n, 1);
    assert_int_equal(tg_authcache_stats(e->c)->coalesced, 99);
    complete_authn(&e->f.calls[0], TG_KUBE_OK);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(rc[i].calls, 1);
        assert_string_equal(rc[i].name, "alice");
    }
    memset(rc, 0, sizeof(rc));
    for (int i = 0; i < 100; i++)
        assert_int_equal(authz(e, "alpha", &rc[i], &zout, &p), TG_AC_PENDING);
    assert_int_equal(e->f.n, 2);
    complete_authz(&e->f.calls[1], TG_KUBE_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rc[i].res, TG_KUBE_OK);
    assert_int_equal(tg_authcache_stats(e->c)->misses, 2);
    assert_int_equal(tg_authcache_stats(e->c)->pending, 0);
    env_free(e);
}

static void test_cancel(void **state)
{
    struct env *e = env_new(100, 0);
    struct rec rc[3];
    struct tg_authn_result out;
    struct tg_pending *p[3];

    memset(rc, 0, sizeof(rc));
    for (int i = 0; i < 3; i++)
        assert_int_equal(authn(e, "t", &rc[i], &out, &p[i]), TG_AC_PENDING);
    tg_pending_cancel(p[1]);
    complete_authn(&e->f.calls[0], TG_KUBE_OK);
    assert_int_equal(rc[0].calls, 1);
    assert_int_equal(rc[1].calls, 0);
    assert_int_equal(rc[2].calls, 1);

    /* everyone gone: the call still completes and fills the cache */
    memset(rc, 0, sizeof(rc));
    assert_int_equal(authn(e, "u", &rc[0], &out, &p[0]), TG_AC_PENDING);
    tg_pending_cancel(p[0]);
    complete_authn(&e->f.calls[1], TG_KUBE_OK);
    assert_int_equal(rc[0].calls, 0);
    assert_int_equal(authn(e, "u", &rc[0], &out, &p[0]), TG_AC_DONE);
    assert_int_equal(tg_authcache_stats(e->c)->cancelled, 2);
    env_free(e);
}

static void test_lru_eviction(void **state)
{
    struct env *e = env_new(3, 0);
    struct rec rc = {0};
    struct tg_authz_result out;
    struct tg_pending *p;
    const char *ns[] = {"a", "b", "c", "d"};

    for (int i = 0; i < 3; i++) {
        assert_int_equal(authz(e, ns[i], &rc, &out, &p), TG_AC_PENDING);
        complete_authz(&e->f.calls[e->f.n - 1], TG_KUBE_OK);
    }
    assert_int_equal(authz(e, "a", &rc, &out, &p), TG_AC_DONE); /* a is now most recent */
    assert_int_equal(authz(e, "d", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[e->f.n - 1], TG_KUBE_OK);
    assert_int_equal(tg_authcache_stats(e->c)->evictions, 1);
    assert_int_equal(tg_authcache_stats(e->c)->entries, 3);
    assert_int_equal(authz(e, "a", &rc, &out, &p), TG_AC_DONE);
    assert_int_equal(authz(e, "c", &rc, &out, &p), TG_AC_DONE);
    assert_int_equal(authz(e, "d", &rc, &out, &p), TG_AC_DONE);
    assert_int_equal(authz(e, "b", &rc, &out, &p), TG_AC_PENDING); /* evicted */
    complete_authz(&e->f.calls[e->f.n - 1], TG_KUBE_OK);
    env_free(e);
}

/* A flood of answers anyone can cause (denials, bad tokens) only evicts
 * other negative answers, never the positive ones. */
static void test_negative_flood_keeps_positive(void **state)
{
    struct env *e = env_new(4, 0);
    struct rec rc = {0};
    struct tg_authz_result out;
    struct tg_pending *p;
    char ns[16];

    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[e->f.n - 1], TG_KUBE_OK);
    assert_int_equal(authz(e, "beta", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[e->f.n - 1], TG_KUBE_OK);
    for (int i = 0; i < 50; i++) {
        snprintf(ns, sizeof(ns), "flood-%d", i);
        assert_int_equal(authz(e, ns, &rc, &out, &p), TG_AC_PENDING);
        complete_authz(&e->f.calls[e->f.n - 1], TG_KUBE_DENIED);
    }
    assert_int_equal(tg_authcache_stats(e->c)->entries, 4);
    assert_int_equal(tg_authcache_stats(e->c)->evictions, 48);
    /* both positive answers survived; the newest denials too */
    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_DONE);
    assert_int_equal(authz(e, "beta", &rc, &out, &p), TG_AC_DONE);
    assert_int_equal(authz(e, "flood-49", &rc, &out, &p), TG_AC_DONE);
    assert_int_equal(out.res, TG_KUBE_DENIED);
    assert_int_equal(authz(e, "flood-0", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[e->f.n - 1], TG_KUBE_DENIED);
    /* with no negative answer left to evict, positive ones go in LRU order */
    tg_authcache_clear(e->c);
    for (int i = 0; i < 5; i++) {
        snprintf(ns, sizeof(ns), "ok-%d", i);
        assert_int_equal(authz(e, ns, &rc, &out, &p), TG_AC_PENDING);
        complete_authz(&e->f.calls[e->f.n - 1], TG_KUBE_OK);
    }
    assert_int_equal(authz(e, "ok-0", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[e->f.n - 1], TG_KUBE_OK);
    env_free(e);
}

static void test_grace(void **state)
{
    struct env *e = env_new(100, 10000);
    struct rec rc = {0};
    struct tg_authz_result out;
    struct tg_authn_result aout;
    struct tg_pending *p;

    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[0], TG_KUBE_OK);
    e->f.now += 300000 + 5000; /* expired, within grace */
    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[1], TG_KUBE_ERROR);
    assert_int_equal(rc.res, TG_KUBE_OK);
    assert_int_equal(rc.from_grace, 1);
    assert_int_equal(tg_authcache_stats(e->c)->grace_served, 1);
    /* still expired: the next request asks again; recovery refreshes it */
    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[2], TG_KUBE_OK);
    assert_int_equal(rc.from_grace, 0);
    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_DONE);

    /* beyond TTL + grace: the error goes through */
    e->f.now += 300000 + 10001;
    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[3], TG_KUBE_ERROR);
    assert_int_equal(rc.res, TG_KUBE_ERROR);

    /* negative answers are never served in grace */
    assert_int_equal(authn(e, "bad", &rc, &aout, &p), TG_AC_PENDING);
    complete_authn(&e->f.calls[4], TG_KUBE_DENIED);
    e->f.now += 30000 + 1;
    assert_int_equal(authn(e, "bad", &rc, &aout, &p), TG_AC_PENDING);
    complete_authn(&e->f.calls[5], TG_KUBE_ERROR);
    assert_int_equal(rc.res, TG_KUBE_ERROR);

    /* backend cannot even start: grace applies synchronously */
    assert_int_equal(authn(e, "good", &rc, &aout, &p), TG_AC_PENDING);
    complete_authn(&e->f.calls[6], TG_KUBE_OK);
    e->f.now += 120000 + 1;
    e->f.fail_start = 1;
    assert_int_equal(authn(e, "good", &rc, &aout, &p), TG_AC_DONE);
    assert_int_equal(aout.res, TG_KUBE_OK);
    assert_int_equal(aout.from_grace, 1);
    assert_true(tg_iov_eq_str(aout.user.name, "alice"));
    env_free(e);
}

/* maxEntries 0 (docs/config.md: "disables caching"): every request asks,
 * identical concurrent ones still share one call; the answer reaches every
 * waiter although nothing keeps it (ASan: no use after free). */
static void test_caching_off(void **state)
{
    struct env *e = env_new(0, 0);
    struct rec r1 = {0}, r2 = {0};
    struct tg_authn_result out;
    struct tg_pending *p;

    assert_int_equal(authn(e, "t", &r1, &out, &p), TG_AC_PENDING);
    assert_int_equal(authn(e, "t", &r2, &out, &p), TG_AC_PENDING);
    assert_int_equal(e->f.n, 1);
    complete_authn(&e->f.calls[0], TG_KUBE_OK);
    assert_int_equal(r1.calls, 1);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.res, TG_KUBE_OK);
    assert_string_equal(r2.name, "alice");
    assert_int_equal(tg_authcache_stats(e->c)->entries, 0);
    assert_int_equal(authn(e, "t", &r1, &out, &p), TG_AC_PENDING);
    assert_int_equal(e->f.n, 2);
    complete_authn(&e->f.calls[1], TG_KUBE_DENIED);
    assert_int_equal(r1.res, TG_KUBE_DENIED);
    assert_int_equal(tg_authcache_stats(e->c)->evictions, 0);
    env_free(e);
}

static void test_backend_unavailable(void **state)
{
    struct env *e = env_new(100, 0);
    struct rec rc = {0};
    struct tg_authn_result out;
    struct tg_pending *p;
    e->f.fail_start = 1;
    assert_int_equal(authn(e, "t", &rc, &out, &p), TG_AC_DONE);
    assert_int_equal(out.res, TG_KUBE_ERROR);
    assert_null(p);
    assert_int_equal(tg_authcache_stats(e->c)->entries, 0);
    e->f.fail_start = 0;
    assert_int_equal(authn(e, "t", &rc, &out, &p), TG_AC_PENDING);
    complete_authn(&e->f.calls[0], TG_KUBE_OK);
    env_free(e);
}

static void test_canonical_key(void **state)
{
    struct env *e = env_new(100, 0);
    struct rec rc = {0};
    struct tg_authz_result out;
    struct tg_pending *p;
    tg_iovec_t g2[] = {TG_IOV_LIT("team-a"), TG_IOV_LIT("system:authenticated")};
    struct tg_user bob = ALICE;
    struct tg_authz_attrs at = {.verb = TG_IOV_LIT("get"),
                                .namespace_ = TG_IOV_LIT("alpha"),
                                .resource = TG_IOV_LIT("pods"),
                                .api_version = TG_IOV_LIT("v1"),
                                .resource_request = 1};

    assert_int_equal(authz(e, "alpha", &rc, &out, &p), TG_AC_PENDING);
    complete_authz(&e->f.calls[0], TG_KUBE_OK);
    bob.groups = g2; /* same set, other order */
    assert_int_equal(tg_authcache_authorize(e->c, &bob, &at, &e->a, &out, rec_authz, &rc, &p),
                     TG_AC_DONE);
    bob.uid = TG_IOV_LIT("2");
    assert_int_equal(tg_authcache_authorize(e->c, &bob, &at, &e->a, &out, rec_authz, &rc, &p),
                     TG_AC_PENDING);
    complete_authz(&e->f.calls[1], TG_KUBE_DENIED);
    at.verb = TG_IOV_LIT("list");
    assert_int_equal(tg_authcache_authorize(e->c, &bob, &at, &e->a, &out, rec_authz, &rc, &p),
                     TG_AC_PENDING);
    complete_authz(&e->f.calls[2], TG_KUBE_DENIED);
    /* the same token with another audience set is another key: here the
     * token "alpha" in authn does not collide with namespace "alpha" */
    env_free(e);
}

/* A callback that cancels a later waiter and starts a new lookup. */
struct reenter {
    struct env *e;
    struct tg_pending *victim;
    int calls;
    enum tg_authcache_status inner;
};

static void reenter_cb(void *arg, const struct tg_authn_result *r)
{
    struct reenter *re = arg;
    struct tg_authn_result out;
    struct tg_pending *p;
    struct rec rc = {0};
    re->calls++;
    if (re->victim) {
        tg_pending_cancel(re->victim);
        re->victim = NULL;
        re->inner = authn(re->e, "t", &rc, &out, &p); /* ready now: a hit */
        tg_authcache_clear(re->e->c);                 /* and pull the entry from under the loop */
    }
}

static void test_reentrant_callback(void **state)
{
    struct env *e = env_new(100, 0);
    struct reenter re = {.e = e};
    struct rec rc = {0};
    struct tg_authn_result out;
    struct tg_pending *p1, *p2;

    assert_int_equal(
        tg_authcache_authenticate(e->c, TG_IOV_LIT("t"), &e->a, &out, reenter_cb, &re, &p1),
        TG_AC_PENDING);
    assert_int_equal(authn(e, "t", &rc, &out, &p2), TG_AC_PENDING);
    re.victim = p2;
    complete_authn(&e->f.calls[0], TG_KUBE_OK);
    assert_int_equal(re.calls, 1);
    assert_int_equal(re.inner, TG_AC_DONE);
    assert_int_equal(rc.calls, 0);
    env_free(e);
}

static void test_free_cancels_backend(void **state)
{
    struct env *e = env_new(100, 0);
    struct rec rc = {0};
    struct tg_authn_result out;
    struct tg_pending *p;
    assert_int_equal(authn(e, "t", &rc, &out, &p), TG_AC_PENDING);
    tg_authcache_free(e->c);
    e->c = NULL;
    assert_int_equal(e->f.calls[0].cancelled, 1);
    assert_int_equal(rc.calls, 0);
    tg_arena_destroy(&e->a);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authn_miss_then_hit),
        cmocka_unit_test(test_stats_by_kind),
        cmocka_unit_test(test_ttls),
        cmocka_unit_test(test_errors_not_cached),
        cmocka_unit_test(test_coalescing_100),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_negative_flood_keeps_positive),
        cmocka_unit_test(test_grace),
        cmocka_unit_test(test_caching_off),
        cmocka_unit_test(test_backend_unavailable),
        cmocka_unit_test(test_canonical_key),
        cmocka_unit_test(test_reentrant_callback),
        cmocka_unit_test(test_free_cancels_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
