/* Internal header of src/deploy/ (part 1: hashing, unpacking, the store).
 *
 * Errors: every function returns a dep_status; on failure it has written one
 * line naming what and where into the caller's dep_err (never printed here).
 *
 * On disk (DESIGN.md "On disk"), under ROOT:
 *   store/.tmp-XXXXXX/          work in progress; removed by dep_store_recover()
 *   store/<sha>/                a complete unpacked package ("pristine"): top
 *                               dir 0500 root, inside files 0444 (0555 if the
 *                               archive said executable), dirs 0555
 *   store/<sha>.<key>/          a *view*: the same content with the modes of one
 *                               OwnerSetting, key = "root" | "g<GID>-ro" | "g<GID>-rw",
 *                               or "pub" (function code: readable and runnable by all)
 *   resources/R -> ../store/<sha>.<key>   the active version (one rename(2))
 *   resources/.R.hist           previous views of R, newest first (for GC/rollback)
 *   code/F -> ../store/<sha>.pub  function F's code package (EdgemlCode), same rules
 * An entry is complete iff its final name exists (it is renamed into place
 * after fsync).
 *
 * Why views: ownership and modes live in the inode, and hard links share it,
 * so two resources that deploy the same content with different OwnerSettings
 * cannot share one tree. The first view of a package takes the pristine tree
 * over (chown/chmod in place, then rename: no copy); a second, different
 * view of the same content is a copy. Resources with the same content and
 * the same OwnerSetting share one view (rw views are therefore shared by
 * them, as they were one group's resource in Greengrass).
 *
 * Concurrency: callers hold the root's deployment lock; these functions do
 * not lock. Readers of resources/ need no lock.
 */
#ifndef EDGEML_DEPLOY_H
#define EDGEML_DEPLOY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum dep_status {
    DEP_OK = 0,
    DEP_EINVAL,   /* bad argument or name */
    DEP_EIO,      /* file system / library error (errno text in the message) */
    DEP_ENOSPC,   /* not enough space (free-space check or ENOSPC/EDQUOT) */
    DEP_EREFUSED, /* hostile or broken package (the entry is named) */
    DEP_EDIGEST,  /* content does not match the expected digest */
    DEP_ENOMEM,
    DEP_ENOENT,   /* no such store entry / resource */
} dep_status;

typedef struct dep_err {
    char msg[1024];
} dep_err;

const char *dep_strerror(dep_status st);
/* Formats e->msg (if e) and returns st. */
dep_status dep_errf(dep_err *e, dep_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define DEP_SHA_HEX 65 /* 64 hex digits + NUL */

/* ---- dep_hash.c: streaming SHA-256 (libcrypto EVP) ---- */
typedef struct dep_sha256 dep_sha256;
dep_status dep_sha256_new(dep_sha256 **h, dep_err *e);
void dep_sha256_update(dep_sha256 *h, const void *p, size_t n);
/* Writes 64 lowercase hex digits + NUL; h may be reused after dep_sha256_reset. */
dep_status dep_sha256_final(dep_sha256 *h, char hex[DEP_SHA_HEX], dep_err *e);
dep_status dep_sha256_reset(dep_sha256 *h, dep_err *e);
void dep_sha256_free(dep_sha256 *h);
/* Digest of a whole file. */
dep_status dep_sha256_file(const char *path, char hex[DEP_SHA_HEX], dep_err *e);
int dep_is_sha_hex(const char *s); /* 64 lowercase hex digits */

/* ---- dep_unpack.c ---- */
typedef struct dep_unpack_opts {
    /* Expected digest of the package file (lowercase hex) or NULL. When set
     * and store/<sha>[.*] exists, nothing is read (unchanged package); when
     * the content differs, DEP_EDIGEST and no trace is left. */
    const char *expect_sha;
    /* Source URI or path: its last segment names a non-archive object. */
    const char *uri;
    uint64_t max_total;   /* cap on unpacked bytes (0: 64 GiB) */
    uint64_t reserve;     /* free bytes to leave (0: 1/32 of the fs, at most 1 MiB) */
    /* Called after each entry and every few MiB; a non-zero return cancels
     * (DEP_EINVAL "cancelled"). May be NULL. */
    int (*progress)(void *ctx, uint64_t bytes_in, uint64_t bytes_out, const char *entry);
    void *ctx;
} dep_unpack_opts;

/* Unpacks the package file at pkg into ROOT/store/<sha>/ (sha of the file's
 * bytes, written to sha_out). Archives (tar, tar.gz/.bz2/.xz/.zst, zip) are
 * detected by content; anything else is stored as one file. Hostile entries
 * (absolute, "..", links leaving the package, devices, FIFOs, sockets) are
 * refused naming the entry; on any failure nothing is left in store/. */
dep_status dep_unpack(const char *root, const char *pkg, const dep_unpack_opts *o,
                      char sha_out[DEP_SHA_HEX], dep_err *e);

/* The last path segment of a URI/path ("?query" and "#frag" dropped), if it
 * is a usable file name; else "data". Writes at most cap bytes. */
void dep_uri_basename(const char *uri, char *out, size_t cap);

/* ---- dep_store.c ---- */
typedef struct dep_owner {
    int set;    /* 0: no OwnerSetting -> root-only 0400/0500;
                   2: public (function code): 0444, executables and dirs 0555, owner root */
    gid_t gid;
    int rw;     /* 0: ro 0440/0550, 1: rw 0660/0770 */
} dep_owner;

/* GroupOwner (a group name or a decimal GID) + GroupPermission ("ro"|"rw");
 * both NULL gives the root-only setting; one without the other is refused. */
dep_status dep_owner_parse(const char *group_owner, const char *perm, dep_owner *o, dep_err *e);

/* Resource ids as Greengrass: 1..128 of [a-zA-Z0-9:_-]. */
int dep_resource_id_ok(const char *id);

/* Creates ROOT/{store,resources} if missing and removes what a killed run
 * left (store/.tmp-*, resources/.*.tmp). Call first, under the lock. */
dep_status dep_store_recover(const char *root, dep_err *e);

/* Makes resource R point at package sha with the owner's modes: ensures the
 * view, then swaps resources/R with one rename(2). The previous target goes
 * to the front of R's history (keep entries kept). Readers see the old tree
 * or the new one, never neither. */
dep_status dep_activate(const char *root, const char *rid, const char *sha, const dep_owner *o,
                        unsigned keep, dep_err *e);

/* The same for a link in ROOT/<sub>/ ("resources", or "code" for function
 * code packages: code/<FunctionId>). */
dep_status dep_activate_in(const char *root, const char *sub, const char *rid, const char *sha,
                           const dep_owner *o, unsigned keep, dep_err *e);
dep_status dep_active_in(const char *root, const char *sub, const char *rid, char *out,
                         size_t cap, dep_err *e);

/* The view resources/R points at ("<sha>.<key>") into out; DEP_ENOENT if none. */
dep_status dep_active(const char *root, const char *rid, char *out, size_t cap, dep_err *e);

/* Removes every store entry that no resource or code link points at and
 * that is not in the first `keep` entries of a link's history. */
dep_status dep_gc(const char *root, unsigned keep, dep_err *e);

/* 1 if store/<sha> or a view store/<sha>.* exists under the store dir fd. */
int dep_store_has(int storefd, const char *sha);

/* Modes applied over a tree by dep_tree_apply (post-order; symlinks are only
 * chowned). file_x is used for files whose owner-execute bit is set. */
typedef struct dep_modes {
    mode_t file, file_x, dir, top;
    int chown; /* set owner 0 and group gid */
    gid_t gid;
    int sync;  /* fsync every file and directory */
} dep_modes;
dep_status dep_tree_apply(int dirfd, const char *name, const dep_modes *m, dep_err *e);

/* Removes the tree name under dirfd (no symlink is followed; read-only dirs
 * are made writable first). Missing is fine. */
dep_status dep_rm_tree(int dirfd, const char *name, dep_err *e);

#endif
