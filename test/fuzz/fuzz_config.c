/*
 * libFuzzer target: configuration loading. The input is the YAML config
 * file, loaded the way the server does (tg_config_load with --config-file and
 * a token file), so the YAML schema, the value parsers, the merge with flags
 * and the validation all see it. A config that loads is also reloaded (the
 * SIGHUP path) and summarised. Properties: no crash, no leak, and an error
 * always comes with a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tenantgate/config.h"
#include "tenantgate/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int yaml_fd = -1;
static char cfg_flag[64], tok_flag[64];
static FILE *devnull;

static int memfile(const char *name, const char *content)
{
    int fd = memfd_create(name, 0);
    if (fd < 0 || (content && write(fd, content, strlen(content)) != (ssize_t)strlen(content)))
        abort();
    return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int tok_fd;

    tg_log_set_level(TG_LOG_ERROR);
    yaml_fd = memfile("config.yaml", NULL);
    tok_fd = memfile("tokens.csv", "t1,alice,1,\"devs,ops\"\nt2,bob,2\n");
    snprintf(cfg_flag, sizeof(cfg_flag), "--config-file=/proc/self/fd/%d", yaml_fd);
    snprintf(tok_flag, sizeof(tok_flag), "--token-auth-file=/proc/self/fd/%d", tok_fd);
    devnull = fopen("/dev/null", "w");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[] = {"tenantgate",
                    "--insecure-listen-address=127.0.0.1:1",
                    "--upstream=http://127.0.0.1:2",
                    cfg_flag,
                    tok_flag,
                    NULL};
    char err[1024];
    int exit_now = -1;
    struct tg_config *c, *again;

    if (ftruncate(yaml_fd, 0) != 0 || pwrite(yaml_fd, data, size, 0) != (ssize_t)size)
        abort();
    err[0] = '\0';
    c = tg_config_load(5, argv, err, sizeof(err), &exit_now);
    if (c == NULL) {
        if (err[0] == '\0' || exit_now != TG_CONFIG_FAILED)
            abort();
        return 0;
    }
    if (exit_now != 0 || c->refs != 1)
        abort();
    tg_config_summary(c, devnull);
    again = tg_config_reload(c, err, sizeof(err));
    if (again == NULL) /* the same file and flags: must load again */
        abort();
    tg_config_unref(again);
    tg_config_unref(c);
    return 0;
}
