/* libFuzzer target: deploy's package unpacker (src/deploy/dep_unpack.c,
 * libarchive) on hostile packages.
 *
 * Each input is written to BASE/pkg and unpacked into BASE/root (store
 * reset each run). Checks: nothing appears in BASE outside root/store (a
 * canary directory sits beside root), nor at the absolute paths the seeds
 * aim at; on failure store/ is left empty; on success store/<sha> is the
 * only entry, sha is the digest of the package, and every symlink in it
 * stays inside the package (lexically: "../" * k, k not above the package
 * root, then no ".."). Then store/ is emptied for the next input. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy.h"

static char base[80], root[100], store[120], pkg[100], canary[100];

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_unpack: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        chmod(p, 0700);
    if (remove(p) != 0 && errno != ENOENT)
        die("cannot remove", p);
    return 0;
}

/* Empties dir (keeps it). */
static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        die("opendir", dir);
    struct dirent *de;
    char p[4200];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(p, 0700);
            nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        } else if (unlink(p) != 0) {
            die("unlink", p);
        }
    }
    closedir(d);
}

static int count_entries(const char *dir, char *first, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        die("opendir", dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n++ == 0 && first)
            snprintf(first, cap, "%s", de->d_name);
    }
    closedir(d);
    return n;
}

/* The names allowed in BASE and BASE/root. */
static void check_outside(void)
{
    static const char *const base_ok[] = {"pkg", "root", "canary", NULL};
    static const char *const root_ok[] = {"store", "resources", "code", NULL};
    const char *dirs[2] = {base, root};
    const char *const *ok[2] = {base_ok, root_ok};
    for (int k = 0; k < 2; k++) {
        DIR *d = opendir(dirs[k]);
        if (!d)
            die("opendir", dirs[k]);
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            int good = 0;
            for (int i = 0; ok[k][i]; i++)
                good |= !strcmp(de->d_name, ok[k][i]);
            if (!good) {
                fprintf(stderr, "fuzz_unpack: %s/%s was created outside the store\n", dirs[k],
                        de->d_name);
                abort();
            }
        }
        closedir(d);
    }
    char first[256] = "";
    if (count_entries(canary, first, sizeof first) != 1 || strcmp(first, "keep"))
        die("the canary directory changed", canary);
    static const char *const empty[] = {"resources", "code", NULL};
    for (int i = 0; empty[i]; i++) {
        char r[128];
        snprintf(r, sizeof r, "%s/%s", root, empty[i]);
        if (access(r, F_OK) == 0 && count_entries(r, NULL, 0) != 0)
            die("something appeared in", r);
    }
    /* absolute targets the seeds use */
    static const char *const abs_paths[] = {"/tmp/edgeml-fuzz-escape", "/edgeml-fuzz-escape",
                                            "/tmp/evil", "/etc/edgeml-fuzz-escape", NULL};
    for (int i = 0; abs_paths[i]; i++)
        if (access(abs_paths[i], F_OK) == 0)
            die("an absolute entry escaped", abs_paths[i]);
}

static size_t pkg_root_len;

static int check_link(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    if (flag != FTW_SL)
        return 0;
    char t[4200];
    ssize_t n = readlink(p, t, sizeof t - 1);
    if (n < 0)
        die("readlink", p);
    t[n] = 0;
    if (t[0] == '/')
        die("an absolute symlink in the store", p);
    /* depth of the link's directory below the package root */
    int depth = ftw->level - 1;
    int k = 0;
    const char *s = t;
    while (!strncmp(s, "../", 3)) {
        k++;
        s += 3;
    }
    if (!strcmp(s, ".."))
        k++, s += 2;
    if (k > depth) {
        fprintf(stderr, "fuzz_unpack: symlink %s -> %s leaves the package (depth %d)\n", p, t,
                depth);
        abort();
    }
    /* no ".." after the leading ones */
    for (const char *c = s; *c;) {
        size_t l = strcspn(c, "/");
        if (l == 2 && c[0] == '.' && c[1] == '.')
            die("symlink with an inner '..'", p);
        c += l;
        while (*c == '/')
            c++;
    }
    return 0;
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof base, "%s/fuzz-unpack-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(base))
        die("mkdtemp", NULL);
    snprintf(root, sizeof root, "%s/root", base);
    snprintf(store, sizeof store, "%s/store", root);
    snprintf(pkg, sizeof pkg, "%s/pkg", base);
    snprintf(canary, sizeof canary, "%s/canary", base);
    char keep[128];
    snprintf(keep, sizeof keep, "%s/keep", canary);
    if (mkdir(root, 0755) != 0 || mkdir(canary, 0755) != 0)
        die("mkdir", base);
    int fd = open(keep, O_CREAT | O_WRONLY, 0644);
    if (fd < 0)
        die("create", keep);
    close(fd);
    dep_err e;
    if (dep_store_recover(root, &e) != DEP_OK)
        die("dep_store_recover", e.msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    int fd = open(pkg, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) != 0)
        die("write", pkg);
    dep_unpack_opts o;
    memset(&o, 0, sizeof o);
    o.uri = "file:///pkgs/model.tar.gz";
    o.max_total = 64u << 20;
    o.reserve = 1;
    char sha[DEP_SHA_HEX] = "";
    dep_err e;
    e.msg[0] = 0;
    dep_status st = dep_unpack(root, pkg, &o, sha, &e);
    check_outside();
    if (st != DEP_OK) {
        if (!e.msg[0] || strchr(e.msg, '\n'))
            die("a failure without one line of reason", e.msg[0] ? e.msg : dep_strerror(st));
        if (count_entries(store, NULL, 0) != 0)
            die("a failed unpack left something in store/", e.msg);
        return 0;
    }
    char want[DEP_SHA_HEX];
    if (dep_sha256_file(pkg, want, &e) != DEP_OK || strcmp(want, sha))
        die("the store entry is not named by the package's digest", sha);
    char first[256] = "";
    if (count_entries(store, first, sizeof first) != 1 || strcmp(first, sha))
        die("store/ holds something else than store/<sha>", first);
    char top[300];
    snprintf(top, sizeof top, "%s/%s", store, sha);
    pkg_root_len = strlen(top);
    nftw(top, check_link, 16, FTW_PHYS);
    empty_dir(store);
    return 0;
}
