/* Fetching sources into files: file, http(s), s3. See dep_fetch.h. */
#include "dep_fetch.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "dep_sigv4.h"

#define DF_ERRBODY_MAX 4096
#define DF_PATH_MAX 4096

static uint64_t df_free_bytes(const char *path) {
    char dir[DF_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0) return UINT64_MAX; /* unknown: the write will tell */
    return (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

static void df_sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static double df_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int df_write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---------------------------------------------------------------- files */

static dep_status df_fetch_file(const dep_fetch_opts *o, const char *path, dep_fetch_result *r,
                                dep_err *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return dep_errf(e, errno == ENOENT ? DEP_ENOENT : DEP_EIO, "%s: %s", o->uri,
                        strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dep_errf(e, DEP_EINVAL, "%s: not a regular file", o->uri);
    }
    r->size = (uint64_t)st.st_size;
    r->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    r->attempts = 1;
    if (o->sha256 && dep_is_sha_hex(o->sha256) && o->size == (int64_t)st.st_size &&
        o->mtime_ns != 0 && o->mtime_ns == r->mtime_ns) {
        close(fd); /* same size and mtime: trust the recorded digest */
        memcpy(r->sha256, o->sha256, DEP_SHA_HEX);
        r->unchanged = 1;
        return DEP_OK;
    }
    uint64_t reserve = o->reserve ? o->reserve : (1u << 20);
    if (df_free_bytes(o->dest) < r->size + reserve) {
        close(fd);
        return dep_errf(e, DEP_ENOSPC, "%s: not enough free space for %llu bytes next to %s",
                        o->uri, (unsigned long long)r->size, o->dest);
    }
    char part[DF_PATH_MAX];
    if (snprintf(part, sizeof part, "%s.part", o->dest) >= (int)sizeof part) {
        close(fd);
        return dep_errf(e, DEP_EINVAL, "%s: destination path too long", o->dest);
    }
    dep_sha256 *h = NULL;
    dep_status s = dep_sha256_new(&h, e);
    if (s != DEP_OK) {
        close(fd);
        return s;
    }
    int out = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        s = dep_errf(e, DEP_EIO, "%s: %s", part, strerror(errno));
        goto done;
    }
    static __thread char buf[1 << 16]; /* per thread: fetches may run in parallel */
    uint64_t got = 0;
    double t0 = df_now();
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            s = dep_errf(e, DEP_EIO, "%s: read: %s", o->uri, strerror(errno));
            goto done;
        }
        if (n == 0) break;
        dep_sha256_update(h, buf, (size_t)n);
        if (df_write_all(out, buf, (size_t)n) != 0) {
            s = dep_errf(e, errno == ENOSPC || errno == EDQUOT ? DEP_ENOSPC : DEP_EIO,
                         "%s: write: %s", part, strerror(errno));
            goto done;
        }
        got += (uint64_t)n;
        if (o->progress) {
            double dt = df_now() - t0;
            if (o->progress(o->ctx, got, r->size, dt > 0 ? (double)got / dt : 0)) {
                s = dep_errf(e, DEP_EINVAL, "%s: cancelled", o->uri);
                goto done;
            }
        }
    }
    if ((s = dep_sha256_final(h, r->sha256, e)) != DEP_OK) goto done;
    r->size = got;
    if (o->sha256 && !strcmp(o->sha256, r->sha256)) {
        r->unchanged = 1; /* touched but identical */
        unlink(part);
        goto done;
    }
    if (fsync(out) != 0 || close(out) != 0) {
        out = -1;
        s = dep_errf(e, DEP_EIO, "%s: %s", part, strerror(errno));
        goto done;
    }
    out = -1;
    if (rename(part, o->dest) != 0) s = dep_errf(e, DEP_EIO, "%s: %s", o->dest, strerror(errno));
done:
    if (out >= 0) close(out);
    if (s != DEP_OK) unlink(part);
    close(fd);
    dep_sha256_free(h);
    return s;
}

/* ----------------------------------------------------------------- HTTP */

typedef struct {
    const dep_fetch_opts *o;
    int fd;                 /* the part file */
    dep_sha256 *h;
    uint64_t offset;        /* bytes already in the part file when the request began */
    uint64_t written;       /* bytes written by this response */
    long status;
    int64_t content_length; /* -1 unknown */
    int64_t range_start;    /* from Content-Range, -1 none */
    char etag[256];
    int started;            /* body of a 2xx response began */
    char errbody[DF_ERRBODY_MAX];
    size_t errlen;
    dep_status abort_st;    /* set when the write callback aborts */
    char abort_msg[512];
    const char *etag_path;
    const char *validator;  /* ETag the partial download belongs to ("" none) */
    int restart;            /* the partial belongs to another version: start over */
    double t0;
    uint64_t reserve;
} df_xfer;

static int df_ci_prefix(const char *s, size_t n, const char *p) {
    size_t l = strlen(p);
    return n >= l && strncasecmp(s, p, l) == 0;
}

/* The value of a header line of n bytes after its skip-byte name, as a
 * NUL-terminated string cut to cap - 1 bytes. */
static void header_value(const char *buf, size_t n, size_t skip, char *out, size_t cap) {
    size_t vl = n - skip;
    if (vl >= cap) vl = cap - 1;
    memcpy(out, buf + skip, vl);
    out[vl] = 0;
}

static size_t df_header_cb(char *buf, size_t size, size_t nitems, void *ud) {
    df_xfer *x = ud;
    size_t n = size * nitems;
    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) { /* a new response (redirects, 100) */
        const char *sp = memchr(buf, ' ', n);
        x->status = 0;
        if (sp && (size_t)(sp - buf) + 4 <= n && isdigit((unsigned char)sp[1]) &&
            isdigit((unsigned char)sp[2]) && isdigit((unsigned char)sp[3]))
            x->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        x->etag[0] = 0;
        x->content_length = -1;
        x->range_start = -1;
        return n;
    }
    const char *v;
    size_t vl;
    if (df_ci_prefix(buf, n, "etag:")) {
        v = buf + 5;
        vl = n - 5;
        while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
        int ok = vl > 0 && vl < sizeof x->etag;
        for (size_t i = 0; ok && i < vl; i++)
            if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e) ok = 0;
        if (ok) {
            memcpy(x->etag, v, vl);
            x->etag[vl] = 0;
        }
    } else if (df_ci_prefix(buf, n, "content-length:")) {
        char tmp[32];
        header_value(buf, n, 15, tmp, sizeof tmp);
        char *end;
        errno = 0;
        unsigned long long cl = strtoull(tmp, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n') end++;
        if (!errno && !*end && cl <= (unsigned long long)INT64_MAX && strchr(tmp, '-') == NULL)
            x->content_length = (int64_t)cl;
    } else if (df_ci_prefix(buf, n, "content-range:")) {
        char tmp[96];
        header_value(buf, n, 14, tmp, sizeof tmp);
        unsigned long long a = 0, b = 0;
        if (sscanf(tmp, " bytes %llu-%llu", &a, &b) == 2 && a <= b &&
            a <= (unsigned long long)INT64_MAX)
            x->range_start = (int64_t)a;
    }
    return n;
}

static size_t df_abort(df_xfer *x, dep_status st, const char *msg) {
    x->abort_st = st;
    snprintf(x->abort_msg, sizeof x->abort_msg, "%s", msg);
    return 0; /* makes curl fail with CURLE_WRITE_ERROR */
}

static size_t df_write_cb(char *p, size_t size, size_t nmemb, void *ud) {
    df_xfer *x = ud;
    size_t n = size * nmemb;
    if (x->status < 200 || x->status > 299) {
        size_t room = sizeof x->errbody - 1 - x->errlen;
        if (n < room) room = n;
        memcpy(x->errbody + x->errlen, p, room);
        x->errlen += room;
        x->errbody[x->errlen] = 0;
        return n;
    }
    if (!x->started) {
        x->started = 1;
        if (x->status == 206) {
            if (x->range_start < 0 || (uint64_t)x->range_start != x->offset)
                return df_abort(x, DEP_EIO, "206 response with a Content-Range that does not "
                                            "start where the partial download ends");
            if (x->validator && x->validator[0] && x->etag[0] && strcmp(x->etag, x->validator)) {
                /* the server ignored If-Range/If-Match and the object changed */
                x->restart = 1;
                return 0;
            }
        } else if (x->offset > 0) {
            /* the server sent the whole object (changed, or no Range support) */
            if (ftruncate(x->fd, 0) != 0 || lseek(x->fd, 0, SEEK_SET) != 0)
                return df_abort(x, DEP_EIO, "cannot truncate the partial download");
            dep_err e2;
            if (dep_sha256_reset(x->h, &e2) != DEP_OK) return df_abort(x, DEP_EIO, e2.msg);
            x->offset = 0;
        }
        if (x->content_length >= 0 &&
            df_free_bytes(x->o->dest) < (uint64_t)x->content_length + x->reserve) {
            char m[200];
            snprintf(m, sizeof m, "not enough free space for %lld bytes",
                     (long long)x->content_length);
            return df_abort(x, DEP_ENOSPC, m);
        }
        if (x->offset == 0) {
            /* remember the validator so that an interrupted body can resume */
            unlink(x->etag_path);
            if (x->etag[0] && strncmp(x->etag, "W/", 2) != 0) {
                int fd = open(x->etag_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd >= 0) {
                    if (df_write_all(fd, x->etag, strlen(x->etag)) != 0) {}
                    close(fd);
                }
            }
        }
    }
    if (df_write_all(x->fd, p, n) != 0) {
        char m[200];
        snprintf(m, sizeof m, "write: %s", strerror(errno));
        return df_abort(x, errno == ENOSPC || errno == EDQUOT ? DEP_ENOSPC : DEP_EIO, m);
    }
    dep_sha256_update(x->h, p, n);
    x->written += n;
    return n;
}

static int df_progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                          curl_off_t ulnow) {
    df_xfer *x = ud;
    if (!x->o->progress || x->status < 200 || x->status > 299) return 0;
    double dt = df_now() - x->t0;
    uint64_t total = dltotal > 0 ? x->offset + (uint64_t)dltotal : 0;
    return x->o->progress(x->o->ctx, x->offset + (uint64_t)(dlnow > 0 ? dlnow : 0), total,
                          dt > 0 ? (double)dlnow / dt : 0);
}

/* S3's <Code>...</Code>, sanitised to [A-Za-z0-9.], or "". */
static void df_s3_code(const char *body, char *out, size_t n) {
    out[0] = 0;
    const char *a = strstr(body, "<Code>");
    if (!a) return;
    a += 6;
    size_t i = 0;
    while (*a && *a != '<' && i + 1 < n) {
        if (isalnum((unsigned char)*a) || *a == '.') out[i++] = *a;
        a++;
    }
    out[i] = 0;
}

static int df_retryable_curl(CURLcode c) {
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

typedef struct {
    int s3;
    char url[DF_PATH_MAX * 3 + 512];
    char host[512];      /* Host header value (s3) */
    char canon_path[DF_PATH_MAX + 128]; /* raw path for signing (s3) */
    char region[64];
    dep_aws_creds creds;
} df_target;

int dep_s3_split(const char *uri, char *bucket, size_t bn, char *key, size_t kn) {
    if (strncmp(uri, "s3://", 5) != 0) return -1;
    const char *b = uri + 5, *sl = strchr(b, '/');
    if (!sl) return -1;
    size_t bl = (size_t)(sl - b), kl = strlen(sl + 1);
    if (bl < 3 || bl > 63 || bl >= bn || kl < 1 || kl > 1024 || kl >= kn) return -1;
    for (size_t i = 0; i < bl; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' ||
              b[i] == '.'))
            return -1;
    for (size_t i = 0; i < kl; i++)
        if ((unsigned char)sl[1 + i] < 0x20 || sl[1 + i] == 0x7f) return -1;
    memcpy(bucket, b, bl);
    bucket[bl] = 0;
    memcpy(key, sl + 1, kl + 1);
    return 0;
}

static dep_status df_s3_target(const dep_fetch_opts *o, df_target *t, dep_err *e) {
    char bucket[64], key[1025], err[512] = "";
    if (dep_s3_split(o->uri, bucket, sizeof bucket, key, sizeof key) != 0)
        return dep_errf(e, DEP_EINVAL, "%s: not a valid s3://BUCKET/KEY", o->uri);
    if (dep_aws_load_creds(&t->creds, err, sizeof err) != 0)
        return dep_errf(e, DEP_EINVAL, "%s: %s", o->uri, err);
    dep_aws_region(t->region, sizeof t->region);
    for (const char *p = t->region; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-'))
            return dep_errf(e, DEP_EINVAL, "%s: bad AWS region", o->uri);
    char ep[1024], base[1100], prefix[1024] = "";
    if (dep_aws_endpoint("S3", ep, sizeof ep)) {
        const char *sep = strstr(ep, "://");
        if (!sep || (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)))
            return dep_errf(e, DEP_EINVAL, "AWS endpoint '%s' is not an http(s) URL", ep);
        const char *auth = sep + 3, *pp = strchr(auth, '/');
        size_t al = pp ? (size_t)(pp - auth) : strlen(auth);
        const char *at = memchr(auth, '@', al);
        if (at) {
            al -= (size_t)(at + 1 - auth);
            auth = at + 1;
        }
        if (al == 0 || al >= sizeof t->host)
            return dep_errf(e, DEP_EINVAL, "AWS endpoint '%s' has no host", ep);
        memcpy(t->host, auth, al);
        t->host[al] = 0;
        if (pp) snprintf(prefix, sizeof prefix, "%s", pp);
        snprintf(base, sizeof base, "%.*s%s", (int)(sep + 3 - ep), ep, t->host);
        snprintf(t->canon_path, sizeof t->canon_path, "%s/%s/%s", prefix, bucket, key);
    } else if (strchr(bucket, '.')) { /* dots break the TLS name: path style */
        snprintf(t->host, sizeof t->host, "s3.%s.amazonaws.com", t->region);
        snprintf(base, sizeof base, "https://%s", t->host);
        snprintf(t->canon_path, sizeof t->canon_path, "/%s/%s", bucket, key);
    } else {
        snprintf(t->host, sizeof t->host, "%s.s3.%s.amazonaws.com", bucket, t->region);
        snprintf(base, sizeof base, "https://%s", t->host);
        snprintf(t->canon_path, sizeof t->canon_path, "/%s", key);
    }
    char enc[DF_PATH_MAX * 3 + 64];
    if (dep_sigv4_uri_encode(t->canon_path, strlen(t->canon_path), 1, enc, sizeof enc) < 0 ||
        snprintf(t->url, sizeof t->url, "%s%s", base, enc) >= (int)sizeof t->url)
        return dep_errf(e, DEP_EINVAL, "%s: key too long", o->uri);
    t->s3 = 1;
    return DEP_OK;
}

static int df_read_small(const char *path, char *out, size_t n) {
    out[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t r = read(fd, out, n - 1);
    close(fd);
    if (r <= 0) return -1;
    out[r] = 0;
    for (ssize_t i = 0; i < r; i++)
        if ((unsigned char)out[i] < 0x21 || (unsigned char)out[i] > 0x7e) {
            out[0] = 0;
            return -1;
        }
    return 0;
}

/* Hashes the first len bytes of fd (the kept partial download). */
static dep_status df_rehash(int fd, uint64_t len, dep_sha256 *h, dep_err *e, const char *part) {
    static __thread char buf[1 << 16];
    if (lseek(fd, 0, SEEK_SET) != 0) return dep_errf(e, DEP_EIO, "%s: seek", part);
    uint64_t left = len;
    while (left) {
        ssize_t n = read(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return dep_errf(e, DEP_EIO, "%s: read: %s", part, n ? strerror(errno) : "short");
        dep_sha256_update(h, buf, (size_t)n);
        left -= (uint64_t)n;
    }
    return DEP_OK;
}

static struct curl_slist *df_add(struct curl_slist *l, int *bad, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct curl_slist *df_add(struct curl_slist *l, int *bad, const char *fmt, ...) {
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        *bad = 1;
        return l;
    }
    struct curl_slist *nl = curl_slist_append(l, line);
    if (!nl) {
        *bad = 1;
        return l;
    }
    return nl;
}

static dep_status df_fetch_http(const dep_fetch_opts *o, dep_fetch_result *r, dep_err *e) {
    df_target *t = calloc(1, sizeof *t);
    if (!t) return dep_errf(e, DEP_ENOMEM, "%s: out of memory", o->uri);
    dep_status s = DEP_OK;
    if (!strncmp(o->uri, "s3://", 5)) {
        if ((s = df_s3_target(o, t, e)) != DEP_OK) {
            free(t);
            return s;
        }
    } else {
        if (strlen(o->uri) >= sizeof t->url) {
            free(t);
            return dep_errf(e, DEP_EINVAL, "URI too long");
        }
        for (const char *p = o->uri; *p; p++)
            if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
                free(t);
                return dep_errf(e, DEP_EINVAL, "%s: URI has spaces or control characters",
                                o->uri);
            }
        snprintf(t->url, sizeof t->url, "%s", o->uri);
    }
    char part[DF_PATH_MAX], etag_path[DF_PATH_MAX + 8];
    if (snprintf(part, sizeof part, "%s.part", o->dest) >= (int)sizeof part) {
        free(t);
        return dep_errf(e, DEP_EINVAL, "%s: destination path too long", o->dest);
    }
    snprintf(etag_path, sizeof etag_path, "%s.etag", part);

    df_xfer x;
    memset(&x, 0, sizeof x);
    x.o = o;
    x.etag_path = etag_path;
    x.reserve = o->reserve ? o->reserve : (1u << 20);
    x.fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (x.fd < 0) {
        free(t);
        return dep_errf(e, DEP_EIO, "%s: %s", part, strerror(errno));
    }
    if ((s = dep_sha256_new(&x.h, e)) != DEP_OK) {
        close(x.fd);
        free(t);
        return s;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        s = dep_errf(e, DEP_ENOMEM, "%s: curl_easy_init failed", o->uri);
        goto out;
    }
    unsigned max_attempts = o->max_attempts ? o->max_attempts : 5;
    unsigned delay = o->backoff_ms ? o->backoff_ms : 500;
    char cerr[CURL_ERROR_SIZE];
    for (unsigned attempt = 1;; attempt++) {
        r->attempts = attempt;
        /* where the partial download stands */
        struct stat st;
        char validator[256] = "";
        if (fstat(x.fd, &st) != 0) {
            s = dep_errf(e, DEP_EIO, "%s: %s", part, strerror(errno));
            goto out;
        }
        x.offset = (uint64_t)st.st_size;
        if (x.offset > 0 && df_read_small(etag_path, validator, sizeof validator) != 0)
            x.offset = 0; /* no validator: the bytes cannot be trusted */
        if (x.offset == 0 && st.st_size > 0 && ftruncate(x.fd, 0) != 0) {
            s = dep_errf(e, DEP_EIO, "%s: %s", part, strerror(errno));
            goto out;
        }
        if ((s = dep_sha256_reset(x.h, e)) != DEP_OK) goto out;
        if (x.offset > 0 && (s = df_rehash(x.fd, x.offset, x.h, e, part)) != DEP_OK) goto out;
        if (lseek(x.fd, (off_t)x.offset, SEEK_SET) < 0) {
            s = dep_errf(e, DEP_EIO, "%s: seek: %s", part, strerror(errno));
            goto out;
        }
        x.written = 0;
        x.status = 0;
        x.started = 0;
        x.errlen = 0;
        x.errbody[0] = 0;
        x.abort_st = DEP_OK;
        x.restart = 0;
        x.validator = validator;
        x.etag[0] = 0;
        x.content_length = -1;
        x.range_start = -1;
        x.t0 = df_now();
        r->resumed_from = x.offset;

        int bad = 0;
        struct curl_slist *hl = NULL;
        if (t->s3) {
            char date[17], auth[DEP_SIGV4_AUTH_MAX], serr[300];
            dep_sigv4_now(date);
            dep_sigv4_req sr = {.method = "GET", .host = t->host, .path = t->canon_path,
                                .payload_hash = DEP_SIGV4_EMPTY_SHA256, .region = t->region,
                                .service = "s3", .amz_date = date, .content_sha256_header = 1};
            if (dep_sigv4_sign(&sr, &t->creds, auth, sizeof auth, serr, sizeof serr) != 0) {
                s = dep_errf(e, DEP_EINVAL, "%s: %s", o->uri, serr);
                goto out;
            }
            hl = df_add(hl, &bad, "Host: %s", t->host);
            hl = df_add(hl, &bad, "x-amz-date: %s", date);
            hl = df_add(hl, &bad, "x-amz-content-sha256: %s", DEP_SIGV4_EMPTY_SHA256);
            if (t->creds.session_token[0])
                hl = df_add(hl, &bad, "x-amz-security-token: %s", t->creds.session_token);
            hl = df_add(hl, &bad, "Authorization: %s", auth);
        }
        if (x.offset > 0) {
            hl = df_add(hl, &bad, "Range: bytes=%llu-", (unsigned long long)x.offset);
            hl = df_add(hl, &bad, "If-Range: %s", validator);
            if (t->s3) /* S3 answers 412 when the object changed since */
                hl = df_add(hl, &bad, "If-Match: %s", validator);
        } else if (o->etag && *o->etag) {
            int ok = strlen(o->etag) < 256;
            for (const char *p = o->etag; ok && *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f) ok = 0;
            if (ok) hl = df_add(hl, &bad, "If-None-Match: %s", o->etag);
        }
        if (bad) {
            curl_slist_free_all(hl);
            s = dep_errf(e, DEP_ENOMEM, "%s: cannot build the request headers", o->uri);
            goto out;
        }
        curl_easy_reset(c);
        cerr[0] = 0;
        curl_easy_setopt(c, CURLOPT_URL, t->url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, df_header_cb);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, df_write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, df_progress_cb);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s ? o->connect_timeout_s : 20L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s ? o->low_speed_time_s : 60L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "edgeml-deploy/0.1");
        if (t->s3) {
            curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* the signed path is the sent path */
        } else {
            curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
            curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
            curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        }
        CURLcode cc = curl_easy_perform(c);
        curl_slist_free_all(hl);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        r->http_status = status;
        int retry = 0;
        if (x.restart || (status == 412 && x.offset > 0)) {
            if (ftruncate(x.fd, 0) != 0) {} /* partial of an older version: start again */
            unlink(etag_path);
            s = dep_errf(e, DEP_EIO, "%s: the object changed during the download", o->uri);
            if (attempt >= max_attempts) goto out;
            continue;
        }
        if (x.abort_st != DEP_OK) {
            s = dep_errf(e, x.abort_st, "%s: %s", o->uri, x.abort_msg);
            if (x.abort_st == DEP_ENOSPC) { /* nothing useful to keep */
                if (ftruncate(x.fd, 0) != 0) {}
                unlink(etag_path);
            }
            goto out;
        }
        if (cc == CURLE_ABORTED_BY_CALLBACK) {
            s = dep_errf(e, DEP_EINVAL, "%s: cancelled", o->uri);
            goto out;
        }
        if (cc != CURLE_OK) {
            if (!df_retryable_curl(cc)) {
                s = dep_errf(e, DEP_EIO, "%s: %s", o->uri, cerr[0] ? cerr : curl_easy_strerror(cc));
                goto out;
            }
            s = dep_errf(e, DEP_EIO, "%s: %s (after %u attempts)", o->uri,
                         cerr[0] ? cerr : curl_easy_strerror(cc), attempt);
            retry = 1;
        } else if (status == 304) {
            r->unchanged = 1;
            snprintf(r->etag, sizeof r->etag, "%s", x.etag[0] ? x.etag : (o->etag ? o->etag : ""));
            if (o->sha256 && dep_is_sha_hex(o->sha256)) memcpy(r->sha256, o->sha256, DEP_SHA_HEX);
            if (o->size > 0) r->size = (uint64_t)o->size;
            s = DEP_OK;
            goto out;
        } else if (status == 416 && x.offset > 0) {
            if (ftruncate(x.fd, 0) != 0) {} /* stale partial: start again */
            unlink(etag_path);
            s = dep_errf(e, DEP_EIO, "%s: HTTP 416 on resume", o->uri);
            retry = 1;
        } else if (status >= 200 && status <= 299) {
            uint64_t total = x.offset + x.written;
            if (x.content_length >= 0 && x.written != (uint64_t)x.content_length) {
                s = dep_errf(e, DEP_EIO, "%s: body ended after %llu of %lld bytes", o->uri,
                             (unsigned long long)x.written, (long long)x.content_length);
                retry = 1;
            } else {
                if ((s = dep_sha256_final(x.h, r->sha256, e)) != DEP_OK) goto out;
                if (fsync(x.fd) != 0) {
                    s = dep_errf(e, DEP_EIO, "%s: fsync: %s", part, strerror(errno));
                    goto out;
                }
                if (rename(part, o->dest) != 0) {
                    s = dep_errf(e, DEP_EIO, "%s: %s", o->dest, strerror(errno));
                    goto out;
                }
                unlink(etag_path);
                r->size = total;
                snprintf(r->etag, sizeof r->etag, "%s", x.etag);
                if (!r->etag[0] && x.offset > 0) snprintf(r->etag, sizeof r->etag, "%s", validator);
                s = DEP_OK;
                goto out;
            }
        } else {
            char code[64];
            df_s3_code(x.errbody, code, sizeof code);
            s = dep_errf(e, status == 404 ? DEP_ENOENT : DEP_EIO, "%s: HTTP %ld%s%s%s", o->uri,
                         status, code[0] ? " " : "", code,
                         status >= 500 ? " (server error; retried)" : "");
            if (status >= 500) retry = 1;
            else goto out; /* 4xx and the rest: the request itself is wrong */
        }
        if (!retry || attempt >= max_attempts) {
            if (retry && status >= 500) {
                char code[64];
                df_s3_code(x.errbody, code, sizeof code);
                s = dep_errf(e, DEP_EIO, "%s: HTTP %ld%s%s after %u attempts", o->uri, status,
                             code[0] ? " " : "", code, attempt);
            }
            goto out;
        }
        df_sleep_ms(delay);
        delay = delay >= 15000 ? 30000 : delay * 2;
    }
out:
    if (c) curl_easy_cleanup(c);
    if (x.fd >= 0) close(x.fd);
    dep_sha256_free(x.h);
    {
        /* an empty partial is no partial (success renamed it away already) */
        struct stat st;
        if (stat(part, &st) == 0 && st.st_size == 0) {
            unlink(part);
            unlink(etag_path);
        }
    }
    free(t);
    return s;
}

dep_status dep_fetch(const dep_fetch_opts *o, dep_fetch_result *r, dep_err *e) {
    if (!o || !r || !o->uri || !o->dest || !*o->uri || !*o->dest)
        return dep_errf(e, DEP_EINVAL, "fetch: uri and dest are required");
    memset(r, 0, sizeof *r);
    if (strlen(o->dest) >= DF_PATH_MAX - 16)
        return dep_errf(e, DEP_EINVAL, "%s: destination path too long", o->dest);
    if (!strncmp(o->uri, "file://", 7)) {
        const char *p = o->uri + 7;
        if (!strncmp(p, "localhost/", 10)) p += 9;
        if (*p != '/') return dep_errf(e, DEP_EINVAL, "%s: file URI without an absolute path", o->uri);
        return df_fetch_file(o, p, r, e);
    }
    if (!strncmp(o->uri, "arn:", 4)) {
        char s3uri[sizeof r->resolved];
        dep_status st = dep_sagemaker_resolve(o->uri, s3uri, sizeof s3uri, e);
        if (st != DEP_OK) return st;
        dep_fetch_opts o2 = *o;
        o2.uri = s3uri;
        st = dep_fetch(&o2, r, e);
        snprintf(r->resolved, sizeof r->resolved, "%s", s3uri);
        return st;
    }
    if (!strncmp(o->uri, "http://", 7) || !strncmp(o->uri, "https://", 8) ||
        !strncmp(o->uri, "s3://", 5))
        return df_fetch_http(o, r, e);
    if (strstr(o->uri, "://"))
        return dep_errf(e, DEP_EINVAL, "%s: unsupported scheme (file, http, https, s3)", o->uri);
    return df_fetch_file(o, o->uri, r, e);
}
