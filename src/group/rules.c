/* Rules that span entities: unique Ids/Names, policy references and the
 * NoContainer/container permission matrix, nested NoContainer destinations,
 * subscription endpoints. Sorting keeps each check O(n log n) so that a
 * hostile document with thousands of entries stays fast. */
#include "grp_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct grp_key {
    const char *s;
    size_t i;
} grp_key;

static int cmp_key(const void *a, const void *b)
{
    const grp_key *x = a, *y = b;
    int r = strcmp(x->s, y->s);
    return r ? r : (x->i > y->i) - (x->i < y->i);
}

/* Sorted (string, index) pairs of n entries of `stride` bytes whose string
 * field is at `off`; entries with a NULL string are left out. */
static grp_key *sorted_keys(grp_ctx *c, const void *base, size_t n, size_t stride, size_t off,
                            size_t *out_n)
{
    *out_n = 0;
    if (n == 0)
        return NULL;
    grp_key *k = grp_arena_calloc(c->arena, n, sizeof *k);
    if (!k) {
        c->nomem = true;
        return NULL;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = *(const char *const *)((const char *)base + i * stride + off);
        if (s)
            k[m++] = (grp_key){s, i};
    }
    qsort(k, m, sizeof *k, cmp_key);
    *out_n = m;
    return k;
}

static void unique(grp_ctx *c, const void *base, size_t n, size_t stride, size_t off,
                   const char *list_path, const char *field)
{
    size_t m;
    grp_key *k = sorted_keys(c, base, n, stride, off, &m);
    for (size_t i = 1; i < m; i++) {
        if (strcmp(k[i].s, k[i - 1].s) != 0)
            continue;
        size_t first = i - 1;
        while (first > 0 && strcmp(k[first - 1].s, k[i].s) == 0)
            first--;
        char path[1200];
        snprintf(path, sizeof path, "%s[%zu].%s", list_path, k[i].i, field);
        grp_err_at(c, path, "duplicate %s %s (first at %s[%zu])", field, grp_q(k[i].s), list_path,
                   k[first].i);
    }
}

static const grp_key *find_key(const grp_key *k, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(k[mid].s, s);
        if (r == 0) {
            while (mid > 0 && strcmp(k[mid - 1].s, s) == 0)
                mid--;
            return &k[mid];
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool is_ml(const grp_resource *r)
{
    return r->kind == GRP_RES_S3_MODEL || r->kind == GRP_RES_SAGEMAKER_MODEL;
}

static bool under_proc(const char *p)
{
    return strncmp(p, "/proc", 5) == 0 && (p[5] == 0 || p[5] == '/');
}

/* One access policy against the permission matrix. */
static void check_policy(grp_ctx *c, const grp_function *f, grp_access_policy *p,
                         const char *ppath, const grp_key *rk, size_t nrk, bool *used)
{
    char path[1400];
    if (!p->resource_id)
        return;
    const grp_key *k = find_key(rk, nrk, p->resource_id);
    if (!k) {
        snprintf(path, sizeof path, "%s.ResourceId", ppath);
        grp_err_at(c, path, "%s is not the Id of a resource of this group", grp_q(p->resource_id));
        return;
    }
    const grp_resource *r = &c->g->resources[k->i];
    p->resource = r;
    bool noc = f->isolation == GRP_ISO_NOCONTAINER;
    if (noc)
        used[k->i] = true;
    snprintf(path, sizeof path, "%s.Permission", ppath);
    if (is_ml(r)) {
        if (noc) {
            if (p->permission)
                grp_err_at(c, path, "must not be set for a NoContainer function (its access "
                                    "follows the resource's OwnerSetting)");
            if (!r->owner.present) {
                snprintf(path, sizeof path, "%s.ResourceId", ppath);
                grp_err_at(c, path, "a NoContainer function needs ML resource %s to have an "
                                    "OwnerSetting", grp_q(r->id));
            }
        } else if (!p->permission) {
            grp_err_at(c, path, "is required (ro or rw) for a GreengrassContainer function");
        } else if (r->owner.present && r->owner.group_permission == GRP_PERM_RO &&
                   p->permission == GRP_PERM_RW) {
            grp_err_at(c, path, "'rw' widens the GroupPermission 'ro' of resource %s; a container "
                                "function may only narrow rw to ro", grp_q(r->id));
        }
        return;
    }
    if (r->kind == GRP_RES_LOCAL_DEVICE || r->kind == GRP_RES_LOCAL_VOLUME) {
        if (!noc && !p->permission)
            grp_err_at(c, path, "is required (ro or rw) for a GreengrassContainer function");
        if (r->kind == GRP_RES_LOCAL_VOLUME && r->source && under_proc(r->source) &&
            p->permission == GRP_PERM_RW)
            grp_err_at(c, path, "'rw' on volume resource %s: /proc may only be mounted ro",
                       grp_q(r->id));
    }
}

static void check_policies(grp_ctx *c, bool *used)
{
    grp_group *g = c->g;
    size_t nrk;
    grp_key *rk = sorted_keys(c, g->resources, g->n_resources, sizeof(grp_resource),
                              offsetof(grp_resource, id), &nrk);
    for (size_t i = 0; i < g->n_functions && !c->nomem; i++) {
        grp_function *f = &g->functions[i];
        for (size_t j = 0; j < f->n_policies; j++) {
            char ppath[1200];
            snprintf(ppath, sizeof ppath,
                     "%s[%zu].FunctionConfiguration.Environment.ResourceAccessPolicies[%zu]",
                     c->p_functions, i, j);
            grp_access_policy *p = &f->policies[j];
            check_policy(c, f, p, ppath, rk, nrk, used);
            /* one policy per resource: quadratic only within the (bounded) list */
            for (size_t k = 0; k < j && f->n_policies <= 4 * GRP_MAX_POLICIES; k++) {
                if (p->resource_id && f->policies[k].resource_id &&
                    strcmp(p->resource_id, f->policies[k].resource_id) == 0) {
                    char path[1400];
                    snprintf(path, sizeof path, "%s.ResourceId", ppath);
                    grp_err_at(c, path, "resource %s already has a policy at "
                               "ResourceAccessPolicies[%zu]", grp_q(p->resource_id), k);
                    break;
                }
            }
        }
    }
}

/* Path order where '/' sorts first, so that everything under "P/" directly
 * follows "P". */
static int cmp_dest(const void *a, const void *b)
{
    const unsigned char *x = (const unsigned char *)((const grp_key *)a)->s;
    const unsigned char *y = (const unsigned char *)((const grp_key *)b)->s;
    for (;; x++, y++) {
        unsigned cx = *x == '/' ? 1 : *x == 0 ? 0 : *x + 1u;
        unsigned cy = *y == '/' ? 1 : *y == 0 ? 0 : *y + 1u;
        if (cx != cy || !cx)
            return cx != cy ? (cx < cy ? -1 : 1)
                            : (((const grp_key *)a)->i > ((const grp_key *)b)->i) -
                                  (((const grp_key *)a)->i < ((const grp_key *)b)->i);
    }
}

static bool nested_in(const char *child, const char *parent)
{
    size_t n = strlen(parent);
    if (n == 1) /* "/" holds everything */
        return true;
    return strncmp(child, parent, n) == 0 && (child[n] == 0 || child[n] == '/');
}

/* Resources that NoContainer functions use are linked at their destination
 * on the host: two of them may not be equal or nested. */
static void check_nested(grp_ctx *c, const bool *used)
{
    grp_group *g = c->g;
    size_t m = 0;
    grp_key *k = g->n_resources ? grp_arena_calloc(c->arena, g->n_resources, sizeof *k) : NULL;
    grp_key *stack = g->n_resources ? grp_arena_calloc(c->arena, g->n_resources, sizeof *k) : NULL;
    if (g->n_resources && (!k || !stack)) {
        c->nomem = true;
        return;
    }
    for (size_t i = 0; i < g->n_resources; i++)
        if (used[i] && g->resources[i].destination)
            k[m++] = (grp_key){g->resources[i].destination, i};
    if (m > 1)
        qsort(k, m, sizeof *k, cmp_dest);
    size_t top = 0;
    for (size_t i = 0; i < m; i++) {
        while (top > 0 && !nested_in(k[i].s, stack[top - 1].s))
            top--;
        if (top > 0) {
            const grp_resource *r = &g->resources[k[i].i], *o = &g->resources[stack[top - 1].i];
            char path[1400];
            snprintf(path, sizeof path, "%s[%zu].ResourceDataContainer.%s.DestinationPath",
                     c->p_resources, k[i].i, grp_resource_kind_key(r->kind));
            grp_err_at(c, path, "%s %s the DestinationPath %s of resource %s; resources used by "
                       "NoContainer functions may not share nested destination paths",
                       grp_q(k[i].s), strcmp(k[i].s, stack[top - 1].s) == 0 ? "equals" : "is inside",
                       grp_q(stack[top - 1].s), grp_q(o->id));
        }
        stack[top++] = k[i];
    }
}

static void check_endpoint(grp_ctx *c, size_t i, const char *field, const char *v,
                           const grp_key *fk, size_t nfk, const grp_key *ik, size_t nik)
{
    if (!v || strcmp(v, "cloud") == 0 || strcmp(v, "GGShadowService") == 0)
        return;
    char path[1200];
    snprintf(path, sizeof path, "%s[%zu].%s", c->p_subscriptions, i, field);
    if (strncmp(v, "arn:", 4) != 0) {
        if (!find_key(ik, nik, v))
            grp_err_at(c, path, "%s must be \"cloud\", \"GGShadowService\", the FunctionArn or "
                                "Id of a function of this group or a device ARN", grp_q(v));
        return;
    }
    if (strstr(v, ":lambda:") && !find_key(fk, nfk, v))
        grp_err_at(c, path, "function %s is not in this group's Functions", grp_q(v));
}

void grp_check(grp_ctx *c)
{
    grp_group *g = c->g;
    unique(c, g->cores, g->n_cores, sizeof(grp_core), offsetof(grp_core, id), c->p_cores, "Id");
    unique(c, g->resources, g->n_resources, sizeof(grp_resource), offsetof(grp_resource, id),
           c->p_resources, "Id");
    unique(c, g->resources, g->n_resources, sizeof(grp_resource), offsetof(grp_resource, name),
           c->p_resources, "Name");
    unique(c, g->functions, g->n_functions, sizeof(grp_function), offsetof(grp_function, id),
           c->p_functions, "Id");
    unique(c, g->functions, g->n_functions, sizeof(grp_function), offsetof(grp_function, arn),
           c->p_functions, "FunctionArn");
    unique(c, g->subscriptions, g->n_subscriptions, sizeof(grp_subscription),
           offsetof(grp_subscription, id), c->p_subscriptions, "Id");
    unique(c, g->loggers, g->n_loggers, sizeof(grp_logger), offsetof(grp_logger, id),
           c->p_loggers, "Id");
    if (c->nomem)
        return;

    bool *used = g->n_resources ? grp_arena_calloc(c->arena, g->n_resources, sizeof(bool)) : NULL;
    if (g->n_resources && !used) {
        c->nomem = true;
        return;
    }
    check_policies(c, used);
    if (!c->nomem)
        check_nested(c, used);

    size_t nfk;
    grp_key *fk = sorted_keys(c, g->functions, g->n_functions, sizeof(grp_function),
                              offsetof(grp_function, arn), &nfk);
    size_t nik;
    grp_key *ik = sorted_keys(c, g->functions, g->n_functions, sizeof(grp_function),
                              offsetof(grp_function, id), &nik);
    for (size_t i = 0; i < g->n_subscriptions && !c->nomem; i++) {
        check_endpoint(c, i, "Source", g->subscriptions[i].source, fk, nfk, ik, nik);
        check_endpoint(c, i, "Target", g->subscriptions[i].target, fk, nfk, ik, nik);
    }
}
