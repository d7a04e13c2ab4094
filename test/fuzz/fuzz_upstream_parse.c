/* libFuzzer target for lib/upstream/parse.c, the response parser. Input: one
 * byte of options (bit 0: the request was HEAD), two bytes of a split point,
 * then the response stream. It is parsed whole, split in two at that point,
 * and one byte at a time (short inputs): every run must reach the same
 * verdict, body and error position, and what the parser hands out must hold
 * its promises (spans inside the input, a Content-Length body as long as
 * announced, headers without line breaks, errors inside the input). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/upstream_parse.h"
#include "../unit/up_parse_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEAD 2048

static void run(const char *in, size_t n, const size_t *cuts, size_t ncuts, int head_req,
                struct up_outcome *o)
{
    up_run(in, n, cuts, ncuts, MAX_HEAD, head_req, o);
    if (o->violation != NULL)
        abort();
}

static void same(const struct up_outcome *a, const struct up_outcome *b)
{
    if (up_differ(a, b) != NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct up_outcome whole, o;
    const char *in = (const char *)data + 3;
    size_t n, cut, i, *cuts;
    int head_req;

    if (size < 3)
        return 0;
    head_req = data[0] & 1;
    n = size - 3;
    cut = ((size_t)data[1] << 8 | data[2]) % (n + 1);
    run(in, n, NULL, 0, head_req, &whole);
    run(in, n, &cut, 1, head_req, &o);
    same(&whole, &o);
    if (n <= 4096) {
        cuts = malloc((n + 1) * sizeof(*cuts));
        if (cuts == NULL)
            abort();
        for (i = 0; i < n; i++)
            cuts[i] = i + 1;
        run(in, n, cuts, n, head_req, &o);
        same(&whole, &o);
        free(cuts);
    }
    return 0;
}
