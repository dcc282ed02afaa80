/* edgeml deploy GROUP.json [--root DIR] [--keep N]: makes the device converge
 * on a group definition's ML resources (src/deploy/dep_deploy.h). */
#include "cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dep_deploy.h"
#include "group.h"
#include "proto.h"

#define DEFAULT_ROOT "/var/lib/edgeml"

static void help(void)
{
    printf("usage: edgeml deploy GROUP.json [--root DIR] [--keep N] [--parallel N]\n"
           "                     [--allow-run-as-root]\n\n"
           "Validates the group definition (as 'edgeml validate'), then fetches every ML\n"
           "resource (S3MachineLearningModelResourceData: s3://, http(s)://, file:// or a path;\n"
           "SageMakerMachineLearningModelResourceData: a training job ARN) and every function's\n"
           "code package (FunctionConfiguration.EdgemlCode.Uri) into DIR's store, and only when\n"
           "all are ready makes DIR/resources/<Id> and DIR/code/<FunctionId> point at the new\n"
           "versions and DIR/group.json hold the document. Unchanged sources transfer and\n"
           "unpack nothing. One deployment at a time per DIR. When a core runs on DIR\n"
           "('edgeml core'), it is told to apply the new deployment: functions whose\n"
           "configuration, code or resources changed restart.\n\n"
           "  --root DIR      deployment root (default " DEFAULT_ROOT ")\n"
           "  --keep N        previous versions kept per resource (default 1)\n"
           "  --parallel N    resources fetched at the same time (default 4, at most 16)\n"
           "  --allow-run-as-root  accept RunAs Uid/Gid 0 (the core must allow it too)\n\n"
           "Progress (bytes, rate, phase per resource) is shown when stderr is a terminal.\n"
           "Exit status: 0 success, 1 failure (the reason on stderr), 2 usage error.\n");
}


/* ---- progress on a terminal ---- */

typedef struct prog_row {
    dep_phase ph;
    uint64_t bytes, total;
    double rate;
} prog_row;

typedef struct prog {
    const dep_resource *res;
    prog_row *rows;
    size_t n;
    int tty, drawn;
    double last;
} prog;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(uint64_t b, char *out, size_t cap)
{
    if (b >= (1u << 30))
        snprintf(out, cap, "%.2f GiB", (double)b / (1u << 30));
    else if (b >= (1u << 20))
        snprintf(out, cap, "%.1f MiB", (double)b / (1u << 20));
    else if (b >= 1024)
        snprintf(out, cap, "%.1f KiB", (double)b / 1024);
    else
        snprintf(out, cap, "%llu B", (unsigned long long)b);
}

static void prog_draw(prog *p)
{
    if (p->drawn)
        fprintf(stderr, "\033[%zuA", p->n);
    for (size_t i = 0; i < p->n; i++) {
        const prog_row *r = &p->rows[i];
        char b[32], t[32] = "", rt[40] = "";
        human(r->bytes, b, sizeof b);
        if (r->total)
            human(r->total, t, sizeof t);
        if (r->ph == DEP_PH_FETCH && r->rate > 0) {
            char x[32];
            human((uint64_t)r->rate, x, sizeof x);
            snprintf(rt, sizeof rt, "  %s/s", x);
        }
        fprintf(stderr, "\r\033[K  %-24.24s %-10s %s%s%s%s\n", cli_esc(p->res[i].id),
                dep_phase_name(r->ph), b, r->total ? " / " : "", t, rt);
    }
    fflush(stderr);
    p->drawn = 1;
    p->last = now_s();
}

static void prog_cb(void *ctx, size_t idx, dep_phase ph, uint64_t bytes, uint64_t total,
                    double rate)
{
    prog *p = ctx;
    if (idx >= p->n)
        return;
    prog_row *r = &p->rows[idx];
    int changed = r->ph != ph;
    r->ph = ph;
    if (ph != DEP_PH_FAILED) {
        r->bytes = bytes;
        r->total = total;
        r->rate = rate;
    }
    if (p->tty && (changed || now_s() - p->last >= 0.2))
        prog_draw(p);
}

/* Tells a core running on root to apply the new deployment and prints its
 * answer. No core: says so (the deployment stands; a core applies it when it
 * starts). */
static int notify_core(const char *root)
{
    char sock[4096];
    if (snprintf(sock, sizeof sock, "%s/%s", root, IPC_SOCK_NAME) >= (int)sizeof sock)
        return CLI_EXIT_OK;
    int fd = ipc_connect(sock);
    if (fd < 0) {
        printf("no core running on %s: functions start when 'edgeml core --root %s' does\n",
               cli_esc(root), cli_esc(root));
        return CLI_EXIT_OK;
    }
    char gp[4200];
    snprintf(gp, sizeof gp, "%s/group.json", root);
    ipc_field f = ipc_str(gp);
    ipc_hdr h;
    uint8_t *body = NULL;
    ipc_field r[IPC_MAX_FIELDS];
    int rc = CLI_EXIT_OK;
    if (ipc_send(fd, IPC_CTL_DEPLOY, 0, 1, &f, 1) < 0 || ipc_recv(fd, 30000, &h, &body, r) < 0) {
        rc = cli_error(root, "deployed, but the core did not take it: %s (restart the core)",
                       strerror(errno));
    } else if (h.type != IPC_CTL_REPLY || h.nf < 1) {
        rc = cli_error(root, "deployed, but the core answered %s", ipc_type_name(h.type));
    } else {
        char *line = ipc_field_dup(r[0]);
        if (h.flags & IPC_F_ERROR)
            rc = cli_error(root, "deployed, but the core could not apply it: %s",
                           line ? line : "?");
        else
            printf("core: %s\n", line ? cli_esc(line) : "?");
        free(line);
    }
    free(body);
    close(fd);
    return rc;
}

/* Deploys the validated group g (doc: its bytes, for ROOT/group.json): its ML
 * resources and functions' code packages; then tells a running core. */
static int run_deploy(const char *path, const char *root, unsigned keep, unsigned par,
                      const char *doc, size_t len, const grp_group *g)
{
    size_t cap = g->n_resources + g->n_functions + 1;
    dep_resource *res = calloc(cap, sizeof *res);
    prog_row *rows = calloc(cap, sizeof *rows);
    int rc = CLI_EXIT_OK;
    if (!res || !rows) {
        rc = cli_error(path, "out of memory");
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < g->n_resources; i++) {
        const grp_resource *r = &g->resources[i];
        if (r->kind != GRP_RES_S3_MODEL && r->kind != GRP_RES_SAGEMAKER_MODEL)
            continue;
        dep_resource *d = &res[n++];
        d->id = r->id;
        d->source = r->source;
        d->sha256 = r->sha256;
        if (r->owner.present) {
            d->group_owner = r->owner.group_owner;
            d->permission = r->owner.group_permission == GRP_PERM_RW   ? "rw"
                            : r->owner.group_permission == GRP_PERM_RO ? "ro"
                                                                       : NULL;
        }
    }
    size_t n_models = n;
    for (size_t i = 0; i < g->n_functions; i++) {
        const grp_function *f = &g->functions[i];
        if (!f->code_uri)
            continue;
        dep_resource *d = &res[n++];
        d->id = f->id;
        d->source = f->code_uri;
        d->sha256 = f->code_sha256;
        d->code = 1;
    }
    prog pr = {res, rows, n, isatty(2) && n, 0, 0};
    dep_deploy_opts o = {0};
    o.root = root;
    o.group_path = path;
    o.res = res;
    o.n_res = n;
    o.keep = keep;
    o.parallel = par;
    o.progress = prog_cb;
    o.ctx = &pr;
    o.doc = doc;
    o.doc_len = len;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = cli_error(path, "cannot initialise libcurl");
        goto out;
    }
    int64_t id = 0;
    dep_err e = {{0}};
    dep_status st = dep_deploy(&o, &id, &e);
    if (pr.tty && pr.drawn)
        prog_draw(&pr);
    curl_global_cleanup();
    if (st) {
        rc = cli_error(path, "%s", e.msg[0] ? e.msg : dep_strerror(st));
    } else {
        size_t unchanged = 0;
        for (size_t i = 0; i < n; i++)
            unchanged += rows[i].ph == DEP_PH_UNCHANGED;
        printf("%s: deployment #%lld: Success: %zu ML resource%s, %zu code package%s "
               "(%zu unchanged) under %s\n",
               cli_esc(path), (long long)id, n_models, n_models == 1 ? "" : "s", n - n_models,
               n - n_models == 1 ? "" : "s", unchanged, cli_esc(root));
        fflush(stdout);
        rc = notify_core(root);
    }
out:
    free(res);
    free(rows);
    return rc;
}

int cli_cmd_deploy(int argc, char **argv)
{
    const char *path = NULL, *root = DEFAULT_ROOT, *v;
    int64_t keep = 1, par = 4;
    grp_options gopt = {0};
    for (int i = 1; i < argc; i++) {
        int m;
        if (cli_is_help(argv[i])) {
            help();
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--allow-run-as-root") == 0) {
            gopt.allow_run_as_root = 1;
            continue;
        }
        if ((m = cli_opt_root(argc, argv, &i, "deploy", &root))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
        } else if ((m = cli_opt_value(argc, argv, &i, "--keep", &v, "deploy"))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (cli_parse_i64(v, &keep) || keep < 0 || keep > 64)
                return cli_usage("deploy", "--keep wants 0..64, not %s", cli_q(v));
        } else if ((m = cli_opt_value(argc, argv, &i, "--parallel", &v, "deploy"))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (cli_parse_i64(v, &par) || par < 1 || par > 16)
                return cli_usage("deploy", "--parallel wants 1..16, not %s", cli_q(v));
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("deploy", "unknown option %s", cli_q(argv[i]));
        } else if (path) {
            return cli_usage("deploy", "unexpected argument %s", cli_q(argv[i]));
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return cli_usage("deploy", "missing GROUP.json");

    char *buf = NULL;
    size_t len = 0;
    if (cli_read_file(path, GRP_MAX_DOC_BYTES, &buf, &len))
        return CLI_EXIT_FAIL;
    grp_doc *doc = NULL;
    grp_status gs = grp_load(buf, len, &gopt, &doc);
    if (gs == GRP_E_NOMEM) {
        free(buf);
        return cli_error(path, "out of memory validating the document");
    }
    const char *name = cli_esc(path);
    if (gs != GRP_OK) {
        cli_print_group_diags(stderr, name, doc);
        size_t n = doc->n_diags + doc->n_dropped;
        fprintf(stderr, "edgeml: %s: invalid group definition: %zu violation%s; nothing deployed\n",
                name, n, n == 1 ? "" : "s");
        grp_doc_free(doc);
        free(buf);
        return CLI_EXIT_FAIL;
    }
    int rc = run_deploy(path, root, (unsigned)keep, (unsigned)par, buf, len, doc->group);
    free(buf);
    grp_doc_free(doc);
    return rc;
}
