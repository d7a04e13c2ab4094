/*
 * Kubernetes API client for TokenReview and SubjectAccessReview.
 *
 * Three layers:
 *   - a target (struct tg_kube_target): where the API server is and how we
 *     authenticate to it, loaded from a kubeconfig or from the in-cluster
 *     service account, exactly like client-go;
 *   - the JSON of the two review kinds (pure functions, unit-testable);
 *   - an asynchronous HTTPS client on one libevent loop: keep-alive pool,
 *     per-call deadline, retries with exponential backoff + jitter on
 *     429 (Retry-After honoured) / 5xx / connection errors, a token bucket
 *     toward the API server, and cancellation.
 *
 * No global state: the caller creates one client per loop and passes it down.
 */
#ifndef TENANTGATE_KUBE_H
#define TENANTGATE_KUBE_H

#include <stddef.h>
#include <stdint.h>
#include "tenantgate/arena.h"
#include "tenantgate/auth.h"
#include "tenantgate/config.h"
#include "tenantgate/iovec.h"
#include "tenantgate/sb.h"

struct event_base;

/* Outcome of one review. The same three values serve authentication
 * (authenticated / unauthenticated / error) and authorization
 * (allowed / denied / error). ERROR means "no answer" (network, timeout,
 * 5xx, bad JSON, our own credentials refused): the proxy answers 503, never
 * 401/403, and the cache never stores it. */
enum tg_kube_result {
    TG_KUBE_OK = 0,     /* authenticated / allowed */
    TG_KUBE_DENIED = 1, /* unauthenticated / denied (or no opinion) */
    TG_KUBE_ERROR = 2,
};
#define TG_KUBE_AUTHENTICATED   TG_KUBE_OK
#define TG_KUBE_UNAUTHENTICATED TG_KUBE_DENIED
#define TG_KUBE_ALLOWED         TG_KUBE_OK

/* Default service account directory (client-go's rest.InClusterConfig). */
#define TG_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* Environment variable overriding TG_KUBE_SA_DIR (tests, odd mounts). */
#define TG_KUBE_SA_DIR_ENV "TG_SA_DIR"

/* Where the API server is and which credentials we present. Every pointer is
 * heap-owned by the struct and released by tg_kube_target_free(). */
struct tg_kube_target {
    int https;  /* 0 only for an explicit http:// server (warned) */
    char *host; /* without brackets; IPv6 literal allowed */
    uint16_t port;
    char *path_prefix;     /* server URL path without trailing '/', "" if none */
    char *tls_server_name; /* name verified and sent as SNI; NULL = host */
    char *ca_pem;          /* PEM bundle; NULL = system trust store */
    size_t ca_pem_len;
    char *cert_pem; /* client certificate (+chain), or NULL */
    size_t cert_pem_len;
    char *key_pem; /* its private key, or NULL */
    size_t key_pem_len;
    char *token;      /* static bearer token, or NULL */
    char *token_file; /* bearer token re-read periodically, or NULL */
    char *source;     /* "kubeconfig <path> context <name>" / "in-cluster", for logs */
};

/* Load the kubeconfig at `path` (context `context`, NULL = current-context).
 * Understood: clusters[].cluster.{server, certificate-authority[-data],
 * tls-server-name, insecure-skip-tls-verify (refused when true)},
 * users[].user.{token, tokenFile, client-certificate[-data],
 * client-key[-data]}, contexts, current-context; other keys are ignored.
 * Relative file paths resolve against the kubeconfig's directory.
 * Returns 0, or -1 with a one-line message in err. */
int tg_kube_target_from_kubeconfig(const char *path, const char *context,
                                   struct tg_kube_target *out, char *err, size_t errlen);

/* client-go's InClusterConfig: KUBERNETES_SERVICE_HOST/PORT from the
 * environment, token and ca.crt in `sa_dir` (NULL = $TG_SA_DIR, else
 * TG_KUBE_SA_DIR). The token file is kept as token_file so that the client
 * re-reads it (bound service account tokens rotate). Returns 0, or -1 with
 * a message; *not_in_cluster is set to 1 when the environment variables are
 * absent (so the caller can say "no Kubernetes" instead of failing). */
int tg_kube_target_in_cluster(const char *sa_dir, struct tg_kube_target *out, int *not_in_cluster,
                              char *err, size_t errlen);

/* cfg->kubeconfig when set, else in-cluster. Returns 0, 1 when neither is
 * available (Kubernetes authn/authz off), -1 on error (message in err). */
int tg_kube_target_from_config(const struct tg_config *cfg, struct tg_kube_target *out, char *err,
                               size_t errlen);

void tg_kube_target_free(struct tg_kube_target *t);

/* ---- review JSON (lib/kube/review.c) ---- */

/* Append a TokenReview request body. */
void tg_kube_tokenreview_json(tg_sb_t *sb, tg_iovec_t token, const char *const *audiences,
                              size_t n_audiences);
/* Parse a TokenReview response. On TG_KUBE_OK fills *user (strings in `a`,
 * provider "tokenreview"). When audiences were requested, status.audiences
 * must intersect them, else TG_KUBE_DENIED. *reason (arena, may be NULL)
 * explains a DENIED/ERROR. Bad JSON -> TG_KUBE_ERROR. */
enum tg_kube_result tg_kube_tokenreview_parse(const char *body, size_t len,
                                              const char *const *audiences, size_t n_audiences,
                                              tg_arena_t *a, struct tg_user *user,
                                              const char **reason);
/* Append a SubjectAccessReview request body: resourceAttributes when
 * attrs->resource_request, else nonResourceAttributes {path, verb}. */
void tg_kube_sar_json(tg_sb_t *sb, const struct tg_user *user, const struct tg_authz_attrs *attrs);
/* Parse a SubjectAccessReview response: allowed -> OK, otherwise DENIED
 * (denied or no opinion; reason and evaluationError go to *reason). */
enum tg_kube_result tg_kube_sar_parse(const char *body, size_t len, tg_arena_t *a,
                                      const char **reason);

/* ---- asynchronous client (lib/kube/client.c) ---- */

struct tg_kube_opts {
    int timeout_ms;            /* whole call incl. queueing and retries (10s) */
    double qps;                /* token bucket rate per second; 0 = unlimited */
    int burst;                 /* bucket size (>= 1 when qps > 0) */
    int retries;               /* extra attempts after the first (3) */
    int backoff_base_ms;       /* first backoff (100ms), doubled per attempt, +-50% jitter */
    int backoff_max_ms;        /* cap (5s) */
    int max_conns;             /* concurrent connections, each one request at a time (16) */
    int idle_timeout_ms;       /* keep-alive connection kept this long (90s) */
    int token_reload_ms;       /* token_file re-read period (60s, as client-go) */
    size_t max_response_bytes; /* 4 MiB */
};

/* Defaults above, overridden by cfg->kube_* when cfg is not NULL. */
void tg_kube_opts_init(struct tg_kube_opts *o, const struct tg_config *cfg);

/* Plain counters; the lead exports them as metrics. */
struct tg_kube_stats {
    uint64_t calls;    /* reviews started */
    uint64_t attempts; /* HTTP requests sent (incl. retries) */
    uint64_t retries;
    uint64_t errors;        /* calls that ended in TG_KUBE_ERROR */
    uint64_t timeouts;      /* ... of which by deadline */
    uint64_t throttled;     /* attempts that waited for the token bucket */
    uint64_t connects;      /* TCP+TLS connections opened */
    uint64_t token_reloads; /* token_file reads that changed the token */
    uint64_t by_status[6];  /* responses by class: [0]=no response, [1..5]=1xx..5xx */
    uint64_t status_429;
    uint64_t latency_ms_sum; /* of successful HTTP attempts */
    uint64_t latency_count;
    uint64_t latency_ms_max;
};

struct tg_kube_client;
struct tg_kube_call;

/* Create a client on `base`. The target is copied (the caller may free it).
 * Returns NULL with a message (bad CA/cert/key PEM, unreadable token file). */
struct tg_kube_client *tg_kube_client_new(struct event_base *base,
                                          const struct tg_kube_target *target,
                                          const struct tg_kube_opts *opts, char *err,
                                          size_t errlen);
/* Close every connection. Outstanding calls are dropped: their callbacks are
 * never called. */
void tg_kube_client_free(struct tg_kube_client *c);
const struct tg_kube_stats *tg_kube_client_stats(const struct tg_kube_client *c);

/* Per-attempt hook for latency histograms and error counters (the stats
 * above are plain sums). Called from the loop once per HTTP attempt: `call`
 * is "tokenreview" or "subjectaccessreview", `status` the HTTP status or 0
 * when no response came (connection, TLS or protocol error, deadline),
 * `seconds` the time from sending the request to its end. NULL cb = none. */
typedef void (*tg_kube_observe_cb)(void *arg, const char *call, int status, double seconds);
void tg_kube_client_set_observer(struct tg_kube_client *c, tg_kube_observe_cb cb, void *arg);

/* `user` (and its strings) is valid only during the callback: copy what you
 * keep (tg_user_copy()). `reason` likewise; may be NULL. */
typedef void (*tg_kube_authn_cb)(void *arg, enum tg_kube_result res, const struct tg_user *user,
                                 const char *reason);
typedef void (*tg_kube_authz_cb)(void *arg, enum tg_kube_result res, const char *reason);

/* Start a TokenReview. The token and audiences are copied. The callback is
 * always called later from the loop (never from inside this function), once,
 * unless the call is cancelled. Returns NULL only on allocation-free
 * immediate failures (client shutting down). */
struct tg_kube_call *tg_kube_tokenreview(struct tg_kube_client *c, tg_iovec_t token,
                                         const char *const *audiences, size_t n_audiences,
                                         tg_kube_authn_cb cb, void *arg);
/* Start a SubjectAccessReview; user and attrs are serialized at once. */
struct tg_kube_call *tg_kube_sar(struct tg_kube_client *c, const struct tg_user *user,
                                 const struct tg_authz_attrs *attrs, tg_kube_authz_cb cb,
                                 void *arg);
/* The callback will never be called; the call's memory is released. */
void tg_kube_call_cancel(struct tg_kube_call *call);

/* A plain GET on the same machinery (pool, deadline, retries on 429 / 5xx /
 * connection errors), for OIDC discovery and JWKS until lib/upstream/ has
 * the one client: `path` (with its query, copied) below the target's URL.
 * `body` is the answer of a 2xx status (NUL-terminated, valid during the
 * callback); on anything else it is NULL, `status` is the last HTTP status
 * (0 without an answer) and `error` says what failed. The target's bearer
 * token, if any, is sent: give an issuer's client a target without one. */
typedef void (*tg_kube_get_cb)(void *arg, int status, const char *body, size_t len,
                               const char *error);
struct tg_kube_call *tg_kube_get(struct tg_kube_client *c, const char *path, tg_kube_get_cb cb,
                                 void *arg);

/* A URL (https:// or http://; none means https) into t->https, host, port
 * and path_prefix (its path with the query, trailing '/' trimmed): the
 * parser of kubeconfig server URLs. Heap strings; -1 with a message. */
int tg_kube_target_from_url(const char *url, struct tg_kube_target *t, char *err, size_t errlen);

/* Deep-copy `src` into `a` (all strings NUL-terminated). */
void tg_user_copy(tg_arena_t *a, struct tg_user *dst, const struct tg_user *src);

#endif
