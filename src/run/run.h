/* src/run: starting a function's process, isolated or not, and its logs.
 * The core (src/core) decides when (lifecycles, restarts, timeouts); this
 * module does how: namespaces, mounts, cgroups, credentials, log files.
 *
 * Contract:
 * - run_spawn() is called from the core's single thread; it returns once the
 *   child is set up and its exec has either succeeded or failed (an exec
 *   failure is reported as an error with the reason, the child reaped).
 * - Every error is one line in err naming what and where ("function F:
 *   bind /data/models -> resources/R1: No such file or directory").
 * - Nothing here prints, exits or aborts.
 *
 * GreengrassContainer (container != 0, needs root):
 *   new mount, pid, ipc and uts namespaces (hostname = the function id);
 *   the process tree's pid 1 is a small init of ours that forwards SIGTERM,
 *   SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 to the function (pid 2) and
 *   reaps; the function's exit status is
 *   its exit status (signal n -> 128+n);
 *   root file system: a fresh tmpfs with read-only binds of the host's /usr,
 *   /bin, /sbin, /lib, /lib32, /lib64, /libx32, /etc (those that exist;
 *   symlinks such as /bin -> usr/bin kept as symlinks), a private tmpfs /tmp,
 *   a fresh /proc, /dev as a tmpfs with only null, zero, full, random,
 *   urandom (bind-mounted from the host) plus the declared device
 *   resources (and /dev/fd, stdin, stdout, stderr links, a tmpfs /dev/shm), /run/edgeml/core.sock (the core's socket), the code directory
 *   read-only at RUN_CODE_DIR, and each bind at its destination, read-only
 *   unless rw; nothing else of the host (no /root, /home, /var, ROOT).
 *   The working directory is RUN_CODE_DIR.
 *   / is read-only; no_new_privs is set.
 *   The tmpfs root is mounted on ROOT/run/container inside the child's own
 *   mount namespace (run_spawn makes that empty directory once).
 * NoContainer: a plain process (own session and process group) in
 *   ROOT/functions/<Id>/, where each bind becomes a symlink at
 *   ROOT/functions/<Id><destination> -> src (directories made as needed);
 *   the caller puts AWS_GG_RESOURCE_PREFIX=ROOT/functions/<Id> in envp.
 * Both: memory_bytes > 0: a memory cgroup (v2 when the unified hierarchy
 *   has the memory controller, else v1 /sys/fs/cgroup/memory), named
 *   edgeml-<pid>-<Id> under the core's own cgroup, swap included where the
 *   host accounts it, joined before the exec and removed by run_proc_finish
 *   (stragglers killed).
 * Both: uid/gid/groups (duplicates dropped) applied (setgroups, setgid,
 *   setuid) when the core is root; when it is not, they must equal the
 *   core's (groups: ones the core has) or the spawn fails;
 *   PR_SET_PDEATHSIG SIGKILL; all fds closed but 0 (/dev/null), 1 and 2
 *   (out_fd); a umask of 027. */
#ifndef EDGEML_RUN_H
#define EDGEML_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RUN_CODE_DIR "/edgeml/code"   /* code directory inside a container */

typedef enum run_bind_kind {
    RUN_BIND_RESOURCE = 0,  /* src = ROOT/resources/<Id> (a symlink to the store view) */
    RUN_BIND_VOLUME,        /* LocalVolumeResourceData SourcePath -> DestinationPath */
    RUN_BIND_DEVICE,        /* LocalDeviceResourceData SourcePath (/dev/...), same path inside */
} run_bind_kind;

typedef struct run_bind {
    run_bind_kind kind;
    const char *src;        /* host path */
    const char *dst;        /* absolute path as the function sees it */
    int rw;                 /* read-write (else read-only) */
} run_bind;

typedef struct run_spec {
    const char *root;          /* ROOT */
    const char *function_id;   /* for names (cgroup, function dir, hostname) and messages */
    const char *exe;           /* path exec'd, as the process sees it */
    char *const *argv;         /* argv[0] first; NULL-terminated */
    char *const *envp;         /* the whole environment; NULL-terminated */
    const char *code_dir;      /* host directory of the code (container: bound at RUN_CODE_DIR) */
    int container;             /* GreengrassContainer */
    const run_bind *binds;
    size_t n_binds;
    const char *socket_path;   /* host path of the core's socket (container: bound at
                                  /run/edgeml/core.sock) */
    uid_t uid;
    gid_t gid;
    const gid_t *groups;       /* supplementary groups (resources' GroupOwner) */
    size_t n_groups;
    uint64_t memory_bytes;     /* 0: no memory cgroup */
    int out_fd;                /* child's stdout and stderr; -1: /dev/null */
} run_spec;

typedef struct run_proc {
    pid_t pid;                 /* in the core's pid namespace (container: our init) */
    int container;
    int cg_version;            /* 0 none, 1, 2 */
    char cgroup[256];          /* cgroup directory, "" if none */
    uint64_t memory_bytes;
} run_proc;

/* Starts the process; 0, or -1 with err set (nothing left behind). */
int run_spawn(const run_spec *s, run_proc *p, char *err, size_t cap);

/* Signals the process: SIGTERM goes to the function (through our init in a
 * container); SIGKILL kills everything it started (the pid namespace, or
 * the process group). 0 or -1 (errno). */
int run_kill(const run_proc *p, int sig);

/* After waitpid() reaped p->pid with wstatus: why it ended, one line
 * ("exited with status 3", "killed by signal 9 (SIGKILL)", "killed: over its
 * MemorySize of 16384 KB (memory cgroup OOM kill)"), then the cgroup is
 * removed (if it cannot be, "; cgroup X not removed: ..." is appended).
 * A container's exit status 129..192 is reported as the function's signal.
 * Returns 1 if the memory limit killed it, else 0. */
int run_proc_finish(run_proc *p, int wstatus, char *why, size_t cap);

/* Removes the empty memory cgroups a killed core left (edgeml-<pid>-<Id> whose
 * pid is gone); the number removed. Called once when a core starts. */
int run_cgroup_sweep(void);

/* 1 if this host and process can run GreengrassContainer functions; else 0
 * with why ("needs root", "no memory cgroup", ...). */
int run_container_supported(char *why, size_t cap);

/* ROOT/functions/<Id> into buf; 0 or -1 if it does not fit. */
int run_function_dir(const char *root, const char *id, char *buf, size_t cap);

/* ---- logs: a file rotated by size ---------------------------------------
 * path, path.1 ... path.<keep>: when a write would take path over max_bytes,
 * path.k -> path.k+1 (the oldest dropped), path -> path.1, a new path. Lines
 * are kept whole where they fit. Write errors are counted, never fatal. */
typedef struct run_log run_log;
int run_log_open(const char *path, uint64_t max_bytes, unsigned keep, run_log **out, char *err,
                 size_t cap);
void run_log_write(run_log *l, const void *p, size_t n);
/* Writes (or rotations) that failed so far. */
uint64_t run_log_errors(const run_log *l);
void run_log_close(run_log *l);

#endif
