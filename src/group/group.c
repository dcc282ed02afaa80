/* grp_load: JSON text -> validated grp_doc. */
#include "grp_internal.h"

#include <stdlib.h>
#include <string.h>

const char *grp_strstatus(grp_status s)
{
    switch (s) {
    case GRP_OK: return "valid";
    case GRP_E_SYNTAX: return "malformed JSON";
    case GRP_E_INVALID: return "invalid group definition";
    case GRP_E_NOMEM: return "out of memory";
    }
    return "unknown status";
}

const char *grp_resource_kind_key(grp_resource_kind k)
{
    switch (k) {
    case GRP_RES_S3_MODEL: return "S3MachineLearningModelResourceData";
    case GRP_RES_SAGEMAKER_MODEL: return "SageMakerMachineLearningModelResourceData";
    case GRP_RES_LOCAL_DEVICE: return "LocalDeviceResourceData";
    case GRP_RES_LOCAL_VOLUME: return "LocalVolumeResourceData";
    case GRP_RES_SECRET: return "SecretsManagerSecretResourceData";
    case GRP_RES_UNKNOWN: break;
    }
    return "?";
}

void grp_doc_free(grp_doc *doc)
{
    if (!doc)
        return;
    grp_arena_free(doc->arena);
    free(doc);
}

static grp_status finish(grp_ctx *c, grp_doc *doc, grp_status st)
{
    doc->diags = c->diags;
    doc->n_diags = c->n_diags;
    doc->n_dropped = c->n_dropped;
    doc->group = st == GRP_OK ? c->g : NULL;
    return st;
}

grp_status grp_load(const char *json, size_t len, const grp_options *opt, grp_doc **out)
{
    static const grp_options k_defaults;
    *out = NULL;
    grp_doc *doc = calloc(1, sizeof *doc);
    grp_arena *a = grp_arena_new();
    grp_ctx *c = calloc(1, sizeof *c);
    if (!doc || !a || !c)
        goto nomem;
    doc->arena = a;
    c->arena = a;
    c->opt = opt ? opt : &k_defaults;
    c->diags = grp_arena_calloc(a, GRP_MAX_DIAGS, sizeof(grp_diag));
    c->g = grp_arena_calloc(a, 1, sizeof(grp_group));
    if (!c->diags || !c->g)
        goto nomem;

    if (len > GRP_MAX_DOC_BYTES) {
        grp_err_at(c, "", "document is %zu bytes, more than the %u allowed", len, GRP_MAX_DOC_BYTES);
        if (c->n_diags)
            c->diags[0].line = c->diags[0].column = 1;
        grp_status st = finish(c, doc, c->nomem ? GRP_E_NOMEM : GRP_E_SYNTAX);
        free(c);
        if (st == GRP_E_NOMEM) {
            grp_doc_free(doc);
            return st;
        }
        *out = doc;
        return st;
    }

    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        grp_err_at(c, "", "invalid JSON: %s", jerr.text);
        if (c->n_diags) {
            c->diags[0].line = jerr.line > 0 ? jerr.line : 1;
            c->diags[0].column = jerr.column > 0 ? jerr.column : 1;
        }
        grp_status st = c->nomem ? GRP_E_NOMEM : GRP_E_SYNTAX;
        finish(c, doc, st);
        free(c);
        if (st == GRP_E_NOMEM) {
            grp_doc_free(doc);
            return st;
        }
        *out = doc;
        return st;
    }
    grp_parse(c, root);
    json_decref(root);
    if (!c->nomem)
        grp_check(c);
    if (c->nomem)
        goto nomem;
    grp_status st = finish(c, doc, c->n_diags || c->n_dropped ? GRP_E_INVALID : GRP_OK);
    free(c);
    *out = doc;
    return st;

nomem:
    free(c);
    if (doc)
        doc->arena = a;
    else
        grp_arena_free(a);
    grp_doc_free(doc);
    return GRP_E_NOMEM;
}
