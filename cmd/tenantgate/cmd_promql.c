/*
 * tenantgate enforce --label L --value V [--value V2 ...] [--error-on-replace]
 *                    [--allow-info] [-0|--null] [feature flags] [QUERY]
 * tenantgate fmt [--pretty|--json] [-0|--null] [feature flags] [QUERY]
 *
 * With QUERY: print the result (exit 0) or the error (exit 1). Without: read
 * queries from stdin, one per line or NUL-separated with -0, and write one
 * result per query in the same framing (on failure the error message, exit 1
 * if any failed). Error messages are the ones the proxy answers with, and
 * say what they are: "1:5: parse error: ...", "enforce error: ...".
 */
#include "cmd_promql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantgate/arena.h"
#include "tenantgate/promql.h"
#include "tenantgate/sb.h"

enum fmt_mode { FMT_CANONICAL, FMT_PRETTY, FMT_JSON };

struct cli {
    int enforce;
    struct tg_promql_opts opts;
    struct tg_promql_enforce enf;
    tg_iovec_t *values;
    size_t n_values;
    int nul;
    enum fmt_mode mode;
    const char *query;
};

static int usage(const struct cli *c, const char *name)
{
    if (c->enforce)
        fprintf(
            stderr,
            "usage: tenantgate %s --label NAME --value V [--value V2 ...] [--error-on-replace]\n"
            "       [--allow-info] [-0|--null] [--enable-promql-*] [QUERY]\n",
            name);
    else
        fprintf(stderr,
                "usage: tenantgate %s [--pretty|--json] [-0|--null] [--enable-promql-*] [QUERY]\n",
                name);
    fprintf(stderr, "feature flags: --enable-promql-duration-expression-parsing, "
                    "--enable-promql-experimental-functions,\n"
                    "               --enable-promql-extended-range-selectors, "
                    "--enable-promql-binop-fill-modifiers\n");
    return 2;
}

/* "--name VALUE" or "--name=VALUE"; returns the value or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int feature_flag(struct cli *c, const char *a)
{
    if (strcmp(a, "--enable-promql-duration-expression-parsing") == 0)
        c->opts.duration_expr = 1;
    else if (strcmp(a, "--enable-promql-experimental-functions") == 0)
        c->opts.experimental_functions = 1;
    else if (strcmp(a, "--enable-promql-extended-range-selectors") == 0)
        c->opts.extended_range = 1;
    else if (strcmp(a, "--enable-promql-binop-fill-modifiers") == 0)
        c->opts.binop_fill = 1;
    else
        return 0;
    return 1;
}

/* Queries may start with '-' ("-x > 0"): only --word, -0 and -h are options. */
static int is_option(const char *a)
{
    return (a[0] == '-' && a[1] == '-' &&
            ((a[2] >= 'a' && a[2] <= 'z') || (a[2] >= 'A' && a[2] <= 'Z'))) ||
           strcmp(a, "-h") == 0;
}

static int parse_args(struct cli *c, int argc, char **argv)
{
    int i;
    const char *v;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (feature_flag(c, a)) {
            continue;
        } else if (strcmp(a, "-0") == 0 || strcmp(a, "--null") == 0) {
            c->nul = 1;
        } else if (c->enforce && strcmp(a, "--error-on-replace") == 0) {
            c->enf.error_on_replace = 1;
        } else if (c->enforce && strcmp(a, "--allow-info") == 0) {
            c->enf.allow_info = 1;
        } else if (c->enforce && (v = opt_value(argc, argv, &i, "--label")) != NULL) {
            c->enf.label = tg_iov_str(v);
        } else if (c->enforce && (v = opt_value(argc, argv, &i, "--value")) != NULL) {
            c->values[c->n_values++] = tg_iov_str(v);
        } else if (!c->enforce && strcmp(a, "--pretty") == 0) {
            c->mode = FMT_PRETTY;
        } else if (!c->enforce && strcmp(a, "--json") == 0) {
            c->mode = FMT_JSON;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            return -1;
        } else if (strcmp(a, "--") == 0 && i + 2 == argc && c->query == NULL) {
            c->query = argv[++i];
        } else if (is_option(a)) {
            fprintf(stderr, "tenantgate %s: unknown or incomplete option %s\n", argv[0], a);
            return -1;
        } else if (c->query == NULL) {
            c->query = a;
        } else {
            fprintf(stderr, "tenantgate %s: more than one query given\n", argv[0]);
            return -1;
        }
    }
    c->enf.values = c->values;
    c->enf.n_values = c->n_values;
    if (c->enforce && (c->enf.label.len == 0 || c->n_values == 0)) {
        fprintf(stderr, "tenantgate %s: --label and at least one --value are required\n", argv[0]);
        return -1;
    }
    return 0;
}

/* One query: result or "error: ..." into out (no framing). 0 ok, -1 failed. */
static int run_one(const struct cli *c, tg_arena_t *a, tg_iovec_t q, tg_sb_t *out)
{
    struct tg_promql_error err;
    struct tg_promql_node *root;
    tg_iovec_t res;

    if (c->enforce) {
        if (tg_promql_enforce_query(a, q, &c->opts, &c->enf, &res, &err) < 0)
            goto fail;
        tg_sb_addiov(out, res);
        return 0;
    }
    if (tg_promql_parse(a, q, &c->opts, &root, &err) < 0)
        goto fail;
    if (c->mode == FMT_PRETTY)
        tg_promql_format(root, out);
    else if (c->mode == FMT_JSON)
        tg_promql_ast_json(root, out);
    else
        tg_promql_print(root, out);
    return 0;
fail: /* the message names its kind ("1:5: parse error: ...", "enforce error: ...") */
    tg_sb_adds(out, err.msg);
    return -1;
}

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap), *nb;

    if (buf == NULL)
        return NULL;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            if ((nb = realloc(buf, cap *= 2)) == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
    }
    *len = n;
    return buf;
}

static int run_stream(const struct cli *c)
{
    char sep = c->nul ? '\0' : '\n';
    size_t len, start = 0, i;
    char *buf = read_all(stdin, &len);
    tg_arena_t a;
    tg_sb_t out;
    int status = 0;

    if (buf == NULL) {
        fprintf(stderr, "tenantgate: cannot read stdin\n");
        return 1;
    }
    tg_arena_init(&a, NULL, 0);
    for (i = 0; i <= len; i++) {
        size_t end = i;
        if (i < len && buf[i] != sep)
            continue;
        if (i == len && start == len)
            break; /* no unterminated last record */
        if (!c->nul && end > start && buf[end - 1] == '\r')
            end--;
        tg_arena_reset(&a);
        tg_sb_init(&out, &a, 256);
        if (run_one(c, &a, tg_iov(buf + start, end - start), &out) < 0)
            status = 1;
        tg_sb_addc(&out, sep);
        fwrite(out.base, 1, out.len, stdout);
        start = i + 1;
    }
    tg_arena_destroy(&a);
    free(buf);
    if (fflush(stdout) != 0)
        status = 1;
    return status;
}

static int run(struct cli *c, int argc, char **argv)
{
    tg_arena_t a;
    tg_sb_t out;
    int status;

    if (parse_args(c, argc, argv) < 0)
        return usage(c, argv[0]);
    if (c->query == NULL)
        return run_stream(c);
    tg_arena_init(&a, NULL, 0);
    tg_sb_init(&out, &a, 256);
    status = run_one(c, &a, tg_iov_str(c->query), &out) < 0 ? 1 : 0;
    tg_sb_addc(&out, '\n');
    fwrite(out.base, 1, out.len, status ? stderr : stdout);
    tg_arena_destroy(&a);
    return status;
}

int tg_cmd_enforce(int argc, char **argv)
{
    struct cli c;
    int status;

    memset(&c, 0, sizeof(c));
    c.enforce = 1;
    c.values = calloc((size_t)argc + 1, sizeof(*c.values));
    if (c.values == NULL)
        return 1;
    status = run(&c, argc, argv);
    free(c.values);
    return status;
}

int tg_cmd_fmt(int argc, char **argv)
{
    struct cli c;
    tg_iovec_t none[1];

    memset(&c, 0, sizeof(c));
    c.values = none;
    return run(&c, argc, argv);
}
