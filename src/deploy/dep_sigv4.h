/* AWS Signature Version 4 (header form) and AWS credential/region/endpoint
 * discovery, for S3 GETs and other AWS JSON/REST calls made by deploy/.
 * Written from the AWS documentation ("Signature Version 4 signing process"
 * and S3's "Authenticating Requests: Using the Authorization Header"); checked
 * against the published aws-sig-v4-test-suite vectors (tests/deploy). */
#ifndef EDGEML_DEP_SIGV4_H
#define EDGEML_DEP_SIGV4_H

#include <stddef.h>

#define DEP_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DEP_SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"
#define DEP_SIGV4_MAX_HEADERS 32
#define DEP_SIGV4_AUTH_MAX 1024

typedef struct {
  const char *name;  /* any case; trimmed of spaces */
  const char *value; /* trimmed, inner runs of spaces collapsed when signed */
} dep_sigv4_header;

typedef struct {
  const char *method;        /* "GET", "POST", ... */
  const char *host;          /* value of the Host header: "host" or "host:port" */
  const char *path;          /* raw, unencoded path ("/bucket/my key"); NULL or "" = "/" */
  const char *query;         /* raw query "a=b&c" (percent-escapes are decoded first); may be NULL */
  const dep_sigv4_header *headers; /* more headers to sign (e.g. content-type, range) */
  size_t n_headers;
  const char *payload_hash;  /* lowercase hex SHA-256 of the body, or DEP_SIGV4_UNSIGNED */
  const char *region;
  const char *service;       /* "s3", "sagemaker", ... */
  const char *amz_date;      /* "YYYYMMDDTHHMMSSZ" */
  int content_sha256_header; /* sign x-amz-content-sha256: payload_hash (S3 needs it) */
} dep_sigv4_req;

typedef struct {
  char access_key[128];
  char secret_key[128];
  char session_token[2048]; /* "" when none */
} dep_aws_creds;

/* URI-encodes s (RFC 3986 unreserved kept, everything else %XX uppercase);
 * '/' is kept when keep_slash. Writes a NUL-terminated string into out.
 * Returns the length, or -1 when out (n bytes) is too small. */
int dep_sigv4_uri_encode(const char *s, size_t len, int keep_slash, char *out, size_t n);

/* Computes the Authorization header value into auth (DEP_SIGV4_AUTH_MAX bytes).
 * Signed headers: host, x-amz-date, the caller's headers, x-amz-security-token
 * (when c->session_token is set) and x-amz-content-sha256 (when asked). The
 * caller sends those headers with the same values. The path is encoded once
 * (S3 rule: no double encoding). Returns 0, or -1 with one line in err. */
int dep_sigv4_sign(const dep_sigv4_req *r, const dep_aws_creds *c, char *auth, size_t auth_n,
                   char *err, size_t errn);

/* "YYYYMMDDTHHMMSSZ" of the current UTC time into out (>= 17 bytes). */
void dep_sigv4_now(char out[17]);

/* lowercase hex SHA-256 of data into hex (65 bytes). */
void dep_sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

/* Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,
 * else the [AWS_PROFILE or default] section of AWS_SHARED_CREDENTIALS_FILE
 * or ~/.aws/credentials. Returns 0, or -1 with the reason in err. */
int dep_aws_load_creds(dep_aws_creds *c, char *err, size_t errn);

/* Region: AWS_REGION, AWS_DEFAULT_REGION, else "region" of the profile in
 * AWS_CONFIG_FILE or ~/.aws/config, else "us-east-1". */
void dep_aws_region(char *out, size_t n);

/* Endpoint base URL for a service: AWS_ENDPOINT_URL_<SERVICE> (e.g. _S3,
 * _SAGEMAKER), else AWS_ENDPOINT_URL, else "" (use the AWS default). No
 * trailing '/'. Returns 1 when an override was found, 0 otherwise. */
int dep_aws_endpoint(const char *service_env, char *out, size_t n);

#endif
