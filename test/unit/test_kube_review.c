/* Unit tests for lib/kube/review.c: TokenReview / SAR JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tenantgate/kube.h"

static void test_tokenreview_request(void **state)
{
    tg_sb_t sb;
    const char *aud[] = {"tenantgate", "https://kubernetes.default.svc"};
    tg_sb_init(&sb, NULL, 0);
    tg_kube_tokenreview_json(&sb, TG_IOV_LIT("abc\"def"), aud, 2);
    assert_string_equal(tg_sb_cstr(&sb),
                        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                        "\"spec\":{\"token\":\"abc\\\"def\",\"audiences\":[\"tenantgate\","
                        "\"https://kubernetes.default.svc\"]}}");
    tg_sb_clear(&sb);
    tg_kube_tokenreview_json(&sb, TG_IOV_LIT("t"), NULL, 0);
    assert_string_equal(tg_sb_cstr(&sb),
                        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                        "\"spec\":{\"token\":\"t\"}}");
    tg_sb_free(&sb);
}

static const char *TR_OK =
    "{\"kind\":\"TokenReview\",\"apiVersion\":\"authentication.k8s.io/v1\","
    "\"metadata\":{\"creationTimestamp\":null},\"spec\":{\"token\":\"x\"},"
    "\"status\":{\"authenticated\":true,\"user\":{\"username\":"
    "\"system:serviceaccount:alpha:grafana\",\"uid\":\"u-1\",\"groups\":"
    "[\"system:serviceaccounts\",\"system:serviceaccounts:alpha\",\"system:authenticated\"],"
    "\"extra\":{\"authentication.kubernetes.io/pod-name\":[\"grafana-0\"],"
    "\"authentication.kubernetes.io/pod-uid\":[\"p-1\",\"p-2\"]}},"
    "\"audiences\":[\"https://kubernetes.default.svc\",\"tenantgate\"]}}";

static void test_tokenreview_ok_with_extra(void **state)
{
    tg_arena_t a;
    struct tg_user u;
    const char *reason;
    const char *aud[] = {"tenantgate"};
    tg_arena_init(&a, NULL, 0);
    assert_int_equal(tg_kube_tokenreview_parse(TR_OK, strlen(TR_OK), aud, 1, &a, &u, &reason),
                     TG_KUBE_OK);
    assert_true(tg_iov_eq_str(u.name, "system:serviceaccount:alpha:grafana"));
    assert_true(tg_iov_eq_str(u.uid, "u-1"));
    assert_int_equal(u.n_groups, 3);
    assert_true(tg_iov_eq_str(u.groups[1], "system:serviceaccounts:alpha"));
    assert_int_equal(u.n_extra, 2);
    assert_true(tg_iov_eq_str(u.extra[0].key, "authentication.kubernetes.io/pod-name"));
    assert_int_equal(u.extra[1].n_values, 2);
    assert_true(tg_iov_eq_str(u.extra[1].values[1], "p-2"));
    assert_string_equal(u.provider, "tokenreview");

    /* tg_user_copy is deep */
    {
        tg_arena_t b;
        struct tg_user v;
        tg_arena_init(&b, NULL, 0);
        tg_user_copy(&b, &v, &u);
        tg_arena_destroy(&a);
        assert_true(tg_iov_eq_str(v.extra[1].values[0], "p-1"));
        assert_true(tg_iov_eq_str(v.groups[2], "system:authenticated"));
        tg_arena_destroy(&b);
    }
}

static void test_tokenreview_audience_mismatch(void **state)
{
    tg_arena_t a;
    struct tg_user u;
    const char *reason;
    const char *aud[] = {"other-service"};
    tg_arena_init(&a, NULL, 0);
    assert_int_equal(tg_kube_tokenreview_parse(TR_OK, strlen(TR_OK), aud, 1, &a, &u, &reason),
                     TG_KUBE_DENIED);
    assert_non_null(strstr(reason, "audiences"));
    /* no audiences requested: no check */
    assert_int_equal(tg_kube_tokenreview_parse(TR_OK, strlen(TR_OK), NULL, 0, &a, &u, &reason),
                     TG_KUBE_OK);
    tg_arena_destroy(&a);
}

static void test_tokenreview_unauthenticated_and_errors(void **state)
{
    tg_arena_t a;
    struct tg_user u;
    const char *reason;
    const char *unauth = "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":false,"
                         "\"error\":\"[invalid bearer token, token has been invalidated]\"}}";
    const char *nouser = "{\"status\":{\"authenticated\":true}}";
    const char *empty_status = "{\"status\":{}}";
    tg_arena_init(&a, NULL, 0);
    assert_int_equal(tg_kube_tokenreview_parse(unauth, strlen(unauth), NULL, 0, &a, &u, &reason),
                     TG_KUBE_DENIED);
    assert_string_equal(reason, "[invalid bearer token, token has been invalidated]");
    assert_int_equal(
        tg_kube_tokenreview_parse(empty_status, strlen(empty_status), NULL, 0, &a, &u, &reason),
        TG_KUBE_DENIED);
    assert_int_equal(tg_kube_tokenreview_parse(nouser, strlen(nouser), NULL, 0, &a, &u, &reason),
                     TG_KUBE_ERROR);
    assert_int_equal(tg_kube_tokenreview_parse("{\"kind\":1}", 10, NULL, 0, &a, &u, &reason),
                     TG_KUBE_ERROR);
    assert_int_equal(tg_kube_tokenreview_parse("<html>", 6, NULL, 0, &a, &u, &reason),
                     TG_KUBE_ERROR);
    assert_int_equal(tg_kube_tokenreview_parse("[1,2]", 5, NULL, 0, &a, &u, &reason),
                     TG_KUBE_ERROR);
    assert_int_equal(tg_kube_tokenreview_parse(TR_OK, 20, NULL, 0, &a, &u, &reason),
                     TG_KUBE_ERROR); /* truncated */
    tg_arena_destroy(&a);
}

static void test_sar_request_resource(void **state)
{
    tg_sb_t sb;
    tg_iovec_t groups[] = {TG_IOV_LIT("g1"), TG_IOV_LIT("g2")};
    tg_iovec_t vals[] = {TG_IOV_LIT("v")};
    struct tg_kv_list extra[] = {{TG_IOV_LIT("k"), vals, 1}};
    struct tg_user u = {.name = TG_IOV_LIT("alice"),
                        .uid = TG_IOV_LIT("42"),
                        .groups = groups,
                        .n_groups = 2,
                        .extra = extra,
                        .n_extra = 1};
    struct tg_authz_attrs at = {.verb = TG_IOV_LIT("get"),
                                .namespace_ = TG_IOV_LIT("alpha"),
                                .api_version = TG_IOV_LIT("v1"),
                                .resource = TG_IOV_LIT("pods"),
                                .resource_request = 1};
    tg_sb_init(&sb, NULL, 0);
    tg_kube_sar_json(&sb, &u, &at);
    assert_string_equal(tg_sb_cstr(&sb),
                        "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":"
                        "\"SubjectAccessReview\",\"spec\":{\"resourceAttributes\":{"
                        "\"namespace\":\"alpha\",\"verb\":\"get\",\"version\":\"v1\","
                        "\"resource\":\"pods\"},\"user\":\"alice\",\"uid\":\"42\","
                        "\"groups\":[\"g1\",\"g2\"],\"extra\":{\"k\":[\"v\"]}}}");
    tg_sb_free(&sb);
}

static void test_sar_request_nonresource(void **state)
{
    tg_sb_t sb;
    struct tg_user u = {.name = TG_IOV_LIT("bob")};
    struct tg_authz_attrs at = {.verb = TG_IOV_LIT("get"), .path = TG_IOV_LIT("/metrics")};
    tg_sb_init(&sb, NULL, 0);
    tg_kube_sar_json(&sb, &u, &at);
    assert_string_equal(tg_sb_cstr(&sb),
                        "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":"
                        "\"SubjectAccessReview\",\"spec\":{\"nonResourceAttributes\":{"
                        "\"path\":\"/metrics\",\"verb\":\"get\"},\"user\":\"bob\"}}");
    tg_sb_free(&sb);
}

static void test_sar_parse(void **state)
{
    tg_arena_t a;
    const char *reason;
    const char *allow = "{\"status\":{\"allowed\":true,\"reason\":\"RBAC: allowed by "
                        "RoleBinding \\\"view/alpha\\\"\"}}";
    const char *deny = "{\"status\":{\"allowed\":false,\"denied\":true,\"reason\":\"nope\"}}";
    const char *noop = "{\"status\":{\"allowed\":false,\"evaluationError\":\"boom\"}}";
    const char *both =
        "{\"status\":{\"allowed\":false,\"reason\":\"r\",\"evaluationError\":\"e\"}}";
    tg_arena_init(&a, NULL, 0);
    assert_int_equal(tg_kube_sar_parse(allow, strlen(allow), &a, &reason), TG_KUBE_OK);
    assert_string_equal(reason, "RBAC: allowed by RoleBinding \"view/alpha\"");
    assert_int_equal(tg_kube_sar_parse(deny, strlen(deny), &a, &reason), TG_KUBE_DENIED);
    assert_string_equal(reason, "nope");
    assert_int_equal(tg_kube_sar_parse(noop, strlen(noop), &a, &reason), TG_KUBE_DENIED);
    assert_string_equal(reason, "boom");
    assert_int_equal(tg_kube_sar_parse(both, strlen(both), &a, &reason), TG_KUBE_DENIED);
    assert_string_equal(reason, "r (evaluation error: e)");
    assert_int_equal(tg_kube_sar_parse("{}", 2, &a, &reason), TG_KUBE_ERROR);
    assert_int_equal(tg_kube_sar_parse("nope", 4, &a, &reason), TG_KUBE_ERROR);
    tg_arena_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenreview_request),
        cmocka_unit_test(test_tokenreview_ok_with_extra),
        cmocka_unit_test(test_tokenreview_audience_mismatch),
        cmocka_unit_test(test_tokenreview_unauthenticated_and_errors),
        cmocka_unit_test(test_sar_request_resource),
        cmocka_unit_test(test_sar_request_nonresource),
        cmocka_unit_test(test_sar_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
