/* Operator table of the misc family (misc_*.c). */
#include "misc.h"

#define TRAIN "ai.onnx.preview.training"
#define ML "ai.onnx.ml"

const em_op_entry em_ops_misc[] = {
    /* signal */
    {"", "DFT", 17, misc_dft_prepare, misc_dft_run, NULL},
    {"", "DFT", 20, misc_dft_prepare, misc_dft_run, NULL},
    {"", "STFT", 17, misc_stft_prepare, misc_stft_run, NULL},
    {"", "HannWindow", 17, misc_window_prepare, misc_window_run, NULL},
    {"", "HammingWindow", 17, misc_window_prepare, misc_window_run, NULL},
    {"", "BlackmanWindow", 17, misc_window_prepare, misc_window_run, NULL},
    {"", "MelWeightMatrix", 17, misc_mel_prepare, misc_mel_run, NULL},
    /* strings */
    {"", "StringNormalizer", 10, misc_strnorm_prepare, misc_strnorm_run, misc_strnorm_free},
    {"", "StringConcat", 20, NULL, misc_strconcat_run, NULL},
    {"", "StringSplit", 20, misc_strsplit_prepare, misc_strsplit_run, misc_strsplit_free},
    {"", "RegexFullMatch", 20, misc_regex_prepare, misc_regex_run, misc_regex_free},
    {"", "TfIdfVectorizer", 9, misc_tfidf_prepare, misc_tfidf_run, misc_tfidf_free},
    /* random */
    {"", "Bernoulli", 15, misc_random_prepare, misc_bernoulli_run, NULL},
    {"", "RandomUniform", 1, misc_random_prepare, misc_random_uniform_run, NULL},
    {"", "RandomNormal", 1, misc_random_prepare, misc_random_normal_run, NULL},
    {"", "RandomUniformLike", 1, misc_random_prepare, misc_random_uniform_like_run, NULL},
    {"", "RandomNormalLike", 1, misc_random_prepare, misc_random_normal_like_run, NULL},
    {"", "Multinomial", 7, misc_random_prepare, misc_multinomial_run, NULL},
    /* nn */
    {"", "AffineGrid", 20, NULL, misc_affine_grid_run, NULL},
    /* training */
    {TRAIN, "Adagrad", 1, misc_train_prepare, misc_adagrad_run, NULL},
    {TRAIN, "Adam", 1, misc_train_prepare, misc_adam_run, NULL},
    {TRAIN, "Momentum", 1, misc_train_prepare, misc_momentum_run, NULL},
    /* ai.onnx.ml */
    {ML, "ArrayFeatureExtractor", 1, NULL, misc_ml_afe_run, NULL},
    {ML, "Binarizer", 1, NULL, misc_ml_binarizer_run, NULL},
    {ML, "LabelEncoder", 1, misc_ml_labelenc_prepare, misc_ml_labelenc_run, misc_ml_labelenc_free},
    {ML, "LabelEncoder", 2, misc_ml_labelenc_prepare, misc_ml_labelenc_run, misc_ml_labelenc_free},
    {ML, "Normalizer", 1, misc_ml_normalizer_prepare, misc_ml_normalizer_run, NULL},
    {ML, "Scaler", 1, misc_ml_scaler_prepare, misc_ml_scaler_run, NULL},
    {ML, "OneHotEncoder", 1, misc_ml_onehot_prepare, misc_ml_onehot_run, misc_ml_onehot_free},
    {NULL, NULL, 0, NULL, NULL, NULL},
};
