/* edgeml core: the core daemon in the foreground (src/core, docs/core.md).
 * The edgeml CLI links every module (curl, sqlite, archive, the runtime):
 * mapped, they cost the core megabytes of RSS for nothing. When the lean
 * edgeml-core binary (the same code, only the core's modules) is installed
 * beside this one, `edgeml core` execs it with the same arguments; else it
 * runs in this process. */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgeml/core.h"

int cli_cmd_core(int argc, char **argv)
{
    char self[PATH_MAX], lean[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    const char *no = getenv("EDGEML_CORE_NO_EXEC");
    if (n > 0 && !(no && *no)) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            slash[1] = 0;
            snprintf(lean, sizeof lean, "%sedgeml-core", self);
            if (access(lean, X_OK) == 0) {
                argv[0] = lean;
                execv(lean, argv);
                /* fall through: run here */
            }
        }
    }
    return edgeml_core_main(argc, argv);
}
