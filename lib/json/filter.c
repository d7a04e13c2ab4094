/*
 * Streaming JSON filters for /api/v1/{rules,alerts,metadata}; see
 * include/tenantgate/jsonfilter.h.
 *
 * yajl calls us once per token. We keep a stack of the open containers, each
 * tagged with its role in the Prometheus response (data, group, rule,
 * labels, ...), and write tokens we keep into one output buffer. An item
 * whose fate depends on its labels (group, rule, alert) records where it
 * started in the buffer; when it closes it is either kept or cut off again.
 * Nothing is handed to emit while an item is open, so undecided bytes never
 * leave this module.
 */
#include "tenantgate/core.h"
#include "tenantgate/jsonfilter.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "tenantgate/arena.h"
#include "tenantgate/sb.h"

#define MAX_DEPTH    64
#define FLUSH_AT     (16u * 1024)
#define SHRINK_ABOVE (1u << 20)
#define DEFAULT_MAX  ((size_t)64 << 20)

enum role {
    R_ANY,         /* passes unchanged, no meaning for us */
    R_ROOT,        /* the response object */
    R_DATA,        /* "data" */
    R_GROUPS,      /* data.groups */
    R_GROUP,       /* one rule group: item */
    R_RULES,       /* group.rules */
    R_RULE,        /* one rule: item */
    R_ALERTS,      /* rule.alerts or data.alerts */
    R_ALERT,       /* one alert: item */
    R_LABELS,      /* rule.labels or alert.labels */
    R_LABEL_VALUE, /* labels[<tenant label>] */
    R_META_ENTRY,  /* data[<metric name>] in METADATA */
    /* Alertmanager API v2 */
    R_AM_LIST,   /* the top-level array of alerts, groups or silences */
    R_AM_ERROR,  /* a top-level object where a list was expected: an error */
    R_SILENCE,   /* one silence: item */
    R_SMATCHERS, /* silence.matchers */
    R_SMATCHER,  /* one matcher of a silence */
    R_SM_NAME,   /* its fields that decide ownership */
    R_SM_VALUE,
    R_SM_REGEX,
    R_SM_EQUAL,
};

/* What a silence matcher said so far (frame.mflags). It makes the silence
 * the tenant's when name is the label, value a tenant value, isRegex false
 * and isEqual true or absent, each said once with the right type. */
enum {
    SM_NAME_OK = 1,
    SM_VALUE_OK = 2,
    SM_REGEX_FALSE = 4,
    SM_EQUAL_BAD = 8,
    SM_BAD = 16, /* a field twice, or of the wrong type */
    SM_SEEN_NAME = 32,
    SM_SEEN_VALUE = 64,
    SM_SEEN_REGEX = 128,
    SM_SEEN_EQUAL = 256,
    SILENCE_SEEN_MATCHERS = 512, /* in the silence's own frame */
};

enum vtype { V_NULL, V_SCALAR, V_STRING, V_MAP, V_ARRAY };

struct frame {
    unsigned char is_map, role, silent;
    size_t emitted;    /* children written so far: decides the next comma */
    size_t item_start; /* out.len before this item's comma */
    size_t hits, bad;  /* items: tenant matches / non-matches (groups: kept rules) */
    unsigned mflags;   /* silences and their matchers, see SM_* */
};

/* Open-addressing hash set of byte strings (copies live in the arena). */
struct strset {
    tg_iovec_t *slots; /* base == NULL: empty slot */
    size_t cap;        /* power of two, or 0 */
};

struct tg_jf {
    enum tg_jf_kind kind;
    yajl_handle y;
    tg_arena_t arena; /* label, sets */
    tg_iovec_t label;
    struct strset values, names;
    tg_jf_emit_fn emit;
    void *arg;
    tg_sb_t out;
    size_t max_buffer;
    struct frame st[MAX_DEPTH];
    int depth;
    unsigned char next_role, next_silent; /* for the value after a map key */
    size_t open_items;                    /* non-silent items not yet decided */
    int root_done, failed, finished;
    size_t consumed; /* bytes of earlier chunks */
    const char *cb_error;
    char errbuf[200];
};

/* ---- string set ------------------------------------------------------------ */

static uint64_t hash_bytes(tg_iovec_t v)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    size_t i;
    for (i = 0; i < v.len; i++) {
        h ^= (unsigned char)v.base[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void strset_build(struct strset *s, tg_arena_t *a, const tg_iovec_t *v, size_t n)
{
    size_t i, cap = 8;

    while (cap < 2 * n + 2)
        cap *= 2;
    s->cap = cap;
    s->slots = tg_arena_calloc(a, cap * sizeof(*s->slots));
    for (i = 0; i < n; i++) {
        size_t j = (size_t)hash_bytes(v[i]) & (cap - 1);
        if (v[i].len == 0) /* an empty label value means "no label" */
            continue;
        while (s->slots[j].base != NULL && !tg_iov_eq(s->slots[j], v[i]))
            j = (j + 1) & (cap - 1);
        if (s->slots[j].base == NULL)
            s->slots[j] = tg_arena_iovdup(a, v[i]);
    }
}

static int strset_has(const struct strset *s, tg_iovec_t v)
{
    size_t j;
    if (s->cap == 0 || v.len == 0)
        return 0;
    j = (size_t)hash_bytes(v) & (s->cap - 1);
    while (s->slots[j].base != NULL) {
        if (tg_iov_eq(s->slots[j], v))
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static int fail(struct tg_jf *f, const char *msg)
{
    f->cb_error = msg;
    return 0; /* yajl: cancel the parse */
}

static int is_item(unsigned char role)
{
    return role == R_GROUP || role == R_RULE || role == R_ALERT || role == R_SILENCE;
}

static int is_am_list(enum tg_jf_kind k)
{
    return k == TG_JF_AM_ALERTS || k == TG_JF_AM_GROUPS || k == TG_JF_AM_SILENCES;
}

static unsigned char element_role(const struct tg_jf *f, unsigned char array_role)
{
    switch (array_role) {
    case R_GROUPS: return R_GROUP;
    case R_RULES: return R_RULE;
    case R_ALERTS: return R_ALERT;
    case R_SMATCHERS: return R_SMATCHER;
    case R_AM_LIST:
        return f->kind == TG_JF_AM_ALERTS   ? R_ALERT
               : f->kind == TG_JF_AM_GROUPS ? R_GROUP
                                            : R_SILENCE;
    default: return R_ANY;
    }
}

/* The top level: Prometheus answers an object; Alertmanager a list, or on
 * error a JSON string (its handlers) or an object (its go-openapi layer). */
static unsigned char root_role(const struct tg_jf *f, enum vtype t)
{
    if (!is_am_list(f->kind))
        return R_ROOT;
    return t == V_MAP ? R_AM_ERROR : t == V_STRING ? R_ANY : R_AM_LIST;
}

/* NULL if a value of type t may have this role, else why not. */
static const char *shape_error(unsigned char role, enum vtype t)
{
    switch (role) {
    case R_ROOT: return t == V_MAP ? NULL : "response is not a JSON object";
    case R_AM_LIST: return t == V_ARRAY ? NULL : "response is not a JSON array";
    case R_SMATCHERS: return t == V_ARRAY || t == V_NULL ? NULL : "matchers is not an array";
    case R_SILENCE:
    case R_SMATCHER: return t == V_MAP ? NULL : "silence/matcher is not an object";
    case R_DATA: return t == V_MAP || t == V_NULL ? NULL : "\"data\" is not an object";
    case R_GROUPS:
    case R_RULES:
    case R_ALERTS:
        return t == V_ARRAY || t == V_NULL ? NULL : "groups/rules/alerts is not an array";
    case R_GROUP:
    case R_RULE:
    case R_ALERT: return t == V_MAP ? NULL : "group/rule/alert is not an object";
    case R_LABELS: return t == V_MAP || t == V_NULL ? NULL : "\"labels\" is not an object";
    case R_META_ENTRY: return t == V_ARRAY ? NULL : "metadata entry is not an array";
    default: return NULL;
    }
}

/* Role of the value that follows `key` in a map of role `map_role`; sets
 * *silent when the pair is dropped. */
static unsigned char key_role(const struct tg_jf *f, unsigned char map_role, tg_iovec_t key,
                              unsigned char *silent)
{
    *silent = 0;
    switch (map_role) {
    case R_ROOT:
        if (f->kind == TG_JF_AM_STATUS) {
            /* config.original is the whole configuration: every tenant's
             * routes and receivers, with their secrets (written in its place
             * by cb_map_key); the rest describes the server */
            *silent = !(tg_iov_eq_str(key, "cluster") || tg_iov_eq_str(key, "versionInfo") ||
                        tg_iov_eq_str(key, "uptime"));
            return R_ANY;
        }
        if (tg_iov_eq_str(key, "data"))
            return R_DATA;
        *silent = !(tg_iov_eq_str(key, "status") || tg_iov_eq_str(key, "errorType") ||
                    tg_iov_eq_str(key, "error") || tg_iov_eq_str(key, "warnings") ||
                    tg_iov_eq_str(key, "infos"));
        return R_ANY;
    case R_DATA:
        if (f->kind == TG_JF_METADATA) {
            *silent = !strset_has(&f->names, key);
            return R_META_ENTRY;
        }
        if (f->kind == TG_JF_RULES && tg_iov_eq_str(key, "groups"))
            return R_GROUPS;
        if (f->kind == TG_JF_ALERTS && tg_iov_eq_str(key, "alerts"))
            return R_ALERTS;
        /* a hash of the next group's file and name: reveals nothing */
        *silent = !(f->kind == TG_JF_RULES && tg_iov_eq_str(key, "groupNextToken"));
        return R_ANY;
    case R_AM_ERROR:
        *silent = !(tg_iov_eq_str(key, "code") || tg_iov_eq_str(key, "message"));
        return R_ANY;
    case R_GROUP:
        if (f->kind == TG_JF_AM_GROUPS)
            return tg_iov_eq_str(key, "alerts") ? R_ALERTS : R_ANY;
        return tg_iov_eq_str(key, "rules") ? R_RULES : R_ANY;
    case R_SILENCE: return tg_iov_eq_str(key, "matchers") ? R_SMATCHERS : R_ANY;
    case R_SMATCHER:
        return tg_iov_eq_str(key, "name")      ? R_SM_NAME
               : tg_iov_eq_str(key, "value")   ? R_SM_VALUE
               : tg_iov_eq_str(key, "isRegex") ? R_SM_REGEX
               : tg_iov_eq_str(key, "isEqual") ? R_SM_EQUAL
                                               : R_ANY;
    case R_RULE:
        if (tg_iov_eq_str(key, "alerts"))
            return R_ALERTS;
        /* fall through */
    case R_ALERT: return tg_iov_eq_str(key, "labels") ? R_LABELS : R_ANY;
    case R_LABELS: return tg_iov_eq(key, f->label) ? R_LABEL_VALUE : R_ANY;
    default: return R_ANY;
    }
}

static void add_json_string(tg_sb_t *out, const unsigned char *s, size_t len)
{
    tg_sb_addc(out, '"');
    tg_sb_add_json_escaped(out, tg_iov((const char *)s, len));
    tg_sb_addc(out, '"');
}

static void flush(struct tg_jf *f)
{
    if (f->out.len == 0)
        return;
    f->emit(f->arg, f->out.base, f->out.len);
    if (f->out.cap > SHRINK_ABOVE) { /* give back the memory of a huge group */
        tg_sb_free(&f->out);
        tg_sb_init(&f->out, NULL, FLUSH_AT);
    } else {
        tg_sb_clear(&f->out);
    }
}

/* Emit what is decided: everything, or the bytes before the outermost open
 * item (the response head), so the client sees progress early. */
static void flush_decided(struct tg_jf *f)
{
    size_t n = f->out.len;
    int i;

    if (f->open_items == 0) {
        flush(f);
        return;
    }
    for (i = 0; i < f->depth; i++) {
        if (is_item(f->st[i].role) && !f->st[i].silent) {
            n = f->st[i].item_start;
            break;
        }
    }
    if (n == 0)
        return;
    f->emit(f->arg, f->out.base, n);
    memmove(f->out.base, f->out.base + n, f->out.len - n + 1);
    f->out.len -= n;
    for (; i < f->depth; i++)
        if (is_item(f->st[i].role) && !f->st[i].silent)
            f->st[i].item_start -= n;
}

/* Called after every token. */
static int after_token(struct tg_jf *f)
{
    if (f->open_items == 0 && f->out.len >= FLUSH_AT)
        flush(f);
    if (f->open_items > 0 && f->out.len > f->max_buffer)
        return fail(f, "undecided item exceeds the buffer limit");
    return 1;
}

/* Common start of every value: work out its role, check its type, write the
 * separator. Returns 0 (error) or 1. */
static int value_start(struct tg_jf *f, enum vtype t, unsigned char *role, unsigned char *silent,
                       size_t *start)
{
    struct frame *parent = f->depth ? &f->st[f->depth - 1] : NULL;
    const char *err;

    if (parent == NULL) {
        if (f->root_done)
            return fail(f, "more than one JSON value");
        *role = root_role(f, t);
        *silent = 0;
    } else if (parent->is_map) {
        *role = f->next_role;
        *silent = f->next_silent;
    } else {
        *role = element_role(f, parent->role);
        *silent = parent->silent;
    }
    if ((err = shape_error(*role, t)) != NULL)
        return fail(f, err);
    *start = f->out.len;
    if (*silent)
        return 1;
    if (parent != NULL && !parent->is_map) {
        if (parent->emitted > 0)
            tg_sb_addc(&f->out, ',');
        if (!is_item(*role))
            parent->emitted++; /* items count only once kept */
    }
    if (*role == R_LABEL_VALUE && t != V_STRING)
        f->st[f->depth - 2].bad++; /* the label is there but is no tenant value */
    if (*role >= R_SM_NAME && (t == V_MAP || t == V_ARRAY))
        parent->mflags |= SM_BAD;
    return 1;
}

/* A field of a silence matcher: record what it says (see SM_*). */
static void matcher_field(struct tg_jf *f, unsigned char role, enum vtype t, const char *text,
                          size_t len)
{
    struct frame *m = &f->st[f->depth - 1];
    static const unsigned seen_bit[] = {SM_SEEN_NAME, SM_SEEN_VALUE, SM_SEEN_REGEX, SM_SEEN_EQUAL};
    unsigned seen = seen_bit[role - R_SM_NAME];
    tg_iovec_t v = tg_iov(text, len);

    if (m->mflags & seen)
        m->mflags |= SM_BAD;
    m->mflags |= seen;
    switch (role) {
    case R_SM_NAME:
        if (t == V_STRING && tg_iov_eq(v, f->label))
            m->mflags |= SM_NAME_OK;
        break;
    case R_SM_VALUE:
        if (t == V_STRING && strset_has(&f->values, v))
            m->mflags |= SM_VALUE_OK;
        break;
    case R_SM_REGEX:
        if (t == V_SCALAR && tg_iov_eq_str(v, "false"))
            m->mflags |= SM_REGEX_FALSE;
        break;
    default: /* R_SM_EQUAL */
        if (!(t == V_SCALAR && tg_iov_eq_str(v, "true")))
            m->mflags |= SM_EQUAL_BAD;
        break;
    }
}

static int matcher_owns(unsigned fl)
{
    return (fl & (SM_NAME_OK | SM_VALUE_OK | SM_REGEX_FALSE | SM_EQUAL_BAD | SM_BAD)) ==
           (SM_NAME_OK | SM_VALUE_OK | SM_REGEX_FALSE);
}

static int scalar(struct tg_jf *f, enum vtype t, const char *text, size_t len)
{
    unsigned char role, silent;
    size_t start;

    if (!value_start(f, t, &role, &silent, &start))
        return 0;
    if (role == R_LABEL_VALUE && t == V_STRING) {
        struct frame *item = &f->st[f->depth - 2]; /* labels' owner */
        if (strset_has(&f->values, tg_iov(text, len)))
            item->hits++;
        else
            item->bad++;
    }
    if (role >= R_SM_NAME)
        matcher_field(f, role, t, text, len);
    if (!silent) {
        if (t == V_STRING)
            add_json_string(&f->out, (const unsigned char *)text, len);
        else
            tg_sb_add(&f->out, text, len);
    }
    if (f->depth == 0)
        f->root_done = 1;
    return after_token(f);
}

/* ---- yajl callbacks ---------------------------------------------------------- */

static int cb_null(void *ctx)
{
    return scalar(ctx, V_NULL, "null", 4);
}

static int cb_boolean(void *ctx, int b)
{
    return b ? scalar(ctx, V_SCALAR, "true", 4) : scalar(ctx, V_SCALAR, "false", 5);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    return scalar(ctx, V_SCALAR, s, len); /* the upstream's exact digits */
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return scalar(ctx, V_STRING, (const char *)s, len);
}

static int open_container(struct tg_jf *f, int is_map)
{
    unsigned char role, silent;
    size_t start;
    struct frame *fr;

    if (!value_start(f, is_map ? V_MAP : V_ARRAY, &role, &silent, &start))
        return 0;
    if (f->depth == MAX_DEPTH)
        return fail(f, "JSON nested too deeply");
    fr = &f->st[f->depth++];
    *fr = (struct frame){
        .is_map = (unsigned char)is_map, .role = role, .silent = silent, .item_start = start};
    if (!silent) {
        tg_sb_addc(&f->out, is_map ? '{' : '[');
        if (is_item(role))
            f->open_items++;
    }
    return after_token(f);
}

static int cb_start_map(void *ctx)
{
    return open_container(ctx, 1);
}

static int cb_start_array(void *ctx)
{
    return open_container(ctx, 0);
}

static int keep_item(const struct frame *fr)
{
    if (fr->role == R_GROUP)
        return fr->hits > 0; /* kept rules */
    return fr->hits > 0 && fr->bad == 0;
}

/* An item closed: keep its bytes, or cut them (and its comma) off again. */
static void decide_item(struct tg_jf *f, const struct frame *fr)
{
    struct frame *parent = &f->st[f->depth - 1]; /* the array holding it */

    TG_CHECK(f->open_items > 0);
    f->open_items--;
    if (!keep_item(fr)) {
        f->out.len = fr->item_start;
        f->out.base[f->out.len] = '\0';
        return;
    }
    parent->emitted++;
    if (fr->role == R_RULE || (fr->role == R_ALERT && f->kind == TG_JF_AM_GROUPS))
        f->st[f->depth - 2].hits++; /* rules / alerts array -> its group */
}

static int close_container(struct tg_jf *f)
{
    struct frame fr = f->st[--f->depth];

    if (fr.role == R_SMATCHER && matcher_owns(fr.mflags))
        f->st[f->depth - 2].hits++; /* matchers array -> its silence */
    if (!fr.silent) {
        tg_sb_addc(&f->out, fr.is_map ? '}' : ']');
        if (is_item(fr.role))
            decide_item(f, &fr);
    }
    if (f->depth == 0)
        f->root_done = 1;
    return after_token(f);
}

static int cb_end_map(void *ctx)
{
    return close_container(ctx);
}

static int cb_end_array(void *ctx)
{
    return close_container(ctx);
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct tg_jf *f = ctx;
    struct frame *fr = &f->st[f->depth - 1];

    tg_iovec_t k = tg_iov((const char *)key, len);

    f->next_role = key_role(f, fr->role, k, &f->next_silent);
    f->next_silent |= fr->silent;
    if (fr->role == R_SILENCE) {
        /* a second list of matchers (Go keeps the last one, we counted the
         * first) or Alertmanager 0.28+ matcher sets: cannot be the tenant's */
        if (tg_iov_eq_str(k, "matcherSets") ||
            (f->next_role == R_SMATCHERS && (fr->mflags & SILENCE_SEEN_MATCHERS)))
            fr->bad++;
        if (f->next_role == R_SMATCHERS)
            fr->mflags |= SILENCE_SEEN_MATCHERS;
    }
    if (!f->next_silent) {
        if (fr->emitted++ > 0)
            tg_sb_addc(&f->out, ',');
        add_json_string(&f->out, key, len);
        tg_sb_addc(&f->out, ':');
    } else if (f->kind == TG_JF_AM_STATUS && fr->role == R_ROOT && !fr->silent &&
               tg_iov_eq_str(k, "config")) {
        if (fr->emitted++ > 0)
            tg_sb_addc(&f->out, ',');
        tg_sb_adds(&f->out, "\"config\":{\"original\":\"\"}");
    }
    return after_token(f);
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

/* ---- public API ---------------------------------------------------------------- */

struct tg_jf *tg_jf_new(enum tg_jf_kind kind, tg_iovec_t label, const tg_iovec_t *values,
                        size_t n_values, tg_jf_emit_fn emit, void *arg)
{
    struct tg_jf *f;

    if (label.len == 0 || emit == NULL)
        return NULL; /* an empty label name would match {"":...} */
    f = tg_calloc(1, sizeof(*f));
    f->y = yajl_alloc(&callbacks, NULL, f);
    if (f->y == NULL) {
        free(f);
        return NULL;
    }
    f->kind = kind;
    tg_arena_init(&f->arena, NULL, 0);
    f->label = tg_arena_iovdup(&f->arena, label);
    strset_build(&f->values, &f->arena, values, n_values);
    f->emit = emit;
    f->arg = arg;
    f->max_buffer = DEFAULT_MAX;
    tg_sb_init(&f->out, NULL, FLUSH_AT);
    return f;
}

int tg_jf_set_metric_names(struct tg_jf *f, const tg_iovec_t *names, size_t n)
{
    if (f->consumed > 0 || f->failed || f->finished)
        return -1; /* changing the rules mid-stream would be incoherent */
    strset_build(&f->names, &f->arena, names, n);
    return 0;
}

void tg_jf_set_max_buffer(struct tg_jf *f, size_t max_bytes)
{
    f->max_buffer = max_bytes;
}

/* Record the error of the last yajl call, with the byte offset. */
static int parse_failed(struct tg_jf *f, const unsigned char *buf, size_t len)
{
    size_t off = f->consumed + (buf ? yajl_get_bytes_consumed(f->y) : 0);

    f->failed = 1;
    if (f->cb_error != NULL) {
        snprintf(f->errbuf, sizeof(f->errbuf), "offset %zu: %s", off, f->cb_error);
    } else {
        unsigned char *msg = yajl_get_error(f->y, 0, buf, len);
        size_t n = msg ? strlen((const char *)msg) : 0;
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--; /* yajl ends its messages with a newline */
        snprintf(f->errbuf, sizeof(f->errbuf), "offset %zu: invalid JSON: %.*s", off, (int)n,
                 msg ? (const char *)msg : "");
        if (msg)
            yajl_free_error(f->y, msg);
    }
    return -1;
}

int tg_jf_feed(struct tg_jf *f, const void *buf, size_t len)
{
    if (f->failed || f->finished)
        return -1;
    if (len == 0)
        return 0;
    if (yajl_parse(f->y, buf, len) != yajl_status_ok)
        return parse_failed(f, buf, len);
    f->consumed += len;
    flush_decided(f);
    return 0;
}

int tg_jf_finish(struct tg_jf *f)
{
    if (f->failed || f->finished)
        return -1;
    f->finished = 1;
    if (yajl_complete_parse(f->y) != yajl_status_ok)
        return parse_failed(f, NULL, 0);
    if (!f->root_done || f->depth != 0) {
        f->failed = 1;
        snprintf(f->errbuf, sizeof(f->errbuf), "offset %zu: incomplete JSON", f->consumed);
        return -1;
    }
    TG_CHECK(f->open_items == 0);
    flush(f);
    return 0;
}

const char *tg_jf_error(const struct tg_jf *f)
{
    return f->failed ? f->errbuf : NULL;
}

void tg_jf_free(struct tg_jf *f)
{
    if (f == NULL)
        return;
    yajl_free(f->y);
    tg_sb_free(&f->out);
    tg_arena_destroy(&f->arena);
    free(f);
}
