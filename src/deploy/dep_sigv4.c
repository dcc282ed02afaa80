/* AWS Signature Version 4, from the AWS documentation. See dep_sigv4.h. */
#include "dep_sigv4.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---- a small growable string ------------------------------------------- */
typedef struct {
  char *p;
  size_t len, cap;
  int oom;
} sv_buf;

static void sv_put(sv_buf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) { b->oom = 1; return; }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}
static void sv_puts(sv_buf *b, const char *s) { sv_put(b, s, strlen(s)); }
static void sv_putc(sv_buf *b, char c) { sv_put(b, &c, 1); }

static void sv_err(char *err, size_t n, const char *fmt, ...) {
  if (!err || !n) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
}

/* ---- hashing ------------------------------------------------------------ */
static void sv_hex(const unsigned char *d, size_t n, char *out) {
  static const char hx[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hx[d[i] >> 4];
    out[2 * i + 1] = hx[d[i] & 15];
  }
  out[2 * n] = 0;
}

void dep_sigv4_sha256_hex(const void *data, size_t len, char hex[65]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
    hex[0] = 0;
    return;
  }
  sv_hex(md, 32, hex);
}

static int sv_hmac(const void *key, size_t klen, const char *msg, unsigned char out[32]) {
  unsigned int olen = 0;
  if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen) ||
      olen != 32)
    return -1;
  return 0;
}

void dep_sigv4_now(char out[17]) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* ---- encoding ----------------------------------------------------------- */
static int sv_unreserved(unsigned char c) {
  return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void sv_encode(sv_buf *b, const char *s, size_t len, int keep_slash) {
  static const char HX[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (sv_unreserved(c) || (keep_slash && c == '/')) {
      sv_putc(b, (char)c);
    } else {
      char e[3] = {'%', HX[c >> 4], HX[c & 15]};
      sv_put(b, e, 3);
    }
  }
}

int dep_sigv4_uri_encode(const char *s, size_t len, int keep_slash, char *out, size_t n) {
  sv_buf b = {0};
  sv_encode(&b, s, len, keep_slash);
  int rc = -1;
  if (!b.oom && b.len < n) {
    memcpy(out, b.p ? b.p : "", b.len + 1);
    rc = (int)b.len;
  }
  free(b.p);
  return rc;
}

static int sv_hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..len) then encodes it (so "a%20b" and "a b" agree). */
static void sv_reencode(sv_buf *b, const char *s, size_t len) {
  sv_buf d = {0};
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '%' && i + 2 < len && sv_hexval(s[i + 1]) >= 0 &&
        sv_hexval(s[i + 2]) >= 0) {
      sv_putc(&d, (char)(sv_hexval(s[i + 1]) * 16 + sv_hexval(s[i + 2])));
      i += 2;
    } else {
      sv_putc(&d, s[i]);
    }
  }
  if (d.oom) b->oom = 1;
  else sv_encode(b, d.p ? d.p : "", d.len, 0);
  free(d.p);
}

/* ---- canonical query ---------------------------------------------------- */
typedef struct {
  char *k, *v;
} sv_pair;

static int sv_pair_cmp(const void *a, const void *b) {
  const sv_pair *x = a, *y = b;
  int c = strcmp(x->k, y->k);
  return c ? c : strcmp(x->v, y->v);
}

static int sv_canon_query(sv_buf *out, const char *q) {
  if (!q || !*q) return 0;
  size_t n = 1;
  for (const char *p = q; *p; p++) n += *p == '&';
  sv_pair *pairs = calloc(n, sizeof *pairs);
  if (!pairs) return -1;
  size_t np = 0;
  int rc = 0;
  const char *p = q;
  while (*p && rc == 0) {
    const char *end = strchr(p, '&');
    if (!end) end = p + strlen(p);
    if (end > p) {
      const char *eq = memchr(p, '=', (size_t)(end - p));
      const char *kend = eq ? eq : end;
      sv_buf k = {0}, v = {0};
      sv_reencode(&k, p, (size_t)(kend - p));
      if (eq) sv_reencode(&v, eq + 1, (size_t)(end - eq - 1));
      sv_puts(&k, "");
      sv_puts(&v, "");
      if (k.oom || v.oom) {
        free(k.p);
        free(v.p);
        rc = -1;
        break;
      }
      pairs[np].k = k.p;
      pairs[np].v = v.p;
      np++;
    }
    p = *end ? end + 1 : end;
  }
  if (rc == 0) {
    qsort(pairs, np, sizeof *pairs, sv_pair_cmp);
    for (size_t i = 0; i < np; i++) {
      if (i) sv_putc(out, '&');
      sv_puts(out, pairs[i].k);
      sv_putc(out, '=');
      sv_puts(out, pairs[i].v);
    }
  }
  for (size_t i = 0; i < np; i++) {
    free(pairs[i].k);
    free(pairs[i].v);
  }
  free(pairs);
  return rc;
}

/* ---- canonical headers -------------------------------------------------- */
typedef struct {
  char name[128];
  const char *value;
} sv_hdr;

static int sv_hdr_cmp(const void *a, const void *b) {
  return strcmp(((const sv_hdr *)a)->name, ((const sv_hdr *)b)->name);
}

/* Value trimmed, with runs of spaces/tabs collapsed to one space. */
static void sv_put_value(sv_buf *b, const char *v) {
  while (*v == ' ' || *v == '\t') v++;
  int space = 0;
  for (; *v; v++) {
    if (*v == ' ' || *v == '\t') {
      space = 1;
      continue;
    }
    if (space) sv_putc(b, ' ');
    space = 0;
    sv_putc(b, *v);
  }
}

static int sv_is_date(const char *d) {
  if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z') return 0;
  for (int i = 0; i < 15; i++)
    if (i != 8 && !isdigit((unsigned char)d[i])) return 0;
  return 1;
}

static int sv_token_ok(const char *s, size_t max) {
  if (!s || !*s || strlen(s) > max) return 0;
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 127 || *s == '/') return 0;
  return 1;
}

int dep_sigv4_sign(const dep_sigv4_req *r, const dep_aws_creds *c, char *auth, size_t auth_n,
                   char *err, size_t errn) {
  if (!r || !c || !auth || auth_n == 0) {
    sv_err(err, errn, "sigv4: missing argument");
    return -1;
  }
  auth[0] = 0;
  if (!r->method || !*r->method || !r->host || !*r->host || !r->payload_hash) {
    sv_err(err, errn, "sigv4: method, host and payload hash are required");
    return -1;
  }
  if (!sv_is_date(r->amz_date)) {
    sv_err(err, errn, "sigv4: bad x-amz-date '%s' (want YYYYMMDDTHHMMSSZ)",
           r->amz_date ? r->amz_date : "");
    return -1;
  }
  if (!sv_token_ok(r->region, 64) || !sv_token_ok(r->service, 64)) {
    sv_err(err, errn, "sigv4: bad region or service name");
    return -1;
  }
  if (!sv_token_ok(c->access_key, sizeof c->access_key - 1) || !c->secret_key[0]) {
    sv_err(err, errn, "sigv4: missing or malformed access key / secret key");
    return -1;
  }
  if (r->n_headers > DEP_SIGV4_MAX_HEADERS) {
    sv_err(err, errn, "sigv4: too many headers (%zu > %d)", r->n_headers, DEP_SIGV4_MAX_HEADERS);
    return -1;
  }

  sv_hdr h[DEP_SIGV4_MAX_HEADERS + 4];
  size_t nh = 0;
  for (size_t i = 0; i < r->n_headers; i++) {
    const char *nm = r->headers[i].name;
    while (nm && (*nm == ' ' || *nm == '\t')) nm++;
    size_t ln = nm ? strlen(nm) : 0;
    while (ln && (nm[ln - 1] == ' ' || nm[ln - 1] == '\t')) ln--;
    if (!ln || ln >= sizeof h[0].name || !r->headers[i].value) {
      sv_err(err, errn, "sigv4: header %zu has an empty or too long name or no value", i);
      return -1;
    }
    for (size_t j = 0; j < ln; j++) {
      unsigned char ch = (unsigned char)nm[j];
      if (ch <= ' ' || ch >= 127 || ch == ':') {
        sv_err(err, errn, "sigv4: header %zu has a bad name", i);
        return -1;
      }
      h[nh].name[j] = (char)tolower(ch);
    }
    h[nh].name[ln] = 0;
    if (!strcmp(h[nh].name, "host") || !strcmp(h[nh].name, "x-amz-date") ||
        !strcmp(h[nh].name, "authorization") ||
        (!strcmp(h[nh].name, "x-amz-security-token") && c->session_token[0]) ||
        (!strcmp(h[nh].name, "x-amz-content-sha256") && r->content_sha256_header))
      continue; /* the signer sets these itself */
    for (const char *v = r->headers[i].value; *v; v++)
      if (*v == '\r' || *v == '\n') {
        sv_err(err, errn, "sigv4: header '%s' has a line break in its value", h[nh].name);
        return -1;
      }
    h[nh].value = r->headers[i].value;
    nh++;
  }
  strcpy(h[nh].name, "host");
  h[nh++].value = r->host;
  strcpy(h[nh].name, "x-amz-date");
  h[nh++].value = r->amz_date;
  if (c->session_token[0]) {
    strcpy(h[nh].name, "x-amz-security-token");
    h[nh++].value = c->session_token;
  }
  if (r->content_sha256_header) {
    strcpy(h[nh].name, "x-amz-content-sha256");
    h[nh++].value = r->payload_hash;
  }
  qsort(h, nh, sizeof h[0], sv_hdr_cmp);

  sv_buf cr = {0}, signed_hdrs = {0}, sts = {0};
  int rc = -1;
  /* 1. canonical request */
  sv_puts(&cr, r->method);
  sv_putc(&cr, '\n');
  const char *path = r->path && *r->path ? r->path : "/";
  if (path[0] != '/') sv_putc(&cr, '/');
  sv_encode(&cr, path, strlen(path), 1);
  sv_putc(&cr, '\n');
  if (sv_canon_query(&cr, r->query) != 0) cr.oom = 1;
  sv_putc(&cr, '\n');
  for (size_t i = 0; i < nh; i++) {
    if (i && !strcmp(h[i].name, h[i - 1].name)) {
      /* a repeated header: one line, values joined by commas */
      if (!cr.oom) cr.p[--cr.len] = 0; /* drop the previous line's '\n' */
      sv_putc(&cr, ',');
      sv_put_value(&cr, h[i].value);
      sv_putc(&cr, '\n');
      continue;
    }
    sv_puts(&cr, h[i].name);
    sv_putc(&cr, ':');
    sv_put_value(&cr, h[i].value);
    sv_putc(&cr, '\n');
    if (signed_hdrs.len) sv_putc(&signed_hdrs, ';');
    sv_puts(&signed_hdrs, h[i].name);
  }
  sv_putc(&cr, '\n');
  sv_puts(&cr, signed_hdrs.p ? signed_hdrs.p : "");
  sv_putc(&cr, '\n');
  sv_puts(&cr, r->payload_hash);
  if (cr.oom || signed_hdrs.oom) {
    sv_err(err, errn, "sigv4: out of memory");
    goto out;
  }

  /* 2. string to sign */
  char date8[9], crhash[65], scope[256];
  memcpy(date8, r->amz_date, 8);
  date8[8] = 0;
  dep_sigv4_sha256_hex(cr.p, cr.len, crhash);
  snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date8, r->region, r->service);
  sv_puts(&sts, "AWS4-HMAC-SHA256\n");
  sv_puts(&sts, r->amz_date);
  sv_putc(&sts, '\n');
  sv_puts(&sts, scope);
  sv_putc(&sts, '\n');
  sv_puts(&sts, crhash);
  if (sts.oom) {
    sv_err(err, errn, "sigv4: out of memory");
    goto out;
  }

  /* 3. signing key and signature */
  {
    char k0[sizeof c->secret_key + 8];
    unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
    int kl = snprintf(k0, sizeof k0, "AWS4%s", c->secret_key);
    if (kl < 0 || (size_t)kl >= sizeof k0 || sv_hmac(k0, (size_t)kl, date8, k1) ||
        sv_hmac(k1, 32, r->region, k2) || sv_hmac(k2, 32, r->service, k3) ||
        sv_hmac(k3, 32, "aws4_request", k4) || sv_hmac(k4, 32, sts.p, sig)) {
      sv_err(err, errn, "sigv4: HMAC-SHA256 failed");
      goto out;
    }
    char sighex[65];
    sv_hex(sig, 32, sighex);
    int n = snprintf(auth, auth_n,
                     "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                     c->access_key, scope, signed_hdrs.p, sighex);
    if (n < 0 || (size_t)n >= auth_n) {
      auth[0] = 0;
      sv_err(err, errn, "sigv4: Authorization header too long");
      goto out;
    }
  }
  rc = 0;
out:
  free(cr.p);
  free(signed_hdrs.p);
  free(sts.p);
  return rc;
}

/* ---- credentials, region, endpoint -------------------------------------- */
static void sv_copy(char *dst, size_t n, const char *s) {
  size_t l = strlen(s);
  if (l >= n) l = n - 1;
  memcpy(dst, s, l);
  dst[l] = 0;
}

static char *sv_trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t l = strlen(s);
  while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r' || s[l - 1] == '\n'))
    s[--l] = 0;
  return s;
}

/* Looks up key in [section] of an INI file; 1 found (copied), 0 not found,
 * -1 file unreadable. 'section' is the exact bracket content. */
static int sv_ini_get(const char *file, const char *section, const char *key, char *out,
                      size_t n) {
  FILE *f = fopen(file, "r");
  if (!f) return -1;
  char line[4096];
  int in = 0, found = 0;
  while (fgets(line, sizeof line, f)) {
    char *s = sv_trim(line);
    if (*s == '#' || *s == ';' || !*s) continue;
    if (*s == '[') {
      char *e = strchr(s, ']');
      if (!e) {
        in = 0;
        continue;
      }
      *e = 0;
      in = !strcmp(sv_trim(s + 1), section);
      continue;
    }
    if (!in) continue;
    char *eq = strchr(s, '=');
    if (!eq) continue;
    *eq = 0;
    if (!strcmp(sv_trim(s), key)) {
      sv_copy(out, n, sv_trim(eq + 1));
      found = 1;
      break;
    }
  }
  fclose(f);
  return found;
}

static void sv_aws_file(const char *env, const char *name, char *out, size_t n) {
  const char *e = getenv(env);
  if (e && *e) {
    sv_copy(out, n, e);
    return;
  }
  const char *home = getenv("HOME");
  snprintf(out, n, "%s/.aws/%s", home && *home ? home : "/root", name);
}

int dep_aws_load_creds(dep_aws_creds *c, char *err, size_t errn) {
  memset(c, 0, sizeof *c);
  const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
  if (ak && *ak && sk && *sk) {
    const char *tok = getenv("AWS_SESSION_TOKEN");
    if (strlen(ak) >= sizeof c->access_key || strlen(sk) >= sizeof c->secret_key ||
        (tok && strlen(tok) >= sizeof c->session_token)) {
      sv_err(err, errn, "AWS credentials from the environment are too long");
      return -1;
    }
    sv_copy(c->access_key, sizeof c->access_key, ak);
    sv_copy(c->secret_key, sizeof c->secret_key, sk);
    if (tok) sv_copy(c->session_token, sizeof c->session_token, tok);
    return 0;
  }
  char file[1024];
  sv_aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials", file, sizeof file);
  const char *prof = getenv("AWS_PROFILE");
  if (!prof || !*prof) prof = "default";
  int r1 = sv_ini_get(file, prof, "aws_access_key_id", c->access_key, sizeof c->access_key);
  int r2 = sv_ini_get(file, prof, "aws_secret_access_key", c->secret_key, sizeof c->secret_key);
  if (r1 == -1) {
    sv_err(err, errn,
           "no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY unset and %s unreadable",
           file);
    return -1;
  }
  if (r1 != 1 || r2 != 1) {
    sv_err(err, errn, "no AWS credentials: profile [%s] in %s lacks aws_access_key_id or "
                      "aws_secret_access_key", prof, file);
    return -1;
  }
  sv_ini_get(file, prof, "aws_session_token", c->session_token, sizeof c->session_token);
  return 0;
}

void dep_aws_region(char *out, size_t n) {
  const char *r = getenv("AWS_REGION");
  if (!r || !*r) r = getenv("AWS_DEFAULT_REGION");
  if (r && *r) {
    sv_copy(out, n, r);
    return;
  }
  char file[1024], sect[256];
  sv_aws_file("AWS_CONFIG_FILE", "config", file, sizeof file);
  const char *prof = getenv("AWS_PROFILE");
  if (!prof || !*prof || !strcmp(prof, "default")) snprintf(sect, sizeof sect, "default");
  else snprintf(sect, sizeof sect, "profile %s", prof);
  if (sv_ini_get(file, sect, "region", out, n) == 1 && *out) return;
  sv_copy(out, n, "us-east-1");
}

int dep_aws_endpoint(const char *service_env, char *out, size_t n) {
  char name[128];
  snprintf(name, sizeof name, "AWS_ENDPOINT_URL_%s", service_env ? service_env : "");
  const char *e = service_env ? getenv(name) : NULL;
  if (!e || !*e) e = getenv("AWS_ENDPOINT_URL");
  if (!e || !*e) {
    if (n) out[0] = 0;
    return 0;
  }
  sv_copy(out, n, e);
  size_t l = strlen(out);
  while (l && out[l - 1] == '/') out[--l] = 0;
  return 1;
}
