/* The subscription router: a group's Subscriptions compiled per source, and
 * the bounded queues that messages wait in until the core delivers them.
 * Pure data structure: no sockets, no processes, no clock (unit-testable).
 *
 * Sources and targets: a function (by its FunctionArn in the group, an index
 * into rt_router.fns), `cloud` (RT_CLOUD: the queue that feeds the core's
 * CTL_SUBSCRIBE listeners and later the MQTT bridge), or anything else
 * (RT_EXTERNAL: other ARNs, GGShadowService; queued, bounded and counted for
 * the later MQTT bridge).
 *
 * Ownership: one publish allocates one rt_msg (topic, source, payload),
 * shared by every target's rt_item through a reference count. Items belong
 * to the queue they are in, or to whoever popped them (rt_item_free).
 * Queues never block: an item that would take a queue over max_items or
 * max_bytes is dropped and counted. For a function, the items its processes
 * hold (sent, not yet done: the `held` callback) count toward max_items, so
 * that --max-work-items bounds everything buffered for it.
 * Delivery to one target is at most once per publish, even when several of
 * the source's subscriptions to that target match the topic (the first
 * matching Subject, in document order, is the one reported). */
#ifndef EDGEML_IPC_ROUTER_H
#define EDGEML_IPC_ROUTER_H

#include <stddef.h>
#include <stdint.h>


#define RT_CLOUD (-1)
#define RT_EXTERNAL (-2)
#define RT_DEFAULT_MAX_ITEMS 1024
#define RT_DEFAULT_MAX_BYTES ((size_t)64 << 20)

typedef enum rt_status {
    RT_OK = 0,
    RT_DENIED = -1,    /* a function publishing where no subscription of its allows */
    RT_BADTOPIC = -2,  /* wildcards, empty, too long */
    RT_NOMEM = -3,
    RT_NOFUNC = -4,    /* invoke: no such function */
    RT_FULL = -5,      /* invoke: the target's queue is full (dropped, counted) */
} rt_status;

typedef struct rt_msg {
    uint32_t refs;
    uint32_t topic_len, source_len;
    size_t len;
    const char *topic;      /* NUL-terminated, into data */
    const char *source;     /* a function Id or "cloud" */
    const uint8_t *payload; /* len bytes */
    uint8_t data[];
} rt_msg;

typedef struct rt_item {
    struct rt_item *next;
    rt_msg *msg;
    uint8_t flags;          /* IPC_F_INVOKE, IPC_F_REPLY */
    uint64_t reply_conn;    /* request-response: the waiting connection (core's serial) */
    uint64_t reply_id;      /* ... and its request id */
    uint64_t id;            /* the MSG id, set by the core when sent to a process */
    uint32_t subject_len;
    char subject[];         /* the Subject it was routed by ("" for an invoke) */
} rt_item;

typedef struct rt_queue {
    rt_item *head, *tail;
    size_t n, bytes;
} rt_queue;

typedef struct rt_fn {
    char *id, *arn;
    rt_queue q;
    char *filters;          /* publish filters, '\n'-separated (WELCOME/ACL) */
    uint64_t in;            /* messages enqueued */
    uint64_t out;           /* messages published by it (routed or not) */
    uint64_t dropped;       /* overflow of its queue */
    uint64_t denied;        /* its publishes refused */
    uint64_t stamp;         /* internal: dedupe per publish */
} rt_fn;

typedef struct rt_route {
    int target;             /* fn index, RT_CLOUD or RT_EXTERNAL */
    const char *subject;    /* into rt_router's strings */
    uint32_t subject_len;
} rt_route;

typedef struct rt_source {
    int fn;                 /* fn index, RT_CLOUD, RT_EXTERNAL */
    const char *name;
    rt_route *routes;
    size_t n_routes;
} rt_source;

typedef struct rt_stats {
    uint64_t routed;        /* deliveries enqueued (one publish to N targets: N) */
    uint64_t no_route;      /* cloud publishes with no matching subscription */
    uint64_t denied;        /* function publishes refused (no subscription) */
    uint64_t bad_topic;     /* refused topics (wildcards, ...) */
    uint64_t dropped;       /* overflow drops of function queues */
    uint64_t cloud_queued, cloud_dropped;
    uint64_t ext_queued, ext_dropped;
} rt_stats;

typedef struct rt_router {
    rt_fn *fns;
    size_t n_fns;
    rt_source *srcs;        /* srcs[i] for fns[i] (i < n_fns), then cloud, then externals */
    size_t n_srcs;
    rt_route *routes;
    size_t n_routes;
    rt_queue cloud, ext;
    size_t max_items, max_bytes;
    /* Items of function i held outside its queue (in flight); NULL: none. */
    size_t (*held)(void *ctx, size_t fn);
    void *held_ctx;
    char *strings;          /* the compiled Subjects and external names */
    uint64_t seq;
    rt_stats st;
} rt_router;

typedef struct rt_fn_def { const char *id, *arn; } rt_fn_def;
typedef struct rt_sub_def { const char *source, *subject, *target; } rt_sub_def;

/* Compiles a group's functions and subscriptions (Source/Target: a
 * function's ARN, "cloud", or anything else = external; Subjects valid
 * filters, invalid ones are skipped). old (may be NULL): the queues,
 * counters and stats of functions with the same Id, and the cloud/external
 * queues, move to the new router (old keeps what was not moved: queues of
 * removed functions; free it with rt_free after draining them).
 * NULL on OOM. */
rt_router *rt_new(const rt_fn_def *fns, size_t n_fns, const rt_sub_def *subs,
                  size_t n_subs, size_t max_items, size_t max_bytes, rt_router *old);
void rt_free(rt_router *r);

/* Index of the function with this Id / FunctionArn, or -1. */
int rt_fn_find(const rt_router *r, const char *id, size_t n);
int rt_fn_by_arn(const rt_router *r, const char *arn);

/* Publishes from src (a fn index or RT_CLOUD) on topic. RT_OK with
 * *n_targets the number of queues that took it (0 from cloud: no route,
 * counted); RT_DENIED / RT_BADTOPIC with a one-line reason in err. */
int rt_publish(rt_router *r, int src, const char *topic, size_t tn, const void *p, size_t n,
               size_t *n_targets, char *err, size_t cap);

/* A direct invoke of function `id` from source (a function Id or "cloud").
 * RT_OK, RT_NOFUNC, RT_FULL, RT_NOMEM. *fn_out: the target's index. */
int rt_invoke(rt_router *r, const char *id, size_t idn, const char *source, const void *p,
              size_t n, uint8_t flags, uint64_t reply_conn, uint64_t reply_id, int *fn_out);

/* Queue operations (the core delivers, requeues after BYE or a crash). */
rt_item *rt_queue_pop(rt_queue *q);
void rt_queue_push_front(rt_queue *q, rt_item *it);
void rt_queue_push_back(rt_queue *q, rt_item *it);
size_t rt_item_bytes(const rt_item *it);
void rt_item_free(rt_item *it);
void rt_queue_clear(rt_queue *q);

#endif
