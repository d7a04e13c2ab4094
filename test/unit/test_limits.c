/* Unit tests for lib/limits.c: token buckets, in-flight bounds, FIFO queue
 * order, several tenant values per request (all-or-nothing, no deadlock, no
 * overtaking), leave exactly once, drain, sweep, and the config lookups.
 * The clock is a number the test moves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tenantgate/limits.h"
#include "../../lib/config/config-int.h"

#define SEC 1000000000ULL

/* ---- a request as the tests see it ---- */

struct req {
    struct tg_limit_ticket *tk;
    int granted; /* on_grant calls */
    int order;   /* position among grants, from 1 */
};

static int grants;

static void on_grant(struct tg_limit_ticket *tk, void *arg)
{
    struct req *r = arg;
    assert_int_equal(tk->state, TG_TICKET_HOLDING);
    r->granted++;
    r->order = ++grants;
}

static struct tg_limit_values lim(int inflight, int queued, double rate, int burst)
{
    struct tg_limit_values v;
    memset(&v, 0, sizeof(v));
    v.max_inflight = inflight;
    v.max_queued = queued;
    v.rate = rate;
    v.burst = burst;
    v.queue_timeout_ms = 10000;
    return v;
}

/* Admit a request for the space-separated tenant values in `names`, all
 * with limits v. */
static enum tg_limit_verdict admit(struct tg_limits *l, struct req *r, const char *names,
                                   struct tg_limit_values v, uint64_t now,
                                   struct tg_limit_refusal *why)
{
    tg_iovec_t t[8];
    struct tg_limit_values vals[8];
    struct tg_limit_refusal dummy;
    size_t n = 0;
    const char *p = names;

    while (*p) {
        size_t len = strcspn(p, " ");
        t[n] = tg_iov(p, len);
        vals[n++] = v;
        p += len;
        while (*p == ' ')
            p++;
    }
    memset(r, 0, sizeof(*r));
    r->tk = calloc(1, TG_LIMIT_TICKET_SIZE(n));
    r->tk->on_grant = on_grant;
    r->tk->arg = r;
    return tg_limits_admit(l, r->tk, t, vals, n, now, why ? why : &dummy);
}

static void done(struct tg_limits *l, struct req *r, uint64_t now)
{
    tg_limits_leave(l, r->tk, now);
    free(r->tk);
    r->tk = NULL;
}

static struct tg_limit_tenant_stats stats(struct tg_limits *l, const char *t, uint64_t now)
{
    struct tg_limit_tenant_stats s;
    tg_limits_stats(l, tg_iov_str(t), now, &s);
    return s;
}

/* ---- token bucket ---- */

static void test_bucket_burst_and_refill(void **state)
{
    struct tg_limits *l = tg_limits_new();
    struct tg_limit_values v = lim(0, 0, 2.0, 4); /* 2/s, bucket of 4 */
    struct tg_limit_refusal why;
    struct req r[8];
    uint64_t now = 100 * SEC;
    int i;

    /* a new bucket is full: the burst goes through at once */
    for (i = 0; i < 4; i++) {
        assert_int_equal(admit(l, &r[i], "a", v, now, NULL), TG_LIMIT_GRANTED);
        done(l, &r[i], now);
    }
    assert_int_equal(admit(l, &r[4], "a", v, now, &why), TG_LIMIT_RATE);
    assert_int_equal(why.index, 0);
    assert_true(why.retry_after_s > 0.49 && why.retry_after_s < 0.51); /* one token: 1/2 s */
    done(l, &r[4], now);
    /* 0.25 s later half a token: still refused, the wait shrinks */
    assert_int_equal(admit(l, &r[4], "a", v, now + SEC / 4, &why), TG_LIMIT_RATE);
    assert_true(why.retry_after_s > 0.24 && why.retry_after_s < 0.26);
    done(l, &r[4], now);
    /* 0.5 s: one token */
    assert_int_equal(admit(l, &r[4], "a", v, now + SEC / 2, NULL), TG_LIMIT_GRANTED);
    done(l, &r[4], now + SEC / 2);
    assert_int_equal(admit(l, &r[5], "a", v, now + SEC / 2, NULL), TG_LIMIT_RATE);
    done(l, &r[5], now);
    /* a long pause refills to the burst, not beyond */
    now += 3600 * SEC;
    assert_true(stats(l, "a", now).tokens == 4.0);
    for (i = 0; i < 4; i++) {
        assert_int_equal(admit(l, &r[i], "a", v, now, NULL), TG_LIMIT_GRANTED);
        done(l, &r[i], now);
    }
    assert_int_equal(admit(l, &r[4], "a", v, now, NULL), TG_LIMIT_RATE);
    done(l, &r[4], now);
    /* another tenant has its own bucket */
    assert_int_equal(admit(l, &r[5], "b", v, now, NULL), TG_LIMIT_GRANTED);
    done(l, &r[5], now);
    /* rate 0: no bucket at all */
    for (i = 0; i < 100; i++) {
        assert_int_equal(admit(l, &r[0], "c", lim(0, 0, 0, 1), now, NULL), TG_LIMIT_GRANTED);
        done(l, &r[0], now);
    }
    tg_limits_free(l);
}

static void test_bucket_fractional_rate(void **state)
{
    struct tg_limits *l = tg_limits_new();
    struct tg_limit_values v = lim(0, 0, 0.5, 1); /* one per two seconds */
    struct tg_limit_refusal why;
    struct req r;
    uint64_t now = 10 * SEC;
    int ok = 0, i;

    /* over 20 s at 10 tries a second: the first (full bucket) + one per 2 s */
    for (i = 0; i <= 200; i++) {
        if (admit(l, &r, "a", v, now + (uint64_t)i * SEC / 10, &why) == TG_LIMIT_GRANTED)
            ok++;
        else
            assert_true(why.retry_after_s > 0 && why.retry_after_s <= 2.0);
        done(l, &r, now);
    }
    assert_int_equal(ok, 11);
    tg_limits_free(l);
}

/* ---- in flight and the queue ---- */

static void test_inflight_and_queue_order(void **state)
{
    struct tg_limits *l = tg_limits_new();
    struct tg_limit_values v = lim(2, 2, 0, 1);
    struct tg_limit_refusal why;
    struct req r[10];
    uint64_t now = SEC;
    int i, granted = 0, queued = 0, full = 0;

    grants = 0;
    /* 10 at once with 2 in flight + 2 queued: 2 run, 2 wait, 6 refused */
    for (i = 0; i < 10; i++) {
        enum tg_limit_verdict x = admit(l, &r[i], "a", v, now, &why);
        granted += x == TG_LIMIT_GRANTED;
        queued += x == TG_LIMIT_QUEUED;
        if (x == TG_LIMIT_QUEUE_FULL) {
            full++;
            assert_int_equal(why.index, 0);
        }
    }
    assert_int_equal(granted, 2);
    assert_int_equal(queued, 2);
    assert_int_equal(full, 6);
    assert_int_equal(stats(l, "a", now).inflight, 2);
    assert_int_equal(stats(l, "a", now).queued, 2);
    assert_int_equal(r[2].tk->state, TG_TICKET_QUEUED);
    /* the refused ones hold nothing: leaving does nothing */
    for (i = 4; i < 10; i++) {
        assert_int_equal(r[i].tk->state, TG_TICKET_NEW);
        done(l, &r[i], now);
    }
    /* a slot frees: the first queued one gets it, then the second */
    done(l, &r[1], now + SEC);
    assert_int_equal(r[2].granted, 1);
    assert_int_equal(r[3].granted, 0);
    assert_int_equal(stats(l, "a", now).queued, 1);
    done(l, &r[0], now + 2 * SEC);
    assert_int_equal(r[3].granted, 1);
    assert_true(r[2].order < r[3].order);
    assert_int_equal(stats(l, "a", now).inflight, 2);
    assert_int_equal(stats(l, "a", now).queued, 0);
    /* the queue-full wait estimate follows how long slots were held */
    assert_int_equal(admit(l, &r[4], "a", lim(2, 0, 0, 1), now, &why), TG_LIMIT_QUEUE_FULL);
    assert_true(why.retry_after_s > 0.1 && why.retry_after_s < 1.0);
    done(l, &r[4], now);
    done(l, &r[2], now);
    done(l, &r[3], now);
    assert_int_equal(stats(l, "a", now).inflight, 0);
    tg_limits_free(l);
}

static void test_queue_fifo_long(void **state)
{
    struct tg_limits *l = tg_limits_new();
    struct tg_limit_values v = lim(1, 100, 0, 1);
    struct req r[50];
    int i;

    grants = 0;
    assert_int_equal(admit(l, &r[0], "a", v, 1, NULL), TG_LIMIT_GRANTED);
    for (i = 1; i < 50; i++)
        assert_int_equal(admit(l, &r[i], "a", v, 1, NULL), TG_LIMIT_QUEUED);
    /* a waiter in the middle goes away (client gone, timeout) */
    assert_int_equal(tg_limits_leave(l, r[10].tk, 2), TG_TICKET_QUEUED);
    assert_int_equal(r[10].tk->state, TG_TICKET_DONE);
    for (i = 0; i < 50; i++) {
        if (i == 10)
            continue;
        done(l, &r[i], 3);
    }
    /* everyone else was granted, in arrival order */
    for (i = 2; i < 50; i++)
        if (i != 10 && i != 11)
            assert_true(r[i].order == r[i - 1].order + 1);
    assert_true(r[11].order == r[9].order + 1);
    assert_int_equal(r[10].granted, 0);
    free(r[10].tk);
    assert_int_equal(stats(l, "a", 3).queued, 0);
    assert_int_equal(stats(l, "a", 3).inflight, 0);
    tg_limits_free(l);
}

static void test_leave_exactly_once(void **state)
{
    struct tg_limits *l = tg_limits_new();
    struct tg_limit_values v = lim(1, 1, 0, 1);
    struct req a, b;

    assert_int_equal(admit(l, &a, "t", v, 1, NULL), TG_LIMIT_GRANTED);
    assert_int_equal(admit(l, &b, "t", v, 1, NULL), TG_LIMIT_QUEUED);
    assert_int_equal(tg_limits_leave(l, a.tk, 2), TG_TICKET_HOLDING);
    assert_int_equal(b.granted, 1);
    /* a second leave gives nothing back twice */
    assert_int_equal(tg_limits_leave(l, a.tk, 2), TG_TICKET_DONE);
    assert_int_equal(stats(l, "t", 2).inflight, 1);
    done(l, &a, 2);
    done(l, &b, 2);
    assert_int_equal(stats(l, "t", 2).inflight, 0);
    tg_limits_free(l);
}

/* ---- several tenant values ---- */

static void test_multi_all_or_nothing(void **state)
{
    struct tg_limits *l = tg_limits_new();
    struct tg_limit_refusal why;
    struct req r[4];

    /* rate: no token in b means none is taken from a either */
    assert_int_equal(admit(l, &r[0], "b", lim(0, 0, 1, 1), 1, NULL), TG_LIMIT_GRANTED);
    done(l, &r[0], 1);
    assert_int_equal(admit(l, &r[1], "a b", lim(0, 0, 1, 1), 1, &why), TG_LIMIT_RATE);
    assert_int_equal(why.index, 1);
    done(l, &r[1], 1);
    assert_true(stats(l, "a", 1).tokens == 1.0);
    /* slots: a full value with a full queue refuses, naming that value */
    assert_int_equal(admit(l, &r[0], "x", lim(1, 0, 0, 1), 1, NULL), TG_LIMIT_GRANTED);
    assert_int_equal(admit(l, &r[1], "w x", lim(1, 0, 0, 1), 1, &why), TG_LIMIT_QUEUE_FULL);
    assert_int_equal(why.index, 1);
    assert_int_equal(stats(l, "w", 1).inflight, 0);
    done(l, &r[1], 1);
    done(l, &r[0], 1);
    /* an unbounded value never queues and never holds a request back */
    assert_int_equal(admit(l, &r[0], "p q", lim(0, 0, 0, 1), 1, NULL), TG_LIMIT_GRANTED);
    assert_int_equal(stats(l, "p", 1).inflight, 1);
    assert_int_equal(stats(l, "q", 1).inflight, 1);
    done(l, &r[0], 1);
    assert_int_equal(stats(l, "q", 1).inflight, 0);
    tg_limits_free(l);
}

static void test_multi_waits_for_all(void **state)
{
    struct tg_limits *l = tg_limits_new();
    struct tg_limit_values v = lim(1, 10, 0, 1);
    struct req a1, b1, ab, a2, b2;

    grants = 0;
    assert_int_equal(admit(l, &a1, "a", v, 1, NULL), TG_LIMIT_GRANTED);
    assert_int_equal(admit(l, &b1, "b", v, 1, NULL), TG_LIMIT_GRANTED);
    /* {a, b} waits in both queues */
    assert_int_equal(admit(l, &ab, "a b", v, 1, NULL), TG_LIMIT_QUEUED);
    assert_int_equal(stats(l, "a", 1).queued, 1);
    assert_int_equal(stats(l, "b", 1).queued, 1);
    /* a frees up: {a, b} still waits for b and holds nothing */
    done(l, &a1, 2);
    assert_int_equal(ab.granted, 0);
    assert_int_equal(stats(l, "a", 2).inflight, 0);
    /* a later request of a alone waits behind it (no overtaking) */
    assert_int_equal(admit(l, &a2, "a", v, 2, NULL), TG_LIMIT_QUEUED);
    assert_int_equal(admit(l, &b2, "b", v, 2, NULL), TG_LIMIT_QUEUED);
    /* b frees up: {a, b} takes both slots at once, the others keep waiting */
    done(l, &b1, 3);
    assert_int_equal(ab.granted, 1);
    assert_int_equal(stats(l, "a", 3).inflight, 1);
    assert_int_equal(stats(l, "b", 3).inflight, 1);
    assert_int_equal(a2.granted + b2.granted, 0);
    /* and when it is done, both queues move on */
    done(l, &ab, 4);
    assert_int_equal(a2.granted, 1);
    assert_int_equal(b2.granted, 1);
    done(l, &a2, 5);
    done(l, &b2, 5);
    tg_limits_free(l);
}

/* Requests over overlapping pairs of values, in a cycle: no deadlock (every
 * request is granted once the ones before it finish) and FIFO per value. */
static void test_multi_no_deadlock(void **state)
{
    static const char *const pairs[] = {"a b", "b c", "c a", "a", "b c", "c", "a b", "b"};
    struct tg_limits *l = tg_limits_new();
    struct tg_limit_values v = lim(1, 100, 0, 1);
    struct req r[8 * 8];
    int n = 0, round, i, left;

    grants = 0;
    for (round = 0; round < 8; round++)
        for (i = 0; i < 8; i++)
            assert_int_not_equal(admit(l, &r[n++], pairs[i], v, 1, NULL), TG_LIMIT_QUEUE_FULL);
    /* finish whatever holds slots until everything ran */
    do {
        left = 0;
        for (i = 0; i < n; i++) {
            if (r[i].tk == NULL)
                continue;
            left++;
            if (r[i].tk->state == TG_TICKET_HOLDING)
                done(l, &r[i], 2);
        }
    } while (left > 0);
    /* two requests sharing a value were granted in arrival order */
    for (i = 0; i < n; i++) {
        int j;
        for (j = i + 1; j < n; j++) {
            const char *p = pairs[i % 8], *q = pairs[j % 8];
            int share = (strchr(p, 'a') && strchr(q, 'a')) || (strchr(p, 'b') && strchr(q, 'b')) ||
                        (strchr(p, 'c') && strchr(q, 'c'));
            if (share)
                assert_true(r[i].order == 0 || r[i].order < r[j].order);
        }
    }
    assert_int_equal(
        stats(l, "a", 2).inflight + stats(l, "b", 2).inflight + stats(l, "c", 2).inflight, 0);
    tg_limits_free(l);
}

/* ---- reload, drain, sweep ---- */

static void test_reload_raises_bound(void **state)
{
    struct tg_limits *l = tg_limits_new();
    struct req r[4];

    assert_int_equal(admit(l, &r[0], "a", lim(1, 5, 0, 1), 1, NULL), TG_LIMIT_GRANTED);
    assert_int_equal(admit(l, &r[1], "a", lim(1, 5, 0, 1), 1, NULL), TG_LIMIT_QUEUED);
    /* the next request brings a config with maxInflight 3: the waiter goes
     * at once, and so does the newcomer */
    assert_int_equal(admit(l, &r[2], "a", lim(3, 5, 0, 1), 2, NULL), TG_LIMIT_GRANTED);
    assert_int_equal(r[1].granted, 1);
    assert_int_equal(stats(l, "a", 2).inflight, 3);
    /* lowered to 1: nobody is cut off, a new one queues */
    assert_int_equal(admit(l, &r[3], "a", lim(1, 5, 0, 1), 3, NULL), TG_LIMIT_QUEUED);
    done(l, &r[0], 4);
    done(l, &r[1], 4);
    assert_int_equal(r[3].granted, 0);
    done(l, &r[2], 4);
    assert_int_equal(r[3].granted, 1);
    done(l, &r[3], 5);
    tg_limits_free(l);
}

static int drained[8], n_drained;
static struct tg_limits *drain_l;
static struct req drain_r[4];

static void on_drain(struct tg_limit_ticket *tk, void *arg)
{
    struct req *r = tk->arg;
    assert_ptr_equal(arg, drain_r);
    assert_int_equal(tk->state, TG_TICKET_QUEUED);
    drained[n_drained++] = (int)(r - drain_r);
    if (n_drained == 2) /* the caller leaves it (else the drain does) */
        assert_int_equal(tg_limits_leave(drain_l, tk, 1), TG_TICKET_QUEUED);
}

static void test_drain(void **state)
{
    struct tg_limits *l = drain_l = tg_limits_new();
    struct tg_limit_values v = lim(1, 5, 0, 1);
    struct req *r = drain_r, late;
    int i;

    n_drained = 0;
    assert_int_equal(admit(l, &r[0], "a", v, 1, NULL), TG_LIMIT_GRANTED);
    for (i = 1; i < 4; i++)
        assert_int_equal(admit(l, &r[i], "a", v, 1, NULL), TG_LIMIT_QUEUED);
    tg_limits_drain(l, on_drain, drain_r);
    assert_int_equal(n_drained, 3);
    for (i = 0; i < 3; i++)
        assert_int_equal(drained[i], i + 1); /* arrival order */
    for (i = 1; i < 4; i++)
        assert_int_equal(r[i].tk->state, TG_TICKET_DONE);
    assert_int_equal(stats(l, "a", 1).queued, 0);
    /* one arriving now queues but is never granted: the caller refuses it */
    assert_int_equal(admit(l, &late, "a", v, 1, NULL), TG_LIMIT_QUEUED);
    done(l, &r[0], 2);
    assert_int_equal(late.granted, 0);
    done(l, &late, 2);
    for (i = 1; i < 4; i++) {
        assert_int_equal(r[i].granted, 0);
        done(l, &r[i], 2); /* leave after the drain: nothing happens */
    }
    assert_int_equal(stats(l, "a", 2).inflight, 0);
    tg_limits_free(l);
}

static void test_sweep(void **state)
{
    struct tg_limits *l = tg_limits_new();
    struct req r[3];
    char name[16];
    int i;

    for (i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        assert_int_equal(admit(l, &r[0], name, lim(0, 0, 1, 2), 1, NULL), TG_LIMIT_GRANTED);
        done(l, &r[0], 1);
    }
    assert_int_equal(admit(l, &r[1], "busy", lim(1, 1, 0, 1), 1, NULL), TG_LIMIT_GRANTED);
    assert_int_equal(tg_limits_size(l), 201);
    /* the buckets are not full yet: kept */
    tg_limits_sweep(l, 1);
    assert_int_equal(tg_limits_size(l), 201);
    /* refilled: only the value with a request in flight stays */
    tg_limits_sweep(l, 10 * SEC);
    assert_int_equal(tg_limits_size(l), 1);
    assert_int_equal(stats(l, "busy", 10 * SEC).inflight, 1);
    done(l, &r[1], 10 * SEC);
    tg_limits_sweep(l, 10 * SEC);
    assert_int_equal(tg_limits_size(l), 0);
    tg_limits_free(l);
}

/* ---- from the config ---- */

static struct tg_config *load(const char *yaml)
{
    struct tg_config *c = tg_config_new_defaults();
    struct tg_yaml_extra x = {0};
    char err[512];
    if (tg_yaml_load(c, &x, yaml, strlen(yaml), "t.yaml", err, sizeof(err)) != 0)
        fail_msg("%s", err);
    tg_yaml_extra_free(&x);
    return c;
}

static void test_limits_for(void **state)
{
    struct tg_config *c = load("limits:\n"
                               "  defaults: {maxInflight: 8, maxQueued: 32, rate: 20, burst: 40,\n"
                               "             maxQueryLength: 32d}\n"
                               "  tenants:\n"
                               "    team-a: {maxInflight: 16, rate: 50}\n"
                               "    team-b: {rate: 2.5, maxQueryLength: 0, queueTimeout: 1s}\n");
    struct tg_limit_values v;

    tg_limits_for(c->limits, TG_IOV_LIT("other"), &v);
    assert_int_equal(v.max_inflight, 8);
    assert_int_equal(v.max_queued, 32);
    assert_true(v.rate == 20.0);
    assert_int_equal(v.burst, 40);
    assert_int_equal(v.queue_timeout_ms, 10000);
    assert_int_equal(v.max_query_length_ms, 32LL * 86400000);
    assert_int_equal(v.max_lookback_ms, 0);
    tg_limits_for(c->limits, TG_IOV_LIT("team-a"), &v);
    assert_int_equal(v.max_inflight, 16);
    assert_int_equal(v.max_queued, 32);
    assert_true(v.rate == 50.0);
    assert_int_equal(v.burst, 40);
    /* an override of 0 lifts the default's bound */
    tg_limits_for(c->limits, TG_IOV_LIT("team-b"), &v);
    assert_int_equal(v.max_query_length_ms, 0);
    assert_int_equal(v.queue_timeout_ms, 1000);
    /* prefixes of names are other names */
    tg_limits_for(c->limits, TG_IOV_LIT("team-"), &v);
    assert_int_equal(v.max_inflight, 8);
    tg_limits_for(c->limits, TG_IOV_LIT("team-ab"), &v);
    assert_int_equal(v.max_inflight, 8);
    tg_config_unref(c);

    /* burst defaults to the rate rounded up, at least 1 */
    c = load("limits:\n  defaults: {rate: 2.5}\n  tenants:\n    s: {rate: 0.2}\n");
    tg_limits_for(c->limits, TG_IOV_LIT("x"), &v);
    assert_int_equal(v.burst, 3);
    tg_limits_for(c->limits, TG_IOV_LIT("s"), &v);
    assert_int_equal(v.burst, 1);
    tg_config_unref(c);
    /* no section: nothing bounded */
    tg_limits_for(NULL, TG_IOV_LIT("x"), &v);
    assert_int_equal(v.max_inflight, 0);
    assert_true(v.rate == 0.0);
}

static void test_blocked(void **state)
{
    struct tg_config *c = load("limits:\n"
                               "  blockedQueries:\n"
                               "  - {pattern: '{__name__=~\".+\"}', reason: every series}\n"
                               "  - {pattern: 'count_values\\(\"[a-z]+\", *up\\)', regex: true}\n"
                               "  - {pattern: '^topk', regex: true}\n");
    const struct tg_blocked_query *b;

    b = tg_limits_blocked(c->limits, TG_IOV_LIT("sum({__name__=~\".+\"})"), TG_IOV_NULL);
    assert_non_null(b);
    assert_string_equal(b->reason, "every series");
    /* as written it differs; as printed it matches */
    b = tg_limits_blocked(c->limits, TG_IOV_LIT("sum( { __name__ =~ \".+\" } )"),
                          TG_IOV_LIT("sum({__name__=~\".+\"})"));
    assert_non_null(b);
    b = tg_limits_blocked(c->limits, TG_IOV_LIT("count_values(\"v\",   up)"), TG_IOV_NULL);
    assert_non_null(b);
    assert_true(b->regex);
    assert_null(tg_limits_blocked(c->limits, TG_IOV_LIT("count_values(\"V\", up)"), TG_IOV_NULL));
    /* unanchored unless the pattern says so */
    assert_non_null(tg_limits_blocked(c->limits, TG_IOV_LIT("topk(3, up)"), TG_IOV_NULL));
    assert_null(tg_limits_blocked(c->limits, TG_IOV_LIT("sum(topk(3, up))"), TG_IOV_NULL));
    assert_null(
        tg_limits_blocked(c->limits, TG_IOV_LIT("up{job=\"x\"}"), TG_IOV_LIT("up{job=\"x\"}")));
    /* the text is not NUL-terminated: only its length counts */
    assert_null(tg_limits_blocked(c->limits, tg_iov("topk", 3), TG_IOV_NULL));
    assert_null(tg_limits_blocked(c->limits, tg_iov("sum({__name__=~\".+\"})", 10), TG_IOV_NULL));
    assert_null(tg_limits_blocked(NULL, TG_IOV_LIT("x"), TG_IOV_NULL));
    tg_config_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_burst_and_refill),
        cmocka_unit_test(test_bucket_fractional_rate),
        cmocka_unit_test(test_inflight_and_queue_order),
        cmocka_unit_test(test_queue_fifo_long),
        cmocka_unit_test(test_leave_exactly_once),
        cmocka_unit_test(test_multi_all_or_nothing),
        cmocka_unit_test(test_multi_waits_for_all),
        cmocka_unit_test(test_multi_no_deadlock),
        cmocka_unit_test(test_reload_raises_bound),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_limits_for),
        cmocka_unit_test(test_blocked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
