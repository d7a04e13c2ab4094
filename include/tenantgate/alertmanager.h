/*
 * Alertmanager API v2 tenancy, without libevent (lib/alertmanager/): the
 * matcher syntax of `filter` parameters, the filter rewrite for alerts,
 * alert groups and silences, the rewrite of a posted silence and the
 * ownership test of an existing one. docs/alertmanager.md has the rules and
 * how they differ from prom-label-proxy.
 *
 * The tenancy is described by a struct tg_promql_enforce (label, values,
 * error_on_replace): one rule for PromQL and Alertmanager.
 *
 * Ownership: everything returned lives in the arena passed in; inputs are
 * only read.
 */
#ifndef TENANTGATE_ALERTMANAGER_H
#define TENANTGATE_ALERTMANAGER_H

#include <stddef.h>
#include "tenantgate/arena.h"
#include "tenantgate/iovec.h"
#include "tenantgate/promql.h"
#include "tenantgate/sb.h"

struct tg_json;

/* What to answer when the input is refused, in Alertmanager's own shapes:
 * its handlers answer a JSON string ("bad matcher format: x"), its
 * go-openapi layer an object ({"code":602,"message":"... is required"}). */
struct tg_am_error {
    int status; /* HTTP status: 400, 403, 404, 422 */
    int code;   /* the object shape's code (400, 602, ...); 0: a JSON string */
    size_t pos; /* byte offset in the input where it went wrong */
    char msg[300];
};

/* ---- matchers (filter parameters) --------------------------------------- */

/* Parse one `filter` value the way Alertmanager 0.25's labels.ParseMatcher
 * does: optional whitespace, a label name [a-zA-Z_:][a-zA-Z0-9_:]*, one of
 * = != =~ !~, a value with surrounding whitespace trimmed, optionally in
 * double quotes, in which \" \\ \n are escapes and any other backslash is a
 * literal one; an unescaped " elsewhere, invalid UTF-8 and (for =~ !~) a
 * regex Go's regexp refuses are errors, with Alertmanager's messages.
 * out->value is unescaped, in the arena. 0 / -1 and err (status 400,
 * string shape, pos). */
int tg_am_matcher_parse(tg_arena_t *a, tg_iovec_t s, struct tg_promql_matcher *out,
                        struct tg_am_error *err);

/* Append m as Alertmanager prints it: name, operator, value in double quotes
 * with \ " and newline escaped (labels.Matcher.String()); parses back to m. */
void tg_am_matcher_print(tg_sb_t *out, const struct tg_promql_matcher *m);

/* ---- filter rewrite --------------------------------------------------------- */

/* Rewrite the `filter` values of a request. Every one is parsed (the first
 * bad one is the error). Filters on other labels are kept. Filters on the
 * tenant label follow tg_promql_keeps_own_matchers(): with one value they
 * are dropped, with several they are kept (ANDed); with error_on_replace one
 * that matches none of the values is a 400. When `inject` is set the tenant
 * matcher comes first: label="v", or label=~"v1|v2" (RE2-escaped) for
 * several values. The result is printed in Alertmanager's spelling, so the
 * upstream parses exactly what was checked. 0 / -1. */
int tg_am_filter_rewrite(tg_arena_t *a, const tg_iovec_t *in, size_t n_in,
                         const struct tg_promql_enforce *e, int inject, tg_iovec_t **out,
                         size_t *n_out, struct tg_am_error *err);

/* ---- silences --------------------------------------------------------------- */

/* One matcher of a silence as the v2 API writes it. */
struct tg_am_smatcher {
    tg_iovec_t name, value;
    int is_regex, is_equal; /* isEqual defaults to true when absent */
};

/* A silence body (postableSilence, or a gettableSilence read back). The
 * fields tenantgate does not interpret are kept as parsed, to be written
 * out again; unknown ones are dropped. */
struct tg_am_silence {
    int has_id;
    tg_iovec_t id;
    struct tg_am_smatcher *matchers;
    size_t n_matchers;
    const struct tg_json *starts_at, *ends_at, *created_by, *comment, *annotations; /* or NULL */
};

/* Parse a posted silence. Bad JSON or a field of the wrong type is 400
 * (object shape, like go-openapi's "parsing silence body ... failed"); a
 * missing body or matchers, or a matcher without name, value or isRegex,
 * is 422 with Alertmanager's message ("matchers in body is required");
 * Alertmanager 0.28+ matcher sets are 400. 0 / -1. */
int tg_am_silence_parse(tg_arena_t *a, const char *body, size_t len, struct tg_am_silence *out,
                        struct tg_am_error *err);

/* The silence's owner: the tenant value v of its first matcher
 * name == label, isEqual, !isRegex, value == v with v among e->values.
 * Returns 1 and *owner, or 0 when no tenant value owns it. */
int tg_am_silence_owner(const struct tg_am_silence *s, const struct tg_promql_enforce *e,
                        tg_iovec_t *owner);

/* Enforce the tenant on a posted silence and write the body to send:
 * every matcher on the label is removed and label="v" added (isEqual,
 * !isRegex). With one value v is it. With several the silence must name
 * exactly one of them with such a matcher (400 otherwise), and v is that
 * one. With error_on_replace a matcher on the label that matches none of
 * the values is a 400. Other matchers and the other known fields are
 * written as given. 0 / -1. */
int tg_am_silence_rewrite(tg_arena_t *a, const struct tg_am_silence *s,
                          const struct tg_promql_enforce *e, tg_sb_t *body,
                          struct tg_am_error *err);

/* 1 if id has the 8-4-4-4-12 hex shape of the silence IDs Alertmanager
 * makes (and accepts in /api/v2/silence/{id}). */
int tg_am_silence_id_ok(tg_iovec_t id);

#endif
