/* ONNX backend conformance runner.
 *
 * em_conformance [--filter S] [--status FILE] [--min N] [--timeout SEC] [-v] DIR...
 * Each DIR holds cases: <case>/model.onnx and test_data_set_N/{input,output}_K.pb.
 * Every case runs in its own process with a timeout, so a crash or hang is a
 * failure of that case, not of the run. Comparison follows the ONNX backend
 * rule: dtypes equal, strings exact, |a-e| <= 1e-7 + 1e-3*|e|, NaN == NaN. */
#include "exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Random-number cases: their outputs cannot match another implementation. */
static const char *const not_comparable[] = {
    "test_bernoulli", "test_bernoulli_double", "test_bernoulli_seed",
    "test_bernoulli_expanded", "test_bernoulli_double_expanded", "test_bernoulli_seed_expanded",
    "test_training_dropout", "test_training_dropout_default", "test_training_dropout_default_mask",
    "test_training_dropout_mask", "test_training_dropout_zero_ratio",
    "test_training_dropout_zero_ratio_mask",
};

/* Why a case fails, where the cause is known and lies outside edgeml. */
static const struct { const char *name, *note; } notes[] = {
    { "test_adam_multiple", "test data defect: the generator used epsilon=1e-2 but the node omits the "
      "attribute, so the spec default 1e-6 applies (onnx/backend/test/case/node/adam.py)" },
    { "test_castlike_BFLOAT16_to_FLOAT", "test data defect: input 'like' is declared [3,4] but stored as [1]; "
      "edgeml checks inputs against declared shapes (as ONNX Runtime does)" },
    { "test_castlike_BFLOAT16_to_FLOAT_expanded", "same defect as test_castlike_BFLOAT16_to_FLOAT" },
    { "test_castlike_FLOAT_to_BFLOAT16", "test data defect: input 'like' is declared [3,4] but stored as [1]" },
    { "test_castlike_FLOAT_to_BFLOAT16_expanded", "same defect as test_castlike_FLOAT_to_BFLOAT16" },
    { "test_gradient_of_add", "Gradient (ai.onnx.preview.training) needs automatic differentiation; "
      "edgeml is an inference runtime" },
    { "test_gradient_of_add_and_mul", "as test_gradient_of_add" },
};

static const char *note_for(const char *name)
{
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++)
        if (!strcmp(name, notes[i].name)) return notes[i].note;
    return NULL;
}

static bool is_nc(const char *name)
{
    for (size_t i = 0; i < sizeof not_comparable / sizeof not_comparable[0]; i++)
        if (!strcmp(name, not_comparable[i])) return true;
    return false;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return b;
}

static char why[1024];

static bool cmp_tensor(const em_tensor *a, const em_tensor *e, const char *what)
{
    char sa[128], se[128];
    if (a->dtype != e->dtype) {
        snprintf(why, sizeof why, "%s: dtype %s, expected %s", what, em_dtype_name(a->dtype), em_dtype_name(e->dtype));
        return false;
    }
    if (!em_same_shape(a, e)) {
        snprintf(why, sizeof why, "%s: shape %s, expected %s", what, em_shape_str(a->rank, a->dims, sa, sizeof sa),
                 em_shape_str(e->rank, e->dims, se, sizeof se));
        return false;
    }
    size_t n = em_numel(e);
    if (e->dtype == EDGEML_STRING) {
        const em_str *x = a->data, *y = e->data;
        for (size_t i = 0; i < n; i++)
            if (x[i].len != y[i].len || memcmp(x[i].data, y[i].data, x[i].len)) {
                snprintf(why, sizeof why, "%s: string %zu is '%.*s', expected '%.*s'", what, i, (int)x[i].len,
                         x[i].data, (int)y[i].len, y[i].data);
                return false;
            }
        return true;
    }
    if (em_dtype_is_float(e->dtype)) {
        size_t bad = 0, first = 0;
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double x = em_get_f64(a->data, a->dtype, i), y = em_get_f64(e->data, e->dtype, i);
            if (isnan(x) && isnan(y)) continue;
            if (x == y) continue;
            double d = fabs(x - y);
            if (!(d <= 1e-7 + 1e-3 * fabs(y))) {
                if (!bad++) first = i;
                if (!(d <= worst)) worst = d;
            }
        }
        if (bad) {
            snprintf(why, sizeof why, "%s: %zu of %zu values differ (first at %zu: %g vs %g; max diff %g)", what, bad,
                     n, first, em_get_f64(a->data, a->dtype, first), em_get_f64(e->data, e->dtype, first), worst);
            return false;
        }
        return true;
    }
    size_t esz = em_dtype_size(e->dtype);
    for (size_t i = 0; i < n; i++)
        if (memcmp((const uint8_t *)a->data + i * esz, (const uint8_t *)e->data + i * esz, esz)) {
            snprintf(why, sizeof why, "%s: value %zu is %lld, expected %lld", what, i,
                     (long long)em_get_i64(a->data, a->dtype, i), (long long)em_get_i64(e->data, e->dtype, i));
            return false;
        }
    return true;
}

static bool cmp_value(const em_value *a, const em_value *e, const char *what, bool shape_only)
{
    if (a->kind != e->kind) {
        static const char *k[] = { "unset", "tensor", "sequence", "none" };
        snprintf(why, sizeof why, "%s: got a %s, expected a %s", what, k[a->kind], k[e->kind]);
        return false;
    }
    if (a->kind == EM_V_TENSOR) {
        if (shape_only) {
            em_tensor x = a->t, y = e->t;
            if (x.dtype != y.dtype || !em_same_shape(&x, &y)) return cmp_tensor(&x, &y, what);
            return true;
        }
        return cmp_tensor(&a->t, &e->t, what);
    }
    if (a->kind == EM_V_SEQUENCE) {
        if (a->seq->n != e->seq->n) {
            snprintf(why, sizeof why, "%s: sequence of %zu, expected %zu", what, a->seq->n, e->seq->n);
            return false;
        }
        for (size_t i = 0; i < a->seq->n; i++) {
            char w[256];
            snprintf(w, sizeof w, "%s[%zu]", what, i);
            if (!cmp_tensor(&a->seq->items[i], &e->seq->items[i], w)) return false;
        }
    }
    return true;
}

/* ONNX 1.12's test generator stores bfloat16 tensors with data_type UINT16
 * (the bits are bfloat16): relabel them where the model declares bfloat16. */
static void bf16_quirk(em_value *v, int declared)
{
    if (declared == EDGEML_BFLOAT16 && v->kind == EM_V_TENSOR && v->t.dtype == EDGEML_UINT16)
        v->t.dtype = EDGEML_BFLOAT16;
}

/* Runs one case; returns 0 pass, 1 fail (why set). */
static int run_case(const char *dir, const char *name)
{
    char path[4096];
    edgeml_error err = { 0 };
    edgeml_model *m = NULL;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (edgeml_model_load(path, NULL, &m, &err)) {
        snprintf(why, sizeof why, "load: %s", err.msg);
        return 1;
    }
    edgeml_session *s = NULL;
    if (edgeml_session_create(m, NULL, &s, &err)) {
        snprintf(why, sizeof why, "session: %s", err.msg);
        edgeml_model_free(m);
        return 1;
    }
    int rc = 0, sets = 0;
    em_arena arena = { 0 };
    for (int set = 0; rc == 0; set++) {
        char sd[4096];
        snprintf(sd, sizeof sd, "%s/test_data_set_%d", dir, set);
        struct stat st;
        if (stat(sd, &st) != 0) break;
        sets++;
        em_pb_ctx pc = { .arena = &arena, .err = &err };
        em_value ins[64], outs[64];
        size_t nin = 0, nout = 0;
        memset(ins, 0, sizeof ins);
        memset(outs, 0, sizeof outs);
        for (size_t i = 0; i < 64; i++) {
            snprintf(path, sizeof path, "%s/input_%zu.pb", sd, i);
            size_t len;
            uint8_t *buf = read_file(path, &len);
            if (!buf) break;
            uint8_t *keep = em_arena_alloc(&arena, len ? len : 1); /* lives through the run */
            if (keep && len) memcpy(keep, buf, len);
            free(buf);
            int hint = i < edgeml_model_num_inputs(m) ? (int)m->inputs[i].kind : 0;
            if (!keep || em_pb_parse_value(&pc, keep, len, hint, &ins[i])) {
                snprintf(why, sizeof why, "input_%zu.pb: %s", i, err.msg);
                rc = 1;
                break;
            }
            bf16_quirk(&ins[i], hint == 0 && i < edgeml_model_num_inputs(m) ? (int)m->inputs[i].dtype : 0);
            nin++;
        }
        for (size_t i = 0; rc == 0 && i < 64; i++) {
            snprintf(path, sizeof path, "%s/output_%zu.pb", sd, i);
            size_t len;
            uint8_t *buf = read_file(path, &len);
            if (!buf) break;
            uint8_t *keep = em_arena_alloc(&arena, len ? len : 1);
            if (keep && len) memcpy(keep, buf, len);
            free(buf);
            int hint = i < edgeml_model_num_outputs(m) ? (int)m->outputs[i].kind : 0;
            if (em_pb_parse_value(&pc, keep, len, hint, &outs[i])) {
                snprintf(why, sizeof why, "output_%zu.pb: %s", i, err.msg);
                rc = 1;
                break;
            }
            bf16_quirk(&outs[i], hint == 0 && i < edgeml_model_num_outputs(m) ? (int)m->outputs[i].dtype : 0);
            nout++;
        }
        for (size_t i = 0; rc == 0 && i < nin; i++) {
            if (i >= edgeml_model_num_inputs(m)) {
                snprintf(why, sizeof why, "test gives %zu inputs, model has %zu", nin, edgeml_model_num_inputs(m));
                rc = 1;
                break;
            }
            if (em_session_set_value(s, i, &ins[i], &err)) {
                snprintf(why, sizeof why, "set input %zu: %s", i, err.msg);
                rc = 1;
            }
        }
        if (rc == 0 && edgeml_session_run(s, &err)) {
            snprintf(why, sizeof why, "run: %s", err.msg);
            rc = 1;
        }
        if (rc == 0 && nout != edgeml_model_num_outputs(m)) {
            snprintf(why, sizeof why, "test has %zu outputs, model %zu", nout, edgeml_model_num_outputs(m));
            rc = 1;
        }
        for (size_t i = 0; rc == 0 && i < nout; i++) {
            char w[300];
            snprintf(w, sizeof w, "output %zu '%s'", i, m->outputs[i].name);
            if (!cmp_value(em_session_output_value(s, i), &outs[i], w, is_nc(name))) rc = 1;
        }
        /* A second run with the same shapes uses the memory plan: it must agree too. */
        if (rc == 0 && set == 0) {
            if (edgeml_session_run(s, &err)) {
                snprintf(why, sizeof why, "second run: %s", err.msg);
                rc = 1;
            }
            for (size_t i = 0; rc == 0 && i < nout; i++) {
                char w[300];
                snprintf(w, sizeof w, "second run, output %zu '%s'", i, m->outputs[i].name);
                if (!cmp_value(em_session_output_value(s, i), &outs[i], w, is_nc(name))) rc = 1;
            }
        }
        for (size_t i = 0; i < 64; i++) { em_value_release(&ins[i]); em_value_release(&outs[i]); }
    }
    if (rc == 0 && sets == 0) { snprintf(why, sizeof why, "no test data"); rc = 1; }
    edgeml_session_free(s);
    edgeml_model_free(m);
    em_arena_free(&arena);
    return rc;
}

/* Present when built with LeakSanitizer: _exit() skips its exit-time check. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

typedef struct result {
    char name[256];
    char suite[64];
    int status; /* 0 pass, 1 fail, 2 not comparable (ran) */
    char why[1024];
} result;

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    const char *filter = NULL, *status_path = NULL;
    long min_pass = -1, timeout = 120;
    int verbose = 0;
    const char *dirs[16];
    int ndirs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--status") && i + 1 < argc) status_path = argv[++i];
        else if (!strcmp(argv[i], "--min") && i + 1 < argc) min_pass = atol(argv[++i]);
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout = atol(argv[++i]);
        else if (!strcmp(argv[i], "-v")) verbose = 1;
        else if (ndirs < 16) dirs[ndirs++] = argv[i];
    }
    if (!ndirs) {
        fprintf(stderr, "usage: em_conformance [--filter S] [--status FILE] [--min N] DIR...\n");
        return 2;
    }
    size_t nres = 0, cap = 0;
    result *res = NULL;
    int passed = 0, failed = 0, nc = 0;
    for (int d = 0; d < ndirs; d++) {
        DIR *dp = opendir(dirs[d]);
        if (!dp) { fprintf(stderr, "%s: %s\n", dirs[d], strerror(errno)); return 2; }
        char **names = NULL;
        size_t nn = 0;
        struct dirent *e;
        while ((e = readdir(dp))) {
            if (e->d_name[0] == '.') continue;
            if (filter && !strstr(e->d_name, filter)) continue;
            names = realloc(names, (nn + 1) * sizeof *names);
            names[nn++] = strdup(e->d_name);
        }
        closedir(dp);
        if (nn) qsort(names, nn, sizeof *names, cmp_name);
        const char *suite = strrchr(dirs[d], '/');
        suite = suite && suite[1] ? suite + 1 : dirs[d];
        for (size_t k = 0; k < nn; k++) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/%s", dirs[d], names[k]);
            int pfd[2];
            if (pipe(pfd)) return 2;
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                close(pfd[0]);
                alarm((unsigned)timeout);
                int rc = run_case(dir, names[k]);
                if (rc == 0 && __lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check()) {
                    snprintf(why, sizeof why, "memory leak (LeakSanitizer report above)");
                    rc = 1;
                }
                if (rc) { ssize_t w = write(pfd[1], why, strlen(why)); (void)w; }
                _exit(rc);
            }
            close(pfd[1]);
            char buf[1024] = "";
            size_t got = 0;
            ssize_t r;
            while ((r = read(pfd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
            buf[got] = 0;
            close(pfd[0]);
            int wst;
            waitpid(pid, &wst, 0);
            if (nres == cap) { cap = cap ? cap * 2 : 256; res = realloc(res, cap * sizeof *res); }
            result *rs = &res[nres++];
            snprintf(rs->name, sizeof rs->name, "%s", names[k]);
            snprintf(rs->suite, sizeof rs->suite, "%s", suite);
            if (WIFSIGNALED(wst)) {
                rs->status = 1;
                snprintf(rs->why, sizeof rs->why, WTERMSIG(wst) == SIGALRM ? "timeout after %lds" : "crashed (signal %ld)",
                         WTERMSIG(wst) == SIGALRM ? timeout : (long)WTERMSIG(wst));
            } else if (WEXITSTATUS(wst) == 0) {
                rs->status = is_nc(names[k]) ? 2 : 0;
                rs->why[0] = 0;
            } else {
                rs->status = 1;
                snprintf(rs->why, sizeof rs->why, "%s", got ? buf : "failed (exit status)");
            }
            if (rs->status == 0) passed++;
            else if (rs->status == 2) nc++;
            else failed++;
            if (rs->status == 1 || verbose)
                printf("%s %s/%s%s%s\n", rs->status == 0 ? "PASS" : rs->status == 2 ? "NC  " : "FAIL", suite,
                       rs->name, rs->why[0] ? ": " : "", rs->why);
            free(names[k]);
        }
        free(names);
    }
    if (status_path) {
        FILE *f = fopen(status_path, "w");
        if (f) {
            fprintf(f, "# ONNX backend conformance status\n\n"
                       "Generated by `em_conformance` (tests/conformance/runner.c) over Debian's "
                       "libonnx-testdata (ONNX 1.12).\n"
                       "Rule: dtypes equal, strings exact, |a-e| <= 1e-7 + 1e-3*|e|, NaN equals NaN.\n\n"
                       "**%d passed, %d failed, %d not comparable (random outputs: shape and dtype checked)** "
                       "of %zu cases.\n\n",
                    passed, failed, nc, nres);
            fprintf(f, "## Failing cases\n\n| suite | case | reason | known cause |\n|---|---|---|---|\n");
            for (size_t i = 0; i < nres; i++) {
                if (res[i].status != 1) continue;
                for (char *p = res[i].why; *p; p++) if (*p == '|' || *p == '\n') *p = '/';
                const char *note = note_for(res[i].name);
                fprintf(f, "| %s | %s | %s | %s |\n", res[i].suite, res[i].name, res[i].why, note ? note : "");
            }
            fprintf(f, "\n## Not comparable\n\n");
            for (size_t i = 0; i < nres; i++)
                if (res[i].status == 2) fprintf(f, "- %s/%s\n", res[i].suite, res[i].name);
            fclose(f);
        }
    }
    printf("%d passed, %d failed, %d not comparable\n", passed, failed, nc);
    free(res);
    if (min_pass >= 0 && passed < min_pass) {
        printf("conformance: %d passed is below the required minimum %ld\n", passed, min_pass);
        return 1;
    }
    return min_pass >= 0 ? 0 : (failed ? 1 : 0);
}
