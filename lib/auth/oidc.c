/*
 * OIDC ID-token authentication: issuers, their keys (discovery + JWKS over
 * HTTPS on the event loop), the verdict cache, and the decision for one
 * token. See include/tenantgate/oidc.h for the behaviour; the JOSE work is
 * in jwt.c / jwk.c, the claim rules in oidc_claims.c.
 *
 * HTTP: every request to an issuer goes through http_client() and
 * http_get() below, today the Kubernetes client's generic GET, so that the
 * move to the one upstream client (lib/upstream/) touches those two only.
 */
#include "tenantgate/core.h"
#include "tenantgate/oidc.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tenantgate/authcache.h"
#include "tenantgate/jsonutil.h"
#include "tenantgate/kube.h"
#include "tenantgate/log.h"

#define DISCOVERY_PATH "/.well-known/openid-configuration"
#define RETRY_MIN_MS   1000
#define RETRY_MAX_MS   30000

/* ---- verdict cache: 2-way set-associative, keyed by SHA-256(token) ---- */

enum kind { V_EMPTY = 0, V_OK, V_REFUSED, V_NOT_MINE, V_NO_KEY };

struct verdict {
    unsigned char key[32];
    enum kind kind;
    uint64_t expires_ms; /* monotonic */
    uint64_t used_ms;    /* last hit, to pick a victim among accepted tokens */
    size_t issuer;       /* V_NO_KEY: valid while this issuer's keys are at `gen` */
    uint64_t gen;
    struct tg_user user; /* V_OK: points into block */
    void *block;
    char *reason; /* V_REFUSED, V_NO_KEY */
};

struct waitlist {
    struct tg_oidc_wait *head;
};

struct tg_oidc_wait {
    struct tg_oidc_wait *prev, *next;
    struct waitlist *list; /* the one it is on: waiting, or being answered */
    tg_iovec_t token;
    unsigned char digest[32];
    tg_arena_t *a;
    tg_oidc_cb cb;
    void *arg;
};

struct issuer {
    struct tg_oidc *o;
    const struct tg_oidc_issuer *cfg; /* in o->cfg */
    size_t index;
    unsigned algs;               /* 1u << enum tg_jws_alg, for each accepted one */
    struct tg_kube_client *disc; /* the issuer's host */
    struct tg_kube_client *jwks; /* the jwks_uri's host: disc, or one of its own */
    char *disc_path;
    char *jwks_path;     /* NULL until discovery named it */
    char *jwks_hostport; /* "host port" of the jwks client */
    struct tg_jwks keys;
    uint64_t gen; /* bumped whenever a JWKS is installed */
    struct tg_kube_call *call;
    uint64_t last_demand_ms; /* when a token last asked for a fetch */
    uint64_t demands;        /* how many times tokens did */
    struct event *timer;
    int retry_ms;
    char last_error[256];
    struct waitlist waiting, answering;
    struct tg_oidc_issuer_stats *st;
};

struct tg_oidc {
    struct event_base *base;
    struct tg_config *cfg;
    struct issuer *issuers;
    size_t n;
    struct tg_oidc_issuer_stats *ist;
    struct tg_oidc_stats st;
    struct verdict *slots;
    size_t nsets; /* power of two; 0 = no cache */
    int64_t leeway_s;
    uint64_t refresh_ms, refetch_ms, ok_ttl_ms, refused_ttl_ms;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void verdict_clear(struct verdict *v)
{
    free(v->block);
    free(v->reason);
    memset(v, 0, sizeof(*v));
}

static struct verdict *set_of(struct tg_oidc *o, const unsigned char key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    return &o->slots[2 * ((size_t)h & (o->nsets - 1))];
}

static struct verdict *cache_find(struct tg_oidc *o, const unsigned char key[32], uint64_t now)
{
    struct verdict *set;
    if (o->nsets == 0)
        return NULL;
    set = set_of(o, key);
    for (int w = 0; w < 2; w++) {
        if (set[w].kind == V_EMPTY || memcmp(set[w].key, key, 32) != 0)
            continue;
        if (now >= set[w].expires_ms) {
            verdict_clear(&set[w]);
            return NULL;
        }
        return &set[w];
    }
    return NULL;
}

/* The slot for a new verdict, or NULL: a refusal never takes the place of
 * an accepted token (anyone can make refusals, only the issuer accepted
 * ones), an accepted token takes a refusal's place first, then the one of
 * the accepted token used longest ago. */
static struct verdict *cache_slot(struct tg_oidc *o, const unsigned char key[32], int positive,
                                  uint64_t now)
{
    struct verdict *set = set_of(o, key), *best = NULL;

    for (int w = 0; w < 2; w++) {
        struct verdict *v = &set[w];
        if (v->kind == V_EMPTY || now >= v->expires_ms || memcmp(v->key, key, 32) == 0)
            return v;
    }
    for (int w = 0; w < 2; w++)
        if (set[w].kind != V_OK && (best == NULL || set[w].used_ms < best->used_ms))
            best = &set[w];
    if (best == NULL && positive)
        best = set[0].used_ms <= set[1].used_ms ? &set[0] : &set[1];
    return best;
}

static void cache_put(struct tg_oidc *o, const unsigned char key[32], enum kind kind,
                      uint64_t ttl_ms, const struct tg_user *user, const char *reason,
                      const struct issuer *is)
{
    uint64_t now = mono_ms();
    struct verdict *v;

    if (o->nsets == 0 || ttl_ms == 0 || (v = cache_slot(o, key, kind == V_OK, now)) == NULL)
        return;
    verdict_clear(v);
    memcpy(v->key, key, 32);
    v->kind = kind;
    v->expires_ms = now + ttl_ms;
    v->used_ms = now;
    if (user != NULL)
        v->block = tg_user_flat_copy(&v->user, user);
    v->reason = tg_strdup(reason);
    if (is != NULL) {
        v->issuer = is->index;
        v->gen = is->gen;
    }
}

/* ---- HTTP toward issuers: the two functions the move to lib/upstream/ changes ---- */

/* A client for the host of `url` (https only), and the path+query of the
 * URL in *path (heap). */
static struct tg_kube_client *http_client(struct tg_oidc *o, const struct tg_oidc_issuer *cfg,
                                          const char *url, char **path, char **hostport, char *err,
                                          size_t errlen)
{
    struct tg_kube_target t = {0};
    struct tg_kube_opts ko;
    struct tg_kube_client *c;
    const char *p = url + 8;
    size_t authority = strcspn(p, "/?#");

    if (strncmp(url, "https://", 8) != 0 || strchr(url, '#') != NULL ||
        memchr(p, '@', authority) != NULL) {
        snprintf(err, errlen, "%.200s: not an https URL without user info and fragment", url);
        return NULL;
    }
    if (tg_kube_target_from_url(url, &t, err, errlen) < 0) {
        tg_kube_target_free(&t);
        return NULL;
    }
    /* the path as written (the URL parser trims a trailing '/') */
    p += authority;
    *path = tg_asprintf("%s%s", *p == '/' ? "" : "/", p);
    *hostport = tg_asprintf("%s %u", t.host, t.port);
    free(t.path_prefix); /* requests name the whole path */
    t.path_prefix = NULL;
    t.ca_pem = cfg->ca_pem;
    t.ca_pem_len = cfg->ca_pem_len;
    tg_kube_opts_init(&ko, NULL);
    ko.timeout_ms = 5000;
    ko.retries = 1;
    ko.backoff_base_ms = 200;
    ko.max_conns = 2;
    ko.max_response_bytes = 1u << 20;
    c = tg_kube_client_new(o->base, &t, &ko, err, errlen);
    t.ca_pem = NULL; /* the config's */
    tg_kube_target_free(&t);
    if (c == NULL) {
        free(*path);
        free(*hostport);
        *path = *hostport = NULL;
    }
    return c;
}

static struct tg_kube_call *http_get(struct tg_kube_client *c, const char *path, tg_kube_get_cb cb,
                                     void *arg)
{
    return tg_kube_get(c, path, cb, arg);
}

/* ---- fetching keys ---- */

static void on_discovery(void *arg, int status, const char *body, size_t len, const char *error);
static void on_jwks(void *arg, int status, const char *body, size_t len, const char *error);
static void answer_waiters(struct issuer *is);

static void schedule(struct issuer *is, uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    evtimer_add(is->timer, &tv);
}

/* Discovery, then JWKS; JWKS alone when a token asks for a key we lack and
 * discovery already told where the keys are. */
static void fetch(struct issuer *is, int demand)
{
    if (is->call != NULL)
        return;
    evtimer_del(is->timer);
    if (demand) {
        is->last_demand_ms = mono_ms();
        is->demands++;
    }
    if (demand && is->jwks_path != NULL)
        is->call = http_get(is->jwks, is->jwks_path, on_jwks, is);
    else
        is->call = http_get(is->disc, is->disc_path, on_discovery, is);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    fetch(arg, 0);
}

static void fetch_failed(struct issuer *is, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fetch_failed(struct issuer *is, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(is->last_error, sizeof(is->last_error), fmt, ap);
    va_end(ap);
    is->st->fetches_err++;
    tg_warn("oidc: issuer %s: %s; %s, next try in %ds", is->cfg->url, is->last_error,
            is->keys.n ? "keeping the keys we have" : "its tokens are refused until then",
            is->retry_ms / 1000);
    schedule(is, (uint64_t)is->retry_ms);
    is->retry_ms = is->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : is->retry_ms * 2;
    answer_waiters(is);
}

static const char *http_failure(int status, const char *error, char *buf, size_t len)
{
    if (status > 0)
        snprintf(buf, len, "HTTP %d", status);
    else
        snprintf(buf, len, "%s", error ? error : "no answer");
    return buf;
}

/* The JWKS may live on another host (Google, Azure): its own client then. */
static int point_jwks_at(struct issuer *is, const char *uri, char *err, size_t errlen)
{
    char *path = NULL, *hostport = NULL;
    struct tg_kube_client *c = http_client(is->o, is->cfg, uri, &path, &hostport, err, errlen);
    int disc_host;

    if (c == NULL)
        return -1;
    disc_host = is->jwks == is->disc || is->jwks == NULL;
    free(is->jwks_path);
    is->jwks_path = path;
    if (is->jwks_hostport && strcmp(hostport, is->jwks_hostport) == 0) {
        tg_kube_client_free(c); /* same host as before: keep its connections */
    } else {
        if (!disc_host)
            tg_kube_client_free(is->jwks);
        is->jwks = c;
        free(is->jwks_hostport);
        is->jwks_hostport = hostport;
        hostport = NULL;
    }
    free(hostport);
    return 0;
}

static void on_discovery(void *arg, int status, const char *body, size_t len, const char *error)
{
    struct issuer *is = arg;
    yajl_val doc;
    const char *iss, *uri;
    char buf[300];

    is->call = NULL;
    if (body == NULL) {
        fetch_failed(is, "discovery %s%s: %s", is->cfg->url, DISCOVERY_PATH,
                     http_failure(status, error, buf, sizeof(buf)));
        return;
    }
    doc = memchr(body, '\0', len) ? NULL : yajl_tree_parse(body, NULL, 0);
    iss = tg_json_str(tg_json_member(doc, "issuer"));
    uri = tg_json_str(tg_json_member(doc, "jwks_uri"));
    if (iss == NULL || uri == NULL) {
        fetch_failed(is, "discovery document without \"issuer\" and \"jwks_uri\" strings");
    } else if (strcmp(iss, is->cfg->url) != 0) {
        /* OIDC Discovery 4.3: the document must name the issuer we asked */
        fetch_failed(is, "discovery document names the issuer \"%.200s\"", iss);
    } else if (point_jwks_at(is, uri, buf, sizeof(buf)) < 0) {
        fetch_failed(is, "jwks_uri %s", buf);
    } else {
        is->call = http_get(is->jwks, is->jwks_path, on_jwks, is);
    }
    yajl_tree_free(doc);
}

static void on_jwks(void *arg, int status, const char *body, size_t len, const char *error)
{
    struct issuer *is = arg;
    struct tg_jwks ks;
    size_t skipped;
    char why[300];

    is->call = NULL;
    if (body == NULL) {
        fetch_failed(is, "JWKS %s: %s", is->jwks_path,
                     http_failure(status, error, why, sizeof(why)));
        return;
    }
    if (tg_jwks_parse(body, len, &ks, &skipped, why, sizeof(why)) < 0) {
        fetch_failed(is, "JWKS %s: %s", is->jwks_path, why);
        return;
    }
    if (ks.n == 0) {
        fetch_failed(is, "JWKS %s has no key we can use%s%s", is->jwks_path, skipped ? ": " : "",
                     why);
        tg_jwks_free(&ks);
        return;
    }
    if (is->keys.n != ks.n || is->st->fetches_ok == 0)
        tg_info("oidc: issuer %s: %zu signing keys%s%s", is->cfg->url, ks.n,
                skipped ? ", skipped " : "", skipped ? why : "");
    tg_jwks_free(&is->keys);
    is->keys = ks;
    is->gen++;
    is->st->fetches_ok++;
    is->st->keys = ks.n;
    is->retry_ms = RETRY_MIN_MS;
    is->last_error[0] = '\0';
    schedule(is, is->o->refresh_ms);
    answer_waiters(is);
}

/* ---- one token ---- */

static struct issuer *issuer_named(struct tg_oidc *o, tg_iovec_t iss)
{
    for (size_t i = 0; i < o->n; i++)
        if (tg_iov_eq_str(iss, o->issuers[i].cfg->url))
            return &o->issuers[i];
    return NULL;
}

/* Header values from the token, fit for a log line and a JSON message. */
static const char *printable(tg_arena_t *a, tg_iovec_t v)
{
    size_t n = v.len < 40 ? v.len : 40;
    char *s = tg_arena_strndup(a, v.base ? v.base : "", n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '"')
            s[i] = '?';
    return s;
}

enum key_outcome { K_VERIFIED, K_BAD_SIGNATURE, K_UNKNOWN, K_WRONG_TYPE };

/* "kid" picks the keys; without one, every key of the right type is tried. */
static enum key_outcome check_signature(const struct issuer *is, const struct tg_jwt *j)
{
    int tried = 0, kid_seen = 0;

    for (size_t i = 0; i < is->keys.n; i++) {
        const struct tg_jwk *k = &is->keys.keys[i];
        if (j->kid.base != NULL && !(k->kid != NULL && tg_iov_eq_str(j->kid, k->kid)))
            continue;
        kid_seen = 1;
        if (!tg_jwk_fits(k, j->alg))
            continue;
        tried++;
        if (tg_jws_verify(j, k))
            return K_VERIFIED;
    }
    if (tried)
        /* without a kid a newer key may be the one: worth a (bounded) fetch */
        return j->kid.base != NULL ? K_BAD_SIGNATURE : K_UNKNOWN;
    return kid_seen ? K_WRONG_TYPE : K_UNKNOWN;
}

static int may_fetch_now(const struct issuer *is)
{
    return is->call == NULL &&
           (is->demands == 0 || mono_ms() - is->last_demand_ms >= is->o->refetch_ms);
}

struct decision {
    struct tg_oidc *o;
    const unsigned char *digest;
    tg_arena_t *a;
    struct tg_user *user;
    const char **reason;
};

static enum tg_oidc_result refuse(struct decision *d, const struct issuer *is, enum kind kind,
                                  uint64_t ttl_ms, const char *why)
{
    const unsigned char *h = d->digest;

    *d->reason = why;
    if (kind == V_NO_KEY)
        d->o->st.unavailable++;
    else
        d->o->st.refused++;
    tg_info("oidc: token (sha256 %02x%02x%02x%02x...) of %s refused: %s", h[0], h[1], h[2], h[3],
            is->cfg->url, why);
    cache_put(d->o, d->digest, kind, ttl_ms, NULL, why, kind == V_NO_KEY ? is : NULL);
    return TG_OIDC_REFUSED;
}

static enum tg_oidc_result not_mine(struct decision *d)
{
    cache_put(d->o, d->digest, V_NOT_MINE, d->o->ok_ttl_ms, NULL, NULL, NULL);
    return TG_OIDC_NOT_MINE;
}

/* What the keys say; *wait_on is set when the answer must wait for them. */
static enum tg_oidc_result signature(struct decision *d, struct issuer *is, const struct tg_jwt *j,
                                     struct issuer **wait_on)
{
    switch (check_signature(is, j)) {
    case K_VERIFIED: return TG_OIDC_OK;
    case K_BAD_SIGNATURE: return refuse(d, is, V_REFUSED, d->o->refused_ttl_ms, "bad signature");
    case K_WRONG_TYPE:
        return refuse(d, is, V_REFUSED, d->o->refused_ttl_ms,
                      tg_arena_printf(d->a, "key \"%s\" cannot verify %s", printable(d->a, j->kid),
                                      tg_jws_alg_name(j->alg)));
    default: break;
    }
    if (wait_on != NULL && (is->call != NULL || may_fetch_now(is))) {
        fetch(is, 1);
        *wait_on = is;
        return TG_OIDC_PENDING;
    }
    if (is->gen == 0)
        return refuse(
            d, is, V_NO_KEY, d->o->refused_ttl_ms,
            tg_arena_printf(d->a, "the issuer's keys are not available yet (%s)",
                            is->last_error[0] ? is->last_error : "first fetch under way"));
    return refuse(d, is, V_NO_KEY, d->o->refused_ttl_ms,
                  j->kid.base
                      ? tg_arena_printf(d->a, "no signing key \"%s\"", printable(d->a, j->kid))
                      : "no signing key verifies it");
}

static uint64_t ttl_until(int64_t when, int64_t now, uint64_t cap_ms)
{
    uint64_t ms = when > now ? (uint64_t)(when - now) * 1000u : 0;
    return ms < cap_ms ? ms : cap_ms;
}

static enum tg_oidc_result verified(struct decision *d, struct issuer *is, const struct tg_jwt *j,
                                    struct issuer **wait_on)
{
    struct tg_oidc *o = d->o;
    int64_t now = (int64_t)time(NULL), exp, valid_from;
    enum tg_oidc_result res;
    const char *why;

    if (j->alg == TG_JWS_UNSUPPORTED || !(is->algs & (1u << j->alg)))
        return refuse(d, is, V_REFUSED, o->refused_ttl_ms,
                      tg_arena_printf(d->a, "signature algorithm \"%s\" not accepted",
                                      printable(d->a, j->alg_name)));
    /* cheap checks first: an expired token never costs a key fetch */
    why = tg_oidc_check_times(is->cfg, j, now, o->leeway_s, &exp, &valid_from, d->a);
    if (why != NULL)
        return refuse(
            d, is, V_REFUSED,
            valid_from ? ttl_until(valid_from, now, o->refused_ttl_ms) : o->refused_ttl_ms, why);
    if ((res = signature(d, is, j, wait_on)) != TG_OIDC_OK)
        return res;
    if ((why = tg_oidc_map_identity(is->cfg, j, d->a, d->user)) != NULL)
        return refuse(d, is, V_REFUSED, o->refused_ttl_ms, why);
    o->st.accepted++;
    tg_debug("oidc: %s authenticated by %s", d->user->name.base, is->cfg->url);
    cache_put(o, d->digest, V_OK, ttl_until(exp, now, o->ok_ttl_ms), d->user, NULL, NULL);
    return TG_OIDC_OK;
}

static enum tg_oidc_result decide(struct decision *d, tg_iovec_t token, struct issuer **wait_on)
{
    struct tg_jwt j;
    struct issuer *is;
    tg_iovec_t iss = TG_IOV_NULL;
    enum tg_oidc_result res;
    const char *why;

    if (tg_jwt_parse(d->a, token, &j, &why) < 0) {
        if (tg_jwt_peek_issuer(d->a, token, &iss) < 0 || (is = issuer_named(d->o, iss)) == NULL)
            return not_mine(d);
        return refuse(d, is, V_REFUSED, d->o->refused_ttl_ms, why);
    }
    is = issuer_named(d->o, tg_iov_str(tg_json_str(tg_jwt_claim(&j, "iss"))));
    res = is == NULL ? not_mine(d) : verified(d, is, &j, wait_on);
    tg_jwt_free(&j);
    return res;
}

/* ---- waiting for keys ---- */

static void wait_unlink(struct tg_oidc_wait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->list->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->list = NULL;
}

static void wait_push(struct waitlist *l, struct tg_oidc_wait *w)
{
    w->list = l;
    w->prev = NULL;
    w->next = l->head;
    if (l->head)
        l->head->prev = w;
    l->head = w;
}

/* A fetch ended: every token that waited for it is decided now, with the
 * keys there are (no second wait). */
static void answer_waiters(struct issuer *is)
{
    struct tg_oidc_wait *w;

    while ((w = is->waiting.head) != NULL) { /* a callback may cancel any of them */
        wait_unlink(w);
        wait_push(&is->answering, w);
    }
    while ((w = is->answering.head) != NULL) {
        struct tg_user user;
        const char *reason = NULL;
        struct decision d = {is->o, w->digest, w->a, &user, &reason};
        enum tg_oidc_result res;

        wait_unlink(w);
        memset(&user, 0, sizeof(user));
        res = decide(&d, w->token, NULL);
        w->cb(w->arg, res, &user, reason);
    }
}

void tg_oidc_wait_cancel(struct tg_oidc_wait *w)
{
    if (w != NULL && w->list != NULL)
        wait_unlink(w);
}

/* ---- entry point ---- */

enum tg_oidc_result tg_oidc_authenticate(struct tg_oidc *o, tg_iovec_t token,
                                         const unsigned char sha256[32], tg_arena_t *a,
                                         struct tg_user *user, const char **reason, tg_oidc_cb cb,
                                         void *arg, struct tg_oidc_wait **wait)
{
    uint64_t now = mono_ms();
    struct verdict *v = cache_find(o, sha256, now);
    struct decision d = {o, sha256, a, user, reason};
    struct issuer *wait_on = NULL;
    enum tg_oidc_result res;

    *wait = NULL;
    *reason = NULL;
    /* a missing key is remembered only until the keys change or another
     * fetch may be tried */
    if (v != NULL && v->kind == V_NO_KEY &&
        (o->issuers[v->issuer].gen != v->gen || o->issuers[v->issuer].call != NULL ||
         may_fetch_now(&o->issuers[v->issuer]))) {
        verdict_clear(v);
        v = NULL;
    }
    if (v != NULL) {
        o->st.cache_hits++;
        v->used_ms = now;
        if (v->kind == V_OK) {
            tg_user_copy(a, user, &v->user);
            return TG_OIDC_OK;
        }
        if (v->kind == V_NOT_MINE)
            return TG_OIDC_NOT_MINE;
        *reason = tg_arena_strndup(a, v->reason, strlen(v->reason));
        return TG_OIDC_REFUSED;
    }
    res = decide(&d, token, &wait_on);
    if (res == TG_OIDC_PENDING) {
        struct tg_oidc_wait *w = tg_arena_calloc(a, sizeof(*w));
        w->token = token;
        memcpy(w->digest, sha256, 32);
        w->a = a;
        w->cb = cb;
        w->arg = arg;
        wait_push(&wait_on->waiting, w);
        *wait = w;
    }
    return res;
}

/* ---- lifecycle ---- */

static int issuer_init(struct tg_oidc *o, struct issuer *is, size_t i, char *err, size_t errlen)
{
    char *path = NULL;

    is->o = o;
    is->cfg = &o->cfg->oidc_issuers[i];
    is->index = i;
    is->st = &o->ist[i];
    is->st->url = is->cfg->url;
    is->retry_ms = RETRY_MIN_MS;
    for (size_t k = 0; k < is->cfg->n_sign_algs; k++)
        is->algs |= 1u << tg_jws_alg_from_name(tg_iov_str(is->cfg->sign_algs[k]));
    is->algs &= ~1u; /* never TG_JWS_UNSUPPORTED */
    is->disc = http_client(o, is->cfg, is->cfg->url, &path, &is->jwks_hostport, err, errlen);
    if (is->disc == NULL)
        return -1;
    /* go-oidc: the issuer without its trailing '/', then the well-known path */
    if (strcmp(path, "/") == 0)
        path[0] = '\0';
    is->disc_path = tg_asprintf("%s%s", path, DISCOVERY_PATH);
    free(path);
    is->jwks = is->disc;
    is->timer = evtimer_new(o->base, on_timer, is);
    tg_info("oidc: issuer %s (audience %s, users %s<%s>): fetching its keys", is->cfg->url,
            is->cfg->client_id, is->cfg->username_prefix, is->cfg->username_claim);
    fetch(is, 0);
    return 0;
}

struct tg_oidc *tg_oidc_new(struct event_base *base, struct tg_config *cfg, char *err,
                            size_t errlen)
{
    struct tg_oidc *o = tg_calloc(1, sizeof(*o));
    size_t nsets = 1;

    o->base = base;
    o->cfg = tg_config_ref(cfg);
    o->n = cfg->n_oidc_issuers;
    o->issuers = tg_calloc(o->n + 1, sizeof(*o->issuers));
    o->ist = tg_calloc(o->n + 1, sizeof(*o->ist));

    o->st.n_issuers = o->n;
    o->st.issuers = o->ist;
    o->leeway_s = (cfg->oidc_clock_skew_ms + 999) / 1000;
    o->refresh_ms = (uint64_t)cfg->oidc_jwks_refresh_ms;
    o->refetch_ms = (uint64_t)cfg->oidc_jwks_refetch_ms;
    o->ok_ttl_ms = (uint64_t)cfg->cache_authn_ttl_ms;
    o->refused_ttl_ms = (uint64_t)cfg->cache_unauthn_ttl_ms;
    while (nsets * 2 < cfg->cache_max_entries && nsets < ((size_t)1 << 22))
        nsets <<= 1;
    if (cfg->cache_max_entries > 0) {
        o->nsets = nsets;
        o->slots = tg_calloc(2 * nsets, sizeof(*o->slots));
    }
    for (size_t i = 0; i < o->n; i++)
        if (issuer_init(o, &o->issuers[i], i, err, errlen) < 0) {
            tg_oidc_free(o);
            return NULL;
        }
    return o;
}

void tg_oidc_free(struct tg_oidc *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n; i++) {
        struct issuer *is = &o->issuers[i];
        if (is->call)
            tg_kube_call_cancel(is->call);
        if (is->jwks != is->disc)
            tg_kube_client_free(is->jwks);
        tg_kube_client_free(is->disc);
        if (is->timer)
            event_free(is->timer);
        tg_jwks_free(&is->keys);
        free(is->disc_path);
        free(is->jwks_path);
        free(is->jwks_hostport);
    }
    for (size_t i = 0; o->slots && i < 2 * o->nsets; i++)
        verdict_clear(&o->slots[i]);
    free(o->slots);
    free(o->issuers);
    free(o->ist);
    tg_config_unref(o->cfg);
    free(o);
}

const struct tg_oidc_stats *tg_oidc_stats(const struct tg_oidc *o)
{
    return &o->st;
}
