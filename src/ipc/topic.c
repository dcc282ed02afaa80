/* MQTT topic names and filters: validation and matching (see topic.h). */
#include "topic.h"

#include <string.h>

int ipc_topic_valid(const char *t, size_t n, const char **why)
{
    const char *w = NULL;
    if (!t || n == 0)
        w = "empty topic";
    else if (n > IPC_TOPIC_MAX)
        w = "topic longer than 65535 bytes";
    else if (memchr(t, '\0', n))
        w = "topic contains a NUL byte";
    else if (memchr(t, '+', n) || memchr(t, '#', n))
        w = "topic contains a wildcard ('+' or '#')";
    if (why)
        *why = w;
    return w == NULL;
}

int ipc_filter_valid(const char *f, size_t n, const char **why)
{
    const char *w = NULL;
    if (!f || n == 0)
        w = "empty topic filter";
    else if (n > IPC_TOPIC_MAX)
        w = "topic filter longer than 65535 bytes";
    else if (memchr(f, '\0', n))
        w = "topic filter contains a NUL byte";
    else {
        size_t s = 0; /* start of the current level */
        for (size_t i = 0; i <= n && !w; i++) {
            if (i < n && f[i] != '/')
                continue;
            size_t len = i - s;
            const char *lv = f + s;
            if (len > 1 && memchr(lv, '+', len))
                w = "'+' must be a whole level of the topic filter";
            else if (len > 1 && memchr(lv, '#', len))
                w = "'#' must be a whole level of the topic filter";
            else if (len == 1 && lv[0] == '#' && i != n)
                w = "'#' must be the last level of the topic filter";
            s = i + 1;
        }
    }
    if (why)
        *why = w;
    return w == NULL;
}

static size_t level_end(const char *s, size_t i, size_t n)
{
    const char *p = i < n ? memchr(s + i, '/', n - i) : NULL;
    return p ? (size_t)(p - s) : n;
}

int ipc_topic_match(const char *f, size_t fn, const char *t, size_t tn)
{
    if (!f || !t || fn == 0)
        return 0;
    /* MQTT 4.7.2: a leading wildcard does not match a '$' topic. */
    if (tn > 0 && t[0] == '$' && (f[0] == '+' || f[0] == '#'))
        return 0;
    size_t fi = 0, ti = 0;
    for (;;) {
        size_t fe = level_end(f, fi, fn), flen = fe - fi;
        /* Reaching here means the topic has a level at this depth, so '#'
         * (the parent and everything below) matches; "a/#" never sees "a"'s
         * missing second level. */
        if (flen == 1 && f[fi] == '#')
            return 1;
        size_t te = level_end(t, ti, tn);
        if (!(flen == 1 && f[fi] == '+')) {
            if (te - ti != flen || memcmp(f + fi, t + ti, flen) != 0)
                return 0;
        }
        int f_last = fe == fn, t_last = te == tn;
        if (f_last || t_last)
            return f_last && t_last;
        fi = fe + 1;
        ti = te + 1;
    }
}
