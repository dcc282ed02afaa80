/* Loading the classifier package and running one image through it. */
#include "classifier.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define META_NAME "preprocess.json"
#define META_MAX (64u << 10)
#define LABELS_MAX (4u << 20)

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CLF_ERR_MAX, fmt, ap);
    va_end(ap);
    return -1;
}

/* Reads a whole regular file of at most max bytes (NUL appended). */
static char *read_small(const char *path, size_t max, size_t *len, char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        if (S_ISREG(st.st_mode))
            fail(err, "%s: %lld bytes is over the limit (%zu)", path, (long long)st.st_size, max);
        else
            fail(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        fail(err, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail(err, "%s: read: %s", path, n < 0 ? strerror(errno) : "file shrank");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

/* A file name inside the package: one path component, no dot files. */
static int plain_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 100 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || (unsigned char)s[i] < 0x20)
            return 0;
    return 1;
}

static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        size_t k;
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf)
            k = 1;
        else if (b >= 0xe0 && b <= 0xef)
            k = 2;
        else if (b >= 0xf0 && b <= 0xf4)
            k = 3;
        else
            return 0;
        for (size_t j = 1; j <= k; j++)
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
                return 0;
        i += k + 1;
    }
    return 1;
}

static int get_floats3(json_t *o, const char *key, float out[3], char *err, const char *path)
{
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a) || json_array_size(a) != 3)
        return fail(err, "%s: \"%s\" must be an array of 3 numbers", path, key);
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_number(v))
            return fail(err, "%s: \"%s\"[%zu] is not a number", path, key, i);
        double d = json_number_value(v);
        if (!isfinite(d) || fabs(d) > 1e6)
            return fail(err, "%s: \"%s\"[%zu] is out of range", path, key, i);
        out[i] = (float)d;
    }
    return 0;
}

static const char *get_str(json_t *o, const char *key, const char *dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static int load_meta(clf *c, const char *dir, char *model_name, size_t mcap, char *labels_name,
                     size_t lcap, char *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, META_NAME) >= (int)sizeof path)
        return fail(err, "%s: path too long", dir);
    size_t len;
    char *text = read_small(path, META_MAX, &len, err);
    if (!text)
        return -1;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!root)
        return fail(err, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
    int rc = -1;
    const char *fmt = get_str(root, "format", NULL);
    const char *ver = get_str(root, "version", NULL);
    const char *model = get_str(root, "model", "model.onnx");
    const char *labels = get_str(root, "labels", "labels.txt");
    const char *input = get_str(root, "input", "");
    json_t *jw = json_object_get(root, "width"), *jh = json_object_get(root, "height");
    if (!json_is_object(root)) {
        fail(err, "%s: not a JSON object", path);
    } else if (!fmt || strcmp(fmt, "edgeml-classifier/1") != 0) {
        fail(err, "%s: \"format\" must be \"edgeml-classifier/1\"", path);
    } else if (!ver || !ver[0] || strlen(ver) >= sizeof c->version ||
               !utf8_ok((const unsigned char *)ver, strlen(ver))) {
        fail(err, "%s: \"version\" must be a string of 1..%zu bytes", path, sizeof c->version - 1);
    } else if (!plain_name(model) || !plain_name(labels)) {
        fail(err, "%s: \"model\" and \"labels\" must be file names inside the package", path);
    } else if (strlen(input) >= sizeof c->input_name) {
        fail(err, "%s: \"input\" is too long", path);
    } else if (!json_is_integer(jw) || !json_is_integer(jh) || json_integer_value(jw) < 1 ||
               json_integer_value(jh) < 1 || json_integer_value(jw) > CLF_MAX_SIDE ||
               json_integer_value(jh) > CLF_MAX_SIDE) {
        fail(err, "%s: \"width\" and \"height\" must be integers in 1..%u", path, CLF_MAX_SIDE);
    } else if (get_floats3(root, "mean", c->mean, err, path) == 0 &&
               get_floats3(root, "std", c->std, err, path) == 0) {
        rc = 0;
        for (int i = 0; i < 3; i++)
            if (!(c->std[i] > 1e-6f))
                rc = fail(err, "%s: \"std\"[%d] must be > 0", path, i);
        if (rc == 0) {
            c->w = (uint32_t)json_integer_value(jw);
            c->h = (uint32_t)json_integer_value(jh);
            snprintf(c->version, sizeof c->version, "%s", ver);
            snprintf(c->input_name, sizeof c->input_name, "%s", input);
            snprintf(model_name, mcap, "%s", model);
            snprintf(labels_name, lcap, "%s", labels);
        }
    }
    json_decref(root);
    return rc;
}

/* labels.txt: one name per line ("\n" or "\r\n"), UTF-8, no control bytes. */
static int load_labels(clf *c, const char *path, char *err)
{
    size_t len;
    char *buf = read_small(path, LABELS_MAX, &len, err);
    if (!buf)
        return -1;
    if (memchr(buf, '\0', len))
        return free(buf), fail(err, "%s: holds a NUL byte", path);
    if (!utf8_ok((const unsigned char *)buf, len))
        return free(buf), fail(err, "%s: not UTF-8", path);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    if (len && buf[len - 1] != '\n')
        n++;
    if (n == 0 || n > CLF_MAX_CLASSES)
        return free(buf), fail(err, "%s: %zu labels (1..%u expected)", path, n, CLF_MAX_CLASSES);
    char **lab = calloc(n, sizeof *lab);
    if (!lab)
        return free(buf), fail(err, "%s: out of memory", path);
    char *p = buf;
    for (size_t i = 0; i < n; i++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r')
            p[--l] = '\0';
        if (l == 0 || l > CLF_MAX_LABEL) {
            free(lab);
            free(buf);
            return fail(err, "%s:%zu: a label must have 1..%d bytes", path, i + 1, CLF_MAX_LABEL);
        }
        for (size_t j = 0; j < l; j++)
            if ((unsigned char)p[j] < 0x20 || p[j] == 0x7f) {
                free(lab);
                free(buf);
                return fail(err, "%s:%zu: control character in a label", path, i + 1);
            }
        lab[i] = p;
        p = nl ? nl + 1 : p + l;
    }
    c->labels = lab;
    c->n_labels = n;
    c->labels_buf = buf;
    return 0;
}

void clf_close(clf *c)
{
    if (!c)
        return;
    edgeml_session_free(c->sess);
    edgeml_model_free(c->model);
    free(c->labels);
    free(c->labels_buf);
    free(c->input);
    memset(c, 0, sizeof *c);
}

int clf_open(clf *c, const char *dir, char err[CLF_ERR_MAX])
{
    char model_name[128], labels_name[128], path[4096];
    memset(c, 0, sizeof *c);
    if (!dir || !dir[0])
        return fail(err, "no model directory");
    if (load_meta(c, dir, model_name, sizeof model_name, labels_name, sizeof labels_name, err))
        return -1;
    snprintf(path, sizeof path, "%s/%s", dir, labels_name);
    if (load_labels(c, path, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", dir, model_name);
    edgeml_error e;
    if (edgeml_model_load(path, NULL, &c->model, &e) != EDGEML_OK) {
        fail(err, "%s", e.msg);
        clf_close(c);
        return -1;
    }
    /* The input: the named one, else the first; [1, 3, H, W] float. */
    edgeml_value_info in;
    size_t n_in = edgeml_model_num_inputs(c->model), k = 0;
    if (c->input_name[0]) {
        for (k = 0; k < n_in; k++)
            if (edgeml_model_input(c->model, k, &in) == EDGEML_OK && !strcmp(in.name, c->input_name))
                break;
    }
    if (k >= n_in || edgeml_model_input(c->model, k, &in) != EDGEML_OK) {
        fail(err, "%s: no input \"%s\"", path, c->input_name);
        clf_close(c);
        return -1;
    }
    int64_t want[4] = {1, 3, c->h, c->w};
    int shape_ok = in.dtype == EDGEML_FLOAT && in.kind == EDGEML_KIND_TENSOR &&
                   (in.rank == -1 || in.rank == 4);
    for (int i = 0; shape_ok && in.rank == 4 && i < 4; i++)
        if (in.dims[i] >= 0 && in.dims[i] != want[i])
            shape_ok = 0;
    if (!shape_ok) {
        fail(err, "%s: input \"%s\" is not float [1,3,%u,%u] (%s, rank %d)", path, in.name, c->h,
             c->w, edgeml_dtype_name(in.dtype), in.rank);
        clf_close(c);
        return -1;
    }
    snprintf(c->input_name, sizeof c->input_name, "%s", in.name);
    if (edgeml_model_num_outputs(c->model) < 1) {
        fail(err, "%s: the model has no output", path);
        clf_close(c);
        return -1;
    }
    c->input = malloc(sizeof *c->input * 3 * c->w * c->h);
    if (!c->input || edgeml_session_create(c->model, NULL, &c->sess, &e) != EDGEML_OK) {
        fail(err, "%s: %s", path, c->input ? e.msg : "out of memory");
        clf_close(c);
        return -1;
    }
    return 0;
}

const char *clf_label(const clf *c, size_t i, char tmp[32])
{
    if (i < c->n_labels)
        return c->labels[i];
    snprintf(tmp, 32, "class_%zu", i);
    return tmp;
}

int clf_run(clf *c, const img_rgb *img, clf_top top[CLF_TOPK], char err[CLF_ERR_MAX])
{
    edgeml_error e;
    img_to_tensor(img, c->w, c->h, c->mean, c->std, c->input);
    int64_t dims[4] = {1, 3, c->h, c->w};
    if (edgeml_session_set_input(c->sess, c->input_name, EDGEML_FLOAT, 4, dims, c->input,
                                 sizeof *c->input * 3 * c->w * c->h, EDGEML_INPUT_BORROW,
                                 &e) != EDGEML_OK ||
        edgeml_session_run(c->sess, &e) != EDGEML_OK)
        return fail(err, "inference: %s", e.msg);
    edgeml_tensor out;
    if (edgeml_session_output(c->sess, 0, &out, &e) != EDGEML_OK)
        return fail(err, "inference: %s", e.msg);
    size_t n = out.nbytes / sizeof(float);
    if (out.dtype != EDGEML_FLOAT || n == 0 || n > CLF_MAX_CLASSES)
        return fail(err, "inference: output 0 is %s with %zu elements, not float logits",
                    edgeml_dtype_name(out.dtype), n);
    const float *y = out.data;
    double mx = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            return fail(err, "inference: logit %zu is not finite", i);
        if (y[i] > mx)
            mx = y[i];
    }
    for (size_t i = 0; i < n; i++)
        sum += exp((double)y[i] - mx);
    /* Top-k by insertion into a k-slot list: O(n k), no copy of the logits. */
    int filled = 0;
    for (size_t i = 0; i < n; i++) {
        double p = exp((double)y[i] - mx) / sum;
        int j = filled < CLF_TOPK ? filled++ : CLF_TOPK;
        if (j == CLF_TOPK && p <= top[CLF_TOPK - 1].score)
            continue;
        if (j == CLF_TOPK)
            j = CLF_TOPK - 1;
        while (j > 0 && top[j - 1].score < p) {
            top[j] = top[j - 1];
            j--;
        }
        top[j].index = i;
        top[j].score = p;
    }
    for (int j = filled; j < CLF_TOPK; j++) {
        top[j].index = (size_t)-1;
        top[j].score = 0;
    }
    return 0;
}

/* Appends s[0..n) as a JSON string. */
static size_t put_json_str(char *buf, size_t cap, size_t at, const char *s, size_t n)
{
    if (at < cap)
        buf[at] = '"';
    at++;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        size_t k;
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            k = 2;
        } else if (ch < 0x20 || ch == 0x7f) {
            k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", ch);
        } else {
            esc[0] = (char)ch;
            k = 1;
        }
        for (size_t j = 0; j < k; j++, at++)
            if (at < cap)
                buf[at] = esc[j];
    }
    if (at < cap)
        buf[at] = '"';
    return at + 1;
}

static size_t put_fmt(char *buf, size_t cap, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t put_fmt(char *buf, size_t cap, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(at < cap ? buf + at : NULL, at < cap ? cap - at : 0, fmt, ap);
    va_end(ap);
    return at + (n > 0 ? (size_t)n : 0);
}

size_t clf_json(const clf *c, const char *camera, size_t camera_len, const clf_top *top,
                double ms, char *buf, size_t cap)
{
    char tmp[32];
    size_t at = put_fmt(buf, cap, 0, "{\"camera\":");
    at = put_json_str(buf, cap, at, camera, camera_len);
    at = put_fmt(buf, cap, at, ",\"model\":");
    at = put_json_str(buf, cap, at, c->version, strlen(c->version));
    at = put_fmt(buf, cap, at, ",\"top5\":[");
    for (int k = 0, first = 1; k < CLF_TOPK; k++) {
        if (top[k].index == (size_t)-1)
            continue;
        const char *l = clf_label(c, top[k].index, tmp);
        at = put_fmt(buf, cap, at, "%s{\"label\":", first ? "" : ",");
        at = put_json_str(buf, cap, at, l, strlen(l));
        at = put_fmt(buf, cap, at, ",\"index\":%zu,\"score\":%.8f}", top[k].index, top[k].score);
        first = 0;
    }
    at = put_fmt(buf, cap, at, "],\"ms\":%.2f}", ms);
    if (at >= cap)
        return 0;
    buf[at] = '\0';
    return at;
}
