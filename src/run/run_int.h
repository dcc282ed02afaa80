/* src/run private helpers: cgroups, safe path building. Not for other modules. */
#ifndef EDGEML_RUN_INT_H
#define EDGEML_RUN_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "run.h"

/* ---- memory cgroup (run_cgroup.c) ---- */

/* Finds where this process's memory cgroup lives: version 1 or 2 and the
 * directory under which ours are made (our own cgroup). 0, or -1 with why. */
int run_cg_locate(int *version, char *dir, size_t cap, char *why, size_t wcap);

/* Makes <base>/edgeml-<pid>-<id> with the limit and moves pid into it; on
 * failure removes what it made. p->cgroup / cg_version set on success. */
int run_cg_create(run_proc *p, const char *id, pid_t pid, uint64_t bytes, char *err, size_t cap);

/* 1 if the memory cgroup's OOM killer fired, else 0. */
int run_cg_oom_killed(const run_proc *p);

/* Removes the cgroup (kills stragglers, retries briefly); 0 or -1 (errno). */
int run_cg_remove(run_proc *p);

/* ---- paths (run_fs.c) ---- */

/* Checks an absolute destination path: starts with '/', no "." / ".."
 * components, no empty name, length bounded. 0 or -1 with why. */
int run_dst_check(const char *dst, char *why, size_t cap);

/* Walks rel (components separated by '/', leading '/' ignored) from dirfd
 * without following symlinks, making missing directories (mode, and chown
 * to uid/gid unless uid is (uid_t)-1). The last component is made as a
 * directory (last_dir) or left alone (an O_PATH fd to its parent is
 * returned then, with its name in *leaf). Returns an O_PATH|O_DIRECTORY fd,
 * or -1 with errno. Each directory it made is passed to made(ctx, relpath)
 * if made is not NULL. */
int run_mkpath(int dirfd, const char *rel, int last_dir, mode_t mode, uid_t uid, gid_t gid,
               const char **leaf, void (*made)(void *ctx, const char *rel), void *ctx);

/* ---- container file system (run_container.c) ---- */

/* In the child, after the namespaces are made: builds the new root on the
 * directory stage, pivots into it, mounts /proc, sets the hostname and the
 * working directory. order: scratch room for n_binds pointers. 0, or -1
 * with why (no prefix). */
int run_container_setup(const run_spec *s, const char *stage, const run_bind **order, char *why,
                        size_t cap);

/* SIGKILL to every process in the cgroup. */
void run_cg_kill(const run_proc *p);

#endif
