/* `smartcart sweep-objects` against the stack's S3 server and Postgres. Each
 * case writes objects under the keys the store uses (lib/media.h), gives
 * them the rows a real flow leaves (or none), and says what must become of
 * every object: a dry run removes nothing and reports exactly the orphans;
 * the sweep removes exactly them and keeps whatever a row owns, whatever is
 * younger than OBJECT_SWEEP_GRACE_S (set to a few seconds here) and whatever
 * is not a key shape of ours; once a picture's, a banner's or a model's row
 * is gone, the next sweep removes its objects; more orphans than a listing
 * page go page by page, in batches. s3_list itself is checked
 * for paging and encoded keys, and the command for its exit status when S3
 * cannot be listed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "it_config.h"
#include "media.h"
#include "s3.h"

#define GRACE_S "3"
#define UUID_LEN 37
#define MAX_KEYS 4

/* Rows a case's objects get. */
enum row {
    ROW_NONE,
    ROW_ASSET,        /* a media_assets row (purpose, status) */
    ROW_PICTURE,      /* an asset plus its catalog row (product image or banner) */
    ROW_CATALOG_ONLY, /* a product_images row recording the full-size key (the demo seed) */
    ROW_MODEL,        /* an ai_models row recording the model file's key */
};
/* When the case's rows are deleted. */
enum gone { STAY, GONE_BEFORE_SWEEPS, GONE_AFTER_FIRST_SWEEP };
enum fate { KEPT, REMOVED, EITHER };
/* Objects of a case (bits). */
enum { K_STAGING = 1, K_FULL = 2, K_THUMB = 4, K_MODEL = 8, K_OUTSIDE = 16, K_ODD = 32 };

static const struct sweep_case {
    const char *name;
    enum row row;
    const char *purpose, *status;
    unsigned keys;
    int young; /* written after the others have outlived the grace period */
    enum gone gone;
    enum fate first, second; /* after the first sweep, after the second */
} cases[] = {
    {"ready asset: full size and variant", ROW_ASSET, "media", "ready", K_FULL | K_THUMB, 0, STAY,
     KEPT, KEPT},
    {"ready asset: staging its worker died before deleting", ROW_ASSET, "media", "ready", K_STAGING,
     0, STAY, REMOVED, REMOVED},
    {"pending asset: staging", ROW_ASSET, "media", "pending", K_STAGING, 0, STAY, KEPT, KEPT},
    {"pending avatar: variant written before the row recorded it", ROW_ASSET, "avatar", "pending",
     K_THUMB, 0, STAY, KEPT, KEPT},
    {"failed asset: variant written before it failed", ROW_ASSET, "media", "failed", K_THUMB, 0,
     STAY, KEPT, KEPT},
    {"pending asset deleted after its variants were written", ROW_ASSET, "media", "pending",
     K_STAGING | K_FULL | K_THUMB, 0, GONE_BEFORE_SWEEPS, REMOVED, REMOVED},
    {"private address proof, row deleted", ROW_ASSET, "address_proof", "ready", K_FULL | K_THUMB, 0,
     GONE_BEFORE_SWEEPS, REMOVED, REMOVED},
    {"staging without a row, old", ROW_NONE, "media", NULL, K_STAGING, 0, STAY, REMOVED, REMOVED},
    {"staging without a row, young", ROW_NONE, "media", NULL, K_STAGING, 1, STAY, KEPT, EITHER},
    {"variants without a row, young", ROW_NONE, "media", NULL, K_FULL | K_THUMB, 1, STAY, KEPT,
     EITHER},
    {"product image, then its rows deleted", ROW_PICTURE, "product_image", "ready",
     K_FULL | K_THUMB, 0, GONE_AFTER_FIRST_SWEEP, KEPT, REMOVED},
    {"pending product image's staging, then its rows deleted", ROW_PICTURE, "product_image",
     "pending", K_STAGING, 0, GONE_AFTER_FIRST_SWEEP, KEPT, REMOVED},
    {"banner, then its rows deleted", ROW_PICTURE, "banner", "ready", K_FULL | K_THUMB, 0,
     GONE_AFTER_FIRST_SWEEP, KEPT, REMOVED},
    {"seeded product picture (row only), then its row deleted", ROW_CATALOG_ONLY, "product_image",
     NULL, K_FULL, 0, GONE_AFTER_FIRST_SWEEP, KEPT, REMOVED},
    {"AI model file, then its row deleted", ROW_MODEL, NULL, NULL, K_MODEL, 0,
     GONE_AFTER_FIRST_SWEEP, KEPT, REMOVED},
    {"AI model file without a row", ROW_NONE, NULL, NULL, K_MODEL, 0, STAY, REMOVED, REMOVED},
    {"outside the swept prefixes", ROW_NONE, NULL, NULL, K_OUTSIDE, 0, STAY, KEPT, KEPT},
    {"under staging/ but not a key of ours", ROW_NONE, NULL, NULL, K_ODD, 0, STAY, KEPT, KEPT},
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static char tenant[UUID_LEN], user[UUID_LEN], product[UUID_LEN];

static struct state {
    char id[UUID_LEN];     /* the asset's (or model's, or seeded picture's) id */
    char row_id[UUID_LEN]; /* the catalog row's id (pictures) */
    char keys[MAX_KEYS][MEDIA_KEY_LEN];
    size_t nkeys;
} st[N_CASES];

/* What one run of the command printed and how it ended. */
struct run {
    int status;
    json_t *summary;
    json_t *lines; /* {key: removed (bool)} of the orphan lines */
};

static int db_do(const char *sql, int n, const char *const *p)
{
    db_conn *c = db_acquire();
    sc_code rc = c ? db_exec(c, NULL, sql, n, p) : SC_EUNAVAIL;
    if (rc != SC_OK) {
        fprintf(stderr, "sql failed: %s: %s\n", sql, c ? db_error_message(c) : "no connection");
    }
    db_release(c);
    return rc == SC_OK ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    /* Before the configuration is read, and inherited by the command. */
    setenv("OBJECT_SWEEP_GRACE_S", GRACE_S, 1);
    if (!getenv("BUILD") || it_config_load() != 0 || db_pool_init(cfg.database_url, 2) != SC_OK ||
        s3_init() != SC_OK) {
        return -1;
    }
    crypto_uuid_v4(tenant);
    crypto_uuid_v4(user);
    crypto_uuid_v4(product);
    char slug[48];
    snprintf(slug, sizeof(slug), "it-sweep-%.8s", tenant);
    const char *p[] = {tenant, slug, user}, *q[] = {product, tenant, slug};
    return db_do("INSERT INTO tenants (id, slug, name) VALUES ($1::uuid, $2, $2)", 2, p) ||
                   db_do("INSERT INTO users (id, tenant_id, email, password_hash)"
                         " VALUES ($3::uuid, $1::uuid, $2 || '@example.com', 'x')",
                         3, p) ||
                   db_do("INSERT INTO products (id, tenant_id, name, price)"
                         " VALUES ($1::uuid, $2::uuid, $3, 1)",
                         3, q)
               ? -1
               : 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        for (size_t j = 0; j < st[i].nkeys; j++) {
            s3_delete(st[i].keys[j]);
        }
    }
    s3_shutdown();
    db_pool_shutdown();
    return 0;
}

/* The keys of case i, from the same helpers the services use. */
static void make_keys(size_t i)
{
    const struct sweep_case *k = &cases[i];
    struct state *s = &st[i];
    char base[MEDIA_KEY_LEN] = "";
    crypto_uuid_v4(s->id);
    crypto_uuid_v4(s->row_id);
    if (k->purpose) {
        assert_int_equal(media_base_key(k->purpose, tenant, user, s->id, base), SC_OK);
    }
    if (k->keys & K_STAGING) {
        media_staging_key(s->id, s->keys[s->nkeys++]);
    }
    if (k->keys & K_FULL) {
        media_object_key(base, NULL, "jpg", s->keys[s->nkeys++]);
    }
    if (k->keys & K_THUMB) {
        media_object_key(base, "thumb", "webp", s->keys[s->nkeys++]);
    }
    if (k->keys & K_MODEL) {
        snprintf(s->keys[s->nkeys++], MEDIA_KEY_LEN, "models/crop/yolo-1.0-%s.onnx", s->id);
    }
    if (k->keys & K_OUTSIDE) {
        snprintf(s->keys[s->nkeys++], MEDIA_KEY_LEN, "it-sweep/%s", s->id);
    }
    if (k->keys & K_ODD) {
        snprintf(s->keys[s->nkeys++], MEDIA_KEY_LEN, "staging/%s.part", s->id);
    }
}

static void insert_rows(size_t i)
{
    const struct sweep_case *k = &cases[i];
    struct state *s = &st[i];
    /* The full-size key and the variants document the worker records. */
    char full[MEDIA_KEY_LEN], base[MEDIA_KEY_LEN], staging[MEDIA_KEY_LEN], thumb[MEDIA_KEY_LEN];
    char variants[512] = "{}";
    if (k->row == ROW_NONE) {
        return;
    }
    if (k->row == ROW_MODEL) {
        const char *p[] = {s->id, tenant, s->keys[0]};
        assert_int_equal(db_do("INSERT INTO ai_models (id, tenant_id, name, version, model_type,"
                               " object_key, size_bytes, sha256) VALUES ($1::uuid, $2::uuid,"
                               " 'yolo', '1.0', 'CROP', $3, 1, repeat('0', 64))",
                               3, p),
                         0);
        return;
    }
    assert_int_equal(media_base_key(k->purpose, tenant, user, s->id, base), SC_OK);
    media_object_key(base, NULL, "jpg", full);
    media_object_key(base, "thumb", "webp", thumb);
    media_staging_key(s->id, staging);
    if (k->row == ROW_CATALOG_ONLY) {
        const char *p[] = {s->row_id, product, full};
        assert_int_equal(db_do("INSERT INTO product_images (id, product_id, object_key, image_url)"
                               " VALUES ($1::uuid, $2::uuid, $3, $3)",
                               3, p),
                         0);
        return;
    }
    if (!strcmp(k->status, "ready")) {
        snprintf(variants, sizeof(variants), "{\"thumb\": {\"key\": \"%s\", \"width\": 1}}", thumb);
    }
    const char *subject = k->row == ROW_PICTURE ? s->row_id : NULL;
    const char *p[] = {s->id,     tenant,  user, k->purpose, subject,
                       k->status, staging, full, variants};
    assert_int_equal(
        db_do("INSERT INTO media_assets (id, tenant_id, owner_id, kind, purpose, subject_id,"
              " original_name, content_type, size_bytes, sha256, status, failure_reason,"
              " staging_key, object_key, width, height, variants) VALUES ($1::uuid, $2::uuid,"
              " $3::uuid, 'image', $4, $5::uuid, 'a.jpg', 'image/jpeg', 1, repeat('0', 64),"
              " $6::text, CASE WHEN $6::text = 'failed' THEN 'corrupt' END, $7, $8,"
              " CASE WHEN $6::text = 'ready' THEN 1 END, CASE WHEN $6::text = 'ready' THEN 1 END,"
              " $9::jsonb)",
              9, p),
        0);
    if (k->row == ROW_PICTURE) {
        const char *q[] = {s->row_id, !strcmp(k->purpose, "banner") ? tenant : product, full};
        assert_int_equal(
            db_do(!strcmp(k->purpose, "banner")
                      ? "INSERT INTO banners (id, tenant_id, title, object_key, image_url)"
                        " VALUES ($1::uuid, $2::uuid, 'b', $3, $3)"
                      : "INSERT INTO product_images (id, product_id, object_key, image_url)"
                        " VALUES ($1::uuid, $2::uuid, $3, $3)",
                  3, q),
            0);
    }
}

static void delete_rows(size_t i)
{
    const char *p[] = {st[i].id, st[i].row_id};
    assert_int_equal(db_do("WITH a AS (DELETE FROM media_assets WHERE id = $1::uuid),"
                           " m AS (DELETE FROM ai_models WHERE id = $1::uuid),"
                           " b AS (DELETE FROM banners WHERE id = $2::uuid)"
                           " DELETE FROM product_images WHERE id = $2::uuid",
                           2, p),
                     0);
}

static void put_objects(int young)
{
    time_t start = time(NULL);
    for (size_t i = 0; i < N_CASES; i++) {
        for (size_t j = 0; cases[i].young == young && j < st[i].nkeys; j++) {
            assert_int_equal(s3_put(st[i].keys[j], "x", 1, NULL), SC_OK);
        }
    }
    /* Young objects a second old by the sweep: a sweep that ignored the
     * setting (or judged by "older than 0") would take them. */
    while (young && time(NULL) <= start) {
        usleep(50 * 1000);
    }
}

/* Runs `smartcart sweep-objects [args]` with extra environment assignments
 * (env: "" for none); collects its JSON lines. */
static struct run run_sweep(const char *env, const char *args)
{
    char cmd[512];
    struct run r = {.status = -1, .lines = json_object()};
    snprintf(cmd, sizeof(cmd), "%s %s/smartcart sweep-objects %s", env, getenv("BUILD"), args);
    FILE *out = popen(cmd, "r");
    assert_non_null(out);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, out) > 0) {
        json_t *doc = json_loads(line, 0, NULL);
        assert_non_null(doc);
        if (json_is_true(json_object_get(doc, "summary"))) {
            r.summary = json_incref(doc);
        } else {
            const char *key = json_string_value(json_object_get(doc, "key"));
            assert_non_null(key);
            json_object_set(r.lines, key, json_object_get(doc, "removed"));
        }
        json_decref(doc);
    }
    free(line);
    int status = pclose(out);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

static void run_free(struct run *r)
{
    json_decref(r->summary);
    json_decref(r->lines);
}

/* Checks every object of every case against its fate after a run of the
 * first or second sweep (dry: a dry run, so nothing may be gone) and that
 * the run reported exactly the orphans it met among them. Every mismatch is
 * named before the test fails. */
static void check(const struct run *r, int second, int dry)
{
    int bad = 0;
    assert_int_equal(r->status, 0);
    assert_non_null(r->summary);
    assert_int_equal(json_is_true(json_object_get(r->summary, "dry_run")), dry);
    assert_int_equal(json_integer_value(json_object_get(r->summary, "failed")), 0);
    for (size_t i = 0; i < N_CASES; i++) {
        enum fate f = second ? cases[i].second : cases[i].first;
        /* An object the first sweep removed is not there to report again. */
        int orphan = f == REMOVED && (!second || cases[i].first == KEPT);
        for (size_t j = 0; j < st[i].nkeys && f != EITHER; j++) {
            const char *key = st[i].keys[j];
            sc_code rc = s3_head(key, NULL);
            json_t *line = json_object_get(r->lines, key);
            if ((rc != SC_OK && rc != SC_ENOTFOUND) || (rc == SC_OK) != (dry || f == KEPT) ||
                (line != NULL) != orphan || (line && json_is_true(line) == dry)) {
                print_message("case \"%s\", key %s: exists %d, reported %d, expected %s\n",
                              cases[i].name, key, rc == SC_OK, line != NULL,
                              f == KEPT ? "kept" : "removed");
                bad++;
            }
        }
    }
    assert_int_equal(bad, 0);
}

/* Orphans among the cases' objects in the first or second sweep. */
static json_int_t orphans_of(int second)
{
    json_int_t n = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        enum fate f = second ? cases[i].second : cases[i].first;
        n += f == REMOVED && (!second || cases[i].first == KEPT) ? (json_int_t)st[i].nkeys : 0;
    }
    return n;
}

/* Waits (polling) until everything written up to `written` is older than
 * the grace period: S3's LastModified is never later than our clock then. */
static void outlive_grace(time_t written)
{
    while (time(NULL) <= written + atoi(GRACE_S)) {
        usleep(100 * 1000);
    }
}

static void dry_run_reports_orphans_and_removes_nothing(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        make_keys(i);
        insert_rows(i);
    }
    put_objects(0);
    time_t written = time(NULL);
    for (size_t i = 0; i < N_CASES; i++) {
        if (cases[i].gone == GONE_BEFORE_SWEEPS) {
            delete_rows(i);
        }
    }
    outlive_grace(written);
    put_objects(1);
    struct run r = run_sweep("", "--dry-run");
    check(&r, 0, 1);
    assert_int_equal(json_integer_value(json_object_get(r.summary, "removed")), 0);
    assert_true(json_integer_value(json_object_get(r.summary, "orphans")) >= orphans_of(0));
    run_free(&r);
}

static void sweep_removes_orphans_only(void **state)
{
    (void)state;
    put_objects(1); /* young again, however long the dry run took */
    struct run r = run_sweep("", "");
    check(&r, 0, 0);
    json_int_t removed = json_integer_value(json_object_get(r.summary, "removed"));
    assert_true(removed >= orphans_of(0));
    assert_int_equal(json_integer_value(json_object_get(r.summary, "orphans")), removed);
    run_free(&r);
}

static void objects_go_once_their_rows_are_gone(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        if (cases[i].gone == GONE_AFTER_FIRST_SWEEP) {
            delete_rows(i);
        }
    }
    struct run r = run_sweep("", "");
    check(&r, 1, 0);
    assert_true(json_integer_value(json_object_get(r.summary, "removed")) >= orphans_of(1));
    run_free(&r);
}

/* More orphans than a listing page holds: each page's orphans go in one
 * DeleteObjects request (s3_delete_many), every one removed and reported,
 * while the stack's staging/.keep (not a key of ours) stays, though the
 * requests empty the rest of staging/. */
static void many_orphans_go_page_by_page(void **state)
{
    (void)state;
    enum { N = 1100 };
    char(*keys)[MEDIA_KEY_LEN] = calloc(N, sizeof(*keys)), id[UUID_LEN];
    assert_non_null(keys);
    for (size_t i = 0; i < N; i++) {
        crypto_uuid_v4(id);
        media_staging_key(id, keys[i]);
        assert_int_equal(s3_put(keys[i], "x", 1, NULL), SC_OK);
    }
    outlive_grace(time(NULL));
    struct run r = run_sweep("", "");
    assert_int_equal(r.status, 0);
    assert_non_null(r.summary);
    assert_int_equal(json_integer_value(json_object_get(r.summary, "failed")), 0);
    assert_true(json_integer_value(json_object_get(r.summary, "removed")) >= N);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        bad += s3_head(keys[i], NULL) != SC_ENOTFOUND ||
               !json_is_true(json_object_get(r.lines, keys[i]));
    }
    assert_int_equal(bad, 0);
    assert_int_equal(s3_head("staging/.keep", NULL), SC_OK);
    run_free(&r);
    free(keys);
}

/* Keys that need URL encoding come back as written, over pages of 2. (XML
 * references in listed keys are the unit test's: s3rver 4.0.4 escapes & < >
 * and ' twice, where S3 and R2 escape once; the store's keys have none.) */
static void list_pages_through_encoded_keys(void **state)
{
    (void)state;
    static const char *const names[] = {"a b+c=d", "caf\xc3\xa9 \xe2\x82\xac", "plain", "x~y(1)",
                                        "z/nested"};
    const size_t n = sizeof(names) / sizeof(names[0]);
    char prefix[64], key[128], run_id[UUID_LEN];
    crypto_uuid_v4(run_id);
    snprintf(prefix, sizeof(prefix), "it-sweep-list/%s/", run_id);
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s%s", prefix, names[i]);
        assert_int_equal(s3_put(key, "xy", 2, NULL), SC_OK);
    }
    size_t seen = 0, pages = 0;
    char *token = NULL;
    time_t now = time(NULL);
    do {
        struct s3_list l;
        assert_int_equal(s3_list(prefix, token, 2, &l), SC_OK);
        free(token);
        pages++;
        assert_true(l.n <= 2);
        for (size_t i = 0; i < l.n; i++, seen++) {
            assert_true(seen < n);
            snprintf(key, sizeof(key), "%s%s", prefix, names[seen]);
            assert_string_equal(l.objects[i].key, key);
            assert_int_equal(l.objects[i].size, 2);
            assert_true(l.objects[i].last_modified >= now - 60 &&
                        l.objects[i].last_modified <= now + 60);
            assert_int_equal(s3_delete(key), SC_OK);
        }
        token = l.next;
        l.next = NULL;
        s3_list_free(&l);
    } while (token);
    assert_int_equal(seen, n);
    assert_true(pages >= 3);
    struct s3_list l;
    assert_int_equal(s3_list(prefix, NULL, 1000, &l), SC_OK);
    assert_int_equal(l.n, 0);
    s3_list_free(&l);
    assert_int_equal(s3_list(prefix, NULL, 0, &l), SC_EINVAL);
}

/* An S3 server that cannot be listed fails the command: nothing is judged. */
static void unreachable_s3_fails_the_command(void **state)
{
    (void)state;
    struct run r = run_sweep("S3_ENDPOINT=http://127.0.0.1:9 S3_TIMEOUT_MS=1000", "");
    assert_int_equal(r.status, 1);
    assert_non_null(r.summary);
    assert_int_equal(json_integer_value(json_object_get(r.summary, "listed")), 0);
    run_free(&r);
    r = run_sweep("", "--bogus");
    assert_int_equal(r.status, 2);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dry_run_reports_orphans_and_removes_nothing),
        cmocka_unit_test(sweep_removes_orphans_only),
        cmocka_unit_test(objects_go_once_their_rows_are_gone),
        cmocka_unit_test(many_orphans_go_page_by_page),
        cmocka_unit_test(list_pages_through_encoded_keys),
        cmocka_unit_test(unreachable_s3_fails_the_command),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
