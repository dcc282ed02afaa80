/* libFuzzer target: Greengrass v1 group documents through grp_load (parse +
 * every validation rule). Whatever the bytes, the result is a status and a
 * document to free, never a crash. */
#include "group.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grp_doc *doc = NULL;
    grp_options opt = { .allow_run_as_root = size & 1 };
    grp_status st = grp_load((const char *)data, size, &opt, &doc);
    (void)st;
    if (doc) {
        for (size_t i = 0; i < doc->n_diags; i++)
            if (!doc->diags[i].msg) __builtin_trap(); /* every violation has a message */
        grp_doc_free(doc);
    }
    return 0;
}
