/* Blocking client side of the protocol: connect, send one frame, receive one
 * frame with a timeout. Used by the SDK and the CLI (see proto.h). */
#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int ipc_connect(const char *path)
{
    struct sockaddr_un a;
    if (!path || !*path) {
        errno = EINVAL;
        return -1;
    }
    if (strlen(path) >= sizeof a.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int r;
    do
        r = connect(fd, (struct sockaddr *)&a, sizeof a);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EISCONN) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `ev` on fd until deadline (< 0: forever). 0, or -1 with errno
 * ETIMEDOUT (or poll's). */
static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        int ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            ms = left > 0x7fffffff ? 0x7fffffff : (int)left;
        }
        struct pollfd p = {fd, ev, 0};
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 0; /* readable, writable, or an error the next call reports */
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

int ipc_send(int fd, uint8_t type, uint8_t flags, uint64_t id, const ipc_field *f, unsigned nf)
{
    size_t size = ipc_frame_size(f, nf);
    if (size == 0 && nf > 0) {
        errno = EMSGSIZE;
        return -1;
    }
    if (size == 0)
        size = IPC_HDR_SIZE;
    uint8_t hdr[IPC_HDR_SIZE];
    uint32_t lens[IPC_MAX_FIELDS];
    struct iovec iov[1 + 2 * IPC_MAX_FIELDS];
    ipc_hdr h = {(uint32_t)(size - IPC_HDR_SIZE), type, flags, (uint16_t)nf, id};
    ipc_hdr_put(hdr, &h);
    unsigned n = 0;
    iov[n++] = (struct iovec){hdr, IPC_HDR_SIZE};
    for (unsigned i = 0; i < nf; i++) {
        lens[i] = f[i].n;
        iov[n++] = (struct iovec){&lens[i], 4};
        if (f[i].n)
            iov[n++] = (struct iovec){(void *)f[i].p, f[i].n};
    }
    struct iovec *v = iov;
    while (n > 0) {
        struct msghdr m = {0};
        m.msg_iov = v;
        m.msg_iovlen = n;
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (wait_fd(fd, POLLOUT, -1) < 0)
                    return -1;
                continue;
            }
            return -1;
        }
        size_t done = (size_t)w;
        while (n > 0 && done >= v->iov_len) {
            done -= v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (uint8_t *)v->iov_base + done;
            v->iov_len -= done;
        }
    }
    return 0;
}

/* Reads exactly n bytes. *got counts bytes read so far of the frame (to tell
 * a clean timeout from a stall mid-frame). */
static int read_full(int fd, uint8_t *p, size_t n, int64_t deadline, size_t *got)
{
    size_t off = 0;
    while (off < n) {
        if (deadline >= 0 && wait_fd(fd, POLLIN, deadline) < 0)
            return -1;
        ssize_t r = recv(fd, p + off, n - off, 0);
        if (r > 0) {
            off += (size_t)r;
            *got += (size_t)r;
            continue;
        }
        if (r == 0) {
            errno = *got ? EPROTO : ECONNRESET; /* EOF mid-frame is a broken frame */
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(fd, POLLIN, deadline) < 0)
                return -1;
            continue;
        }
        return -1;
    }
    return 0;
}

int ipc_recv(int fd, int timeout_ms, ipc_hdr *h, uint8_t **body, ipc_field f[IPC_MAX_FIELDS])
{
    uint8_t hb[IPC_HDR_SIZE];
    size_t got = 0;
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    *body = NULL;
    if (read_full(fd, hb, IPC_HDR_SIZE, deadline, &got) < 0)
        goto fail;
    ipc_hdr_get(hb, h);
    if (ipc_hdr_check(h, NULL) < 0) {
        errno = EPROTO;
        return -1;
    }
    uint8_t *b = malloc((size_t)h->len + 1);
    if (!b) {
        errno = ENOMEM;
        return -1;
    }
    b[h->len] = 0; /* the last field is NUL-terminated for free (see proto.h) */
    if (read_full(fd, b, h->len, deadline, &got) < 0) {
        free(b);
        goto fail;
    }
    if (ipc_fields(h, b, f) < 0) {
        free(b);
        errno = EPROTO;
        return -1;
    }
    *body = b;
    return 0;
fail:
    /* A timeout after part of a frame leaves the stream unusable: report it
     * as a broken frame so the caller closes the connection. */
    if (errno == ETIMEDOUT && got > 0)
        errno = EPROTO;
    return -1;
}
