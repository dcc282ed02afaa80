/* Deployment state in SQLite (see dep_state.h). */
#include "dep_state.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct dep_state {
    sqlite3 *db;
    char path[PATH_MAX];
};

static const char k_schema[] =
    "CREATE TABLE IF NOT EXISTS deployments("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, group_path TEXT,"
    " status TEXT NOT NULL, error TEXT);"
    "CREATE TABLE IF NOT EXISTS resources("
    " id TEXT PRIMARY KEY, source TEXT NOT NULL, etag TEXT, sha256 TEXT NOT NULL,"
    " store_path TEXT, size INTEGER, mtime_ns INTEGER, activated_at INTEGER,"
    " deployment_id INTEGER);"
    "CREATE TABLE IF NOT EXISTS deployment_resources("
    " deployment_id INTEGER NOT NULL, resource_id TEXT NOT NULL, source TEXT, etag TEXT,"
    " sha256 TEXT, store_path TEXT, size INTEGER, changed INTEGER,"
    " PRIMARY KEY(deployment_id, resource_id));";

static dep_status st_fail(dep_state *s, dep_err *e, const char *what)
{
    return dep_errf(e, DEP_EIO, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

dep_status dep_state_open(const char *root, int create, dep_state **out, dep_err *e)
{
    *out = NULL;
    dep_state *s = calloc(1, sizeof *s);
    if (!s)
        return dep_errf(e, DEP_ENOMEM, "state: out of memory");
    if ((size_t)snprintf(s->path, sizeof s->path, "%s/state.db", root) >= sizeof s->path) {
        free(s);
        return dep_errf(e, DEP_EINVAL, "%s: root path too long", root);
    }
    if (!create) {
        struct stat sb;
        if (stat(s->path, &sb) != 0) {
            int en = errno;
            free(s);
            return dep_errf(e, en == ENOENT ? DEP_ENOENT : DEP_EIO, "%s/state.db: %s", root,
                            strerror(en));
        }
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK) {
        dep_status st = s->db ? st_fail(s, e, "open")
                              : dep_errf(e, DEP_ENOMEM, "%s: out of memory", s->path);
        sqlite3_close(s->db);
        free(s);
        return st;
    }
    sqlite3_busy_timeout(s->db, 10000);
    char *msg = NULL;
    const char *setup = create ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;" : "";
    if (sqlite3_exec(s->db, setup, NULL, NULL, &msg) != SQLITE_OK ||
        (create && sqlite3_exec(s->db, k_schema, NULL, NULL, &msg) != SQLITE_OK)) {
        dep_errf(e, DEP_EIO, "%s: %s", s->path, msg ? msg : "setup failed");
        sqlite3_free(msg);
        sqlite3_close(s->db);
        free(s);
        return DEP_EIO;
    }
    *out = s;
    return DEP_OK;
}

void dep_state_close(dep_state *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s);
}

static dep_status st_exec(dep_state *s, const char *sql, dep_err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        dep_errf(e, DEP_EIO, "%s: %s", s->path, msg ? msg : "statement failed");
        sqlite3_free(msg);
        return DEP_EIO;
    }
    return DEP_OK;
}

dep_status dep_state_mark_interrupted(dep_state *s, dep_err *e)
{
    return st_exec(s,
                   "UPDATE deployments SET status='Failure', error='interrupted: the deploying "
                   "process stopped before it finished' WHERE status IN ('Building','InProgress');",
                   e);
}

static dep_status st_prep(dep_state *s, const char *sql, sqlite3_stmt **q, dep_err *e)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, q, NULL) != SQLITE_OK)
        return st_fail(s, e, "prepare");
    return DEP_OK;
}

/* Steps a write statement to its end and finalizes it. */
static dep_status st_done(dep_state *s, sqlite3_stmt *q, dep_err *e)
{
    int rc = sqlite3_step(q);
    dep_status st = rc == SQLITE_DONE ? DEP_OK : st_fail(s, e, "write");
    sqlite3_finalize(q);
    return st;
}

dep_status dep_state_begin(dep_state *s, const char *group_path, int64_t *id, dep_err *e)
{
    sqlite3_stmt *q;
    dep_status st = st_prep(s, "INSERT INTO deployments(time, group_path, status) VALUES(?,?,?)",
                            &q, e);
    if (st)
        return st;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)time(NULL));
    sqlite3_bind_text(q, 2, group_path ? group_path : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, DEP_ST_BUILDING, -1, SQLITE_STATIC);
    if ((st = st_done(s, q, e)))
        return st;
    *id = (int64_t)sqlite3_last_insert_rowid(s->db);
    return DEP_OK;
}

dep_status dep_state_set_status(dep_state *s, int64_t id, const char *status, const char *error,
                                dep_err *e)
{
    sqlite3_stmt *q;
    dep_status st = st_prep(s, "UPDATE deployments SET status=?, error=? WHERE id=?", &q, e);
    if (st)
        return st;
    sqlite3_bind_text(q, 1, status, -1, SQLITE_TRANSIENT);
    if (error && error[0])
        sqlite3_bind_text(q, 2, error, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, 2);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)id);
    return st_done(s, q, e);
}

static void col_copy(sqlite3_stmt *q, int c, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(q, c);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

dep_status dep_state_get_resource(dep_state *s, const char *rid, dep_res_rec *r, int *found,
                                  dep_err *e)
{
    *found = 0;
    memset(r, 0, sizeof *r);
    sqlite3_stmt *q;
    dep_status st = st_prep(s,
                            "SELECT id, source, etag, sha256, store_path, size, mtime_ns, "
                            "activated_at FROM resources WHERE id=?",
                            &q, e);
    if (st)
        return st;
    sqlite3_bind_text(q, 1, rid, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        col_copy(q, 0, r->id, sizeof r->id);
        col_copy(q, 1, r->source, sizeof r->source);
        col_copy(q, 2, r->etag, sizeof r->etag);
        col_copy(q, 3, r->sha256, sizeof r->sha256);
        col_copy(q, 4, r->store_path, sizeof r->store_path);
        r->size = (uint64_t)sqlite3_column_int64(q, 5);
        r->mtime_ns = sqlite3_column_int64(q, 6);
        r->activated_at = sqlite3_column_int64(q, 7);
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        st = st_fail(s, e, "read");
    }
    sqlite3_finalize(q);
    return st;
}

/* The record fields both tables keep, in their column order, from `first`:
 * id, source, etag, sha256, store_path, size. */
static void bind_rec(sqlite3_stmt *q, int first, const dep_res_rec *r)
{
    sqlite3_bind_text(q, first, r->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, first + 1, r->source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, first + 2, r->etag, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, first + 3, r->sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, first + 4, r->store_path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, first + 5, (sqlite3_int64)r->size);
}

dep_status dep_state_add_dep_resource(dep_state *s, int64_t id, const dep_res_rec *r, int changed,
                                      dep_err *e)
{
    sqlite3_stmt *q;
    dep_status st = st_prep(s,
                            "INSERT OR REPLACE INTO deployment_resources(deployment_id, "
                            "resource_id, source, etag, sha256, store_path, size, changed) "
                            "VALUES(?,?,?,?,?,?,?,?)",
                            &q, e);
    if (st)
        return st;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
    bind_rec(q, 2, r);
    sqlite3_bind_int(q, 8, changed ? 1 : 0);
    return st_done(s, q, e);
}

dep_status dep_state_put_resource(dep_state *s, int64_t id, const dep_res_rec *r, dep_err *e)
{
    sqlite3_stmt *q;
    dep_status st = st_prep(s,
                            "INSERT OR REPLACE INTO resources(id, source, etag, sha256, "
                            "store_path, size, mtime_ns, activated_at, deployment_id) "
                            "VALUES(?,?,?,?,?,?,?,?,?)",
                            &q, e);
    if (st)
        return st;
    bind_rec(q, 1, r);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)r->mtime_ns);
    sqlite3_bind_int64(q, 8, (sqlite3_int64)r->activated_at);
    sqlite3_bind_int64(q, 9, (sqlite3_int64)id);
    return st_done(s, q, e);
}

dep_status dep_state_del_resource(dep_state *s, const char *rid, dep_err *e)
{
    sqlite3_stmt *q;
    dep_status st = st_prep(s, "DELETE FROM resources WHERE id=?", &q, e);
    if (st)
        return st;
    sqlite3_bind_text(q, 1, rid, -1, SQLITE_TRANSIENT);
    return st_done(s, q, e);
}

dep_status dep_state_list_resources(dep_state *s, char ***ids, size_t *n, dep_err *e)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *q;
    dep_status st = st_prep(s, "SELECT id FROM resources ORDER BY id", &q, e);
    if (st)
        return st;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(*ids, nc * sizeof *nv);
            if (!nv) {
                st = dep_errf(e, DEP_ENOMEM, "state: out of memory");
                break;
            }
            *ids = nv;
            cap = nc;
        }
        const unsigned char *t = sqlite3_column_text(q, 0);
        char *d = strdup(t ? (const char *)t : "");
        if (!d) {
            st = dep_errf(e, DEP_ENOMEM, "state: out of memory");
            break;
        }
        (*ids)[(*n)++] = d;
    }
    if (!st && rc != SQLITE_DONE)
        st = st_fail(s, e, "read");
    sqlite3_finalize(q);
    if (st) {
        for (size_t i = 0; i < *n; i++)
            free((*ids)[i]);
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return st;
}

/* ---- report ---- */

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    if (t <= 0) {
        snprintf(buf, cap, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, cap, "%lld", (long long)t);
}

static const char *col_str(sqlite3_stmt *q, int c)
{
    const unsigned char *t = sqlite3_column_text(q, c);
    return t ? (const char *)t : "";
}

/* Text output: control bytes escaped so that a hostile value stays on its line. */
static void put_esc(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

static int json_set_str(json_t *o, const char *k, const char *v)
{
    json_t *j = json_string(v);
    if (!j)  /* not UTF-8: keep the key, say so */
        j = json_string("(invalid UTF-8)");
    return json_object_set_new(o, k, j);
}

dep_status dep_state_report(dep_state *s, FILE *f, int json, unsigned limit, dep_err *e)
{
    sqlite3_stmt *qd = NULL, *qr = NULL;
    dep_status st = st_prep(s,
                            "SELECT id, time, status, error, group_path FROM deployments "
                            "ORDER BY id DESC LIMIT ?",
                            &qd, e);
    if (st)
        return st;
    sqlite3_bind_int64(qd, 1, limit ? (sqlite3_int64)limit : (sqlite3_int64)INT64_MAX);
    if ((st = st_prep(s,
                      "SELECT id, source, etag, sha256, store_path, size, activated_at, "
                      "deployment_id FROM resources ORDER BY id",
                      &qr, e))) {
        sqlite3_finalize(qd);
        return st;
    }
    json_t *root = NULL, *jd = NULL, *jr = NULL;
    if (json) {
        root = json_object();
        jd = json_array();
        jr = json_array();
        if (!root || !jd || !jr) {
            json_decref(root);
            json_decref(jd);
            json_decref(jr);
            st = dep_errf(e, DEP_ENOMEM, "state: out of memory");
            goto out;
        }
        json_object_set_new(root, "deployments", jd);
        json_object_set_new(root, "resources", jr);
    } else {
        fprintf(f, "Deployments (newest first):\n");
    }
    int rc, nd = 0;
    char tb[64];
    while ((rc = sqlite3_step(qd)) == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(qd, 1);
        fmt_time(t, tb, sizeof tb);
        int has_err = sqlite3_column_type(qd, 3) != SQLITE_NULL;
        if (json) {
            json_t *o = json_object();
            if (!o)
                continue;
            json_object_set_new(o, "id", json_integer(sqlite3_column_int64(qd, 0)));
            json_object_set_new(o, "time", json_integer(t));
            json_set_str(o, "time_utc", tb);
            json_set_str(o, "status", col_str(qd, 2));
            json_object_set_new(o, "error", has_err ? json_string(col_str(qd, 3)) : json_null());
            json_set_str(o, "group", col_str(qd, 4));
            json_array_append_new(jd, o);
        } else {
            fprintf(f, "  #%lld  %s  %s", (long long)sqlite3_column_int64(qd, 0), tb,
                    col_str(qd, 2));
            if (has_err) {
                fputs(": ", f);
                put_esc(f, col_str(qd, 3));
            }
            fputc('\n', f);
        }
        nd++;
    }
    if (rc != SQLITE_DONE) {
        st = st_fail(s, e, "read");
        goto out;
    }
    if (!json && nd == 0)
        fprintf(f, "  (none)\n");
    if (!json)
        fprintf(f, "Resources (active):\n");
    int nr = 0;
    while ((rc = sqlite3_step(qr)) == SQLITE_ROW) {
        int64_t at = sqlite3_column_int64(qr, 6);
        fmt_time(at, tb, sizeof tb);
        if (json) {
            json_t *o = json_object();
            if (!o)
                continue;
            json_set_str(o, "id", col_str(qr, 0));
            json_set_str(o, "source", col_str(qr, 1));
            json_set_str(o, "etag", col_str(qr, 2));
            json_set_str(o, "sha256", col_str(qr, 3));
            json_set_str(o, "store_path", col_str(qr, 4));
            json_object_set_new(o, "size", json_integer(sqlite3_column_int64(qr, 5)));
            json_object_set_new(o, "activated_at", json_integer(at));
            json_set_str(o, "activated_utc", tb);
            json_object_set_new(o, "deployment", json_integer(sqlite3_column_int64(qr, 7)));
            json_array_append_new(jr, o);
        } else {
            fputs("  ", f);
            put_esc(f, col_str(qr, 0));
            fputs("\n    source:    ", f);
            put_esc(f, col_str(qr, 1));
            fputs("\n    etag:      ", f);
            put_esc(f, col_str(qr, 2)[0] ? col_str(qr, 2) : "-");
            fprintf(f, "\n    sha256:    %s\n    store:     store/", col_str(qr, 3));
            put_esc(f, col_str(qr, 4));
            fprintf(f, "\n    size:      %lld bytes\n    activated: %s (deployment #%lld)\n",
                    (long long)sqlite3_column_int64(qr, 5), tb,
                    (long long)sqlite3_column_int64(qr, 7));
        }
        nr++;
    }
    if (rc != SQLITE_DONE) {
        st = st_fail(s, e, "read");
        goto out;
    }
    if (json) {
        if (json_dumpf(root, f, JSON_INDENT(2)) != 0)
            st = dep_errf(e, DEP_EIO, "cannot write the report");
        fputc('\n', f);
    } else if (nr == 0) {
        fprintf(f, "  (none)\n");
    }
out:
    json_decref(root);
    sqlite3_finalize(qd);
    sqlite3_finalize(qr);
    return st;
}
