/* Unit tests for lib/auth/static.c: token lookup, users, service-account
 * namespaces, resourceAttributes templating, the static authorizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/config/config-int.h"
#include "tenantgate/auth.h"

static char err[512];
static struct tg_sha256 *sha; /* token digests, as the server holds them */

/* A config from YAML text plus a token CSV (both may be empty). */
static struct tg_config *make(const char *yaml, const char *csv)
{
    struct tg_config *c = tg_config_new_defaults();
    struct tg_yaml_extra x = {0};
    assert_int_equal(tg_yaml_load(c, &x, yaml, strlen(yaml), "t.yaml", err, sizeof(err)), 0);
    tg_yaml_extra_free(&x);
    assert_int_equal(
        tg_tokens_parse(csv, strlen(csv), "t.csv", &c->tokens, &c->n_tokens, err, sizeof(err)), 0);
    return c;
}

static struct tg_user user(const char *name, tg_iovec_t *groups, size_t n)
{
    struct tg_user u = {0};
    u.name = tg_iov_str(name);
    u.groups = groups;
    u.n_groups = n;
    return u;
}

/* ---- tokens ---- */

static void test_token_lookup(void **state)
{
    struct tg_config *c = make("", "alpha-token,alice,1,\"a,b\"\nbeta,bob,2\ngamma,carol,3\n");
    const struct tg_static_token *t;
    t = tg_auth_token_lookup(sha, c, TG_IOV_LIT("beta"));
    assert_non_null(t);
    assert_string_equal(t->user, "bob");
    t = tg_auth_token_lookup(sha, c, TG_IOV_LIT("alpha-token"));
    assert_ptr_equal(t, &c->tokens[0]);
    t = tg_auth_token_lookup(sha, c, TG_IOV_LIT("gamma"));
    assert_ptr_equal(t, &c->tokens[2]);
    assert_null(tg_auth_token_lookup(sha, c, TG_IOV_LIT("alpha")));         /* prefix */
    assert_null(tg_auth_token_lookup(sha, c, TG_IOV_LIT("alpha-token-x"))); /* longer */
    assert_null(tg_auth_token_lookup(sha, c, TG_IOV_LIT("Beta")));
    assert_null(tg_auth_token_lookup(sha, c, TG_IOV_LIT("")));
    assert_null(tg_auth_token_lookup(sha, c, tg_iov("beta\0", 5)));
    /* the iovec is not NUL-terminated */
    assert_non_null(tg_auth_token_lookup(sha, c, tg_iov("betamax", 4)));
    tg_config_unref(c);
    c = make("", "");
    assert_null(tg_auth_token_lookup(sha, c, TG_IOV_LIT("beta")));
    tg_config_unref(c);
}

static void test_user_from_token(void **state)
{
    struct tg_config *c = make("", "t1,alice,uid-1,\"team-a,admins\"\n"
                                   "t2,bob,uid-2,\"system:authenticated,x\"\n"
                                   "t3,carol,uid-3\n");
    struct tg_user u;
    tg_arena_t a;
    tg_arena_init(&a, NULL, 0);

    tg_auth_user_from_token(&u, &c->tokens[0], &a);
    assert_true(tg_iov_eq_str(u.name, "alice"));
    assert_true(tg_iov_eq_str(u.uid, "uid-1"));
    assert_string_equal(u.provider, "token-file");
    assert_int_equal(u.n_groups, 3);
    assert_true(tg_iov_eq_str(u.groups[0], "team-a"));
    assert_true(tg_iov_eq_str(u.groups[1], "admins"));
    assert_true(tg_iov_eq_str(u.groups[2], "system:authenticated"));
    assert_int_equal(u.n_extra, 0);

    tg_auth_user_from_token(&u, &c->tokens[1], &a);
    assert_int_equal(u.n_groups, 2); /* not added twice */

    tg_auth_user_from_token(&u, &c->tokens[2], &a);
    assert_int_equal(u.n_groups, 1);
    assert_true(tg_iov_eq_str(u.groups[0], "system:authenticated"));

    tg_arena_destroy(&a);
    tg_config_unref(c);
}

/* ---- service accounts ---- */

static int sa_ns(const char *name, const char *want)
{
    struct tg_user u = user(name, NULL, 0);
    tg_iovec_t ns = TG_IOV_NULL;
    int r = tg_auth_sa_namespace(&u, &ns);
    if (r && want)
        assert_true(tg_iov_eq_str(ns, want));
    return r;
}

static void test_sa_namespace(void **state)
{
    assert_int_equal(sa_ns("system:serviceaccount:team-a:grafana", "team-a"), 1);
    assert_int_equal(sa_ns("system:serviceaccount:a:b", "a"), 1);
    assert_int_equal(sa_ns("system:serviceaccount::grafana", NULL), 0);
    assert_int_equal(sa_ns("system:serviceaccount:team-a:", NULL), 0);
    assert_int_equal(sa_ns("system:serviceaccount:team-a", NULL), 0);
    assert_int_equal(sa_ns("system:serviceaccount:", NULL), 0);
    assert_int_equal(sa_ns("system:serviceaccount:a:b:c", NULL), 0);
    assert_int_equal(sa_ns("system:serviceaccounts:team-a", NULL), 0);
    assert_int_equal(sa_ns("alice", NULL), 0);
    assert_int_equal(sa_ns("", NULL), 0);
}

/* ---- templating ---- */

/* The seed config as manifests/base ships it (the tests run in the source
 * dir), plus `extra` appended; heap, for free(). */
static char *seed_config(const char *extra)
{
    char *data, *out;
    size_t len;
    assert_int_equal(
        tg_read_file("manifests/base/config.yaml", TG_FILE_MAX, &data, &len, err, sizeof(err)), 0);
    out = tg_realloc(data, len + strlen(extra) + 1);
    memcpy(out + len, extra, strlen(extra) + 1);
    return out;
}

static void test_attrs_seed(void **state)
{
    char *seed = seed_config("");
    struct tg_config *c = make(seed, "");
    struct tg_authz_attrs at;
    tg_arena_t a;
    free(seed);
    tg_arena_init(&a, NULL, 0);
    tg_auth_attrs_for_value(&a, c, TG_IOV_LIT("get"), TG_IOV_LIT("/api/v1/query"),
                            TG_IOV_LIT("team-a"), &at);
    assert_true(tg_iov_eq_str(at.verb, "get"));
    assert_true(tg_iov_eq_str(at.namespace_, "team-a"));
    assert_true(tg_iov_eq_str(at.api_group, ""));
    assert_true(tg_iov_eq_str(at.api_version, "v1"));
    assert_true(tg_iov_eq_str(at.resource, "namespace"));
    assert_true(tg_iov_eq_str(at.subresource, "metrics"));
    assert_true(tg_iov_eq_str(at.name, ""));
    assert_true(tg_iov_eq_str(at.path, ""));
    assert_int_equal(at.resource_request, 1);
    /* untemplated values point into the config, not the arena */
    assert_ptr_equal(at.resource.base, c->resource_attributes.resource);
    tg_arena_destroy(&a);
    tg_config_unref(c);
}

static void test_attrs_spellings_and_repeats(void **state)
{
    struct tg_config *c = make("authorization:\n"
                               "  rewrites: {byHttpHeader: {name: X-Tenant}}\n"
                               "  resourceAttributes:\n"
                               "    namespace: \"{{.Value}}\"\n"
                               "    name: \"{{.Value}}-{{ .Value}}/x\"\n",
                               "");
    struct tg_authz_attrs at;
    tg_arena_t a;
    tg_arena_init(&a, NULL, 0);
    tg_auth_attrs_for_value(&a, c, TG_IOV_LIT("create"), TG_IOV_LIT("/"),
                            tg_iov("b{{ .Value }}xyz", 13), &at);
    /* a value that looks like a template is not expanded again */
    assert_true(tg_iov_eq_str(at.namespace_, "b{{ .Value }}"));
    assert_true(tg_iov_eq_str(at.name, "b{{ .Value }}-b{{ .Value }}/x"));
    assert_true(tg_iov_eq_str(at.verb, "create"));
    tg_arena_destroy(&a);
    tg_config_unref(c);
}

static void test_attrs_without_resource_attributes(void **state)
{
    struct tg_config *c = make("", "");
    struct tg_authz_attrs at;
    tg_arena_t a;
    tg_arena_init(&a, NULL, 0);
    tg_auth_attrs_for_value(&a, c, TG_IOV_LIT("get"), TG_IOV_LIT("/api/v1/query"),
                            TG_IOV_LIT("team-a"), &at);
    assert_int_equal(at.resource_request, 0);
    assert_true(tg_iov_eq_str(at.path, "/api/v1/query"));
    assert_true(tg_iov_eq_str(at.namespace_, ""));
    assert_true(tg_iov_eq_str(at.resource, ""));
    tg_arena_destroy(&a);
    tg_config_unref(c);
}

/* ---- static authorizer ---- */

static const char rules[] = "authorization:\n"
                            "  static:\n"
                            "  - user:\n" /* 0: a group, any user name */
                            "      groups: [observers, sre]\n"
                            "    verb: get\n"
                            "    resource: pods\n"
                            "    subresource: metrics\n"
                            "    resourceRequest: true\n"
                            "  - user: {name: alice}\n" /* 1: alice, team-a only */
                            "    namespace: team-a\n"
                            "    resourceRequest: true\n"
                            "  - path: /metrics\n" /* 2: anyone, non-resource /metrics */
                            "    verb: get\n";

static struct tg_authz_attrs res_attrs(const char *verb, const char *ns)
{
    struct tg_authz_attrs at = {0};
    at.verb = tg_iov_str(verb);
    at.namespace_ = tg_iov_str(ns);
    at.api_version = TG_IOV_LIT("v1");
    at.resource = TG_IOV_LIT("pods");
    at.subresource = TG_IOV_LIT("metrics");
    at.resource_request = 1;
    return at;
}

static void test_static_groups_honoured(void **state)
{
    struct tg_config *c = make(rules, "");
    tg_iovec_t g_obs[] = {TG_IOV_LIT("system:authenticated"), TG_IOV_LIT("sre")};
    tg_iovec_t g_none[] = {TG_IOV_LIT("system:authenticated"), TG_IOV_LIT("dev")};
    struct tg_user in = user("bob", g_obs, 2), out = user("bob", g_none, 2);
    struct tg_user nogroups = user("bob", NULL, 0);
    struct tg_authz_attrs at = res_attrs("get", "team-b");

    assert_int_equal(tg_auth_static_decide(c, &in, &at), TG_AUTHZ_ALLOW);
    assert_int_equal(tg_auth_static_decide(c, &out, &at), TG_AUTHZ_NO_OPINION);
    assert_int_equal(tg_auth_static_decide(c, &nogroups, &at), TG_AUTHZ_NO_OPINION);
    at.verb = TG_IOV_LIT("create");
    assert_int_equal(tg_auth_static_decide(c, &in, &at), TG_AUTHZ_NO_OPINION);
    tg_config_unref(c);
}

static void test_static_wildcards_and_user(void **state)
{
    struct tg_config *c = make(rules, "");
    struct tg_user alice = user("alice", NULL, 0), alicia = user("alicia", NULL, 0);
    struct tg_authz_attrs at = res_attrs("delete", "team-a");

    /* rule 1: empty verb/resource/... match anything, namespace must match */
    assert_int_equal(tg_auth_static_decide(c, &alice, &at), TG_AUTHZ_ALLOW);
    assert_int_equal(tg_auth_static_decide(c, &alicia, &at), TG_AUTHZ_NO_OPINION);
    at.namespace_ = TG_IOV_LIT("team-ab");
    assert_int_equal(tg_auth_static_decide(c, &alice, &at), TG_AUTHZ_NO_OPINION);
    at.namespace_ = TG_IOV_LIT("team-");
    assert_int_equal(tg_auth_static_decide(c, &alice, &at), TG_AUTHZ_NO_OPINION);
    tg_config_unref(c);
}

static void test_static_resource_request_must_equal(void **state)
{
    struct tg_config *c = make(rules, "");
    struct tg_user alice = user("alice", NULL, 0), bob = user("bob", NULL, 0);
    struct tg_authz_attrs at = {0};

    /* non-resource request: only rule 2 can match, on its exact path */
    at.verb = TG_IOV_LIT("get");
    at.path = TG_IOV_LIT("/metrics");
    assert_int_equal(tg_auth_static_decide(c, &bob, &at), TG_AUTHZ_ALLOW);
    at.path = TG_IOV_LIT("/metrics/x");
    assert_int_equal(tg_auth_static_decide(c, &bob, &at), TG_AUTHZ_NO_OPINION);
    /* alice's resource rule does not cover non-resource requests */
    at.path = TG_IOV_LIT("/api/v1/query");
    at.namespace_ = TG_IOV_LIT("team-a");
    assert_int_equal(tg_auth_static_decide(c, &alice, &at), TG_AUTHZ_NO_OPINION);
    /* and the path rule does not cover resource requests */
    at = res_attrs("get", "x");
    at.path = TG_IOV_LIT("/metrics");
    assert_int_equal(tg_auth_static_decide(c, &bob, &at), TG_AUTHZ_NO_OPINION);
    tg_config_unref(c);
}

static void test_static_no_rules(void **state)
{
    struct tg_config *c = make("", "");
    struct tg_user u = user("alice", NULL, 0);
    struct tg_authz_attrs at = res_attrs("get", "team-a");
    assert_int_equal(tg_auth_static_decide(c, &u, &at), TG_AUTHZ_NO_OPINION);
    tg_config_unref(c);
}

/* The seed config end to end with a static rule granting what it asks for:
 * token -> user -> attrs for a value -> decision. */
static void test_static_end_to_end(void **state)
{
    char *seed = seed_config("  static:\n"
                             "  - user: {groups: [team-a]}\n"
                             "    namespace: team-a\n"
                             "    resource: namespace\n"
                             "    subresource: metrics\n"
                             "    verb: get\n"
                             "    resourceRequest: true\n");
    struct tg_config *c = make(seed, "tok-a,alice,1,team-a\ntok-b,bob,2,team-b\n");
    struct tg_user u;
    struct tg_authz_attrs at;
    tg_arena_t a;
    free(seed);
    tg_arena_init(&a, NULL, 0);

    tg_auth_user_from_token(&u, tg_auth_token_lookup(sha, c, TG_IOV_LIT("tok-a")), &a);
    tg_auth_attrs_for_value(&a, c, TG_IOV_LIT("get"), TG_IOV_LIT("/api/v1/query"),
                            TG_IOV_LIT("team-a"), &at);
    assert_int_equal(tg_auth_static_decide(c, &u, &at), TG_AUTHZ_ALLOW);
    tg_auth_attrs_for_value(&a, c, TG_IOV_LIT("get"), TG_IOV_LIT("/api/v1/query"),
                            TG_IOV_LIT("team-b"), &at);
    assert_int_equal(tg_auth_static_decide(c, &u, &at), TG_AUTHZ_NO_OPINION);

    tg_auth_user_from_token(&u, tg_auth_token_lookup(sha, c, TG_IOV_LIT("tok-b")), &a);
    tg_auth_attrs_for_value(&a, c, TG_IOV_LIT("get"), TG_IOV_LIT("/api/v1/query"),
                            TG_IOV_LIT("team-a"), &at);
    assert_int_equal(tg_auth_static_decide(c, &u, &at), TG_AUTHZ_NO_OPINION);
    tg_arena_destroy(&a);
    tg_config_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_lookup),
        cmocka_unit_test(test_user_from_token),
        cmocka_unit_test(test_sa_namespace),
        cmocka_unit_test(test_attrs_seed),
        cmocka_unit_test(test_attrs_spellings_and_repeats),
        cmocka_unit_test(test_attrs_without_resource_attributes),
        cmocka_unit_test(test_static_groups_honoured),
        cmocka_unit_test(test_static_wildcards_and_user),
        cmocka_unit_test(test_static_resource_request_must_equal),
        cmocka_unit_test(test_static_no_rules),
        cmocka_unit_test(test_static_end_to_end),
    };
    if ((sha = tg_sha256_new()) == NULL)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
