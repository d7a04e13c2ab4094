/* See include/tenantgate/jsonutil.h. A DOM is fine here: the answer is a list
 * of metric names, bounded by the caller. */
#include "tenantgate/jsonutil.h"

#include <string.h>
#include <yajl/yajl_tree.h>

int tg_json_string_array(tg_arena_t *a, const char *json, size_t len, tg_iovec_t **out, size_t *n)
{
    static const char *status_path[] = {"status", NULL};
    static const char *data_path[] = {"data", NULL};
    char *text = tg_arena_strndup(a, json, len);
    yajl_val root = yajl_tree_parse(text, NULL, 0), status, data;
    size_t i;
    int rc = -1;

    if (root == NULL)
        return -1;
    status = yajl_tree_get(root, status_path, yajl_t_string);
    data = yajl_tree_get(root, data_path, yajl_t_array);
    if (status == NULL || data == NULL || !YAJL_IS_STRING(status) ||
        strcmp(status->u.string, "success") != 0)
        goto out;
    *n = 0;
    *out = tg_arena_alloc(a, (YAJL_GET_ARRAY(data)->len + 1) * sizeof(**out));
    for (i = 0; i < YAJL_GET_ARRAY(data)->len; i++) {
        yajl_val v = YAJL_GET_ARRAY(data)->values[i];
        if (!YAJL_IS_STRING(v))
            goto out;
        (*out)[(*n)++] = tg_arena_iovdup(a, tg_iov_str(v->u.string));
    }
    rc = 0;
out:
    yajl_tree_free(root);
    return rc;
}

yajl_val tg_json_member(yajl_val obj, const char *name)
{
    size_t i;
    if (!YAJL_IS_OBJECT(obj))
        return NULL;
    for (i = 0; i < YAJL_GET_OBJECT(obj)->len; i++)
        if (strcmp(YAJL_GET_OBJECT(obj)->keys[i], name) == 0)
            return YAJL_GET_OBJECT(obj)->values[i];
    return NULL;
}

const char *tg_json_str(yajl_val v)
{
    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}
