/* The CLI's side of a control connection to the core (ROOT/run/core.sock,
 * src/ipc/proto.h): used by publish, subscribe and invoke. */
#ifndef EDGEML_CLI_CORE_CLIENT_H
#define EDGEML_CLI_CORE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Connects to ROOT/run/core.sock; fd, or -1 after printing one line. */
int cli_core_connect(const char *root, const char *cmd);
/* The payload from --data, a FILE or "-" (stdin); 0 or CLI_EXIT_FAIL/USAGE
 * after printing. *buf is malloc'd (NULL for --data / no payload). */
int cli_core_payload(const char *cmd, const char *data, const char *file, size_t max,
                     char **buf, const void **p, size_t *n);
/* Sends one request and reads its answer; 0, or -1 after printing. */
int cli_core_request(int fd, const char *cmd, uint8_t type, uint8_t flags, uint64_t id,
                     const ipc_field *f, unsigned nf, int timeout_ms, ipc_hdr *h, uint8_t **body,
                     ipc_field *out);

#endif
