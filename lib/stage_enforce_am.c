/*
 * Stage 4, enforce, for the Alertmanager API v2 (called by the enforce stage
 * for the TG_ROUTE_AM_* routes). What the upstream gets is rebuilt from what
 * was checked:
 *   alerts, alerts/groups  `filter` rewritten (the tenant matcher first; the
 *                          user's own on the label replaced or ANDed, as in
 *                          PromQL), known flags copied; the answer is
 *                          filtered too (defence in depth);
 *   GET silences           the user's filters kept (with one value the
 *                          tenant's label="v" added: Alertmanager then only
 *                          lists silences with exactly that matcher); the
 *                          answer is filtered to the silences the tenant owns;
 *   POST silences          the body rewritten (lib/alertmanager/silence.c);
 *                          an update names a silence the upstream stage
 *                          first fetches and checks for ownership;
 *   silence/{id}           GET answers the fetched silence once it passed
 *                          the ownership check, DELETE is sent after it;
 *   status                 forwarded; the answer loses its configuration.
 * Errors are Alertmanager's shapes; nothing is sent upstream on bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/core.h"
#include "tenantgate/alertmanager.h"
#include "tenantgate/log.h"
#include "tenantgate/req.h"
#include "tenantgate/stages.h"

/* The flags Alertmanager's list endpoints take besides `filter`. Anything
 * else (the tenant parameter among them) is not sent: a parameter a later
 * Alertmanager starts reading must never arrive unchecked. */
static int passes(const struct tg_req *r, tg_iovec_t name)
{
    static const char *const lists[] = {"active", "silenced", "inhibited", "unprocessed",
                                        "receiver"};
    static const char *const silences[] = {"active", "expired", "pending"};
    int is_silences = r->route->kind == TG_ROUTE_AM_SILENCES;
    const char *const *names = is_silences ? silences : lists;
    size_t i, n = is_silences ? 3 : 5;

    for (i = 0; i < n; i++)
        if (tg_iov_eq_str(name, names[i]))
            return 1;
    return 0;
}

static enum tg_verdict rewrite_filters(struct tg_req *r, const struct tg_promql_enforce *e,
                                       int inject)
{
    tg_iovec_t *in = tg_arena_alloc(&r->arena, (r->params.n + 1) * sizeof(*in)), *out;
    struct tg_am_error err;
    size_t i, n_in = 0, n_out;

    for (i = 0; i < r->params.n; i++)
        if (tg_iov_eq_str(r->params.items[i].name, "filter"))
            in[n_in++] = r->params.items[i].value;
    if (tg_am_filter_rewrite(&r->arena, in, n_in, e, inject, &out, &n_out, &err) != 0)
        return tg_req_am_error(r, &err);
    for (i = 0; i < n_out; i++)
        tg_enforce_add_param(r, TG_IOV_LIT("filter"), out[i]);
    for (i = 0; i < r->params.n; i++)
        if (passes(r, r->params.items[i].name))
            tg_enforce_add_param(r, r->params.items[i].name, r->params.items[i].value);
    return TG_NEXT;
}

static enum tg_verdict post_silence(struct tg_req *r, const struct tg_promql_enforce *e)
{
    const struct tg_am_silence *s = r->am_silence;
    struct tg_am_error err;
    tg_sb_t body;

    if (s->has_id && !tg_am_silence_id_ok(s->id)) {
        /* what Alertmanager answers for an ID it never made */
        struct tg_am_error nf = {404, 0, 0, "silence not found"};
        return tg_req_am_error(r, &nf);
    }
    tg_sb_init(&body, &r->arena, 512);
    if (tg_am_silence_rewrite(&r->arena, s, e, &body, &err) != 0)
        return tg_req_am_error(r, &err);
    r->up_post = 1;
    r->up_content_type = "application/json";
    r->up_body = tg_sb_iov(&body);
    if (s->has_id)
        r->am_check_id = s->id; /* an update: the upstream stage checks the old one first */
    return TG_NEXT;
}

enum tg_verdict tg_enforce_alertmanager(struct tg_req *r, const struct tg_promql_enforce *e)
{
    r->up_post = 0;
    switch (r->route->kind) {
    case TG_ROUTE_AM_ALERTS:
    case TG_ROUTE_AM_GROUPS: return rewrite_filters(r, e, 1);
    case TG_ROUTE_AM_SILENCES:
        if (r->method == TG_M_POST) {
            r->filter = TG_ROUTE_PASS; /* the answer is {"silenceID": ...} */
            return post_silence(r, e);
        }
        /* label="v" is exactly the owned test for one value; with several
         * Alertmanager has no "one of" for silences: the answer filter does it */
        return rewrite_filters(r, e, e->n_values == 1);
    case TG_ROUTE_AM_SILENCE:
        if (!tg_am_silence_id_ok(r->am_check_id)) {
            struct tg_am_error err = {422, 601, 0, ""};
            snprintf(err.msg, sizeof(err.msg), "silenceID in path must be of type uuid: \"%.*s\"",
                     TG_IOV_FMT(r->am_check_id));
            return tg_req_am_error(r, &err);
        }
        r->filter = TG_ROUTE_PASS;
        if (r->method == TG_M_DELETE)
            r->up_delete = 1;
        else
            r->am_reply_fetched = 1;
        return TG_NEXT;
    case TG_ROUTE_AM_STATUS: return TG_NEXT;
    default: break;
    }
    TG_CHECK(0 && "only the Alertmanager routes come here");
    return TG_DONE;
}
