/*
 * tenantgate: one event-driven process in front of Prometheus / Thanos
 * Querier that authenticates, authorizes and label-enforces every request.
 *
 *   tenantgate [flags]               run the proxy
 *   tenantgate check-config [flags]  validate flags and files, then exit
 *   tenantgate enforce ...           preview the enforced form of queries
 *   tenantgate fmt ...               print queries as tenantgate parses them
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cmd_config.h"
#include "cmd_promql.h"
#include "tenantgate/config.h"
#include "tenantgate/log.h"
#include "tenantgate/server.h"

/* Thousands of Grafana connections need more than the default 1024 files. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int run_proxy(int argc, char **argv)
{
    char err[8192]; /* a config file's errors, one per line */
    int exit_now = 0, rc;
    struct tg_config *cfg = tg_config_load(argc, argv, err, sizeof(err), &exit_now);
    struct event_base *base;
    struct event_config *ecfg;
    struct tg_server *srv;

    if (cfg == NULL) {
        if (exit_now == TG_CONFIG_EXIT_OK)
            return 0;
        tg_config_print_errors(stderr, "tenantgate: ", err);
        if (exit_now == TG_CONFIG_USAGE_ERROR)
            fprintf(stderr, "Run 'tenantgate --help' for the flags.\n");
        return exit_now == TG_CONFIG_USAGE_ERROR ? 2 : 1;
    }
    tg_log_set_level((enum tg_log_level)cfg->log_level);
    raise_nofile();
    ecfg = event_config_new();
    /* EV_CLOSED lets a waiting request notice its client leaving */
    event_config_require_features(ecfg, EV_FEATURE_EARLY_CLOSE);
    /* Batch each loop turn's epoll changes: evhttp enables and disables
     * reads and writes several times per request, and without the changelist
     * each toggle is its own epoll_ctl (12 per proxied request, half with it;
     * BENCHMARKS.md). Unsafe only with dup()ed descriptors, which we never
     * register. */
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    if (base == NULL)
        base = event_base_new();
    srv = tg_server_new(base, cfg, err, sizeof(err));
    tg_config_unref(cfg);
    if (srv == NULL) {
        fprintf(stderr, "tenantgate: %s\n", err);
        event_base_free(base);
        return 1;
    }
    tg_info("tenantgate %s started", TG_VERSION);
    rc = tg_server_run(srv);
    tg_server_free(srv);
    event_base_free(base);
    return rc;
}

int main(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";

    if (argc < 2) {
        fprintf(stderr, "Usage: tenantgate [flags] | check-config [flags] | enforce ... | fmt ...\n"
                        "Run 'tenantgate --help' for the flags and the config file keys.\n");
        return 2;
    }

    if (strcmp(sub, "enforce") == 0)
        return tg_cmd_enforce(argc - 1, argv + 1);
    if (strcmp(sub, "fmt") == 0)
        return tg_cmd_fmt(argc - 1, argv + 1);
    if (strcmp(sub, "check-config") == 0)
        return tg_cmd_check_config(argc - 1, argv + 1);
    return run_proxy(argc, argv);
}
