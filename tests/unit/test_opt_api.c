/* The optimisation controls through the C API: EDGEML_LOAD_NO_OPT gives the
 * graph as loaded, flags 0 the optimised one (fewer nodes for MODEL, which
 * test_opt.py makes with fusable nodes); both satisfy the invariants
 * (opt/verify.c) and give the same outputs on one input of ones.
 * usage: test_opt_api MODEL EXPECTED_NODES_OPTIMISED */
#include "edgeml/infer.h"
#include "opt/opt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("FAIL: " __VA_ARGS__); printf("\n"); } } while (0)

static float *run(const edgeml_model *m, size_t *n)
{
    edgeml_session *s;
    edgeml_error err;
    if (edgeml_session_create(m, NULL, &s, &err)) { printf("session: %s\n", err.msg); return NULL; }
    edgeml_value_info in;
    if (edgeml_model_input(m, 0, &in)) return NULL;
    size_t numel = 1;
    for (int i = 0; i < in.rank; i++) numel *= (size_t)(in.dims[i] > 0 ? in.dims[i] : 1);
    float *x = malloc(numel * sizeof *x);
    for (size_t i = 0; i < numel; i++) x[i] = (float)((int)(i % 7) - 3) / 3.f;
    float *y = NULL;
    if (edgeml_session_set_input(s, in.name, EDGEML_FLOAT, in.rank, in.dims, x, numel * 4, EDGEML_INPUT_COPY, &err) ||
        edgeml_session_run(s, &err)) {
        printf("run: %s\n", err.msg);
    } else {
        edgeml_tensor t;
        if (!edgeml_session_output(s, 0, &t, &err)) {
            *n = t.nbytes / 4;
            y = malloc(t.nbytes);
            memcpy(y, t.data, t.nbytes);
        }
    }
    free(x);
    edgeml_session_free(s);
    return y;
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: test_opt_api MODEL EXPECTED_NODES\n"); return 2; }
    unsetenv("EDGEML_OPT");
    edgeml_model *m0, *m1;
    edgeml_error err;
    edgeml_load_options no = { .flags = EDGEML_LOAD_NO_OPT }, yes = { 0 };
    if (edgeml_model_load(argv[1], &no, &m0, &err) || edgeml_model_load(argv[1], &yes, &m1, &err)) {
        printf("load: %s\n", err.msg);
        return 1;
    }
    size_t n0 = edgeml_model_num_nodes(m0), n1 = edgeml_model_num_nodes(m1);
    edgeml_model_info i0, i1;
    edgeml_model_get_info(m0, &i0);
    edgeml_model_get_info(m1, &i1);
    CHECK(n1 == (size_t)atoi(argv[2]), "optimised graph has %zu nodes, expected %s", n1, argv[2]);
    CHECK(n0 > n1, "EDGEML_LOAD_NO_OPT: %zu nodes, optimised %zu", n0, n1);
    CHECK(i0.n_nodes == i1.n_nodes && i0.n_op_types == i1.n_op_types, "model info must describe the model as loaded");
    CHECK(em_opt_verify(em_model_graph(m0), &err) == EDGEML_OK, "invariants (not optimised): %s", err.msg);
    CHECK(em_opt_verify(em_model_graph(m1), &err) == EDGEML_OK, "invariants (optimised): %s", err.msg);
    edgeml_node_info ni;
    CHECK(edgeml_model_node(m1, n1, &ni) == EDGEML_E_INVALID, "node index out of range accepted");
    for (size_t i = 0; i < n1; i++) {
        CHECK(edgeml_model_node(m1, i, &ni) == EDGEML_OK && ni.op_type && ni.inputs && ni.outputs, "node %zu", i);
        printf("node %zu: %s%s%s%s%s\n", i, ni.op_type, ni.fused_add_input >= 0 ? " +Add" : "",
               ni.fused_act ? " +" : "", ni.fused_act ? ni.fused_act : "", "");
    }
    size_t na = 0, nb = 0;
    float *a = run(m0, &na), *b = run(m1, &nb);
    CHECK(a && b && na == nb, "outputs");
    for (size_t i = 0; a && b && na == nb && i < na; i++)
        if (!(fabsf(a[i] - b[i]) <= 1e-5f * (1 + fabsf(a[i])))) { CHECK(0, "output %zu: %g vs %g", i, a[i], b[i]); break; }
    free(a);
    free(b);
    edgeml_model_free(m0);
    edgeml_model_free(m1);
    printf("%s\n", fails ? "FAILED" : "ok");
    return fails != 0;
}
