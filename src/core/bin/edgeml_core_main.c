/* edgeml-core: the core daemon alone (what `edgeml core` execs), linked with
 * only the core's modules so that its RSS stays small. Same options;
 * `edgeml-core core --root DIR` is accepted too (argv as `edgeml` got it). */
#include <string.h>

#include "edgeml/core.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "core") == 0)
        return edgeml_core_main(argc - 1, argv + 1);
    return edgeml_core_main(argc, argv);
}
