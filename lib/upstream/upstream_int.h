/* Internals shared by the files of lib/upstream/. */
#ifndef TENANTGATE_UPSTREAM_INT_H
#define TENANTGATE_UPSTREAM_INT_H

#include <stdio.h>
#include <stdlib.h>

/* An invariant of the module (never a check of input): stays in release
 * builds, Varnish style; a broken invariant aborts with where it was. */
#define TG_UP_CHECK(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Byte classes of lib/upstream/parse.c, for the request head builder: every
 * byte of v is a token character / may stand in a header value. */
#include "tenantgate/iovec.h"
int tg_up_is_token(tg_iovec_t v);
int tg_up_is_value(tg_iovec_t v);

#endif
