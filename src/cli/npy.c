/* .npy reader/writer: see npy.h for the accepted subset. */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- dtypes -------------------------------------------------------------- */

typedef struct {
    char kind;     /* 'b', 'i', 'u', 'f' */
    int size;
    edgeml_dtype dt;
} npy_type;

static const npy_type k_types[] = {
    {'b', 1, EDGEML_BOOL},   {'i', 1, EDGEML_INT8},    {'u', 1, EDGEML_UINT8},
    {'i', 2, EDGEML_INT16},  {'u', 2, EDGEML_UINT16},  {'i', 4, EDGEML_INT32},
    {'u', 4, EDGEML_UINT32}, {'i', 8, EDGEML_INT64},   {'u', 8, EDGEML_UINT64},
    {'f', 2, EDGEML_FLOAT16}, {'f', 4, EDGEML_FLOAT},  {'f', 8, EDGEML_DOUBLE},
};

static size_t dt_size(edgeml_dtype dt)
{
    if (dt == EDGEML_BFLOAT16)
        return 2;
    if ((dt >= EDGEML_FLOAT8E4M3FN && dt <= EDGEML_FLOAT8E5M2FNUZ) || dt == EDGEML_INT4 || dt == EDGEML_UINT4)
        return 1; /* one element per byte, as edgeml holds them */
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
        if (k_types[i].dt == dt)
            return (size_t)k_types[i].size;
    return 0;
}

const char *npy_descr(edgeml_dtype dt)
{
    switch (dt) {
    case EDGEML_BOOL: return "|b1";
    case EDGEML_INT8: return "|i1";
    case EDGEML_UINT8: return "|u1";
    case EDGEML_INT16: return "<i2";
    case EDGEML_UINT16: return "<u2";
    case EDGEML_BFLOAT16: return "<u2";
    case EDGEML_INT32: return "<i4";
    case EDGEML_UINT32: return "<u4";
    case EDGEML_INT64: return "<i8";
    case EDGEML_UINT64: return "<u8";
    case EDGEML_FLOAT16: return "<f2";
    case EDGEML_FLOAT: return "<f4";
    case EDGEML_DOUBLE: return "<f8";
    /* no numpy dtype: float8 as its bits, 4-bit integers unpacked (one per byte) */
    case EDGEML_FLOAT8E4M3FN: case EDGEML_FLOAT8E4M3FNUZ: case EDGEML_FLOAT8E5M2:
    case EDGEML_FLOAT8E5M2FNUZ: return "|u1";
    case EDGEML_INT4: return "|i1";
    case EDGEML_UINT4: return "|u1";
    default: return NULL;
    }
}

/* Maps a descr string (bytes s[0, n)) to a dtype, or explains why not. */
static int parse_descr(const char *s, size_t n, edgeml_dtype *dt, char *why, size_t whylen)
{
    char shown[40];
    size_t k = n < sizeof shown - 1 ? n : sizeof shown - 1;
    memcpy(shown, s, k);
    shown[k] = 0;
    if (n < 2)
        return fail(why, whylen, "unsupported dtype '%s'", shown);
    char order = s[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return fail(why, whylen, "dtype '%s' has no byte order character", shown);
    char kind = s[1];
    const char *num = s + 2;
    size_t nn = n - 2;
    int size = 0;
    if (nn >= 1 && nn <= 2) {
        for (size_t i = 0; i < nn; i++) {
            if (num[i] < '0' || num[i] > '9')
                return fail(why, whylen, "unsupported dtype '%s'", shown);
            size = size * 10 + (num[i] - '0');
        }
    } else if (!(nn == 0 && kind == 'O')) {
        if (kind == 'U' || kind == 'S' || kind == 'a')
            return fail(why, whylen, "string dtype '%s' is not supported", shown);
        return fail(why, whylen, "unsupported dtype '%s'", shown);
    }
    switch (kind) {
    case 'O': return fail(why, whylen, "object dtype '%s' is not supported", shown);
    case 'U': case 'S': case 'a':
        return fail(why, whylen, "string dtype '%s' is not supported", shown);
    case 'c': return fail(why, whylen, "complex dtype '%s' is not supported", shown);
    case 'V': return fail(why, whylen, "void dtype '%s' is not supported", shown);
    case 'M': case 'm':
        return fail(why, whylen, "datetime dtype '%s' is not supported", shown);
    default: break;
    }
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++) {
        if (k_types[i].kind == kind && k_types[i].size == size) {
            if (size > 1) {
                if (order == '>')
                    return fail(why, whylen, "big-endian dtype '%s' is not supported", shown);
                if (order != '<')
                    return fail(why, whylen, "dtype '%s' must be little-endian ('<')", shown);
            }
            *dt = k_types[i].dt;
            return 0;
        }
    }
    return fail(why, whylen, "unsupported dtype '%s'", shown);
}

/* ---- strict header parser ------------------------------------------------ */

typedef struct {
    const char *p, *end;
    char *why;
    size_t whylen;
} lexer;

static void skip_ws(lexer *L)
{
    while (L->p < L->end && (*L->p == ' ' || *L->p == '\t' || *L->p == '\n' || *L->p == '\r'))
        L->p++;
}

static int expect(lexer *L, char c, const char *where)
{
    skip_ws(L);
    if (L->p >= L->end)
        return fail(L->why, L->whylen, "malformed header: expected '%c' %s, got end of header", c,
                    where);
    if (*L->p != c) {
        unsigned char g = (unsigned char)*L->p;
        if (g >= 0x20 && g < 0x7f)
            return fail(L->why, L->whylen, "malformed header: expected '%c' %s, got '%c'", c,
                        where, g);
        return fail(L->why, L->whylen, "malformed header: expected '%c' %s, got byte 0x%02x", c,
                    where, g);
    }
    L->p++;
    return 0;
}

/* A Python string literal without prefix or escapes. */
static int lex_string(lexer *L, const char **s, size_t *n)
{
    skip_ws(L);
    if (L->p >= L->end || (*L->p != '\'' && *L->p != '"'))
        return fail(L->why, L->whylen, "malformed header: expected a quoted string");
    char q = *L->p++;
    const char *start = L->p;
    while (L->p < L->end && *L->p != q) {
        unsigned char c = (unsigned char)*L->p;
        if (c == '\\')
            return fail(L->why, L->whylen, "malformed header: escapes in strings are not supported");
        if (c < 0x20 || c >= 0x7f)
            return fail(L->why, L->whylen, "malformed header: invalid byte 0x%02x in a string", c);
        L->p++;
    }
    if (L->p >= L->end)
        return fail(L->why, L->whylen, "malformed header: unterminated string");
    *s = start;
    *n = (size_t)(L->p - start);
    L->p++;
    return 0;
}

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int lex_bool(lexer *L, int *v)
{
    skip_ws(L);
    size_t left = (size_t)(L->end - L->p);
    if (left >= 4 && memcmp(L->p, "True", 4) == 0 && (left == 4 || !is_ident_char(L->p[4]))) {
        L->p += 4;
        *v = 1;
        return 0;
    }
    if (left >= 5 && memcmp(L->p, "False", 5) == 0 && (left == 5 || !is_ident_char(L->p[5]))) {
        L->p += 5;
        *v = 0;
        return 0;
    }
    return fail(L->why, L->whylen, "malformed header: 'fortran_order' must be True or False");
}

/* A non-negative decimal integer literal (Python 3 rules: no leading zeros
 * except "0"; a trailing 'L' as written by Python 2 numpy is accepted). */
static int lex_dim(lexer *L, int64_t *v)
{
    skip_ws(L);
    if (L->p < L->end && *L->p == '-')
        return fail(L->why, L->whylen, "malformed header: negative dimension in 'shape'");
    if (L->p >= L->end || *L->p < '0' || *L->p > '9')
        return fail(L->why, L->whylen, "malformed header: expected an integer in 'shape'");
    const char *start = L->p;
    uint64_t x = 0;
    while (L->p < L->end && *L->p >= '0' && *L->p <= '9') {
        unsigned d = (unsigned)(*L->p - '0');
        if (x > ((uint64_t)INT64_MAX - d) / 10)
            return fail(L->why, L->whylen, "malformed header: dimension too large in 'shape'");
        x = x * 10 + d;
        L->p++;
    }
    if (L->p - start > 1 && *start == '0' && x != 0)
        return fail(L->why, L->whylen, "malformed header: integer with leading zeros in 'shape'");
    if (L->p < L->end && *L->p == 'L')
        L->p++;
    if (L->p < L->end && is_ident_char(*L->p))
        return fail(L->why, L->whylen, "malformed header: invalid integer in 'shape'");
    *v = (int64_t)x;
    return 0;
}

static int lex_shape(lexer *L, npy_info *out)
{
    if (expect(L, '(', "to open 'shape'"))
        return -1;
    out->rank = 0;
    skip_ws(L);
    if (L->p < L->end && *L->p == ')') {
        L->p++;
        return 0;
    }
    int saw_comma = 0;
    for (;;) {
        int64_t d = 0;
        if (out->rank >= NPY_MAX_RANK)
            return fail(L->why, L->whylen, "shape has more than %d dimensions", NPY_MAX_RANK);
        if (lex_dim(L, &d))
            return -1;
        out->dims[out->rank++] = d;
        skip_ws(L);
        if (L->p >= L->end)
            return fail(L->why, L->whylen, "malformed header: unterminated 'shape'");
        if (*L->p == ')') {
            L->p++;
            break;
        }
        if (*L->p != ',')
            return fail(L->why, L->whylen, "malformed header: expected ',' or ')' in 'shape'");
        L->p++;
        saw_comma = 1;
        skip_ws(L);
        if (L->p < L->end && *L->p == ')') {
            L->p++;
            break;
        }
    }
    /* "(3)" is an int in Python, not a tuple */
    if (out->rank == 1 && !saw_comma)
        return fail(L->why, L->whylen, "malformed header: 'shape' is not a tuple");
    return 0;
}

static int parse_header(const char *h, size_t n, npy_info *out, char *why, size_t whylen)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t' && c != '\r'))
            return fail(why, whylen, "malformed header: invalid byte 0x%02x at header offset %zu",
                        c, i);
    }
    if (n == 0 || h[n - 1] != '\n')
        return fail(why, whylen, "malformed header: not terminated by a newline");
    lexer L = {h, h + n, why, whylen};
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    edgeml_dtype dt = EDGEML_UNDEFINED;
    if (expect(&L, '{', "at the start of the header"))
        return -1;
    for (;;) {
        skip_ws(&L);
        if (L.p < L.end && *L.p == '}') {
            L.p++;
            break;
        }
        const char *key;
        size_t kn;
        if (lex_string(&L, &key, &kn))
            return -1;
        if (expect(&L, ':', "after a key"))
            return -1;
        skip_ws(&L);
        if (kn == 5 && memcmp(key, "descr", 5) == 0) {
            if (have_descr++)
                return fail(why, whylen, "malformed header: duplicate key 'descr'");
            if (L.p < L.end && (*L.p == '[' || *L.p == '{'))
                return fail(why, whylen, "structured dtypes are not supported");
            const char *d;
            size_t dn;
            if (lex_string(&L, &d, &dn))
                return -1;
            if (parse_descr(d, dn, &dt, why, whylen))
                return -1;
        } else if (kn == 13 && memcmp(key, "fortran_order", 13) == 0) {
            if (have_fortran++)
                return fail(why, whylen, "malformed header: duplicate key 'fortran_order'");
            if (lex_bool(&L, &fortran))
                return -1;
        } else if (kn == 5 && memcmp(key, "shape", 5) == 0) {
            if (have_shape++)
                return fail(why, whylen, "malformed header: duplicate key 'shape'");
            if (lex_shape(&L, out))
                return -1;
        } else {
            char shown[40];
            size_t k = kn < sizeof shown - 1 ? kn : sizeof shown - 1;
            memcpy(shown, key, k);
            shown[k] = 0;
            return fail(why, whylen, "malformed header: unexpected key '%s'", shown);
        }
        skip_ws(&L);
        if (L.p < L.end && *L.p == ',') {
            L.p++;
            continue;
        }
        if (expect(&L, '}', "to close the header dict"))
            return -1;
        break;
    }
    skip_ws(&L);
    if (L.p != L.end)
        return fail(why, whylen, "malformed header: unexpected text after the dict");
    if (!have_descr)
        return fail(why, whylen, "malformed header: missing key 'descr'");
    if (!have_fortran)
        return fail(why, whylen, "malformed header: missing key 'fortran_order'");
    if (!have_shape)
        return fail(why, whylen, "malformed header: missing key 'shape'");
    if (fortran)
        return fail(why, whylen, "fortran_order True (column-major) arrays are not supported");
    out->dtype = dt;
    return 0;
}

int npy_parse(const void *buf, size_t len, npy_info *out, char *why, size_t whylen)
{
    const unsigned char *b = buf;
    memset(out, 0, sizeof *out);
    if (len < 8 || memcmp(b, "\x93NUMPY", 6) != 0)
        return fail(why, whylen, "not a .npy file (bad magic)");
    int major = b[6], minor = b[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return fail(why, whylen, "unsupported .npy format version %d.%d", major, minor);
    size_t hlen, pre;
    if (major == 1) {
        if (len < 10)
            return fail(why, whylen, "truncated header");
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        pre = 10;
    } else {
        if (len < 12)
            return fail(why, whylen, "truncated header");
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        pre = 12;
    }
    if (hlen > NPY_MAX_HEADER)
        return fail(why, whylen, "header length %zu exceeds the limit of %d bytes", hlen,
                    NPY_MAX_HEADER);
    if (hlen > len - pre)
        return fail(why, whylen, "truncated header: %zu bytes declared, %zu present", hlen,
                    len - pre);
    if (parse_header((const char *)b + pre, hlen, out, why, whylen))
        return -1;
    size_t numel = 1;
    for (int i = 0; i < out->rank; i++) {
        uint64_t d = (uint64_t)out->dims[i];
        if (d != 0 && numel > SIZE_MAX / d) {
            /* an empty dim later still makes it empty */
            int empty = 0;
            for (int j = i + 1; j < out->rank; j++)
                if (out->dims[j] == 0)
                    empty = 1;
            if (!empty)
                return fail(why, whylen, "shape is too large (element count overflows)");
            numel = 0;
            break;
        }
        numel *= (size_t)d;
    }
    size_t es = dt_size(out->dtype);
    if (numel > SIZE_MAX / es)
        return fail(why, whylen, "shape is too large (byte size overflows)");
    size_t nbytes = numel * es;
    size_t have = len - pre - hlen;
    if (have < nbytes)
        return fail(why, whylen, "truncated data: %zu bytes expected, %zu present", nbytes, have);
    if (have > nbytes)
        return fail(why, whylen, "trailing garbage: %zu bytes after the data", have - nbytes);
    out->version = major;
    out->numel = numel;
    out->nbytes = nbytes;
    out->data_offset = pre + hlen;
    if (out->dtype == EDGEML_BOOL) {
        const unsigned char *d = b + out->data_offset;
        for (size_t i = 0; i < numel; i++)
            if (d[i] > 1)
                return fail(why, whylen, "bool element %zu has byte value %u (must be 0 or 1)", i,
                            d[i]);
    }
    return 0;
}

/* ---- file reading ---------------------------------------------------------- */

int npy_load_file(const char *path, npy_info *out, void **bufp, char *why, size_t whylen)
{
    *bufp = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(why, whylen, "%s", strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return fail(why, whylen, "%s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return fail(why, whylen, "not a regular file");
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX - 64) {
        fclose(f);
        return fail(why, whylen, "file too large");
    }
    size_t len = (size_t)st.st_size;
    /* The data follows a header whose length is usually a multiple of 64:
     * allocate so that data_offset lands 64-aligned in the common case; the
     * CLI copies misaligned data anyway. */
    void *buf = NULL;
    if (posix_memalign(&buf, 64, len ? len : 1) != 0) {
        fclose(f);
        return fail(why, whylen, "out of memory reading %zu bytes", len);
    }
    size_t got = len ? fread(buf, 1, len, f) : 0;
    int rerr = ferror(f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (rerr || got != len || extra) {
        free(buf);
        return fail(why, whylen, rerr ? "read error" : "file changed while reading");
    }
    if (npy_parse(buf, len, out, why, whylen)) {
        free(buf);
        return -1;
    }
    *bufp = buf;
    return 0;
}

/* ---- writing ----------------------------------------------------------------- */

size_t npy_format_header(char *buf, size_t cap, int version, edgeml_dtype dt, int rank,
                         const int64_t *dims)
{
    const char *descr = npy_descr(dt);
    if (!descr || rank < 0 || rank > NPY_MAX_RANK || version < 0 || version > 3)
        return 0;
    /* the dict: at most ~ 60 + 22 per dim bytes */
    char dict[128 + 24 * NPY_MAX_RANK];
    size_t n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                descr);
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return 0;
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%lld", i ? ", " : "",
                              (long long)dims[i]);
    }
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", rank == 1 ? "," : "");
    if (version == 0)
        version = (10 + n + 1 + 63) / 64 * 64 - 10 <= 65535 ? 1 : 2;
    size_t pre = version == 1 ? 10 : 12;
    size_t total = (pre + n + 1 + 63) / 64 * 64;
    size_t hlen = total - pre;
    if (version == 1 && hlen > 65535)
        return 0;
    if (total > cap)
        return 0;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (char)version;
    buf[7] = 0;
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)((hlen >> 8) & 0xff);
    if (version != 1) {
        buf[10] = (char)((hlen >> 16) & 0xff);
        buf[11] = (char)((hlen >> 24) & 0xff);
    }
    memcpy(buf + pre, dict, n);
    memset(buf + pre + n, ' ', total - pre - n - 1);
    buf[total - 1] = '\n';
    return total;
}

int npy_write(FILE *f, int version, edgeml_dtype dt, int rank, const int64_t *dims,
              const void *data, size_t nbytes, char *why, size_t whylen)
{
    if (!npy_descr(dt))
        return fail(why, whylen, "dtype %d cannot be stored in a .npy file", (int)dt);
    if (rank < 0 || rank > NPY_MAX_RANK)
        return fail(why, whylen, "rank %d is not supported", rank);
    size_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return fail(why, whylen, "negative dimension");
        if (dims[i] != 0 && numel > SIZE_MAX / (uint64_t)dims[i])
            return fail(why, whylen, "shape too large");
        numel *= (size_t)dims[i];
    }
    size_t es = dt_size(dt);
    if (numel > SIZE_MAX / es || numel * es != nbytes)
        return fail(why, whylen, "data size %zu does not match the shape", nbytes);
    char hdr[256 + 24 * NPY_MAX_RANK];
    size_t hn = npy_format_header(hdr, sizeof hdr, version, dt, rank, dims);
    if (!hn)
        return fail(why, whylen, "cannot format the header");
    if (fwrite(hdr, 1, hn, f) != hn || (nbytes && fwrite(data, 1, nbytes, f) != nbytes))
        return fail(why, whylen, "write failed: %s", strerror(errno));
    return 0;
}
