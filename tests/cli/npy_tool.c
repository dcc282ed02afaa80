/* Test helper for the CLI's .npy reader/writer (src/cli/npy.c).
 *   npy_tool parse FILE             -> "ok <version> <dtype> <shape...>" or "error: <why>"
 *   npy_tool copy IN OUT [VERSION]  -> parse IN, write OUT (VERSION 0..3), exit 0
 *   npy_tool copy-bf16 IN OUT       -> IN '<u2' rewritten as bfloat16 (written as '<u2')
 * Exit status 0 on success, 1 on a parse/write error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: npy_tool parse FILE | copy IN OUT [VERSION]\n");
        return 2;
    }
    npy_info info;
    void *buf = NULL;
    char why[NPY_WHY_MAX];
    if (npy_load_file(argv[2], &info, &buf, why, sizeof why) != 0) {
        printf("error: %s\n", why);
        return 1;
    }
    int rc = 0;
    if (strcmp(argv[1], "parse") == 0) {
        printf("ok %d %d", info.version, (int)info.dtype);
        for (int i = 0; i < info.rank; i++)
            printf(" %lld", (long long)info.dims[i]);
        printf("\n");
    } else if ((strcmp(argv[1], "copy") == 0 || strcmp(argv[1], "copy-bf16") == 0) && argc >= 4) {
        int version = argc >= 5 ? atoi(argv[4]) : 0;
        edgeml_dtype dt = info.dtype;
        if (strcmp(argv[1], "copy-bf16") == 0) {
            if (dt != EDGEML_UINT16) {
                printf("error: not uint16\n");
                free(buf);
                return 1;
            }
            dt = EDGEML_BFLOAT16;
        }
        FILE *f = fopen(argv[3], "wb");
        if (!f) {
            perror(argv[3]);
            free(buf);
            return 1;
        }
        if (npy_write(f, version, dt, info.rank, info.dims, (char *)buf + info.data_offset,
                      info.nbytes, why, sizeof why) != 0) {
            printf("error: %s\n", why);
            rc = 1;
        }
        if (fclose(f) != 0)
            rc = 1;
    } else {
        fprintf(stderr, "npy_tool: bad command\n");
        rc = 2;
    }
    free(buf);
    return rc;
}
