/* Small JSON readers for upstream answers we consume ourselves. */
#ifndef TENANTGATE_JSONUTIL_H
#define TENANTGATE_JSONUTIL_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "tenantgate/arena.h"
#include "tenantgate/iovec.h"

/* Read a Prometheus success answer whose data is an array of strings
 * ({"status":"success","data":["a","b"]}) into arena copies. 0 / -1. */
int tg_json_string_array(tg_arena_t *a, const char *json, size_t len, tg_iovec_t **out, size_t *n);

/* Member `name` of `obj`: NULL when obj is not an object or has none (the
 * first, should it repeat). */
yajl_val tg_json_member(yajl_val obj, const char *name);
/* The string `v` holds, or NULL when it is not a string. */
const char *tg_json_str(yajl_val v);

#endif
