/*
 * PromQL lexer. Mirrors the states of Prometheus' promql/parser/lex.go
 * (statements, inside braces, inside a duration expression) so that token
 * boundaries and lexing errors are the same; the whole query is tokenised in
 * one pass into an arena array.
 */
#include "promql-int.h"

#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define R_EOF   (-1)
#define R_ERROR 0xFFFD

struct lexer {
    const char *s;
    size_t len, pos, start, width;
    int paren_depth, brace_open, bracket_open, got_colon, got_duration, dur_mode;
    int done;
    struct pq_lexed *out;
};

/* Go's utf8.DecodeRune: invalid sequences decode as U+FFFD of width 1. */
static int32_t decode_rune(const unsigned char *p, size_t n, size_t *w)
{
    uint32_t c = p[0], c1, c2, c3;

    *w = 1;
    if (c < 0x80)
        return (int32_t)c;
    if (c < 0xC2 || c > 0xF4 || n < 2)
        return R_ERROR;
    c1 = p[1];
    if ((c1 & 0xC0) != 0x80)
        return R_ERROR;
    if (c < 0xE0) {
        *w = 2;
        return (int32_t)(((c & 0x1F) << 6) | (c1 & 0x3F));
    }
    if (n < 3 || (p[2] & 0xC0) != 0x80)
        return R_ERROR;
    c2 = p[2];
    if (c < 0xF0) {
        uint32_t r = ((c & 0x0F) << 12) | ((c1 & 0x3F) << 6) | (c2 & 0x3F);
        if (r < 0x800 || (r >= 0xD800 && r <= 0xDFFF))
            return R_ERROR;
        *w = 3;
        return (int32_t)r;
    }
    if (n < 4 || (p[3] & 0xC0) != 0x80)
        return R_ERROR;
    c3 = p[3];
    {
        uint32_t r = ((c & 0x07) << 18) | ((c1 & 0x3F) << 12) | ((c2 & 0x3F) << 6) | (c3 & 0x3F);
        if (r < 0x10000 || r > 0x10FFFF)
            return R_ERROR;
        *w = 4;
        return (int32_t)r;
    }
}

int pq_utf8_valid(const char *s, size_t len)
{
    size_t i = 0, w;
    while (i < len) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        /* a well-formed U+FFFD is valid; R_ERROR of width 1 is not */
        if (decode_rune((const unsigned char *)s + i, len - i, &w) == R_ERROR && w == 1)
            return 0;
        i += w;
    }
    return 1;
}

static inline int32_t next(struct lexer *l)
{
    unsigned char c;
    int32_t r;
    if (l->pos >= l->len) {
        l->width = 0;
        return R_EOF;
    }
    c = (unsigned char)l->s[l->pos];
    if (c < 0x80) {
        l->width = 1;
        l->pos++;
        return c;
    }
    r = decode_rune((const unsigned char *)l->s + l->pos, l->len - l->pos, &l->width);
    l->pos += l->width;
    return r;
}

static inline void backup(struct lexer *l)
{
    l->pos -= l->width;
}

static inline int32_t peek(struct lexer *l)
{
    int32_t r = next(l);
    backup(l);
    return r;
}

static inline int in_set(int32_t r, const char *set)
{
    if (r <= 0 || r >= 128)
        return 0;
    for (; *set; set++)
        if (*set == (char)r)
            return 1;
    return 0;
}

/* Character classes of bytes (non-ASCII bytes have none). C_SAFE: prints
 * unchanged inside a double-quoted string (printable ASCII but '"', '\\'). */
enum {
    C_ALPHA = 1,
    C_DIGIT = 2,
    C_SPACE = 4,
    C_HEX = 8,
    C_STR_STOP = 16,
    C_COLON = 32,
    C_SAFE = 64
};

#define CC(c)                                                                                      \
    (((((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || (c) == '_') ? C_ALPHA : 0) |    \
     (((c) >= '0' && (c) <= '9') ? C_DIGIT : 0) |                                                  \
     (((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r') ? C_SPACE : 0) |                   \
     ((((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))     \
          ? C_HEX                                                                                  \
          : 0) |                                                                                   \
     (((c) == '\n' || (c) == '"' || (c) == '\'' || (c) == '\\') ? C_STR_STOP : 0) |                \
     ((c) == ':' ? C_COLON : 0) |                                                                  \
     (((c) >= 0x20 && (c) < 0x7f && (c) != '"' && (c) != '\\') ? C_SAFE : 0))
#define CC4(c)  CC(c), CC((c) + 1), CC((c) + 2), CC((c) + 3)
#define CC16(c) CC4(c), CC4((c) + 4), CC4((c) + 8), CC4((c) + 12)

static const uint8_t cclass[256] = {
    CC16(0x00), CC16(0x10), CC16(0x20), CC16(0x30), CC16(0x40), CC16(0x50), CC16(0x60), CC16(0x70),
};

/* pq_lex works on a copy of the query followed by PAD zero bytes. The NUL
 * right after the last byte has no class and no kind, so the byte loops
 * stop there without a bounds check (a NUL inside the query is told apart
 * by its position), and a 16-byte load from any position up to len stays
 * inside the copy. */
enum { PAD = 16 };

/* End of the run of white space from p. */
static inline size_t space_end(const unsigned char *s, size_t p)
{
    while (cclass[s[p]] & C_SPACE)
        p++;
    return p;
}

/* End of the comment from p: its '\n' or '\r', or the end of the query. */
static inline size_t comment_end(const unsigned char *s, size_t p, size_t len)
{
    while (p < len && s[p] != '\n' && s[p] != '\r')
        p++;
    return p;
}

/* End of the run of identifier bytes [a-zA-Z0-9_:] from p; *colon gets
 * non-zero if the run has a ':'. 16 bytes at a time where the CPU has SSE2. */
static inline size_t ident_end(const unsigned char *s, size_t p, unsigned *colon)
{
#if defined(__SSE2__)
    for (;;) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + p));
        __m128i low = _mm_or_si128(v, _mm_set1_epi8(0x20));
        /* x in [lo, lo+n) <=> (int8)(x + 0x80 - lo) < -128 + n */
        __m128i alpha = _mm_cmplt_epi8(_mm_add_epi8(low, _mm_set1_epi8((char)(0x80 - 'a'))),
                                       _mm_set1_epi8((char)(-128 + 26)));
        __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - '0'))),
                                       _mm_set1_epi8((char)(-128 + 11))); /* 0-9 and ':' */
        __m128i under = _mm_cmpeq_epi8(v, _mm_set1_epi8('_'));
        unsigned ok = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, digit), under));
        unsigned cm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(':')));
        if (ok != 0xFFFFu) {
            unsigned n = (unsigned)__builtin_ctz(~ok);
            if (cm != 0) /* rare: recording rule names */
                *colon |= cm & ((1u << n) - 1u);
            return p + n;
        }
        *colon |= cm;
        p += 16;
    }
#else
    unsigned acc = 0;
    while (cclass[s[p]] & (C_ALPHA | C_DIGIT | C_COLON))
        acc |= cclass[s[p++]];
    *colon |= acc & C_COLON;
    return p;
#endif
}

/* End of the run of C_SAFE bytes from p. */
static inline size_t safe_end(const unsigned char *s, size_t p)
{
#if defined(__SSE2__)
    for (;;) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + p));
        __m128i print = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - 0x20))),
                                       _mm_set1_epi8((char)(-128 + 0x5f))); /* 0x20..0x7e */
        __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                   _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
        unsigned ok = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(bad, print));
        if (ok != 0xFFFFu)
            return p + (unsigned)__builtin_ctz(~ok);
        p += 16;
    }
#else
    while (cclass[s[p]] & C_SAFE)
        p++;
    return p;
#endif
}

/* Where the C_SAFE run after the opening quote at p ends: the string is
 * clean when that is its closing '"'; escapes, UTF-8 and errors are for
 * lex_string. */
static inline size_t clean_string_end(const unsigned char *s, size_t p)
{
    return safe_end(s, p + 1);
}

/* Keywords, found by their first letter (either case) and length:
 * kw_at[c & 31][len] is the first candidate in kws, kws[].alt the next one
 * with the same letter and length. An entry is 16 bytes so that one load
 * reads a name. */
struct kw {
    char name[13];
    uint8_t len, type, alt;
};

enum {
    KW_NONE,
    KW_ANCHORED,
    KW_AND,
    KW_ATAN2,
    KW_AVG,
    KW_BOOL,
    KW_BOTTOMK,
    KW_BY,
    KW_COUNT,
    KW_COUNT_VALUES,
    KW_END,
    KW_FILL,
    KW_FILL_LEFT,
    KW_FILL_RIGHT,
    KW_GROUP,
    KW_GROUP_LEFT,
    KW_GROUP_RIGHT,
    KW_IGNORING,
    KW_INF,
    KW_LIMIT_RATIO,
    KW_LIMITK,
    KW_MAX,
    KW_MAX_OF,
    KW_MIN,
    KW_MIN_OF,
    KW_NAN,
    KW_OFFSET,
    KW_ON,
    KW_OR,
    KW_QUANTILE,
    KW_RANGE,
    KW_SMOOTHED,
    KW_START,
    KW_STDDEV,
    KW_STDVAR,
    KW_STEP,
    KW_SUM,
    KW_TOPK,
    KW_UNLESS,
    KW_WITHOUT,
};

static const struct kw kws[] = {
    [KW_ANCHORED] = {"anchored", 8, T_ANCHORED, 0},
    [KW_AND] = {"and", 3, T_LAND, KW_AVG},
    [KW_ATAN2] = {"atan2", 5, T_ATAN2, 0},
    [KW_AVG] = {"avg", 3, T_AVG, 0},
    [KW_BOOL] = {"bool", 4, T_BOOL, 0},
    [KW_BOTTOMK] = {"bottomk", 7, T_BOTTOMK, 0},
    [KW_BY] = {"by", 2, T_BY, 0},
    [KW_COUNT] = {"count", 5, T_COUNT, 0},
    [KW_COUNT_VALUES] = {"count_values", 12, T_COUNT_VALUES, 0},
    [KW_END] = {"end", 3, T_END, 0},
    [KW_FILL] = {"fill", 4, T_FILL, 0},
    [KW_FILL_LEFT] = {"fill_left", 9, T_FILL_LEFT, 0},
    [KW_FILL_RIGHT] = {"fill_right", 10, T_FILL_RIGHT, 0},
    [KW_GROUP] = {"group", 5, T_GROUP, 0},
    [KW_GROUP_LEFT] = {"group_left", 10, T_GROUP_LEFT, 0},
    [KW_GROUP_RIGHT] = {"group_right", 11, T_GROUP_RIGHT, 0},
    [KW_IGNORING] = {"ignoring", 8, T_IGNORING, 0},
    [KW_INF] = {"inf", 3, T_NUMBER, 0},
    [KW_LIMIT_RATIO] = {"limit_ratio", 11, T_LIMIT_RATIO, 0},
    [KW_LIMITK] = {"limitk", 6, T_LIMITK, 0},
    [KW_MAX] = {"max", 3, T_MAX, KW_MIN},
    [KW_MAX_OF] = {"max_of", 6, T_MAX_OF, KW_MIN_OF},
    [KW_MIN] = {"min", 3, T_MIN, 0},
    [KW_MIN_OF] = {"min_of", 6, T_MIN_OF, 0},
    [KW_NAN] = {"nan", 3, T_NUMBER, 0},
    [KW_OFFSET] = {"offset", 6, T_OFFSET, 0},
    [KW_ON] = {"on", 2, T_ON, KW_OR},
    [KW_OR] = {"or", 2, T_LOR, 0},
    [KW_QUANTILE] = {"quantile", 8, T_QUANTILE, 0},
    [KW_RANGE] = {"range", 5, T_RANGE, 0},
    [KW_SMOOTHED] = {"smoothed", 8, T_SMOOTHED, 0},
    [KW_START] = {"start", 5, T_START, 0},
    [KW_STDDEV] = {"stddev", 6, T_STDDEV, KW_STDVAR},
    [KW_STDVAR] = {"stdvar", 6, T_STDVAR, 0},
    [KW_STEP] = {"step", 4, T_STEP, 0},
    [KW_SUM] = {"sum", 3, T_SUM, 0},
    [KW_TOPK] = {"topk", 4, T_TOPK, 0},
    [KW_UNLESS] = {"unless", 6, T_LUNLESS, 0},
    [KW_WITHOUT] = {"without", 7, T_WITHOUT, 0},
};

#define L(c) ((c)&31)
static const uint8_t kw_at[32][16] = {
    [L('a')] = {[3] = KW_AND, [5] = KW_ATAN2, [8] = KW_ANCHORED},
    [L('b')] = {[2] = KW_BY, [4] = KW_BOOL, [7] = KW_BOTTOMK},
    [L('c')] = {[5] = KW_COUNT, [12] = KW_COUNT_VALUES},
    [L('e')] = {[3] = KW_END},
    [L('f')] = {[4] = KW_FILL, [9] = KW_FILL_LEFT, [10] = KW_FILL_RIGHT},
    [L('g')] = {[5] = KW_GROUP, [10] = KW_GROUP_LEFT, [11] = KW_GROUP_RIGHT},
    [L('i')] = {[3] = KW_INF, [8] = KW_IGNORING},
    [L('l')] = {[6] = KW_LIMITK, [11] = KW_LIMIT_RATIO},
    [L('m')] = {[3] = KW_MAX, [6] = KW_MAX_OF},
    [L('n')] = {[3] = KW_NAN},
    [L('o')] = {[2] = KW_ON, [6] = KW_OFFSET},
    [L('q')] = {[8] = KW_QUANTILE},
    [L('r')] = {[5] = KW_RANGE},
    [L('s')] = {[3] = KW_SUM, [4] = KW_STEP, [5] = KW_START, [6] = KW_STDDEV, [8] = KW_SMOOTHED},
    [L('t')] = {[4] = KW_TOPK},
    [L('u')] = {[6] = KW_UNLESS},
    [L('w')] = {[7] = KW_WITHOUT},
};
#undef L

/* The keyword type of the identifier at s (identifier bytes only, in the
 * padded copy: it reads 16 bytes), or T_IDENT. On identifier bytes |0x20
 * only folds the case of letters, so it compares both sides folded. */
static inline int keyword_at(const unsigned char *s, size_t len)
{
    unsigned i = len < 16 ? kw_at[s[0] & 31][len] : KW_NONE;

    for (; i != KW_NONE; i = kws[i].alt) {
#if defined(__SSE2__)
        __m128i f = _mm_set1_epi8(0x20);
        __m128i a = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)s), f);
        __m128i b = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)kws[i].name), f);
        unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, b));
        if ((eq | (~0u << len)) == ~0u)
            return kws[i].type;
#else
        size_t j = 0;
        while (j < len && (s[j] | 0x20) == (kws[i].name[j] | 0x20))
            j++;
        if (j == len)
            return kws[i].type;
#endif
    }
    return T_IDENT;
}

/* Bytes of class `cls` from pos on; stops at anything else (incl. non-ASCII
 * and the NUL after the query). */
static inline void skip_class(struct lexer *l, uint8_t cls)
{
    while (cclass[(unsigned char)l->s[l->pos]] & cls)
        l->pos++;
}

static int accept(struct lexer *l, const char *set)
{
    if (in_set(next(l), set))
        return 1;
    backup(l);
    return 0;
}

static void accept_run(struct lexer *l, const char *set)
{
    skip_class(l, set[10] ? C_HEX : C_DIGIT); /* only digit sets are run */
}

static inline int is_space(int32_t r)
{
    return r == ' ' || r == '\t' || r == '\n' || r == '\r';
}

static inline int is_alpha(int32_t r)
{
    return r >= 0 && r < 128 && (cclass[r] & C_ALPHA);
}

static inline int is_digit(int32_t r)
{
    return r >= '0' && r <= '9';
}

static inline int is_alnum(int32_t r)
{
    return r >= 0 && r < 128 && (cclass[r] & (C_ALPHA | C_DIGIT));
}

static void emit_f(struct lexer *l, int type, unsigned flags)
{
    struct pq_token *t = &l->out->toks[l->out->n++];
    t->type = (uint16_t)type;
    t->flags = (uint16_t)flags;
    t->pos = (uint32_t)l->start;
    t->len = (uint32_t)(l->pos - l->start);
    l->start = l->pos;
}

static void emit(struct lexer *l, int type)
{
    emit_f(l, type, 0);
}

/* Go's %q of one rune, for messages. */
static void quote_rune(char *dst, size_t n, int32_t r)
{
    switch (r) {
    case '\'': snprintf(dst, n, "'\\''"); return;
    case '\\': snprintf(dst, n, "'\\\\'"); return;
    case '\n': snprintf(dst, n, "'\\n'"); return;
    case '\r': snprintf(dst, n, "'\\r'"); return;
    case '\t': snprintf(dst, n, "'\\t'"); return;
    case '\v': snprintf(dst, n, "'\\v'"); return;
    case '\f': snprintf(dst, n, "'\\f'"); return;
    case '\a': snprintf(dst, n, "'\\a'"); return;
    case '\b': snprintf(dst, n, "'\\b'"); return;
    }
    if (r == R_EOF || r == R_ERROR) {
        snprintf(dst, n, "'\xEF\xBF\xBD'");
    } else if (r < 0x20 || r == 0x7f) {
        snprintf(dst, n, "'\\x%02x'", (unsigned)r);
    } else if (r < 0x80) {
        snprintf(dst, n, "'%c'", (char)r);
    } else if (r < 0x10000) {
        snprintf(dst, n, "'\\u%04x'", (unsigned)r);
    } else {
        snprintf(dst, n, "'\\U%08x'", (unsigned)r);
    }
}

/* Go's %#U */
static void sharp_u(char *dst, size_t n, int32_t r)
{
    if (r >= 0x20 && r < 0x7f)
        snprintf(dst, n, "U+%04X '%c'", (unsigned)r, (char)r);
    else if (r < 0)
        snprintf(dst, n, "U+FFFFFFFFFFFFFFFF");
    else
        snprintf(dst, n, "U+%04X", (unsigned)r);
}

static void lex_error(struct lexer *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void lex_error(struct lexer *l, const char *fmt, ...)
{
    va_list ap;
    struct pq_token *t = &l->out->toks[l->out->n++];

    va_start(ap, fmt);
    vsnprintf(l->out->msg, sizeof(l->out->msg), fmt, ap);
    va_end(ap);
    t->type = T_ERROR;
    t->flags = 0;
    t->pos = (uint32_t)l->start;
    t->len = 0;
    l->done = 1;
}

/* Go's errorf right after emit overwrites the item just emitted. */
static void lex_error_replace(struct lexer *l, const char *msg)
{
    l->out->n--;
    lex_error(l, "%s", msg);
}

static void skip_spaces(struct lexer *l)
{
    skip_class(l, C_SPACE);
    l->start = l->pos;
}

static void lex_comment(struct lexer *l)
{
    l->pos = l->start = comment_end((const unsigned char *)l->s, l->pos, l->len);
}

/* After Go's scanNumber: accepts a superset of numbers, the parser checks. */
static int scan_number(struct lexer *l)
{
    static const char dec[] = "0123456789", hex[] = "0123456789abcdefABCDEF";
    static const char dec_set[] = "0123456789._eE", hex_set[] = "0123456789abcdefABCDEF._eE";
    const char *digits = dec, *set = dec_set;
    size_t initial = l->pos;
    int dot = 0, expo = 0;

    if (accept(l, "0") && accept(l, "xX")) {
        accept(l, "_");
        digits = hex;
        set = hex_set;
    }
    accept(l, ".");
    accept(l, digits);
    while (in_set(peek(l), set)) {
        int32_t r = peek(l);
        if (r == '.' && dot) {
            next(l);
            return 0;
        }
        if ((r == 'e' || r == 'E') && expo && digits != hex) {
            next(l);
            return 0;
        }
        if (accept(l, ".")) {
            dot = 1;
            if (accept(l, "_.") || digits == hex)
                return 0;
            continue;
        }
        /* in hex, e and E are digits, not an exponent (0x1e is 30) */
        if (digits != hex && accept(l, "eE")) {
            expo = 1;
            accept(l, "+-");
            if (accept(l, "._eE") || peek(l) == R_EOF)
                return 0;
            continue;
        }
        if (accept(l, "_")) {
            if (accept(l, "._eE") || peek(l) == R_EOF)
                return 0;
            continue;
        }
        accept_run(l, digits);
    }
    if (l->pos == initial)
        return 0;
    return !is_alnum(peek(l));
}

static int accept_remaining_duration(struct lexer *l)
{
    if (!accept(l, "smhdwy"))
        return 0;
    accept(l, "s");
    while (accept(l, "0123456789")) {
        while (accept(l, "0123456789"))
            ;
        if (!accept(l, "smhdw"))
            return 0;
        accept(l, "s");
    }
    return !is_alnum(next(l));
}

/* The common numbers and durations (digits[.digits], digits unit[digits
 * unit...]) without the generic scanner; the same tokens scan_number and
 * accept_remaining_duration produce. Returns the token type and sets *end, or
 * 0 for anything else (the generic path decides). */
static inline __attribute__((always_inline)) int fast_number(const unsigned char *s, size_t pos,
                                                             size_t *end)
{
    size_t p = pos;
    int dot = 0;
    unsigned char x;

    while (cclass[s[p]] & C_DIGIT)
        p++;
    if (p == pos)
        return 0;
    if (s[p] == '.') {
        dot = 1;
        p++;
        while (cclass[s[p]] & C_DIGIT)
            p++;
    }
    if (!(cclass[s[p]] & (C_ALPHA | C_DIGIT))) {
        if (s[p] == '.')
            return 0;
        *end = p;
        return T_NUMBER;
    }
    x = s[p];
    if (dot || !(x == 's' || x == 'm' || x == 'h' || x == 'd' || x == 'w' || x == 'y'))
        return 0; /* 1e3, 0x1f, 1_000, bad units: the generic scanner */
    p++;
    if (s[p] == 's')
        p++;
    while (cclass[s[p]] & C_DIGIT) {
        while (cclass[s[p]] & C_DIGIT)
            p++;
        x = s[p];
        if (!(x == 's' || x == 'm' || x == 'h' || x == 'd' || x == 'w'))
            return 0;
        p++;
        if (s[p] == 's')
            p++;
    }
    if (cclass[s[p]] & (C_ALPHA | C_DIGIT))
        return 0;
    *end = p;
    return T_DURATION;
}

static void lex_number_or_duration(struct lexer *l)
{
    char q[96];
    size_t end;
    int type = fast_number((const unsigned char *)l->s, l->pos, &end);

    if (type != 0) {
        l->pos = end;
        emit(l, type);
        return;
    }
    if (scan_number(l)) {
        emit(l, T_NUMBER);
        return;
    }
    if (accept_remaining_duration(l)) {
        backup(l);
        emit(l, T_DURATION);
        return;
    }
    pq_go_quote(q, sizeof(q), l->s + l->start, l->pos - l->start, 64);
    lex_error(l, "bad number or duration syntax: %s", q);
}

/* Value of a hex digit ('a' and 'A' are 0x61 and 0x41: low nibble + 9), 16
 * for anything else. */
static int digit_val(int32_t c)
{
    if (c < 0 || c >= 128 || !(cclass[c] & C_HEX))
        return 16;
    return (c & 0xF) + (c >> 6) * 9;
}

/* Validates one escape; the backslash has been read. 0 ok, -1 error. */
static int lex_escape(struct lexer *l, int32_t quote)
{
    char u[48];
    int n;
    uint32_t base, max, x = 0;
    int32_t ch = next(l);

    switch (ch) {
    case 'a':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case 'v':
    case '\\': return 0;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7': n = 3, base = 8, max = 255; break;
    case 'x': ch = next(l), n = 2, base = 16, max = 255; break;
    case 'u': ch = next(l), n = 4, base = 16, max = 0x10FFFF; break;
    case 'U': ch = next(l), n = 8, base = 16, max = 0x10FFFF; break;
    case R_EOF: lex_error(l, "escape sequence not terminated"); return -1;
    default:
        if (ch == quote)
            return 0;
        sharp_u(u, sizeof(u), ch);
        lex_error(l, "unknown escape sequence %s", u);
        return -1;
    }
    while (n > 0) {
        uint32_t d = (uint32_t)digit_val(ch);
        if (d >= base) {
            if (ch == R_EOF) {
                lex_error(l, "escape sequence not terminated");
                return -1;
            }
            sharp_u(u, sizeof(u), ch);
            lex_error(l, "illegal character %s in escape sequence", u);
            return -1;
        }
        x = x * base + d;
        if (--n > 0)
            ch = next(l);
    }
    if (x > max || (x >= 0xD800 && x < 0xE000)) {
        lex_error(l, "escape sequence is an invalid Unicode code point");
        return -1;
    }
    return 0;
}

/* A quoted string ("..." or '...', with escapes) or a raw string (`...`);
 * the opening quote has been read. The token gets PQ_TF_ESC when it has
 * escapes, PQ_TF_CLEAN when its content prints unchanged between double
 * quotes. */
static __attribute__((noinline)) void lex_string(struct lexer *l, int32_t quote)
{
    const unsigned char *s = (const unsigned char *)l->s;
    size_t pos = l->pos, len = l->len, w;
    unsigned flags = PQ_TF_CLEAN;
    int raw = quote == '`';

    for (;;) {
        unsigned char c;
        while ((cclass[s[pos]] & C_SAFE) && s[pos] != quote)
            pos++;
        if (pos >= len) {
            l->pos = pos;
            lex_error(l, raw ? "unterminated raw string" : "unterminated quoted string");
            return;
        }
        c = s[pos];
        if (c == quote) {
            pos++;
            break;
        }
        if (c == '\\' && !raw) {
            flags = PQ_TF_ESC;
            l->pos = pos + 1;
            if (lex_escape(l, quote) < 0)
                return;
            pos = l->pos;
            continue;
        }
        if (c == '\n' && !raw) {
            l->pos = pos + 1;
            lex_error(l, "unterminated quoted string");
            return;
        }
        flags &= ~(unsigned)PQ_TF_CLEAN;
        if (c < 0x80) {
            pos++;
            continue;
        }
        /* a raw U+FFFD is refused like an invalid sequence */
        if (decode_rune(s + pos, len - pos, &w) == R_ERROR) {
            l->pos = pos + w;
            lex_error(l, "invalid UTF-8 rune");
            return;
        }
        pos += w;
    }
    l->pos = pos;
    emit_f(l, T_STRING, flags);
}

static int followed_by_lparen(const struct lexer *l)
{
    return l->s[space_end((const unsigned char *)l->s, l->pos)] == '(';
}

static void lex_keyword_or_identifier(struct lexer *l)
{
    const unsigned char *s = (const unsigned char *)l->s;
    unsigned colon = 0, flags = 0;
    int kw;

    l->pos = ident_end(s, l->start, &colon);
    kw = keyword_at(s + l->start, l->pos - l->start);
    if (kw == T_IDENT)
        flags = PQ_TF_PLAIN;
    else if (kw == T_FILL || kw == T_FILL_LEFT || kw == T_FILL_RIGHT) {
        /* only a keyword before '(' so that "fill" stays a metric name */
        if (!followed_by_lparen(l))
            kw = T_IDENT;
    }
    if (kw == T_IDENT && colon)
        kw = T_METRIC_IDENT;
    emit_f(l, kw, flags);
}

static int is_duration_keyword_start(int32_t r)
{
    return r == 's' || r == 'S' || r == 'r' || r == 'R' || r == 'm' || r == 'M';
}

/* step, range, max_of, min_of inside brackets. 1 if emitted. */
static int scan_duration_keyword(struct lexer *l)
{
    int kw;
    while (is_alpha(next(l)))
        ;
    backup(l);
    kw = keyword_at((const unsigned char *)l->s + l->start, l->pos - l->start);
    if (kw == T_STEP || kw == T_RANGE || kw == T_MAX_OF || kw == T_MIN_OF) {
        emit(l, kw);
        return 1;
    }
    return 0;
}

static __attribute__((noinline)) void lex_inside_braces(struct lexer *l)
{
    char q[16];
    int32_t r;

    if (l->pos < l->len && l->s[l->pos] == '#') {
        lex_comment(l);
        return;
    }
    r = next(l);
    if (r == R_EOF) {
        lex_error(l, "unexpected end of input inside braces");
    } else if (is_space(r)) {
        skip_spaces(l);
    } else if (is_alpha(r)) {
        skip_class(l, C_ALPHA | C_DIGIT);
        emit(l, T_IDENT);
    } else if (r == ',') {
        emit(l, T_COMMA);
    } else if (r == '"' || r == '\'' || r == '`') {
        lex_string(l, r);
    } else if (r == '=') {
        if (next(l) == '~') {
            emit(l, T_EQL_REGEX);
        } else {
            backup(l);
            emit(l, T_EQL);
        }
    } else if (r == '!') {
        int32_t nr = next(l);
        if (nr == '~') {
            emit(l, T_NEQ_REGEX);
        } else if (nr == '=') {
            emit(l, T_NEQ);
        } else {
            quote_rune(q, sizeof(q), nr);
            lex_error(l, "unexpected character after '!' inside braces: %s", q);
        }
    } else if (r == '{') {
        lex_error(l, "unexpected left brace '{'");
    } else if (r == '}') {
        emit(l, T_RBRACE);
        l->brace_open = 0;
    } else {
        quote_rune(q, sizeof(q), r);
        lex_error(l, "unexpected character inside braces: %s", q);
    }
}

static __attribute__((noinline)) void lex_duration_expr(struct lexer *l)
{
    char q[16];
    int32_t r = next(l);

    if (r == R_EOF) {
        lex_error(l, "unexpected end of input in duration expression");
    } else if (r == ']') {
        emit(l, T_RBRACKET);
        l->bracket_open = l->got_colon = l->dur_mode = 0;
    } else if (r == ':') {
        emit(l, T_COLON);
        if (!l->got_duration)
            lex_error_replace(l, "unexpected colon before duration in duration expression");
        else if (l->got_colon)
            lex_error_replace(l, "unexpected repeated colon in duration expression");
        l->got_colon = 1;
    } else if (r == '(') {
        emit(l, T_LPAREN);
        l->paren_depth++;
    } else if (r == ')') {
        emit(l, T_RPAREN);
        if (--l->paren_depth < 0)
            lex_error_replace(l, "unexpected right parenthesis ')'");
    } else if (is_space(r)) {
        skip_spaces(l);
    } else if (r == '+' || r == '-' || r == '*' || r == '/' || r == '%' || r == '^' || r == ',') {
        static const char ops[] = "+-*/%^,";
        static const int types[] = {T_ADD, T_SUB, T_MUL, T_DIV, T_MOD, T_POW, T_COMMA};
        emit(l, types[strchr(ops, (int)r) - ops]);
    } else if (is_duration_keyword_start(r)) {
        if (!scan_duration_keyword(l)) {
            quote_rune(q, sizeof(q), r);
            lex_error(l, "unexpected character in duration expression: %s", q);
        }
    } else if (is_digit(r) || (r == '.' && is_digit(peek(l)))) {
        backup(l);
        l->got_duration = 1;
        l->dur_mode = 0;
        lex_number_or_duration(l);
    } else {
        quote_rune(q, sizeof(q), r);
        lex_error(l, "unexpected character in duration expression: %s", q);
    }
}

static void lex_operator(struct lexer *l, int32_t r)
{
    char q[16];
    int32_t t;

    switch (r) {
    case '=':
        t = peek(l);
        if (t == '=') {
            next(l);
            emit(l, T_EQLC);
        } else if (t == '~') {
            lex_error(l, "unexpected character after '=': '~'");
        } else {
            emit(l, T_EQL);
        }
        break;
    case '!':
        t = next(l);
        if (t != '=') {
            quote_rune(q, sizeof(q), t);
            lex_error(l, "unexpected character after '!': %s", q);
        } else {
            emit(l, T_NEQ);
        }
        break;
    case '<':
    case '>':
        t = peek(l);
        if (t == '=' || t == '/')
            next(l);
        if (r == '<')
            emit(l, t == '=' ? T_LTE : t == '/' ? T_TRIM_UPPER : T_LSS);
        else
            emit(l, t == '=' ? T_GTE : t == '/' ? T_TRIM_LOWER : T_GTR);
        break;
    }
}

static void lex_in_bracket_word(struct lexer *l, int32_t r)
{
    char q[16];
    if (r == ':') {
        if (l->got_colon) {
            lex_error(l, "unexpected colon ':'");
            return;
        }
        emit(l, T_COLON);
        l->got_colon = 1;
        return;
    }
    if (is_duration_keyword_start(r) && scan_duration_keyword(l))
        return;
    quote_rune(q, sizeof(q), r);
    lex_error(l, "unexpected character: %s, expected ':'", q);
}

static __attribute__((noinline)) void lex_statements(struct lexer *l)
{
    char q[16];
    int32_t r;

    if (l->pos < l->len && l->s[l->pos] == '#') {
        lex_comment(l);
        return;
    }
    r = next(l);
    switch (r) {
    case R_EOF:
        if (l->paren_depth != 0) {
            lex_error(l, "unclosed left parenthesis");
        } else if (l->bracket_open) {
            lex_error(l, "unclosed left bracket");
        } else {
            emit(l, T_EOF);
            l->done = 1;
        }
        return;
    case ',': emit(l, T_COMMA); return;
    case '*': emit(l, T_MUL); return;
    case '/': emit(l, T_DIV); return;
    case '%': emit(l, T_MOD); return;
    case '+': emit(l, T_ADD); return;
    case '-': emit(l, T_SUB); return;
    case '^': emit(l, T_POW); return;
    case '@': emit(l, T_AT); return;
    case ' ':
    case '\t':
    case '\n':
    case '\r': skip_spaces(l); return;
    case '=':
    case '!':
    case '<':
    case '>': lex_operator(l, r); return;
    case '"':
    case '\'':
    case '`': lex_string(l, r); return;
    case '(':
        emit(l, T_LPAREN);
        l->paren_depth++;
        return;
    case ')':
        emit(l, T_RPAREN);
        if (--l->paren_depth < 0)
            lex_error_replace(l, "unexpected right parenthesis ')'");
        return;
    case '{':
        emit(l, T_LBRACE);
        l->brace_open = 1;
        return;
    case '[':
        if (l->bracket_open) {
            lex_error(l, "unexpected left bracket '['");
            return;
        }
        l->got_colon = 0;
        emit(l, T_LBRACKET);
        skip_spaces(l);
        l->bracket_open = 1;
        l->dur_mode = 1;
        return;
    case ']':
        if (!l->bracket_open) {
            lex_error(l, "unexpected right bracket ']'");
            return;
        }
        emit(l, T_RBRACKET);
        l->bracket_open = 0;
        return;
    }
    if (is_digit(r) || (r == '.' && is_digit(peek(l)))) {
        backup(l);
        lex_number_or_duration(l);
    } else if (is_alpha(r) || r == ':') {
        if (l->bracket_open) {
            lex_in_bracket_word(l, r);
        } else {
            backup(l);
            lex_keyword_or_identifier(l);
        }
    } else {
        quote_rune(q, sizeof(q), r);
        lex_error(l, "unexpected character: %s", q);
    }
}

/* Byte kinds for the dispatch of the statement loop of lex_fast. */
enum kind {
    K_OTHER = 0,
    K_SPACE,
    K_HASH,
    K_DQUOTE,
    K_SINGLE,
    K_COMMA,
    K_LPAREN,
    K_RPAREN,
    K_LBRACE,
    K_LBRACKET,
    K_EQ,
    K_BANG,
    K_LTGT,
    K_DIGIT,
    K_IDENT,
    K_NUL,
};

#define KD(c)                                                                                      \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' ? K_SPACE                             \
     : (c) == '#'                                            ? K_HASH                              \
     : (c) == '"'                                            ? K_DQUOTE                            \
     : (c) == '*' || (c) == '/' || (c) == '%' || (c) == '+' || (c) == '-' || (c) == '^' ||         \
             (c) == '@'                                                                            \
         ? K_SINGLE                                                                                \
     : (c) == ','               ? K_COMMA                                                          \
     : (c) == '('               ? K_LPAREN                                                         \
     : (c) == ')'               ? K_RPAREN                                                         \
     : (c) == '{'               ? K_LBRACE                                                         \
     : (c) == '['               ? K_LBRACKET                                                       \
     : (c) == '='               ? K_EQ                                                             \
     : (c) == '!'               ? K_BANG                                                           \
     : (c) == '<' || (c) == '>' ? K_LTGT                                                           \
     : (c) >= '0' && (c) <= '9' ? K_DIGIT                                                          \
     : ((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || (c) == '_' || (c) == ':'        \
         ? K_IDENT                                                                                 \
     : (c) == 0 ? K_NUL                                                                            \
                : K_OTHER)
#define KD4(c)  KD(c), KD((c) + 1), KD((c) + 2), KD((c) + 3)
#define KD16(c) KD4(c), KD4((c) + 4), KD4((c) + 8), KD4((c) + 12)

static const uint8_t kind[256] = {
    KD16(0x00), KD16(0x10), KD16(0x20), KD16(0x30), KD16(0x40), KD16(0x50), KD16(0x60), KD16(0x70),
};

static const uint8_t single_tok[128] = {
    [','] = T_COMMA, ['*'] = T_MUL, ['/'] = T_DIV, ['%'] = T_MOD,
    ['+'] = T_ADD,   ['-'] = T_SUB, ['^'] = T_POW, ['@'] = T_AT,
};

/* type and flags as one 32-bit store */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define TYPE_FLAGS(ty, fl) ((uint32_t)(ty) << 16 | (uint32_t)(fl))
#else
#define TYPE_FLAGS(ty, fl) ((uint32_t)(ty) | (uint32_t)(fl) << 16)
#endif
#define EMIT(ty, fl, at, n)                                                                        \
    do {                                                                                           \
        uint32_t tf_ = TYPE_FLAGS(ty, fl);                                                         \
        memcpy(t, &tf_, sizeof(tf_));                                                              \
        t->pos = (uint32_t)(at);                                                                   \
        t->len = (uint32_t)(n);                                                                    \
        t++;                                                                                       \
    } while (0)

/* The common tokens of the statement and inside-braces states, straight
 * from the bytes with the state in locals; pos is always the start of the
 * next token. Stops at anything else (errors, unusual numbers and strings,
 * words inside brackets: the state machine above then takes one step) and
 * returns 1; returns 0 when it entered the duration state or finished. */
static int lex_fast(struct lexer *l)
{
    const unsigned char *s = (const unsigned char *)l->s;
    size_t len = l->len, pos = l->pos, p;
    struct pq_token *toks = l->out->toks, *t = toks + l->out->n;
    int brace = l->brace_open, paren = l->paren_depth, bracket = l->bracket_open, slow = 1, type;
    unsigned c, colon;

    if (brace)
        goto braces;
    if (bracket)
        goto brackets;
statements: /* and no bracket open */
    brace = 0;
    for (;;) {
        c = s[pos];
        if (c == ' ') /* the usual gap between tokens, without a dispatch */
            c = s[++pos];
        if (cclass[c] & (C_ALPHA | C_COLON)) {
            colon = 0;
            p = ident_end(s, pos, &colon);
            if (colon || (type = keyword_at(s + pos, p - pos)) == T_IDENT) {
                EMIT(colon ? T_METRIC_IDENT : T_IDENT, PQ_TF_PLAIN, pos, p - pos);
            } else {
                if (type == T_FILL || type == T_FILL_LEFT || type == T_FILL_RIGHT)
                    goto out; /* a keyword only before '(' */
                EMIT(type, 0, pos, p - pos);
            }
            pos = p;
            continue;
        }
        switch ((enum kind)kind[c]) { /* every kind has a case: no range check */
        case K_LPAREN:
            EMIT(T_LPAREN, 0, pos, 1);
            pos++;
            paren++;
            continue;
        case K_RPAREN:
            if (paren == 0)
                goto out;
            EMIT(T_RPAREN, 0, pos, 1);
            pos++;
            paren--;
            continue;
        case K_SPACE: pos = space_end(s, pos + 1); continue;
        case K_HASH: pos = comment_end(s, pos, len); continue;
        case K_DQUOTE:
            if (s[p = clean_string_end(s, pos)] != '"')
                goto out;
            EMIT(T_STRING, PQ_TF_CLEAN, pos, p + 1 - pos);
            pos = p + 1;
            continue;
        case K_SINGLE:
        case K_COMMA:
            EMIT(single_tok[c], 0, pos, 1);
            pos++;
            continue;
        case K_LBRACE:
            EMIT(T_LBRACE, 0, pos, 1);
            pos++;
            goto braces;
        case K_LBRACKET:
            EMIT(T_LBRACKET, 0, pos, 1);
            pos = space_end(s, pos + 1);
            l->got_colon = 0;
            bracket = 1;
            if ((type = fast_number(s, pos, &p)) != 0) {
                /* what the duration state does with a leading number */
                l->got_duration = 1;
                EMIT(type, 0, pos, p - pos);
                pos = p;
                goto brackets;
            }
            l->dur_mode = 1;
            slow = 0;
            goto out;
        case K_EQ:
            if (s[pos + 1] == '~')
                goto out;
            if (s[pos + 1] == '=') {
                EMIT(T_EQLC, 0, pos, 2);
                pos += 2;
            } else {
                EMIT(T_EQL, 0, pos, 1);
                pos++;
            }
            continue;
        case K_BANG:
            if (s[pos + 1] != '=')
                goto out;
            EMIT(T_NEQ, 0, pos, 2);
            pos += 2;
            continue;
        case K_LTGT:
            p = pos + 1;
            type = c == '<' ? T_LSS : T_GTR;
            if (s[p] == '=') {
                p++;
                type = c == '<' ? T_LTE : T_GTE;
            } else if (s[p] == '/') {
                p++;
                type = c == '<' ? T_TRIM_UPPER : T_TRIM_LOWER;
            }
            EMIT(type, 0, pos, p - pos);
            pos = p;
            continue;
        case K_DIGIT:
            if ((type = fast_number(s, pos, &p)) == 0)
                goto out;
            EMIT(type, 0, pos, p - pos);
            pos = p;
            continue;
        case K_NUL:
            if (pos < len || paren != 0)
                goto out;
            EMIT(T_EOF, 0, pos, 0);
            l->done = 1;
            slow = 0;
            goto out;
        case K_IDENT: /* taken above */
        case K_OTHER: goto out;
        default: __builtin_unreachable();
        }
    }
brackets: /* the usual [5m] and [5m:1m]; the rest is for lex_statements */
    brace = 0;
    for (;;) {
        c = s[pos];
        if (c == ']') {
            EMIT(T_RBRACKET, 0, pos, 1);
            pos++;
            bracket = 0;
            goto statements;
        } else if (c == ':' && !l->got_colon) {
            EMIT(T_COLON, 0, pos, 1);
            pos++;
            l->got_colon = 1;
        } else if ((type = fast_number(s, pos, &p)) != 0) {
            EMIT(type, 0, pos, p - pos);
            pos = p;
        } else if (cclass[c] & C_SPACE) {
            pos = space_end(s, pos + 1);
        } else {
            goto out;
        }
    }
braces:
    /* A selector's matchers are name="value" and name=~"value" between
     * commas: each token jumps straight to the case of the one that usually
     * follows it, so the chain of tests runs only at the other spots. */
    brace = 1;
    for (;;) {
        c = s[pos];
        if (c == ' ')
            c = s[++pos];
        if (cclass[c] & C_ALPHA) {
            colon = 0;
            p = ident_end(s, pos, &colon);
            if (colon) /* a label name ends before it: lex_inside_braces */
                goto out;
            EMIT(T_IDENT, 0, pos, p - pos);
            pos = p;
            if ((c = s[pos]) == '=')
                goto eq;
        } else if (c == '=') {
        eq:
            if (s[pos + 1] == '~') {
                EMIT(T_EQL_REGEX, 0, pos, 2);
                pos += 2;
            } else {
                EMIT(T_EQL, 0, pos, 1);
                pos++;
            }
            if ((c = s[pos]) == '"')
                goto value;
        } else if (c == '"') {
        value:
            if (s[p = clean_string_end(s, pos)] != '"')
                goto out;
            EMIT(T_STRING, PQ_TF_CLEAN, pos, p + 1 - pos);
            pos = p + 1;
            if ((c = s[pos]) == ',')
                goto comma;
            if (c == '}')
                goto rbrace;
        } else if (c == ',') {
        comma:
            EMIT(T_COMMA, 0, pos, 1);
            pos++;
        } else if (c == '}') {
        rbrace:
            EMIT(T_RBRACE, 0, pos, 1);
            pos++;
            if (bracket) /* a selector inside [ ]: an error later, but lexed */
                goto brackets;
            goto statements;
        } else if (c == '!' && (s[pos + 1] == '~' || s[pos + 1] == '=')) {
            EMIT(s[pos + 1] == '~' ? T_NEQ_REGEX : T_NEQ, 0, pos, 2);
            pos += 2;
            if ((c = s[pos]) == '"')
                goto value;
        } else if (cclass[c] & C_SPACE) {
            pos = space_end(s, pos + 1);
        } else if (c == '#') {
            pos = comment_end(s, pos, len);
        } else {
            goto out;
        }
    }
out:
    l->pos = l->start = pos;
    l->out->n = (size_t)(t - toks);
    l->brace_open = brace;
    l->paren_depth = paren;
    l->bracket_open = bracket;
    return slow;
}

#undef EMIT
#undef TYPE_FLAGS

void pq_lex(tg_arena_t *a, const char *s, size_t len, struct pq_lexed *out)
{
    struct lexer l;
    size_t cap = (len + 2) * sizeof(*out->toks); /* see below */
    char *copy;

    /* every token consumes at least one byte, plus the final EOF/ERROR;
     * an error may follow an emitted token at the same position. The padded
     * copy of the query (see PAD) goes right after the tokens, and what
     * neither of them uses is given back to the arena at the end. */
    out->toks = pq_alloc(a, cap + len + PAD);
    out->n = 0;
    out->msg[0] = '\0';
    copy = (char *)out->toks + cap;
    memcpy(copy, s, len);
    memset(copy + len, 0, PAD);

    memset(&l, 0, sizeof(l));
    l.s = copy;
    l.len = len;
    l.out = out;
    while (!l.done) {
        if (l.dur_mode)
            lex_duration_expr(&l);
        else if (lex_fast(&l) && !l.done) {
            if (l.brace_open)
                lex_inside_braces(&l);
            else
                lex_statements(&l);
        }
    }
    if (a->last == (char *)out->toks)
        a->cur = (char *)out->toks + ((out->n * sizeof(*out->toks) + 15) & ~(size_t)15);
}

int pq_keyword(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned i = len > 0 && len < 16 ? kw_at[s[0] & 31][len] : KW_NONE;
    size_t j;

    /* any bytes: fold only the letters */
    for (; i != KW_NONE; i = kws[i].alt) {
        for (j = 0; j < len; j++) {
            unsigned c = s[j];
            if (c - 'A' < 26u)
                c |= 0x20;
            if (c != (unsigned char)kws[i].name[j])
                break;
        }
        if (j == len)
            return kws[i].type;
    }
    return T_IDENT;
}
