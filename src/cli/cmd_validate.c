/* edgeml validate GROUP.json: checks a group definition (src/group). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

static void help(void)
{
    printf("usage: edgeml validate [--allow-run-as-root] GROUP.json\n\n"
           "Checks a group definition (Greengrass v1 shapes: Core, Functions, Resources,\n"
           "Subscriptions, Loggers; see src/group/README.md) against every rule and prints\n"
           "each violation on its own line on stdout: 'GROUP.json: <json path>: <message>'.\n"
           "A valid document prints one summary line.\n\n"
           "  --allow-run-as-root  the core allows functions to run as root (RunAs Uid/Gid 0)\n\n"
           "Exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n");
}


void cli_print_group_diags(FILE *f, const char *name, const struct grp_doc *doc)
{
    for (size_t i = 0; i < doc->n_diags; i++) {
        const grp_diag *d = &doc->diags[i];
        if (d->line > 0)
            fprintf(f, "%s:%d:%d: %s\n", name, d->line, d->column, d->msg);
        else if (d->path[0])
            fprintf(f, "%s: %s: %s\n", name, d->path, d->msg);
        else
            fprintf(f, "%s: %s\n", name, d->msg);
    }
    if (doc->n_dropped)
        fprintf(f, "%s: %zu more violations not shown\n", name, doc->n_dropped);
}

int cli_cmd_validate(int argc, char **argv)
{
    const char *path = NULL;
    grp_options opt = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            help();
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--allow-run-as-root") == 0)
            opt.allow_run_as_root = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage("validate", "unknown option %s", cli_q(argv[i]));
        else if (path)
            return cli_usage("validate", "unexpected argument %s", cli_q(argv[i]));
        else
            path = argv[i];
    }
    if (!path)
        return cli_usage("validate", "missing GROUP.json");

    char *buf = NULL;
    size_t len = 0;
    if (cli_read_file(path, GRP_MAX_DOC_BYTES, &buf, &len))
        return CLI_EXIT_FAIL;
    grp_doc *doc = NULL;
    grp_status st = grp_load(buf, len, &opt, &doc);
    free(buf);
    if (st == GRP_E_NOMEM)
        return cli_error(path, "out of memory validating the document");

    const char *name = cli_esc(path);
    cli_print_group_diags(stdout, name, doc);
    int rc = CLI_EXIT_FAIL;
    if (st == GRP_OK) {
        const grp_group *g = doc->group;
        printf("%s: valid: %zu functions, %zu resources, %zu subscriptions, %zu loggers\n", name,
               g->n_functions, g->n_resources, g->n_subscriptions, g->n_loggers);
        rc = CLI_EXIT_OK;
    } else if (st == GRP_E_INVALID) {
        size_t n = doc->n_diags + doc->n_dropped;
        fprintf(stderr, "edgeml: %s: invalid group definition: %zu violation%s\n", name, n,
                n == 1 ? "" : "s");
    }
    fflush(stdout);
    grp_doc_free(doc);
    return rc;
}
