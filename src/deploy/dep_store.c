/* The store: views, atomic activation, history and garbage collection (see
 * deploy.h for the layout and why views exist). All tree walks use *at()
 * calls with O_NOFOLLOW: a store tree's symlinks are never followed. */
#include "deploy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_DEPTH 256
#define ST_MAX_KEEP 64

static int is_enoent(int err) { return err == ENOENT; }

int dep_resource_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ':' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

dep_status dep_owner_parse(const char *group_owner, const char *perm, dep_owner *o, dep_err *e)
{
    memset(o, 0, sizeof *o);
    if (!group_owner && !perm)
        return DEP_OK;
    if (!group_owner || !*group_owner || !perm)
        return dep_errf(e, DEP_EINVAL, "OwnerSetting needs both GroupOwner and GroupPermission");
    if (strcmp(perm, "ro") == 0)
        o->rw = 0;
    else if (strcmp(perm, "rw") == 0)
        o->rw = 1;
    else
        return dep_errf(e, DEP_EINVAL, "OwnerSetting.GroupPermission '%s' is not ro or rw", perm);
    char *end;
    errno = 0;
    unsigned long v = strtoul(group_owner, &end, 10);
    if (group_owner[0] >= '0' && group_owner[0] <= '9' && !*end) {
        if (errno || v > 0x7fffffffUL)
            return dep_errf(e, DEP_EINVAL, "OwnerSetting.GroupOwner '%s' is out of range",
                            group_owner);
        o->gid = (gid_t)v;
    } else {
        struct group g, *r = NULL;
        char buf[16384];
        if (getgrnam_r(group_owner, &g, buf, sizeof buf, &r) != 0 || !r)
            return dep_errf(e, DEP_EINVAL, "OwnerSetting.GroupOwner '%s': no such group",
                            group_owner);
        o->gid = r->gr_gid;
    }
    o->set = 1;
    return DEP_OK;
}

static void view_key(const dep_owner *o, char *out, size_t cap)
{
    if (!o || !o->set)
        snprintf(out, cap, "root");
    else if (o->set == 2)
        snprintf(out, cap, "pub");
    else
        snprintf(out, cap, "g%u-%s", (unsigned)o->gid, o->rw ? "rw" : "ro");
}

static dep_modes view_modes(const dep_owner *o)
{
    dep_modes m = {.file = 0400, .file_x = 0400, .dir = 0500, .top = 0500, .chown = 1, .sync = 1};
    if (o && o->set == 2) {
        m.file = 0444;
        m.file_x = m.dir = m.top = 0555;
    } else if (o && o->set) {
        m.gid = o->gid;
        m.file = m.file_x = o->rw ? 0660 : 0440;
        m.dir = m.top = o->rw ? 0770 : 0550;
    }
    return m;
}

/* A directory stream over dfd with its own read position: dup() would share
 * dfd's offset, so a second walk of the same directory would see nothing. */
static DIR *dir_stream(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d)
        close(fd);
    return d;
}


/* ---- tree walks ---- */

/* The entries of dfd for a walk at `depth`: NULL with *st set (named by what)
 * when too deep or unreadable. */
static DIR *walk_open(int dfd, int depth, const char *what, dep_status *st, dep_err *e)
{
    if (depth > ST_MAX_DEPTH) {
        *st = dep_errf(e, DEP_EIO, "%s: tree deeper than %d", what, ST_MAX_DEPTH);
        return NULL;
    }
    DIR *d = dir_stream(dfd);
    if (!d)
        *st = dep_errf(e, DEP_EIO, "%s: %s", what, strerror(errno));
    return d;
}

/* The next entry's name but "." and ".."; NULL at the end (errno set on a
 * read error, 0 otherwise). */
static const char *walk_next(DIR *d)
{
    struct dirent *de;
    while ((errno = 0, de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            return de->d_name;
    return NULL;
}

/* Owner root and group m->gid when we are root. A deployment run by another
 * user keeps itself as the owner and changes only a non-root group (one the
 * user is not in fails with EPERM, named by the caller). */
static void chown_ids(const dep_modes *m, uid_t *owner, gid_t *group)
{
    int root = geteuid() == 0;
    *owner = root ? 0 : (uid_t)-1;
    *group = root || m->gid != 0 ? m->gid : (gid_t)-1;
}

static dep_status apply_rec(int dfd, const dep_modes *m, int depth, const char *name, dep_err *e)
{
    dep_status st = DEP_OK;
    DIR *d = walk_open(dfd, depth, name, &st, e);
    if (!d)
        return st;
    uid_t owner;
    gid_t group;
    chown_ids(m, &owner, &group);
    const char *n;
    while (!st && (n = walk_next(d))) {
        struct stat sb;
        if (fstatat(dfd, n, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
            st = dep_errf(e, DEP_EIO, "%s/%s: %s", name, n, strerror(errno));
            break;
        }
        if (m->chown && fchownat(dfd, n, owner, group, AT_SYMLINK_NOFOLLOW) < 0) {
            st = dep_errf(e, DEP_EIO, "%s/%s: chown to group %u: %s", name, n, (unsigned)m->gid,
                          strerror(errno));
            break;
        }
        if (S_ISLNK(sb.st_mode))
            continue;
        int fd = openat(dfd, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
                                    (S_ISDIR(sb.st_mode) ? O_DIRECTORY : 0));
        if (fd < 0) {
            st = dep_errf(e, DEP_EIO, "%s/%s: %s", name, n, strerror(errno));
            break;
        }
        mode_t mode;
        if (S_ISDIR(sb.st_mode)) {
            st = apply_rec(fd, m, depth + 1, n, e);
            mode = m->dir;
        } else {
            mode = (sb.st_mode & S_IXUSR) ? m->file_x : m->file;
        }
        if (!st && fchmod(fd, mode) < 0)
            st = dep_errf(e, DEP_EIO, "%s/%s: chmod: %s", name, n, strerror(errno));
        if (!st && m->sync && fsync(fd) < 0)
            st = dep_errf(e, DEP_EIO, "%s/%s: fsync: %s", name, n, strerror(errno));
        close(fd);
    }
    if (!st && errno)
        st = dep_errf(e, DEP_EIO, "%s: readdir: %s", name, strerror(errno));
    closedir(d);
    return st;
}

dep_status dep_tree_apply(int dirfd, const char *name, const dep_modes *m, dep_err *e)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return dep_errf(e, DEP_EIO, "store/%s: %s", name, strerror(errno));
    dep_status st = apply_rec(fd, m, 0, name, e);
    uid_t owner;
    gid_t group;
    chown_ids(m, &owner, &group);
    if (!st && m->chown && fchown(fd, owner, group) < 0)
        st = dep_errf(e, DEP_EIO, "store/%s: chown: %s", name, strerror(errno));
    if (!st && fchmod(fd, m->top) < 0)
        st = dep_errf(e, DEP_EIO, "store/%s: chmod: %s", name, strerror(errno));
    if (!st && m->sync && fsync(fd) < 0)
        st = dep_errf(e, DEP_EIO, "store/%s: fsync: %s", name, strerror(errno));
    close(fd);
    return st;
}

static dep_status rm_rec(int dfd, int depth, dep_err *e)
{
    dep_status st = DEP_OK;
    DIR *d = walk_open(dfd, depth, "remove", &st, e);
    if (!d)
        return st;
    const char *n;
    while (!st && (n = walk_next(d))) {
        if (unlinkat(dfd, n, 0) == 0 || is_enoent(errno))
            continue;
        if (errno != EISDIR && errno != EPERM) {
            st = dep_errf(e, DEP_EIO, "remove %s: %s", n, strerror(errno));
            break;
        }
        int fd = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            st = dep_errf(e, DEP_EIO, "remove %s: %s", n, strerror(errno));
            break;
        }
        fchmod(fd, 0700); /* a read-only dir of ours: make it removable */
        st = rm_rec(fd, depth + 1, e);
        close(fd);
        if (!st && unlinkat(dfd, n, AT_REMOVEDIR) < 0 && !is_enoent(errno))
            st = dep_errf(e, DEP_EIO, "remove %s: %s", n, strerror(errno));
    }
    closedir(d);
    return st;
}

dep_status dep_rm_tree(int dirfd, const char *name, dep_err *e)
{
    if (unlinkat(dirfd, name, 0) == 0 || is_enoent(errno))
        return DEP_OK;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return is_enoent(errno) ? DEP_OK : dep_errf(e, DEP_EIO, "remove %s: %s", name, strerror(errno));
    fchmod(fd, 0700);
    dep_status st = rm_rec(fd, 0, e);
    close(fd);
    if (!st && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && !is_enoent(errno))
        st = dep_errf(e, DEP_EIO, "remove %s: %s", name, strerror(errno));
    return st;
}

static dep_status copy_file(int sfd, int dfd, const char *n, mode_t mode, dep_err *e)
{
    int in = openat(sfd, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return dep_errf(e, DEP_EIO, "copy %s: %s", n, strerror(errno));
    int out = openat(dfd, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    dep_status st = DEP_OK;
    if (out < 0) {
        st = dep_errf(e, errno == ENOSPC ? DEP_ENOSPC : DEP_EIO, "copy %s: %s", n, strerror(errno));
    } else {
        for (;;) {
            ssize_t r = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                st = dep_errf(e, errno == ENOSPC || errno == EDQUOT ? DEP_ENOSPC : DEP_EIO,
                              "copy %s: %s", n, strerror(errno));
                break;
            }
            if (r == 0)
                break;
        }
        close(out);
    }
    close(in);
    return st;
}

static dep_status copy_rec(int sfd, int dfd, int depth, dep_err *e)
{
    dep_status st = DEP_OK;
    DIR *d = walk_open(sfd, depth, "copy", &st, e);
    if (!d)
        return st;
    const char *n;
    while (!st && (n = walk_next(d))) {
        struct stat sb;
        if (fstatat(sfd, n, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
            st = dep_errf(e, DEP_EIO, "copy %s: %s", n, strerror(errno));
        } else if (S_ISLNK(sb.st_mode)) {
            char t[PATH_MAX];
            ssize_t k = readlinkat(sfd, n, t, sizeof t - 1);
            if (k < 0 || symlinkat((t[k] = 0, t), dfd, n) < 0)
                st = dep_errf(e, DEP_EIO, "copy %s: %s", n, strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            if (mkdirat(dfd, n, 0700) < 0) {
                st = dep_errf(e, DEP_EIO, "copy %s: %s", n, strerror(errno));
                break;
            }
            int s2 = openat(sfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int d2 = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s2 < 0 || d2 < 0)
                st = dep_errf(e, DEP_EIO, "copy %s: %s", n, strerror(errno));
            else
                st = copy_rec(s2, d2, depth + 1, e);
            if (s2 >= 0)
                close(s2);
            if (d2 >= 0)
                close(d2);
        } else if (S_ISREG(sb.st_mode)) {
            st = copy_file(sfd, dfd, n, 0600, e);
        }
    }
    closedir(d);
    return st;
}

/* ---- store entries ---- */

int dep_store_has(int storefd, const char *sha)
{
    struct stat sb;
    if (fstatat(storefd, sha, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode))
        return 1;
    DIR *d = dir_stream(storefd);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d)))
        found = strncmp(de->d_name, sha, 64) == 0 && de->d_name[64] == '.';
    closedir(d);
    return found;
}

static int open_sub(const char *root, const char *sub, int create, dep_err *e, dep_status *st)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/%s", root, sub) >= (int)sizeof p) {
        *st = dep_errf(e, DEP_EINVAL, "root path too long");
        return -1;
    }
    if (create) {
        mkdir(root, 0755);
        mkdir(p, 0755);
    }
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        *st = dep_errf(e, errno == ENOENT ? DEP_ENOENT : DEP_EIO, "%s: %s", p, strerror(errno));
    return fd;
}

dep_status dep_store_recover(const char *root, dep_err *e)
{
    dep_status st = DEP_OK;
    const char *subs[] = {"store", "resources", "code"};
    for (int i = 0; i < 3 && !st; i++) {
        int fd = open_sub(root, subs[i], 1, e, &st);
        if (fd < 0)
            return st;
        DIR *d = dir_stream(fd);
        if (!d) {
            close(fd);
            return dep_errf(e, DEP_EIO, "%s/%s: %s", root, subs[i], strerror(errno));
        }
        struct dirent *de;
        while (!st && (de = readdir(d))) {
            const char *n = de->d_name;
            size_t len = strlen(n);
            int stale = i == 0 ? strncmp(n, ".tmp-", 5) == 0
                               : (n[0] == '.' && len > 4 && strcmp(n + len - 4, ".tmp") == 0);
            if (stale)
                st = dep_rm_tree(fd, n, e);
        }
        closedir(d);
        if (!st && fsync(fd) < 0)
            st = dep_errf(e, DEP_EIO, "%s/%s: fsync: %s", root, subs[i], strerror(errno));
        close(fd);
    }
    return st;
}

/* Makes store/<sha>.<key> exist: takes the pristine tree over, or copies
 * another view of the same content. */
static dep_status ensure_view(int storefd, const char *sha, const dep_owner *o, char *view,
                              size_t cap, dep_err *e)
{
    char key[32];
    view_key(o, key, sizeof key);
    snprintf(view, cap, "%s.%s", sha, key);
    struct stat sb;
    if (fstatat(storefd, view, &sb, AT_SYMLINK_NOFOLLOW) == 0)
        return DEP_OK;
    dep_modes m = view_modes(o);
    dep_status st;
    if (fstatat(storefd, sha, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode)) {
        /* Nothing points at a pristine tree: change it in place. A crash
         * here leaves a pristine tree with some modes changed, redone next. */
        if ((st = dep_tree_apply(storefd, sha, &m, e)))
            return st;
        if (renameat(storefd, sha, storefd, view) < 0)
            return dep_errf(e, DEP_EIO, "store/%s: rename: %s", view, strerror(errno));
        if (fsync(storefd) < 0)
            return dep_errf(e, DEP_EIO, "store: fsync: %s", strerror(errno));
        return DEP_OK;
    }
    /* Another view of the same content? */
    char src[NAME_MAX + 1] = "";
    DIR *d = dir_stream(storefd);
    if (!d) {
        return dep_errf(e, DEP_EIO, "store: %s", strerror(errno));
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, sha, 64) == 0 && de->d_name[64] == '.' &&
            strlen(de->d_name) < sizeof src) {
            strcpy(src, de->d_name);
            break;
        }
    closedir(d);
    if (!src[0])
        return dep_errf(e, DEP_ENOENT, "store/%s: no such package in the store", sha);
    char tmp[32];
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        return dep_errf(e, DEP_EIO, "getrandom: %s", strerror(errno));
    snprintf(tmp, sizeof tmp, ".tmp-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
    if (mkdirat(storefd, tmp, 0700) < 0)
        return dep_errf(e, DEP_EIO, "store/%s: %s", tmp, strerror(errno));
    int sfd = openat(storefd, src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int dfd = openat(storefd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0 || dfd < 0)
        st = dep_errf(e, DEP_EIO, "store/%s: %s", src, strerror(errno));
    else
        st = copy_rec(sfd, dfd, 0, e);
    if (sfd >= 0)
        close(sfd);
    if (dfd >= 0)
        close(dfd);
    if (!st)
        st = dep_tree_apply(storefd, tmp, &m, e);
    if (!st && renameat(storefd, tmp, storefd, view) < 0)
        st = dep_errf(e, DEP_EIO, "store/%s: rename: %s", view, strerror(errno));
    if (st) {
        dep_err ignored;
        dep_rm_tree(storefd, tmp, &ignored);
        return st;
    }
    if (fsync(storefd) < 0)
        return dep_errf(e, DEP_EIO, "store: fsync: %s", strerror(errno));
    return DEP_OK;
}

/* The view name of a resources/ symlink ("../store/<view>"), or -1. */
static int link_view(int resfd, const char *rid, char *out, size_t cap)
{
    char t[PATH_MAX];
    ssize_t k = readlinkat(resfd, rid, t, sizeof t - 1);
    if (k < 0)
        return -1;
    t[k] = 0;
    if (strncmp(t, "../store/", 9) != 0 || strchr(t + 9, '/') || strlen(t + 9) >= cap)
        return -1;
    strcpy(out, t + 9);
    return 0;
}

/* "<64 hex>.<key>" without '/'. */
static int view_name_ok(const char *l)
{
    size_t n = strlen(l);
    if (n < 66 || n > NAME_MAX || l[64] != '.' || strchr(l, '/'))
        return 0;
    char sha[DEP_SHA_HEX];
    memcpy(sha, l, 64);
    sha[64] = 0;
    return dep_is_sha_hex(sha);
}

/* History file: one view name per line, newest first. */
static int hist_read(int resfd, const char *rid, char names[][NAME_MAX + 1], int max)
{
    char hn[160];
    snprintf(hn, sizeof hn, ".%s.hist", rid);
    int fd = openat(resfd, hn, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[ST_MAX_KEEP * (NAME_MAX + 2)];
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return 0;
    buf[r] = 0;
    int n = 0;
    char *save = NULL;
    for (char *l = strtok_r(buf, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
        if (view_name_ok(l))
            snprintf(names[n++], NAME_MAX + 1, "%s", l);
    return n;
}

static dep_status hist_write(int resfd, const char *rid, char names[][NAME_MAX + 1], int n,
                             dep_err *e)
{
    char hn[160], tn[160];
    snprintf(hn, sizeof hn, ".%s.hist", rid);
    snprintf(tn, sizeof tn, ".%s.hist.tmp", rid);
    int fd = openat(resfd, tn, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return dep_errf(e, DEP_EIO, "resources/%s: %s", tn, strerror(errno));
    int bad = 0;
    for (int i = 0; i < n && !bad; i++)
        bad = dprintf(fd, "%s\n", names[i]) < 0;
    if (!bad)
        bad = fsync(fd) < 0;
    close(fd);
    if (bad || renameat(resfd, tn, resfd, hn) < 0) {
        unlinkat(resfd, tn, 0);
        return dep_errf(e, DEP_EIO, "resources/%s: %s", hn, strerror(errno));
    }
    return DEP_OK;
}

dep_status dep_activate(const char *root, const char *rid, const char *sha, const dep_owner *o,
                        unsigned keep, dep_err *e)
{
    return dep_activate_in(root, "resources", rid, sha, o, keep, e);
}

dep_status dep_activate_in(const char *root, const char *sub, const char *rid, const char *sha,
                           const dep_owner *o, unsigned keep, dep_err *e)
{
    if (!dep_resource_id_ok(rid))
        return dep_errf(e, DEP_EINVAL, "resource id '%s' is not 1..128 of [a-zA-Z0-9:_-]",
                        rid ? rid : "");
    if (!dep_is_sha_hex(sha))
        return dep_errf(e, DEP_EINVAL, "resource %s: bad package digest", rid);
    if (keep > ST_MAX_KEEP)
        keep = ST_MAX_KEEP;
    dep_status st = DEP_OK;
    int storefd = open_sub(root, "store", 0, e, &st);
    if (storefd < 0)
        return st;
    int resfd = open_sub(root, sub, 1, e, &st);
    if (resfd < 0) {
        close(storefd);
        return st;
    }
    char view[NAME_MAX + 1], prev[NAME_MAX + 1] = "";
    if ((st = ensure_view(storefd, sha, o, view, sizeof view, e)))
        goto out;
    int had_prev = link_view(resfd, rid, prev, sizeof prev) == 0;
    if (had_prev && strcmp(prev, view) == 0)
        goto out; /* already active */
    char tn[160], target[NAME_MAX + 16];
    snprintf(tn, sizeof tn, ".%s.tmp", rid);
    snprintf(target, sizeof target, "../store/%s", view);
    unlinkat(resfd, tn, 0);
    if (symlinkat(target, resfd, tn) < 0) {
        st = dep_errf(e, errno == ENOSPC ? DEP_ENOSPC : DEP_EIO, "%s/%s: %s", sub, tn,
                      strerror(errno));
        goto out;
    }
    if (renameat(resfd, tn, resfd, rid) < 0) {
        st = dep_errf(e, DEP_EIO, "%s/%s: rename: %s", sub, rid, strerror(errno));
        unlinkat(resfd, tn, 0);
        goto out;
    }
    if (fsync(resfd) < 0) {
        st = dep_errf(e, DEP_EIO, "%s: fsync: %s", sub, strerror(errno));
        goto out;
    }
    /* History: previous first, without the new active view, at most keep. */
    char old[ST_MAX_KEEP][NAME_MAX + 1], nw[ST_MAX_KEEP][NAME_MAX + 1];
    int no = hist_read(resfd, rid, old, ST_MAX_KEEP), nn = 0;
    if (had_prev && keep > 0)
        snprintf(nw[nn++], NAME_MAX + 1, "%s", prev);
    for (int i = 0; i < no && nn < (int)keep; i++) {
        int dupl = strcmp(old[i], view) == 0;
        for (int j = 0; j < nn && !dupl; j++)
            dupl = strcmp(old[i], nw[j]) == 0;
        if (!dupl)
            snprintf(nw[nn++], NAME_MAX + 1, "%s", old[i]);
    }
    st = hist_write(resfd, rid, nw, nn, e);
out:
    close(storefd);
    close(resfd);
    return st;
}

dep_status dep_active(const char *root, const char *rid, char *out, size_t cap, dep_err *e)
{
    return dep_active_in(root, "resources", rid, out, cap, e);
}

dep_status dep_active_in(const char *root, const char *sub, const char *rid, char *out, size_t cap,
                         dep_err *e)
{
    if (!dep_resource_id_ok(rid))
        return dep_errf(e, DEP_EINVAL, "resource id '%s' is not valid", rid ? rid : "");
    dep_status st = DEP_OK;
    int resfd = open_sub(root, sub, 0, e, &st);
    if (resfd < 0)
        return st;
    int r = link_view(resfd, rid, out, cap);
    close(resfd);
    if (r < 0)
        return dep_errf(e, DEP_ENOENT, "resource %s is not active", rid);
    return DEP_OK;
}

/* A growable list of referenced view names. */
typedef struct refs {
    char (*v)[NAME_MAX + 1];
    size_t n, cap;
} refs;

static int refs_add(refs *r, const char *s)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        void *p = realloc(r->v, nc * sizeof *r->v);
        if (!p)
            return -1;
        r->v = p;
        r->cap = nc;
    }
    snprintf(r->v[r->n++], NAME_MAX + 1, "%s", s);
    return 0;
}

static int refs_has(const refs *r, const char *s)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i], s) == 0)
            return 1;
    return 0;
}

/* Adds the views the links of ROOT/<sub>/ use (active + `keep` history). */
static dep_status gc_refs(const char *root, const char *sub, unsigned keep, refs *r, dep_err *e)
{
    dep_status st = DEP_OK;
    int resfd = open_sub(root, sub, 1, e, &st);
    if (resfd < 0)
        return st;
    DIR *d = dir_stream(resfd);
    if (!d) {
        close(resfd);
        return dep_errf(e, DEP_EIO, "%s: %s", sub, strerror(errno));
    }
    struct dirent *de;
    while (!st && (de = readdir(d))) {
        const char *n = de->d_name;
        if (n[0] == '.' || !dep_resource_id_ok(n))
            continue;
        char v[NAME_MAX + 1];
        if (link_view(resfd, n, v, sizeof v) == 0 && refs_add(r, v) < 0)
            st = dep_errf(e, DEP_ENOMEM, "gc: out of memory");
        char h[ST_MAX_KEEP][NAME_MAX + 1];
        int nh = hist_read(resfd, n, h, (int)keep);
        for (int i = 0; i < nh && !st; i++)
            if (refs_add(r, h[i]) < 0)
                st = dep_errf(e, DEP_ENOMEM, "gc: out of memory");
    }
    closedir(d);
    close(resfd);
    return st;
}

dep_status dep_gc(const char *root, unsigned keep, dep_err *e)
{
    if (keep > ST_MAX_KEEP)
        keep = ST_MAX_KEEP;
    dep_status st = DEP_OK;
    int storefd = open_sub(root, "store", 0, e, &st);
    if (storefd < 0)
        return st == DEP_ENOENT ? DEP_OK : st;
    refs r = {0};
    /* Resources and function code share the store. */
    if ((st = gc_refs(root, "resources", keep, &r, e)) || (st = gc_refs(root, "code", keep, &r, e)))
        goto out;
    DIR *d = dir_stream(storefd);
    if (!d) {
        st = dep_errf(e, DEP_EIO, "store: %s", strerror(errno));
        goto out;
    }
    struct dirent *de;
    while (!st && (de = readdir(d))) {
        const char *n = de->d_name;
        if (n[0] == '.' || strlen(n) < 64)
            continue; /* ".", "..", ".tmp-*" (dep_store_recover's) */
        if (!refs_has(&r, n))
            st = dep_rm_tree(storefd, n, e);
    }
    closedir(d);
    if (!st && fsync(storefd) < 0)
        st = dep_errf(e, DEP_EIO, "store: fsync: %s", strerror(errno));
out:
    free(r.v);
    close(storefd);
    return st;
}
