/* Shared by the core tests' functions (tests/core/fns): start records, a
 * monotonic clock and JSON string escaping. Header-only so each function is
 * one executable from one .c file. */
#ifndef CORE_TEST_FN_COMMON_H
#define CORE_TEST_FN_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CLOCK_MONOTONIC in ms: one clock for every process of the host, so the
 * driver can order events of different processes. */
static inline double fn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline void fn_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Appends "KIND PID MS [TEXT]\n" to $FN_STATE/<id>.<kind>s with one
 * O_APPEND write (records of concurrent processes never interleave) and
 * returns how many lines the file then holds (0 on error or without
 * FN_STATE). */
static inline long fn_record(const char *id, const char *kind, const char *text)
{
    const char *dir = getenv("FN_STATE");
    if (!dir || !*dir || !id)
        return 0;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s.%ss", dir, id, kind) >= (int)sizeof path)
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0)
        return 0;
    char line[512];
    int n = snprintf(line, sizeof line, "%s %ld %.3f%s%.200s\n", kind, (long)getpid(),
                     fn_now_ms(), text ? " " : "", text ? text : "");
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    ssize_t w = write(fd, line, (size_t)n);
    close(fd);
    if (w != n)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long count = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        count += c == '\n';
    fclose(f);
    return count;
}

static inline long fn_record_start(const char *id)
{
    return fn_record(id, "start", NULL);
}

/* Appends s (n bytes) to buf as a JSON string body; returns the new length
 * (stops before cap). */
static inline size_t fn_json_esc(char *buf, size_t len, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n && len + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(buf + len, "\\u00", 4);
            buf[len + 4] = hex[c >> 4];
            buf[len + 5] = hex[c & 15];
            len += 6;
        } else {
            buf[len++] = (char)c;
        }
    }
    buf[len] = 0;
    return len;
}

#endif
