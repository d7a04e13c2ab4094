/* Unit tests for lib/arena.c and lib/sb.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tenantgate/arena.h"
#include "tenantgate/sb.h"

static void test_alloc_aligned_and_distinct(void **state)
{
    tg_arena_t a;
    char *p, *q;
    tg_arena_init(&a, NULL, 0);
    p = tg_arena_alloc(&a, 3);
    q = tg_arena_alloc(&a, 5);
    assert_true(((uintptr_t)p & 15) == 0);
    assert_true(((uintptr_t)q & 15) == 0);
    assert_true(q >= p + 3);
    tg_arena_destroy(&a);
}

static void test_large_alloc_gets_own_chunk(void **state)
{
    tg_arena_t a;
    char *p;
    tg_arena_init(&a, NULL, 0);
    p = tg_arena_alloc(&a, 1 << 20);
    memset(p, 'x', 1 << 20);
    assert_true(a.allocated >= (1u << 20));
    tg_arena_destroy(&a);
    assert_int_equal(a.allocated, 0);
}

static void test_inline_buffer_used_first(void **state)
{
    char buf[1024];
    tg_arena_t a;
    char *p;
    tg_arena_init(&a, buf, sizeof(buf));
    p = tg_arena_alloc(&a, 100);
    assert_true(p >= buf && p < buf + sizeof(buf));
    assert_int_equal(a.allocated, 0);
    p = tg_arena_alloc(&a, 2000);
    assert_false(p >= buf && p < buf + sizeof(buf));
    tg_arena_reset(&a);
    tg_arena_destroy(&a);
}

static void test_reset_keeps_one_chunk(void **state)
{
    tg_arena_t a;
    size_t after;
    int i;
    tg_arena_init(&a, NULL, 0);
    for (i = 0; i < 100; i++)
        tg_arena_alloc(&a, 1000);
    tg_arena_reset(&a);
    after = a.allocated;
    assert_true(after > 0);
    tg_arena_alloc(&a, 100);
    assert_int_equal(a.allocated, after);
    tg_arena_destroy(&a);
}

static void test_realloc_in_place(void **state)
{
    tg_arena_t a;
    char *p, *q;
    tg_arena_init(&a, NULL, 0);
    p = tg_arena_alloc(&a, 16);
    memcpy(p, "hello", 6);
    q = tg_arena_realloc(&a, p, 16, 64);
    assert_ptr_equal(p, q);
    tg_arena_alloc(&a, 1);
    q = tg_arena_realloc(&a, p, 64, 128);
    assert_ptr_not_equal(p, q);
    assert_string_equal(q, "hello");
    tg_arena_destroy(&a);
}

static void test_sb_arena_and_heap(void **state)
{
    tg_arena_t a;
    tg_sb_t sb;
    int i;
    tg_arena_init(&a, NULL, 0);
    tg_sb_init(&sb, &a, 4);
    for (i = 0; i < 1000; i++)
        tg_sb_printf(&sb, "%d,", i);
    assert_true(sb.len > 1000);
    assert_int_equal(sb.base[sb.len], '\0');
    assert_memory_equal(sb.base, "0,1,2,", 6);
    tg_arena_destroy(&a);

    tg_sb_init(&sb, NULL, 2);
    tg_sb_adds(&sb, "a\"b\\c\n\x01");
    assert_string_equal(tg_sb_cstr(&sb), "a\"b\\c\n\x01");
    tg_sb_clear(&sb);
    tg_sb_add_json_escaped(&sb, TG_IOV_LIT("a\"b\\c\n\x01"));
    assert_string_equal(tg_sb_cstr(&sb), "a\\\"b\\\\c\\n\\u0001");
    tg_sb_clear(&sb);
    tg_sb_add_urlencoded(&sb, TG_IOV_LIT("a b&c=d/é"));
    assert_string_equal(tg_sb_cstr(&sb), "a+b%26c%3Dd/%C3%A9");
    tg_sb_clear(&sb);
    /* form syntax, old separators and what a URI may not hold stay escaped */
    tg_sb_add_urlencoded(&sb, TG_IOV_LIT("a;b+c#d%e{\"|[\x7f\t"));
    assert_string_equal(tg_sb_cstr(&sb), "a%3Bb%2Bc%23d%25e%7B%22%7C%5B%7F%09");
    tg_sb_clear(&sb);
    tg_sb_add_urlencoded(&sb, TG_IOV_LIT("f(x):y@z/w?v!$'*,"));
    assert_string_equal(tg_sb_cstr(&sb), "f(x):y@z/w?v!$'*,");
    tg_sb_clear(&sb);
    /* decimal numbers: every digit count, zero padding to a width */
    tg_sb_add_u64(&sb, 0, 1);
    tg_sb_addc(&sb, ' ');
    tg_sb_add_u64(&sb, 9, 1);
    tg_sb_addc(&sb, ' ');
    tg_sb_add_u64(&sb, 10, 1);
    tg_sb_addc(&sb, ' ');
    tg_sb_add_u64(&sb, 99, 1);
    tg_sb_addc(&sb, ' ');
    tg_sb_add_u64(&sb, 100, 1);
    tg_sb_addc(&sb, ' ');
    tg_sb_add_u64(&sb, 1234567, 6);
    tg_sb_addc(&sb, ' ');
    tg_sb_add_u64(&sb, 7, 6);
    tg_sb_addc(&sb, ' ');
    tg_sb_add_u64(&sb, 18446744073709551615ull, 1);
    assert_string_equal(tg_sb_cstr(&sb), "0 9 10 99 100 1234567 000007 18446744073709551615");
    tg_sb_clear(&sb);
    tg_sb_add_urlencoded(&sb, TG_IOV_LIT("f(x):y@z/w?v!$'*,"));
    assert_string_equal(tg_sb_cstr(&sb), "f(x):y@z/w?v!$'*,");
    tg_sb_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_aligned_and_distinct),
        cmocka_unit_test(test_large_alloc_gets_own_chunk),
        cmocka_unit_test(test_inline_buffer_used_first),
        cmocka_unit_test(test_reset_keeps_one_chunk),
        cmocka_unit_test(test_realloc_in_place),
        cmocka_unit_test(test_sb_arena_and_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
