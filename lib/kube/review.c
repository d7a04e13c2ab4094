/*
 * TokenReview (authentication.k8s.io/v1) and SubjectAccessReview
 * (authorization.k8s.io/v1) request bodies and response parsing.
 */
#include "tenantgate/kube.h"

#include <string.h>
#include <yajl/yajl_tree.h>

static void json_str(tg_sb_t *sb, tg_iovec_t v)
{
    tg_sb_addc(sb, '"');
    tg_sb_add_json_escaped(sb, v);
    tg_sb_addc(sb, '"');
}

/* ,"key":"value" - omitted when empty, like Go's omitempty. */
static void json_opt_field(tg_sb_t *sb, int *first, const char *key, tg_iovec_t v)
{
    if (v.len == 0)
        return;
    tg_sb_adds(sb, *first ? "\"" : ",\"");
    tg_sb_adds(sb, key);
    tg_sb_adds(sb, "\":");
    json_str(sb, v);
    *first = 0;
}

void tg_kube_tokenreview_json(tg_sb_t *sb, tg_iovec_t token, const char *const *audiences,
                              size_t n_audiences)
{
    tg_sb_adds(sb, "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                   "\"spec\":{\"token\":");
    json_str(sb, token);
    if (n_audiences > 0) {
        tg_sb_adds(sb, ",\"audiences\":[");
        for (size_t i = 0; i < n_audiences; i++) {
            if (i)
                tg_sb_addc(sb, ',');
            json_str(sb, tg_iov_str(audiences[i]));
        }
        tg_sb_addc(sb, ']');
    }
    tg_sb_adds(sb, "}}");
}

static void json_user(tg_sb_t *sb, const struct tg_user *u)
{
    tg_sb_adds(sb, "\"user\":");
    json_str(sb, u->name);
    if (u->uid.len) {
        tg_sb_adds(sb, ",\"uid\":");
        json_str(sb, u->uid);
    }
    if (u->n_groups) {
        tg_sb_adds(sb, ",\"groups\":[");
        for (size_t i = 0; i < u->n_groups; i++) {
            if (i)
                tg_sb_addc(sb, ',');
            json_str(sb, u->groups[i]);
        }
        tg_sb_addc(sb, ']');
    }
    if (u->n_extra) {
        tg_sb_adds(sb, ",\"extra\":{");
        for (size_t i = 0; i < u->n_extra; i++) {
            if (i)
                tg_sb_addc(sb, ',');
            json_str(sb, u->extra[i].key);
            tg_sb_adds(sb, ":[");
            for (size_t j = 0; j < u->extra[i].n_values; j++) {
                if (j)
                    tg_sb_addc(sb, ',');
                json_str(sb, u->extra[i].values[j]);
            }
            tg_sb_addc(sb, ']');
        }
        tg_sb_addc(sb, '}');
    }
}

void tg_kube_sar_json(tg_sb_t *sb, const struct tg_user *user, const struct tg_authz_attrs *at)
{
    int first = 1;
    tg_sb_adds(sb, "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\","
                   "\"spec\":{");
    if (at->resource_request) {
        tg_sb_adds(sb, "\"resourceAttributes\":{");
        json_opt_field(sb, &first, "namespace", at->namespace_);
        json_opt_field(sb, &first, "verb", at->verb);
        json_opt_field(sb, &first, "group", at->api_group);
        json_opt_field(sb, &first, "version", at->api_version);
        json_opt_field(sb, &first, "resource", at->resource);
        json_opt_field(sb, &first, "subresource", at->subresource);
        json_opt_field(sb, &first, "name", at->name);
    } else {
        tg_sb_adds(sb, "\"nonResourceAttributes\":{");
        json_opt_field(sb, &first, "path", at->path);
        json_opt_field(sb, &first, "verb", at->verb);
    }
    tg_sb_adds(sb, "},");
    json_user(sb, user);
    tg_sb_adds(sb, "}}");
}

/* ---- parsing ---- */

static yajl_val get(yajl_val v, const char *k1, const char *k2)
{
    const char *path[3] = {k1, k2, NULL};
    return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

static tg_iovec_t arena_str(tg_arena_t *a, yajl_val v)
{
    const char *s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
    if (!s)
        return TG_IOV_NULL;
    size_t n = strlen(s);
    return tg_iov(tg_arena_strndup(a, s, n), n);
}

/* A JSON array of strings into an arena array; non-strings are skipped. */
static tg_iovec_t *arena_strs(tg_arena_t *a, yajl_val arr, size_t *n)
{
    tg_iovec_t *out;
    *n = 0;
    if (!YAJL_IS_ARRAY(arr) || arr->u.array.len == 0)
        return NULL;
    out = tg_arena_alloc(a, arr->u.array.len * sizeof(*out));
    for (size_t i = 0; i < arr->u.array.len; i++)
        if (YAJL_IS_STRING(arr->u.array.values[i]))
            out[(*n)++] = arena_str(a, arr->u.array.values[i]);
    return out;
}

static yajl_val parse_json(const char *body, size_t len, tg_arena_t *a, const char **reason)
{
    char errbuf[128];
    char *copy = tg_arena_strndup(a, body, len); /* yajl_tree wants a C string */
    yajl_val root = yajl_tree_parse(copy, errbuf, sizeof(errbuf));
    if (!root || !YAJL_IS_OBJECT(root)) {
        if (reason)
            *reason = "invalid JSON from the API server";
        yajl_tree_free(root);
        return NULL;
    }
    return root;
}

static int audiences_intersect(yajl_val got, const char *const *want, size_t n)
{
    if (!YAJL_IS_ARRAY(got))
        return 0;
    for (size_t i = 0; i < got->u.array.len; i++) {
        const char *s = YAJL_GET_STRING(got->u.array.values[i]);
        for (size_t j = 0; s && j < n; j++)
            if (strcmp(s, want[j]) == 0)
                return 1;
    }
    return 0;
}

static void parse_user(yajl_val uv, tg_arena_t *a, struct tg_user *u)
{
    yajl_val extra = get(uv, "extra", NULL);
    memset(u, 0, sizeof(*u));
    u->name = arena_str(a, get(uv, "username", NULL));
    u->uid = arena_str(a, get(uv, "uid", NULL));
    u->groups = arena_strs(a, get(uv, "groups", NULL), &u->n_groups);
    u->provider = "tokenreview";
    if (YAJL_IS_OBJECT(extra) && extra->u.object.len) {
        u->extra = tg_arena_calloc(a, extra->u.object.len * sizeof(*u->extra));
        for (size_t i = 0; i < extra->u.object.len; i++) {
            struct tg_kv_list *kv = &u->extra[u->n_extra++];
            kv->key = tg_iov(
                tg_arena_strndup(a, extra->u.object.keys[i], strlen(extra->u.object.keys[i])),
                strlen(extra->u.object.keys[i]));
            kv->values = arena_strs(a, extra->u.object.values[i], &kv->n_values);
        }
    }
}

/* The status object of a review response; NULL (nothing to free, *reason
 * set) when the body is no JSON or has none. Otherwise *root is the tree to
 * free. */
static yajl_val review_status(const char *body, size_t len, tg_arena_t *a, const char *missing,
                              yajl_val *root, const char **reason)
{
    yajl_val status;

    if (reason)
        *reason = NULL;
    if ((*root = parse_json(body, len, a, reason)) == NULL)
        return NULL;
    status = get(*root, "status", NULL);
    if (YAJL_IS_OBJECT(status))
        return status;
    if (reason)
        *reason = missing;
    yajl_tree_free(*root);
    return NULL;
}

enum tg_kube_result tg_kube_tokenreview_parse(const char *body, size_t len,
                                              const char *const *audiences, size_t n_audiences,
                                              tg_arena_t *a, struct tg_user *user,
                                              const char **reason)
{
    yajl_val root, status, err;
    enum tg_kube_result res;

    if ((status = review_status(body, len, a, "TokenReview response without status", &root,
                                reason)) == NULL)
        return TG_KUBE_ERROR;
    if (!YAJL_IS_TRUE(get(status, "authenticated", NULL))) {
        err = get(status, "error", NULL);
        if (reason)
            *reason = YAJL_IS_STRING(err) ? arena_str(a, err).base : "token not authenticated";
        res = TG_KUBE_DENIED;
    } else if (!YAJL_IS_OBJECT(get(status, "user", NULL)) ||
               !YAJL_IS_STRING(get(status, "user", "username"))) {
        if (reason)
            *reason = "TokenReview authenticated without a user";
        res = TG_KUBE_ERROR;
    } else if (n_audiences > 0 &&
               !audiences_intersect(get(status, "audiences", NULL), audiences, n_audiences)) {
        /* An authenticator that ignored spec.audiences must not let a token
         * minted for another service in (kube-rbac-proxy does the same). */
        if (reason)
            *reason = "token audiences do not match the requested audiences";
        res = TG_KUBE_DENIED;
    } else {
        parse_user(get(status, "user", NULL), a, user);
        res = TG_KUBE_OK;
    }
    yajl_tree_free(root);
    return res;
}

enum tg_kube_result tg_kube_sar_parse(const char *body, size_t len, tg_arena_t *a,
                                      const char **reason)
{
    yajl_val root, status, r, ee;
    enum tg_kube_result res;

    if ((status = review_status(body, len, a, "SubjectAccessReview response without status", &root,
                                reason)) == NULL)
        return TG_KUBE_ERROR;
    r = get(status, "reason", NULL);
    ee = get(status, "evaluationError", NULL);
    /* allowed wins; denied and "no opinion" both end as a denial here
     * because the SAR is the last authorizer in the chain. */
    res = YAJL_IS_TRUE(get(status, "allowed", NULL)) ? TG_KUBE_OK : TG_KUBE_DENIED;
    if (reason) {
        const char *rs = YAJL_IS_STRING(r) ? YAJL_GET_STRING(r) : "";
        const char *es = YAJL_IS_STRING(ee) ? YAJL_GET_STRING(ee) : "";
        if (*rs && *es)
            *reason = tg_arena_printf(a, "%s (evaluation error: %s)", rs, es);
        else if (*rs || *es)
            *reason = tg_arena_strndup(a, *rs ? rs : es, strlen(*rs ? rs : es));
    }
    yajl_tree_free(root);
    return res;
}

/* ---- users ---- */

static tg_iovec_t dup_iov(tg_arena_t *a, tg_iovec_t v)
{
    return v.base ? tg_iov(tg_arena_strndup(a, v.base, v.len), v.len) : TG_IOV_NULL;
}

void tg_user_copy(tg_arena_t *a, struct tg_user *dst, const struct tg_user *src)
{
    struct tg_user u = *src;
    u.name = dup_iov(a, src->name);
    u.uid = dup_iov(a, src->uid);
    u.groups = src->n_groups ? tg_arena_alloc(a, src->n_groups * sizeof(*u.groups)) : NULL;
    for (size_t i = 0; i < src->n_groups; i++)
        u.groups[i] = dup_iov(a, src->groups[i]);
    u.extra = src->n_extra ? tg_arena_alloc(a, src->n_extra * sizeof(*u.extra)) : NULL;
    for (size_t i = 0; i < src->n_extra; i++) {
        const struct tg_kv_list *s = &src->extra[i];
        struct tg_kv_list *d = &u.extra[i];
        d->key = dup_iov(a, s->key);
        d->n_values = s->n_values;
        d->values = s->n_values ? tg_arena_alloc(a, s->n_values * sizeof(*d->values)) : NULL;
        for (size_t j = 0; j < s->n_values; j++)
            d->values[j] = dup_iov(a, s->values[j]);
    }
    *dst = u; /* provider points at a string literal */
}
