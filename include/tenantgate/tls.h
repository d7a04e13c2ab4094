/*
 * TLS contexts. The server side holds the listener's certificate, reloads it
 * when the files change (keeping the old pair when the new one is broken) and
 * makes a self-signed certificate when none is configured, as kube-rbac-proxy
 * does. The client side is for our clients (upstream, Kubernetes API, OIDC
 * issuers): the server's name is checked per session (tg_up_tls_set_peer()).
 *
 * Ownership: struct tg_tls_server owns its SSL_CTX; SSL objects it hands out
 * hold their own reference to the context they were made from, so a reload
 * never pulls a context from under a live connection.
 */
#ifndef TENANTGATE_TLS_H
#define TENANTGATE_TLS_H

#include <stddef.h>
#include "tenantgate/config.h"

struct ssl_st;
struct ssl_ctx_st;
struct tg_tls_server;

struct tg_tls_server *tg_tls_server_new(const struct tg_config *cfg, char *err, size_t errlen);
void tg_tls_server_free(struct tg_tls_server *t);
/* A new server-side SSL for one accepted connection. */
struct ssl_st *tg_tls_server_new_ssl(struct tg_tls_server *t);
/* Look at the certificate files; load them again if they changed. Returns 1
 * when a new pair is in use, 0 when nothing changed, -1 when the new files
 * are broken (the old pair stays; the error is logged). */
int tg_tls_server_maybe_reload(struct tg_tls_server *t);

/* A client context for the upstream: verifies the server against `ca_file`
 * (system store when NULL); presents cert/key when given. */
struct ssl_ctx_st *tg_tls_client_ctx_new(const char *ca_file, const char *cert_file,
                                         const char *key_file, char *err, size_t errlen);
/* The same from PEM bytes the caller keeps (a kubeconfig's *-data, an OIDC
 * issuer's CA): `ca_pem` one or more certificates (NULL: system store),
 * `cert_pem` a certificate and its chain with `key_pem` its key (both or
 * neither). */
struct ssl_ctx_st *tg_tls_client_ctx_from_pem(const char *ca_pem, size_t ca_len,
                                              const char *cert_pem, size_t cert_len,
                                              const char *key_pem, size_t key_len, char *err,
                                              size_t errlen);

/* From a verified client certificate: CN as user, O entries as groups
 * (arena copies). Returns 0 when the peer presented a verified certificate. */
struct tg_user;
struct tg_arena;
int tg_tls_peer_user(struct ssl_st *ssl, struct tg_arena *a, struct tg_user *user);

#endif
