/* edgeml version */
#include "cli.h"

#include <string.h>

int cli_cmd_version(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: edgeml version\n\nPrints the edgeml library version.\n");
            return CLI_EXIT_OK;
        }
        if (argv[i][0] == '-')
            return cli_usage("version", "unknown option %s", cli_q(argv[i]));
        return cli_usage("version", "unexpected argument %s", cli_q(argv[i]));
    }
    printf("edgeml %s\n", edgeml_version());
    return CLI_EXIT_OK;
}
