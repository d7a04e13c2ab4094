/*
 * Loading a configuration: defaults, then the config file, then the flags
 * (flags win), then the merge of the two proxies' tenancy settings, the token
 * file, and validation, including opening every TLS file the server will use.
 * See include/tenantgate/config.h; the pieces live in flags.c,
 * yaml.c, values.c, tokens.c and oidc.c (this folder).
 */
#include "config-int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tenantgate/core.h"
#include "tenantgate/log.h"

/* ---- lifecycle ---- */

struct tg_config *tg_config_new_defaults(void)
{
    struct tg_config *c = tg_calloc(1, sizeof(*c));
    c->refs = 1;
    c->tls_min_version = TLS1_2_VERSION;
    c->tls_reload_interval_ms = 60 * 1000;
    c->upstream_timeout_ms = 5 * 60 * 1000;
    c->upstream_max_idle = 64;
    c->label = tg_strdup("namespace");
    c->sa_namespace_default = 1;
    c->verb_mode = TG_VERB_GET;
    c->max_query_bytes = 256 * 1024;
    c->max_query_depth = 1000;
    c->cache_authn_ttl_ms = 2 * 60 * 1000;
    c->cache_unauthn_ttl_ms = 30 * 1000;
    c->cache_allow_ttl_ms = 5 * 60 * 1000;
    c->cache_deny_ttl_ms = 30 * 1000;
    c->cache_max_entries = 10000;
    c->kube_timeout_ms = 10 * 1000;
    c->kube_retries = 3;
    c->max_header_bytes = 64 * 1024;
    c->max_body_bytes = 4 * 1024 * 1024;
    c->header_timeout_ms = 10 * 1000;
    c->idle_timeout_ms = 10 * 60 * 1000;
    c->max_connections = 16384;
    c->shutdown_grace_ms = 30 * 1000;
    c->log_level = TG_LOG_INFO;
    c->access_log = 1;
    c->oidc_username_claim = tg_strdup("email");
    c->oidc_groups_claim = tg_strdup("groups");
    c->oidc_clock_skew_ms = 10 * 1000;
    c->oidc_jwks_refresh_ms = 60 * 60 * 1000;
    c->oidc_jwks_refetch_ms = 5 * 1000;
    c->auth_header_user_field = tg_strdup("x-remote-user");
    c->auth_header_groups_field = tg_strdup("x-remote-groups");
    c->auth_header_groups_sep = tg_strdup("|");
    c->am_max_body_bytes = 256 * 1024;
    return c;
}

static void free_resource_attributes(struct tg_resource_attributes *r)
{
    free(r->namespace_);
    free(r->api_group);
    free(r->api_version);
    free(r->resource);
    free(r->subresource);
    free(r->name);
}

static void free_static_rules(struct tg_static_rule *r, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        free(r[i].user_name);
        tg_strlist_free(r[i].user_groups, r[i].n_user_groups);
        free(r[i].verb);
        free(r[i].namespace_);
        free(r[i].api_group);
        free(r[i].resource);
        free(r[i].subresource);
        free(r[i].name);
        free(r[i].path);
    }
    free(r);
}

static void config_free(struct tg_config *c)
{
    char **strings[] = {&c->config_file,
                        &c->secure_listen.host,
                        &c->insecure_listen.host,
                        &c->internal_listen.host,
                        &c->tls_cert_file,
                        &c->tls_key_file,
                        &c->tls_cipher_suites,
                        &c->client_ca_file,
                        &c->upstream,
                        &c->upstream_url.host,
                        &c->upstream_url.path,
                        &c->upstream_ca_file,
                        &c->upstream_client_cert_file,
                        &c->upstream_client_key_file,
                        &c->upstream_tenant_header,
                        &c->label,
                        &c->query_param,
                        &c->header_name,
                        &c->token_auth_file,
                        &c->kubeconfig,
                        &c->oidc_issuer,
                        &c->oidc_client_id,
                        &c->oidc_username_claim,
                        &c->oidc_username_prefix,
                        &c->oidc_groups_claim,
                        &c->oidc_groups_prefix,
                        &c->oidc_ca_file,
                        &c->auth_header_user_field,
                        &c->auth_header_groups_field,
                        &c->auth_header_groups_sep,
                        &c->am_upstream,
                        &c->am_upstream_url.host,
                        &c->am_upstream_url.path,
                        &c->am_ca_file,
                        &c->am_client_cert_file,
                        &c->am_client_key_file};
    size_t i;
    for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        free(*strings[i]);
    tg_strlist_free(c->argv, (size_t)c->argc);
    tg_strlist_free(c->label_values, c->n_label_values);
    tg_strlist_free(c->upstream_drop_headers, c->n_upstream_drop_headers);
    tg_strlist_free(c->auth_token_audiences, c->n_auth_token_audiences);
    tg_tokens_free(c->tokens, c->n_tokens);
    free_resource_attributes(&c->resource_attributes);
    free_resource_attributes(&c->am_resource_attributes);
    free_static_rules(c->static_rules, c->n_static_rules);
    tg_strlist_free(c->oidc_sign_algs, c->n_oidc_sign_algs);
    tg_strlist_free(c->oidc_required_claims, c->n_oidc_required_claims);
    for (i = 0; i < c->n_oidc_issuers; i++)
        tg_oidc_issuer_free(&c->oidc_issuers[i]);
    free(c->oidc_issuers);
    tg_limits_config_free(c->limits);
    free(c);
}

struct tg_config *tg_config_ref(struct tg_config *cfg)
{
    cfg->refs++;
    return cfg;
}

void tg_config_unref(struct tg_config *cfg)
{
    if (cfg && --cfg->refs == 0)
        config_free(cfg);
}

/* ---- merging the two proxies' tenancy settings ---- */

static int valid_label_name(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return 0;
    return 1;
}

static int valid_header_name(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    return 1;
}

/* A rewrite name and the matching flag/key both given: they must agree (the
 * two sidecars disagreeing would check one tenant and enforce another). */
static int merge_one(char **field, const char *rewrite, const char *what, const char *flag,
                     char *err, size_t errlen)
{
    if (rewrite == NULL)
        return 0;
    if (*field && strcmp(*field, rewrite) != 0)
        return tg_cfg_err(err, errlen,
                          "authorization.rewrites.%s.name \"%s\" and %s \"%s\" disagree", what,
                          rewrite, flag, *field);
    free(*field);
    *field = tg_strdup(rewrite);
    return 0;
}

static int merge_tenancy(struct tg_config *c, const struct tg_yaml_extra *x, char *err,
                         size_t errlen)
{
    int kinds;
    if (x->has_template && !x->rewrite_query_param && !x->rewrite_header)
        return tg_cfg_err(err, errlen,
                          "%s:%d: %s: {{ .Value }} needs authorization.rewrites (byQueryParameter "
                          "or byHttpHeader) to give it a value",
                          c->config_file, x->template_line, x->template_key);
    if (merge_one(&c->query_param, x->rewrite_query_param, "byQueryParameter",
                  "--query-param/tenancy.queryParam", err, errlen) < 0 ||
        merge_one(&c->header_name, x->rewrite_header, "byHttpHeader", "--header-name", err,
                  errlen) < 0)
        return -1;
    if (c->label == NULL)
        return tg_cfg_err(err, errlen, "--label must not be empty");
    if (!valid_label_name(c->label))
        return tg_cfg_err(err, errlen, "--label \"%s\" is not a valid label name", c->label);
    kinds = (c->query_param != NULL) + (c->header_name != NULL) + (c->n_label_values > 0);
    if (kinds > 1)
        return tg_cfg_err(err, errlen,
                          "at most one of --query-param, --header-name and --label-value may be "
                          "set (a rewrite counts as its flag)");
    if (c->header_name && !valid_header_name(c->header_name))
        return tg_cfg_err(err, errlen, "--header-name \"%s\" is not a valid header name",
                          c->header_name);
    if (kinds == 0)
        c->query_param = tg_strdup(c->label);
    return 0;
}

/* ---- identity headers toward the upstream ---- */

/* Names the proxy itself sets or that carry credentials cannot be the
 * identity headers: the upstream would see two meanings in one header. */
static int reserved_header(const char *name)
{
    static const char *const names[] = {"host",         "content-length",
                                        "content-type", "transfer-encoding",
                                        "connection",   "authorization",
                                        "cookie",       "x-forwarded-for",
                                        "expect",       NULL};
    for (size_t i = 0; names[i]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static int check_identity_header(const struct tg_config *c, const char *flag, const char *name,
                                 char *err, size_t errlen)
{
    if (name == NULL)
        return 0;
    if (!valid_header_name(name) || reserved_header(name))
        return tg_cfg_err(err, errlen, "%s \"%s\" cannot be an identity header", flag, name);
    if ((c->header_name && strcasecmp(name, c->header_name) == 0) ||
        (c->upstream_tenant_header && strcasecmp(name, c->upstream_tenant_header) == 0))
        return tg_cfg_err(err, errlen, "%s \"%s\" is also the tenant header", flag, name);
    return 0;
}

static int validate_identity_headers(const struct tg_config *c, char *err, size_t errlen)
{
    if (check_identity_header(c, "--auth-header-user-field-name", c->auth_header_user_field, err,
                              errlen) < 0 ||
        check_identity_header(c, "--auth-header-groups-field-name", c->auth_header_groups_field,
                              err, errlen) < 0)
        return -1;
    if (c->auth_header_user_field && c->auth_header_groups_field &&
        strcasecmp(c->auth_header_user_field, c->auth_header_groups_field) == 0)
        return tg_cfg_err(err, errlen,
                          "--auth-header-user-field-name and "
                          "--auth-header-groups-field-name must differ");
    if (c->auth_header_fields_enabled && c->auth_header_groups_field && !c->auth_header_groups_sep)
        return tg_cfg_err(err, errlen,
                          "--auth-header-groups-field-separator must not be empty "
                          "(the groups would run together)");
    return 0;
}

/* ---- validation ---- */

static int same_listener(const struct tg_listen *a, const struct tg_listen *b)
{
    const char *ha = a->host ? a->host : "", *hb = b->host ? b->host : "";
    return a->set && b->set && a->port != 0 && a->port == b->port && strcmp(ha, hb) == 0;
}

static int validate_listeners(struct tg_config *c, char *err, size_t errlen)
{
    if (!c->secure_listen.set && !c->insecure_listen.set)
        return tg_cfg_err(err, errlen,
                          "no listener: give --secure-listen-address or --insecure-listen-address");
    if (same_listener(&c->secure_listen, &c->insecure_listen) ||
        same_listener(&c->secure_listen, &c->internal_listen) ||
        same_listener(&c->insecure_listen, &c->internal_listen))
        return tg_cfg_err(err, errlen, "two listeners share one address");
    if (c->proxy_endpoints_port && !c->secure_listen.set)
        return tg_cfg_err(err, errlen, "--proxy-endpoints-port needs --secure-listen-address");
    if (c->proxy_endpoints_port && c->proxy_endpoints_port == c->secure_listen.port)
        return tg_cfg_err(err, errlen,
                          "--proxy-endpoints-port must differ from the secure listener's port");
    if (c->client_ca_file && !c->secure_listen.set)
        return tg_cfg_err(err, errlen, "--client-ca-file needs --secure-listen-address");
    if (c->secure_listen.set && !c->tls_cert_file)
        tg_warn("no --tls-cert-file: the secure listener uses a self-signed certificate");
    return 0;
}

static int validate_tls_pair(const struct tg_config *c, char *err, size_t errlen)
{
    if (!c->tls_cert_file != !c->tls_key_file)
        return tg_cfg_err(err, errlen,
                          "--tls-cert-file and --tls-private-key-file must be given together");
    return 0;
}

static int validate_upstream(struct tg_config *c, char *err, size_t errlen)
{
    char msg[300];
    if (c->upstream == NULL)
        return tg_cfg_err(err, errlen, "--upstream is required");
    if (tg_parse_upstream_url(c->upstream, &c->upstream_url, msg, sizeof(msg)) < 0)
        return tg_cfg_err(err, errlen, "--upstream: %s", msg);
    if (!c->upstream_client_cert_file != !c->upstream_client_key_file)
        return tg_cfg_err(err, errlen,
                          "--upstream-client-cert-file and --upstream-client-key-file must be "
                          "given together");
    if (!c->upstream_url.https && (c->upstream_ca_file || c->upstream_client_cert_file))
        tg_warn("upstream TLS files are unused: --upstream is plain http");
    return 0;
}

/* --alertmanager-upstream: its URL, and the TLS files it inherits from
 * --upstream when none of its own are given (a client certificate comes with
 * its key: both are taken from the same place). */
static int validate_alertmanager(struct tg_config *c, char *err, size_t errlen)
{
    char msg[300];
    if (c->am_upstream == NULL) {
        if (c->am_ca_file || c->am_client_cert_file || c->am_client_key_file)
            tg_warn("Alertmanager TLS files are unused: no --alertmanager-upstream");
        return 0;
    }
    if (tg_parse_upstream_url(c->am_upstream, &c->am_upstream_url, msg, sizeof(msg)) < 0)
        return tg_cfg_err(err, errlen, "--alertmanager-upstream: %s", msg);
    if (!c->am_client_cert_file != !c->am_client_key_file)
        return tg_cfg_err(err, errlen,
                          "--alertmanager-upstream-client-cert-file and "
                          "--alertmanager-upstream-client-key-file must be given together");
    if (c->am_ca_file == NULL)
        c->am_ca_file = tg_strdup(c->upstream_ca_file);
    if (c->am_client_cert_file == NULL) {
        c->am_client_cert_file = tg_strdup(c->upstream_client_cert_file);
        c->am_client_key_file = tg_strdup(c->upstream_client_key_file);
    }
    return 0;
}

static int validate_limits(const struct tg_config *c, char *err, size_t errlen)
{
    if (c->upstream_timeout_ms <= 0)
        return tg_cfg_err(err, errlen, "upstream timeout must be positive");
    if (c->kube_timeout_ms <= 0)
        return tg_cfg_err(err, errlen, "kubernetes.timeout must be positive");
    if (c->header_timeout_ms <= 0 || c->idle_timeout_ms <= 0)
        return tg_cfg_err(err, errlen,
                          "server.headerTimeout and server.idleTimeout must be "
                          "positive");
    if (c->tls_reload_interval_ms <= 0)
        return tg_cfg_err(err, errlen, "the TLS reload interval must be positive");
    if (c->max_header_bytes < 1024)
        return tg_cfg_err(err, errlen, "server.maxHeaderBytes must be at least 1Ki");
    if (c->max_body_bytes == 0 || c->max_query_bytes == 0)
        return tg_cfg_err(err, errlen,
                          "server.maxBodyBytes and promql.maxQueryBytes must be "
                          "positive");
    if (c->am_max_body_bytes == 0)
        return tg_cfg_err(err, errlen, "alertmanager.maxBodyBytes must be positive");
    return 0;
}

static int validate_providers(struct tg_config *c, char *err, size_t errlen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    c->kube_enabled = c->kubeconfig != NULL || (host != NULL && *host != '\0');
    if (c->n_tokens == 0 && !c->client_ca_file && !c->kube_enabled && c->n_oidc_issuers == 0)
        return tg_cfg_err(err, errlen,
                          "no authentication: give --token-auth-file, --client-ca-file, "
                          "--oidc-issuer or --kubeconfig (or run in a cluster)");
    if (c->n_static_rules == 0 && !c->kube_enabled)
        return tg_cfg_err(err, errlen,
                          "no authorization: without Kubernetes (--kubeconfig or in-cluster) "
                          "authorization.static rules are required");
    if (c->has_resource_attributes && c->n_label_values == 0 && !c->resource_attributes_templated)
        tg_warn("authorization.resourceAttributes do not use {{ .Value }}: the decision does not "
                "depend on the tenant, so an authorized user may query every tenant");
    return 0;
}

/* ---- files the server will open ---- */

static int ssl_fail(const char *what, const char *path, char *err, size_t errlen)
{
    char buf[256];
    unsigned long e = ERR_peek_last_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return tg_cfg_err(err, errlen, "%s %s: %s", what, path, e ? buf : "cannot be loaded");
}

static int check_cert_key(SSL_CTX *ctx, const char *cert, const char *key, const char *what,
                          char *err, size_t errlen)
{
    /* key first: a certificate loaded after a mismatching key only drops the
     * key, so the mismatch gets our own message below */
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return ssl_fail(what, key, err, errlen);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return ssl_fail(what, cert, err, errlen);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return tg_cfg_err(err, errlen, "%s %s does not match %s", what, key, cert);
    return 0;
}

static int check_ca(SSL_CTX *ctx, const char *path, const char *what, char *err, size_t errlen)
{
    if (path && SSL_CTX_load_verify_locations(ctx, path, NULL) != 1)
        return ssl_fail(what, path, err, errlen);
    return 0;
}

/* Each translated cipher alone, so an unsupported one is named. */
static int check_ciphers(SSL_CTX *ctx, const char *list, char *err, size_t errlen)
{
    char name[64];
    while (list && *list) {
        size_t len = strcspn(list, ":");
        snprintf(name, sizeof(name), "%.*s", (int)len, list);
        if (SSL_CTX_set_cipher_list(ctx, name) != 1) {
            ERR_clear_error();
            return tg_cfg_err(err, errlen,
                              "--tls-cipher-suites: %s is not supported by this "
                              "OpenSSL",
                              name);
        }
        list += len + (list[len] == ':');
    }
    return 0;
}

static int check_files(const struct tg_config *c, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    FILE *f;
    int rc = -1;

    if (ctx == NULL)
        return tg_cfg_err(err, errlen, "OpenSSL: cannot create a context");
    ERR_clear_error();
    if (c->tls_cert_file &&
        check_cert_key(ctx, c->tls_cert_file, c->tls_key_file, "--tls-cert-file", err, errlen) < 0)
        goto out;
    if (c->upstream_url.https && c->upstream_client_cert_file &&
        check_cert_key(ctx, c->upstream_client_cert_file, c->upstream_client_key_file,
                       "--upstream-client-cert-file", err, errlen) < 0)
        goto out;
    if (c->am_upstream_url.https && c->am_client_cert_file &&
        check_cert_key(ctx, c->am_client_cert_file, c->am_client_key_file,
                       "--alertmanager-upstream-client-cert-file", err, errlen) < 0)
        goto out;
    if (check_ca(ctx, c->client_ca_file, "--client-ca-file", err, errlen) < 0 ||
        (c->upstream_url.https &&
         check_ca(ctx, c->upstream_ca_file, "--upstream-ca-file", err, errlen) < 0) ||
        (c->am_upstream_url.https &&
         check_ca(ctx, c->am_ca_file, "--alertmanager-upstream-ca-file", err, errlen) < 0) ||
        check_ciphers(ctx, c->tls_cipher_suites, err, errlen) < 0)
        goto out;
    if (c->kubeconfig) {
        if ((f = fopen(c->kubeconfig, "r")) == NULL) {
            tg_cfg_err(err, errlen, "--kubeconfig %s: %s", c->kubeconfig, strerror(errno));
            goto out;
        }
        fclose(f);
    }
    rc = 0;
out:
    SSL_CTX_free(ctx);
    return rc;
}

/* ---- loading ---- */

static void keep_argv(struct tg_config *c, int argc, char **argv)
{
    int i;
    c->argv = tg_realloc(NULL, (size_t)(argc + 1) * sizeof(char *));
    for (i = 0; i < argc; i++)
        c->argv[i] = tg_strdup(argv[i]);
    c->argv[argc] = NULL;
    c->argc = argc;
}

/* Check every flag value on a throw-away config, so usage errors are told
 * apart (exit 2) and come before any file is read. */
static int precheck_flags(const struct tg_flag_uses *uses, char *err, size_t errlen)
{
    struct tg_config *scratch = tg_config_new_defaults();
    int rc = tg_flags_apply(scratch, uses, 0, err, errlen);
    tg_config_unref(scratch);
    return rc;
}

/* files_only (check-config; NULL for a real load): set to 1 when the command
 * line gives neither a listener nor --upstream; then only what the files and
 * flags say is validated, not that the whole setup can start. */
static int build(struct tg_config *c, const struct tg_flag_uses *uses, int warn, char *err,
                 size_t errlen, int *files_only)
{
    struct tg_yaml_extra x = {0};
    int rc = -1, partial;

    if (uses->config_file && *uses->config_file &&
        tg_yaml_load_file(c, &x, uses->config_file, err, errlen) < 0)
        goto out;
    if (tg_flags_apply(c, uses, warn, err, errlen) < 0)
        goto out;
    c->resource_attributes_templated = x.has_template;
    if (merge_tenancy(c, &x, err, errlen) < 0)
        goto out;
    if (tg_oidc_build(c, err, errlen) < 0 || validate_identity_headers(c, err, errlen) < 0)
        goto out;
    if (c->token_auth_file &&
        tg_tokens_load_file(c->token_auth_file, &c->tokens, &c->n_tokens, err, errlen) < 0)
        goto out;
    partial = files_only != NULL && !c->secure_listen.set && !c->insecure_listen.set &&
              c->upstream == NULL;
    if (files_only)
        *files_only = partial;
    if (validate_tls_pair(c, err, errlen) < 0 ||
        (!partial &&
         (validate_listeners(c, err, errlen) < 0 || validate_upstream(c, err, errlen) < 0)) ||
        validate_alertmanager(c, err, errlen) < 0 || validate_limits(c, err, errlen) < 0 ||
        (!partial && validate_providers(c, err, errlen) < 0) || check_files(c, err, errlen) < 0)
        goto out;
    rc = 0;
out:
    tg_yaml_extra_free(&x);
    return rc;
}

static struct tg_config *load_args(int argc, char **argv, int warn, char *err, size_t errlen,
                                   int *exit_now, int *files_only)
{
    struct tg_flag_uses uses;
    struct tg_config *c = NULL;

    *exit_now = TG_CONFIG_USAGE_ERROR;
    if (tg_flags_scan(argc, argv, &uses, err, errlen) < 0)
        return NULL;
    if (uses.help || uses.version) {
        if (uses.help)
            tg_config_write_usage(stdout);
        else
            printf("tenantgate %s\n", TG_VERSION);
        *exit_now = TG_CONFIG_EXIT_OK;
        goto out;
    }
    if (precheck_flags(&uses, err, errlen) < 0)
        goto out;
    *exit_now = TG_CONFIG_FAILED;
    c = tg_config_new_defaults();
    keep_argv(c, argc, argv);
    if (build(c, &uses, warn, err, errlen, files_only) < 0) {
        tg_config_unref(c);
        c = NULL;
        goto out;
    }
    *exit_now = 0;
out:
    free(uses.v);
    return c;
}

struct tg_config *tg_config_load(int argc, char **argv, char *errbuf, size_t errlen, int *exit_now)
{
    int dummy;
    return load_args(argc, argv, 1, errbuf, errlen, exit_now ? exit_now : &dummy, NULL);
}

struct tg_config *tg_config_check(int argc, char **argv, char *errbuf, size_t errlen, int *exit_now,
                                  int *files_only)
{
    int dummy;
    *files_only = 0;
    return load_args(argc, argv, 1, errbuf, errlen, exit_now ? exit_now : &dummy, files_only);
}

void tg_config_print_errors(void *outp, const char *prefix, const char *err)
{
    FILE *out = outp;
    do {
        size_t n = strcspn(err, "\n");
        fprintf(out, "%s%.*s\n", prefix, (int)n, err);
        err += n + (err[n] == '\n');
    } while (*err);
}

struct tg_config *tg_config_reload(const struct tg_config *old, char *errbuf, size_t errlen)
{
    int exit_now;
    struct tg_config *c = load_args(old->argc, old->argv, 0, errbuf, errlen, &exit_now, NULL);
    if (c == NULL && exit_now == TG_CONFIG_EXIT_OK) /* cannot happen: --help was refused before */
        tg_cfg_err(errbuf, errlen, "reload: the command line asks for --help/--version");
    return c;
}

/* ---- summary ---- */

static void fmt_duration(char *buf, size_t len, int ms)
{
    if (ms % 60000 == 0 && ms >= 60000)
        snprintf(buf, len, "%dm", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(buf, len, "%ds", ms / 1000);
    else
        snprintf(buf, len, "%dms", ms);
}

static void fmt_listen(FILE *out, const char *what, const struct tg_listen *l)
{
    if (l->set)
        fprintf(out, " %s %s%s%s:%u", what, l->host && strchr(l->host, ':') ? "[" : "",
                l->host ? l->host : "", l->host && strchr(l->host, ':') ? "]" : "", l->port);
}

static void summary_attr(FILE *out, const char *key, const char *v)
{
    if (v && *v)
        fprintf(out, " %s=%s", key, v);
}

static void summary_authz(const struct tg_config *c, FILE *out)
{
    const struct tg_resource_attributes *r = &c->resource_attributes;
    int any = c->n_static_rules || c->kube_enabled;
    fprintf(out, "authorization:");
    if (c->n_static_rules)
        fprintf(out, " static rules (%zu)", c->n_static_rules);
    if (c->kube_enabled)
        fprintf(out, "%s SubjectAccessReview", c->n_static_rules ? "," : "");
    if (any)
        fputc(';', out);
    if (c->has_resource_attributes) {
        fprintf(out, " resource attributes");
        summary_attr(out, "namespace", r->namespace_);
        summary_attr(out, "apiGroup", r->api_group);
        summary_attr(out, "apiVersion", r->api_version);
        summary_attr(out, "resource", r->resource);
        summary_attr(out, "subresource", r->subresource);
        summary_attr(out, "name", r->name);
    } else {
        fprintf(out, " non-resource attributes on the request path");
    }
    fprintf(out, "; verb mode %s\n", c->verb_mode == TG_VERB_GET ? "get" : "http");
}

static void summary_tenancy(const struct tg_config *c, FILE *out);

static void summary_limits(const struct tg_config *c, FILE *out)
{
    if (c->limits)
        fprintf(out, "limits: defaults and %zu tenant overrides, %zu blocked queries%s\n",
                c->limits->n_tenants, c->limits->n_blocked,
                c->limits->windows ? ", query window guards" : "");
}

void tg_config_summary(const struct tg_config *c, void *outp)
{
    FILE *out = outp;
    char d[32];
    size_t i;

    fprintf(out, "listeners:");
    fmt_listen(out, c->tls_cert_file ? "https" : "https (self-signed)", &c->secure_listen);
    fmt_listen(out, "http", &c->insecure_listen);
    fmt_listen(out, "internal", &c->internal_listen);
    fputc('\n', out);
    fmt_duration(d, sizeof(d), c->upstream_timeout_ms);
    fprintf(out, "upstream: %s (timeout %s)\n", c->upstream, d);
    if (c->am_upstream)
        fprintf(out, "alertmanager: %s (/api/v2/)\n", c->am_upstream);
    summary_tenancy(c, out);
    fprintf(out, "authentication:");
    if (c->n_tokens)
        fprintf(out, " token file (%zu token%s)", c->n_tokens, c->n_tokens == 1 ? "" : "s");
    if (c->client_ca_file)
        fprintf(out, "%s client certificates", c->n_tokens ? "," : "");
    for (i = 0; i < c->n_oidc_issuers; i++)
        fprintf(out, "%s OIDC %s (audience %s, users %s<%s>)",
                c->n_tokens || c->client_ca_file || i ? "," : "", c->oidc_issuers[i].url,
                c->oidc_issuers[i].client_id, c->oidc_issuers[i].username_prefix,
                c->oidc_issuers[i].username_claim);
    if (c->kube_enabled)
        fprintf(out, "%s TokenReview (%s)",
                c->n_tokens || c->client_ca_file || c->n_oidc_issuers ? "," : "",
                c->kubeconfig ? c->kubeconfig : "in-cluster");
    fputc('\n', out);
    summary_authz(c, out);
    summary_limits(c, out);
}

void tg_config_summary_tenancy(const struct tg_config *c, void *outp)
{
    summary_tenancy(c, outp);
    summary_authz(c, outp);
    summary_limits(c, outp);
}

static void summary_tenancy(const struct tg_config *c, FILE *out)
{
    size_t i;

    fprintf(out, "tenancy: label %s, tenant from ", c->label);
    if (c->query_param)
        fprintf(out, "query parameter %s", c->query_param);
    else if (c->header_name)
        fprintf(out, "header %s", c->header_name);
    else
        for (i = 0; i < c->n_label_values; i++)
            fprintf(out, "%s%s", i ? "," : "fixed values ", c->label_values[i]);
    fprintf(out, "%s\n",
            c->sa_namespace_default ? ", service accounts default to their namespace" : "");
}
