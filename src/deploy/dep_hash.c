/* Streaming SHA-256 over libcrypto's EVP interface, and the module's error text. */
#include "deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

struct dep_sha256 {
    EVP_MD_CTX *ctx;
};

const char *dep_strerror(dep_status st)
{
    switch (st) {
    case DEP_OK: return "ok";
    case DEP_EINVAL: return "invalid argument";
    case DEP_EIO: return "I/O error";
    case DEP_ENOSPC: return "not enough space";
    case DEP_EREFUSED: return "package refused";
    case DEP_EDIGEST: return "digest mismatch";
    case DEP_ENOMEM: return "out of memory";
    case DEP_ENOENT: return "not found";
    }
    return "unknown error";
}

dep_status dep_errf(dep_err *e, dep_status st, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        /* one line, whatever names from outside (archive entries, URIs)
         * it quotes: control characters become '?' */
        for (char *p = e->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    }
    return st;
}

dep_status dep_sha256_new(dep_sha256 **h, dep_err *e)
{
    *h = calloc(1, sizeof **h);
    if (!*h)
        return dep_errf(e, DEP_ENOMEM, "sha256: out of memory");
    (*h)->ctx = EVP_MD_CTX_new();
    if (!(*h)->ctx || EVP_DigestInit_ex((*h)->ctx, EVP_sha256(), NULL) != 1) {
        dep_sha256_free(*h);
        *h = NULL;
        return dep_errf(e, DEP_ENOMEM, "sha256: cannot initialise the EVP digest");
    }
    return DEP_OK;
}

void dep_sha256_update(dep_sha256 *h, const void *p, size_t n)
{
    if (n)
        EVP_DigestUpdate(h->ctx, p, n);
}

dep_status dep_sha256_final(dep_sha256 *h, char hex[DEP_SHA_HEX], dep_err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
        return dep_errf(e, DEP_EIO, "sha256: digest failed");
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = 0;
    return DEP_OK;
}

dep_status dep_sha256_reset(dep_sha256 *h, dep_err *e)
{
    if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
        return dep_errf(e, DEP_EIO, "sha256: cannot reset the digest");
    return DEP_OK;
}

void dep_sha256_free(dep_sha256 *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

dep_status dep_sha256_file(const char *path, char hex[DEP_SHA_HEX], dep_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dep_errf(e, errno == ENOENT ? DEP_ENOENT : DEP_EIO, "%s: %s", path, strerror(errno));
    dep_sha256 *h;
    dep_status st = dep_sha256_new(&h, e);
    if (st) {
        close(fd);
        return st;
    }
    static __thread unsigned char buf[1 << 16];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = dep_errf(e, DEP_EIO, "%s: read: %s", path, strerror(errno));
            break;
        }
        if (r == 0) {
            st = dep_sha256_final(h, hex, e);
            break;
        }
        dep_sha256_update(h, buf, (size_t)r);
    }
    dep_sha256_free(h);
    close(fd);
    return st;
}

int dep_is_sha_hex(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == 0;
}
