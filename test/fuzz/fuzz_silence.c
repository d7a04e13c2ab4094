/*
 * libFuzzer target: the Alertmanager silence-body rewrite and matcher parser
 * (lib/alertmanager/).
 *
 * Input: one control byte, then the bytes under test. Control bits:
 *   bit 0      two tenant values (alpha, "te\"am.a") instead of one (alpha)
 *   bit 1      error_on_replace
 *   bit 2      the rest is a `filter` value instead of a silence body
 *
 * Properties, for every input:
 *   - no crash, leak or sanitizer report;
 *   - a refusal carries an Alertmanager status (400, 404, 422) and message;
 *   - a rewritten silence is JSON, parses back as a silence with the same id,
 *     is owned by one of the tenant values, has exactly one matcher on the
 *     tenant label (label="v": isEqual, not a regex), keeps every other
 *     matcher, and rewriting it again gives the same bytes;
 *   - a silence the input already owned keeps that owner with one value;
 *   - a filter that parses prints to text that parses back to the same
 *     matcher, and the filter rewrite always starts with the tenant matcher.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/alertmanager.h"
#include "tenantgate/jsondom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *in, size_t len, const char *detail)
{
    fprintf(stderr, "PROPERTY VIOLATED: %s\n  input: %.*s\n  detail: %s\n", what, (int)len, in,
            detail ? detail : "");
    abort();
}

static void check_error(const struct tg_am_error *err, const char *in, size_t len)
{
    if ((err->status != 400 && err->status != 404 && err->status != 422) || err->msg[0] == '\0')
        fail("refusal without an Alertmanager status and message", in, len, err->msg);
}

static size_t label_matchers(const struct tg_am_silence *s, tg_iovec_t label)
{
    size_t i, n = 0;
    for (i = 0; i < s->n_matchers; i++)
        n += tg_iov_eq(s->matchers[i].name, label);
    return n;
}

static void fuzz_silence(tg_arena_t *a, const struct tg_promql_enforce *e, const char *in,
                         size_t len)
{
    struct tg_am_silence s, back;
    struct tg_am_error err;
    struct tg_json *root;
    tg_iovec_t owner, had_owner;
    char why[200];
    int had;
    tg_sb_t out, again;

    if (tg_am_silence_parse(a, in, len, &s, &err) != 0) {
        check_error(&err, in, len);
        return;
    }
    had = tg_am_silence_owner(&s, e, &had_owner);
    tg_sb_init(&out, a, 256);
    if (tg_am_silence_rewrite(a, &s, e, &out, &err) != 0) {
        check_error(&err, in, len);
        if (e->n_values == 1 && !e->error_on_replace)
            fail("one value, replace mode: the rewrite cannot refuse", in, len, err.msg);
        return;
    }
    if (tg_json_parse(a, out.base, out.len, 0, &root, why, sizeof(why)) != 0)
        fail("rewritten silence is not JSON", in, len, why);
    if (tg_am_silence_parse(a, out.base, out.len, &back, &err) != 0)
        fail("rewritten silence does not parse back", in, len, err.msg);
    if (back.has_id != s.has_id || (s.has_id && !tg_iov_eq(back.id, s.id)))
        fail("the id changed", in, len, out.base);
    if (!tg_am_silence_owner(&back, e, &owner))
        fail("rewritten silence not owned by a tenant value", in, len, out.base);
    if (label_matchers(&back, e->label) != 1)
        fail("not exactly one matcher on the tenant label", in, len, out.base);
    if (back.n_matchers - 1 != s.n_matchers - label_matchers(&s, e->label))
        fail("a matcher on another label was lost", in, len, out.base);
    if (had && e->n_values == 1 && !tg_iov_eq(owner, had_owner))
        fail("an owned silence changed owner", in, len, out.base);
    tg_sb_init(&again, a, out.len + 1);
    if (tg_am_silence_rewrite(a, &back, e, &again, &err) != 0 || again.len != out.len ||
        memcmp(again.base, out.base, out.len) != 0)
        fail("the rewrite is not idempotent", in, len, out.base);
}

static void fuzz_filter(tg_arena_t *a, const struct tg_promql_enforce *e, const char *in,
                        size_t len)
{
    struct tg_promql_matcher m, m2;
    struct tg_am_error err;
    tg_iovec_t filter = tg_iov(in, len), *out;
    size_t n_out;
    tg_sb_t sb;

    if (tg_am_matcher_parse(a, filter, &m, &err) != 0) {
        check_error(&err, in, len);
        if (tg_am_filter_rewrite(a, &filter, 1, e, 1, &out, &n_out, &err) == 0)
            fail("a filter that does not parse was rewritten", in, len, NULL);
        return;
    }
    tg_sb_init(&sb, a, len + 8);
    tg_am_matcher_print(&sb, &m);
    if (tg_am_matcher_parse(a, tg_sb_iov(&sb), &m2, &err) != 0)
        fail("printed matcher does not parse", in, len, err.msg);
    if (!tg_iov_eq(m.name, m2.name) || m.op != m2.op || !tg_iov_eq(m.value, m2.value))
        fail("printed matcher parses to another one", in, len, tg_sb_cstr(&sb));
    if (tg_am_filter_rewrite(a, &filter, 1, e, 1, &out, &n_out, &err) != 0) {
        check_error(&err, in, len);
        if (!e->error_on_replace)
            fail("filter rewrite refused a valid matcher", in, len, err.msg);
        return;
    }
    if (n_out < 1 || tg_am_matcher_parse(a, out[0], &m2, &err) != 0 ||
        !tg_iov_eq(m2.name, e->label) || m2.op != (e->n_values == 1 ? TG_PROMQL_EQ : TG_PROMQL_RE))
        fail("the tenant matcher is not first", in, len, n_out ? out[0].base : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tg_iovec_t values[] = {TG_IOV_LIT("alpha"), TG_IOV_LIT("te\"am.a")};
    struct tg_promql_enforce e = {TG_IOV_LIT("namespace"), values, 1, 0, 0};
    const char *in = (const char *)data + 1;
    tg_arena_t a;

    if (size < 1)
        return 0;
    e.n_values = (data[0] & 1) ? 2 : 1;
    e.error_on_replace = (data[0] & 2) != 0;
    tg_arena_init(&a, NULL, 0);
    if (data[0] & 4)
        fuzz_filter(&a, &e, in, size - 1);
    else
        fuzz_silence(&a, &e, in, size - 1);
    tg_arena_destroy(&a);
    return 0;
}
