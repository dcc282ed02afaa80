/* Frame encoding and decoding of the local socket protocol (see proto.h).
 * Everything here treats its input as hostile: sizes are checked against
 * IPC_MAX_BODY and against what remains before any byte is read. */
#include "proto.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int nf;
} ipc_types[] = {
    [IPC_HELLO] = {"HELLO", 2},       [IPC_WELCOME] = {"WELCOME", 2},
    [IPC_ERROR] = {"ERROR", 1},       [IPC_MSG] = {"MSG", 4},
    [IPC_DONE] = {"DONE", 2},         [IPC_PUBLISH] = {"PUBLISH", 2},
    [IPC_NACK] = {"NACK", 1},         [IPC_INVOKE] = {"INVOKE", 2},
    [IPC_RESULT] = {"RESULT", 2},     [IPC_ACL] = {"ACL", 1},
    [IPC_BYE] = {"BYE", 1},           [IPC_CTL_STATUS] = {"CTL_STATUS", 0},
    [IPC_CTL_DEPLOY] = {"CTL_DEPLOY", 1}, [IPC_CTL_PUBLISH] = {"CTL_PUBLISH", 2},
    [IPC_CTL_SUBSCRIBE] = {"CTL_SUBSCRIBE", 1}, [IPC_CTL_INVOKE] = {"CTL_INVOKE", 2},
    [IPC_CTL_REPLY] = {"CTL_REPLY", 1},
};

_Static_assert(IPC_MAX_BODY < UINT32_MAX / 2, "body size must fit a uint32 with room");
_Static_assert(IPC_MAX_FIELDS <= 0xffff, "field count is a uint16");

int ipc_type_fields(uint8_t type)
{
    if (type >= sizeof ipc_types / sizeof ipc_types[0] || !ipc_types[type].name)
        return -1;
    return ipc_types[type].nf;
}

const char *ipc_type_name(uint8_t type)
{
    if (type >= sizeof ipc_types / sizeof ipc_types[0] || !ipc_types[type].name)
        return "UNKNOWN";
    return ipc_types[type].name;
}

/* Byte order is the host's; memcpy keeps unaligned buffers legal. */
void ipc_hdr_get(const uint8_t b[IPC_HDR_SIZE], ipc_hdr *h)
{
    memcpy(&h->len, b, 4);
    h->type = b[4];
    h->flags = b[5];
    memcpy(&h->nf, b + 6, 2);
    memcpy(&h->id, b + 8, 8);
}

void ipc_hdr_put(uint8_t b[IPC_HDR_SIZE], const ipc_hdr *h)
{
    memcpy(b, &h->len, 4);
    b[4] = h->type;
    b[5] = h->flags;
    memcpy(b + 6, &h->nf, 2);
    memcpy(b + 8, &h->id, 8);
}

int ipc_hdr_check(const ipc_hdr *h, const char **why)
{
    const char *w = NULL;
    int nf = ipc_type_fields(h->type);
    if (h->len > IPC_MAX_BODY)
        w = "frame body larger than 16 MiB";
    else if (nf < 0)
        w = "unknown frame type";
    else if (h->nf != nf)
        w = "wrong field count for the frame type";
    else if ((uint64_t)h->nf * 4 > h->len)
        w = "frame body shorter than its field lengths";
    if (why)
        *why = w;
    return w ? -1 : 0;
}

int ipc_fields(const ipc_hdr *h, const uint8_t *body, ipc_field *f)
{
    if (h->nf > IPC_MAX_FIELDS || h->len > IPC_MAX_BODY || (h->len && !body))
        return -1;
    size_t off = 0, len = h->len;
    for (unsigned i = 0; i < h->nf; i++) {
        uint32_t n;
        if (len - off < 4)
            return -1;
        memcpy(&n, body + off, 4);
        off += 4;
        if (n > len - off)
            return -1;
        f[i].p = body + off;
        f[i].n = n;
        off += n;
    }
    return off == len ? 0 : -1;
}

size_t ipc_frame_size(const ipc_field *f, unsigned nf)
{
    if (nf > IPC_MAX_FIELDS || (nf && !f))
        return 0;
    uint64_t body = 0;
    for (unsigned i = 0; i < nf; i++) {
        if (f[i].n && !f[i].p)
            return 0;
        body += 4 + (uint64_t)f[i].n;
        if (body > IPC_MAX_BODY)
            return 0;
    }
    return IPC_HDR_SIZE + (size_t)body;
}

size_t ipc_encode(uint8_t *buf, size_t cap, uint8_t type, uint8_t flags, uint64_t id,
                  const ipc_field *f, unsigned nf)
{
    size_t need = ipc_frame_size(f, nf);
    if (need == 0 || !buf || need > cap)
        return 0;
    ipc_hdr h = {(uint32_t)(need - IPC_HDR_SIZE), type, flags, (uint16_t)nf, id};
    ipc_hdr_put(buf, &h);
    size_t off = IPC_HDR_SIZE;
    for (unsigned i = 0; i < nf; i++) {
        memcpy(buf + off, &f[i].n, 4);
        off += 4;
        if (f[i].n)
            memcpy(buf + off, f[i].p, f[i].n);
        off += f[i].n;
    }
    return need;
}

int ipc_field_eq(ipc_field f, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return f.n == n && (n == 0 || memcmp(f.p, s, n) == 0);
}

char *ipc_field_dup(ipc_field f)
{
    if (f.n && memchr(f.p, '\0', f.n))
        return NULL;
    char *s = malloc((size_t)f.n + 1);
    if (!s)
        return NULL;
    if (f.n)
        memcpy(s, f.p, f.n);
    s[f.n] = '\0';
    return s;
}
