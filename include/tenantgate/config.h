/*
 * The loaded configuration: command-line flags (both anchors' spellings plus
 * ours) merged with the YAML config file (kube-rbac-proxy's format plus our own
 * top-level sections). Built once by tg_config_load() and immutable afterwards;
 * SIGHUP builds a new one and swaps it in, requests in flight keep the one they
 * started with through the reference count.
 *
 * Ownership: a struct tg_config owns every string and array reachable from it
 * (all heap, released by the last tg_config_unref()). Durations are in
 * milliseconds, sizes in bytes. A NULL string means "not set".
 */
#ifndef TENANTGATE_CONFIG_H
#define TENANTGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* "HOST:PORT", "[v6]:PORT" or ":PORT" (all addresses). */
struct tg_listen {
    char *host; /* NULL or "" = all addresses */
    uint16_t port;
    int set;
};

/* The parsed --upstream URL: scheme, host, port, path prefix. */
struct tg_url {
    int https;     /* 1 for https:// */
    char *host;    /* IPv6 without brackets */
    uint16_t port; /* explicit, else 80 / 443 */
    char *path;    /* path prefix, at least "/" (as given: "/prefix/" keeps its slash) */
};

/* kube-rbac-proxy's authorization.resourceAttributes; each field may use the
 * Go template `{{ .Value }}`, replaced by one tenant value per check. Every
 * spelling ({{.Value}}, ...) is normalised to exactly "{{ .Value }}" at load,
 * and no other template action survives loading. NULL = empty. */
struct tg_resource_attributes {
    char *namespace_;
    char *api_group;
    char *api_version;
    char *resource;
    char *subresource;
    char *name;
};

/* One authorization.static entry. An empty/NULL field matches anything (as in
 * kube-rbac-proxy); unlike kube-rbac-proxy, user.groups is honoured: when
 * non-empty the user must be in at least one of them. */
struct tg_static_rule {
    char *user_name;
    char **user_groups;
    size_t n_user_groups;
    char *verb;
    char *namespace_;
    char *api_group;
    char *resource;
    char *subresource;
    char *name;
    char *path;
    int resource_request; /* kube-rbac-proxy's resourceRequest */
};

/* One line of --token-auth-file: token,user,uid,"group1,group2" */
struct tg_static_token {
    unsigned char token_sha256[32]; /* what tg_auth_token_lookup compares */
    char *token;
    char *user;
    char *uid;
    char **groups;
    size_t n_groups;
};

enum tg_verb_mode {
    TG_VERB_GET = 0,  /* read API is `get` whatever the HTTP method (default) */
    TG_VERB_HTTP = 1, /* kube-rbac-proxy's mapping: GET->get, POST->create, ... */
};

/* ---- per-tenant limits (our `limits:` section; include/tenantgate/limits.h
 * uses them) ---- */

/* One set of limits, as written: a negative value means "not set here" (a
 * tenant override then inherits the default's; a default not set is no
 * limit). tg_limits_for() resolves them. */
struct tg_limit_set {
    int max_inflight;            /* upstream requests in flight per tenant; 0 = no bound */
    int max_queued;              /* more wait in a FIFO queue; 0 = none wait (429 at once) */
    int64_t queue_timeout_ms;    /* a queued request waits at most this long (default 10s) */
    double rate;                 /* requests per second (token bucket); 0 = no bound */
    int burst;                   /* bucket size (default: rate rounded up, at least 1) */
    int64_t max_query_length_ms; /* longest stretch a selector reads; 0 = no bound */
    int64_t max_lookback_ms;     /* how far back from now a selector reads; 0 = no bound */
};

struct tg_limit_override {
    char *tenant; /* the tenant value (exact) */
    struct tg_limit_set set;
    int line; /* in the config file, for messages */
};

/* limits.blockedQueries[]: refused when `pattern` occurs in the query as
 * written or as tg_promql_print spells it. */
struct tg_blocked_query {
    char *pattern;
    char *reason;   /* NULL = none given */
    int regex;      /* pattern is a POSIX extended regex (glibc regcomp), unanchored */
    void *compiled; /* regex_t *, compiled once at load (regex only) */
};

struct tg_limits_config {
    struct tg_limit_set defaults;
    struct tg_limit_override *tenants; /* sorted by tenant, no duplicates */
    size_t n_tenants;
    struct tg_blocked_query *blocked;
    size_t n_blocked;
    size_t metrics_max_tenants; /* tenant label values on /metrics; the rest are "other" */
    int64_t lookback_delta_ms;  /* the upstream's --query.lookback-delta, 5m */
    int windows;                /* some maxQueryLength / maxLookback is set */
};

struct tg_config {
    int refs;
    char *config_file; /* path given with --config-file, for messages and reload */
    int argc;          /* the command line this config was built from (copies), */
    char **argv;       /* replayed by tg_config_reload(); argv[0] is the program */

    /* listeners */
    struct tg_listen secure_listen;   /* --secure-listen-address (TLS) */
    struct tg_listen insecure_listen; /* --insecure-listen-address (plain HTTP) */
    struct tg_listen internal_listen; /* --internal-listen-address: /healthz /readyz /metrics */
    int proxy_endpoints_port;         /* --proxy-endpoints-port (0 = unset) */

    /* TLS server side */
    char *tls_cert_file;        /* --tls-cert-file; NULL with a secure listener = self-signed */
    char *tls_key_file;         /* --tls-private-key-file */
    int tls_min_version;        /* OpenSSL TLS1_2_VERSION (default) or TLS1_3_VERSION */
    char *tls_cipher_suites;    /* OpenSSL cipher list translated from Go names, or NULL */
    char *client_ca_file;       /* --client-ca-file: enables x509 client-cert authn */
    int tls_reload_interval_ms; /* how often cert/key files are checked for change */

    /* upstream */
    char *upstream;             /* --upstream URL, e.g. http://127.0.0.1:9090/prefix/ */
    struct tg_url upstream_url; /* the same, parsed and validated */
    char *upstream_ca_file;
    char *upstream_client_cert_file;
    char *upstream_client_key_file;
    int upstream_timeout_ms;      /* --upstream-timeout, default 5m */
    int upstream_max_idle;        /* keep-alive pool size */
    char *upstream_tenant_header; /* e.g. THANOS-TENANT; NULL = not sent */

    /* tenancy (prom-label-proxy flags + our own) */
    char *label;         /* --label, default "namespace" */
    char *query_param;   /* tenant query parameter: rewrite name, --query-param, or label */
    char *header_name;   /* --header-name / byHttpHeader: tenant from a header */
    char **label_values; /* --label-value (fixed tenant values), may be empty */
    size_t n_label_values;
    int enable_label_apis;    /* accepted; label APIs are enforced either way */
    int error_on_replace;     /* --error-on-replace */
    int sa_namespace_default; /* tenant = SA's namespace when none given (default 1) */
    enum tg_verb_mode verb_mode;
    int allow_info_function; /* info() is refused unless set */
    /* PromQL feature flags (prom-label-proxy / Prometheus names) */
    int promql_duration_expr;
    int promql_experimental_functions;
    int promql_extended_range_selectors;
    int promql_binop_fill_modifiers; /* --enable-promql-binop-fill-modifiers */
    size_t max_query_bytes;          /* default 256 KiB */
    int max_query_depth;             /* default 1000 nesting levels */

    /* authentication */
    char *token_auth_file; /* --token-auth-file */
    struct tg_static_token *tokens;
    size_t n_tokens;
    char *kubeconfig; /* --kubeconfig; NULL = in-cluster when available */
    char **auth_token_audiences;
    size_t n_auth_token_audiences;
    int kube_enabled; /* TokenReview/SAR in use (kubeconfig given or in-cluster) */

    /* authorization (kube-rbac-proxy config file) */
    struct tg_resource_attributes resource_attributes;
    int has_resource_attributes;       /* the file has authorization.resourceAttributes */
    int resource_attributes_templated; /* ... and one of them uses {{ .Value }} */
    struct tg_static_rule *static_rules;
    size_t n_static_rules;

    /* decision cache (our `cache:` section; kube-rbac-proxy's defaults) */
    int cache_authn_ttl_ms;   /* 2m */
    int cache_unauthn_ttl_ms; /* 30s */
    int cache_allow_ttl_ms;   /* 5m */
    int cache_deny_ttl_ms;    /* 30s */
    size_t cache_max_entries; /* 10000 */
    int cache_grace_ms;       /* 0 = off */

    /* kubernetes API client (our `kubernetes:` section) */
    int kube_timeout_ms; /* 10s */
    int kube_qps;        /* rate limit toward the API server, 0 = none */
    int kube_burst;
    int kube_retries; /* 3 */

    /* server limits (our `server:` section) */
    size_t max_header_bytes; /* 64 KiB */
    size_t max_body_bytes;   /* 4 MiB */
    int header_timeout_ms;   /* 10s: slowloris guard */
    int idle_timeout_ms;     /* 10m: Grafana reuses connections */
    int max_connections;     /* 16384 */
    int shutdown_grace_ms;   /* 30s drain on SIGTERM */

    /* logging */
    int log_level;  /* enum tg_log_level */
    int access_log; /* 1 = JSON access log on stdout (default) */

    /* per-tenant limits (our `limits:` section); NULL = no section, no limits */
    struct tg_limits_config *limits;
};

/* Values of *exit_now when tg_config_load() returns NULL. */
#define TG_CONFIG_FAILED      0 /* bad file or settings: print errbuf, exit 1 */
#define TG_CONFIG_EXIT_OK     1 /* --help / --version printed: exit 0 */
#define TG_CONFIG_USAGE_ERROR 2 /* unknown flag or bad flag value: print errbuf, exit 2 */

/* Parse argv (argv[0] is the program; subcommand already removed) and the
 * config file it names, read the token file, validate the result (TLS and CA
 * files are opened and parsed). On error returns NULL and writes a one-line
 * message naming the flag, or the file, line and key, into errbuf. Prints
 * --help and --version to stdout itself. *exit_now (may be NULL) tells the
 * caller what a NULL return means, see above; it is 0 on success.
 * Warnings (ignored flags, ...) are logged with tg_warn(). The caller owns
 * the returned reference. */
struct tg_config *tg_config_load(int argc, char **argv, char *errbuf, size_t errlen, int *exit_now);
/* Re-read the config file (and token file) named in `old`, keeping old's
 * flags: the command line stored in old is replayed. On any error returns
 * NULL with the message; `old` is untouched and stays valid. */
struct tg_config *tg_config_reload(const struct tg_config *old, char *errbuf, size_t errlen);
struct tg_config *tg_config_ref(struct tg_config *cfg);
void tg_config_unref(struct tg_config *cfg);
/* Write the --help text (the configuration reference) to `out`. */
void tg_config_usage(void *out /* FILE * */);
/* A few lines for `check-config` and the start-up log: listeners, upstream,
 * tenancy, providers. Written to `out` (FILE *). */
void tg_config_summary(const struct tg_config *cfg, void *out /* FILE * */);

#endif
