/* Path building that never follows a symlink: the trees we make directories
 * in (a function's own directory, binds of host directories) may hold links
 * planted to send a privileged mkdir elsewhere. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_int.h"

int run_function_dir(const char *root, const char *id, char *buf, size_t cap) {
    if (!root || !id || !buf) return -1;
    int n = snprintf(buf, cap, "%s/functions/%s", root, id);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int run_dst_check(const char *dst, char *why, size_t cap) {
    if (!dst || dst[0] != '/') {
        snprintf(why, cap, "'%s' is not an absolute path", dst ? dst : "(null)");
        return -1;
    }
    size_t len = strlen(dst);
    if (len >= 1024) {
        snprintf(why, cap, "path of %zu bytes is too long (at most 1023)", len);
        return -1;
    }
    if (len == 1) {
        snprintf(why, cap, "'/' cannot be a destination");
        return -1;
    }
    const char *p = dst + 1;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0) {
            snprintf(why, cap, "'%s' has an empty component", dst);
            return -1;
        }
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            snprintf(why, cap, "'%s' has a '.' or '..' component", dst);
            return -1;
        }
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int run_mkpath(int dirfd, const char *rel, int last_dir, mode_t mode, uid_t uid, gid_t gid,
               const char **leaf, void (*made)(void *ctx, const char *rel), void *ctx) {
    char buf[PATH_MAX];
    while (*rel == '/') rel++;
    size_t len = strlen(rel);
    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, rel, len + 1);
    int cur = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0) return -1;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && buf[j] != '/') j++;
        int last = j >= len;
        if (j == i) { /* "a//b": skip */
            i = j + 1;
            continue;
        }
        char save = buf[j];
        buf[j] = '\0';
        const char *name = buf + i;
        if (last && !last_dir) {
            if (leaf) *leaf = rel + i;
            return cur;
        }
        if (mkdirat(cur, name, mode) == 0) {
            if (uid != (uid_t)-1 && fchownat(cur, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) goto fail;
            if (fchmodat(cur, name, mode, 0) < 0) goto fail;
            if (made) made(ctx, buf);
        } else if (errno != EEXIST) {
            goto fail;
        }
        int nfd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0) {
            if (errno == ENOTDIR || errno == ELOOP) errno = ENOTDIR; /* a symlink or a file */
            goto fail;
        }
        close(cur);
        cur = nfd;
        buf[j] = save;
        i = j + 1;
    }
    if (!last_dir) { /* empty rel: no leaf to name */
        close(cur);
        errno = EINVAL;
        return -1;
    }
    return cur;
fail: {
        int e = errno;
        close(cur);
        errno = e;
        return -1;
    }
}
