/* Embedding the edgeml core: the daemon that runs a deployed group's
 * functions, routes their messages and serves ROOT/run/core.sock.
 * `edgeml core --root DIR` is a thin wrapper around edgeml_core_run().
 *
 * Contract: edgeml_core_run() runs in the calling thread until SIGTERM or
 * SIGINT arrives (it blocks SIGCHLD, SIGTERM, SIGINT and ignores SIGPIPE in
 * the calling thread and reads them with a signalfd; call it from a process
 * whose other threads block those signals too). It never exits the process.
 * One core per ROOT (a lock file). Not reentrant: one call per process at a
 * time. */
#ifndef EDGEML_CORE_H
#define EDGEML_CORE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EDGEML_CORE_API __attribute__((visibility("default")))
#else
#define EDGEML_CORE_API
#endif

typedef struct edgeml_core_opts {
    const char *root;            /* ROOT (required) */
    int has_run_as;              /* run_as_uid/gid given (--run-as); else 65534:65534 as root,
                                    the core's own ids otherwise */
    uint32_t run_as_uid, run_as_gid;
    int allow_run_as_root;       /* functions may run as uid/gid 0 */
    uint32_t max_work_items;     /* per function queue (1024) */
    uint32_t max_concurrency;    /* on-demand processes per function (25) */
    uint32_t grace_ms;           /* SIGTERM -> SIGKILL (5000) */
    uint32_t idle_timeout_ms;    /* on-demand process idle -> stopped (60000) */
    uint32_t backoff_ms;         /* first restart delay, doubling to 30 s (500) */
    int quiet;                   /* no log lines on stderr (core.log only) */
} edgeml_core_opts;

/* Fills the defaults above (root NULL). */
EDGEML_CORE_API void edgeml_core_opts_default(edgeml_core_opts *o);

/* Runs the core until SIGTERM/SIGINT: 0 after a clean stop; 1 when it could
 * not start (the reason is logged: "core already running (pid N)", socket,
 * root not writable, ...). */
EDGEML_CORE_API int edgeml_core_run(const edgeml_core_opts *o);

/* `edgeml core` itself: parses argv (argv[0] the command name; see
 * --help), runs the core. Returns the exit status: 0, 1 could not start,
 * 2 usage error. */
EDGEML_CORE_API int edgeml_core_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
