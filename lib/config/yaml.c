/*
 * The config file: kube-rbac-proxy's format (`authorization:`) plus
 * tenantgate's own top-level sections, loaded with libcyaml.
 *
 * Three passes, because libcyaml reports neither lines nor key paths in a
 * form we can hand to a user:
 *  1. check(): walk libyaml's events alongside the libcyaml schema; unknown
 *     keys, duplicate keys, aliases and wrong node kinds become
 *     "file:line: a.b.c: message" errors, and every key's line is recorded
 *     in a path index.
 *  2. libcyaml loads the (now known-good) document into the raw structs
 *     below, every leaf as a string.
 *  3. convert(): each leaf is parsed by the same value parsers the flags
 *     use; a bad value is reported with the line found in the index.
 * Keys match case-insensitively, as in kube-rbac-proxy (its Go decoder goes
 * through encoding/json). A null leaf (`key:`, `~`, `null`) means "not set".
 */
#include "config-int.h"

#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

#include "tenantgate/core.h"
#include "tenantgate/http.h"

/* ---- raw document: every leaf a string, NULL when absent ---- */

struct y_name {
    char *name;
};
struct y_rewrites {
    struct y_name *by_query_parameter;
    struct y_name *by_http_header;
};
struct y_resattrs {
    char *namespace_, *api_group, *api_version, *resource, *subresource, *name;
};
struct y_user {
    char *name;
    char **groups;
    unsigned groups_count;
};
struct y_static {
    struct y_user *user;
    char *verb, *namespace_, *api_group, *resource, *subresource, *name;
    char *resource_request, *path;
};
struct y_authz {
    struct y_rewrites *rewrites;
    struct y_resattrs *resource_attributes;
    struct y_static *static_;
    unsigned static__count;
};
struct y_cache {
    char *authn_ttl, *unauthn_ttl, *allow_ttl, *deny_ttl, *max_entries, *grace;
};
struct y_kube {
    char *timeout, *qps, *burst, *retries;
};
struct y_server {
    char *max_header_bytes, *max_body_bytes, *header_timeout, *idle_timeout;
    char *max_connections, *shutdown_grace, *tls_reload_interval;
};
struct y_upstream {
    char *timeout, *max_idle_conns, *tenant_header;
    char **drop_headers;
    unsigned drop_headers_count;
};
struct y_tenancy {
    char *label, *query_param, *error_on_replace, *sa_namespace_default, *verb_mode;
    char *allow_info, *enable_label_apis;
    char **label_values;
    unsigned label_values_count;
};
struct y_promql {
    char *max_query_bytes, *max_depth, *duration_expr, *experimental_functions;
    char *extended_range_selectors, *binop_fill_modifiers;
};
struct y_log {
    char *level, *access_log;
};
/* oidc: the keys of one issuer at the top (the --oidc-* flags' issuer),
 * more issuers in issuers[], and settings for all of them */
struct y_oidc_issuer {
    char *issuer, *client_id, *username_claim, *username_prefix, *groups_claim, *groups_prefix;
    char *ca_file;
    char **sign_algs;
    unsigned sign_algs_count;
    char **required_claims;
    unsigned required_claims_count;
};
struct y_oidc {
    struct y_oidc_issuer top;
    char *clock_skew, *jwks_refresh_interval, *jwks_refetch_interval;
    struct y_oidc_issuer *issuers;
    unsigned issuers_count;
};
struct y_alertmanager {
    char *upstream, *ca_file, *client_cert_file, *client_key_file, *max_body_bytes;
    struct y_resattrs *resource_attributes;
};
/* limits: (the tenants map is read by check(): libcyaml has no mapping
 * with arbitrary keys) */
struct y_limit_set {
    char *max_inflight, *max_queued, *queue_timeout, *rate, *burst, *max_query_length;
    char *max_lookback;
};
struct y_blocked {
    char *pattern, *reason, *regex;
};
struct y_limits {
    struct y_limit_set *defaults;
    struct y_blocked *blocked;
    unsigned blocked_count;
    char *metrics_max_tenants, *lookback_delta;
};
struct y_tenant {
    char *name;
    int line;
    struct y_limit_set set;
};
struct y_root {
    struct y_authz *authorization;
    struct y_cache *cache;
    struct y_kube *kubernetes;
    struct y_server *server;
    struct y_upstream *upstream;
    struct y_tenancy *tenancy;
    struct y_promql *promql;
    struct y_log *log;
    struct y_oidc *oidc;
    struct y_alertmanager *alertmanager;
    struct y_limits *limits;
};

/* ---- libcyaml schema ---- */

#define OPT                     (CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL)
#define STR(key, st, m)         CYAML_FIELD_STRING_PTR(key, OPT, st, m, 0, CYAML_UNLIMITED)
#define MAP(key, st, m, fields) CYAML_FIELD_MAPPING_PTR(key, OPT, st, m, fields)

static const cyaml_schema_value_t str_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER_NULL_STR, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t name_fields[] = {
    STR("name", struct y_name, name),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t rewrites_fields[] = {
    MAP("byQueryParameter", struct y_rewrites, by_query_parameter, name_fields),
    MAP("byHttpHeader", struct y_rewrites, by_http_header, name_fields),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t resattrs_fields[] = {
    STR("namespace", struct y_resattrs, namespace_),
    STR("apiGroup", struct y_resattrs, api_group),
    STR("apiVersion", struct y_resattrs, api_version),
    STR("resource", struct y_resattrs, resource),
    STR("subresource", struct y_resattrs, subresource),
    STR("name", struct y_resattrs, name),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t user_fields[] = {
    STR("name", struct y_user, name),
    CYAML_FIELD_SEQUENCE("groups", OPT, struct y_user, groups, &str_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t static_fields[] = {
    MAP("user", struct y_static, user, user_fields),
    STR("verb", struct y_static, verb),
    STR("namespace", struct y_static, namespace_),
    STR("apiGroup", struct y_static, api_group),
    STR("resource", struct y_static, resource),
    STR("subresource", struct y_static, subresource),
    STR("name", struct y_static, name),
    STR("resourceRequest", struct y_static, resource_request),
    STR("path", struct y_static, path),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t static_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct y_static, static_fields),
};
static const cyaml_schema_field_t authz_fields[] = {
    MAP("rewrites", struct y_authz, rewrites, rewrites_fields),
    MAP("resourceAttributes", struct y_authz, resource_attributes, resattrs_fields),
    CYAML_FIELD_SEQUENCE("static", OPT, struct y_authz, static_, &static_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t cache_fields[] = {
    STR("authnTTL", struct y_cache, authn_ttl),
    STR("unauthnTTL", struct y_cache, unauthn_ttl),
    STR("allowTTL", struct y_cache, allow_ttl),
    STR("denyTTL", struct y_cache, deny_ttl),
    STR("maxEntries", struct y_cache, max_entries),
    STR("grace", struct y_cache, grace),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t kube_fields[] = {
    STR("timeout", struct y_kube, timeout),
    STR("qps", struct y_kube, qps),
    STR("burst", struct y_kube, burst),
    STR("retries", struct y_kube, retries),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t server_fields[] = {
    STR("maxHeaderBytes", struct y_server, max_header_bytes),
    STR("maxBodyBytes", struct y_server, max_body_bytes),
    STR("headerTimeout", struct y_server, header_timeout),
    STR("idleTimeout", struct y_server, idle_timeout),
    STR("maxConnections", struct y_server, max_connections),
    STR("shutdownGrace", struct y_server, shutdown_grace),
    STR("tlsReloadInterval", struct y_server, tls_reload_interval),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t upstream_fields[] = {
    STR("timeout", struct y_upstream, timeout),
    STR("maxIdleConns", struct y_upstream, max_idle_conns),
    STR("tenantHeader", struct y_upstream, tenant_header),
    CYAML_FIELD_SEQUENCE("dropHeaders", OPT, struct y_upstream, drop_headers, &str_entry, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t tenancy_fields[] = {
    STR("label", struct y_tenancy, label),
    STR("queryParam", struct y_tenancy, query_param),
    CYAML_FIELD_SEQUENCE("labelValues", OPT, struct y_tenancy, label_values, &str_entry, 0,
                         CYAML_UNLIMITED),
    STR("errorOnReplace", struct y_tenancy, error_on_replace),
    STR("serviceAccountNamespaceDefault", struct y_tenancy, sa_namespace_default),
    STR("verbMode", struct y_tenancy, verb_mode),
    STR("allowInfo", struct y_tenancy, allow_info),
    STR("enableLabelAPIs", struct y_tenancy, enable_label_apis),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t promql_fields[] = {
    STR("maxQueryBytes", struct y_promql, max_query_bytes),
    STR("maxDepth", struct y_promql, max_depth),
    STR("durationExpressions", struct y_promql, duration_expr),
    STR("experimentalFunctions", struct y_promql, experimental_functions),
    STR("extendedRangeSelectors", struct y_promql, extended_range_selectors),
    STR("binopFillModifiers", struct y_promql, binop_fill_modifiers),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t log_fields[] = {
    STR("level", struct y_log, level),
    STR("accessLog", struct y_log, access_log),
    CYAML_FIELD_END,
};
#define OIDC_ISSUER_FIELDS(st, m)                                                                  \
    STR("issuer", st, m issuer), STR("clientID", st, m client_id),                                 \
        STR("usernameClaim", st, m username_claim), STR("usernamePrefix", st, m username_prefix),  \
        STR("groupsClaim", st, m groups_claim), STR("groupsPrefix", st, m groups_prefix),          \
        CYAML_FIELD_SEQUENCE("signAlgs", OPT, st, m sign_algs, &str_entry, 0, CYAML_UNLIMITED),    \
        STR("caFile", st, m ca_file),                                                              \
        CYAML_FIELD_SEQUENCE("requiredClaims", OPT, st, m required_claims, &str_entry, 0,          \
                             CYAML_UNLIMITED)
static const cyaml_schema_field_t oidc_issuer_fields[] = {
    OIDC_ISSUER_FIELDS(struct y_oidc_issuer, ),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t oidc_issuer_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct y_oidc_issuer, oidc_issuer_fields),
};
static const cyaml_schema_field_t oidc_fields[] = {
    OIDC_ISSUER_FIELDS(struct y_oidc, top.),
    STR("clockSkew", struct y_oidc, clock_skew),
    STR("jwksRefreshInterval", struct y_oidc, jwks_refresh_interval),
    STR("jwksRefetchInterval", struct y_oidc, jwks_refetch_interval),
    CYAML_FIELD_SEQUENCE("issuers", OPT, struct y_oidc, issuers, &oidc_issuer_entry, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t alertmanager_fields[] = {
    STR("upstream", struct y_alertmanager, upstream),
    STR("caFile", struct y_alertmanager, ca_file),
    STR("clientCertFile", struct y_alertmanager, client_cert_file),
    STR("clientKeyFile", struct y_alertmanager, client_key_file),
    STR("maxBodyBytes", struct y_alertmanager, max_body_bytes),
    MAP("resourceAttributes", struct y_alertmanager, resource_attributes, resattrs_fields),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t limit_set_fields[] = {
    STR("maxInflight", struct y_limit_set, max_inflight),
    STR("maxQueued", struct y_limit_set, max_queued),
    STR("queueTimeout", struct y_limit_set, queue_timeout),
    STR("rate", struct y_limit_set, rate),
    STR("burst", struct y_limit_set, burst),
    STR("maxQueryLength", struct y_limit_set, max_query_length),
    STR("maxLookback", struct y_limit_set, max_lookback),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t blocked_fields[] = {
    STR("pattern", struct y_blocked, pattern),
    STR("reason", struct y_blocked, reason),
    STR("regex", struct y_blocked, regex),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t blocked_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct y_blocked, blocked_fields),
};
/* the one CYAML_IGNORE field: check() reads it into ycheck.tenants */
#define TENANTS_PATH "limits.tenants"
static const cyaml_schema_field_t limits_fields[] = {
    MAP("defaults", struct y_limits, defaults, limit_set_fields),
    CYAML_FIELD_IGNORE("tenants", CYAML_FLAG_OPTIONAL),
    CYAML_FIELD_SEQUENCE("blockedQueries", OPT, struct y_limits, blocked, &blocked_entry, 0,
                         CYAML_UNLIMITED),
    STR("metricsMaxTenants", struct y_limits, metrics_max_tenants),
    STR("lookbackDelta", struct y_limits, lookback_delta),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t root_fields[] = {
    MAP("authorization", struct y_root, authorization, authz_fields),
    MAP("cache", struct y_root, cache, cache_fields),
    MAP("kubernetes", struct y_root, kubernetes, kube_fields),
    MAP("server", struct y_root, server, server_fields),
    MAP("upstream", struct y_root, upstream, upstream_fields),
    MAP("tenancy", struct y_root, tenancy, tenancy_fields),
    MAP("promql", struct y_root, promql, promql_fields),
    MAP("log", struct y_root, log, log_fields),
    MAP("oidc", struct y_root, oidc, oidc_fields),
    MAP("alertmanager", struct y_root, alertmanager, alertmanager_fields),
    MAP("limits", struct y_root, limits, limits_fields),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t root_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct y_root, root_fields),
};

/* ---- pass 1: structure check and line index ---- */

/* Every error in a file is reported, not only the first: pass 1 records a
 * structural error, skips the offending node and goes on; it also writes a
 * copy of the document without those nodes (libyaml's emitter), which
 * passes 2 and 3 read when the original cannot be loaded, so that bad values
 * elsewhere are reported too. Only invalid YAML ends the walk early. */

struct line_entry {
    char *path;
    int line;
};

struct ycheck {
    yaml_parser_t parser;
    yaml_emitter_t emitter;
    int emit_ok;   /* the cleaned copy is complete so far */
    tg_sb_t clean; /* the cleaned copy (heap) */
    const char *name;
    char path[512];
    struct line_entry *lines;
    size_t n_lines;
    char **poisoned; /* list entries replaced by an empty stand-in: no errors below them */
    size_t n_poisoned;
    int n_errors;
    char *err;
    size_t errlen;
    struct y_tenant *tenants; /* limits.tenants, in file order */
    size_t n_tenants;
    struct y_limit_set *capture; /* check_mapping keeps the scalars of a tenant here */
};

static void index_add(struct ycheck *c, int line)
{
    c->lines = tg_realloc(c->lines, (c->n_lines + 1) * sizeof(*c->lines));
    c->lines[c->n_lines].path = tg_strdup(c->path);
    c->lines[c->n_lines].line = line;
    c->n_lines++;
}

static int index_exact(const struct ycheck *c, const char *path, size_t len)
{
    size_t i;
    for (i = 0; i < c->n_lines; i++)
        if (strlen(c->lines[i].path) == len && memcmp(c->lines[i].path, path, len) == 0)
            return c->lines[i].line;
    return 0;
}

/* Line of `path`, or of its nearest present parent when the key itself is
 * absent (a missing `path:` in a static rule is reported on the rule). */
static int index_line(const struct ycheck *c, const char *path)
{
    size_t len = strlen(path);
    while (len > 0) {
        int line = index_exact(c, path, len);
        if (line)
            return line;
        while (len > 0 && path[len - 1] != '.' && path[len - 1] != '[')
            len--;
        if (len > 0)
            len--;
    }
    return 1;
}

/* 1 when `path` is at or below a list entry pass 1 already reported. */
static int is_poisoned(const struct ycheck *c, const char *path)
{
    size_t i;
    for (i = 0; i < c->n_poisoned; i++) {
        size_t n = strlen(c->poisoned[i]);
        if (strncmp(path, c->poisoned[i], n) == 0 &&
            (path[n] == '\0' || path[n] == '.' || path[n] == '['))
            return 1;
    }
    return 0;
}

static int mark_line(const yaml_event_t *ev)
{
    return (int)ev->start_mark.line + 1;
}

/* Record a structural error at the current path; the walk goes on. */
static void check_fail(struct ycheck *c, int line, const char *msg)
{
    c->n_errors++;
    tg_cfg_err_add(c->err, c->errlen, "%s:%d: %s%s%s", c->name, line, c->path,
                   c->path[0] ? ": " : "", msg);
}

/* -1 only for YAML that cannot be parsed on (the walk ends there). */
static int next_event(struct ycheck *c, yaml_event_t *ev)
{
    if (yaml_parser_parse(&c->parser, ev))
        return 0;
    c->n_errors++;
    tg_cfg_err_add(c->err, c->errlen, "%s:%zu: invalid YAML: %s", c->name,
                   c->parser.problem_mark.line + 1,
                   c->parser.problem ? c->parser.problem : "parse error");
    return -1;
}

/* Hand `ev` to the cleaned copy, which owns it from then on (*ev is zeroed:
 * deleting it again is harmless). */
static void keep(struct ycheck *c, yaml_event_t *ev)
{
    if (!c->emit_ok)
        yaml_event_delete(ev);
    else if (!yaml_emitter_emit(&c->emitter, ev)) /* frees ev even when failing */
        c->emit_ok = 0;
    memset(ev, 0, sizeof(*ev));
}

/* An empty node standing in for a dropped list entry. */
static void keep_stand_in(struct ycheck *c, int mapping)
{
    yaml_event_t ev;
    if (mapping) {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_FLOW_MAPPING_STYLE);
        keep(c, &ev);
        yaml_mapping_end_event_initialize(&ev);
    } else {
        yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)"~", 1, 1, 1,
                                     YAML_PLAIN_SCALAR_STYLE);
    }
    keep(c, &ev);
}

static int write_clean(void *arg, unsigned char *buf, size_t len)
{
    tg_sb_add(arg, (const char *)buf, len);
    return 1;
}

/* Drop the node that starts with `ev` (and everything inside it). */
static int skip_node(struct ycheck *c, yaml_event_t *ev)
{
    int depth = ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT;
    yaml_event_delete(ev);
    while (depth > 0) {
        yaml_event_t in;
        if (next_event(c, &in) < 0)
            return -1;
        if (in.type == YAML_MAPPING_START_EVENT || in.type == YAML_SEQUENCE_START_EVENT)
            depth++;
        else if (in.type == YAML_MAPPING_END_EVENT || in.type == YAML_SEQUENCE_END_EVENT)
            depth--;
        yaml_event_delete(&in);
    }
    return 0;
}

/* libcyaml's CYAML_FLAG_POINTER_NULL_STR reading of a scalar. */
static int scalar_is_null(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    return ev->type == YAML_SCALAR_EVENT &&
           (v[0] == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0);
}

static const char *kind_name(yaml_event_type_t t)
{
    return t == YAML_MAPPING_START_EVENT    ? "a mapping"
           : t == YAML_SEQUENCE_START_EVENT ? "a list"
                                            : "a scalar value";
}

static int check_value(struct ycheck *c, const cyaml_schema_value_t *schema, yaml_event_t *ev,
                       yaml_event_t *key);

/* Append ".key" to the path; returns the old length to truncate back to. */
static int push_path(struct ycheck *c, const char *key)
{
    size_t len = strlen(c->path);
    int n = snprintf(c->path + len, sizeof(c->path) - len, "%s%s", len ? "." : "", key);
    if (n < 0 || (size_t)n >= sizeof(c->path) - len) {
        c->n_errors++;
        tg_cfg_err_add(c->err, c->errlen, "%s: keys nested too deeply", c->name);
        return -1;
    }
    return (int)len;
}

/* A key that cannot stay: report it, drop it and its value. */
static int drop_pair(struct ycheck *c, yaml_event_t *key, const char *msg)
{
    yaml_event_t val;
    check_fail(c, mark_line(key), msg);
    if (skip_node(c, key) < 0 || next_event(c, &val) < 0)
        return -1;
    return skip_node(c, &val);
}

/* Inside limits.tenants: keep a limit's scalar for the tenant being read. */
static void capture(struct ycheck *c, const cyaml_schema_field_t *fields,
                    const cyaml_schema_field_t *f, const yaml_event_t *val)
{
    if (c->capture != NULL && fields == limit_set_fields && val->type == YAML_SCALAR_EVENT &&
        !scalar_is_null(val))
        *(char **)((char *)c->capture + f->data_offset) =
            tg_strdup((const char *)val->data.scalar.value);
}

static int check_mapping(struct ycheck *c, const cyaml_schema_field_t *fields)
{
    unsigned long long seen = 0;
    yaml_event_t ev, val;

    for (;;) {
        const cyaml_schema_field_t *f;
        int saved, rc;
        if (next_event(c, &ev) < 0)
            return -1;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            keep(c, &ev);
            return 0;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            if (drop_pair(c, &ev,
                          ev.type == YAML_ALIAS_EVENT ? "YAML aliases are not supported"
                                                      : "mapping keys must be scalars") < 0)
                return -1;
            continue;
        }
        for (f = fields; f->key; f++)
            if (strcasecmp(f->key, (const char *)ev.data.scalar.value) == 0)
                break;
        saved = push_path(c, f->key ? f->key : (const char *)ev.data.scalar.value);
        if (saved < 0) {
            yaml_event_delete(&ev);
            return -1;
        }
        if (f->key == NULL || (seen & (1ULL << (f - fields)))) {
            rc = drop_pair(c, &ev, f->key ? "duplicate key" : "unknown key");
        } else {
            seen |= 1ULL << (f - fields);
            index_add(c, mark_line(&ev));
            if (next_event(c, &val) < 0) {
                rc = -1;
            } else {
                capture(c, fields, f, &val);
                rc = check_value(c, &f->value, &val, &ev);
            }
            yaml_event_delete(&ev); /* zeroed when check_value took it */
        }
        if (rc < 0)
            return -1;
        c->path[saved] = '\0';
    }
}

static int check_sequence(struct ycheck *c, const cyaml_schema_value_t *entry)
{
    yaml_event_t ev;
    size_t i;
    for (i = 0;; i++) {
        int saved, rc = 0;
        if (next_event(c, &ev) < 0)
            return -1;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            keep(c, &ev);
            return 0;
        }
        saved = (int)strlen(c->path);
        snprintf(c->path + saved, sizeof(c->path) - (size_t)saved, "[%zu]", i);
        index_add(c, mark_line(&ev));
        if (entry->type != CYAML_STRING && scalar_is_null(&ev)) {
            check_fail(c, mark_line(&ev), "empty list entry");
            yaml_event_delete(&ev);
            rc = 1;
        } else {
            rc = check_value(c, entry, &ev, NULL);
        }
        if (rc < 0)
            return -1;
        if (rc == 1) {
            /* keep the later entries' indices (errors name them) */
            keep_stand_in(c, entry->type == CYAML_MAPPING);
            tg_strlist_push(&c->poisoned, &c->n_poisoned, c->path, strlen(c->path));
        }
        c->path[saved] = '\0';
    }
}

/* limits.tenants: a mapping from tenant value to a limit set, checked like
 * any mapping of limit_set_fields, its scalars kept in c->tenants (libcyaml
 * has no mapping with arbitrary keys). Same contract as check_value(). */
static int check_tenants(struct ycheck *c, yaml_event_t *ev, yaml_event_t *key)
{
    yaml_event_t k, v;
    size_t i;

    if (ev->type != YAML_MAPPING_START_EVENT && !scalar_is_null(ev)) {
        check_fail(c, mark_line(ev), "expected a mapping of tenant values");
        if (key)
            yaml_event_delete(key);
        return skip_node(c, ev) < 0 ? -1 : 1;
    }
    if (key)
        keep(c, key);
    if (ev->type != YAML_MAPPING_START_EVENT) {
        keep(c, ev);
        return 0;
    }
    keep(c, ev);
    for (;;) {
        struct y_tenant *t;
        const char *name;
        int saved, rc = 0;
        if (next_event(c, &k) < 0)
            return -1;
        if (k.type == YAML_MAPPING_END_EVENT) {
            keep(c, &k);
            return 0;
        }
        if (k.type != YAML_SCALAR_EVENT || scalar_is_null(&k)) {
            if (drop_pair(c, &k, "tenant values must be non-empty scalars") < 0)
                return -1;
            continue;
        }
        name = (const char *)k.data.scalar.value;
        for (i = 0; i < c->n_tenants && strcmp(c->tenants[i].name, name) != 0; i++)
            ;
        if ((saved = push_path(c, name)) < 0) {
            yaml_event_delete(&k);
            return -1;
        }
        if (i < c->n_tenants) {
            rc = drop_pair(c, &k, "duplicate key");
        } else if (next_event(c, &v) < 0) {
            yaml_event_delete(&k);
            rc = -1;
        } else if (v.type != YAML_MAPPING_START_EVENT && !scalar_is_null(&v)) {
            check_fail(c, mark_line(&v), "expected a mapping of limits");
            yaml_event_delete(&k);
            rc = skip_node(c, &v);
        } else {
            c->tenants = tg_realloc(c->tenants, (c->n_tenants + 1) * sizeof(*c->tenants));
            t = &c->tenants[c->n_tenants++];
            memset(t, 0, sizeof(*t));
            t->name = tg_strdup(name);
            t->line = mark_line(&k);
            index_add(c, t->line);
            keep(c, &k);
            if (v.type == YAML_MAPPING_START_EVENT) {
                keep(c, &v);
                c->capture = &t->set;
                rc = check_mapping(c, limit_set_fields);
                c->capture = NULL;
            } else {
                keep(c, &v);
            }
        }
        if (rc < 0)
            return -1;
        c->path[saved] = '\0';
    }
}

/* `ev` is the value's first event, `key` (NULL in a list) the pending key
 * event: both are kept when the value is acceptable (returns 0), else
 * dropped with an error (returns 1). On return the whole value is consumed
 * and neither event is the caller's any more. */
static int check_value(struct ycheck *c, const cyaml_schema_value_t *schema, yaml_event_t *ev,
                       yaml_event_t *key)
{
    yaml_event_type_t want = schema->type == CYAML_MAPPING    ? YAML_MAPPING_START_EVENT
                             : schema->type == CYAML_SEQUENCE ? YAML_SEQUENCE_START_EVENT
                                                              : YAML_SCALAR_EVENT;
    char msg[64];
    int null_ok = ev->type == YAML_SCALAR_EVENT && scalar_is_null(ev) &&
                  (schema->flags & CYAML_FLAG_POINTER_NULL) == CYAML_FLAG_POINTER_NULL;

    if (schema->type == CYAML_IGNORE)
        return check_tenants(c, ev, key);
    if (ev->type != want && !null_ok) {
        if (ev->type == YAML_ALIAS_EVENT)
            snprintf(msg, sizeof(msg), "YAML aliases are not supported");
        else
            snprintf(msg, sizeof(msg), "expected %s, found %s", kind_name(want),
                     kind_name(ev->type));
        check_fail(c, mark_line(ev), msg);
        if (key)
            yaml_event_delete(key);
        return skip_node(c, ev) < 0 ? -1 : 1;
    }
    if (key)
        keep(c, key);
    keep(c, ev);
    if (null_ok)
        return 0;
    if (want == YAML_MAPPING_START_EVENT)
        return check_mapping(c, schema->mapping.fields);
    if (want == YAML_SEQUENCE_START_EVENT)
        return check_sequence(c, schema->sequence.entry);
    return 0;
}

/* Returns 1 when the document has a top-level mapping, 0 when it is empty
 * (or has no usable top level), -1 when it cannot be parsed on. */
static int check_document(struct ycheck *c)
{
    yaml_event_t ev;
    int has_root = 0;

    if (next_event(c, &ev) < 0) /* STREAM_START */
        return -1;
    keep(c, &ev);
    if (next_event(c, &ev) < 0)
        return -1;
    if (ev.type == YAML_STREAM_END_EVENT) {
        keep(c, &ev);
        return 0;
    }
    keep(c, &ev); /* DOCUMENT_START */
    if (next_event(c, &ev) < 0)
        return -1;
    if (ev.type == YAML_MAPPING_START_EVENT) {
        has_root = 1;
        keep(c, &ev);
        if (check_mapping(c, root_fields) < 0)
            return -1;
    } else if (scalar_is_null(&ev)) {
        keep(c, &ev);
    } else {
        check_fail(c, mark_line(&ev), "the top level must be a mapping");
        if (skip_node(c, &ev) < 0)
            return -1;
        keep_stand_in(c, 0);
    }
    if (next_event(c, &ev) < 0) /* DOCUMENT_END */
        return -1;
    keep(c, &ev);
    if (next_event(c, &ev) < 0)
        return -1;
    if (ev.type != YAML_STREAM_END_EVENT) {
        check_fail(c, mark_line(&ev), "only one YAML document is allowed");
        yaml_event_delete(&ev);
        yaml_stream_end_event_initialize(&ev);
    }
    keep(c, &ev);
    return has_root;
}

/* ---- pass 3: conversion ---- */

struct conv {
    struct ycheck *c;
    struct tg_config *cfg;
    struct tg_yaml_extra *x;
    char path[512];
};

/* Error for the value at `path` (a key under the current section). */
/* Record an error for the value at `path` (a key under the current
 * section). Returns 0: the caller goes on with the next key, so that every
 * bad value of a file is reported; the load fails at the end. Values below
 * a list entry pass 1 already reported are not reported again. */
static int conv_fail(struct conv *v, const char *key, const char *msg)
{
    char full[sizeof(v->path) + 300]; /* path + "." + key (keys are short) */
    snprintf(full, sizeof(full), "%s%s%.256s", v->path, v->path[0] ? "." : "", key);
    if (is_poisoned(v->c, full))
        return 0;
    v->c->n_errors++;
    tg_cfg_err_add(v->c->err, v->c->errlen, "%s:%d: %s: %s", v->c->name, index_line(v->c, full),
                   full, msg);
    return 0;
}

static int conv_duration(struct conv *v, const char *key, const char *s, int *out)
{
    char msg[256];
    if (s && tg_parse_duration_ms(s, out, msg, sizeof(msg)) < 0)
        return conv_fail(v, key, msg);
    return 0;
}

static int conv_size(struct conv *v, const char *key, const char *s, size_t *out)
{
    char msg[256];
    if (s && tg_parse_size(s, out, msg, sizeof(msg)) < 0)
        return conv_fail(v, key, msg);
    return 0;
}

static int conv_int(struct conv *v, const char *key, const char *s, long min, long max, int *out)
{
    char msg[256];
    long l;
    if (s == NULL)
        return 0;
    if (tg_parse_int(s, min, max, &l, msg, sizeof(msg)) < 0)
        return conv_fail(v, key, msg);
    *out = (int)l;
    return 0;
}

static int conv_qps(struct conv *v, const char *key, const char *s, double *out)
{
    char msg[256];
    if (s && tg_parse_qps(s, out, msg, sizeof(msg)) < 0)
        return conv_fail(v, key, msg);
    return 0;
}

static int conv_bool(struct conv *v, const char *key, const char *s, int *out)
{
    char msg[256];
    if (s && tg_parse_yaml_bool(s, out, msg, sizeof(msg)) < 0)
        return conv_fail(v, key, msg);
    return 0;
}

static void conv_string(const char *s, char **out)
{
    if (s) {
        free(*out);
        *out = tg_strdup(s);
    }
}

static void section(struct conv *v, const char *path)
{
    snprintf(v->path, sizeof(v->path), "%s", path);
}

static int conv_cache(struct conv *v, const struct y_cache *y)
{
    struct tg_config *c = v->cfg;
    long max = 0;
    char msg[256];
    section(v, "cache");
    if (conv_duration(v, "authnTTL", y->authn_ttl, &c->cache_authn_ttl_ms) < 0 ||
        conv_duration(v, "unauthnTTL", y->unauthn_ttl, &c->cache_unauthn_ttl_ms) < 0 ||
        conv_duration(v, "allowTTL", y->allow_ttl, &c->cache_allow_ttl_ms) < 0 ||
        conv_duration(v, "denyTTL", y->deny_ttl, &c->cache_deny_ttl_ms) < 0 ||
        conv_duration(v, "grace", y->grace, &c->cache_grace_ms) < 0)
        return -1;
    if (y->max_entries) {
        if (tg_parse_int(y->max_entries, 0, 100000000, &max, msg, sizeof(msg)) < 0)
            return conv_fail(v, "maxEntries", msg);
        c->cache_max_entries = (size_t)max;
    }
    return 0;
}

static int conv_kube(struct conv *v, const struct y_kube *y)
{
    struct tg_config *c = v->cfg;
    section(v, "kubernetes");
    return conv_duration(v, "timeout", y->timeout, &c->kube_timeout_ms) < 0 ||
                   conv_qps(v, "qps", y->qps, &c->kube_qps) < 0 ||
                   conv_int(v, "burst", y->burst, 0, 100000, &c->kube_burst) < 0 ||
                   conv_int(v, "retries", y->retries, 0, 10, &c->kube_retries) < 0
               ? -1
               : 0;
}

static int conv_server(struct conv *v, const struct y_server *y)
{
    struct tg_config *c = v->cfg;
    section(v, "server");
    return conv_size(v, "maxHeaderBytes", y->max_header_bytes, &c->max_header_bytes) < 0 ||
                   conv_size(v, "maxBodyBytes", y->max_body_bytes, &c->max_body_bytes) < 0 ||
                   conv_duration(v, "headerTimeout", y->header_timeout, &c->header_timeout_ms) <
                       0 ||
                   conv_duration(v, "idleTimeout", y->idle_timeout, &c->idle_timeout_ms) < 0 ||
                   conv_int(v, "maxConnections", y->max_connections, 1, 1000000,
                            &c->max_connections) < 0 ||
                   conv_duration(v, "shutdownGrace", y->shutdown_grace, &c->shutdown_grace_ms) <
                       0 ||
                   conv_duration(v, "tlsReloadInterval", y->tls_reload_interval,
                                 &c->tls_reload_interval_ms) < 0
               ? -1
               : 0;
}

static int conv_upstream(struct conv *v, const struct y_upstream *y)
{
    struct tg_config *c = v->cfg;
    section(v, "upstream");
    char key[48];
    unsigned i;
    if (conv_duration(v, "timeout", y->timeout, &c->upstream_timeout_ms) < 0 ||
        conv_int(v, "maxIdleConns", y->max_idle_conns, 0, 100000, &c->upstream_max_idle) < 0)
        return -1;
    if (y->tenant_header && !tg_http_is_token(tg_iov_str(y->tenant_header)))
        conv_fail(v, "tenantHeader", "not a valid header name");
    conv_string(y->tenant_header, &c->upstream_tenant_header);
    for (i = 0; i < y->drop_headers_count; i++) {
        const char *h = y->drop_headers[i];
        snprintf(key, sizeof(key), "dropHeaders[%u]", i);
        if (h == NULL || !tg_http_is_token(tg_iov_str(h)))
            conv_fail(v, key, "not a valid header name");
        else
            tg_strlist_push(&c->upstream_drop_headers, &c->n_upstream_drop_headers, h, strlen(h));
    }
    return 0;
}

static int conv_tenancy(struct conv *v, const struct y_tenancy *y)
{
    struct tg_config *c = v->cfg;
    char msg[256];
    unsigned i;
    section(v, "tenancy");
    if (conv_bool(v, "errorOnReplace", y->error_on_replace, &c->error_on_replace) < 0 ||
        conv_bool(v, "serviceAccountNamespaceDefault", y->sa_namespace_default,
                  &c->sa_namespace_default) < 0 ||
        conv_bool(v, "allowInfo", y->allow_info, &c->allow_info_function) < 0 ||
        conv_bool(v, "enableLabelAPIs", y->enable_label_apis, &c->enable_label_apis) < 0)
        return -1;
    if (y->verb_mode && tg_parse_verb_mode(y->verb_mode, &c->verb_mode, msg, sizeof(msg)) < 0)
        conv_fail(v, "verbMode", msg);
    conv_string(y->label, &c->label);
    conv_string(y->query_param, &c->query_param);
    for (i = 0; i < y->label_values_count; i++) {
        if (y->label_values[i] == NULL || y->label_values[i][0] == '\0') {
            snprintf(msg, sizeof(msg), "labelValues[%u]", i);
            conv_fail(v, msg, "empty label value");
            continue;
        }
        tg_strlist_push(&c->label_values, &c->n_label_values, y->label_values[i],
                        strlen(y->label_values[i]));
    }
    return 0;
}

static int conv_promql(struct conv *v, const struct y_promql *y)
{
    struct tg_config *c = v->cfg;
    section(v, "promql");
    return conv_size(v, "maxQueryBytes", y->max_query_bytes, &c->max_query_bytes) < 0 ||
                   conv_int(v, "maxDepth", y->max_depth, 1, 100000, &c->max_query_depth) < 0 ||
                   conv_bool(v, "durationExpressions", y->duration_expr, &c->promql_duration_expr) <
                       0 ||
                   conv_bool(v, "experimentalFunctions", y->experimental_functions,
                             &c->promql_experimental_functions) < 0 ||
                   conv_bool(v, "extendedRangeSelectors", y->extended_range_selectors,
                             &c->promql_extended_range_selectors) < 0 ||
                   conv_bool(v, "binopFillModifiers", y->binop_fill_modifiers,
                             &c->promql_binop_fill_modifiers) < 0
               ? -1
               : 0;
}

static int conv_log(struct conv *v, const struct y_log *y)
{
    char msg[256];
    section(v, "log");
    if (y->level && tg_parse_log_level(y->level, &v->cfg->log_level, msg, sizeof(msg)) < 0)
        conv_fail(v, "level", msg);
    return conv_bool(v, "accessLog", y->access_log, &v->cfg->access_log);
}

/* ---- oidc ---- */

static void conv_strlist(char **in, unsigned n, char ***list, size_t *count)
{
    for (unsigned i = 0; i < n; i++)
        if (in[i] && *in[i])
            tg_strlist_push(list, count, in[i], strlen(in[i]));
}

/* signAlgs and requiredClaims of one issuer's keys, checked where they are
 * written; the algorithms go into is->sign_algs, the claims into
 * is->required_*. */
static int conv_issuer_lists(struct conv *v, const struct y_oidc_issuer *y,
                             struct tg_oidc_issuer *is)
{
    char msg[300], key[32];
    for (unsigned i = 0; i < y->sign_algs_count; i++) {
        snprintf(key, sizeof(key), "signAlgs[%u]", i);
        if (y->sign_algs[i] == NULL)
            return conv_fail(v, key, "empty algorithm");
        if (tg_oidc_check_sign_alg(y->sign_algs[i], msg, sizeof(msg)) < 0)
            return conv_fail(v, key, msg);
    }
    conv_strlist(y->sign_algs, y->sign_algs_count, &is->sign_algs, &is->n_sign_algs);
    for (unsigned i = 0; i < y->required_claims_count; i++) {
        snprintf(key, sizeof(key), "requiredClaims[%u]", i);
        if (y->required_claims[i] == NULL)
            return conv_fail(v, key, "want claim=value");
        if (tg_oidc_add_required(is, y->required_claims[i], msg, sizeof(msg)) < 0)
            return conv_fail(v, key, msg);
    }
    return 0;
}

/* One entry of oidc.issuers: defaults as for the flags, checked at once so
 * that a bad value is reported at its line. */
static int conv_oidc_issuer(struct conv *v, const struct y_oidc_issuer *y,
                            struct tg_oidc_issuer *is)
{
    char msg[300];
    const char *key;

    memset(is, 0, sizeof(*is));
    conv_string(y->issuer, &is->url);
    conv_string(y->client_id, &is->client_id);
    is->username_claim = tg_strdup(y->username_claim ? y->username_claim : "email");
    conv_string(y->username_prefix, &is->username_prefix);
    is->groups_claim = tg_strdup(y->groups_claim ? y->groups_claim : "groups");
    conv_string(y->groups_prefix, &is->groups_prefix);
    conv_string(y->ca_file, &is->ca_file);
    if (conv_issuer_lists(v, y, is) < 0)
        return -1;
    if (tg_oidc_issuer_finish(is, &key, msg, sizeof(msg)) < 0)
        return conv_fail(v, key, msg);
    return 0;
}

/* ---- limits: ---- */

static int conv_duration64(struct conv *v, const char *key, const char *s, int64_t *out)
{
    char msg[256];
    if (s && tg_parse_duration_ms64(s, out, msg, sizeof(msg)) < 0)
        return conv_fail(v, key, msg);
    return 0;
}

static int conv_oidc(struct conv *v, const struct y_oidc *y)
{
    struct tg_config *c = v->cfg;
    struct tg_oidc_issuer scratch = {0};
    const struct y_oidc_issuer *t = &y->top;
    char msg[300];
    unsigned i;
    int rc;

    section(v, "oidc");
    if (t->issuer && tg_oidc_check_url(t->issuer, msg, sizeof(msg)) < 0)
        return conv_fail(v, "issuer", msg);
    rc = conv_issuer_lists(v, t, &scratch); /* checked here, applied with the flags */
    tg_oidc_issuer_free(&scratch);
    if (rc < 0 || conv_duration(v, "clockSkew", y->clock_skew, &c->oidc_clock_skew_ms) < 0 ||
        conv_duration(v, "jwksRefreshInterval", y->jwks_refresh_interval,
                      &c->oidc_jwks_refresh_ms) < 0 ||
        conv_duration(v, "jwksRefetchInterval", y->jwks_refetch_interval,
                      &c->oidc_jwks_refetch_ms) < 0)
        return -1;
    conv_string(t->issuer, &c->oidc_issuer);
    conv_string(t->client_id, &c->oidc_client_id);
    conv_string(t->username_claim, &c->oidc_username_claim);
    conv_string(t->username_prefix, &c->oidc_username_prefix);
    conv_string(t->groups_claim, &c->oidc_groups_claim);
    conv_string(t->groups_prefix, &c->oidc_groups_prefix);
    conv_string(t->ca_file, &c->oidc_ca_file);
    conv_strlist(t->sign_algs, t->sign_algs_count, &c->oidc_sign_algs, &c->n_oidc_sign_algs);
    conv_strlist(t->required_claims, t->required_claims_count, &c->oidc_required_claims,
                 &c->n_oidc_required_claims);
    if (y->issuers_count == 0)
        return 0;
    c->oidc_issuers = tg_calloc(y->issuers_count, sizeof(*c->oidc_issuers));
    for (i = 0; i < y->issuers_count; i++) {
        snprintf(v->path, sizeof(v->path), "oidc.issuers[%u]", i);
        if (conv_oidc_issuer(v, &y->issuers[i], &c->oidc_issuers[i]) < 0) {
            tg_oidc_issuer_free(&c->oidc_issuers[i]);
            return -1;
        }
        c->n_oidc_issuers = i + 1;
    }
    return 0;
}

static int conv_rate(struct conv *v, const char *key, const char *s, double *out)
{
    char *end;
    double r;
    if (s == NULL)
        return 0;
    r = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !isfinite(r) || r < 0 || r > 1e6 || *s == ' ')
        return conv_fail(v, key, "not a number of requests per second between 0 and 1000000");
    *out = r;
    return 0;
}

static int conv_limit_set(struct conv *v, const struct y_limit_set *y, struct tg_limit_set *o)
{
    o->max_inflight = o->max_queued = o->burst = -1;
    o->queue_timeout_ms = o->max_query_length_ms = o->max_lookback_ms = -1;
    o->rate = -1;
    if (y == NULL)
        return 0;
    if (conv_int(v, "maxInflight", y->max_inflight, 0, 1000000, &o->max_inflight) < 0 ||
        conv_int(v, "maxQueued", y->max_queued, 0, 1000000, &o->max_queued) < 0 ||
        conv_duration64(v, "queueTimeout", y->queue_timeout, &o->queue_timeout_ms) < 0 ||
        conv_rate(v, "rate", y->rate, &o->rate) < 0 ||
        conv_int(v, "burst", y->burst, 1, 1000000, &o->burst) < 0 ||
        conv_duration64(v, "maxQueryLength", y->max_query_length, &o->max_query_length_ms) < 0 ||
        conv_duration64(v, "maxLookback", y->max_lookback, &o->max_lookback_ms) < 0)
        return -1;
    if (o->queue_timeout_ms == 0)
        return conv_fail(v, "queueTimeout", "must be positive");
    return 0;
}

static int cmp_override(const void *a, const void *b)
{
    return strcmp(((const struct tg_limit_override *)a)->tenant,
                  ((const struct tg_limit_override *)b)->tenant);
}

/* What regcomp could choke on: glibc's ERE has backreferences as an
 * extension (exponential matching on a tenant's query), and counted
 * repetitions are expanded at compile time ((a{1000}){1000} would take the
 * process down at load). So: no backreference, and the counts of all
 * {m,n} together multiply to at most 1000 (RE2's bound, applied to the
 * whole pattern rather than per nesting). NULL or the complaint. */
static const char *risky_regex(const char *p)
{
    unsigned long product = 1;
    int after_rep = 0; /* the previous token was a repetition operator */

    if (strlen(p) > 4096)
        return "longer than 4096 bytes";
    for (; *p; p++) {
        int rep = *p == '*' || *p == '+' || *p == '?' || (*p == '{' && p[1] >= '0' && p[1] <= '9');
        /* a+++...: undefined in POSIX ERE, and glibc's regcomp copies the
         * tree once per operator (fuzz_config ran it out of memory) */
        if (rep && after_rep)
            return "a repetition operator may not follow another one";
        after_rep = rep;
        if (*p == '\\') {
            if (p[1] >= '1' && p[1] <= '9')
                return "backreferences are not allowed";
            if (p[1] != '\0')
                p++; /* the escaped character */
        } else if (*p == '{' && p[1] >= '0' && p[1] <= '9') {
            unsigned long n = 0, max = 0;
            for (p++; *p && *p != '}'; p++) {
                if (*p >= '0' && *p <= '9') {
                    n = n * 10 + (unsigned long)(*p - '0');
                    if (n > 1000)
                        return "counted repetitions may multiply to at most 1000";
                } else {
                    n = 0;
                }
                if (n > max)
                    max = n;
            }
            product *= max > 0 ? max : 1;
            if (product > 1000)
                return "counted repetitions may multiply to at most 1000";
            if (*p == '\0')
                break;
            after_rep = 1; /* the closing '}' */
        }
    }
    return NULL;
}

static int conv_blocked(struct conv *v, const struct y_blocked *y, struct tg_blocked_query *b)
{
    char msg[200];
    int rc;
    const char *risk;

    if (conv_bool(v, "regex", y->regex, &b->regex) < 0)
        return -1;
    if (y->pattern == NULL || y->pattern[0] == '\0')
        return conv_fail(v, "pattern", "a non-empty pattern is required");
    b->pattern = tg_strdup(y->pattern);
    b->reason = y->reason && *y->reason ? tg_strdup(y->reason) : NULL;
    if (!b->regex)
        return 0;
    if ((risk = risky_regex(y->pattern)) != NULL)
        return conv_fail(v, "pattern", risk);
    b->compiled = tg_calloc(1, sizeof(regex_t));
    rc = regcomp(b->compiled, y->pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char re_msg[128];
        regerror(rc, b->compiled, re_msg, sizeof(re_msg));
        free(b->compiled);
        b->compiled = NULL;
        snprintf(msg, sizeof(msg), "invalid POSIX extended regex: %s", re_msg);
        return conv_fail(v, "pattern", msg);
    }
    return 0;
}

static int sets_windows(const struct tg_limit_set *s)
{
    return s->max_query_length_ms > 0 || s->max_lookback_ms > 0;
}

static int conv_limits(struct conv *v, const struct y_limits *y)
{
    struct tg_limits_config *l = tg_calloc(1, sizeof(*l));
    int mt = 1000;
    size_t i;

    l->lookback_delta_ms = 5 * 60 * 1000;
    v->cfg->limits = l;
    section(v, "limits");
    if (conv_int(v, "metricsMaxTenants", y->metrics_max_tenants, 0, 1000000, &mt) < 0 ||
        conv_duration64(v, "lookbackDelta", y->lookback_delta, &l->lookback_delta_ms) < 0)
        return -1;
    l->metrics_max_tenants = (size_t)mt;
    if (l->lookback_delta_ms == 0)
        return conv_fail(v, "lookbackDelta", "must be positive");
    section(v, "limits.defaults");
    if (conv_limit_set(v, y->defaults, &l->defaults) < 0)
        return -1;
    l->windows = sets_windows(&l->defaults);
    if (v->c->n_tenants > 0) {
        l->tenants = tg_calloc(v->c->n_tenants, sizeof(*l->tenants));
    }
    for (i = 0; i < v->c->n_tenants; i++) {
        const struct y_tenant *t = &v->c->tenants[i];
        struct tg_limit_override *o = &l->tenants[i];
        snprintf(v->path, sizeof(v->path), "%s.%s", TENANTS_PATH, t->name);
        o->tenant = tg_strdup(t->name);
        o->line = t->line;
        l->n_tenants = i + 1;
        if (conv_limit_set(v, &t->set, &o->set) < 0)
            return -1;
        l->windows |= sets_windows(&o->set);
    }
    if (l->n_tenants > 1)
        qsort(l->tenants, l->n_tenants, sizeof(*l->tenants), cmp_override);
    if (y->blocked_count > 0) {
        l->blocked = tg_calloc(y->blocked_count, sizeof(*l->blocked));
    }
    for (i = 0; i < y->blocked_count; i++) {
        snprintf(v->path, sizeof(v->path), "limits.blockedQueries[%zu]", i);
        l->n_blocked = i + 1;
        if (conv_blocked(v, &y->blocked[i], &l->blocked[i]) < 0)
            return -1;
    }
    return 0;
}

void tg_limits_config_free(struct tg_limits_config *l)
{
    size_t i;
    if (l == NULL)
        return;
    for (i = 0; i < l->n_tenants; i++)
        free(l->tenants[i].tenant);
    free(l->tenants);
    for (i = 0; i < l->n_blocked; i++) {
        free(l->blocked[i].pattern);
        free(l->blocked[i].reason);
        if (l->blocked[i].compiled) {
            regfree(l->blocked[i].compiled);
            free(l->blocked[i].compiled);
        }
    }
    free(l->blocked);
    free(l);
}

/* One resourceAttributes value: template check and normalisation. */
static int conv_attr(struct conv *v, const char *key, const char *s, char **out)
{
    char msg[300];
    int has;
    if (s == NULL)
        return 0;
    if (tg_normalize_template(s, out, &has, msg, sizeof(msg)) < 0)
        return conv_fail(v, key, msg);
    if (has && !v->x->has_template) {
        char full[sizeof(v->path) + 300]; /* path + "." + key (keys are short) */
        snprintf(full, sizeof(full), "%s.%s", v->path, key);
        v->x->has_template = 1;
        v->x->template_line = index_line(v->c, full);
        v->x->template_key = tg_strdup(full);
    }
    return 0;
}

static int conv_resattrs(struct conv *v, const struct y_resattrs *y,
                         struct tg_resource_attributes *r, const char *path)
{
    section(v, path);
    return conv_attr(v, "namespace", y->namespace_, &r->namespace_) < 0 ||
                   conv_attr(v, "apiGroup", y->api_group, &r->api_group) < 0 ||
                   conv_attr(v, "apiVersion", y->api_version, &r->api_version) < 0 ||
                   conv_attr(v, "resource", y->resource, &r->resource) < 0 ||
                   conv_attr(v, "subresource", y->subresource, &r->subresource) < 0 ||
                   conv_attr(v, "name", y->name, &r->name) < 0
               ? -1
               : 0;
}

/* "" and NULL both mean "any" in a static rule; keep NULL for those. */
static char *nonempty_dup(const char *s)
{
    return s && *s ? tg_strdup(s) : NULL;
}

static int conv_static_rule(struct conv *v, const struct y_static *y, struct tg_static_rule *r)
{
    unsigned i;
    int errors = v->c->n_errors;
    memset(r, 0, sizeof(*r));
    conv_bool(v, "resourceRequest", y->resource_request, &r->resource_request);
    if (v->c->n_errors > errors)
        return 0; /* the path rules below depend on it */
    /* kube-rbac-proxy's NewStaticAuthorizer rule: resourceRequest <=> no path */
    if (r->resource_request && y->path && *y->path)
        return conv_fail(v, "path", "a rule with resourceRequest: true must not have a path");
    if (!r->resource_request && !(y->path && *y->path))
        return conv_fail(v, "resourceRequest",
                         "a non-resource rule (resourceRequest: false) needs a path");
    if (y->user) {
        r->user_name = nonempty_dup(y->user->name);
        for (i = 0; i < y->user->groups_count; i++)
            if (y->user->groups[i] && *y->user->groups[i])
                tg_strlist_push(&r->user_groups, &r->n_user_groups, y->user->groups[i],
                                strlen(y->user->groups[i]));
    }
    r->verb = nonempty_dup(y->verb);
    r->namespace_ = nonempty_dup(y->namespace_);
    r->api_group = nonempty_dup(y->api_group);
    r->resource = nonempty_dup(y->resource);
    r->subresource = nonempty_dup(y->subresource);
    r->name = nonempty_dup(y->name);
    r->path = nonempty_dup(y->path);
    return 0;
}

static void free_static_rule(struct tg_static_rule *r);

static int conv_authz(struct conv *v, const struct y_authz *y)
{
    struct tg_config *c = v->cfg;
    unsigned i;

    if (y->rewrites && y->rewrites->by_query_parameter)
        conv_string(y->rewrites->by_query_parameter->name, &v->x->rewrite_query_param);
    if (y->rewrites && y->rewrites->by_http_header)
        conv_string(y->rewrites->by_http_header->name, &v->x->rewrite_header);
    /* kube-rbac-proxy ignores an empty rewrite name */
    if (v->x->rewrite_query_param && !*v->x->rewrite_query_param) {
        free(v->x->rewrite_query_param);
        v->x->rewrite_query_param = NULL;
    }
    if (v->x->rewrite_header && !*v->x->rewrite_header) {
        free(v->x->rewrite_header);
        v->x->rewrite_header = NULL;
    }
    /* `resourceAttributes: {}` switches to resource attributes (kube-rbac-proxy's
     * pointer is non-nil), `resourceAttributes:` (null) does not */
    if (y->resource_attributes) {
        c->has_resource_attributes = 1;
        if (conv_resattrs(v, y->resource_attributes, &c->resource_attributes,
                          "authorization.resourceAttributes") < 0)
            return -1;
    }
    if (y->static__count == 0)
        return 0;
    c->static_rules = tg_calloc(y->static__count, sizeof(*c->static_rules));
    for (i = 0; i < y->static__count; i++) {
        snprintf(v->path, sizeof(v->path), "authorization.static[%u]", i);
        if (conv_static_rule(v, &y->static_[i], &c->static_rules[i]) < 0) {
            free_static_rule(&c->static_rules[i]);
            return -1;
        }
        c->n_static_rules = i + 1;
    }
    return 0;
}

static void free_static_rule(struct tg_static_rule *r)
{
    free(r->user_name);
    tg_strlist_free(r->user_groups, r->n_user_groups);
    free(r->verb);
    free(r->namespace_);
    free(r->api_group);
    free(r->resource);
    free(r->subresource);
    free(r->name);
    free(r->path);
}

static int conv_alertmanager(struct conv *v, const struct y_alertmanager *y)
{
    struct tg_config *c = v->cfg;
    section(v, "alertmanager");
    conv_string(y->upstream, &c->am_upstream);
    conv_string(y->ca_file, &c->am_ca_file);
    conv_string(y->client_cert_file, &c->am_client_cert_file);
    conv_string(y->client_key_file, &c->am_client_key_file);
    if (conv_size(v, "maxBodyBytes", y->max_body_bytes, &c->am_max_body_bytes) < 0)
        return -1;
    if (y->resource_attributes == NULL)
        return 0;
    c->has_am_resource_attributes = 1;
    return conv_resattrs(v, y->resource_attributes, &c->am_resource_attributes,
                         "alertmanager.resourceAttributes");
}

/* Every section, whatever the others gave: errors are collected (conv_fail). */
static void convert(struct conv *v, const struct y_root *y)
{
    if (y->authorization)
        conv_authz(v, y->authorization);
    if (y->cache)
        conv_cache(v, y->cache);
    if (y->kubernetes)
        conv_kube(v, y->kubernetes);
    if (y->server)
        conv_server(v, y->server);
    if (y->upstream)
        conv_upstream(v, y->upstream);
    if (y->tenancy)
        conv_tenancy(v, y->tenancy);
    if (y->promql)
        conv_promql(v, y->promql);
    if (y->log)
        conv_log(v, y->log);
    if (y->oidc)
        conv_oidc(v, y->oidc);
    if (y->alertmanager)
        conv_alertmanager(v, y->alertmanager);
    if (y->limits)
        conv_limits(v, y->limits);
}

/* ---- pass 2 and the entry points ---- */

struct cyaml_log_buf {
    char text[256];
};

/* libcyaml's first error line, kept in case it fails where check() did not. */
static void cyaml_log_capture(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    struct cyaml_log_buf *b = ctx;
    if (level >= CYAML_LOG_ERROR && b->text[0] == '\0') {
        vsnprintf(b->text, sizeof(b->text), fmt, args);
        b->text[strcspn(b->text, "\n")] = '\0';
    }
}

void tg_yaml_extra_free(struct tg_yaml_extra *x)
{
    free(x->rewrite_query_param);
    free(x->rewrite_header);
    free(x->template_key);
    memset(x, 0, sizeof(*x));
}

static void ycheck_free(struct ycheck *c)
{
    const cyaml_schema_field_t *f;
    size_t i;
    for (i = 0; i < c->n_lines; i++)
        free(c->lines[i].path);
    free(c->lines);
    tg_strlist_free(c->poisoned, c->n_poisoned);
    for (i = 0; i < c->n_tenants; i++) {
        for (f = limit_set_fields; f->key; f++)
            free(*(char **)((char *)&c->tenants[i].set + f->data_offset));
        free(c->tenants[i].name);
    }
    free(c->tenants);
    yaml_parser_delete(&c->parser);
    yaml_emitter_delete(&c->emitter);
    tg_sb_free(&c->clean);
}

static void ycheck_init(struct ycheck *c, const char *data, size_t len)
{
    if (!yaml_parser_initialize(&c->parser) || !yaml_emitter_initialize(&c->emitter))
        tg_oom(0);
    yaml_parser_set_input_string(&c->parser, (const unsigned char *)data, len);
    tg_sb_init(&c->clean, NULL, len + 64);
    yaml_emitter_set_output(&c->emitter, write_clean, &c->clean);
    yaml_emitter_set_unicode(&c->emitter, 1);
    yaml_emitter_set_width(&c->emitter, -1);
    c->emit_ok = 1;
}

struct err_line {
    int line;
    size_t order;
    const char *text;
    size_t len;
};

static int by_line(const void *a, const void *b)
{
    const struct err_line *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Passes 1 and 3 find errors in two rounds: put them in file order (each
 * line is "NAME:LINE: ..."; a line without a number keeps its place last). */
static void sort_errors(char *err, const char *name)
{
    size_t n = 0, i, nlen = strlen(name), total = strlen(err);
    struct err_line *v = NULL;
    const char *p = err;
    char *copy;

    while (*p) {
        size_t len = strcspn(p, "\n");
        v = tg_realloc(v, (n + 1) * sizeof(*v));
        v[n].line = strncmp(p, name, nlen) == 0 && p[nlen] == ':' ? atoi(p + nlen + 1) : 0;
        if (v[n].line <= 0)
            v[n].line = 1 << 30;
        v[n].order = n;
        v[n].text = p;
        v[n].len = len;
        n++;
        p += len + (p[len] == '\n');
    }
    qsort(v, n, sizeof(*v), by_line);
    copy = tg_strndup(err, total);
    for (i = 0, p = err; i < n; i++) {
        const char *t = copy + (v[i].text - err);
        memcpy((char *)p, t, v[i].len);
        p += v[i].len;
        if (i + 1 < n)
            *(char *)p++ = '\n';
    }
    *(char *)p = '\0';
    free(copy);
    free(v);
}

int tg_yaml_load(struct tg_config *cfg, struct tg_yaml_extra *x, const char *data, size_t len,
                 const char *name, char *err, size_t errlen)
{
    struct ycheck c = {.name = name, .err = err, .errlen = errlen};
    struct cyaml_log_buf logbuf = {{0}};
    cyaml_config_t ycfg = {
        .log_fn = cyaml_log_capture,
        .log_ctx = &logbuf,
        .mem_fn = cyaml_mem,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_CASE_INSENSITIVE | CYAML_CFG_NO_ALIAS,
    };
    struct y_root *root = NULL;
    struct conv v = {.c = &c, .cfg = cfg, .x = x};
    cyaml_err_t cerr;
    int has_root;

    err[0] = '\0';
    ycheck_init(&c, data, len);
    has_root = check_document(&c);
    if (has_root > 0 && c.n_errors > 0 && c.emit_ok) {
        /* structural errors: read the copy without the offending nodes */
        data = c.clean.base;
        len = c.clean.len;
    } else if (has_root <= 0 || c.n_errors > 0) {
        goto out; /* empty, unusable or unparsable: nothing more to learn */
    }
    cerr = cyaml_load_data((const uint8_t *)data, len, &ycfg, &root_schema, (cyaml_data_t **)&root,
                           NULL);
    if (cerr != CYAML_OK) {
        if (c.n_errors == 0) /* check() let through what libcyaml refuses */
            tg_cfg_err(err, errlen, "%s: %s%s%s", name, cyaml_strerror(cerr),
                       logbuf.text[0] ? ": " : "", logbuf.text);
        c.n_errors++;
        goto out;
    }
    if (root)
        convert(&v, root);
    cyaml_free(&ycfg, &root_schema, root, 0);
out:
    ycheck_free(&c);
    if (c.n_errors > 1)
        sort_errors(err, name);
    return c.n_errors > 0 || has_root < 0 ? -1 : 0;
}

int tg_yaml_load_file(struct tg_config *cfg, struct tg_yaml_extra *x, const char *path, char *err,
                      size_t errlen)
{
    char *data;
    size_t len;
    int rc;
    if (tg_read_file(path, TG_FILE_MAX, &data, &len, err, errlen) < 0)
        return -1;
    rc = tg_yaml_load(cfg, x, data, len, path, err, errlen);
    free(data);
    return rc;
}

/* ---- schema walk for the docs test ---- */

static void leaves(const cyaml_schema_field_t *fields, char *path, size_t cap,
                   void (*fn)(const char *, void *), void *ctx)
{
    const cyaml_schema_field_t *f;
    for (f = fields; f->key; f++) {
        size_t len = strlen(path);
        snprintf(path + len, cap - len, "%s%s", len ? "." : "", f->key);
        if (f->value.type == CYAML_IGNORE) { /* limits.tenants: keyed by tenant value */
            size_t l2 = strlen(path);
            snprintf(path + l2, cap - l2, ".<tenant>");
            leaves(limit_set_fields, path, cap, fn, ctx);
        } else if (f->value.type == CYAML_MAPPING) {
            leaves(f->value.mapping.fields, path, cap, fn, ctx);
        } else if (f->value.type == CYAML_SEQUENCE) {
            size_t l2 = strlen(path);
            snprintf(path + l2, cap - l2, "[]");
            if (f->value.sequence.entry->type == CYAML_MAPPING)
                leaves(f->value.sequence.entry->mapping.fields, path, cap, fn, ctx);
            else
                fn(path, ctx);
        } else {
            fn(path, ctx);
        }
        path[len] = '\0';
    }
}

void tg_yaml_schema_leaves(void (*fn)(const char *path, void *ctx), void *ctx)
{
    char path[256] = "";
    leaves(root_fields, path, sizeof(path), fn, ctx);
}

/* ---- documentation of every key (checked against the schema by a test) ---- */

const struct tg_yaml_key_doc tg_yaml_key_docs[] = {
    {"authorization.rewrites.byQueryParameter.name", "string", NULL,
     "kube-rbac-proxy: query parameter whose values fill {{ .Value }}; also the tenant "
     "parameter (must agree with --query-param)"},
    {"authorization.rewrites.byHttpHeader.name", "string", NULL,
     "kube-rbac-proxy: header whose values fill {{ .Value }}; also the tenant header "
     "(must agree with --header-name)"},
    {"authorization.resourceAttributes.namespace", "template", NULL,
     "SubjectAccessReview namespace, e.g. \"{{ .Value }}\""},
    {"authorization.resourceAttributes.apiGroup", "template", NULL, "SAR apiGroup"},
    {"authorization.resourceAttributes.apiVersion", "template", NULL, "SAR apiVersion"},
    {"authorization.resourceAttributes.resource", "template", NULL, "SAR resource, e.g. pods"},
    {"authorization.resourceAttributes.subresource", "template", NULL,
     "SAR subresource, e.g. metrics"},
    {"authorization.resourceAttributes.name", "template", NULL, "SAR resource name"},
    {"authorization.static[].user.name", "string", "any", "static rule: user name"},
    {"authorization.static[].user.groups[]", "list", "any",
     "static rule: the user must be in one of these groups (honoured, unlike kube-rbac-proxy)"},
    {"authorization.static[].verb", "string", "any", "static rule: verb"},
    {"authorization.static[].namespace", "string", "any", "static rule: namespace"},
    {"authorization.static[].apiGroup", "string", "any", "static rule: apiGroup"},
    {"authorization.static[].resource", "string", "any", "static rule: resource"},
    {"authorization.static[].subresource", "string", "any", "static rule: subresource"},
    {"authorization.static[].name", "string", "any", "static rule: resource name"},
    {"authorization.static[].resourceRequest", "bool", "false",
     "static rule: matches resource requests (true, no path) or path requests (false)"},
    {"authorization.static[].path", "string", NULL,
     "static rule: request path, required when resourceRequest is false"},
    {"cache.authnTTL", "duration", "2m", "how long a successful TokenReview is cached"},
    {"cache.unauthnTTL", "duration", "30s", "how long a failed TokenReview is cached"},
    {"cache.allowTTL", "duration", "5m", "how long an allowing SubjectAccessReview is cached"},
    {"cache.denyTTL", "duration", "30s", "how long a denying SubjectAccessReview is cached"},
    {"cache.maxEntries", "int", "10000", "entries per cache (0 disables caching)"},
    {"cache.grace", "duration", "0s",
     "serve an expired allow entry this long while the API server is unreachable"},
    {"kubernetes.timeout", "duration", "10s", "timeout of one TokenReview/SAR call"},
    {"kubernetes.qps", "float", "0",
     "client-side rate limit toward the API server (0 = none; 0.5 = one call every 2s), as "
     "--kube-api-qps"},
    {"kubernetes.burst", "int", "0", "burst above qps"},
    {"kubernetes.retries", "int", "3", "retries of a failed API call (0-10)"},
    {"server.maxHeaderBytes", "size", "64Ki", "request line + headers limit"},
    {"server.maxBodyBytes", "size", "4Mi", "request body limit (POST form queries)"},
    {"server.headerTimeout", "duration", "10s", "time to receive the request headers"},
    {"server.idleTimeout", "duration", "10m", "keep-alive connection idle timeout"},
    {"server.maxConnections", "int", "16384", "concurrent client connections"},
    {"server.shutdownGrace", "duration", "30s", "drain time on SIGTERM"},
    {"server.tlsReloadInterval", "duration", "1m", "how often cert/key files are re-read"},
    {"upstream.timeout", "duration", "5m", "timeout of one upstream request"},
    {"upstream.maxIdleConns", "int", "64", "idle keep-alive connections kept to the upstream"},
    {"upstream.tenantHeader", "string", NULL,
     "send the tenant value(s) upstream in this header (e.g. THANOS-TENANT); a client's copy "
     "is dropped"},
    {"upstream.dropHeaders[]", "list", NULL,
     "more client request headers never forwarded (THANOS-TENANT and X-Scope-OrgID always are "
     "dropped)"},
    {"tenancy.label", "string", "namespace", "the label enforced in queries (--label)"},
    {"tenancy.queryParam", "string", "the label", "tenant query parameter (--query-param)"},
    {"tenancy.labelValues[]", "list", NULL, "fixed tenant values (--label-value)"},
    {"tenancy.errorOnReplace", "bool", "false",
     "400 when a query has a conflicting tenant matcher (--error-on-replace)"},
    {"tenancy.serviceAccountNamespaceDefault", "bool", "true",
     "a service account without a tenant parameter gets its own namespace"},
    {"tenancy.verbMode", "enum", "get",
     "get: every read is verb get; http: kube-rbac-proxy's mapping (POST -> create)"},
    {"tenancy.allowInfo", "bool", "false", "allow PromQL info() (it can reach other tenants)"},
    {"tenancy.enableLabelAPIs", "bool", "false",
     "accepted for prom-label-proxy; label APIs are enforced either way"},
    {"promql.maxQueryBytes", "size", "256Ki", "longest accepted query"},
    {"promql.maxDepth", "int", "1000", "deepest accepted expression nesting"},
    {"promql.durationExpressions", "bool", "false", "duration arithmetic ([5m * 2])"},
    {"promql.experimentalFunctions", "bool", "false", "Prometheus experimental functions"},
    {"promql.extendedRangeSelectors", "bool", "false", "extended range selectors"},
    {"promql.binopFillModifiers", "bool", "false", "binary operator fill modifiers"},
    {"log.level", "enum", "info",
     "error, warn, info or debug, or a klog verbosity as --v takes it (0-3 = info, 4 and more "
     "= debug)"},
    {"log.accessLog", "bool", "true", "JSON access log on stdout"},
    {"oidc.issuer", "string", NULL,
     "the --oidc-issuer issuer: https URL, the exact \"iss\" of its ID tokens"},
    {"oidc.clientID", "string", NULL, "audience the tokens must carry (--oidc-clientID)"},
    {"oidc.usernameClaim", "string", "email", "claim with the user name (--oidc-username-claim)"},
    {"oidc.usernamePrefix", "string", NULL,
     "before every user name (--oidc-username-prefix; unset: none for email, else the issuer "
     "URL and \"#\"; \"-\": none)"},
    {"oidc.groupsClaim", "string", "groups", "claim with the groups (--oidc-groups-claim)"},
    {"oidc.groupsPrefix", "string", NULL, "before every group (--oidc-groups-prefix)"},
    {"oidc.signAlgs[]", "list", "[RS256]", "accepted signature algorithms (--oidc-sign-alg)"},
    {"oidc.caFile", "string", NULL, "CA bundle for the issuer's certificate (--oidc-ca-file)"},
    {"oidc.requiredClaims[]", "list", NULL,
     "claim=value: the token must carry each such claim as a string with that value"},
    {"oidc.clockSkew", "duration", "10s", "leeway on exp, nbf and iat (all issuers; at most 5m)"},
    {"oidc.jwksRefreshInterval", "duration", "1h",
     "how often discovery and keys are read again (all issuers)"},
    {"oidc.jwksRefetchInterval", "duration", "5s",
     "a token with an unknown key makes at most one key fetch per issuer this often"},
    {"oidc.issuers[].issuer", "string", NULL, "one more issuer: its https URL (required)"},
    {"oidc.issuers[].clientID", "string", NULL, "its audience (required)"},
    {"oidc.issuers[].usernameClaim", "string", "email", "as oidc.usernameClaim"},
    {"oidc.issuers[].usernamePrefix", "string", NULL, "as oidc.usernamePrefix"},
    {"oidc.issuers[].groupsClaim", "string", "groups", "as oidc.groupsClaim"},
    {"oidc.issuers[].groupsPrefix", "string", NULL, "as oidc.groupsPrefix"},
    {"oidc.issuers[].signAlgs[]", "list", "[RS256]", "as oidc.signAlgs"},
    {"oidc.issuers[].caFile", "string", NULL, "as oidc.caFile"},
    {"oidc.issuers[].requiredClaims[]", "list", NULL, "as oidc.requiredClaims"},
    {"alertmanager.upstream", "string", NULL,
     "Alertmanager URL for /api/v2/ (--alertmanager-upstream); default: --upstream"},
    {"alertmanager.caFile", "string", NULL,
     "CA bundle for an https Alertmanager (--alertmanager-upstream-ca-file); default: the "
     "upstream's"},
    {"alertmanager.clientCertFile", "string", NULL,
     "client certificate toward the Alertmanager (--alertmanager-upstream-client-cert-file); "
     "default: the upstream's"},
    {"alertmanager.clientKeyFile", "string", NULL, "its key"},
    {"alertmanager.maxBodyBytes", "size", "256Ki", "largest posted silence"},
    {"alertmanager.resourceAttributes.namespace", "template", NULL,
     "SAR namespace for the Alertmanager API, e.g. \"{{ .Value }}\"; without this section "
     "authorization.resourceAttributes are used"},
    {"alertmanager.resourceAttributes.apiGroup", "template", NULL,
     "SAR apiGroup, e.g. monitoring.coreos.com"},
    {"alertmanager.resourceAttributes.apiVersion", "template", NULL, "SAR apiVersion"},
    {"alertmanager.resourceAttributes.resource", "template", NULL,
     "SAR resource, e.g. prometheusrules"},
    {"alertmanager.resourceAttributes.subresource", "template", NULL, "SAR subresource"},
    {"alertmanager.resourceAttributes.name", "template", NULL, "SAR resource name"},
    /* limits: (README "Protecting the querier") */
    {"limits.defaults.maxInflight", "int", "no bound",
     "upstream requests in flight per tenant value (0 = no bound)"},
    {"limits.defaults.maxQueued", "int", "0",
     "requests beyond maxInflight that wait in a FIFO queue; more get 429 at once"},
    {"limits.defaults.queueTimeout", "duration", "10s",
     "a queued request waits this long, then 429"},
    {"limits.defaults.rate", "float", "no bound",
     "requests per second per tenant value, token bucket (0 = no bound)"},
    {"limits.defaults.burst", "int", "rate rounded up", "token bucket size"},
    {"limits.defaults.maxQueryLength", "duration", "no bound",
     "longest stretch of time one selector may read: range-query span + range + enclosing "
     "subquery ranges (e.g. 32d; d, w, y allowed)"},
    {"limits.defaults.maxLookback", "duration", "no bound",
     "how far back from now a selector may read, offsets, @ and lookback delta included "
     "(e.g. 90d)"},
    {"limits.tenants.<tenant>.maxInflight", "int", "defaults", "maxInflight of one tenant value"},
    {"limits.tenants.<tenant>.maxQueued", "int", "defaults", "maxQueued of one tenant value"},
    {"limits.tenants.<tenant>.queueTimeout", "duration", "defaults",
     "queueTimeout of one tenant value"},
    {"limits.tenants.<tenant>.rate", "float", "defaults", "rate of one tenant value"},
    {"limits.tenants.<tenant>.burst", "int", "defaults", "burst of one tenant value"},
    {"limits.tenants.<tenant>.maxQueryLength", "duration", "defaults",
     "maxQueryLength of one tenant value"},
    {"limits.tenants.<tenant>.maxLookback", "duration", "defaults",
     "maxLookback of one tenant value"},
    {"limits.blockedQueries[].pattern", "string", NULL,
     "refuse (422) a query containing it, as written or as `tenantgate fmt` prints it"},
    {"limits.blockedQueries[].reason", "string", NULL, "said in the refusal"},
    {"limits.blockedQueries[].regex", "bool", "false",
     "pattern is a POSIX extended regex (unanchored; no backreferences)"},
    {"limits.metricsMaxTenants", "int", "1000",
     "tenant values with their own label on /metrics; the rest count as tenant=\"other\""},
    {"limits.lookbackDelta", "duration", "5m",
     "the upstream's --query.lookback-delta: what an instant selector reads before its time"},
    {NULL, NULL, NULL, NULL},
};
