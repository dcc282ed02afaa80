/* Family "misc": signal (DFT, STFT, windows, mel), strings, random,
 * training (ai.onnx.preview.training) and ai.onnx.ml kernels. Private. */
#ifndef EDGEML_OPS_MISC_H
#define EDGEML_OPS_MISC_H
#include "ops.h"

/* ---- small private helpers (family-wide) ------------------------------- */

/* Reads a scalar (rank 0, or any shape with exactly one element) int32/int64
 * input into *v. Fails with a message naming `what`. */
edgeml_status misc_scalar_int(em_kctx *c, const em_tensor *t, const char *what, int64_t *v);
/* Same for a float-typed (float/double/float16/bfloat16) scalar. */
edgeml_status misc_scalar_float(em_kctx *c, const em_tensor *t, const char *what, double *v);
/* True for float32/float64/float16/bfloat16. */
bool misc_is_floatish(int dt);
/* Deterministic splitmix64-based generator. */
typedef struct misc_rng { uint64_t s[4]; } misc_rng;
void misc_rng_seed(misc_rng *r, uint64_t seed);
uint64_t misc_rng_next(misc_rng *r);
double misc_rng_uniform(misc_rng *r);      /* [0, 1) */
double misc_rng_normal(misc_rng *r);       /* standard normal */
/* Complex FFT of length n (any n) on interleaved (re, im) doubles, in place.
 * inverse: sign +1 without the 1/n scaling. Returns false on OOM. */
bool misc_fft(double *data, size_t n, bool inverse);
/* A reusable FFT plan of length n (the same transform as misc_fft). A plan
 * holds work memory: use it from one thread at a time. */
typedef struct misc_fft_plan misc_fft_plan;
misc_fft_plan *misc_fft_plan_new(size_t n, bool inverse); /* NULL on OOM */
void misc_fft_exec(misc_fft_plan *p, double *data);
void misc_fft_plan_free(misc_fft_plan *p);

/* ---- signal ------------------------------------------------------------ */
edgeml_status misc_dft_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_dft_run(em_kctx *c);
edgeml_status misc_stft_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_stft_run(em_kctx *c);
edgeml_status misc_window_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_window_run(em_kctx *c);
edgeml_status misc_mel_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_mel_run(em_kctx *c);

/* ---- strings ----------------------------------------------------------- */
edgeml_status misc_strnorm_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_strnorm_run(em_kctx *c);
void misc_strnorm_free(void *state);
edgeml_status misc_strconcat_run(em_kctx *c);
edgeml_status misc_strsplit_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_strsplit_run(em_kctx *c);
void misc_strsplit_free(void *state);
edgeml_status misc_regex_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_regex_run(em_kctx *c);
void misc_regex_free(void *state);
edgeml_status misc_tfidf_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_tfidf_run(em_kctx *c);
void misc_tfidf_free(void *state);

/* ---- random ------------------------------------------------------------ */
edgeml_status misc_random_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_bernoulli_run(em_kctx *c);
edgeml_status misc_random_uniform_run(em_kctx *c);
edgeml_status misc_random_normal_run(em_kctx *c);
edgeml_status misc_random_uniform_like_run(em_kctx *c);
edgeml_status misc_random_normal_like_run(em_kctx *c);
edgeml_status misc_multinomial_run(em_kctx *c);

/* ---- misc nn ----------------------------------------------------------- */
edgeml_status misc_affine_grid_run(em_kctx *c);

/* ---- training (ai.onnx.preview.training) ------------------------------- */
edgeml_status misc_train_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_adagrad_run(em_kctx *c);
edgeml_status misc_adam_run(em_kctx *c);
edgeml_status misc_momentum_run(em_kctx *c);

/* ---- ai.onnx.ml -------------------------------------------------------- */
edgeml_status misc_ml_afe_run(em_kctx *c);
edgeml_status misc_ml_binarizer_run(em_kctx *c);
edgeml_status misc_ml_labelenc_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_ml_labelenc_run(em_kctx *c);
void misc_ml_labelenc_free(void *state);
edgeml_status misc_ml_normalizer_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_ml_normalizer_run(em_kctx *c);
edgeml_status misc_ml_scaler_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_ml_scaler_run(em_kctx *c);
edgeml_status misc_ml_onehot_prepare(em_node *n, edgeml_error *err);
edgeml_status misc_ml_onehot_run(em_kctx *c);
void misc_ml_onehot_free(void *state);

#endif
