/* Unpacking a package into the content-addressed store (see deploy.h).
 *
 * Everything in the package is hostile: each entry's path is split into
 * components ("." and empty ones dropped, ".." and absolute paths refused)
 * and created with *at() calls relative to the temp dir, opening each parent
 * with O_NOFOLLOW|O_DIRECTORY, so that nothing the archive creates (a
 * symlink, a file) can redirect a later entry. Symlink targets must have the
 * form "../" * k + a path without "..", k not above the package root: with
 * parents that are real directories this keeps every resolution inside.
 *
 * Space: before unpacking, the package size (a lower bound of what tar/zip
 * contents need) must fit; before each entry its declared size must fit
 * (statvfs, keeping `reserve` free); while writing, an entry may not exceed
 * its declared size and entries of unknown size re-check the free space
 * every few MiB. A full disk is one more clean failure (ENOSPC). Summing all
 * entry sizes up front would cost a second decompression of the package.
 *
 * Zip is read as a stream (local headers), so the package is read once and
 * hashed as it is read; symlinks, which zip records only in the central
 * directory, therefore arrive as small regular files holding the target.
 */
#include "deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#define UP_RBUF (256 * 1024)
#define UP_MAX_DEPTH 128
#define UP_MAX_PATH 4096
#define UP_MAX_ENTRIES 1000000
#define UP_RECHECK (8u << 20)

typedef struct up {
    const dep_unpack_opts *o;
    dep_err *e;
    int pkgfd, storefd, tmpfd;
    dep_sha256 *h;
    unsigned char *rbuf;
    uint64_t bytes_in, bytes_out, max_total, reserve, since_check;
    int read_errno;
} up;

typedef struct comps {
    char buf[UP_MAX_PATH + 1];
    const char *c[UP_MAX_DEPTH];
    int n;
} comps;

static int s_eq(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* Splits p into components. Returns NULL or a reason. */
static const char *split_path(const char *p, comps *out)
{
    if (!p || !*p)
        return "has an empty path";
    if (p[0] == '/')
        return "has an absolute path";
    size_t len = strlen(p);
    if (len > UP_MAX_PATH)
        return "has a path longer than 4096 bytes";
    memcpy(out->buf, p, len + 1);
    out->n = 0;
    char *save = NULL;
    for (char *t = strtok_r(out->buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (s_eq(t, "."))
            continue;
        if (s_eq(t, ".."))
            return "has a '..' component";
        if (strlen(t) > NAME_MAX)
            return "has a path component longer than 255 bytes";
        if (out->n >= UP_MAX_DEPTH)
            return "is nested deeper than 128 directories";
        out->c[out->n++] = t;
    }
    return NULL;
}

/* Opens the directory made of the first n components (creating them when
 * create). Returns an fd or -1 with a reason. */
static int open_dirs(up *u, const comps *c, int n, int create, const char **why)
{
    int fd = dup(u->tmpfd);
    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int nfd = openat(fd, c->c[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, c->c[i], 0700) < 0 && errno != EEXIST) {
                *why = errno == ENOSPC || errno == EDQUOT ? "no space left on device" : strerror(errno);
                close(fd);
                return -1;
            }
            nfd = openat(fd, c->c[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (nfd < 0) {
            *why = (errno == ELOOP || errno == ENOTDIR) ? "goes through a symlink or a non-directory"
                   : errno == ENOENT                   ? "names a missing file"
                                                       : strerror(errno);
            close(fd);
            return -1;
        }
        close(fd);
        fd = nfd;
    }
    return fd;
}

static dep_status refuse(up *u, const char *entry, const char *why)
{
    return dep_errf(u->e, DEP_EREFUSED, "package entry '%s' %s", entry, why);
}

static dep_status io_fail(up *u, const char *entry, int err)
{
    if (err == ENOSPC || err == EDQUOT)
        return dep_errf(u->e, DEP_ENOSPC, "package entry '%s': no space left on device", entry);
    return dep_errf(u->e, DEP_EIO, "package entry '%s': %s", entry, strerror(err));
}

/* Free bytes beyond the reserve (0 if below it). */
static dep_status space_for(up *u, int fd, uint64_t need, const char *entry)
{
    struct statvfs sv;
    if (fstatvfs(fd, &sv) < 0)
        return dep_errf(u->e, DEP_EIO, "statvfs: %s", strerror(errno));
    uint64_t avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    uint64_t reserve = u->reserve;
    if (!reserve) { /* auto: 1/32 of the file system, at most 1 MiB */
        reserve = (uint64_t)sv.f_blocks * (uint64_t)sv.f_frsize / 32;
        if (reserve > (1u << 20))
            reserve = 1u << 20;
    }
    uint64_t usable = avail > reserve ? avail - reserve : 0;
    if (need > usable)
        return dep_errf(u->e, DEP_ENOSPC,
                        "%s%s%snot enough space: %llu bytes needed, %llu free (keeping %llu)",
                        entry ? "package entry '" : "", entry ? entry : "", entry ? "': " : "",
                        (unsigned long long)need, (unsigned long long)avail,
                        (unsigned long long)reserve);
    return DEP_OK;
}

static la_ssize_t up_read(struct archive *a, void *ctx, const void **buf)
{
    up *u = ctx;
    ssize_t r;
    do
        r = read(u->pkgfd, u->rbuf, UP_RBUF);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        u->read_errno = errno;
        archive_set_error(a, errno, "read: %s", strerror(errno));
        return -1;
    }
    dep_sha256_update(u->h, u->rbuf, (size_t)r);
    u->bytes_in += (uint64_t)r;
    *buf = u->rbuf;
    return r;
}

static int write_all(int fd, const void *p, size_t n, off_t off)
{
    const char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

static dep_status progress(up *u, const char *entry)
{
    if (u->o->progress && u->o->progress(u->o->ctx, u->bytes_in, u->bytes_out, entry))
        return dep_errf(u->e, DEP_EINVAL, "unpack cancelled");
    return DEP_OK;
}

/* Counts n more output bytes for entry; re-checks free space now and then. */
static dep_status account(up *u, int fd, uint64_t n, const char *entry)
{
    u->bytes_out += n;
    u->since_check += n;
    if (u->bytes_out > u->max_total)
        return refuse(u, entry, "makes the package larger than the unpack limit");
    if (u->since_check >= UP_RECHECK) {
        u->since_check = 0;
        dep_status st = space_for(u, fd, 0, entry);
        if (st)
            return st;
        return progress(u, entry);
    }
    return DEP_OK;
}

static dep_status extract_file(up *u, struct archive *a, struct archive_entry *ae, int pfd,
                               const char *leaf, const char *name)
{
    int has_size = archive_entry_size_is_set(ae);
    int64_t sz = archive_entry_size(ae);
    if (has_size && sz < 0)
        return refuse(u, name, "has a negative size");
    if (has_size) {
        dep_status st = space_for(u, pfd, (uint64_t)sz, name);
        if (st)
            return st;
        if ((uint64_t)sz > u->max_total - u->bytes_out)
            return refuse(u, name, "makes the package larger than the unpack limit");
    }
    mode_t mode = (archive_entry_perm(ae) & 0100) ? 0700 : 0600;
    int fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return refuse(u, name, "is a duplicate of an earlier entry");
        return io_fail(u, name, errno);
    }
    dep_status st = DEP_OK;
    uint64_t end = 0;
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            st = dep_errf(u->e, DEP_EREFUSED, "package entry '%s': %s", name,
                          archive_error_string(a) ? archive_error_string(a) : "corrupt data");
            break;
        }
        if (off < 0 || (uint64_t)off > UINT64_MAX - len) {
            st = refuse(u, name, "has a bad data offset");
            break;
        }
        uint64_t e2 = (uint64_t)off + len;
        if (has_size && e2 > (uint64_t)sz) {
            st = refuse(u, name, "has more data than its header declares");
            break;
        }
        if (e2 > u->max_total) {
            st = refuse(u, name, "makes the package larger than the unpack limit");
            break;
        }
        int err = write_all(fd, buf, len, (off_t)off);
        if (err) {
            st = io_fail(u, name, err);
            break;
        }
        if ((st = account(u, fd, len, name)))
            break;
        if (e2 > end)
            end = e2;
    }
    if (!st && has_size && (uint64_t)sz > end && ftruncate(fd, (off_t)sz) < 0)
        st = io_fail(u, name, errno);
    if (!st && fsync(fd) < 0)
        st = io_fail(u, name, errno);
    if (close(fd) < 0 && !st)
        st = io_fail(u, name, errno);
    return st;
}

/* Symlink targets: "../" * k then a path without "..", k <= depth. */
static const char *check_link_target(const char *t, int depth)
{
    if (!t || !*t)
        return "is a symlink with an empty target";
    if (t[0] == '/')
        return "is a symlink pointing outside the package (absolute target)";
    if (strlen(t) > UP_MAX_PATH)
        return "is a symlink with a too long target";
    int ups = 0, seen_name = 0;
    const char *p = t;
    while (*p) {
        const char *q = strchr(p, '/');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (seen_name)
                return "is a symlink whose target has '..' after a name (may leave the package)";
            ups++;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            seen_name = 1;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    if (ups > depth)
        return "is a symlink pointing outside the package";
    return NULL;
}

static dep_status extract_entry(up *u, struct archive *a, struct archive_entry *ae)
{
    const char *name = archive_entry_pathname(ae);
    const char *show = name ? name : "(unnamed)";
    comps c;
    const char *why = split_path(name, &c);
    if (why)
        return refuse(u, show, why);
    const char *hl = archive_entry_hardlink(ae);
    mode_t type = archive_entry_filetype(ae);
    if (c.n == 0) {
        if (type == AE_IFDIR && !hl)
            return DEP_OK; /* "./" */
        return refuse(u, show, "names the package root");
    }
    if (!hl) {
        switch (type) {
        case AE_IFREG: case AE_IFDIR: case AE_IFLNK: break;
        case AE_IFCHR: case AE_IFBLK: return refuse(u, show, "is a device");
        case AE_IFIFO: return refuse(u, show, "is a FIFO");
        case AE_IFSOCK: return refuse(u, show, "is a socket");
        default: return refuse(u, show, "has an unsupported file type");
        }
    }
    if (type == AE_IFDIR && !hl) {
        int fd = open_dirs(u, &c, c.n, 1, &why);
        if (fd < 0)
            return refuse(u, show, why);
        close(fd);
        return DEP_OK;
    }
    int pfd = open_dirs(u, &c, c.n - 1, 1, &why);
    if (pfd < 0)
        return refuse(u, show, why);
    const char *leaf = c.c[c.n - 1];
    dep_status st = DEP_OK;
    if (hl) {
        comps t;
        const char *tw = split_path(hl, &t);
        if (tw || t.n == 0) {
            st = dep_errf(u->e, DEP_EREFUSED,
                          "package entry '%s' is a hard link pointing outside the package ('%s' %s)",
                          show, hl, tw ? tw : "names the package root");
        } else {
            int tfd = open_dirs(u, &t, t.n - 1, 0, &tw);
            struct stat sb;
            if (tfd < 0 || fstatat(tfd, t.c[t.n - 1], &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
                !S_ISREG(sb.st_mode)) {
                st = dep_errf(u->e, DEP_EREFUSED,
                              "package entry '%s' is a hard link to '%s', which is not an earlier "
                              "regular file of the package", show, hl);
            } else if (linkat(tfd, t.c[t.n - 1], pfd, leaf, 0) < 0) {
                st = errno == EEXIST ? refuse(u, show, "is a duplicate of an earlier entry")
                                     : io_fail(u, show, errno);
            }
            if (tfd >= 0)
                close(tfd);
        }
    } else if (type == AE_IFLNK) {
        const char *tgt = archive_entry_symlink(ae);
        if ((why = check_link_target(tgt, c.n - 1)))
            st = dep_errf(u->e, DEP_EREFUSED, "package entry '%s' %s ('%s')", show, why,
                          tgt ? tgt : "");
        else if (symlinkat(tgt, pfd, leaf) < 0)
            st = errno == EEXIST ? refuse(u, show, "is a duplicate of an earlier entry")
                                 : io_fail(u, show, errno);
    } else {
        st = extract_file(u, a, ae, pfd, leaf, show);
    }
    close(pfd);
    return st;
}

static int looks_like_archive_name(const char *uri)
{
    char b[256];
    dep_uri_basename(uri, b, sizeof b);
    static const char *ext[] = {".tar", ".tar.gz", ".tgz", ".zip", ".tar.xz", ".txz",
                                ".tar.zst", ".tar.bz2", ".tbz2"};
    size_t n = strlen(b);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t m = strlen(ext[i]);
        if (n > m && strcasecmp(b + n - m, ext[i]) == 0)
            return 1;
    }
    return 0;
}

void dep_uri_basename(const char *uri, char *out, size_t cap)
{
    const char *s = uri ? uri : "";
    size_t end = strcspn(s, "?#");
    while (end > 0 && s[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && s[start - 1] != '/')
        start--;
    size_t n = end - start;
    int ok = n > 0 && n <= NAME_MAX && n < cap && !(n == 1 && s[start] == '.') &&
             !(n == 2 && s[start] == '.' && s[start + 1] == '.');
    for (size_t i = start; ok && i < end; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            ok = 0;
    /* "s3:" or "file:" alone is a scheme, not a name */
    if (ok && start == 0 && s[end - 1] == ':')
        ok = 0;
    if (!ok) {
        snprintf(out, cap, "data");
        return;
    }
    memcpy(out, s + start, n);
    out[n] = 0;
}

/* A non-archive object: one file named after the URI. */
static dep_status store_single(up *u)
{
    char name[NAME_MAX + 1];
    dep_uri_basename(u->o->uri, name, sizeof name);
    struct stat sb;
    if (fstat(u->pkgfd, &sb) < 0)
        return dep_errf(u->e, DEP_EIO, "package: %s", strerror(errno));
    dep_status st = space_for(u, u->tmpfd, (uint64_t)sb.st_size, name);
    if (st)
        return st;
    if (lseek(u->pkgfd, 0, SEEK_SET) < 0)
        return dep_errf(u->e, DEP_EIO, "package: seek: %s", strerror(errno));
    if ((st = dep_sha256_reset(u->h, u->e)))
        return st;
    u->bytes_in = 0;
    int fd = openat(u->tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_fail(u, name, errno);
    off_t off = 0;
    for (;;) {
        ssize_t r = read(u->pkgfd, u->rbuf, UP_RBUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = dep_errf(u->e, DEP_EIO, "package: read: %s", strerror(errno));
            break;
        }
        if (r == 0)
            break;
        dep_sha256_update(u->h, u->rbuf, (size_t)r);
        u->bytes_in += (uint64_t)r;
        int err = write_all(fd, u->rbuf, (size_t)r, off);
        if (err) {
            st = io_fail(u, name, err);
            break;
        }
        off += r;
        if ((st = account(u, fd, (uint64_t)r, name)))
            break;
    }
    if (!st && fsync(fd) < 0)
        st = io_fail(u, name, errno);
    close(fd);
    return st;
}

static void archive_support(struct archive *a)
{
    /* Built-in decoders only (no external programs). */
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_lzma(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_format_zip_streamable(a);
}

/* libarchive's "no format bid" (its ARCHIVE_ERRNO_FILE_FORMAT is private). */
static int not_an_archive(struct archive *a)
{
    const char *m = archive_error_string(a);
    return m && strstr(m, "Unrecognized archive format");
}

/* Reads the package as an archive, or falls back to a single file. */
static dep_status unpack_into_tmp(up *u)
{
    struct archive *a = archive_read_new();
    if (!a)
        return dep_errf(u->e, DEP_ENOMEM, "libarchive: out of memory");
    archive_support(a);
    dep_status st = DEP_OK;
    uint64_t entries = 0;
    int opened = archive_read_open(a, u, NULL, up_read, NULL);
    for (;;) {
        struct archive_entry *ae;
        int r = opened == ARCHIVE_OK ? archive_read_next_header(a, &ae) : opened;
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            if (entries == 0 && !u->read_errno && not_an_archive(a)) {
                int filters = archive_filter_count(a);
                const char *fname = archive_filter_name(a, 0);
                if (filters <= 1 || (fname && s_eq(fname, "none"))) {
                    if (looks_like_archive_name(u->o->uri)) {
                        st = dep_errf(u->e, DEP_EREFUSED,
                                      "package '%s' is named like an archive but is not a "
                                      "tar or zip archive", u->o->uri ? u->o->uri : "");
                        break;
                    }
                    archive_read_free(a);
                    return store_single(u);
                }
                st = dep_errf(u->e, DEP_EREFUSED,
                              "package: %s-compressed data that is not a tar archive",
                              fname ? fname : "?");
                break;
            }
            st = dep_errf(u->e, u->read_errno ? DEP_EIO : DEP_EREFUSED,
                          "package: corrupt after %llu entries: %s", (unsigned long long)entries,
                          archive_error_string(a) ? archive_error_string(a) : "read error");
            break;
        }
        if (++entries > UP_MAX_ENTRIES) {
            st = dep_errf(u->e, DEP_EREFUSED, "package has more than %d entries",
                          UP_MAX_ENTRIES);
            break;
        }
        if ((st = extract_entry(u, a, ae)))
            break;
        if ((st = progress(u, archive_entry_pathname(ae))))
            break;
    }
    archive_read_free(a);
    if (st)
        return st;
    /* The digest covers the whole file, trailing bytes included. */
    for (;;) {
        ssize_t r = read(u->pkgfd, u->rbuf, UP_RBUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return dep_errf(u->e, DEP_EIO, "package: read: %s", strerror(errno));
        if (r == 0)
            break;
        dep_sha256_update(u->h, u->rbuf, (size_t)r);
        u->bytes_in += (uint64_t)r;
    }
    return DEP_OK;
}

static int open_store(const char *root, dep_err *e, dep_status *st)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/store", root) >= (int)sizeof p) {
        *st = dep_errf(e, DEP_EINVAL, "root path too long");
        return -1;
    }
    mkdir(root, 0755);
    if (mkdir(p, 0755) < 0 && errno != EEXIST) {
        *st = dep_errf(e, DEP_EIO, "%s: %s", p, strerror(errno));
        return -1;
    }
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        *st = dep_errf(e, DEP_EIO, "%s: %s", p, strerror(errno));
    return fd;
}

dep_status dep_unpack(const char *root, const char *pkg, const dep_unpack_opts *o,
                      char sha_out[DEP_SHA_HEX], dep_err *e)
{
    static const dep_unpack_opts none;
    if (!o)
        o = &none;
    if (!root || !pkg)
        return dep_errf(e, DEP_EINVAL, "unpack: no root or package");
    if (o->expect_sha && !dep_is_sha_hex(o->expect_sha))
        return dep_errf(e, DEP_EINVAL, "unpack: expected digest is not 64 lowercase hex digits");
    dep_status st = DEP_OK;
    up u = {.o = o, .e = e, .pkgfd = -1, .tmpfd = -1};
    u.max_total = o->max_total ? o->max_total : (64ull << 30);
    u.reserve = o->reserve;
    u.storefd = open_store(root, e, &st);
    if (u.storefd < 0)
        return st;
    if (o->expect_sha && dep_store_has(u.storefd, o->expect_sha)) {
        memcpy(sha_out, o->expect_sha, DEP_SHA_HEX);
        close(u.storefd);
        return DEP_OK;
    }
    char tmpname[32] = "";
    u.pkgfd = open(pkg, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (u.pkgfd < 0) {
        st = dep_errf(e, errno == ENOENT ? DEP_ENOENT : DEP_EIO, "%s: %s", pkg, strerror(errno));
        goto out;
    }
    if (fstat(u.pkgfd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        st = dep_errf(e, DEP_EINVAL, "%s: not a regular file", pkg);
        goto out;
    }
    if ((st = space_for(&u, u.storefd, (uint64_t)sb.st_size, NULL)))
        goto out;
    if ((st = dep_sha256_new(&u.h, e)))
        goto out;
    if (!(u.rbuf = malloc(UP_RBUF))) {
        st = dep_errf(e, DEP_ENOMEM, "unpack: out of memory");
        goto out;
    }
    for (int tries = 0;; tries++) {
        unsigned char rnd[6];
        if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
            st = dep_errf(e, DEP_EIO, "getrandom: %s", strerror(errno));
            goto out;
        }
        snprintf(tmpname, sizeof tmpname, ".tmp-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
                 rnd[2], rnd[3], rnd[4], rnd[5]);
        if (mkdirat(u.storefd, tmpname, 0700) == 0)
            break;
        if (errno != EEXIST || tries > 8) {
            st = dep_errf(e, errno == ENOSPC ? DEP_ENOSPC : DEP_EIO, "%s/store/%s: %s", root,
                          tmpname, strerror(errno));
            tmpname[0] = 0;
            goto out;
        }
    }
    u.tmpfd = openat(u.storefd, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (u.tmpfd < 0) {
        st = dep_errf(e, DEP_EIO, "%s/store/%s: %s", root, tmpname, strerror(errno));
        goto out;
    }
    if ((st = unpack_into_tmp(&u)))
        goto out;
    char sha[DEP_SHA_HEX];
    if ((st = dep_sha256_final(u.h, sha, e)))
        goto out;
    if (o->expect_sha && strcmp(sha, o->expect_sha) != 0) {
        st = dep_errf(e, DEP_EDIGEST, "%s: sha256 is %s, expected %s", pkg, sha, o->expect_sha);
        goto out;
    }
    if (dep_store_has(u.storefd, sha)) {
        memcpy(sha_out, sha, DEP_SHA_HEX);
        goto out; /* already there: the temp tree goes */
    }
    static const dep_modes pristine = {.file = 0444, .file_x = 0555, .dir = 0555, .top = 0500,
                                       .sync = 1};
    if ((st = dep_tree_apply(u.storefd, tmpname, &pristine, e)))
        goto out;
    if (renameat(u.storefd, tmpname, u.storefd, sha) < 0) {
        st = dep_errf(e, DEP_EIO, "%s/store/%s: rename: %s", root, sha, strerror(errno));
        goto out;
    }
    tmpname[0] = 0;
    if (fsync(u.storefd) < 0) {
        st = dep_errf(e, DEP_EIO, "%s/store: fsync: %s", root, strerror(errno));
        goto out;
    }
    memcpy(sha_out, sha, DEP_SHA_HEX);
out:
    if (u.tmpfd >= 0)
        close(u.tmpfd);
    if (tmpname[0]) {
        dep_err ignored;
        dep_rm_tree(u.storefd, tmpname, &ignored);
    }
    if (u.pkgfd >= 0)
        close(u.pkgfd);
    dep_sha256_free(u.h);
    free(u.rbuf);
    close(u.storefd);
    return st;
}
