/* Router unit tests (src/ipc/router.h): matching, fan-out with one shared
 * payload, authorisation refusal, wildcard refusal, overflow counting,
 * redeploy keeping queues. Each check prints ok/FAIL; the last line counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "router.h"
#include "../common/check.h"

#define A(x) "arn:aws:lambda:r:1:function:" x ":1"

static const rt_fn_def k_fns[] = {{"f1", A("f1")}, {"f2", A("f2")}, {"f3", A("f3")}};

static int pub(rt_router *r, int src, const char *topic, const char *payload, size_t *nt,
               char *err)
{
    return rt_publish(r, src, topic, strlen(topic), payload, strlen(payload), nt, err, 256);
}

static void test_matching_and_fanout(void)
{
    const rt_sub_def subs[] = {
        {"cloud", "camera/+/frames", A("f1")},
        {"cloud", "camera/#", A("f2")},
        {"cloud", "camera/cam1/frames", A("f2")}, /* second match to f2: delivered once */
        {"cloud", "a/#", A("f3")},
        {A("f1"), "inference/+/results", "cloud"},
        {A("f1"), "inference/#", A("f3")},
        {A("f1"), "shadow/x", "GGShadowService"},
        {"arn:aws:iot:r:1:thing/dev", "dev/#", A("f1")}, /* external source, compiled */
        {"cloud", "bad/#/x", A("f1")},                   /* invalid filter: skipped */
    };
    rt_router *r = rt_new(k_fns, 3, subs, sizeof subs / sizeof subs[0], 10, 0, NULL);
    CHECK(r != NULL, "rt_new");
    char err[256];
    size_t nt;
    CHECK(pub(r, RT_CLOUD, "camera/cam1/frames", "img", &nt, err) == RT_OK && nt == 2,
          "fan-out to f1 and f2 once each (nt=%zu)", nt);
    rt_item *a = r->fns[0].q.head, *b = r->fns[1].q.head;
    CHECK(a && b && a->msg == b->msg && a->msg->refs == 2, "one payload shared, refcount 2");
    CHECK(a && strcmp(a->subject, "camera/+/frames") == 0, "subject of f1's route");
    CHECK(b && strcmp(b->subject, "camera/#") == 0, "f2: the first matching subject");
    CHECK(a && strcmp(a->msg->source, "cloud") == 0 && a->msg->len == 3 &&
              memcmp(a->msg->payload, "img", 3) == 0,
          "source and payload");
    CHECK(pub(r, RT_CLOUD, "camera/cam1/frames/extra", "x", &nt, err) == RT_OK && nt == 1,
          "'+' is one level: only camera/# matches (nt=%zu)", nt);
    CHECK(pub(r, RT_CLOUD, "a", "x", &nt, err) == RT_OK && nt == 0 && r->st.no_route == 1,
          "a/# does not match a: no route, counted");
    CHECK(pub(r, RT_CLOUD, "a/b/c", "x", &nt, err) == RT_OK && nt == 1, "a/# matches a/b/c");
    CHECK(pub(r, RT_CLOUD, "camera//frames", "x", &nt, err) == RT_OK && nt == 2,
          "empty level matched by '+' (nt=%zu)", nt);
    /* function source: to cloud and to f3 */
    CHECK(pub(r, 0, "inference/cam1/results", "{}", &nt, err) == RT_OK && nt == 2 &&
              r->cloud.n == 1 && r->fns[2].q.n == 2 && r->fns[0].out == 1,
          "function publish to cloud and f3 (nt=%zu cloud=%zu)", nt, r->cloud.n);
    CHECK(strcmp(r->cloud.head->msg->source, "f1") == 0, "source is the function Id");
    CHECK(pub(r, 0, "shadow/x", "{}", &nt, err) == RT_OK && nt == 1 && r->ext.n == 1 &&
              r->st.ext_queued == 1,
          "external target queued and counted");
    /* refusals */
    CHECK(pub(r, 1, "camera/cam1/frames", "x", &nt, err) == RT_DENIED && r->fns[1].denied == 1 &&
              r->st.denied == 1 &&
              strcmp(err, "not authorised: no subscription from f2 matches topic "
                          "camera/cam1/frames") == 0,
          "unauthorised publish refused: %s", err);
    CHECK(pub(r, RT_CLOUD, "camera/+/frames", "x", &nt, err) == RT_BADTOPIC &&
              strstr(err, "wildcard"),
          "wildcard topic refused: %s", err);
    CHECK(pub(r, 0, "inference/#", "x", &nt, err) == RT_BADTOPIC, "'#' topic refused");
    CHECK(pub(r, RT_CLOUD, "", "x", &nt, err) == RT_BADTOPIC, "empty topic refused");
    CHECK(r->st.bad_topic == 3, "bad topics counted");
    /* publish filters for WELCOME */
    CHECK(strcmp(r->fns[0].filters, "inference/+/results\ninference/#\nshadow/x") == 0,
          "f1's publish filters: '%s'", r->fns[0].filters);
    CHECK(strcmp(r->fns[1].filters, "") == 0, "f2 may publish nothing");
    CHECK(rt_fn_by_arn(r, A("f2")) == 1 && rt_fn_find(r, "f3", 2) == 2 &&
              rt_fn_find(r, "f4", 2) == -1,
          "lookups");
    rt_free(r);
}

static void test_overflow(void)
{
    const rt_sub_def subs[] = {{"cloud", "#", A("f1")}, {"cloud", "#", A("f2")}};
    rt_router *r = rt_new(k_fns, 3, subs, 2, 4, 0, NULL);
    char err[256];
    size_t nt;
    for (int i = 0; i < 4; i++)
        pub(r, RT_CLOUD, "t", "x", &nt, err);
    /* drain f2 so only f1 overflows */
    rt_queue_clear(&r->fns[1].q);
    CHECK(pub(r, RT_CLOUD, "t", "y", &nt, err) == RT_OK && nt == 1,
          "f1 full, f2 takes it (nt=%zu)", nt);
    CHECK(r->fns[0].q.n == 4 && r->fns[0].dropped == 1 && r->st.dropped == 1 &&
              r->fns[0].in == 4,
          "overflow dropped and counted (n=%zu dropped=%llu)", r->fns[0].q.n,
          (unsigned long long)r->fns[0].dropped);
    int fi;
    CHECK(rt_invoke(r, "f1", 2, "cloud", "z", 1, IPC_F_REPLY, 9, 10, &fi) == RT_FULL &&
              r->fns[0].dropped == 2,
          "invoke to a full queue: RT_FULL, counted");
    CHECK(rt_invoke(r, "nope", 4, "cloud", "z", 1, 0, 0, 0, &fi) == RT_NOFUNC, "invoke: no func");
    CHECK(rt_invoke(r, "f3", 2, "f1", "zz", 2, IPC_F_REPLY, 9, 10, &fi) == RT_OK && fi == 2,
          "invoke queued");
    rt_item *it = r->fns[2].q.head;
    CHECK(it && (it->flags & IPC_F_INVOKE) && (it->flags & IPC_F_REPLY) && it->reply_conn == 9 &&
              it->reply_id == 10 && strcmp(it->msg->source, "f1") == 0 && it->msg->topic_len == 0,
          "invoke item: flags, correlation, source");
    rt_free(r);

    /* byte cap */
    r = rt_new(k_fns, 3, subs, 1, 1000, 3000, NULL);
    char big[1000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    int took = 0;
    for (int i = 0; i < 10; i++) {
        pub(r, RT_CLOUD, "t", big, &nt, err);
        took += (int)nt;
    }
    CHECK(took == 2 && r->fns[0].q.bytes <= 3000 && r->fns[0].dropped == 8,
          "byte cap bounds the queue (took %d, %zu bytes)", took, r->fns[0].q.bytes);
    rt_free(r);
}

/* what the core reports held (in flight) per function */
static size_t g_held[3];
static size_t held_cb(void *ctx, size_t fn)
{
    (void)ctx;
    return fn < 3 ? g_held[fn] : 0;
}

static void test_held_counts(void)
{
    const rt_sub_def subs[] = {{"cloud", "#", A("f1")}};
    rt_router *r = rt_new(k_fns, 3, subs, 1, 4, 0, NULL);
    r->held = held_cb;
    g_held[0] = 3;
    char err[256];
    size_t nt, took = 0;
    for (int i = 0; i < 3; i++) {
        pub(r, RT_CLOUD, "t", "x", &nt, err);
        took += nt;
    }
    CHECK(took == 1 && r->fns[0].q.n == 1 && r->fns[0].dropped == 2,
          "in-flight items count toward max_items (took %zu)", took);
    int fi;
    CHECK(rt_invoke(r, "f1", 2, "cloud", "z", 1, 0, 0, 0, &fi) == RT_FULL,
          "invoke sees the held items too");
    g_held[0] = 0;
    CHECK(rt_invoke(r, "f1", 2, "cloud", "z", 1, 0, 0, 0, &fi) == RT_OK,
          "room again once they are done");
    rt_free(r);
}

static void test_requeue_and_redeploy(void)
{
    const rt_sub_def subs[] = {{"cloud", "#", A("f1")}, {"cloud", "#", A("f3")}};
    rt_router *r = rt_new(k_fns, 3, subs, 2, 10, 0, NULL);
    char err[256];
    size_t nt;
    pub(r, RT_CLOUD, "t/1", "1", &nt, err);
    pub(r, RT_CLOUD, "t/2", "2", &nt, err);
    rt_item *first = rt_queue_pop(&r->fns[0].q);
    CHECK(first && strcmp(first->msg->topic, "t/1") == 0, "FIFO");
    rt_queue_push_front(&r->fns[0].q, first);
    CHECK(strcmp(r->fns[0].q.head->msg->topic, "t/1") == 0 && r->fns[0].q.n == 2,
          "requeued at the front");
    /* redeploy: f1 kept (queue moves), f3 removed (queue stays in old), f4 new */
    const rt_fn_def fns2[] = {{"f4", A("f4")}, {"f1", A("f1")}};
    const rt_sub_def subs2[] = {{"cloud", "x/#", A("f4")}};
    rt_router *r2 = rt_new(fns2, 2, subs2, 1, 10, 0, r);
    CHECK(r2 && r2->fns[1].q.n == 2 && r->fns[0].q.n == 0 && r->fns[2].q.n == 2 &&
              r2->fns[1].in == 2,
          "surviving queue and counters moved; removed function's queue left in old");
    CHECK(pub(r2, RT_CLOUD, "t/3", "3", &nt, err) == RT_OK && nt == 0 && r2->st.no_route == 1,
          "new subscriptions apply");
    rt_free(r);
    rt_free(r2);
}

int main(void)
{
    test_matching_and_fanout();
    test_overflow();
    test_held_counts();
    test_requeue_and_redeploy();
    return CHECK_SUMMARY();
}
