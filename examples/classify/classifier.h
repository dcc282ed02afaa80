/* The classifier package as classify uses it: a directory (a deployed
 * resource) holding
 *   preprocess.json  {"format": "edgeml-classifier/1", "version", "model",
 *                     "labels", "input", "width", "height", "mean": [3],
 *                     "std": [3], ...}
 *   model.onnx       the network: input [1,3,H,W] float, output [1,N] logits
 *   labels.txt       N lines, the class names
 * (tools/mk_classifier_pkg.py writes it). The package is read as untrusted:
 * sizes, names and numbers are checked, and one line says what is wrong.
 *
 * One clf is used by one thread at a time (it owns one edgeml session). */
#ifndef CLASSIFY_CLASSIFIER_H
#define CLASSIFY_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include <edgeml/infer.h>

#include "image.h"

#define CLF_ERR_MAX 600
#define CLF_TOPK 5
#define CLF_MAX_SIDE 2048u       /* model input side */
#define CLF_MAX_CLASSES 100000u
#define CLF_MAX_LABEL 200        /* bytes per label */

typedef struct clf {
    edgeml_model *model;
    edgeml_session *sess;
    char input_name[128];
    uint32_t w, h;
    float mean[3], std[3];
    char version[128];
    char **labels; /* n_labels entries, pointing into labels_buf */
    size_t n_labels;
    char *labels_buf;
    float *input;  /* 3 * w * h */
} clf;

typedef struct clf_top {
    size_t index;
    double score; /* softmax probability */
} clf_top;

/* Loads the package in dir. 0, or -1 with err (c is then empty). */
int clf_open(clf *c, const char *dir, char err[CLF_ERR_MAX]);
void clf_close(clf *c);

/* Preprocesses img into c->input (the model's tensor), runs the model and
 * fills top[0..CLF_TOPK) by descending score. 0, or -1 with err. */
int clf_run(clf *c, const img_rgb *img, clf_top top[CLF_TOPK], char err[CLF_ERR_MAX]);

/* The label of class i ("class_<i>" when the labels file has none). */
const char *clf_label(const clf *c, size_t i, char tmp[32]);

/* The result document:
 * {"camera":..,"model":..,"top5":[{"label":..,"index":..,"score":..}],"ms":..}
 * Returns its length, or 0 if it does not fit in cap. */
size_t clf_json(const clf *c, const char *camera, size_t camera_len, const clf_top *top,
                double ms, char *buf, size_t cap);

#endif
