/*
 * PromQL engine: lexer, parser (AST in a per-request arena), printers and the
 * tenant-label enforcer. Grammar and error messages follow Prometheus 3.x
 * (promql/parser), with 2.x queries accepted as before.
 *
 * Ownership: every node, list and decoded string of an AST lives in the arena
 * given to tg_promql_parse(); undecoded names and values point straight into
 * the query buffer, so the query bytes must outlive the AST. Nothing here
 * mallocs except through the arena and the string builders passed in.
 */
#ifndef TENANTGATE_PROMQL_H
#define TENANTGATE_PROMQL_H

#include <stddef.h>
#include <stdint.h>
#include "tenantgate/arena.h"
#include "tenantgate/iovec.h"
#include "tenantgate/sb.h"

#define TG_PROMQL_DEFAULT_MAX_LEN   (256u * 1024u)
#define TG_PROMQL_DEFAULT_MAX_DEPTH 1000

/* Feature flags (Prometheus' --enable-feature names in brackets) and limits.
 * A NULL opts pointer means all zero: features off, default limits. */
struct tg_promql_opts {
    int duration_expr; /* duration arithmetic, step()/range()/min_of()/max_of() in [] and offset
                          [promql-duration-expr] */
    int experimental_functions; /* experimental functions and limitk/limit_ratio
                                   [promql-experimental-functions] */
    int extended_range; /* anchored / smoothed modifiers [promql-extended-range-selectors] */
    int binop_fill;     /* fill()/fill_left()/fill_right() binary modifiers
                           [promql-binop-fill-modifiers] */
    size_t max_len;     /* bytes, 0 = TG_PROMQL_DEFAULT_MAX_LEN */
    int max_depth;      /* AST and parser nesting, 0 = TG_PROMQL_DEFAULT_MAX_DEPTH */
};

/* pos is a byte offset into the query, line/col are 1-based (col in bytes),
 * msg reads like Prometheus: "1:5: parse error: unexpected ...". Enforcement
 * errors carry no position: "enforce error: ...". */
struct tg_promql_error {
    size_t pos;
    int line, col;
    char msg[256];
};

enum tg_promql_vtype {
    TG_PROMQL_VNONE = 0,
    TG_PROMQL_VSCALAR,
    TG_PROMQL_VVECTOR,
    TG_PROMQL_VMATRIX,
    TG_PROMQL_VSTRING,
};

enum tg_promql_kind {
    TG_PROMQL_NUMBER, /* number or duration literal */
    TG_PROMQL_STRING,
    TG_PROMQL_VECTOR, /* vector selector */
    TG_PROMQL_MATRIX, /* vector selector + range */
    TG_PROMQL_SUBQUERY,
    TG_PROMQL_PAREN,
    TG_PROMQL_UNARY,
    TG_PROMQL_BINARY,
    TG_PROMQL_AGGREGATE,
    TG_PROMQL_CALL,
    TG_PROMQL_DURATION, /* duration arithmetic inside [] and after offset */
};

/* Operators; the printable spelling is tg_promql_op_str(). */
enum tg_promql_op {
    TG_PROMQL_OP_NONE = 0,
    TG_PROMQL_ADD,
    TG_PROMQL_SUB,
    TG_PROMQL_MUL,
    TG_PROMQL_DIV,
    TG_PROMQL_MOD,
    TG_PROMQL_POW,
    TG_PROMQL_ATAN2,
    TG_PROMQL_EQLC,
    TG_PROMQL_NEQ,
    TG_PROMQL_LSS,
    TG_PROMQL_LTE,
    TG_PROMQL_GTR,
    TG_PROMQL_GTE,
    TG_PROMQL_TRIM_UPPER,
    TG_PROMQL_TRIM_LOWER,
    TG_PROMQL_LAND,
    TG_PROMQL_LOR,
    TG_PROMQL_LUNLESS,
    /* duration expressions only */
    TG_PROMQL_STEP,
    TG_PROMQL_RANGE,
    TG_PROMQL_MIN_OF,
    TG_PROMQL_MAX_OF,
    /* aggregations */
    TG_PROMQL_SUM,
    TG_PROMQL_AVG,
    TG_PROMQL_COUNT,
    TG_PROMQL_MIN,
    TG_PROMQL_MAX,
    TG_PROMQL_GROUP,
    TG_PROMQL_STDDEV,
    TG_PROMQL_STDVAR,
    TG_PROMQL_TOPK,
    TG_PROMQL_BOTTOMK,
    TG_PROMQL_COUNT_VALUES,
    TG_PROMQL_QUANTILE,
    TG_PROMQL_LIMITK,
    TG_PROMQL_LIMIT_RATIO,
};

enum tg_promql_match { TG_PROMQL_EQ, TG_PROMQL_NE, TG_PROMQL_RE, TG_PROMQL_NRE };

enum tg_promql_card {
    TG_PROMQL_ONE_TO_ONE,
    TG_PROMQL_MANY_TO_ONE,
    TG_PROMQL_ONE_TO_MANY,
    TG_PROMQL_MANY_TO_MANY,
};

enum tg_promql_at { TG_PROMQL_AT_NONE, TG_PROMQL_AT_TIME, TG_PROMQL_AT_START, TG_PROMQL_AT_END };

/* Label matcher; name and value are unquoted (raw bytes, may be any UTF-8). */
struct tg_promql_matcher {
    struct tg_promql_matcher *next;
    tg_iovec_t name, value;
    enum tg_promql_match op;
    unsigned pflags; /* printing hints set by the parser (internal); 0 is always correct;
                      * code that edits name, op or value in place must clear it */
};

/* Grouping / on / ignoring / group_x label list, unquoted. */
struct tg_promql_labels {
    tg_iovec_t *names;
    size_t n;
    int plain; /* parser hint: every name is [a-zA-Z_][a-zA-Z0-9_]* (0 is always correct) */
};

struct tg_promql_node;

/* A range, step or offset: a literal in nanoseconds, or an expression. */
struct tg_promql_dur {
    int64_t ns;
    struct tg_promql_node *expr; /* TG_PROMQL_DURATION/NUMBER node, or NULL */
    tg_iovec_t text; /* parser hint: source spelling of the literal without sign (5m, 90, 1.5e3),
                      * read back as |ns| (empty is always correct; whoever sets ns clears it) */
};

/* Evaluation modifiers of a vector selector (also for its matrix) or subquery. */
struct tg_promql_mods {
    struct tg_promql_dur offset; /* ns == 0 && expr == NULL: none */
    enum tg_promql_at at;
    int64_t at_ms; /* TG_PROMQL_AT_TIME */
    int anchored, smoothed;
};

struct tg_promql_func {
    const char *name;
    const char *args; /* one char per argument: v(ector) m(atrix) s(calar) S(tring) */
    int variadic;     /* 0: fixed; >0: last arg repeats up to n more; -1: unbounded */
    char ret;         /* same letters */
    int experimental;
    uint8_t name_len; /* strlen(name) */
    uint8_t n_args;   /* strlen(args) */
};

struct tg_promql_node {
    enum tg_promql_kind kind;
    enum tg_promql_vtype type;   /* value type, set by the parser */
    uint32_t pos, end;           /* byte range in the query (best effort) */
    int depth;                   /* height of the subtree, bounded by max_depth */
    struct tg_promql_node *next; /* next argument of a call */
    union {
        struct {
            double val;
            tg_iovec_t text; /* source spelling without sign; empty if synthesised */
            int neg;         /* print a '-' before text */
            int duration;    /* written as a duration (5m) */
        } num;
        struct {
            tg_iovec_t val;
        } str;
        struct {
            tg_iovec_t name; /* metric name written before the braces, or empty */
            int name_plain;  /* parser hint: name is an identifier that is no keyword (0 is always
                                correct) */
            struct tg_promql_matcher *matchers; /* without the name */
            size_t n_matchers;
            struct tg_promql_mods mods;
            int bypass_empty_check; /* second argument of info() */
            struct tg_promql_node
                *next_vs; /* parser bookkeeping: the next selector in query order */
        } vs;
        struct {
            struct tg_promql_node *vs; /* TG_PROMQL_VECTOR, carries the modifiers */
            struct tg_promql_dur range;
        } matrix;
        struct {
            struct tg_promql_node *expr;
            struct tg_promql_dur range, step; /* step.ns == 0 && !expr: default step */
            struct tg_promql_mods mods;
        } subquery;
        struct {
            struct tg_promql_node *expr;
        } paren;
        struct {
            enum tg_promql_op op;
            struct tg_promql_node *expr;
        } unary;
        struct {
            enum tg_promql_op op;
            struct tg_promql_node *lhs, *rhs;
            int return_bool;
            int has_matching; /* both sides are vectors (Prometheus' VectorMatching != nil) */
            enum tg_promql_card card;
            int on;
            struct tg_promql_labels matching, include;
            int has_fill_lhs, has_fill_rhs;
            double fill_lhs, fill_rhs;
        } binary;
        struct {
            enum tg_promql_op op;
            struct tg_promql_node *param, *expr;
            struct tg_promql_labels grouping;
            int without;
        } agg;
        struct {
            const struct tg_promql_func *func;
            struct tg_promql_node *args; /* linked through ->next */
            size_t n_args;
        } call;
        struct {
            enum tg_promql_op op;       /* ADD/SUB/MUL/DIV/MOD/POW, STEP/RANGE/MIN_OF/MAX_OF */
            struct tg_promql_node *lhs; /* NULL for unary ADD/SUB, STEP, RANGE */
            struct tg_promql_node *rhs;
            int wrapped; /* written in parentheses */
        } dur;
    } u;
};

/* Parse `query` into an AST allocated in `a`. Returns 0 and *out, or -1 and
 * err filled. Never crashes on any input, including invalid UTF-8, NUL bytes
 * and pathological nesting (bounded by opts->max_depth). */
int tg_promql_parse(tg_arena_t *a, tg_iovec_t query, const struct tg_promql_opts *o,
                    struct tg_promql_node **out, struct tg_promql_error *err);

/* Tenant enforcement. `values` (n_values >= 1, none empty) are owned by the
 * caller and must outlive the AST. With one value the injected matcher is
 * label="v", with several label=~"v1|v2" (each value RE2-quoted).
 * error_on_replace = 0: with one value every existing matcher on `label` is
 * dropped; with several they stay and are ANDed with the injected regex (a
 * query for namespace="b" by a user of a and b gets b only).
 * error_on_replace = 1: an existing matcher on `label` that matches none of
 * the values is an error; one that matches some value stays (it can only
 * narrow). info() is refused unless allow_info. */
struct tg_promql_enforce {
    tg_iovec_t label;
    const tg_iovec_t *values;
    size_t n_values;
    int error_on_replace;
    int allow_info;
};

/* Whether a selector's own matchers on the tenant label stay (ANDed with the
 * injected one) instead of being dropped: with several values, or with
 * error_on_replace. The same rule holds for match[] and Alertmanager filters. */
int tg_promql_keeps_own_matchers(const struct tg_promql_enforce *e);

/* Does matcher m match one of the n values? 1 yes, 0 none, -1 cannot be
 * decided (a regex the enforcer does not model): the error_on_replace check. */
int tg_promql_matcher_allows(const struct tg_promql_matcher *m, const tg_iovec_t *values, size_t n);

/* Append the values as one RE2 alternation, each escaped like Go's
 * regexp.QuoteMeta (a|b\.c for a and b.c): the injected regex. */
void tg_promql_values_regex(tg_sb_t *out, const tg_iovec_t *values, size_t n);

/* Is `re` valid RE2 syntax as Go's regexp compiles it? 0, or -1 with Go's
 * message ("error parsing regexp: missing closing ): `(`") in msg. */
int tg_promql_regex_check(tg_arena_t *a, tg_iovec_t re, char *msg, size_t msglen);

/* Inject the tenant matcher into every vector and matrix selector of root. */
int tg_promql_enforce(tg_arena_t *a, struct tg_promql_node *root, const struct tg_promql_enforce *e,
                      struct tg_promql_error *err);

/* Canonical PromQL text of the AST (matchers in AST order, names quoted when
 * needed). Output re-parses to an equal AST. */
void tg_promql_print(const struct tg_promql_node *root, tg_sb_t *out);

/* parse + enforce + print; *out is NUL-terminated and lives in the arena. */
int tg_promql_enforce_query(tg_arena_t *a, tg_iovec_t query, const struct tg_promql_opts *o,
                            const struct tg_promql_enforce *e, tg_iovec_t *out,
                            struct tg_promql_error *err);

/* ---- query window, for the per-tenant limits (lib/promql/window.c) ---- */

/* When a query is evaluated, in milliseconds since the epoch: an instant
 * query has start_ms == end_ms and step_ms 0. */
struct tg_promql_times {
    int64_t start_ms, end_ms;
    int64_t step_ms;
    int64_t lookback_delta_ms; /* Prometheus' --query.lookback-delta, 5m by default */
};

/* What the vector selectors of a query read. For each selector: its
 * evaluation times are the query's [start, end], pinned to one instant by an
 * `@` (start(), end() or a time) on it or on an enclosing subquery, shifted
 * back by every offset on its path and widened by every enclosing subquery's
 * range; it reads its own range (matrix) or the lookback delta (instant
 * vector; also anchored/smoothed ranges) before the earliest of them. */
struct tg_promql_window {
    size_t selectors;    /* vector selectors in the query; 0: it reads no data (fields below 0) */
    int64_t length_ms;   /* longest stretch one selector reads: evaluation span + its range
                          * + the ranges of the subqueries around it (no lookback delta) */
    int64_t earliest_ms; /* earliest sample time any selector may read (ranges, offsets,
                          * @, lookback delta) */
};

/* Fill *w for the AST `root` evaluated at `t`. Saturating arithmetic: figures
 * that overflow come out as INT64_MAX / INT64_MIN ("everything"). */
void tg_promql_window(const struct tg_promql_node *root, const struct tg_promql_times *t,
                      struct tg_promql_window *w);

/* What tg_promql_enforce_query_ex() also reports from the parse it makes. */
struct tg_promql_inspect {
    const struct tg_promql_times *times; /* in: compute `window` at these times; NULL: no */
    int want_text;                       /* in: fill `text` */
    struct tg_promql_window window;      /* out */
    tg_iovec_t text; /* out: the query as parsed, before enforcement, in tg_promql_print's
                      * spelling (what `tenantgate fmt` prints); in the arena */
};

/* tg_promql_enforce_query() that also inspects the parsed query (in may be
 * NULL: then it is tg_promql_enforce_query()). Nothing is parsed twice. */
int tg_promql_enforce_query_ex(tg_arena_t *a, tg_iovec_t query, const struct tg_promql_opts *o,
                               const struct tg_promql_enforce *e, struct tg_promql_inspect *in,
                               tg_iovec_t *out, struct tg_promql_error *err);

/* prometheus/common model.ParseDuration ("1d12h", "90s", "500ms"): 0 and
 * *ns, or -1. */
int tg_promql_parse_duration(tg_iovec_t s, int64_t *ns);

/* match[] of /series, /labels, /label/x/values, /federate: a single vector
 * selector without modifiers; the empty-matcher rule is not applied (the
 * injected matcher is never empty). */
int tg_promql_enforce_selector(tg_arena_t *a, tg_iovec_t selector, const struct tg_promql_opts *o,
                               const struct tg_promql_enforce *e, tg_iovec_t *out,
                               struct tg_promql_error *err);

/* The selector used when no match[] is given: {label="v"} or
 * {label=~"v1|v2"}, NUL-terminated in the arena. -1 if no/empty value. */
int tg_promql_tenant_selector(tg_arena_t *a, const struct tg_promql_enforce *e, tg_iovec_t *out,
                              struct tg_promql_error *err);

/* Prometheus' expr.Pretty(0), as /api/v1/format_query returns it. */
void tg_promql_format(const struct tg_promql_node *root, tg_sb_t *out);
/* Prometheus 3.x /api/v1/parse_query "data" object (web/api/v1 translateAST). */
void tg_promql_ast_json(const struct tg_promql_node *root, tg_sb_t *out);

/* Structural equality (positions ignored; a metric name before the braces and
 * a __name__="x" matcher written last are considered equal). */
int tg_promql_equal(const struct tg_promql_node *a, const struct tg_promql_node *b);

const char *tg_promql_op_str(enum tg_promql_op op);
const struct tg_promql_func *tg_promql_func_lookup(tg_iovec_t name);
/* Table access for tests: functions sorted by name. */
const struct tg_promql_func *tg_promql_funcs(size_t *n);

/* Append `s` as a double-quoted PromQL string literal. */
void tg_promql_quote(tg_sb_t *out, tg_iovec_t s);
/* Append a label name, quoted unless it is a legacy name [a-zA-Z_][a-zA-Z0-9_]*. */
void tg_promql_label_name(tg_sb_t *out, tg_iovec_t name);

#endif
