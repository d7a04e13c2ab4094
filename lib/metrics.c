/* Metrics registry and text exposition; see include/tenantgate/metrics.h. */
#include "tenantgate/core.h"
#include "tenantgate/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/arena.h"

struct tg_metric {
    struct tg_metric_family *family;
    tg_iovec_t *values; /* n_labels label values (arena copies) */
    uint64_t hash;
    struct tg_metric *next; /* hash chain */
    double value;           /* counter/gauge value, histogram sum */
    uint64_t count;         /* histogram sample count */
    uint64_t *buckets;      /* histogram: per-bucket (not cumulative) counts */
};

struct tg_metric_family {
    struct tg_metrics *owner;
    const char *name, *help;
    enum tg_metric_type type;
    const char **label_names;
    size_t n_labels;
    double *bounds; /* histogram upper bounds, without +Inf */
    size_t n_bounds;
    struct tg_metric **table;    /* hash buckets */
    size_t table_size;           /* power of two */
    struct tg_metric **children; /* insertion order */
    size_t n_children, cap_children;
    size_t max_children; /* TG_METRICS_MAX_CHILDREN unless set */
};

struct tg_metrics {
    tg_arena_t arena; /* every family, child and string */
    struct tg_metric_family **families;
    size_t n, cap;
};

struct tg_metrics *tg_metrics_new(void)
{
    struct tg_metrics *m = tg_calloc(1, sizeof(*m));
    tg_arena_init(&m->arena, NULL, 0);
    return m;
}

void tg_metrics_free(struct tg_metrics *m)
{
    size_t i;
    if (m == NULL)
        return;
    for (i = 0; i < m->n; i++) {
        free(m->families[i]->children);
        free(m->families[i]->table);
    }
    free(m->families);
    tg_arena_destroy(&m->arena);
    free(m);
}

/* ---- registration ------------------------------------------------------------ */

static int valid_name(const char *s, int colon_ok)
{
    size_t i;
    if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (i = 0; s[i]; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon_ok && c == ':')))
            return 0;
    }
    return 1;
}

static int valid_labels(const char *const *names, size_t n, enum tg_metric_type type)
{
    size_t i, j;
    for (i = 0; i < n; i++) {
        if (!valid_name(names[i], 0) || strncmp(names[i], "__", 2) == 0 ||
            (type == TG_METRIC_HISTOGRAM && strcmp(names[i], "le") == 0))
            return 0;
        for (j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return 0;
    }
    return 1;
}

static int valid_buckets(enum tg_metric_type type, const double *b, size_t n)
{
    size_t i;
    if (type != TG_METRIC_HISTOGRAM)
        return n == 0;
    if (n == 0 || b == NULL)
        return 0;
    for (i = 0; i < n; i++)
        if (!isfinite(b[i]) || (i > 0 && b[i] <= b[i - 1]))
            return 0;
    return 1;
}

static struct tg_metric_family *find_family(const struct tg_metrics *m, const char *name)
{
    size_t i;
    for (i = 0; i < m->n; i++)
        if (strcmp(m->families[i]->name, name) == 0)
            return m->families[i];
    return NULL;
}

struct tg_metric_family *tg_metrics_register(struct tg_metrics *m, const char *name,
                                             const char *help, enum tg_metric_type type,
                                             const char *const *label_names, size_t n_labels,
                                             const double *buckets, size_t n_buckets)
{
    struct tg_metric_family *f;
    size_t i;

    if (!valid_name(name, 1) || (n_labels > 0 && label_names == NULL) ||
        !valid_labels(label_names, n_labels, type) || !valid_buckets(type, buckets, n_buckets) ||
        find_family(m, name) != NULL)
        return NULL;
    f = tg_arena_calloc(&m->arena, sizeof(*f));
    f->owner = m;
    f->name = tg_arena_strndup(&m->arena, name, strlen(name));
    f->help = tg_arena_strndup(&m->arena, help ? help : "", help ? strlen(help) : 0);
    f->type = type;
    f->n_labels = n_labels;
    f->max_children = TG_METRICS_MAX_CHILDREN;
    f->label_names = tg_arena_alloc(&m->arena, (n_labels + 1) * sizeof(*f->label_names));
    for (i = 0; i < n_labels; i++)
        f->label_names[i] = tg_arena_strndup(&m->arena, label_names[i], strlen(label_names[i]));
    f->n_bounds = n_buckets;
    f->bounds = tg_arena_alloc(&m->arena, (n_buckets + 1) * sizeof(double));
    if (n_buckets)
        memcpy(f->bounds, buckets, n_buckets * sizeof(double));
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->families = tg_realloc(m->families, m->cap * sizeof(*m->families));
    }
    m->families[m->n++] = f;
    if (n_labels == 0)
        tg_metric_get(f, NULL, 0); /* an unlabelled series exists from the start */
    return f;
}

/* ---- children ------------------------------------------------------------------ */

static uint64_t hash_values(const tg_iovec_t *v, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over len-prefixed values */
    size_t i, j;
    for (i = 0; i < n; i++) {
        uint64_t len = v[i].len;
        for (j = 0; j < sizeof(len); j++) {
            h ^= (len >> (8 * j)) & 0xff;
            h *= 1099511628211ull;
        }
        for (j = 0; j < v[i].len; j++) {
            h ^= (unsigned char)v[i].base[j];
            h *= 1099511628211ull;
        }
    }
    return h;
}

static int same_values(const struct tg_metric *c, const tg_iovec_t *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!tg_iov_eq(c->values[i], v[i]))
            return 0;
    return 1;
}

static void rehash(struct tg_metric_family *f)
{
    size_t i, size = f->table_size ? f->table_size * 2 : 16;
    struct tg_metric **t = tg_calloc(size, sizeof(*t));
    for (i = 0; i < f->n_children; i++) {
        struct tg_metric *c = f->children[i];
        size_t b = (size_t)c->hash & (size - 1);
        c->next = t[b];
        t[b] = c;
    }
    free(f->table);
    f->table = t;
    f->table_size = size;
}

static struct tg_metric *new_child(struct tg_metric_family *f, const tg_iovec_t *v, size_t n,
                                   uint64_t h)
{
    tg_arena_t *a = &f->owner->arena;
    struct tg_metric *c = tg_arena_calloc(a, sizeof(*c));
    size_t i;

    c->family = f;
    c->hash = h;
    c->values = tg_arena_alloc(a, (n + 1) * sizeof(*c->values));
    for (i = 0; i < n; i++)
        c->values[i] = tg_arena_iovdup(a, v[i]);
    if (f->type == TG_METRIC_HISTOGRAM)
        c->buckets = tg_arena_calloc(a, (f->n_bounds + 1) * sizeof(*c->buckets));
    if (f->n_children == f->cap_children) {
        f->cap_children = f->cap_children ? f->cap_children * 2 : 8;
        f->children = tg_realloc(f->children, f->cap_children * sizeof(*f->children));
    }
    f->children[f->n_children++] = c;
    if (f->n_children * 2 > f->table_size)
        rehash(f);
    else {
        c->next = f->table[h & (f->table_size - 1)];
        f->table[h & (f->table_size - 1)] = c;
    }
    return c;
}

struct tg_metric *tg_metric_get(struct tg_metric_family *f, const tg_iovec_t *values, size_t n)
{
    uint64_t h;
    struct tg_metric *c;

    if (f == NULL || n != f->n_labels)
        return NULL;
    h = hash_values(values, n);
    if (f->table_size > 0)
        for (c = f->table[h & (f->table_size - 1)]; c != NULL; c = c->next)
            if (c->hash == h && same_values(c, values, n))
                return c;
    if (f->n_children >= f->max_children)
        return NULL;
    return new_child(f, values, n, h);
}

void tg_metrics_family_set_max_children(struct tg_metric_family *f, size_t n)
{
    if (f != NULL)
        f->max_children = n;
}

struct tg_metric *tg_metric_get0(struct tg_metric_family *f)
{
    return tg_metric_get(f, NULL, 0);
}

struct tg_metric *tg_metric_get1(struct tg_metric_family *f, const char *v1)
{
    tg_iovec_t v[1] = {tg_iov_str(v1)};
    return tg_metric_get(f, v, 1);
}

struct tg_metric *tg_metric_get2(struct tg_metric_family *f, const char *v1, const char *v2)
{
    tg_iovec_t v[2] = {tg_iov_str(v1), tg_iov_str(v2)};
    return tg_metric_get(f, v, 2);
}

/* ---- updates --------------------------------------------------------------------- */

void tg_metric_add(struct tg_metric *c, double v)
{
    if (c == NULL || c->family->type == TG_METRIC_HISTOGRAM)
        return;
    if (c->family->type == TG_METRIC_COUNTER && !(v >= 0))
        return; /* counters only go up */
    c->value += v;
}

void tg_metric_inc(struct tg_metric *c)
{
    tg_metric_add(c, 1);
}

void tg_metric_dec(struct tg_metric *c)
{
    if (c != NULL && c->family->type == TG_METRIC_GAUGE)
        c->value -= 1;
}

void tg_metric_set(struct tg_metric *c, double v)
{
    if (c != NULL && c->family->type == TG_METRIC_GAUGE)
        c->value = v;
}

void tg_metric_observe(struct tg_metric *c, double v)
{
    const struct tg_metric_family *f;
    size_t i;

    if (c == NULL || c->family->type != TG_METRIC_HISTOGRAM)
        return;
    f = c->family;
    for (i = 0; i < f->n_bounds && !(v <= f->bounds[i]); i++)
        ;
    c->buckets[i]++; /* i == n_bounds: only +Inf (also NaN, like client_golang) */
    c->count++;
    c->value += v;
}

double tg_metric_value(const struct tg_metric *c)
{
    if (c == NULL)
        return 0;
    return c->family->type == TG_METRIC_HISTOGRAM ? (double)c->count : c->value;
}

/* ---- rendering --------------------------------------------------------------------- */

/* Shortest text that reads back as the same double, laid out like Go's
 * strconv.FormatFloat(v, 'g', -1, 64), which client_golang uses: exponent
 * form when the decimal exponent is < -4 or >= 6 ("1e+06", "0.005"). */
static void add_double(tg_sb_t *out, double v)
{
    char buf[48];
    int prec, exp;

    if (isnan(v)) {
        tg_sb_adds(out, "NaN");
        return;
    }
    if (isinf(v)) {
        tg_sb_adds(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (prec = 1; prec < 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
    exp = atoi(strchr(buf, 'e') + 1);
    if (exp >= -4 && exp < 6)
        snprintf(buf, sizeof(buf), "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
    tg_sb_adds(out, buf);
}

static void add_escaped(tg_sb_t *out, tg_iovec_t v, int quote)
{
    size_t i;
    for (i = 0; i < v.len; i++) {
        char c = v.base[i];
        if (c == '\\')
            tg_sb_add(out, "\\\\", 2);
        else if (c == '\n')
            tg_sb_add(out, "\\n", 2);
        else if (c == '"' && quote)
            tg_sb_add(out, "\\\"", 2);
        else
            tg_sb_addc(out, c);
    }
}

/* name{l1="v1",...,extra="..."} ; `le` is the histogram bucket label or NULL */
static void add_series(tg_sb_t *out, const struct tg_metric *c, const char *suffix,
                       const char *le_text)
{
    const struct tg_metric_family *f = c->family;
    size_t i;

    tg_sb_adds(out, f->name);
    tg_sb_adds(out, suffix);
    if (f->n_labels == 0 && le_text == NULL) {
        tg_sb_addc(out, ' ');
        return;
    }
    tg_sb_addc(out, '{');
    for (i = 0; i < f->n_labels; i++) {
        if (i > 0)
            tg_sb_addc(out, ',');
        tg_sb_printf(out, "%s=\"", f->label_names[i]);
        add_escaped(out, c->values[i], 1);
        tg_sb_addc(out, '"');
    }
    if (le_text != NULL)
        tg_sb_printf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le_text);
    tg_sb_adds(out, "} ");
}

static void render_histogram(tg_sb_t *out, const struct tg_metric *c)
{
    const struct tg_metric_family *f = c->family;
    uint64_t cum = 0;
    size_t i;

    for (i = 0; i <= f->n_bounds; i++) {
        tg_sb_t le;
        cum += c->buckets[i];
        tg_sb_init(&le, NULL, 32);
        if (i < f->n_bounds)
            add_double(&le, f->bounds[i]);
        else
            tg_sb_adds(&le, "+Inf");
        add_series(out, c, "_bucket", tg_sb_cstr(&le));
        tg_sb_free(&le);
        tg_sb_printf(out, "%llu\n", (unsigned long long)cum);
    }
    add_series(out, c, "_sum", NULL);
    add_double(out, c->value);
    tg_sb_addc(out, '\n');
    add_series(out, c, "_count", NULL);
    tg_sb_printf(out, "%llu\n", (unsigned long long)c->count);
}

static int cmp_iov(tg_iovec_t a, tg_iovec_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int r = n ? memcmp(a.base, b.base, n) : 0;
    return r ? r : (a.len > b.len) - (a.len < b.len);
}

static int cmp_child(const void *pa, const void *pb)
{
    const struct tg_metric *a = *(struct tg_metric *const *)pa;
    const struct tg_metric *b = *(struct tg_metric *const *)pb;
    size_t i;
    for (i = 0; i < a->family->n_labels; i++) {
        int r = cmp_iov(a->values[i], b->values[i]);
        if (r)
            return r;
    }
    return 0;
}

static int cmp_family(const void *pa, const void *pb)
{
    const struct tg_metric_family *a = *(struct tg_metric_family *const *)pa;
    const struct tg_metric_family *b = *(struct tg_metric_family *const *)pb;
    return strcmp(a->name, b->name);
}

static void render_family(tg_sb_t *out, const struct tg_metric_family *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    struct tg_metric **sorted;
    size_t i;

    if (f->n_children == 0)
        return;
    tg_sb_printf(out, "# HELP %s ", f->name);
    add_escaped(out, tg_iov_str(f->help), 0);
    tg_sb_printf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
    sorted = tg_realloc(NULL, f->n_children * sizeof(*sorted));
    memcpy(sorted, f->children, f->n_children * sizeof(*sorted));
    qsort(sorted, f->n_children, sizeof(*sorted), cmp_child);
    for (i = 0; i < f->n_children; i++) {
        if (f->type == TG_METRIC_HISTOGRAM) {
            render_histogram(out, sorted[i]);
        } else {
            add_series(out, sorted[i], "", NULL);
            add_double(out, sorted[i]->value);
            tg_sb_addc(out, '\n');
        }
    }
    free(sorted);
}

void tg_metrics_render(const struct tg_metrics *m, tg_sb_t *out)
{
    struct tg_metric_family **sorted;
    size_t i;

    if (m->n == 0)
        return;
    sorted = tg_realloc(NULL, m->n * sizeof(*sorted));
    memcpy(sorted, m->families, m->n * sizeof(*sorted));
    qsort(sorted, m->n, sizeof(*sorted), cmp_family);
    for (i = 0; i < m->n; i++)
        render_family(out, sorted[i]);
    free(sorted);
}

/* ---- tenantgate's series ------------------------------------------------------------- */

int tg_metrics_register_std(struct tg_metrics *m, const char *version, struct tg_std_metrics *o)
{
    /* PromQL requests range from a cache hit to minutes-long range queries */
    static const double req_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                         1,     2.5,  5,     10,   30,  60,   120};
    static const double kube_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    static const char *const route[] = {"route"}, *const route_code[] = {"route", "code"};
    static const char *const kind[] = {"kind"}, *const ver[] = {"version"};
    static const char *const call[] = {"call"}, *const call_code[] = {"call", "code"};
    const enum tg_metric_type C = TG_METRIC_COUNTER, G = TG_METRIC_GAUGE, H = TG_METRIC_HISTOGRAM;
    size_t nrb = sizeof(req_buckets) / sizeof(req_buckets[0]);
    size_t nkb = sizeof(kube_buckets) / sizeof(kube_buckets[0]);

#define REG(field, name, help, type, labels, nl, b, nb)                                            \
    if ((o->field = tg_metrics_register(m, "tenantgate_" name, help, type, labels, nl, b, nb)) ==  \
        NULL)                                                                                      \
        return -1;
    REG(requests_total, "requests_total",
        "Requests answered, by route and HTTP status code (route \"refused\": refused by the "
        "request framing check).",
        C, route_code, 2, NULL, 0)
    REG(request_duration_seconds, "request_duration_seconds",
        "Time from request start to the last byte of the response, by route.", H, route, 1,
        req_buckets, nrb)
    REG(upstream_errors_total, "upstream_errors_total",
        "Failed upstream exchanges, by kind (connect, timeout, reset, protocol).", C, kind, 1, NULL,
        0)
    REG(requests_in_flight, "requests_in_flight", "Requests being served.", G, NULL, 0, NULL, 0)
    REG(open_connections, "open_connections", "Open client connections.", G, NULL, 0, NULL, 0)
    REG(build_info, "build_info", "Always 1; the version label says which build runs.", G, ver, 1,
        NULL, 0)
    REG(authn_cache_hits_total, "authn_cache_hits_total", "Authentication cache hits.", C, NULL, 0,
        NULL, 0)
    REG(authn_cache_misses_total, "authn_cache_misses_total", "Authentication cache misses.", C,
        NULL, 0, NULL, 0)
    REG(authn_cache_evictions_total, "authn_cache_evictions_total",
        "Authentication cache entries evicted before they expired.", C, NULL, 0, NULL, 0)
    REG(authz_cache_hits_total, "authz_cache_hits_total", "Authorization cache hits.", C, NULL, 0,
        NULL, 0)
    REG(authz_cache_misses_total, "authz_cache_misses_total", "Authorization cache misses.", C,
        NULL, 0, NULL, 0)
    REG(authz_cache_evictions_total, "authz_cache_evictions_total",
        "Authorization cache entries evicted before they expired.", C, NULL, 0, NULL, 0)
    REG(kube_api_request_duration_seconds, "kube_api_request_duration_seconds",
        "Kubernetes API request latency, by call (tokenreview, subjectaccessreview).", H, call, 1,
        kube_buckets, nkb)
    REG(kube_api_errors_total, "kube_api_errors_total",
        "Failed Kubernetes API requests, by call and HTTP status code (0: no response).", C,
        call_code, 2, NULL, 0)
    REG(cache_coalesced_waits_total, "cache_coalesced_waits_total",
        "Requests that waited for an identical in-flight Kubernetes API call.", C, NULL, 0, NULL, 0)
    REG(cache_grace_served_total, "cache_grace_served_total",
        "Decisions served from an expired cache entry while the API server was unreachable.", C,
        NULL, 0, NULL, 0)
#undef REG
    tg_metric_set(tg_metric_get1(o->build_info, version), 1);
    return 0;
}
