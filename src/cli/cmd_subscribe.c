/* edgeml subscribe --root DIR FILTER [--count N] [--timeout-ms N] [--json]:
 * prints the messages a running core routes to target "cloud" on topics
 * matching FILTER (CTL_SUBSCRIBE, see src/ipc/proto.h), one line each. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core_client.h"
#include "proto.h"
#include "topic.h"

#define DEFAULT_ROOT "/var/lib/edgeml"


static void help(void)
{
    printf("usage: edgeml subscribe [--root DIR] FILTER [--count N] [--timeout-ms N] [--json]\n\n"
           "Prints the messages that the core running on DIR routes to the target 'cloud'\n"
           "(what the MQTT bridge forwards) on topics matching the MQTT filter FILTER ('+'\n"
           "one level, '#' the rest), one line each: 'TOPIC PAYLOAD' when the payload is\n"
           "printable UTF-8 text, else 'TOPIC <N bytes>'.\n\n"
           "  --root DIR       deployment root of the running core (default " DEFAULT_ROOT ")\n"
           "  --count N        exit after N messages\n"
           "  --timeout-ms N   give up N ms after starting (default: wait forever)\n"
           "  --json           one JSON object per line: {\"topic\": ..., \"payload\": ...};\n"
           "                   a payload that is not UTF-8 text is base64 with\n"
           "                   \"encoding\": \"base64\"\n\n"
           "Exit status: 0 after N messages (--count); 1 timeout before that, the core went\n"
           "away, or no core; 2 usage error.\n");
}

/* Strict UTF-8 (no overlongs, surrogates, > U+10FFFF); ctl: also refuse C0
 * controls and DEL (for the one-line text form). NUL always refused. */
static int utf8_text(const uint8_t *p, size_t n, int ctl)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if (c == 0 || (ctl && (c < 0x20 || c == 0x7f)))
                return 0;
            i++;
            continue;
        }
        size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || len > n - i || c < 0xc2 || c > 0xf4)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
        if ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0) ||
            (c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90))
            return 0;
        i += len;
    }
    return 1;
}

static void base64(FILE *f, const uint8_t *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        fputc(t[v >> 18 & 63], f);
        fputc(t[v >> 12 & 63], f);
        fputc(i + 1 < n ? t[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? t[v & 63] : '=', f);
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One message (MSG [topic, subject, source, payload]); payload is the last
 * field, NUL-terminated by ipc_recv. */
static void print_msg(const ipc_field *f, int json)
{
    char *topic = ipc_field_dup(f[0]);
    const char *t = topic ? topic : "?";
    const uint8_t *p = f[3].p;
    size_t n = f[3].n;
    if (json) {
        fputs("{\"topic\": ", stdout);
        cli_json_str(stdout, t);
        fputs(", \"payload\": ", stdout);
        if (utf8_text(p, n, 0)) {
            cli_json_str(stdout, (const char *)p);
        } else {
            putchar('"');
            base64(stdout, p, n);
            fputs("\", \"encoding\": \"base64\"", stdout);
        }
        fputs("}\n", stdout);
    } else if (n && utf8_text(p, n, 1)) {
        printf("%s %s\n", cli_esc(t), (const char *)p);
    } else {
        printf("%s <%zu bytes>\n", cli_esc(t), n);
    }
    fflush(stdout);
    free(topic);
}

int cli_cmd_subscribe(int argc, char **argv)
{
    const char *root = DEFAULT_ROOT, *filter = NULL, *v;
    int json = 0;
    int64_t count = 0, timeout = -1;
    for (int i = 1; i < argc; i++) {
        int m;
        if (cli_is_help(argv[i])) {
            help();
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if ((m = cli_opt_root(argc, argv, &i, "subscribe", &root))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
        } else if ((m = cli_opt_value(argc, argv, &i, "--count", &v, "subscribe"))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (cli_parse_i64(v, &count) || count < 1)
                return cli_usage("subscribe", "--count wants a positive number, not %s", cli_q(v));
        } else if ((m = cli_opt_value(argc, argv, &i, "--timeout-ms", &v, "subscribe"))) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (cli_parse_i64(v, &timeout) || timeout < 1 || timeout > 86400000)
                return cli_usage("subscribe", "--timeout-ms wants 1..86400000, not %s", cli_q(v));
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("subscribe", "unknown option %s", cli_q(argv[i]));
        } else if (!filter) {
            filter = argv[i];
        } else {
            return cli_usage("subscribe", "unexpected argument %s", cli_q(argv[i]));
        }
    }
    if (!filter)
        return cli_usage("subscribe", "missing FILTER");
    const char *why;
    if (!ipc_filter_valid(filter, strlen(filter), &why))
        return cli_usage("subscribe", "filter %s: %s", cli_q(filter), why);

    int64_t deadline = timeout > 0 ? now_ms() + timeout : -1;
    int fd = cli_core_connect(root, "subscribe");
    if (fd < 0)
        return CLI_EXIT_FAIL;
    ipc_field f = ipc_str(filter);
    ipc_hdr h;
    uint8_t *body = NULL;
    ipc_field out[IPC_MAX_FIELDS];
    int rc = CLI_EXIT_FAIL;
    if (cli_core_request(fd, "subscribe", IPC_CTL_SUBSCRIBE, 0, 1, &f, 1,
                         timeout > 0 && timeout < 10000 ? (int)timeout : 10000, &h, &body, out)) {
        close(fd);
        return CLI_EXIT_FAIL;
    }
    if (h.type != IPC_CTL_REPLY || (h.flags & IPC_F_ERROR)) {
        char *s = h.type == IPC_CTL_REPLY ? ipc_field_dup(out[0]) : NULL;
        cli_error("subscribe", "refused: %s", s ? cli_esc(s) : ipc_type_name(h.type));
        free(s);
        free(body);
        close(fd);
        return CLI_EXIT_FAIL;
    }
    free(body);
    body = NULL;
    for (int64_t got = 0;;) {
        int ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                cli_error("subscribe", "timed out after %lld ms with %lld message(s)",
                          (long long)timeout, (long long)got);
                break;
            }
            ms = (int)left;
        }
        if (ipc_recv(fd, ms, &h, &body, out) < 0) {
            if (errno == ETIMEDOUT)
                continue; /* the deadline check above reports it */
            cli_error("subscribe", "%s", errno == ECONNRESET ? "the core closed the connection"
                                                             : strerror(errno));
            break;
        }
        if (h.type == IPC_MSG) {
            print_msg(out, json);
            got++;
        }
        free(body);
        body = NULL;
        if (count && got >= count) {
            rc = CLI_EXIT_OK;
            break;
        }
    }
    free(body);
    close(fd);
    return rc;
}
