/*
 * Client connections of the proxy listeners. evhttp owns the connection; we
 * hold a reference on its bufferevent so that we learn when the connection
 * goes (to count connections and free our per-connection state), see when
 * the bytes of a new request arrive (header-read deadline against slowloris),
 * and can watch the socket for an early close while a request waits on the
 * Kubernetes API or the upstream.
 *
 * Ownership: struct tg_conn is owned by the server's connection list and freed
 * when released; a request points to its connection only while attached.
 */
#ifndef TENANTGATE_CONN_H
#define TENANTGATE_CONN_H

struct bufferevent;
struct event_base;
struct evhttp_request;
struct tg_conn;
struct tg_req;
struct tg_server;

/* Release connections evhttp dropped without our noticing (run periodically). */
void tg_conn_sweep(struct tg_server *srv);
/* evhttp_set_bevcb() callbacks: `arg` is the struct tg_server. */
struct bufferevent *tg_conn_new_plain(struct event_base *base, void *arg);
struct bufferevent *tg_conn_new_tls(struct event_base *base, void *arg);

/* A complete request arrived on `ev` (tg_req_start calls it): its
 * connection, ready for a request; NULL when the connection answered the
 * request itself: the stand-in through which a TLS connection answers a
 * request the framing check refused (the JSON error, then close). */
struct tg_conn *tg_conn_take_request(struct tg_server *srv, struct evhttp_request *ev);
/* The request in progress on the connection, from tg_req_start until
 * tg_req_end detaches it; if the connection goes first it ends the request
 * with tg_req_client_gone(). */
void tg_conn_attach(struct tg_conn *c, struct tg_req *r);
void tg_conn_detach(struct tg_conn *c, struct tg_req *r);
/* While a request is suspended, end it if the client closes the connection. */
void tg_conn_watch_close(struct tg_req *r);
void tg_conn_unwatch_close(struct tg_req *r);
/* The client's bufferevent (to look at its output buffer for backpressure,
 * or at its TLS session); NULL once the client has gone. */
struct bufferevent *tg_conn_client_bev(struct tg_req *r);
/* The client's TLS session (SSL *) or NULL. */
void *tg_conn_client_ssl(struct tg_req *r);
/* Peer address as text (for X-Forwarded-For / access log). */
const char *tg_conn_peer(struct tg_req *r);

#endif
