/*
 * Streaming filters for Prometheus API responses that carry several
 * tenants' data: /api/v1/rules, /api/v1/alerts, /api/v1/metadata, and the
 * Alertmanager API's alerts, alert groups, silences and status. The
 * upstream body is fed in chunks as it arrives; the filtered body comes out
 * through the emit callback. No DOM: only the rule group (RULES) or alert
 * (ALERTS) being decided is buffered, so memory is bounded by the largest
 * group/alert, not by the response (and capped, see tg_jf_set_max_buffer()).
 *
 * What is kept (docs/http.md has the reasoning):
 *   RULES     a rule whose "labels" carry `label` with one of the tenant
 *             values; inside a kept alerting rule, only the "alerts" whose
 *             own labels carry a tenant value; groups left without rules are
 *             dropped. Other group/rule/alert fields pass unchanged.
 *   ALERTS    alerts whose "labels" carry a tenant value.
 *   METADATA  entries of "data" whose key is in the allowed metric-name set.
 * Alertmanager API v2 (the answer is a top-level array; a top-level JSON
 * string or object is an error answer: the string passes, of the object only
 * "code" and "message"):
 *   AM_ALERTS    alerts whose "labels" carry a tenant value.
 *   AM_GROUPS    inside each alert group, the "alerts" kept by the same test;
 *                groups left without alerts are dropped.
 *   AM_SILENCES  silences the tenant owns: one of their "matchers" has name
 *                == label, value a tenant value, isRegex false and isEqual
 *                true or absent (each field once, of its JSON type). A
 *                silence with two "matchers" lists or with "matcherSets"
 *                (Alertmanager 0.28+) is dropped.
 *   AM_STATUS    the status object with "config" replaced by
 *                {"original":""} (it holds every tenant's routes and
 *                receivers' secrets); cluster, versionInfo and uptime pass,
 *                other keys are dropped.
 * "Carries a tenant value" means: the label occurs (at least once) and every
 * occurrence is a string in the tenant set; the empty string never matches.
 * At the top level only status, data, errorType, error, warnings and infos
 * pass; inside "data" only the keys named above (and groupNextToken for
 * RULES) - anything else is dropped. An error response (no "data") passes
 * unchanged. Numbers pass as the upstream wrote them; strings are
 * re-escaped. Any other shape (data not an object, a rule not an object,
 * trailing garbage, nesting deeper than 64, ...) is an error: fail closed.
 *
 * Output before an error was already decided and is safe to have sent, but
 * the body is then truncated: the caller must fail the response (502 if
 * nothing was sent yet, otherwise abort the connection).
 *
 * Ownership: tg_jf_new() and tg_jf_set_metric_names() copy everything they
 * are given. The buffer passed to emit is only valid during the call.
 * Not thread-safe; one filter per response.
 */
#ifndef TENANTGATE_JSONFILTER_H
#define TENANTGATE_JSONFILTER_H

#include <stddef.h>
#include "tenantgate/iovec.h"

typedef void (*tg_jf_emit_fn)(void *arg, const char *buf, size_t len);

enum tg_jf_kind {
    TG_JF_RULES,
    TG_JF_ALERTS,
    TG_JF_METADATA,
    /* Alertmanager API v2 */
    TG_JF_AM_ALERTS,
    TG_JF_AM_GROUPS,
    TG_JF_AM_SILENCES,
    TG_JF_AM_STATUS,
};

struct tg_jf;

/* `label` is the tenant label name (e.g. "namespace", non-empty), `values`
 * the tenant's values. Returns NULL for an empty label, a NULL emit, or when
 * yajl cannot allocate. */
struct tg_jf *tg_jf_new(enum tg_jf_kind kind, tg_iovec_t label, const tg_iovec_t *values,
                        size_t n_values, tg_jf_emit_fn emit, void *arg);

/* METADATA: the allowed metric names (hash set; replaces any earlier set).
 * Without a set, every entry is dropped. Returns 0 / -1 (after feeding). */
int tg_jf_set_metric_names(struct tg_jf *f, const tg_iovec_t *names, size_t n);

/* Cap on bytes held back while an item is undecided (default 64 MiB);
 * exceeding it is an error. */
void tg_jf_set_max_buffer(struct tg_jf *f, size_t max_bytes);

/* Feed the next chunk. Returns 0, or -1 on malformed/unexpected input (and
 * every later call returns -1 too). May call emit. */
int tg_jf_feed(struct tg_jf *f, const void *buf, size_t len);

/* End of the body: checks the document is complete, emits the rest.
 * Returns 0 / -1. */
int tg_jf_finish(struct tg_jf *f);

/* Why the last call failed ("offset N: ..."), or NULL. Owned by `f`. */
const char *tg_jf_error(const struct tg_jf *f);

void tg_jf_free(struct tg_jf *f);

#endif
