/* One deployment, end to end (see dep_deploy.h). */
#include "dep_deploy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dep_fetch.h"
#include "dep_state.h"

const char *dep_phase_name(dep_phase p)
{
    switch (p) {
    case DEP_PH_WAIT: return "waiting";
    case DEP_PH_FETCH: return "fetching";
    case DEP_PH_UNPACK: return "unpacking";
    case DEP_PH_READY: return "ready";
    case DEP_PH_UNCHANGED: return "unchanged";
    case DEP_PH_FAILED: return "failed";
    }
    return "?";
}

typedef struct dd_run dd_run;

typedef struct dd_item {
    dd_run *run;
    size_t idx;
    const dep_resource *r;
    const char *sub;    /* links directory: "resources" or "code" */
    char sid[140];      /* state row id: the resource Id, or "code/<FunctionId>" */
    dep_owner owner;
    dep_res_rec prev;   /* the active record (has_prev) */
    int has_prev;
    dep_res_rec cur;    /* what this deployment deploys */
    int unchanged;      /* nothing transferred, nothing unpacked */
    char dl[PATH_MAX];
    dep_status st;
    dep_err err;
} dd_item;

struct dd_run {
    const dep_deploy_opts *o;
    dd_item *items;
    size_t next;          /* next item to fetch (under mu) */
    int cancel;           /* set when one item failed (under mu) */
    size_t first_fail;    /* that item: the cause (the others may only be cancelled) */
    int storefd;
    pthread_mutex_t mu;   /* next, cancel, progress calls */
    pthread_mutex_t unpack_mu; /* one unpack into the store at a time */
    const char *stop_at;  /* test hook (see dd_stop_at); NULL when off */
    unsigned stopped;     /* phases already stopped at, one bit each (under mu) */
};

/* Test hook for crash tests (tests/deploy/crash_test.py): with the
 * environment variable EDGEML_DEPLOY_STOP_AT set to a phase name, the process
 * stops itself (raise(SIGSTOP)) once when it reaches that phase, so that a
 * test can check the disk at that instant and kill -9 it exactly there; a
 * SIGCONT lets it go on unchanged. Phases:
 *   after-download-start  a download has written at least 256 KiB (or all of a
 *                         smaller object) into downloads/
 *   mid-unpack            an unpack has written its first entry into store/.tmp-*
 *   before-activate       every resource is ready, none switched yet
 *   mid-activate          the first resource is switched, the others not yet
 *   after-activate        every resource is switched, the deployment not yet
 *                         recorded as Success
 * Unset (the normal case), it costs one getenv per deployment. */
enum { DD_STOP_DL = 1, DD_STOP_UNPACK = 2, DD_STOP_BEFORE = 4, DD_STOP_MID = 8,
       DD_STOP_AFTER = 16 };

static void dd_stop_at(dd_run *run, unsigned bit, const char *phase)
{
    if (!run->stop_at || strcmp(run->stop_at, phase) != 0)
        return;
    /* The pool's phases run on its threads; activation runs after the pool
     * is joined and its mutex destroyed, on this thread alone. */
    int pooled = bit == DD_STOP_DL || bit == DD_STOP_UNPACK;
    if (pooled)
        pthread_mutex_lock(&run->mu);
    int first = !(run->stopped & bit);
    run->stopped |= bit;
    if (pooled)
        pthread_mutex_unlock(&run->mu);
    if (first)
        raise(SIGSTOP);
}

static void dd_progress(dd_run *run, size_t idx, dep_phase ph, uint64_t bytes, uint64_t total,
                        double rate)
{
    if (!run->o->progress)
        return;
    pthread_mutex_lock(&run->mu);
    run->o->progress(run->o->ctx, idx, ph, bytes, total, rate);
    pthread_mutex_unlock(&run->mu);
}

static int dd_cancelled(dd_run *run)
{
    pthread_mutex_lock(&run->mu);
    int c = run->cancel;
    pthread_mutex_unlock(&run->mu);
    return c;
}

static int dd_fetch_cb(void *ctx, uint64_t bytes, uint64_t total, double rate)
{
    dd_item *it = ctx;
    dd_progress(it->run, it->idx, DEP_PH_FETCH, bytes, total, rate);
    if (bytes >= 256 * 1024 || (total && bytes >= total))
        dd_stop_at(it->run, DD_STOP_DL, "after-download-start");
    return dd_cancelled(it->run);
}

static int dd_unpack_cb(void *ctx, uint64_t bytes_in, uint64_t bytes_out, const char *entry)
{
    (void)bytes_out;
    (void)entry;
    dd_item *it = ctx;
    dd_progress(it->run, it->idx, DEP_PH_UNPACK, bytes_in, it->cur.size, 0);
    if (bytes_out > 0)
        dd_stop_at(it->run, DD_STOP_UNPACK, "mid-unpack");
    return dd_cancelled(it->run);
}

/* dep_store_has() on a fresh descriptor: it reads the directory through a
 * dup() of the fd it is given, and dup()s share the offset, so a second call
 * on one fd (or two threads) would start at the end of the directory. */
static int dd_store_has(const char *root, const char *sha)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/store", root);
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int has = dep_store_has(fd, sha);
    close(fd);
    return has;
}

/* Fetches and unpacks one resource; the outcome in it->st / it->err. */
static void dd_do_item(dd_item *it)
{
    dd_run *run = it->run;
    const dep_resource *r = it->r;
    dep_err e = {{0}};
    snprintf(it->cur.id, sizeof it->cur.id, "%s", it->sid);
    snprintf(it->cur.source, sizeof it->cur.source, "%s", r->source);

    dep_fetch_opts fo = {0};
    fo.uri = r->source;
    fo.dest = it->dl;
    fo.size = -1;
    fo.progress = dd_fetch_cb;
    fo.ctx = it;
    /* Reuse the active record's validators when it is the same source, its
     * store entry is still there and the document does not ask for other bytes. */
    if (it->has_prev && strcmp(it->prev.source, r->source) == 0 &&
        dep_is_sha_hex(it->prev.sha256) && dd_store_has(run->o->root, it->prev.sha256) &&
        (!r->sha256 || strcmp(r->sha256, it->prev.sha256) == 0)) {
        if (it->prev.etag[0])
            fo.etag = it->prev.etag;
        fo.sha256 = it->prev.sha256;
        fo.size = (int64_t)it->prev.size;
        fo.mtime_ns = it->prev.mtime_ns;
    }
    dd_progress(run, it->idx, DEP_PH_FETCH, 0, 0, 0);
    dep_fetch_result fr;
    memset(&fr, 0, sizeof fr);
    dep_status st = dep_fetch(&fo, &fr, &e);
    if (st) {
        dep_errf(&it->err, st, "%s: %s", it->sid, e.msg);
        it->st = st;
        return;
    }
    snprintf(it->cur.etag, sizeof it->cur.etag, "%s", fr.etag);
    it->cur.mtime_ns = fr.mtime_ns;
    if (fr.unchanged) {
        it->unchanged = 1;
        memcpy(it->cur.sha256, it->prev.sha256, DEP_SHA_HEX);
        if (!it->cur.etag[0])
            snprintf(it->cur.etag, sizeof it->cur.etag, "%s", it->prev.etag);
        it->cur.size = it->prev.size;
        if (!it->cur.mtime_ns)
            it->cur.mtime_ns = it->prev.mtime_ns;
        dd_progress(run, it->idx, DEP_PH_UNCHANGED, it->cur.size, it->cur.size, 0);
        return;
    }
    it->cur.size = fr.size;
    if (r->sha256 && strcmp(r->sha256, fr.sha256) != 0) {
        unlink(it->dl);
        it->st = dep_errf(&it->err, DEP_EDIGEST,
                          "%s: %s: content digest %s does not match EdgemlSha256 %s", it->sid,
                          r->source, fr.sha256, r->sha256);
        return;
    }
    if (dd_cancelled(run)) {
        it->st = dep_errf(&it->err, DEP_EINVAL, "%s: cancelled", it->sid);
        return;
    }
    dep_unpack_opts uo = {0};
    uo.expect_sha = fr.sha256;
    uo.uri = r->source;
    uo.progress = dd_unpack_cb;
    uo.ctx = it;
    dd_progress(run, it->idx, DEP_PH_UNPACK, 0, it->cur.size, 0);
    pthread_mutex_lock(&run->unpack_mu);
    st = dep_unpack(run->o->root, it->dl, &uo, it->cur.sha256, &e);
    pthread_mutex_unlock(&run->unpack_mu);
    unlink(it->dl);
    if (st) {
        it->st = dep_errf(&it->err, st, "%s: %s: %s", it->sid, r->source, e.msg);
        return;
    }
    dd_progress(run, it->idx, DEP_PH_READY, it->cur.size, it->cur.size, 0);
}

static void *dd_worker(void *arg)
{
    dd_run *run = arg;
    for (;;) {
        pthread_mutex_lock(&run->mu);
        size_t i = run->next;
        int stop = run->cancel || i >= run->o->n_res;
        if (!stop)
            run->next++;
        pthread_mutex_unlock(&run->mu);
        if (stop)
            return NULL;
        dd_item *it = &run->items[i];
        dd_do_item(it);
        if (it->st) {
            pthread_mutex_lock(&run->mu);
            if (!run->cancel)
                run->first_fail = i;
            run->cancel = 1;
            if (run->o->progress)
                run->o->progress(run->o->ctx, i, DEP_PH_FAILED, 0, 0, 0);
            pthread_mutex_unlock(&run->mu);
        }
    }
}

/* mkdir -p with mode for the missing parts. */
static dep_status dd_mkdirs(const char *path, mode_t mode, dep_err *e)
{
    char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return dep_errf(e, DEP_EINVAL, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, mode) != 0 && errno != EEXIST)
                return dep_errf(e, DEP_EIO, "%s: %s", buf, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return dep_errf(e, DEP_EIO, "%s: not a directory", path);
    return DEP_OK;
}

/* Takes ROOT/.deploy.lock; returns the fd (kept open for the deployment). */
static dep_status dd_lock(const char *root, int *fdo, dep_err *e)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/.deploy.lock", root);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return dep_errf(e, DEP_EIO, "%s: %s", p, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int en = errno;
        if (en == EWOULDBLOCK) {
            char b[32] = "";
            ssize_t n = pread(fd, b, sizeof b - 1, 0);
            long pid = n > 0 ? strtol(b, NULL, 10) : 0;
            close(fd);
            if (pid > 0)
                return dep_errf(e, DEP_EIO, "%s: another deployment is in progress (pid %ld)",
                                root, pid);
            return dep_errf(e, DEP_EIO, "%s: another deployment is in progress", root);
        }
        close(fd);
        return dep_errf(e, DEP_EIO, "%s: lock: %s", p, strerror(en));
    }
    char b[32];
    int n = snprintf(b, sizeof b, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, b, (size_t)n, 0) != n) {
        /* the lock holds anyway; only the message of a rival lacks the pid */
    }
    *fdo = fd;
    return DEP_OK;
}

/* "<sha>.<key>" -> sha and owner (key "root" | "g<GID>-ro" | "g<GID>-rw"). */
static int dd_parse_view(const char *view, char sha[DEP_SHA_HEX], dep_owner *o)
{
    if (strlen(view) < 66 || view[64] != '.')
        return -1;
    memcpy(sha, view, 64);
    sha[64] = 0;
    if (!dep_is_sha_hex(sha))
        return -1;
    const char *k = view + 65;
    memset(o, 0, sizeof *o);
    if (strcmp(k, "root") == 0)
        return 0;
    if (strcmp(k, "pub") == 0) {
        o->set = 2;
        return 0;
    }
    if (k[0] != 'g')
        return -1;
    char *end;
    errno = 0;
    unsigned long g = strtoul(k + 1, &end, 10);
    if (errno || end == k + 1 || g > (unsigned long)(gid_t)-1)
        return -1;
    if (strcmp(end, "-ro") == 0)
        o->rw = 0;
    else if (strcmp(end, "-rw") == 0)
        o->rw = 1;
    else
        return -1;
    o->set = 1;
    o->gid = (gid_t)g;
    return 0;
}

/* SHA-256 hex of a source URI (names its download). */
static dep_status dd_source_tag(const char *src, char tag[DEP_SHA_HEX], dep_err *e)
{
    dep_sha256 *h = NULL;
    dep_status st = dep_sha256_new(&h, e);
    if (st)
        return st;
    dep_sha256_update(h, src, strlen(src));
    st = dep_sha256_final(h, tag, e);
    dep_sha256_free(h);
    return st;
}

/* Removes downloads/ entries that belong to no (resource, source) of this
 * deployment: partial downloads of sources that are gone. */
static void dd_clean_downloads(const char *dl, const dd_item *items, size_t n)
{
    DIR *d = opendir(dl);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        int mine = 0;
        for (size_t i = 0; i < n && !mine; i++) {
            const char *base = strrchr(items[i].dl, '/');
            size_t bl = strlen(base + 1);
            mine = strncmp(de->d_name, base + 1, bl) == 0 &&
                   (de->d_name[bl] == 0 || de->d_name[bl] == '.');
        }
        if (!mine)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* Deactivates a resource (or, for a state id "code/<F>", a function's code)
 * that left the document. */
static void dd_remove_resource(const char *root, const char *sid)
{
    const char *sub = "resources", *rid = sid;
    if (strncmp(sid, "code/", 5) == 0) {
        sub = "code";
        rid = sid + 5;
    }
    if (!dep_resource_id_ok(rid))
        return;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s/%s", root, sub, rid);
    unlink(p);
    snprintf(p, sizeof p, "%s/%s/.%s.hist", root, sub, rid);
    unlink(p);
}

/* Writes ROOT/group.json (tmp, fsync, rename). */
static dep_status dd_write_doc(const char *root, const char *doc, size_t len, dep_err *e)
{
    char p[PATH_MAX], t[PATH_MAX];
    snprintf(p, sizeof p, "%s/group.json", root);
    snprintf(t, sizeof t, "%s/.group.json.tmp", root);
    int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return dep_errf(e, DEP_EIO, "%s: %s", t, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, doc + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int bad = off != len || fsync(fd) < 0;
    int err = errno;
    close(fd);
    if (bad || rename(t, p) < 0) {
        if (!bad)
            err = errno;
        unlink(t);
        return dep_errf(e, err == ENOSPC ? DEP_ENOSPC : DEP_EIO, "%s: %s", p, strerror(err));
    }
    return DEP_OK;
}

static dep_status dd_fail(dep_state *s, int64_t id, dep_status st, dep_err *e)
{
    if (s && id) {
        dep_err e2;
        dep_state_set_status(s, id, DEP_ST_FAILURE, e->msg, &e2);
    }
    return st;
}

dep_status dep_deploy(const dep_deploy_opts *o, int64_t *id, dep_err *e)
{
    *id = 0;
    if (!o || !o->root || !o->root[0] || (o->n_res && !o->res))
        return dep_errf(e, DEP_EINVAL, "deploy: bad arguments");
    if (strlen(o->root) > PATH_MAX - 300)
        return dep_errf(e, DEP_EINVAL, "%s: root path too long", o->root);
    /* Everything that can be checked without touching the disk, first. */
    dd_item *items = calloc(o->n_res ? o->n_res : 1, sizeof *items);
    if (!items)
        return dep_errf(e, DEP_ENOMEM, "deploy: out of memory");
    dep_status st = DEP_OK;
    for (size_t i = 0; i < o->n_res && !st; i++) {
        const dep_resource *r = &o->res[i];
        dep_err e2;
        if (!r->id || !dep_resource_id_ok(r->id))
            st = dep_errf(e, DEP_EINVAL, "resource %zu: bad Id", i);
        else if (!r->source || !r->source[0])
            st = dep_errf(e, DEP_EINVAL, "%s: no source", r->id);
        else if (r->sha256 && !dep_is_sha_hex(r->sha256))
            st = dep_errf(e, DEP_EINVAL, "%s: EdgemlSha256 is not 64 lowercase hex digits",
                          r->id);
        else if (r->code)
            items[i].owner.set = 2;
        else if ((st = dep_owner_parse(r->group_owner, r->permission, &items[i].owner, &e2)))
            dep_errf(e, st, "%s: OwnerSetting: %s", r->id, e2.msg);
        items[i].sub = r->code ? "code" : "resources";
        snprintf(items[i].sid, sizeof items[i].sid, "%s%s", r->code ? "code/" : "", r->id ? r->id : "");
        for (size_t j = 0; j < i && !st; j++)
            if (strcmp(o->res[j].id, r->id) == 0 && !o->res[j].code == !r->code)
                st = dep_errf(e, DEP_EINVAL, "%s: duplicate %s Id", r->id,
                              r->code ? "function" : "resource");
    }
    if (st) {
        free(items);
        return st;
    }

    int lockfd = -1;
    dep_state *s = NULL;
    dd_run run;
    memset(&run, 0, sizeof run);
    run.storefd = -1;
    run.stop_at = getenv("EDGEML_DEPLOY_STOP_AT");
    if ((st = dd_mkdirs(o->root, 0755, e)) || (st = dd_lock(o->root, &lockfd, e))) {
        free(items);
        return st;
    }
    if ((st = dep_state_open(o->root, 1, &s, e)) || (st = dep_state_mark_interrupted(s, e)) ||
        (st = dep_state_begin(s, o->group_path, id, e)))
        goto out;
    dep_err e2;
    if ((st = dep_store_recover(o->root, &e2))) {
        dep_errf(e, st, "store: %s", e2.msg);
        st = dd_fail(s, *id, st, e);
        goto out;
    }
    char dl[PATH_MAX];
    snprintf(dl, sizeof dl, "%s/downloads", o->root);
    if ((st = dd_mkdirs(dl, 0700, e)) || (st = dep_state_set_status(s, *id, DEP_ST_INPROGRESS,
                                                                    NULL, e))) {
        st = dd_fail(s, *id, st, e);
        goto out;
    }
    char sp[PATH_MAX];
    snprintf(sp, sizeof sp, "%s/store", o->root);
    run.storefd = open(sp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (run.storefd < 0) {
        st = dd_fail(s, *id, dep_errf(e, DEP_EIO, "%s: %s", sp, strerror(errno)), e);
        goto out;
    }
    for (size_t i = 0; i < o->n_res; i++) {
        dd_item *it = &items[i];
        it->run = &run;
        it->idx = i;
        it->r = &o->res[i];
        char tag[DEP_SHA_HEX];
        if ((st = dd_source_tag(it->r->source, tag, e))) {
            st = dd_fail(s, *id, st, e);
            goto out;
        }
        /* Keyed by the source: a partial download resumes only into itself. */
        snprintf(it->dl, sizeof it->dl, "%s/%s%s.%.16s", dl, it->r->code ? "code." : "",
                 it->r->id, tag);
        if ((st = dep_state_get_resource(s, it->sid, &it->prev, &it->has_prev, e))) {
            st = dd_fail(s, *id, st, e);
            goto out;
        }
        if (o->progress)
            o->progress(o->ctx, i, DEP_PH_WAIT, 0, 0, 0);
    }

    dd_clean_downloads(dl, items, o->n_res);

    /* Fetch + unpack with a bounded pool. */
    run.o = o;
    run.items = items;
    pthread_mutex_init(&run.mu, NULL);
    pthread_mutex_init(&run.unpack_mu, NULL);
    unsigned nth = o->parallel ? o->parallel : 4;
    if (nth > 16)
        nth = 16;
    if (nth > o->n_res)
        nth = (unsigned)o->n_res;
    pthread_t th[16];
    unsigned started = 0;
    for (unsigned t = 0; t < nth; t++) {
        if (pthread_create(&th[t], NULL, dd_worker, &run) != 0)
            break;
        started++;
    }
    if (started == 0 && o->n_res)
        dd_worker(&run); /* no thread could start: do it here */
    for (unsigned t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&run.mu);
    pthread_mutex_destroy(&run.unpack_mu);
    if (run.cancel) {
        size_t k = run.first_fail;
        st = dd_fail(s, *id, dep_errf(e, items[k].st, "%s", items[k].err.msg), e);
        goto out;
    }

    /* Every resource is ready: activate them all, or none. */
    char (*was)[NAME_MAX + 1] = calloc(o->n_res ? o->n_res : 1, sizeof *was);
    if (!was) {
        st = dd_fail(s, *id, dep_errf(e, DEP_ENOMEM, "deploy: out of memory"), e);
        goto out;
    }
    size_t done = 0;
    dd_stop_at(&run, DD_STOP_BEFORE, "before-activate");
    for (; done < o->n_res; done++) {
        dd_item *it = &items[done];
        if (done == 1)
            dd_stop_at(&run, DD_STOP_MID, "mid-activate");
        if (dep_active_in(o->root, it->sub, it->r->id, was[done], sizeof was[done], &e2) != DEP_OK)
            was[done][0] = 0;
        if ((st = dep_activate_in(o->root, it->sub, it->r->id, it->cur.sha256, &it->owner, o->keep,
                                  &e2))) {
            dep_errf(e, st, "%s: activate: %s", it->sid, e2.msg);
            break;
        }
    }
    if (st) {
        /* Switch back the ones already switched. */
        for (size_t i = 0; i < done; i++) {
            char sha[DEP_SHA_HEX];
            dep_owner ow;
            if (was[i][0] && dd_parse_view(was[i], sha, &ow) == 0)
                dep_activate_in(o->root, items[i].sub, items[i].r->id, sha, &ow, o->keep, &e2);
            else if (!was[i][0])
                dd_remove_resource(o->root, items[i].sid);
        }
        free(was);
        st = dd_fail(s, *id, st, e);
        goto out;
    }
    dd_stop_at(&run, DD_STOP_AFTER, "after-activate");
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < o->n_res && !st; i++) {
        dd_item *it = &items[i];
        if (dep_active_in(o->root, it->sub, it->r->id, it->cur.store_path,
                          sizeof it->cur.store_path, &e2))
            it->cur.store_path[0] = 0;
        it->cur.activated_at =
            it->has_prev && it->unchanged && strcmp(was[i], it->cur.store_path) == 0
                ? it->prev.activated_at
                : now;
        if ((st = dep_state_add_dep_resource(s, *id, &it->cur, !it->unchanged, e)) == DEP_OK)
            st = dep_state_put_resource(s, *id, &it->cur, e);
    }
    free(was);
    if (st) {
        st = dd_fail(s, *id, st, e);
        goto out;
    }
    /* Resources that left the document. */
    char **ids = NULL;
    size_t nids = 0;
    if (dep_state_list_resources(s, &ids, &nids, &e2) == DEP_OK) {
        for (size_t k = 0; k < nids; k++) {
            int keepit = 0;
            for (size_t i = 0; i < o->n_res && !keepit; i++)
                keepit = strcmp(ids[k], items[i].sid) == 0;
            if (!keepit) {
                dd_remove_resource(o->root, ids[k]);
                dep_state_del_resource(s, ids[k], &e2);
            }
            free(ids[k]);
        }
        free(ids);
    }
    if (o->doc && (st = dd_write_doc(o->root, o->doc, o->doc_len, e))) {
        st = dd_fail(s, *id, st, e);
        goto out;
    }
    if ((st = dep_state_set_status(s, *id, DEP_ST_SUCCESS, NULL, e)))
        goto out;
    if (dep_gc(o->root, o->keep, &e2) != DEP_OK) {
        /* The deployment stands; the note says why old versions remain. */
        dep_err e3;
        char note[1100];
        snprintf(note, sizeof note, "gc: %s", e2.msg);
        dep_state_set_status(s, *id, DEP_ST_SUCCESS, note, &e3);
    }
out:
    if (run.storefd >= 0)
        close(run.storefd);
    dep_state_close(s);
    if (lockfd >= 0)
        close(lockfd);
    free(items);
    return st;
}
