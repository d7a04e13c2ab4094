/*
 * A small backtracking matcher for the RE2 subset label regexes use, only to
 * answer two questions about a matcher without a regex library: does it match
 * the empty string (Prometheus refuses selectors whose matchers all do), and
 * does it match a tenant value (error_on_replace conflicts). Anything it does
 * not model (Unicode classes, \Q..\E, too much backtracking) gives -1 and the
 * callers take the safe side. Prometheus anchors regexes as ^(?s:re)$.
 */
#include "promql-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_MAX_NODES  256
#define RX_MAX_RANGES 256
#define RX_MAX_PAT    512
#define RX_BUDGET     10000
#define RX_MAX_TEXT   256
#define RX_MAX_STACK  400 /* nested matcher calls; each frame holds a continuation */

enum {
    N_EMPTY,
    N_LIT,
    N_ANY,
    N_CLASS,
    N_CAT,
    N_ALT,
    N_REP,
    N_BOT,
    N_EOT,
    N_BOL,
    N_EOL,
    N_WB,
    N_NWB
};

struct rx_node {
    uint8_t type, fold, neg, greedy;
    int32_t rune;    /* N_LIT */
    int first, next; /* children list / sibling */
    int min, max;    /* N_REP; max -1 = unbounded */
    int r0, nr;      /* N_CLASS ranges */
    int nl;          /* N_ANY matches \n */
};

struct rx {
    const unsigned char *p;
    size_t plen, pi;
    struct rx_node n[RX_MAX_NODES];
    int nn;
    int32_t rng[RX_MAX_RANGES][2];
    int nrng;
    int unknown;
    /* matching */
    const unsigned char *t;
    size_t tlen;
    int budget;
    int depth;
};

struct flags {
    int i, s, m, U;
};

static int32_t rune_at(const unsigned char *p, size_t len, size_t i, size_t *w)
{
    unsigned c = p[i];
    size_t n = c < 0x80                   ? 1
               : (c >= 0xC2 && c <= 0xDF) ? 2
               : (c >= 0xE0 && c <= 0xEF) ? 3
               : (c >= 0xF0 && c <= 0xF4) ? 4
                                          : 0;
    int32_t r;
    size_t j;

    *w = 1;
    if (n == 1)
        return (int32_t)c;
    if (n == 0 || i + n > len || !pq_utf8_valid((const char *)p + i, n))
        return -1;
    r = (int32_t)(c & (0x7F >> n));
    for (j = 1; j < n; j++)
        r = (r << 6) | (p[i + j] & 0x3F);
    *w = n;
    return r;
}

static int new_node(struct rx *r, int type)
{
    struct rx_node *n;
    if (r->nn >= RX_MAX_NODES) {
        r->unknown = 1;
        return 0;
    }
    n = &r->n[r->nn];
    memset(n, 0, sizeof(*n));
    n->type = (uint8_t)type;
    n->first = n->next = -1;
    n->greedy = 1;
    return r->nn++;
}

static void add_range(struct rx *r, int32_t lo, int32_t hi)
{
    if (r->nrng >= RX_MAX_RANGES) {
        r->unknown = 1;
        return;
    }
    r->rng[r->nrng][0] = lo;
    r->rng[r->nrng][1] = hi;
    r->nrng++;
}

static int peekc(const struct rx *r)
{
    return r->pi < r->plen ? r->p[r->pi] : -1;
}

static int parse_alt(struct rx *r, struct flags *f);

/* \d \w \s into ranges; 1 if c was one of them */
static int perl_class(struct rx *r, int c)
{
    switch (c) {
    case 'd': add_range(r, '0', '9'); return 1;
    case 'w':
        add_range(r, '0', '9'), add_range(r, 'A', 'Z'), add_range(r, 'a', 'z'),
            add_range(r, '_', '_');
        return 1;
    case 's': add_range(r, '\t', '\n'), add_range(r, '\f', '\r'), add_range(r, ' ', ' '); return 1;
    }
    return 0;
}

static int32_t simple_escape(int c)
{
    switch (c) {
    case 'a': return '\a';
    case 'f': return '\f';
    case 't': return '\t';
    case 'n': return '\n';
    case 'r': return '\r';
    case 'v': return '\v';
    }
    if (c > 0 && c < 0x80 &&
        !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        return c; /* escaped punctuation */
    return -1;
}

/* One rune inside a class or after a backslash; -1 unknown. */
static int32_t class_rune(struct rx *r)
{
    size_t w;
    int32_t c;
    if (r->pi >= r->plen)
        return -1;
    if (r->p[r->pi] == '\\') {
        r->pi++;
        if (r->pi >= r->plen)
            return -1;
        c = simple_escape(r->p[r->pi]);
        r->pi++;
        return c;
    }
    c = rune_at(r->p, r->plen, r->pi, &w);
    r->pi += w;
    return c;
}

static int parse_class(struct rx *r, struct flags *f)
{
    int id = new_node(r, N_CLASS);
    int first = 1;

    r->n[id].r0 = r->nrng;
    r->n[id].fold = (uint8_t)f->i;
    if (peekc(r) == '^') {
        r->n[id].neg = 1;
        r->pi++;
    }
    while (!r->unknown) {
        int32_t lo, hi;
        int c = peekc(r);
        if (c < 0 || (c == '[' && r->pi + 1 < r->plen && r->p[r->pi + 1] == ':')) {
            r->unknown = 1;
            break;
        }
        if (c == ']' && !first) {
            r->pi++;
            break;
        }
        first = 0;
        if (c == '\\' && r->pi + 1 < r->plen && strchr("dws", r->p[r->pi + 1])) {
            perl_class(r, r->p[r->pi + 1]);
            r->pi += 2;
            continue;
        }
        lo = class_rune(r);
        hi = lo;
        if (peekc(r) == '-' && r->pi + 1 < r->plen && r->p[r->pi + 1] != ']') {
            r->pi++;
            hi = class_rune(r);
        }
        if (lo < 0 || hi < 0 || hi < lo) {
            r->unknown = 1;
            break;
        }
        add_range(r, lo, hi);
    }
    r->n[id].nr = r->nrng - r->n[id].r0;
    return id;
}

static int parse_escape(struct rx *r, struct flags *f)
{
    int c, id;
    int32_t lit;

    r->pi++;
    c = peekc(r);
    if (c < 0) {
        r->unknown = 1;
        return new_node(r, N_EMPTY);
    }
    r->pi++;
    switch (c) {
    case 'd':
    case 'w':
    case 's':
    case 'D':
    case 'W':
    case 'S':
        id = new_node(r, N_CLASS);
        r->n[id].r0 = r->nrng;
        perl_class(r, c | 0x20);
        r->n[id].nr = r->nrng - r->n[id].r0;
        r->n[id].neg = (uint8_t)(c < 'a');
        return id;
    case 'A': return new_node(r, N_BOT);
    case 'z': return new_node(r, N_EOT);
    case 'b': return new_node(r, N_WB);
    case 'B': return new_node(r, N_NWB);
    }
    lit = simple_escape(c);
    if (lit < 0) {
        r->unknown = 1; /* \p, \Q, \x, octal, ...: not modelled */
        return new_node(r, N_EMPTY);
    }
    id = new_node(r, N_LIT);
    r->n[id].rune = lit;
    r->n[id].fold = (uint8_t)f->i;
    return id;
}

/* (?flags) or (?flags:re); the "(?" has been read. */
static int parse_flag_group(struct rx *r, struct flags *f)
{
    struct flags nf = *f;
    int neg = 0, id;

    for (;;) {
        int c = peekc(r);
        r->pi++;
        switch (c) {
        case 'i': nf.i = !neg; break;
        case 's': nf.s = !neg; break;
        case 'm': nf.m = !neg; break;
        case 'U': nf.U = !neg; break;
        case '-': neg = 1; break;
        case ')':
            *f = nf; /* applies to the rest of the enclosing group */
            return new_node(r, N_EMPTY);
        case ':':
            id = parse_alt(r, &nf);
            if (peekc(r) != ')')
                r->unknown = 1;
            r->pi++;
            return id;
        case 'P':
        case '<':
            /* named group: skip the name */
            while (peekc(r) >= 0 && peekc(r) != '>')
                r->pi++;
            r->pi++;
            id = parse_alt(r, f);
            if (peekc(r) != ')')
                r->unknown = 1;
            r->pi++;
            return id;
        default: r->unknown = 1; return new_node(r, N_EMPTY);
        }
    }
}

static int parse_atom(struct rx *r, struct flags *f)
{
    int c = peekc(r), id;
    size_t w;

    switch (c) {
    case '(':
        r->pi++;
        if (peekc(r) == '?') {
            r->pi++;
            return parse_flag_group(r, f);
        }
        {
            struct flags inner = *f;
            id = parse_alt(r, &inner);
        }
        if (peekc(r) != ')')
            r->unknown = 1;
        r->pi++;
        return id;
    case '[': r->pi++; return parse_class(r, f);
    case '.':
        r->pi++;
        id = new_node(r, N_ANY);
        r->n[id].nl = f->s;
        return id;
    case '^': r->pi++; return new_node(r, f->m ? N_BOL : N_BOT);
    case '$': r->pi++; return new_node(r, f->m ? N_EOL : N_EOT);
    case '\\': return parse_escape(r, f);
    case '*':
    case '+':
    case '?':
        r->unknown = 1; /* missing argument to repetition operator */
        r->pi++;
        return new_node(r, N_EMPTY);
    }
    id = new_node(r, N_LIT);
    r->n[id].rune = rune_at(r->p, r->plen, r->pi, &w);
    r->n[id].fold = (uint8_t)f->i;
    if (r->n[id].rune < 0)
        r->unknown = 1;
    r->pi += w;
    return id;
}

/* {n}, {n,}, {n,m}: 1 if parsed, else '{' is a literal */
static int parse_braces(struct rx *r, int *min, int *max)
{
    size_t i = r->pi + 1;
    int a = 0, b, digits = 0;

    while (i < r->plen && r->p[i] >= '0' && r->p[i] <= '9' && digits < 5)
        a = a * 10 + (r->p[i++] - '0'), digits++;
    if (!digits || i >= r->plen)
        return 0;
    b = a;
    if (r->p[i] == ',') {
        i++;
        b = -1;
        if (i < r->plen && r->p[i] >= '0' && r->p[i] <= '9') {
            b = 0, digits = 0;
            while (i < r->plen && r->p[i] >= '0' && r->p[i] <= '9' && digits < 5)
                b = b * 10 + (r->p[i++] - '0'), digits++;
        }
    }
    if (i >= r->plen || r->p[i] != '}')
        return 0;
    if (a > 1000 || b > 1000 || (b >= 0 && b < a)) {
        r->unknown = 1;
    }
    r->pi = i + 1;
    *min = a;
    *max = b;
    return 1;
}

static int parse_repeat(struct rx *r, struct flags *f)
{
    int id = parse_atom(r, f);

    while (!r->unknown) {
        int c = peekc(r), min, max, rep;
        if (c == '*')
            min = 0, max = -1, r->pi++;
        else if (c == '+')
            min = 1, max = -1, r->pi++;
        else if (c == '?')
            min = 0, max = 1, r->pi++;
        else if (c == '{' && parse_braces(r, &min, &max))
            ;
        else
            break;
        if (r->n[id].type == N_REP) {
            r->unknown = 1; /* RE2: invalid nested repetition operator */
            break;
        }
        rep = new_node(r, N_REP);
        r->n[rep].first = id;
        r->n[rep].min = min;
        r->n[rep].max = max;
        r->n[rep].greedy = (uint8_t)!f->U;
        if (peekc(r) == '?') {
            r->n[rep].greedy = (uint8_t)f->U;
            r->pi++;
        }
        id = rep;
    }
    return id;
}

static int parse_concat(struct rx *r, struct flags *f)
{
    int cat = new_node(r, N_CAT), last = -1;

    while (!r->unknown && peekc(r) >= 0 && peekc(r) != '|' && peekc(r) != ')') {
        int id = parse_repeat(r, f);
        if (last < 0)
            r->n[cat].first = id;
        else
            r->n[last].next = id;
        last = id;
    }
    return cat;
}

static int parse_alt(struct rx *r, struct flags *f)
{
    int alt = new_node(r, N_ALT), last;

    last = r->n[alt].first = parse_concat(r, f);
    while (!r->unknown && peekc(r) == '|') {
        int id;
        r->pi++;
        id = parse_concat(r, f);
        r->n[last].next = id;
        last = id;
    }
    return alt;
}

/* Continuation frames live on the C stack of the matcher. */
struct cont {
    int node;         /* node to match next (and its siblings), or a N_REP */
    int rep_count;    /* for N_REP frames: iterations done */
    size_t rep_start; /* position where the current iteration began */
    int is_rep;
    const struct cont *next;
};

static int match_node(struct rx *r, int node, size_t pos, const struct cont *k);

static int fold_eq(int32_t a, int32_t b, int fold)
{
    if (a == b)
        return 1;
    if (!fold)
        return 0;
    if (a >= 'A' && a <= 'Z')
        a += 32;
    if (b >= 'A' && b <= 'Z')
        b += 32;
    return a == b && a < 0x80;
}

static int class_has(const struct rx *r, const struct rx_node *n, int32_t c)
{
    int i, in = 0;
    for (i = 0; i < n->nr && !in; i++) {
        int32_t lo = r->rng[n->r0 + i][0], hi = r->rng[n->r0 + i][1];
        in = c >= lo && c <= hi;
        if (!in && n->fold && c < 0x80) {
            int32_t o = (c >= 'a' && c <= 'z') ? c - 32 : (c >= 'A' && c <= 'Z') ? c + 32 : c;
            in = o >= lo && o <= hi;
        }
    }
    return in != n->neg;
}

static int is_word(const struct rx *r, size_t pos)
{
    int c;
    if (pos >= r->tlen)
        return 0;
    c = r->t[pos];
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int run_cont(struct rx *r, const struct cont *k, size_t pos);
static int match_seq(struct rx *r, int node, size_t pos, const struct cont *k);

static int match_rep(struct rx *r, int node, int count, size_t pos, size_t start,
                     const struct cont *k)
{
    const struct rx_node *n = &r->n[node];
    struct cont c = {node, count + 1, pos, 1, k};

    /* an iteration that consumed nothing cannot help: stop looping */
    if (count > n->min && pos == start)
        return run_cont(r, k, pos);
    if (count < n->min)
        return match_node(r, n->first, pos, &c);
    if (n->max >= 0 && count >= n->max)
        return run_cont(r, k, pos);
    if (n->greedy)
        return match_node(r, n->first, pos, &c) || run_cont(r, k, pos);
    return run_cont(r, k, pos) || match_node(r, n->first, pos, &c);
}

static int run_cont(struct rx *r, const struct cont *k, size_t pos)
{
    if (k == NULL)
        return pos == r->tlen;
    if (k->is_rep)
        return match_rep(r, k->node, k->rep_count, pos, k->rep_start, k->next);
    return match_seq(r, k->node, pos, k->next);
}

/* Match `node` then its siblings (when in a concatenation) then k. */
static int match_seq(struct rx *r, int node, size_t pos, const struct cont *k)
{
    if (r->n[node].next >= 0) {
        struct cont c = {r->n[node].next, 0, 0, 0, k};
        return match_node(r, node, pos, &c);
    }
    return match_node(r, node, pos, k);
}

static int match_node_(struct rx *r, int node, size_t pos, const struct cont *k);

/* Depth-bounded: the continuations live on the C stack. */
static int match_node(struct rx *r, int node, size_t pos, const struct cont *k)
{
    int m;
    if (r->unknown || ++r->depth > RX_MAX_STACK) {
        r->unknown = 1;
        r->depth--;
        return 0;
    }
    m = match_node_(r, node, pos, k);
    r->depth--;
    return m;
}

static int match_node_(struct rx *r, int node, size_t pos, const struct cont *k)
{
    const struct rx_node *n = &r->n[node];
    int32_t c = -1;
    size_t w = 0;
    int i;

    if (--r->budget <= 0) {
        r->unknown = 1;
        return 0;
    }
    if (pos < r->tlen)
        c = rune_at(r->t, r->tlen, pos, &w);
    switch (n->type) {
    case N_EMPTY: return run_cont(r, k, pos);
    case N_LIT: return c >= 0 && fold_eq(c, n->rune, n->fold) && run_cont(r, k, pos + w);
    case N_ANY: return c >= 0 && (n->nl || c != '\n') && run_cont(r, k, pos + w);
    case N_CLASS: return c >= 0 && class_has(r, n, c) && run_cont(r, k, pos + w);
    case N_CAT:
        if (n->first < 0)
            return run_cont(r, k, pos);
        return match_seq(r, n->first, pos, k);
    case N_ALT:
        for (i = n->first; i >= 0; i = r->n[i].next)
            if (match_node(r, i, pos, k))
                return 1;
        return 0;
    case N_REP: return match_rep(r, node, 0, pos, (size_t)-1, k);
    case N_BOT: return pos == 0 && run_cont(r, k, pos);
    case N_EOT: return pos == r->tlen && run_cont(r, k, pos);
    case N_BOL: return (pos == 0 || r->t[pos - 1] == '\n') && run_cont(r, k, pos);
    case N_EOL: return (pos == r->tlen || r->t[pos] == '\n') && run_cont(r, k, pos);
    case N_WB:
    case N_NWB: {
        int b = (pos > 0 && is_word(r, pos - 1)) != is_word(r, pos);
        return b == (n->type == N_WB) && run_cont(r, k, pos);
    }
    }
    return 0;
}

int pq_regex_match(tg_iovec_t re, tg_iovec_t s)
{
    struct rx r;
    struct flags f = {0, 1, 0, 0};
    int root, m;

    if (re.len > RX_MAX_PAT || s.len > RX_MAX_TEXT || !pq_utf8_valid(s.base, s.len))
        return -1;
    r.p = (const unsigned char *)re.base;
    r.plen = re.len;
    r.pi = 0;
    r.nn = r.nrng = 0;
    r.unknown = 0;
    root = parse_alt(&r, &f);
    if (r.unknown || r.pi != r.plen)
        return -1;
    r.t = (const unsigned char *)s.base;
    r.tlen = s.len;
    r.budget = RX_BUDGET;
    r.depth = 0;
    m = match_node(&r, root, 0, NULL);
    if (r.unknown)
        return -1;
    return m;
}

void pq_quote_meta(tg_sb_t *sb, tg_iovec_t s)
{
    size_t i;
    for (i = 0; i < s.len; i++) {
        if (strchr("\\.+*?()|[]{}^$", s.base[i]) != NULL && s.base[i] != '\0')
            tg_sb_addc(sb, '\\');
        tg_sb_addc(sb, s.base[i]);
    }
}

int pq_matcher_matches(const struct tg_promql_matcher *m, tg_iovec_t s)
{
    int r;
    switch (m->op) {
    case TG_PROMQL_EQ: return tg_iov_eq(m->value, s);
    case TG_PROMQL_NE: return !tg_iov_eq(m->value, s);
    case TG_PROMQL_RE: return pq_regex_match(m->value, s);
    case TG_PROMQL_NRE: r = pq_regex_match(m->value, s); return r < 0 ? -1 : !r;
    }
    return -1;
}

/* ---- RE2 syntax check ------------------------------------------------
 *
 * Prometheus compiles every =~ and !~ value with Go's regexp/syntax (Perl
 * flags) when it parses a selector and answers 400 bad_data on an error.
 * This walks the regex the way that parser does, without building a tree,
 * and reports the same error codes and offending text. Not modelled (left to
 * Prometheus): "expression too large" and "expression nests too deeply".
 * Unicode class names are accepted in any case and without '_', like the
 * newest Go does, so no valid name is refused.
 */

struct rxc {
    const unsigned char *s;
    size_t n;
    char *msg;
    size_t msglen;
};

/* One open group: P values are the largest product of nested {n,m} counts
 * on a path down the subtree (Go refuses a repetition making it > 1000). */
struct rxc_frame {
    uint32_t prevmax; /* items of the current concatenation before the last one */
    int32_t last;     /* the last item, -1 none (a repetition has no argument) */
    uint32_t altmax;  /* finished alternatives */
};

#define RXC_MAX_REPEAT 1000

static int rxc_err(struct rxc *c, const char *code, size_t from, size_t to)
{
    size_t o, i = from, lim;
    int k = snprintf(c->msg, c->msglen, "error parsing regexp: %s: `", code);

    if (k < 0 || (size_t)k >= c->msglen)
        return -1;
    o = (size_t)k;
    lim = c->msglen > 8 ? c->msglen - 8 : 0; /* room for "...`" and the NUL */
    while (i < to && o < lim) {
        size_t w;
        if (rune_at(c->s, to, i, &w) < 0) {
            /* invalid UTF-8 shows as U+FFFD, as Prometheus' JSON would */
            if (o + 3 > lim)
                break;
            memcpy(c->msg + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            continue;
        }
        if (o + w > lim)
            break;
        memcpy(c->msg + o, c->s + i, w);
        o += w;
        i += w;
    }
    if (i < to) {
        memcpy(c->msg + o, "...", 3);
        o += 3;
    }
    c->msg[o++] = '`';
    c->msg[o] = '\0';
    return -1;
}

/* Go's nextRune: the rune at i, or an "invalid UTF-8" error with the rest. */
static int rxc_rune(struct rxc *c, size_t i, int32_t *r, size_t *w)
{
    *r = rune_at(c->s, c->n, i, w);
    if (*r < 0)
        return rxc_err(c, "invalid UTF-8", i, c->n);
    return 0;
}

/* checkUTF8 of s[from, to): the error names the rest from the bad byte. */
static int rxc_check_utf8(struct rxc *c, size_t from, size_t to)
{
    size_t i = from, w;
    while (i < to) {
        if (rune_at(c->s, to, i, &w) < 0)
            return rxc_err(c, "invalid UTF-8", i, to);
        i += w;
    }
    return 0;
}

static int rxc_isalnum(int32_t r)
{
    return (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
}

/* parseEscape: s[*i] is '\'. Sets *r and moves *i past the escape. */
static int rxc_escape(struct rxc *c, size_t *i, int32_t *r)
{
    size_t start = *i, t = *i + 1, w;
    int32_t ch;

    if (t >= c->n)
        return rxc_err(c, "trailing backslash at end of expression", 0, 0);
    if (rxc_rune(c, t, &ch, &w) < 0)
        return -1;
    t += w;
    if (ch < 0x80 && !rxc_isalnum(ch)) {
        *r = ch;
        *i = t;
        return 0;
    }
    switch (ch) {
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
        /* a single non-zero digit is a backreference */
        if (t >= c->n || c->s[t] < '0' || c->s[t] > '7')
            break;
        /* fall through */
    case '0': {
        int k;
        int32_t v = ch - '0';
        for (k = 1; k < 3 && t < c->n && c->s[t] >= '0' && c->s[t] <= '7'; k++)
            v = v * 8 + (c->s[t++] - '0');
        *r = v;
        *i = t;
        return 0;
    }
    case 'x': {
        int32_t c2, c3;
        if (t >= c->n)
            break;
        if (rxc_rune(c, t, &c2, &w) < 0)
            return -1;
        t += w;
        if (c2 == '{') {
            int32_t v = 0;
            int nhex = 0;
            for (;;) {
                int d;
                if (t >= c->n)
                    return rxc_err(c, "invalid escape sequence", start, t);
                if (rxc_rune(c, t, &c3, &w) < 0)
                    return -1;
                t += w;
                if (c3 == '}')
                    break;
                if ((d = tg_hexval(c3)) < 0)
                    return rxc_err(c, "invalid escape sequence", start, t);
                v = v * 16 + d;
                if (v > 0x10FFFF)
                    return rxc_err(c, "invalid escape sequence", start, t);
                nhex++;
            }
            if (nhex == 0)
                return rxc_err(c, "invalid escape sequence", start, t);
            *r = v;
            *i = t;
            return 0;
        }
        c3 = -1; /* Go decodes an empty rest as RuneError without error */
        if (t < c->n) {
            if (rxc_rune(c, t, &c3, &w) < 0)
                return -1;
            t += w;
        }
        if (tg_hexval(c2) < 0 || c3 < 0 || tg_hexval(c3) < 0)
            return rxc_err(c, "invalid escape sequence", start, t);
        *r = tg_hexval(c2) * 16 + tg_hexval(c3);
        *i = t;
        return 0;
    }
    case 'a':
        *r = '\a';
        *i = t;
        return 0;
    case 'f':
        *r = '\f';
        *i = t;
        return 0;
    case 'n':
        *r = '\n';
        *i = t;
        return 0;
    case 'r':
        *r = '\r';
        *i = t;
        return 0;
    case 't':
        *r = '\t';
        *i = t;
        return 0;
    case 'v':
        *r = '\v';
        *i = t;
        return 0;
    }
    return rxc_err(c, "invalid escape sequence", start, t);
}

/* Unicode general categories and scripts (Go's unicode tables, Unicode 16)
 * and the category aliases, lower case without '_': \p{Name} lookups
 * fold case and drop '_', '-' and ' ' first. */
static const char *const rxc_unicode_names[] = {
    "any",
    "assigned",
    "ascii",
    "lc",
    "c",
    "cc",
    "cf",
    "co",
    "cs",
    "l",
    "ll",
    "lm",
    "lo",
    "lt",
    "lu",
    "m",
    "mc",
    "me",
    "mn",
    "n",
    "nd",
    "nl",
    "no",
    "p",
    "pc",
    "pd",
    "pe",
    "pf",
    "pi",
    "po",
    "ps",
    "s",
    "sc",
    "sk",
    "sm",
    "so",
    "z",
    "zl",
    "zp",
    "zs",
    "letter",
    "casedletter",
    "uppercaseletter",
    "lowercaseletter",
    "titlecaseletter",
    "modifierletter",
    "otherletter",
    "mark",
    "combiningmark",
    "nonspacingmark",
    "spacingmark",
    "enclosingmark",
    "number",
    "decimalnumber",
    "digit",
    "letternumber",
    "othernumber",
    "punctuation",
    "punct",
    "connectorpunctuation",
    "dashpunctuation",
    "openpunctuation",
    "closepunctuation",
    "initialpunctuation",
    "finalpunctuation",
    "otherpunctuation",
    "symbol",
    "mathsymbol",
    "currencysymbol",
    "modifiersymbol",
    "othersymbol",
    "separator",
    "spaceseparator",
    "lineseparator",
    "paragraphseparator",
    "other",
    "control",
    "cntrl",
    "format",
    "surrogate",
    "privateuse",
    "unassigned",
    "adlam",
    "ahom",
    "anatolianhieroglyphs",
    "arabic",
    "armenian",
    "avestan",
    "balinese",
    "bamum",
    "bassavah",
    "batak",
    "bengali",
    "bhaiksuki",
    "bopomofo",
    "brahmi",
    "braille",
    "buginese",
    "buhid",
    "canadianaboriginal",
    "carian",
    "caucasianalbanian",
    "chakma",
    "cham",
    "cherokee",
    "chorasmian",
    "common",
    "coptic",
    "cuneiform",
    "cypriot",
    "cyprominoan",
    "cyrillic",
    "deseret",
    "devanagari",
    "divesakuru",
    "dogra",
    "duployan",
    "egyptianhieroglyphs",
    "elbasan",
    "elymaic",
    "ethiopic",
    "garay",
    "georgian",
    "glagolitic",
    "gothic",
    "grantha",
    "greek",
    "gujarati",
    "gunjalagondi",
    "gurmukhi",
    "gurungkhema",
    "han",
    "hangul",
    "hanifirohingya",
    "hanunoo",
    "hatran",
    "hebrew",
    "hiragana",
    "imperialaramaic",
    "inherited",
    "inscriptionalpahlavi",
    "inscriptionalparthian",
    "javanese",
    "kaithi",
    "kannada",
    "katakana",
    "kawi",
    "kayahli",
    "kharoshthi",
    "khitansmallscript",
    "khmer",
    "khojki",
    "khudawadi",
    "kiratrai",
    "lao",
    "latin",
    "lepcha",
    "limbu",
    "lineara",
    "linearb",
    "lisu",
    "lycian",
    "lydian",
    "mahajani",
    "makasar",
    "malayalam",
    "mandaic",
    "manichaean",
    "marchen",
    "masaramgondi",
    "medefaidrin",
    "meeteimayek",
    "mendekikakui",
    "meroiticcursive",
    "meroitichieroglyphs",
    "miao",
    "modi",
    "mongolian",
    "mro",
    "multani",
    "myanmar",
    "nabataean",
    "nagmundari",
    "nandinagari",
    "newtailue",
    "newa",
    "nko",
    "nushu",
    "nyiakengpuachuehmong",
    "ogham",
    "olchiki",
    "olonal",
    "oldhungarian",
    "olditalic",
    "oldnortharabian",
    "oldpermic",
    "oldpersian",
    "oldsogdian",
    "oldsoutharabian",
    "oldturkic",
    "olduyghur",
    "oriya",
    "osage",
    "osmanya",
    "pahawhhmong",
    "palmyrene",
    "paucinhau",
    "phagspa",
    "phoenician",
    "psalterpahlavi",
    "rejang",
    "runic",
    "samaritan",
    "saurashtra",
    "sharada",
    "shavian",
    "siddham",
    "signwriting",
    "sinhala",
    "sogdian",
    "sorasompeng",
    "soyombo",
    "sundanese",
    "sunuwar",
    "sylotinagri",
    "syriac",
    "tagalog",
    "tagbanwa",
    "taile",
    "taitham",
    "taiviet",
    "takri",
    "tamil",
    "tangsa",
    "tangut",
    "telugu",
    "thaana",
    "thai",
    "tibetan",
    "tifinagh",
    "tirhuta",
    "todhri",
    "toto",
    "tulutigalari",
    "ugaritic",
    "vai",
    "vithkuqi",
    "wancho",
    "warangciti",
    "yezidi",
    "yi",
    "zanabazarsquare",
};

static int rxc_unicode_name_ok(const unsigned char *s, size_t len)
{
    char canon[64];
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        unsigned char ch = s[i];
        if (ch == '_' || ch == '-' || ch == ' ')
            continue;
        if (ch >= 0x80 || o + 1 >= sizeof(canon))
            return 0;
        canon[o++] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
    }
    canon[o] = '\0';
    for (i = 0; i < sizeof(rxc_unicode_names) / sizeof(rxc_unicode_names[0]); i++)
        if (strcmp(rxc_unicode_names[i], canon) == 0)
            return 1;
    return 0;
}

/* parseUnicodeClass at s[t] == '\' and s[t+1] in "pP": *t moves past it. */
static int rxc_unicode_class(struct rxc *c, size_t *t)
{
    size_t start = *t, u = *t + 2, w = 0, seq_end, name_from, name_to, end;
    int32_t ch = -1;

    if (u < c->n && rxc_rune(c, u, &ch, &w) < 0)
        return -1;
    if (ch != '{') {
        /* a single-letter name (empty at the end of the regex) */
        seq_end = u + w;
        name_from = u;
        name_to = u + w;
    } else {
        for (end = start; end < c->n && c->s[end] != '}'; end++)
            ;
        if (end >= c->n) {
            if (rxc_check_utf8(c, start, c->n) < 0)
                return -1;
            return rxc_err(c, "invalid character class range", start, c->n);
        }
        seq_end = end + 1;
        name_from = start + 3;
        name_to = end;
        if (rxc_check_utf8(c, name_from, name_to) < 0)
            return -1;
    }
    if (name_from < name_to && c->s[name_from] == '^')
        name_from++;
    if (!rxc_unicode_name_ok(c->s + name_from, name_to - name_from))
        return rxc_err(c, "invalid character class range", start, seq_end);
    *t = seq_end;
    return 0;
}

static int rxc_perl_class(const struct rxc *c, size_t t)
{
    return t + 1 < c->n && c->s[t] == '\\' && strchr("dDsSwW", c->s[t + 1]) != NULL &&
           c->s[t + 1] != '\0';
}

/* One class character (an escape or a rune) at *t. */
static int rxc_class_char(struct rxc *c, size_t *t, size_t whole, int32_t *r)
{
    size_t w;
    if (*t >= c->n)
        return rxc_err(c, "missing closing ]", whole, c->n);
    if (c->s[*t] == '\\')
        return rxc_escape(c, t, r);
    if (rxc_rune(c, *t, r, &w) < 0)
        return -1;
    *t += w;
    return 0;
}

/* parseClass: s[*i] is '['; moves *i past the closing ']'. */
static int rxc_class(struct rxc *c, size_t *i)
{
    static const char *const posix[] = {
        "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph",
        "lower", "print", "punct", "space", "upper", "word",  "xdigit",
    };
    size_t whole = *i, t = *i + 1;
    int first = 1;

    if (t < c->n && c->s[t] == '^')
        t++;
    while (t >= c->n || c->s[t] != ']' || first) {
        size_t rng;
        int32_t lo, hi;

        first = 0;
        if (c->n - t > 2 && c->s[t] == '[' && c->s[t + 1] == ':') {
            /* [:name:] up to the first ":]" */
            size_t k;
            for (k = t + 2; k + 1 < c->n && !(c->s[k] == ':' && c->s[k + 1] == ']'); k++)
                ;
            if (k + 1 < c->n) {
                size_t nf = t + 2, j, ok = 0;
                if (nf < k && c->s[nf] == '^')
                    nf++;
                for (j = 0; j < sizeof(posix) / sizeof(posix[0]); j++)
                    if (strlen(posix[j]) == k - nf && memcmp(posix[j], c->s + nf, k - nf) == 0)
                        ok = 1;
                if (!ok)
                    return rxc_err(c, "invalid character class range", t, k + 2);
                t = k + 2;
                continue;
            }
        }
        if (c->n - t >= 2 && c->s[t] == '\\' && (c->s[t + 1] == 'p' || c->s[t + 1] == 'P')) {
            if (rxc_unicode_class(c, &t) < 0)
                return -1;
            continue;
        }
        if (rxc_perl_class(c, t)) {
            t += 2;
            continue;
        }
        rng = t;
        if (rxc_class_char(c, &t, whole, &lo) < 0)
            return -1;
        hi = lo;
        /* [a-] means a or '-' */
        if (c->n - t >= 2 && c->s[t] == '-' && c->s[t + 1] != ']') {
            t++;
            if (rxc_class_char(c, &t, whole, &hi) < 0)
                return -1;
            if (hi < lo)
                return rxc_err(c, "invalid character class range", rng, t);
        }
    }
    *i = t + 1;
    return 0;
}

/* {n}, {n,}, {n,m} at s[i]: 1 and the values (above 1000 stay above), 0
 * when it is no repetition (then '{' is a literal). */
static int rxc_braces(const struct rxc *c, size_t i, long *min, long *max, size_t *after)
{
    size_t t = i + 1;
    long v;
    int k;

    for (k = 0; k < 2; k++) {
        if (t >= c->n || c->s[t] < '0' || c->s[t] > '9')
            return 0;
        /* no leading zeros */
        if (t + 1 < c->n && c->s[t] == '0' && c->s[t + 1] >= '0' && c->s[t + 1] <= '9')
            return 0;
        for (v = 0; t < c->n && c->s[t] >= '0' && c->s[t] <= '9'; t++)
            if (v <= 100000000)
                v = v * 10 + (c->s[t] - '0');
        if (k == 0) {
            *min = *max = v;
            if (t >= c->n)
                return 0;
            if (c->s[t] != ',')
                break;
            t++;
            if (t >= c->n)
                return 0;
            if (c->s[t] == '}') {
                *max = -1;
                break;
            }
        } else {
            *max = v;
        }
    }
    if (t >= c->n || c->s[t] != '}')
        return 0;
    *after = t + 1;
    return 1;
}

/* The regexes of real queries are mostly literals, '.', groups without
 * flags, '|' and single quantifiers: "(/dev/)?(sd.+|nvme.+)". 1 when `re`
 * is only that and therefore valid; 0 means "ask the full checker", which
 * also writes the error message. */
static int simple_regex_valid(const unsigned char *s, size_t n)
{
    enum { LIT = 0, QUANT, OPEN, CLOSE, ALT, STOP };
    /* STOP ends the fast path: escapes, classes, counted repetition,
     * anchors, and everything outside printable ASCII (UTF-8 is checked by
     * the full path) */
#define RC(c)                                                                                      \
    ((c) < 0x20 || (c) > 0x7e                 ? STOP                                               \
     : (c) == '*' || (c) == '+' || (c) == '?' ? QUANT                                              \
     : (c) == '('                             ? OPEN                                               \
     : (c) == ')'                             ? CLOSE                                              \
     : (c) == '|'                             ? ALT                                                \
     : (c) == '\\' || (c) == '[' || (c) == ']' || (c) == '{' || (c) == '}' || (c) == '^' ||        \
             (c) == '$'                                                                            \
         ? STOP                                                                                    \
         : LIT)
#define RC4(c)  RC(c), RC((c) + 1), RC((c) + 2), RC((c) + 3)
#define RC16(c) RC4(c), RC4((c) + 4), RC4((c) + 8), RC4((c) + 12)
    static const uint8_t cls[256] = {
        RC16(0x00), RC16(0x10), RC16(0x20), RC16(0x30), RC16(0x40), RC16(0x50),
        RC16(0x60), RC16(0x70), RC16(0x80), RC16(0x90), RC16(0xa0), RC16(0xb0),
        RC16(0xc0), RC16(0xd0), RC16(0xe0), RC16(0xf0),
    };
#undef RC16
#undef RC4
#undef RC
    size_t i = 0, depth = 0;
    int atom = 0; /* the previous item can take a quantifier */

    for (;;) {
        if (i < n && cls[s[i]] == LIT) {
            atom = 1;
            do
                i++;
            while (i < n && cls[s[i]] == LIT);
        }
        if (i == n)
            return depth == 0;
        switch (cls[s[i]]) {
        case QUANT:
            if (!atom)
                return 0; /* missing argument, nested or lazy repetition */
            atom = 0;
            break;
        case OPEN:
            if ((i + 1 < n && s[i + 1] == '?') || ++depth > 100)
                return 0; /* flags and named groups */
            atom = 0;
            break;
        case CLOSE:
            if (depth == 0)
                return 0;
            depth--;
            atom = 1;
            break;
        case ALT: atom = 0; break;
        default: return 0;
        }
        i++;
    }
}

static int full_regex_check(tg_arena_t *a, tg_iovec_t re, char *msg, size_t msglen)
{
    struct rxc c = {(const unsigned char *)re.base, re.len, msg, msglen};
    struct rxc_frame small[32], *fr = small, *f;
    size_t cap = 32, depth = 0, i = 0, last_repeat = (size_t)-1;
    /* regexp.QuoteMeta's special bytes but '|' */
    static const uint8_t meta[256] = {
        ['\\'] = 1, ['.'] = 1, ['+'] = 1, ['*'] = 1, ['?'] = 1, ['('] = 1, [')'] = 1,
        ['['] = 1,  [']'] = 1, ['{'] = 1, ['}'] = 1, ['^'] = 1, ['$'] = 1,
    };

    msg[0] = '\0';
    /* Prometheus matches alternations of plain literals without parsing */
    for (i = 0; i < c.n; i++)
        if (meta[c.s[i]])
            break;
    if (i == c.n)
        return 0;
    i = 0;
    f = &fr[0];
    f->prevmax = f->altmax = 0;
    f->last = -1;
    while (i < c.n) {
        size_t repeat = (size_t)-1, w, before, after;
        int32_t r;
        long min, max;
        unsigned char ch = c.s[i];

        switch (ch) {
        case '(':
            if (i + 1 < c.n && c.s[i + 1] == '?') {
                size_t rest = c.n - i;
                int named_p = rest > 4 && c.s[i + 2] == 'P' && c.s[i + 3] == '<';
                int named = rest > 3 && c.s[i + 2] == '<';
                if (named_p || named) {
                    size_t name_from = i + (named_p ? 4 : 3), end, k;
                    for (end = i; end < c.n && c.s[end] != '>'; end++)
                        ;
                    if (end >= c.n) {
                        if (rxc_check_utf8(&c, i, c.n) < 0)
                            return -1;
                        return rxc_err(&c, "invalid named capture", i, c.n);
                    }
                    if (rxc_check_utf8(&c, name_from, end) < 0)
                        return -1;
                    if (name_from == end)
                        return rxc_err(&c, "invalid named capture", i, end + 1);
                    for (k = name_from; k < end; k++)
                        if (c.s[k] != '_' && !rxc_isalnum(c.s[k]))
                            return rxc_err(&c, "invalid named capture", i, end + 1);
                    i = end + 1;
                    goto open_group;
                } else {
                    /* flags and non-capturing groups: (?i) (?i-s:...) */
                    size_t t = i + 2;
                    int neg = 0, saw = 0;
                    while (t < c.n) {
                        if (rxc_rune(&c, t, &r, &w) < 0)
                            return -1;
                        t += w;
                        if (r == 'i' || r == 'm' || r == 's' || r == 'U') {
                            saw = 1;
                            continue;
                        }
                        if (r == '-') {
                            if (neg)
                                break;
                            neg = 1;
                            saw = 0;
                            continue;
                        }
                        if (r == ':' || r == ')') {
                            if (neg && !saw)
                                break;
                            i = t;
                            if (r == ':')
                                goto open_group;
                            goto next; /* flags only: nothing pushed */
                        }
                        break;
                    }
                    return rxc_err(&c, "invalid or unsupported Perl syntax", i, t);
                }
            }
            i++;
        open_group:
            if (depth + 1 >= cap) {
                struct rxc_frame *nf = tg_arena_alloc(a, cap * 2 * sizeof(*nf));
                memcpy(nf, fr, cap * sizeof(*nf));
                fr = nf;
                cap *= 2;
            }
            f = &fr[++depth];
            f->prevmax = f->altmax = 0;
            f->last = -1;
            break;
        case '|': {
            uint32_t cat =
                f->last >= 0 && (uint32_t)f->last > f->prevmax ? (uint32_t)f->last : f->prevmax;
            if (cat == 0)
                cat = 1; /* empty match */
            if (cat > f->altmax)
                f->altmax = cat;
            f->prevmax = 0;
            f->last = -1;
            i++;
            break;
        }
        case ')': {
            uint32_t cat = f->last >= 0 && (uint32_t)f->last > f->prevmax ? (uint32_t)f->last
                                                                          : f->prevmax,
                     p;
            if (depth == 0)
                return rxc_err(&c, "unexpected )", 0, c.n);
            if (cat == 0)
                cat = 1;
            p = cat > f->altmax ? cat : f->altmax;
            f = &fr[--depth];
            if (f->last >= 0 && (uint32_t)f->last > f->prevmax)
                f->prevmax = (uint32_t)f->last;
            f->last = (int32_t)p;
            i++;
            break;
        }
        case '[':
            if (rxc_class(&c, &i) < 0)
                return -1;
            goto push_one;
        case '*':
        case '+':
        case '?':
            before = i;
            after = i + 1;
            min = max = 1; /* not counted */
            goto repeat_op;
        case '{':
            before = i;
            if (!rxc_braces(&c, i, &min, &max, &after)) {
                i++; /* a literal '{' */
                goto push_one;
            }
            if (min > RXC_MAX_REPEAT || max > RXC_MAX_REPEAT || (max >= 0 && min > max))
                return rxc_err(&c, "invalid repeat count", before, after);
        repeat_op:
            if (after < c.n && c.s[after] == '?')
                after++; /* non-greedy */
            if (last_repeat != (size_t)-1)
                return rxc_err(&c, "invalid nested repetition operator", last_repeat, after);
            if (f->last < 0)
                return rxc_err(&c, "missing argument to repetition operator", before, after);
            if (ch == '{') {
                uint32_t p;
                long m = max < 0 ? min : max;
                p = max == 0 ? 1 : (m == 0 ? 1 : (uint32_t)m) * (uint32_t)f->last;
                if ((min >= 2 || max >= 2) && p > RXC_MAX_REPEAT)
                    return rxc_err(&c, "invalid repeat count", before, after);
                f->last = (int32_t)p;
            }
            repeat = before;
            i = after;
            break;
        case '\\':
            if (i + 1 < c.n) {
                switch (c.s[i + 1]) {
                case 'A':
                case 'b':
                case 'B':
                case 'z': i += 2; goto push_one;
                case 'C': return rxc_err(&c, "invalid escape sequence", i, i + 2);
                case 'Q': {
                    /* \Q...\E: literals up to \E or the end */
                    size_t t = i + 2, e = t;
                    while (e < c.n && !(c.s[e] == '\\' && e + 1 < c.n && c.s[e + 1] == 'E'))
                        e++;
                    for (; t < e; t += w)
                        if (rune_at(c.s, e, t, &w) < 0)
                            return rxc_err(&c, "invalid UTF-8", t, e);
                    if (e > i + 2)
                        goto push_lits;
                    i = e < c.n ? e + 2 : c.n;
                    goto next;
                push_lits:
                    i = e < c.n ? e + 2 : c.n;
                    goto push_one;
                }
                case 'p':
                case 'P':
                    if (rxc_unicode_class(&c, &i) < 0)
                        return -1;
                    goto push_one;
                }
                if (rxc_perl_class(&c, i)) {
                    i += 2;
                    goto push_one;
                }
            }
            if (rxc_escape(&c, &i, &r) < 0)
                return -1;
            goto push_one;
        default:
            /* '^', '$', '.' and literals */
            if (ch < 0x80)
                i++;
            else if (rxc_rune(&c, i, &r, &w) < 0)
                return -1;
            else
                i += w;
        push_one:
            if (f->last >= 0 && (uint32_t)f->last > f->prevmax)
                f->prevmax = (uint32_t)f->last;
            f->last = 1;
            break;
        }
    next:
        last_repeat = repeat;
    }
    if (depth != 0)
        return rxc_err(&c, "missing closing )", 0, c.n);
    return 0;
}

int pq_regex_check(tg_arena_t *a, tg_iovec_t re, char *msg, size_t msglen)
{
    if (!simple_regex_valid((const unsigned char *)re.base, re.len))
        return full_regex_check(a, re, msg, msglen);
    if (PQ_CROSSCHECK) /* the fast path must not accept what the checker refuses */
        TG_CHECK(full_regex_check(a, re, msg, msglen) >= 0);
    msg[0] = '\0';
    return 0;
}

int tg_promql_regex_check(tg_arena_t *a, tg_iovec_t re, char *msg, size_t msglen)
{
    return pq_regex_check(a, re, msg, msglen);
}
