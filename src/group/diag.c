/* JSON paths and violations. */
#include "grp_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends one formatted path segment; on overflow the path is marked cut and
 * left as it was. Returns the mark to pop back to. */
static size_t push(grp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t push(grp_ctx *c, const char *fmt, ...)
{
    size_t mark = c->path_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->path + c->path_len, sizeof c->path - c->path_len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof c->path - c->path_len) {
        c->path_cut = true;
        c->path[mark] = 0;
        return mark;
    }
    c->path_len += (size_t)n;
    return mark;
}

size_t grp_push_key(grp_ctx *c, const char *key)
{
    return push(c, "%s%s", c->path_len ? "." : "", key);
}

size_t grp_push_index(grp_ctx *c, size_t i)
{
    return push(c, "[%zu]", i);
}

void grp_pop(grp_ctx *c, size_t mark)
{
    if (mark <= c->path_len) {
        c->path_len = mark;
        c->path[mark] = 0;
    }
}

static void add(grp_ctx *c, const char *path, const char *fmt, va_list ap)
{
    if (c->n_diags >= GRP_MAX_DIAGS) {
        c->n_dropped++;
        return;
    }
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* one line whatever the caller passed */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    grp_diag *d = &c->diags[c->n_diags];
    char *dp = grp_arena_strndup(c->arena, path, strlen(path));
    for (char *p = dp; p && *p; p++) /* object keys in paths come from the document */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    d->path = dp;
    d->msg = grp_arena_strndup(c->arena, msg, strlen(msg));
    if (!d->path || !d->msg) {
        c->nomem = true;
        return;
    }
    c->n_diags++;
}

void grp_err(grp_ctx *c, const char *key, const char *fmt, ...)
{
    size_t mark = key ? grp_push_key(c, key) : c->path_len;
    va_list ap;
    va_start(ap, fmt);
    add(c, c->path, fmt, ap);
    va_end(ap);
    grp_pop(c, mark);
}

void grp_err_at(grp_ctx *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(c, path, fmt, ap);
    va_end(ap);
}

const char *grp_q(const char *s)
{
    static _Thread_local char bufs[4][200];
    static _Thread_local unsigned next;
    char *b = bufs[next++ % 4];
    size_t o = 0, cap = sizeof bufs[0];
    b[o++] = '\'';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (o + 8 >= cap) {
            memcpy(b + o, "...", 3);
            o += 3;
            break;
        }
        if (*p < 0x20 || *p >= 0x7f || *p == '\\' || *p == '\'')
            o += (size_t)snprintf(b + o, cap - o, "\\x%02x", *p);
        else
            b[o++] = (char)*p;
    }
    b[o++] = '\'';
    b[o] = 0;
    return b;
}

bool grp_valid_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == ':' || ch == '_' || ch == '-';
        if (!ok || n >= GRP_MAX_ID_LEN)
            return false;
    }
    return n > 0;
}
