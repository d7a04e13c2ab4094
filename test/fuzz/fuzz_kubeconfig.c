/*
 * libFuzzer target: kubeconfig loading (tg_kube_target_from_kubeconfig).
 * Input: one control byte (bit 0: ask for context "ctx" rather than
 * current-context), then the kubeconfig YAML. The file lives in its own
 * temporary directory, so relative certificate/key/token paths resolve to
 * files that do not exist. Properties: no crash, no leak; success yields a
 * usable target (host, port, path prefix), failure a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantgate/kube.h"
#include "tenantgate/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char dir[] = "/tmp/fuzz_kubeconfig.XXXXXX";
    tg_log_set_level(TG_LOG_ERROR);
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof(path), "%s/kubeconfig", dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_kube_target t;
    char err[1024];
    FILE *f;

    if (size < 1)
        return 0;
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f) != 0)
        abort();
    memset(&t, 0, sizeof(t));
    err[0] = '\0';
    if (tg_kube_target_from_kubeconfig(path, (data[0] & 1) ? "ctx" : NULL, &t, err, sizeof(err)) ==
        0) {
        if (t.host == NULL || t.port == 0 || t.path_prefix == NULL || t.source == NULL)
            abort();
        if (t.cert_pem != NULL && t.key_pem == NULL)
            abort();
    } else if (err[0] == '\0') {
        abort();
    }
    tg_kube_target_free(&t);
    return 0;
}
