/* grp_load API on the full v1 export: the structs that run/ and deploy/ will
 * consume (effective isolation and RunAs, resolved policies, kinds). */
#include "group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                         \
        }                                                                       \
    } while (0)

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = malloc(1 << 20);
    *len = b ? fread(b, 1, 1 << 20, f) : 0;
    fclose(f);
    return b;
}

static const grp_function *fn(const grp_group *g, const char *id)
{
    for (size_t i = 0; i < g->n_functions; i++)
        if (strcmp(g->functions[i].id, id) == 0)
            return &g->functions[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_group_api full_v1_export.json\n");
        return 2;
    }
    size_t len;
    char *buf = slurp(argv[1], &len);
    if (!buf) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    grp_doc *doc = NULL;
    grp_status st = grp_load(buf, len, NULL, &doc);
    CHECK(st == GRP_OK);
    if (st != GRP_OK) {
        for (size_t i = 0; doc && i < doc->n_diags; i++)
            fprintf(stderr, "  %s: %s\n", doc->diags[i].path, doc->diags[i].msg);
        grp_doc_free(doc);
        free(buf);
        return 1;
    }
    const grp_group *g = doc->group;
    CHECK(g->n_cores == 1 && strcmp(g->cores[0].id, "3a8f2b1c-core") == 0 && g->cores[0].sync_shadow);
    CHECK(g->n_functions == 4 && g->n_resources == 7 && g->n_subscriptions == 5 && g->n_loggers == 4);
    CHECK(g->default_isolation == GRP_ISO_CONTAINER);

    const grp_function *ic = fn(g, "image-classification-fn");
    CHECK(ic && ic->isolation == GRP_ISO_CONTAINER && ic->pinned && ic->has_memory_size &&
          ic->memory_size_kb == 196608 && ic->timeout_s == 25 && ic->n_policies == 4);
    CHECK(ic && ic->code_uri && strcmp(ic->code_uri, "s3://edgeml-functions/image-classification-3.tar.gz") == 0);
    CHECK(ic && ic->policies[0].resource == &g->resources[0] && ic->policies[0].permission == GRP_PERM_RO);
    CHECK(ic && ic->n_vars == 2);

    const grp_function *xg = fn(g, "xgboost-fn");
    CHECK(xg && xg->isolation == GRP_ISO_NOCONTAINER && !xg->has_memory_size &&
          xg->encoding == GRP_ENC_BINARY && xg->run_as.uid == 998);
    CHECK(xg && xg->policies[0].permission == GRP_PERM_UNSET &&
          xg->policies[0].resource->kind == GRP_RES_SAGEMAKER_MODEL);

    /* RunAs comes from DefaultConfig when the function sets none */
    const grp_function *sn = fn(g, "sensor-fn");
    CHECK(sn && sn->isolation == GRP_ISO_CONTAINER && sn->run_as.has_uid && sn->run_as.uid == 1000 &&
          sn->access_sysfs);

    const grp_resource *r = &g->resources[0];
    CHECK(r->kind == GRP_RES_S3_MODEL && strcmp(r->destination, "/greengrass-machine-learning/mxnet/squeezenet") == 0);
    CHECK(r->owner.present && strcmp(r->owner.group_owner, "ggc_group") == 0 &&
          r->owner.group_permission == GRP_PERM_RW);
    CHECK(g->resources[2].kind == GRP_RES_LOCAL_DEVICE && g->resources[2].group_owner.auto_add_group_owner);
    CHECK(g->resources[6].kind == GRP_RES_SECRET && g->resources[6].n_staging_labels == 1 &&
          strcmp(g->resources[6].staging_labels[0], "AWSPREVIOUS") == 0);
    grp_doc_free(doc);

    /* a broken document: no group, diags with paths; a syntax error: line/column */
    const char *bad = "{\"Core\":{\"Cores\":[]},\"Resources\":{\"Resources\":[{\"Id\":\"a b\"}]}}";
    st = grp_load(bad, strlen(bad), NULL, &doc);
    CHECK(st == GRP_E_INVALID && doc && !doc->group && doc->n_diags == 4);
    if (doc && doc->n_diags >= 1)
        CHECK(strcmp(doc->diags[0].path, "Core.Cores") == 0 && doc->diags[0].line == 0);
    grp_doc_free(doc);
    st = grp_load("{\n [", 4, NULL, &doc);
    CHECK(st == GRP_E_SYNTAX && doc && doc->n_diags == 1 && doc->diags[0].line == 2);
    grp_doc_free(doc);

    free(buf);
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    return failures ? 1 : 0;
}
