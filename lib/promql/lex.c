/*
 * PromQL lexer. Mirrors the states of Prometheus' promql/parser/lex.go
 * (statements, inside braces, inside a duration expression) so that token
 * boundaries and lexing errors are the same; the whole query is tokenised in
 * one pass into an arena array.
 */
#include "promql-int.h"

#include <stdio.h>
#include <string.h>

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

/* Character classes of ASCII bytes. */
enum { C_ALPHA = 1, C_DIGIT = 2, C_SPACE = 4, C_HEX = 8, C_STR_STOP = 16 };

static const uint8_t cclass[256] = {
    ['\t'] = C_SPACE, ['\n'] = C_SPACE | C_STR_STOP, ['\r'] = C_SPACE, [' '] = C_SPACE,
    ['"'] = C_STR_STOP, ['\''] = C_STR_STOP, ['\\'] = C_STR_STOP,
    ['0'] = C_DIGIT | C_HEX, ['1'] = C_DIGIT | C_HEX, ['2'] = C_DIGIT | C_HEX, ['3'] = C_DIGIT | C_HEX,
    ['4'] = C_DIGIT | C_HEX, ['5'] = C_DIGIT | C_HEX, ['6'] = C_DIGIT | C_HEX, ['7'] = C_DIGIT | C_HEX,
    ['8'] = C_DIGIT | C_HEX, ['9'] = C_DIGIT | C_HEX, ['_'] = C_ALPHA,
    ['a'] = C_ALPHA | C_HEX, ['b'] = C_ALPHA | C_HEX, ['c'] = C_ALPHA | C_HEX, ['d'] = C_ALPHA | C_HEX,
    ['e'] = C_ALPHA | C_HEX, ['f'] = C_ALPHA | C_HEX, ['g'] = C_ALPHA, ['h'] = C_ALPHA, ['i'] = C_ALPHA,
    ['j'] = C_ALPHA, ['k'] = C_ALPHA, ['l'] = C_ALPHA, ['m'] = C_ALPHA, ['n'] = C_ALPHA, ['o'] = C_ALPHA,
    ['p'] = C_ALPHA, ['q'] = C_ALPHA, ['r'] = C_ALPHA, ['s'] = C_ALPHA, ['t'] = C_ALPHA, ['u'] = C_ALPHA,
    ['v'] = C_ALPHA, ['w'] = C_ALPHA, ['x'] = C_ALPHA, ['y'] = C_ALPHA, ['z'] = C_ALPHA,
    ['A'] = C_ALPHA | C_HEX, ['B'] = C_ALPHA | C_HEX, ['C'] = C_ALPHA | C_HEX, ['D'] = C_ALPHA | C_HEX,
    ['E'] = C_ALPHA | C_HEX, ['F'] = C_ALPHA | C_HEX, ['G'] = C_ALPHA, ['H'] = C_ALPHA, ['I'] = C_ALPHA,
    ['J'] = C_ALPHA, ['K'] = C_ALPHA, ['L'] = C_ALPHA, ['M'] = C_ALPHA, ['N'] = C_ALPHA, ['O'] = C_ALPHA,
    ['P'] = C_ALPHA, ['Q'] = C_ALPHA, ['R'] = C_ALPHA, ['S'] = C_ALPHA, ['T'] = C_ALPHA, ['U'] = C_ALPHA,
    ['V'] = C_ALPHA, ['W'] = C_ALPHA, ['X'] = C_ALPHA, ['Y'] = C_ALPHA, ['Z'] = C_ALPHA,
};

/* Bytes of class `cls` from pos on; stops at anything else (incl. non-ASCII). */
static inline void skip_class(struct lexer *l, uint8_t cls)
{
    while (l->pos < l->len && (cclass[(unsigned char)l->s[l->pos]] & cls))
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

static void emit(struct lexer *l, int type)
{
    struct pq_token *t = &l->out->toks[l->out->n++];
    t->type = (uint16_t)type;
    t->pos = (uint32_t)l->start;
    t->len = (uint32_t)(l->pos - l->start);
    l->start = l->pos;
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
    while (l->pos < l->len && l->s[l->pos] != '\n' && l->s[l->pos] != '\r')
        l->pos++;
    l->start = l->pos;
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
        if ((r == 'e' || r == 'E') && expo) {
            next(l);
            return 0;
        }
        if (accept(l, ".")) {
            dot = 1;
            if (accept(l, "_.") || digits == hex)
                return 0;
            continue;
        }
        if (accept(l, "eE")) {
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

static void lex_number_or_duration(struct lexer *l)
{
    char q[96];
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

static int digit_val(int32_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 16;
}

/* Validates one escape; the backslash has been read. 0 ok, -1 error. */
static int lex_escape(struct lexer *l, int32_t quote)
{
    char u[48];
    int n;
    uint32_t base, max, x = 0;
    int32_t ch = next(l);

    switch (ch) {
    case 'a': case 'b': case 'f': case 'n': case 'r': case 't': case 'v': case '\\':
        return 0;
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        n = 3, base = 8, max = 255;
        break;
    case 'x':
        ch = next(l), n = 2, base = 16, max = 255;
        break;
    case 'u':
        ch = next(l), n = 4, base = 16, max = 0x10FFFF;
        break;
    case 'U':
        ch = next(l), n = 8, base = 16, max = 0x10FFFF;
        break;
    case R_EOF:
        lex_error(l, "escape sequence not terminated");
        return -1;
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

static void lex_string(struct lexer *l, int32_t quote)
{
    for (;;) {
        int32_t r;
        while (l->pos < l->len && (unsigned char)l->s[l->pos] < 0x80 &&
               !(cclass[(unsigned char)l->s[l->pos]] & C_STR_STOP))
            l->pos++;
        r = next(l);
        if (r == '\\') {
            if (lex_escape(l, quote) < 0)
                return;
        } else if (r == R_ERROR) {
            lex_error(l, "invalid UTF-8 rune");
            return;
        } else if (r == R_EOF || r == '\n') {
            lex_error(l, "unterminated quoted string");
            return;
        } else if (r == quote) {
            break;
        }
    }
    emit(l, T_STRING);
}

static void lex_raw_string(struct lexer *l)
{
    for (;;) {
        int32_t r = next(l);
        if (r == R_ERROR) {
            lex_error(l, "invalid UTF-8 rune");
            return;
        }
        if (r == R_EOF) {
            lex_error(l, "unterminated raw string");
            return;
        }
        if (r == '`')
            break;
    }
    emit(l, T_STRING);
}

static int followed_by_lparen(const struct lexer *l)
{
    size_t p = l->pos;
    while (p < l->len && is_space((unsigned char)l->s[p]))
        p++;
    return p < l->len && l->s[p] == '(';
}

static void lex_keyword_or_identifier(struct lexer *l)
{
    int kw, colon = 0;

    for (;;) {
        skip_class(l, C_ALPHA | C_DIGIT);
        if (l->pos < l->len && l->s[l->pos] == ':') {
            colon = 1;
            l->pos++;
            continue;
        }
        break;
    }
    kw = pq_keyword(l->s + l->start, l->pos - l->start);
    if (kw == T_FILL || kw == T_FILL_LEFT || kw == T_FILL_RIGHT) {
        /* only a keyword before '(' so that "fill" stays a metric name */
        if (!followed_by_lparen(l))
            kw = T_IDENT;
    }
    if (kw == T_IDENT && colon)
        kw = T_METRIC_IDENT;
    emit(l, kw);
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
    kw = pq_keyword(l->s + l->start, l->pos - l->start);
    if (kw == T_STEP || kw == T_RANGE || kw == T_MAX_OF || kw == T_MIN_OF) {
        emit(l, kw);
        return 1;
    }
    return 0;
}

static void lex_inside_braces(struct lexer *l)
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
    } else if (r == '"' || r == '\'') {
        lex_string(l, r);
    } else if (r == '`') {
        lex_raw_string(l);
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

static void lex_duration_expr(struct lexer *l)
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

static void lex_statements(struct lexer *l)
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
    case ' ': case '\t': case '\n': case '\r':
        skip_spaces(l);
        return;
    case '=': case '!': case '<': case '>':
        lex_operator(l, r);
        return;
    case '"': case '\'':
        lex_string(l, r);
        return;
    case '`':
        lex_raw_string(l);
        return;
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

void pq_lex(tg_arena_t *a, const char *s, size_t len, struct pq_lexed *out)
{
    struct lexer l;

    memset(&l, 0, sizeof(l));
    l.s = s;
    l.len = len;
    l.out = out;
    out->n = 0;
    out->msg[0] = '\0';
    /* every token consumes at least one byte, plus the final EOF/ERROR;
     * an error may follow an emitted token at the same position */
    out->toks = tg_arena_alloc(a, (len + 2) * sizeof(*out->toks));
    while (!l.done) {
        if (l.brace_open)
            lex_inside_braces(&l);
        else if (l.dur_mode)
            lex_duration_expr(&l);
        else
            lex_statements(&l);
    }
}

struct kw { const char *name; uint8_t type; };

/* Lower-case keywords by length (2..12); lookups compare case-insensitively. */
static const struct kw kw2[] = {{"or", T_LOR}, {"by", T_BY}, {"on", T_ON}, {NULL, 0}};
static const struct kw kw3[] = {{"and", T_LAND}, {"sum", T_SUM}, {"avg", T_AVG}, {"min", T_MIN},
                                {"max", T_MAX}, {"end", T_END}, {"inf", T_NUMBER}, {"nan", T_NUMBER},
                                {NULL, 0}};
static const struct kw kw4[] = {{"topk", T_TOPK}, {"fill", T_FILL}, {"bool", T_BOOL}, {"step", T_STEP},
                                {NULL, 0}};
static const struct kw kw5[] = {{"atan2", T_ATAN2}, {"count", T_COUNT}, {"group", T_GROUP},
                                {"start", T_START}, {"range", T_RANGE}, {NULL, 0}};
static const struct kw kw6[] = {{"unless", T_LUNLESS}, {"stddev", T_STDDEV}, {"stdvar", T_STDVAR},
                                {"limitk", T_LIMITK}, {"offset", T_OFFSET}, {"max_of", T_MAX_OF},
                                {"min_of", T_MIN_OF}, {NULL, 0}};
static const struct kw kw7[] = {{"bottomk", T_BOTTOMK}, {"without", T_WITHOUT}, {NULL, 0}};
static const struct kw kw8[] = {{"quantile", T_QUANTILE}, {"smoothed", T_SMOOTHED}, {"anchored", T_ANCHORED},
                                {"ignoring", T_IGNORING}, {NULL, 0}};
static const struct kw kw9[] = {{"fill_left", T_FILL_LEFT}, {NULL, 0}};
static const struct kw kw10[] = {{"group_left", T_GROUP_LEFT}, {"fill_right", T_FILL_RIGHT}, {NULL, 0}};
static const struct kw kw11[] = {{"limit_ratio", T_LIMIT_RATIO}, {"group_right", T_GROUP_RIGHT}, {NULL, 0}};
static const struct kw kw12[] = {{"count_values", T_COUNT_VALUES}, {NULL, 0}};
static const struct kw *const kw_by_len[13] = {NULL, NULL, kw2, kw3, kw4, kw5, kw6, kw7, kw8, kw9, kw10, kw11, kw12};

int pq_keyword(const char *s, size_t len)
{
    const struct kw *k;
    char low[12];
    size_t j;

    if (len < 2 || len > 12)
        return T_IDENT;
    for (j = 0; j < len; j++) {
        char c = s[j];
        low[j] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    for (k = kw_by_len[len]; k->name != NULL; k++)
        if (k->name[0] == low[0] && memcmp(k->name, low, len) == 0)
            return k->type;
    return T_IDENT;
}
