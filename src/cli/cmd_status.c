/* edgeml status [--root DIR] [--json]: the deployments and active resources
 * recorded in DIR/state.db (src/deploy/dep_state.h). */
#include "cli.h"

#include <string.h>

#include "dep_state.h"

#define DEFAULT_ROOT "/var/lib/edgeml"

static void help(void)
{
    printf("usage: edgeml status [--root DIR] [--json] [--limit N]\n\n"
           "Shows the deployments under DIR (newest first: id, time, Building|InProgress|\n"
           "Success|Failure, error) and each active resource (source, ETag, SHA-256, store\n"
           "path, size, when activated).\n\n"
           "  --root DIR   deployment root (default " DEFAULT_ROOT ")\n"
           "  --json       one JSON object {\"deployments\": [...], \"resources\": [...]}\n"
           "  --limit N    at most N deployments (default all)\n\n"
           "Exit status: 0 shown, 1 state unreadable, 2 usage error.\n");
}

int cli_cmd_status(int argc, char **argv)
{
    const char *root = DEFAULT_ROOT, *v;
    int json = 0;
    int64_t limit = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if (cli_is_help(argv[i])) {
            help();
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if ((m = cli_opt_value(argc, argv, &i, "--root", &v, "status"))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (!v[0])
                return cli_usage("status", "--root needs a directory");
            root = v;
        } else if ((m = cli_opt_value(argc, argv, &i, "--limit", &v, "status"))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (cli_parse_i64(v, &limit) || limit < 1 || limit > 1000000)
                return cli_usage("status", "--limit wants a positive number, not %s", cli_q(v));
        } else if (argv[i][0] == '-') {
            return cli_usage("status", "unknown option %s", cli_q(argv[i]));
        } else {
            return cli_usage("status", "unexpected argument %s", cli_q(argv[i]));
        }
    }
    dep_state *s = NULL;
    dep_err e = {{0}};
    dep_status st = dep_state_open(root, 0, &s, &e);
    if (st == DEP_ENOENT) {
        if (json) {
            printf("{\"deployments\": [], \"resources\": []}\n");
        } else {
            printf("%s: no deployments\n", cli_esc(root));
        }
        return CLI_EXIT_OK;
    }
    if (st)
        return cli_error(root, "%s", e.msg);
    if (!json)
        printf("Root: %s\n", cli_esc(root));
    st = dep_state_report(s, stdout, json, (unsigned)limit, &e);
    dep_state_close(s);
    fflush(stdout);
    if (st)
        return cli_error(root, "%s", e.msg);
    return CLI_EXIT_OK;
}
