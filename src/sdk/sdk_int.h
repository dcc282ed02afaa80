/* libedgeml-sdk internals: one connection to the core per process, shared by
 * the runtime loop (sdk_runtime.c), publish/invoke (sdk_api.c) and the
 * environment helpers (sdk_env.c). Not installed. */
#ifndef EDGEML_SDK_INT_H
#define EDGEML_SDK_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "edgeml/sdk.h"
#include "proto.h"

#define SDK_QUEUE_MAX (4 * IPC_WINDOW) /* buffered MSGs; more is a core bug */
#define SDK_CONNECT_TIMEOUT_MS 10000   /* HELLO -> WELCOME */
#define SDK_FRAME_TIMEOUT_MS 30000     /* a frame that started must finish */

typedef struct sdk_frame {
    struct sdk_frame *next;
    ipc_hdr h;
    uint8_t *body;
    ipc_field f[IPC_MAX_FIELDS];
} sdk_frame;

/* A request-response invoke waiting for its RESULT (or a NACK). */
typedef struct sdk_pending {
    struct sdk_pending *next;
    uint64_t id;
    int done;
    sdk_frame *fr; /* the RESULT or NACK */
} sdk_pending;

typedef struct sdk_state {
    pthread_mutex_t lock;  /* everything below but fd writes */
    pthread_mutex_t wlock; /* serialises frames written to fd */
    pthread_cond_t cond;   /* broadcast after each frame read or reader change */
    int fd;                /* -1 until connected */
    int dead;              /* the connection failed: every call fails */
    int dead_status;
    char dead_msg[256];
    int reading;           /* a thread is reading fd */
    uint64_t next_id;      /* PUBLISH / INVOKE ids */
    char *filters;         /* publish filters, '\n'-separated */
    char *function_id;     /* from WELCOME */
    sdk_frame *qhead, *qtail; /* MSGs not yet handled */
    unsigned qlen;
    sdk_pending *pending;
    int sigpipe[2];        /* wakes the runtime loop from a signal */
} sdk_state;

extern sdk_state sdk_g;
extern volatile sig_atomic_t sdk_stop_flag;

/* Sets the calling thread's last error and returns status. */
int sdk_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sdk_frame_free(sdk_frame *fr);

/* With sdk_g.lock held: connects (HELLO/WELCOME) if not yet; 0 or status. */
int sdk_ensure_connected_locked(void);
/* With sdk_g.lock held: waits until pred(arg) is true, the deadline
 * (monotonic ms, < 0 none) passes (EDGEML_SDK_E_TIMEOUT), the connection
 * dies (its status), or, for the runtime loop (is_loop), a stop was asked
 * (returns 1). Reads frames itself when no other thread does. */
int sdk_wait_locked(int (*pred)(void *), void *arg, int64_t deadline, int is_loop);
/* Writes one frame (serialised); 0 or EDGEML_SDK_E_IO (marks dead). */
int sdk_send(uint8_t type, uint8_t flags, uint64_t id, const ipc_field *f, unsigned nf);
int64_t sdk_now_ms(void);
/* Marks the connection dead with a status and message (lock held). */
void sdk_kill_locked(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
