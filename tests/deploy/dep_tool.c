/* Test driver over src/deploy's store API (dep_unpack, dep_activate, ...):
 * the shell tests call it as separate processes, so a kill -9 hits a real
 * unpack. "selftest" runs the unit checks (digests, names, owners). */
#include "deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *msg)
{
    fprintf(stderr, "dep_tool: %s\n", msg);
    return 1;
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

static int slow_ms;
static int slow_progress(void *ctx, uint64_t in, uint64_t out, const char *entry)
{
    (void)ctx, (void)in, (void)out, (void)entry;
    if (slow_ms > 0) {
        struct timespec ts = {slow_ms / 1000, (long)(slow_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int do_unpack(const char *root, const char *pkg, const char *uri, const char *expect,
                     char sha[DEP_SHA_HEX])
{
    dep_unpack_opts o = {.uri = uri, .expect_sha = expect, .progress = slow_progress};
    dep_err e;
    dep_status st = dep_unpack(root, pkg, &o, sha, &e);
    if (st)
        return fail(e.msg);
    return 0;
}

static int do_activate(const char *root, const char *rid, const char *sha, const char *grp,
                       const char *perm, unsigned keep)
{
    dep_owner ow;
    dep_err e;
    if (dep_owner_parse(grp, perm, &ow, &e) || dep_activate(root, rid, sha, &ow, keep, &e))
        return fail(e.msg);
    return 0;
}

/* Reads resources/R/{a,b} in a loop until stopfile exists: both files of one
 * version carry the same tag; a missing file or a mix fails. */
static int reader(const char *root, const char *rid, const char *stopfile)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/resources/%s", root, rid);
    long iters = 0, v1 = 0, v2 = 0;
    while (access(stopfile, F_OK) != 0) {
        char link[PATH_MAX];
        if (readlink(dir, link, sizeof link - 1) < 0) {
            fprintf(stderr, "reader: readlink %s: %s\n", dir, strerror(errno));
            return 1;
        }
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        if (dfd < 0) {
            fprintf(stderr, "reader: open %s: %s\n", dir, strerror(errno));
            return 1;
        }
        char buf[2][64];
        for (int i = 0; i < 2; i++) {
            int fd = openat(dfd, i ? "b" : "a", O_RDONLY);
            ssize_t n = fd >= 0 ? read(fd, buf[i], sizeof buf[i] - 1) : -1;
            if (fd >= 0)
                close(fd);
            if (n < 0) {
                fprintf(stderr, "reader: %s/%s: %s\n", dir, i ? "b" : "a", strerror(errno));
                close(dfd);
                return 1;
            }
            buf[i][n] = 0;
        }
        close(dfd);
        if (strcmp(buf[0], buf[1]) != 0) {
            fprintf(stderr, "reader: mixed versions: a=%s b=%s\n", buf[0], buf[1]);
            return 1;
        }
        if (strstr(buf[0], "v1"))
            v1++;
        else
            v2++;
        iters++;
    }
    printf("reader: %ld reads (%ld of v1, %ld of v2)\n", iters, v1, v2);
    return iters > 0 && v1 > 0 && v2 > 0 ? 0 : fail("reader saw only one version");
}

static int passed;
static int check(int ok, const char *what, int *bad)
{
    passed += ok != 0;
    if (!ok) {
        fprintf(stderr, "selftest: FAIL %s\n", what);
        ++*bad;
    }
    return ok;
}

static int selftest(void)
{
    int bad = 0;
    dep_sha256 *h;
    dep_err e;
    char hex[DEP_SHA_HEX];
    if (dep_sha256_new(&h, &e))
        return fail(e.msg);
    /* FIPS 180-2 examples */
    dep_sha256_update(h, "abc", 3);
    dep_sha256_final(h, hex, &e);
    check(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc",
          &bad);
    dep_sha256_reset(h, &e);
    dep_sha256_final(h, hex, &e);
    check(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty",
          &bad);
    dep_sha256_reset(h, &e);
    char a[1000];
    memset(a, 'a', sizeof a);
    for (int i = 0; i < 1000; i++)
        dep_sha256_update(h, a, sizeof a); /* streaming in pieces */
    dep_sha256_final(h, hex, &e);
    check(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
          "million a", &bad);
    dep_sha256_free(h);
    check(dep_is_sha_hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
          "is_sha_hex", &bad);
    check(!dep_is_sha_hex("CDC76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
          "is_sha_hex upper", &bad);
    static const char *uris[][2] = {
        {"s3://b/models/model.onnx", "model.onnx"}, {"https://h/p/x.bin?versionId=3#f", "x.bin"},
        {"/tmp/m.onnx", "m.onnx"}, {"s3://b/dir/", "dir"}, {"s3://b/..", "data"},
        {"s3:", "data"}, {"", "data"}, {"file:///a/b/c.pt", "c.pt"}, {"a\nb", "data"}};
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        char out[256];
        dep_uri_basename(uris[i][0], out, sizeof out);
        char what[300];
        snprintf(what, sizeof what, "basename of '%s' is '%s' not '%s'", uris[i][0], out, uris[i][1]);
        check(!strcmp(out, uris[i][1]), what, &bad);
    }
    dep_owner o;
    check(dep_owner_parse(NULL, NULL, &o, &e) == DEP_OK && !o.set, "owner none", &bad);
    check(dep_owner_parse("4242", "rw", &o, &e) == DEP_OK && o.set && o.gid == 4242 && o.rw,
          "owner gid", &bad);
    check(dep_owner_parse("root", "ro", &o, &e) == DEP_OK && o.gid == 0 && !o.rw, "owner name",
          &bad);
    check(dep_owner_parse("no-such-group-xyz", "ro", &o, &e) == DEP_EINVAL &&
              strstr(e.msg, "no-such-group-xyz"), "owner unknown group", &bad);
    check(dep_owner_parse("4242", NULL, &o, &e) == DEP_EINVAL, "owner half", &bad);
    check(dep_owner_parse("4242", "wx", &o, &e) == DEP_EINVAL, "owner perm", &bad);
    check(dep_owner_parse("99999999999", "ro", &o, &e) == DEP_EINVAL, "owner range", &bad);
    check(dep_resource_id_ok("Model_1:x-y"), "rid ok", &bad);
    check(!dep_resource_id_ok("../x") && !dep_resource_id_ok("") && !dep_resource_id_ok(".a"),
          "rid bad", &bad);
    char long_id[130];
    memset(long_id, 'a', 129);
    long_id[129] = 0;
    check(!dep_resource_id_ok(long_id), "rid long", &bad);
    check(dep_activate("/nonexistent-root-xyz", "../x", long_id, NULL, 1, &e) == DEP_EINVAL,
          "activate bad id", &bad);
    printf("%d passed, %d failed\n", passed, bad);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail("usage: dep_tool selftest|hash|unpack|activate|deploy|gc|recover|active|reader ...");
    const char *cmd = argv[1];
    char sha[DEP_SHA_HEX];
    dep_err e;
    if (!strcmp(cmd, "selftest"))
        return selftest();
    if (!strcmp(cmd, "hash") && argc == 3) {
        if (dep_sha256_file(argv[2], sha, &e))
            return fail(e.msg);
        printf("%s\n", sha);
        return 0;
    }
    slow_ms = atoi(opt(argc, argv, "--slow", "0"));
    unsigned keep = (unsigned)atoi(opt(argc, argv, "--keep", "1"));
    const char *grp = opt(argc, argv, "--group", NULL), *perm = opt(argc, argv, "--perm", NULL);
    if (!strcmp(cmd, "unpack") && argc >= 5) { /* ROOT PKG URI */
        if (do_unpack(argv[2], argv[3], argv[4], opt(argc, argv, "--expect", NULL), sha))
            return 1;
        printf("%s\n", sha);
        return 0;
    }
    if (!strcmp(cmd, "activate") && argc >= 5) /* ROOT R SHA */
        return do_activate(argv[2], argv[3], argv[4], grp, perm, keep);
    if (!strcmp(cmd, "deploy") && argc >= 6) { /* ROOT R PKG URI: recover, unpack, activate, gc */
        if (dep_store_recover(argv[2], &e))
            return fail(e.msg);
        if (do_unpack(argv[2], argv[4], argv[5], opt(argc, argv, "--expect", NULL), sha) ||
            do_activate(argv[2], argv[3], sha, grp, perm, keep))
            return 1;
        if (dep_gc(argv[2], keep, &e))
            return fail(e.msg);
        printf("%s\n", sha);
        return 0;
    }
    if (!strcmp(cmd, "gc") && argc >= 3)
        return dep_gc(argv[2], keep, &e) ? fail(e.msg) : 0;
    if (!strcmp(cmd, "recover") && argc >= 3)
        return dep_store_recover(argv[2], &e) ? fail(e.msg) : 0;
    if (!strcmp(cmd, "active") && argc >= 4) {
        char v[NAME_MAX + 1];
        if (dep_active(argv[2], argv[3], v, sizeof v, &e))
            return fail(e.msg);
        printf("%s\n", v);
        return 0;
    }
    if (!strcmp(cmd, "reader") && argc >= 5)
        return reader(argv[2], argv[3], argv[4]);
    return fail("bad command or arguments");
}
