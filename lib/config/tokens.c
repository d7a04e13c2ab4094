/*
 * kube-apiserver's --token-auth-file: CSV records `token,user,uid[,"g1,g2"]`,
 * read like Go's encoding/csv (RFC 4180 quoting, quoted fields may span lines,
 * empty lines skipped, no space trimming), with two deliberate differences
 * from kube-apiserver: a line starting with '#' is a comment, and an empty or
 * duplicate token is an error rather than a warning (a duplicate silently
 * changing who a token is would be a security surprise).
 */
#include "config-int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct csv {
    const char *p, *end;
    const char *name;
    int line; /* current line, 1-based */
    char *err;
    size_t errlen;
};

struct record {
    char **f;
    size_t n;
    int line; /* where the record starts */
};

static void record_clear(struct record *r)
{
    tg_strlist_free(r->f, r->n);
    r->f = NULL;
    r->n = 0;
}

/* A quoted field; c->p is just past the opening quote. */
static int csv_quoted(struct csv *c, char **out)
{
    size_t cap = 64, n = 0;
    char *buf = tg_realloc(NULL, cap);
    for (;;) {
        char ch;
        if (c->p >= c->end) {
            free(buf);
            return tg_cfg_err(c->err, c->errlen, "%s:%d: missing closing \" in quoted field",
                              c->name, c->line);
        }
        ch = *c->p++;
        if (ch == '"') {
            if (c->p < c->end && *c->p == '"') {
                c->p++;
            } else {
                break;
            }
        } else if (ch == '\n') {
            c->line++;
        } else if (ch == '\r' && c->p < c->end && *c->p == '\n') {
            continue; /* CRLF inside a quoted field reads as LF, as in Go */
        }
        if (n + 1 >= cap)
            buf = tg_realloc(buf, cap *= 2);
        buf[n++] = ch;
    }
    if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
        free(buf);
        return tg_cfg_err(c->err, c->errlen, "%s:%d: unexpected text after closing \"", c->name,
                          c->line);
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static int csv_plain(struct csv *c, char **out)
{
    const char *start = c->p;
    while (c->p < c->end && *c->p != ',' && *c->p != '\n') {
        if (*c->p == '"')
            return tg_cfg_err(c->err, c->errlen,
                              "%s:%d: bare \" in unquoted field (quote the whole field)", c->name,
                              c->line);
        c->p++;
    }
    /* a CR right before the LF belongs to the line ending */
    *out = tg_strndup(start, (size_t)(c->p - start) - (c->p > start && c->p[-1] == '\r' &&
                                                       (c->p == c->end || *c->p == '\n')));
    return 0;
}

/* Skip empty lines and comments; 0 at end of input. */
static int csv_next_line(struct csv *c)
{
    while (c->p < c->end) {
        if (*c->p == '\n') {
            c->p++;
            c->line++;
        } else if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') {
            c->p += 2;
            c->line++;
        } else if (*c->p == '#') {
            while (c->p < c->end && *c->p != '\n')
                c->p++;
        } else {
            return 1;
        }
    }
    return 0;
}

static int csv_record(struct csv *c, struct record *r)
{
    r->line = c->line;
    for (;;) {
        char *field = NULL;
        int rc;
        if (c->p < c->end && *c->p == '"') {
            c->p++;
            rc = csv_quoted(c, &field);
        } else {
            rc = csv_plain(c, &field);
        }
        if (rc < 0)
            return -1;
        r->f = tg_realloc(r->f, (r->n + 1) * sizeof(*r->f));
        r->f[r->n++] = field;
        if (c->p < c->end && *c->p == '\r')
            c->p++;
        if (c->p >= c->end || *c->p == '\n')
            return 0;
        c->p++; /* the comma */
    }
}

static void split_groups(struct tg_static_token *t, const char *s)
{
    while (*s) {
        size_t len = strcspn(s, ",");
        if (len > 0) /* "a,,b" and "" give no empty group names */
            tg_strlist_push(&t->groups, &t->n_groups, s, len);
        s += len + (s[len] == ',');
    }
}

static int record_to_token(struct csv *c, struct record *r, struct tg_static_token *t)
{
    if (r->n < 3)
        return tg_cfg_err(
            c->err, c->errlen,
            "%s:%d: expected at least 3 columns (token,user,uid[,\"group1,group2\"]), "
            "found %zu",
            c->name, r->line, r->n);
    if (r->f[0][0] == '\0')
        return tg_cfg_err(c->err, c->errlen, "%s:%d: empty token", c->name, r->line);
    if (r->f[1][0] == '\0')
        return tg_cfg_err(c->err, c->errlen, "%s:%d: empty user name", c->name, r->line);
    memset(t, 0, sizeof(*t));
    t->token = r->f[0];
    t->user = r->f[1];
    t->uid = r->f[2];
    if (r->n >= 4)
        split_groups(t, r->f[3]);
    /* columns past the fourth are ignored, as kube-apiserver does */
    for (size_t i = 3; i < r->n; i++)
        free(r->f[i]);
    free(r->f);
    r->f = NULL;
    r->n = 0;
    EVP_Digest(t->token, strlen(t->token), t->token_sha256, NULL, EVP_sha256(), NULL);
    return 0;
}

int tg_tokens_parse(const char *data, size_t len, const char *name, struct tg_static_token **out,
                    size_t *n_out, char *err, size_t errlen)
{
    struct csv c = {data, data + len, name, 1, err, errlen};
    struct tg_static_token *toks = NULL;
    int *lines = NULL;
    size_t n = 0, i;
    struct record r = {0};

    while (csv_next_line(&c)) {
        if (csv_record(&c, &r) < 0)
            goto fail;
        toks = tg_realloc(toks, (n + 1) * sizeof(*toks));
        lines = tg_realloc(lines, (n + 1) * sizeof(*lines));
        if (record_to_token(&c, &r, &toks[n]) < 0)
            goto fail;
        lines[n] = r.line;
        for (i = 0; i < n; i++) {
            if (strcmp(toks[i].token, toks[n].token) == 0) {
                tg_cfg_err(err, errlen, "%s:%d: duplicate token (first on line %d)", name, lines[n],
                           lines[i]);
                n++;
                goto fail;
            }
        }
        n++;
    }
    free(lines);
    *out = toks;
    *n_out = n;
    return 0;
fail:
    record_clear(&r);
    tg_tokens_free(toks, n);
    free(lines);
    return -1;
}

int tg_tokens_load_file(const char *path, struct tg_static_token **out, size_t *n_out, char *err,
                        size_t errlen)
{
    char *data;
    size_t len;
    int rc;
    if (tg_read_file(path, TG_FILE_MAX, &data, &len, err, errlen) < 0)
        return -1;
    rc = tg_tokens_parse(data, len, path, out, n_out, err, errlen);
    free(data);
    return rc;
}

void tg_tokens_free(struct tg_static_token *t, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (t[i].token)
            OPENSSL_cleanse(t[i].token, strlen(t[i].token));
        free(t[i].token);
        free(t[i].user);
        free(t[i].uid);
        tg_strlist_free(t[i].groups, t[i].n_groups);
    }
    free(t);
}
