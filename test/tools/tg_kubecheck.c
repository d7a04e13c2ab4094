/*
 * Test driver for the Kubernetes client + decision cache (used by
 * test/e2e/test_kube.py until the server's authn/authz stages exist).
 *
 *   tg_kubecheck [--kubeconfig PATH] [--audience A]... [--timeout-ms N]
 *                [--retries N] [--qps N] [--burst N] [--token-reload-ms N]
 *                [--backoff-ms N] [--grace-ms N] [--authn-ttl-ms N]
 *                [--allow-ttl-ms N] [--max-conns N]
 *
 * Without --kubeconfig the in-cluster configuration is used (env +
 * $TG_SA_DIR). Commands, one per line on stdin; one answer line each:
 *   check ID TOKEN NS   -> "ID authn=ok|denied|error authz=ok|denied|error|- user=U reason=R"
 *   par ID N TOKEN NS   -> N concurrent checks -> "ID n=N ok=A denied=B unauth=C error=D"
 *   stats               -> "stats {json}"
 *   clear               -> "cleared"
 *   quit
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantgate/authcache.h"
#include "tenantgate/kube.h"
#include "tenantgate/log.h"

struct app {
    struct event_base *base;
    struct tg_kube_client *kc;
    struct tg_authcache *cache;
};

struct par;

struct check {
    struct app *app;
    struct par *par; /* NULL for a single check */
    char id[64];
    char ns[128];
    tg_arena_t a;
    struct tg_pending *p;
    enum tg_kube_result authn, authz;
    const char *user;
    const char *reason;
};

struct par {
    char id[64];
    int n, left;
    int ok, denied, unauth, error;
};

static const char *rs(enum tg_kube_result r)
{
    return r == TG_KUBE_OK ? "ok" : r == TG_KUBE_DENIED ? "denied" : "error";
}

static void check_done(struct check *k, int did_authz)
{
    if (k->par) {
        struct par *p = k->par;
        if (k->authn == TG_KUBE_ERROR || (did_authz && k->authz == TG_KUBE_ERROR))
            p->error++;
        else if (k->authn == TG_KUBE_DENIED)
            p->unauth++;
        else if (k->authz == TG_KUBE_DENIED)
            p->denied++;
        else
            p->ok++;
        if (--p->left == 0) {
            printf("%s n=%d ok=%d denied=%d unauth=%d error=%d\n", p->id, p->n, p->ok, p->denied,
                   p->unauth, p->error);
            fflush(stdout);
            free(p);
        }
    } else {
        printf("%s authn=%s authz=%s user=%s reason=%s\n", k->id, rs(k->authn),
               did_authz ? rs(k->authz) : "-", k->user ? k->user : "-",
               k->reason ? k->reason : "-");
        fflush(stdout);
    }
    tg_arena_destroy(&k->a);
    free(k);
}

static void authz_result(struct check *k, const struct tg_authz_result *r)
{
    k->authz = r->res;
    if (r->reason)
        k->reason = r->reason;
    check_done(k, 1);
}

static void on_authz(void *arg, const struct tg_authz_result *r)
{
    authz_result(arg, r);
}

static void authn_result(struct check *k, const struct tg_authn_result *r)
{
    struct tg_authz_attrs at;
    struct tg_authz_result out;

    k->authn = r->res;
    k->reason = r->reason;
    if (r->res != TG_KUBE_OK) {
        check_done(k, 0);
        return;
    }
    k->user = tg_arena_strndup(&k->a, r->user.name.base, r->user.name.len);
    memset(&at, 0, sizeof(at));
    at.verb = TG_IOV_LIT("get");
    at.namespace_ = tg_iov_str(k->ns);
    at.api_version = TG_IOV_LIT("v1");
    at.resource = TG_IOV_LIT("pods");
    at.resource_request = 1;
    /* r->user lives in k->a: valid for the whole check */
    if (tg_authcache_authorize(k->app->cache, &r->user, &at, &k->a, &out, on_authz, k, &k->p) ==
        TG_AC_DONE)
        authz_result(k, &out);
}

static void on_authn(void *arg, const struct tg_authn_result *r)
{
    authn_result(arg, r);
}

static void start_check(struct app *app, struct par *par, const char *id, const char *token,
                        const char *ns)
{
    struct check *k = calloc(1, sizeof(*k));
    struct tg_authn_result out;
    k->app = app;
    k->par = par;
    snprintf(k->id, sizeof(k->id), "%s", id);
    snprintf(k->ns, sizeof(k->ns), "%s", ns);
    tg_arena_init(&k->a, NULL, 0);
    if (tg_authcache_authenticate(app->cache, tg_iov_str(token), &k->a, &out, on_authn, k, &k->p) ==
        TG_AC_DONE)
        authn_result(k, &out);
}

static void print_stats(struct app *app)
{
    const struct tg_authcache_stats *s = tg_authcache_stats(app->cache);
    const struct tg_kube_stats *k = tg_kube_client_stats(app->kc);
    printf("stats {\"hits\":%llu,\"misses\":%llu,\"coalesced\":%llu,\"evictions\":%llu,"
           "\"grace_served\":%llu,\"cache_errors\":%llu,\"entries\":%llu,\"calls\":%llu,"
           "\"attempts\":%llu,\"retries\":%llu,\"errors\":%llu,\"timeouts\":%llu,"
           "\"throttled\":%llu,\"connects\":%llu,\"token_reloads\":%llu,\"status_429\":%llu,"
           "\"status_5xx\":%llu,\"no_response\":%llu}\n",
           (unsigned long long)s->hits, (unsigned long long)s->misses,
           (unsigned long long)s->coalesced, (unsigned long long)s->evictions,
           (unsigned long long)s->grace_served, (unsigned long long)s->errors,
           (unsigned long long)s->entries, (unsigned long long)k->calls,
           (unsigned long long)k->attempts, (unsigned long long)k->retries,
           (unsigned long long)k->errors, (unsigned long long)k->timeouts,
           (unsigned long long)k->throttled, (unsigned long long)k->connects,
           (unsigned long long)k->token_reloads, (unsigned long long)k->status_429,
           (unsigned long long)k->by_status[5], (unsigned long long)k->by_status[0]);
    fflush(stdout);
}

static void command(struct app *app, char *line)
{
    char *argv[8];
    int argc = 0;
    for (char *t = strtok(line, " \t"); t && argc < 8; t = strtok(NULL, " \t"))
        argv[argc++] = t;
    if (argc == 0)
        return;
    if (strcmp(argv[0], "check") == 0 && argc == 4) {
        start_check(app, NULL, argv[1], argv[2], argv[3]);
    } else if (strcmp(argv[0], "par") == 0 && argc == 5) {
        struct par *p = calloc(1, sizeof(*p));
        snprintf(p->id, sizeof(p->id), "%s", argv[1]);
        p->n = p->left = atoi(argv[2]);
        for (int i = 0, n = p->n; i < n; i++) /* p may be freed by the last one */
            start_check(app, p, argv[1], argv[3], argv[4]);
    } else if (strcmp(argv[0], "stats") == 0) {
        print_stats(app);
    } else if (strcmp(argv[0], "clear") == 0) {
        tg_authcache_clear(app->cache);
        printf("cleared\n");
        fflush(stdout);
    } else if (strcmp(argv[0], "quit") == 0) {
        event_base_loopexit(app->base, NULL);
    } else {
        printf("error unknown command\n");
        fflush(stdout);
    }
}

static void stdin_read(struct bufferevent *bev, void *arg)
{
    char *line;
    size_t n;
    while ((line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_LF))) {
        command(arg, line);
        free(line);
    }
}

static void stdin_event(struct bufferevent *bev, short what, void *arg)
{
    struct app *app = arg;
    event_base_loopexit(app->base, NULL);
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {{"kubeconfig", required_argument, 0, 'k'},
                                          {"audience", required_argument, 0, 'a'},
                                          {"timeout-ms", required_argument, 0, 't'},
                                          {"retries", required_argument, 0, 'r'},
                                          {"qps", required_argument, 0, 'q'},
                                          {"burst", required_argument, 0, 'b'},
                                          {"token-reload-ms", required_argument, 0, 'T'},
                                          {"backoff-ms", required_argument, 0, 'B'},
                                          {"grace-ms", required_argument, 0, 'g'},
                                          {"authn-ttl-ms", required_argument, 0, 'A'},
                                          {"allow-ttl-ms", required_argument, 0, 'L'},
                                          {"max-conns", required_argument, 0, 'm'},
                                          {0, 0, 0, 0}};
    const char *kubeconfig = NULL;
    const char *aud[8];
    size_t naud = 0;
    struct tg_kube_opts ko;
    struct tg_authcache_opts co;
    struct tg_kube_target t;
    struct tg_authcache_backend be;
    struct app app;
    struct bufferevent *in;
    char err[512];
    int c, rc;

    tg_kube_opts_init(&ko, NULL);
    tg_authcache_opts_init(&co, NULL);
    tg_log_set_level(getenv("TG_DEBUG") ? TG_LOG_DEBUG : TG_LOG_INFO);
    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (c) {
        case 'k': kubeconfig = optarg; break;
        case 'a':
            if (naud < 8)
                aud[naud++] = optarg;
            break;
        case 't': ko.timeout_ms = atoi(optarg); break;
        case 'r': ko.retries = atoi(optarg); break;
        case 'q': ko.qps = atof(optarg); break;
        case 'b': ko.burst = atoi(optarg); break;
        case 'T': ko.token_reload_ms = atoi(optarg); break;
        case 'B': ko.backoff_base_ms = atoi(optarg); break;
        case 'g': co.grace_ms = atoi(optarg); break;
        case 'A': co.authn_ttl_ms = atoi(optarg); break;
        case 'L': co.allow_ttl_ms = atoi(optarg); break;
        case 'm': ko.max_conns = atoi(optarg); break;
        default: return 2;
        }
    }
    rc = kubeconfig ? tg_kube_target_from_kubeconfig(kubeconfig, NULL, &t, err, sizeof(err))
                    : tg_kube_target_in_cluster(NULL, &t, NULL, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "tg_kubecheck: %s\n", err);
        return 1;
    }
    app.base = event_base_new();
    app.kc = tg_kube_client_new(app.base, &t, &ko, err, sizeof(err));
    tg_kube_target_free(&t);
    if (!app.kc) {
        fprintf(stderr, "tg_kubecheck: %s\n", err);
        return 1;
    }
    co.audiences = aud;
    co.n_audiences = naud;
    tg_authcache_kube_backend(&be, app.kc);
    app.cache = tg_authcache_new(&be, &co);
    in = bufferevent_socket_new(app.base, STDIN_FILENO, 0);
    bufferevent_setcb(in, stdin_read, NULL, stdin_event, &app);
    bufferevent_enable(in, EV_READ);
    printf("ready\n");
    fflush(stdout);
    event_base_dispatch(app.base);
    bufferevent_free(in);
    tg_authcache_free(app.cache);
    tg_kube_client_free(app.kc);
    event_base_free(app.base);
    return 0;
}
