/* `tenantgate check-config`: see cmd_config.h. */
#include "cmd_config.h"

#include <stdio.h>

#include "tenantgate/config.h"

int tg_cmd_check_config(int argc, char **argv)
{
    char err[1024];
    int exit_now = 0;
    struct tg_config *cfg = tg_config_load(argc, argv, err, sizeof(err), &exit_now);

    if (cfg == NULL) {
        if (exit_now == TG_CONFIG_EXIT_OK)
            return 0;
        fprintf(stderr, "tenantgate check-config: %s\n", err);
        return 1;
    }
    printf("config OK\n");
    tg_config_summary(cfg, stdout);
    tg_config_unref(cfg);
    return 0;
}
