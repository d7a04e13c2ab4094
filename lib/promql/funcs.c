/* Prometheus function table (promql/parser/functions.go), sorted by name. */
#include "promql-int.h"

#include <string.h>

static const struct tg_promql_func funcs[] = {
    {"abs", "v", 0, 'v', 0},
    {"absent", "v", 0, 'v', 0},
    {"absent_over_time", "m", 0, 'v', 0},
    {"acos", "v", 0, 'v', 0},
    {"acosh", "v", 0, 'v', 0},
    {"asin", "v", 0, 'v', 0},
    {"asinh", "v", 0, 'v', 0},
    {"atan", "v", 0, 'v', 0},
    {"atanh", "v", 0, 'v', 0},
    {"avg_over_time", "m", 0, 'v', 0},
    {"ceil", "v", 0, 'v', 0},
    {"changes", "m", 0, 'v', 0},
    {"clamp", "vss", 0, 'v', 0},
    {"clamp_max", "vs", 0, 'v', 0},
    {"clamp_min", "vs", 0, 'v', 0},
    {"cos", "v", 0, 'v', 0},
    {"cosh", "v", 0, 'v', 0},
    {"count_over_time", "m", 0, 'v', 0},
    {"day_of_month", "v", 1, 'v', 0},
    {"day_of_week", "v", 1, 'v', 0},
    {"day_of_year", "v", 1, 'v', 0},
    {"days_in_month", "v", 1, 'v', 0},
    {"deg", "v", 0, 'v', 0},
    {"delta", "m", 0, 'v', 0},
    {"deriv", "m", 0, 'v', 0},
    {"double_exponential_smoothing", "mss", 0, 'v', 1},
    {"end", "", 0, 's', 1},
    {"exp", "v", 0, 'v', 0},
    {"first_over_time", "m", 0, 'v', 0},
    {"floor", "v", 0, 'v', 0},
    {"histogram_avg", "v", 0, 'v', 0},
    {"histogram_count", "v", 0, 'v', 0},
    {"histogram_fraction", "ssv", 0, 'v', 0},
    {"histogram_quantile", "sv", 0, 'v', 0},
    {"histogram_quantiles", "vSss", 9, 'v', 1},
    {"histogram_stddev", "v", 0, 'v', 0},
    {"histogram_stdvar", "v", 0, 'v', 0},
    {"histogram_sum", "v", 0, 'v', 0},
    {"hour", "v", 1, 'v', 0},
    {"idelta", "m", 0, 'v', 0},
    {"increase", "m", 0, 'v', 0},
    {"info", "vv", 1, 'v', 1},
    {"irate", "m", 0, 'v', 0},
    {"label_join", "vSSS", -1, 'v', 0},
    {"label_replace", "vSSSS", 0, 'v', 0},
    {"last_over_time", "m", 0, 'v', 0},
    {"ln", "v", 0, 'v', 0},
    {"log10", "v", 0, 'v', 0},
    {"log2", "v", 0, 'v', 0},
    {"mad_over_time", "m", 0, 'v', 1},
    {"max_of", "ss", 0, 's', 1},
    {"max_over_time", "m", 0, 'v', 0},
    {"min_of", "ss", 0, 's', 1},
    {"min_over_time", "m", 0, 'v', 0},
    {"minute", "v", 1, 'v', 0},
    {"month", "v", 1, 'v', 0},
    {"pi", "", 0, 's', 0},
    {"predict_linear", "ms", 0, 'v', 0},
    {"present_over_time", "m", 0, 'v', 0},
    {"quantile_over_time", "sm", 0, 'v', 0},
    {"rad", "v", 0, 'v', 0},
    {"range", "", 0, 's', 1},
    {"rate", "m", 0, 'v', 0},
    {"resets", "m", 0, 'v', 0},
    {"round", "vs", 1, 'v', 0},
    {"scalar", "v", 0, 's', 0},
    {"sgn", "v", 0, 'v', 0},
    {"sin", "v", 0, 'v', 0},
    {"sinh", "v", 0, 'v', 0},
    {"sort", "v", 0, 'v', 0},
    {"sort_by_label", "vS", -1, 'v', 1},
    {"sort_by_label_desc", "vS", -1, 'v', 1},
    {"sort_desc", "v", 0, 'v', 0},
    {"sqrt", "v", 0, 'v', 0},
    {"start", "", 0, 's', 1},
    {"start_timestamp", "v", 0, 'v', 1},
    {"stddev_over_time", "m", 0, 'v', 0},
    {"stdvar_over_time", "m", 0, 'v', 0},
    {"step", "", 0, 's', 1},
    {"sum_over_time", "m", 0, 'v', 0},
    {"tan", "v", 0, 'v', 0},
    {"tanh", "v", 0, 'v', 0},
    {"time", "", 0, 's', 0},
    {"timestamp", "v", 0, 'v', 0},
    {"ts_of_first_over_time", "m", 0, 'v', 1},
    {"ts_of_last_over_time", "m", 0, 'v', 1},
    {"ts_of_max_over_time", "m", 0, 'v', 1},
    {"ts_of_min_over_time", "m", 0, 'v', 1},
    {"vector", "s", 0, 'v', 0},
    {"year", "v", 1, 'v', 0},
};

const struct tg_promql_func *tg_promql_funcs(size_t *n)
{
    *n = sizeof(funcs) / sizeof(funcs[0]);
    return funcs;
}

const struct tg_promql_func *tg_promql_func_lookup(tg_iovec_t name)
{
    size_t lo = 0, hi = sizeof(funcs) / sizeof(funcs[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *f = funcs[mid].name;
        size_t flen = strlen(f);
        int c = memcmp(f, name.base, flen < name.len ? flen : name.len);
        if (c == 0)
            c = flen < name.len ? -1 : flen > name.len ? 1 : 0;
        if (c == 0)
            return &funcs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
