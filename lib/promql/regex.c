/*
 * A small backtracking matcher for the RE2 subset label regexes use, only to
 * answer two questions about a matcher without a regex library: does it match
 * the empty string (Prometheus refuses selectors whose matchers all do), and
 * does it match a tenant value (error_on_replace conflicts). Anything it does
 * not model (Unicode classes, \Q..\E, too much backtracking) gives -1 and the
 * callers take the safe side. Prometheus anchors regexes as ^(?s:re)$.
 */
#include "promql-int.h"

#include <string.h>

#define RX_MAX_NODES  256
#define RX_MAX_RANGES 256
#define RX_MAX_PAT    512
#define RX_BUDGET     10000
#define RX_MAX_TEXT   256
#define RX_MAX_STACK  400 /* nested matcher calls; each frame holds a continuation */

enum { N_EMPTY, N_LIT, N_ANY, N_CLASS, N_CAT, N_ALT, N_REP, N_BOT, N_EOT, N_BOL, N_EOL, N_WB, N_NWB };

struct rx_node {
    uint8_t type, fold, neg, greedy;
    int32_t rune;              /* N_LIT */
    int first, next;           /* children list / sibling */
    int min, max;              /* N_REP; max -1 = unbounded */
    int r0, nr;                /* N_CLASS ranges */
    int nl;                    /* N_ANY matches \n */
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

struct flags { int i, s, m, U; };

static int32_t rune_at(const unsigned char *p, size_t len, size_t i, size_t *w)
{
    unsigned c = p[i];
    size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
             : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
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
        add_range(r, '0', '9'), add_range(r, 'A', 'Z'), add_range(r, 'a', 'z'), add_range(r, '_', '_');
        return 1;
    case 's':
        add_range(r, '\t', '\n'), add_range(r, '\f', '\r'), add_range(r, ' ', ' ');
        return 1;
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
    if (c > 0 && c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
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
    case 'd': case 'w': case 's': case 'D': case 'W': case 'S':
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
        default:
            r->unknown = 1;
            return new_node(r, N_EMPTY);
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
    case '[':
        r->pi++;
        return parse_class(r, f);
    case '.':
        r->pi++;
        id = new_node(r, N_ANY);
        r->n[id].nl = f->s;
        return id;
    case '^':
        r->pi++;
        return new_node(r, f->m ? N_BOL : N_BOT);
    case '$':
        r->pi++;
        return new_node(r, f->m ? N_EOL : N_EOT);
    case '\\':
        return parse_escape(r, f);
    case '*': case '+': case '?':
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
    int node;           /* node to match next (and its siblings), or a N_REP */
    int rep_count;      /* for N_REP frames: iterations done */
    size_t rep_start;   /* position where the current iteration began */
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

static int match_rep(struct rx *r, int node, int count, size_t pos, size_t start, const struct cont *k)
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
    case N_EMPTY:
        return run_cont(r, k, pos);
    case N_LIT:
        return c >= 0 && fold_eq(c, n->rune, n->fold) && run_cont(r, k, pos + w);
    case N_ANY:
        return c >= 0 && (n->nl || c != '\n') && run_cont(r, k, pos + w);
    case N_CLASS:
        return c >= 0 && class_has(r, n, c) && run_cont(r, k, pos + w);
    case N_CAT:
        if (n->first < 0)
            return run_cont(r, k, pos);
        return match_seq(r, n->first, pos, k);
    case N_ALT:
        for (i = n->first; i >= 0; i = r->n[i].next)
            if (match_node(r, i, pos, k))
                return 1;
        return 0;
    case N_REP:
        return match_rep(r, node, 0, pos, (size_t)-1, k);
    case N_BOT:
        return pos == 0 && run_cont(r, k, pos);
    case N_EOT:
        return pos == r->tlen && run_cont(r, k, pos);
    case N_BOL:
        return (pos == 0 || r->t[pos - 1] == '\n') && run_cont(r, k, pos);
    case N_EOL:
        return (pos == r->tlen || r->t[pos] == '\n') && run_cont(r, k, pos);
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
    case TG_PROMQL_NRE:
        r = pq_regex_match(m->value, s);
        return r < 0 ? -1 : !r;
    }
    return -1;
}
