/* `tenantgate check-config`: see cmd_config.h. */
#include "cmd_config.h"

#include <stdio.h>

#include "tenantgate/config.h"
#include "tenantgate/kube.h"

static int kubeconfig_error(const char *path, const char *err)
{
    fprintf(stderr, "tenantgate check-config: --kubeconfig %s: %s\n", path, err);
    return -1;
}

/* Only the files: what the config says, and what was left for the full
 * command line. */
static int report_files(const struct tg_config *cfg)
{
    if (cfg->config_file == NULL && cfg->token_auth_file == NULL) {
        fprintf(stderr, "tenantgate check-config: nothing to check: give --config-file FILE "
                        "(and the proxy's other flags to check the whole setup)\n");
        return 2;
    }
    if (cfg->config_file)
        printf("config file: %s (every key and value)\n", cfg->config_file);
    if (cfg->token_auth_file)
        printf("token file: %s (%zu token%s)\n", cfg->token_auth_file, cfg->n_tokens,
               cfg->n_tokens == 1 ? "" : "s");
    if (cfg->kubeconfig) {
        struct tg_kube_target t;
        char err[512];
        if (tg_kube_target_from_kubeconfig(cfg->kubeconfig, NULL, &t, err, sizeof(err)) < 0)
            return -kubeconfig_error(cfg->kubeconfig, err);
        printf("kubeconfig: %s, API server %s:%u\n", cfg->kubeconfig, t.host, t.port);
        tg_kube_target_free(&t);
    }
    tg_config_summary_tenancy(cfg, stdout);
    printf("not checked: listeners, upstream, which authentication and authorization apply, "
           "Kubernetes access (no listener and no --upstream given: add the proxy's flags to "
           "check them)\n");
    printf("%s OK\n", cfg->config_file ? "config file" : "token file");
    return 0;
}

/* The API server tenantgate would use, as it reads it at start. Returns 0
 * (checked or not in use), 1 (could not be checked here), -1 (error). */
static int report_kube(const struct tg_config *cfg)
{
    struct tg_kube_target t;
    char err[512];
    int rc;

    if (!cfg->kube_enabled)
        return 0;
    rc = tg_kube_target_from_config(cfg, &t, err, sizeof(err));
    if (rc == 0) {
        printf("kubernetes: %s, API server %s:%u\n", t.source ? t.source : "", t.host, t.port);
        tg_kube_target_free(&t);
        return 0;
    }
    if (cfg->kubeconfig)
        return kubeconfig_error(cfg->kubeconfig, err);
    /* in-cluster: the service account is mounted in the pod, not here */
    fprintf(stderr,
            "tenantgate check-config: warning: the in-cluster Kubernetes credentials could not "
            "be checked here: %s (tenantgate refuses to start without them)\n",
            err);
    printf("not checked: in-cluster Kubernetes credentials (see the warning)\n");
    return 1;
}

int tg_cmd_check_config(int argc, char **argv)
{
    static char err[8192];
    int exit_now = 0, files_only = 0, rc;
    struct tg_config *cfg = tg_config_check(argc, argv, err, sizeof(err), &exit_now, &files_only);

    if (cfg == NULL) {
        if (exit_now == TG_CONFIG_EXIT_OK)
            return 0;
        tg_config_print_errors(stderr, "tenantgate check-config: ", err);
        return exit_now == TG_CONFIG_USAGE_ERROR ? 2 : 1;
    }
    if (files_only) {
        rc = report_files(cfg);
    } else {
        tg_config_summary(cfg, stdout);
        rc = report_kube(cfg);
        if (rc == 0)
            printf("config OK\n");
        else if (rc > 0)
            printf("config valid as far as it could be checked here\n");
        rc = rc < 0 ? 1 : 0;
    }
    tg_config_unref(cfg);
    return rc;
}
