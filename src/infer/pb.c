/* A zero-copy decoder for the parts of onnx.proto edgeml needs.
 *
 * Every length, count and offset read from the buffer is checked against what
 * remains before use. Weights (raw_data) are referenced in place when aligned;
 * typed repeated fields are decoded into the arena. Messages with repeated
 * fields are read twice: once to count, once to fill. */
#include "load.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PB_MAX_DEPTH 48

typedef struct pb {
    const uint8_t *p, *end;
    bool err; /* set when a field was malformed */
} pb;

typedef struct pb_field {
    uint32_t num;
    int wt;
    uint64_t v;          /* varint / fixed value */
    const uint8_t *s;    /* length-delimited payload */
    size_t n;
} pb_field;

edgeml_status em_set_error(edgeml_error *err, edgeml_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

#define BAD(c, ...) em_set_error((c)->err, EDGEML_E_MODEL, __VA_ARGS__)

static bool rd_varint(pb *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return false;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) { *out = v; return true; }
    }
    return false;
}

/* Reads the next field; false at the end or on malformed input (r->err set). */
static bool next_field(pb *r, pb_field *f)
{
    if (r->err || r->p >= r->end) return false;
    uint64_t key;
    if (!rd_varint(r, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) goto fail;
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    switch (f->wt) {
    case 0:
        if (!rd_varint(r, &f->v)) goto fail;
        return true;
    case 1:
        if (r->end - r->p < 8) goto fail;
        memcpy(&f->v, r->p, 8);
        r->p += 8;
        return true;
    case 5: {
        uint32_t x;
        if (r->end - r->p < 4) goto fail;
        memcpy(&x, r->p, 4);
        f->v = x;
        r->p += 4;
        return true;
    }
    case 2: {
        uint64_t n;
        if (!rd_varint(r, &n) || n > (uint64_t)(r->end - r->p)) goto fail;
        f->s = r->p;
        f->n = (size_t)n;
        r->p += n;
        return true;
    }
    default:
        goto fail;
    }
fail:
    r->err = true;
    return false;
}

#define FOR_FIELDS(r, f) for (pb_field f = { 0, 0, 0, NULL, 0 }; next_field(&(r), &f);)

static char *dupstr(em_pb_ctx *c, const pb_field *f)
{
    return em_arena_strndup(c->arena, (const char *)f->s, f->n);
}

/* Number of elements in a repeated scalar field occurrence (packed or not). */
static bool count_packed(const pb_field *f, int elem_wt, size_t *n)
{
    if (f->wt != 2) { *n = 1; return f->wt == elem_wt; }
    if (elem_wt == 5) { if (f->n % 4) return false; *n = f->n / 4; return true; }
    if (elem_wt == 1) { if (f->n % 8) return false; *n = f->n / 8; return true; }
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (!(f->s[i] & 0x80)) k++;
    if (f->n && (f->s[f->n - 1] & 0x80)) return false;
    *n = k;
    return true;
}

/* Appends the elements of one occurrence as uint64 (varint), uint32 bits
 * (fixed32) or uint64 bits (fixed64) through a callback-free switch. */
static bool unpack(const pb_field *f, int elem_wt, uint64_t *dst, size_t *pos, size_t cap)
{
    if (f->wt != 2) {
        if (*pos >= cap) return false;
        dst[(*pos)++] = f->v;
        return true;
    }
    pb r = { f->s, f->s + f->n, false };
    while (r.p < r.end) {
        uint64_t v;
        if (*pos >= cap) return false;
        if (elem_wt == 0) {
            if (!rd_varint(&r, &v)) return false;
        } else if (elem_wt == 5) {
            uint32_t x;
            memcpy(&x, r.p, 4);
            r.p += 4;
            v = x;
        } else {
            memcpy(&v, r.p, 8);
            r.p += 8;
        }
        dst[(*pos)++] = v;
    }
    return true;
}

/* ---- TypeProto --------------------------------------------------------- */

static edgeml_status parse_shape(em_pb_ctx *c, const pb_field *sf, em_vinfo *vi)
{
    pb r = { sf->s, sf->s + sf->n, false };
    size_t n = 0;
    FOR_FIELDS(r, f) {
        if (f.num == 1 && f.wt == 2) n++;
    }
    if (r.err) return BAD(c, "malformed TensorShapeProto");
    if (n > EM_MAX_RANK) return BAD(c, "shape of '%s' has rank %zu (edgeml allows %d)",
                                    vi->name ? vi->name : "?", n, EM_MAX_RANK);
    vi->rank = (int)n;
    vi->dims = em_arena_calloc(c->arena, n + 1, sizeof *vi->dims);
    vi->dim_names = em_arena_calloc(c->arena, n + 1, sizeof *vi->dim_names);
    if (!vi->dims || !vi->dim_names) return EDGEML_E_NOMEM;
    r.p = sf->s;
    size_t i = 0;
    FOR_FIELDS(r, f) {
        if (f.num != 1 || f.wt != 2) continue;
        pb d = { f.s, f.s + f.n, false };
        vi->dims[i] = -1;
        FOR_FIELDS(d, g) {
            if (g.num == 1 && g.wt == 0) vi->dims[i] = (int64_t)g.v;
            else if (g.num == 2 && g.wt == 2) vi->dim_names[i] = dupstr(c, &g);
        }
        if (d.err) return BAD(c, "malformed TensorShapeProto.Dimension");
        if (vi->dims[i] < -1) vi->dims[i] = -1;
        i++;
    }
    return EDGEML_OK;
}

static edgeml_status parse_type(em_pb_ctx *c, const uint8_t *s, size_t n, em_vinfo *vi, int depth)
{
    if (depth > 16) return BAD(c, "TypeProto nested too deeply");
    pb r = { s, s + n, false };
    FOR_FIELDS(r, f) {
        if (f.wt != 2) continue;
        if (f.num == 1) { /* tensor_type */
            pb t = { f.s, f.s + f.n, false };
            if (vi->kind == EDGEML_KIND_OPTIONAL && depth > 0) { /* keep optional kind */ }
            else if (depth == 0) vi->kind = EDGEML_KIND_TENSOR;
            FOR_FIELDS(t, g) {
                if (g.num == 1 && g.wt == 0) vi->dtype = (int)g.v;
                else if (g.num == 2 && g.wt == 2) {
                    edgeml_status st = parse_shape(c, &g, vi);
                    if (st) return st;
                }
            }
            if (t.err) return BAD(c, "malformed TypeProto.Tensor");
        } else if (f.num == 4 || f.num == 9) { /* sequence_type / optional_type */
            if (depth == 0) vi->kind = f.num == 4 ? EDGEML_KIND_SEQUENCE : EDGEML_KIND_OPTIONAL;
            pb t = { f.s, f.s + f.n, false };
            FOR_FIELDS(t, g) {
                if (g.num == 1 && g.wt == 2) {
                    em_vinfo inner = { .name = vi->name, .rank = -1 };
                    edgeml_status st = parse_type(c, g.s, g.n, &inner, depth + 1);
                    if (st) return st;
                    vi->dtype = inner.dtype;
                    if (f.num == 9 && inner.kind == EDGEML_KIND_TENSOR) {
                        vi->rank = inner.rank;
                        vi->dims = inner.dims;
                        vi->dim_names = inner.dim_names;
                    }
                }
            }
            if (t.err) return BAD(c, "malformed TypeProto");
        } else if (f.num == 5 || f.num == 8) {
            if (depth == 0) vi->kind = -1; /* map / sparse: unsupported */
        }
    }
    if (r.err) return BAD(c, "malformed TypeProto");
    return EDGEML_OK;
}

static edgeml_status parse_value_info(em_pb_ctx *c, const pb_field *vf, em_vinfo *vi)
{
    pb r = { vf->s, vf->s + vf->n, false };
    vi->rank = -1;
    vi->name = "";
    const pb_field *type = NULL;
    pb_field tf;
    FOR_FIELDS(r, f) {
        if (f.num == 1 && f.wt == 2) vi->name = dupstr(c, &f);
        else if (f.num == 2 && f.wt == 2) { tf = f; type = &tf; }
    }
    if (r.err) return BAD(c, "malformed ValueInfoProto");
    if (!vi->name) return EDGEML_E_NOMEM;
    if (type) return parse_type(c, type->s, type->n, vi, 0);
    return EDGEML_OK;
}

/* ---- TensorProto ------------------------------------------------------- */

static edgeml_status map_external(em_pb_ctx *c, const char *name, const char *location,
                                  int64_t offset, int64_t length, size_t need, void **data)
{
    if (!c->base_dir)
        return BAD(c, "tensor '%s': external data '%s' needs a model loaded from a file", name, location);
    if (!location || !*location || location[0] == '/')
        return BAD(c, "tensor '%s': external data location '%s' must be a relative path", name,
                   location ? location : "");
    for (const char *p = location; *p;) {
        const char *q = strchr(p, '/');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if ((n == 2 && p[0] == '.' && p[1] == '.') || memchr(p, '\\', n))
            return BAD(c, "tensor '%s': external data location '%s' escapes the model's directory",
                       name, location);
        p += n + (q ? 1 : 0);
    }
    char path[PATH_MAX], real[PATH_MAX], realdir[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", c->base_dir, location) >= (int)sizeof path)
        return BAD(c, "tensor '%s': external data path too long", name);
    if (!realpath(c->base_dir, realdir) || !realpath(path, real))
        return em_set_error(c->err, EDGEML_E_IO, "tensor '%s': external data '%s': %s", name,
                            location, strerror(errno));
    size_t dl = strlen(realdir);
    if (strncmp(real, realdir, dl) != 0 || (real[dl] != '/' && real[dl] != 0))
        return BAD(c, "tensor '%s': external data '%s' resolves outside the model's directory",
                   name, location);
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return em_set_error(c->err, EDGEML_E_IO, "tensor '%s': external data '%s': %s", name,
                            location, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return BAD(c, "tensor '%s': external data '%s' is not a regular file", name, location);
    }
    uint64_t fsize = (uint64_t)st.st_size;
    if (offset < 0 || (uint64_t)offset > fsize) {
        close(fd);
        return BAD(c, "tensor '%s': external data offset %lld beyond '%s' (%llu bytes)", name,
                   (long long)offset, location, (unsigned long long)fsize);
    }
    uint64_t len = length >= 0 ? (uint64_t)length : fsize - (uint64_t)offset;
    if (len > fsize - (uint64_t)offset || len != need) {
        close(fd);
        return BAD(c, "tensor '%s': external data length %llu does not match %zu bytes needed "
                   "(file '%s' has %llu bytes from offset %lld)", name, (unsigned long long)len,
                   need, location, (unsigned long long)(fsize - (uint64_t)offset), (long long)offset);
    }
    if (need == 0) { close(fd); *data = NULL; return EDGEML_OK; }
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t aligned = (uint64_t)offset & ~(uint64_t)(pg - 1);
    size_t maplen = (size_t)((uint64_t)offset - aligned + len);
    void *addr = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, (off_t)aligned);
    close(fd);
    if (addr == MAP_FAILED)
        return em_set_error(c->err, EDGEML_E_IO, "tensor '%s': mmap '%s': %s", name, location,
                            strerror(errno));
    em_mapping *m = realloc(c->maps, (c->n_maps + 1) * sizeof *m);
    if (!m) { munmap(addr, maplen); return EDGEML_E_NOMEM; }
    c->maps = m;
    c->maps[c->n_maps++] = (em_mapping){ addr, maplen };
    *data = (uint8_t *)addr + ((uint64_t)offset - aligned);
    return EDGEML_OK;
}

/* Unpacks numel 4-bit values (two per byte, low nibble first) into one byte each. */
static edgeml_status unpack4(em_pb_ctx *c, em_tensor *t, const uint8_t *src, size_t numel)
{
    uint8_t *d = em_arena_alloc(c->arena, numel ? numel : 1);
    if (!d) return EDGEML_E_NOMEM;
    for (size_t i = 0; i < numel; i++)
        d[i] = (uint8_t)em_int4_value((uint8_t)(src[i / 2] >> (i % 2 ? 4 : 0)), t->dtype);
    t->data = d;
    return EDGEML_OK;
}

edgeml_status em_pb_parse_tensor(em_pb_ctx *c, const uint8_t *buf, size_t len, em_tensor *t,
                                 const char **name_out)
{
    pb r = { buf, buf + len, false };
    memset(t, 0, sizeof *t);
    const char *name = "";
    pb_field raw = { 0 };
    bool has_raw = false, external = false;
    size_t ndims = 0, typed = 0, nstr = 0;
    int64_t dims[EM_MAX_RANK];
    const char *location = NULL;
    int64_t ext_off = 0, ext_len = -1;
    int typed_field = 0;

    FOR_FIELDS(r, f) {
        switch (f.num) {
        case 1: {
            size_t k;
            if (!count_packed(&f, 0, &k)) return BAD(c, "malformed TensorProto.dims");
            if (ndims + k > EM_MAX_RANK) return BAD(c, "tensor has more than %d dims", EM_MAX_RANK);
            uint64_t tmp[EM_MAX_RANK];
            size_t pos = 0;
            if (!unpack(&f, 0, tmp, &pos, EM_MAX_RANK)) return BAD(c, "malformed TensorProto.dims");
            for (size_t i = 0; i < pos; i++) dims[ndims++] = (int64_t)tmp[i];
            break;
        }
        case 2: if (f.wt == 0) t->dtype = (int32_t)f.v; break;
        case 8: if (f.wt == 2) name = dupstr(c, &f); break;
        case 9: if (f.wt == 2) { raw = f; has_raw = true; } break;
        case 14: if (f.wt == 0) external = f.v == 1; break;
        case 13: if (f.wt == 2) {
            pb e = { f.s, f.s + f.n, false };
            const char *key = NULL, *val = NULL;
            FOR_FIELDS(e, g) {
                if (g.wt != 2) continue;
                if (g.num == 1) key = dupstr(c, &g);
                else if (g.num == 2) val = dupstr(c, &g);
            }
            if (!key || !val) break;
            char *end;
            if (!strcmp(key, "location")) location = val;
            else if (!strcmp(key, "offset")) { errno = 0; ext_off = strtoll(val, &end, 10); if (errno || *end) return BAD(c, "bad external data offset '%s'", val); }
            else if (!strcmp(key, "length")) { errno = 0; ext_len = strtoll(val, &end, 10); if (errno || *end) return BAD(c, "bad external data length '%s'", val); }
            break;
        }
        break;
        case 4: case 5: case 7: case 10: case 11: {
            size_t k;
            int wt = (f.num == 4) ? 5 : (f.num == 10) ? 1 : 0;
            if (!count_packed(&f, wt, &k)) return BAD(c, "malformed TensorProto data field %u", f.num);
            if (typed_field && typed_field != (int)f.num)
                return BAD(c, "TensorProto '%s' mixes data fields", name);
            typed_field = (int)f.num;
            typed += k;
            break;
        }
        case 6: if (f.wt == 2) nstr++; break;
        default: break;
        }
    }
    if (r.err) return BAD(c, "malformed TensorProto");
    if (!name) return EDGEML_E_NOMEM;
    if (name_out) *name_out = name;
    t->rank = (int32_t)ndims;
    for (size_t i = 0; i < ndims; i++) {
        if (dims[i] < 0) return BAD(c, "tensor '%s' has negative dim %lld", name, (long long)dims[i]);
        t->dims[i] = dims[i];
    }
    size_t esz = em_dtype_size(t->dtype);
    if (!esz)
        return em_set_error(c->err, EDGEML_E_UNSUPPORTED, "tensor '%s' has unsupported dtype %d (%s)",
                            name, t->dtype, em_dtype_name(t->dtype));
    size_t numel, nbytes;
    if (!em_shape_numel(t->rank, t->dims, &numel) || __builtin_mul_overflow(numel, esz, &nbytes))
        return BAD(c, "tensor '%s' is too large", name);

    if (t->dtype == EDGEML_STRING) {
        if (nstr != numel)
            return BAD(c, "tensor '%s' has %zu strings for %zu elements", name, nstr, numel);
        em_str *s = em_arena_calloc(c->arena, numel ? numel : 1, sizeof *s);
        if (!s) return EDGEML_E_NOMEM;
        size_t i = 0;
        r.p = buf;
        FOR_FIELDS(r, f) {
            if (f.num == 6 && f.wt == 2) { s[i].data = (const char *)f.s; s[i].len = f.n; i++; }
        }
        t->data = s;
        return EDGEML_OK;
    }
    /* 4-bit integers: the file packs two per byte (low nibble first), edgeml
     * holds one per byte. */
    bool packed4 = em_dtype_is_int4(t->dtype);
    size_t fbytes = packed4 ? numel / 2 + numel % 2 : nbytes; /* bytes in the file */
    if (external) {
        if (has_raw || typed)
            return BAD(c, "tensor '%s' has both external and embedded data", name);
        if (!packed4) return map_external(c, name, location, ext_off, ext_len, nbytes, &t->data);
        void *src = NULL;
        edgeml_status st = map_external(c, name, location, ext_off, ext_len, fbytes, &src);
        if (st) return st;
        return unpack4(c, t, src, numel);
    }
    if (has_raw && packed4) {
        if (raw.n != fbytes)
            return BAD(c, "tensor '%s': raw_data has %zu bytes, shape %s of %s needs %zu "
                       "(two 4-bit values per byte)", name, raw.n,
                       em_shape_str(t->rank, t->dims, (char[96]){ 0 }, 96),
                       em_dtype_name(t->dtype), fbytes);
        return unpack4(c, t, raw.s, numel);
    }
    if (has_raw) {
        if (raw.n != nbytes)
            return BAD(c, "tensor '%s': raw_data has %zu bytes, shape %s of %s needs %zu", name,
                       raw.n, em_shape_str(t->rank, t->dims, (char[96]){ 0 }, 96),
                       em_dtype_name(t->dtype), nbytes);
        if (((uintptr_t)raw.s % (esz > 8 ? 8 : esz)) == 0) {
            t->data = (void *)raw.s; /* zero-copy: the weights stay in the mapped file */
        } else {
            t->data = em_arena_alloc_raw(c->arena, nbytes ? nbytes : 1); /* overwritten next */
            if (!t->data) return EDGEML_E_NOMEM;
            memcpy(t->data, raw.s, nbytes);
            /* The copy replaces the mapped original: do not keep both resident. */
            if (c->own_lo && raw.s >= c->own_lo && raw.s + nbytes <= c->own_hi)
                em_release_mapped(raw.s, nbytes);
        }
        return EDGEML_OK;
    }
    size_t nvals = packed4 ? fbytes : numel; /* int32_data holds 4-bit values packed too */
    if (typed != nvals) {
        if (typed == 0 && numel == 0) return EDGEML_OK;
        return BAD(c, "tensor '%s' has %zu values for shape %s (%zu elements%s)", name, typed,
                   em_shape_str(t->rank, t->dims, (char[96]){ 0 }, 96), numel,
                   packed4 ? ", two per value" : "");
    }
    /* Which field holds which dtype (onnx.proto). */
    int want;
    switch (t->dtype) {
    case EDGEML_FLOAT: want = 4; break;
    case EDGEML_DOUBLE: want = 10; break;
    case EDGEML_INT64: want = 7; break;
    case EDGEML_UINT32: case EDGEML_UINT64: want = 11; break;
    default: want = 5; break;
    }
    if (numel && typed_field != want)
        return BAD(c, "tensor '%s' of %s stores its values in field %d", name,
                   em_dtype_name(t->dtype), typed_field);
    uint64_t *tmp = malloc((numel ? numel : 1) * sizeof *tmp);
    void *data = em_arena_alloc(c->arena, nbytes ? nbytes : 1);
    if (!tmp || !data) { free(tmp); return EDGEML_E_NOMEM; }
    size_t pos = 0;
    int wt = want == 4 ? 5 : want == 10 ? 1 : 0;
    r.p = buf;
    bool ok = true;
    FOR_FIELDS(r, f) {
        if ((int)f.num == want && ok) ok = unpack(&f, wt, tmp, &pos, nvals);
    }
    if (!ok || pos != nvals) { free(tmp); return BAD(c, "malformed data in tensor '%s'", name); }
    if (packed4) {
        for (size_t i = 0; i < numel; i++) {
            uint8_t b = (uint8_t)(tmp[i / 2] >> (i % 2 ? 4 : 0));
            ((uint8_t *)data)[i] = (uint8_t)em_int4_value(b, t->dtype);
        }
        free(tmp);
        t->data = data;
        return EDGEML_OK;
    }
    for (size_t i = 0; i < numel; i++) {
        uint64_t v = tmp[i];
        switch (t->dtype) {
        case EDGEML_FLOAT: { uint32_t b = (uint32_t)v; memcpy((float *)data + i, &b, 4); break; }
        case EDGEML_DOUBLE: memcpy((double *)data + i, &v, 8); break;
        case EDGEML_INT64: ((int64_t *)data)[i] = (int64_t)v; break;
        case EDGEML_UINT64: ((uint64_t *)data)[i] = v; break;
        case EDGEML_UINT32: ((uint32_t *)data)[i] = (uint32_t)v; break;
        case EDGEML_INT32: ((int32_t *)data)[i] = (int32_t)v; break;
        case EDGEML_INT16: ((int16_t *)data)[i] = (int16_t)v; break;
        case EDGEML_INT8: ((int8_t *)data)[i] = (int8_t)v; break;
        case EDGEML_UINT16: case EDGEML_FLOAT16: case EDGEML_BFLOAT16:
            ((uint16_t *)data)[i] = (uint16_t)v; break;
        case EDGEML_UINT8: ((uint8_t *)data)[i] = (uint8_t)v; break;
        case EDGEML_BOOL: ((uint8_t *)data)[i] = v != 0; break;
        case EDGEML_FLOAT8E4M3FN: case EDGEML_FLOAT8E4M3FNUZ: case EDGEML_FLOAT8E5M2:
        case EDGEML_FLOAT8E5M2FNUZ: ((uint8_t *)data)[i] = (uint8_t)v; break; /* the bits */
        default: break;
        }
    }
    free(tmp);
    t->data = data;
    return EDGEML_OK;
}

/* ---- AttributeProto ---------------------------------------------------- */

static edgeml_status parse_graph(em_pb_ctx *c, const uint8_t *buf, size_t len, em_graph **out);

static edgeml_status parse_attr(em_pb_ctx *c, const pb_field *af, em_attr *a)
{
    pb r = { af->s, af->s + af->n, false };
    size_t nf = 0, ni = 0, ns = 0, nt = 0, ng = 0;
    a->name = "";
    FOR_FIELDS(r, f) {
        size_t k;
        switch (f.num) {
        case 1: if (f.wt == 2) a->name = dupstr(c, &f); break;
        case 20: if (f.wt == 0) a->type = (int)f.v; break;
        case 2: if (f.wt == 5) { uint32_t b = (uint32_t)f.v; memcpy(&a->f, &b, 4); } break;
        case 3: if (f.wt == 0) a->i = (int64_t)f.v; break;
        case 4:
            if (f.wt == 2) { /* terminated copy: kernels read it as a C string too */
                if (!(a->s.data = dupstr(c, &f))) return EDGEML_E_NOMEM;
                a->s.len = f.n;
            }
            break;
        case 7: if (!count_packed(&f, 5, &k)) return BAD(c, "malformed floats attribute"); nf += k; break;
        case 8: if (!count_packed(&f, 0, &k)) return BAD(c, "malformed ints attribute"); ni += k; break;
        case 9: if (f.wt == 2) ns++; break;
        case 10: if (f.wt == 2) nt++; break;
        case 11: if (f.wt == 2) ng++; break;
        case 21: if (f.wt == 2) return em_set_error(c->err, EDGEML_E_UNSUPPORTED,
                     "attribute references (ref_attr_name) are only valid inside functions");
            break;
        default: break;
        }
    }
    if (r.err || !a->name) return BAD(c, "malformed AttributeProto");
    if (a->type == 0) { /* IR < 3 models may omit the type: infer it */
        a->type = nf ? EM_ATTR_FLOATS : ni ? EM_ATTR_INTS : ns ? EM_ATTR_STRINGS : nt ? EM_ATTR_TENSORS
                : ng ? EM_ATTR_GRAPHS : EM_ATTR_UNDEFINED;
    }
    a->n = a->type == EM_ATTR_FLOATS ? nf : a->type == EM_ATTR_INTS ? ni : a->type == EM_ATTR_STRINGS ? ns
         : a->type == EM_ATTR_TENSORS ? nt : a->type == EM_ATTR_GRAPHS ? ng : 0;
    /* Kernels index a list by a->n, which follows the declared type. A model
     * may declare one type and fill another list (or none): size every list
     * to at least a->n, padded with empty values, so no kernel can read past
     * one whatever the attribute's type says. */
    size_t mf = nf > a->n ? nf : a->n, mi = ni > a->n ? ni : a->n, ms = ns > a->n ? ns : a->n;
    size_t mt = nt > a->n ? nt : a->n, mg = ng > a->n ? ng : a->n;
    if (mf && !(a->floats = em_arena_calloc(c->arena, mf, sizeof(float)))) return EDGEML_E_NOMEM;
    if (mi && !(a->ints = em_arena_calloc(c->arena, mi, sizeof(int64_t)))) return EDGEML_E_NOMEM;
    if (ms && !(a->strings = em_arena_calloc(c->arena, ms, sizeof(em_str)))) return EDGEML_E_NOMEM;
    if (mt && !(a->tensors = em_arena_calloc(c->arena, mt, sizeof(em_tensor)))) return EDGEML_E_NOMEM;
    if (mg && !(a->graphs = em_arena_calloc(c->arena, mg, sizeof(em_graph *)))) return EDGEML_E_NOMEM;
    for (size_t k = ns; k < ms; k++) a->strings[k].data = "";
    for (size_t k = nt; k < mt; k++) { a->tensors[k].dtype = EDGEML_FLOAT; a->tensors[k].rank = 1; }
    size_t fi = 0, ii = 0, si = 0, ti = 0, gi = 0;
    r.p = af->s;
    FOR_FIELDS(r, f) {
        edgeml_status st = EDGEML_OK;
        switch (f.num) {
        case 5:
            if (f.wt != 2) break;
            if (!(a->t = em_arena_alloc(c->arena, sizeof *a->t))) return EDGEML_E_NOMEM;
            st = em_pb_parse_tensor(c, f.s, f.n, a->t, NULL);
            break;
        case 6:
            if (f.wt == 2) st = parse_graph(c, f.s, f.n, &a->g);
            break;
        case 7:
            if (f.wt == 5) {
                uint32_t b = (uint32_t)f.v;
                memcpy(&a->floats[fi++], &b, 4);
            } else if (f.wt == 2 && f.n) { /* packed; count_packed checked n % 4 == 0 */
                memcpy(&a->floats[fi], f.s, f.n);
                fi += f.n / 4;
            }
            break;
        case 8: {
            if (!a->ints) break; /* only empty occurrences (ni == 0) */
            uint64_t *tmp = (uint64_t *)(a->ints + ii);
            size_t pos = 0;
            if (!unpack(&f, 0, tmp, &pos, ni - ii)) return BAD(c, "malformed ints attribute");
            ii += pos;
            break;
        }
        case 9: if (f.wt == 2) { a->strings[si].data = (const char *)f.s; a->strings[si].len = f.n; si++; } break;
        case 10: if (f.wt == 2) st = em_pb_parse_tensor(c, f.s, f.n, &a->tensors[ti++], NULL); break;
        case 11: if (f.wt == 2) st = parse_graph(c, f.s, f.n, &a->graphs[gi++]); break;
        default: break;
        }
        if (st) return st;
    }
    if (a->type == EM_ATTR_GRAPH && !a->g) return BAD(c, "attribute '%s' is a graph without one", a->name);
    if (a->type == EM_ATTR_TENSOR && !a->t) return BAD(c, "attribute '%s' is a tensor without one", a->name);
    return EDGEML_OK;
}

/* ---- NodeProto / GraphProto ------------------------------------------- */

static edgeml_status parse_node(em_pb_ctx *c, const pb_field *nf, em_node *n)
{
    pb r = { nf->s, nf->s + nf->n, false };
    size_t ni = 0, no = 0, na = 0;
    n->name = "";
    n->op_type = "";
    n->domain = "";
    FOR_FIELDS(r, f) {
        if (f.wt != 2) continue;
        switch (f.num) {
        case 1: ni++; break;
        case 2: no++; break;
        case 3: n->name = dupstr(c, &f); break;
        case 4: n->op_type = dupstr(c, &f); break;
        case 7: n->domain = dupstr(c, &f); break;
        case 5: na++; break;
        default: break;
        }
    }
    if (r.err || !n->name || !n->op_type || !n->domain) return BAD(c, "malformed NodeProto");
    if (ni > 1u << 20 || no > 1u << 20) return BAD(c, "node has too many inputs/outputs");
    n->n_in = (int)ni;
    n->n_out = (int)no;
    n->in_names = em_arena_calloc(c->arena, ni + 1, sizeof(char *));
    n->out_names = em_arena_calloc(c->arena, no + 1, sizeof(char *));
    n->attrs = em_arena_calloc(c->arena, na + 1, sizeof(em_attr));
    if (!n->in_names || !n->out_names || !n->attrs) return EDGEML_E_NOMEM;
    size_t ii = 0, oi = 0;
    r.p = nf->s;
    FOR_FIELDS(r, f) {
        if (f.wt != 2) continue;
        if (f.num == 1) { if (!(n->in_names[ii++] = dupstr(c, &f))) return EDGEML_E_NOMEM; }
        else if (f.num == 2) { if (!(n->out_names[oi++] = dupstr(c, &f))) return EDGEML_E_NOMEM; }
        else if (f.num == 5) {
            edgeml_status st = parse_attr(c, &f, &n->attrs[n->n_attrs]);
            if (st) {
                if (c->err && !strstr(c->err->msg, "node '")) {
                    char tmp[EDGEML_ERROR_MAX];
                    snprintf(tmp, sizeof tmp, "node '%s' (%s): %s", n->name, n->op_type, c->err->msg);
                    memcpy(c->err->msg, tmp, sizeof tmp);
                }
                return st;
            }
            n->n_attrs++;
        }
    }
    return EDGEML_OK;
}

static edgeml_status parse_graph(em_pb_ctx *c, const uint8_t *buf, size_t len, em_graph **out)
{
    if (++c->depth > PB_MAX_DEPTH) return BAD(c, "subgraphs nested deeper than %d", PB_MAX_DEPTH);
    em_graph *g = em_arena_alloc(c->arena, sizeof *g);
    if (!g) return EDGEML_E_NOMEM;
    g->name = "";
    pb r = { buf, buf + len, false };
    size_t nn = 0, ninit = 0, nin = 0, nout = 0, nvi = 0;
    FOR_FIELDS(r, f) {
        if (f.wt != 2) continue;
        switch (f.num) {
        case 1: nn++; break;
        case 2: g->name = dupstr(c, &f); break;
        case 5: ninit++; break;
        case 11: nin++; break;
        case 12: nout++; break;
        case 13: nvi++; break;
        case 15: return em_set_error(c->err, EDGEML_E_UNSUPPORTED, "sparse initializers are not supported");
        default: break;
        }
    }
    if (r.err || !g->name) return BAD(c, "malformed GraphProto");
    g->nodes = em_arena_calloc(c->arena, nn + 1, sizeof(em_node));
    g->inits = em_arena_calloc(c->arena, ninit + 1, sizeof(em_tensor));
    g->init_names = em_arena_calloc(c->arena, ninit + 1, sizeof(char *));
    g->pin = em_arena_calloc(c->arena, nin + 1, sizeof(em_vinfo));
    g->pout = em_arena_calloc(c->arena, nout + 1, sizeof(em_vinfo));
    g->vi = em_arena_calloc(c->arena, nvi + 1, sizeof(em_vinfo));
    if (!g->nodes || !g->inits || !g->init_names || !g->pin || !g->pout || !g->vi) return EDGEML_E_NOMEM;
    r.p = buf;
    FOR_FIELDS(r, f) {
        edgeml_status st = EDGEML_OK;
        if (f.wt != 2) continue;
        switch (f.num) {
        case 1: st = parse_node(c, &f, &g->nodes[g->n_nodes++]); break;
        case 5:
            st = em_pb_parse_tensor(c, f.s, f.n, &g->inits[g->n_inits], &g->init_names[g->n_inits]);
            if (st && c->err && !strstr(c->err->msg, "initializer")) {
                char tmp[EDGEML_ERROR_MAX];
                snprintf(tmp, sizeof tmp, "initializer %zu: %s", g->n_inits, c->err->msg);
                memcpy(c->err->msg, tmp, sizeof tmp);
            }
            g->n_inits++;
            break;
        case 11: st = parse_value_info(c, &f, &g->pin[g->n_pin++]); break;
        case 12: st = parse_value_info(c, &f, &g->pout[g->n_pout++]); break;
        case 13: st = parse_value_info(c, &f, &g->vi[g->n_vi++]); break;
        default: break;
        }
        if (st) return st;
    }
    c->depth--;
    *out = g;
    return EDGEML_OK;
}

/* ---- ModelProto -------------------------------------------------------- */

edgeml_status em_pb_parse_model(em_pb_ctx *c, const uint8_t *buf, size_t len, em_pb_model *m)
{
    memset(m, 0, sizeof *m);
    m->producer_name = m->producer_version = m->domain = "";
    pb r = { buf, buf + len, false };
    size_t nops = 0;
    const uint8_t *gs = NULL;
    size_t gn = 0;
    bool has_graph = false;
    FOR_FIELDS(r, f) {
        switch (f.num) {
        case 1: if (f.wt == 0) m->ir_version = (int64_t)f.v; break;
        case 2: if (f.wt == 2) m->producer_name = dupstr(c, &f); break;
        case 3: if (f.wt == 2) m->producer_version = dupstr(c, &f); break;
        case 4: if (f.wt == 2) m->domain = dupstr(c, &f); break;
        case 7: if (f.wt == 2) { gs = f.s; gn = f.n; has_graph = true; } break;
        case 8: if (f.wt == 2) nops++; break;
        case 25: if (f.wt == 2) m->n_functions++; break;
        default: break;
        }
    }
    if (r.err) return BAD(c, "not an ONNX model: malformed protobuf at byte %zu of %zu",
                                 (size_t)(r.p - buf), len);
    if (!m->producer_name || !m->producer_version || !m->domain) return EDGEML_E_NOMEM;
    if (!has_graph) return BAD(c, "not an ONNX model: no graph");
    m->opsets = em_arena_calloc(c->arena, nops + 1, sizeof *m->opsets);
    if (!m->opsets) return EDGEML_E_NOMEM;
    r.p = buf;
    FOR_FIELDS(r, f) {
        if (f.num != 8 || f.wt != 2) continue;
        pb o = { f.s, f.s + f.n, false };
        em_opset_import *op = &m->opsets[m->n_opsets++];
        op->domain = "";
        FOR_FIELDS(o, g) {
            if (g.num == 1 && g.wt == 2) op->domain = dupstr(c, &g);
            else if (g.num == 2 && g.wt == 0) op->version = (int64_t)g.v;
        }
        if (o.err || !op->domain) return BAD(c, "malformed OperatorSetIdProto");
    }
    return parse_graph(c, gs, gn, &m->graph);
}

/* ---- test data values -------------------------------------------------- */

static edgeml_status parse_seq(em_pb_ctx *c, const uint8_t *buf, size_t len, em_value *v);

static edgeml_status parse_optional(em_pb_ctx *c, const uint8_t *buf, size_t len, em_value *v)
{
    pb r = { buf, buf + len, false };
    v->kind = EM_V_NONE;
    v->is_optional = true;
    FOR_FIELDS(r, f) {
        if (f.wt != 2) continue;
        if (f.num == 3) {
            v->kind = EM_V_TENSOR;
            edgeml_status st = em_pb_parse_tensor(c, f.s, f.n, &v->t, NULL);
            if (st) return st;
        } else if (f.num == 5) {
            edgeml_status st = parse_seq(c, f.s, f.n, v);
            if (st) return st;
            v->is_optional = true;
        } else if (f.num == 6 || f.num == 7 || f.num == 4) {
            return em_set_error(c->err, EDGEML_E_UNSUPPORTED, "optional of map/sparse/optional");
        }
    }
    if (r.err) return BAD(c, "malformed OptionalProto");
    return EDGEML_OK;
}

static edgeml_status parse_seq(em_pb_ctx *c, const uint8_t *buf, size_t len, em_value *v)
{
    pb r = { buf, buf + len, false };
    em_seq *s = em_seq_new(0);
    if (!s) return EDGEML_E_NOMEM;
    FOR_FIELDS(r, f) {
        if (f.wt != 2) continue;
        if (f.num == 3) {
            em_tensor t;
            edgeml_status st = em_pb_parse_tensor(c, f.s, f.n, &t, NULL);
            if (!st) st = em_seq_insert_copy(s, s->n, &t);
            if (st) { em_seq_free(s); return st; }
        } else if (f.num >= 4 && f.num <= 7) {
            em_seq_free(s);
            return em_set_error(c->err, EDGEML_E_UNSUPPORTED, "sequence of non-tensors");
        }
    }
    if (r.err) { em_seq_free(s); return BAD(c, "malformed SequenceProto"); }
    v->kind = EM_V_SEQUENCE;
    v->seq = s;
    v->heap = s;
    return EDGEML_OK;
}

edgeml_status em_pb_parse_value(em_pb_ctx *c, const uint8_t *buf, size_t len, int kind_hint,
                                em_value *v)
{
    memset(v, 0, sizeof *v);
    if (kind_hint == 1) return parse_seq(c, buf, len, v);
    if (kind_hint == 2) return parse_optional(c, buf, len, v);
    v->kind = EM_V_TENSOR;
    return em_pb_parse_tensor(c, buf, len, &v->t, NULL);
}
