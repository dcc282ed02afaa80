/* edgeml bench MODEL [--input NAME=FILE.npy ...] [--dim SYMBOL=V] [--runs N]
 *                    [--warmup N] [--threads T] [--json] */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *k_help =
    "usage: edgeml bench MODEL [--input NAME=FILE.npy ...] [--dim SYMBOL=V ...]\n"
    "                    [--runs N] [--warmup N] [--threads T] [--json]\n"
    "\n"
    "Loads MODEL, then times edgeml_session_run: prints the load and session\n"
    "creation times, the median, min and p90 (nearest rank) run latency, the\n"
    "peak RSS of the process (VmHWM), the session's planned arena bytes and the\n"
    "threads its kernels use.\n"
    "Inputs not given with --input get random data from a fixed seed: floats in\n"
    "[-1, 1), integers in [0, 8), bools 0/1, strings \"x\"; symbolic dims come\n"
    "from --dim SYMBOL=V, else 1. (.npy conventions: see 'edgeml infer --help'.)\n"
    "\n"
    "options:\n"
    "  --input NAME=FILE.npy  value of graph input NAME\n"
    "  --dim SYMBOL=V         value of a symbolic dimension (default 1)\n"
    "  --runs N               timed runs (default 10)\n"
    "  --warmup N             untimed runs first (default 2)\n"
    "  --threads T            threads for the session (0: default)\n"
    "  --json                 print one JSON object: load_ms, session_ms,\n"
    "                         first_run_ms, median_ms, min_ms, p90_ms, max_ms,\n"
    "                         mean_ms, runs, warmup, threads, threads_requested,\n"
    "                         peak_rss_kb, rss_loaded_kb, arena_bytes\n"
    "  -h, --help             this help\n";

typedef struct dim_def {
    const char *name;
    size_t name_len;
    int64_t value;
} dim_def;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A "Vm...:  N kB" line of /proc/self/status (VmHWM: peak resident set; VmRSS: now), in kB;
 * -1 where /proc is not there. */
static long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t kl = strlen(key);
    long v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_float(void) /* [-1, 1) */
{
    return (float)((double)(rng_next() >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

static uint16_t f32_to_f16(float f)
{
    /* values in [-1, 1): normal or subnormal halves; round to nearest even */
    union { float f; uint32_t u; } v = {f};
    uint32_t sign = (v.u >> 16) & 0x8000u;
    uint32_t exp = (v.u >> 23) & 0xffu;
    uint32_t man = v.u & 0x7fffffu;
    if (exp < 103) /* |f| < 2^-24: zero */
        return (uint16_t)sign;
    if (exp < 113) { /* subnormal half */
        man |= 0x800000u;
        int shift = (int)(126 - exp);
        uint32_t h = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    if (exp > 142)
        return (uint16_t)(sign | 0x7c00u);
    uint32_t h = ((exp - 112) << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

static uint16_t f32_to_bf16(float f)
{
    union { float f; uint32_t u; } v = {f};
    uint32_t r = v.u + 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(r >> 16);
}

static const char k_x[] = "x";

static void fill_random(void *data, edgeml_dtype dt, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case EDGEML_FLOAT: ((float *)data)[i] = rng_float(); break;
        case EDGEML_DOUBLE: ((double *)data)[i] = rng_float(); break;
        case EDGEML_FLOAT16: ((uint16_t *)data)[i] = f32_to_f16(rng_float()); break;
        case EDGEML_BFLOAT16: ((uint16_t *)data)[i] = f32_to_bf16(rng_float()); break;
        case EDGEML_BOOL: ((uint8_t *)data)[i] = (uint8_t)(rng_next() & 1); break;
        case EDGEML_INT8: case EDGEML_UINT8: ((uint8_t *)data)[i] = (uint8_t)(rng_next() & 7); break;
        case EDGEML_INT16: case EDGEML_UINT16:
            ((uint16_t *)data)[i] = (uint16_t)(rng_next() & 7); break;
        case EDGEML_INT32: case EDGEML_UINT32:
            ((uint32_t *)data)[i] = (uint32_t)(rng_next() & 7); break;
        case EDGEML_INT64: case EDGEML_UINT64:
            ((uint64_t *)data)[i] = rng_next() & 7; break;
        case EDGEML_STRING:
            ((edgeml_string *)data)[i].data = k_x;
            ((edgeml_string *)data)[i].len = 1;
            break;
        default: break;
        }
    }
}

typedef struct rand_input {
    const char *name;
    edgeml_dtype dtype;
    int rank;
    int64_t dims[64];
    void *data;
    size_t nbytes;
} rand_input;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Makes random data for every model input not given with --input. */
static int make_random_inputs(const edgeml_model *m, const cli_inputs *given,
                              const dim_def *dims, size_t ndims, rand_input **outp, size_t *nout)
{
    size_t n = edgeml_model_num_inputs(m);
    rand_input *r = calloc(n ? n : 1, sizeof *r);
    *outp = r;
    *nout = 0;
    if (!r)
        return cli_error("bench", "out of memory");
    for (size_t i = 0; i < n; i++) {
        edgeml_value_info vi;
        if (edgeml_model_input(m, i, &vi) != EDGEML_OK)
            continue;
        if (cli_inputs_find(given, vi.name) || vi.has_default)
            continue; /* given, or the model's initializer is its value */
        char what[400];
        snprintf(what, sizeof what, "input %s", cli_q(vi.name));
        if (vi.kind != EDGEML_KIND_TENSOR)
            return cli_error(what, "is a %s; bench can only make random tensors",
                             vi.kind == EDGEML_KIND_SEQUENCE ? "sequence" : "optional");
        if (vi.rank < 0)
            return cli_error(what, "the model does not declare its shape; give it with --input");
        if (vi.rank > 64)
            return cli_error(what, "rank %d is too large", vi.rank);
        size_t es = edgeml_dtype_size(vi.dtype);
        if (vi.dtype == EDGEML_STRING)
            es = sizeof(edgeml_string);
        if (es == 0)
            return cli_error(what, "dtype %s is not supported; give it with --input",
                             edgeml_dtype_name(vi.dtype));
        rand_input *x = &r[(*nout)++];
        x->name = vi.name;
        x->dtype = vi.dtype;
        x->rank = vi.rank;
        size_t numel = 1;
        for (int d = 0; d < vi.rank; d++) {
            int64_t v = vi.dims[d];
            if (v < 0) {
                v = 1;
                const char *sym = vi.dim_names ? vi.dim_names[d] : NULL;
                for (size_t k = 0; sym && k < ndims; k++)
                    if (strlen(sym) == dims[k].name_len &&
                        memcmp(sym, dims[k].name, dims[k].name_len) == 0)
                        v = dims[k].value;
            }
            x->dims[d] = v;
            if (v != 0 && numel > SIZE_MAX / (uint64_t)v)
                return cli_error(what, "shape too large");
            numel *= (size_t)v;
        }
        if (numel > SIZE_MAX / es)
            return cli_error(what, "shape too large");
        x->nbytes = numel * es;
        if (posix_memalign(&x->data, 64, x->nbytes ? x->nbytes : 1) != 0) {
            x->data = NULL;
            return cli_error(what, "out of memory for %zu bytes", x->nbytes);
        }
        fill_random(x->data, x->dtype, numel);
        if (x->dtype == EDGEML_STRING)
            x->nbytes = numel * sizeof(edgeml_string);
    }
    return 0;
}

static int set_all(edgeml_session *s, const cli_inputs *given, const rand_input *r, size_t nr)
{
    if (cli_inputs_set(given, s, EDGEML_INPUT_BORROW) != 0)
        return CLI_EXIT_FAIL;
    for (size_t i = 0; i < nr; i++) {
        edgeml_error err;
        memset(&err, 0, sizeof err);
        edgeml_status st = edgeml_session_set_input(s, r[i].name, r[i].dtype, r[i].rank,
                                                    r[i].dims, r[i].data, r[i].nbytes,
                                                    EDGEML_INPUT_BORROW, &err);
        if (st != EDGEML_OK) {
            char what[400];
            snprintf(what, sizeof what, "input %s", cli_q(r[i].name));
            return cli_error(what, "%s", err.msg[0] ? err.msg : edgeml_status_str(st));
        }
    }
    return 0;
}

int cli_cmd_bench(int argc, char **argv)
{
    const char *cmd = "bench", *path = NULL;
    int json = 0, only_pos = 0, rc = CLI_EXIT_FAIL;
    int64_t runs = 10, warmup = 2, threads = 0;
    cli_inputs given = {0};
    dim_def *dims = NULL;
    size_t ndims = 0;
    rand_input *rnd = NULL;
    size_t nrnd = 0;
    double *lat = NULL;
    edgeml_model *m = NULL;
    edgeml_session *s = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        int r;
        if (!only_pos && a[0] == '-' && a[1]) {
            if (strcmp(a, "--") == 0) {
                only_pos = 1;
                continue;
            }
            if (cli_is_help(a)) {
                fputs(k_help, stdout);
                rc = CLI_EXIT_OK;
                goto done;
            }
            if (strcmp(a, "--json") == 0) {
                json = 1;
                continue;
            }
            if ((r = cli_opt_value(argc, argv, &i, "--input", &val, cmd)) != 0) {
                if (r < 0) {
                    rc = CLI_EXIT_USAGE;
                    goto done;
                }
                if ((rc = cli_inputs_add(&given, val, cmd)) != 0)
                    goto done;
                rc = CLI_EXIT_FAIL;
                continue;
            }
            if ((r = cli_opt_value(argc, argv, &i, "--dim", &val, cmd)) != 0) {
                if (r < 0) {
                    rc = CLI_EXIT_USAGE;
                    goto done;
                }
                const char *eq = strchr(val, '=');
                int64_t v;
                if (!eq || eq == val || cli_parse_i64(eq + 1, &v) != 0 || v < 0) {
                    rc = cli_usage(cmd, "--dim expects SYMBOL=V with V >= 0, got %s", cli_q(val));
                    goto done;
                }
                dim_def *nd = realloc(dims, (ndims + 1) * sizeof *nd);
                if (!nd) {
                    cli_error(cmd, "out of memory");
                    goto done;
                }
                dims = nd;
                dims[ndims].name = val;
                dims[ndims].name_len = (size_t)(eq - val);
                dims[ndims].value = v;
                ndims++;
                continue;
            }
            int64_t *target = NULL;
            const char *oname = NULL;
            int64_t lo = 0;
            if ((r = cli_opt_value(argc, argv, &i, "--runs", &val, cmd)) != 0) {
                target = &runs, oname = "--runs", lo = 1;
            } else if ((r = cli_opt_value(argc, argv, &i, "--warmup", &val, cmd)) != 0) {
                target = &warmup, oname = "--warmup", lo = 0;
            } else if ((r = cli_opt_value(argc, argv, &i, "--threads", &val, cmd)) != 0) {
                target = &threads, oname = "--threads", lo = 0;
            }
            if (target) {
                if (r < 0) {
                    rc = CLI_EXIT_USAGE;
                    goto done;
                }
                int64_t v;
                if (cli_parse_i64(val, &v) != 0 || v < lo || v > 10000000) {
                    rc = cli_usage(cmd, "%s expects an integer >= %lld, got %s", oname,
                                   (long long)lo, cli_q(val));
                    goto done;
                }
                *target = v;
                continue;
            }
            rc = cli_usage(cmd, "unknown option %s", cli_q(a));
            goto done;
        }
        if (path) {
            rc = cli_usage(cmd, "unexpected argument %s (one MODEL only)", cli_q(a));
            goto done;
        }
        path = a;
    }
    if (!path) {
        rc = cli_usage(cmd, "missing MODEL");
        goto done;
    }
    if (threads > 4096) {
        rc = cli_usage(cmd, "--threads %lld is too many", (long long)threads);
        goto done;
    }

    double t0 = now_ms();
    if (cli_load_model(path, &m) != 0)
        goto done;
    double load_ms = now_ms() - t0;
    long rss_loaded_kb = proc_status_kb("VmRSS");

    if (cli_inputs_load(&given, m) != 0)
        goto done;
    if (make_random_inputs(m, &given, dims, ndims, &rnd, &nrnd) != 0)
        goto done;

    edgeml_error err;
    memset(&err, 0, sizeof err);
    edgeml_session_options so = {.threads = (int)threads};
    t0 = now_ms();
    if (edgeml_session_create(m, &so, &s, &err) != EDGEML_OK) {
        s = NULL;
        cli_error(path, "cannot create a session: %s", err.msg);
        goto done;
    }
    double session_ms = now_ms() - t0;

    lat = malloc((size_t)runs * sizeof *lat);
    if (!lat) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    double first_ms = 0;
    for (int64_t k = 0; k < warmup + runs; k++) {
        if (set_all(s, &given, rnd, nrnd) != 0)
            goto done;
        double a = now_ms();
        edgeml_status st = edgeml_session_run(s, &err);
        double dt = now_ms() - a;
        if (st != EDGEML_OK) {
            cli_error(path, "%s", err.msg[0] ? err.msg : edgeml_status_str(st));
            goto done;
        }
        if (k == 0)
            first_ms = dt;
        if (k >= warmup)
            lat[k - warmup] = dt;
    }
    double sum = 0;
    for (int64_t k = 0; k < runs; k++)
        sum += lat[k];
    qsort(lat, (size_t)runs, sizeof *lat, cmp_double);
    size_t n = (size_t)runs;
    double median = n % 2 ? lat[n / 2] : 0.5 * (lat[n / 2 - 1] + lat[n / 2]);
    size_t p90i = (size_t)ceil(0.9 * (double)n);
    if (p90i < 1)
        p90i = 1;
    double p90 = lat[p90i - 1];
    long peak_kb = proc_status_kb("VmHWM");
    if (peak_kb < 0) {
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        getrusage(RUSAGE_SELF, &ru);
        peak_kb = ru.ru_maxrss;
    }
    size_t arena = edgeml_session_arena_bytes(s);
    int used_threads = edgeml_session_threads(s);

    if (json) {
        printf("{\"model\": ");
        cli_json_str(stdout, path);
        printf(", \"load_ms\": %.6f, \"session_ms\": %.6f, \"first_run_ms\": %.6f, "
               "\"median_ms\": %.6f, \"min_ms\": %.6f, \"p90_ms\": %.6f, \"max_ms\": %.6f, "
               "\"mean_ms\": %.6f, \"runs\": %lld, \"warmup\": %lld, \"threads\": %d, "
               "\"threads_requested\": %lld, \"peak_rss_kb\": %ld, \"rss_loaded_kb\": %ld, "
               "\"arena_bytes\": %zu, \"version\": ",
               load_ms, session_ms, first_ms, median, lat[0], p90, lat[n - 1], sum / (double)n,
               (long long)runs, (long long)warmup, used_threads, (long long)threads, peak_kb,
               rss_loaded_kb, arena);
        cli_json_str(stdout, edgeml_version());
        printf("}\n");
    } else {
        printf("model:       %s\n", path);
        printf("load:        %.4f ms\n", load_ms);
        printf("session:     %.4f ms\n", session_ms);
        printf("first run:   %.4f ms\n", first_ms);
        printf("runs:        %lld (after %lld warmup)\n", (long long)runs, (long long)warmup);
        printf("median:      %.4f ms\n", median);
        printf("min:         %.4f ms\n", lat[0]);
        printf("p90:         %.4f ms\n", p90);
        printf("max:         %.4f ms\n", lat[n - 1]);
        printf("mean:        %.4f ms\n", sum / (double)n);
        printf("peak RSS:    %ld kB (after load: %ld kB)\n", peak_kb, rss_loaded_kb);
        printf("arena:       %zu bytes\n", arena);
        printf("threads:     %d (requested %lld)\n", used_threads, (long long)threads);
    }
    fflush(stdout);
    rc = ferror(stdout) ? cli_error(cmd, "cannot write to stdout") : CLI_EXIT_OK;

done:
    if (s)
        edgeml_session_free(s);
    if (m)
        edgeml_model_free(m);
    for (size_t i = 0; i < nrnd; i++)
        free(rnd[i].data);
    free(rnd);
    free(lat);
    free(dims);
    cli_inputs_free(&given);
    return rc;
}
