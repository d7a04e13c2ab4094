/* TLS contexts for the listener and the upstream; see include/tenantgate/tls.h. */
#include "tenantgate/core.h"
#include "tenantgate/tls.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tenantgate/auth.h"
#include "tenantgate/log.h"

struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct tg_tls_server {
    SSL_CTX *ctx;
    const struct tg_config *cfg; /* the paths; the server keeps cfg alive */
    struct file_id cert_id, key_id;
};

static void ssl_error(char *err, size_t errlen, const char *what, const char *path)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, errlen, "%s %s: %s", what, path ? path : "", e ? buf : "unknown error");
    ERR_clear_error();
}

static int file_id(const char *path, struct file_id *id)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->size = st.st_size;
    id->mtime = st.st_mtim;
    return 0;
}

static int same_id(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* kube-rbac-proxy makes a self-signed pair when given no certificate. */
static int self_signed(SSL_CTX *ctx, char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    int ok = 0;

    if (key == NULL || x == NULL)
        goto out;
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_set_version(x, 2);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"tenantgate", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_sign(x, key, EVP_sha256()) == 0)
        goto out;
    ok = SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
out:
    if (!ok)
        ssl_error(err, errlen, "generating a self-signed certificate", NULL);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

static SSL_CTX *server_ctx(const struct tg_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        ssl_error(err, errlen, "creating TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx,
                                  cfg->tls_min_version ? cfg->tls_min_version : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (cfg->tls_cipher_suites && SSL_CTX_set_cipher_list(ctx, cfg->tls_cipher_suites) != 1) {
        ssl_error(err, errlen, "--tls-cipher-suites", cfg->tls_cipher_suites);
        goto fail;
    }
    if (cfg->tls_cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
            ssl_error(err, errlen, "loading certificate", cfg->tls_cert_file);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1) {
            ssl_error(err, errlen, "loading private key", cfg->tls_key_file);
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            ssl_error(err, errlen, "certificate and key do not match:", cfg->tls_cert_file);
            goto fail;
        }
    } else if (self_signed(ctx, err, errlen) != 0) {
        goto fail;
    }
    if (cfg->client_ca_file) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_ca_file);
        if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca_file, NULL) != 1 || names == NULL) {
            ssl_error(err, errlen, "loading --client-ca-file", cfg->client_ca_file);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        /* ask for a certificate, verify it when given, still allow tokens */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

struct tg_tls_server *tg_tls_server_new(const struct tg_config *cfg, char *err, size_t errlen)
{
    struct tg_tls_server *t = tg_calloc(1, sizeof(*t));
    t->cfg = cfg;
    t->ctx = server_ctx(cfg, err, errlen);
    if (t->ctx == NULL) {
        free(t);
        return NULL;
    }
    if (cfg->tls_cert_file) {
        file_id(cfg->tls_cert_file, &t->cert_id);
        file_id(cfg->tls_key_file, &t->key_id);
    }
    return t;
}

void tg_tls_server_free(struct tg_tls_server *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

SSL *tg_tls_server_new_ssl(struct tg_tls_server *t)
{
    return SSL_new(t->ctx);
}

int tg_tls_server_maybe_reload(struct tg_tls_server *t)
{
    struct file_id cert, key;
    char err[512];
    SSL_CTX *ctx;

    if (t->cfg->tls_cert_file == NULL)
        return 0;
    if (file_id(t->cfg->tls_cert_file, &cert) != 0 || file_id(t->cfg->tls_key_file, &key) != 0)
        return 0; /* mid-rotation: the files will be back */
    if (same_id(&cert, &t->cert_id) && same_id(&key, &t->key_id))
        return 0;
    t->cert_id = cert;
    t->key_id = key;
    ctx = server_ctx(t->cfg, err, sizeof(err));
    if (ctx == NULL) {
        tg_err("TLS reload failed, keeping the current certificate: %s", err);
        return -1;
    }
    SSL_CTX_free(t->ctx);
    t->ctx = ctx;
    tg_info("TLS certificate reloaded from %s", t->cfg->tls_cert_file);
    return 1;
}

/* What every client context has: TLS 1.2 at least, the server verified. */
static SSL_CTX *client_ctx(char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        ssl_error(err, errlen, "creating TLS client context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

SSL_CTX *tg_tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
                               char *err, size_t errlen)
{
    SSL_CTX *ctx = client_ctx(err, errlen);
    if (ctx == NULL)
        return NULL;
    if (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
                : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ssl_error(err, errlen, "loading CA", ca_file);
        goto fail;
    }
    if (cert_file && (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
                      SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)) {
        ssl_error(err, errlen, "loading client certificate", cert_file);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static BIO *mem_bio(const char *pem, size_t len)
{
    return len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
}

/* Every certificate of a PEM bundle into the context's trust store. */
static int pem_roots(SSL_CTX *ctx, const char *pem, size_t len, char *err, size_t errlen)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    BIO *bio = mem_bio(pem, len);
    X509 *x;
    int n = 0;

    while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_STORE_add_cert(store, x);
        X509_free(x);
        n++;
    }
    BIO_free(bio);
    ERR_clear_error(); /* the read that ended the loop */
    if (n == 0) {
        snprintf(err, errlen, "CA bundle: no PEM certificate found");
        return -1;
    }
    return 0;
}

/* The first certificate is ours, the others its chain. */
static int pem_identity(SSL_CTX *ctx, const char *cert_pem, size_t cert_len, const char *key_pem,
                        size_t key_len, char *err, size_t errlen)
{
    BIO *bio = mem_bio(cert_pem, cert_len);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key;
    int ok = x && SSL_CTX_use_certificate(ctx, x) == 1;

    X509_free(x);
    while (ok && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (SSL_CTX_add_extra_chain_cert(ctx, x) != 1) /* takes ownership on success */
            X509_free(x);
    BIO_free(bio);
    if (!ok) {
        ERR_clear_error();
        snprintf(err, errlen, "client certificate: not a PEM certificate");
        return -1;
    }
    bio = mem_bio(key_pem, key_len);
    key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(key);
    ERR_clear_error();
    if (!ok) {
        snprintf(err, errlen, "client key: unreadable or does not match the certificate");
        return -1;
    }
    return 0;
}

SSL_CTX *tg_tls_client_ctx_from_pem(const char *ca_pem, size_t ca_len, const char *cert_pem,
                                    size_t cert_len, const char *key_pem, size_t key_len, char *err,
                                    size_t errlen)
{
    SSL_CTX *ctx = client_ctx(err, errlen);
    if (ctx == NULL)
        return NULL;
    if (ca_pem) {
        if (pem_roots(ctx, ca_pem, ca_len, err, errlen) < 0)
            goto fail;
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ssl_error(err, errlen, "loading the system CA store", NULL);
        goto fail;
    }
    if (cert_pem && pem_identity(ctx, cert_pem, cert_len, key_pem, key_len, err, errlen) < 0)
        goto fail;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static tg_iovec_t entry_text(X509_NAME_ENTRY *e, struct tg_arena *a)
{
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    tg_iovec_t v = TG_IOV_NULL;
    if (n > 0)
        v = tg_arena_iovdup(a, tg_iov((const char *)utf8, (size_t)n));
    OPENSSL_free(utf8);
    return v;
}

int tg_tls_peer_user(SSL *ssl, struct tg_arena *a, struct tg_user *user)
{
    X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
    X509_NAME *subj;
    int i, n, cn;

    if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
        return -1;
    subj = X509_get_subject_name(peer);
    cn = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (cn < 0)
        return -1;
    memset(user, 0, sizeof(*user));
    user->name = entry_text(X509_NAME_get_entry(subj, cn), a);
    if (user->name.len == 0)
        return -1;
    n = X509_NAME_entry_count(subj);
    user->groups = tg_arena_alloc(a, sizeof(*user->groups) * (size_t)(n ? n : 1));
    for (i = -1; (i = X509_NAME_get_index_by_NID(subj, NID_organizationName, i)) >= 0;)
        user->groups[user->n_groups++] = entry_text(X509_NAME_get_entry(subj, i), a);
    user->provider = "x509";
    return 0;
}
