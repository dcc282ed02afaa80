/* Topic and filter rules of src/ipc/topic.c: fixed cases, then random
 * topics/filters checked against a naive reference matcher. */
#include "topic.h"
#include "../common/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* good[] must be valid; bad[] invalid, with a reason. */
static void check_valid(const char *kind, int (*valid)(const char *, size_t, const char **),
                        const char *const *good, size_t ngood, const char *const *bad,
                        size_t nbad)
{
    for (size_t i = 0; i < ngood; i++)
        CHECK(valid(good[i], strlen(good[i]), NULL), "%s '%s' should be valid", kind, good[i]);
    for (size_t i = 0; i < nbad; i++) {
        const char *why = NULL;
        CHECK(!valid(bad[i], strlen(bad[i]), &why) && why,
              "%s '%s' should be invalid with a reason", kind, bad[i]);
    }
}

static int match(const char *f, const char *t)
{
    return ipc_topic_match(f, strlen(f), t, strlen(t));
}

static int fvalid(const char *f)
{
    return ipc_filter_valid(f, strlen(f), NULL);
}

static int tvalid(const char *t)
{
    return ipc_topic_valid(t, strlen(t), NULL);
}

/* Reference: split both into level arrays, then compare level by level. */
#define MAXL 16
static int split(const char *s, char lv[MAXL][16])
{
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *q = strchr(p, '/');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        memcpy(lv[n], p, len);
        lv[n][len] = 0;
        n++;
        if (!q)
            return n;
        p = q + 1;
    }
}

static int ref_match(const char *f, const char *t)
{
    char fl[MAXL][16], tl[MAXL][16];
    int fn = split(f, fl), tn = split(t, tl);
    if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
        return 0;
    for (int i = 0; i < fn; i++) {
        if (strcmp(fl[i], "#") == 0)
            return tn > i; /* at least one level where '#' stands: a/# !~ a */
        if (i >= tn)
            return 0;
        if (strcmp(fl[i], "+") != 0 && strcmp(fl[i], tl[i]) != 0)
            return 0;
    }
    return fn == tn;
}

static void fixed(void)
{
    struct {
        const char *f, *t;
        int m;
    } c[] = {
        {"a", "a", 1},
        {"a", "b", 0},
        {"a", "a/b", 0},
        {"a/b", "a", 0},
        {"a/#", "a", 0},
        {"a/#", "a/", 1},
        {"a/#", "a/b", 1},
        {"a/#", "a/b/c", 1},
        {"a/#", "ab", 0},
        {"a/#", "b/a", 0},
        {"#", "a", 1},
        {"#", "a/b/c", 1},
        {"#", "/", 1},
        {"#", "$SYS/x", 0},
        {"+", "$SYS", 0},
        {"+/x", "$SYS/x", 0},
        {"$SYS/#", "$SYS/x", 1},
        {"$SYS/+", "$SYS/x", 1},
        {"a/$x", "a/$x", 1},
        {"a/+", "a/$x", 1},
        {"+", "a", 1},
        {"+", "", 1},
        {"+", "a/b", 0},
        {"+", "/", 0},
        {"+/+", "/", 1},
        {"a/+/c", "a//c", 1},
        {"a/+/c", "a/b/c", 1},
        {"a/+/c", "a/b/d", 0},
        {"a/+/c", "a/b/c/d", 0},
        {"+/a", "/a", 1},
        {"a/+", "a/", 1},
        {"a/+", "a", 0},
        {"+/+/#", "a/b", 0},
        {"+/+/#", "a/b/c", 1},
        {"camera/+/frames", "camera/cam1/frames", 1},
        {"camera/+/frames", "camera/cam1/frames/x", 0},
        {"a//b", "a//b", 1},
        {"a//b", "a/b", 0},
        {"A", "a", 0},
        {"/", "/", 1},
        {"/#", "/", 1},
        {"/#", "a", 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        CHECK(match(c[i].f, c[i].t) == c[i].m, "match(%s, %s) != %d", c[i].f, c[i].t, c[i].m);

    const char *good_f[] = {"#", "+", "a", "a/#", "a/+/b", "+/+", "/", "//", "+/#", "$SYS/#",
                            "a/b/c", "a//+", "/+/"};
    const char *bad_f[] = {"", "a/#/b", "a+", "+a", "a#", "#a", "a/b#", "a/+b", "##", "++",
                           "#/", "#/a", "a/#/"};
    check_valid("filter", ipc_filter_valid, good_f, sizeof good_f / sizeof *good_f, bad_f,
                sizeof bad_f / sizeof *bad_f);
    const char *good_t[] = {"a", "/", "a/b", "a//b", "$SYS/x", " ", "a b/c", "\xc3\xa9t\xc3\xa9"};
    const char *bad_t[] = {"", "a/+", "#", "a/#", "+", "a+b", "a#"};
    check_valid("topic", ipc_topic_valid, good_t, sizeof good_t / sizeof *good_t, bad_t,
                sizeof bad_t / sizeof *bad_t);
    /* NUL inside, NULL pointers, zero lengths */
    CHECK(!ipc_topic_valid("a\0b", 3, NULL), "topic with NUL");
    CHECK(!ipc_filter_valid("a\0b", 3, NULL), "filter with NUL");
    CHECK(!ipc_topic_valid(NULL, 0, NULL), "NULL topic");
    CHECK(!ipc_filter_valid(NULL, 5, NULL), "NULL filter");
    CHECK(!ipc_topic_match(NULL, 0, "a", 1), "NULL filter matches nothing");
    CHECK(!ipc_topic_match("a", 1, NULL, 0), "NULL topic matched");
    CHECK(!ipc_topic_match("", 0, "", 0), "empty filter matched");
    /* lengths are honoured, not NUL terminators */
    CHECK(ipc_topic_match("a/bXXX", 3, "a/bYYY", 3), "length-bounded match");
    CHECK(!ipc_topic_match("a/#", 3, "a/bc", 1), "length-bounded: a/# vs a");
}

static void hostile_lengths(void)
{
    size_t big = IPC_TOPIC_MAX + 1;
    char *s = malloc(big + 1);
    if (!s) {
        failed++;
        return;
    }
    memset(s, 'a', big);
    s[big] = 0;
    CHECK(ipc_topic_valid(s, IPC_TOPIC_MAX, NULL), "max-length topic valid");
    CHECK(!ipc_topic_valid(s, big, NULL), "over-long topic invalid");
    CHECK(ipc_filter_valid(s, IPC_TOPIC_MAX, NULL), "max-length filter valid");
    CHECK(!ipc_filter_valid(s, big, NULL), "over-long filter invalid");
    CHECK(!ipc_filter_valid(s, (size_t)-1, NULL), "SIZE_MAX filter invalid");
    CHECK(!ipc_topic_valid(s, (size_t)-1, NULL), "SIZE_MAX topic invalid");
    /* many empty levels */
    memset(s, '/', IPC_TOPIC_MAX);
    CHECK(ipc_topic_valid(s, IPC_TOPIC_MAX, NULL), "all-slash topic valid");
    CHECK(ipc_topic_match(s, IPC_TOPIC_MAX, s, IPC_TOPIC_MAX), "all-slash topic matches itself");
    for (size_t i = 0; i < IPC_TOPIC_MAX; i += 2)
        s[i] = '+';
    CHECK(ipc_filter_valid(s, IPC_TOPIC_MAX, NULL), "alternating +/ filter valid");
    free(s);
}

static void random_checks(unsigned n)
{
    static const char alpha[] = "ab$/+#";
    unsigned seed = 12345;
    for (unsigned k = 0; k < n; k++) {
        char f[16], t[16];
        int fl = 1 + rand_r(&seed) % 8, tl = 1 + rand_r(&seed) % 8;
        for (int i = 0; i < fl; i++)
            f[i] = alpha[rand_r(&seed) % 6];
        for (int i = 0; i < tl; i++)
            t[i] = alpha[rand_r(&seed) % 4]; /* topics: no wildcards */
        f[fl] = t[tl] = 0;
        if (!fvalid(f) || !tvalid(t))
            continue;
        int want = ref_match(f, t), got = match(f, t);
        if (want != got) {
            failed++;
            printf("FAIL random: match(%s, %s) = %d, reference %d\n", f, t, got, want);
        } else
            passed++;
    }
    /* The validator against a per-level reference. */
    for (unsigned k = 0; k < n; k++) {
        char f[16], lv[MAXL][16];
        int fl = 1 + rand_r(&seed) % 8;
        for (int i = 0; i < fl; i++)
            f[i] = alpha[rand_r(&seed) % 6];
        f[fl] = 0;
        int ln = split(f, lv), want = 1;
        for (int i = 0; i < ln; i++) {
            size_t L = strlen(lv[i]);
            if ((strchr(lv[i], '+') || strchr(lv[i], '#')) && L != 1)
                want = 0;
            if (strcmp(lv[i], "#") == 0 && i != ln - 1)
                want = 0;
        }
        if (fvalid(f) != want) {
            failed++;
            printf("FAIL random: filter_valid(%s) = %d, reference %d\n", f, !want, want);
        } else
            passed++;
    }
}

int main(void)
{
    fixed();
    hostile_lengths();
    random_checks(200000);
    return CHECK_SUMMARY();
}
