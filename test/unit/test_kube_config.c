/* Unit tests for lib/kube/target.c: kubeconfig and in-cluster discovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tenantgate/kube.h"

#define CA_PEM "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n"
/* base64 of CA_PEM */
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClEwRT0KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="

struct fx {
    char dir[64];
};

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[256];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    strcpy(fx->dir, "/tmp/tgkubeXXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        return -1;
    free(fx);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    return 0;
}

static int load(struct fx *fx, const char *yaml, const char *ctx, struct tg_kube_target *t,
                char *err, size_t errlen)
{
    char path[256];
    write_file(fx->dir, "config", yaml);
    snprintf(path, sizeof(path), "%s/config", fx->dir);
    return tg_kube_target_from_kubeconfig(path, ctx, t, err, errlen);
}

static const char *KC_INLINE = "apiVersion: v1\n"
                               "kind: Config\n"
                               "preferences: {}\n"
                               "current-context: kind-kind\n"
                               "clusters:\n"
                               "- name: kind-kind\n"
                               "  cluster:\n"
                               "    server: https://127.0.0.1:6443/\n"
                               "    certificate-authority-data: " CA_B64 "\n"
                               "    extensions:\n"
                               "    - name: x\n"
                               "      extension: {a: 1}\n"
                               "- name: other\n"
                               "  cluster:\n"
                               "    server: https://[fd00::1]:8443/k8s/clusters/c-1\n"
                               "    certificate-authority: ca/other.pem\n"
                               "    tls-server-name: api.other\n"
                               "contexts:\n"
                               "- name: kind-kind\n"
                               "  context: {cluster: kind-kind, user: admin, namespace: default}\n"
                               "- name: other\n"
                               "  context: {cluster: other, user: tf}\n"
                               "users:\n"
                               "- name: admin\n"
                               "  user:\n"
                               "    token: s3cr3t\n"
                               "    exec: {command: foo, apiVersion: v1}\n"
                               "- name: tf\n"
                               "  user:\n"
                               "    tokenFile: tok\n"
                               "    client-certificate: certs/c.pem\n"
                               "    client-key: certs/k.pem\n";

static void test_inline_current_context(void **state)
{
    struct fx *fx = *state;
    struct tg_kube_target t;
    char err[256] = "";
    assert_int_equal(load(fx, KC_INLINE, NULL, &t, err, sizeof(err)), 0);
    assert_true(t.https);
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 6443);
    assert_string_equal(t.path_prefix, "");
    assert_non_null(t.ca_pem);
    assert_int_equal(t.ca_pem_len, strlen(CA_PEM));
    assert_memory_equal(t.ca_pem, CA_PEM, t.ca_pem_len);
    assert_string_equal(t.token, "s3cr3t");
    assert_null(t.token_file);
    assert_null(t.tls_server_name);
    assert_non_null(strstr(t.source, "kind-kind"));
    tg_kube_target_free(&t);
}

static void test_files_relative_paths(void **state)
{
    struct fx *fx = *state;
    struct tg_kube_target t;
    char err[256] = "", path[256];
    snprintf(path, sizeof(path), "%s/ca", fx->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/certs", fx->dir);
    mkdir(path, 0700);
    write_file(fx->dir, "ca/other.pem", CA_PEM);
    write_file(fx->dir, "certs/c.pem", "CERT");
    write_file(fx->dir, "certs/k.pem", "KEY");
    assert_int_equal(load(fx, KC_INLINE, "other", &t, err, sizeof(err)), 0);
    assert_string_equal(t.host, "fd00::1");
    assert_int_equal(t.port, 8443);
    assert_string_equal(t.path_prefix, "/k8s/clusters/c-1");
    assert_string_equal(t.tls_server_name, "api.other");
    assert_string_equal(t.ca_pem, CA_PEM);
    assert_string_equal(t.cert_pem, "CERT");
    assert_string_equal(t.key_pem, "KEY");
    snprintf(path, sizeof(path), "%s/tok", fx->dir);
    assert_string_equal(t.token_file, path);
    assert_null(t.token);
    tg_kube_target_free(&t);
}

static void test_missing_file_is_error(void **state)
{
    struct fx *fx = *state;
    struct tg_kube_target t;
    char err[256] = "";
    /* ca/other.pem not created */
    assert_int_equal(load(fx, KC_INLINE, "other", &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "other.pem"));
}

static void expect_error(struct fx *fx, const char *yaml, const char *ctx, const char *needle)
{
    struct tg_kube_target t;
    char err[256] = "";
    assert_int_equal(load(fx, yaml, ctx, &t, err, sizeof(err)), -1);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_errors(void **state)
{
    struct fx *fx = *state;
    expect_error(fx, KC_INLINE, "nope", "context \"nope\" not found");
    expect_error(fx, "clusters: []\n", NULL, "no current-context");
    expect_error(fx, "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n",
                 NULL, "cluster \"c\" not found");
    expect_error(fx,
                 "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
                 "clusters:\n- name: c\n  cluster: {server: 'https://h:1'}\n",
                 NULL, "user \"u\" not found");
    expect_error(fx,
                 "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
                 "clusters:\n- name: c\n  cluster: {server: 'https://h:1', "
                 "insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: x}\n",
                 NULL, "insecure-skip-tls-verify");
    expect_error(fx,
                 "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
                 "clusters:\n- name: c\n  cluster: {server: 'https://h:99999'}\n"
                 "users:\n- name: u\n  user: {token: x}\n",
                 NULL, "bad port");
    expect_error(fx,
                 "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
                 "clusters:\n- name: c\n  cluster: {server: 'https://h', "
                 "certificate-authority-data: '!!notbase64'}\n"
                 "users:\n- name: u\n  user: {token: x}\n",
                 NULL, "invalid base64");
    expect_error(fx,
                 "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
                 "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
                 "users:\n- name: u\n  user: {exec: {command: aws}}\n",
                 NULL, "no supported credentials");
    expect_error(fx, "clusters: [unclosed\n", NULL, "kubeconfig");
}

static void test_default_port_and_bare_host(void **state)
{
    struct fx *fx = *state;
    struct tg_kube_target t;
    char err[256] = "";
    assert_int_equal(
        load(fx,
             "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
             "clusters:\n- name: c\n  cluster: {server: 'api.example.com'}\n"
             "users:\n- name: u\n  user: {token: x}\n",
             NULL, &t, err, sizeof(err)),
        0);
    assert_true(t.https);
    assert_string_equal(t.host, "api.example.com");
    assert_int_equal(t.port, 443);
    assert_null(t.ca_pem);
    tg_kube_target_free(&t);
}

static void test_in_cluster(void **state)
{
    struct fx *fx = *state;
    struct tg_kube_target t;
    char err[256] = "";
    int nic = 0;

    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    assert_int_equal(tg_kube_target_in_cluster(fx->dir, &t, &nic, err, sizeof(err)), -1);
    assert_int_equal(nic, 1);

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    /* no token yet: an error, but "in cluster" */
    assert_int_equal(tg_kube_target_in_cluster(fx->dir, &t, &nic, err, sizeof(err)), -1);
    assert_int_equal(nic, 0);
    assert_non_null(strstr(err, "token"));

    write_file(fx->dir, "token", "eyJhbGciOi.tok\n");
    write_file(fx->dir, "ca.crt", CA_PEM);
    assert_int_equal(tg_kube_target_in_cluster(fx->dir, &t, &nic, err, sizeof(err)), 0);
    assert_string_equal(t.host, "10.96.0.1");
    assert_int_equal(t.port, 443);
    assert_true(t.https);
    assert_string_equal(t.ca_pem, CA_PEM);
    assert_non_null(strstr(t.token_file, "/token"));
    assert_null(t.token);
    tg_kube_target_free(&t);

    /* IPv6 service host, directory from the environment */
    setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    setenv(TG_KUBE_SA_DIR_ENV, fx->dir, 1);
    assert_int_equal(tg_kube_target_in_cluster(NULL, &t, &nic, err, sizeof(err)), 0);
    assert_string_equal(t.host, "fd00:10:96::1");
    assert_int_equal(t.port, 6443);
    tg_kube_target_free(&t);
    unsetenv(TG_KUBE_SA_DIR_ENV);
}

static void test_from_config(void **state)
{
    struct fx *fx = *state;
    struct tg_config cfg;
    struct tg_kube_target t;
    char err[256] = "", path[256];

    memset(&cfg, 0, sizeof(cfg));
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(tg_kube_target_from_config(&cfg, &t, err, sizeof(err)), 1);
    write_file(fx->dir, "config", KC_INLINE);
    snprintf(path, sizeof(path), "%s/config", fx->dir);
    cfg.kubeconfig = path;
    assert_int_equal(tg_kube_target_from_config(&cfg, &t, err, sizeof(err)), 0);
    assert_string_equal(t.token, "s3cr3t");
    tg_kube_target_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inline_current_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_port_and_bare_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
