/*
 * One client request on its way through the chain:
 *
 *   route -> authn -> authz -> enforce -> limit -> upstream
 *
 * Each stage is a function that looks at the request context and either
 * continues to the next stage, answers the request itself (an error or a local
 * response), or suspends it while it waits for something on the event loop
 * (the Kubernetes API, the upstream) and later resumes it with
 * tg_req_resume(). Stages know the request context and their own module,
 * nothing of one another: what a stage learns for later ones (the route, the
 * user, the tenant values, the enforced parameters) goes into struct tg_req.
 *
 * Ownership: the request context and everything it points to live in its own
 * arena (r->arena), except r->ev (owned by evhttp), r->srv (the server, lives
 * longer than every request) and r->cfg (a counted reference released when the
 * request ends). The context is created by tg_req_start()/tg_req_new() and
 * freed by tg_req_end() once the response has been sent or the client has
 * gone away, all in lib/chain.c.
 */
#ifndef TENANTGATE_REQ_H
#define TENANTGATE_REQ_H

#include <stddef.h>
#include <stdint.h>
#include "tenantgate/core.h"
#include "tenantgate/arena.h"
#include "tenantgate/auth.h"
#include "tenantgate/config.h"
#include "tenantgate/http.h"
#include "tenantgate/iovec.h"
#include "tenantgate/promql.h"

struct evbuffer;
struct evhttp_request;
struct evkeyvalq;
struct tg_server;
struct tg_conn;
struct tg_req;
struct tg_am_silence;
struct tg_limit_ticket;
struct tg_upstream;

/* What a stage tells the chain. */
enum tg_verdict {
    TG_NEXT, /* go on with the next stage */
    TG_DONE, /* the request has been answered (or the answer is under way) */
    TG_WAIT, /* suspended: the stage will call tg_req_resume() exactly once */
};

/* A stage of the chain (lib/stage_<name>.c); the table is tg_chain in stages.h. */
typedef enum tg_verdict (*tg_stage_fn)(struct tg_req *r);

/* How the enforce stage treats an endpoint. */
enum tg_route_kind {
    TG_ROUTE_QUERY,    /* enforce `query` (query, query_range, query_exemplars) */
    TG_ROUTE_MATCH,    /* enforce each match[]; none -> {label=...} (series, labels, values) */
    TG_ROUTE_FEDERATE, /* as MATCH, GET only */
    TG_ROUTE_RULES,    /* filter the JSON response */
    TG_ROUTE_ALERTS,   /* filter the JSON response */
    TG_ROUTE_METADATA, /* answer only for the tenant's metric names */
    TG_ROUTE_LOCAL,    /* format_query, parse_query: answered by our parser */
    TG_ROUTE_PASS,     /* status/buildinfo: forwarded after authn/authz */
    /* Alertmanager API v2 (lib/stage_enforce_am.c) */
    TG_ROUTE_AM_ALERTS,   /* GET alerts: `filter` rewritten, answer filtered */
    TG_ROUTE_AM_GROUPS,   /* GET alerts/groups: the same */
    TG_ROUTE_AM_SILENCES, /* GET: answer filtered to owned silences; POST: body rewritten */
    TG_ROUTE_AM_SILENCE,  /* GET / DELETE silence/{id}: after the ownership check */
    TG_ROUTE_AM_STATUS,   /* GET status: answered without the configuration */
};

/* Which API a path belongs to: the shape of the errors we answer there, and
 * the upstream it goes to (Alertmanager: --alertmanager-upstream if set). */
enum tg_api {
    TG_API_PROMETHEUS = 0,
    TG_API_ALERTMANAGER,
};

struct tg_route {
    const char *path; /* exact path; "/api/v1/label/", "/api/v2/silence/" are prefix routes */
    enum tg_route_kind kind;
    unsigned methods; /* TG_M_GET | TG_M_POST | TG_M_DELETE */
    int needs_tenant; /* 0: authentication is enough (local answers) */
    const char *name; /* for metrics and the access log */
    enum tg_api api;
    unsigned not_served; /* methods the upstream has but we refuse with 404 (POST alerts) */
};

#define TG_M_GET    1u
#define TG_M_POST   2u
#define TG_M_DELETE 4u

/* Callback that cancels what a suspended stage waits for, because the client
 * went away; after it returns the stage's resume callback must never run. */
typedef void (*tg_cancel_fn)(struct tg_req *r, void *arg);

struct tg_req {
    tg_arena_t arena;
    struct tg_server *srv;
    struct tg_config *cfg;     /* counted reference, for the request's life */
    struct evhttp_request *ev; /* NULL once the client has gone away */
    struct tg_conn *conn;      /* NULL once the client has gone away */
    uint64_t id;

    /* The client's request as evhttp parsed it (owned by evhttp, valid while
     * the request lives). Stages read these rather than r->ev so that they
     * also run on a request built without a connection (test/fuzz). */
    unsigned method; /* TG_M_GET / TG_M_POST / TG_M_DELETE / 0 for others */
    const char *uri; /* request target, as received */
    const struct evkeyvalq *in_headers;
    struct evbuffer *in_body;

    /* route */
    enum tg_api api; /* set from the path even when no route matches */
    const struct tg_route *route;
    struct tg_upstream *upstream; /* where it goes (owned by the server) */
    tg_iovec_t path;              /* canonical request path */
    tg_iovec_t label_name;        /* for /api/v1/label/<name>/values, decoded */
    struct tg_params params;      /* URL query, then urlencoded body */

    /* authn */
    tg_iovec_t token; /* credential presented; never logged */
    struct tg_user user;
    int authenticated;

    /* authz */
    tg_iovec_t *tenants; /* deduplicated tenant values, all authorized */
    size_t n_tenants;
    tg_iovec_t verb; /* the verb authorized (get, or HTTP-mapped) */

    /* enforce -> upstream */
    int enforced;                /* the enforce stage let it through (checked after it) */
    tg_sb_t up_args;             /* enforced, urlencoded parameters */
    int up_post;                 /* send them as a POST body */
    tg_iovec_t tenant_selector;  /* {label="v"} / {label=~"v1|v2"} */
    enum tg_route_kind filter;   /* response filter to apply, by route kind */
    int up_delete;               /* DELETE instead of GET */
    const char *up_content_type; /* of the POST body; NULL: urlencoded form (up_args) */
    tg_iovec_t up_body;          /* the POST body when up_content_type is set */

    /* Alertmanager: route -> authz -> enforce -> upstream */
    struct tg_am_silence *am_silence; /* POST silences: the parsed body (route) */
    tg_iovec_t am_check_id;           /* silence the upstream stage fetches and checks
                                       * for ownership before the request (empty: none) */
    int am_reply_fetched;             /* GET silence/{id}: the checked silence is the answer */

    /* enforce -> limit: what the query reads, from the enforce parse (only
     * when the config has limits) */
    int have_window;                /* window is set (query windows are limited) */
    struct tg_promql_window window; /* match[] routes: their start/end as one selector */
    int64_t now_ms;                 /* wall clock the window is measured from */
    tg_iovec_t query;               /* the query parameter as sent (query routes) */
    tg_iovec_t query_text;          /* as tg_promql_print spells it, before enforcement
                                     * (when there are blocked queries) */

    /* limit */
    struct tg_limit_ticket *limit; /* the request's claim on its tenants' slots (in the
                                    * arena); given back by tg_req_end, exactly once */
    const char *limit_refused;     /* the limit that refused it (access log) */

    /* chain state */
    unsigned stage; /* index of the stage running or next to run */
    int suspended;
    tg_cancel_fn cancel;
    void *cancel_arg;

    /* accounting for the access log and metrics */
    uint64_t start_ns;
    int status;
    uint64_t bytes_out;
    const char *error_type;     /* Prometheus errorType when answered with an error */
    const char *upstream_error; /* connect / timeout / reset / protocol */
};

/* The request as received, for tg_req_new(): every pointer is borrowed and
 * must stay valid for the request's life (evhttp's request, or a test's). */
struct tg_req_in {
    unsigned method; /* TG_M_* or 0 */
    const char *uri;
    const struct evkeyvalq *headers;
    struct evbuffer *body;
};

/* evhttp's callback for a complete request on a proxy listener: creates the
 * context, attaches it to its connection and runs the chain. */
void tg_req_start(struct tg_server *srv, struct evhttp_request *ev);
/* A context for a request with no connection (tg_req_start uses it; tests
 * and the fuzzer call it directly). Ended by tg_req_end(). */
struct tg_req *tg_req_new(struct tg_server *srv, const struct tg_req_in *in);
/* Run srv->stages from r->stage on until a stage answers or suspends. */
void tg_req_run(struct tg_req *r);
/* The client's connection is going (closed, failed, or cut by us): cancel
 * what the request waits for and end it (conn.c calls it). */
void tg_req_client_gone(struct tg_req *r);
/* Resume a suspended request with the verdict of the stage that suspended it:
 * TG_NEXT continues with the following stage, TG_DONE means the stage answered. */
void tg_req_resume(struct tg_req *r, enum tg_verdict v);
/* Register what to call if the client goes away while the stage waits. */
void tg_req_on_cancel(struct tg_req *r, tg_cancel_fn fn, void *arg);

/* Answer with an error in the shape of the request's API: Prometheus'
 * {"status":"error","errorType":...,"error":...}, or on the Alertmanager API
 * what its clients expect there: a JSON string for 400 (the v2 spec's
 * BadRequest, which amtool's client decodes), else go-openapi's
 * {"code":<status>,"message":...}. Always returns TG_DONE so a stage can
 * `return tg_req_error(...)`. */
enum tg_verdict tg_req_error(struct tg_req *r, int status, const char *error_type, const char *fmt,
                             ...) __attribute__((format(printf, 4, 5)));
/* Answer an Alertmanager-style error: e->code 0 is a JSON string body (what
 * Alertmanager's handlers answer), else {"code":e->code,"message":...}. */
struct tg_am_error;
enum tg_verdict tg_req_am_error(struct tg_req *r, const struct tg_am_error *e);
/* Add a header to the response; nothing once the client has gone away (or
 * for a request without a connection). */
void tg_req_add_header(struct tg_req *r, const char *name, const char *value);
/* Answer with a complete JSON body (a local response). */
enum tg_verdict tg_req_reply_json(struct tg_req *r, int status, tg_iovec_t body);

/* Called when the response is finished or the client went away: writes the
 * access log line, updates metrics, drops the config reference and frees the
 * arena. The evhttp request (if any) must not be touched afterwards. */
void tg_req_end(struct tg_req *r);

/* Free the request blocks the server keeps for reuse (tg_server_free). */
void tg_req_cache_free(struct tg_server *srv);

/* Monotonic clock in nanoseconds. */
uint64_t tg_now_ns(void);

#endif
