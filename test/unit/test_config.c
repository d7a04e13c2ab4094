/* Unit tests for lib/config/: flags, config file, token file, merge,
 * validation, reload, --help and docs/config.md. Runs in the source dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "../../cmd/tenantgate/cmd_config.c" /* not in tgcore: compiled in here */
#include "../../lib/config/config-int.h"
#include "tenantgate/config.h"
#include "tenantgate/log.h"

#define DATA "test/unit/data/config/"
/* The seed config as manifests/base ships it (test_kube_proxy.py reads it too). */
#define SEED       "manifests/base/config.yaml"
#define KUBECONFIG DATA "kubeconfig.yaml"
#define UP         "--upstream=http://127.0.0.1:9090/"
#define LISTEN     "--insecure-listen-address=127.0.0.1:8080"
#define TOKENS     "--token-auth-file=" DATA "tokens.csv"
/* the smallest command line that validates without Kubernetes */
#define BASE LISTEN, UP, TOKENS, "--config-file=" DATA "static.yaml"

static char err[4096];
static int exit_code;

/* Load with argv = {"tenantgate", args..., NULL}; stdout (--help) muted. */
static struct tg_config *load_argv(int argc, char **argv)
{
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
    struct tg_config *c;
    fflush(stdout);
    dup2(devnull, 1);
    err[0] = '\0';
    exit_code = -1;
    c = tg_config_load(argc, argv, err, sizeof(err), &exit_code);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(devnull);
    return c;
}

#define LOAD(...)                                                                                  \
    ({                                                                                             \
        char *argv_[] = {"tenantgate", __VA_ARGS__, NULL};                                         \
        load_argv((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_);                             \
    })

static void expect_error(struct tg_config *c, int code, const char *msg)
{
    if (c != NULL)
        tg_config_unref(c);
    assert_null(c);
    assert_int_equal(exit_code, code);
    assert_string_equal(err, msg);
}

static int setup(void **state)
{
    (void)state;
    unsetenv("KUBERNETES_SERVICE_HOST");
    tg_log_set_level(TG_LOG_ERROR); /* keep expected warnings out of the output */
    return 0;
}

/* ---- flags: spellings ---- */

static void test_flag_spellings(void **state)
{
    struct tg_config *c;
    c = LOAD(BASE, "--upstream-timeout=30s");
    assert_non_null(c);
    assert_int_equal(c->upstream_timeout_ms, 30000);
    tg_config_unref(c);
    c = LOAD(BASE, "--upstream-timeout", "1m30s");
    assert_non_null(c);
    assert_int_equal(c->upstream_timeout_ms, 90000);
    tg_config_unref(c);
    c = LOAD(BASE, "-upstream-timeout=2s");
    assert_non_null(c);
    assert_int_equal(c->upstream_timeout_ms, 2000);
    tg_config_unref(c);
    c = LOAD(BASE, "-upstream-timeout", "3s");
    assert_non_null(c);
    assert_int_equal(c->upstream_timeout_ms, 3000);
    assert_int_equal(exit_code, 0);
    tg_config_unref(c);
}

static void test_flag_bool_forms(void **state)
{
    struct tg_config *c;
    c = LOAD(BASE, "--error-on-replace");
    assert_int_equal(c->error_on_replace, 1);
    tg_config_unref(c);
    c = LOAD(BASE, "-error-on-replace=true", "--enable-label-apis=1");
    assert_int_equal(c->error_on_replace, 1);
    assert_int_equal(c->enable_label_apis, 1);
    tg_config_unref(c);
    c = LOAD(BASE, "--error-on-replace", "--error-on-replace=false", "--access-log=False");
    assert_int_equal(c->error_on_replace, 0);
    assert_int_equal(c->access_log, 0);
    tg_config_unref(c);
    c = LOAD(BASE);
    assert_int_equal(c->error_on_replace, 0);
    assert_int_equal(c->sa_namespace_default, 1);
    assert_int_equal(c->access_log, 1);
    tg_config_unref(c);
    expect_error(LOAD(BASE, "--error-on-replace=yes"), TG_CONFIG_USAGE_ERROR,
                 "--error-on-replace: invalid boolean \"yes\" (true or false)");
    expect_error(LOAD(BASE, "--enable-label-apis", "true"), TG_CONFIG_USAGE_ERROR,
                 "unexpected argument \"true\" (boolean flags take their value with =, as in "
                 "--flag=false)");
}

static void test_flag_klog_v(void **state)
{
    struct tg_config *c;
    c = LOAD(BASE, "--v=10", "--logtostderr=true");
    assert_int_equal(c->log_level, TG_LOG_DEBUG);
    tg_config_unref(c);
    c = LOAD(BASE, "-v", "2");
    assert_int_equal(c->log_level, TG_LOG_INFO);
    tg_config_unref(c);
    c = LOAD(BASE, "-v=4", "--log-level=warn");
    assert_int_equal(c->log_level, TG_LOG_WARN); /* last one wins */
    tg_config_unref(c);
    expect_error(LOAD(BASE, "-v=x"), TG_CONFIG_USAGE_ERROR, "--v: invalid integer \"x\"");
}

static void test_flag_unknown_and_missing(void **state)
{
    expect_error(LOAD(BASE, "--no-such-flag"), TG_CONFIG_USAGE_ERROR,
                 "unknown flag: --no-such-flag");
    expect_error(LOAD(BASE, "-bogus=1"), TG_CONFIG_USAGE_ERROR, "unknown flag: -bogus");
    expect_error(LOAD(BASE, "--upstream"), TG_CONFIG_USAGE_ERROR, "flag needs a value: --upstream");
    expect_error(LOAD(BASE, "stray"), TG_CONFIG_USAGE_ERROR, "unexpected argument \"stray\"");
    expect_error(LOAD(BASE, "--", "x"), TG_CONFIG_USAGE_ERROR, "unexpected argument \"x\"");
    expect_error(LOAD(BASE, "--=x"), TG_CONFIG_USAGE_ERROR, "unknown flag: --");
}

static void test_flag_bad_values(void **state)
{
    expect_error(LOAD(BASE, "--tls-min-version=VersionTLS11"), TG_CONFIG_USAGE_ERROR,
                 "--tls-min-version: VersionTLS11 is not supported: the minimum is VersionTLS12");
    expect_error(LOAD(BASE, "--tls-min-version=1.3"), TG_CONFIG_USAGE_ERROR,
                 "--tls-min-version: unknown TLS version \"1.3\" (VersionTLS12 or VersionTLS13)");
    expect_error(LOAD(BASE, "--upstream-timeout=5"), TG_CONFIG_USAGE_ERROR,
                 "--upstream-timeout: invalid duration \"5\" (Go syntax: 30s, 5m, 1h2m3.5s, "
                 "500ms)");
    expect_error(LOAD(BASE, "--proxy-endpoints-port=70000"), TG_CONFIG_USAGE_ERROR,
                 "--proxy-endpoints-port: 70000 is out of range [0, 65535]");
    expect_error(LOAD(BASE, "--secure-listen-address=localhost"), TG_CONFIG_USAGE_ERROR,
                 "--secure-listen-address: address \"localhost\" has no port (HOST:PORT or "
                 ":PORT)");
    expect_error(LOAD(BASE, "--verb-mode=post"), TG_CONFIG_USAGE_ERROR,
                 "--verb-mode: invalid verb mode \"post\" (get or http)");
    expect_error(LOAD(BASE, "--kube-api-qps=fast"), TG_CONFIG_USAGE_ERROR,
                 "--kube-api-qps: invalid QPS \"fast\" (a number from 0 to 100000)");
    expect_error(LOAD(BASE, "--log-level=trace"), TG_CONFIG_USAGE_ERROR,
                 "--log-level: invalid log level \"trace\" (error, warn, info, debug or a klog "
                 "verbosity 0-100)");
    expect_error(LOAD(BASE, "--kube-api-qps=inf"), TG_CONFIG_USAGE_ERROR,
                 "--kube-api-qps: invalid QPS \"inf\" (a number from 0 to 100000)");
    expect_error(LOAD(BASE, "--kube-api-qps=0x10"), TG_CONFIG_USAGE_ERROR,
                 "--kube-api-qps: invalid QPS \"0x10\" (a number from 0 to 100000)");
}

static void test_flag_usage_error_before_file_error(void **state)
{
    /* a bad flag value is reported (exit 2) even when the file is broken too */
    expect_error(LOAD(LISTEN, UP, "--config-file=" DATA "missing.yaml", "--v=x"),
                 TG_CONFIG_USAGE_ERROR, "--v: invalid integer \"x\"");
}

static void test_flag_lists_accumulate(void **state)
{
    struct tg_config *c;
    c = LOAD(LISTEN, UP, TOKENS, "--config-file=" DATA "static.yaml", "--label-value", "a",
             "--label-value=b", "--label-value=", "--auth-token-audiences=x,y",
             "--auth-token-audiences", "z");
    assert_non_null(c);
    assert_int_equal(c->n_label_values, 2);
    assert_string_equal(c->label_values[0], "a");
    assert_string_equal(c->label_values[1], "b");
    assert_null(c->query_param); /* fixed values: no tenant parameter */
    assert_int_equal(c->n_auth_token_audiences, 3);
    assert_string_equal(c->auth_token_audiences[0], "x");
    assert_string_equal(c->auth_token_audiences[1], "y");
    assert_string_equal(c->auth_token_audiences[2], "z");
    tg_config_unref(c);
    /* prom-label-proxy does not split --label-value on commas */
    c = LOAD(BASE, "--label-value=a,b");
    assert_int_equal(c->n_label_values, 1);
    assert_string_equal(c->label_values[0], "a,b");
    tg_config_unref(c);
}

static void test_flag_cipher_suites(void **state)
{
    struct tg_config *c;
    c = LOAD(BASE,
             "--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256",
             "--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
    assert_non_null(c);
    assert_string_equal(c->tls_cipher_suites,
                        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305");
    tg_config_unref(c);
    c = LOAD(BASE, "--tls-cipher-suites=TLS_AES_256_GCM_SHA384", "--tls-min-version=VersionTLS13");
    assert_null(c->tls_cipher_suites);
    assert_int_equal(c->tls_min_version, TLS1_3_VERSION);
    tg_config_unref(c);
    expect_error(LOAD(BASE, "--tls-cipher-suites=TLS_FOO"), TG_CONFIG_USAGE_ERROR,
                 "--tls-cipher-suites: unknown cipher suite TLS_FOO (use Go crypto/tls names)");
    expect_error(LOAD(BASE, "--tls-cipher-suites=TLS_RSA_WITH_RC4_128_SHA"), TG_CONFIG_USAGE_ERROR,
                 "--tls-cipher-suites: cipher suite TLS_RSA_WITH_RC4_128_SHA is insecure and not "
                 "supported");
}

static void test_flag_ignored_and_refused(void **state)
{
    struct tg_config *c;
    c = LOAD(BASE, "--http2-disable", "--log-dir=/tmp", "--oidc-clientID", "x",
             "--insecure-skip-verify=false", "--ignore-paths=", "--logtostderr=false",
             "--enable-label-matchers-for-rules-api");
    assert_non_null(c);
    tg_config_unref(c);
    expect_error(LOAD(BASE, "--ignore-paths=/metrics"), TG_CONFIG_USAGE_ERROR,
                 "--ignore-paths: not supported: Would skip authentication; every request is "
                 "checked.");
    expect_error(LOAD(BASE, "--insecure-skip-verify"), TG_CONFIG_USAGE_ERROR,
                 "--insecure-skip-verify: not supported: The upstream certificate is always "
                 "verified (use --upstream-ca-file).");
    expect_error(LOAD(BASE, "--upstream-force-h2c=maybe"), TG_CONFIG_USAGE_ERROR,
                 "--upstream-force-h2c: invalid boolean \"maybe\" (true or false)");
}

static void test_flag_help_version(void **state)
{
    expect_error(LOAD("--help"), TG_CONFIG_EXIT_OK, "");
    expect_error(LOAD(UP, "-h"), TG_CONFIG_EXIT_OK, "");
    expect_error(LOAD("--version"), TG_CONFIG_EXIT_OK, "");
}

static void test_flag_aliases(void **state)
{
    struct tg_config *c =
        LOAD(BASE, "--upstream-ca-cert=a.pem", "--kube-api-qps=2.5", "--kube-api-burst=7");
    /* http upstream: CA unused (warned) and not opened */
    assert_non_null(c);
    assert_string_equal(c->upstream_ca_file, "a.pem");
    assert_true(c->kube_qps == 2.5); /* kept as given: the token bucket takes fractions */
    assert_int_equal(c->kube_burst, 7);
    tg_config_unref(c);
}

/* Each documented default, applied as a flag, leaves the defaults unchanged. */
static void test_flag_defaults_match_help(void **state)
{
    const struct tg_flag_def *d;
    for (d = tg_flag_defs; d->name; d++) {
        struct tg_config *def = tg_config_new_defaults(), *c = tg_config_new_defaults();
        struct tg_flag_use use = {d, d->deflt, 0};
        struct tg_flag_uses uses = {&use, 1, 0, 0, NULL};
        if (d->deflt == NULL) {
            tg_config_unref(def);
            tg_config_unref(c);
            continue;
        }
        assert_int_equal(tg_flags_apply(c, &uses, 0, err, sizeof(err)), 0);
        if (d->kind == TG_FK_LIST_REPEAT) /* the value an empty list stands for */
            assert_string_equal((*(char ***)((char *)c + d->offset))[0], d->deflt);
        else if (d->kind == TG_FK_STRING)
            assert_string_equal(*(char **)((char *)c + d->offset),
                                *(char **)((char *)def + d->offset));
        else
            assert_memory_equal((char *)c + d->offset, (char *)def + d->offset, sizeof(int));
        tg_config_unref(def);
        tg_config_unref(c);
    }
}

/* ---- value parsers ---- */

static int dur(const char *s)
{
    int ms = -1;
    return tg_parse_duration_ms(s, &ms, err, sizeof(err)) < 0 ? -1 : ms;
}

static void test_durations(void **state)
{
    assert_int_equal(dur("1h2m3.5s"), 3723500);
    assert_int_equal(dur("500ms"), 500);
    assert_int_equal(dur("0"), 0);
    assert_int_equal(dur("0s"), 0);
    assert_int_equal(dur("1.5h"), 5400000);
    assert_int_equal(dur(".5s"), 500);
    assert_int_equal(dur("+2m"), 120000);
    assert_int_equal(dur("500us"), 1); /* rounded up: non-zero stays non-zero */
    assert_int_equal(dur("1500000ns"), 2);
    assert_int_equal(dur("2\xc2\xb5s"), 1);
    assert_int_equal(dur("24h"), 86400000);
    assert_int_equal(dur("5"), -1);
    assert_int_equal(dur(""), -1);
    assert_int_equal(dur("1d"), -1);
    assert_int_equal(dur("s"), -1);
    assert_int_equal(dur("1s "), -1);
    assert_int_equal(dur("-1s"), -1);
    assert_string_equal(err, "invalid duration \"-1s\": must not be negative");
    assert_int_equal(dur("1000h"), -1);
    assert_string_equal(err, "duration \"1000h\" is too long (at most 24 days)");
    assert_int_equal(dur("99999999999999999999h"), -1);
}

static void test_durations64(void **state)
{
    int64_t ms = -1;
    assert_int_equal(tg_parse_duration_ms64("32d", &ms, err, sizeof(err)), 0);
    assert_int_equal(ms, 32LL * 86400000);
    assert_int_equal(tg_parse_duration_ms64("2w", &ms, err, sizeof(err)), 0);
    assert_int_equal(ms, 14LL * 86400000);
    assert_int_equal(tg_parse_duration_ms64("1y2w3d4h5m6s7ms", &ms, err, sizeof(err)), 0);
    assert_int_equal(ms, ((((365LL + 17) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7);
    assert_int_equal(tg_parse_duration_ms64("1.5d", &ms, err, sizeof(err)), 0);
    assert_int_equal(ms, 36LL * 3600000);
    assert_int_equal(tg_parse_duration_ms64("90d", &ms, err, sizeof(err)), 0);
    assert_int_equal(ms, 90LL * 86400000);
    assert_int_equal(tg_parse_duration_ms64("0", &ms, err, sizeof(err)), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(tg_parse_duration_ms64("1000y", &ms, err, sizeof(err)), -1);
    assert_int_equal(tg_parse_duration_ms64("-1d", &ms, err, sizeof(err)), -1);
    assert_int_equal(tg_parse_duration_ms64("1 d", &ms, err, sizeof(err)), -1);
    assert_int_equal(tg_parse_duration_ms64("d", &ms, err, sizeof(err)), -1);
    /* the Go parser keeps refusing them */
    assert_int_equal(dur("1d"), -1);
}

static void test_sizes(void **state)
{
    size_t v = 0;
    assert_int_equal(tg_parse_size("64Ki", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(tg_parse_size("4Mi", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 4 * 1024 * 1024);
    assert_int_equal(tg_parse_size("1Gi", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 1024 * 1024 * 1024);
    assert_int_equal(tg_parse_size("100", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 100);
    assert_int_equal(tg_parse_size("1.5Mi", &v, err, sizeof(err)), -1);
    assert_string_equal(err, "invalid size \"1.5Mi\" (bytes, or with Ki, Mi, Gi: 64Ki)");
    assert_int_equal(tg_parse_size("10KB", &v, err, sizeof(err)), -1);
    assert_int_equal(tg_parse_size("-1", &v, err, sizeof(err)), -1);
    assert_int_equal(tg_parse_size("99999999999999999999999", &v, err, sizeof(err)), -1);
    assert_string_equal(err, "size \"99999999999999999999999\" is too large");
}

static void test_listen_addresses(void **state)
{
    struct tg_listen l = {0};
    assert_int_equal(tg_parse_listen(":9090", &l, err, sizeof(err)), 0);
    assert_null(l.host);
    assert_int_equal(l.port, 9090);
    assert_int_equal(l.set, 1);
    assert_int_equal(tg_parse_listen("0.0.0.0:443", &l, err, sizeof(err)), 0);
    assert_string_equal(l.host, "0.0.0.0");
    assert_int_equal(tg_parse_listen("[::1]:8443", &l, err, sizeof(err)), 0);
    assert_string_equal(l.host, "::1");
    assert_int_equal(l.port, 8443);
    assert_int_equal(tg_parse_listen("localhost:0", &l, err, sizeof(err)), 0);
    assert_string_equal(l.host, "localhost");
    assert_int_equal(l.port, 0);
    assert_int_equal(tg_parse_listen("::1:80", &l, err, sizeof(err)), -1);
    assert_string_equal(err, "address \"::1:80\": IPv6 hosts need brackets ([::1]:80)");
    assert_int_equal(tg_parse_listen(":99999", &l, err, sizeof(err)), -1);
    assert_string_equal(err, "address \":99999\": invalid port");
    assert_int_equal(tg_parse_listen("a b:1", &l, err, sizeof(err)), -1);
    assert_string_equal(err, "address \"a b:1\": invalid host");
    free(l.host);
}

static void test_upstream_urls(void **state)
{
    struct tg_url u = {0};
    assert_int_equal(tg_parse_upstream_url("http://127.0.0.1:8080/", &u, err, sizeof(err)), 0);
    assert_int_equal(u.https, 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/");
    assert_int_equal(tg_parse_upstream_url("https://thanos-querier.monitoring.svc/prefix/", &u, err,
                                           sizeof(err)),
                     0);
    assert_int_equal(u.https, 1);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.host, "thanos-querier.monitoring.svc");
    assert_string_equal(u.path, "/prefix/");
    assert_int_equal(tg_parse_upstream_url("HTTP://[::1]", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 80);
    assert_string_equal(u.path, "/");
    assert_int_equal(tg_parse_upstream_url("http://[::1]:9/x", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, 9);
    assert_string_equal(u.path, "/x");
    assert_int_equal(tg_parse_upstream_url("ftp://x/", &u, err, sizeof(err)), -1);
    assert_string_equal(err, "upstream URL \"ftp://x/\": only http:// and https:// are supported");
    assert_int_equal(tg_parse_upstream_url("http://u:p@h/", &u, err, sizeof(err)), -1);
    assert_string_equal(err, "upstream URL \"http://u:p@h/\" must not contain user info");
    assert_int_equal(tg_parse_upstream_url("http://h/?a=b", &u, err, sizeof(err)), -1);
    assert_string_equal(err, "upstream URL \"http://h/?a=b\" must not have a query or fragment");
    assert_int_equal(tg_parse_upstream_url("http://:80/", &u, err, sizeof(err)), -1);
    assert_string_equal(err, "upstream URL \"http://:80/\": invalid or missing host");
    assert_int_equal(tg_parse_upstream_url("http://h:0/", &u, err, sizeof(err)), -1);
    assert_string_equal(err, "upstream URL \"http://h:0/\": invalid port");
    assert_int_equal(tg_parse_upstream_url("127.0.0.1:9090", &u, err, sizeof(err)), -1);
    free(u.host);
    free(u.path);
}

static void norm_ok(const char *in, const char *want, int want_has)
{
    char *out = NULL;
    int has = -1;
    assert_int_equal(tg_normalize_template(in, &out, &has, err, sizeof(err)), 0);
    assert_string_equal(out, want);
    assert_int_equal(has, want_has);
    free(out);
}

static void test_templates(void **state)
{
    char *out = NULL;
    int has;
    norm_ok("{{ .Value }}", "{{ .Value }}", 1);
    norm_ok("{{.Value}}", "{{ .Value }}", 1);
    norm_ok("{{  .Value\t}}", "{{ .Value }}", 1);
    norm_ok("ns-{{.Value}}-{{ .Value}}", "ns-{{ .Value }}-{{ .Value }}", 1);
    norm_ok("pods", "pods", 0);
    norm_ok("", "", 0);
    norm_ok("a}}b{", "a}}b{", 0);
    assert_int_equal(tg_normalize_template("{{ .Foo }}", &out, &has, err, sizeof(err)), -1);
    assert_string_equal(err, "unsupported template action in \"{{ .Foo }}\": only {{ .Value }} is "
                             "allowed");
    assert_int_equal(
        tg_normalize_template("{{ if .Value }}x{{ end }}", &out, &has, err, sizeof(err)), -1);
    assert_int_equal(tg_normalize_template("{{ .Value ", &out, &has, err, sizeof(err)), -1);
    assert_int_equal(tg_normalize_template("{{- .Value -}}", &out, &has, err, sizeof(err)), -1);
    assert_int_equal(tg_normalize_template("{{ .Values }}", &out, &has, err, sizeof(err)), -1);
}

/* ---- config file ---- */

static struct tg_config *cfg_y;
static struct tg_yaml_extra xy;

static int yload(const char *text)
{
    tg_config_unref(cfg_y);
    tg_yaml_extra_free(&xy);
    cfg_y = tg_config_new_defaults();
    err[0] = '\0';
    return tg_yaml_load(cfg_y, &xy, text, strlen(text), "config.yaml", err, sizeof(err));
}

static void yfail(const char *text, const char *msg)
{
    assert_int_equal(yload(text), -1);
    assert_string_equal(err, msg);
}

static int teardown_yaml(void **state)
{
    tg_config_unref(cfg_y);
    cfg_y = NULL;
    tg_yaml_extra_free(&xy);
    return 0;
}

static void test_yaml_seed_verbatim(void **state)
{
    char *data;
    size_t len;
    struct tg_config *c;
    assert_int_equal(tg_read_file(SEED, TG_FILE_MAX, &data, &len, err, sizeof(err)), 0);
    assert_int_equal(yload(data), 0);
    free(data);
    assert_int_equal(cfg_y->has_resource_attributes, 1);
    assert_string_equal(cfg_y->resource_attributes.namespace_, "{{ .Value }}");
    assert_string_equal(cfg_y->resource_attributes.api_version, "v1");
    assert_string_equal(cfg_y->resource_attributes.resource, "namespace");
    assert_string_equal(cfg_y->resource_attributes.subresource, "metrics");
    assert_null(cfg_y->resource_attributes.api_group);
    assert_null(cfg_y->resource_attributes.name);
    assert_string_equal(xy.rewrite_query_param, "namespace");
    assert_null(xy.rewrite_header);
    assert_int_equal(xy.has_template, 1);

    /* and the seed's two sidecars' flags, merged, with Kubernetes */
    c = LOAD("--secure-listen-address=0.0.0.0:9090", "--upstream=http://127.0.0.1:8080/",
             "--config-file=" SEED, "--logtostderr=true", "--v=10", "--label=namespace",
             "--enable-label-apis=true", "--kubeconfig=" KUBECONFIG);
    assert_non_null(c);
    assert_string_equal(c->query_param, "namespace");
    assert_string_equal(c->label, "namespace");
    assert_int_equal(c->kube_enabled, 1);
    assert_int_equal(c->resource_attributes_templated, 1);
    assert_int_equal(c->secure_listen.port, 9090);
    assert_string_equal(c->upstream_url.host, "127.0.0.1");
    assert_int_equal(c->log_level, TG_LOG_DEBUG);
    assert_int_equal(c->enable_label_apis, 1);
    tg_config_unref(c);
}

static void test_yaml_full(void **state)
{
    char *data;
    size_t len;
    const struct tg_static_rule *r;
    assert_int_equal(tg_read_file(DATA "full.yaml", TG_FILE_MAX, &data, &len, err, sizeof(err)), 0);
    assert_int_equal(yload(data), 0);
    free(data);
    assert_string_equal(xy.rewrite_query_param, "tenant");
    assert_string_equal(cfg_y->resource_attributes.namespace_, "{{ .Value }}");
    assert_string_equal(cfg_y->resource_attributes.name, "prefix-{{ .Value }}");
    assert_null(cfg_y->resource_attributes.api_group); /* "" is "not set", as in Go */
    assert_int_equal(cfg_y->n_static_rules, 2);
    r = &cfg_y->static_rules[0];
    assert_string_equal(r->user_name, "system:serviceaccount:monitoring:grafana");
    assert_int_equal(r->n_user_groups, 2);
    assert_string_equal(r->user_groups[1], "system:serviceaccounts");
    assert_string_equal(r->verb, "get");
    assert_string_equal(r->namespace_, "team-a");
    assert_null(r->api_group);
    assert_int_equal(r->resource_request, 1);
    assert_null(r->path);
    r = &cfg_y->static_rules[1];
    assert_null(r->user_name);
    assert_string_equal(r->path, "/metrics");
    assert_int_equal(r->resource_request, 0);
    assert_int_equal(cfg_y->cache_authn_ttl_ms, 60000);
    assert_int_equal(cfg_y->cache_unauthn_ttl_ms, 10000);
    assert_int_equal(cfg_y->cache_allow_ttl_ms, 3723500);
    assert_int_equal(cfg_y->cache_deny_ttl_ms, 500);
    assert_int_equal(cfg_y->cache_max_entries, 500);
    assert_int_equal(cfg_y->cache_grace_ms, 30000);
    assert_int_equal(cfg_y->kube_timeout_ms, 3000);
    assert_true(cfg_y->kube_qps == 50);
    assert_int_equal(cfg_y->kube_burst, 100);
    assert_int_equal(cfg_y->kube_retries, 2);
    assert_int_equal(cfg_y->max_header_bytes, 32768);
    assert_int_equal(cfg_y->max_body_bytes, 1048576);
    assert_int_equal(cfg_y->header_timeout_ms, 5000);
    assert_int_equal(cfg_y->idle_timeout_ms, 120000);
    assert_int_equal(cfg_y->max_connections, 1000);
    assert_int_equal(cfg_y->shutdown_grace_ms, 0);
    assert_int_equal(cfg_y->tls_reload_interval_ms, 30000);
    assert_int_equal(cfg_y->upstream_timeout_ms, 90000);
    assert_int_equal(cfg_y->upstream_max_idle, 8);
    assert_string_equal(cfg_y->upstream_tenant_header, "THANOS-TENANT");
    assert_string_equal(cfg_y->label, "tenant_id");
    assert_int_equal(cfg_y->error_on_replace, 1);
    assert_int_equal(cfg_y->sa_namespace_default, 0);
    assert_int_equal(cfg_y->verb_mode, TG_VERB_HTTP);
    assert_int_equal(cfg_y->allow_info_function, 1);
    assert_int_equal(cfg_y->enable_label_apis, 1);
    assert_int_equal(cfg_y->max_query_bytes, 131072);
    assert_int_equal(cfg_y->max_query_depth, 200);
    assert_int_equal(cfg_y->promql_duration_expr, 1);
    assert_int_equal(cfg_y->promql_experimental_functions, 1);
    assert_int_equal(cfg_y->promql_extended_range_selectors, 0);
    assert_int_equal(cfg_y->promql_binop_fill_modifiers, 1);
    assert_int_equal(cfg_y->log_level, TG_LOG_DEBUG);
    assert_int_equal(cfg_y->access_log, 0);
}

static void test_yaml_empty_and_null(void **state)
{
    assert_int_equal(yload(""), 0);
    assert_int_equal(cfg_y->has_resource_attributes, 0);
    assert_int_equal(yload("# only a comment\n"), 0);
    assert_int_equal(yload("---\n"), 0);
    assert_int_equal(yload("~\n"), 0);
    assert_int_equal(yload("cache:\nauthorization:\n  static:\n  resourceAttributes:\n"), 0);
    assert_int_equal(cfg_y->has_resource_attributes, 0); /* null: as in kube-rbac-proxy */
    assert_int_equal(cfg_y->cache_authn_ttl_ms, 120000);
    assert_int_equal(yload("authorization:\n  resourceAttributes: {}\n"), 0);
    assert_int_equal(cfg_y->has_resource_attributes, 1);
    assert_int_equal(yload("upstream:\n  tenantHeader: ~\n"), 0);
    assert_null(cfg_y->upstream_tenant_header);
}

static void test_yaml_case_insensitive_keys(void **state)
{
    assert_int_equal(yload("Authorization:\n  ResourceAttributes:\n    Namespace: x\n"
                           "    APIGROUP: g\n"),
                     0);
    assert_string_equal(cfg_y->resource_attributes.namespace_, "x");
    assert_string_equal(cfg_y->resource_attributes.api_group, "g");
    yfail("cache:\n  denyTTL: 1s\n  DenyTTL: 2s\n", "config.yaml:3: cache.denyTTL: duplicate key");
}

static void test_yaml_unknown_keys(void **state)
{
    yfail("authorization:\n"
          "  rewrites:\n"
          "    byQueryParameter:\n"
          "      name: namespace\n"
          "  resourceAttributes:\n"
          "    apiVersion: v1\n"
          "    namspace: \"{{ .Value }}\"\n",
          "config.yaml:7: authorization.resourceAttributes.namspace: unknown key");
    yfail("authorisation: {}\n", "config.yaml:1: authorisation: unknown key");
    /* every error of the file: the rule without a path is reported too */
    yfail("authorization:\n  static:\n  - path: /x\n  - user:\n      name: a\n      group: [b]\n",
          "config.yaml:4: authorization.static[1].resourceRequest: a non-resource rule "
          "(resourceRequest: false) needs a path\n"
          "config.yaml:6: authorization.static[1].user.group: unknown key");
    yfail("cache:\n  ttl: 1s\n", "config.yaml:2: cache.ttl: unknown key");
}

static void test_yaml_wrong_kinds(void **state)
{
    yfail("authorization:\n  resourceAttributes: [a]\n",
          "config.yaml:2: authorization.resourceAttributes: expected a mapping, found a list");
    yfail("cache:\n  authnTTL:\n    a: 1\n",
          "config.yaml:3: cache.authnTTL: expected a scalar value, found a mapping");
    yfail("authorization:\n  static: yes\n",
          "config.yaml:2: authorization.static: expected a list, found a scalar value");
    yfail("authorization:\n  static:\n  - ~\n",
          "config.yaml:3: authorization.static[0]: empty list entry");
    yfail("- a\n", "config.yaml:1: the top level must be a mapping");
    yfail("just text\n", "config.yaml:1: the top level must be a mapping");
    yfail("? [a]\n: b\n", "config.yaml:1: mapping keys must be scalars");
}

static void test_yaml_bad_values(void **state)
{
    yfail("cache:\n  authnTTL: 2x\n",
          "config.yaml:2: cache.authnTTL: invalid duration \"2x\" (Go syntax: 30s, 5m, 1h2m3.5s, "
          "500ms)");
    yfail("server:\n  maxBodyBytes: 1MB\n",
          "config.yaml:2: server.maxBodyBytes: invalid size \"1MB\" (bytes, or with Ki, Mi, Gi: "
          "64Ki)");
    yfail("kubernetes:\n  retries: 11\n",
          "config.yaml:2: kubernetes.retries: 11 is out of range [0, 10]");
    yfail("tenancy:\n  errorOnReplace: maybe\n",
          "config.yaml:2: tenancy.errorOnReplace: invalid boolean \"maybe\" (true or false)");
    yfail("tenancy:\n  verbMode: POST\n",
          "config.yaml:2: tenancy.verbMode: invalid verb mode \"POST\" (get or http)");
    yfail("tenancy:\n  labelValues:\n  - a\n  - \"\"\n",
          "config.yaml:4: tenancy.labelValues[1]: empty label value");
    yfail("log:\n  level: verbose\n",
          "config.yaml:2: log.level: invalid log level \"verbose\" (error, warn, info, debug or "
          "a klog verbosity 0-100)");
    yfail("kubernetes:\n  qps: fast\n",
          "config.yaml:2: kubernetes.qps: invalid QPS \"fast\" (a number from 0 to 100000)");
    yfail("upstream:\n  tenantHeader: X Tenant\n  dropHeaders: [X-Org, \"\", \"a:b\"]\n",
          "config.yaml:2: upstream.tenantHeader: not a valid header name\n"
          "config.yaml:3: upstream.dropHeaders[1]: not a valid header name\n"
          "config.yaml:3: upstream.dropHeaders[2]: not a valid header name");
    yfail("cache:\n  maxEntries: -1\n",
          "config.yaml:2: cache.maxEntries: -1 is out of range [0, 100000000]");
    yfail("authorization:\n  resourceAttributes:\n    resource: pods\n    namespace: \"{{ "
          ".Namespace }}\"\n",
          "config.yaml:4: authorization.resourceAttributes.namespace: unsupported template "
          "action in \"{{ .Namespace }}\": only {{ .Value }} is allowed");
}

/* ---- limits: ---- */

static void test_yaml_limits(void **state)
{
    const struct tg_limits_config *l;

    assert_int_equal(yload("cache: {}\n"), 0);
    assert_null(cfg_y->limits); /* no section: no limits */
    assert_int_equal(yload("limits:\n"
                           "  defaults:\n"
                           "    maxInflight: 8\n"
                           "    maxQueued: 32\n"
                           "    queueTimeout: 10s\n"
                           "    rate: 20\n"
                           "    burst: 40\n"
                           "    maxQueryLength: 32d\n"
                           "    maxLookback: 90d\n"
                           "  tenants:\n"
                           "    team-a: {maxInflight: 16, rate: 50}\n"
                           "    alpha.b:\n"
                           "      maxLookback: 2w\n"
                           "      rate: 0.5\n"
                           "    empty:\n"
                           "  blockedQueries:\n"
                           "  - {pattern: '{__name__=~\".+\"}', reason: \"selects every series\"}\n"
                           "  - {pattern: 'count\\(.*\\)', regex: true}\n"
                           "  metricsMaxTenants: 50\n"),
                     0);
    l = cfg_y->limits;
    assert_non_null(l);
    assert_int_equal(l->defaults.max_inflight, 8);
    assert_int_equal(l->defaults.max_queued, 32);
    assert_int_equal(l->defaults.queue_timeout_ms, 10000);
    assert_true(l->defaults.rate == 20.0);
    assert_int_equal(l->defaults.burst, 40);
    assert_int_equal(l->defaults.max_query_length_ms, 32LL * 86400000);
    assert_int_equal(l->defaults.max_lookback_ms, 90LL * 86400000);
    assert_true(l->windows);
    assert_int_equal(l->metrics_max_tenants, 50);
    assert_int_equal(l->lookback_delta_ms, 300000);
    /* sorted by tenant value; what a tenant does not set stays unset (-1) */
    assert_int_equal(l->n_tenants, 3);
    assert_string_equal(l->tenants[0].tenant, "alpha.b");
    assert_int_equal(l->tenants[0].set.max_lookback_ms, 14LL * 86400000);
    assert_true(l->tenants[0].set.rate == 0.5);
    assert_int_equal(l->tenants[0].set.max_inflight, -1);
    assert_int_equal(l->tenants[0].line, 12);
    assert_string_equal(l->tenants[1].tenant, "empty");
    assert_int_equal(l->tenants[1].set.max_inflight, -1);
    assert_string_equal(l->tenants[2].tenant, "team-a");
    assert_int_equal(l->tenants[2].set.max_inflight, 16);
    assert_true(l->tenants[2].set.rate == 50.0);
    assert_int_equal(l->tenants[2].set.burst, -1);
    assert_int_equal(l->n_blocked, 2);
    assert_string_equal(l->blocked[0].pattern, "{__name__=~\".+\"}");
    assert_string_equal(l->blocked[0].reason, "selects every series");
    assert_false(l->blocked[0].regex);
    assert_null(l->blocked[0].compiled);
    assert_true(l->blocked[1].regex);
    assert_non_null(l->blocked[1].compiled);
    assert_null(l->blocked[1].reason);
    /* an empty section: limits on (metrics), nothing bounded */
    assert_int_equal(yload("limits: {}\n"), 0);
    assert_non_null(cfg_y->limits);
    assert_int_equal(cfg_y->limits->defaults.max_inflight, -1);
    assert_int_equal(cfg_y->limits->metrics_max_tenants, 1000);
    assert_false(cfg_y->limits->windows);
    assert_int_equal(yload("limits:\n  tenants:\n    a: {maxLookback: 1h}\n"), 0);
    assert_true(cfg_y->limits->windows);
}

static void test_yaml_limits_errors(void **state)
{
    yfail("limits:\n  defaults:\n    maxInflight: many\n",
          "config.yaml:3: limits.defaults.maxInflight: invalid integer \"many\"");
    yfail("limits:\n  defaults:\n    maxQueryLength: 1month\n",
          "config.yaml:3: limits.defaults.maxQueryLength: invalid duration \"1month\" (30s, 5m, "
          "1h30m, 7d, 2w, 1y; at most 292y)");
    yfail("limits:\n  defaults:\n    queueTimeout: 0s\n",
          "config.yaml:3: limits.defaults.queueTimeout: must be positive");
    yfail("limits:\n  defaults:\n    rate: -1\n",
          "config.yaml:3: limits.defaults.rate: not a number of requests per second between 0 and "
          "1000000");
    yfail("limits:\n  defaults:\n    burst: 0\n",
          "config.yaml:3: limits.defaults.burst: 0 is out of range [1, 1000000]");
    yfail("limits:\n  defaults:\n    maxQueud: 3\n",
          "config.yaml:3: limits.defaults.maxQueud: unknown key");
    yfail("limits:\n  tenants:\n    a: {rate: 1}\n    b:\n      rate: x\n",
          "config.yaml:5: limits.tenants.b.rate: not a number of requests per second between 0 "
          "and 1000000");
    yfail("limits:\n  tenants:\n    a: {rate: 1}\n    a: {rate: 2}\n",
          "config.yaml:4: limits.tenants.a: duplicate key");
    yfail("limits:\n  tenants:\n    a: {rte: 1}\n",
          "config.yaml:3: limits.tenants.a.rte: unknown key");
    yfail("limits:\n  tenants:\n    a: 5\n",
          "config.yaml:3: limits.tenants.a: expected a mapping of limits");
    yfail("limits:\n  tenants:\n  - a\n",
          "config.yaml:3: limits.tenants: expected a mapping of tenant values");
    yfail("limits:\n  tenants:\n    \"\": {rate: 1}\n",
          "config.yaml:3: limits.tenants: tenant values must be non-empty scalars");
    yfail("limits:\n  blockedQueries:\n  - {reason: x}\n",
          "config.yaml:3: limits.blockedQueries[0].pattern: a non-empty pattern is required");
    yfail("limits:\n  blockedQueries:\n  - {pattern: a}\n  - {pattern: '(a', regex: true}\n",
          "config.yaml:4: limits.blockedQueries[1].pattern: invalid POSIX extended regex: "
          "Unmatched ( or \\(");
    yfail("limits:\n  blockedQueries:\n  - {pattern: '(a)\\1', regex: true}\n",
          "config.yaml:3: limits.blockedQueries[0].pattern: backreferences are not allowed");
    yfail("limits:\n  blockedQueries:\n  - {pattern: '(a{1000}){1000}', regex: true}\n",
          "config.yaml:3: limits.blockedQueries[0].pattern: counted repetitions may multiply to "
          "at most 1000");
    yfail("limits:\n  blockedQueries:\n  - {pattern: '[a-z]++++', regex: true}\n",
          "config.yaml:3: limits.blockedQueries[0].pattern: a repetition operator may not follow "
          "another one");
    yfail("limits:\n  blockedQueries:\n  - {pattern: 'a{2}*', regex: true}\n",
          "config.yaml:3: limits.blockedQueries[0].pattern: a repetition operator may not follow "
          "another one");
    yfail("limits:\n  blockedQueries:\n  - {pattern: 'a{1001}', regex: true}\n",
          "config.yaml:3: limits.blockedQueries[0].pattern: counted repetitions may multiply to "
          "at most 1000");
    assert_int_equal(yload("limits:\n  blockedQueries:\n"
                           "  - {pattern: 'x{2,10}y{0,100}\\{1000\\}', regex: true}\n"),
                     0);
    yfail("limits:\n  lookbackDelta: 0s\n",
          "config.yaml:2: limits.lookbackDelta: must be positive");
}

static void test_yaml_static_rule_rules(void **state)
{
    yfail("authorization:\n  static:\n  - resourceRequest: true\n    path: /metrics\n",
          "config.yaml:4: authorization.static[0].path: a rule with resourceRequest: true must "
          "not have a path");
    yfail("authorization:\n  static:\n  - verb: get\n  - verb: get\n    resource: pods\n",
          "config.yaml:3: authorization.static[0].resourceRequest: a non-resource rule "
          "(resourceRequest: false) needs a path\n"
          "config.yaml:4: authorization.static[1].resourceRequest: a non-resource rule "
          "(resourceRequest: false) needs a path");
    yfail("authorization:\n  static:\n  - resourceRequest: sure\n",
          "config.yaml:3: authorization.static[0].resourceRequest: invalid boolean \"sure\" "
          "(true or false)");
}

static void test_yaml_syntax_errors(void **state)
{
    yfail("a: &x 1\nb: *x\n", "config.yaml:1: a: unknown key\nconfig.yaml:2: b: unknown key");
    yfail("cache:\n  authnTTL: &x 1s\n  denyTTL: *x\n",
          "config.yaml:3: cache.denyTTL: YAML aliases are not supported");
    yfail("cache: {}\n---\ncache: {}\n", "config.yaml:2: only one YAML document is allowed");
    yfail("cache:\n  authnTTL: \"1s\n",
          "config.yaml:3: invalid YAML: found unexpected end of stream");
    yfail("cache:\n  denyTTL: b: c\n",
          "config.yaml:2: invalid YAML: mapping values are not allowed in this context");
}

/* Every error of a file, in file order, each naming file, line and key:
 * structural ones (pass 1) and bad values (pass 3) of the rest together. */
static void test_yaml_every_error(void **state)
{
    yfail("authorization:\n"
          "  resourceAttributes:\n"
          "    namspace: \"{{ .Value }}\"\n"
          "  static:\n"
          "  - ~\n"
          "  - resourceRequest: sure\n"
          "  - resourceRequest: true\n"
          "    verb: get\n"
          "cache:\n"
          "  authnTTL: 2x\n"
          "  denyTTL: 1s\n"
          "  DenyTTL: 2s\n"
          "  grace: [1s]\n"
          "kubernetes: {retries: 11, qps: 2.5}\n"
          "tenancy:\n"
          "  labelValues: [a, \"\", {x: 1}, b]\n"
          "log: {level: 4, accessLog: maybe}\n",
          "config.yaml:3: authorization.resourceAttributes.namspace: unknown key\n"
          "config.yaml:5: authorization.static[0]: empty list entry\n"
          "config.yaml:6: authorization.static[1].resourceRequest: invalid boolean \"sure\" (true "
          "or false)\n"
          "config.yaml:10: cache.authnTTL: invalid duration \"2x\" (Go syntax: 30s, 5m, 1h2m3.5s, "
          "500ms)\n"
          "config.yaml:12: cache.denyTTL: duplicate key\n"
          "config.yaml:13: cache.grace: expected a scalar value, found a list\n"
          "config.yaml:14: kubernetes.retries: 11 is out of range [0, 10]\n"
          /* one line: structural errors first */
          "config.yaml:16: tenancy.labelValues[2]: expected a scalar value, found a mapping\n"
          "config.yaml:16: tenancy.labelValues[1]: empty label value\n"
          "config.yaml:17: log.accessLog: invalid boolean \"maybe\" (true or false)");
    /* invalid YAML ends the walk: the errors before it are kept */
    yfail("cache:\n  ttl: 1s\n  denyTTL: \"1s\n",
          "config.yaml:2: cache.ttl: unknown key\n"
          "config.yaml:4: invalid YAML: found unexpected end of stream");
}

static void test_yaml_errors_overflow(void **state)
{
    char text[8192] = "cache:\n";
    int i;
    for (i = 0; i < 150; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "  k%d: 1\n", i);
    assert_int_equal(yload(text), -1);
    assert_non_null(strstr(err, "config.yaml:2: cache.k0: unknown key\n"));
    assert_true(strlen(err) < sizeof(err));
    assert_string_equal(err + strlen(err) - strlen("\n(more errors not shown)"),
                        "\n(more errors not shown)");
}

/* kubernetes.qps and --kube-api-qps, log.level and --v/--log-level: the
 * same values mean the same in both places. */
static void test_yaml_same_meaning_as_flags(void **state)
{
    struct tg_config *c;
    assert_int_equal(yload("kubernetes:\n  qps: 2.5\nlog:\n  level: 4\n"), 0);
    assert_true(cfg_y->kube_qps == 2.5);
    assert_int_equal(cfg_y->log_level, TG_LOG_DEBUG);
    assert_int_equal(yload("log:\n  level: 3\n"), 0);
    assert_int_equal(cfg_y->log_level, TG_LOG_INFO);
    assert_int_equal(yload("log:\n  level: warn\n"), 0);
    assert_int_equal(cfg_y->log_level, TG_LOG_WARN);
    c = LOAD(BASE, "--kube-api-qps=2.5", "--v=4");
    assert_true(c->kube_qps == 2.5);
    assert_int_equal(c->log_level, TG_LOG_DEBUG);
    tg_config_unref(c);
    c = LOAD(BASE, "--log-level=4");
    assert_int_equal(c->log_level, TG_LOG_DEBUG);
    tg_config_unref(c);
}

/* ---- merge of rewrites and prom-label-proxy flags ---- */

static void test_merge_tenancy(void **state)
{
    struct tg_config *c;
    /* no rewrite: the label is the query parameter */
    c = LOAD(BASE, "--label=team");
    assert_string_equal(c->query_param, "team");
    assert_null(c->header_name);
    tg_config_unref(c);
    /* header from --header-name: no query parameter */
    c = LOAD(BASE, "--header-name=X-Tenant");
    assert_null(c->query_param);
    assert_string_equal(c->header_name, "X-Tenant");
    tg_config_unref(c);
    /* rewrite agrees with --query-param */
    c = LOAD(LISTEN, UP, "--kubeconfig=" KUBECONFIG, "--config-file=" SEED,
             "--query-param=namespace");
    assert_non_null(c);
    tg_config_unref(c);
    expect_error(
        LOAD(LISTEN, UP, "--kubeconfig=" KUBECONFIG, "--config-file=" SEED, "--query-param=tenant"),
        TG_CONFIG_FAILED,
        "authorization.rewrites.byQueryParameter.name \"namespace\" and "
        "--query-param/tenancy.queryParam \"tenant\" disagree");
    expect_error(
        LOAD(LISTEN, UP, "--kubeconfig=" KUBECONFIG, "--config-file=" SEED, "--label-value=a"),
        TG_CONFIG_FAILED,
        "at most one of --query-param, --header-name and --label-value may be set (a "
        "rewrite counts as its flag)");
    expect_error(LOAD(BASE, "--query-param=a", "--header-name=b"), TG_CONFIG_FAILED,
                 "at most one of --query-param, --header-name and --label-value may be set (a "
                 "rewrite counts as its flag)");
    expect_error(LOAD(BASE, "--label="), TG_CONFIG_FAILED, "--label must not be empty");
    expect_error(LOAD(BASE, "--label=a-b"), TG_CONFIG_FAILED,
                 "--label \"a-b\" is not a valid label name");
    expect_error(LOAD(BASE, "--header-name=a b"), TG_CONFIG_FAILED,
                 "--header-name \"a b\" is not a valid header name");
    expect_error(LOAD(LISTEN, UP, "--kubeconfig=" KUBECONFIG,
                      "--config-file=" DATA "template-no-rewrite.yaml"),
                 TG_CONFIG_FAILED,
                 "test/unit/data/config/template-no-rewrite.yaml:4: "
                 "authorization.resourceAttributes.namespace: {{ .Value }} needs "
                 "authorization.rewrites (byQueryParameter or byHttpHeader) to give it a value");
}

static void test_flags_win_over_file(void **state)
{
    struct tg_config *c;
    c = LOAD(LISTEN, UP, TOKENS, "--config-file=" DATA "static.yaml");
    assert_int_equal(c->upstream_timeout_ms, 60000); /* from the file */
    assert_int_equal(c->tls_reload_interval_ms, 10000);
    assert_string_equal(c->label, "tenant");
    assert_int_equal(c->log_level, TG_LOG_WARN);
    tg_config_unref(c);
    c = LOAD("--upstream-timeout=2m", LISTEN, UP, TOKENS, "--config-file=" DATA "static.yaml",
             "--tls-reload-interval=5s", "--label=ns", "-v=9");
    assert_int_equal(c->upstream_timeout_ms, 120000);
    assert_int_equal(c->tls_reload_interval_ms, 5000);
    assert_string_equal(c->label, "ns");
    assert_string_equal(c->query_param, "ns");
    assert_int_equal(c->log_level, TG_LOG_DEBUG);
    tg_config_unref(c);
}

static void test_flags_replace_file_lists(void **state)
{
    struct tg_config *c;
    c = LOAD(LISTEN, UP, TOKENS, "--config-file=" DATA "values.yaml");
    assert_non_null(c);
    assert_int_equal(c->n_label_values, 2);
    assert_string_equal(c->label_values[1], "team-b");
    tg_config_unref(c);
    c = LOAD(LISTEN, UP, TOKENS, "--config-file=" DATA "values.yaml", "--label-value=c");
    assert_int_equal(c->n_label_values, 1);
    assert_string_equal(c->label_values[0], "c");
    tg_config_unref(c);
}

/* ---- validation ---- */

static void test_validation(void **state)
{
    expect_error(LOAD(UP, TOKENS, "--config-file=" DATA "static.yaml"), TG_CONFIG_FAILED,
                 "no listener: give --secure-listen-address or --insecure-listen-address");
    expect_error(LOAD(LISTEN, TOKENS, "--config-file=" DATA "static.yaml"), TG_CONFIG_FAILED,
                 "--upstream is required");
    expect_error(LOAD(BASE, "--upstream=tcp://x"), TG_CONFIG_FAILED,
                 "--upstream: upstream URL \"tcp://x\": only http:// and https:// are supported");
    expect_error(LOAD(BASE, "--tls-cert-file=" DATA "tls.crt"), TG_CONFIG_FAILED,
                 "--tls-cert-file and --tls-private-key-file must be given together");
    expect_error(LOAD(BASE, "--upstream-client-key=" DATA "tls.key"), TG_CONFIG_FAILED,
                 "--upstream-client-cert-file and --upstream-client-key-file must be given "
                 "together");
    expect_error(LOAD(BASE, "--client-ca-file=" DATA "tls.crt"), TG_CONFIG_FAILED,
                 "--client-ca-file needs --secure-listen-address");
    expect_error(LOAD(BASE, "--proxy-endpoints-port=9443"), TG_CONFIG_FAILED,
                 "--proxy-endpoints-port needs --secure-listen-address");
    expect_error(LOAD(BASE, "--secure-listen-address=127.0.0.1:8080"), TG_CONFIG_FAILED,
                 "two listeners share one address");
    expect_error(LOAD(LISTEN, UP, "--config-file=" DATA "static.yaml"), TG_CONFIG_FAILED,
                 "no authentication: give --token-auth-file, --client-ca-file, --oidc-issuer or "
                 "--kubeconfig (or run in a cluster)");
    expect_error(LOAD(LISTEN, UP, TOKENS), TG_CONFIG_FAILED,
                 "no authorization: without Kubernetes (--kubeconfig or in-cluster) "
                 "authorization.static rules are required");
    expect_error(LOAD(BASE, "--config-file=" DATA "missing.yaml"), TG_CONFIG_FAILED,
                 "test/unit/data/config/missing.yaml: No such file or directory");
    expect_error(
        LOAD(LISTEN, UP, "--config-file=" DATA "static.yaml", "--token-auth-file=" DATA "nope.csv"),
        TG_CONFIG_FAILED, "test/unit/data/config/nope.csv: No such file or directory");
}

static void test_kube_enabled(void **state)
{
    struct tg_config *c;
    c = LOAD(BASE);
    assert_int_equal(c->kube_enabled, 0);
    tg_config_unref(c);
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    c = LOAD(LISTEN, UP);
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_non_null(c);
    assert_int_equal(c->kube_enabled, 1);
    assert_null(c->kubeconfig);
    tg_config_unref(c);
    expect_error(LOAD(LISTEN, UP, "--kubeconfig=" DATA "no-kubeconfig"), TG_CONFIG_FAILED,
                 "--kubeconfig test/unit/data/config/no-kubeconfig: No such file or directory");
}

static void test_tls_files(void **state)
{
    struct tg_config *c;
    c = LOAD(BASE, "--secure-listen-address=:8443", "--tls-cert-file=" DATA "tls.crt",
             "--tls-private-key-file=" DATA "tls.key", "--client-ca-file=" DATA "tls.crt",
             "--upstream=https://thanos:9091/", "--upstream-ca-file=" DATA "tls.crt",
             "--upstream-client-cert-file=" DATA "tls.crt",
             "--upstream-client-key-file=" DATA "tls.key",
             "--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    assert_non_null(c);
    assert_int_equal(c->upstream_url.https, 1);
    assert_int_equal(c->upstream_url.port, 9091);
    tg_config_unref(c);
    c = LOAD(BASE, "--secure-listen-address=:8443", "--tls-cert-file=" DATA "tls.crt",
             "--tls-private-key-file=" DATA "other.key");
    assert_null(c);
    assert_string_equal(err, "--tls-cert-file test/unit/data/config/other.key does not match "
                             "test/unit/data/config/tls.crt");
    c = LOAD(BASE, "--secure-listen-address=:8443", "--tls-cert-file=" DATA "nope.crt",
             "--tls-private-key-file=" DATA "tls.key");
    assert_null(c);
    assert_non_null(strstr(err, "--tls-cert-file test/unit/data/config/nope.crt: "));
    c = LOAD(BASE, "--secure-listen-address=:8443", "--client-ca-file=" DATA "garbage.pem");
    assert_null(c);
    assert_non_null(strstr(err, "--client-ca-file test/unit/data/config/garbage.pem: "));
    c = LOAD(BASE, "--upstream=https://h/", "--upstream-ca-file=" DATA "tls.key");
    assert_null(c);
    assert_non_null(strstr(err, "--upstream-ca-file test/unit/data/config/tls.key: "));
}

/* --alertmanager-upstream and the alertmanager: section: URL, TLS files
 * inherited from --upstream unless given, resource attributes, body limit. */
static void test_alertmanager(void **state)
{
    struct tg_config *c;

    c = LOAD(BASE);
    assert_non_null(c);
    assert_null(c->am_upstream);
    assert_int_equal(c->am_max_body_bytes, 256 * 1024);
    assert_int_equal(c->has_am_resource_attributes, 0);
    tg_config_unref(c);
    /* TLS files come from --upstream when none of its own are given */
    c = LOAD(BASE, "--upstream=https://thanos:9091/", "--upstream-ca-file=" DATA "tls.crt",
             "--upstream-client-cert-file=" DATA "tls.crt",
             "--upstream-client-key-file=" DATA "tls.key",
             "--alertmanager-upstream=https://alertmanager:9093/am/");
    assert_non_null(c);
    assert_int_equal(c->am_upstream_url.https, 1);
    assert_int_equal(c->am_upstream_url.port, 9093);
    assert_string_equal(c->am_upstream_url.path, "/am/");
    assert_string_equal(c->am_ca_file, DATA "tls.crt");
    assert_string_equal(c->am_client_cert_file, DATA "tls.crt");
    assert_string_equal(c->am_client_key_file, DATA "tls.key");
    tg_config_unref(c);
    /* its own CA; no client certificate at all */
    c = LOAD(BASE, "--alertmanager-upstream=https://am/",
             "--alertmanager-upstream-ca-file=" DATA "tls.crt");
    assert_non_null(c);
    assert_string_equal(c->am_ca_file, DATA "tls.crt");
    assert_null(c->am_client_cert_file);
    tg_config_unref(c);
    expect_error(LOAD(BASE, "--alertmanager-upstream=ftp://am/"), TG_CONFIG_FAILED,
                 "--alertmanager-upstream: upstream URL \"ftp://am/\": only http:// and https:// "
                 "are supported");
    expect_error(LOAD(BASE, "--alertmanager-upstream=https://am/",
                      "--alertmanager-upstream-client-cert-file=" DATA "tls.crt"),
                 TG_CONFIG_FAILED,
                 "--alertmanager-upstream-client-cert-file and "
                 "--alertmanager-upstream-client-key-file must be given together");
    c = LOAD(BASE, "--alertmanager-upstream=https://am/",
             "--alertmanager-upstream-ca-file=" DATA "tls.key");
    assert_null(c);
    assert_non_null(strstr(err, "--alertmanager-upstream-ca-file test/unit/data/config/tls.key: "));
    /* the file section; a flag wins over it */
    assert_int_equal(yload("alertmanager:\n  upstream: http://am:9093/\n  maxBodyBytes: 64Ki\n"
                           "  resourceAttributes:\n    namespace: \"{{.Value}}\"\n"
                           "    apiGroup: monitoring.coreos.com\n    resource: prometheusrules\n"),
                     0);
    assert_string_equal(cfg_y->am_upstream, "http://am:9093/");
    assert_int_equal(cfg_y->am_max_body_bytes, 65536);
    assert_int_equal(cfg_y->has_am_resource_attributes, 1);
    assert_int_equal(cfg_y->has_resource_attributes, 0);
    assert_string_equal(cfg_y->am_resource_attributes.namespace_, "{{ .Value }}");
    assert_string_equal(cfg_y->am_resource_attributes.api_group, "monitoring.coreos.com");
    assert_string_equal(cfg_y->am_resource_attributes.resource, "prometheusrules");
    assert_int_equal(yload("alertmanager:\n  maxBodyBytes: lots\n"), -1);
    assert_non_null(strstr(err, ":2: alertmanager.maxBodyBytes: "));
    assert_int_equal(yload("alertmanager:\n  resourceAttributes:\n    namespace: \"{{ .Bad }}\"\n"),
                     -1);
    assert_non_null(strstr(err, "alertmanager.resourceAttributes.namespace"));
}

/* ---- token file ---- */

static struct tg_static_token *toks;
static size_t ntoks;

static int tparse(const char *text)
{
    tg_tokens_free(toks, ntoks);
    toks = NULL;
    ntoks = 0;
    err[0] = '\0';
    return tg_tokens_parse(text, strlen(text), "tokens.csv", &toks, &ntoks, err, sizeof(err));
}

static int teardown_tokens(void **state)
{
    tg_tokens_free(toks, ntoks);
    toks = NULL;
    ntoks = 0;
    return 0;
}

static void test_tokens_basic(void **state)
{
    assert_int_equal(tparse("t1,alice,u1\nt2,bob,u2,\"g1,g2\"\n"), 0);
    assert_int_equal(ntoks, 2);
    assert_string_equal(toks[0].token, "t1");
    assert_string_equal(toks[0].user, "alice");
    assert_string_equal(toks[0].uid, "u1");
    assert_int_equal(toks[0].n_groups, 0);
    assert_int_equal(toks[1].n_groups, 2);
    assert_string_equal(toks[1].groups[0], "g1");
    assert_string_equal(toks[1].groups[1], "g2");
    assert_int_equal(tparse(""), 0);
    assert_int_equal(ntoks, 0);
    assert_int_equal(tparse("\n\n# nothing\n"), 0);
    assert_int_equal(ntoks, 0);
}

static void test_tokens_edge_cases(void **state)
{
    /* CRLF, quoted token with comma and quote, empty/odd groups, extra columns, no final EOL */
    assert_int_equal(tparse("# c\r\n\"a,\"\"b\",u, id ,\",g1,,g2,\",x,y\r\nt2,v,w,\"\"\r\nt3,x,y"),
                     0);
    assert_int_equal(ntoks, 3);
    assert_string_equal(toks[0].token, "a,\"b");
    assert_string_equal(toks[0].uid, " id "); /* no trimming, as in Go's csv */
    assert_int_equal(toks[0].n_groups, 2);
    assert_string_equal(toks[0].groups[0], "g1");
    assert_string_equal(toks[0].groups[1], "g2");
    assert_int_equal(toks[1].n_groups, 0);
    assert_string_equal(toks[2].uid, "y");
    /* a quoted field spanning lines keeps later line numbers right */
    assert_int_equal(tparse("t1,u,i,\"g1,\ng2\"\nt1,x,y\n"), -1);
    assert_string_equal(err, "tokens.csv:3: duplicate token (first on line 1)");
}

static void test_tokens_errors(void **state)
{
    assert_int_equal(tparse("t1,alice\n"), -1);
    assert_string_equal(err, "tokens.csv:1: expected at least 3 columns "
                             "(token,user,uid[,\"group1,group2\"]), found 2");
    assert_int_equal(tparse("t1,a,1\n\nt2,b,2\nt1,c,3\n"), -1);
    assert_string_equal(err, "tokens.csv:4: duplicate token (first on line 1)");
    assert_int_equal(tparse("t1,a,1\n,b,2\n"), -1);
    assert_string_equal(err, "tokens.csv:2: empty token");
    assert_int_equal(tparse("t1,,1\n"), -1);
    assert_string_equal(err, "tokens.csv:1: empty user name");
    assert_int_equal(tparse("t1,a\"b,1\n"), -1);
    assert_string_equal(err, "tokens.csv:1: bare \" in unquoted field (quote the whole field)");
    assert_int_equal(tparse("t1,a,1,\"g\n"), -1);
    assert_string_equal(err, "tokens.csv:2: missing closing \" in quoted field");
    assert_int_equal(tparse("t1,a,1,\"g\"x\n"), -1);
    assert_string_equal(err, "tokens.csv:1: unexpected text after closing \"");
}

static void test_tokens_file(void **state)
{
    struct tg_config *c = LOAD(BASE);
    assert_non_null(c);
    assert_int_equal(c->n_tokens, 3);
    assert_string_equal(c->tokens[0].token, "token-alpha");
    assert_string_equal(c->tokens[2].token, "token,gamma");
    assert_string_equal(c->tokens[2].user, "carol");
    assert_int_equal(c->tokens[2].n_groups, 0);
    tg_config_unref(c);
}

/* ---- reload ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_reload_keeps_old_on_error(void **state)
{
    char dir[] = "/tmp/tg-config-XXXXXX", yaml[64], csv[64], flag1[128], flag2[128];
    struct tg_config *old, *c;
    assert_non_null(mkdtemp(dir));
    snprintf(yaml, sizeof(yaml), "%s/c.yaml", dir);
    snprintf(csv, sizeof(csv), "%s/t.csv", dir);
    snprintf(flag1, sizeof(flag1), "--config-file=%s", yaml);
    snprintf(flag2, sizeof(flag2), "--token-auth-file=%s", csv);
    write_file(yaml, "authorization:\n  static:\n  - path: /x\ncache:\n  allowTTL: 1m\n");
    write_file(csv, "t1,alice,1\n");
    old = LOAD(LISTEN, UP, flag1, flag2, "--upstream-timeout=7s");
    assert_non_null(old);
    assert_int_equal(old->cache_allow_ttl_ms, 60000);

    write_file(yaml, "cache:\n  allowTTL: 1m\n  alowTTL: 2m\n");
    c = tg_config_reload(old, err, sizeof(err));
    assert_null(c);
    assert_string_equal(err + strlen(dir) + 1, "c.yaml:3: cache.alowTTL: unknown key");
    assert_int_equal(old->cache_allow_ttl_ms, 60000);
    assert_int_equal(old->n_tokens, 1);

    write_file(yaml, "authorization:\n  static:\n  - path: /x\ncache:\n  allowTTL: 2m\n");
    write_file(csv, "t1,alice,1\nt1,bob,2\n");
    c = tg_config_reload(old, err, sizeof(err));
    assert_null(c);
    assert_string_equal(err + strlen(dir) + 1, "t.csv:2: duplicate token (first on line 1)");

    write_file(csv, "t1,alice,1\nt2,bob,2\n");
    c = tg_config_reload(old, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->cache_allow_ttl_ms, 120000);
    assert_int_equal(c->n_tokens, 2);
    assert_int_equal(c->upstream_timeout_ms, 7000); /* flags kept */
    assert_int_equal(old->cache_allow_ttl_ms, 60000);
    assert_int_equal(old->n_tokens, 1);
    tg_config_unref(old);
    tg_config_unref(c);
    unlink(yaml);
    unlink(csv);
    rmdir(dir);
}

static void test_refcount(void **state)
{
    struct tg_config *c = LOAD(BASE);
    assert_int_equal(c->refs, 1);
    assert_ptr_equal(tg_config_ref(c), c);
    assert_int_equal(c->refs, 2);
    tg_config_unref(c);
    assert_int_equal(c->refs, 1);
    tg_config_unref(c);
    tg_config_unref(NULL);
}

/* ---- OIDC and identity headers ---- */

#define ISS "--oidc-issuer=https://idp.example.com"
#define CID "--oidc-clientID=tenantgate"

static void test_oidc_flags(void **state)
{
    struct tg_config *c = LOAD(BASE, ISS, CID);
    const struct tg_oidc_issuer *is;

    assert_non_null(c);
    assert_int_equal(c->n_oidc_issuers, 1);
    is = &c->oidc_issuers[0];
    assert_string_equal(is->url, "https://idp.example.com");
    assert_string_equal(is->client_id, "tenantgate");
    assert_string_equal(is->username_claim, "email");
    assert_string_equal(is->username_prefix, ""); /* email: no prefix */
    assert_string_equal(is->groups_claim, "groups");
    assert_string_equal(is->groups_prefix, "");
    assert_int_equal(is->n_sign_algs, 1);
    assert_string_equal(is->sign_algs[0], "RS256");
    assert_null(is->ca_file);
    tg_config_unref(c);

    /* kube-apiserver's prefix rule: another claim gets "<issuer>#", "-" none */
    c = LOAD(BASE, ISS, CID, "--oidc-username-claim=sub", "--oidc-sign-alg=ES256",
             "--oidc-sign-alg", "RS256", "--oidc-groups-prefix=oidc:");
    assert_non_null(c);
    is = &c->oidc_issuers[0];
    assert_string_equal(is->username_prefix, "https://idp.example.com#");
    assert_string_equal(is->groups_prefix, "oidc:");
    assert_int_equal(is->n_sign_algs, 2);
    assert_string_equal(is->sign_algs[0], "ES256");
    tg_config_unref(c);
    c = LOAD(BASE, ISS, CID, "--oidc-username-claim=sub", "--oidc-username-prefix=-");
    assert_string_equal(c->oidc_issuers[0].username_prefix, "");
    tg_config_unref(c);
    c = LOAD(BASE, ISS, CID, "--oidc-username-prefix=oidc:", "--oidc-ca-file=" DATA "tls.crt");
    assert_string_equal(c->oidc_issuers[0].username_prefix, "oidc:");
    assert_string_equal(c->oidc_issuers[0].ca_file, DATA "tls.crt");
    tg_config_unref(c);
    /* OIDC alone is an authentication provider */
    c = LOAD(LISTEN, UP, "--config-file=" DATA "static.yaml", ISS, CID);
    assert_non_null(c);
    tg_config_unref(c);
    /* without an issuer the other flags do nothing (a warning) */
    c = LOAD(BASE, CID);
    assert_non_null(c);
    assert_int_equal(c->n_oidc_issuers, 0);
    tg_config_unref(c);
}

static void test_oidc_flag_errors(void **state)
{
    expect_error(LOAD(BASE, ISS), TG_CONFIG_FAILED,
                 "--oidc-clientID: the client ID (the audience tokens must carry) is required");
    expect_error(LOAD(BASE, "--oidc-issuer=http://idp", CID), TG_CONFIG_FAILED,
                 "--oidc-issuer: \"http://idp\": the issuer must be an https:// URL");
    expect_error(LOAD(BASE, "--oidc-issuer=https://idp/?x=1", CID), TG_CONFIG_FAILED,
                 "--oidc-issuer: \"https://idp/?x=1\": an issuer URL has no query or fragment");
    expect_error(LOAD(BASE, ISS, CID, "--oidc-sign-alg=HS256"), TG_CONFIG_FAILED,
                 "--oidc-sign-alg: \"HS256\" is not an accepted signature algorithm (RS256, "
                 "RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)");
    expect_error(LOAD(BASE, ISS, CID, "--oidc-sign-alg=none"), TG_CONFIG_FAILED,
                 "--oidc-sign-alg: \"none\" is not an accepted signature algorithm (RS256, "
                 "RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)");
    expect_error(LOAD(BASE, ISS, CID, "--oidc-username-claim="), TG_CONFIG_FAILED,
                 "--oidc-username-claim: the username claim must not be empty");
    expect_error(LOAD(BASE, ISS, CID, "--oidc-ca-file=" DATA "garbage.pem"), TG_CONFIG_FAILED,
                 "--oidc-ca-file: " DATA "garbage.pem: error:05800088:x509 certificate "
                 "routines::no certificate or crl found");
}

static void test_oidc_yaml(void **state)
{
    const struct tg_oidc_issuer *is;
    assert_int_equal(yload("oidc:\n"
                           "  issuer: https://a.example\n"
                           "  clientID: grafana\n"
                           "  requiredClaims: [hd=example.com]\n"
                           "  clockSkew: 30s\n"
                           "  jwksRefreshInterval: 10m\n"
                           "  jwksRefetchInterval: 1s\n"
                           "  issuers:\n"
                           "  - issuer: https://b.example/realms/x\n"
                           "    clientID: kubectl\n"
                           "    usernameClaim: preferred_username\n"
                           "    groupsPrefix: 'b:'\n"
                           "    signAlgs: [ES256, EdDSA]\n"
                           "    requiredClaims: ['tier=gold', 'empty=']\n"),
                     0);
    assert_string_equal(cfg_y->oidc_issuer, "https://a.example");
    assert_string_equal(cfg_y->oidc_client_id, "grafana");
    assert_int_equal(cfg_y->n_oidc_required_claims, 1);
    assert_int_equal(cfg_y->oidc_clock_skew_ms, 30000);
    assert_int_equal(cfg_y->oidc_jwks_refresh_ms, 600000);
    assert_int_equal(cfg_y->oidc_jwks_refetch_ms, 1000);
    assert_int_equal(cfg_y->n_oidc_issuers, 1);
    is = &cfg_y->oidc_issuers[0];
    assert_string_equal(is->url, "https://b.example/realms/x");
    assert_string_equal(is->username_claim, "preferred_username");
    assert_string_equal(is->username_prefix, "https://b.example/realms/x#");
    assert_string_equal(is->groups_claim, "groups");
    assert_string_equal(is->groups_prefix, "b:");
    assert_int_equal(is->n_sign_algs, 2);
    assert_string_equal(is->sign_algs[1], "EdDSA");
    assert_int_equal(is->n_required_claims, 2);
    assert_string_equal(is->required_claims[0], "tier");
    assert_string_equal(is->required_values[0], "gold");
    assert_string_equal(is->required_claims[1], "empty");
    assert_string_equal(is->required_values[1], "");

    yfail("oidc:\n  issuers:\n  - issuer: https://b.example\n",
          "config.yaml:3: oidc.issuers[0].clientID: the client ID (the audience tokens must "
          "carry) is required");
    yfail("oidc:\n  issuers:\n  - clientID: x\n",
          "config.yaml:3: oidc.issuers[0].issuer: an issuer URL is required");
    yfail("oidc:\n  issuers:\n  - issuer: https://b\n    clientID: x\n    signAlgs:\n"
          "    - RS256\n    - HS512\n",
          "config.yaml:7: oidc.issuers[0].signAlgs[1]: \"HS512\" is not an accepted signature "
          "algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)");
    yfail("oidc:\n  requiredClaims: [novalue]\n",
          "config.yaml:2: oidc.requiredClaims[0]: \"novalue\": want claim=value");
    yfail("oidc:\n  issuer: http://a\n",
          "config.yaml:2: oidc.issuer: \"http://a\": the issuer must be an https:// URL");
    yfail("oidc:\n  clockskew: soon\n",
          "config.yaml:2: oidc.clockSkew: invalid duration \"soon\" (Go syntax: 30s, 5m, "
          "1h2m3.5s, 500ms)");
    yfail("oidc:\n  issuers:\n  - issuer: https://b\n    clientId: x\n    group: y\n",
          "config.yaml:5: oidc.issuers[0].group: unknown key");
}

static void test_oidc_merge(void **state)
{
    char dir[] = "/tmp/tg-config-XXXXXX", yaml[64], flag[128];
    struct tg_config *c;
    assert_non_null(mkdtemp(dir));
    snprintf(yaml, sizeof(yaml), "%s/c.yaml", dir);
    snprintf(flag, sizeof(flag), "--config-file=%s", yaml);
    write_file(yaml, "authorization:\n  static:\n  - path: /x\n"
                     "oidc:\n  issuer: https://a\n  clientID: file\n  signAlgs: [ES384]\n"
                     "  issuers:\n  - {issuer: https://b, clientID: b}\n");
    /* the flags win over the file's top-level keys; their issuer comes first */
    c = LOAD(LISTEN, UP, TOKENS, flag, "--oidc-clientID=flag", "--oidc-sign-alg=PS256");
    assert_non_null(c);
    assert_int_equal(c->n_oidc_issuers, 2);
    assert_string_equal(c->oidc_issuers[0].url, "https://a");
    assert_string_equal(c->oidc_issuers[0].client_id, "flag");
    assert_int_equal(c->oidc_issuers[0].n_sign_algs, 1);
    assert_string_equal(c->oidc_issuers[0].sign_algs[0], "PS256");
    assert_string_equal(c->oidc_issuers[1].url, "https://b");
    tg_config_unref(c);
    expect_error(LOAD(LISTEN, UP, TOKENS, flag, "--oidc-issuer=https://b"), TG_CONFIG_FAILED,
                 "OIDC issuer https://b is configured twice");
    unlink(yaml);
    rmdir(dir);
}

static void test_identity_headers(void **state)
{
    struct tg_config *c = LOAD(BASE, "--auth-header-fields-enabled");
    assert_non_null(c);
    assert_int_equal(c->auth_header_fields_enabled, 1);
    assert_string_equal(c->auth_header_user_field, "x-remote-user");
    assert_string_equal(c->auth_header_groups_field, "x-remote-groups");
    assert_string_equal(c->auth_header_groups_sep, "|");
    tg_config_unref(c);
    c = LOAD(BASE, "--auth-header-fields-enabled=true", "--auth-header-user-field-name=X-User",
             "--auth-header-groups-field-name=", "--auth-header-groups-field-separator=,");
    assert_non_null(c);
    assert_string_equal(c->auth_header_user_field, "X-User");
    assert_null(c->auth_header_groups_field);
    tg_config_unref(c);
    expect_error(LOAD(BASE, "--auth-header-user-field-name=Authorization"), TG_CONFIG_FAILED,
                 "--auth-header-user-field-name \"Authorization\" cannot be an identity header");
    expect_error(LOAD(BASE, "--auth-header-groups-field-name=a b"), TG_CONFIG_FAILED,
                 "--auth-header-groups-field-name \"a b\" cannot be an identity header");
    expect_error(LOAD(BASE, "--auth-header-groups-field-name=X-Remote-User"), TG_CONFIG_FAILED,
                 "--auth-header-user-field-name and --auth-header-groups-field-name must differ");
    expect_error(
        LOAD(BASE, "--auth-header-fields-enabled", "--auth-header-groups-field-separator="),
        TG_CONFIG_FAILED,
        "--auth-header-groups-field-separator must not be empty (the groups would run "
        "together)");
    expect_error(LOAD(BASE, "--header-name=X-Tenant", "--auth-header-user-field-name=x-tenant"),
                 TG_CONFIG_FAILED,
                 "--auth-header-user-field-name \"x-tenant\" is also the tenant header");
}

/* ---- --help and docs/config.md ---- */

static char *render(void (*fn)(FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f);
    fclose(f);
    return buf;
}

static void test_docs_match_help(void **state)
{
    char *want = render(tg_config_write_markdown), *have = NULL;
    size_t len;
    if (getenv("TG_WRITE_DOCS"))
        write_file("docs/config.md", want);
    assert_int_equal(tg_read_file("docs/config.md", TG_FILE_MAX, &have, &len, err, sizeof(err)), 0);
    if (strcmp(want, have) != 0)
        fail_msg("docs/config.md differs from --help: regenerate with TG_WRITE_DOCS=1 "
                 "build/test_config");
    free(want);
    free(have);
}

static int n_leaves, n_missing;
static void check_leaf(const char *path, void *ctx)
{
    const struct tg_yaml_key_doc *k;
    (void)ctx;
    n_leaves++;
    for (k = tg_yaml_key_docs; k->path; k++)
        if (strcmp(k->path, path) == 0)
            return;
    fprintf(stderr, "undocumented config key %s\n", path);
    n_missing++;
}

static void test_docs_cover_schema(void **state)
{
    size_t n_docs = 0;
    n_leaves = n_missing = 0;
    tg_yaml_schema_leaves(check_leaf, NULL);
    while (tg_yaml_key_docs[n_docs].path)
        n_docs++;
    assert_int_equal(n_missing, 0);
    assert_int_equal(n_leaves, (int)n_docs); /* and no documented key that does not exist */
    assert_int_equal(n_leaves, 106);
}

static void test_help_mentions_every_flag(void **state)
{
    char *text = render(tg_config_write_usage), needle[80];
    const struct tg_flag_def *d;
    for (d = tg_flag_defs; d->name; d++) {
        if (d->help == NULL)
            continue;
        snprintf(needle, sizeof(needle), "  --%s%s", d->name,
                 d->kind == TG_FK_HELP || d->kind == TG_FK_VERSION ? "\n" : " ");
        if (strstr(text, needle) == NULL)
            fail_msg("--help does not show --%s", d->name);
    }
    assert_non_null(strstr(text, "--upstream-timeout duration                   (default 5m; "
                                 "file: upstream.timeout)\n"));
    free(text);
}

/* ---- check-config ---- */

/* Run tg_cmd_check_config with stdout and stderr captured into out. */
static int check_config(char *out, size_t outlen, int argc, char **argv)
{
    FILE *tmp = tmpfile();
    int saved_out = dup(1), saved_err = dup(2), rc;
    size_t n;
    fflush(stdout);
    fflush(stderr);
    dup2(fileno(tmp), 1);
    dup2(fileno(tmp), 2);
    rc = tg_cmd_check_config(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    rewind(tmp);
    n = fread(out, 1, outlen - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return rc;
}

#define CHECK(out, ...)                                                                            \
    ({                                                                                             \
        char *argv_[] = {"check-config", __VA_ARGS__, NULL};                                       \
        check_config(out, sizeof(out), (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_);        \
    })

static void test_check_config(void **state)
{
    char out[4096];
    assert_int_equal(
        CHECK(out, "--secure-listen-address=0.0.0.0:9090", "--tls-cert-file=" DATA "tls.crt",
              "--tls-private-key-file=" DATA "tls.key", "--upstream=http://127.0.0.1:8080/",
              "--config-file=" SEED, "--logtostderr=true", "--v=10", "--kubeconfig=" KUBECONFIG,
              "--label=namespace", "--enable-label-apis=true"),
        0);
    assert_string_equal(out, "listeners: https 0.0.0.0:9090\n"
                             "upstream: http://127.0.0.1:8080/ (timeout 5m)\n"
                             "tenancy: label namespace, tenant from query parameter namespace, "
                             "service accounts default to their namespace\n"
                             "authentication: TokenReview (" KUBECONFIG ")\n"
                             "authorization: SubjectAccessReview; resource attributes "
                             "namespace={{ .Value }} apiVersion=v1 resource=namespace "
                             "subresource=metrics; verb mode get\n"
                             "kubernetes: kubeconfig " KUBECONFIG
                             " context test, API server 127.0.0.1:6443\n"
                             "config OK\n");
    assert_int_equal(CHECK(out, BASE, "--label-value=a", "--label-value=b",
                           "--insecure-listen-address=[::1]:8080", "--upstream-timeout=90s"),
                     0);
    assert_string_equal(out, "listeners: http [::1]:8080\n"
                             "upstream: http://127.0.0.1:9090/ (timeout 90s)\n"
                             "tenancy: label tenant, tenant from fixed values a,b, service "
                             "accounts default to their namespace\n"
                             "authentication: token file (3 tokens)\n"
                             "authorization: static rules (1); non-resource attributes on the "
                             "request path; verb mode get\n"
                             "config OK\n");
    assert_int_equal(CHECK(out, BASE, "--upstream=ftp://x"), 1);
    assert_string_equal(out, "tenantgate check-config: --upstream: upstream URL \"ftp://x\": "
                             "only http:// and https:// are supported\n");
    /* usage errors exit 2, as on the main command */
    assert_int_equal(CHECK(out, BASE, "--nope"), 2);
    assert_string_equal(out, "tenantgate check-config: unknown flag: --nope\n");
    assert_int_equal(CHECK(out, "--config-file=" SEED, "--v=x"), 2);
    /* a kubeconfig named is read as at start, not only opened */
    assert_int_equal(CHECK(out, LISTEN, UP, "--config-file=" SEED, "--kubeconfig=" DATA "tls.crt"),
                     1);
    assert_non_null(strstr(out, "tenantgate check-config: --kubeconfig " DATA "tls.crt: "));
    assert_null(strstr(out, "config OK"));
}

/* check-config --config-file F alone, as a CI pipeline runs it: the file is
 * checked, nothing else is required, and the output says so. */
static void test_check_config_file_only(void **state)
{
    char out[4096], path[] = "/tmp/tgcheckXXXXXX";
    int fd;
    assert_int_equal(CHECK(out, "--config-file=" SEED), 0);
    assert_string_equal(out, "config file: " SEED " (every key and value)\n"
                             "tenancy: label namespace, tenant from query parameter namespace, "
                             "service accounts default to their namespace\n"
                             "authorization: resource attributes namespace={{ .Value }} "
                             "apiVersion=v1 resource=namespace subresource=metrics; verb mode "
                             "get\n"
                             "not checked: listeners, upstream, which authentication and "
                             "authorization apply, Kubernetes access (no listener and no "
                             "--upstream given: add the proxy's flags to check them)\n"
                             "config file OK\n");
    assert_int_equal(CHECK(out, "--config-file=" DATA "static.yaml", TOKENS), 0);
    assert_non_null(strstr(out, "token file: " DATA "tokens.csv (3 tokens)\n"));
    assert_non_null(strstr(out, "authorization: static rules (1); "));
    /* every error of the file, each on its own line */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    {
        static const char bad[] = "cache:\n  ttl: 1s\n  authnTTL: 2x\nlog: {level: loud}\n";
        assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    }
    close(fd);
    {
        char arg[64];
        snprintf(arg, sizeof(arg), "--config-file=%s", path);
        assert_int_equal(CHECK(out, arg), 1);
    }
    assert_non_null(strstr(out, ":2: cache.ttl: unknown key\ntenantgate check-config: "));
    assert_non_null(strstr(out, ":3: cache.authnTTL: invalid duration \"2x\""));
    assert_non_null(strstr(out, ":4: log.level: invalid log level \"loud\""));
    assert_null(strstr(out, "OK"));
    unlink(path);
    /* a kubeconfig named is read as at start */
    assert_int_equal(CHECK(out, "--config-file=" SEED, "--kubeconfig=" KUBECONFIG), 0);
    assert_non_null(strstr(out, "kubeconfig: " KUBECONFIG ", API server 127.0.0.1:6443\n"));
    assert_int_equal(CHECK(out, "--config-file=" SEED, "--kubeconfig=" DATA "tls.crt"), 1);
    assert_non_null(strstr(out, "tenantgate check-config: --kubeconfig " DATA "tls.crt: "));
    /* nothing named: nothing to check */
    assert_int_equal(CHECK(out, "--label=namespace"), 2);
    assert_non_null(strstr(out, "nothing to check"));
}

/* In-cluster mode: the service account is read as at start; when it is not
 * there (a CI machine), a warning says it could not be checked and "config
 * OK" is not printed. */
static void test_check_config_in_cluster(void **state)
{
    char out[4096], dir[] = "/tmp/tgsaXXXXXX", tok[64];
    FILE *f;
    assert_non_null(mkdtemp(dir));
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    setenv("TG_SA_DIR", dir, 1);
    assert_int_equal(CHECK(out, LISTEN, UP, "--config-file=" SEED), 0);
    assert_non_null(strstr(out, "tenantgate check-config: warning: the in-cluster Kubernetes "
                                "credentials could not be checked here: in-cluster token "));
    assert_non_null(strstr(out, "not checked: in-cluster Kubernetes credentials (see the "
                                "warning)\nconfig valid as far as it could be checked here\n"));
    assert_null(strstr(out, "config OK"));
    snprintf(tok, sizeof(tok), "%s/token", dir);
    f = fopen(tok, "w");
    assert_non_null(f);
    fputs("sa-token\n", f);
    fclose(f);
    assert_int_equal(CHECK(out, LISTEN, UP, "--config-file=" SEED), 0);
    assert_non_null(strstr(out, "kubernetes: in-cluster, API server 10.0.0.1:443\nconfig OK\n"));
    unlink(tok);
    rmdir(dir);
    unsetenv("TG_SA_DIR");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("KUBERNETES_SERVICE_HOST");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flag_spellings),
        cmocka_unit_test(test_flag_bool_forms),
        cmocka_unit_test(test_flag_klog_v),
        cmocka_unit_test(test_flag_unknown_and_missing),
        cmocka_unit_test(test_flag_bad_values),
        cmocka_unit_test(test_flag_usage_error_before_file_error),
        cmocka_unit_test(test_flag_lists_accumulate),
        cmocka_unit_test(test_flag_cipher_suites),
        cmocka_unit_test(test_flag_ignored_and_refused),
        cmocka_unit_test(test_oidc_flags),
        cmocka_unit_test(test_oidc_flag_errors),
        cmocka_unit_test_teardown(test_oidc_yaml, teardown_yaml),
        cmocka_unit_test(test_oidc_merge),
        cmocka_unit_test(test_identity_headers),
        cmocka_unit_test(test_flag_help_version),
        cmocka_unit_test(test_flag_aliases),
        cmocka_unit_test(test_flag_defaults_match_help),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_durations64),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_listen_addresses),
        cmocka_unit_test(test_upstream_urls),
        cmocka_unit_test(test_templates),
        cmocka_unit_test_teardown(test_yaml_seed_verbatim, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_full, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_empty_and_null, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_case_insensitive_keys, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_unknown_keys, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_wrong_kinds, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_bad_values, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_limits, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_limits_errors, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_static_rule_rules, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_syntax_errors, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_every_error, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_errors_overflow, teardown_yaml),
        cmocka_unit_test_teardown(test_yaml_same_meaning_as_flags, teardown_yaml),
        cmocka_unit_test(test_merge_tenancy),
        cmocka_unit_test(test_flags_win_over_file),
        cmocka_unit_test(test_flags_replace_file_lists),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_kube_enabled),
        cmocka_unit_test(test_tls_files),
        cmocka_unit_test_teardown(test_alertmanager, teardown_yaml),
        cmocka_unit_test_teardown(test_tokens_basic, teardown_tokens),
        cmocka_unit_test_teardown(test_tokens_edge_cases, teardown_tokens),
        cmocka_unit_test_teardown(test_tokens_errors, teardown_tokens),
        cmocka_unit_test(test_tokens_file),
        cmocka_unit_test(test_reload_keeps_old_on_error),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_docs_match_help),
        cmocka_unit_test(test_docs_cover_schema),
        cmocka_unit_test(test_help_mentions_every_flag),
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_check_config_file_only),
        cmocka_unit_test(test_check_config_in_cluster),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
