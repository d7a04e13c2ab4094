/*
 * The `filter` rewrite of GET /api/v2/alerts, /alerts/groups and /silences;
 * see include/tenantgate/alertmanager.h. The rule for the user's own
 * matchers on the tenant label is PromQL's (tg_promql_keeps_own_matchers):
 * one value replaces them, several AND them, --error-on-replace refuses one
 * that matches none of the values.
 */
#include "tenantgate/alertmanager.h"

#include <stdio.h>
#include <string.h>

static tg_iovec_t print_matcher(tg_arena_t *a, const struct tg_promql_matcher *m)
{
    tg_sb_t sb;
    tg_sb_init(&sb, a, m->name.len + m->value.len + 8);
    tg_am_matcher_print(&sb, m);
    return tg_sb_iov(&sb);
}

/* The tenant matcher: label="v", or label=~"v1|v2" for several values. */
static void tenant_matcher(tg_arena_t *a, const struct tg_promql_enforce *e,
                           struct tg_promql_matcher *m)
{
    tg_sb_t re;

    memset(m, 0, sizeof(*m));
    m->name = e->label;
    if (e->n_values == 1) {
        m->op = TG_PROMQL_EQ;
        m->value = e->values[0];
        return;
    }
    tg_sb_init(&re, a, 64);
    tg_promql_values_regex(&re, e->values, e->n_values);
    m->op = TG_PROMQL_RE;
    m->value = tg_sb_iov(&re);
}

/* --error-on-replace: a matcher on the label must match one tenant value. */
static int check_conflict(tg_arena_t *a, const struct tg_promql_matcher *m,
                          const struct tg_promql_enforce *e, size_t idx, struct tg_am_error *err)
{
    int r = tg_promql_matcher_allows(m, e->values, e->n_values);

    if (r == 1)
        return 0;
    err->status = 400;
    err->code = 0;
    err->pos = 0;
    snprintf(err->msg, sizeof(err->msg), "filter %zu: label matcher %s %s the tenant values",
             idx + 1, print_matcher(a, m).base,
             r < 0 ? "cannot be checked against" : "conflicts with");
    return -1;
}

int tg_am_filter_rewrite(tg_arena_t *a, const tg_iovec_t *in, size_t n_in,
                         const struct tg_promql_enforce *e, int inject, tg_iovec_t **out,
                         size_t *n_out, struct tg_am_error *err)
{
    struct tg_promql_matcher m;
    size_t i;

    *n_out = 0;
    *out = tg_arena_alloc(a, (n_in + 1) * sizeof(**out));
    if (inject) {
        tenant_matcher(a, e, &m);
        (*out)[(*n_out)++] = print_matcher(a, &m);
    }
    for (i = 0; i < n_in; i++) {
        if (tg_am_matcher_parse(a, in[i], &m, err) < 0) {
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof(err->msg) - n, " (filter %zu, byte %zu)", i + 1,
                     err->pos);
            return -1;
        }
        if (tg_iov_eq(m.name, e->label)) {
            if (e->error_on_replace && check_conflict(a, &m, e, i, err) < 0)
                return -1;
            if (!tg_promql_keeps_own_matchers(e))
                continue;
        }
        (*out)[(*n_out)++] = print_matcher(a, &m);
    }
    return 0;
}
