/*
 * Unit tests for lib/chain.c: the chain walked with fake stages. What it
 * promises: stages run in order, TG_NEXT goes on, TG_DONE stops, TG_WAIT
 * suspends until tg_req_resume(); a request that ends while suspended has
 * its stage's cancel callback run exactly once; the arena's deferred hooks run
 * once, newest first, when the request ends; broken invariants abort in every
 * build.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tenantgate/config.h"
#include "tenantgate/req.h"
#include "tenantgate/server.h"
#include "tenantgate/stages.h"

/* What the fake stages do, and what they saw: one script per test. */
struct script {
    enum tg_verdict verdict[4]; /* what stage i returns */
    int status[4];              /* answer with this status when returning TG_DONE */
    int ran[4];                 /* how often stage i ran */
    char order[16];             /* stage numbers in the order they ran */
    int cancels;
    char hooks[8];
};
static struct script sc;

static enum tg_verdict fake(struct tg_req *r, int i)
{
    size_t n = strlen(sc.order);
    sc.ran[i]++;
    sc.order[n] = (char)('0' + i);
    if (sc.verdict[i] == TG_DONE && sc.status[i] != 0)
        return tg_req_error(r, sc.status[i], "bad_data", "stage %d says no", i);
    return sc.verdict[i];
}
static enum tg_verdict stage0(struct tg_req *r)
{
    return fake(r, 0);
}
static enum tg_verdict stage1(struct tg_req *r)
{
    return fake(r, 1);
}
static enum tg_verdict stage2(struct tg_req *r)
{
    return fake(r, 2);
}
static enum tg_verdict stage3(struct tg_req *r)
{
    return fake(r, 3);
}
static const tg_stage_fn fakes[] = {stage0, stage1, stage2, stage3};

static struct tg_server srv;

static int setup(void **state)
{
    static char *argv[] = {"tenantgate",
                           "--insecure-listen-address=127.0.0.1:1",
                           "--upstream=http://127.0.0.1:2/",
                           "--access-log=false",
                           "--token-auth-file=test/unit/data/config/tokens.csv",
                           "--config-file=test/unit/data/config/static.yaml",
                           NULL};
    char err[512];
    int exit_now = 0;

    (void)state;
    memset(&sc, 0, sizeof(sc));
    memset(&srv, 0, sizeof(srv));
    srv.cfg = tg_config_load(6, argv, err, sizeof(err), &exit_now);
    if (srv.cfg == NULL)
        fail_msg("config: %s", err);
    srv.metrics = tg_server_metrics_new();
    srv.stages = fakes;
    srv.n_stages = 4;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(srv.stats.in_flight, 0); /* every request was ended */
    tg_req_cache_free(&srv);
    tg_server_metrics_free(srv.metrics);
    tg_config_unref(srv.cfg);
    return 0;
}

static struct tg_req *new_req(void)
{
    struct tg_req_in in = {TG_M_GET, "/api/v1/query?query=up", NULL, NULL};
    return tg_req_new(&srv, &in);
}

static void test_stages_run_in_order_until_one_answers(void **state)
{
    struct tg_req *r = new_req();

    (void)state;
    sc.verdict[0] = sc.verdict[1] = TG_NEXT;
    sc.verdict[2] = TG_DONE;
    sc.status[2] = 403;
    tg_req_run(r);
    assert_string_equal(sc.order, "012"); /* stage 3 never runs */
    assert_int_equal(r->status, 403);
    assert_int_equal(r->stage, 2);
    assert_false(r->suspended);
    assert_int_equal(srv.stats.in_flight, 1);
    tg_req_end(r);
    assert_int_equal(srv.stats.in_flight, 0);
    assert_int_equal(srv.stats.requests, 1);
}

static void test_wait_then_resume_next_goes_on(void **state)
{
    struct tg_req *r = new_req();

    (void)state;
    sc.verdict[0] = TG_NEXT;
    sc.verdict[1] = TG_WAIT;
    sc.verdict[2] = TG_NEXT;
    sc.verdict[3] = TG_DONE;
    sc.status[3] = 404;
    tg_req_run(r);
    assert_string_equal(sc.order, "01");
    assert_true(r->suspended);
    tg_req_resume(r, TG_NEXT); /* stage 1 is done waiting: go on with 2 */
    assert_string_equal(sc.order, "0123");
    assert_false(r->suspended);
    assert_int_equal(r->status, 404);
    assert_int_equal(sc.ran[1], 1); /* the waiting stage does not run again */
    tg_req_end(r);
}

static void test_resume_done_and_resume_wait(void **state)
{
    struct tg_req *r = new_req();

    (void)state;
    sc.verdict[0] = TG_WAIT;
    tg_req_run(r);
    tg_req_resume(r, TG_WAIT); /* e.g. the upstream answered, streaming goes on */
    assert_true(r->suspended);
    r->status = 200; /* the stage answered (its reply started) */
    tg_req_resume(r, TG_DONE);
    assert_false(r->suspended);
    assert_string_equal(sc.order, "0"); /* nothing after an answer */
    tg_req_end(r);
}

static void on_cancel(struct tg_req *r, void *arg)
{
    (void)r;
    assert_ptr_equal(arg, &sc);
    sc.cancels++;
}

static enum tg_verdict waits_with_cancel(struct tg_req *r)
{
    tg_req_on_cancel(r, on_cancel, &sc);
    return TG_WAIT;
}

static void test_end_while_waiting_cancels_once(void **state)
{
    static const tg_stage_fn chain[] = {waits_with_cancel, stage1};
    struct tg_req *r;

    (void)state;
    srv.stages = chain;
    srv.n_stages = 2;
    r = new_req();
    tg_req_run(r);
    assert_true(r->suspended);
    tg_req_end(r); /* the client went away */
    assert_int_equal(sc.cancels, 1);
    assert_int_equal(sc.ran[1], 0);
}

static void test_resume_clears_cancel(void **state)
{
    static const tg_stage_fn chain[] = {waits_with_cancel, stage1};
    struct tg_req *r;

    (void)state;
    srv.stages = chain;
    srv.n_stages = 2;
    sc.verdict[1] = TG_DONE;
    sc.status[1] = 429;
    r = new_req();
    tg_req_run(r);
    tg_req_resume(r, TG_NEXT);
    assert_int_equal(r->status, 429);
    tg_req_end(r);
    assert_int_equal(sc.cancels, 0); /* the wait was over: nothing to cancel */
}

static void hook(void *arg)
{
    size_t n = strlen(sc.hooks);
    sc.hooks[n] = *(const char *)arg;
}

static void test_deferred_hooks_run_once_newest_first(void **state)
{
    struct tg_req *r = new_req();

    (void)state;
    sc.verdict[0] = TG_DONE;
    sc.status[0] = 400;
    tg_arena_defer(&r->arena, hook, "a");
    tg_arena_defer(&r->arena, hook, "b");
    tg_arena_defer(&r->arena, hook, "c");
    tg_req_run(r);
    assert_string_equal(sc.hooks, ""); /* not before the request ends */
    tg_req_end(r);
    assert_string_equal(sc.hooks, "cba");
}

/* Runs fn in a child; the invariant must abort it. */
static void assert_aborts(void (*fn)(void))
{
    pid_t pid = fork();
    int st = 0;

    assert_true(pid >= 0);
    if (pid == 0) {
        close(2); /* the invariant message is expected */
        fn();
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
}

static void done_without_answer(void)
{
    struct tg_req *r = new_req();
    sc.verdict[0] = TG_DONE; /* claims an answer, chose no status */
    tg_req_run(r);
}

static void resume_not_suspended(void)
{
    struct tg_req *r = new_req();
    tg_req_resume(r, TG_NEXT);
}

static void product_chain_falls_off_its_end(void)
{
    struct tg_req *r = new_req();
    srv.stages = tg_chain;
    srv.n_stages = TG_N_STAGES;
    r->stage = TG_N_STAGES; /* as if the upstream stage had said TG_NEXT */
    tg_req_run(r);
}

static void run_twice(void)
{
    struct tg_req *r = new_req();
    sc.verdict[0] = TG_DONE;
    sc.status[0] = 400;
    tg_req_run(r);
    tg_req_run(r); /* an answered request must not run again */
}

static void test_broken_invariants_abort(void **state)
{
    (void)state;
    assert_aborts(done_without_answer);
    assert_aborts(resume_not_suspended);
    assert_aborts(product_chain_falls_off_its_end);
    assert_aborts(run_twice);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stages_run_in_order_until_one_answers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wait_then_resume_next_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_done_and_resume_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_while_waiting_cancels_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_clears_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_hooks_run_once_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_invariants_abort, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
