/* Private to src/group: the arena, the parse context and diagnostics. */
#ifndef EDGEML_GRP_INTERNAL_H
#define EDGEML_GRP_INTERNAL_H

#include "group.h"

#include <jansson.h>
#include <stdarg.h>

#define GRP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- arena (arena.c): bump allocation, freed at once ---- */
grp_arena *grp_arena_new(void);
void grp_arena_free(grp_arena *a);
/* Zeroed memory for n * size bytes (overflow-checked), or NULL. */
void *grp_arena_calloc(grp_arena *a, size_t n, size_t size);
char *grp_arena_strndup(grp_arena *a, const char *s, size_t n);

/* ---- context shared by parse.c and rules.c (diag.c) ---- */
typedef struct grp_ctx {
    grp_arena *arena;
    grp_diag *diags;          /* GRP_MAX_DIAGS slots */
    size_t n_diags, n_dropped;
    bool nomem;
    const grp_options *opt;
    grp_group *g;
    char path[1024];          /* current JSON path while parsing */
    size_t path_len;
    bool default_mode_bad;    /* DefaultConfig's IsolationMode was not valid */
    bool path_cut;            /* the path did not fit (never with our keys) */
    /* where each list was found ("Resources.Resources" or, for a whole
     * get-*-definition-version output, "Resources.Definition.Resources") */
    const char *p_cores, *p_functions, *p_resources, *p_subscriptions, *p_loggers;
} grp_ctx;

/* Path stack: each push returns the mark to pop back to. */
size_t grp_push_key(grp_ctx *c, const char *key);
size_t grp_push_index(grp_ctx *c, size_t i);
void grp_pop(grp_ctx *c, size_t mark);

/* Violation at the current path (+ ".key" when key is not NULL). */
void grp_err(grp_ctx *c, const char *key, const char *fmt, ...) GRP_PRINTF(3, 4);
/* Violation at an explicit path. */
void grp_err_at(grp_ctx *c, const char *path, const char *fmt, ...) GRP_PRINTF(3, 4);

/* 'text' quoted with control/non-ASCII bytes as \xNN and long text cut
 * (rotating static buffers: use at most 4 per message). */
const char *grp_q(const char *s);

/* ---- rules shared by parse.c and rules.c ---- */
bool grp_valid_id(const char *s);   /* [a-zA-Z0-9:_-]{1,128} */

/* parse.c: JSON -> structs with the shape and local rules. */
void grp_parse(grp_ctx *c, json_t *root);
/* rules.c: rules that span entities (uniqueness, references, matrix). */
void grp_check(grp_ctx *c);

#endif
