/* The core daemon's internals (src/core): one thread, one epoll loop.
 *   core_main.c    start/stop, lock, socket, signals, timers, the loop, logging
 *   core_conn.c    connections: framing, output buffers, dispatch of frames
 *   core_sup.c     supervisor policy: delivery, lifecycles, timers, exits
 *   core_spawn.c   a process's run_spec from its group entry
 *   core_apply.c   (re)deployments
 *   core_status.c  CTL_STATUS JSON
 * Lifecycles (docs/core.md): a core_proc is STARTING (spawned, no HELLO
 * yet), READY (connected) or STOPPING (SIGTERM sent; SIGKILL at kill_at);
 * it is freed when reaped. A core_fn outlives redeploys that keep its Id; a
 * removed one moves to core.gone until its processes are reaped. */
#ifndef EDGEML_CORE_INT_H
#define EDGEML_CORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "edgeml/core.h"
#include "group.h"
#include "proto.h"
#include "router.h"
#include "run.h"

#define CORE_DEFAULT_TIMEOUT_MS 3000
#define CORE_BACKOFF_MAX_MS 30000
#define CORE_BACKOFF_RESET_MS 60000
#define CORE_FN_LOG_DEFAULT ((uint64_t)5 << 20)
#define CORE_FN_LOG_KEEP 3
#define CORE_LOG_MAX ((off_t)10 << 20)
#define CORE_SUB_OUT_MAX ((size_t)32 << 20)  /* a subscriber's unsent bytes */
/* Unsent answers (NACK, RESULT, CTL_REPLY, ERROR...) to a peer that does not
 * read them: past this, more are dropped (a frame always goes out when
 * nothing is pending). MSGs to a function are bounded by the window. */
#define CORE_REPLY_OUT_MAX ((size_t)4 << 20)
#define CORE_MAX_CONNS 1024
#define CORE_FRAMES_PER_WAKE 64

enum { EV_LISTEN = 1, EV_SIGNAL, EV_TIMER, EV_CONN, EV_PIPE };
enum { PROC_STARTING, PROC_READY, PROC_STOPPING };
enum { CONN_NEW, CONN_FN, CONN_CTL, CONN_SUB };

typedef struct core_fn core_fn;
typedef struct core_conn core_conn;

typedef struct core_proc {
    int ev;                   /* EV_PIPE: epoll tag of out_fd */
    struct core_proc *next;
    core_fn *fn;
    run_proc rp;
    char token[33];
    int out_fd;               /* read end of its stdout/stderr; -1 once closed */
    core_conn *conn;
    int state;
    int bye, timed_out;
    int asked;                /* we stopped it (redeploy, idle, shutdown, BYE) */
    uint64_t lost_at_ms;      /* its connection closed while it runs */
    rt_queue inflight;        /* MSGs sent, not DONE, in order */
    uint64_t next_id;
    uint64_t started_ms, head_since_ms, idle_since_ms, kill_at_ms;
} core_proc;

struct core_fn {
    char *id, *arn;
    int rt;                   /* index in the router; -1 once removed */
    const grp_function *g;    /* in core.doc; NULL once removed */
    uint64_t fp;              /* fingerprint of config + resource views */
    int pinned, container;
    uint32_t timeout_ms;
    core_proc *procs;
    int crashed;              /* next spawn is a restart */
    int spawn_failed;
    uint64_t backoff_ms, backoff_until_ms;
    uint32_t restarts;
    uint64_t done, failed;
    char last_exit[256];
    run_log *log;
    uint64_t log_max;
};

struct core_conn {
    int ev;                   /* EV_CONN */
    core_conn *next;
    int fd;
    uint64_t serial;
    int kind;
    uid_t uid;
    pid_t pid;
    uint8_t hdr[IPC_HDR_SIZE];
    size_t hdr_got, body_got;
    ipc_hdr h;
    uint8_t *body;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    int want_out;             /* EPOLLOUT registered */
    int closing;              /* close once the output is flushed */
    core_proc *proc;          /* CONN_FN */
    char *filter;             /* CONN_SUB */
    uint64_t sub_seq;
    uint64_t replies_dropped; /* answers it did not read in time (CORE_REPLY_OUT_MAX) */
};

typedef struct core {
    edgeml_core_opts o;
    char root[1024];
    char sock_path[1100], lock_path[1100], group_path[1100];
    int ep, lfd, sfd, tfd, lockfd, logfd;
    int ev_listen, ev_signal, ev_timer;
    grp_doc *doc;
    rt_router *rt;
    core_fn **fns;            /* fns[i] is router function i */
    size_t n_fns;
    core_fn **gone;
    size_t n_gone;
    core_conn *conns;
    size_t n_conns;
    core_proc *dead;          /* reaped in this epoll batch; freed after it (an event
                                 later in the batch may still point at one) */
    uint64_t next_serial;
    uid_t run_uid;
    gid_t run_gid;
    uint64_t start_ms;
    int stopping;
    uint64_t stop_deadline_ms;
    uint64_t armed_ms;
} core;

/* core_main.c */
uint64_t core_now_ms(void);
void core_log(core *c, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int core_watch(core *c, int fd, void *tag, uint32_t events);
void core_unwatch(core *c, int fd);

/* core_conn.c */
void conn_accept(core *c);
void conn_event(core *c, core_conn *k, uint32_t events);
void conn_close(core *c, core_conn *k);
int conn_send(core *c, core_conn *k, uint8_t type, uint8_t flags, uint64_t id,
              const ipc_field *f, unsigned nf);
core_conn *conn_by_serial(core *c, uint64_t serial);
/* Delivers the cloud queue to CTL_SUBSCRIBE listeners. */
void conn_drain_cloud(core *c);

/* core_sup.c */
int sup_apply(core *c, const char *path, int initial, char *msg, size_t cap);
void sup_pump(core *c, core_fn *f);   /* deliver + spawn for one function */
void sup_pump_all(core *c);
void sup_reaped(core *c, pid_t pid, int wstatus);
void sup_tick(core *c, uint64_t now, uint64_t *next);
/* SIGTERM, SIGKILL after the grace period; asked: an expected exit (no
 * restart backoff). */
void sup_stop_proc(core *c, core_proc *p, uint64_t now, int asked);
void sup_stop_all(core *c);
int sup_n_procs(const core *c);
core_proc *sup_find_token(core *c, const char *tok, size_t n);
void sup_pipe_event(core *c, core_proc *p);
/* A MSG finished (DONE) or failed (status non-empty): counts, replies. */
void sup_finish_item(core *c, core_fn *f, rt_item *it, const char *status, size_t sn,
                     const void *res, size_t rn);
void sup_proc_conn_lost(core *c, core_proc *p);
void sup_free_all(core *c);
void sup_free_dead(core *c);
/* Puts every MSG in flight to p back at the front of its function's queue,
 * in order (a removed function's are finished as failed). */
void sup_requeue_inflight(core *c, core_proc *p);
/* Router callback: messages of router function i its processes hold (in
 * flight), counted toward --max-work-items. */
size_t sup_held(void *ctx, size_t i);
const char *sup_state(const core *c, const core_fn *f);

int sup_spawn(core *c, core_fn *f, uint64_t now);  /* core_spawn.c; 0 or -1 (logged) */
void sup_free_fn(core_fn *f);
rt_queue *sup_fn_queue(core *c, core_fn *f);       /* NULL once removed */

/* core_status.c */
char *core_status_json(core *c);

#endif
