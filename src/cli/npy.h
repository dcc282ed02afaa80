/* .npy reader/writer for the edgeml CLI.
 *
 * Reads NumPy .npy files of format versions 1.0, 2.0 and 3.0: little-endian,
 * C order, dtypes bool ('|b1'), int8/16/32/64, uint8/16/32/64 and
 * float16/32/64. 0-d arrays (shape ()) and empty arrays are supported. The
 * header (a Python dict literal) is parsed strictly: exactly the keys 'descr',
 * 'fortran_order' and 'shape', no escapes, non-negative integer dims, a final
 * '\n'; the data size must match the file size exactly (no truncation, no
 * trailing bytes). Rejected: fortran_order True, big-endian, structured,
 * object, string, complex and datetime dtypes, bool bytes other than 0/1.
 *
 * bfloat16 has no NumPy dtype. Convention: bfloat16 tensors are stored as
 * '<u2' arrays holding the raw bfloat16 bit patterns. The parser reports such
 * a file as uint16; the CLI reinterprets it as bfloat16 only where the model
 * declares a bfloat16 input, and writes bfloat16 outputs as '<u2'.
 *
 * The parser works on a buffer (no I/O) so that it can be fuzzed; reading a
 * file is a thin wrapper. Nothing here prints. */
#ifndef EDGEML_CLI_NPY_H
#define EDGEML_CLI_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "edgeml/infer.h"

#define NPY_MAX_RANK 64
#define NPY_MAX_HEADER 65536 /* header bytes accepted (dict + padding) */
#define NPY_WHY_MAX 256

typedef struct npy_info {
    int version;            /* format major version: 1, 2 or 3 */
    edgeml_dtype dtype;     /* '<u2' is EDGEML_UINT16 (see bfloat16 above) */
    int rank;
    int64_t dims[NPY_MAX_RANK];
    size_t numel;
    size_t nbytes;          /* numel * element size */
    size_t data_offset;     /* data starts at buf + data_offset */
} npy_info;

/* Parses a whole .npy file held in buf[0, len). Returns 0 and fills *out, or
 * returns -1 and writes a one-line reason (no trailing newline) to why. */
int npy_parse(const void *buf, size_t len, npy_info *out, char *why, size_t whylen);

/* Reads a file into *buf (malloc'ed, freed by the caller; data suitably
 * aligned for any dtype) and parses it. Returns 0 or -1 with the reason. */
int npy_load_file(const char *path, npy_info *out, void **buf, char *why, size_t whylen);

/* The descr string for a dtype ("<f4", "|b1", ...; bfloat16 -> "<u2"), or
 * NULL if the dtype has no .npy representation (string, undefined). */
const char *npy_descr(edgeml_dtype dt);

/* Formats a complete header (magic, version, length, dict, padding to a
 * multiple of 64 bytes, '\n') for the given version (1, 2 or 3; 0 picks 1,
 * or 2 if the header does not fit). Returns its length, or 0 on error (bad
 * dtype, rank, dims, version or cap too small). */
size_t npy_format_header(char *buf, size_t cap, int version, edgeml_dtype dt, int rank,
                         const int64_t *dims);

/* Writes a .npy file (header + data) to f. Returns 0 or -1 with the reason;
 * nbytes must equal product(dims) * element size. Does not close f. */
int npy_write(FILE *f, int version, edgeml_dtype dt, int rank, const int64_t *dims,
              const void *data, size_t nbytes, char *why, size_t whylen);

#endif
