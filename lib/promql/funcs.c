/* Prometheus function table (promql/parser/functions.go), sorted by name. */
#include "promql-int.h"

#include <string.h>

#define F(name, args, variadic, ret, experimental)                                                 \
    {                                                                                              \
        name, args, variadic, ret, experimental, sizeof(name) - 1, sizeof(args) - 1                \
    }

static const struct tg_promql_func funcs[] = {
    F("abs", "v", 0, 'v', 0),
    F("absent", "v", 0, 'v', 0),
    F("absent_over_time", "m", 0, 'v', 0),
    F("acos", "v", 0, 'v', 0),
    F("acosh", "v", 0, 'v', 0),
    F("asin", "v", 0, 'v', 0),
    F("asinh", "v", 0, 'v', 0),
    F("atan", "v", 0, 'v', 0),
    F("atanh", "v", 0, 'v', 0),
    F("avg_over_time", "m", 0, 'v', 0),
    F("ceil", "v", 0, 'v', 0),
    F("changes", "m", 0, 'v', 0),
    F("clamp", "vss", 0, 'v', 0),
    F("clamp_max", "vs", 0, 'v', 0),
    F("clamp_min", "vs", 0, 'v', 0),
    F("cos", "v", 0, 'v', 0),
    F("cosh", "v", 0, 'v', 0),
    F("count_over_time", "m", 0, 'v', 0),
    F("day_of_month", "v", 1, 'v', 0),
    F("day_of_week", "v", 1, 'v', 0),
    F("day_of_year", "v", 1, 'v', 0),
    F("days_in_month", "v", 1, 'v', 0),
    F("deg", "v", 0, 'v', 0),
    F("delta", "m", 0, 'v', 0),
    F("deriv", "m", 0, 'v', 0),
    F("double_exponential_smoothing", "mss", 0, 'v', 1),
    F("end", "", 0, 's', 1),
    F("exp", "v", 0, 'v', 0),
    F("first_over_time", "m", 0, 'v', 0),
    F("floor", "v", 0, 'v', 0),
    F("histogram_avg", "v", 0, 'v', 0),
    F("histogram_count", "v", 0, 'v', 0),
    F("histogram_fraction", "ssv", 0, 'v', 0),
    F("histogram_quantile", "sv", 0, 'v', 0),
    F("histogram_quantiles", "vSss", 9, 'v', 1),
    F("histogram_stddev", "v", 0, 'v', 0),
    F("histogram_stdvar", "v", 0, 'v', 0),
    F("histogram_sum", "v", 0, 'v', 0),
    F("hour", "v", 1, 'v', 0),
    F("idelta", "m", 0, 'v', 0),
    F("increase", "m", 0, 'v', 0),
    F("info", "vv", 1, 'v', 1),
    F("irate", "m", 0, 'v', 0),
    F("label_join", "vSSS", -1, 'v', 0),
    F("label_replace", "vSSSS", 0, 'v', 0),
    F("last_over_time", "m", 0, 'v', 0),
    F("ln", "v", 0, 'v', 0),
    F("log10", "v", 0, 'v', 0),
    F("log2", "v", 0, 'v', 0),
    F("mad_over_time", "m", 0, 'v', 1),
    F("max_of", "ss", 0, 's', 1),
    F("max_over_time", "m", 0, 'v', 0),
    F("min_of", "ss", 0, 's', 1),
    F("min_over_time", "m", 0, 'v', 0),
    F("minute", "v", 1, 'v', 0),
    F("month", "v", 1, 'v', 0),
    F("pi", "", 0, 's', 0),
    F("predict_linear", "ms", 0, 'v', 0),
    F("present_over_time", "m", 0, 'v', 0),
    F("quantile_over_time", "sm", 0, 'v', 0),
    F("rad", "v", 0, 'v', 0),
    F("range", "", 0, 's', 1),
    F("rate", "m", 0, 'v', 0),
    F("resets", "m", 0, 'v', 0),
    F("round", "vs", 1, 'v', 0),
    F("scalar", "v", 0, 's', 0),
    F("sgn", "v", 0, 'v', 0),
    F("sin", "v", 0, 'v', 0),
    F("sinh", "v", 0, 'v', 0),
    F("sort", "v", 0, 'v', 0),
    F("sort_by_label", "vS", -1, 'v', 1),
    F("sort_by_label_desc", "vS", -1, 'v', 1),
    F("sort_desc", "v", 0, 'v', 0),
    F("sqrt", "v", 0, 'v', 0),
    F("start", "", 0, 's', 1),
    F("start_timestamp", "v", 0, 'v', 1),
    F("stddev_over_time", "m", 0, 'v', 0),
    F("stdvar_over_time", "m", 0, 'v', 0),
    F("step", "", 0, 's', 1),
    F("sum_over_time", "m", 0, 'v', 0),
    F("tan", "v", 0, 'v', 0),
    F("tanh", "v", 0, 'v', 0),
    F("time", "", 0, 's', 0),
    F("timestamp", "v", 0, 'v', 0),
    F("ts_of_first_over_time", "m", 0, 'v', 1),
    F("ts_of_last_over_time", "m", 0, 'v', 1),
    F("ts_of_max_over_time", "m", 0, 'v', 1),
    F("ts_of_min_over_time", "m", 0, 'v', 1),
    F("vector", "s", 0, 'v', 0),
    F("year", "v", 1, 'v', 0),
};

const struct tg_promql_func *tg_promql_funcs(size_t *n)
{
    *n = sizeof(funcs) / sizeof(funcs[0]);
    return funcs;
}

/* Open addressing on func_hash(): slot -> index + 1 into funcs[], 0 empty.
 * Built by inserting funcs[] in order with linear probing; regenerate it
 * when the table changes (test_func_table checks every name is found), e.g.
 * in Python with h(n) = func_hash:
 *   t = [0] * 256
 *   for i, n in enumerate(names):
 *       k = h(n)
 *       while t[k]: k = (k + 1) & 255
 *       t[k] = i + 1
 */
static const uint8_t func_slots[256] = {
    0,  0,  0,  0,  0, 0,  0,  0,  0,  0,  25, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  23, 0,  0, 24, 0,  0,  0,  0,  71, 0,  27, 12, 0,  0,  0,  73, 19, 0,  0,  0,  0,  0,
    0,  0,  79, 20, 0, 0,  0,  0,  0,  0,  15, 59, 0,  0,  77, 78, 0,  32, 72, 90, 0,  0,  0,  0,
    0,  0,  49, 61, 0, 0,  26, 0,  0,  0,  5,  48, 0,  0,  37, 0,  10, 22, 33, 66, 40, 58, 64, 70,
    0,  0,  74, 0,  0, 0,  44, 0,  0,  17, 60, 0,  0,  11, 50, 52, 0,  0,  0,  45, 0,  57, 0,  9,
    0,  75, 0,  0,  7, 1,  89, 0,  21, 0,  36, 0,  0,  31, 46, 54, 43, 63, 3,  76, 87, 88, 0,  0,
    0,  0,  0,  0,  0, 0,  0,  0,  0,  51, 8,  0,  0,  0,  0,  6,  18, 62, 0,  29, 47, 0,  0,  83,
    14, 86, 0,  0,  4, 0,  0,  0,  35, 53, 82, 0,  0,  0,  0,  0,  0,  0,  0,  0,  55, 0,  0,  16,
    0,  84, 69, 0,  0, 13, 0,  38, 65, 56, 81, 0,  0,  0,  0,  0,  28, 42, 0,  80, 0,  0,  0,  0,
    67, 0,  0,  85, 0, 41, 0,  0,  68, 0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0, 0,  0,  34, 0,  0,  0,  0,  39, 0,  30, 0,
};

static inline unsigned func_hash(const unsigned char *s, size_t len)
{
    return (unsigned)(len * 31 + s[0] * 7u + s[1] * 3u + s[len - 1] * 11u + s[len / 2]) & 255u;
}

const struct tg_promql_func *tg_promql_func_lookup(tg_iovec_t name)
{
    const unsigned char *s = (const unsigned char *)name.base;
    unsigned k;

    if (name.len < 2 || name.len > 64)
        return NULL;
    for (k = func_hash(s, name.len); func_slots[k] != 0; k = (k + 1) & 255u) {
        const struct tg_promql_func *f = &funcs[func_slots[k] - 1];
        if (f->name_len == name.len && f->name[0] == name.base[0] &&
            memcmp(f->name, name.base, name.len) == 0)
            return f;
    }
    return NULL;
}
