/* libFuzzer target for lib/json/filter.c. The first input byte picks the
 * filter kind and where to split the rest into two feeds; the rest is the
 * upstream body. Checks: no crash; chunking does not change the output; the
 * output is JSON; and it equals the DOM oracle (test/unit/jf_oracle.h). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "tenantgate/jsonfilter.h"
#include "tenantgate/sb.h"
#include "../unit/jf_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const values[] = {"alpha", "beta"};
static const char *const names[] = {"a", "go_info", "up"};

static void collect(void *arg, const char *buf, size_t len)
{
    if (len == 0)
        abort(); /* never emit empty chunks */
    tg_sb_add(arg, buf, len);
}

static int run(enum tg_jf_kind kind, const char *in, size_t len, size_t cut, tg_sb_t *out,
               char *err, size_t errlen)
{
    tg_iovec_t v[2] = {tg_iov_str(values[0]), tg_iov_str(values[1])};
    tg_iovec_t n[3] = {tg_iov_str(names[0]), tg_iov_str(names[1]), tg_iov_str(names[2])};
    struct tg_jf *f = tg_jf_new(kind, TG_IOV_LIT("namespace"), v, 2, collect, out);
    int rc;

    tg_jf_set_metric_names(f, n, 3);
    rc = tg_jf_feed(f, in, cut);
    if (rc == 0)
        rc = tg_jf_feed(f, in + cut, len - cut);
    if (rc == 0)
        rc = tg_jf_finish(f);
    if ((rc != 0) != (tg_jf_error(f) != NULL))
        abort();
    if (rc != 0)
        snprintf(err, errlen, "%s", tg_jf_error(f));
    tg_jf_free(f);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum tg_jf_kind kind;
    const char *in;
    size_t len, cut;
    tg_sb_t a, b, ref;
    char erra[256], errb[256];
    int ra, rb;

    if (size < 1)
        return 0;
    kind = (enum tg_jf_kind)(data[0] % 7);
    in = (const char *)data + 1;
    len = size - 1;
    cut = len ? (size_t)(data[0] >> 2) * len / 63 : 0;
    if (cut > len)
        cut = len;
    tg_sb_init(&a, NULL, 0);
    tg_sb_init(&b, NULL, 0);
    ra = run(kind, in, len, len, &a, erra, sizeof(erra));
    rb = run(kind, in, len, cut, &b, errb, sizeof(errb));
    if (ra != rb || (ra == 0 && strcmp(a.base, b.base) != 0))
        abort();
    if (ra == 0) {
        char e[128];
        yajl_val v = yajl_tree_parse(a.base, e, sizeof(e));
        if (v == NULL)
            abort(); /* we produced invalid JSON */
        yajl_tree_free(v);
    }
    /* compare with the oracle where it can represent the input */
    if (memchr(in, '\0', len) == NULL && memmem(in, len, "\\u0000", 6) == NULL &&
        (ra == 0 || strstr(erra, "nested too deeply") == NULL)) {
        struct jfo o = {kind, "namespace", values, 2, names, 3, &ref};
        char *z = malloc(len + 1);
        int rr;
        memcpy(z, in, len);
        z[len] = '\0';
        tg_sb_init(&ref, NULL, 0);
        rr = jfo_run(&o, z);
        if ((rr == 0) != (ra == 0)) {
            fprintf(stderr, "filter %d (%s) vs oracle %d\n", ra, ra ? erra : "", rr);
            abort();
        }
        if (ra == 0 && strcmp(ref.base, a.base) != 0) {
            fprintf(stderr, "filter: %s\noracle: %s\n", a.base, ref.base);
            abort();
        }
        tg_sb_free(&ref);
        free(z);
    }
    tg_sb_free(&a);
    tg_sb_free(&b);
    return 0;
}
