/* Applying a (re)deployment: per-function fingerprints, start / restart /
 * stop, subscriptions replaced with queues kept. */
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

/* ---- apply a deployment ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t fnv_s(uint64_t h, const char *s)
{
    if (!s)
        return fnv(h, "\x01", 1);
    return fnv(fnv(h, s, strlen(s)), "", 1);
}

static uint64_t fnv_i(uint64_t h, int64_t v)
{
    return fnv(h, &v, sizeof v);
}

static uint64_t fnv_link(uint64_t h, const char *path)
{
    char buf[1400];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    return fnv_s(h, buf);
}

static uint64_t fingerprint(const core *c, const grp_function *g)
{
    uint64_t h = 14695981039346656037ull;
    char path[1400];
    h = fnv_s(h, g->arn);
    h = fnv_s(h, g->executable);
    h = fnv_s(h, g->exec_args);
    h = fnv_i(h, g->encoding);
    h = fnv_i(h, g->pinned);
    h = fnv_i(h, g->access_sysfs);
    h = fnv_i(h, g->has_memory_size ? g->memory_size_kb : -1);
    h = fnv_i(h, g->has_timeout ? g->timeout_s : -1);
    h = fnv_i(h, g->isolation);
    h = fnv_i(h, g->run_as.has_uid ? g->run_as.uid : -1);
    h = fnv_i(h, g->run_as.has_gid ? g->run_as.gid : -1);
    h = fnv_s(h, g->code_uri);
    h = fnv_s(h, g->code_sha256);
    for (size_t i = 0; i < g->n_vars; i++) {
        h = fnv_s(h, g->vars[i].name);
        h = fnv_s(h, g->vars[i].value);
    }
    for (size_t i = 0; i < g->n_policies; i++) {
        const grp_access_policy *p = &g->policies[i];
        h = fnv_s(h, p->resource_id);
        h = fnv_i(h, p->permission);
        if (p->resource) {
            const grp_resource *r = p->resource;
            h = fnv_i(h, r->kind);
            h = fnv_s(h, r->source);
            h = fnv_s(h, r->destination);
            h = fnv_i(h, r->owner.present);
            h = fnv_s(h, r->owner.group_owner);
            h = fnv_i(h, r->owner.group_permission);
            h = fnv_i(h, r->group_owner.auto_add_group_owner);
            h = fnv_s(h, r->group_owner.group_owner);
            snprintf(path, sizeof path, "%s/resources/%s", c->root, r->id);
            h = fnv_link(h, path);
        }
    }
    snprintf(path, sizeof path, "%s/code/%s", c->root, g->id);
    h = fnv_link(h, path);
    h = fnv_i(h, c->run_uid);
    h = fnv_i(h, c->run_gid);
    return h;
}

static void fn_config(core_fn *f, const grp_function *g)
{
    f->g = g;
    f->pinned = g->pinned;
    f->container = g->isolation != GRP_ISO_NOCONTAINER;
    f->timeout_ms = g->has_timeout && g->timeout_s > 0
                        ? (g->timeout_s > 86400 ? 86400000u : (uint32_t)g->timeout_s * 1000u)
                        : CORE_DEFAULT_TIMEOUT_MS;
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? 1 : -1;
    }
    size_t n = 0, bcap = 4096;
    char *b = malloc(bcap);
    for (;;) {
        if (!b) {
            close(fd);
            snprintf(err, cap, "%s: out of memory", path);
            return -1;
        }
        if (n == bcap) {
            if (bcap > GRP_MAX_DOC_BYTES) {
                free(b);
                close(fd);
                snprintf(err, cap, "%s: larger than %u bytes", path, GRP_MAX_DOC_BYTES);
                return -1;
            }
            bcap *= 2;
            char *nb = realloc(b, bcap);
            if (!nb)
                free(b);
            b = nb;
            continue;
        }
        ssize_t r = read(fd, b + n, bcap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, cap, "%s: %s", path, strerror(errno));
            free(b);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = n;
    return 0;
}

/* Frees the core_fn of nf[0..n) that an apply made (not the ones it took over
 * from c->fns), after the apply failed. */
static void free_new_fns(core *c, core_fn **nf, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        int kept = 0;
        for (size_t k = 0; k < c->n_fns; k++)
            kept |= c->fns[k] == nf[j];
        if (!kept)
            sup_free_fn(nf[j]);
    }
}

int sup_apply(core *c, const char *path, int initial, char *msg, size_t cap)
{
    char *json = NULL;
    size_t len = 0;
    char err[1200];
    int rr = read_file(path, &json, &len, err, sizeof err);
    if (rr != 0) {
        if (rr == 1 && initial) {
            snprintf(msg, cap, "no deployment yet (%s missing): waiting for one", path);
            core_log(c, "INFO", "%s", msg);
            return 0;
        }
        snprintf(msg, cap, "%s", err);
        core_log(c, "ERROR", "deployment not applied: %s", err);
        return -1;
    }
    grp_options go = {.allow_run_as_root = c->o.allow_run_as_root};
    grp_doc *doc = NULL;
    grp_status gs = grp_load(json, len, &go, &doc);
    free(json);
    if (gs != GRP_OK) {
        if (!doc) {
            snprintf(msg, cap, "%s: out of memory", path);
        } else {
            for (size_t i = 0; i < doc->n_diags && i < 20; i++)
                core_log(c, "ERROR", "%s: %s%s%s", path, doc->diags[i].path,
                         *doc->diags[i].path ? ": " : "", doc->diags[i].msg);
            snprintf(msg, cap, "%s: %s (%zu problem(s); the previous deployment stays)", path,
                     grp_strstatus(gs), doc->n_diags + doc->n_dropped);
            grp_doc_free(doc);
        }
        core_log(c, "ERROR", "deployment not applied: %s", msg);
        return -1;
    }
    const grp_group *g = doc->group;
    rt_fn_def *fd = calloc(g->n_functions ? g->n_functions : 1, sizeof *fd);
    rt_sub_def *sd = calloc(g->n_subscriptions ? g->n_subscriptions : 1, sizeof *sd);
    core_fn **nf = calloc(g->n_functions ? g->n_functions : 1, sizeof *nf);
    core_fn **gone = realloc(c->gone, (c->n_gone + c->n_fns + 1) * sizeof *gone);
    if (gone)
        c->gone = gone;
    if (!fd || !sd || !nf || !gone)
        goto oom;
    for (size_t i = 0; i < g->n_functions; i++) {
        fd[i].id = g->functions[i].id;
        fd[i].arn = g->functions[i].arn;
    }
    for (size_t i = 0; i < g->n_subscriptions; i++) {
        sd[i].source = g->subscriptions[i].source;
        sd[i].subject = g->subscriptions[i].subject;
        sd[i].target = g->subscriptions[i].target;
    }
    /* new core_fns first (nothing changes until all allocations succeeded) */
    for (size_t i = 0; i < g->n_functions; i++) {
        const grp_function *gf = &g->functions[i];
        core_fn *old = NULL;
        for (size_t j = 0; j < c->n_fns && !old; j++)
            if (strcmp(c->fns[j]->id, gf->id) == 0)
                old = c->fns[j];
        if (old) {
            nf[i] = old;
            continue;
        }
        core_fn *f = calloc(1, sizeof *f);
        if (!f || !(f->id = strdup(gf->id)) || !(f->arn = strdup(gf->arn ? gf->arn : gf->id))) {
            if (f)
                free(f->id);
            free(f);
            free_new_fns(c, nf, i);
            goto oom;
        }
        f->backoff_ms = c->o.backoff_ms;
        f->rt = -1;
        nf[i] = f;
    }
    rt_router *rt = rt_new(fd, g->n_functions, sd, g->n_subscriptions, c->o.max_work_items,
                           RT_DEFAULT_MAX_BYTES, c->rt);
    if (!rt) {
        free_new_fns(c, nf, g->n_functions);
        goto oom;
    }
    rt->held = sup_held;
    rt->held_ctx = c;
    /* from here on nothing fails */
    uint64_t now = core_now_ms();
    unsigned started = 0, restarted = 0, stopped = 0, unchanged = 0;
    for (size_t j = 0; j < c->n_fns; j++) {
        core_fn *f = c->fns[j];
        int kept = 0;
        for (size_t i = 0; i < g->n_functions; i++)
            kept |= nf[i] == f;
        if (kept)
            continue;
        core_log(c, "INFO", "function %s: removed from the group; stopping it", f->id);
        for (core_proc *p = f->procs; p; p = p->next)
            sup_stop_proc(c, p, now, 1);
        /* what still waits for it fails */
        rt_item *it;
        while (f->rt >= 0 && (it = rt_queue_pop(&c->rt->fns[f->rt].q)))
            sup_finish_item(c, f, it, "function removed from the group", 31, NULL, 0);
        f->rt = -1;
        f->g = NULL;
        c->gone[c->n_gone++] = f;
        stopped++;
    }
    for (size_t i = 0; i < g->n_functions; i++) {
        core_fn *f = nf[i];
        const grp_function *gf = &g->functions[i];
        uint64_t fp = fingerprint(c, gf);
        int is_new = f->g == NULL;
        f->rt = (int)i;
        if (is_new) {
            started++;
        } else if (fp != f->fp) {
            restarted++;
            core_log(c, "INFO", "function %s: configuration or resources changed; restarting it",
                     f->id);
            for (core_proc *p = f->procs; p; p = p->next)
                sup_stop_proc(c, p, now, 1);
            f->backoff_ms = c->o.backoff_ms;
            f->backoff_until_ms = 0;
            f->spawn_failed = 0;
        } else {
            unchanged++;
        }
        f->fp = fp;
        fn_config(f, gf);
    }
    rt_free(c->rt);
    c->rt = rt;
    free(c->fns);
    c->fns = nf;
    c->n_fns = g->n_functions;
    if (c->doc)
        grp_doc_free(c->doc);
    c->doc = doc;
    /* the publish filters may have changed */
    for (size_t i = 0; i < c->n_fns; i++)
        for (core_proc *p = c->fns[i]->procs; p; p = p->next)
            if (p->conn && p->state != PROC_STOPPING) {
                ipc_field f = ipc_str(c->rt->fns[i].filters);
                conn_send(c, p->conn, IPC_ACL, 0, 0, &f, 1);
            }
    free(fd);
    free(sd);
    snprintf(msg, cap, "applied: %u started, %u restarted, %u stopped, %u unchanged", started,
             restarted, stopped, unchanged);
    core_log(c, "INFO", "%s (%s)", msg, path);
    uint64_t next = UINT64_MAX;
    sup_tick(c, now, &next); /* pinned starts now */
    sup_pump_all(c);
    return 0;
oom:
    free(fd);
    free(sd);
    free(nf);
    grp_doc_free(doc);
    snprintf(msg, cap, "out of memory applying %s", path);
    core_log(c, "ERROR", "%s", msg);
    return -1;
}

