/* The options of `edgeml core` (and of the lean edgeml-core binary that
 * `edgeml core` execs when it is installed beside it). */
#include "core_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stdio.h>

#define DEFAULT_ROOT "/var/lib/edgeml"

static void help(void)
{
    printf("usage: edgeml core [--root DIR] [options]\n\n"
           "Runs the core in the foreground: applies DIR/group.json (the active deployment;\n"
           "without one it waits for 'edgeml deploy'), starts, restarts and stops its\n"
           "functions, routes their messages by the group's subscriptions and serves\n"
           "DIR/run/core.sock. Logs to DIR/logs/core.log and stderr; functions' output to\n"
           "DIR/logs/functions/<Id>.log. SIGTERM/SIGINT stop every function (SIGTERM, then\n"
           "SIGKILL after the grace period) and exit 0; SIGHUP re-reads DIR/group.json.\n\n"
           "  --root DIR              deployment root (default " DEFAULT_ROOT ")\n"
           "  --run-as UID:GID        default RunAs of functions (65534:65534 as root,\n"
           "                          else the core's own ids)\n"
           "  --allow-run-as-root     functions may run as uid or gid 0\n"
           "  --max-work-items N      messages queued per function (1024)\n"
           "  --max-concurrency N     on-demand processes per function (25)\n"
           "  --grace-ms N            SIGTERM -> SIGKILL delay (5000)\n"
           "  --idle-timeout-ms N     on-demand process idle -> stopped (60000)\n"
           "  --backoff-ms N          first restart delay, doubling to 30 s (500)\n"
           "  --quiet                 no log lines on stderr\n\n"
           "Exit status: 0 stopped by a signal, 1 could not start (e.g. core already\n"
           "running), 2 usage error.\n");
}

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    for (char *p = m; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = '?';
    fprintf(stderr, "edgeml: core: %s (see 'edgeml core --help')\n", m);
    return 2;
}

/* "name=value" or "name value" */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != 0)
        return 0;
    if (*i + 1 >= argc) {
        usage("option %s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

static int parse_i64(const char *s, int64_t *v)
{
    if (!s || !*s || ((*s < '0' || *s > '9') && *s != '-'))
        return -1;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = (int64_t)x;
    return 0;
}

static int u32_opt(const char *name, const char *v, uint32_t min, uint32_t *out)
{
    int64_t x;
    if (parse_i64(v, &x) != 0 || x < (int64_t)min || x > 0x7fffffff)
        return usage("%s: expected an integer from %u to 2147483647, got '%s'", name,
                         min, v);
    *out = (uint32_t)x;
    return 0;
}

int edgeml_core_main(int argc, char **argv)
{
    edgeml_core_opts o;
    edgeml_core_opts_default(&o);
    o.root = DEFAULT_ROOT;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            help();
            return 0;
        }
        if (strcmp(argv[i], "--allow-run-as-root") == 0) {
            o.allow_run_as_root = 1;
            continue;
        }
        if (strcmp(argv[i], "--quiet") == 0) {
            o.quiet = 1;
            continue;
        }
        if ((r = opt_value(argc, argv, &i, "--root", &v)) != 0) {
            if (r < 0)
                return 2;
            if (!*v)
                return usage("--root: empty path");
            o.root = v;
            continue;
        }
        if ((r = opt_value(argc, argv, &i, "--run-as", &v)) != 0) {
            if (r < 0)
                return 2;
            const char *colon = strchr(v, ':');
            char ubuf[32];
            int64_t u, g;
            if (!colon || (size_t)(colon - v) >= sizeof ubuf)
                return usage("--run-as: expected UID:GID, got '%s'", v);
            memcpy(ubuf, v, (size_t)(colon - v));
            ubuf[colon - v] = 0;
            if (parse_i64(ubuf, &u) || parse_i64(colon + 1, &g) || u < 0 || g < 0 ||
                u > 0x7fffffff || g > 0x7fffffff)
                return usage("--run-as: expected UID:GID, got '%s'", v);
            o.has_run_as = 1;
            o.run_as_uid = (uint32_t)u;
            o.run_as_gid = (uint32_t)g;
            continue;
        }
        static const struct {
            const char *name;
            size_t off;
            uint32_t min;
        } nums[] = {
            {"--max-work-items", offsetof(edgeml_core_opts, max_work_items), 1},
            {"--max-concurrency", offsetof(edgeml_core_opts, max_concurrency), 1},
            {"--grace-ms", offsetof(edgeml_core_opts, grace_ms), 0},
            {"--idle-timeout-ms", offsetof(edgeml_core_opts, idle_timeout_ms), 1},
            {"--backoff-ms", offsetof(edgeml_core_opts, backoff_ms), 1},
        };
        int matched = 0;
        for (size_t k = 0; k < sizeof nums / sizeof nums[0] && !matched; k++) {
            if ((r = opt_value(argc, argv, &i, nums[k].name, &v)) == 0)
                continue;
            if (r < 0)
                return 2;
            if (u32_opt(nums[k].name, v, nums[k].min,
                        (uint32_t *)((char *)&o + nums[k].off)) != 0)
                return 2;
            matched = 1;
        }
        if (matched)
            continue;
        return usage("unknown argument '%s'", argv[i]);
    }
    if ((o.run_as_uid == 0 || o.run_as_gid == 0) && o.has_run_as && !o.allow_run_as_root)
        return usage("--run-as %u:%u is root; add --allow-run-as-root",
                         o.run_as_uid, o.run_as_gid);
    return edgeml_core_run(&o) == 0 ? 0 : 1;
}
