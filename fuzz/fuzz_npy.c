/* libFuzzer target: the CLI's .npy parser (src/cli/npy.c) on a buffer.
 * When a buffer parses, the header is re-formatted with npy_format_header and
 * the result must parse back to the same dtype and shape. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    npy_info info;
    char why[NPY_WHY_MAX];
    /* exactly sized copy so that ASan sees any over-read */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (npy_parse(buf, size, &info, why, sizeof why) != 0) {
        if (why[0] == 0 || memchr(why, 0, sizeof why) == NULL || strchr(why, '\n'))
            abort(); /* every failure must explain itself in one line */
        free(buf);
        return 0;
    }
    if (info.data_offset + info.nbytes != size || info.rank < 0 || info.rank > NPY_MAX_RANK)
        abort();
    /* touch the data: reads must stay inside the buffer */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < info.nbytes; i += 4096)
        sink ^= buf[info.data_offset + i];
    (void)sink;

    char hdr[256 + 24 * NPY_MAX_RANK];
    size_t hn = npy_format_header(hdr, sizeof hdr, info.version, info.dtype, info.rank, info.dims);
    if (hn == 0)
        abort();
    if (hn % 64 != 0)
        abort();
    size_t n2 = hn + info.nbytes;
    uint8_t *b2 = malloc(n2 ? n2 : 1);
    if (!b2)
        abort();
    memcpy(b2, hdr, hn);
    if (info.nbytes)
        memcpy(b2 + hn, buf + info.data_offset, info.nbytes);
    npy_info again;
    if (npy_parse(b2, n2, &again, why, sizeof why) != 0)
        abort();
    if (again.dtype != info.dtype || again.rank != info.rank || again.version != info.version ||
        memcmp(again.dims, info.dims, sizeof info.dims[0] * (size_t)info.rank) != 0)
        abort();
    free(b2);
    free(buf);
    return 0;
}
