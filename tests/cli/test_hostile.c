/* Hostile-input test of the model loader and executor.
 *
 * usage: test_hostile DATA_DIR [MUTANTS_PER_MODEL [MAX_MODELS [PATH_SUBSTRING]]]
 *
 * To extract mutant K of model M: EDGEML_HOSTILE_TRACE=1 test_hostile DATA K+1 1 M
 * leaves it in $TMPDIR/edgeml-hostile-crash.onnx (the last buffer tried).
 *
 * Takes every model.onnx of DATA_DIR/node and DATA_DIR/simple plus a few of
 * DATA_DIR/pytorch-converted, makes truncated copies (many cut points) and
 * mutated copies (bit flips, byte overwrites, varints set to huge values,
 * insertions, deletions, splices; seeded RNG) and loads each from memory
 * (an exactly sized heap buffer, so ASan sees over-reads). When a mutant
 * loads, a session is created and run on zero inputs of the declared shapes,
 * ignoring errors. The test passes if nothing crashes; on a crash the mutant
 * is written to $TMPDIR/edgeml-hostile-crash.onnx and its origin printed
 * (signals and ASan reports; UBSan reports of gcc builds bypass that: rerun
 * with EDGEML_HOSTILE_TRACE=1, which writes every buffer to that file and
 * names it on stderr before trying it, so the last one is the culprit).
 * Models using Loop/Scan are loaded but not run (a mutated trip count could
 * make a run endless). */
#include <dirent.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "edgeml/infer.h"

/* ---- crash reporting ------------------------------------------------------ */

static const unsigned char *g_cur;
static size_t g_cur_len;
static char g_desc[1024];
static char g_crash_path[512];

static void dump_current(void)
{
    static const char msg[] = "test_hostile: crashed on ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, g_desc, strlen(g_desc)) < 0)
        return;
    int fd = open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t off = 0;
        while (g_cur && off < g_cur_len) {
            ssize_t w = write(fd, g_cur + off, g_cur_len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        close(fd);
        static const char m2[] = "\ntest_hostile: mutant saved to ";
        if (write(2, m2, sizeof m2 - 1) < 0 || write(2, g_crash_path, strlen(g_crash_path)) < 0 ||
            write(2, "\n", 1) < 0)
            return;
    }
}

static void on_crash(int sig)
{
    dump_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

/* ---- RNG -------------------------------------------------------------------- */

static uint64_t g_rng;
static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- model list ---------------------------------------------------------- */

typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

static void push(strvec *s, const char *p)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    s->v[s->n++] = strdup(p);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_models(strvec *out, const char *dir, size_t limit)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    strvec names = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s/model.onnx", dir, e->d_name);
        if (access(p, R_OK) == 0)
            push(&names, p);
    }
    closedir(d);
    qsort(names.v, names.n, sizeof *names.v, cmp_str);
    for (size_t i = 0; i < names.n; i++) {
        if (i < limit)
            push(out, names.v[i]);
        free(names.v[i]);
    }
    free(names.v);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0) {
        fclose(f);
        return NULL;
    }
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* ---- load + run one buffer ---------------------------------------------------- */

static size_t g_loaded, g_ran, g_run_ok, g_total;
static int g_trace;

static int has_op(const edgeml_model_info *info, const char *op)
{
    for (size_t i = 0; i < info->n_op_types; i++)
        if (info->op_counts[i].op_type && strcmp(info->op_counts[i].op_type, op) == 0)
            return 1;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* the slowest buffers, reported at the end */
#define N_SLOW 5
static double g_slow_s[N_SLOW];
static char g_slow_desc[N_SLOW][300];

static void try_buffer_inner(const unsigned char *src, size_t len);
static void try_buffer(const unsigned char *src, size_t len)
{
    double t0 = now_s();
    try_buffer_inner(src, len);
    double dt = now_s() - t0;
    if (dt > g_slow_s[N_SLOW - 1]) {
        int k = N_SLOW - 1;
        while (k > 0 && g_slow_s[k - 1] < dt) {
            g_slow_s[k] = g_slow_s[k - 1];
            memcpy(g_slow_desc[k], g_slow_desc[k - 1], sizeof g_slow_desc[k]);
            k--;
        }
        g_slow_s[k] = dt;
        snprintf(g_slow_desc[k], sizeof g_slow_desc[k], "%s", g_desc);
    }
}

static void try_buffer_inner(const unsigned char *src, size_t len)
{
    /* exactly sized copy: reading past the end is an ASan error */
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf)
        return;
    if (len)
        memcpy(buf, src, len);
    g_cur = buf;
    g_cur_len = len;
    g_total++;
    if (g_trace) {
        FILE *f = fopen(g_crash_path, "wb");
        if (f) {
            if (len && fwrite(buf, 1, len, f) != len)
                fprintf(stderr, "test_hostile: cannot write %s\n", g_crash_path);
            fclose(f);
        }
        fprintf(stderr, "trying %s\n", g_desc);
    }
    edgeml_model *m = NULL;
    edgeml_error err;
    if (edgeml_model_load_memory(buf, len, NULL, &m, &err) != EDGEML_OK) {
        if (err.msg[0] == 0 || memchr(err.msg, 0, sizeof err.msg) == NULL) {
            fprintf(stderr, "test_hostile: load failed without a message on %s\n", g_desc);
            dump_current();
            abort();
        }
        free(buf);
        g_cur = NULL;
        return;
    }
    g_loaded++;
    edgeml_model_info info;
    memset(&info, 0, sizeof info);
    edgeml_model_get_info(m, &info);
    /* the accessors must work on anything that loaded */
    for (size_t i = 0; i < edgeml_model_num_outputs(m); i++) {
        edgeml_value_info vi;
        (void)edgeml_model_output(m, i, &vi);
    }
    if (!has_op(&info, "Loop") && !has_op(&info, "Scan")) {
        edgeml_session *s = NULL;
        edgeml_session_options so = {.threads = 1};
        if (edgeml_session_create(m, &so, &s, &err) == EDGEML_OK) {
            void *zeros = NULL;
            size_t nin = edgeml_model_num_inputs(m);
            for (size_t i = 0; i < nin; i++) {
                edgeml_value_info vi;
                if (edgeml_model_input(m, i, &vi) != EDGEML_OK || vi.kind != EDGEML_KIND_TENSOR ||
                    vi.rank < 0 || vi.rank > 16)
                    continue;
                int64_t dims[16];
                uint64_t numel = 1;
                for (int d = 0; d < vi.rank; d++) {
                    dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
                    if (dims[d] > (1 << 20))
                        numel = UINT64_MAX;
                    else if (numel != UINT64_MAX)
                        numel *= (uint64_t)dims[d];
                    if (numel > (1u << 20))
                        numel = UINT64_MAX;
                }
                if (numel == UINT64_MAX)
                    continue;
                size_t es = vi.dtype == EDGEML_STRING ? sizeof(edgeml_string)
                                                      : edgeml_dtype_size(vi.dtype);
                if (es == 0)
                    continue;
                free(zeros);
                zeros = calloc(numel ? numel : 1, es);
                if (!zeros)
                    continue;
                if (vi.dtype == EDGEML_STRING)
                    for (size_t k = 0; k < numel; k++)
                        ((edgeml_string *)zeros)[k].data = "";
                if (edgeml_session_set_input(s, vi.name, vi.dtype, vi.rank, dims, zeros,
                                             numel * es, EDGEML_INPUT_COPY, &err) != EDGEML_OK) {
                    /* ignored: a bad input just makes the run fail */
                }
            }
            free(zeros);
            g_ran++;
            if (edgeml_session_run(s, &err) == EDGEML_OK) {
                g_run_ok++;
                for (size_t i = 0; i < edgeml_model_num_outputs(m); i++) {
                    edgeml_tensor t;
                    if (edgeml_session_output(s, i, &t, &err) != EDGEML_OK) {
                        /* ignored */
                    }
                }
            }
            edgeml_session_free(s);
        }
    }
    edgeml_model_free(m);
    free(buf);
    g_cur = NULL;
}

/* ---- mutations ------------------------------------------------------------- */

static const uint8_t k_interesting8[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x10, 0x12, 0x1a,
                                        0x22, 0x3a, 0x40};

static size_t mutate(unsigned char *b, size_t len, size_t cap, const unsigned char *orig,
                     size_t olen)
{
    int ops = 1 + (int)rnd_below(3);
    for (int k = 0; k < ops; k++) {
        size_t p = rnd_below(len ? len : 1);
        switch (rnd_below(8)) {
        case 0: /* bit flip */
            if (len)
                b[p] ^= (unsigned char)(1u << rnd_below(8));
            break;
        case 1: /* random byte */
            if (len)
                b[p] = (unsigned char)rnd();
            break;
        case 2: /* interesting byte */
            if (len)
                b[p] = k_interesting8[rnd_below(sizeof k_interesting8)];
            break;
        case 3: { /* huge varint (a length, a count, a dim, a dtype...) */
            static const unsigned char huge[][10] = {
                {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, /* 2^64-1 */
                {0xff, 0xff, 0xff, 0xff, 0x07, 0, 0, 0, 0, 0},                /* 2^31-1 */
                {0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0, 0, 0},                /* 2^32 */
                {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, /* -2 */
                {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, /* 2^63 */
            };
            size_t h = rnd_below(5);
            size_t n = (h == 1 || h == 2) ? 5 : 10;
            /* aim at a varint: start after a tag-like byte if one is near */
            for (size_t i = 0; i < n && p + i < cap; i++) {
                if (p + i >= len)
                    len = p + i + 1;
                b[p + i] = huge[h][i];
            }
            break;
        }
        case 4: { /* insert random bytes */
            size_t n = 1 + rnd_below(8);
            if (len + n > cap)
                break;
            memmove(b + p + n, b + p, len - p);
            for (size_t i = 0; i < n; i++)
                b[p + i] = (unsigned char)rnd();
            len += n;
            break;
        }
        case 5: { /* delete a range */
            size_t n = 1 + rnd_below(16);
            if (p + n > len)
                n = len - p;
            memmove(b + p, b + p + n, len - p - n);
            len -= n;
            break;
        }
        case 6: { /* splice a chunk of the original elsewhere */
            if (!olen)
                break;
            size_t s = rnd_below(olen), n = 1 + rnd_below(32);
            if (s + n > olen)
                n = olen - s;
            if (p + n > cap)
                break;
            memcpy(b + p, orig + s, n);
            if (p + n > len)
                len = p + n;
            break;
        }
        default: { /* 32-bit interesting value (fixed32 floats, raw data) */
            static const uint32_t v32[] = {0xffffffffu, 0x7fffffffu, 0x80000000u, 0x7fc00000u,
                                           0x7f800000u, 0};
            uint32_t v = v32[rnd_below(6)];
            if (p + 4 <= len)
                memcpy(b + p, &v, 4);
            break;
        }
        }
    }
    return len;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_hostile DATA_DIR [MUTANTS_PER_MODEL [MAX_MODELS [PATH_SUBSTRING]]]\n");
        return 2;
    }
    const char *data = argv[1];
    long mutants = argc > 2 ? atol(argv[2]) : 200;
    long max_models = argc > 3 ? atol(argv[3]) : 100000;
    const char *filter = argc > 4 ? argv[4] : NULL;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_crash_path, sizeof g_crash_path, "%s/edgeml-hostile-crash.onnx",
             tmp && *tmp ? tmp : "/tmp");
    g_trace = getenv("EDGEML_HOSTILE_TRACE") != NULL;
    /* A mutated attribute can legitimately ask for a huge output (a pad of
     * 2^28 makes a 2 GB Conv output that takes a minute to compute): cap the
     * address space so such allocations fail fast with EDGEML_E_NOMEM. ASan
     * needs its huge shadow mapping: there max_allocation_size_mb (set by the
     * ctest environment) does the same. EDGEML_HOSTILE_AS_MB=0 disables. */
    int asan = 0;
#if defined(__SANITIZE_ADDRESS__)
    asan = 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    asan = 1;
#endif
#endif
    long as_mb = getenv("EDGEML_HOSTILE_AS_MB") ? atol(getenv("EDGEML_HOSTILE_AS_MB")) : 2048;
    if (!asan && as_mb > 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_AS, &rl) == 0 &&
            (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)as_mb << 20)) {
            rl.rlim_cur = (rlim_t)as_mb << 20;
            if (setrlimit(RLIMIT_AS, &rl) != 0)
                perror("test_hostile: setrlimit");
        }
    }
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(dump_current);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGILL, on_crash);

    strvec models = {0};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/node", data);
    list_models(&models, dir, (size_t)-1);
    snprintf(dir, sizeof dir, "%s/simple", data);
    list_models(&models, dir, (size_t)-1);
    snprintf(dir, sizeof dir, "%s/pytorch-converted", data);
    list_models(&models, dir, 40);
    if (filter) {
        size_t k = 0;
        for (size_t i = 0; i < models.n; i++) {
            if (strstr(models.v[i], filter))
                models.v[k++] = models.v[i];
            else
                free(models.v[i]);
        }
        models.n = k;
    }
    if (models.n == 0) {
        fprintf(stderr, "test_hostile: no models under %s: skipped\n", data);
        return 77;
    }
    size_t n_models = models.n;
    if ((long)n_models > max_models)
        n_models = (size_t)max_models;

    clock_t t0 = clock();
    size_t originals_ok = 0;
    for (size_t mi = 0; mi < n_models; mi++) {
        size_t len;
        unsigned char *orig = read_file(models.v[mi], &len);
        if (!orig)
            continue;
        g_rng = hash_str(models.v[mi]);
        snprintf(g_desc, sizeof g_desc, "%s (original)", models.v[mi]);
        size_t before = g_loaded;
        try_buffer(orig, len);
        originals_ok += g_loaded > before;
        /* truncations: every cut in the first 64 bytes and the last 16, and
         * about 48 spread over the rest */
        size_t step = len > 48 ? len / 48 : 1;
        for (size_t cut = 0; cut < len; cut++) {
            if (cut >= 64 && cut + 16 < len && cut % step != 0)
                continue;
            snprintf(g_desc, sizeof g_desc, "%s truncated to %zu bytes", models.v[mi], cut);
            try_buffer(orig, cut);
        }
        size_t cap = len + 256;
        unsigned char *b = malloc(cap);
        for (long k = 0; b && k < mutants; k++) {
            memcpy(b, orig, len);
            size_t n = mutate(b, len, cap, orig, len);
            snprintf(g_desc, sizeof g_desc, "%s mutant %ld", models.v[mi], k);
            try_buffer(b, n);
        }
        free(b);
        free(orig);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("test_hostile: %zu models (%zu load unmodified), %zu buffers: %zu loaded, %zu ran, "
           "%zu ran ok; %.1f s CPU\n",
           n_models, originals_ok, g_total, g_loaded, g_ran, g_run_ok, secs);
    for (int k = 0; k < N_SLOW && g_slow_s[k] > 0; k++)
        printf("  slowest: %.3f s  %s\n", g_slow_s[k], g_slow_desc[k]);
    for (size_t i = 0; i < models.n; i++)
        free(models.v[i]);
    free(models.v);
    return 0;
}
