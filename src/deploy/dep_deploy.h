/* One deployment: fetch every ML resource, unpack into the store, activate
 * them all, record state, collect old versions (src/deploy part 4).
 *
 * The caller has validated the group document (src/group) and passes its ML
 * resources as dep_resource rows, so this part does not depend on src/group.
 *
 * Steps (ROOT is created if missing):
 *   1. flock ROOT/.deploy.lock (LOCK_NB); held: "another deployment is in
 *      progress (pid N)", DEP_EBUSY-like DEP_EIO with nothing touched.
 *   2. state.db: deployments left unfinished by a dead process -> Failure;
 *      a new row Building; dep_store_recover; -> InProgress.
 *   3. fetch all sources into ROOT/downloads/ (a bounded pool of threads),
 *      with the validators of the active record (unchanged: no transfer),
 *      then unpack what changed (an unchanged digest unpacks nothing).
 *   4. only when every resource is ready: activate each (one rename each);
 *      if one activation fails, the ones already switched are switched back.
 *   5. Success; resources no longer in the document are deactivated; GC
 *      keeps `keep` previous versions per resource.
 * Any failure: the deployment is recorded as Failure with one line naming
 * the resource ("R1: s3://b/k: HTTP 403 SignatureDoesNotMatch"), every
 * previously active resource stays as it was, and that line is in e. */
#ifndef EDGEML_DEP_DEPLOY_H
#define EDGEML_DEP_DEPLOY_H

#include <stdint.h>

#include "deploy.h"

typedef struct dep_resource {
    const char *id;            /* resource Id ([a-zA-Z0-9:_-]{1,128}) */
    const char *source;        /* S3Uri / SageMakerJobArn / path / http(s) URL */
    const char *sha256;        /* expected package digest or NULL */
    const char *group_owner;   /* OwnerSetting.GroupOwner or NULL */
    const char *permission;    /* "ro" | "rw" | NULL */
    int code;                  /* a function's code package (EdgemlCode): id is the
                                  FunctionId, the link is ROOT/code/<id> with a public
                                  view, its state row "code/<id>"; owner fields unused */
} dep_resource;

/* Phases reported to the progress callback. */
typedef enum dep_phase {
    DEP_PH_WAIT = 0, DEP_PH_FETCH, DEP_PH_UNPACK, DEP_PH_READY, DEP_PH_UNCHANGED, DEP_PH_FAILED,
} dep_phase;
const char *dep_phase_name(dep_phase p);

typedef struct dep_deploy_opts {
    const char *root;
    const char *group_path;    /* recorded with the deployment */
    const dep_resource *res;
    size_t n_res;
    unsigned keep;             /* previous versions kept per resource (0 allowed) */
    unsigned parallel;         /* fetch threads (0: 4, at most 16) */
    /* The group document's bytes: on success, written to ROOT/group.json
     * (atomically, before the deployment is marked Success) for the core.
     * NULL: left as it is. */
    const char *doc;
    size_t doc_len;
    /* Called (from any thread, serialized) when a resource's phase or byte
     * count changes; total 0 if unknown. May be NULL. */
    void (*progress)(void *ctx, size_t idx, dep_phase ph, uint64_t bytes, uint64_t total,
                     double rate);
    void *ctx;
} dep_deploy_opts;

/* Runs one deployment; its id into *id (0 when none was recorded). The
 * caller has called curl_global_init once. */
dep_status dep_deploy(const dep_deploy_opts *o, int64_t *id, dep_err *e);

#endif
