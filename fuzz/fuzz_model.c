/* libFuzzer target: edgeml_model_load_memory + session create + run on small
 * zero inputs of the declared shapes (symbolic dims 1), guarded against huge
 * inputs. Models with Loop/Scan are loaded but not run (a trip count taken
 * from the model could legitimately run for ever). Errors are fine; crashes,
 * sanitizer reports, leaks and missing error messages are not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgeml/infer.h"

#define MAX_INPUT_ELEMS (1u << 16)

static int has_op(const edgeml_model_info *info, const char *op)
{
    for (size_t i = 0; i < info->n_op_types; i++)
        if (info->op_counts[i].op_type && strcmp(info->op_counts[i].op_type, op) == 0)
            return 1;
    return 0;
}

static void check_msg(const edgeml_error *err)
{
    if (err->msg[0] == 0 || memchr(err->msg, 0, sizeof err->msg) == NULL)
        abort(); /* an error without a (terminated) message */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    edgeml_model *m = NULL;
    edgeml_error err;
    memset(&err, 0, sizeof err);
    if (edgeml_model_load_memory(buf, size, NULL, &m, &err) != EDGEML_OK) {
        check_msg(&err);
        free(buf);
        return 0;
    }
    edgeml_model_info info;
    memset(&info, 0, sizeof info);
    edgeml_model_get_info(m, &info);
    size_t nin = edgeml_model_num_inputs(m), nout = edgeml_model_num_outputs(m);
    edgeml_value_info vi;
    for (size_t i = 0; i < nout; i++)
        (void)edgeml_model_output(m, i, &vi);
    if (!has_op(&info, "Loop") && !has_op(&info, "Scan")) {
        edgeml_session *s = NULL;
        edgeml_session_options so = {.threads = 1};
        if (edgeml_session_create(m, &so, &s, &err) == EDGEML_OK) {
            for (size_t i = 0; i < nin; i++) {
                if (edgeml_model_input(m, i, &vi) != EDGEML_OK || vi.kind != EDGEML_KIND_TENSOR ||
                    vi.rank < 0 || vi.rank > 16)
                    continue;
                int64_t dims[16];
                uint64_t numel = 1;
                int too_big = 0;
                for (int d = 0; d < vi.rank; d++) {
                    dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
                    if (dims[d] > (int64_t)MAX_INPUT_ELEMS)
                        too_big = 1;
                    else
                        numel *= (uint64_t)dims[d];
                    if (numel > MAX_INPUT_ELEMS)
                        too_big = 1;
                }
                if (too_big)
                    continue;
                size_t es = vi.dtype == EDGEML_STRING ? sizeof(edgeml_string)
                                                      : edgeml_dtype_size(vi.dtype);
                if (es == 0)
                    continue;
                void *z = calloc(numel ? numel : 1, es);
                if (!z)
                    continue;
                if (vi.dtype == EDGEML_STRING)
                    for (size_t k = 0; k < numel; k++)
                        ((edgeml_string *)z)[k].data = "";
                if (edgeml_session_set_input(s, vi.name, vi.dtype, vi.rank, dims, z, numel * es,
                                             EDGEML_INPUT_COPY, &err) != EDGEML_OK)
                    check_msg(&err);
                free(z);
            }
            if (edgeml_session_run(s, &err) == EDGEML_OK) {
                for (size_t i = 0; i < nout; i++) {
                    edgeml_tensor t;
                    if (edgeml_session_output(s, i, &t, &err) == EDGEML_OK) {
                        /* outputs must be readable */
                        volatile uint8_t sink = 0;
                        if (t.dtype != EDGEML_STRING)
                            for (size_t k = 0; k < t.nbytes; k += 64)
                                sink ^= ((const uint8_t *)t.data)[k];
                        (void)sink;
                    }
                }
            } else {
                check_msg(&err);
            }
            edgeml_session_free(s);
        } else {
            check_msg(&err);
        }
    }
    edgeml_model_free(m);
    free(buf);
    return 0;
}
