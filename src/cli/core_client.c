/* Control connections to the core for the CLI (core_client.h). */
#include "cli.h"
#include "core_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Connects to ROOT/run/core.sock; fd, or -1 after printing one line. */
int cli_core_connect(const char *root, const char *cmd)
{
    char sock[4096];
    if (snprintf(sock, sizeof sock, "%s/%s", root, IPC_SOCK_NAME) >= (int)sizeof sock)
        return cli_error(cmd, "--root path too long"), -1;
    int fd = ipc_connect(sock);
    if (fd >= 0)
        return fd;
    if (errno == ENOENT || errno == ECONNREFUSED)
        cli_error(cmd, "core not running at %s (start it with 'edgeml core --root %s')",
                  cli_esc(sock), cli_esc(root));
    else
        cli_error(cmd, "cannot connect to the core at %s: %s", cli_esc(sock), strerror(errno));
    return -1;
}

/* The payload from --data, a FILE or "-" (stdin); 0 or CLI_EXIT_FAIL/USAGE
 * after printing. *buf is malloc'd (NULL for --data / no payload). */
int cli_core_payload(const char *cmd, const char *data, const char *file, size_t max,
                     char **buf, const void **p, size_t *n)
{
    *buf = NULL;
    *p = "";
    *n = 0;
    if (data && file)
        return cli_usage(cmd, "give the payload either with --data or as FILE, not both");
    if (data) {
        *p = data;
        *n = strlen(data);
    } else if (file) {
        const char *path = strcmp(file, "-") == 0 ? "/dev/stdin" : file;
        if (cli_read_file(path, max, buf, n))
            return CLI_EXIT_FAIL;
        *p = *buf;
    }
    if (*n > max) {
        free(*buf);
        *buf = NULL;
        return cli_error(cmd, "payload larger than %zu bytes", max);
    }
    return CLI_EXIT_OK;
}

/* Sends one request and reads its answer; 0, or -1 after printing. */
int cli_core_request(int fd, const char *cmd, uint8_t type, uint8_t flags, uint64_t id,
                     const ipc_field *f, unsigned nf, int timeout_ms, ipc_hdr *h, uint8_t **body,
                     ipc_field *out)
{
    if (ipc_send(fd, type, flags, id, f, nf) < 0) {
        cli_error(cmd, "sending the request to the core: %s", strerror(errno));
        return -1;
    }
    if (ipc_recv(fd, timeout_ms, h, body, out) < 0) {
        if (errno == ETIMEDOUT)
            cli_error(cmd, "no answer from the core within %d ms", timeout_ms);
        else if (errno == ECONNRESET || errno == EPIPE)
            cli_error(cmd, "the core closed the connection (is this user allowed? control "
                           "requests need root or the core's user)");
        else
            cli_error(cmd, "reading the core's answer: %s", strerror(errno));
        return -1;
    }
    return 0;
}
