/* Building a function process's run_spec from its group entry (argv,
 * environment, binds, groups, RunAs, log pipe) and starting it. */
#include "core_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- spawning ---- */

typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

static int sv_push(strvec *s, char *str)
{
    if (!str)
        return -1;
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            free(str);
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
    return 0;
}

static void sv_free(strvec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static int gid_of(const char *name, gid_t *g)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(name, &end, 10);
    if (*name && !*end && !errno && v < 0xffffffffUL) {
        *g = (gid_t)v;
        return 0;
    }
    struct group *gr = getgrnam(name);
    if (!gr)
        return -1;
    *g = gr->gr_gid;
    return 0;
}

static uint64_t fn_log_max(const core *c)
{
    const grp_group *g = c->doc ? c->doc->group : NULL;
    for (size_t i = 0; g && i < g->n_loggers; i++) {
        const grp_logger *l = &g->loggers[i];
        if (l->component && l->type && strcmp(l->component, "Lambda") == 0 &&
            strcmp(l->type, "FileSystem") == 0 && l->has_space && l->space_kb > 0)
            return (uint64_t)l->space_kb * 1024u;
    }
    return CORE_FN_LOG_DEFAULT;
}

static int new_token(char tok[33])
{
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    for (int i = 0; i < 16; i++)
        snprintf(tok + 2 * i, 3, "%02x", r[i]);
    return 0;
}

/* Spawns one process of f; 0 or -1 (logged, f->last_exit set). */
int sup_spawn(core *c, core_fn *f, uint64_t now)
{
    const grp_function *g = f->g;
    char err[512] = "";
    strvec argv = {0}, env = {0};
    run_bind *binds = NULL;
    gid_t *groups = NULL;
    size_t n_binds = 0, n_groups = 0;
    char code_dir[1400], exe[2400], fdir[1400];
    int pfd[2] = {-1, -1};
    int rc = -1;
    core_proc *p = NULL;

    if (!g->executable || !*g->executable) {
        snprintf(err, sizeof err, "no Executable in FunctionConfiguration");
        goto out;
    }
    if (g->code_uri) {
        snprintf(code_dir, sizeof code_dir, "%s/code/%s", c->root, f->id);
        if (g->executable[0] == '/' || strstr(g->executable, "..")) {
            snprintf(err, sizeof err, "Executable %s must be a relative path inside the code",
                     g->executable);
            goto out;
        }
        if (f->container)
            snprintf(exe, sizeof exe, "%s/%s", RUN_CODE_DIR, g->executable);
        else
            snprintf(exe, sizeof exe, "%s/%s", code_dir, g->executable);
    } else {
        if (g->executable[0] != '/') {
            snprintf(err, sizeof err,
                     "Executable %s must be an absolute path (no EdgemlCode given)",
                     g->executable);
            goto out;
        }
        snprintf(code_dir, sizeof code_dir, "%s", g->executable);
        char *slash = strrchr(code_dir, '/');
        if (slash == code_dir)
            slash[1] = 0;
        else
            *slash = 0;
        if (f->container)
            snprintf(exe, sizeof exe, "%s/%s", RUN_CODE_DIR, strrchr(g->executable, '/') + 1);
        else
            snprintf(exe, sizeof exe, "%s", g->executable);
    }
    if (run_function_dir(c->root, f->id, fdir, sizeof fdir) != 0) {
        snprintf(err, sizeof err, "function directory path too long");
        goto out;
    }

    /* argv: Executable, then ExecArgs split on whitespace */
    if (sv_push(&argv, strdup(g->executable)) != 0)
        goto oom;
    if (g->exec_args) {
        const char *s = g->exec_args;
        while (*s) {
            while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
                s++;
            const char *e = s;
            while (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r')
                e++;
            if (e > s && sv_push(&argv, strndup(s, (size_t)(e - s))) != 0)
                goto oom;
            s = e;
        }
    }

    /* binds, groups, EDGEML_RESOURCES */
    binds = calloc(g->n_policies ? g->n_policies : 1, sizeof *binds);
    groups = calloc(g->n_policies ? g->n_policies : 1, sizeof *groups);
    size_t rcap = 1;
    for (size_t i = 0; i < g->n_policies; i++)
        rcap += strlen(g->policies[i].resource_id) + strlen(fdir) + 8 +
                (g->policies[i].resource && g->policies[i].resource->destination
                     ? strlen(g->policies[i].resource->destination)
                     : 0) +
                (g->policies[i].resource && g->policies[i].resource->source
                     ? strlen(g->policies[i].resource->source)
                     : 0);
    char *resenv = malloc(rcap + sizeof IPC_ENV_RESOURCES + 1);
    if (!binds || !groups || !resenv) {
        free(resenv);
        goto oom;
    }
    size_t ro = (size_t)snprintf(resenv, rcap + sizeof IPC_ENV_RESOURCES + 1, "%s=",
                                 IPC_ENV_RESOURCES);
    for (size_t i = 0; i < g->n_policies; i++) {
        const grp_access_policy *pol = &g->policies[i];
        const grp_resource *r = pol->resource;
        if (!r)
            continue;
        run_bind *b = &binds[n_binds];
        const char *owner = NULL;
        switch (r->kind) {
        case GRP_RES_S3_MODEL:
        case GRP_RES_SAGEMAKER_MODEL:
            b->kind = RUN_BIND_RESOURCE;
            b->src = fmt("%s/resources/%s", c->root, r->id);
            b->dst = r->destination;
            b->rw = pol->permission == GRP_PERM_RW ||
                    (pol->permission == GRP_PERM_UNSET && r->owner.present &&
                     r->owner.group_permission == GRP_PERM_RW);
            if (r->owner.present)
                owner = r->owner.group_owner;
            break;
        case GRP_RES_LOCAL_VOLUME:
        case GRP_RES_LOCAL_DEVICE:
            b->kind = r->kind == GRP_RES_LOCAL_VOLUME ? RUN_BIND_VOLUME : RUN_BIND_DEVICE;
            b->src = strdup(r->source);
            b->dst = r->kind == GRP_RES_LOCAL_VOLUME ? r->destination : r->source;
            b->rw = pol->permission == GRP_PERM_RW;
            if (r->group_owner.present && r->group_owner.auto_add_group_owner) {
                struct stat st;
                if (stat(r->source, &st) == 0 && n_groups < g->n_policies)
                    groups[n_groups++] = st.st_gid;
            } else if (r->group_owner.present) {
                owner = r->group_owner.group_owner;
            }
            break;
        default:
            /* Secrets Manager secrets come from the cloud (v1 fetched them
             * with the deployment): nothing local to attach yet */
            core_log(c, "WARN", "function %s: resource %s: secrets are not supported by this "
                     "core yet; not attached", f->id, r->id);
            continue;
        }
        if (!b->src || !b->dst) {
            free((char *)b->src);
            continue;
        }
        n_binds++;
        if (owner && n_groups < g->n_policies) {
            gid_t gg;
            if (gid_of(owner, &gg) == 0)
                groups[n_groups++] = gg;
            else
                core_log(c, "WARN", "function %s: resource %s: no group %s (not added)", f->id,
                         r->id, owner);
        }
        ro += (size_t)sprintf(resenv + ro, "%s=%s%s\n", r->id, f->container ? "" : fdir, b->dst);
    }

    /* environment: Variables, then ours (ours win) */
    int has_path = 0;
    for (size_t i = 0; i < g->n_vars; i++) {
        const char *n = g->vars[i].name;
        if (!strcmp(n, IPC_ENV_SOCKET) || !strcmp(n, IPC_ENV_TOKEN) ||
            !strcmp(n, IPC_ENV_FUNCTION) || !strcmp(n, IPC_ENV_RESOURCES) ||
            !strcmp(n, IPC_ENV_PREFIX) || !strcmp(n, "EDGEML_ENCODING_TYPE") ||
            !strcmp(n, "MY_FUNCTION_ARN"))
            continue;
        has_path |= !strcmp(n, "PATH");
        if (sv_push(&env, fmt("%s=%s", n, g->vars[i].value ? g->vars[i].value : "")) != 0) {
            free(resenv);
            goto oom;
        }
    }
    p = calloc(1, sizeof *p);
    if (!p || new_token(p->token) != 0) {
        free(resenv);
        snprintf(err, sizeof err, "no token: %s", p ? strerror(errno) : "out of memory");
        goto out;
    }
    if (sv_push(&env, resenv) != 0 ||
        sv_push(&env, fmt("%s=%s", IPC_ENV_SOCKET,
                          f->container ? IPC_CONTAINER_SOCK : c->sock_path)) != 0 ||
        sv_push(&env, fmt("%s=%s", IPC_ENV_TOKEN, p->token)) != 0 ||
        sv_push(&env, fmt("%s=%s", IPC_ENV_FUNCTION, f->id)) != 0 ||
        /* payloads are handed over as bytes either way; the function is told
         * which encoding its configuration declares (v1's EncodingType) */
        sv_push(&env, fmt("EDGEML_ENCODING_TYPE=%s",
                          g->encoding == GRP_ENC_BINARY ? "binary" : "json")) != 0 ||
        sv_push(&env, fmt("MY_FUNCTION_ARN=%s", f->arn ? f->arn : "")) != 0 ||
        (!f->container && sv_push(&env, fmt("%s=%s", IPC_ENV_PREFIX, fdir)) != 0) ||
        (!has_path &&
         sv_push(&env, strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")) !=
             0))
        goto oom;

    /* the log pipe; the log file opened on first use */
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(err, sizeof err, "pipe: %s", strerror(errno));
        goto out;
    }
    if (!f->log) {
        char lp[1400];
        snprintf(lp, sizeof lp, "%s/logs/functions/%s.log", c->root, f->id);
        f->log_max = fn_log_max(c);
        char lerr[256];
        if (run_log_open(lp, f->log_max, CORE_FN_LOG_KEEP, &f->log, lerr, sizeof lerr) != 0) {
            core_log(c, "WARN", "function %s: %s (its output is discarded)", f->id, lerr);
            f->log = NULL;
        }
    }

    run_spec s = {
        .root = c->root,
        .function_id = f->id,
        .exe = exe,
        .argv = argv.v,
        .envp = env.v,
        .code_dir = code_dir,
        .container = f->container,
        .binds = binds,
        .n_binds = n_binds,
        .socket_path = c->sock_path,
        .uid = g->run_as.has_uid ? (uid_t)g->run_as.uid : c->run_uid,
        .gid = g->run_as.has_gid ? (gid_t)g->run_as.gid : c->run_gid,
        .groups = geteuid() == 0 ? groups : NULL,
        .n_groups = geteuid() == 0 ? n_groups : 0,
        .memory_bytes = f->container && g->has_memory_size ? (uint64_t)g->memory_size_kb * 1024u : 0,
        .out_fd = pfd[1],
    };
    if ((s.uid == 0 || s.gid == 0) && !c->o.allow_run_as_root) {
        snprintf(err, sizeof err, "RunAs %u:%u is root; the core needs --allow-run-as-root",
                 (unsigned)s.uid, (unsigned)s.gid);
        goto out;
    }
    if (run_spawn(&s, &p->rp, err, sizeof err) != 0)
        goto out;
    close(pfd[1]);
    pfd[1] = -1;
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    p->ev = EV_PIPE;
    p->out_fd = pfd[0];
    pfd[0] = -1;
    if (core_watch(c, p->out_fd, p, EPOLLIN) != 0) {
        close(p->out_fd);
        p->out_fd = -1;
    }
    p->fn = f;
    p->state = PROC_STARTING;
    p->started_ms = p->idle_since_ms = now;
    p->next = f->procs;
    f->procs = p;
    p = NULL;
    if (f->crashed) {
        f->restarts++;
        f->crashed = 0;
    }
    f->spawn_failed = 0;
    core_log(c, "INFO", "function %s: started pid %ld (%s, %s, uid %u gid %u)", f->id,
             (long)f->procs->rp.pid, f->pinned ? "pinned" : "on-demand",
             f->container ? "GreengrassContainer" : "NoContainer", (unsigned)s.uid,
             (unsigned)s.gid);
    rc = 0;
    goto out;
oom:
    snprintf(err, sizeof err, "out of memory");
out:
    if (rc != 0) {
        core_log(c, "ERROR", "function %s: cannot start: %s", f->id, err);
        snprintf(f->last_exit, sizeof f->last_exit, "cannot start: %s", err);
        f->spawn_failed = 1;
        /* retry with backoff: the cause (a missing file, a resource) may be fixed */
        f->backoff_until_ms = now + f->backoff_ms;
        f->backoff_ms = f->backoff_ms * 2 > CORE_BACKOFF_MAX_MS ? CORE_BACKOFF_MAX_MS
                                                                : f->backoff_ms * 2;
    }
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    for (size_t i = 0; i < n_binds; i++)
        free((char *)binds[i].src);
    free(binds);
    free(groups);
    free(p);
    sv_free(&argv);
    sv_free(&env);
    return rc;
}

