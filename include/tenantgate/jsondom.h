/*
 * A small JSON document tree for request bodies that must be rewritten as a
 * whole (an Alertmanager silence) and for the little answers the upstream
 * stage reads itself (a silence fetched for its ownership check). Big
 * responses never come here: they are stream-filtered (jsonfilter.h).
 *
 * Parsed with yajl's callback parser into an arena: strict RFC 8259 (no
 * comments, one value, nothing after it but whitespace), UTF-8 validated,
 * nesting bounded, and a key repeated within one object is an error (Go's
 * encoding/json would silently keep the last one, a reader that keeps the
 * first would see another document: refuse rather than pick).
 *
 * Ownership: every node and string lives in the arena given to
 * tg_json_parse(); the input buffer is not referenced afterwards.
 */
#ifndef TENANTGATE_JSONDOM_H
#define TENANTGATE_JSONDOM_H

#include <stddef.h>
#include "tenantgate/arena.h"
#include "tenantgate/iovec.h"
#include "tenantgate/sb.h"

enum tg_json_type {
    TG_JSON_NULL,
    TG_JSON_BOOL,
    TG_JSON_NUMBER,
    TG_JSON_STRING,
    TG_JSON_ARRAY,
    TG_JSON_OBJECT,
};

struct tg_json {
    enum tg_json_type type;
    int boolean;           /* BOOL */
    tg_iovec_t text;       /* STRING: decoded UTF-8 (NUL-terminated); NUMBER: as written */
    tg_iovec_t key;        /* the member name, for a value inside an object */
    struct tg_json *first; /* ARRAY / OBJECT: children in document order */
    struct tg_json *next;  /* next sibling */
    size_t n;              /* ARRAY / OBJECT: number of children */
};

/* Parse `len` bytes. Returns 0 and *out, or -1 with a message naming the
 * byte offset ("offset 12: invalid JSON: ...") in err. */
int tg_json_parse(tg_arena_t *a, const char *buf, size_t len, int max_depth, struct tg_json **out,
                  char *err, size_t errlen);

/* The member `key` of an object, or NULL (also for a non-object). */
const struct tg_json *tg_json_get(const struct tg_json *obj, const char *key);

/* Append v as compact JSON (strings re-escaped, numbers as written). */
void tg_json_write(tg_sb_t *out, const struct tg_json *v);

/* "a string", "an object", ... for messages. */
const char *tg_json_type_name(enum tg_json_type t);

#endif
