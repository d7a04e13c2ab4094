/*
 * JSON document tree in an arena; see include/tenantgate/jsondom.h.
 *
 * yajl_tree would do most of this, but it turns comments on, keeps duplicate
 * keys and mallocs every node: for a client's request body we want none of
 * the three. The callbacks below build the tree on a stack of open
 * containers; a container's children are appended through a tail pointer.
 */
#include "tenantgate/jsondom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define DOM_MAX_DEPTH 256

struct builder {
    tg_arena_t *a;
    struct tg_json *root;
    struct tg_json *open[DOM_MAX_DEPTH];  /* containers being filled */
    struct tg_json **tail[DOM_MAX_DEPTH]; /* where their next child goes */
    int depth, max_depth;
    tg_iovec_t key; /* pending member name */
    const char *error;
};

static int fail(struct builder *b, const char *msg)
{
    b->error = msg;
    return 0; /* cancels the parse */
}

/* A new value at the current position: root, array element or member. */
static struct tg_json *add(struct builder *b, enum tg_json_type t)
{
    struct tg_json *v = tg_arena_calloc(b->a, sizeof(*v));
    struct tg_json *parent;

    v->type = t;
    if (b->depth == 0) {
        b->root = v;
        return v;
    }
    parent = b->open[b->depth - 1];
    if (parent->type == TG_JSON_OBJECT) {
        v->key = b->key;
        b->key = TG_IOV_NULL;
    }
    *b->tail[b->depth - 1] = v;
    b->tail[b->depth - 1] = &v->next;
    parent->n++;
    return v;
}

static int cb_null(void *ctx)
{
    return add(ctx, TG_JSON_NULL) != NULL;
}

static int cb_boolean(void *ctx, int val)
{
    add(ctx, TG_JSON_BOOL)->boolean = val != 0;
    return 1;
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    struct builder *b = ctx;
    add(b, TG_JSON_NUMBER)->text = tg_arena_iovdup(b->a, tg_iov(s, len));
    return 1;
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    struct builder *b = ctx;
    add(b, TG_JSON_STRING)->text = tg_arena_iovdup(b->a, tg_iov((const char *)s, len));
    return 1;
}

static int open_container(struct builder *b, enum tg_json_type t)
{
    struct tg_json *v;

    if (b->depth >= b->max_depth)
        return fail(b, "JSON nested too deeply");
    v = add(b, t);
    b->open[b->depth] = v;
    b->tail[b->depth] = &v->first;
    b->depth++;
    return 1;
}

static int cb_start_map(void *ctx)
{
    return open_container(ctx, TG_JSON_OBJECT);
}

static int cb_start_array(void *ctx)
{
    return open_container(ctx, TG_JSON_ARRAY);
}

static int key_cmp(const void *x, const void *y)
{
    tg_iovec_t a = (*(const struct tg_json *const *)x)->key;
    tg_iovec_t b = (*(const struct tg_json *const *)y)->key;
    int c = memcmp(a.base, b.base, a.len < b.len ? a.len : b.len);
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

/* A closed object: its keys sorted, neighbours compared (O(n log n), so a
 * body of many keys cannot make this quadratic). */
static int unique_keys(struct builder *b, const struct tg_json *obj)
{
    const struct tg_json **keys, *m;
    size_t i = 0;

    if (obj->n < 2)
        return 1;
    keys = tg_arena_alloc(b->a, obj->n * sizeof(*keys));
    for (m = obj->first; m != NULL; m = m->next)
        keys[i++] = m;
    qsort(keys, obj->n, sizeof(*keys), key_cmp);
    for (i = 1; i < obj->n; i++)
        if (tg_iov_eq(keys[i - 1]->key, keys[i]->key))
            return fail(b, "duplicate key in an object");
    return 1;
}

static int cb_end(void *ctx)
{
    struct builder *b = ctx;
    const struct tg_json *v = b->open[--b->depth];
    return v->type == TG_JSON_OBJECT ? unique_keys(b, v) : 1;
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct builder *b = ctx;
    b->key = tg_arena_iovdup(b->a, tg_iov((const char *)key, len));
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end,
};

int tg_json_parse(tg_arena_t *a, const char *buf, size_t len, int max_depth, struct tg_json **out,
                  char *err, size_t errlen)
{
    struct builder b;
    yajl_handle y;
    yajl_status st;
    int rc = 0;

    memset(&b, 0, sizeof(b));
    b.a = a;
    b.max_depth = max_depth > 0 && max_depth < DOM_MAX_DEPTH ? max_depth : DOM_MAX_DEPTH;
    y = yajl_alloc(&callbacks, NULL, &b);
    if (y == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st = yajl_parse(y, (const unsigned char *)buf, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(y);
    if (st != yajl_status_ok || b.root == NULL) {
        size_t off = yajl_get_bytes_consumed(y);
        if (b.error != NULL) {
            snprintf(err, errlen, "offset %zu: %s", off, b.error);
        } else if (st != yajl_status_ok) {
            unsigned char *msg = yajl_get_error(y, 0, (const unsigned char *)buf, len);
            size_t n = msg ? strlen((const char *)msg) : 0;
            while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                n--;
            snprintf(err, errlen, "offset %zu: invalid JSON: %.*s", off, (int)n,
                     msg ? (const char *)msg : "");
            if (msg)
                yajl_free_error(y, msg);
        } else {
            snprintf(err, errlen, "offset %zu: no JSON value", len);
        }
        rc = -1;
    }
    yajl_free(y);
    *out = rc == 0 ? b.root : NULL;
    return rc;
}

const struct tg_json *tg_json_get(const struct tg_json *obj, const char *key)
{
    const struct tg_json *m;
    if (obj == NULL || obj->type != TG_JSON_OBJECT)
        return NULL;
    for (m = obj->first; m != NULL; m = m->next)
        if (tg_iov_eq_str(m->key, key))
            return m;
    return NULL;
}

static void write_string(tg_sb_t *out, tg_iovec_t s)
{
    tg_sb_addc(out, '"');
    tg_sb_add_json_escaped(out, s);
    tg_sb_addc(out, '"');
}

void tg_json_write(tg_sb_t *out, const struct tg_json *v)
{
    const struct tg_json *c;

    switch (v->type) {
    case TG_JSON_NULL: tg_sb_adds(out, "null"); return;
    case TG_JSON_BOOL: tg_sb_adds(out, v->boolean ? "true" : "false"); return;
    case TG_JSON_NUMBER: tg_sb_addiov(out, v->text); return;
    case TG_JSON_STRING: write_string(out, v->text); return;
    case TG_JSON_ARRAY:
    case TG_JSON_OBJECT:
        tg_sb_addc(out, v->type == TG_JSON_ARRAY ? '[' : '{');
        for (c = v->first; c != NULL; c = c->next) {
            if (c != v->first)
                tg_sb_addc(out, ',');
            if (v->type == TG_JSON_OBJECT) {
                write_string(out, c->key);
                tg_sb_addc(out, ':');
            }
            tg_json_write(out, c);
        }
        tg_sb_addc(out, v->type == TG_JSON_ARRAY ? ']' : '}');
        return;
    }
}

const char *tg_json_type_name(enum tg_json_type t)
{
    switch (t) {
    case TG_JSON_NULL: return "null";
    case TG_JSON_BOOL: return "a boolean";
    case TG_JSON_NUMBER: return "a number";
    case TG_JSON_STRING: return "a string";
    case TG_JSON_ARRAY: return "an array";
    case TG_JSON_OBJECT: return "an object";
    }
    return "?";
}
