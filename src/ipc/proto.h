/* The local socket protocol between the core and its peers (functions through
 * libedgeml-sdk, and the edgeml CLI's control commands). Shared by the core
 * (src/core), the SDK (src/sdk) and the CLI; nothing else of the core is.
 *
 * Transport: a SOCK_STREAM Unix socket at ROOT/run/core.sock (0666; inside a
 * container it is bind-mounted at /run/edgeml/core.sock). Byte order: the
 * host's (the socket is local).
 *
 * Frame: a 16-byte header, then `len` bytes of body.
 *   uint32 len    body bytes (<= IPC_MAX_BODY; larger: protocol error, the
 *                 connection is closed)
 *   uint8  type   ipc_type
 *   uint8  flags  IPC_F_*
 *   uint16 nf     number of fields in the body
 *   uint64 id     the sender's correlation id (message id, request id)
 * Body: nf fields, each a uint32 length then that many bytes (no NUL; text
 * fields are UTF-8 without NUL bytes, binary fields anything). The field
 * count and order of each type is below; a frame with another count, or with
 * fields overrunning the body, is a protocol error.
 *
 * Function connection (peer = a process the core started):
 *   F->C HELLO    [token, sdk_version]   first frame; token = EDGEML_TOKEN of
 *                                         the process's environment
 *   C->F WELCOME  [function_id, publish_filters]  filters: the Subjects the
 *                 function may publish on, '\n'-separated (the SDK refuses
 *                 others locally; the core checks again)
 *   C->F ERROR    [text]                  then close (bad token, ...)
 *   C->F MSG id   [topic, subject, source, payload]  a message to handle;
 *                 flags IPC_F_INVOKE (a direct invoke: topic and subject "")
 *                 and IPC_F_REPLY (request-response: the DONE carries the
 *                 result). The core may send up to IPC_WINDOW MSGs before the
 *                 first DONE; the SDK handles them one at a time in order.
 *   F->C DONE id  [status, result]       the handler of MSG id returned;
 *                 status "" = ok, else one line (handler error)
 *   F->C PUBLISH id [topic, payload]     fire and forget (QoS 0); on refusal
 *                 the core answers NACK id [text] (asynchronously)
 *   F->C INVOKE id [function_id, payload]  flags IPC_F_REPLY: request-response
 *                 (the core answers RESULT id), else an event (no answer
 *                 unless refused: NACK id)
 *   C->F RESULT id [status, payload]     status "" = ok, else one line
 *                 ("no such function", "timeout", "queue full", "failed: ...")
 *   C->F ACL      [publish_filters]      the publish filters changed (redeploy)
 *   F->C BYE id   [last_done_id]         the process exits (SIGTERM) having
 *                 finished every MSG up to last_done_id; the MSGs sent after it
 *                 were not started and go back to the front of the queue.
 *                 last_done_id is decimal text ("0": none finished); the
 *                 header's id carries the same number.
 *
 * Control connection (the edgeml CLI; the peer's uid, read with SO_PEERCRED,
 * must be 0 or the core's own uid):
 *   CTL_STATUS    []                 -> CTL_REPLY [json]
 *   CTL_DEPLOY    [group_json_path]  -> CTL_REPLY [one line]  (re-read the
 *                 active deployment and apply it; flags IPC_F_ERROR on failure)
 *   CTL_PUBLISH id [topic, payload]  publish as source "cloud"
 *                                    -> CTL_REPLY [one line: "routed to N" /
 *                                       "no route (dropped)" / error]
 *   CTL_SUBSCRIBE [filter]           -> CTL_REPLY ["ok"], then MSG frames for
 *                 every message routed to target "cloud" whose topic matches
 *                 the filter (what the MQTT bridge will forward), until close
 *   CTL_INVOKE id [function_id, payload] (flags IPC_F_REPLY) -> RESULT id
 * Any reply carrying an error sets IPC_F_ERROR.
 */
#ifndef EDGEML_IPC_PROTO_H
#define EDGEML_IPC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define IPC_HDR_SIZE 16
#define IPC_MAX_BODY (16u << 20)     /* 16 MiB: a frame body, payload included */
#define IPC_MAX_FIELDS 8
#define IPC_WINDOW 32                /* MSGs in flight per process */
#define IPC_SOCK_NAME "run/core.sock" /* under ROOT */
#define IPC_CONTAINER_SOCK "/run/edgeml/core.sock"
#define IPC_SDK_VERSION "1"

/* Environment a function is started with. */
#define IPC_ENV_SOCKET "EDGEML_CORE_SOCKET"     /* path of the socket */
#define IPC_ENV_TOKEN "EDGEML_TOKEN"            /* 32 hex digits, per process */
#define IPC_ENV_FUNCTION "EDGEML_FUNCTION_ID"
#define IPC_ENV_RESOURCES "EDGEML_RESOURCES"    /* "Id=/path\n"... as seen by the function */
#define IPC_ENV_PREFIX "AWS_GG_RESOURCE_PREFIX" /* NoContainer only, as v1 */

typedef enum ipc_type {
    IPC_HELLO = 1, IPC_WELCOME, IPC_ERROR, IPC_MSG, IPC_DONE, IPC_PUBLISH, IPC_NACK,
    IPC_INVOKE, IPC_RESULT, IPC_ACL, IPC_BYE,
    IPC_CTL_STATUS = 32, IPC_CTL_DEPLOY, IPC_CTL_PUBLISH, IPC_CTL_SUBSCRIBE, IPC_CTL_INVOKE,
    IPC_CTL_REPLY,
} ipc_type;

#define IPC_F_INVOKE 0x01
#define IPC_F_REPLY 0x02
#define IPC_F_ERROR 0x04

typedef struct ipc_hdr {
    uint32_t len;
    uint8_t type, flags;
    uint16_t nf;
    uint64_t id;
} ipc_hdr;

/* A field of a decoded frame: points into the frame's buffer (not NUL
 * terminated). */
typedef struct ipc_field {
    const uint8_t *p;
    uint32_t n;
} ipc_field;

/* Expected field count of a type (-1: unknown type). */
int ipc_type_fields(uint8_t type);
const char *ipc_type_name(uint8_t type);

/* Header from/to 16 bytes. ipc_hdr_check: 0, or -1 with a reason (body too
 * large, unknown type, wrong field count). */
void ipc_hdr_get(const uint8_t b[IPC_HDR_SIZE], ipc_hdr *h);
void ipc_hdr_put(uint8_t b[IPC_HDR_SIZE], const ipc_hdr *h);
int ipc_hdr_check(const ipc_hdr *h, const char **why);

/* Splits a body of h->len bytes into h->nf fields (<= IPC_MAX_FIELDS).
 * 0, or -1 when the fields overrun or underfill the body. */
int ipc_fields(const ipc_hdr *h, const uint8_t *body, ipc_field *f);

/* Encodes a whole frame (header + fields) into buf (cap bytes); returns its
 * size, or 0 if it does not fit or the body would exceed IPC_MAX_BODY. */
size_t ipc_encode(uint8_t *buf, size_t cap, uint8_t type, uint8_t flags, uint64_t id,
                  const ipc_field *f, unsigned nf);
/* Size ipc_encode needs. */
size_t ipc_frame_size(const ipc_field *f, unsigned nf);

/* Field helpers. */
static inline ipc_field ipc_str(const char *s);
int ipc_field_eq(ipc_field f, const char *s);
/* Copies f into a NUL-terminated malloc'd string; NULL on OOM or if f holds
 * a NUL byte. */
char *ipc_field_dup(ipc_field f);

#include <string.h>
static inline ipc_field ipc_str(const char *s)
{
    ipc_field f = {(const uint8_t *)s, s ? (uint32_t)strlen(s) : 0};
    return f;
}

/* ---- blocking client side (client.c), used by the SDK and the CLI ---- */

/* Connects to the socket at path; fd or -1 with errno set. */
int ipc_connect(const char *path);
/* Writes a whole frame (retrying on EINTR/short writes); 0 or -1 (errno). */
int ipc_send(int fd, uint8_t type, uint8_t flags, uint64_t id, const ipc_field *f, unsigned nf);
/* Reads one frame; *body is malloc'd (caller frees) and fields point into
 * it; body[h->len] is a NUL byte, so the last field is NUL-terminated.
 * timeout_ms < 0: wait forever; it bounds the whole frame. 0, or -1 with
 * errno: ETIMEDOUT (nothing read, the connection is still usable), EPROTO
 * (a malformed frame, or the timeout hit mid-frame: close the connection),
 * ECONNRESET/EPIPE when the peer closed. */
int ipc_recv(int fd, int timeout_ms, ipc_hdr *h, uint8_t **body, ipc_field f[IPC_MAX_FIELDS]);

#endif
