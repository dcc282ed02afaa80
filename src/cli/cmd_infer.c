/* edgeml infer MODEL --input NAME=FILE.npy [...] --output-dir OUT
 *
 * Runs the model once and writes each graph output to OUT/<output name>.npy
 * (the name verbatim). Outputs are written to temporary files in OUT and
 * renamed at the end; on any failure (or SIGINT/SIGTERM/SIGHUP) everything
 * this run created (temporary files, renamed outputs, directories) is
 * removed. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NAME_MAX
#define NAME_MAX 255
#endif
#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static const char *k_help =
    "usage: edgeml infer MODEL --input NAME=FILE.npy [--input ...] --output-dir OUT\n"
    "                    [--threads T]\n"
    "\n"
    "Runs MODEL (a .onnx file or a directory holding one) once and writes each\n"
    "graph output to OUT/<output name>.npy, the name verbatim. OUT is created if\n"
    "missing. NAME is split from FILE at the first '='.\n"
    "\n"
    "Inputs are NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order):\n"
    "bool, int8..int64, uint8..uint64, float16/32/64; 0-d and empty arrays are\n"
    "fine. String tensors are not supported. bfloat16 has no NumPy dtype: give a\n"
    "bfloat16 input as a '<u2' (uint16) array of raw bfloat16 bits; bfloat16\n"
    "outputs are written the same way.\n"
    "\n"
    "On any error one line 'edgeml: <what>: <why>' goes to stderr, the exit\n"
    "status is 1 (2 for usage errors) and no output file is left behind.\n"
    "\n"
    "options:\n"
    "  --input NAME=FILE.npy  value of graph input NAME (repeat per input)\n"
    "  --output-dir OUT       directory for the outputs\n"
    "  --threads T            threads for the session (0: default)\n"
    "  -h, --help             this help\n";

/* ---- cleanup of what this run created (also from signal handlers) -------- */

#define MAX_CLEAN 16384
static char *g_clean[MAX_CLEAN];      /* paths, in creation order */
static int g_clean_dir[MAX_CLEAN];    /* 1: directory (rmdir), 0: file (unlink) */
static volatile sig_atomic_t g_nclean;

/* Records path (malloc'ed; owned from now on only if 0 is returned). */
static int track(char *path, int is_dir)
{
    if (g_nclean >= MAX_CLEAN)
        return -1;
    g_clean[g_nclean] = path;
    g_clean_dir[g_nclean] = is_dir;
    g_nclean = g_nclean + 1;
    return 0;
}

static void cleanup_all(void)
{
    for (int i = (int)g_nclean - 1; i >= 0; i--) {
        if (g_clean[i]) {
            if (g_clean_dir[i])
                rmdir(g_clean[i]);
            else
                unlink(g_clean[i]);
        }
    }
}

static void forget_all(void)
{
    int n = (int)g_nclean;
    g_nclean = 0;
    for (int i = 0; i < n; i++) {
        free(g_clean[i]);
        g_clean[i] = NULL;
    }
}

static void on_signal(int sig)
{
    cleanup_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* mkdir -p, recording each directory it creates. */
static int make_dirs(const char *out)
{
    size_t n = strlen(out);
    char *p = malloc(n + 1);
    if (!p)
        return cli_error(out, "out of memory");
    memcpy(p, out, n + 1);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = 0;
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0)
            continue;
        if (p[i - 1] == '/')
            continue;
        char saved = p[i];
        p[i] = 0;
        if (mkdir(p, 0777) == 0) {
            char *copy = strdup(p);
            if (!copy || track(copy, 1) != 0) {
                rmdir(p);
                free(copy);
                free(p);
                return cli_error(out, "out of memory");
            }
        } else if (errno != EEXIST) {
            int e = errno;
            p[i] = saved;
            free(p);
            return cli_error(out, "cannot create the output directory: %s", strerror(e));
        }
        p[i] = saved;
    }
    free(p);
    struct stat st;
    if (stat(out, &st) != 0)
        return cli_error(out, "cannot create the output directory: %s", strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cli_error(out, "output directory exists and is not a directory");
    if (access(out, W_OK | X_OK) != 0)
        return cli_error(out, "output directory is not writable: %s", strerror(errno));
    return 0;
}

static char *join(const char *dir, const char *name, const char *suffix)
{
    size_t a = strlen(dir), b = strlen(name), c = strlen(suffix);
    char *p = malloc(a + 1 + b + c + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t o = a;
    if (a == 0 || dir[a - 1] != '/')
        p[o++] = '/';
    memcpy(p + o, name, b);
    memcpy(p + o + b, suffix, c + 1);
    return p;
}

typedef struct out_slot {
    const char *name;
    int skip;           /* duplicate graph output name: written once */
    char *final_path;
    char *tmp_path;
} out_slot;

/* Checks that an output name can be a file name. */
static int check_output_name(const char *name)
{
    char what[400];
    snprintf(what, sizeof what, "output %s", cli_q(name));
    if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return cli_error(what, "the output name cannot be a file name");
    if (strchr(name, '/'))
        return cli_error(what, "the output name contains '/' and cannot be a file name");
    if (strlen(name) + 4 > NAME_MAX)
        return cli_error(what, "the output name is too long for a file name");
    return 0;
}

static int write_output(const char *out_dir, out_slot *o, const edgeml_tensor *t, mode_t mode)
{
    char what[400];
    snprintf(what, sizeof what, "output %s", cli_q(o->name));
    if (t->dtype == EDGEML_STRING)
        return cli_error(what, "string tensors cannot be written as .npy");
    if (!npy_descr(t->dtype))
        return cli_error(what, "dtype %s cannot be written as .npy", edgeml_dtype_name(t->dtype));
    char *tmpl = join(out_dir, ".edgeml-out-XXXXXX", "");
    if (!tmpl)
        return cli_error(what, "out of memory");
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        int e = errno;
        free(tmpl);
        return cli_error(what, "cannot create a file in %s: %s", out_dir, strerror(e));
    }
    if (track(tmpl, 0) != 0) {
        close(fd);
        unlink(tmpl);
        free(tmpl);
        return cli_error(what, "too many outputs");
    }
    o->tmp_path = tmpl;
    if (fchmod(fd, mode) != 0) {
        /* not fatal: the file keeps mode 0600 */
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        return cli_error(what, "%s", strerror(e));
    }
    char why[NPY_WHY_MAX];
    int rc = npy_write(f, 0, t->dtype, t->rank, t->dims, t->data, t->nbytes, why, sizeof why);
    if (fflush(f) != 0 && rc == 0) {
        snprintf(why, sizeof why, "write failed: %s", strerror(errno));
        rc = -1;
    }
    if (fclose(f) != 0 && rc == 0) {
        snprintf(why, sizeof why, "write failed: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        return cli_error(what, "%s", why);
    return 0;
}

int cli_cmd_infer(int argc, char **argv)
{
    const char *cmd = "infer";
    const char *model_path = NULL, *out_dir = NULL;
    int64_t threads = 0;
    cli_inputs inputs = {0};
    int only_positional = 0, rc = CLI_EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        int r;
        if (!only_positional && a[0] == '-' && a[1]) {
            if (strcmp(a, "--") == 0) {
                only_positional = 1;
                continue;
            }
            if (cli_is_help(a)) {
                fputs(k_help, stdout);
                cli_inputs_free(&inputs);
                return CLI_EXIT_OK;
            }
            if ((r = cli_opt_value(argc, argv, &i, "--input", &val, cmd)) != 0) {
                if (r < 0 || (r = cli_inputs_add(&inputs, val, cmd)) != 0) {
                    cli_inputs_free(&inputs);
                    return r < 0 ? CLI_EXIT_USAGE : r;
                }
                continue;
            }
            if ((r = cli_opt_value(argc, argv, &i, "--output-dir", &val, cmd)) != 0) {
                if (r < 0) {
                    cli_inputs_free(&inputs);
                    return CLI_EXIT_USAGE;
                }
                if (out_dir) {
                    cli_inputs_free(&inputs);
                    return cli_usage(cmd, "--output-dir given more than once");
                }
                out_dir = val;
                continue;
            }
            if ((r = cli_opt_value(argc, argv, &i, "--threads", &val, cmd)) != 0) {
                if (r < 0 || cli_parse_i64(val, &threads) != 0 || threads < 0 ||
                    threads > 4096) {
                    cli_inputs_free(&inputs);
                    return r < 0 ? CLI_EXIT_USAGE
                                 : cli_usage(cmd, "--threads expects a count, got %s",
                                             cli_q(val));
                }
                continue;
            }
            cli_inputs_free(&inputs);
            return cli_usage(cmd, "unknown option %s", cli_q(a));
        }
        if (model_path) {
            cli_inputs_free(&inputs);
            return cli_usage(cmd, "unexpected argument %s (one MODEL only)", cli_q(a));
        }
        model_path = a;
    }
    if (!model_path) {
        cli_inputs_free(&inputs);
        return cli_usage(cmd, "missing MODEL");
    }
    if (!out_dir || !out_dir[0]) {
        cli_inputs_free(&inputs);
        return cli_usage(cmd, "missing --output-dir OUT");
    }

    edgeml_model *m = NULL;
    edgeml_session *s = NULL;
    out_slot *outs = NULL;
    size_t nout = 0;
    edgeml_error err;
    memset(&err, 0, sizeof err);

    if (cli_load_model(model_path, &m) != 0)
        goto done;

    /* Outputs: names must be file names, values must be writable as .npy. */
    nout = edgeml_model_num_outputs(m);
    outs = calloc(nout ? nout : 1, sizeof *outs);
    if (!outs) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nout; i++) {
        edgeml_value_info vi;
        if (edgeml_model_output(m, i, &vi) != EDGEML_OK || !vi.name) {
            cli_error(model_path, "cannot read output %zu", i);
            goto done;
        }
        outs[i].name = vi.name;
        if (check_output_name(vi.name) != 0)
            goto done;
        char what[400];
        snprintf(what, sizeof what, "output %s", cli_q(vi.name));
        if (vi.kind != EDGEML_KIND_TENSOR) {
            cli_error(what, "is a %s; only tensors can be written as .npy",
                      vi.kind == EDGEML_KIND_SEQUENCE ? "sequence" : "optional");
            goto done;
        }
        if (vi.dtype == EDGEML_STRING) {
            cli_error(what, "is a string tensor; .npy string outputs are not supported");
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(outs[j].name, vi.name) == 0)
                outs[i].skip = 1;
        if (!outs[i].skip) {
            outs[i].final_path = join(out_dir, vi.name, ".npy");
            if (!outs[i].final_path) {
                cli_error(cmd, "out of memory");
                goto done;
            }
            if (strlen(outs[i].final_path) >= PATH_MAX) {
                cli_error(what, "the output path is too long");
                goto done;
            }
        }
    }
    if (nout == 0) {
        cli_error(model_path, "the model has no outputs");
        goto done;
    }

    if (cli_inputs_load(&inputs, m) != 0 || cli_inputs_check_required(&inputs, m) != 0)
        goto done;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    if (make_dirs(out_dir) != 0)
        goto done;

    edgeml_session_options so = {.threads = (int)threads};
    if (edgeml_session_create(m, &so, &s, &err) != EDGEML_OK) {
        s = NULL;
        cli_error(model_path, "cannot create a session: %s", err.msg);
        goto done;
    }
    if (cli_inputs_set(&inputs, s, EDGEML_INPUT_BORROW) != 0)
        goto done;
    edgeml_status st = edgeml_session_run(s, &err);
    if (st != EDGEML_OK) {
        cli_error(model_path, "%s", err.msg[0] ? err.msg : edgeml_status_str(st));
        goto done;
    }

    mode_t mask = umask(0);
    umask(mask);
    mode_t mode = 0666 & ~mask;
    for (size_t i = 0; i < nout; i++) {
        if (outs[i].skip)
            continue;
        edgeml_tensor t;
        memset(&t, 0, sizeof t);
        st = edgeml_session_output(s, i, &t, &err);
        if (st != EDGEML_OK) {
            char what[400];
            snprintf(what, sizeof what, "output %s", cli_q(outs[i].name));
            cli_error(what, "%s", err.msg[0] ? err.msg : edgeml_status_str(st));
            goto done;
        }
        if (write_output(out_dir, &outs[i], &t, mode) != 0)
            goto done;
    }
    for (size_t i = 0; i < nout; i++) {
        if (outs[i].skip)
            continue;
        /* track the final path before renaming so a signal removes it too */
        char *fp = strdup(outs[i].final_path);
        if (!fp || track(fp, 0) != 0) {
            free(fp);
            cli_error(cmd, "too many outputs");
            goto done;
        }
        if (rename(outs[i].tmp_path, outs[i].final_path) != 0) {
            char what[400];
            snprintf(what, sizeof what, "output %s", cli_q(outs[i].name));
            cli_error(what, "cannot write %s: %s", outs[i].final_path, strerror(errno));
            /* the target was not created by us: do not remove it */
            free(g_clean[g_nclean - 1]);
            g_clean[g_nclean - 1] = NULL;
            goto done;
        }
    }
    rc = CLI_EXIT_OK;

done:
    if (rc != CLI_EXIT_OK)
        cleanup_all();
    {
        /* no more cleanup after this point */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGINT, &dfl, NULL);
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGHUP, &dfl, NULL);
    }
    forget_all();
    if (outs)
        for (size_t i = 0; i < nout; i++)
            free(outs[i].final_path);
    free(outs);
    if (s)
        edgeml_session_free(s);
    cli_inputs_free(&inputs);
    if (m)
        edgeml_model_free(m);
    return rc;
}
