/* The PASS/FAIL tally of the C test programs: CHECK(cond, fmt, ...) counts
 * a check and prints "FAIL file:line: message" when cond is false;
 * CHECK_SUMMARY() prints the closing "N passed, N failed" line and is the
 * program's exit status (1 when a check failed). Include it from one .c
 * file per program (the counters are file-static). */
#ifndef EDGEML_TESTS_CHECK_H
#define EDGEML_TESTS_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

#define CHECK_SUMMARY() (printf("%d passed, %d failed\n", passed, failed), failed ? 1 : 0)

#endif
