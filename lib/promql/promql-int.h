/* Internals shared by the lib/promql sources; not part of the public API. */
#ifndef TENANTGATE_PROMQL_INT_H
#define TENANTGATE_PROMQL_INT_H

#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include "tenantgate/core.h"
#include "tenantgate/promql.h"

/* Fast paths that skip work when a cheap test proves it unnecessary also run
 * the slow path and verify their answer in builds with assertions (tests)
 * and in fuzzing builds. */
#if !defined(NDEBUG) || defined(TG_FUZZING)
#define PQ_CROSSCHECK 1
#else
#define PQ_CROSSCHECK 0
#endif

/* Token types, after Prometheus' lexer items. Order matters: the ranges
 * below classify operators, aggregators and keywords. */
enum pq_tok {
    T_EOF = 0,
    T_ERROR,
    T_IDENT,
    T_METRIC_IDENT,
    T_NUMBER,
    T_DURATION,
    T_STRING,
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_LBRACKET,
    T_RBRACKET,
    T_COMMA,
    T_COLON,
    T_EQL,
    /* operators */
    T_ADD,
    T_SUB,
    T_MUL,
    T_DIV,
    T_MOD,
    T_POW,
    T_EQLC,
    T_NEQ,
    T_LSS,
    T_LTE,
    T_GTR,
    T_GTE,
    T_TRIM_UPPER,
    T_TRIM_LOWER,
    T_EQL_REGEX,
    T_NEQ_REGEX,
    T_AT,
    T_ATAN2,
    T_LAND,
    T_LOR,
    T_LUNLESS,
    /* aggregators */
    T_SUM,
    T_AVG,
    T_COUNT,
    T_MIN,
    T_MAX,
    T_GROUP,
    T_STDDEV,
    T_STDVAR,
    T_TOPK,
    T_BOTTOMK,
    T_COUNT_VALUES,
    T_QUANTILE,
    T_LIMITK,
    T_LIMIT_RATIO,
    /* keywords */
    T_BOOL,
    T_BY,
    T_GROUP_LEFT,
    T_GROUP_RIGHT,
    T_FILL,
    T_FILL_LEFT,
    T_FILL_RIGHT,
    T_IGNORING,
    T_OFFSET,
    T_SMOOTHED,
    T_ANCHORED,
    T_ON,
    T_WITHOUT,
    /* preprocessors */
    T_START,
    T_END,
    T_STEP,
    T_RANGE,
    T_MAX_OF,
    T_MIN_OF,
    T__COUNT
};

#define PQ_IS_OPERATOR(t)   ((t) >= T_ADD && (t) <= T_LUNLESS)
#define PQ_IS_AGGREGATOR(t) ((t) >= T_SUM && (t) <= T_LIMIT_RATIO)
#define PQ_IS_KEYWORD(t)    ((t) >= T_BOOL && (t) <= T_WITHOUT)

/* Token flags (strings): PQ_TF_ESC the literal has backslash escapes (so it
 * must be unquoted); PQ_TF_CLEAN its content prints between double quotes
 * unchanged (printable ASCII without '"' and '\\', no escapes).
 * Identifiers: PQ_TF_PLAIN not a keyword in any case. */
enum { PQ_TF_ESC = 1, PQ_TF_CLEAN = 2, PQ_TF_PLAIN = 4 };

struct pq_token {
    uint16_t type;
    uint16_t flags;
    uint32_t pos, len;
};

/* The lexer turns the whole query into tokens up front (comments dropped).
 * A lexing error becomes a final T_ERROR token whose message is in msg, so
 * the parser reports it only when it gets there, as Prometheus does. */
struct pq_lexed {
    struct pq_token *toks;
    size_t n;
    char msg[160]; /* message of the T_ERROR token */
};

/* Bump allocation from the arena with the fast case inline (16-byte
 * aligned, uninitialised; same semantics as tg_arena_alloc). */
static inline void *pq_alloc(tg_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if ((size_t)(a->end - a->cur) >= n) {
        char *p = a->cur;
        a->cur = p + n;
        a->last = p;
        return p;
    }
    return tg_arena_alloc(a, n);
}

/* Matcher printing hints (tg_promql_matcher.pflags), set by the parser:
 * the name needs no quotes, the value no escapes; PQ_MF_SRC: the matcher is
 * written in the query exactly as the printer writes it, from name.base to
 * the closing quote right after value (the printer copies runs of such
 * matchers that are separated by a single ',' in the query at once). */
enum { PQ_MF_NAME_PLAIN = 1, PQ_MF_VALUE_PLAIN = 2, PQ_MF_SRC = 4 };

void pq_lex(tg_arena_t *a, const char *s, size_t len, struct pq_lexed *out);

/* info(): its second argument is a selector without the empty-matcher rule,
 * and it reads series a tenant matcher cannot scope. */
static inline int pq_func_is_info(const struct tg_promql_func *f)
{
    return f->name[0] == 'i' && strcmp(f->name, "info") == 0;
}

/* "__name__" */
static inline int pq_is_name_label(tg_iovec_t s)
{
    return s.len == 8 && memcmp(s.base, "__name__", 8) == 0;
}

/* Keyword lookup (case-insensitive); T_IDENT if none. inf/nan give T_NUMBER. */
int pq_keyword(const char *s, size_t len);

/* Unquote a STRING token (with its quotes, already validated by the lexer). */
tg_iovec_t pq_unquote(tg_arena_t *a, const char *s, size_t len);

/* Go's strconv.ParseInt(s, 0, 64) then ParseFloat(s, 64): 0, -1 syntax, -2 range. */
int pq_parse_number(tg_arena_t *a, const char *s, size_t len, double *out);
/* prometheus/common model.ParseDuration: 0 or -1 with msg. */
int pq_parse_duration(const char *s, size_t len, int64_t *ns, char *msg, size_t msglen);

/* Duration in model.Duration spelling when it is a whole number of
 * milliseconds, else seconds as a decimal number (exact, re-parses). */
void pq_print_duration(tg_sb_t *sb, int64_t ns);
/* strconv.FormatFloat(v, 'f', -1, 64) */
int pq_shortest_digits(tg_sb_t *sb, double v, char digits[24], int *exp10);
void pq_format_float(tg_sb_t *sb, double v);
/* The nd digits of pq_shortest_digits in fixed notation (no exponent). */
void pq_put_fixed(tg_sb_t *sb, const char *digits, int nd, int exp10);
/* Go's %q of a byte string (for error messages). */
void pq_go_quote(char *dst, size_t dstlen, const char *s, size_t len, size_t max_runes);

int pq_is_legacy_label(tg_iovec_t s);
/* Does s need escaping inside a double-quoted PromQL string? */
int pq_needs_escape(tg_iovec_t s);
int pq_is_legacy_metric(tg_iovec_t s);
int pq_utf8_valid(const char *s, size_t len);

/* Does the fully anchored RE2 regex `re` match `s`? 1 yes, 0 no, -1 unknown
 * (syntax we do not model, or too much backtracking). */
int pq_regex_match(tg_iovec_t re, tg_iovec_t s);
/* Is `re` valid RE2 syntax as Prometheus compiles it (Go regexp/syntax,
 * Perl flags)? 0 yes; -1 and msg set to Go's error text, e.g.
 * "error parsing regexp: missing closing ): `(`". The arena is only used for
 * groups nested deeper than 32. */
int pq_regex_check(tg_arena_t *a, tg_iovec_t re, char *msg, size_t msglen);
/* Append Go's regexp.QuoteMeta(s). */
void pq_quote_meta(tg_sb_t *sb, tg_iovec_t s);

/* Does matcher m match the label value s (-1: unknown, regex only)? */
int pq_matcher_matches(const struct tg_promql_matcher *m, tg_iovec_t s);

/* What the parser noticed on the way, for the enforcer: every vector
 * selector of the AST in query order (linked through u.vs.next_vs), and
 * whether there is an info() call. */
struct pq_selectors {
    struct tg_promql_node *first;
    int has_info;
};

/* tg_promql_parse with selector_only: no empty-matcher rule (match[]);
 * sel (may be NULL) receives the selectors. */
int pq_parse(tg_arena_t *a, tg_iovec_t query, const struct tg_promql_opts *o, int selector_only,
             struct tg_promql_node **out, struct pq_selectors *sel, struct tg_promql_error *err);

/* Operator spellings with their lengths (tg_promql_op_str). */
struct pq_opname {
    char s[16];
    uint8_t n;
}; /* s NUL-padded to 16 bytes */
extern const struct pq_opname pq_ops[TG_PROMQL_LIMIT_RATIO + 1];

/* Go's %v of a float64 (strconv 'g', shortest). */
void pq_format_g(tg_sb_t *sb, double v);

#endif
