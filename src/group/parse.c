/* JSON -> grp_group: types, required fields and the rules that need only
 * one entity (names, paths, URIs, modes). Cross-entity rules: rules.c.
 * Every array element gets a slot (zeroed when it is not an object), so a
 * struct index is its JSON index. Unknown keys are ignored (v1 exports). */
#include "grp_internal.h"

#include <string.h>

/* ---- typed getters: absent -> NULL/false; wrong type -> violation ---- */

static json_t *member(grp_ctx *c, json_t *obj, const char *key, bool required)
{
    json_t *v = json_object_get(obj, key);
    if ((!v || json_is_null(v)) && required)
        grp_err(c, key, "is required");
    return json_is_null(v) ? NULL : v;
}

static const char *get_str(grp_ctx *c, json_t *obj, const char *key, bool required)
{
    json_t *v = member(c, obj, key, required);
    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        grp_err(c, key, "must be a string");
        return NULL;
    }
    const char *s = grp_arena_strndup(c->arena, json_string_value(v), json_string_length(v));
    if (!s)
        c->nomem = true;
    return s;
}

static json_t *get_obj(grp_ctx *c, json_t *obj, const char *key, bool required)
{
    json_t *v = member(c, obj, key, required);
    if (v && !json_is_object(v)) {
        grp_err(c, key, "must be an object");
        return NULL;
    }
    return v;
}

static json_t *get_arr(grp_ctx *c, json_t *obj, const char *key, bool required)
{
    json_t *v = member(c, obj, key, required);
    if (v && !json_is_array(v)) {
        grp_err(c, key, "must be an array");
        return NULL;
    }
    return v;
}

static bool get_bool(grp_ctx *c, json_t *obj, const char *key, bool required, bool *out)
{
    json_t *v = member(c, obj, key, required);
    if (!v)
        return false;
    if (!json_is_boolean(v)) {
        grp_err(c, key, "must be true or false");
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static bool get_int(grp_ctx *c, json_t *obj, const char *key, bool required, int64_t min,
                    int64_t max, int64_t *out)
{
    json_t *v = member(c, obj, key, required);
    if (!v)
        return false;
    if (!json_is_integer(v)) {
        grp_err(c, key, "must be an integer");
        return false;
    }
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        grp_err(c, key, "%lld is out of range [%lld, %lld]", (long long)x, (long long)min,
                (long long)max);
        return false;
    }
    *out = (int64_t)x;
    return true;
}

/* One of names[] (exact v1 spelling); returns its index + 1, 0 when absent or bad. */
static int get_enum(grp_ctx *c, json_t *obj, const char *key, bool required,
                    const char *const *names, size_t n)
{
    const char *s = get_str(c, obj, key, required);
    if (!s)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i + 1;
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    grp_err(c, key, "%s is not one of %s", grp_q(s), list);
    return 0;
}

static const char *get_id(grp_ctx *c, json_t *obj, const char *key)
{
    const char *s = get_str(c, obj, key, true);
    if (s && !grp_valid_id(s)) {
        grp_err(c, key, "%s must be 1 to %d characters of [a-zA-Z0-9:_-]", grp_q(s),
                GRP_MAX_ID_LEN);
        return s; /* kept for the uniqueness check */
    }
    return s;
}

/* Accepts the whole get-*-definition-version output too: descends into its
 * "Definition" when the list key is not there. */
static json_t *unwrap(grp_ctx *c, json_t *obj, const char *list_key)
{
    json_t *def = json_object_get(obj, "Definition");
    if (!json_object_get(obj, list_key) && json_is_object(def)) {
        grp_push_key(c, "Definition");
        return def;
    }
    return obj;
}

static const char *save_path(grp_ctx *c)
{
    const char *p = grp_arena_strndup(c->arena, c->path, c->path_len);
    if (!p)
        c->nomem = true;
    return p ? p : "";
}

/* Allocates one zeroed slot per element; NULL (and n = 0) when empty. */
static void *slots(grp_ctx *c, json_t *arr, size_t size, size_t *n)
{
    *n = arr ? json_array_size(arr) : 0;
    if (*n == 0)
        return NULL;
    void *p = grp_arena_calloc(c->arena, *n, size);
    if (!p) {
        c->nomem = true;
        *n = 0;
    }
    return p;
}

/* ---- paths ---- */

/* NULL when s is a normalised absolute path, else why not. */
static const char *abs_path_problem(const char *s)
{
    if (s[0] != '/')
        return "must be an absolute path";
    if (strlen(s) > 4095)
        return "is longer than 4095 bytes";
    for (const char *p = s; *p;) {
        const char *e = strchr(p + 1, '/');
        size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);
        const char *comp = p + 1;
        if ((n == 0 && (e || p != s)) || (n == 1 && comp[0] == '.') ||
            (n == 2 && comp[0] == '.' && comp[1] == '.'))
            return "must be a normalised absolute path (no '.', '..' or empty components)";
        if (!e)
            break;
        p = e;
    }
    return NULL;
}

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static const char *get_abs_path(grp_ctx *c, json_t *obj, const char *key)
{
    const char *s = get_str(c, obj, key, true);
    const char *why = s ? abs_path_problem(s) : NULL;
    if (why) {
        grp_err(c, key, "%s %s", grp_q(s), why);
        return NULL;
    }
    return s;
}

/* ---- Core ---- */


/* ---- Functions ---- */

static const char *const k_isolation[] = {"GreengrassContainer", "NoContainer"};
static const char *const k_perm[] = {"ro", "rw"};

/* Execution {IsolationMode, RunAs{Uid, Gid}} at the current path. */
static void parse_execution(grp_ctx *c, json_t *parent, grp_isolation *iso, grp_run_as *ra,
                            bool *mode_bad)
{
    json_t *ex = get_obj(c, parent, "Execution", false);
    if (!ex)
        return;
    size_t m0 = grp_push_key(c, "Execution");
    *iso = (grp_isolation)get_enum(c, ex, "IsolationMode", false, k_isolation, 2);
    json_t *mode = json_object_get(ex, "IsolationMode");
    if (!*iso && mode && !json_is_null(mode))
        *mode_bad = true;
    json_t *run_as = get_obj(c, ex, "RunAs", false);
    if (run_as) {
        size_t m1 = grp_push_key(c, "RunAs");
        ra->has_uid = get_int(c, run_as, "Uid", false, 0, 4294967294LL, &ra->uid);
        ra->has_gid = get_int(c, run_as, "Gid", false, 0, 4294967294LL, &ra->gid);
        if (!c->opt->allow_run_as_root) {
            if (ra->has_uid && ra->uid == 0)
                grp_err(c, "Uid", "0 runs the function as root, which the core does not allow "
                                  "(allowFunctionsToRunAsRoot; edgeml validate --allow-run-as-root)");
            if (ra->has_gid && ra->gid == 0)
                grp_err(c, "Gid", "0 runs the function in the root group, which the core does not "
                                  "allow (allowFunctionsToRunAsRoot; edgeml validate --allow-run-as-root)");
        }
        grp_pop(c, m1);
    }
    grp_pop(c, m0);
}

static bool is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

static const char *get_sha256(grp_ctx *c, json_t *obj, const char *key, bool required)
{
    const char *s = get_str(c, obj, key, required);
    if (s && !is_hex64(s)) {
        grp_err(c, key, "%s must be 64 lowercase hexadecimal digits", grp_q(s));
        return NULL;
    }
    return s;
}

static void parse_environment(grp_ctx *c, json_t *fc, grp_function *f, grp_isolation *iso,
                              bool *mode_bad)
{
    json_t *env = get_obj(c, fc, "Environment", false);
    if (!env)
        return;
    size_t m0 = grp_push_key(c, "Environment");
    get_bool(c, env, "AccessSysfs", false, &f->access_sysfs);
    parse_execution(c, env, iso, &f->run_as, mode_bad);

    json_t *pol = get_arr(c, env, "ResourceAccessPolicies", false);
    f->policies = slots(c, pol, sizeof(grp_access_policy), &f->n_policies);
    size_t m1 = grp_push_key(c, "ResourceAccessPolicies");
    if (f->n_policies > GRP_MAX_POLICIES)
        grp_err(c, NULL, "has %zu access policies; at most %d are allowed per function",
                f->n_policies, GRP_MAX_POLICIES);
    for (size_t i = 0; i < f->n_policies; i++) {
        size_t m2 = grp_push_index(c, i);
        json_t *e = json_array_get(pol, i);
        if (!json_is_object(e)) {
            grp_err(c, NULL, "must be an object");
        } else {
            f->policies[i].resource_id = get_str(c, e, "ResourceId", true);
            f->policies[i].permission = (grp_perm)get_enum(c, e, "Permission", false, k_perm, 2);
        }
        grp_pop(c, m2);
    }
    grp_pop(c, m1);

    json_t *vars = get_obj(c, env, "Variables", false);
    if (vars) {
        size_t m2 = grp_push_key(c, "Variables");
        size_t n = json_object_size(vars), i = 0;
        f->vars = n ? grp_arena_calloc(c->arena, n, sizeof(grp_var)) : NULL;
        if (n && !f->vars)
            c->nomem = true;
        const char *k;
        json_t *v;
        json_object_foreach(vars, k, v) {
            if (!f->vars || i >= n)
                break;
            const char *val = get_str(c, vars, k, true);
            if (val) {
                f->vars[i].name = grp_arena_strndup(c->arena, k, strlen(k));
                f->vars[i].value = val;
                i++;
            }
        }
        f->n_vars = i;
        grp_pop(c, m2);
    }
    grp_pop(c, m0);
}

static void parse_function(grp_ctx *c, json_t *e, grp_function *f)
{
    static const char *const k_enc[] = {"json", "binary"};
    f->id = get_id(c, e, "Id");
    f->arn = get_str(c, e, "FunctionArn", true);
    if (f->arn && !f->arn[0])
        grp_err(c, "FunctionArn", "must not be empty");
    json_t *fc = get_obj(c, e, "FunctionConfiguration", true);
    f->isolation = c->g->default_isolation ? c->g->default_isolation : GRP_ISO_CONTAINER;
    f->run_as = c->g->default_run_as;
    if (!fc)
        return;
    size_t m0 = grp_push_key(c, "FunctionConfiguration");
    int enc = get_enum(c, fc, "EncodingType", false, k_enc, 2);
    f->encoding = enc == 2 ? GRP_ENC_BINARY : GRP_ENC_JSON;
    f->executable = get_str(c, fc, "Executable", false);
    f->exec_args = get_str(c, fc, "ExecArgs", false);
    get_bool(c, fc, "Pinned", false, &f->pinned);
    f->has_timeout = get_int(c, fc, "Timeout", false, 1, 2147483647, &f->timeout_s);

    grp_isolation iso = GRP_ISO_UNSET;
    f->run_as = (grp_run_as){0};
    bool mode_bad = c->default_mode_bad;
    parse_environment(c, fc, f, &iso, &mode_bad);
    grp_run_as own = f->run_as; /* only the fields the function sets */
    f->run_as = c->g->default_run_as;
    if (own.has_uid) {
        f->run_as.has_uid = true;
        f->run_as.uid = own.uid;
    }
    if (own.has_gid) {
        f->run_as.has_gid = true;
        f->run_as.gid = own.gid;
    }
    if (iso)
        f->isolation = iso;

    if (iso)
        mode_bad = false; /* the function's own valid mode wins over a bad default */
    /* with an unknown mode the MemorySize rule cannot tell which side applies */
    bool mem_bad = mode_bad;
    json_t *mem = json_object_get(fc, "MemorySize");
    if (mode_bad) {
        /* already reported at IsolationMode */
    } else if (f->isolation == GRP_ISO_NOCONTAINER) {
        if (mem && !json_is_null(mem)) {
            grp_err(c, "MemorySize", "must not be set for a NoContainer function");
            mem_bad = true;
        }
    } else if (!mem || json_is_null(mem)) {
        grp_err(c, "MemorySize", "is required for a GreengrassContainer function");
        mem_bad = true;
    }
    if (!mem_bad)
        f->has_memory_size = get_int(c, fc, "MemorySize", false, 1, 2147483647, &f->memory_size_kb);

    json_t *code = get_obj(c, fc, "EdgemlCode", false);
    if (code) {
        size_t m1 = grp_push_key(c, "EdgemlCode");
        f->code_uri = get_str(c, code, "Uri", true);
        if (f->code_uri && !f->code_uri[0])
            grp_err(c, "Uri", "must not be empty");
        f->code_sha256 = get_sha256(c, code, "Sha256", false);
        grp_pop(c, m1);
    }
    grp_pop(c, m0);
}


/* ---- Resources ---- */

static void parse_owner_setting(grp_ctx *c, json_t *d, grp_owner_setting *o)
{
    json_t *os = get_obj(c, d, "OwnerSetting", false);
    if (!os)
        return;
    size_t m0 = grp_push_key(c, "OwnerSetting");
    o->present = true;
    json_t *go = json_object_get(os, "GroupOwner"), *gp = json_object_get(os, "GroupPermission");
    bool has_go = go && !json_is_null(go), has_gp = gp && !json_is_null(gp);
    if (!has_go || !has_gp) {
        grp_err(c, NULL, "needs both GroupOwner and GroupPermission (%s missing)",
                !has_go && !has_gp ? "both are" : !has_go ? "GroupOwner is" : "GroupPermission is");
    }
    if (has_go) {
        o->group_owner = get_str(c, os, "GroupOwner", false);
        if (o->group_owner && !o->group_owner[0])
            grp_err(c, "GroupOwner", "must not be empty");
    }
    if (has_gp)
        o->group_permission = (grp_perm)get_enum(c, os, "GroupPermission", false, k_perm, 2);
    grp_pop(c, m0);
}

static void parse_group_owner_setting(grp_ctx *c, json_t *d, grp_group_owner_setting *o)
{
    json_t *gos = get_obj(c, d, "GroupOwnerSetting", false);
    if (!gos)
        return;
    size_t m0 = grp_push_key(c, "GroupOwnerSetting");
    o->present = true;
    get_bool(c, gos, "AutoAddGroupOwner", true, &o->auto_add_group_owner);
    o->group_owner = get_str(c, gos, "GroupOwner", false);
    grp_pop(c, m0);
}

/* S3Uri: s3://bucket/key (bucket without '.'), http(s)://..., file:///abs or /abs. */
static void check_uri(grp_ctx *c, const char *key, const char *u)
{
    if (strncmp(u, "s3://", 5) == 0) {
        const char *b = u + 5, *slash = strchr(b, '/');
        size_t blen = slash ? (size_t)(slash - b) : strlen(b);
        if (blen == 0)
            grp_err(c, key, "%s has no bucket name", grp_q(u));
        else if (memchr(b, '.', blen))
            grp_err(c, key, "bucket name in %s must not contain '.'", grp_q(u));
        else if (!slash || !slash[1])
            grp_err(c, key, "%s has no object key", grp_q(u));
    } else if (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) {
        const char *h = u + (u[4] == 's' ? 8 : 7);
        if (!*h || *h == '/')
            grp_err(c, key, "%s has no host", grp_q(u));
    } else if (strncmp(u, "file://", 7) == 0 || u[0] == '/') {
        const char *p = u[0] == '/' ? u : u + 7;
        const char *why = abs_path_problem(p);
        if (why)
            grp_err(c, key, "path of %s %s", grp_q(u), why);
    } else {
        grp_err(c, key, "%s must be an s3://, https://, http:// or file:// URI or an absolute path",
                grp_q(u));
    }
}

static void parse_resource_data(grp_ctx *c, grp_resource *r, json_t *d)
{
    switch (r->kind) {
    case GRP_RES_S3_MODEL:
        r->source = get_str(c, d, "S3Uri", true);
        if (r->source)
            check_uri(c, "S3Uri", r->source);
        /* fallthrough */
    case GRP_RES_SAGEMAKER_MODEL:
        if (r->kind == GRP_RES_SAGEMAKER_MODEL) {
            r->source = get_str(c, d, "SageMakerJobArn", true);
            if (r->source && (strncmp(r->source, "arn:", 4) != 0 || !strstr(r->source, ":training-job/")))
                grp_err(c, "SageMakerJobArn", "%s is not a SageMaker training job ARN "
                        "(arn:<partition>:sagemaker:<region>:<account>:training-job/<name>)",
                        grp_q(r->source));
        }
        r->destination = get_abs_path(c, d, "DestinationPath");
        parse_owner_setting(c, d, &r->owner);
        r->sha256 = get_sha256(c, d, "EdgemlSha256", false);
        break;
    case GRP_RES_LOCAL_DEVICE:
        r->source = get_abs_path(c, d, "SourcePath");
        if (r->source && (!under(r->source, "/dev") || strcmp(r->source, "/dev") == 0))
            grp_err(c, "SourcePath", "%s: a device resource must be under /dev/", grp_q(r->source));
        parse_group_owner_setting(c, d, &r->group_owner);
        break;
    case GRP_RES_LOCAL_VOLUME:
        r->source = get_abs_path(c, d, "SourcePath");
        if (r->source) {
            static const char *const k_refused[] = {"/sys", "/dev", "/var"};
            for (size_t i = 0; i < 3; i++)
                if (under(r->source, k_refused[i]))
                    grp_err(c, "SourcePath", "%s: a volume resource must not be under %s",
                            grp_q(r->source), k_refused[i]);
        }
        r->destination = get_abs_path(c, d, "DestinationPath");
        parse_group_owner_setting(c, d, &r->group_owner);
        break;
    case GRP_RES_SECRET: {
        r->source = get_str(c, d, "ARN", true);
        if (r->source && strncmp(r->source, "arn:", 4) != 0)
            grp_err(c, "ARN", "%s is not an ARN", grp_q(r->source));
        json_t *labels = get_arr(c, d, "AdditionalStagingLabelsToDownload", false);
        r->staging_labels = slots(c, labels, sizeof(char *), &r->n_staging_labels);
        size_t m0 = grp_push_key(c, "AdditionalStagingLabelsToDownload");
        for (size_t i = 0; i < r->n_staging_labels; i++) {
            json_t *l = json_array_get(labels, i);
            if (!json_is_string(l)) {
                size_t m1 = grp_push_index(c, i);
                grp_err(c, NULL, "must be a string");
                grp_pop(c, m1);
                continue;
            }
            r->staging_labels[i] = grp_arena_strndup(c->arena, json_string_value(l),
                                                     json_string_length(l));
            if (!r->staging_labels[i])
                c->nomem = true;
        }
        grp_pop(c, m0);
        break;
    }
    case GRP_RES_UNKNOWN:
        break;
    }
}

static void parse_resource(grp_ctx *c, json_t *e, grp_resource *r)
{
    r->id = get_id(c, e, "Id");
    r->name = get_id(c, e, "Name");
    json_t *rdc = get_obj(c, e, "ResourceDataContainer", true);
    if (!rdc)
        return;
    size_t m0 = grp_push_key(c, "ResourceDataContainer");
    json_t *data = NULL;
    for (int k = GRP_RES_S3_MODEL; k <= GRP_RES_SECRET; k++) {
        const char *key = grp_resource_kind_key((grp_resource_kind)k);
        json_t *d = json_object_get(rdc, key);
        if (!d || json_is_null(d))
            continue;
        if (r->kind) {
            grp_err(c, key, "a resource holds exactly one kind, and this one already has %s",
                    grp_resource_kind_key(r->kind));
            continue;
        }
        if (!json_is_object(d)) {
            grp_err(c, key, "must be an object");
            r->kind = (grp_resource_kind)k;
            continue;
        }
        r->kind = (grp_resource_kind)k;
        data = d;
    }
    if (!r->kind)
        grp_err(c, NULL, "must hold one of S3MachineLearningModelResourceData, "
                         "SageMakerMachineLearningModelResourceData, LocalDeviceResourceData, "
                         "LocalVolumeResourceData, SecretsManagerSecretResourceData");
    if (data) {
        size_t m1 = grp_push_key(c, grp_resource_kind_key(r->kind));
        parse_resource_data(c, r, data);
        grp_pop(c, m1);
    }
    grp_pop(c, m0);
}


/* ---- Subscriptions and Loggers ---- */

/* MQTT topic filter: 1..65535 bytes, '#' only as the last level, '+' and '#'
 * only as whole levels. */
static const char *topic_problem(const char *t)
{
    size_t n = strlen(t);
    if (n == 0)
        return "must not be empty";
    if (n > 65535)
        return "is longer than 65535 bytes";
    for (size_t i = 0; i < n; i++) {
        bool start = i == 0 || t[i - 1] == '/', end = i + 1 == n || t[i + 1] == '/';
        if (t[i] == '#' && (!start || i + 1 != n))
            return "may have '#' only as its whole last level";
        if (t[i] == '+' && (!start || !end))
            return "may have '+' only as a whole level";
    }
    return NULL;
}

/* ---- the five definitions: one walk ---- */

/* A top-level definition: root[key] holds the Definition object (or a whole
 * get-*-definition-version output) with the list `list`. `defn` runs on the
 * Definition object before the list (Functions' DefaultConfig), `check` at the
 * list's path once its size is known, `one` on each element that is an
 * object, at its path. Returns the slots (n of them, `size` bytes each) and
 * stores the list's path in *path (the rules name entries by it). */
typedef struct grp_section {
    const char *key, *list;
    bool required;
    size_t size;
    void (*defn)(grp_ctx *c, json_t *def);
    void (*check)(grp_ctx *c, json_t *arr, size_t n);
    void (*one)(grp_ctx *c, json_t *e, void *item);
} grp_section;

static void *parse_section(grp_ctx *c, json_t *root, const grp_section *s, size_t *n,
                           const char **path)
{
    *n = 0;
    json_t *def = get_obj(c, root, s->key, s->required);
    if (!def)
        return NULL;
    size_t m0 = grp_push_key(c, s->key);
    def = unwrap(c, def, s->list);
    if (s->defn)
        s->defn(c, def);
    json_t *arr = get_arr(c, def, s->list, s->required);
    char *items = slots(c, arr, s->size, n);
    size_t m1 = grp_push_key(c, s->list);
    *path = save_path(c);
    if (s->check && !c->nomem)
        s->check(c, arr, *n);
    for (size_t i = 0; i < *n && !c->nomem; i++) {
        size_t m2 = grp_push_index(c, i);
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            grp_err(c, NULL, "must be an object");
        else
            s->one(c, e, items + i * s->size);
        grp_pop(c, m2);
    }
    grp_pop(c, m1);
    grp_pop(c, m0);
    return items;
}

static void check_cores(grp_ctx *c, json_t *arr, size_t n)
{
    if (arr && n != 1)
        grp_err(c, NULL, "must hold exactly one core (found %zu)", n);
}

static void parse_core(grp_ctx *c, json_t *e, void *item)
{
    grp_core *k = item;
    k->id = get_id(c, e, "Id");
    k->thing_arn = get_str(c, e, "ThingArn", true);
    k->certificate_arn = get_str(c, e, "CertificateArn", true);
    get_bool(c, e, "SyncShadow", false, &k->sync_shadow);
}

static void parse_default_config(grp_ctx *c, json_t *def)
{
    json_t *dc = get_obj(c, def, "DefaultConfig", false);
    if (dc) {
        size_t m1 = grp_push_key(c, "DefaultConfig");
        parse_execution(c, dc, &c->g->default_isolation, &c->g->default_run_as,
                        &c->default_mode_bad);
        grp_pop(c, m1);
    }
}

static void parse_function_item(grp_ctx *c, json_t *e, void *item)
{
    parse_function(c, e, item);
}

static void check_resources(grp_ctx *c, json_t *arr, size_t n)
{
    (void)arr;
    if (n > GRP_MAX_RESOURCES)
        grp_err(c, NULL, "has %zu resources; at most %d are allowed in a group", n,
                GRP_MAX_RESOURCES);
}

static void parse_resource_item(grp_ctx *c, json_t *e, void *item)
{
    parse_resource(c, e, item);
}

static void parse_subscription(grp_ctx *c, json_t *e, void *item)
{
    grp_subscription *s = item;
    s->id = get_id(c, e, "Id");
    s->source = get_str(c, e, "Source", true);
    s->subject = get_str(c, e, "Subject", true);
    s->target = get_str(c, e, "Target", true);
    const char *why = s->subject ? topic_problem(s->subject) : NULL;
    if (why)
        grp_err(c, "Subject", "%s %s", grp_q(s->subject), why);
}

static void parse_logger(grp_ctx *c, json_t *e, void *item)
{
    static const char *const k_comp[] = {"GreengrassSystem", "Lambda"};
    static const char *const k_level[] = {"DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    static const char *const k_type[] = {"FileSystem", "AWSCloudWatch"};
    grp_logger *l = item;
    l->id = get_id(c, e, "Id");
    int k = get_enum(c, e, "Component", true, k_comp, 2);
    l->component = k ? k_comp[k - 1] : NULL;
    k = get_enum(c, e, "Level", true, k_level, 5);
    l->level = k ? k_level[k - 1] : NULL;
    k = get_enum(c, e, "Type", true, k_type, 2);
    l->type = k ? k_type[k - 1] : NULL;
    l->has_space = get_int(c, e, "Space", false, 1, 2147483647, &l->space_kb);
}


void grp_parse(grp_ctx *c, json_t *root)
{
    c->p_functions = "Functions.Functions";
    c->p_resources = "Resources.Resources";
    c->p_subscriptions = "Subscriptions.Subscriptions";
    c->p_cores = "Core.Cores";
    c->p_loggers = "Loggers.Loggers";
    if (!json_is_object(root)) {
        grp_err_at(c, "", "the document must be a JSON object with Core, Functions, Resources, "
                          "Subscriptions and Loggers");
        return;
    }
    static const grp_section k_core = {"Core", "Cores", true, sizeof(grp_core), NULL,
                                       check_cores, parse_core};
    static const grp_section k_res = {"Resources", "Resources", false, sizeof(grp_resource),
                                      NULL, check_resources, parse_resource_item};
    static const grp_section k_fns = {"Functions", "Functions", false, sizeof(grp_function),
                                      parse_default_config, NULL, parse_function_item};
    static const grp_section k_subs = {"Subscriptions", "Subscriptions", false,
                                       sizeof(grp_subscription), NULL, NULL, parse_subscription};
    static const grp_section k_log = {"Loggers", "Loggers", false, sizeof(grp_logger), NULL,
                                      NULL, parse_logger};
    grp_group *g = c->g;
    g->cores = parse_section(c, root, &k_core, &g->n_cores, &c->p_cores);
    g->resources = parse_section(c, root, &k_res, &g->n_resources, &c->p_resources);
    g->functions = parse_section(c, root, &k_fns, &g->n_functions, &c->p_functions);
    g->subscriptions = parse_section(c, root, &k_subs, &g->n_subscriptions, &c->p_subscriptions);
    g->loggers = parse_section(c, root, &k_log, &g->n_loggers, &c->p_loggers);
}
