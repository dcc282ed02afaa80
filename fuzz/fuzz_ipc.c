/* libFuzzer target: the socket protocol's framing (src/ipc/proto.c), MQTT
 * topic names and filters (src/ipc/topic.c, checked against a reference
 * matcher written here from the rules in topic.h), and the subscription
 * router (src/ipc/router.c, counts checked against the same reference).
 *
 * The first input byte picks the part; the rest is that part's input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "router.h"
#include "topic.h"

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_ipc: check failed at line %d: %s\n", __LINE__, #cond); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* ---- input consumer ---- */
typedef struct src {
    const uint8_t *p;
    size_t n;
} src;

static unsigned take_u8(src *s)
{
    if (!s->n)
        return 0;
    s->n--;
    return *s->p++;
}

/* A string of length (one byte, capped at max) taken from the input; *len
 * gets its length. Points into the input (not NUL terminated). */
static const char *take_str(src *s, size_t max, size_t *len)
{
    size_t l = take_u8(s);
    if (l > max)
        l = max;
    if (l > s->n)
        l = s->n;
    const char *r = (const char *)s->p;
    s->p += l;
    s->n -= l;
    *len = l;
    return r;
}

/* ---- part 1: a stream of frames ---- */
static void fuzz_frames(const uint8_t *d, size_t n)
{
    static uint8_t buf[IPC_HDR_SIZE + 4 * IPC_MAX_FIELDS + 65536];
    while (n >= IPC_HDR_SIZE) {
        ipc_hdr h;
        ipc_hdr_get(d, &h);
        uint8_t back[IPC_HDR_SIZE];
        ipc_hdr_put(back, &h);
        CHECK(memcmp(back, d, IPC_HDR_SIZE) == 0);
        const char *why = NULL;
        if (ipc_hdr_check(&h, &why) != 0) {
            CHECK(why != NULL);
            /* resynchronise one byte on: the next header may be good */
            d++;
            n--;
            continue;
        }
        CHECK(h.len <= IPC_MAX_BODY);
        CHECK(h.nf <= IPC_MAX_FIELDS);
        CHECK(ipc_type_fields(h.type) == (int)h.nf);
        CHECK(ipc_type_name(h.type) != NULL);
        if (h.len > n - IPC_HDR_SIZE)
            break;
        const uint8_t *body = d + IPC_HDR_SIZE;
        ipc_field f[IPC_MAX_FIELDS];
        if (ipc_fields(&h, body, f) == 0) {
            size_t sum = 0;
            for (unsigned i = 0; i < h.nf; i++) {
                CHECK(f[i].n == 0 || (f[i].p >= body && f[i].p + f[i].n <= body + h.len));
                sum += 4 + (size_t)f[i].n;
                char *s = ipc_field_dup(f[i]);
                if (s) {
                    CHECK(strlen(s) == f[i].n);
                    CHECK(ipc_field_eq(f[i], s));
                    free(s);
                } else {
                    CHECK(memchr(f[i].p, 0, f[i].n) != NULL);
                }
            }
            CHECK(sum == h.len);
            /* re-encoding the fields gives the same bytes */
            size_t need = ipc_frame_size(f, h.nf);
            CHECK(need == IPC_HDR_SIZE + (size_t)h.len);
            if (need <= sizeof buf) {
                size_t w = ipc_encode(buf, sizeof buf, h.type, h.flags, h.id, f, h.nf);
                CHECK(w == need);
                CHECK(memcmp(buf, d, need) == 0);
            }
            CHECK(ipc_encode(buf, need - 1, h.type, h.flags, h.id, f, h.nf) == 0);
        }
        d += IPC_HDR_SIZE + h.len;
        n -= IPC_HDR_SIZE + h.len;
    }
}

/* ---- reference topic rules (topic.h), written independently ---- */
#define REF_LEVELS 512 /* > any level count the parts below can make */

/* Splits s into levels; -1 if more than REF_LEVELS. */
static int ref_split(const char *s, size_t n, const char **lv, size_t *ln)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            if (k == REF_LEVELS)
                return -1;
            lv[k] = s + start;
            ln[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

static int ref_topic_valid(const char *t, size_t n)
{
    if (n == 0 || n > IPC_TOPIC_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] == 0 || t[i] == '+' || t[i] == '#')
            return 0;
    return 1;
}

/* -1: too many levels to judge here */
static int ref_filter_valid(const char *f, size_t n)
{
    if (n == 0 || n > IPC_TOPIC_MAX || memchr(f, 0, n))
        return 0;
    const char *lv[REF_LEVELS];
    size_t ln[REF_LEVELS];
    int k = ref_split(f, n, lv, ln);
    if (k < 0)
        return -1;
    for (int i = 0; i < k; i++) {
        for (size_t j = 0; j < ln[i]; j++) {
            if ((lv[i][j] == '+' || lv[i][j] == '#') && ln[i] != 1)
                return 0;
        }
        if (ln[i] == 1 && lv[i][0] == '#' && i != k - 1)
            return 0;
    }
    return 1;
}

/* -1: too many levels to judge here */
static int ref_match(const char *f, size_t fn, const char *t, size_t tn)
{
    const char *fl[REF_LEVELS], *tl[REF_LEVELS];
    size_t fln[REF_LEVELS], tln[REF_LEVELS];
    int F = ref_split(f, fn, fl, fln), T = ref_split(t, tn, tl, tln);
    if (F < 0 || T < 0)
        return -1;
    int wild0 = fln[0] == 1 && (fl[0][0] == '+' || fl[0][0] == '#');
    if (tn > 0 && t[0] == '$' && wild0)
        return 0;
    for (int i = 0;; i++) {
        if (i == F)
            return i == T;
        if (fln[i] == 1 && fl[i][0] == '#')
            return i < T; /* "a/#" needs a level below "a" */
        if (i == T)
            return 0;
        if (fln[i] == 1 && fl[i][0] == '+')
            continue;
        if (fln[i] != tln[i] || memcmp(fl[i], tl[i], fln[i]) != 0)
            return 0;
    }
}

/* ---- part 2: topics and filters ---- */
static void fuzz_topics(src *s)
{
    while (s->n) {
        size_t fn, tn;
        const char *f = take_str(s, 255, &fn);
        const char *t = take_str(s, 255, &tn);
        const char *why = (const char *)1;
        int tv = ipc_topic_valid(t, tn, &why);
        CHECK(tv == ref_topic_valid(t, tn));
        CHECK(tv ? why == NULL : why != NULL);
        why = (const char *)1;
        int fv = ipc_filter_valid(f, fn, &why);
        int rfv = ref_filter_valid(f, fn);
        CHECK(fv ? why == NULL : why != NULL);
        if (rfv >= 0)
            CHECK(fv == rfv);
        /* a valid topic is a valid filter that matches itself */
        if (tv) {
            CHECK(ipc_filter_valid(t, tn, NULL));
            CHECK(ipc_topic_match(t, tn, t, tn));
        }
        if (fv && tv) {
            int m = ipc_topic_match(f, fn, t, tn);
            int rm = ref_match(f, fn, t, tn);
            if (rm >= 0 && m != rm) {
                fprintf(stderr, "fuzz_ipc: match('%.*s', '%.*s') = %d, reference %d\n", (int)fn,
                        f, (int)tn, t, m, rm);
                abort();
            }
        }
    }
}

/* ---- part 3: the router ---- */
#define NF_MAX 4
#define NS_MAX 24
static const char *const fn_ids[NF_MAX] = {"f0", "f1", "f2", "f3"};
static const char *const fn_arns[NF_MAX] = {"arn:aws:lambda:::function:f0",
                                            "arn:aws:lambda:::function:f1",
                                            "arn:aws:lambda:::function:f2",
                                            "arn:aws:lambda:::function:f3"};
static const char *const others[] = {"cloud", "GGShadowService", "arn:aws:iot:::thing/x", ""};

/* An endpoint name: a function's ARN (of NF_MAX, even ones not in the
 * router), or one of the others. */
static const char *pick_end(unsigned b)
{
    b %= NF_MAX + 4;
    return b < NF_MAX ? fn_arns[b] : others[b - NF_MAX];
}

/* The target slot an endpoint name resolves to in a router of nf
 * functions: 0..nf-1, nf = cloud, nf+1 = external. */
static int end_slot(const char *name, size_t nf)
{
    for (size_t i = 0; i < nf; i++)
        if (strcmp(name, fn_arns[i]) == 0)
            return (int)i;
    return strcmp(name, "cloud") == 0 ? (int)nf : (int)nf + 1;
}

static uint64_t queued_total(const rt_router *r)
{
    uint64_t q = r->cloud.n + r->ext.n;
    for (size_t i = 0; i < r->n_fns; i++)
        q += r->fns[i].q.n;
    return q;
}

static void check_queue(const rt_queue *q, size_t max_items, size_t max_bytes)
{
    size_t n = 0, bytes = 0;
    const rt_item *last = NULL;
    for (const rt_item *it = q->head; it; it = it->next) {
        CHECK(it->msg && it->msg->refs > 0);
        n++;
        bytes += rt_item_bytes(it);
        last = it;
    }
    CHECK(q->tail == last);
    CHECK(n == q->n && bytes == q->bytes);
    CHECK(n <= max_items && bytes <= max_bytes);
}

static void check_router(const rt_router *r)
{
    for (size_t i = 0; i < r->n_fns; i++)
        check_queue(&r->fns[i].q, r->max_items, r->max_bytes);
    check_queue(&r->cloud, r->max_items, r->max_bytes);
    check_queue(&r->ext, r->max_items, r->max_bytes);
}

static void fuzz_router(src *s)
{
    size_t nf = take_u8(s) % (NF_MAX + 1);
    size_t max_items = 1 + take_u8(s) % 8;
    size_t max_bytes = 64 + (size_t)take_u8(s) * 16;
    rt_fn_def fns[NF_MAX];
    for (size_t i = 0; i < nf; i++) {
        fns[i].id = fn_ids[i];
        fns[i].arn = fn_arns[i];
    }
    size_t ns = take_u8(s) % (NS_MAX + 1);
    rt_sub_def subs[NS_MAX];
    char subj[NS_MAX][64];
    for (size_t i = 0; i < ns; i++) {
        subs[i].source = pick_end(take_u8(s));
        subs[i].target = pick_end(take_u8(s));
        size_t l;
        const char *p = take_str(s, sizeof subj[i] - 1, &l);
        memcpy(subj[i], p, l);
        subj[i][l] = 0;
        subs[i].subject = subj[i];
    }
    rt_router *r = rt_new(fns, nf, subs, ns, max_items, max_bytes, NULL);
    if (!r)
        return;
    CHECK(r->n_fns == nf);
    for (size_t i = 0; i < nf; i++) {
        CHECK(rt_fn_find(r, fn_ids[i], strlen(fn_ids[i])) == (int)i);
        CHECK(rt_fn_by_arn(r, fn_arns[i]) == (int)i);
    }
    CHECK(rt_fn_find(r, "f9", 2) == -1);
    uint64_t routed = 0, in_added = 0;
    rt_router *old = NULL;
    int rounds = 0;
    while (s->n) {
        unsigned op = take_u8(s);
        switch (op % 6) {
        case 0:
        case 1:
        case 2: { /* publish */
            int from = (int)(take_u8(s) % (nf + 1));
            if ((size_t)from == nf)
                from = RT_CLOUD;
            size_t tn, pn;
            const char *t = take_str(s, 80, &tn);
            const char *p = take_str(s, 255, &pn);
            /* the reference: distinct target slots of the matching valid
             * subscriptions from this source */
            int want[NF_MAX + 2] = {0}, unknown = 0, matched = 0;
            for (size_t i = 0; i < ns; i++) {
                int sslot = end_slot(subs[i].source, nf);
                if (sslot != (from == RT_CLOUD ? (int)nf : from))
                    continue;
                size_t sl = strlen(subs[i].subject);
                if (ipc_filter_valid(subs[i].subject, sl, NULL) != 1 ||
                    !ipc_topic_valid(t, tn, NULL))
                    continue;
                int m = ref_match(subs[i].subject, sl, t, tn);
                if (m < 0)
                    unknown = 1;
                if (m > 0) {
                    matched = 1;
                    want[end_slot(subs[i].target, nf)] = 1;
                }
            }
            int expect = 0;
            for (size_t i = 0; i < nf + 2; i++)
                expect += want[i];
            rt_stats st0 = r->st;
            uint64_t q0 = queued_total(r);
            size_t got = 99;
            char err[256] = "";
            int rc = rt_publish(r, from, t, tn, p, pn, &got, err, sizeof err);
            uint64_t drops = (r->st.dropped - st0.dropped) + (r->st.cloud_dropped - st0.cloud_dropped) +
                             (r->st.ext_dropped - st0.ext_dropped);
            if (!ipc_topic_valid(t, tn, NULL)) {
                CHECK(rc == RT_BADTOPIC && err[0]);
                CHECK(r->st.bad_topic == st0.bad_topic + 1);
                break;
            }
            if (rc == RT_NOMEM)
                break;
            if (from >= 0 && !unknown && !matched) {
                CHECK(rc == RT_DENIED && err[0]);
                CHECK(got == 0);
                break;
            }
            CHECK(rc == RT_OK);
            CHECK(got <= nf + 2);
            CHECK(queued_total(r) == q0 + got);
            CHECK(r->st.routed == st0.routed + got);
            if (!unknown)
                CHECK(got + drops == (uint64_t)expect);
            routed += got;
            break;
        }
        case 3: { /* invoke */
            size_t idn, pn;
            const char *id = take_str(s, 8, &idn);
            const char *p = take_str(s, 255, &pn);
            int fo = -7;
            uint64_t q0 = queued_total(r);
            int rc = rt_invoke(r, id, idn, "cloud", p, pn, (uint8_t)(op & IPC_F_REPLY), 1, op, &fo);
            int want = -1;
            for (size_t i = 0; i < nf; i++)
                if (idn == strlen(fn_ids[i]) && memcmp(id, fn_ids[i], idn) == 0)
                    want = (int)i;
            CHECK(fo == want);
            if (want < 0)
                CHECK(rc == RT_NOFUNC);
            if (rc == RT_OK) {
                CHECK(queued_total(r) == q0 + 1);
                in_added++;
            }
            break;
        }
        case 4: { /* deliver: pop from a queue, sometimes put it back */
            size_t k = take_u8(s) % (nf + 2);
            rt_queue *q = k < nf ? &r->fns[k].q : k == nf ? &r->cloud : &r->ext;
            rt_item *it = rt_queue_pop(q);
            if (!it)
                break;
            CHECK(it->next == NULL);
            if (op & 0x80)
                rt_queue_push_front(q, it);
            else
                rt_item_free(it);
            break;
        }
        case 5: { /* redeploy: a new router taking over the queues */
            if (rounds++ >= 2)
                break;
            size_t nf2 = take_u8(s) % (NF_MAX + 1);
            rt_fn_def fns2[NF_MAX];
            for (size_t i = 0; i < nf2; i++) {
                fns2[i].id = fn_ids[i];
                fns2[i].arn = fn_arns[i];
            }
            uint64_t q0 = queued_total(r);
            rt_router *r2 = rt_new(fns2, nf2, subs, ns, max_items, max_bytes, r);
            if (!r2)
                break;
            /* nothing is lost or doubled: moved + kept = before */
            CHECK(queued_total(r2) + queued_total(r) == q0);
            check_router(r);
            check_router(r2);
            if (old) {
                rt_free(old);
            }
            old = r;
            r = r2;
            nf = nf2;
            break;
        }
        }
        check_router(r);
    }
    (void)routed;
    (void)in_added;
    /* drain some queues item by item, free the rest with the router */
    if (nf > 0) {
        rt_item *it;
        while ((it = rt_queue_pop(&r->fns[0].q)) != NULL)
            rt_item_free(it);
        CHECK(r->fns[0].q.n == 0 && r->fns[0].q.bytes == 0 && r->fns[0].q.tail == NULL);
    }
    rt_free(r);
    if (old)
        rt_free(old);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    src s = {data + 1, size - 1};
    switch (data[0] % 3) {
    case 0:
        fuzz_frames(data + 1, size - 1);
        break;
    case 1:
        fuzz_topics(&s);
        break;
    default:
        fuzz_router(&s);
        break;
    }
    return 0;
}
