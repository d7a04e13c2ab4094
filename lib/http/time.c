/*
 * Time parameters of the Prometheus HTTP API (start, end, time), parsed as
 * Prometheus' web/api/v1 parseTime does: a unix time in seconds as a Go
 * float ("1700000000", "1700000000.123", "1.7e9") or RFC 3339 with optional
 * fraction ("2023-11-14T22:13:20Z", "2023-11-14T23:13:20.5+01:00"), plus
 * the two boundary spellings Go's time package cannot parse (its MinTime and
 * MaxTime, which clients send for "all time"). Milliseconds, as Prometheus
 * keeps them (fractions below a millisecond are dropped).
 */
#include "tenantgate/http.h"

#include <math.h>
#include <stdlib.h>

/* Prometheus' MinTime / MaxTime, formatted by Go. */
#define MIN_TIME_TEXT "-292273086-05-16T16:47:06Z"
#define MAX_TIME_TEXT "292277025-08-18T07:12:54.999999999Z"

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, size_t n, int64_t *out)
{
    size_t i;
    *out = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *out = *out * 10 + (s[i] - '0');
    }
    return 0;
}

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_rfc3339(const char *s, size_t len, int64_t *ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y, mo, d, h, mi, sec, frac = 0, tz = 0, tzh, tzm;
    size_t i = 19, nfrac = 0;

    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 ||
        mi > 59 || sec > 59)
        return -1;
    if (s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nfrac++)
            if (nfrac < 3)
                frac = frac * 10 + (s[i] - '0');
        if (nfrac == 0)
            return -1;
        for (; nfrac < 3; nfrac++)
            frac *= 10;
    }
    if (i + 1 == len && s[i] == 'Z') {
        tz = 0;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
               !digits(s + i + 1, 2, &tzh) && !digits(s + i + 4, 2, &tzm) && tzh < 24 && tzm < 60) {
        tz = (tzh * 60 + tzm) * 60 * (s[i] == '-' ? -1 : 1);
    } else {
        return -1;
    }
    *ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - tz) * 1000) + frac;
    return 0;
}

/* Go's strconv.ParseFloat accepts no surrounding space; strtod would. */
static int parse_unix(const char *s, size_t len, int64_t *ms)
{
    char buf[64], *end;
    double v, whole, frac;

    if (len == 0 || len >= sizeof(buf) || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    v = strtod(buf, &end);
    if (end != buf + len || !isfinite(v))
        return -1;
    /* time.Unix(int64(s), ns rounded to ms), as Prometheus' parseTime */
    if (v >= 9223372036854775.0 || v <= -9223372036854775.0) {
        *ms = v > 0 ? INT64_MAX : INT64_MIN;
        return 0;
    }
    frac = modf(v, &whole);
    *ms = (int64_t)whole * 1000 + (int64_t)round(frac * 1000.0);
    return 0;
}

int tg_http_parse_time(tg_iovec_t s, int64_t *ms)
{
    if (parse_unix(s.base, s.len, ms) == 0 || parse_rfc3339(s.base, s.len, ms) == 0)
        return 0;
    if (tg_iov_eq_str(s, MIN_TIME_TEXT)) {
        *ms = INT64_MIN;
        return 0;
    }
    if (tg_iov_eq_str(s, MAX_TIME_TEXT)) {
        *ms = INT64_MAX;
        return 0;
    }
    return -1;
}
