/* The subscription router (router.h): compiled routes, shared payloads,
 * bounded queues. */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "topic.h"

/* ---- messages and queues ---- */

static rt_msg *msg_new(const char *topic, size_t tn, const char *src, const void *p, size_t n)
{
    size_t sn = strlen(src);
    if (tn > UINT32_MAX - 2 || sn > UINT32_MAX - 2 || n > SIZE_MAX - tn - sn - 2 - sizeof(rt_msg))
        return NULL;
    rt_msg *m = malloc(sizeof *m + tn + 1 + sn + 1 + n);
    if (!m)
        return NULL;
    m->refs = 0;
    m->topic_len = (uint32_t)tn;
    m->source_len = (uint32_t)sn;
    m->len = n;
    uint8_t *d = m->data;
    if (tn)
        memcpy(d, topic, tn);
    d[tn] = 0;
    m->topic = (const char *)d;
    memcpy(d + tn + 1, src, sn + 1);
    m->source = (const char *)d + tn + 1;
    if (n)
        memcpy(d + tn + sn + 2, p, n);
    m->payload = d + tn + sn + 2;
    return m;
}

static rt_item *item_new(rt_msg *m, const char *subject, size_t sn, uint8_t flags)
{
    rt_item *it = malloc(sizeof *it + sn + 1);
    if (!it)
        return NULL;
    memset(it, 0, sizeof *it);
    it->msg = m;
    m->refs++;
    it->flags = flags;
    it->subject_len = (uint32_t)sn;
    if (sn)
        memcpy(it->subject, subject, sn);
    it->subject[sn] = 0;
    return it;
}

void rt_item_free(rt_item *it)
{
    if (!it)
        return;
    if (it->msg && --it->msg->refs == 0)
        free(it->msg);
    free(it);
}

size_t rt_item_bytes(const rt_item *it)
{
    return it->msg->len + it->msg->topic_len + it->subject_len + sizeof *it;
}

rt_item *rt_queue_pop(rt_queue *q)
{
    rt_item *it = q->head;
    if (!it)
        return NULL;
    q->head = it->next;
    if (!q->head)
        q->tail = NULL;
    it->next = NULL;
    q->n--;
    q->bytes -= rt_item_bytes(it);
    return it;
}

void rt_queue_push_front(rt_queue *q, rt_item *it)
{
    it->next = q->head;
    q->head = it;
    if (!q->tail)
        q->tail = it;
    q->n++;
    q->bytes += rt_item_bytes(it);
}

void rt_queue_push_back(rt_queue *q, rt_item *it)
{
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n++;
    q->bytes += rt_item_bytes(it);
}

void rt_queue_clear(rt_queue *q)
{
    rt_item *it;
    while ((it = rt_queue_pop(q)))
        rt_item_free(it);
}

/* Takes it into q unless that would pass the bounds; -1: not taken (the
 * caller frees and counts). */
static int enqueue(const rt_router *r, rt_queue *q, rt_item *it, int fn)
{
    size_t b = rt_item_bytes(it);
    size_t held = fn >= 0 && r->held ? r->held(r->held_ctx, (size_t)fn) : 0;
    if (q->n + held >= r->max_items || b > r->max_bytes || q->bytes > r->max_bytes - b)
        return -1;
    rt_queue_push_back(q, it);
    return 0;
}

/* ---- compiling ---- */

int rt_fn_find(const rt_router *r, const char *id, size_t n)
{
    for (size_t i = 0; i < r->n_fns; i++)
        if (strlen(r->fns[i].id) == n && memcmp(r->fns[i].id, id, n) == 0)
            return (int)i;
    return -1;
}

int rt_fn_by_arn(const rt_router *r, const char *arn)
{
    for (size_t i = 0; i < r->n_fns; i++)
        if (strcmp(r->fns[i].arn, arn) == 0)
            return (int)i;
    return -1;
}

static int endpoint(const rt_router *r, const char *name)
{
    if (strcmp(name, "cloud") == 0)
        return RT_CLOUD;
    int f = rt_fn_by_arn(r, name);
    if (f < 0 && strncmp(name, "arn:", 4) != 0)
        f = rt_fn_find(r, name, strlen(name)); /* a function Id (edgeml's shorthand) */
    return f >= 0 ? f : RT_EXTERNAL;
}

/* Source slot of endpoint e: fns first, then cloud, then one per distinct
 * external name. */
static size_t source_slot(rt_router *r, int e, const char *name)
{
    if (e >= 0)
        return (size_t)e;
    if (e == RT_CLOUD)
        return r->n_fns;
    for (size_t i = r->n_fns + 1; i < r->n_srcs; i++)
        if (strcmp(r->srcs[i].name, name) == 0)
            return i;
    size_t i = r->n_srcs++;
    r->srcs[i].fn = RT_EXTERNAL;
    r->srcs[i].name = name;
    return i;
}

static char *join_filters(const rt_source *s)
{
    size_t total = 1;
    for (size_t i = 0; i < s->n_routes; i++)
        total += s->routes[i].subject_len + 1;
    char *out = malloc(total), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < s->n_routes; i++) {
        const rt_route *rt = &s->routes[i];
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = s->routes[j].subject_len == rt->subject_len &&
                  memcmp(s->routes[j].subject, rt->subject, rt->subject_len) == 0;
        if (dup)
            continue;
        if (o != out)
            *o++ = '\n';
        memcpy(o, rt->subject, rt->subject_len);
        o += rt->subject_len;
    }
    *o = 0;
    return out;
}

rt_router *rt_new(const rt_fn_def *fns, size_t n_fns, const rt_sub_def *subs, size_t n_subs,
                  size_t max_items, size_t max_bytes, rt_router *old)
{
    rt_router *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->max_items = max_items ? max_items : RT_DEFAULT_MAX_ITEMS;
    r->max_bytes = max_bytes ? max_bytes : RT_DEFAULT_MAX_BYTES;
    r->n_fns = n_fns;
    r->fns = calloc(n_fns ? n_fns : 1, sizeof *r->fns);
    r->srcs = calloc(n_fns + 1 + n_subs, sizeof *r->srcs);
    r->routes = calloc(n_subs ? n_subs : 1, sizeof *r->routes);
    if (!r->fns || !r->srcs || !r->routes)
        goto oom;
    for (size_t i = 0; i < n_fns; i++) {
        r->fns[i].id = strdup(fns[i].id);
        r->fns[i].arn = strdup(fns[i].arn ? fns[i].arn : fns[i].id);
        if (!r->fns[i].id || !r->fns[i].arn)
            goto oom;
        r->srcs[i].fn = (int)i;
        r->srcs[i].name = r->fns[i].arn;
    }
    r->srcs[n_fns].fn = RT_CLOUD;
    r->srcs[n_fns].name = "cloud";
    r->n_srcs = n_fns + 1;

    /* Count routes per source, then lay them out contiguously in document
     * order. Names point into subs (copied below into one block). */
    size_t *slot = calloc(n_subs ? n_subs : 1, sizeof *slot);
    size_t strbytes = 0;
    if (!slot)
        goto oom;
    for (size_t i = 0; i < n_subs; i++) {
        const rt_sub_def *d = &subs[i];
        slot[i] = SIZE_MAX;
        if (!d->source || !d->subject || !d->target ||
            !ipc_filter_valid(d->subject, strlen(d->subject), NULL))
            continue;
        slot[i] = source_slot(r, endpoint(r, d->source), d->source);
        r->srcs[slot[i]].n_routes++;
        strbytes += strlen(d->subject) + 1 + strlen(d->source) + 1;
    }
    char *strings = malloc(strbytes + 1), *sp = strings;
    if (!strings) {
        free(slot);
        goto oom;
    }
    r->n_routes = 0;
    size_t off = 0;
    for (size_t s = 0; s < r->n_srcs; s++) {
        r->srcs[s].routes = r->routes + off;
        off += r->srcs[s].n_routes;
        r->srcs[s].n_routes = 0;
    }
    for (size_t i = 0; i < n_subs; i++) {
        if (slot[i] == SIZE_MAX)
            continue;
        rt_source *s = &r->srcs[slot[i]];
        rt_route *rt = &s->routes[s->n_routes++];
        size_t sl = strlen(subs[i].subject);
        memcpy(sp, subs[i].subject, sl + 1);
        rt->subject = sp;
        rt->subject_len = (uint32_t)sl;
        sp += sl + 1;
        rt->target = endpoint(r, subs[i].target);
        if (s->fn == RT_EXTERNAL && s->name == subs[i].source) {
            /* re-point the external source's name at our copy */
            size_t nl = strlen(subs[i].source);
            memcpy(sp, subs[i].source, nl + 1);
            s->name = sp;
            sp += nl + 1;
        }
        r->n_routes++;
    }
    free(slot);
    for (size_t i = 0; i < n_fns; i++) {
        r->fns[i].filters = join_filters(&r->srcs[i]);
        if (!r->fns[i].filters) {
            free(strings);
            goto oom;
        }
    }
    r->strings = strings;

    if (old) {
        for (size_t i = 0; i < n_fns; i++) {
            int o = rt_fn_find(old, r->fns[i].id, strlen(r->fns[i].id));
            if (o < 0)
                continue;
            rt_fn *of = &old->fns[o], *nf = &r->fns[i];
            nf->q = of->q;
            memset(&of->q, 0, sizeof of->q);
            nf->in = of->in;
            nf->out = of->out;
            nf->dropped = of->dropped;
            nf->denied = of->denied;
        }
        r->cloud = old->cloud;
        r->ext = old->ext;
        memset(&old->cloud, 0, sizeof old->cloud);
        memset(&old->ext, 0, sizeof old->ext);
        r->st = old->st;
        r->seq = old->seq;
    }
    return r;
oom:
    rt_free(r);
    return NULL;
}

void rt_free(rt_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->fns && i < r->n_fns; i++) {
        free(r->fns[i].id);
        free(r->fns[i].arn);
        free(r->fns[i].filters);
        rt_queue_clear(&r->fns[i].q);
    }
    rt_queue_clear(&r->cloud);
    rt_queue_clear(&r->ext);
    free(r->fns);
    free(r->srcs);
    free(r->routes);
    free(r->strings);
    free(r);
}

/* ---- routing ---- */

int rt_publish(rt_router *r, int src, const char *topic, size_t tn, const void *p, size_t n,
               size_t *n_targets, char *err, size_t cap)
{
    *n_targets = 0;
    const char *why;
    const char *sname = src >= 0 && (size_t)src < r->n_fns ? r->fns[src].id : "cloud";
    if (!ipc_topic_valid(topic, tn, &why)) {
        r->st.bad_topic++;
        snprintf(err, cap, "refused topic: %s", why);
        return RT_BADTOPIC;
    }
    const rt_source *s = src >= 0 && (size_t)src < r->n_fns ? &r->srcs[src] : &r->srcs[r->n_fns];
    uint64_t stamp = ++r->seq;
    int cloud_done = 0, ext_done = 0, matched = 0;
    rt_msg *m = NULL;
    for (size_t i = 0; i < s->n_routes; i++) {
        const rt_route *rt = &s->routes[i];
        if (!ipc_topic_match(rt->subject, rt->subject_len, topic, tn))
            continue;
        matched = 1;
        rt_queue *q;
        if (rt->target >= 0) {
            rt_fn *f = &r->fns[rt->target];
            if (f->stamp == stamp)
                continue;
            f->stamp = stamp;
            q = &f->q;
        } else if (rt->target == RT_CLOUD) {
            if (cloud_done++)
                continue;
            q = &r->cloud;
        } else {
            if (ext_done++)
                continue;
            q = &r->ext;
        }
        if (!m) {
            if (!(m = msg_new(topic, tn, sname, p, n)))
                goto nomem;
            m->refs = 1; /* held while fanning out */
        }
        rt_item *it = item_new(m, rt->subject, rt->subject_len, 0);
        if (!it)
            goto nomem;
        int full = enqueue(r, q, it, rt->target) != 0;
        if (full)
            rt_item_free(it);
        if (rt->target >= 0) {
            if (full) {
                r->fns[rt->target].dropped++;
                r->st.dropped++;
            } else {
                r->fns[rt->target].in++;
            }
        } else if (rt->target == RT_CLOUD) {
            if (full)
                r->st.cloud_dropped++;
            else
                r->st.cloud_queued++;
        } else {
            if (full)
                r->st.ext_dropped++;
            else
                r->st.ext_queued++;
        }
        if (!full) {
            (*n_targets)++;
            r->st.routed++;
        }
    }
    if (m && --m->refs == 0)
        free(m);
    if (src >= 0 && (size_t)src < r->n_fns) {
        if (!matched) {
            r->fns[src].denied++;
            r->st.denied++;
            snprintf(err, cap, "not authorised: no subscription from %s matches topic %.*s",
                     r->fns[src].id, (int)(tn > 200 ? 200 : tn), topic);
            return RT_DENIED;
        }
        r->fns[src].out++;
    } else if (!matched) {
        r->st.no_route++;
    }
    return RT_OK;
nomem:
    if (m && --m->refs == 0)
        free(m);
    snprintf(err, cap, "out of memory");
    return RT_NOMEM;
}

int rt_invoke(rt_router *r, const char *id, size_t idn, const char *source, const void *p,
              size_t n, uint8_t flags, uint64_t reply_conn, uint64_t reply_id, int *fn_out)
{
    int f = rt_fn_find(r, id, idn);
    *fn_out = f;
    if (f < 0)
        return RT_NOFUNC;
    rt_msg *m = msg_new("", 0, source, p, n);
    if (!m)
        return RT_NOMEM;
    rt_item *it = item_new(m, "", 0, (uint8_t)(flags | IPC_F_INVOKE));
    if (!it) {
        free(m);
        return RT_NOMEM;
    }
    it->reply_conn = reply_conn;
    it->reply_id = reply_id;
    if (enqueue(r, &r->fns[f].q, it, f) != 0) {
        rt_item_free(it);
        r->fns[f].dropped++;
        r->st.dropped++;
        return RT_FULL;
    }
    r->fns[f].in++;
    return RT_OK;
}
