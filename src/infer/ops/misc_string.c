/* StringNormalizer (10), StringConcat (20), StringSplit (20),
 * RegexFullMatch (20; RE2 syntax translated to POSIX ERE). */
#include "misc.h"

#include <regex.h>
#include <stdlib.h>

/* ---- UTF-8 case mapping (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic) */

static uint32_t cp_lower(uint32_t c)
{
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x178) return 0xFF;
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return (c & 1) ? c : c + 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
        return (c & 1) ? c + 1 : c;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

static uint32_t cp_upper(uint32_t c)
{
    if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c == 0xFF) return 0x178;
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return (c & 1) ? c - 1 : c;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
        return (c & 1) ? c : c - 1;
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x3B1 && c <= 0x3C9) return c - 32;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

/* Decodes one UTF-8 sequence at p (n bytes left); returns its length, or 0
 * for an invalid/truncated sequence (then the byte is copied through). */
static size_t utf8_dec(const unsigned char *p, size_t n, uint32_t *cp)
{
    if (p[0] < 0x80) { *cp = p[0]; return 1; }
    if ((p[0] & 0xE0) == 0xC0 && n >= 2 && (p[1] & 0xC0) == 0x80) {
        *cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
        return *cp >= 0x80 ? 2 : 0;
    }
    if ((p[0] & 0xF0) == 0xE0 && n >= 3 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
        *cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        return *cp >= 0x800 ? 3 : 0;
    }
    return 0;
}

static size_t utf8_enc(uint32_t cp, unsigned char *o)
{
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
}

/* Case-maps s into out (capacity >= 3 * len / 2 + 4 is enough since mapped
 * code points never need more bytes than the input... we allow 2x). */
static size_t case_map(const char *s, size_t len, char *out, int upper)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char *o = (unsigned char *)out;
    size_t i = 0, k = 0;
    while (i < len) {
        uint32_t cp;
        size_t l = utf8_dec(p + i, len - i, &cp);
        if (l == 0) { o[k++] = p[i++]; continue; }
        uint32_t m = upper ? cp_upper(cp) : cp_lower(cp);
        if (m == cp) {
            memcpy(o + k, p + i, l);
            k += l;
        } else {
            k += utf8_enc(m, o + k);
        }
        i += l;
    }
    return k;
}

/* ---- StringNormalizer -------------------------------------------------- */

enum { CASE_NONE, CASE_LOWER, CASE_UPPER };

typedef struct strnorm_state {
    int action;
    int case_sensitive;
    size_t n_stop;
    em_str *stop;      /* lower-cased copies when !case_sensitive */
    char *pool;
} strnorm_state;

void misc_strnorm_free(void *p)
{
    strnorm_state *s = p;
    if (!s) return;
    free(s->stop);
    free(s->pool);
    free(s);
}

edgeml_status misc_strnorm_prepare(em_node *n, edgeml_error *err)
{
    strnorm_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    const char *act = em_attr_str(n, "case_change_action", "NONE");
    if (strcmp(act, "NONE") == 0) s->action = CASE_NONE;
    else if (strcmp(act, "LOWER") == 0) s->action = CASE_LOWER;
    else if (strcmp(act, "UPPER") == 0) s->action = CASE_UPPER;
    else return em_node_fail(n, err, EDGEML_E_MODEL, "invalid case_change_action '%s'", act);
    s->case_sensitive = em_attr_int(n, "is_case_sensitive", 0) != 0;
    const em_attr *a = em_attr_get(n, "stopwords");
    if (a && a->n > 0) {
        size_t total = 0;
        for (size_t i = 0; i < a->n; i++) total += 2 * a->strings[i].len + 4;
        s->stop = calloc(a->n, sizeof(em_str));
        s->pool = malloc(total ? total : 1);
        if (!s->stop || !s->pool) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
        size_t off = 0;
        for (size_t i = 0; i < a->n; i++) {
            const em_str *w = &a->strings[i];
            char *dst = s->pool + off;
            size_t l;
            if (s->case_sensitive) {
                if (w->len) memcpy(dst, w->data, w->len);
                l = w->len;
            } else {
                l = case_map(w->data, w->len, dst, 0);
            }
            s->stop[i].data = dst;
            s->stop[i].len = l;
            off += l;
        }
        s->n_stop = a->n;
    }
    return EDGEML_OK;
}

static bool is_stopword(const strnorm_state *s, const char *p, size_t l)
{
    for (size_t i = 0; i < s->n_stop; i++)
        if (s->stop[i].len == l && (l == 0 || memcmp(s->stop[i].data, p, l) == 0)) return true;
    return false;
}

edgeml_status misc_strnorm_run(em_kctx *c)
{
    const strnorm_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    if (x->dtype != EDGEML_STRING) return em_fail(c, EDGEML_E_RUNTIME, "input must be string");
    if (!(x->rank == 1 || (x->rank == 2 && x->dims[0] == 1)))
        return em_fail(c, EDGEML_E_RUNTIME, "input must have shape [C] or [1, C]");
    size_t n = em_numel(x);
    const em_str *in = x->data;
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++) if (in[i].len > maxlen) maxlen = in[i].len;
    char *tmp = em_scratch(c, 2 * maxlen + 4);
    bool *keep = em_scratch(c, n ? n : 1);
    if (!tmp || !keep) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        keep[i] = true;
        if (s->n_stop) {
            if (s->case_sensitive) {
                keep[i] = !is_stopword(s, in[i].data, in[i].len);
            } else {
                size_t l = case_map(in[i].data, in[i].len, tmp, 0);
                keep[i] = !is_stopword(s, tmp, l);
            }
        }
        kept += keep[i];
    }
    int64_t od[2];
    int orank = x->rank;
    if (orank == 1) od[0] = kept ? (int64_t)kept : 1;
    else { od[0] = 1; od[1] = kept ? (int64_t)kept : 1; }
    if (n == 0) { /* empty input: keep an empty shape of the same rank */
        if (orank == 1) od[0] = 0; else od[1] = 0;
    }
    em_tensor *y = em_out(c, 0, EDGEML_STRING, orank, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    em_str *out = y->data;
    if (kept == 0) {
        if (n) out[0] = em_strdup(c, "", 0);
        return EDGEML_OK;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i]) continue;
        if (s->action == CASE_NONE) {
            out[k] = in[i];
        } else {
            size_t l = case_map(in[i].data, in[i].len, tmp, s->action == CASE_UPPER);
            out[k] = em_strdup(c, tmp, l);
            if (l && !out[k].data) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
        }
        k++;
    }
    return EDGEML_OK;
}

/* ---- StringConcat ------------------------------------------------------ */

edgeml_status misc_strconcat_run(em_kctx *c)
{
    const em_tensor *a = em_in(c, 0), *b = em_in(c, 1);
    if (!a || !b) return em_fail(c, EDGEML_E_RUNTIME, "two inputs are required");
    if (a->dtype != EDGEML_STRING || b->dtype != EDGEML_STRING)
        return em_fail(c, EDGEML_E_RUNTIME, "inputs must be string tensors");
    const em_tensor *ts[2] = {a, b};
    int rank;
    int64_t dims[EM_MAX_RANK];
    if (!em_broadcast_shapes(2, ts, &rank, dims)) {
        char b1[128], b2[128];
        return em_fail(c, EDGEML_E_RUNTIME, "shapes %s and %s cannot be broadcast",
                       em_shape_str(a->rank, a->dims, b1, sizeof b1),
                       em_shape_str(b->rank, b->dims, b2, sizeof b2));
    }
    em_tensor *y = em_out(c, 0, EDGEML_STRING, rank, dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t n = em_numel(y);
    if (n == 0) return EDGEML_OK;
    int64_t sa[EM_MAX_RANK], sb[EM_MAX_RANK], idx[EM_MAX_RANK] = {0};
    em_broadcast_strides(a, rank, dims, sa);
    em_broadcast_strides(b, rank, dims, sb);
    const em_str *pa = a->data, *pb = b->data;
    em_str *out = y->data;
    size_t maxl = 0;
    size_t na = em_numel(a), nb = em_numel(b), mla = 0, mlb = 0;
    for (size_t i = 0; i < na; i++) if (pa[i].len > mla) mla = pa[i].len;
    for (size_t i = 0; i < nb; i++) if (pb[i].len > mlb) mlb = pb[i].len;
    maxl = mla + mlb;
    char *tmp = em_scratch(c, maxl + 1);
    if (!tmp) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    int64_t oa = 0, ob = 0;
    for (size_t i = 0; i < n; i++) {
        const em_str *x1 = &pa[oa], *x2 = &pb[ob];
        if (x1->len) memcpy(tmp, x1->data, x1->len);
        if (x2->len) memcpy(tmp + x1->len, x2->data, x2->len);
        size_t l = x1->len + x2->len;
        out[i] = em_strdup(c, tmp, l);
        if (l && !out[i].data) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
        for (int d = rank - 1; d >= 0; d--) {
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < dims[d]) break;
            oa -= sa[d] * dims[d];
            ob -= sb[d] * dims[d];
            idx[d] = 0;
        }
    }
    return EDGEML_OK;
}

/* ---- StringSplit ------------------------------------------------------- */

typedef struct split_state {
    char *delim;       /* NULL: split on whitespace runs */
    size_t dlen;
    int64_t maxsplit;  /* < 0: unlimited */
} split_state;

void misc_strsplit_free(void *p)
{
    split_state *s = p;
    if (s) free(s->delim);
    free(s);
}

edgeml_status misc_strsplit_prepare(em_node *n, edgeml_error *err)
{
    split_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    const em_attr *a = em_attr_get(n, "delimiter");
    if (a && a->s.len > 0) {
        s->delim = malloc(a->s.len);
        if (!s->delim) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
        memcpy(s->delim, a->s.data, a->s.len);
        s->dlen = a->s.len;
    }
    s->maxsplit = em_attr_int(n, "maxsplit", -1);
    return EDGEML_OK;
}

static bool is_ws(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f' ||
           (ch >= 0x1c && ch <= 0x1f);
}

/* Splits str; calls emit(ctx, k, p, len) for each piece (emit may be NULL).
 * Returns the number of pieces. Semantics of Python's str.split. */
typedef struct split_sink {
    em_kctx *c;
    em_str *out;
    bool fail;
} split_sink;

static void sink_put(split_sink *k, size_t i, const char *p, size_t l)
{
    if (!k) return;
    k->out[i] = em_strdup(k->c, p, l);
    if (l && !k->out[i].data) k->fail = true;
}

static size_t split_one(const split_state *s, const em_str *str, split_sink *k)
{
    const char *p = str->data;
    size_t len = str->len, cnt = 0;
    int64_t splits = 0;
    if (!s->delim) {
        size_t i = 0;
        for (;;) {
            while (i < len && is_ws((unsigned char)p[i])) i++;
            if (i >= len) break;
            if (s->maxsplit >= 0 && splits >= s->maxsplit) {
                /* The remainder as one piece, trailing whitespace kept. */
                sink_put(k, cnt++, p + i, len - i);
                break;
            }
            size_t j = i;
            while (j < len && !is_ws((unsigned char)p[j])) j++;
            sink_put(k, cnt++, p + i, j - i);
            splits++;
            i = j;
        }
        return cnt;
    }
    size_t i = 0;
    for (;;) {
        size_t j = i;
        bool found = false;
        if (s->maxsplit < 0 || splits < s->maxsplit) {
            while (j + s->dlen <= len) {
                if (memcmp(p + j, s->delim, s->dlen) == 0) { found = true; break; }
                j++;
            }
        }
        if (!found) {
            sink_put(k, cnt++, p + i, len - i);
            break;
        }
        sink_put(k, cnt++, p + i, j - i);
        splits++;
        i = j + s->dlen;
    }
    return cnt;
}

edgeml_status misc_strsplit_run(em_kctx *c)
{
    const split_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    if (x->dtype != EDGEML_STRING) return em_fail(c, EDGEML_E_RUNTIME, "input must be string");
    if (x->rank + 1 > EM_MAX_RANK) return em_fail(c, EDGEML_E_RUNTIME, "input rank too large");
    size_t n = em_numel(x);
    const em_str *in = x->data;
    em_tensor *z = em_out(c, 1, EDGEML_INT64, x->rank, x->dims);
    if (!z) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    int64_t *cnts = z->data;
    size_t maxc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = split_one(s, &in[i], NULL);
        cnts[i] = (int64_t)k;
        if (k > maxc) maxc = k;
    }
    int64_t od[EM_MAX_RANK];
    memcpy(od, x->dims, sizeof(int64_t) * (size_t)x->rank);
    od[x->rank] = (int64_t)maxc;
    em_tensor *y = em_out(c, 0, EDGEML_STRING, x->rank + 1, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    em_str *out = y->data;
    for (size_t i = 0; i < n; i++) {
        split_sink k = {c, out + i * maxc, false};
        size_t got = split_one(s, &in[i], &k);
        if (k.fail) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
        for (size_t j = got; j < maxc; j++) out[i * maxc + j] = em_strdup(c, "", 0);
    }
    return EDGEML_OK;
}

/* ---- RegexFullMatch ---------------------------------------------------- */

typedef struct regex_state {
    regex_t re;
    bool compiled;
} regex_state;

void misc_regex_free(void *p)
{
    regex_state *s = p;
    if (s && s->compiled) regfree(&s->re);
    free(s);
}

/* Growable byte buffer. */
typedef struct sbuf { char *p; size_t n, cap; bool oom; } sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 64);
        while (nc < b->n + n + 1) nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) { b->oom = true; return; }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_putc(sbuf *b, char ch) { sb_putn(b, &ch, 1); }

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Parses an escape at p[0] == '\\' giving a literal byte; returns bytes
 * consumed (0 if not a literal escape). */
static size_t lit_escape(const char *p, char *out)
{
    char e = p[1];
    switch (e) {
    case 'n': *out = '\n'; return 2;
    case 't': *out = '\t'; return 2;
    case 'r': *out = '\r'; return 2;
    case 'f': *out = '\f'; return 2;
    case 'v': *out = '\v'; return 2;
    case 'a': *out = '\a'; return 2;
    case 'x': {
        int h1 = hexval(p[2]), h2 = h1 >= 0 ? hexval(p[3]) : -1;
        if (h1 >= 0 && h2 >= 0) { *out = (char)(h1 * 16 + h2); return 4; }
        return 0;
    }
    default:
        if (e && !((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))) {
            *out = e;
            return 2;
        }
        return 0;
    }
}

/* Emits a literal byte outside brackets, escaped when special in ERE. */
static void put_lit(sbuf *b, char ch)
{
    if (strchr(".[]{}()\\*+?^$|", ch) && ch) sb_putc(b, '\\');
    sb_putc(b, ch);
}

/* Translates an RE2 pattern to POSIX ERE (glibc). Returns NULL (with *why)
 * for constructs it cannot express. */
static char *re2_to_ere(const char *pat, int *icase, const char **why)
{
    sbuf b = {0};
    const char *p = pat;
    bool prev_quant = false;
    *icase = 0;
    if (strncmp(p, "(?i)", 4) == 0) { *icase = 1; p += 4; }
    sb_puts(&b, "^(");
    while (*p) {
        char ch = *p;
        if (ch == '\\') {
            char e = p[1], lit;
            size_t used;
            prev_quant = false;
            if (!e) { *why = "trailing backslash"; goto bad; }
            switch (e) {
            case 'd': sb_puts(&b, "[0-9]"); p += 2; continue;
            case 'D': sb_puts(&b, "[^0-9]"); p += 2; continue;
            case 's': sb_puts(&b, "[[:space:]]"); p += 2; continue;
            case 'S': sb_puts(&b, "[^[:space:]]"); p += 2; continue;
            case 'w': sb_puts(&b, "[[:alnum:]_]"); p += 2; continue;
            case 'W': sb_puts(&b, "[^[:alnum:]_]"); p += 2; continue;
            case 'b': sb_puts(&b, "\\b"); p += 2; continue;
            case 'B': sb_puts(&b, "\\B"); p += 2; continue;
            case 'A': sb_puts(&b, "^"); p += 2; continue;
            case 'z': sb_puts(&b, "$"); p += 2; continue;
            default: break;
            }
            if ((used = lit_escape(p, &lit)) != 0) {
                put_lit(&b, lit);
                p += used;
                continue;
            }
            *why = "unsupported escape";
            goto bad;
        }
        if (ch == '[') {
            /* Bracket expression. */
            const char *q = p + 1;
            bool neg = false, rbr = false, dash = false, caret = false;
            sbuf body = {0};
            if (*q == '^') { neg = true; q++; }
            if (*q == ']') { rbr = true; q++; }
            bool first = true;
            while (*q && *q != ']') {
                if (q[0] == '[' && q[1] == ':') {
                    const char *e = strstr(q + 2, ":]");
                    if (!e) { free(body.p); *why = "bad character class"; goto bad; }
                    sb_putn(&body, q, (size_t)(e + 2 - q));
                    q = e + 2;
                } else if (q[0] == '\\') {
                    char lit;
                    size_t used;
                    switch (q[1]) {
                    case 'd': sb_puts(&body, "0-9"); q += 2; break;
                    case 's': sb_puts(&body, "[:space:]"); q += 2; break;
                    case 'w': sb_puts(&body, "[:alnum:]_"); q += 2; break;
                    default:
                        used = lit_escape(q, &lit);
                        if (!used) { free(body.p); *why = "unsupported escape in []"; goto bad; }
                        q += used;
                        if (lit == ']') rbr = true;
                        else if (lit == '-') dash = true;
                        else if (lit == '^') caret = true;
                        else sb_putc(&body, lit);
                        break;
                    }
                } else if (q[0] == '-' && (first || q[1] == ']')) {
                    dash = true;
                    q++;
                } else if (q[0] == '^') {
                    caret = true;
                    q++;
                } else {
                    sb_putc(&body, *q);
                    q++;
                }
                first = false;
            }
            if (*q != ']') { free(body.p); *why = "unterminated [ ]"; goto bad; }
            if (body.oom) { free(body.p); goto oom; }
            if (!neg && !rbr && body.n == 0 && !dash && caret) {
                sb_puts(&b, "\\^");
            } else {
                sb_putc(&b, '[');
                if (neg) sb_putc(&b, '^');
                if (rbr) sb_putc(&b, ']');
                if (!neg && !rbr && body.n == 0 && caret) {
                    /* dash is set: "[-^]" */
                    sb_puts(&b, "-^");
                } else {
                    if (body.n) sb_putn(&b, body.p, body.n);
                    if (caret) sb_putc(&b, '^');
                    if (dash) sb_putc(&b, '-');
                }
                sb_putc(&b, ']');
            }
            free(body.p);
            p = q + 1;
            prev_quant = false;
            continue;
        }
        if (ch == '(' && p[1] == '?') {
            if (p[2] == ':') { sb_putc(&b, '('); p += 3; prev_quant = false; continue; }
            *why = "unsupported group flags";
            goto bad;
        }
        if (ch == '?' && prev_quant) { /* lazy quantifier: same full-match set */
            p++;
            prev_quant = false;
            continue;
        }
        if (ch == '*' || ch == '+' || ch == '?') {
            sb_putc(&b, ch);
            p++;
            prev_quant = true;
            continue;
        }
        if (ch == '{') {
            const char *e = strchr(p, '}');
            bool rep = e != NULL;
            for (const char *t = p + 1; rep && t < e; t++)
                if (!((*t >= '0' && *t <= '9') || *t == ',')) rep = false;
            if (rep && e > p + 1) {
                sb_putn(&b, p, (size_t)(e + 1 - p));
                p = e + 1;
                prev_quant = true;
            } else {
                sb_puts(&b, "\\{");
                p++;
                prev_quant = false;
            }
            continue;
        }
        sb_putc(&b, ch);
        p++;
        prev_quant = false;
    }
    sb_puts(&b, ")$");
    if (b.oom) goto oom;
    return b.p;
oom:
    *why = "out of memory";
bad:
    free(b.p);
    return NULL;
}

edgeml_status misc_regex_prepare(em_node *n, edgeml_error *err)
{
    regex_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    const em_attr *a = em_attr_get(n, "pattern");
    if (!a) return em_node_fail(n, err, EDGEML_E_MODEL, "attribute 'pattern' is required");
    const char *pat = em_attr_str(n, "pattern", "");
    if (strlen(pat) != a->s.len)
        return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "pattern contains a NUL byte");
    int icase;
    const char *why = "";
    char *ere = re2_to_ere(pat, &icase, &why);
    if (!ere)
        return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "pattern '%s' not supported: %s",
                            pat, why);
    int rc = regcomp(&s->re, ere, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
    free(ere);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &s->re, msg, sizeof msg);
        return em_node_fail(n, err, EDGEML_E_MODEL, "invalid pattern '%s': %s", pat, msg);
    }
    s->compiled = true;
    return EDGEML_OK;
}

edgeml_status misc_regex_run(em_kctx *c)
{
    const regex_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    if (x->dtype != EDGEML_STRING) return em_fail(c, EDGEML_E_RUNTIME, "input must be string");
    em_tensor *y = em_out(c, 0, EDGEML_BOOL, x->rank, x->dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t n = em_numel(x);
    const em_str *in = x->data;
    uint8_t *out = y->data;
    for (size_t i = 0; i < n; i++) {
        regmatch_t m[1];
        m[0].rm_so = 0;
        m[0].rm_eo = (regoff_t)in[i].len;
        const char *str = in[i].data ? in[i].data : "";
        int rc = regexec(&s->re, str, 1, m, REG_STARTEND);
        out[i] = rc == 0;
    }
    return EDGEML_OK;
}
