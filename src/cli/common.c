/* Shared helpers of the edgeml CLI: error lines, option parsing, quoting. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Copies src to dst escaping bytes that would break a one-line message. */
static void sanitize(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 5 < cap; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", *p);
        } else {
            dst[o++] = (char)*p;
        }
    }
    dst[o] = 0;
}

static void emit(const char *prefix_what, const char *fmt, va_list ap, const char *suffix)
{
    char msg[2048], what[1024], line[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    sanitize(line, sizeof line, msg);
    sanitize(what, sizeof what, prefix_what);
    fprintf(stderr, "edgeml: %s: %s%s\n", what, line, suffix ? suffix : "");
    fflush(stderr);
}

int cli_error(const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(what, fmt, ap, NULL);
    va_end(ap);
    return CLI_EXIT_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    char suffix[128];
    snprintf(suffix, sizeof suffix, " (see 'edgeml %s--help')", cmd ? cmd : "");
    if (cmd)
        snprintf(suffix, sizeof suffix, " (see 'edgeml %s --help')", cmd);
    va_list ap;
    va_start(ap, fmt);
    emit(cmd ? cmd : "usage", fmt, ap, suffix);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

static const char *quote(const char *s, int quotes)
{
    static char bufs[8][320];
    static unsigned next;
    char *b = bufs[next++ % 8];
    size_t o = 0, cap = sizeof bufs[0];
    if (quotes)
        b[o++] = '\'';
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    for (; *p; p++) {
        if (o + 8 >= cap) {
            memcpy(b + o, "...", 3);
            o += 3;
            break;
        }
        if (*p < 0x20 || *p >= 0x7f || *p == '\\' || (quotes && *p == '\''))
            o += (size_t)snprintf(b + o, cap - o, "\\x%02x", *p);
        else
            b[o++] = (char)*p;
    }
    if (quotes)
        b[o++] = '\'';
    b[o] = 0;
    return b;
}

const char *cli_q(const char *s) { return quote(s, 1); }
const char *cli_esc(const char *s) { return quote(s, 0); }

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_opt_value(int argc, char **argv, int *i, const char *name, const char **val,
                  const char *cmd)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != 0)
        return 0;
    if (*i + 1 >= argc) {
        cli_usage(cmd, "option %s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_parse_i64(const char *s, int64_t *v)
{
    if (!s || !*s)
        return -1;
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = (int64_t)x;
    return 0;
}

int cli_load_model(const char *path, edgeml_model **m)
{
    edgeml_error err;
    memset(&err, 0, sizeof err);
    *m = NULL;
    edgeml_status st = edgeml_model_load(path, NULL, m, &err);
    if (st != EDGEML_OK) {
        *m = NULL;
        const char *msg = err.msg[0] ? err.msg : edgeml_status_str(st);
        /* the library may already name the file: do not say it twice */
        size_t n = strlen(path);
        if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
            msg += n + 2;
        return cli_error(path, "%s", msg);
    }
    return 0;
}

void cli_format_shape(const edgeml_value_info *vi, char *buf, size_t n)
{
    if (n == 0)
        return;
    if (vi->rank < 0) {
        snprintf(buf, n, "?");
        return;
    }
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int i = 0; i < vi->rank && o < n; i++) {
        const char *sep = i ? "," : "";
        if (vi->dims[i] >= 0)
            o += (size_t)snprintf(buf + o, n - o, "%s%lld", sep, (long long)vi->dims[i]);
        else if (vi->dim_names && vi->dim_names[i] && vi->dim_names[i][0]) {
            char nm[128];
            sanitize(nm, sizeof nm, vi->dim_names[i]);
            o += (size_t)snprintf(buf + o, n - o, "%s%s", sep, nm);
        } else
            o += (size_t)snprintf(buf + o, n - o, "%s?", sep);
    }
    if (o < n)
        snprintf(buf + o, n - o, "]");
}

void cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\u%04x", *p);
            else if (*p >= 0x80) {
                /* pass valid UTF-8 through, escape invalid bytes as U+FFFD */
                int len = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
                          : (*p & 0xf8) == 0xf0 ? 4 : 0;
                int ok = len > 0;
                for (int k = 1; ok && k < len; k++)
                    if ((p[k] & 0xc0) != 0x80)
                        ok = 0;
                /* no overlong forms, surrogates or code points > U+10FFFF */
                if (ok && (p[0] < 0xc2 || (p[0] == 0xe0 && p[1] < 0xa0) ||
                           (p[0] == 0xed && p[1] >= 0xa0) || (p[0] == 0xf0 && p[1] < 0x90) ||
                           (p[0] == 0xf4 && p[1] >= 0x90) || p[0] > 0xf4))
                    ok = 0;
                if (ok) {
                    fwrite(p, 1, (size_t)len, f);
                    p += len - 1;
                } else {
                    fputs("\\ufffd", f);
                }
            } else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

int cli_read_file(const char *path, size_t max, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_error(path, "cannot open: %s", strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        if (n == cap) {
            if (cap > max)
                break;
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (!b)
        return cli_error(path, "out of memory reading the file");
    if (err) {
        free(b);
        return cli_error(path, "read error");
    }
    *buf = b;
    *len = n;
    return 0;
}

int cli_opt_root(int argc, char **argv, int *i, const char *cmd, const char **root)
{
    const char *v;
    int m = cli_opt_value(argc, argv, i, "--root", &v, cmd);
    if (m <= 0)
        return m;
    if (!v[0]) {
        cli_usage(cmd, "--root needs a directory");
        return -1;
    }
    *root = v;
    return 1;
}
