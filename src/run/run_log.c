/* A log file rotated by size: path, path.1 (newest old) ... path.<keep>.
 * Output arrives in arbitrary chunks (pipe reads), so a line may span
 * writes; a line that fits is never split across files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

struct run_log {
    char *path;
    uint64_t max;      /* 0: never rotate */
    unsigned keep;
    int fd;
    uint64_t size;     /* bytes in the current file */
    uint64_t line_off; /* where its unfinished last line starts (== size: none; 0 also
                          when a reopened file's partial line start is unknown) */
    uint64_t errors;
};

static int log_reopen(run_log *l, int trunc) {
    int fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (trunc ? O_TRUNC : 0), 0640);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    l->fd = fd;
    l->size = l->line_off = (uint64_t)st.st_size;
    if (st.st_size > 0) {
        int rfd = open(l->path, O_RDONLY | O_CLOEXEC);
        char c = '\n';
        if (rfd >= 0) {
            if (pread(rfd, &c, 1, st.st_size - 1) != 1) c = '\n';
            close(rfd);
        }
        if (c != '\n') l->line_off = 0;
    }
    return 0;
}

int run_log_open(const char *path, uint64_t max_bytes, unsigned keep, run_log **out, char *err,
                 size_t cap) {
    *out = NULL;
    if (keep > 1000) {
        snprintf(err, cap, "log %s: keep %u is over 1000", path, keep);
        return -1;
    }
    run_log *l = calloc(1, sizeof *l);
    if (!l || !(l->path = strdup(path))) {
        free(l);
        snprintf(err, cap, "log %s: out of memory", path);
        return -1;
    }
    l->max = max_bytes;
    l->keep = keep;
    l->fd = -1;
    if (log_reopen(l, 0) < 0) {
        snprintf(err, cap, "log %s: open: %s", path, strerror(errno));
        free(l->path);
        free(l);
        return -1;
    }
    *out = l;
    return 0;
}

static void rotate(run_log *l) {
    size_t cap = strlen(l->path) + 16;
    char *a = malloc(cap), *b = malloc(cap);
    if (!a || !b) {
        free(a);
        free(b);
        l->errors++;
        return;
    }
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
    l->size = l->line_off = 0;
    if (l->keep == 0) {
        if (log_reopen(l, 1) < 0) l->errors++;
    } else {
        for (unsigned k = l->keep; k > 1; k--) {
            snprintf(a, cap, "%s.%u", l->path, k - 1);
            snprintf(b, cap, "%s.%u", l->path, k);
            if (rename(a, b) < 0 && errno != ENOENT) l->errors++;
        }
        snprintf(b, cap, "%s.1", l->path);
        if (rename(l->path, b) < 0 && errno != ENOENT) l->errors++;
        if (log_reopen(l, 1) < 0) l->errors++;
    }
    free(a);
    free(b);
}

static void put(run_log *l, const char *p, size_t n) {
    if (n == 0) return;
    const char *nl = memrchr(p, '\n', n);
    l->size += n;
    if (nl) l->line_off = l->size - (size_t)(p + n - (nl + 1));
    if (l->fd < 0) {
        l->errors++;
        return;
    }
    while (n > 0) {
        ssize_t w = write(l->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            l->errors++;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* The unfinished last line (written by an earlier chunk) goes to the new
 * file, so that it stays whole: read back, cut off, rotate, rewrite. */
static int move_partial(run_log *l, uint64_t partial) {
    char *buf = malloc((size_t)partial);
    if (!buf) return -1;
    int rfd = open(l->path, O_RDONLY | O_CLOEXEC);
    ssize_t got = rfd < 0 ? -1 : pread(rfd, buf, (size_t)partial, (off_t)l->line_off);
    if (rfd >= 0) close(rfd);
    if (got != (ssize_t)partial || ftruncate(l->fd, (off_t)l->line_off) < 0) {
        free(buf);
        return -1;
    }
    rotate(l);
    if (l->fd >= 0) put(l, buf, (size_t)partial);
    free(buf);
    return l->fd >= 0 ? 0 : -1;
}

void run_log_write(run_log *l, const void *data, size_t n) {
    if (!l || !data) return;
    const char *p = data;
    if (l->fd < 0 && log_reopen(l, 0) < 0) { /* try again after an earlier failure */
        l->errors++;
        return;
    }
    while (n > 0) {
        if (l->max == 0 || l->size + n <= l->max) {
            put(l, p, n);
            return;
        }
        size_t room = l->size < l->max ? (size_t)(l->max - l->size) : 0;
        size_t k = room;
        while (k > 0 && p[k - 1] != '\n') k--;
        uint64_t partial = l->size - l->line_off;
        if (k > 0) { /* the whole lines that fit */
            put(l, p, k);
        } else if (partial == 0 && l->size > 0) {
            /* the next line does not fit here: it starts the new file */
        } else if (partial > 0 && l->line_off > 0 && partial < l->max && move_partial(l, partial) == 0) {
            continue; /* the line's start moved to the new file with it */
        } else {
            /* a line longer than the rest of the file: split it where it must */
            k = room;
            put(l, p, k);
        }
        p += k;
        n -= k;
        rotate(l);
        if (l->fd < 0) { /* cannot go on: the rest is lost, and counted */
            l->errors++;
            return;
        }
    }
}

uint64_t run_log_errors(const run_log *l) {
    return l ? l->errors : 0;
}

void run_log_close(run_log *l) {
    if (!l) return;
    if (l->fd >= 0) close(l->fd);
    free(l->path);
    free(l);
}
