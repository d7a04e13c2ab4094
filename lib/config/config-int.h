/*
 * Private interface between the configuration modules (config.c,
 * flags.c, yaml.c, values.c, tokens.c, oidc.c) and their
 * unit tests. Not part of the public API: nothing outside lib/config/ and
 * test/unit/test_config.c should include it.
 *
 * Dependencies run one way: config.c (load, check, reload, summary) calls
 * flags.c (command line), yaml.c (the file; it calls oidc.c for its oidc:
 * section) and tokens.c (--token-auth-file); every one of them uses values.c
 * (scalar parsers, string lists), which calls none of them.
 *
 * Conventions: every parser returns 0 or -1 and on -1 writes a message
 * without a trailing newline into (err, errlen). Heap strings returned through
 * out-parameters are owned by the caller (free()).
 */
#ifndef TENANTGATE_CONFIG_INTERNAL_H
#define TENANTGATE_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tenantgate/core.h"
#include "tenantgate/config.h"

/* printf into err (never overflows, always NUL-terminated); returns -1 so
 * error paths can `return tg_cfg_err(...)`. */
int tg_cfg_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append one more error as a new line of err (which holds "" or earlier
 * lines); when err is full, a last line "(more errors not shown)" says so. */
void tg_cfg_err_add(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- scalar value parsers, string lists (values.c) ---- */

/* Append a heap copy of s[0..n) to a (char **, size_t) list. */
void tg_strlist_push(char ***list, size_t *n, const char *s, size_t len);
void tg_strlist_free(char **list, size_t n);

/* Go time.ParseDuration syntax ("1h2m3.5s", "500ms", "0"); negative values
 * are refused. Result in milliseconds, sub-millisecond rests rounded up so a
 * non-zero duration never becomes 0. Must fit an int. */
int tg_parse_duration_ms(const char *s, int *out_ms, char *err, size_t errlen);
/* The same plus Prometheus' model.Duration units d, w, y (365d), as
 * Prometheus writes long durations (32d, 90d, 2w); 64-bit milliseconds. */
int tg_parse_duration_ms64(const char *s, int64_t *out_ms, char *err, size_t errlen);
/* Bytes: "1048576", "64Ki", "4Mi", "1Gi". */
int tg_parse_size(const char *s, size_t *out, char *err, size_t errlen);
/* Go strconv.ParseBool: 1 t T TRUE true True 0 f F FALSE false False. */
int tg_parse_bool(const char *s, int *out, char *err, size_t errlen);
/* YAML 1.1 booleans as Kubernetes' YAML decoder reads them: the Go set
 * above minus 1/0, plus yes/no/on/off/y/n in their three cases. */
int tg_parse_yaml_bool(const char *s, int *out, char *err, size_t errlen);
/* Decimal integer in [min, max]. */
int tg_parse_int(const char *s, long min, long max, long *out, char *err, size_t errlen);
/* "HOST:PORT", "[v6]:PORT" or ":PORT". Fills out->host (heap or NULL), port, set. */
int tg_parse_listen(const char *s, struct tg_listen *out, char *err, size_t errlen);
/* http(s)://host[:port][/path]; no user info, query or fragment. */
int tg_parse_upstream_url(const char *s, struct tg_url *out, char *err, size_t errlen);
/* VersionTLS12 / VersionTLS13 -> TLS1_2_VERSION / TLS1_3_VERSION. */
int tg_parse_tls_version(const char *s, int *out, char *err, size_t errlen);
/* Comma-separated Go cipher suite names -> OpenSSL cipher list (heap, NULL
 * when only TLS 1.3 names were given: those are not configurable, as in Go). */
int tg_translate_cipher_suites(const char *go_list, char **out, char *err, size_t errlen);
/* "get" | "http" */
int tg_parse_verb_mode(const char *s, enum tg_verb_mode *out, char *err, size_t errlen);
/* "error" | "warn" | "info" | "debug", or a klog verbosity as --v takes it
 * (0-3 = info, 4 and more = debug) -> enum tg_log_level. One meaning for
 * --v, --log-level and log.level. */
int tg_parse_log_level(const char *s, int *out, char *err, size_t errlen);
/* klog's --v: an integer 0-100 -> enum tg_log_level (see above). */
int tg_parse_klog_v(const char *s, int *out, char *err, size_t errlen);
/* Requests per second, a decimal number 0-100000 (fractions kept: 0.5 is
 * one call every 2 s), as --kube-api-qps and kubernetes.qps take it. */
int tg_parse_qps(const char *s, double *out, char *err, size_t errlen);
/* Validate a resourceAttributes value and rewrite every `{{ .Value }}`
 * spelling ({{.Value}}, {{ .Value}}, ...) to the canonical TG_VALUE_TEMPLATE.
 * Any other `{{ ... }}` action is an error. *has_template is set to 1 when
 * the value uses the template. *out is heap. */
int tg_normalize_template(const char *s, char **out, int *has_template, char *err, size_t errlen);
#define TG_VALUE_TEMPLATE "{{ .Value }}"

/* ---- token file (tokens.c) ---- */

/* Parse kube-apiserver's --token-auth-file CSV from memory. `name` is used in
 * messages ("tokens.csv:3: ..."). Appends nothing on error. */
int tg_tokens_parse(const char *data, size_t len, const char *name, struct tg_static_token **out,
                    size_t *n_out, char *err, size_t errlen);
int tg_tokens_load_file(const char *path, struct tg_static_token **out, size_t *n_out, char *err,
                        size_t errlen);
void tg_tokens_free(struct tg_static_token *t, size_t n);

/* ---- YAML config file (yaml.c) ---- */

/* Values of the config file that need merging with flags rather than a plain
 * overwrite; heap strings owned by the struct (tg_yaml_extra_free). */
struct tg_yaml_extra {
    char *rewrite_query_param; /* authorization.rewrites.byQueryParameter.name */
    char *rewrite_header;      /* authorization.rewrites.byHttpHeader.name */
    int has_template;          /* some resourceAttributes value uses {{ .Value }} */
    int template_line;         /* where, for the message when no rewrite gives it meaning */
    char *template_key;
};
void tg_yaml_extra_free(struct tg_yaml_extra *x);

/* Load `data` (the file's contents; `name` for messages) onto cfg, whose
 * fields hold defaults. Errors name the file, line and key. */
int tg_yaml_load(struct tg_config *cfg, struct tg_yaml_extra *x, const char *data, size_t len,
                 const char *name, char *err, size_t errlen);
int tg_yaml_load_file(struct tg_config *cfg, struct tg_yaml_extra *x, const char *path, char *err,
                      size_t errlen);
/* Free a limits: section (config_free). */
void tg_limits_config_free(struct tg_limits_config *l);

/* One documented config-file key, for --help / docs and their consistency test. */
struct tg_yaml_key_doc {
    const char *path;  /* "cache.authnTTL", "authorization.static[].user.groups[]" */
    const char *type;  /* "duration", "size", "int", "bool", "string", "list", ... */
    const char *deflt; /* NULL = none */
    const char *help;
};
extern const struct tg_yaml_key_doc tg_yaml_key_docs[];
/* Every leaf path of the libcyaml schema, same spelling as tg_yaml_key_docs;
 * calls fn once per leaf. For the docs consistency test. */
void tg_yaml_schema_leaves(void (*fn)(const char *path, void *ctx), void *ctx);

/* ---- OIDC issuers (oidc.c) ---- */

/* An issuer URL: https://host[:port][/path], no query or fragment. */
int tg_oidc_check_url(const char *s, char *msg, size_t len);
/* One of the algorithms tg_jws_alg_from_name() knows. */
int tg_oidc_check_sign_alg(const char *s, char *msg, size_t len);
/* Add "claim=value" to is->required_claims / required_values. */
int tg_oidc_add_required(struct tg_oidc_issuer *is, const char *s, char *msg, size_t len);
/* Check one issuer and fill in what load decides: RS256 when no algorithm
 * is given, the effective username prefix, "" for no groups prefix. On -1
 * *key names the failing file key (issuer, clientID, ...). */
int tg_oidc_issuer_finish(struct tg_oidc_issuer *is, const char **key, char *msg, size_t len);
void tg_oidc_issuer_free(struct tg_oidc_issuer *is);
/* After the flags: the issuer of the --oidc-* flags goes first in
 * cfg->oidc_issuers (the file's issuers[] are already there); an issuer
 * configured twice is an error. */
int tg_oidc_build(struct tg_config *cfg, char *err, size_t errlen);

/* ---- flags (flags.c) ---- */

enum tg_flag_kind {
    TG_FK_STRING,
    TG_FK_BOOL,
    TG_FK_INT, /* int field; range in min/max */
    TG_FK_QPS, /* float, stored in a double (tg_parse_qps) */
    TG_FK_DURATION,
    TG_FK_LISTEN,
    TG_FK_LIST_COMMA,  /* repeatable, each value split on commas */
    TG_FK_LIST_REPEAT, /* repeatable, one value each (prom-label-proxy --label-value) */
    TG_FK_TLS_VERSION,
    TG_FK_CIPHERS,
    TG_FK_VERB_MODE,
    TG_FK_LOG_LEVEL,
    TG_FK_KLOG_V,
    TG_FK_NOOP_TRUE,    /* honoured when true, warning when false (--logtostderr) */
    TG_FK_IGNORED_BOOL, /* accepted, warning, no effect */
    TG_FK_IGNORED_VALUE,
    TG_FK_REFUSED_BOOL,  /* error when true: we cannot honour it */
    TG_FK_REFUSED_VALUE, /* error when non-empty */
    TG_FK_HELP,
    TG_FK_VERSION,
};

struct tg_flag_def {
    const char *name;   /* without dashes */
    const char *anchor; /* kube-rbac-proxy, prom-label-proxy, klog, tenantgate */
    enum tg_flag_kind kind;
    size_t offset;       /* into struct tg_config */
    size_t count_offset; /* lists: the size_t count field */
    long min, max;       /* TG_FK_INT range */
    const char *deflt;   /* as shown in --help; NULL = none */
    const char *mirrors; /* config-file key it overrides, or NULL */
    const char *help;
};
extern const struct tg_flag_def tg_flag_defs[];
const struct tg_flag_def *tg_flag_find(const char *name, size_t len);

/* A parsed command line: flags in argv order with their values. */
struct tg_flag_use {
    const struct tg_flag_def *def;
    const char *value; /* points into argv or a static "true"; never NULL */
    size_t vlen;
};
struct tg_flag_uses {
    struct tg_flag_use *v;
    size_t n;
    int help, version;
    const char *config_file; /* last --config-file, points into argv */
};
/* Tokenize argv[1..] into uses (heap array; free uses->v). Unknown flags,
 * missing values and stray arguments are errors. */
int tg_flags_scan(int argc, char **argv, struct tg_flag_uses *uses, char *err, size_t errlen);
/* Apply every use onto cfg in order. A list flag's first use replaces what
 * the config file gave. Bad values are errors naming the flag. `warn`: log
 * the warnings of ignored flags (the load applies twice, warns once). */
int tg_flags_apply(struct tg_config *cfg, const struct tg_flag_uses *uses, int warn, char *err,
                   size_t errlen);

/* The reference text printed by --help. */
void tg_config_write_usage(FILE *out);
/* docs/config.md: the same text inside a Markdown page. */
void tg_config_write_markdown(FILE *out);

/* ---- config.c ---- */

/* A config holding only defaults (refs = 1). */
struct tg_config *tg_config_new_defaults(void);

#endif
