/* Fetching a deployment source into a file (src/deploy part 2).
 *
 * Sources: a local path or file://PATH; http://, https://; s3://BUCKET/KEY
 * (SigV4-signed by dep_sigv4; credentials, region and endpoint as in
 * dep_sigv4.h: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL select a path-style
 * S3-compatible endpoint, else https://BUCKET.s3.REGION.amazonaws.com);
 * arn:aws:sagemaker:REGION:ACCOUNT:training-job/NAME (DescribeTrainingJob,
 * endpoint AWS_ENDPOINT_URL_SAGEMAKER / AWS_ENDPOINT_URL, else
 * https://api.sagemaker.REGION.amazonaws.com) whose
 * ModelArtifacts.S3ModelArtifacts is then fetched as above.
 *
 * The body streams to DEST.part while it is hashed (SHA-256); on success the
 * part file is renamed to DEST. A failed transfer keeps DEST.part and its
 * validator (DEST.part.etag) so the next call resumes with Range + If-Range.
 * Network errors and 5xx are retried with exponential backoff; 4xx are not.
 * Errors (dep_status, deploy.h) carry one line: the URI, the HTTP status
 * and S3's error Code when there is one ("HTTP 403 SignatureDoesNotMatch").
 * Not thread-safe per call, but calls on different DESTs may run in parallel
 * (call curl_global_init once before starting threads). */
#ifndef EDGEML_DEP_FETCH_H
#define EDGEML_DEP_FETCH_H

#include <stdint.h>

#include "deploy.h"

/* Progress: bytes of the body so far (resumed bytes included), total (0 if
 * unknown), rate in bytes/s of this attempt. Non-zero return cancels. */
typedef int (*dep_fetch_progress_fn)(void *ctx, uint64_t bytes, uint64_t total, double rate);

typedef struct dep_fetch_opts {
    const char *uri;
    const char *dest;          /* file to write (its directory must exist) */
    /* Change detection (all optional): the previous fetch's validators. */
    const char *etag;          /* http/s3: sent as If-None-Match */
    const char *sha256;        /* files: digest of the previous content */
    int64_t size;              /* files: previous size (-1 unknown) */
    int64_t mtime_ns;          /* files: previous mtime (ns since epoch; 0 unknown) */
    unsigned max_attempts;     /* 0: 5 */
    unsigned backoff_ms;       /* first retry delay; doubles each time (0: 500, cap 30 s) */
    long connect_timeout_s;    /* 0: 20 */
    long low_speed_time_s;     /* abort a transfer slower than 1 KiB/s this long (0: 60) */
    uint64_t reserve;          /* free bytes to leave on the file system (0: 1 MiB) */
    dep_fetch_progress_fn progress;
    void *ctx;
} dep_fetch_opts;

typedef struct dep_fetch_result {
    int unchanged;             /* 1: the source matches the validators; DEST untouched */
    char sha256[DEP_SHA_HEX];  /* digest of DEST (or, when unchanged, the known one if given) */
    char etag[256];            /* http/s3 ETag ("" if none) */
    uint64_t size;             /* bytes of DEST */
    int64_t mtime_ns;          /* files: the source's mtime */
    long http_status;          /* last HTTP status (0 for files / no response) */
    unsigned attempts;         /* requests made */
    uint64_t resumed_from;     /* bytes kept from an earlier partial download */
    char resolved[1100];       /* SageMaker job ARN: the s3:// URI it resolved to */
} dep_fetch_result;

/* Fetches o->uri into o->dest. DEP_OK with r->unchanged set when nothing had
 * to be transferred. DEP_ENOENT for 404 / a missing file, DEP_ENOSPC when
 * the free-space check fails, DEP_EINVAL for a bad URI or options, DEP_EIO
 * for other transfer and HTTP errors. */
dep_status dep_fetch(const dep_fetch_opts *o, dep_fetch_result *r, dep_err *e);

/* Resolves a SageMaker training job ARN to its ModelArtifacts.S3ModelArtifacts
 * (an s3:// URI) through DescribeTrainingJob; the job must be Completed. */
dep_status dep_sagemaker_resolve(const char *arn, char *s3uri, size_t n, dep_err *e);

/* Splits s3://BUCKET/KEY; the bucket follows S3's naming rules (3..63 of
 * [a-z0-9.-]), the key is 1..1024 bytes. 0 on success. */
int dep_s3_split(const char *uri, char *bucket, size_t bn, char *key, size_t kn);

#endif
