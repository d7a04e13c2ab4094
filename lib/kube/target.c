/*
 * Where the API server is: kubeconfig (as client-go's clientcmd) or the
 * in-cluster service account (as client-go's rest.InClusterConfig).
 */
#include "tenantgate/core.h"
#include "tenantgate/kube.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube_int.h"
#include "tenantgate/http.h"
#include "tenantgate/log.h"

#define MAX_KUBE_FILE (1u << 20) /* kubeconfig, CA bundle, cert, key, token */

/* ---- small file / encoding helpers ---- */

char *tg_kube_base64_decode(const char *in, size_t *len_out)
{
    size_t inlen = strlen(in);
    char *out = tg_malloc(inlen / 4 * 3 + 4);
    long n = out ? tg_base64_decode_buf(in, inlen, TG_BASE64_LAX, out) : -1;

    if (n < 0) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    if (len_out)
        *len_out = (size_t)n;
    return out;
}

size_t tg_kube_trim(char *s)
{
    size_t len = strlen(s), start = 0;
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == '\t'))
        len--;
    while (start < len &&
           (s[start] == ' ' || s[start] == '\n' || s[start] == '\t' || s[start] == '\r'))
        start++;
    memmove(s, s + start, len - start);
    s[len - start] = '\0';
    return len - start;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void tg_kube_target_free(struct tg_kube_target *t)
{
    if (!t)
        return;
    free(t->host);
    free(t->path_prefix);
    free(t->tls_server_name);
    free(t->ca_pem);
    free(t->cert_pem);
    free(t->key_pem);
    if (t->token) /* do not leave credentials in freed memory */
        memset(t->token, 0, strlen(t->token));
    free(t->token);
    free(t->token_file);
    free(t->source);
    memset(t, 0, sizeof(*t));
}

/* "https://host:port/prefix", "http://...", or bare "host:port" (https, as
 * client-go's DefaultServerURL). IPv6 literals are bracketed. */
int tg_kube_target_from_url(const char *url, struct tg_kube_target *t, char *err, size_t errlen)
{
    const char *p = url, *hend, *pstart;
    char *endp;
    long port;

    t->https = 1;
    if (strncmp(p, "https://", 8) == 0) {
        p += 8;
    } else if (strncmp(p, "http://", 7) == 0) {
        p += 7;
        t->https = 0;
    } else if (strstr(p, "://")) {
        seterr(err, errlen, "server %s: unsupported scheme", url);
        return -1;
    }
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend) {
            seterr(err, errlen, "server %s: unterminated IPv6 address", url);
            return -1;
        }
        t->host = tg_strndup(p + 1, (size_t)(hend - p - 1));
        hend++;
    } else {
        hend = p + strcspn(p, ":/");
        t->host = tg_strndup(p, (size_t)(hend - p));
    }
    if (!t->host || !t->host[0]) {
        seterr(err, errlen, "server %s: no host", url);
        return -1;
    }
    port = t->https ? 443 : 80;
    pstart = hend;
    if (*hend == ':') {
        errno = 0;
        port = strtol(hend + 1, &endp, 10);
        if (endp == hend + 1 || errno || port <= 0 || port > 65535 || (*endp && *endp != '/')) {
            seterr(err, errlen, "server %s: bad port", url);
            return -1;
        }
        pstart = endp;
    } else if (*hend && *hend != '/') {
        seterr(err, errlen, "server %s: bad host", url);
        return -1;
    }
    t->port = (uint16_t)port;
    t->path_prefix = tg_strdup(pstart);
    for (size_t n = strlen(t->path_prefix); n > 0 && t->path_prefix[n - 1] == '/'; n--)
        t->path_prefix[n - 1] = '\0';
    return 0;
}

/* ---- kubeconfig schema (only the keys we use; the rest are ignored) ---- */

struct kc_cluster {
    char *server;
    char *ca;
    char *ca_data;
    char *tls_server_name;
    bool insecure;
};
struct kc_named_cluster {
    char *name;
    struct kc_cluster *cluster;
};
struct kc_user {
    char *token;
    char *token_file;
    char *cert;
    char *cert_data;
    char *key;
    char *key_data;
};
struct kc_named_user {
    char *name;
    struct kc_user *user;
};
struct kc_context {
    char *cluster;
    char *user;
};
struct kc_named_context {
    char *name;
    struct kc_context *context;
};
struct kc_file {
    char *current_context;
    struct kc_named_cluster *clusters;
    unsigned clusters_count;
    struct kc_named_user *users;
    unsigned users_count;
    struct kc_named_context *contexts;
    unsigned contexts_count;
};

#define OPT_STR(key, st, m)                                                                        \
    CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER_NULL, st, m, 0,           \
                           CYAML_UNLIMITED)
#define OPT_NULL (CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER_NULL)

static const cyaml_schema_field_t cluster_fields[] = {
    OPT_STR("server", struct kc_cluster, server),
    OPT_STR("certificate-authority", struct kc_cluster, ca),
    OPT_STR("certificate-authority-data", struct kc_cluster, ca_data),
    OPT_STR("tls-server-name", struct kc_cluster, tls_server_name),
    CYAML_FIELD_BOOL("insecure-skip-tls-verify", CYAML_FLAG_OPTIONAL, struct kc_cluster, insecure),
    CYAML_FIELD_END};
static const cyaml_schema_field_t named_cluster_fields[] = {
    OPT_STR("name", struct kc_named_cluster, name),
    CYAML_FIELD_MAPPING_PTR("cluster", OPT_NULL, struct kc_named_cluster, cluster, cluster_fields),
    CYAML_FIELD_END};
static const cyaml_schema_field_t user_fields[] = {
    OPT_STR("token", struct kc_user, token),
    OPT_STR("tokenFile", struct kc_user, token_file),
    OPT_STR("client-certificate", struct kc_user, cert),
    OPT_STR("client-certificate-data", struct kc_user, cert_data),
    OPT_STR("client-key", struct kc_user, key),
    OPT_STR("client-key-data", struct kc_user, key_data),
    CYAML_FIELD_END};
static const cyaml_schema_field_t named_user_fields[] = {
    OPT_STR("name", struct kc_named_user, name),
    CYAML_FIELD_MAPPING_PTR("user", OPT_NULL, struct kc_named_user, user, user_fields),
    CYAML_FIELD_END};
static const cyaml_schema_field_t context_fields[] = {
    OPT_STR("cluster", struct kc_context, cluster), OPT_STR("user", struct kc_context, user),
    CYAML_FIELD_END};
static const cyaml_schema_field_t named_context_fields[] = {
    OPT_STR("name", struct kc_named_context, name),
    CYAML_FIELD_MAPPING_PTR("context", OPT_NULL, struct kc_named_context, context, context_fields),
    CYAML_FIELD_END};

static const cyaml_schema_value_t cluster_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct kc_named_cluster, named_cluster_fields)};
static const cyaml_schema_value_t user_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct kc_named_user, named_user_fields)};
static const cyaml_schema_value_t context_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct kc_named_context, named_context_fields)};

static const cyaml_schema_field_t file_fields[] = {
    OPT_STR("current-context", struct kc_file, current_context),
    CYAML_FIELD_SEQUENCE("clusters", OPT_NULL, struct kc_file, clusters, &cluster_entry, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE("users", OPT_NULL, struct kc_file, users, &user_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE("contexts", OPT_NULL, struct kc_file, contexts, &context_entry, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_END};
static const cyaml_schema_value_t file_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct kc_file, file_fields)};

/* libcyaml reports through a log callback: keep its first error line. */
struct cyaml_err_ctx {
    char msg[256];
};

static void cyaml_capture(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    struct cyaml_err_ctx *e = ctx;
    size_t n;
    if (level < CYAML_LOG_ERROR || e->msg[0])
        return;
    vsnprintf(e->msg, sizeof(e->msg), fmt, args);
    n = tg_kube_trim(e->msg);
    (void)n;
}

/* `p` relative to the kubeconfig's directory, as clientcmd resolves it. */
static char *resolve_path(const char *dir, const char *p)
{
    char *out;
    if (p[0] == '/' || !dir)
        return tg_strdup(p);
    out = tg_asprintf("%s/%s", dir, p);
    return out;
}

/* Inline base64 data wins over a file, as in client-go. */
static int load_blob(const char *dir, const char *file, const char *data, const char *what,
                     char **out, size_t *outlen, char *err, size_t errlen)
{
    if (data && data[0]) {
        *out = tg_kube_base64_decode(data, outlen);
        if (!*out) {
            seterr(err, errlen, "%s-data: invalid base64", what);
            return -1;
        }
        return 0;
    }
    if (file && file[0]) {
        char *path = resolve_path(dir, file);
        char ebuf[64];
        size_t len;
        if (tg_read_file(path, MAX_KUBE_FILE, out, outlen ? outlen : &len, ebuf, sizeof(ebuf)) <
            0) {
            seterr(err, errlen, "%s %s: %s", what, path, strerror(errno));
            free(path);
            return -1;
        }
        free(path);
    }
    return 0;
}

static const struct kc_named_context *find_context(const struct kc_file *f, const char *name)
{
    for (unsigned i = 0; i < f->contexts_count; i++)
        if (f->contexts[i].name && strcmp(f->contexts[i].name, name) == 0)
            return &f->contexts[i];
    return NULL;
}

static const struct kc_named_cluster *find_cluster(const struct kc_file *f, const char *name)
{
    for (unsigned i = 0; i < f->clusters_count; i++)
        if (f->clusters[i].name && strcmp(f->clusters[i].name, name) == 0)
            return &f->clusters[i];
    return NULL;
}

static const struct kc_named_user *find_user(const struct kc_file *f, const char *name)
{
    for (unsigned i = 0; i < f->users_count; i++)
        if (f->users[i].name && strcmp(f->users[i].name, name) == 0)
            return &f->users[i];
    return NULL;
}

static int fill_cluster(const struct kc_cluster *cl, const char *dir, struct tg_kube_target *t,
                        char *err, size_t errlen)
{
    if (!cl->server || !cl->server[0]) {
        seterr(err, errlen, "cluster has no server");
        return -1;
    }
    /* Skipping verification would hand our service account token and every
     * user's token to whoever answers, and let it forge "allowed": refuse. */
    if (cl->insecure) {
        seterr(err, errlen,
               "insecure-skip-tls-verify is not supported: give "
               "certificate-authority[-data]");
        return -1;
    }
    if (tg_kube_target_from_url(cl->server, t, err, errlen) < 0)
        return -1;
    if (!t->https)
        tg_warn("kube: API server %s is plain HTTP: tokens travel in clear", cl->server);
    t->tls_server_name =
        cl->tls_server_name && cl->tls_server_name[0] ? tg_strdup(cl->tls_server_name) : NULL;
    return load_blob(dir, cl->ca, cl->ca_data, "certificate-authority", &t->ca_pem, &t->ca_pem_len,
                     err, errlen);
}

static int fill_user(const struct kc_user *u, const char *dir, struct tg_kube_target *t, char *err,
                     size_t errlen)
{
    if (load_blob(dir, u->cert, u->cert_data, "client-certificate", &t->cert_pem, &t->cert_pem_len,
                  err, errlen) < 0 ||
        load_blob(dir, u->key, u->key_data, "client-key", &t->key_pem, &t->key_pem_len, err,
                  errlen) < 0)
        return -1;
    if (!t->cert_pem != !t->key_pem) {
        seterr(err, errlen, "client-certificate and client-key must be given together");
        return -1;
    }
    if (u->token && u->token[0])
        t->token = tg_strdup(u->token);
    else if (u->token_file && u->token_file[0])
        t->token_file = resolve_path(dir, u->token_file);
    if (!t->token && !t->token_file && !t->cert_pem) {
        seterr(err, errlen,
               "user has no supported credentials (token, tokenFile or client "
               "certificate; exec and auth-provider plugins are not supported)");
        return -1;
    }
    return 0;
}

static int from_kc_file(const struct kc_file *f, const char *dir, const char *context,
                        struct tg_kube_target *t, char *err, size_t errlen)
{
    const struct kc_named_context *ctx;
    const struct kc_named_cluster *cl;
    const struct kc_named_user *us;
    const char *name = context && context[0] ? context : f->current_context;

    if (!name || !name[0]) {
        seterr(err, errlen, "no current-context");
        return -1;
    }
    ctx = find_context(f, name);
    if (!ctx || !ctx->context) {
        seterr(err, errlen, "context \"%s\" not found", name);
        return -1;
    }
    cl = ctx->context->cluster ? find_cluster(f, ctx->context->cluster) : NULL;
    if (!cl || !cl->cluster) {
        seterr(err, errlen, "context \"%s\": cluster \"%s\" not found", name,
               ctx->context->cluster ? ctx->context->cluster : "");
        return -1;
    }
    us = ctx->context->user ? find_user(f, ctx->context->user) : NULL;
    if (!us || !us->user) {
        seterr(err, errlen, "context \"%s\": user \"%s\" not found", name,
               ctx->context->user ? ctx->context->user : "");
        return -1;
    }
    if (fill_cluster(cl->cluster, dir, t, err, errlen) < 0 ||
        fill_user(us->user, dir, t, err, errlen) < 0)
        return -1;
    t->source = tg_asprintf("context %s", name);
    return 0;
}

int tg_kube_target_from_kubeconfig(const char *path, const char *context,
                                   struct tg_kube_target *out, char *err, size_t errlen)
{
    struct cyaml_err_ctx ectx = {{0}};
    const cyaml_config_t cfg = {
        .log_fn = cyaml_capture,
        .log_ctx = &ectx,
        .mem_fn = cyaml_mem,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_IGNORE_UNKNOWN_KEYS,
    };
    struct kc_file *f = NULL;
    cyaml_err_t rc;
    char *dir, *slash;
    char msg[512];
    int ret;

    memset(out, 0, sizeof(*out));
    rc = cyaml_load_file(path, &cfg, &file_schema, (cyaml_data_t **)&f, NULL);
    if (rc != CYAML_OK) {
        seterr(err, errlen, "kubeconfig %s: %s%s%s", path, cyaml_strerror(rc),
               ectx.msg[0] ? ": " : "", ectx.msg);
        return -1;
    }
    if (!f) { /* an empty document */
        seterr(err, errlen, "kubeconfig %s: empty", path);
        return -1;
    }
    dir = tg_strdup(path);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    ret = from_kc_file(f, dir, context, out, msg, sizeof(msg));
    if (ret < 0) {
        seterr(err, errlen, "kubeconfig %s: %s", path, msg);
        tg_kube_target_free(out);
    } else {
        char *src = out->source;
        out->source = tg_asprintf("kubeconfig %s %s", path, src);
        free(src);
    }
    free(dir);
    cyaml_free(&cfg, &file_schema, f, 0);
    return ret;
}

/* ---- in-cluster ---- */

int tg_kube_target_in_cluster(const char *sa_dir, struct tg_kube_target *out, int *not_in_cluster,
                              char *err, size_t errlen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    char *url, *ca_path, *tok, ebuf[64];
    size_t len;
    int ret;

    memset(out, 0, sizeof(*out));
    if (not_in_cluster)
        *not_in_cluster = 0;
    if (!host || !host[0] || !port || !port[0]) {
        if (not_in_cluster)
            *not_in_cluster = 1;
        seterr(err, errlen,
               "not in a cluster: KUBERNETES_SERVICE_HOST and "
               "KUBERNETES_SERVICE_PORT must be set");
        return -1;
    }
    if (!sa_dir)
        sa_dir = getenv(TG_KUBE_SA_DIR_ENV);
    if (!sa_dir || !sa_dir[0])
        sa_dir = TG_KUBE_SA_DIR;
    /* net.JoinHostPort: brackets around an IPv6 literal. */
    url = tg_asprintf(strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    ret = tg_kube_target_from_url(url, out, err, errlen);
    free(url);
    if (ret < 0)
        goto fail;
    out->token_file = tg_asprintf("%s/token", sa_dir);
    /* client-go fails when the token cannot be read at start-up. */
    if (tg_read_file(out->token_file, MAX_KUBE_FILE, &tok, &len, ebuf, sizeof(ebuf)) < 0) {
        seterr(err, errlen, "in-cluster token %s: %s", out->token_file, strerror(errno));
        goto fail;
    }
    memset(tok, 0, strlen(tok));
    free(tok);
    ca_path = tg_asprintf("%s/ca.crt", sa_dir);
    if (tg_read_file(ca_path, MAX_KUBE_FILE, &out->ca_pem, &out->ca_pem_len, ebuf, sizeof(ebuf)) <
        0)
        /* client-go logs and falls back to the system roots */
        tg_err("kube: in-cluster CA %s: %s; using the system trust store", ca_path,
               strerror(errno));
    free(ca_path);
    out->source = tg_strdup("in-cluster");
    return 0;
fail:
    tg_kube_target_free(out);
    return -1;
}

int tg_kube_target_from_config(const struct tg_config *cfg, struct tg_kube_target *out, char *err,
                               size_t errlen)
{
    int not_in_cluster = 0;
    if (cfg->kubeconfig && cfg->kubeconfig[0])
        return tg_kube_target_from_kubeconfig(cfg->kubeconfig, NULL, out, err, errlen);
    if (tg_kube_target_in_cluster(NULL, out, &not_in_cluster, err, errlen) == 0)
        return 0;
    return not_in_cluster ? 1 : -1;
}
