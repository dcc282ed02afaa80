/* Bump arena: every struct and string of a grp_doc lives here. */
#include "grp_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct grp_block {
    struct grp_block *next;
    size_t used, cap;
    max_align_t data[];
} grp_block;

struct grp_arena {
    grp_block *head;
};

#define GRP_BLOCK_MIN (64u * 1024u)

grp_arena *grp_arena_new(void)
{
    return calloc(1, sizeof(grp_arena));
}

void grp_arena_free(grp_arena *a)
{
    if (!a)
        return;
    for (grp_block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void *grp_arena_calloc(grp_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    const size_t al = sizeof(max_align_t);
    if (bytes > SIZE_MAX - al - sizeof(grp_block))
        return NULL;
    bytes = (bytes + al - 1) / al * al;
    if (bytes == 0)
        bytes = al;
    grp_block *b = a->head;
    if (!b || b->cap - b->used < bytes) {
        size_t cap = bytes > GRP_BLOCK_MIN ? bytes : GRP_BLOCK_MIN;
        b = malloc(sizeof(grp_block) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += bytes;
    memset(p, 0, bytes);
    return p;
}

char *grp_arena_strndup(grp_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = grp_arena_calloc(a, n + 1, 1);
    if (d)
        memcpy(d, s, n);
    return d;
}
