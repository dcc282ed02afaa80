/* Shared helpers of the edgeml CLI subcommands (src/cli/cmd_*.c). The CLI
 * uses only the public API (edgeml/infer.h). */
#ifndef EDGEML_CLI_H
#define EDGEML_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "edgeml/infer.h"
#include "npy.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Prints "edgeml: <what>: <why>" as one line on stderr (control characters
 * in the text are escaped so that it stays one line). Returns CLI_EXIT_FAIL. */
int cli_error(const char *what, const char *fmt, ...) CLI_PRINTF(2, 3);
/* "edgeml: <cmd>: <why> (see 'edgeml <cmd> --help')"; returns CLI_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* 'name' quoted, with control/non-ASCII bytes as \xNN; the result lives in one
 * of 8 rotating static buffers (long names are cut with "..."). */
const char *cli_q(const char *s);
/* Same escaping, without the quotes (same rotating buffers). */
const char *cli_esc(const char *s);

int cli_is_help(const char *arg); /* "-h" or "--help" */

/* Option with a value: matches argv[*i] == name (value in argv[*i+1], *i is
 * advanced) or "name=value". Returns 1 (matched, *val set), 0 (no match) or
 * -1 (matched but the value is missing; usage error already printed). */
int cli_opt_value(int argc, char **argv, int *i, const char *name, const char **val,
                  const char *cmd);

/* --root DIR (or --root=DIR): cli_opt_value's contract, an empty DIR being a
 * usage error too (printed). */
int cli_opt_root(int argc, char **argv, int *i, const char *cmd, const char **root);

/* A group document's violations, one line each ("NAME:LINE:COL: msg" for
 * malformed JSON, "NAME: json.path: msg" otherwise), then how many were not
 * kept (cmd_validate.c; `edgeml validate` and `edgeml deploy`). */
struct grp_doc;
void cli_print_group_diags(FILE *f, const char *name, const struct grp_doc *doc);

/* Strict decimal parsing; 0 on success. */
int cli_parse_i64(const char *s, int64_t *v);

/* Model loading with the error printed ("edgeml: <path>: <msg>"). */
int cli_load_model(const char *path, edgeml_model **m);

/* "[1,3,'batch',224]"-style shape of a value info (symbols quoted), or "?"
 * when the rank is unknown. */
void cli_format_shape(const edgeml_value_info *vi, char *buf, size_t n);

/* JSON string literal of s (quotes included) to f. */
void cli_json_str(FILE *f, const char *s);
/* Reads a whole file into *buf (malloc'd; caller frees), stopping once more
 * than `max` bytes are read (the caller's parser refuses the excess).
 * 0, or prints and returns CLI_EXIT_FAIL. */
int cli_read_file(const char *path, size_t max, char **buf, size_t *len);

/* ---- --input NAME=FILE.npy handling (inputs.c) ---- */

typedef struct cli_input {
    const char *name;       /* points into argv (NAME part copied) */
    const char *path;
    char *name_buf;
    npy_info npy;
    void *file_buf;
    edgeml_dtype dtype;     /* the dtype given to the session */
    const void *data;       /* aligned data */
    void *aligned_copy;
} cli_input;

typedef struct cli_inputs {
    cli_input *v;
    size_t n, cap;
} cli_inputs;

/* Adds "NAME=FILE" (split at the first '='). Usage error -> CLI_EXIT_USAGE. */
int cli_inputs_add(cli_inputs *in, const char *spec, const char *cmd);
/* Checks names against the model (unknown, duplicate, not a tensor), reads the
 * .npy files, checks dtype and rank. Returns 0 or prints and returns
 * CLI_EXIT_FAIL. */
int cli_inputs_load(cli_inputs *in, const edgeml_model *m);
/* Every input the model requires (no default, not optional) is given: 0, or
 * prints which is missing and returns CLI_EXIT_FAIL. */
int cli_inputs_check_required(const cli_inputs *in, const edgeml_model *m);
/* Finds a loaded input by name, or NULL. */
const cli_input *cli_inputs_find(const cli_inputs *in, const char *name);
/* Sets every input on the session (copied). 0 or prints and CLI_EXIT_FAIL. */
int cli_inputs_set(const cli_inputs *in, edgeml_session *s, int flags);
void cli_inputs_free(cli_inputs *in);

#endif
