/*
 * Reference implementation of the jsonfilter rules on a yajl_tree DOM, for
 * tests and the fuzzer only: written separately from the streaming filter
 * so that the two can be compared on any input. Prints compact JSON the way
 * lib/json/filter.c does (numbers as received, strings re-escaped).
 *
 * Limits of the oracle (callers skip such inputs): yajl_tree's strings are
 * NUL-terminated, so input containing NUL bytes or "\u0000" is not
 * representable.
 */
#ifndef TG_JF_ORACLE_H
#define TG_JF_ORACLE_H

#include <string.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "tenantgate/jsonfilter.h"
#include "tenantgate/sb.h"

struct jfo {
    enum tg_jf_kind kind;
    const char *label;
    const char *const *values;
    size_t n_values;
    const char *const *names;
    size_t n_names;
    tg_sb_t *out;
};

static int jfo_in(const char *s, const char *const *set, size_t n)
{
    size_t i;
    if (s[0] == '\0')
        return 0;
    for (i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return 1;
    return 0;
}

static void jfo_str(tg_sb_t *out, const char *s)
{
    tg_sb_addc(out, '"');
    tg_sb_add_json_escaped(out, tg_iov_str(s));
    tg_sb_addc(out, '"');
}

static void jfo_print(tg_sb_t *out, yajl_val v)
{
    size_t i;
    switch (v->type) {
    case yajl_t_string: jfo_str(out, v->u.string); break;
    case yajl_t_number: tg_sb_adds(out, v->u.number.r); break;
    case yajl_t_true: tg_sb_adds(out, "true"); break;
    case yajl_t_false: tg_sb_adds(out, "false"); break;
    case yajl_t_null: tg_sb_adds(out, "null"); break;
    case yajl_t_object:
        tg_sb_addc(out, '{');
        for (i = 0; i < v->u.object.len; i++) {
            if (i)
                tg_sb_addc(out, ',');
            jfo_str(out, v->u.object.keys[i]);
            tg_sb_addc(out, ':');
            jfo_print(out, v->u.object.values[i]);
        }
        tg_sb_addc(out, '}');
        break;
    case yajl_t_array:
        tg_sb_addc(out, '[');
        for (i = 0; i < v->u.array.len; i++) {
            if (i)
                tg_sb_addc(out, ',');
            jfo_print(out, v->u.array.values[i]);
        }
        tg_sb_addc(out, ']');
        break;
    default: break;
    }
}

/* 1: keep the item whose object is `item` (labels rule). -1: bad shape. */
static int jfo_labels_ok(const struct jfo *o, yajl_val item)
{
    size_t i, j, hits = 0, bad = 0;
    for (i = 0; i < item->u.object.len; i++) {
        yajl_val l = item->u.object.values[i];
        if (strcmp(item->u.object.keys[i], "labels") != 0)
            continue;
        if (l->type == yajl_t_null)
            continue;
        if (l->type != yajl_t_object)
            return -1;
        for (j = 0; j < l->u.object.len; j++) {
            yajl_val lv = l->u.object.values[j];
            if (strcmp(l->u.object.keys[j], o->label) != 0)
                continue;
            if (lv->type == yajl_t_string && jfo_in(lv->u.string, o->values, o->n_values))
                hits++;
            else
                bad++;
        }
    }
    return hits > 0 && bad == 0;
}

static int jfo_item(const struct jfo *o, tg_sb_t *out, yajl_val item, int role);

/* An array of items (role 'g' group, 'r' rule, 'a' alert); null passes. */
static int jfo_items(const struct jfo *o, tg_sb_t *out, yajl_val arr, int role, size_t *kept)
{
    size_t i, n = 0;
    if (arr->type == yajl_t_null) {
        tg_sb_adds(out, "null");
        return 0;
    }
    if (arr->type != yajl_t_array)
        return -1;
    tg_sb_addc(out, '[');
    for (i = 0; i < arr->u.array.len; i++) {
        tg_sb_t tmp;
        int r;
        tg_sb_init(&tmp, NULL, 0);
        r = jfo_item(o, &tmp, arr->u.array.values[i], role);
        if (r < 0) {
            tg_sb_free(&tmp);
            return -1;
        }
        if (r > 0) {
            if (n++)
                tg_sb_addc(out, ',');
            tg_sb_addiov(out, tg_sb_iov(&tmp));
        }
        tg_sb_free(&tmp);
    }
    tg_sb_addc(out, ']');
    if (kept)
        *kept += n;
    return 0;
}

/* A silence matcher that makes the silence the tenant's: each of name,
 * value, isRegex at most once and isEqual at most once, name == label, value
 * a tenant value, isRegex false, isEqual true or absent. -1: not an object. */
static int jfo_matcher_owns(const struct jfo *o, yajl_val m)
{
    int name = 0, value = 0, regex = 0, equal = 0, ok = 1;
    size_t i;
    if (m->type != yajl_t_object)
        return -1;
    for (i = 0; i < m->u.object.len; i++) {
        const char *k = m->u.object.keys[i];
        yajl_val v = m->u.object.values[i];
        if (strcmp(k, "name") == 0) {
            name++;
            ok &= v->type == yajl_t_string && strcmp(v->u.string, o->label) == 0;
        } else if (strcmp(k, "value") == 0) {
            value++;
            ok &= v->type == yajl_t_string && jfo_in(v->u.string, o->values, o->n_values);
        } else if (strcmp(k, "isRegex") == 0) {
            regex++;
            ok &= v->type == yajl_t_false;
        } else if (strcmp(k, "isEqual") == 0) {
            equal++;
            ok &= v->type == yajl_t_true;
        }
    }
    return ok && name == 1 && value == 1 && regex == 1 && equal <= 1;
}

/* 1 if the silence is the tenant's, 0 not, -1 bad shape. */
static int jfo_silence_owned(const struct jfo *o, yajl_val s)
{
    size_t i, j, lists = 0, owned = 0;
    int sets = 0;
    for (i = 0; i < s->u.object.len; i++) {
        yajl_val v = s->u.object.values[i];
        sets |= strcmp(s->u.object.keys[i], "matcherSets") == 0;
        if (strcmp(s->u.object.keys[i], "matchers") != 0)
            continue;
        lists++;
        if (v->type == yajl_t_null)
            continue;
        if (v->type != yajl_t_array)
            return -1;
        for (j = 0; j < v->u.array.len; j++) {
            int r = jfo_matcher_owns(o, v->u.array.values[j]);
            if (r < 0)
                return -1;
            owned += (size_t)r;
        }
    }
    return !sets && lists == 1 && owned > 0;
}

/* Print one item into out; returns 1 keep, 0 drop, -1 error. Roles: 'g'
 * rule group, 'r' rule, 'a' alert, 'G' Alertmanager alert group, 's'
 * silence. */
static int jfo_item(const struct jfo *o, tg_sb_t *out, yajl_val item, int role)
{
    size_t i, kept = 0;
    int keep;
    if (item->type != yajl_t_object)
        return -1;
    if (role == 'g' || role == 'G') {
        keep = 1;
    } else if (role == 's') {
        if ((keep = jfo_silence_owned(o, item)) < 0)
            return -1;
    } else if ((keep = jfo_labels_ok(o, item)) < 0) {
        return -1;
    }
    tg_sb_addc(out, '{');
    for (i = 0; i < item->u.object.len; i++) {
        const char *k = item->u.object.keys[i];
        yajl_val v = item->u.object.values[i];
        if (i)
            tg_sb_addc(out, ',');
        jfo_str(out, k);
        tg_sb_addc(out, ':');
        if (role == 'g' && strcmp(k, "rules") == 0) {
            if (jfo_items(o, out, v, 'r', &kept) < 0)
                return -1;
        } else if (role == 'r' && strcmp(k, "alerts") == 0) {
            if (jfo_items(o, out, v, 'a', NULL) < 0)
                return -1;
        } else if (role == 'G' && strcmp(k, "alerts") == 0) {
            if (jfo_items(o, out, v, 'a', &kept) < 0)
                return -1;
        } else {
            jfo_print(out, v);
        }
    }
    tg_sb_addc(out, '}');
    return role == 'g' || role == 'G' ? kept > 0 : keep;
}

static int jfo_data(const struct jfo *o, tg_sb_t *out, yajl_val d)
{
    size_t i, n = 0;
    if (d->type == yajl_t_null) {
        tg_sb_adds(out, "null");
        return 0;
    }
    if (d->type != yajl_t_object)
        return -1;
    tg_sb_addc(out, '{');
    for (i = 0; i < d->u.object.len; i++) {
        const char *k = d->u.object.keys[i];
        yajl_val v = d->u.object.values[i];
        int keep = 0, items = 0;
        if (o->kind == TG_JF_METADATA) {
            if (v->type != yajl_t_array)
                return -1;
            keep = jfo_in(k, o->names, o->n_names);
        } else if (o->kind == TG_JF_RULES) {
            items = keep = strcmp(k, "groups") == 0 ? 'g' : 0;
            keep = keep || strcmp(k, "groupNextToken") == 0;
        } else {
            items = keep = strcmp(k, "alerts") == 0 ? 'a' : 0;
        }
        if (items && v->type != yajl_t_array && v->type != yajl_t_null)
            return -1;
        if (!keep)
            continue;
        if (n++)
            tg_sb_addc(out, ',');
        jfo_str(out, k);
        tg_sb_addc(out, ':');
        if (items) {
            if (jfo_items(o, out, v, items, NULL) < 0)
                return -1;
        } else {
            jfo_print(out, v);
        }
    }
    tg_sb_addc(out, '}');
    return 0;
}

/* An object of which only the keys in `pass` are printed. */
static void jfo_pick(tg_sb_t *out, yajl_val obj, const char *const *pass, size_t n_pass)
{
    size_t i, n = 0;
    tg_sb_addc(out, '{');
    for (i = 0; i < obj->u.object.len; i++) {
        if (!jfo_in(obj->u.object.keys[i], pass, n_pass))
            continue;
        if (n++)
            tg_sb_addc(out, ',');
        jfo_str(out, obj->u.object.keys[i]);
        tg_sb_addc(out, ':');
        jfo_print(out, obj->u.object.values[i]);
    }
    tg_sb_addc(out, '}');
}

/* The Alertmanager kinds. */
static int jfo_am(const struct jfo *o, yajl_val root)
{
    static const char *const error_keys[] = {"code", "message"};
    static const char *const status_keys[] = {"cluster", "versionInfo", "uptime"};
    size_t i, n = 0;

    if (o->kind == TG_JF_AM_STATUS) {
        if (root->type != yajl_t_object)
            return -1;
        tg_sb_addc(o->out, '{');
        for (i = 0; i < root->u.object.len; i++) {
            const char *k = root->u.object.keys[i];
            int config = strcmp(k, "config") == 0;
            if (!config && !jfo_in(k, status_keys, 3))
                continue;
            if (n++)
                tg_sb_addc(o->out, ',');
            jfo_str(o->out, k);
            tg_sb_addc(o->out, ':');
            if (config)
                tg_sb_adds(o->out, "{\"original\":\"\"}");
            else
                jfo_print(o->out, root->u.object.values[i]);
        }
        tg_sb_addc(o->out, '}');
        return 0;
    }
    if (root->type == yajl_t_string) {
        jfo_print(o->out, root);
        return 0;
    }
    if (root->type == yajl_t_object) {
        jfo_pick(o->out, root, error_keys, 2);
        return 0;
    }
    if (root->type != yajl_t_array)
        return -1;
    return jfo_items(o, o->out, root,
                     o->kind == TG_JF_AM_ALERTS   ? 'a'
                     : o->kind == TG_JF_AM_GROUPS ? 'G'
                                                  : 's',
                     NULL);
}

/* JSON as the filters read it: yajl_tree_parse allows comments, which no
 * upstream writes and the stream filters refuse (fail closed). */
static int jfo_strict_json(const char *json)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    int ok = yajl_parse(h, (const unsigned char *)json, strlen(json)) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok;
    yajl_free(h);
    return ok;
}

/* Filter `json` (NUL-terminated) into o->out. Returns 0 / -1. */
static int jfo_run(const struct jfo *o, const char *json)
{
    static const char *const pass[] = {"status", "errorType", "error", "warnings", "infos"};
    char err[128];
    yajl_val root = jfo_strict_json(json) ? yajl_tree_parse(json, err, sizeof(err)) : NULL;
    size_t i, n = 0;
    int rc = 0;

    if (root == NULL)
        return -1;
    if (o->kind >= TG_JF_AM_ALERTS) {
        rc = jfo_am(o, root);
        yajl_tree_free(root);
        return rc;
    }
    if (root->type != yajl_t_object) {
        yajl_tree_free(root);
        return -1;
    }
    tg_sb_addc(o->out, '{');
    for (i = 0; i < root->u.object.len && rc == 0; i++) {
        const char *k = root->u.object.keys[i];
        int is_data = strcmp(k, "data") == 0;
        if (!is_data && !jfo_in(k, pass, 5))
            continue;
        if (n++)
            tg_sb_addc(o->out, ',');
        jfo_str(o->out, k);
        tg_sb_addc(o->out, ':');
        if (is_data)
            rc = jfo_data(o, o->out, root->u.object.values[i]);
        else
            jfo_print(o->out, root->u.object.values[i]);
    }
    tg_sb_addc(o->out, '}');
    yajl_tree_free(root);
    return rc;
}

#endif
