/*
 * Command-line flags: one table (tg_flag_defs) drives parsing, --help and
 * docs/config.md, so the reference cannot drift from what is accepted.
 *
 * Syntax (the union of Go's flag and pflag): -flag and --flag; --flag=value
 * and --flag value; booleans --flag or --flag=true|false (never a separate
 * word, as in Go). "--" ends the flags; no positional arguments exist.
 */
#include "config-int.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/log.h"

#define NOFIELD SIZE_MAX
#define OFF(f)  offsetof(struct tg_config, f)

#define KRP  "kube-rbac-proxy"
#define PLP  "prom-label-proxy"
#define BOTH "kube-rbac-proxy, prom-label-proxy"
#define KLOG "klog (kube-rbac-proxy)"
#define OURS "tenantgate"

#define F(name, anchor, kind, field, deflt, mirrors, help)                                         \
    {                                                                                              \
        name, anchor, kind, OFF(field), NOFIELD, 0, 0, deflt, mirrors, help                        \
    }
#define FI(name, anchor, field, min, max, deflt, mirrors, help)                                    \
    {                                                                                              \
        name, anchor, TG_FK_INT, OFF(field), NOFIELD, min, max, deflt, mirrors, help               \
    }
#define FL(name, anchor, kind, field, mirrors, help)                                               \
    {                                                                                              \
        name, anchor, kind, OFF(field), OFF(n_##field), 0, 0, NULL, mirrors, help                  \
    }
#define FX(name, anchor, kind, help)                                                               \
    {                                                                                              \
        name, anchor, kind, NOFIELD, NOFIELD, 0, 0, NULL, NULL, help                               \
    }

const struct tg_flag_def tg_flag_defs[] = {
    /* listeners and upstream */
    F("secure-listen-address", KRP, TG_FK_LISTEN, secure_listen, NULL, NULL,
      "HTTPS listener, HOST:PORT or :PORT. Without --tls-cert-file a self-signed "
      "certificate is generated."),
    F("insecure-listen-address", BOTH, TG_FK_LISTEN, insecure_listen, NULL, NULL,
      "Plain HTTP listener (authentication still applies)."),
    F("internal-listen-address", PLP, TG_FK_LISTEN, internal_listen, NULL, NULL,
      "Plain HTTP listener for /healthz, /readyz and /metrics only."),
    FI("proxy-endpoints-port", KRP, proxy_endpoints_port, 0, 65535, "0", NULL,
       "Serve /healthz over TLS on this port, on the host of --secure-listen-address."),
    F("upstream", BOTH, TG_FK_STRING, upstream, NULL, NULL,
      "Prometheus / Thanos Querier URL: http(s)://host[:port][/path-prefix]. Required."),
    F("upstream-ca-file", KRP, TG_FK_STRING, upstream_ca_file, NULL, NULL,
      "CA bundle that verifies an https upstream (default: system roots)."),
    F("upstream-ca-cert", PLP, TG_FK_STRING, upstream_ca_file, NULL, NULL,
      "Same as --upstream-ca-file."),
    F("upstream-client-cert-file", KRP, TG_FK_STRING, upstream_client_cert_file, NULL, NULL,
      "Client certificate presented to the upstream; needs the key too."),
    F("upstream-client-cert", PLP, TG_FK_STRING, upstream_client_cert_file, NULL, NULL,
      "Same as --upstream-client-cert-file."),
    F("upstream-client-key-file", KRP, TG_FK_STRING, upstream_client_key_file, NULL, NULL,
      "Key of --upstream-client-cert-file."),
    F("upstream-client-key", PLP, TG_FK_STRING, upstream_client_key_file, NULL, NULL,
      "Same as --upstream-client-key-file."),
    F("upstream-timeout", OURS, TG_FK_DURATION, upstream_timeout_ms, "5m", "upstream.timeout",
      "Timeout of one upstream request."),
    /* TLS */
    F("tls-cert-file", KRP, TG_FK_STRING, tls_cert_file, NULL, NULL,
      "Server certificate (chain) in PEM; needs --tls-private-key-file."),
    F("tls-private-key-file", KRP, TG_FK_STRING, tls_key_file, NULL, NULL,
      "Private key of --tls-cert-file in PEM."),
    F("tls-min-version", KRP, TG_FK_TLS_VERSION, tls_min_version, "VersionTLS12", NULL,
      "Minimum TLS version: VersionTLS12 or VersionTLS13."),
    F("tls-cipher-suites", KRP, TG_FK_CIPHERS, tls_cipher_suites, NULL, NULL,
      "Comma-separated Go cipher suite names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ...) "
      "for TLS 1.2, translated to OpenSSL names; TLS 1.3 names are accepted and ignored, as "
      "in Go. Default: OpenSSL's."),
    F("tls-reload-interval", KRP, TG_FK_DURATION, tls_reload_interval_ms, "1m",
      "server.tlsReloadInterval", "How often certificate and key files are re-read."),
    F("client-ca-file", KRP, TG_FK_STRING, client_ca_file, NULL, NULL,
      "Authenticate clients presenting a certificate signed by this CA (user = CN, groups = "
      "O). Needs --secure-listen-address."),
    /* authentication */
    F("token-auth-file", OURS, TG_FK_STRING, token_auth_file, NULL, NULL,
      "Static bearer tokens, kube-apiserver's CSV format: token,user,uid,\"group1,group2\"."),
    F("kubeconfig", KRP, TG_FK_STRING, kubeconfig, NULL, NULL,
      "Kubeconfig for TokenReview and SubjectAccessReview. Default: in-cluster when "
      "KUBERNETES_SERVICE_HOST is set."),
    FL("auth-token-audiences", KRP, TG_FK_LIST_COMMA, auth_token_audiences, NULL,
       "Comma-separated audiences a TokenReview must accept (repeatable)."),
    F("kube-api-qps", KRP, TG_FK_QPS, kube_qps, "0", "kubernetes.qps",
      "Client-side rate limit toward the API server (0 = none; fractions allowed: 0.5 = one "
      "call every 2s)."),
    FI("kube-api-burst", KRP, kube_burst, 0, 100000, "0", "kubernetes.burst",
       "Burst above --kube-api-qps."),
    /* OIDC ID tokens (people) */
    F("oidc-issuer", KRP, TG_FK_STRING, oidc_issuer, NULL, "oidc.issuer",
      "Authenticate OIDC ID tokens: a bearer JWT whose \"iss\" is this https URL is verified "
      "with the keys its discovery document names. More issuers: oidc.issuers in the config "
      "file."),
    F("oidc-clientID", KRP, TG_FK_STRING, oidc_client_id, NULL, "oidc.clientID",
      "The audience an ID token must carry in \"aud\"; required with --oidc-issuer."),
    F("oidc-username-claim", KRP, TG_FK_STRING, oidc_username_claim, "email", "oidc.usernameClaim",
      "Claim holding the user name (a string). With email, a token saying \"email_verified\": "
      "false is refused, as in kube-apiserver."),
    F("oidc-username-prefix", KRP, TG_FK_STRING, oidc_username_prefix, NULL, "oidc.usernamePrefix",
      "Put before every user name. Unset: nothing for the email claim, else the issuer URL and "
      "\"#\" (kube-apiserver's rule); \"-\": nothing."),
    F("oidc-groups-claim", KRP, TG_FK_STRING, oidc_groups_claim, "groups", "oidc.groupsClaim",
      "Claim holding the groups: a string or a list of strings (empty: no groups)."),
    F("oidc-groups-prefix", KRP, TG_FK_STRING, oidc_groups_prefix, NULL, "oidc.groupsPrefix",
      "Put before every group name."),
    {"oidc-sign-alg", KRP, TG_FK_LIST_REPEAT, OFF(oidc_sign_algs), OFF(n_oidc_sign_algs), 0, 0,
     "RS256", "oidc.signAlgs",
     "An accepted signature algorithm (repeatable): RS256, RS384, RS512, PS256, PS384, PS512, "
     "ES256, ES384, ES512, EdDSA. \"none\" and HMAC never are."},
    F("oidc-ca-file", KRP, TG_FK_STRING, oidc_ca_file, NULL, "oidc.caFile",
      "CA bundle that verifies the issuer's certificate (default: system roots)."),
    /* identity headers toward the upstream */
    F("auth-header-fields-enabled", KRP, TG_FK_BOOL, auth_header_fields_enabled, "false", NULL,
      "Tell the upstream who is calling: the authenticated user and groups in the two headers "
      "below. Headers of those names sent by the client are dropped either way."),
    F("auth-header-user-field-name", KRP, TG_FK_STRING, auth_header_user_field, "x-remote-user",
      NULL, "Header carrying the user name (empty: not sent)."),
    F("auth-header-groups-field-name", KRP, TG_FK_STRING, auth_header_groups_field,
      "x-remote-groups", NULL, "Header carrying the groups (empty: not sent)."),
    F("auth-header-groups-field-separator", KRP, TG_FK_STRING, auth_header_groups_sep, "|", NULL,
      "Put between two groups in the groups header."),
    /* tenancy */
    F("label", PLP, TG_FK_STRING, label, "namespace", "tenancy.label",
      "The label enforced in every query."),
    F("query-param", PLP, TG_FK_STRING, query_param, NULL, "tenancy.queryParam",
      "Query parameter carrying the tenant value(s). Default: the rewrite's "
      "byQueryParameter name, else the label name (unless --header-name or --label-value)."),
    F("header-name", PLP, TG_FK_STRING, header_name, NULL, NULL,
      "HTTP header carrying the tenant value(s) instead of a query parameter."),
    FL("label-value", PLP, TG_FK_LIST_REPEAT, label_values, "tenancy.labelValues",
       "A fixed tenant value (repeatable; the union is enforced)."),
    F("enable-label-apis", PLP, TG_FK_BOOL, enable_label_apis, "false", "tenancy.enableLabelAPIs",
      "Accepted; label APIs are always enforced."),
    F("error-on-replace", PLP, TG_FK_BOOL, error_on_replace, "false", "tenancy.errorOnReplace",
      "Answer 400 when a query has a tenant matcher that differs from the enforced one."),
    F("verb-mode", OURS, TG_FK_VERB_MODE, verb_mode, "get", "tenancy.verbMode",
      "get: every read is authorized as verb get; http: kube-rbac-proxy's mapping "
      "(GET->get, POST->create, ...)."),
    F("sa-namespace-default", OURS, TG_FK_BOOL, sa_namespace_default, "true",
      "tenancy.serviceAccountNamespaceDefault",
      "A service account sending no tenant value gets its own namespace as tenant."),
    /* PromQL */
    F("enable-promql-duration-expression-parsing", PLP, TG_FK_BOOL, promql_duration_expr, "false",
      "promql.durationExpressions", "Allow duration arithmetic in PromQL."),
    F("enable-promql-experimental-functions", PLP, TG_FK_BOOL, promql_experimental_functions,
      "false", "promql.experimentalFunctions", "Allow experimental PromQL functions."),
    F("enable-promql-extended-range-selectors", PLP, TG_FK_BOOL, promql_extended_range_selectors,
      "false", "promql.extendedRangeSelectors", "Allow extended range selectors."),
    F("enable-promql-binop-fill-modifiers", PLP, TG_FK_BOOL, promql_binop_fill_modifiers, "false",
      "promql.binopFillModifiers", "Allow binary operator fill modifiers."),
    /* Alertmanager */
    F("alertmanager-upstream", OURS, TG_FK_STRING, am_upstream, NULL, "alertmanager.upstream",
      "Alertmanager URL for the /api/v2/ endpoints (alerts, silences), "
      "http(s)://host[:port][/path-prefix]. Default: they go to --upstream (one tenantgate "
      "in front of one Alertmanager, as with prom-label-proxy)."),
    F("alertmanager-upstream-ca-file", OURS, TG_FK_STRING, am_ca_file, NULL, "alertmanager.caFile",
      "CA bundle that verifies an https Alertmanager. Default: "
      "--upstream-ca-file (else system roots)."),
    F("alertmanager-upstream-client-cert-file", OURS, TG_FK_STRING, am_client_cert_file, NULL,
      "alertmanager.clientCertFile",
      "Client certificate presented to the Alertmanager; needs "
      "the key too. Default: --upstream-client-cert-file and its key."),
    F("alertmanager-upstream-client-key-file", OURS, TG_FK_STRING, am_client_key_file, NULL,
      "alertmanager.clientKeyFile", "Key of --alertmanager-upstream-client-cert-file."),
    /* logging */
    F("v", KLOG, TG_FK_KLOG_V, log_level, "0", "log.level",
      "klog verbosity (also -v): 0-3 = info, 4 and more = debug."),
    F("log-level", OURS, TG_FK_LOG_LEVEL, log_level, "info", "log.level",
      "error, warn, info or debug (or a --v number)."),
    F("access-log", OURS, TG_FK_BOOL, access_log, "true", "log.accessLog",
      "JSON access log on stdout."),
    FX("logtostderr", KLOG, TG_FK_NOOP_TRUE, "Accepted: tenantgate always logs to stderr."),
    /* the rest */
    F("config-file", KRP, TG_FK_STRING, config_file, NULL, NULL,
      "YAML file: kube-rbac-proxy's authorization section plus tenantgate's sections "
      "(below)."),
    FX("help", OURS, TG_FK_HELP, "Print this reference and exit (also -h)."),
    FX("h", OURS, TG_FK_HELP, NULL),
    FX("version", OURS, TG_FK_VERSION, "Print the version and exit."),
    /* accepted for manifests' sake, no effect */
    FX("http2-disable", KRP, TG_FK_IGNORED_BOOL, "tenantgate serves HTTP/1.1 only."),
    FX("http2-max-concurrent-streams", KRP, TG_FK_IGNORED_VALUE, "HTTP/2 is not served."),
    FX("http2-max-size", KRP, TG_FK_IGNORED_VALUE, "HTTP/2 is not served."),
    FX("enable-label-matchers-for-rules-api", PLP, TG_FK_IGNORED_BOOL,
       "Rules responses are filtered by tenantgate either way."),
    FX("alsologtostderr", KLOG, TG_FK_IGNORED_BOOL, "Logs always go to stderr."),
    FX("add-dir-header", KLOG, TG_FK_IGNORED_BOOL, "klog formatting."),
    FX("one-output", KLOG, TG_FK_IGNORED_BOOL, "klog formatting."),
    FX("skip-headers", KLOG, TG_FK_IGNORED_BOOL, "klog formatting."),
    FX("skip-log-headers", KLOG, TG_FK_IGNORED_BOOL, "klog formatting."),
    FX("log-backtrace-at", KLOG, TG_FK_IGNORED_VALUE, "klog debugging."),
    FX("log-dir", KLOG, TG_FK_IGNORED_VALUE, "Logs always go to stderr."),
    FX("log-file", KLOG, TG_FK_IGNORED_VALUE, "Logs always go to stderr."),
    FX("log-file-max-size", KLOG, TG_FK_IGNORED_VALUE, "Logs always go to stderr."),
    FX("stderrthreshold", KLOG, TG_FK_IGNORED_VALUE, "Logs always go to stderr."),
    FX("vmodule", KLOG, TG_FK_IGNORED_VALUE, "Per-file verbosity is not supported."),
    /* refused: honouring them would change what is authorized or trusted */
    FX("allow-paths", KRP, TG_FK_REFUSED_VALUE,
       "tenantgate serves a fixed set of Prometheus read endpoints."),
    FX("ignore-paths", KRP, TG_FK_REFUSED_VALUE,
       "Would skip authentication; every request is checked."),
    FX("upstream-force-h2c", KRP, TG_FK_REFUSED_BOOL, "The upstream is spoken to in HTTP/1.1."),
    FX("upstream-server-name", PLP, TG_FK_REFUSED_VALUE,
       "The upstream certificate is verified against the URL's host."),
    FX("insecure-skip-verify", PLP, TG_FK_REFUSED_BOOL,
       "The upstream certificate is always verified (use --upstream-ca-file)."),
    FX("unsafe-passthrough-paths", PLP, TG_FK_REFUSED_VALUE,
       "Nothing reaches the upstream unenforced."),
    FX("regex-match", PLP, TG_FK_REFUSED_BOOL, "Tenant values are exact."),
    FX("header-uses-list-syntax", PLP, TG_FK_REFUSED_BOOL,
       "Repeat the header for several tenants."),
    FX("rules-with-active-alerts", PLP, TG_FK_REFUSED_BOOL,
       "Would show alerts of rules outside the tenant."),
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

const struct tg_flag_def *tg_flag_find(const char *name, size_t len)
{
    const struct tg_flag_def *d;
    for (d = tg_flag_defs; d->name; d++)
        if (strlen(d->name) == len && memcmp(d->name, name, len) == 0)
            return d;
    return NULL;
}

static int kind_is_bool(enum tg_flag_kind k)
{
    return k == TG_FK_BOOL || k == TG_FK_IGNORED_BOOL || k == TG_FK_REFUSED_BOOL ||
           k == TG_FK_NOOP_TRUE || k == TG_FK_HELP || k == TG_FK_VERSION;
}

/* ---- scanning ---- */

static void uses_push(struct tg_flag_uses *u, const struct tg_flag_def *d, const char *v,
                      size_t vlen)
{
    u->v = tg_realloc(u->v, (u->n + 1) * sizeof(*u->v));
    u->v[u->n].def = d;
    u->v[u->n].value = v;
    u->v[u->n].vlen = vlen;
    u->n++;
}

static int scan_one(struct tg_flag_uses *u, int argc, char **argv, int *i, char *err, size_t errlen)
{
    const char *arg = argv[*i], *name = arg + 1, *eq, *val;
    const struct tg_flag_def *d;
    size_t nlen;

    if (*name == '-')
        name++;
    eq = strchr(name, '=');
    nlen = eq ? (size_t)(eq - name) : strlen(name);
    d = nlen ? tg_flag_find(name, nlen) : NULL;
    if (d == NULL)
        return tg_cfg_err(err, errlen, "unknown flag: -%s%.*s", arg[1] == '-' ? "-" : "", (int)nlen,
                          name);
    if (eq) {
        val = eq + 1;
    } else if (kind_is_bool(d->kind)) {
        val = "true";
    } else if (*i + 1 < argc) {
        val = argv[++*i];
    } else {
        return tg_cfg_err(err, errlen, "flag needs a value: --%s", d->name);
    }
    uses_push(u, d, val, strlen(val));
    if (d->kind == TG_FK_HELP)
        u->help = 1;
    if (d->kind == TG_FK_VERSION)
        u->version = 1;
    if (d->offset == OFF(config_file))
        u->config_file = val;
    return 0;
}

int tg_flags_scan(int argc, char **argv, struct tg_flag_uses *uses, char *err, size_t errlen)
{
    int i;
    memset(uses, 0, sizeof(*uses));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc) {
                tg_cfg_err(err, errlen, "unexpected argument \"%s\"", argv[i + 1]);
                goto fail;
            }
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            int after_bool = uses->n > 0 && kind_is_bool(uses->v[uses->n - 1].def->kind) &&
                             strchr(argv[i - 1], '=') == NULL;
            tg_cfg_err(err, errlen, "unexpected argument \"%s\"%s", a,
                       after_bool ? " (boolean flags take their value with =, as in "
                                    "--flag=false)"
                                  : "");
            goto fail;
        }
        if (scan_one(uses, argc, argv, &i, err, errlen) < 0)
            goto fail;
    }
    return 0;
fail:
    free(uses->v);
    memset(uses, 0, sizeof(*uses));
    return -1;
}

/* ---- applying ---- */

#define FIELD(cfg, d, type) ((type *)((char *)(cfg) + (d)->offset))

static void set_string(char **field, const char *v)
{
    free(*field);
    *field = *v ? tg_strdup(v) : NULL;
}

static void list_add(struct tg_config *cfg, const struct tg_flag_def *d, const char *v, int first)
{
    char ***list = FIELD(cfg, d, char **);
    size_t *n = (size_t *)((char *)cfg + d->count_offset);
    if (first) {
        tg_strlist_free(*list, *n);
        *list = NULL;
        *n = 0;
    }
    if (d->kind == TG_FK_LIST_REPEAT) {
        if (*v) /* prom-label-proxy drops empty values */
            tg_strlist_push(list, n, v, strlen(v));
        return;
    }
    while (*v) {
        size_t len = strcspn(v, ",");
        if (len)
            tg_strlist_push(list, n, v, len);
        v += len + (v[len] == ',');
    }
}

static int apply_ciphers(char **field, const char *v, int first, char *msg, size_t msglen)
{
    char *translated = NULL;
    if (tg_translate_cipher_suites(v, &translated, msg, msglen) < 0)
        return -1;
    if (first || *field == NULL || translated == NULL) {
        if (first || translated) {
            free(*field);
            *field = translated;
        }
        return 0;
    }
    *field = tg_realloc(*field, strlen(*field) + strlen(translated) + 2);
    strcat(strcat(*field, ":"), translated);
    free(translated);
    return 0;
}

static int apply_ignored(const struct tg_flag_def *d, const char *v, int warn, char *msg,
                         size_t msglen)
{
    int on = 0;
    int boolish = d->kind == TG_FK_IGNORED_BOOL || d->kind == TG_FK_REFUSED_BOOL ||
                  d->kind == TG_FK_NOOP_TRUE;
    if (boolish && tg_parse_bool(v, &on, msg, msglen) < 0)
        return -1;
    switch (d->kind) {
    case TG_FK_REFUSED_BOOL: return on ? tg_cfg_err(msg, msglen, "not supported: %s", d->help) : 0;
    case TG_FK_REFUSED_VALUE: return *v ? tg_cfg_err(msg, msglen, "not supported: %s", d->help) : 0;
    case TG_FK_NOOP_TRUE:
        if (!on && warn)
            tg_warn("--%s=false ignored: %s", d->name, d->help);
        return 0;
    default:
        if (warn)
            tg_warn("--%s has no effect in tenantgate: %s", d->name, d->help);
        return 0;
    }
}

static int apply_one(struct tg_config *cfg, const struct tg_flag_def *d, const char *v, int first,
                     int warn, char *msg, size_t msglen)
{
    long l;
    switch (d->kind) {
    case TG_FK_STRING: set_string(FIELD(cfg, d, char *), v); return 0;
    case TG_FK_BOOL: return tg_parse_bool(v, FIELD(cfg, d, int), msg, msglen);
    case TG_FK_INT:
        if (tg_parse_int(v, d->min, d->max, &l, msg, msglen) < 0)
            return -1;
        *FIELD(cfg, d, int) = (int)l;
        return 0;
    case TG_FK_QPS: return tg_parse_qps(v, FIELD(cfg, d, double), msg, msglen);
    case TG_FK_DURATION: return tg_parse_duration_ms(v, FIELD(cfg, d, int), msg, msglen);
    case TG_FK_LISTEN: return tg_parse_listen(v, FIELD(cfg, d, struct tg_listen), msg, msglen);
    case TG_FK_LIST_COMMA:
    case TG_FK_LIST_REPEAT: list_add(cfg, d, v, first); return 0;
    case TG_FK_TLS_VERSION: return tg_parse_tls_version(v, FIELD(cfg, d, int), msg, msglen);
    case TG_FK_CIPHERS: return apply_ciphers(FIELD(cfg, d, char *), v, first, msg, msglen);
    case TG_FK_VERB_MODE:
        return tg_parse_verb_mode(v, FIELD(cfg, d, enum tg_verb_mode), msg, msglen);
    case TG_FK_LOG_LEVEL: return tg_parse_log_level(v, FIELD(cfg, d, int), msg, msglen);
    case TG_FK_KLOG_V: return tg_parse_klog_v(v, FIELD(cfg, d, int), msg, msglen);
    case TG_FK_HELP:
    case TG_FK_VERSION: return 0;
    default: return apply_ignored(d, v, warn, msg, msglen);
    }
}

int tg_flags_apply(struct tg_config *cfg, const struct tg_flag_uses *uses, int warn, char *err,
                   size_t errlen)
{
    size_t i, j;
    char msg[300];
    for (i = 0; i < uses->n; i++) {
        const struct tg_flag_def *d = uses->v[i].def;
        int first = 1;
        for (j = 0; j < i && first; j++)
            if (d->offset != NOFIELD && uses->v[j].def->offset == d->offset)
                first = 0;
        if (apply_one(cfg, d, uses->v[i].value, first, warn, msg, sizeof(msg)) < 0)
            return tg_cfg_err(err, errlen, "--%s: %s", d->name, msg);
    }
    return 0;
}

/* ---- the reference text ---- */

static const char *kind_type(enum tg_flag_kind k)
{
    switch (k) {
    case TG_FK_STRING: return "string";
    case TG_FK_INT: return "int";
    case TG_FK_QPS: return "float";
    case TG_FK_DURATION: return "duration";
    case TG_FK_LISTEN: return "host:port";
    case TG_FK_LIST_COMMA: return "strings";
    case TG_FK_LIST_REPEAT: return "string, repeatable";
    case TG_FK_TLS_VERSION: return "version";
    case TG_FK_CIPHERS: return "strings";
    case TG_FK_VERB_MODE: return "get|http";
    case TG_FK_LOG_LEVEL: return "level";
    case TG_FK_KLOG_V: return "int";
    case TG_FK_IGNORED_VALUE:
    case TG_FK_REFUSED_VALUE: return "string";
    default: return "bool";
    }
}

/* Print `text` wrapped at ~78 columns, each line indented by `indent`. */
static void wrap(FILE *out, const char *text, int indent)
{
    int col = 0;
    while (*text) {
        size_t w = strcspn(text, " ");
        if (col > 0 && col + 1 + (int)w > 78) {
            fputc('\n', out);
            col = 0;
        }
        if (col == 0)
            col = fprintf(out, "%*s", indent, "");
        else
            col += fprintf(out, " ");
        col += fprintf(out, "%.*s", (int)w, text);
        text += w;
        while (*text == ' ')
            text++;
    }
    fputc('\n', out);
}

static void usage_flag(FILE *out, const struct tg_flag_def *d)
{
    char line[256], note[200] = "";
    int n;
    if (d->help == NULL) /* an alias documented with its main spelling */
        return;
    n = snprintf(line, sizeof(line), "  --%s%s%s", d->name,
                 d->kind == TG_FK_HELP || d->kind == TG_FK_VERSION ? "" : " ",
                 d->kind == TG_FK_HELP || d->kind == TG_FK_VERSION ? "" : kind_type(d->kind));
    if (d->deflt)
        snprintf(note, sizeof(note), "default %s", d->deflt);
    if (d->mirrors)
        snprintf(note + strlen(note), sizeof(note) - strlen(note), "%sfile: %s",
                 note[0] ? "; " : "", d->mirrors);
    if (note[0])
        fprintf(out, "%s%*s(%s)\n", line, n < 48 ? 48 - n : 1, "", note);
    else
        fprintf(out, "%s\n", line);
    wrap(out, d->help, 6);
}

static void usage_group(FILE *out, const char *title, int (*want)(const struct tg_flag_def *),
                        const char *anchor)
{
    const struct tg_flag_def *d;
    fprintf(out, "\n%s\n", title);
    for (d = tg_flag_defs; d->name; d++)
        if (want(d) && (anchor == NULL || strcmp(d->anchor, anchor) == 0))
            usage_flag(out, d);
}

static int is_active(const struct tg_flag_def *d)
{
    return d->kind < TG_FK_IGNORED_BOOL || d->kind == TG_FK_NOOP_TRUE || d->kind >= TG_FK_HELP;
}
static int is_ignored(const struct tg_flag_def *d)
{
    return d->kind == TG_FK_IGNORED_BOOL || d->kind == TG_FK_IGNORED_VALUE;
}
static int is_refused(const struct tg_flag_def *d)
{
    return d->kind == TG_FK_REFUSED_BOOL || d->kind == TG_FK_REFUSED_VALUE;
}

static void usage_keys(FILE *out)
{
    const struct tg_yaml_key_doc *k;
    const char *section = "";
    for (k = tg_yaml_key_docs; k->path; k++) {
        size_t slen = strcspn(k->path, ".");
        if (strncmp(section, k->path, slen) != 0 || section[slen] != '.') {
            fprintf(out, "  %.*s:\n", (int)slen, k->path);
            section = k->path;
        }
        if (k->deflt)
            fprintf(out, "    %s %s (default %s)\n", k->path + slen + 1, k->type, k->deflt);
        else
            fprintf(out, "    %s %s\n", k->path + slen + 1, k->type);
        wrap(out, k->help, 8);
    }
}

static const char usage_head[] =
    "Usage: tenantgate [flags]\n"
    "       tenantgate check-config [flags]     validate flags and files, then exit\n"
    "       tenantgate check-config --config-file F\n"
    "                                           check the config file F alone (CI)\n"
    "       tenantgate enforce --label L --value V [--value V2] [--error-on-replace] [-0] [QUERY]\n"
    "                                           print QUERY (or each stdin line) as sent upstream\n"
    "       tenantgate fmt [--pretty|--json] [-0] [QUERY]\n"
    "                                           print QUERY as tenantgate parses it\n"
    "\n"
    "tenantgate replaces the kube-rbac-proxy + prom-label-proxy pair in front of\n"
    "Prometheus / Thanos Querier: it authenticates (static tokens, client\n"
    "certificates, OIDC ID tokens, TokenReview), authorizes each tenant value\n"
    "(static rules, SubjectAccessReview) and enforces the tenant label in every\n"
    "PromQL query and in the Alertmanager API v2 (alerts, alert groups,\n"
    "silences; writes need the verbs create, update, delete).\n"
    "It accepts both proxies' flags and kube-rbac-proxy's --config-file.\n"
    "\n"
    "Flag syntax: -flag or --flag; --flag=value or --flag value; booleans as\n"
    "--flag or --flag=true|false. Durations use Go syntax (30s, 5m, 1h2m3.5s,\n"
    "500ms), sizes are bytes or use Ki, Mi, Gi (64Ki). A flag wins over the\n"
    "config-file key shown as \"file:\". Unknown flags are errors (exit 2).\n";

static const char usage_notes[] =
    "\n"
    "Config file notes:\n"
    "  Keys match case-insensitively (as in kube-rbac-proxy). Unknown keys,\n"
    "  wrong types, bad values and template actions other than {{ .Value }}\n"
    "  are start-up errors naming file, line and key, every one of them (one\n"
    "  per line, in file order; invalid YAML ends the list). An empty file is valid;\n"
    "  `key:` with no value, `~` and `null` mean \"not set\".\n"
    "  resourceAttributes without rewrites are used as they are (as in\n"
    "  kube-rbac-proxy), so {{ .Value }} there needs a rewrite to fill it.\n"
    "\n"
    "Tenant value:\n"
    "  From the query parameter authorization.rewrites.byQueryParameter.name,\n"
    "  else --query-param, else the label name; or from the header of\n"
    "  byHttpHeader / --header-name; or fixed by --label-value. At most one of\n"
    "  the three kinds; a rewrite and the matching flag must agree.\n"
    "\n"
    "Authentication:\n"
    "  --token-auth-file lines are token,user,uid[,\"group1,group2\"] (more\n"
    "  columns are ignored; a line starting with # is a comment). An empty or\n"
    "  duplicate token is an error naming the line. Kubernetes (TokenReview and\n"
    "  SubjectAccessReview) is used when --kubeconfig is given or\n"
    "  KUBERNETES_SERVICE_HOST is set; tokens not in the token file go to\n"
    "  TokenReview only then, else they are rejected. Without Kubernetes,\n"
    "  authorization.static rules must be configured.\n"
    "  Order: client certificate, token file, then a JWT whose \"iss\" is a\n"
    "  configured OIDC issuer (--oidc-issuer, oidc.issuers), then TokenReview.\n"
    "  OIDC users and groups are authorized like every other identity (static\n"
    "  rules, SubjectAccessReview); system:authenticated is added to their\n"
    "  groups, and a name or group starting with \"system:\" is refused.\n"
    "  Issuer keys are fetched in the background; until they are known, OIDC\n"
    "  tokens get 401. OIDC settings need a restart (SIGHUP keeps them).\n"
    "\n"
    "Reload:\n"
    "  SIGHUP re-reads the config file and the token file with the same flags;\n"
    "  on any error the running configuration is kept.\n"
    "\n"
    "Limits (README \"Protecting the querier\"):\n"
    "  No limits: section, no limits. Each tenant value has its own token\n"
    "  bucket, in-flight bound and FIFO queue; a request for several values\n"
    "  counts against each. Refusals: 429 with Retry-After (rate, maxQueued,\n"
    "  queueTimeout), 422 (maxQueryLength, maxLookback, blockedQueries), 503\n"
    "  for queued requests on SIGTERM. Durations there also take d, w and y\n"
    "  (32d, 2w). A reload applies new limits to new requests; the buckets,\n"
    "  slots and queues carry on.\n"
    "\n"
    "check-config:\n"
    "  With a listener or --upstream, the whole setup is loaded as at start\n"
    "  (TLS files, token file, kubeconfig or in-cluster service account) and\n"
    "  summarized; \"config OK\" only when all of it was checked. In-cluster\n"
    "  credentials not readable here (a CI machine) are a warning, and then\n"
    "  \"config OK\" is not printed. With neither, only the files given are\n"
    "  checked (listeners, upstream and authentication are not required) and\n"
    "  the output says what was not checked. Exit 0 valid, 1 errors (each on\n"
    "  its own line), 2 usage errors (unknown flag, bad flag value).\n";

void tg_config_write_usage(FILE *out)
{
    fputs(usage_head, out);
    usage_group(out, "kube-rbac-proxy flags:", is_active, KRP);
    usage_group(out, "prom-label-proxy flags:", is_active, PLP);
    usage_group(out, "Flags of both proxies:", is_active, BOTH);
    usage_group(out, "klog flags:", is_active, KLOG);
    usage_group(out, "tenantgate flags:", is_active, OURS);
    usage_group(out,
                "Accepted with a warning, no effect (kube-rbac-proxy, prom-label-proxy, klog):",
                is_ignored, NULL);
    usage_group(out, "Refused when set (tenantgate cannot honour them):", is_refused, NULL);
    fputs("\nConfig file keys (--config-file):\n", out);
    usage_keys(out);
    fputs(usage_notes, out);
}

void tg_config_usage(void *out)
{
    tg_config_write_usage(out);
}

void tg_config_write_markdown(FILE *out)
{
    fputs("# tenantgate configuration reference\n"
          "\n"
          "<!-- Generated from `tenantgate --help`; do not edit. Regenerate with\n"
          "     TG_WRITE_DOCS=1 build/test_config (test_config fails when this file\n"
          "     and --help differ). -->\n"
          "\n"
          "```text\n",
          out);
    tg_config_write_usage(out);
    fputs("```\n", out);
}
