/* libedgeml-sdk: what a function links to receive messages from the edgeml
 * core, publish, invoke other functions and find its resources.
 *
 *   static int handler(const edgeml_message *m) {
 *       ... m->topic, m->payload, m->len ...
 *       return edgeml_publish("inference/cam1/results", json, strlen(json));
 *   }
 *   int main(void) { return edgeml_runtime_start(handler, 0) ? 1 : 0; }
 *
 * The core starts the process with EDGEML_CORE_SOCKET, EDGEML_TOKEN,
 * EDGEML_FUNCTION_ID and EDGEML_RESOURCES in its environment; the SDK
 * connects on the first call that needs the core. Messages are handled one
 * at a time, in order, on the thread that called edgeml_runtime_start. On
 * SIGTERM the handler running finishes, the SDK tells the core which
 * messages were not started (they go to the next process) and
 * edgeml_runtime_start returns 0.
 *
 * Thread safety: edgeml_publish and edgeml_invoke may be called from any
 * thread (one connection, writes serialised); everything else from one.
 * Errors: functions return EDGEML_SDK_OK (0) or a negative edgeml_sdk_status;
 * edgeml_sdk_last_error() gives the calling thread's one-line detail. */
#ifndef EDGEML_SDK_H
#define EDGEML_SDK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EDGEML_SDK_API __attribute__((visibility("default")))
#else
#define EDGEML_SDK_API
#endif

typedef enum edgeml_sdk_status {
    EDGEML_SDK_OK = 0,
    EDGEML_SDK_E_ARG = -1,      /* bad argument (NULL, empty) */
    EDGEML_SDK_E_NOCORE = -2,   /* not started by a core / cannot connect */
    EDGEML_SDK_E_DENIED = -3,   /* no subscription lets this function publish on the topic */
    EDGEML_SDK_E_TOPIC = -4,    /* topic with a wildcard (+ #), empty level rules, too long */
    EDGEML_SDK_E_TOOBIG = -5,   /* payload over the protocol's limit */
    EDGEML_SDK_E_NOFUNC = -6,   /* invoke: no such function in the group */
    EDGEML_SDK_E_TIMEOUT = -7,  /* invoke: no result in time */
    EDGEML_SDK_E_FULL = -8,     /* invoke: the target's queue is full (dropped) */
    EDGEML_SDK_E_FAILED = -9,   /* invoke: the target's handler failed or crashed */
    EDGEML_SDK_E_IO = -10,      /* the connection to the core failed */
    EDGEML_SDK_E_NOMEM = -11,
    EDGEML_SDK_E_NORES = -12,   /* no such resource attached to this function */
    EDGEML_SDK_E_PROTO = -13,   /* the core sent something malformed */
} edgeml_sdk_status;

typedef struct edgeml_message {
    const char *topic;     /* "" for a direct invoke */
    const char *subject;   /* the subscription's Subject it was routed by; "" for an invoke */
    const char *source;    /* sender: a function id, or "cloud" */
    const void *payload;   /* valid until the handler returns */
    size_t len;
    int is_invoke;         /* came from edgeml_invoke */
    int wants_reply;       /* request-response: edgeml_reply() sets the result */
} edgeml_message;

/* Returns 0 when handled; anything else marks the message failed (a
 * request-response caller gets EDGEML_SDK_E_FAILED). */
typedef int (*edgeml_handler)(const edgeml_message *msg);

#define EDGEML_RUNTIME_DEFAULT 0u
#define EDGEML_RUNTIME_NO_SIGNALS 1u  /* do not install the SIGTERM/SIGINT handler */

/* Connects, then runs the handler for each message until SIGTERM/SIGINT
 * (0) or a fatal error (negative status, detail in edgeml_sdk_last_error). */
EDGEML_SDK_API int edgeml_runtime_start(edgeml_handler handler, unsigned flags);
/* Asks edgeml_runtime_start to return after the current message (async-signal-safe). */
EDGEML_SDK_API void edgeml_runtime_stop(void);

/* QoS 0 publish from this function; topic without wildcards. Refused
 * locally (EDGEML_SDK_E_DENIED) when no subscription from this function
 * matches; does not wait for the core. */
EDGEML_SDK_API int edgeml_publish(const char *topic, const void *payload, size_t len);

typedef enum edgeml_invoke_type {
    EDGEML_INVOKE_REQUEST_RESPONSE = 0,
    EDGEML_INVOKE_EVENT = 1,
} edgeml_invoke_type;

/* Invokes function_id (a function Id of the group). Request-response waits
 * up to timeout_ms (<= 0: the target's Timeout plus its queueing) and hands
 * the result in *result (malloc'd; free() it) / *result_len; event returns
 * once the core has the message (result may be NULL). */
EDGEML_SDK_API int edgeml_invoke(const char *function_id, const void *payload, size_t len,
                                 edgeml_invoke_type type, int timeout_ms, void **result,
                                 size_t *result_len);

/* In a handler of a request-response message: the result (copied). */
EDGEML_SDK_API int edgeml_reply(const void *payload, size_t len);

/* The path at which this function sees resource `resource_id` (its
 * DestinationPath in a container; AWS_GG_RESOURCE_PREFIX + DestinationPath
 * without one); NULL (edgeml_sdk_last_error says why) if not attached. */
EDGEML_SDK_API const char *edgeml_resource_path(const char *resource_id);

/* This function's Id (EDGEML_FUNCTION_ID); NULL outside a core. */
EDGEML_SDK_API const char *edgeml_function_id(void);

EDGEML_SDK_API const char *edgeml_sdk_strerror(int status);
EDGEML_SDK_API const char *edgeml_sdk_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
