/* The object sweep (object_sweep.h). Each listing page's objects older than
 * the grace period go to Postgres in one statement, which judges every key:
 *
 *   foreign  not a shape the store writes (lib/media.h, db/models.c):
 *            staging/<id>; media/<tenant>/<owner>/<id>[._]...;
 *            media/<tenant>/customers/<user>/{profile,address}/<id>[._]...;
 *            images/{products,banners}/<id>[._]...; models/{crop,embedding}/<file>.
 *            Anything else (the local S3 server's staging/.keep, another
 *            tool's files, upper-case ids) is left alone.
 *   owned    a row records the key (media_assets.object_key,
 *            product_images.object_key, banners.object_key,
 *            ai_models.object_key), or the key names an existing asset:
 *            - staging/<id>: a pending asset <id> (its worker still reads
 *              it; once an asset is ready or failed no worker does, and its
 *              worker deletes it after the commit, so a leftover one is an
 *              orphan);
 *            - media/... and images/...: an asset <id> of any status. Every
 *              key an asset's worker writes (full size, variants) carries
 *              its id, so a pending or failed asset owns what its worker
 *              wrote before the row recorded it;
 *            - models/...: only the exact key of an ai_models row (no asset
 *              writes there).
 *   orphan   everything else: deleted.
 *
 * Why this is safe: a row is only ever created for a key whose object is
 * written afterwards or within the grace period before its commit (ingest's
 * staging PUT, a model upload, the demo seed), never for an old object, so
 * an old key no row owned when the statement ran stays unowned until the
 * DELETE; and the statement reads committed rows only. */
#include "object_sweep.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "s3.h"

#define UUID_RE "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

/* Objects per listing page and per ownership query: S3's largest page. */
#define PAGE 1000

static const char *const prefixes[] = {"staging/", "media/", "images/products/", "images/banners/",
                                       "models/"};

/* $1: a JSON array of keys; one verdict per key, in the array's order. */
static const char judge_sql[] =
    "SELECT CASE"
    " WHEN a.staging IS NULL AND a.id IS NULL AND j.k !~ '^models/(crop|embedding)/[^/]+$'"
    " THEN 'foreign'"
    " WHEN EXISTS (SELECT 1 FROM media_assets m WHERE m.id = a.staging AND m.status = 'pending')"
    " OR EXISTS (SELECT 1 FROM media_assets m WHERE m.id = a.id)"
    " OR EXISTS (SELECT 1 FROM media_assets m WHERE m.object_key = j.k)"
    " OR EXISTS (SELECT 1 FROM product_images i WHERE i.object_key = j.k)"
    " OR EXISTS (SELECT 1 FROM banners b WHERE b.object_key = j.k)"
    " OR EXISTS (SELECT 1 FROM ai_models x WHERE x.object_key = j.k) THEN 'owned'"
    " ELSE 'orphan' END"
    " FROM json_array_elements_text($1::json) WITH ORDINALITY AS j(k, n)"
    " CROSS JOIN LATERAL (SELECT substring(j.k FROM '^staging/(" UUID_RE ")$')::uuid,"
    " coalesce(substring(j.k FROM '^media/" UUID_RE "/(?:" UUID_RE "|customers/" UUID_RE
    "/(?:profile|address))/(" UUID_RE ")[._][^/]*$'),"
    " substring(j.k FROM '^images/(?:products|banners)/(" UUID_RE ")[._][^/]*$'))::uuid)"
    " AS a(staging, id)"
    " ORDER BY j.n";

/* One orphan's line in the report. */
static void report_orphan(FILE *report, const struct s3_object *o, int removed, sc_code rc)
{
    char when[32];
    struct tm tm;
    if (!report) {
        return;
    }
    gmtime_r(&o->last_modified, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *line = json_pack("{s:s, s:I, s:s, s:b}", "key", o->key, "size", (json_int_t)o->size,
                             "last_modified", when, "removed", removed);
    if (line && rc != SC_OK) {
        json_object_set_new(line, "error", json_string(sc_strerror(rc)));
    }
    if (line) {
        json_dumpf(line, report, JSON_COMPACT);
        fputc('\n', report);
        fflush(report);
    }
    json_decref(line);
}

/* Verdicts for the old objects of page (old[i] set): row r of *verdicts
 * (the caller frees) judges page->objects[asked[r]], for *nasked rows. Keys
 * that are not valid UTF-8 (no JSON string holds them) are none of ours:
 * counted foreign. */
static sc_code judge(const struct s3_list *page, const char *old, db_rows **verdicts, size_t *asked,
                     size_t *nasked, struct object_sweep_counts *n)
{
    json_t *keys = json_array();
    char *text = NULL;
    sc_code rc = SC_ENOMEM;
    *verdicts = NULL;
    *nasked = 0;
    if (!keys) {
        goto out;
    }
    for (size_t i = 0; i < page->n; i++) {
        if (!old[i]) {
            continue;
        }
        json_t *k = json_string(page->objects[i].key);
        if (!k) {
            n->foreign++;
            continue;
        }
        if (json_array_append_new(keys, k) != 0) {
            goto out;
        }
        asked[(*nasked)++] = i;
    }
    if (*nasked == 0) {
        rc = SC_OK;
        goto out;
    }
    if (!(text = json_dumps(keys, JSON_COMPACT))) {
        goto out;
    }
    db_conn *c = db_acquire();
    const char *p[] = {text};
    rc = c ? db_exec(c, verdicts, judge_sql, 1, p) : SC_EUNAVAIL;
    db_release(c);
    if (rc == SC_OK && (size_t)db_nrows(*verdicts) != *nasked) {
        rc = SC_EINTERNAL;
    }
out:
    if (rc != SC_OK) {
        db_rows_free(*verdicts);
        *verdicts = NULL;
    }
    free(text);
    json_decref(keys);
    return rc;
}

/* Judges one page and deletes its orphans, all in one request
 * (s3_delete_many). Returns the page's first error; *fatal tells whether the
 * sweep must stop (nothing could be judged). */
static sc_code sweep_page(const struct s3_list *page, int dry_run, time_t now, FILE *report,
                          struct object_sweep_counts *n, int *fatal)
{
    db_rows *verdicts = NULL;
    size_t slots = page->n ? page->n : 1, nasked = 0, norphans = 0;
    size_t *asked = calloc(slots, sizeof(*asked));
    char *old = calloc(slots, 1);
    const char **doomed = calloc(slots, sizeof(*doomed));
    sc_code *removed = calloc(slots, sizeof(*removed));
    sc_code rc = SC_ENOMEM, first = SC_OK;
    *fatal = 1;
    if (!old || !asked || !doomed || !removed) {
        goto out;
    }
    n->listed += (long long)page->n;
    for (size_t i = 0; i < page->n; i++) {
        /* A clock ahead of ours makes an object look younger, never older. */
        old[i] = now - page->objects[i].last_modified > (time_t)cfg.object_sweep_grace_s;
        n->young += !old[i];
    }
    if ((rc = judge(page, old, &verdicts, asked, &nasked, n)) != SC_OK) {
        log_json(LOG_ERROR, "object sweep: ownership query failed",
                 json_pack("{s:s}", "error", sc_strerror(rc)));
        goto out;
    }
    *fatal = 0;
    /* asked[] is compacted in place to the orphans' indexes. */
    for (size_t r = 0; r < nasked; r++) {
        const char *verdict = db_value(verdicts, (int)r, 0);
        if (!strcmp(verdict, "foreign")) {
            n->foreign++;
        } else if (!strcmp(verdict, "owned")) {
            n->owned++;
        } else {
            doomed[norphans] = page->objects[asked[r]].key;
            asked[norphans++] = asked[r];
        }
    }
    if (!dry_run) {
        s3_delete_many(doomed, norphans, removed);
    }
    for (size_t r = 0; r < norphans; r++) {
        sc_code rd = removed[r]; /* SC_OK in a dry run (calloc) */
        n->orphans++;
        if (rd == SC_OK) {
            n->removed += !dry_run;
        } else {
            n->failed++;
            first = first == SC_OK ? rd : first;
        }
        report_orphan(report, &page->objects[asked[r]], !dry_run && rd == SC_OK, rd);
    }
    rc = first;
out:
    db_rows_free(verdicts);
    free(asked);
    free(old);
    free(doomed);
    free(removed);
    return rc;
}

sc_code object_sweep_run(int dry_run, FILE *report, struct object_sweep_counts *counts)
{
    sc_code first = SC_OK;
    *counts = (struct object_sweep_counts){0};
    time_t now = time(NULL);
    for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
        char *token = NULL;
        int fatal = 0;
        do {
            struct s3_list page;
            sc_code rc = s3_list(prefixes[p], token, PAGE, &page);
            free(token);
            token = NULL;
            if (rc != SC_OK) {
                log_json(LOG_ERROR, "object sweep: listing failed",
                         json_pack("{s:s, s:s}", "prefix", prefixes[p], "error", sc_strerror(rc)));
                s3_list_free(&page);
                return first == SC_OK ? rc : first;
            }
            rc = sweep_page(&page, dry_run, now, report, counts, &fatal);
            first = first == SC_OK ? rc : first;
            token = page.next;
            page.next = NULL;
            s3_list_free(&page);
        } while (token && !fatal);
        free(token);
        if (fatal) {
            return first;
        }
    }
    return first;
}
