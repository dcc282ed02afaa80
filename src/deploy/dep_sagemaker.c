/* SageMaker training job ARN -> S3 model artifacts (DescribeTrainingJob,
 * AWS JSON 1.1 protocol, SigV4 service "sagemaker"). See dep_fetch.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "dep_fetch.h"
#include "dep_sigv4.h"

#define SM_BODY_MAX (1u << 20)

typedef struct {
    char *p;
    size_t n;
    int too_big;
} sm_buf;

static size_t sm_sink(char *p, size_t s, size_t nm, void *ud) {
    sm_buf *b = ud;
    size_t n = s * nm;
    if (b->n + n > SM_BODY_MAX) {
        b->too_big = 1;
        return 0;
    }
    char *q = realloc(b->p, b->n + n + 1);
    if (!q) return 0;
    b->p = q;
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

/* printable ASCII copy (for messages from the server) */
static void sm_clean(const char *s, char *out, size_t n) {
    size_t i = 0;
    for (; s && *s && i + 1 < n; s++) out[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[i] = 0;
}

dep_status dep_sagemaker_resolve(const char *arn, char *s3uri, size_t n, dep_err *e) {
    /* arn:PARTITION:sagemaker:REGION:ACCOUNT:training-job/NAME */
    char region[64], name[128];
    const char *p = arn;
    if (strncmp(p, "arn:", 4) != 0) return dep_errf(e, DEP_EINVAL, "%s: not an ARN", arn);
    p += 4;
    const char *c1 = strchr(p, ':');
    if (!c1 || strncmp(c1 + 1, "sagemaker:", 10) != 0)
        return dep_errf(e, DEP_EINVAL, "%s: not a SageMaker ARN", arn);
    const char *r0 = c1 + 11, *r1 = strchr(r0, ':');
    if (!r1 || r1 == r0 || (size_t)(r1 - r0) >= sizeof region)
        return dep_errf(e, DEP_EINVAL, "%s: no region in the ARN", arn);
    memcpy(region, r0, (size_t)(r1 - r0));
    region[r1 - r0] = 0;
    for (const char *q = region; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '-')
            return dep_errf(e, DEP_EINVAL, "%s: bad region in the ARN", arn);
    const char *a1 = strchr(r1 + 1, ':');
    if (!a1 || strncmp(a1 + 1, "training-job/", 13) != 0)
        return dep_errf(e, DEP_EINVAL, "%s: not a training-job ARN", arn);
    const char *nm = a1 + 14;
    size_t nl = strlen(nm);
    if (nl < 1 || nl > 63) return dep_errf(e, DEP_EINVAL, "%s: bad training job name", arn);
    for (size_t i = 0; i < nl; i++)
        if (!isalnum((unsigned char)nm[i]) && nm[i] != '-')
            return dep_errf(e, DEP_EINVAL, "%s: bad training job name", arn);
    memcpy(name, nm, nl + 1);

    dep_aws_creds cr;
    char err[512];
    if (dep_aws_load_creds(&cr, err, sizeof err) != 0)
        return dep_errf(e, DEP_EINVAL, "%s: %s", arn, err);
    char ep[1024], host[512], url[1200];
    if (dep_aws_endpoint("SAGEMAKER", ep, sizeof ep)) {
        const char *sep = strstr(ep, "://");
        if (!sep || (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)))
            return dep_errf(e, DEP_EINVAL, "AWS endpoint '%s' is not an http(s) URL", ep);
        const char *h = sep + 3;
        size_t hl = strcspn(h, "/");
        if (!hl || hl >= sizeof host) return dep_errf(e, DEP_EINVAL, "AWS endpoint '%s' has no host", ep);
        memcpy(host, h, hl);
        host[hl] = 0;
        snprintf(url, sizeof url, "%.*s%s/", (int)(sep + 3 - ep), ep, host);
    } else {
        snprintf(host, sizeof host, "api.sagemaker.%s.amazonaws.com", region);
        snprintf(url, sizeof url, "https://%s/", host);
    }
    char body[256], ph[65], date[17], auth[DEP_SIGV4_AUTH_MAX];
    snprintf(body, sizeof body, "{\"TrainingJobName\":\"%s\"}", name);
    dep_sigv4_sha256_hex(body, strlen(body), ph);
    dep_sigv4_now(date);
    dep_sigv4_header hs[] = {{"content-type", "application/x-amz-json-1.1"},
                             {"x-amz-target", "SageMaker.DescribeTrainingJob"}};
    dep_sigv4_req rq = {.method = "POST", .host = host, .path = "/", .headers = hs,
                        .n_headers = 2, .payload_hash = ph, .region = region,
                        .service = "sagemaker", .amz_date = date};
    if (dep_sigv4_sign(&rq, &cr, auth, sizeof auth, err, sizeof err) != 0)
        return dep_errf(e, DEP_EINVAL, "%s: %s", arn, err);

    CURL *c = curl_easy_init();
    if (!c) return dep_errf(e, DEP_ENOMEM, "%s: curl_easy_init failed", arn);
    struct curl_slist *hl = NULL;
    char line[DEP_SIGV4_AUTH_MAX + 64];
    const char *fixed[] = {"Content-Type: application/x-amz-json-1.1",
                           "X-Amz-Target: SageMaker.DescribeTrainingJob", "Expect:"};
    for (size_t i = 0; i < 3; i++) hl = curl_slist_append(hl, fixed[i]);
    snprintf(line, sizeof line, "Host: %s", host);
    hl = curl_slist_append(hl, line);
    snprintf(line, sizeof line, "X-Amz-Date: %s", date);
    hl = curl_slist_append(hl, line);
    snprintf(line, sizeof line, "Authorization: %s", auth);
    hl = curl_slist_append(hl, line);
    char tok[sizeof cr.session_token + 32];
    if (cr.session_token[0]) {
        snprintf(tok, sizeof tok, "X-Amz-Security-Token: %s", cr.session_token);
        hl = curl_slist_append(hl, tok);
    }
    sm_buf b = {0};
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sm_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    dep_status st = DEP_OK;
    json_t *j = NULL;
    if (cc != CURLE_OK) {
        st = dep_errf(e, DEP_EIO, "%s: DescribeTrainingJob: %s", arn,
                      b.too_big ? "response larger than 1 MiB" : cerr[0] ? cerr : curl_easy_strerror(cc));
        goto out;
    }
    json_error_t je;
    j = json_loadb(b.p ? b.p : "", b.n, 0, &je);
    if (status != 200) {
        char ty[128] = "", msg[256] = "";
        if (json_is_object(j)) {
            const char *t = json_string_value(json_object_get(j, "__type"));
            const char *m = json_string_value(json_object_get(j, "message"));
            if (!m) m = json_string_value(json_object_get(j, "Message"));
            if (t) {
                const char *hash = strrchr(t, '#');
                sm_clean(hash ? hash + 1 : t, ty, sizeof ty);
            }
            sm_clean(m, msg, sizeof msg);
        }
        st = dep_errf(e, status == 404 ? DEP_ENOENT : DEP_EIO,
                      "%s: DescribeTrainingJob: HTTP %ld%s%s%s%s", arn, status, ty[0] ? " " : "",
                      ty, msg[0] ? ": " : "", msg);
        goto out;
    }
    if (!json_is_object(j)) {
        st = dep_errf(e, DEP_EIO, "%s: DescribeTrainingJob: response is not a JSON object", arn);
        goto out;
    }
    const char *js = json_string_value(json_object_get(j, "TrainingJobStatus"));
    if (js && strcmp(js, "Completed") != 0) {
        char sc[64];
        sm_clean(js, sc, sizeof sc);
        st = dep_errf(e, DEP_EINVAL, "%s: training job is %s, not Completed", arn, sc);
        goto out;
    }
    const char *art = json_string_value(
        json_object_get(json_object_get(j, "ModelArtifacts"), "S3ModelArtifacts"));
    char bk[64], key[1025];
    if (!art || dep_s3_split(art, bk, sizeof bk, key, sizeof key) != 0 || strlen(art) >= n) {
        st = dep_errf(e, DEP_EIO, "%s: DescribeTrainingJob: no valid ModelArtifacts.S3ModelArtifacts",
                      arn);
        goto out;
    }
    memcpy(s3uri, art, strlen(art) + 1);
out:
    json_decref(j);
    free(b.p);
    return st;
}
