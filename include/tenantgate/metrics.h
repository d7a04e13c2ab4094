/*
 * Metrics registry: counters, gauges and histograms with a fixed label set
 * per family, rendered in the Prometheus text exposition format 0.0.4. No
 * global state: the server owns one struct tg_metrics.
 *
 * Use: register each family once at start-up, then look up a child by its
 * label values (created on first use, values copied) and update it. Child
 * pointers stay valid until tg_metrics_free(), so hot paths can keep them.
 * Every update function accepts NULL and then does nothing, so a failed
 * lookup (too many children, wrong label count) never needs a check.
 *
 * Ownership: the registry owns families, children and all their strings
 * (copies). Not thread-safe: use it from the event loop thread only.
 */
#ifndef TENANTGATE_METRICS_H
#define TENANTGATE_METRICS_H

#include <stddef.h>
#include "tenantgate/iovec.h"
#include "tenantgate/sb.h"

enum tg_metric_type { TG_METRIC_COUNTER, TG_METRIC_GAUGE, TG_METRIC_HISTOGRAM };

struct tg_metrics;
struct tg_metric_family;
struct tg_metric;

/* Default cap on children per family (label cardinality guard). */
#define TG_METRICS_MAX_CHILDREN 1000

struct tg_metrics *tg_metrics_new(void);
void tg_metrics_free(struct tg_metrics *m);

/* Register a family. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* (not "le" for histograms, no "__" prefix, no
 * duplicates). Histograms need n_buckets >= 1 strictly increasing finite
 * upper bounds (+Inf is implicit); other types pass NULL/0. A family without
 * labels has its single child from the start (it renders as 0).
 * Returns NULL on invalid arguments or a duplicate name. */
struct tg_metric_family *tg_metrics_register(struct tg_metrics *m, const char *name,
                                             const char *help, enum tg_metric_type type,
                                             const char *const *label_names, size_t n_labels,
                                             const double *buckets, size_t n_buckets);

/* Child for these label values (n must equal the family's label count),
 * created on first use. NULL if f is NULL, n is wrong or the family already
 * has TG_METRICS_MAX_CHILDREN children. */
struct tg_metric *tg_metric_get(struct tg_metric_family *f, const tg_iovec_t *values, size_t n);
/* Raise (or lower) a family's cap on children, for families whose label
 * values the caller bounds itself (per-tenant families: limits.metricsMaxTenants). */
void tg_metrics_family_set_max_children(struct tg_metric_family *f, size_t n);
/* Shorthands for 0, 1 and 2 labels (NUL-terminated values). */
struct tg_metric *tg_metric_get0(struct tg_metric_family *f);
struct tg_metric *tg_metric_get1(struct tg_metric_family *f, const char *v1);
struct tg_metric *tg_metric_get2(struct tg_metric_family *f, const char *v1, const char *v2);

/* Counters and gauges. Negative or NaN additions to a counter are ignored. */
void tg_metric_inc(struct tg_metric *c);
void tg_metric_add(struct tg_metric *c, double v);
/* Gauges only (ignored for other types). */
void tg_metric_dec(struct tg_metric *c);
void tg_metric_set(struct tg_metric *c, double v);
/* Histograms only (ignored for other types). */
void tg_metric_observe(struct tg_metric *c, double v);
/* Current value of a counter/gauge, or a histogram's sample count. */
double tg_metric_value(const struct tg_metric *c);

/* Append the exposition text: families sorted by name, children by label
 * values; families with labels but no child yet are left out. */
void tg_metrics_render(const struct tg_metrics *m, tg_sb_t *out);

/* Content-Type of tg_metrics_render()'s output. */
#define TG_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- tenantgate's own series -------------------------------------------- */

struct tg_std_metrics {
    struct tg_metric_family *requests_total;           /* counter {route,code} */
    struct tg_metric_family *request_duration_seconds; /* histogram {route} */
    struct tg_metric_family *upstream_errors_total;    /* counter {kind}: connect, timeout,
                                                          reset, protocol */
    struct tg_metric_family *requests_in_flight;       /* gauge */
    struct tg_metric_family *open_connections;         /* gauge */
    struct tg_metric_family *build_info;               /* gauge {version} = 1 */
    struct tg_metric_family *authn_cache_hits_total;
    struct tg_metric_family *authn_cache_misses_total;
    struct tg_metric_family *authn_cache_evictions_total;
    struct tg_metric_family *authz_cache_hits_total;
    struct tg_metric_family *authz_cache_misses_total;
    struct tg_metric_family *authz_cache_evictions_total;
    struct tg_metric_family *kube_api_request_duration_seconds; /* histogram {call} */
    struct tg_metric_family *kube_api_errors_total;             /* counter {call,code} */
    struct tg_metric_family *cache_coalesced_waits_total;
    struct tg_metric_family *cache_grace_served_total;
};

/* Register every tenantgate_* family above into `m` and set build_info for
 * `version`. Returns 0 / -1 (only if `m` already holds one of the names). */
int tg_metrics_register_std(struct tg_metrics *m, const char *version, struct tg_std_metrics *out);

#endif
