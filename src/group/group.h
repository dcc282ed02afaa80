/* Group definitions: a Greengrass v1 group document (top-level Core,
 * Functions, Resources, Subscriptions, Loggers, each the `Definition` object of
 * the v1 get-*-definition-version output) parsed into C structs and checked
 * against every rule in src/group/README.md.
 *
 * Contract: grp_load() never touches the file system; everything it returns
 * (structs, strings, violations) is owned by one grp_doc and released by one
 * grp_doc_free(). A grp_doc is immutable after grp_load() and may be read from
 * several threads. */
#ifndef EDGEML_GROUP_H
#define EDGEML_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRP_MAX_DOC_BYTES (16u << 20)  /* a larger document is refused */
#define GRP_MAX_ID_LEN 128             /* Id and Name: [a-zA-Z0-9:_-]{1,128} */
#define GRP_MAX_RESOURCES 50           /* per group (v1 quota) */
#define GRP_MAX_POLICIES 10            /* ResourceAccessPolicies per function */
#define GRP_MAX_DIAGS 1000             /* violations kept; the rest are counted */

typedef enum grp_status {
    GRP_OK = 0,       /* parsed and valid: doc->group is set */
    GRP_E_SYNTAX,     /* not JSON (or too large): one diag with line/column */
    GRP_E_INVALID,    /* JSON but breaks rules: doc->diags lists them all */
    GRP_E_NOMEM,      /* out of memory: *out is NULL */
} grp_status;

const char *grp_strstatus(grp_status s);

typedef enum grp_perm { GRP_PERM_UNSET = 0, GRP_PERM_RO, GRP_PERM_RW } grp_perm;
typedef enum grp_isolation {
    GRP_ISO_UNSET = 0,     /* only in DefaultConfig / as written */
    GRP_ISO_CONTAINER,     /* "GreengrassContainer" (the v1 default) */
    GRP_ISO_NOCONTAINER,   /* "NoContainer" */
} grp_isolation;

typedef struct grp_core {
    const char *id, *thing_arn, *certificate_arn;
    bool sync_shadow;
} grp_core;

typedef enum grp_resource_kind {
    GRP_RES_UNKNOWN = 0,
    GRP_RES_S3_MODEL,         /* S3MachineLearningModelResourceData */
    GRP_RES_SAGEMAKER_MODEL,  /* SageMakerMachineLearningModelResourceData */
    GRP_RES_LOCAL_DEVICE,     /* LocalDeviceResourceData */
    GRP_RES_LOCAL_VOLUME,     /* LocalVolumeResourceData */
    GRP_RES_SECRET,           /* SecretsManagerSecretResourceData */
} grp_resource_kind;

/* The v1 key of a kind ("S3MachineLearningModelResourceData", ...). */
const char *grp_resource_kind_key(grp_resource_kind k);

typedef struct grp_owner_setting {   /* ML resources: OwnerSetting */
    bool present;
    const char *group_owner;         /* a group name or a decimal GID */
    grp_perm group_permission;
} grp_owner_setting;

typedef struct grp_group_owner_setting {  /* device/volume: GroupOwnerSetting */
    bool present, auto_add_group_owner;
    const char *group_owner;              /* NULL when absent */
} grp_group_owner_setting;

typedef struct grp_resource {
    const char *id, *name;
    grp_resource_kind kind;
    /* S3Uri (s3://, https://, http://, file:// or an absolute path),
     * SageMakerJobArn, SourcePath (device/volume) or ARN (secret). */
    const char *source;
    const char *destination;        /* DestinationPath (ML, volume); else NULL */
    const char *sha256;             /* EdgemlSha256 (ML, optional), lowercase hex */
    grp_owner_setting owner;        /* ML */
    grp_group_owner_setting group_owner; /* device, volume */
    const char **staging_labels;    /* secret: AdditionalStagingLabelsToDownload */
    size_t n_staging_labels;
} grp_resource;

typedef struct grp_run_as {
    bool has_uid, has_gid;
    int64_t uid, gid;
} grp_run_as;

typedef struct grp_access_policy {
    const char *resource_id;
    grp_perm permission;            /* GRP_PERM_UNSET when absent */
    const grp_resource *resource;   /* resolved; never NULL in a valid doc */
} grp_access_policy;

typedef struct grp_var { const char *name, *value; } grp_var;

typedef enum grp_encoding { GRP_ENC_JSON = 0, GRP_ENC_BINARY } grp_encoding;

typedef struct grp_function {
    const char *id, *arn;
    const char *executable, *exec_args;   /* NULL when absent */
    grp_encoding encoding;
    bool pinned, access_sysfs;
    bool has_memory_size, has_timeout;
    int64_t memory_size_kb, timeout_s;
    grp_isolation isolation;              /* effective (function, DefaultConfig, default) */
    grp_run_as run_as;                    /* effective, field by field */
    grp_access_policy *policies;
    size_t n_policies;
    grp_var *vars;
    size_t n_vars;
    const char *code_uri, *code_sha256;   /* EdgemlCode {Uri, Sha256}; NULL when absent */
} grp_function;

typedef struct grp_subscription { const char *id, *source, *subject, *target; } grp_subscription;

typedef struct grp_logger {
    const char *id;
    const char *component;   /* "GreengrassSystem" | "Lambda" */
    const char *level;       /* "DEBUG" | "INFO" | "WARN" | "ERROR" | "FATAL" */
    const char *type;        /* "FileSystem" | "AWSCloudWatch" */
    bool has_space;
    int64_t space_kb;
} grp_logger;

typedef struct grp_group {
    grp_core *cores;                 /* exactly one in a valid doc */
    size_t n_cores;
    grp_isolation default_isolation; /* DefaultConfig.Execution.IsolationMode */
    grp_run_as default_run_as;
    grp_function *functions;
    size_t n_functions;
    grp_resource *resources;
    size_t n_resources;
    grp_subscription *subscriptions;
    size_t n_subscriptions;
    grp_logger *loggers;
    size_t n_loggers;
} grp_group;

typedef struct grp_diag {
    const char *path;   /* JSON path, e.g. "Resources.Resources[2].Id"; "" for the document */
    const char *msg;    /* one line, user bytes escaped */
    int line, column;   /* > 0 only for GRP_E_SYNTAX */
} grp_diag;

typedef struct grp_options {
    /* RunAs Uid/Gid 0 is refused unless the core allows it (v1's config.json
     * runtime.allowFunctionsToRunAsRoot). */
    bool allow_run_as_root;
} grp_options;

typedef struct grp_arena grp_arena;

typedef struct grp_doc {
    const grp_group *group;    /* NULL unless the status was GRP_OK */
    const grp_diag *diags;     /* in the order found */
    size_t n_diags;
    size_t n_dropped;          /* violations past GRP_MAX_DIAGS, counted only */
    grp_arena *arena;          /* private */
} grp_doc;

/* Parses and validates len bytes of JSON (no NUL needed). opt may be NULL.
 * On every status but GRP_E_NOMEM, *out is a doc to free with grp_doc_free. */
__attribute__((warn_unused_result)) grp_status grp_load(const char *json, size_t len,
                                                        const grp_options *opt, grp_doc **out);
void grp_doc_free(grp_doc *doc);

#endif
