/* Einsum: general equation (explicit or implicit output, ellipsis, repeated
 * labels / diagonals, any number of inputs). Reference loop over the full
 * label space with incrementally updated offsets. */
#include "nn.h"

#define RET_OOM(c) return ((c)->err->code ? (c)->err->code : EDGEML_E_NOMEM)
#define NL 52                      /* letters a-z A-Z */
#define MAXL (NL + EM_MAX_RANK)    /* + ellipsis labels */
#define MAXIN 64

static int letter_id(char ch)
{
    if (ch >= 'a' && ch <= 'z') return ch - 'a';
    if (ch >= 'A' && ch <= 'Z') return 26 + (ch - 'A');
    return -1;
}

NN_PREP(einsum)
{
    const char *eq = em_attr_str(n, "equation", NULL);
    if (!eq) return em_node_fail(n, err, EDGEML_E_MODEL, "attribute equation is required");
    for (const char *p = eq; *p; p++)
        if (letter_id(*p) < 0 && !strchr(" ,.->", *p))
            return em_node_fail(n, err, EDGEML_E_MODEL, "invalid character '%c' in equation", *p);
    return EDGEML_OK;
}

/* Parses one term (letters and at most one "...") of length len into labels;
 * the ellipsis expands to `ell` labels NL+E-ell .. NL+E-1. Returns count or -1. */
static int parse_term(const char *t, size_t len, int rank, int *labels, int *ell_out, int E)
{
    int nlet = 0, ell = -1;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.') {
            if (ell >= 0 || i + 2 >= len || t[i + 1] != '.' || t[i + 2] != '.') return -1;
            ell = nlet;
            i += 2;
        } else if (letter_id(t[i]) >= 0) nlet++;
        else return -1;
    }
    int ne = 0;
    if (ell >= 0) {
        if (rank < 0) ne = E; /* output term */
        else ne = rank - nlet;
        if (ne < 0) return -1;
    } else if (rank >= 0 && rank != nlet) return -1;
    if (nlet + ne > EM_MAX_RANK) return -1;
    *ell_out = ne;
    int k = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.') {
            for (int j = 0; j < ne; j++) labels[k++] = NL + (E - ne) + j;
            i += 2;
        } else labels[k++] = letter_id(t[i]);
    }
    return k;
}

NN_OP(einsum)
{
    const char *eq0 = em_attr_str(c->node, "equation", "");
    int nin = em_n_in(c);
    EM_CHECK(c, nin >= 1 && nin <= MAXIN, "Einsum needs 1..%d inputs", MAXIN);
    /* strip spaces */
    size_t L = strlen(eq0);
    char *eq = em_scratch(c, L + 1);
    if (!eq) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < L; i++) if (eq0[i] != ' ') eq[k++] = eq0[i];
    eq[k] = 0;
    const char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
    const em_tensor *in[MAXIN];
    int dt = 0;
    for (int i = 0; i < nin; i++) {
        in[i] = em_in(c, i);
        EM_CHECK(c, in[i], "missing input %d", i);
        if (i == 0) dt = in[i]->dtype;
        EM_CHECK(c, in[i]->dtype == dt, "input %d dtype differs", i);
    }
    EM_CHECK(c, nn_is_fp(dt) || em_dtype_is_int(dt), "unsupported dtype %s", em_dtype_name(dt));
    /* split terms */
    const char *ts[MAXIN];
    size_t tl[MAXIN];
    int nt = 0;
    const char *p = eq;
    while (1) {
        const char *e = memchr(p, ',', (size_t)(eq + lhs_len - p));
        EM_CHECK(c, nt < MAXIN, "too many terms");
        ts[nt] = p;
        tl[nt] = e ? (size_t)(e - p) : (size_t)(eq + lhs_len - p);
        nt++;
        if (!e) break;
        p = e + 1;
    }
    EM_CHECK(c, nt == nin, "equation has %d input terms but the node has %d inputs", nt, nin);
    int labels[MAXIN][EM_MAX_RANK + NL];
    int nlab[MAXIN];
    /* first pass: max ellipsis rank */
    int E = 0;
    for (int i = 0; i < nin; i++) {
        int ell, tmp[EM_MAX_RANK + NL];
        int r = parse_term(ts[i], tl[i], in[i]->rank, tmp, &ell, EM_MAX_RANK);
        EM_CHECK(c, r >= 0, "term %d does not match input rank %d", i, in[i]->rank);
        if (ell > E) E = ell;
    }
    int64_t size[MAXL];
    for (int l = 0; l < MAXL; l++) size[l] = -1;
    int count[MAXL] = {0};
    for (int i = 0; i < nin; i++) {
        int ell;
        nlab[i] = parse_term(ts[i], tl[i], in[i]->rank, labels[i], &ell, E);
        for (int d = 0; d < nlab[i]; d++) {
            int l = labels[i][d];
            int64_t dim = in[i]->dims[d];
            if (size[l] < 0 || size[l] == 1) size[l] = dim;
            else EM_CHECK(c, dim == size[l] || dim == 1, "label dimension mismatch (%lld vs %lld)",
                          (long long)dim, (long long)size[l]);
            count[l]++;
        }
    }
    int out[MAXL], nout = 0;
    if (arrow) {
        int ell;
        nout = parse_term(arrow + 2, strlen(arrow + 2), -1, out, &ell, E);
        EM_CHECK(c, nout >= 0, "invalid output term");
        bool seen[MAXL] = {false};
        for (int i = 0; i < nout; i++) {
            EM_CHECK(c, size[out[i]] >= 0, "output label does not appear in the inputs");
            EM_CHECK(c, !seen[out[i]], "output label repeated");
            seen[out[i]] = true;
        }
        EM_CHECK(c, nout <= EM_MAX_RANK, "output rank too large");
    } else {
        for (int j = 0; j < E; j++) out[nout++] = NL + j;
        /* letters appearing exactly once, in ASCII order (upper case first) */
        for (int l = 26; l < 52; l++) if (count[l] == 1) out[nout++] = l;
        for (int l = 0; l < 26; l++) if (count[l] == 1) out[nout++] = l;
        EM_CHECK(c, nout <= EM_MAX_RANK, "output rank too large");
    }
    /* loop order: output labels, then summed labels */
    int order[MAXL], no = 0;
    bool isout[MAXL] = {false};
    for (int i = 0; i < nout; i++) { order[no++] = out[i]; isout[out[i]] = true; }
    for (int l = 0; l < MAXL; l++) if (size[l] >= 0 && !isout[l]) order[no++] = l;
    int64_t odims[EM_MAX_RANK];
    for (int i = 0; i < nout; i++) odims[i] = size[out[i]];
    em_tensor *Y = em_out(c, 0, dt, nout, odims);
    if (!Y) RET_OOM(c);
    size_t ny = em_numel(Y);
    /* per input, per loop label: element stride (sum over repeated labels; 0 when broadcast) */
    int64_t (*st)[MAXL] = em_scratch(c, sizeof(int64_t) * MAXL * (size_t)nin);
    if (!st) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    for (int i = 0; i < nin; i++) {
        int64_t ts2[EM_MAX_RANK];
        em_strides(in[i]->rank, in[i]->dims, ts2);
        for (int j = 0; j < no; j++) {
            st[i][j] = 0;
            for (int d = 0; d < nlab[i]; d++)
                if (labels[i][d] == order[j] && in[i]->dims[d] != 1) st[i][j] += ts2[d];
        }
    }
    size_t total = 1;
    for (int j = 0; j < no; j++) {
        if (__builtin_mul_overflow(total, (size_t)size[order[j]], &total))
            return em_fail(c, EDGEML_E_NOMEM, "iteration space overflows");
    }
    size_t per_out = 1;
    for (int j = nout; j < no; j++) per_out *= (size_t)size[order[j]];
    bool fp = nn_is_fp(dt);
    double *accd = NULL;
    uint64_t *acci = NULL;
    if (fp) accd = em_scratch(c, (ny ? ny : 1) * sizeof(double));
    else acci = em_scratch(c, (ny ? ny : 1) * sizeof(uint64_t));
    if (fp ? !accd : !acci) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    if (fp) for (size_t i = 0; i < ny; i++) accd[i] = 0;
    else memset(acci, 0, ny * sizeof(uint64_t));
    const double *vd[MAXIN];
    for (int i = 0; i < nin && fp; i++) { vd[i] = nn_as_f64(c, in[i]); if (!vd[i]) RET_OOM(c); }
    if (total) {
        int64_t idx[MAXL] = {0}, off[MAXIN] = {0};
        for (size_t it = 0; it < total; it++) {
            size_t o = it / (per_out ? per_out : 1);
            if (fp) {
                double prod = 1;
                for (int i = 0; i < nin; i++) prod *= vd[i][off[i]];
                accd[o] += prod;
            } else {
                uint64_t prod = 1;
                for (int i = 0; i < nin; i++) prod *= (uint64_t)em_get_i64(in[i]->data, dt, (size_t)off[i]);
                acci[o] += prod;
            }
            for (int j = no - 1; j >= 0; j--) {
                if (++idx[j] < size[order[j]]) {
                    for (int i = 0; i < nin; i++) off[i] += st[i][j];
                    break;
                }
                for (int i = 0; i < nin; i++) off[i] -= st[i][j] * (size[order[j]] - 1);
                idx[j] = 0;
            }
        }
    }
    for (size_t i = 0; i < ny; i++) {
        if (fp) em_set_f64(Y->data, dt, i, accd[i]);
        else em_set_i64(Y->data, dt, i, (int64_t)acci[i]);
    }
    return EDGEML_OK;
}
