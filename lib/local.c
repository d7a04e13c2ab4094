/*
 * Local answers: /api/v1/format_query and /api/v1/parse_query are served by
 * our own parser, so they cost no upstream call and show exactly how
 * tenantgate reads a query. Shapes follow Prometheus' API:
 *   format_query -> {"status":"success","data":"<formatted query>"}
 *   parse_query  -> {"status":"success","data":<AST as JSON>}
 */
#include <string.h>

#include "tenantgate/promql.h"
#include "tenantgate/req.h"
#include "tenantgate/stages.h"

enum tg_verdict tg_local_answer(struct tg_req *r, const struct tg_promql_opts *o)
{
    const struct tg_param *q = NULL;
    struct tg_promql_node *root;
    struct tg_promql_error err;
    tg_sb_t body;
    size_t i;

    for (i = 0; i < r->params.n; i++) {
        const struct tg_param *p = &r->params.items[i];
        if (!tg_iov_eq_str(p->name, "query"))
            continue;
        if (q != NULL && !tg_iov_eq(q->value, p->value))
            return tg_req_error(r, 400, "bad_data", "conflicting values of the query parameter");
        q = p;
    }
    if (q == NULL)
        return tg_req_error(r, 400, "bad_data", "missing query parameter");
    if (tg_promql_parse(&r->arena, q->value, o, &root, &err) != 0)
        return tg_req_error(r, 400, "bad_data", "%s", err.msg);
    tg_sb_init(&body, &r->arena, q->value.len * 2 + 64);
    tg_sb_adds(&body, "{\"status\":\"success\",\"data\":");
    if (strcmp(r->route->name, "format_query") == 0) {
        tg_sb_t text;
        tg_sb_init(&text, &r->arena, q->value.len + 16);
        tg_promql_format(root, &text);
        tg_sb_addc(&body, '"');
        tg_sb_add_json_escaped(&body, tg_sb_iov(&text));
        tg_sb_addc(&body, '"');
    } else {
        tg_promql_ast_json(root, &body);
    }
    tg_sb_addc(&body, '}');
    return tg_req_reply_json(r, 200, tg_sb_iov(&body));
}
