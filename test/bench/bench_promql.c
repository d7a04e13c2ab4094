/*
 * PromQL benchmark: parse + enforce + print every corpus query, repeatedly,
 * on one core. Reports queries/s and MB/s (median of runs) and checks that
 * the arena, reset between queries, never goes back to the heap after the
 * warm-up pass (zero heap allocations per query).
 *   bench_promql [CORPUS] [SECONDS_PER_RUN] [RUNS] [window|text|inspect]
 * (corpus also from $TG_CORPUS). The last argument runs
 * tg_promql_enforce_query_ex as the enforce stage does with a limits:
 * section: window = the query-window analysis (maxQueryLength/maxLookback
 * set), text = the canonical spelling too (blockedQueries), inspect = both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tenantgate/arena.h"
#include "tenantgate/promql.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of this thread: on a shared machine it leaves out the time the
 * scheduler gave to others, so it varies much less than wall time. */
static double cpu_now(void)
{
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One query per line, "\n" (two characters) meaning a newline. */
static size_t load(const char *path, tg_iovec_t **out, size_t *bytes)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;
    size_t n = 0, i, j;
    tg_iovec_t *q;

    if (f == NULL)
        return 0;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)len + 1);
    if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        return 0;
    }
    fclose(f);
    q = malloc(sizeof(*q) * ((size_t)len + 1));
    *bytes = 0;
    for (i = 0; i < (size_t)len;) {
        char *start = buf + i, *o = start;
        for (j = i; j < (size_t)len && buf[j] != '\n'; j++) {
            if (buf[j] == '\\' && j + 1 < (size_t)len && buf[j + 1] == 'n') {
                *o++ = '\n';
                j++;
            } else {
                *o++ = buf[j];
            }
        }
        if (o > start) {
            q[n++] = tg_iov(start, (size_t)(o - start));
            *bytes += (size_t)(o - start);
        }
        i = j + 1;
    }
    *out = q;
    return n;
}

static const struct tg_promql_times inspect_times = {1700000000000LL - 3600000, 1700000000000LL,
                                                     15000, 300000};
static int want_window, want_text;

/* parse + enforce + print of every query; -1 if any failed */
static int pass(tg_arena_t *a, const tg_iovec_t *q, size_t n, const struct tg_promql_enforce *e)
{
    struct tg_promql_error err;
    struct tg_promql_inspect in;
    tg_iovec_t out;
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        tg_arena_reset(a);
        if (want_window || want_text) {
            memset(&in, 0, sizeof(in));
            in.times = want_window ? &inspect_times : NULL;
            in.want_text = want_text;
            rc = tg_promql_enforce_query_ex(a, q[i], NULL, e, &in, &out, &err);
        } else {
            rc = tg_promql_enforce_query(a, q[i], NULL, e, &out, &err);
        }
        if (rc != 0) {
            fprintf(stderr, "query %zu failed: %s\n", i, err.msg);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : getenv("TG_CORPUS");
    double secs = argc > 2 ? atof(argv[2]) : 1.0, rates[32], mbs[32], cpu_rates[32];
    int runs = argc > 3 ? atoi(argv[3]) : 5, r;
    static const tg_iovec_t values[] = {TG_IOV_LIT("alpha")};
    struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), values, 1, 0, 0};
    tg_iovec_t *q = NULL;
    size_t n, bytes = 0, heap_after_warmup;
    tg_arena_t a;

    if (path == NULL || (n = load(path, &q, &bytes)) == 0) {
        fprintf(stderr, "usage: bench_promql CORPUS [SECONDS] [RUNS] (or set TG_CORPUS)\n");
        return 2;
    }
    if (runs < 1 || runs > 32)
        runs = 5;
    if (argc > 4) {
        want_window = strcmp(argv[4], "window") == 0 || strcmp(argv[4], "inspect") == 0;
        want_text = strcmp(argv[4], "text") == 0 || strcmp(argv[4], "inspect") == 0;
    }
    tg_arena_init(&a, NULL, 0);
    if (pass(&a, q, n, &e) < 0)
        return 1;
    heap_after_warmup = a.allocated;
    for (r = 0; r < runs; r++) {
        double t0 = now(), c0 = cpu_now(), t;
        size_t done = 0;
        do {
            if (pass(&a, q, n, &e) < 0)
                return 1;
            done++;
        } while ((t = now() - t0) < secs);
        rates[r] = (double)(done * n) / t;
        mbs[r] = (double)(done * bytes) / t / 1e6;
        cpu_rates[r] = (double)(done * n) / (cpu_now() - c0);
    }
    qsort(rates, (size_t)runs, sizeof(double), cmp_double);
    qsort(mbs, (size_t)runs, sizeof(double), cmp_double);
    qsort(cpu_rates, (size_t)runs, sizeof(double), cmp_double);
    printf("corpus: %zu queries, %zu bytes (avg %.0f B/query)\n", n, bytes,
           (double)bytes / (double)n);
    printf(
        "parse+enforce+print: %.0f queries/s, %.1f MB/s (median of %d runs of %.1fs, one core)\n",
        rates[runs / 2], mbs[runs / 2], runs, secs);
    printf("per CPU-second of this thread: %.0f queries/s (median; unaffected by time slicing)\n",
           cpu_rates[runs / 2]);
    printf("arena heap bytes after warm-up %zu, at end %zu: %s\n", heap_after_warmup, a.allocated,
           heap_after_warmup == a.allocated ? "no heap allocation per query" : "HEAP GREW");
    tg_arena_destroy(&a);
    return heap_after_warmup == a.allocated ? 0 : 1;
}
