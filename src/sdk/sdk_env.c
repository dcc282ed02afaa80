/* What the SDK reads from the environment the core started it with:
 * EDGEML_FUNCTION_ID and EDGEML_RESOURCES ("Id=/path\n" per resource). */
#include "sdk_int.h"

#include <stdlib.h>
#include <string.h>

#define SDK_RES_MAX 256

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static char *res_buf;               /* a copy of EDGEML_RESOURCES, split in place */
static const char *res_id[SDK_RES_MAX], *res_path[SDK_RES_MAX];
static unsigned res_n;
static const char *env_function_id;

static void env_load(void)
{
    env_function_id = getenv(IPC_ENV_FUNCTION);
    if (env_function_id && !*env_function_id)
        env_function_id = NULL;
    const char *r = getenv(IPC_ENV_RESOURCES);
    if (!r || !(res_buf = strdup(r)))
        return;
    for (char *line = res_buf; line && *line && res_n < SDK_RES_MAX;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        char *eq = strchr(line, '=');
        if (eq && eq != line && eq[1]) { /* skip lines without "Id=" and a path */
            *eq = 0;
            res_id[res_n] = line;
            res_path[res_n] = eq + 1;
            res_n++;
        }
        line = nl ? nl + 1 : NULL;
    }
}

EDGEML_SDK_API const char *edgeml_resource_path(const char *resource_id)
{
    if (!resource_id || !*resource_id) {
        sdk_fail(EDGEML_SDK_E_ARG, "edgeml_resource_path: resource id is NULL or empty");
        return NULL;
    }
    pthread_once(&env_once, env_load);
    for (unsigned i = 0; i < res_n; i++)
        if (strcmp(res_id[i], resource_id) == 0)
            return res_path[i];
    sdk_fail(EDGEML_SDK_E_NORES, "resource '%.200s' is not attached to this function (%s)",
             resource_id, res_buf ? "not in " IPC_ENV_RESOURCES : IPC_ENV_RESOURCES " is not set");
    return NULL;
}

EDGEML_SDK_API const char *edgeml_function_id(void)
{
    pthread_once(&env_once, env_load);
    return env_function_id;
}
