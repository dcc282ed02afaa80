/* --input NAME=FILE.npy: parsing, checking against the model, setting. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

int cli_inputs_add(cli_inputs *in, const char *spec, const char *cmd)
{
    const char *eq = strchr(spec, '=');
    if (!eq)
        return cli_usage(cmd, "--input expects NAME=FILE.npy, got %s", cli_q(spec));
    if (eq == spec)
        return cli_usage(cmd, "--input %s has an empty input name", cli_q(spec));
    if (!eq[1])
        return cli_usage(cmd, "--input %s has an empty file name", cli_q(spec));
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 8;
        cli_input *v = realloc(in->v, cap * sizeof *v);
        if (!v)
            return cli_error(cmd, "out of memory");
        in->v = v;
        in->cap = cap;
    }
    cli_input *x = &in->v[in->n];
    memset(x, 0, sizeof *x);
    x->name_buf = strndup(spec, (size_t)(eq - spec));
    if (!x->name_buf)
        return cli_error(cmd, "out of memory");
    x->name = x->name_buf;
    x->path = eq + 1;
    in->n++;
    return 0;
}

static void shape_str(int rank, const int64_t *dims, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
}

static int unknown_input(const edgeml_model *m, const char *name)
{
    char list[512];
    size_t o = 0, n = edgeml_model_num_inputs(m);
    list[0] = 0;
    for (size_t i = 0; i < n && o < sizeof list - 1; i++) {
        edgeml_value_info vi;
        if (edgeml_model_input(m, i, &vi) != EDGEML_OK)
            continue;
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", cli_q(vi.name));
    }
    if (o >= sizeof list - 1)
        strcpy(list + sizeof list - 5, "...");
    char what[400];
    snprintf(what, sizeof what, "input %s", cli_q(name));
    if (n == 0)
        return cli_error(what, "not an input of the model (it has no inputs)");
    return cli_error(what, "not an input of the model (its inputs: %s)", list);
}

int cli_inputs_load(cli_inputs *in, const edgeml_model *m)
{
    size_t nin = edgeml_model_num_inputs(m);
    for (size_t k = 0; k < in->n; k++) {
        cli_input *x = &in->v[k];
        char what[400];
        snprintf(what, sizeof what, "input %s", cli_q(x->name));
        for (size_t j = 0; j < k; j++)
            if (strcmp(in->v[j].name, x->name) == 0)
                return cli_error(what, "given more than once");
        edgeml_value_info vi;
        int found = 0;
        for (size_t i = 0; i < nin; i++) {
            if (edgeml_model_input(m, i, &vi) == EDGEML_OK && vi.name &&
                strcmp(vi.name, x->name) == 0) {
                found = 1;
                break;
            }
        }
        if (!found)
            return unknown_input(m, x->name);
        if (vi.kind != EDGEML_KIND_TENSOR)
            return cli_error(what, "is a %s in the model; .npy inputs can only be tensors",
                             vi.kind == EDGEML_KIND_SEQUENCE ? "sequence" : "optional");
        if (vi.dtype == EDGEML_STRING)
            return cli_error(what, "is a string tensor; .npy string inputs are not supported");
        char why[NPY_WHY_MAX];
        if (npy_load_file(x->path, &x->npy, &x->file_buf, why, sizeof why) != 0)
            return cli_error(what, "%s: %s", x->path, why);
        edgeml_dtype dt = x->npy.dtype;
        if (vi.dtype == EDGEML_BFLOAT16 && dt == EDGEML_UINT16)
            dt = EDGEML_BFLOAT16; /* bfloat16 bits stored as '<u2' (see npy.h) */
        if (vi.dtype != EDGEML_UNDEFINED && dt != vi.dtype) {
            if (vi.dtype == EDGEML_BFLOAT16)
                return cli_error(what, "%s: dtype %s does not match the model's bfloat16 "
                                 "(give bfloat16 as '<u2' raw bits)", x->path,
                                 edgeml_dtype_name(dt));
            return cli_error(what, "%s: dtype %s does not match the model's %s", x->path,
                             edgeml_dtype_name(dt), edgeml_dtype_name(vi.dtype));
        }
        char gs[256], ms[256];
        shape_str(x->npy.rank, x->npy.dims, gs, sizeof gs);
        cli_format_shape(&vi, ms, sizeof ms);
        if (vi.rank >= 0 && vi.rank != x->npy.rank)
            return cli_error(what, "%s: rank %d (shape %s) does not match the model's rank %d %s",
                             x->path, x->npy.rank, gs, vi.rank, ms);
        if (vi.rank >= 0)
            for (int d = 0; d < vi.rank; d++)
                if (vi.dims && vi.dims[d] >= 0 && vi.dims[d] != x->npy.dims[d])
                    return cli_error(what, "%s: shape %s does not match the model's %s", x->path,
                                     gs, ms);
        x->dtype = dt;
        const unsigned char *data = (const unsigned char *)x->file_buf + x->npy.data_offset;
        if (((uintptr_t)data & 63u) != 0 && x->npy.nbytes) {
            if (posix_memalign(&x->aligned_copy, 64, x->npy.nbytes) != 0) {
                x->aligned_copy = NULL;
                return cli_error(what, "out of memory");
            }
            memcpy(x->aligned_copy, data, x->npy.nbytes);
            data = x->aligned_copy;
        }
        x->data = data;
    }
    return 0;
}

int cli_inputs_check_required(const cli_inputs *in, const edgeml_model *m)
{
    size_t nin = edgeml_model_num_inputs(m);
    for (size_t i = 0; i < nin; i++) {
        edgeml_value_info vi;
        if (edgeml_model_input(m, i, &vi) != EDGEML_OK || vi.has_default ||
            vi.kind == EDGEML_KIND_OPTIONAL || cli_inputs_find(in, vi.name))
            continue;
        char what[400];
        snprintf(what, sizeof what, "input %s", cli_q(vi.name));
        return cli_error(what, "missing: the model requires it (give --input %s=FILE.npy)", cli_q(vi.name));
    }
    return 0;
}

const cli_input *cli_inputs_find(const cli_inputs *in, const char *name)
{
    for (size_t k = 0; k < in->n; k++)
        if (strcmp(in->v[k].name, name) == 0)
            return &in->v[k];
    return NULL;
}

int cli_inputs_set(const cli_inputs *in, edgeml_session *s, int flags)
{
    for (size_t k = 0; k < in->n; k++) {
        const cli_input *x = &in->v[k];
        edgeml_error err;
        memset(&err, 0, sizeof err);
        edgeml_status st = edgeml_session_set_input(s, x->name, x->dtype, x->npy.rank,
                                                    x->npy.dims, x->data, x->npy.nbytes, flags,
                                                    &err);
        if (st != EDGEML_OK) {
            char what[400];
            snprintf(what, sizeof what, "input %s", cli_q(x->name));
            return cli_error(what, "%s", err.msg[0] ? err.msg : edgeml_status_str(st));
        }
    }
    return 0;
}

void cli_inputs_free(cli_inputs *in)
{
    for (size_t k = 0; k < in->n; k++) {
        free(in->v[k].name_buf);
        free(in->v[k].file_buf);
        free(in->v[k].aligned_copy);
    }
    free(in->v);
    memset(in, 0, sizeof *in);
}
