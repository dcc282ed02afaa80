/* edgeml publish --root DIR TOPIC [FILE|-] [--data STR]: publishes one
 * message as source "cloud" through a running core (CTL_PUBLISH, see
 * src/ipc/proto.h). Also holds the helpers the other client commands
 * (cmd_subscribe.c, cmd_invoke.c) share: connecting to the core and reading
 * a payload. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_client.h"
#include "proto.h"
#include "topic.h"

#define DEFAULT_ROOT "/var/lib/edgeml"
#define REPLY_TIMEOUT_MS 10000

static void help(void)
{
    printf("usage: edgeml publish [--root DIR] TOPIC [FILE|-] [--data STR]\n\n"
           "Publishes one message on TOPIC through the core running on DIR, as the source\n"
           "'cloud': it goes to every function whose subscription has Source 'cloud' and a\n"
           "Subject matching TOPIC. The payload is FILE's bytes, stdin ('-'), the string STR,\n"
           "or empty. Prints the core's answer ('routed to N', 'no route (dropped)', or why\n"
           "it was refused).\n\n"
           "  --root DIR    deployment root of the running core (default " DEFAULT_ROOT ")\n"
           "  --data STR    the payload\n\n"
           "Exit status: 0 routed to at least one target; 1 not routed ('no route\n"
           "(dropped)'), refused, or no core; 2 usage error (also a topic with '+' or '#').\n");
}

int cli_cmd_publish(int argc, char **argv)
{
    const char *root = DEFAULT_ROOT, *data = NULL, *topic = NULL, *file = NULL, *v;
    for (int i = 1; i < argc; i++) {
        int m;
        if (cli_is_help(argv[i])) {
            help();
            return CLI_EXIT_OK;
        }
        if ((m = cli_opt_root(argc, argv, &i, "publish", &root))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
        } else if ((m = cli_opt_value(argc, argv, &i, "--data", &v, "publish"))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            data = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("publish", "unknown option %s", cli_q(argv[i]));
        } else if (!topic) {
            topic = argv[i];
        } else if (!file) {
            file = argv[i];
        } else {
            return cli_usage("publish", "unexpected argument %s", cli_q(argv[i]));
        }
    }
    if (!topic)
        return cli_usage("publish", "missing TOPIC");
    const char *why;
    if (!ipc_topic_valid(topic, strlen(topic), &why))
        return cli_usage("publish", "topic %s: %s", cli_q(topic), why);

    char *buf;
    const void *payload;
    size_t n;
    int rc = cli_core_payload("publish", data, file, IPC_MAX_BODY - 8 - strlen(topic), &buf,
                              &payload, &n);
    if (rc)
        return rc;
    int fd = cli_core_connect(root, "publish");
    if (fd < 0) {
        free(buf);
        return CLI_EXIT_FAIL;
    }
    ipc_field f[2] = {ipc_str(topic), {payload, (uint32_t)n}};
    ipc_hdr h;
    uint8_t *body = NULL;
    ipc_field out[IPC_MAX_FIELDS];
    rc = CLI_EXIT_FAIL;
    if (cli_core_request(fd, "publish", IPC_CTL_PUBLISH, 0, 1, f, 2, REPLY_TIMEOUT_MS, &h, &body,
                         out) == 0) {
        if (h.type != IPC_CTL_REPLY) {
            cli_error("publish", "the core answered with %s", ipc_type_name(h.type));
        } else {
            char *line = ipc_field_dup(out[0]);
            const char *l = line ? line : "(unreadable answer)";
            if (h.flags & IPC_F_ERROR) {
                cli_error("publish", "refused: %s", cli_esc(l));
            } else {
                printf("%s\n", cli_esc(l));
                rc = strncmp(l, "routed to ", 10) == 0 && strcmp(l, "routed to 0") != 0
                         ? CLI_EXIT_OK : CLI_EXIT_FAIL;
            }
            free(line);
        }
    }
    free(body);
    free(buf);
    close(fd);
    return rc;
}
