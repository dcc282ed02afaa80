/* classify: an edgeml function that classifies camera frames.
 *
 * Under `edgeml core` (pinned): loads the classifier package from its
 * resource once, then for each JPEG/PNG payload on camera/<name>/frames
 * publishes the top-5 classes as JSON on inference/<name>/results. A direct
 * request-response invoke gets the same JSON as its reply (camera "invoke").
 * A payload that is not a decodable image is logged and marked failed; the
 * function stays up.
 *
 *   classify [--resource ID | --model DIR]
 *   classify --selftest IMAGE [--model DIR] [--camera NAME] [--dump-input FILE]
 *
 * The resource Id: --resource, else $EDGEML_CLASSIFY_RESOURCE, else
 * "squeezenet"; its path comes from the SDK (the DestinationPath in a
 * container, AWS_GG_RESOURCE_PREFIX + DestinationPath without one).
 * --selftest runs decode + inference + JSON on one file without a core and
 * prints the JSON; --dump-input writes the preprocessed tensor (float32,
 * host order, NCHW) for comparisons with other runtimes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <edgeml/sdk.h>

#include "classifier.h"
#include "image.h"

#define DEFAULT_RESOURCE "squeezenet"
#define MAX_CAMERA 128
#define MAX_FILE (64u << 20)

static clf g_clf;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Log lines go to stderr: the core writes them to logs/functions/<Id>.log. */
static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one write: lines of concurrent writers do not interleave */
    size_t n = strlen(line);
    if (n < sizeof line - 1) {
        line[n++] = '\n';
        line[n] = '\0';
    }
    fputs(line, stderr);
}

/* Printable copy of untrusted bytes for a log line. */
static void sanitize(const char *s, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++)
        out[j++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    out[j] = '\0';
}

/* camera/<name>/frames -> name (pointer into topic, length in *len). */
static const char *camera_of(const char *topic, size_t *len)
{
    static const char pre[] = "camera/", suf[] = "/frames";
    size_t n = strlen(topic), lp = sizeof pre - 1, ls = sizeof suf - 1;
    if (n <= lp + ls || strncmp(topic, pre, lp) != 0 || strcmp(topic + n - ls, suf) != 0)
        return NULL;
    const char *name = topic + lp;
    size_t l = n - lp - ls;
    if (l > MAX_CAMERA || memchr(name, '/', l) || memchr(name, '+', l) || memchr(name, '#', l))
        return NULL;
    *len = l;
    return name;
}

/* Decodes and classifies one payload into json (cap bytes). 0 or -1 (err). */
static int classify_payload(const void *data, size_t len, const char *camera, size_t camera_len,
                            char *json, size_t cap, char err[CLF_ERR_MAX], float **tensor)
{
    double t0 = now_ms();
    img_rgb img;
    char ierr[IMG_ERR_MAX];
    if (img_decode(data, len, &img, ierr) != 0) {
        snprintf(err, CLF_ERR_MAX, "%s", ierr);
        return -1;
    }
    clf_top top[CLF_TOPK];
    int rc = clf_run(&g_clf, &img, top, err);
    img_free(&img);
    if (rc != 0)
        return -1;
    if (tensor)
        *tensor = g_clf.input;
    if (clf_json(&g_clf, camera, camera_len, top, now_ms() - t0, json, cap) == 0) {
        snprintf(err, CLF_ERR_MAX, "result JSON over %zu bytes", cap);
        return -1;
    }
    return 0;
}

static int handler(const edgeml_message *m)
{
    char json[4096], err[CLF_ERR_MAX], shown[2 * MAX_CAMERA];
    const char *camera;
    size_t camera_len;
    if (m->is_invoke) {
        camera = "invoke";
        camera_len = strlen(camera);
    } else if (!(camera = camera_of(m->topic, &camera_len))) {
        sanitize(m->topic, strlen(m->topic), shown, sizeof shown);
        logf_("classify: %s: not camera/<name>/frames; skipped", shown);
        return -1;
    }
    sanitize(camera, camera_len, shown, sizeof shown);
    if (classify_payload(m->payload, m->len, camera, camera_len, json, sizeof json, err, NULL)) {
        logf_("classify: %s: %zu bytes skipped: %s", shown, m->len, err);
        return -1;
    }
    size_t jl = strlen(json);
    if (m->is_invoke) {
        if (m->wants_reply) {
            int rc = edgeml_reply(json, jl);
            if (rc != EDGEML_SDK_OK)
                logf_("classify: reply: %s", edgeml_sdk_last_error());
            return rc == EDGEML_SDK_OK ? 0 : -1;
        }
        logf_("classify: %s", json);
        return 0;
    }
    char topic[MAX_CAMERA + 32];
    snprintf(topic, sizeof topic, "inference/%.*s/results", (int)camera_len, camera);
    int rc = edgeml_publish(topic, json, jl);
    if (rc != EDGEML_SDK_OK) {
        logf_("classify: publish %s: %s", shown, edgeml_sdk_last_error());
        return -1;
    }
    return 0;
}

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        logf_("classify: %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_FILE) {
        logf_("classify: %s: not a regular file of at most %u bytes", path, MAX_FILE);
        fclose(f);
        return NULL;
    }
    void *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        logf_("classify: %s: read failed", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)st.st_size;
    return buf;
}

static int selftest(const char *image, const char *camera, const char *dump)
{
    size_t len;
    void *data = read_file(image, &len);
    if (!data)
        return 1;
    char json[4096], err[CLF_ERR_MAX];
    float *tensor = NULL;
    int rc = classify_payload(data, len, camera, strlen(camera), json, sizeof json, err, &tensor);
    free(data);
    if (rc != 0) {
        logf_("classify: %s: %s", image, err);
        return 1;
    }
    if (dump) {
        FILE *f = fopen(dump, "wb");
        size_t n = (size_t)3 * g_clf.w * g_clf.h;
        if (!f || fwrite(tensor, sizeof *tensor, n, f) != n || fclose(f) != 0) {
            logf_("classify: %s: cannot write", dump);
            return 1;
        }
    }
    printf("%s\n", json);
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: classify [--resource ID | --model DIR]\n"
            "       classify --selftest IMAGE [--model DIR] [--camera NAME] [--dump-input FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *resource = getenv("EDGEML_CLASSIFY_RESOURCE");
    const char *model = NULL, *image = NULL, *camera = "selftest", *dump = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(), 0;
        if (!v)
            return usage();
        if (!strcmp(a, "--resource"))
            resource = v;
        else if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--selftest"))
            image = v;
        else if (!strcmp(a, "--camera"))
            camera = v;
        else if (!strcmp(a, "--dump-input"))
            dump = v;
        else
            return usage();
    }
    if (!resource || !resource[0])
        resource = DEFAULT_RESOURCE;
    if (!model) {
        model = edgeml_resource_path(resource);
        if (!model) {
            logf_("classify: resource %s: %s", resource, edgeml_sdk_last_error());
            return 1;
        }
    }
    char err[CLF_ERR_MAX];
    double t0 = now_ms();
    if (clf_open(&g_clf, model, err) != 0) {
        logf_("classify: model %s: %s", model, err);
        return 1;
    }
    int rc;
    if (image) {
        rc = selftest(image, camera, dump);
    } else {
        logf_("classify: ready: %s from %s (%zu labels) in %.0f ms", g_clf.version, model,
              g_clf.n_labels, now_ms() - t0);
        rc = edgeml_runtime_start(handler, EDGEML_RUNTIME_DEFAULT);
        if (rc != 0)
            logf_("classify: %s", edgeml_sdk_last_error());
        else
            logf_("classify: stopped");
        rc = rc != 0;
    }
    clf_close(&g_clf);
    return rc;
}
