/*
 * Silences: parsing a posted one, its tenant rewrite, the ownership test of
 * an existing one; see include/tenantgate/alertmanager.h.
 *
 * The body is read into a document tree (jsondom.h: strict JSON, duplicate
 * keys refused), checked field by field the way Alertmanager's go-openapi
 * layer would (same status codes and messages where it has them), and the
 * body sent upstream is written from what was checked, never copied: a
 * field tenantgate does not know cannot slip through to a newer
 * Alertmanager that would read it.
 */
#include "tenantgate/alertmanager.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tenantgate/jsondom.h"

#define SILENCE_MAX_DEPTH 16

static int am_error(struct tg_am_error *err, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int am_error(struct tg_am_error *err, int status, int code, const char *fmt, ...)
{
    va_list ap;

    err->status = status;
    err->code = code;
    err->pos = 0;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

/* go-openapi's wording for a body it cannot decode. */
#define PARSE_FAILED "parsing silence body from \"\" failed, because "

static int wrong_type(struct tg_am_error *err, const char *field, const struct tg_json *v,
                      const char *want)
{
    return am_error(err, 400, 400, PARSE_FAILED "%s is %s, not %s", field,
                    tg_json_type_name(v->type), want);
}

static int required(struct tg_am_error *err, const char *field)
{
    return am_error(err, 422, 602, "%s in body is required", field);
}

/* An optional string field: absent and null are "not given". */
static int opt_string(const struct tg_json *obj, const char *key, const struct tg_json **out,
                      struct tg_am_error *err)
{
    const struct tg_json *v = tg_json_get(obj, key);

    *out = NULL;
    if (v == NULL || v->type == TG_JSON_NULL)
        return 0;
    if (v->type != TG_JSON_STRING)
        return wrong_type(err, key, v, "a string");
    *out = v;
    return 0;
}

static int req_string(const struct tg_json *obj, const char *key, const struct tg_json **out,
                      struct tg_am_error *err)
{
    if (opt_string(obj, key, out, err) < 0)
        return -1;
    return *out == NULL ? required(err, key) : 0;
}

static int parse_matcher(const struct tg_json *v, size_t i, struct tg_am_smatcher *m,
                         struct tg_am_error *err)
{
    static const char *const keys[] = {"name", "value"};
    const struct tg_json *f;
    char field[64];
    size_t k;

    if (v->type != TG_JSON_OBJECT) {
        snprintf(field, sizeof(field), "matchers.%zu", i);
        return wrong_type(err, field, v, "an object");
    }
    for (k = 0; k < 2; k++) {
        snprintf(field, sizeof(field), "matchers.%zu.%s", i, keys[k]);
        f = tg_json_get(v, keys[k]);
        if (f == NULL || f->type == TG_JSON_NULL)
            return required(err, field);
        if (f->type != TG_JSON_STRING)
            return wrong_type(err, field, f, "a string");
        if (k == 0)
            m->name = f->text;
        else
            m->value = f->text;
    }
    snprintf(field, sizeof(field), "matchers.%zu.isRegex", i);
    f = tg_json_get(v, "isRegex");
    if (f == NULL || f->type == TG_JSON_NULL)
        return required(err, field);
    if (f->type != TG_JSON_BOOL)
        return wrong_type(err, field, f, "a boolean");
    m->is_regex = f->boolean;
    snprintf(field, sizeof(field), "matchers.%zu.isEqual", i);
    f = tg_json_get(v, "isEqual");
    m->is_equal = 1; /* the API's default */
    if (f != NULL && f->type != TG_JSON_NULL) {
        if (f->type != TG_JSON_BOOL)
            return wrong_type(err, field, f, "a boolean");
        m->is_equal = f->boolean;
    }
    return 0;
}

static int parse_matchers(tg_arena_t *a, const struct tg_json *root, struct tg_am_silence *s,
                          struct tg_am_error *err)
{
    const struct tg_json *ms = tg_json_get(root, "matchers"), *v;
    size_t i = 0;

    if (ms == NULL || ms->type == TG_JSON_NULL)
        return required(err, "matchers");
    if (ms->type != TG_JSON_ARRAY)
        return wrong_type(err, "matchers", ms, "an array");
    if (ms->n == 0)
        return am_error(err, 422, 612, "matchers in body should have at least 1 items");
    s->matchers = tg_arena_calloc(a, ms->n * sizeof(*s->matchers));
    for (v = ms->first; v != NULL; v = v->next, i++)
        if (parse_matcher(v, i, &s->matchers[i], err) < 0)
            return -1;
    s->n_matchers = ms->n;
    return 0;
}

static int parse_annotations(const struct tg_json *root, struct tg_am_silence *s,
                             struct tg_am_error *err)
{
    const struct tg_json *v = tg_json_get(root, "annotations"), *m;

    s->annotations = NULL;
    if (v == NULL || v->type == TG_JSON_NULL)
        return 0;
    if (v->type != TG_JSON_OBJECT)
        return wrong_type(err, "annotations", v, "an object");
    for (m = v->first; m != NULL; m = m->next)
        if (m->type != TG_JSON_STRING)
            return wrong_type(err, "an annotation", m, "a string");
    s->annotations = v;
    return 0;
}

int tg_am_silence_parse(tg_arena_t *a, const char *body, size_t len, struct tg_am_silence *out,
                        struct tg_am_error *err)
{
    struct tg_json *root;
    const struct tg_json *id;
    char why[200];
    size_t i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < len && strchr(" \t\r\n", body[i]) != NULL; i++)
        ;
    if (i == len)
        return required(err, "silence");
    if (tg_json_parse(a, body, len, SILENCE_MAX_DEPTH, &root, why, sizeof(why)) < 0)
        return am_error(err, 400, 400, PARSE_FAILED "%s", why);
    if (root->type != TG_JSON_OBJECT)
        return wrong_type(err, "the silence", root, "an object");
    /* Alertmanager 0.28+ keeps several matcher sets per silence; the v2 API
     * has one list. A body naming them is refused rather than half-read. */
    if (tg_json_get(root, "matcherSets") != NULL || tg_json_get(root, "matcher_sets") != NULL)
        return am_error(err, 400, 0,
                        "silences with several matcher sets (Alertmanager 0.28+) are not "
                        "supported: send one \"matchers\" list");
    if (opt_string(root, "id", &id, err) < 0)
        return -1;
    out->has_id = id != NULL && id->text.len > 0; /* "" is a new silence, as in Alertmanager */
    out->id = id ? id->text : TG_IOV_NULL;
    return parse_matchers(a, root, out, err) < 0 ||
                   req_string(root, "startsAt", &out->starts_at, err) < 0 ||
                   req_string(root, "endsAt", &out->ends_at, err) < 0 ||
                   req_string(root, "createdBy", &out->created_by, err) < 0 ||
                   req_string(root, "comment", &out->comment, err) < 0 ||
                   parse_annotations(root, out, err) < 0
               ? -1
               : 0;
}

static int value_index(const struct tg_promql_enforce *e, tg_iovec_t v)
{
    size_t i;
    for (i = 0; i < e->n_values; i++)
        if (tg_iov_eq(e->values[i], v))
            return (int)i;
    return -1;
}

/* name == label, isEqual, !isRegex, value a tenant value: the matcher makes
 * the silence the tenant's (it can only ever silence the tenant's alerts). */
static int owning(const struct tg_am_smatcher *m, const struct tg_promql_enforce *e)
{
    return tg_iov_eq(m->name, e->label) && m->is_equal && !m->is_regex &&
           value_index(e, m->value) >= 0;
}

int tg_am_silence_owner(const struct tg_am_silence *s, const struct tg_promql_enforce *e,
                        tg_iovec_t *owner)
{
    size_t i;
    for (i = 0; i < s->n_matchers; i++)
        if (owning(&s->matchers[i], e)) {
            *owner = s->matchers[i].value;
            return 1;
        }
    return 0;
}

static void as_promql(const struct tg_am_smatcher *s, struct tg_promql_matcher *m)
{
    memset(m, 0, sizeof(*m));
    m->name = s->name;
    m->value = s->value;
    m->op = s->is_regex ? (s->is_equal ? TG_PROMQL_RE : TG_PROMQL_NRE)
                        : (s->is_equal ? TG_PROMQL_EQ : TG_PROMQL_NE);
}

/* The tenant value the rewritten silence gets, or -1 with the error. */
static int pick_owner(tg_arena_t *a, const struct tg_am_silence *s,
                      const struct tg_promql_enforce *e, struct tg_am_error *err)
{
    struct tg_promql_matcher pm;
    int owner = e->n_values == 1 ? 0 : -1;
    size_t i;

    for (i = 0; i < s->n_matchers; i++) {
        const struct tg_am_smatcher *m = &s->matchers[i];
        if (!tg_iov_eq(m->name, e->label))
            continue;
        as_promql(m, &pm);
        if (e->error_on_replace && tg_promql_matcher_allows(&pm, e->values, e->n_values) != 1) {
            tg_sb_t t;
            tg_sb_init(&t, a, 64);
            tg_am_matcher_print(&t, &pm);
            return am_error(err, 400, 0, "silence matcher %s conflicts with the tenant values",
                            tg_sb_cstr(&t));
        }
        if (e->n_values > 1 && owning(m, e)) {
            int v = value_index(e, m->value);
            if (owner >= 0 && owner != v)
                return am_error(err, 400, 0,
                                "a silence must name exactly one of the values of %.*s it is "
                                "sent for; it names %.*s and %.*s",
                                TG_IOV_FMT(e->label), TG_IOV_FMT(e->values[owner]),
                                TG_IOV_FMT(e->values[v]));
            owner = v;
        }
    }
    if (owner < 0) {
        tg_sb_t t;
        tg_sb_init(&t, a, 64);
        tg_promql_values_regex(&t, e->values, e->n_values);
        return am_error(err, 400, 0,
                        "the request is for several values of %.*s (%s): the silence needs a "
                        "matcher %.*s=\"<one of them>\" (isEqual, not a regex)",
                        TG_IOV_FMT(e->label), tg_sb_cstr(&t), TG_IOV_FMT(e->label));
    }
    return owner;
}

static void write_string(tg_sb_t *out, tg_iovec_t v)
{
    tg_sb_addc(out, '"');
    tg_sb_add_json_escaped(out, v);
    tg_sb_addc(out, '"');
}

static void write_matcher(tg_sb_t *out, tg_iovec_t name, tg_iovec_t value, int is_regex,
                          int is_equal)
{
    tg_sb_adds(out, "{\"name\":");
    write_string(out, name);
    tg_sb_adds(out, ",\"value\":");
    write_string(out, value);
    tg_sb_adds(out, is_regex ? ",\"isRegex\":true" : ",\"isRegex\":false");
    tg_sb_adds(out, is_equal ? ",\"isEqual\":true}" : ",\"isEqual\":false}");
}

static void write_field(tg_sb_t *out, const char *key, const struct tg_json *v)
{
    if (v == NULL)
        return;
    tg_sb_addc(out, ',');
    write_string(out, tg_iov_str(key));
    tg_sb_addc(out, ':');
    tg_json_write(out, v);
}

int tg_am_silence_rewrite(tg_arena_t *a, const struct tg_am_silence *s,
                          const struct tg_promql_enforce *e, tg_sb_t *body, struct tg_am_error *err)
{
    int owner = pick_owner(a, s, e, err);
    size_t i;

    if (owner < 0)
        return -1;
    tg_sb_addc(body, '{');
    if (s->has_id) {
        tg_sb_adds(body, "\"id\":");
        write_string(body, s->id);
        tg_sb_addc(body, ',');
    }
    /* the tenant matcher first; what is left of the others after it */
    tg_sb_adds(body, "\"matchers\":[");
    write_matcher(body, e->label, e->values[owner], 0, 1);
    for (i = 0; i < s->n_matchers; i++) {
        const struct tg_am_smatcher *m = &s->matchers[i];
        if (tg_iov_eq(m->name, e->label))
            continue;
        tg_sb_addc(body, ',');
        write_matcher(body, m->name, m->value, m->is_regex, m->is_equal);
    }
    tg_sb_addc(body, ']');
    write_field(body, "startsAt", s->starts_at);
    write_field(body, "endsAt", s->ends_at);
    write_field(body, "createdBy", s->created_by);
    write_field(body, "comment", s->comment);
    write_field(body, "annotations", s->annotations);
    tg_sb_addc(body, '}');
    return 0;
}

int tg_am_silence_id_ok(tg_iovec_t id)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    size_t i;

    if (id.len != sizeof(shape) - 1)
        return 0;
    for (i = 0; i < id.len; i++) {
        char c = id.base[i];
        if (shape[i] == '-'
                ? c != '-'
                : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}
