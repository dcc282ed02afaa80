/* One model, many sessions, many threads: every run must give the output of a
 * single-threaded run, bit for bit. Runs in the sanitizer build too (ASan
 * catches a shared buffer written by two sessions as a race on freed or
 * reused memory far less reliably than TSan; tools/test.sh also has a TSan
 * pass when clang's runtime is present). */
#include "edgeml/infer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define RUNS 20

static edgeml_model *model;
static float *input;
static int64_t in_dims[8];
static int in_rank;
static size_t in_n;
static float *expect;
static size_t out_n;
static int failures;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int run_once(edgeml_session *s, float scale, float *out)
{
    edgeml_error e;
    float *x = malloc(in_n * sizeof *x);
    for (size_t i = 0; i < in_n; i++) x[i] = input[i] * scale;
    edgeml_value_info vi;
    if (edgeml_model_input(model, 0, &vi) ||
        edgeml_session_set_input(s, vi.name, EDGEML_FLOAT, in_rank, in_dims, x, in_n * sizeof *x, EDGEML_INPUT_BORROW, &e) ||
        edgeml_session_run(s, &e)) {
        fprintf(stderr, "run: %s\n", e.msg);
        free(x);
        return 1;
    }
    edgeml_tensor t;
    if (edgeml_session_output(s, 0, &t, &e)) { fprintf(stderr, "output: %s\n", e.msg); free(x); return 1; }
    memcpy(out, t.data, out_n * sizeof *out);
    free(x);
    return 0;
}

static void *worker(void *arg)
{
    (void)arg;
    edgeml_session *s;
    edgeml_error e;
    if (edgeml_session_create(model, NULL, &s, &e)) { failures++; return NULL; }
    float *out = malloc(out_n * sizeof *out);
    for (int r = 0; r < RUNS; r++) {
        if (run_once(s, 1.0f, out) || memcmp(out, expect, out_n * sizeof *out)) {
            pthread_mutex_lock(&mu);
            failures++;
            pthread_mutex_unlock(&mu);
        }
    }
    free(out);
    edgeml_session_free(s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: test_threads MODEL.onnx\n"); return 2; }
    edgeml_error e;
    if (edgeml_model_load(argv[1], NULL, &model, &e)) {
        fprintf(stderr, "load: %s\n", e.msg);
        return 1;
    }
    edgeml_value_info vi, vo;
    if (edgeml_model_input(model, 0, &vi) || vi.dtype != EDGEML_FLOAT || vi.rank < 0) {
        fprintf(stderr, "model needs a float input of known rank\n");
        return 1;
    }
    in_rank = vi.rank;
    in_n = 1;
    for (int i = 0; i < vi.rank; i++) {
        in_dims[i] = vi.dims[i] > 0 ? vi.dims[i] : 1;
        in_n *= (size_t)in_dims[i];
    }
    input = malloc(in_n * sizeof *input);
    srand(7);
    for (size_t i = 0; i < in_n; i++) input[i] = (float)rand() / RAND_MAX - 0.5f;
    edgeml_session *s;
    if (edgeml_session_create(model, NULL, &s, &e)) return 1;
    /* Reference run, then a check that the planned second run agrees. */
    if (edgeml_model_output(model, 0, &vo)) return 1;
    edgeml_error e2;
    edgeml_value_info in0;
    if (edgeml_model_input(model, 0, &in0)) return 1;
    if (edgeml_session_set_input(s, in0.name, EDGEML_FLOAT, in_rank, in_dims, input, in_n * 4, EDGEML_INPUT_COPY, &e2) ||
        edgeml_session_run(s, &e2)) {
        fprintf(stderr, "run: %s\n", e2.msg);
        return 1;
    }
    edgeml_tensor t;
    if (edgeml_session_output(s, 0, &t, &e2) || t.dtype != EDGEML_FLOAT) return 1;
    out_n = t.nbytes / 4;
    expect = malloc(t.nbytes);
    memcpy(expect, t.data, t.nbytes);
    edgeml_session_free(s);

    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    printf("%d threads x %d runs: %d mismatches\n", THREADS, RUNS, failures);
    free(input);
    free(expect);
    edgeml_model_free(model);
    return failures ? 1 : 0;
}
