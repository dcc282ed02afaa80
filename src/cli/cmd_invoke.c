/* edgeml invoke --root DIR FUNCTION_ID [--data STR | FILE] [--event]
 * [--timeout-ms N]: invokes a function directly through a running core
 * (CTL_INVOKE, see src/ipc/proto.h) and prints its result. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_client.h"
#include "proto.h"

#define DEFAULT_ROOT "/var/lib/edgeml"


static void help(void)
{
    printf("usage: edgeml invoke [--root DIR] FUNCTION_ID [--data STR | FILE|-] [--event]\n"
           "                     [--timeout-ms N]\n\n"
           "Invokes the function FUNCTION_ID of the group deployed on DIR through its\n"
           "running core, as the source 'cloud', with the payload STR, FILE's bytes, stdin\n"
           "('-') or nothing. Request-response (the default) waits for the handler and\n"
           "writes its result to stdout as is (no newline added); --event returns once the\n"
           "core has queued the message.\n\n"
           "  --root DIR       deployment root of the running core (default " DEFAULT_ROOT ")\n"
           "  --data STR       the payload\n"
           "  --event          do not wait for the result\n"
           "  --timeout-ms N   give up after N ms (default 60000; the core also applies the\n"
           "                   function's Timeout)\n\n"
           "Exit status: 0 done; 1 the function failed, timed out, is unknown or its queue\n"
           "is full (why on stderr), or no core; 2 usage error.\n");
}

int cli_cmd_invoke(int argc, char **argv)
{
    const char *root = DEFAULT_ROOT, *data = NULL, *fid = NULL, *file = NULL, *v;
    int event = 0;
    int64_t timeout = 60000;
    for (int i = 1; i < argc; i++) {
        int m;
        if (cli_is_help(argv[i])) {
            help();
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--event") == 0) {
            event = 1;
        } else if ((m = cli_opt_root(argc, argv, &i, "invoke", &root))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
        } else if ((m = cli_opt_value(argc, argv, &i, "--data", &v, "invoke"))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            data = v;
        } else if ((m = cli_opt_value(argc, argv, &i, "--timeout-ms", &v, "invoke"))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (cli_parse_i64(v, &timeout) || timeout < 1 || timeout > 86400000)
                return cli_usage("invoke", "--timeout-ms wants 1..86400000, not %s", cli_q(v));
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("invoke", "unknown option %s", cli_q(argv[i]));
        } else if (!fid) {
            fid = argv[i];
        } else if (!file) {
            file = argv[i];
        } else {
            return cli_usage("invoke", "unexpected argument %s", cli_q(argv[i]));
        }
    }
    if (!fid || !fid[0])
        return cli_usage("invoke", "missing FUNCTION_ID");

    char *buf;
    const void *payload;
    size_t n;
    int rc = cli_core_payload("invoke", data, file, IPC_MAX_BODY - 8 - strlen(fid), &buf,
                              &payload, &n);
    if (rc)
        return rc;
    int fd = cli_core_connect(root, "invoke");
    if (fd < 0) {
        free(buf);
        return CLI_EXIT_FAIL;
    }
    ipc_field f[2] = {ipc_str(fid), {payload, (uint32_t)n}};
    ipc_hdr h;
    uint8_t *body = NULL;
    ipc_field out[IPC_MAX_FIELDS];
    rc = CLI_EXIT_FAIL;
    if (cli_core_request(fd, "invoke", IPC_CTL_INVOKE, event ? 0 : IPC_F_REPLY, 1, f, 2,
                         (int)timeout, &h, &body, out) == 0) {
        if ((h.type == IPC_RESULT || h.type == IPC_NACK) && h.id == 1) {
            ipc_field st = out[0];
            if (st.n || (h.flags & IPC_F_ERROR) || h.type == IPC_NACK) {
                char *s = ipc_field_dup(st);
                cli_error("invoke", "%s: %s", cli_q(fid), s && *s ? cli_esc(s) : "failed");
                free(s);
            } else {
                if (!event && out[1].n)
                    fwrite(out[1].p, 1, out[1].n, stdout);
                rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
            }
        } else if (h.type == IPC_CTL_REPLY && (h.flags & IPC_F_ERROR)) {
            char *s = ipc_field_dup(out[0]);
            cli_error("invoke", "refused: %s", s ? cli_esc(s) : "(unreadable)");
            free(s);
        } else {
            cli_error("invoke", "unexpected %s from the core", ipc_type_name(h.type));
        }
    }
    free(body);
    free(buf);
    close(fd);
    return rc;
}
