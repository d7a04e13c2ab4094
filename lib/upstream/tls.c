/* Client TLS on a non-blocking socket; see include/tenantgate/upstream_tls.h. */
#include "tenantgate/upstream_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static int is_ip_literal(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

int tg_up_tls_set_peer(SSL *ssl, const char *name)
{
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    int ok;

    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip_literal(name))
        ok = X509_VERIFY_PARAM_set1_ip_asc(vp, name) == 1;
    else
        ok = X509_VERIFY_PARAM_set1_host(vp, name, 0) == 1 &&
             SSL_set_tlsext_host_name(ssl, name) == 1;
    if (!ok)
        ERR_clear_error();
    return ok ? 0 : -1;
}

SSL *tg_up_tls_new(SSL_CTX *ctx, const char *name, int fd)
{
    SSL *ssl = SSL_new(ctx);
    int ok;

    if (ssl == NULL)
        return NULL;
    ok = tg_up_tls_set_peer(ssl, name) == 0;
    /* idle pooled sessions give their 2 x 17 KiB record buffers back */
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
    if (!ok || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

/* Map the outcome of an SSL_* call that returned rc <= 0. */
static int outcome(SSL *ssl, int rc, char *err, size_t errlen)
{
    int e = SSL_get_error(ssl, rc);
    unsigned long code;

    if (e == SSL_ERROR_WANT_READ)
        return TG_UP_TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE)
        return TG_UP_TLS_WANT_WRITE;
    code = ERR_peek_error();
    if (e == SSL_ERROR_SYSCALL && code == 0)
        snprintf(err, errlen, "%s", errno ? strerror(errno) : "connection closed");
    else if (code != 0)
        ERR_error_string_n(code, err, errlen);
    else
        snprintf(err, errlen, "TLS error %d", e);
    ERR_clear_error();
    return -1;
}

int tg_up_tls_handshake(SSL *ssl, char *err, size_t errlen)
{
    int rc, out;
    long vr;

    ERR_clear_error();
    rc = SSL_connect(ssl);
    if (rc == 1)
        return 0;
    out = outcome(ssl, rc, err, errlen);
    vr = SSL_get_verify_result(ssl);
    if (out == -1 && vr != X509_V_OK) /* say what did not verify, not "handshake failure" */
        snprintf(err, errlen, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
    return out;
}

long tg_up_tls_read(SSL *ssl, void *buf, size_t len, int *clean, char *err, size_t errlen)
{
    size_t n = 0;
    int rc, e;

    *clean = 0;
    ERR_clear_error();
    rc = SSL_read_ex(ssl, buf, len, &n);
    if (rc == 1)
        return (long)n;
    e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_ZERO_RETURN) {
        *clean = 1;
        return 0;
    }
    /* OpenSSL 3 reports a close without close_notify as an error; many
     * servers (Go, Python) close that way after a complete response */
    if (e == SSL_ERROR_SSL &&
        ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return 0;
    }
    return outcome(ssl, rc, err, errlen);
}

long tg_up_tls_write(SSL *ssl, const void *buf, size_t len, char *err, size_t errlen)
{
    size_t n = 0;
    int rc;

    ERR_clear_error();
    rc = SSL_write_ex(ssl, buf, len, &n);
    if (rc == 1)
        return (long)n;
    return outcome(ssl, rc, err, errlen);
}

int tg_up_tls_pending(SSL *ssl)
{
    return SSL_has_pending(ssl);
}

void tg_up_tls_free(SSL *ssl, int notify)
{
    if (ssl == NULL)
        return;
    if (notify && SSL_is_init_finished(ssl))
        (void)SSL_shutdown(ssl); /* sends close_notify; the reply is not awaited */
    SSL_free(ssl);
    ERR_clear_error();
}
