/* edgeml status [--root DIR] [--json]: the deployments and active resources
 * recorded in DIR/state.db (src/deploy/dep_state.h), and the functions of a
 * core running on DIR (asked over DIR/run/core.sock, src/ipc/proto.h). */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dep_state.h"
#include "proto.h"

#define DEFAULT_ROOT "/var/lib/edgeml"

static void help(void)
{
    printf("usage: edgeml status [--root DIR] [--json] [--limit N]\n\n"
           "Shows the deployments under DIR (newest first: id, time, Building|InProgress|\n"
           "Success|Failure, error) and each active resource (source, ETag, SHA-256, store\n"
           "path, size, when activated); when a core runs on DIR, each function (state,\n"
           "pids, restarts, messages in/out/dropped, why it last exited) and the routing\n"
           "counters.\n\n"
           "  --root DIR   deployment root (default " DEFAULT_ROOT ")\n"
           "  --json       one JSON object {\"deployments\": [...], \"resources\": [...],\n"
           "               \"core\": {...} or null, \"functions\": [...], \"routing\": {...}}\n"
           "  --limit N    at most N deployments (default all)\n\n"
           "Exit status: 0 shown, 1 state unreadable, 2 usage error.\n");
}

/* The core's CTL_STATUS answer, parsed; NULL when no core answers (why in
 * *why, "" when simply not running). */
static json_t *core_status(const char *root, char *why, size_t cap)
{
    why[0] = 0;
    char sock[4096];
    if (snprintf(sock, sizeof sock, "%s/%s", root, IPC_SOCK_NAME) >= (int)sizeof sock)
        return NULL;
    int fd = ipc_connect(sock);
    if (fd < 0)
        return NULL;
    ipc_hdr h;
    uint8_t *body = NULL;
    ipc_field f[IPC_MAX_FIELDS];
    json_t *j = NULL;
    if (ipc_send(fd, IPC_CTL_STATUS, 0, 1, NULL, 0) < 0 || ipc_recv(fd, 10000, &h, &body, f) < 0) {
        snprintf(why, cap, "no answer from %s: %s", sock, strerror(errno));
    } else if (h.type != IPC_CTL_REPLY || h.nf < 1 || (h.flags & IPC_F_ERROR)) {
        snprintf(why, cap, "the core refused the status request");
    } else {
        json_error_t je;
        j = json_loadb((const char *)f[0].p, f[0].n, JSON_REJECT_DUPLICATES, &je);
        if (!j || !json_is_object(j)) {
            json_decref(j);
            j = NULL;
            snprintf(why, cap, "the core's status is not a JSON object");
        }
    }
    free(body);
    close(fd);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static void print_core_text(json_t *c, const char *why)
{
    if (!c) {
        printf("Core: not running%s%s\n", why[0] ? ": " : "", why);
        return;
    }
    json_t *core = json_object_get(c, "core");
    printf("Core: running (pid %lld, up %lld s, RSS %lld KB)\n", jint(core, "pid"),
           jint(core, "uptime_s"), jint(core, "rss_kb"));
    json_t *fns = json_object_get(c, "functions");
    printf("Functions:%s\n", json_array_size(fns) ? "" : " none");
    if (json_array_size(fns))
        printf("  %-24s %-9s %-8s %8s %8s %8s %8s %8s %6s  %s\n", "ID", "STATE", "PID", "RESTARTS",
               "IN", "OUT", "DROPPED", "FAILED", "QUEUED", "LAST EXIT");
    size_t i;
    json_t *fn;
    json_array_foreach(fns, i, fn) {
        char pids[64] = "-";
        json_t *pa = json_object_get(fn, "pids");
        if (json_array_size(pa) == 1)
            snprintf(pids, sizeof pids, "%lld", (long long)json_integer_value(json_array_get(pa, 0)));
        else if (json_array_size(pa) > 1)
            snprintf(pids, sizeof pids, "%zu procs", json_array_size(pa));
        printf("  %-24s %-9s %-8s %8lld %8lld %8lld %8lld %8lld %6lld  %s\n",
               cli_esc(jstr(fn, "id")), jstr(fn, "state"), pids, jint(fn, "restarts"),
               jint(fn, "in"), jint(fn, "out"), jint(fn, "dropped"), jint(fn, "failed"),
               jint(fn, "queued"), cli_esc(jstr(fn, "last_exit")));
    }
    json_t *r = json_object_get(c, "routing");
    if (r)
        printf("Routing: %lld routed, %lld without a route (dropped), %lld refused, "
               "%lld queued for cloud, %lld dropped for cloud\n",
               jint(r, "routed"), jint(r, "no_route"), jint(r, "denied"), jint(r, "cloud_queued"),
               jint(r, "cloud_dropped"));
}

int cli_cmd_status(int argc, char **argv)
{
    const char *root = DEFAULT_ROOT, *v;
    int json = 0;
    int64_t limit = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if (cli_is_help(argv[i])) {
            help();
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if ((m = cli_opt_root(argc, argv, &i, "status", &root))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
        } else if ((m = cli_opt_value(argc, argv, &i, "--limit", &v, "status"))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (cli_parse_i64(v, &limit) || limit < 1 || limit > 1000000)
                return cli_usage("status", "--limit wants a positive number, not %s", cli_q(v));
        } else if (argv[i][0] == '-') {
            return cli_usage("status", "unknown option %s", cli_q(argv[i]));
        } else {
            return cli_usage("status", "unexpected argument %s", cli_q(argv[i]));
        }
    }
    char why[512];
    json_t *core = core_status(root, why, sizeof why);
    dep_state *s = NULL;
    dep_err e = {{0}};
    dep_status st = dep_state_open(root, 0, &s, &e);
    if (st && st != DEP_ENOENT) {
        json_decref(core);
        return cli_error(root, "%s", e.msg);
    }
    if (!json) {
        if (st == DEP_ENOENT) {
            printf("%s: no deployments\n", cli_esc(root));
        } else {
            printf("Root: %s\n", cli_esc(root));
            st = dep_state_report(s, stdout, 0, (unsigned)limit, &e);
        }
        if (!st)
            print_core_text(core, why);
    } else {
        /* The state's JSON object, extended with the core's members. */
        char *txt = NULL;
        size_t tl = 0;
        json_t *all = NULL;
        if (st == DEP_ENOENT) {
            all = json_pack("{s:[],s:[]}", "deployments", "resources");
            st = DEP_OK;
        } else {
            FILE *mf = open_memstream(&txt, &tl);
            if (!mf) {
                st = dep_errf(&e, DEP_ENOMEM, "out of memory");
            } else {
                st = dep_state_report(s, mf, 1, (unsigned)limit, &e);
                fclose(mf);
                json_error_t je;
                if (!st && !(all = json_loadb(txt, tl, 0, &je)))
                    st = dep_errf(&e, DEP_EIO, "state report is not JSON: %s", je.text);
            }
            free(txt);
        }
        if (!st) {
            json_t *c = core ? json_object_get(core, "core") : NULL;
            json_object_set(all, "core", c ? c : json_null());
            json_t *fns = core ? json_object_get(core, "functions") : NULL;
            json_object_set_new(all, "functions", fns ? json_incref(fns) : json_array());
            json_t *rt = core ? json_object_get(core, "routing") : NULL;
            json_object_set(all, "routing", rt ? rt : json_null());
            if (!core && why[0])
                json_object_set_new(all, "core_error", json_string(why));
            json_dumpf(all, stdout, JSON_INDENT(2));
            putchar('\n');
        }
        json_decref(all);
    }
    json_decref(core);
    dep_state_close(s);
    fflush(stdout);
    if (st)
        return cli_error(root, "%s", e.msg);
    return CLI_EXIT_OK;
}
