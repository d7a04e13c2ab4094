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

/* One OIDC issuer whose ID tokens authenticate people. kube-rbac-proxy's
 * --oidc-* flags (and the config file's top-level oidc keys) give one; the
 * config file's oidc.issuers[] more. Defaults are filled in at load, so
 * every field below is what is applied. */
struct tg_oidc_issuer {
    char *url;             /* the exact "iss"; https, no query or fragment */
    char *client_id;       /* an audience the token must carry */
    char *username_claim;  /* "email" by default */
    char *username_prefix; /* "" = none; kube-apiserver's default (issuer URL + "#" for a
                              claim other than email; "-" = none) already applied */
    char *groups_claim;    /* "groups" by default; NULL = no groups */
    char *groups_prefix;   /* "" = none */
    char **sign_algs;      /* RFC 7518 names accepted in "alg"; RS256 by default */
    size_t n_sign_algs;
    char *ca_file; /* verifies the issuer's TLS certificate; NULL = system roots */
    char *ca_pem;  /* its contents, read at load */
    size_t ca_pem_len;
    char **required_claims; /* claim names, each with the string value below */
    char **required_values;
    size_t n_required_claims;
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
    char **upstream_drop_headers; /* upstream.dropHeaders: client headers never forwarded */
    size_t n_upstream_drop_headers;

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

    /* OIDC ID tokens (kube-rbac-proxy's --oidc-* flags, our `oidc:` section).
     * The oidc_* strings are the flag-level issuer as given; oidc_issuers
     * is what load made of it and of oidc.issuers[], checked, flags' first. */
    char *oidc_issuer;
    char *oidc_client_id;
    char *oidc_username_claim; /* "email" */
    char *oidc_username_prefix;
    char *oidc_groups_claim; /* "groups" */
    char *oidc_groups_prefix;
    char **oidc_sign_algs; /* empty = RS256 */
    size_t n_oidc_sign_algs;
    char *oidc_ca_file;
    char **oidc_required_claims; /* "claim=value" */
    size_t n_oidc_required_claims;
    struct tg_oidc_issuer *oidc_issuers;
    size_t n_oidc_issuers;
    int oidc_clock_skew_ms;   /* leeway on exp / nbf / iat: 10s */
    int oidc_jwks_refresh_ms; /* discovery + JWKS re-read: 1h */
    int oidc_jwks_refetch_ms; /* at most one fetch per issuer this often for unknown keys: 5s */

    /* identity toward the upstream (kube-rbac-proxy's --auth-header-*) */
    int auth_header_fields_enabled;
    char *auth_header_user_field;   /* "x-remote-user"; NULL = not sent */
    char *auth_header_groups_field; /* "x-remote-groups"; NULL = not sent */
    char *auth_header_groups_sep;   /* "|" */

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
    double kube_qps;     /* calls per second toward the API server, 0 = none */
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

    /* Alertmanager API v2 (--alertmanager-* flags, our `alertmanager:` section) */
    char *am_upstream;             /* --alertmanager-upstream; NULL: /api/v2/ goes to --upstream */
    struct tg_url am_upstream_url; /* the same, parsed */
    char *am_ca_file;              /* TLS toward it; each defaults to the --upstream one */
    char *am_client_cert_file;
    char *am_client_key_file;
    struct tg_resource_attributes am_resource_attributes; /* alertmanager.resourceAttributes */
    int has_am_resource_attributes; /* else authorization.resourceAttributes are used */
    size_t am_max_body_bytes;       /* a posted silence, default 256 KiB */
    /* per-tenant limits (our `limits:` section); NULL = no section, no limits */
    struct tg_limits_config *limits;
};

/* Values of *exit_now when tg_config_load() returns NULL. */
#define TG_CONFIG_FAILED      0 /* bad file or settings: print errbuf, exit 1 */
#define TG_CONFIG_EXIT_OK     1 /* --help / --version printed: exit 0 */
#define TG_CONFIG_USAGE_ERROR 2 /* unknown flag or bad flag value: print errbuf, exit 2 */

/* Parse argv (argv[0] is the program; subcommand already removed) and the
 * config file it names, read the token file, validate the result (TLS and CA
 * files are opened and parsed). On error returns NULL and writes a message
 * naming the flag, or the file, line and key, into errbuf: one line, or one
 * line per error for a config file with several (see
 * tg_config_print_errors). Prints
 * --help and --version to stdout itself. *exit_now (may be NULL) tells the
 * caller what a NULL return means, see above; it is 0 on success.
 * Warnings (ignored flags, ...) are logged with tg_warn(). The caller owns
 * the returned reference. */
struct tg_config *tg_config_load(int argc, char **argv, char *errbuf, size_t errlen, int *exit_now);
/* `tenantgate check-config`: tg_config_load(), except that a command line
 * with neither a listener nor --upstream checks only the files and flags it
 * names (config file, token file, TLS files, kubeconfig): listeners,
 * upstream and the authentication/authorization providers are not required
 * then, and *files_only is set to 1. Every error of the config file is in
 * errbuf, one per line. */
struct tg_config *tg_config_check(int argc, char **argv, char *errbuf, size_t errlen, int *exit_now,
                                  int *files_only);
/* Write a tg_config_load() message to `out` (FILE *), each of its lines
 * (one per error) after `prefix`. */
void tg_config_print_errors(void *out, const char *prefix, const char *err);
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
/* Its tenancy and authorization lines only: what the config file decides. */
void tg_config_summary_tenancy(const struct tg_config *cfg, void *out /* FILE * */);

#endif
