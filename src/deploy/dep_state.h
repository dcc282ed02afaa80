/* Deployment state in SQLite (ROOT/state.db, WAL) — src/deploy part 3.
 *
 * Tables:
 *   deployments(id, time, group_path, status, error)
 *       status: Building | InProgress | Success | Failure
 *   resources(id, source, etag, sha256, store_path, size, mtime_ns,
 *             activated_at, deployment_id)
 *       one row per resource as it is ACTIVE now (written only after the
 *       activation of a successful deployment): what change detection reuses
 *   deployment_resources(deployment_id, resource_id, source, etag, sha256,
 *                        store_path, size, changed)
 *       what each deployment fetched for each resource
 * Times are seconds since the epoch (UTC). Writers hold the root's
 * deployment lock (dep_deploy.h); readers (edgeml status) need none.
 * Every function returns a dep_status and fills the dep_err on failure. */
#ifndef EDGEML_DEP_STATE_H
#define EDGEML_DEP_STATE_H

#include <stdint.h>
#include <stdio.h>

#include "deploy.h"

typedef struct dep_state dep_state;

#define DEP_ST_BUILDING "Building"
#define DEP_ST_INPROGRESS "InProgress"
#define DEP_ST_SUCCESS "Success"
#define DEP_ST_FAILURE "Failure"

typedef struct dep_res_rec {
    char id[136];
    char source[1100];
    char etag[256];
    char sha256[DEP_SHA_HEX];
    char store_path[512];     /* the view the resource points at ("<sha>.<key>") */
    uint64_t size;            /* bytes of the package */
    int64_t mtime_ns;         /* file sources: mtime of the source */
    int64_t activated_at;     /* epoch seconds; 0 if never */
} dep_res_rec;

/* Opens (create != 0: creates) ROOT/state.db. Without create, a missing
 * database gives DEP_ENOENT. */
dep_status dep_state_open(const char *root, int create, dep_state **out, dep_err *e);
void dep_state_close(dep_state *s);

/* Marks deployments left Building/InProgress by a process that died as
 * Failure ("interrupted"). Call under the lock only. */
dep_status dep_state_mark_interrupted(dep_state *s, dep_err *e);
/* New deployment row (status Building); its id into *id. */
dep_status dep_state_begin(dep_state *s, const char *group_path, int64_t *id, dep_err *e);
dep_status dep_state_set_status(dep_state *s, int64_t id, const char *status, const char *error,
                                dep_err *e);
/* The active record of resource rid: *found 0 when none. */
dep_status dep_state_get_resource(dep_state *s, const char *rid, dep_res_rec *r, int *found,
                                  dep_err *e);
/* What deployment `id` fetched for r (changed: 0 when the source was unchanged). */
dep_status dep_state_add_dep_resource(dep_state *s, int64_t id, const dep_res_rec *r, int changed,
                                      dep_err *e);
/* After activation: r becomes the active record of r->id. */
dep_status dep_state_put_resource(dep_state *s, int64_t id, const dep_res_rec *r, dep_err *e);
dep_status dep_state_del_resource(dep_state *s, const char *rid, dep_err *e);
/* Ids of all active resource records; *ids is malloc'd (free each and the array). */
dep_status dep_state_list_resources(dep_state *s, char ***ids, size_t *n, dep_err *e);

/* Writes the deployments (newest first, at most `limit`, 0: all) and the
 * resources, as text or as one JSON object. */
dep_status dep_state_report(dep_state *s, FILE *f, int json, unsigned limit, dep_err *e);

#endif
