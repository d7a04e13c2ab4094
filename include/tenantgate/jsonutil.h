/* Small JSON readers for upstream answers we consume ourselves. */
#ifndef TENANTGATE_JSONUTIL_H
#define TENANTGATE_JSONUTIL_H

#include <stddef.h>
#include "tenantgate/arena.h"
#include "tenantgate/iovec.h"

/* Read a Prometheus success answer whose data is an array of strings
 * ({"status":"success","data":["a","b"]}) into arena copies. 0 / -1. */
int tg_json_string_array(tg_arena_t *a, const char *json, size_t len, tg_iovec_t **out, size_t *n);

#endif
