/*
 * Client TLS on a non-blocking socket, with OpenSSL directly on the file
 * descriptor (lib/upstream/tls.c): no BIO pairs, no bufferevent. Every call
 * returns at once; TG_UP_TLS_WANT_READ / _WANT_WRITE say which readiness of
 * the socket to wait for before calling it again. Shared by every client of
 * ours that speaks TLS (the upstream; the Kubernetes API client is meant to
 * move onto it).
 *
 * Ownership: the SSL returned is the caller's, freed with tg_up_tls_free();
 * the socket stays the caller's (closed after the SSL is freed); the SSL_CTX
 * is borrowed (the SSL holds its own reference to it).
 */
#ifndef TENANTGATE_UPSTREAM_TLS_H
#define TENANTGATE_UPSTREAM_TLS_H

#include <stddef.h>

struct ssl_st;
struct ssl_ctx_st;

#define TG_UP_TLS_WANT_READ  (-2)
#define TG_UP_TLS_WANT_WRITE (-3)

/* Make `ssl` (a client session not yet connected) verify the server as
 * `name`: a DNS name is sent as SNI and checked against the certificate (no
 * partial wildcards), an IP literal is checked against its IP SANs (and not
 * sent as SNI, RFC 6066). The chain itself is checked against the context's
 * roots (SSL_VERIFY_PEER, see tg_tls_client_ctx_new()). 0, or -1 when OpenSSL
 * refuses the name. */
int tg_up_tls_set_peer(struct ssl_st *ssl, const char *name);

/* A session for the connected socket `fd`, verifying the server against the
 * context's roots and `name` (tg_up_tls_set_peer()). NULL if OpenSSL cannot
 * make one. */
struct ssl_st *tg_up_tls_new(struct ssl_ctx_st *ctx, const char *name, int fd);

/* Drive the handshake: 0 when done, TG_UP_TLS_WANT_*, or -1 with the reason
 * (a verification failure names what did not verify) in err. */
int tg_up_tls_handshake(struct ssl_st *ssl, char *err, size_t errlen);

/* Read decrypted bytes: > 0 bytes read; 0 the server closed the connection,
 * *clean set when it said so first (close_notify: a close-delimited body is
 * only complete then); TG_UP_TLS_WANT_*; -1 with err. */
long tg_up_tls_read(struct ssl_st *ssl, void *buf, size_t len, int *clean, char *err,
                    size_t errlen);

/* Write: > 0 bytes taken (may be fewer than len); TG_UP_TLS_WANT_* (call
 * again with the same bytes); -1 with err. */
long tg_up_tls_write(struct ssl_st *ssl, const void *buf, size_t len, char *err, size_t errlen);

/* Decrypted bytes OpenSSL holds that the socket will not signal again. */
int tg_up_tls_pending(struct ssl_st *ssl);

/* Free the session; `notify`: the session is healthy, send close_notify
 * first (best effort, never waits). */
void tg_up_tls_free(struct ssl_st *ssl, int notify);

#endif
