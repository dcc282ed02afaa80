/* dep_sigv4 against AWS's published vectors: the aws-sig-v4-test-suite
 * (credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service
 * "service") and the S3 documentation's "GET Object" example. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dep_sigv4.h"

static int failures;

#define SUITE_PREFIX "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static void check(const char *name, const char *method, const char *path, const char *query,
                  const dep_sigv4_header *h, size_t nh, const char *body, const char *token,
                  const char *want_tail) {
  dep_aws_creds c;
  memset(&c, 0, sizeof c);
  strcpy(c.access_key, "AKIDEXAMPLE");
  strcpy(c.secret_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  if (token) snprintf(c.session_token, sizeof c.session_token, "%s", token);
  char ph[65];
  dep_sigv4_sha256_hex(body, strlen(body), ph);
  dep_sigv4_req r = {.method = method, .host = "example.amazonaws.com", .path = path,
                     .query = query, .headers = h, .n_headers = nh, .payload_hash = ph,
                     .region = "us-east-1", .service = "service",
                     .amz_date = "20150830T123600Z"};
  char auth[DEP_SIGV4_AUTH_MAX], err[256] = "", want[512];
  snprintf(want, sizeof want, SUITE_PREFIX "%s", want_tail);
  if (dep_sigv4_sign(&r, &c, auth, sizeof auth, err, sizeof err) != 0) {
    printf("FAIL %s: %s\n", name, err);
    failures++;
  } else if (strcmp(auth, want) != 0) {
    printf("FAIL %s:\n  got  %s\n  want %s\n", name, auth, want);
    failures++;
  } else {
    printf("ok   %s\n", name);
  }
}

static const char *TOKEN =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPf"
    "IeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7W"
    "Z0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8F"
    "DrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

int main(void) {
  check("get-vanilla", "GET", "/", NULL, NULL, 0, "", NULL,
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  check("get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", NULL, 0,
        "", NULL,
        "SignedHeaders=host;x-amz-date, "
        "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  check("get-unreserved", "GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", NULL, NULL, 0, "",
        NULL,
        "SignedHeaders=host;x-amz-date, "
        "Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
  check("get-utf8", "GET", "/\xe1\x88\xb4", NULL, NULL, 0, "", NULL,
        "SignedHeaders=host;x-amz-date, "
        "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
  check("get-space", "GET", "/example space/", NULL, NULL, 0, "", NULL,
        "SignedHeaders=host;x-amz-date, "
        "Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
  check("post-vanilla", "POST", "/", NULL, NULL, 0, "", NULL,
        "SignedHeaders=host;x-amz-date, "
        "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
  dep_sigv4_header hv[] = {{"My-Header1", "VALUE1"}};
  check("post-header-value-case", "POST", "/", NULL, hv, 1, "", NULL,
        "SignedHeaders=host;my-header1;x-amz-date, "
        "Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d");
  dep_sigv4_header ct[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
  check("post-x-www-form-urlencoded", "POST", "/", NULL, ct, 1, "Param1=value1", NULL,
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
  check("post-sts-header-before", "POST", "/", NULL, NULL, 0, "", TOKEN,
        "SignedHeaders=host;x-amz-date;x-amz-security-token, "
        "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");

  /* S3 documentation, "Example: GET Object" (first 10 bytes of test.txt). */
  {
    dep_aws_creds c;
    memset(&c, 0, sizeof c);
    strcpy(c.access_key, "AKIAIOSFODNN7EXAMPLE");
    strcpy(c.secret_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    dep_sigv4_header rg[] = {{"Range", "bytes=0-9"}};
    dep_sigv4_req r = {.method = "GET", .host = "examplebucket.s3.amazonaws.com",
                       .path = "/test.txt", .headers = rg, .n_headers = 1,
                       .payload_hash = DEP_SIGV4_EMPTY_SHA256, .region = "us-east-1",
                       .service = "s3", .amz_date = "20130524T000000Z",
                       .content_sha256_header = 1};
    char auth[DEP_SIGV4_AUTH_MAX], err[256] = "";
    const char *want = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                       "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                       "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    if (dep_sigv4_sign(&r, &c, auth, sizeof auth, err, sizeof err) != 0 || strcmp(auth, want)) {
      printf("FAIL s3-get-object:\n  got  %s%s\n  want %s\n", auth, err, want);
      failures++;
    } else {
      printf("ok   s3-get-object\n");
    }
    /* A wrong secret must change the signature (the test can fail). */
    c.secret_key[0] ^= 1;
    dep_sigv4_sign(&r, &c, auth, sizeof auth, err, sizeof err);
    if (!strcmp(auth, want)) {
      printf("FAIL s3-get-object: wrong secret gave the same signature\n");
      failures++;
    }
  }

  /* Hostile input: refused with a message, no crash. */
  {
    dep_aws_creds c;
    memset(&c, 0, sizeof c);
    strcpy(c.access_key, "AK");
    strcpy(c.secret_key, "S");
    dep_sigv4_header bad[] = {{"X-Evil", "a\r\nInjected: 1"}};
    dep_sigv4_req r = {.method = "GET", .host = "h", .path = "/", .headers = bad,
                       .n_headers = 1, .payload_hash = DEP_SIGV4_UNSIGNED, .region = "us-east-1",
                       .service = "s3", .amz_date = "20130524T000000Z"};
    char auth[DEP_SIGV4_AUTH_MAX], err[256] = "";
    if (dep_sigv4_sign(&r, &c, auth, sizeof auth, err, sizeof err) == 0 || !err[0]) {
      printf("FAIL header injection accepted\n");
      failures++;
    }
    r.n_headers = 0;
    r.amz_date = "2013-05-24";
    if (dep_sigv4_sign(&r, &c, auth, sizeof auth, err, sizeof err) == 0) {
      printf("FAIL bad date accepted\n");
      failures++;
    }
    r.amz_date = "20130524T000000Z";
    r.region = "us/east";
    if (dep_sigv4_sign(&r, &c, auth, sizeof auth, err, sizeof err) == 0) {
      printf("FAIL bad region accepted\n");
      failures++;
    }
    /* query canonicalisation: encoded and raw forms agree, odd bytes are safe */
    r.region = "us-east-1";
    char a1[DEP_SIGV4_AUTH_MAX], a2[DEP_SIGV4_AUTH_MAX];
    r.query = "b=x y&a=%2F";
    dep_sigv4_sign(&r, &c, a1, sizeof a1, err, sizeof err);
    r.query = "a=/&b=x%20y";
    dep_sigv4_sign(&r, &c, a2, sizeof a2, err, sizeof err);
    if (strcmp(a1, a2)) {
      printf("FAIL query canonicalisation differs for equivalent queries\n");
      failures++;
    }
    r.query = "%&%z=%%&&=&==";
    if (dep_sigv4_sign(&r, &c, a1, sizeof a1, err, sizeof err) != 0) {
      printf("FAIL odd query: %s\n", err);
      failures++;
    }
  }

  /* URI encoding rules. */
  {
    char out[64];
    dep_sigv4_uri_encode("a b/c~\xff", 7, 1, out, sizeof out);
    if (strcmp(out, "a%20b/c~%FF")) {
      printf("FAIL uri_encode keep_slash: %s\n", out);
      failures++;
    }
    dep_sigv4_uri_encode("a/b", 3, 0, out, sizeof out);
    if (strcmp(out, "a%2Fb")) {
      printf("FAIL uri_encode: %s\n", out);
      failures++;
    }
    if (dep_sigv4_uri_encode("    ", 4, 0, out, 5) != -1) {
      printf("FAIL uri_encode overflow not reported\n");
      failures++;
    }
  }

  /* Credentials and region from a profile file. */
  {
    char dir[] = "/tmp/sigv4_test_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char cred[256], conf[256];
    snprintf(cred, sizeof cred, "%s/credentials", dir);
    snprintf(conf, sizeof conf, "%s/config", dir);
    FILE *f = fopen(cred, "w");
    fprintf(f, "[default]\naws_access_key_id = DEF\naws_secret_access_key = DEFSECRET\n"
               "[dev]\n aws_access_key_id=DEVKEY \naws_secret_access_key=DEVSECRET\n"
               "aws_session_token = TOK\n");
    fclose(f);
    f = fopen(conf, "w");
    fprintf(f, "[default]\nregion = eu-west-1\n[profile dev]\nregion = ap-south-1\n");
    fclose(f);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
    setenv("AWS_CONFIG_FILE", conf, 1);
    setenv("AWS_PROFILE", "dev", 1);
    dep_aws_creds c;
    char err[256] = "", region[64];
    if (dep_aws_load_creds(&c, err, sizeof err) || strcmp(c.access_key, "DEVKEY") ||
        strcmp(c.secret_key, "DEVSECRET") || strcmp(c.session_token, "TOK")) {
      printf("FAIL profile credentials: %s\n", err);
      failures++;
    }
    dep_aws_region(region, sizeof region);
    if (strcmp(region, "ap-south-1")) {
      printf("FAIL profile region: %s\n", region);
      failures++;
    }
    setenv("AWS_PROFILE", "missing", 1);
    if (dep_aws_load_creds(&c, err, sizeof err) == 0 || !strstr(err, "missing")) {
      printf("FAIL missing profile: %s\n", err);
      failures++;
    }
    setenv("AWS_ACCESS_KEY_ID", "ENVK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVS", 1);
    setenv("AWS_REGION", "us-west-2", 1);
    if (dep_aws_load_creds(&c, err, sizeof err) || strcmp(c.access_key, "ENVK") ||
        c.session_token[0]) {
      printf("FAIL env credentials\n");
      failures++;
    }
    dep_aws_region(region, sizeof region);
    if (strcmp(region, "us-west-2")) {
      printf("FAIL env region\n");
      failures++;
    }
    char ep[256];
    setenv("AWS_ENDPOINT_URL", "http://a:1/", 1);
    setenv("AWS_ENDPOINT_URL_S3", "http://s3:2//", 1);
    if (!dep_aws_endpoint("S3", ep, sizeof ep) || strcmp(ep, "http://s3:2")) {
      printf("FAIL endpoint S3: %s\n", ep);
      failures++;
    }
    if (!dep_aws_endpoint("SAGEMAKER", ep, sizeof ep) || strcmp(ep, "http://a:1")) {
      printf("FAIL endpoint fallback: %s\n", ep);
      failures++;
    }
    remove(cred);
    remove(conf);
    remove(dir);
  }
  printf("%s\n", failures ? "FAILED" : "all sigv4 tests passed");
  return failures ? 1 : 0;
}
