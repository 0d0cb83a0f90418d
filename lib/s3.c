/* libcurl adapter for S3 / R2. Every request is signed by our own sigv4.c
 * (one signer for headers and presigned URLs, and none of curl 7.88's
 * CURLOPT_AWS_SIGV4 quirks). Each request runs on a pooled pair of an easy
 * handle and a multi handle of its own: the multi keeps the keep-alive
 * connections between requests, so a busy process reuses TCP (and TLS)
 * sessions instead of paying a handshake per PUT, and a request can be
 * started and finished later (s3_put_file_start) while the caller does other
 * work on the same thread. */
#include "s3.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "crypto.h"
#include "log.h"
#include "sigv4.h"
#include "text.h"

/* Enough of an error answer to find its <Code>; the rest is dropped. */
#define ERROR_BODY_MAX 4096
/* Bodies of successful calls other than s3_get (copy results) are small XML. */
#define SMALL_BODY_MAX 65536
/* A listing page, or a DeleteObjects answer: up to 1000 entries of at most
 * a 1 KiB key each, escaped (s3rver lists every deleted key, quiet or not). */
#define LIST_BODY_MAX (16 * 1024 * 1024)
/* curl sends "Expect: 100-continue" before every PUT body and waits a round
 * trip for the answer; that only pays off when a refusal saves sending a lot
 * (curl itself asks for it only above this size on a POST). */
#define EXPECT_MIN_BODY (1024 * 1024)
/* How much of a body curl reads and sends per step (its default is 64 KiB).
 * A started PUT (s3_put_file_start) only advances while its thread drives
 * it, so the first step should carry a typical photo whole. */
#define UPLOAD_BUFFER (256 * 1024)

/* A pooled pair: the easy handle runs on its own multi handle, whose
 * connection cache outlives each request. */
struct handle {
    CURL *easy;
    CURLM *multi;
};

static struct {
    pthread_mutex_t lock;
    struct handle *idle; /* not in use, each with its own warm connections */
    size_t nidle, cap;
    char *origin;    /* scheme://host[:port] */
    char *host;      /* host[:port], the signed Host header */
    char *base_path; /* [endpoint path]/bucket */
    struct sigv4_key key;
} s3 = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* One request and what came back. */
struct call {
    const char *method;
    const char *key; /* NULL: the bucket itself, when bucket is set */
    int bucket;
    const char *query;       /* canonical query string (sorted, encoded); NULL: none */
    const char *copy_source; /* x-amz-copy-source value, already encoded */
    const char *range;       /* GET only: "first-last" bytes, unsigned header */
    const char *content_type;
    const char *content_md5;    /* base64, signed; NULL: none */
    const char *payload_sha256; /* hex SHA-256 of the body, signed; NULL: UNSIGNED-PAYLOAD */
    int upload;                 /* sends a body: from file when set, else data/left */
    int key_errors; /* a 200's <Error>s are per key (DeleteObjects): the caller reads them */
    FILE *file;
    const char *data;
    size_t left;
    const char *data_start; /* where the body starts, to rewind for a resend */
    off_t file_start;
    size_t total;
    int short_file;
    size_t max_len; /* largest successful answer body accepted; 0: SMALL_BODY_MAX */
    int too_big;
    struct handle h; /* h.easy is NULL until the request is under way */
    char *url, *canonical_uri, *auth;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    long status;
    curl_off_t content_length; /* of the answer; -1 when unknown */
    char *body;
    size_t len, cap;
};

sc_code s3_init(void)
{
    const char *ep = cfg.s3_endpoint;
    if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) {
        log_error("S3_ENDPOINT must be an http:// or https:// URL");
        return SC_EINVAL;
    }
    const char *host = strstr(ep, "://") + 3;
    size_t host_len = strcspn(host, "/");
    size_t path_len = strlen(host + host_len);
    while (path_len > 0 && host[host_len + path_len - 1] == '/') {
        path_len--;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return SC_EINTERNAL;
    }
    s3.origin = strndup(ep, (size_t)(host - ep) + host_len);
    s3.host = strndup(host, host_len);
    if (asprintf(&s3.base_path, "%.*s/%s", (int)path_len, host + host_len, cfg.s3_bucket) < 0) {
        s3.base_path = NULL;
    }
    s3.key =
        (struct sigv4_key){cfg.s3_access_key_id, cfg.s3_secret_access_key, cfg.s3_region, "s3"};
    if (!s3.origin || !s3.host || !s3.base_path) {
        s3_shutdown();
        return SC_ENOMEM;
    }
    return SC_OK;
}

void s3_shutdown(void)
{
    for (size_t i = 0; i < s3.nidle; i++) {
        curl_multi_cleanup(s3.idle[i].multi);
        curl_easy_cleanup(s3.idle[i].easy);
    }
    free(s3.idle);
    free(s3.origin);
    free(s3.host);
    free(s3.base_path);
    s3.idle = NULL;
    s3.nidle = s3.cap = 0;
    s3.origin = s3.host = s3.base_path = NULL;
    curl_global_cleanup();
}

static void handle_free(struct handle h)
{
    if (h.multi) {
        curl_multi_cleanup(h.multi);
    }
    if (h.easy) {
        curl_easy_cleanup(h.easy);
    }
}

/* A pooled pair, or a new one; h.easy is NULL when out of memory. */
static struct handle acquire(void)
{
    struct handle h = {0};
    pthread_mutex_lock(&s3.lock);
    if (s3.nidle > 0) {
        h = s3.idle[--s3.nidle];
    }
    pthread_mutex_unlock(&s3.lock);
    if (h.easy) {
        return h;
    }
    h.easy = curl_easy_init();
    h.multi = curl_multi_init();
    if (!h.easy || !h.multi) {
        handle_free(h);
        return (struct handle){0};
    }
    return h;
}

/* Returns h (not attached to its multi) to the pool; the multi's connection
 * cache survives curl_easy_reset. */
static void release(struct handle h)
{
    curl_easy_reset(h.easy);
    pthread_mutex_lock(&s3.lock);
    if (s3.nidle == s3.cap) {
        size_t cap = s3.cap ? 2 * s3.cap : 16;
        struct handle *grown = realloc(s3.idle, cap * sizeof(*grown));
        if (!grown) {
            pthread_mutex_unlock(&s3.lock);
            handle_free(h);
            return;
        }
        s3.idle = grown;
        s3.cap = cap;
    }
    s3.idle[s3.nidle++] = h;
    pthread_mutex_unlock(&s3.lock);
}

static size_t on_read(char *dst, size_t size, size_t n, void *arg)
{
    struct call *c = arg;
    size_t want = size * n < c->left ? size * n : c->left;
    if (want == 0) {
        return 0;
    }
    if (c->file) {
        size_t got = fread(dst, 1, want, c->file);
        if (got == 0) {
            c->short_file = 1;
            return CURL_READFUNC_ABORT;
        }
        want = got;
    } else {
        memcpy(dst, c->data, want);
        c->data += want;
    }
    c->left -= want;
    return want;
}

/* curl rewinds when it must resend the body, e.g. when a kept-alive
 * connection turned out closed by the server just as it was reused. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
    struct call *c = arg;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > c->total) {
        return CURL_SEEKFUNC_CANTSEEK;
    }
    if (c->file) {
        if (c->file_start < 0) {
            return CURL_SEEKFUNC_CANTSEEK;
        }
        if (fseeko(c->file, c->file_start + (off_t)offset, SEEK_SET) != 0) {
            return CURL_SEEKFUNC_FAIL;
        }
    } else {
        c->data = c->data_start + offset;
    }
    c->left = c->total - (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *src, size_t size, size_t n, void *arg)
{
    struct call *c = arg;
    size_t add = size * n;
    long status = 0;
    curl_easy_getinfo(c->h.easy, CURLINFO_RESPONSE_CODE, &status);
    int success = status >= 200 && status < 300;
    size_t limit = !success ? ERROR_BODY_MAX : c->max_len ? c->max_len : SMALL_BODY_MAX;
    if (c->len + add > limit) {
        if (success) {
            c->too_big = 1;
            return 0; /* aborts the transfer */
        }
        add = limit - c->len;
    }
    curl_off_t announced = -1;
    if (!c->cap && success &&
        curl_easy_getinfo(c->h.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK &&
        announced >= 0 && (size_t)announced <= limit) {
        /* A large object (a 12 MP original) lands in one allocation instead of
         * a dozen doublings, each a copy of everything received so far. */
        char *body = malloc((size_t)announced + 1);
        if (body) {
            c->body = body;
            c->cap = (size_t)announced + 1;
        }
    }
    if (c->len + add + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + add + 1) {
            cap *= 2;
        }
        char *grown = realloc(c->body, cap);
        if (!grown) {
            return 0;
        }
        c->body = grown;
        c->cap = cap;
    }
    memcpy(c->body + c->len, src, add);
    c->len += add;
    c->body[c->len] = '\0';
    return size * n;
}

/* Extracts <Code>...</Code> from an S3 error document into out. */
static void error_code(const char *body, char *out, size_t outlen)
{
    const char *start = body ? strstr(body, "<Code>") : NULL;
    const char *end = start ? strstr(start, "</Code>") : NULL;
    if (!end) {
        snprintf(out, outlen, "-");
        return;
    }
    start += strlen("<Code>");
    snprintf(out, outlen, "%.*s", (int)(end - start), start);
}

static sc_code code_of(const struct call *c, CURLcode cc)
{
    sc_code rc;
    if (c->too_big) {
        return SC_ETOOBIG;
    }
    if (c->short_file) {
        log_error("s3 upload: file ended before the announced length");
        return SC_EINVAL;
    }
    if (cc != CURLE_OK) {
        rc = cc == CURLE_OPERATION_TIMEDOUT ? SC_ETIMEOUT
             : cc == CURLE_OUT_OF_MEMORY    ? SC_ENOMEM
                                            : SC_EUNAVAIL;
        log_json(LOG_WARN, "s3 request failed",
                 json_pack("{s:s, s:s, s:s}", "op", c->method, "key", c->key ? c->key : "", "error",
                           c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc)));
        return rc;
    }
    /* A copy can fail after its 200 has been sent: S3 then puts an <Error> in the body. */
    int success = c->status >= 200 && c->status < 300;
    int error_in_body = success && !c->key_errors && c->body && strstr(c->body, "<Error>");
    if (success && !error_in_body) {
        return SC_OK;
    }
    if (c->status == 404) {
        return SC_ENOTFOUND;
    }
    char code[64];
    error_code(c->body, code, sizeof(code));
    int transient = c->status >= 500 || c->status == 429 || c->status == 408 || error_in_body;
    rc = c->status == 408 ? SC_ETIMEOUT : transient ? SC_EUNAVAIL : SC_EINTERNAL;
    log_json(transient ? LOG_WARN : LOG_ERROR, "s3 request rejected",
             json_pack("{s:s, s:s, s:i, s:s}", "op", c->method, "key", c->key ? c->key : "",
                       "status", (int)c->status, "code", code));
    return rc;
}

/* An empty value makes "Name:", which tells curl not to send that header. */
static struct curl_slist *add_header(struct curl_slist *list, const char *name, const char *value,
                                     int *failed)
{
    char *line = NULL;
    struct curl_slist *grown = NULL;
    if (asprintf(&line, "%s:%s%s", name, value[0] ? " " : "", value) >= 0) {
        grown = curl_slist_append(list, line);
        free(line);
    }
    if (!grown) {
        *failed = 1;
        return list;
    }
    return grown;
}

/* S3 refuses keys longer than 1024 bytes. */
static int key_valid(const char *key)
{
    return key && key[0] && strlen(key) <= 1024;
}

/* Frees what begin() built for c and hands its handle back; the caller
 * still owns c->body. */
static void end(struct call *c)
{
    if (c->h.easy) {
        curl_multi_remove_handle(c->h.multi, c->h.easy);
        release(c->h);
        c->h = (struct handle){0};
    }
    free(c->url);
    free(c->canonical_uri);
    free(c->auth);
    curl_slist_free_all(c->headers);
    c->url = c->canonical_uri = c->auth = NULL;
    c->headers = NULL;
}

/* Signs c and attaches it to a pooled handle, ready to run; nothing is sent
 * yet. On failure end(c) has been done. c must stay where it is until
 * finish(c). */
static sc_code begin(struct call *c)
{
    char *enc_key = NULL;
    sc_code rc = SC_EINVAL;
    if (!c->bucket && !key_valid(c->key)) {
        goto out;
    }
    rc = SC_ENOMEM;
    if (c->key && sigv4_uri_encode(c->key, strlen(c->key), 1, &enc_key) != SC_OK) {
        goto out;
    }
    if (asprintf(&c->canonical_uri, "%s%s%s", s3.base_path, enc_key ? "/" : "",
                 enc_key ? enc_key : "") < 0) {
        c->canonical_uri = NULL;
        goto out;
    }
    if (asprintf(&c->url, "%s%s%s%s", s3.origin, c->canonical_uri, c->query ? "?" : "",
                 c->query ? c->query : "") < 0) {
        c->url = NULL;
        goto out;
    }

    char date[SIGV4_DATE_LEN];
    sigv4_amz_date(time(NULL), date);
    /* A signed body hash makes S3 / R2 refuse bytes that changed on the way
     * (XAmzContentSHA256Mismatch); only a caller that has the hash anyway
     * passes it, since computing one here would read every body twice. */
    const char *payload = c->payload_sha256 ? c->payload_sha256 : "UNSIGNED-PAYLOAD";
    struct sigv4_header signed_headers[6];
    size_t n = 0;
    signed_headers[n++] = (struct sigv4_header){"host", s3.host};
    signed_headers[n++] = (struct sigv4_header){"x-amz-content-sha256", payload};
    signed_headers[n++] = (struct sigv4_header){"x-amz-date", date};
    if (c->content_type) {
        signed_headers[n++] = (struct sigv4_header){"content-type", c->content_type};
    }
    if (c->copy_source) {
        signed_headers[n++] = (struct sigv4_header){"x-amz-copy-source", c->copy_source};
    }
    if (c->content_md5) {
        signed_headers[n++] = (struct sigv4_header){"content-md5", c->content_md5};
    }
    const struct sigv4_request req = {
        c->method, c->canonical_uri, c->query ? c->query : "", signed_headers, n, payload, date};
    if ((rc = sigv4_authorization(&s3.key, &req, &c->auth)) != SC_OK) {
        goto out;
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        c->headers =
            add_header(c->headers, signed_headers[i].name, signed_headers[i].value, &failed);
    }
    c->headers = add_header(c->headers, "Authorization", c->auth, &failed);
    if (c->upload && c->left < EXPECT_MIN_BODY) {
        c->headers = add_header(c->headers, "Expect", "", &failed);
    }
    rc = SC_ENOMEM;
    if (failed || !(c->h = acquire()).easy) {
        goto out;
    }

    CURL *h = c->h.easy;
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* keys with "." or ".." segments stay as signed */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg.s3_timeout_ms);
    if (c->file) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)(cfg.s3_timeout_ms + 999) / 1000);
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg.s3_timeout_ms);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    if (c->upload) {
        if (!strcmp(c->method, "POST")) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->left);
        } else {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->left);
        }
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, (long)UPLOAD_BUFFER);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
        c->data_start = c->data;
        c->total = c->left;
        c->file_start = c->file ? ftello(c->file) : 0; /* -1 for a pipe: no resend */
    } else if (!strcmp(c->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(c->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    } else if (c->range) {
        curl_easy_setopt(h, CURLOPT_RANGE, c->range);
    }
    if (curl_multi_add_handle(c->h.multi, h) != CURLM_OK) {
        release(c->h); /* not attached: end() must not detach it */
        c->h = (struct handle){0};
        goto out;
    }
    rc = SC_OK;
out:
    free(enc_key);
    if (rc != SC_OK) {
        end(c);
    }
    return rc;
}

/* Runs a begun c to its end; on return c->status and c->body describe the
 * answer (the caller frees c->body). */
static sc_code finish(struct call *c)
{
    int running = 1;
    CURLMcode mc;
    while ((mc = curl_multi_perform(c->h.multi, &running)) == CURLM_OK && running) {
        /* curl shortens the wait to its own next timeout. */
        if ((mc = curl_multi_poll(c->h.multi, NULL, 0, 1000, NULL)) != CURLM_OK) {
            break;
        }
    }
    CURLcode cc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
    CURLMsg *msg;
    int queued;
    while ((msg = curl_multi_info_read(c->h.multi, &queued))) {
        if (msg->msg == CURLMSG_DONE) {
            cc = msg->data.result;
        }
    }
    curl_easy_getinfo(c->h.easy, CURLINFO_RESPONSE_CODE, &c->status);
    curl_easy_getinfo(c->h.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &c->content_length);
    sc_code rc = code_of(c, cc);
    end(c);
    return rc;
}

static sc_code run(struct call *c)
{
    sc_code rc = begin(c);
    return rc == SC_OK ? finish(c) : rc;
}

static sc_code run_and_discard(struct call *c)
{
    sc_code rc = run(c);
    free(c->body);
    return rc;
}

sc_code s3_ping(void)
{
    struct call c = {.method = "HEAD", .bucket = 1};
    return run_and_discard(&c);
}

struct s3_upload {
    struct call c;
};

/* Begins the PUT call describes and puts the request and its first
 * UPLOAD_BUFFER bytes on the wire; the rest of a larger body waits for
 * s3_upload_finish. */
static sc_code start_put(struct call call, struct s3_upload **out)
{
    struct s3_upload *u = calloc(1, sizeof(*u));
    *out = NULL;
    if (!u) {
        return SC_ENOMEM;
    }
    u->c = call;
    sc_code rc = begin(&u->c);
    if (rc != SC_OK) {
        free(u);
        return rc;
    }
    int running;
    curl_multi_perform(u->c.h.multi, &running);
    *out = u;
    return SC_OK;
}

sc_code s3_put_start(const char *key, const void *data, size_t len, const char *content_type,
                     const char *sha256_hex, struct s3_upload **out)
{
    return start_put((struct call){.method = "PUT",
                                   .key = key,
                                   .content_type = content_type,
                                   .payload_sha256 = sha256_hex,
                                   .upload = 1,
                                   .data = data,
                                   .left = len},
                     out);
}

sc_code s3_put_file_start(const char *key, FILE *f, size_t len, const char *content_type,
                          const char *sha256_hex, struct s3_upload **out)
{
    return start_put((struct call){.method = "PUT",
                                   .key = key,
                                   .content_type = content_type,
                                   .payload_sha256 = sha256_hex,
                                   .upload = 1,
                                   .file = f,
                                   .left = len},
                     out);
}

sc_code s3_upload_finish(struct s3_upload *u)
{
    sc_code rc = finish(&u->c);
    free(u->c.body);
    free(u);
    return rc;
}

sc_code s3_put(const char *key, const void *data, size_t len, const char *content_type)
{
    struct s3_upload *u;
    sc_code rc = s3_put_start(key, data, len, content_type, NULL, &u);
    return rc == SC_OK ? s3_upload_finish(u) : rc;
}

sc_code s3_put_file(const char *key, FILE *f, size_t len, const char *content_type)
{
    struct s3_upload *u;
    sc_code rc = s3_put_file_start(key, f, len, content_type, NULL, &u);
    return rc == SC_OK ? s3_upload_finish(u) : rc;
}

/* A GET of key, or of the bytes range names (NULL: all), up to max_len. */
static sc_code get(const char *key, const char *range, size_t max_len, char **data, size_t *len)
{
    struct call c = {.method = "GET", .key = key, .range = range, .max_len = max_len};
    *data = NULL;
    *len = 0;
    if (max_len == 0) {
        return SC_EINVAL;
    }
    sc_code rc = run(&c);
    if (rc == SC_OK && !c.body) {
        c.body = calloc(1, 1); /* an empty object is still a valid string */
        rc = c.body ? SC_OK : SC_ENOMEM;
    }
    if (rc != SC_OK) {
        free(c.body);
        return rc;
    }
    *data = c.body;
    *len = c.len;
    return SC_OK;
}

sc_code s3_get(const char *key, size_t max_len, char **data, size_t *len)
{
    return get(key, NULL, max_len, data, len);
}

sc_code s3_get_prefix(const char *key, size_t n, char **data, size_t *len)
{
    char range[48];
    if (n == 0) {
        *data = NULL;
        *len = 0;
        return SC_EINVAL;
    }
    snprintf(range, sizeof(range), "0-%zu", n - 1);
    return get(key, range, n, data, len);
}

sc_code s3_head(const char *key, size_t *len)
{
    struct call c = {.method = "HEAD", .key = key};
    sc_code rc = run_and_discard(&c);
    if (rc == SC_OK && len) {
        *len = c.content_length > 0 ? (size_t)c.content_length : 0;
    }
    return rc;
}

sc_code s3_delete(const char *key)
{
    struct call c = {.method = "DELETE", .key = key};
    sc_code rc = run_and_discard(&c);
    return rc == SC_ENOTFOUND ? SC_OK : rc;
}

sc_code s3_copy(const char *src_key, const char *dst_key)
{
    if (!src_key || !src_key[0]) {
        return SC_EINVAL;
    }
    char *enc_src = NULL, *source = NULL;
    sc_code rc = sigv4_uri_encode(src_key, strlen(src_key), 1, &enc_src);
    if (rc != SC_OK) {
        return rc;
    }
    /* base_path is "[endpoint path]/bucket"; the copy source is "/bucket/key". */
    if (asprintf(&source, "/%s/%s", cfg.s3_bucket, enc_src) < 0) {
        free(enc_src);
        return SC_ENOMEM;
    }
    struct call c = {.method = "PUT", .key = dst_key, .copy_source = source, .upload = 1};
    rc = run_and_discard(&c);
    free(enc_src);
    free(source);
    return rc;
}

/* ---- listing ---- */

/* The text between <name> and </name>, the first such element in
 * [from, end), or NULL; *len is its length. Text never holds a raw '<' (it
 * is escaped), so the first closing tag after the opening one ends it. */
static const char *element(const char *from, const char *end, const char *name, size_t *len)
{
    char open[40], close[40];
    int no = snprintf(open, sizeof(open), "<%s>", name);
    int nc = snprintf(close, sizeof(close), "</%s>", name);
    const char *start = memmem(from, (size_t)(end - from), open, (size_t)no);
    if (!start) {
        return NULL;
    }
    start += no;
    const char *stop = memmem(start, (size_t)(end - start), close, (size_t)nc);
    if (!stop) {
        return NULL;
    }
    *len = (size_t)(stop - start);
    return start;
}

/* len bytes of XML text with its references (&amp; &lt; &gt; &quot; &apos;
 * &#N; &#xH;) decoded, as a new string (the caller frees); NULL when a
 * reference is malformed or out of memory. Decoding never lengthens. */
static char *xml_text(const char *s, size_t len)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    char *out = malloc(len + 1), *o = out;
    if (!out) {
        return NULL;
    }
    for (size_t i = 0; i < len;) {
        if (s[i] != '&') {
            *o++ = s[i++];
            continue;
        }
        const char *ref = s + i + 1;
        const char *semi = memchr(ref, ';', len - i - 1);
        size_t n = semi ? (size_t)(semi - ref) : 0;
        int done = 0;
        for (size_t k = 0; semi && k < sizeof(named) / sizeof(named[0]) && !done; k++) {
            if (n == strlen(named[k].name) && !memcmp(ref, named[k].name, n)) {
                *o++ = named[k].c;
                done = 1;
            }
        }
        if (!done && n >= 2 && n <= 9 && ref[0] == '#') {
            int hex = ref[1] == 'x';
            const char *digits = ref + 1 + hex;
            size_t nd = n - 1 - (size_t)hex;
            unsigned long cp = 0;
            int ok = nd > 0;
            for (size_t k = 0; k < nd && ok; k++) {
                char ch = digits[k];
                int v = ch >= '0' && ch <= '9'          ? ch - '0'
                        : hex && ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                        : hex && ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                        : -1;
                ok = v >= 0;
                cp = cp * (hex ? 16 : 10) + (unsigned long)(ok ? v : 0);
            }
            size_t put = ok ? text_utf8_put(cp, o) : 0;
            o += put;
            done = put > 0;
        }
        if (!done) {
            free(out);
            return NULL;
        }
        i += n + 2;
    }
    *o = '\0';
    return out;
}

/* An ISO 8601 UTC time as S3 writes it (2006-02-03T16:45:09.000Z; the
 * fraction optional) in *t. -1 when it is not one. */
static int parse_time(const char *s, size_t len, time_t *t)
{
    char buf[48];
    struct tm tm = {0};
    int end = 0;
    if (len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &end) != 6 ||
        tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_hour < 0 || tm.tm_min < 0 || tm.tm_sec < 0) {
        return -1;
    }
    const char *rest = buf + end;
    if (*rest == '.') {
        for (rest++; *rest >= '0' && *rest <= '9'; rest++) {
        }
    }
    if (strcmp(rest, "Z")) {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *t = timegm(&tm);
    return 0;
}

/* The decimal size of len bytes at s in *size; -1 when it is not one. */
static int parse_size(const char *s, size_t len, size_t *size)
{
    size_t v = 0;
    if (len == 0 || len > 19) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *size = v;
    return 0;
}

void s3_list_free(struct s3_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->objects[i].key);
    }
    free(l->objects);
    free(l->next);
    *l = (struct s3_list){0};
}

sc_code s3_list_parse(const char *xml, struct s3_list *out)
{
    static const char open[] = "<Contents>", close[] = "</Contents>";
    const char *end = xml + strlen(xml), *p = xml, *at, *text;
    size_t cap = 0, len;
    sc_code rc = SC_EINVAL;
    *out = (struct s3_list){0};
    if (!strstr(xml, "<ListBucketResult")) {
        goto out;
    }
    while ((at = strstr(p, open))) {
        const char *stop = strstr(at, close);
        if (!stop) {
            goto out;
        }
        if (out->n == cap) {
            size_t grown_cap = cap ? 2 * cap : 64;
            struct s3_object *grown = realloc(out->objects, grown_cap * sizeof(*grown));
            if (!grown) {
                rc = SC_ENOMEM;
                goto out;
            }
            out->objects = grown;
            cap = grown_cap;
        }
        struct s3_object *o = &out->objects[out->n];
        *o = (struct s3_object){0};
        if (!(text = element(at, stop, "Key", &len)) || len == 0 ||
            !(o->key = xml_text(text, len))) {
            goto out;
        }
        out->n++;
        if (!(text = element(at, stop, "Size", &len)) || parse_size(text, len, &o->size) != 0 ||
            !(text = element(at, stop, "LastModified", &len)) ||
            parse_time(text, len, &o->last_modified) != 0) {
            goto out;
        }
        p = stop + strlen(close);
    }
    /* Contents never hold these, so the first occurrence is the document's. */
    text = element(xml, end, "IsTruncated", &len);
    if (text && len == 4 && !memcmp(text, "true", 4)) {
        if (!(text = element(xml, end, "NextContinuationToken", &len)) || len == 0 ||
            !(out->next = xml_text(text, len))) {
            goto out;
        }
    }
    rc = SC_OK;
out:
    if (rc != SC_OK) {
        s3_list_free(out);
    }
    return rc;
}

sc_code s3_list(const char *prefix, const char *continuation, int max_keys, struct s3_list *out)
{
    char *enc_prefix = NULL, *enc_token = NULL, *query = NULL;
    sc_code rc = SC_EINVAL;
    *out = (struct s3_list){0};
    if (!prefix || max_keys < 1 || max_keys > 1000 || (continuation && !continuation[0])) {
        return rc;
    }
    rc = SC_ENOMEM;
    if (sigv4_uri_encode(prefix, strlen(prefix), 0, &enc_prefix) != SC_OK ||
        (continuation &&
         sigv4_uri_encode(continuation, strlen(continuation), 0, &enc_token) != SC_OK)) {
        goto out;
    }
    /* Parameters in the canonical (sorted) order SigV4 signs. */
    if (asprintf(&query, "%s%s%slist-type=2&max-keys=%d&prefix=%s",
                 enc_token ? "continuation-token=" : "", enc_token ? enc_token : "",
                 enc_token ? "&" : "", max_keys, enc_prefix) < 0) {
        query = NULL;
        goto out;
    }
    struct call c = {.method = "GET", .bucket = 1, .query = query, .max_len = LIST_BODY_MAX};
    rc = run(&c);
    if (rc == SC_OK) {
        rc = c.body ? s3_list_parse(c.body, out) : SC_EINVAL;
    }
    if (rc == SC_EINVAL) {
        log_error("s3 list: the answer is not a readable listing");
    }
    free(c.body);
out:
    free(enc_prefix);
    free(enc_token);
    free(query);
    return rc;
}

/* ---- deleting many ---- */

/* 1 when key can travel as XML text: well-formed UTF-8 of XML 1.0's Char
 * production, without control characters. XML 1.0 cannot carry most of
 * those at all, and tab, LF and CR only as character references, which S3
 * decodes but s3rver does not (it would answer "deleted" and keep the
 * object). Such keys go one DELETE each. */
static int xml_safe(const char *key)
{
    const unsigned char *p = (const unsigned char *)key;
    while (*p) {
        unsigned int cp;
        size_t n = text_utf8_seq(p, &cp);
        if (n == 0 || cp < 0x20 || cp == 0xFFFE || cp == 0xFFFF) {
            return 0;
        }
        p += n;
    }
    return 1;
}

/* s XML-escaped at out (when not NULL); returns the escaped length. */
static size_t xml_escape(const char *s, char *out)
{
    size_t len = 0;
    for (; *s; s++) {
        const char *ref = *s == '&'    ? "&amp;"
                          : *s == '<'  ? "&lt;"
                          : *s == '>'  ? "&gt;"
                          : *s == '"'  ? "&quot;"
                          : *s == '\'' ? "&apos;"
                                       : NULL;
        size_t n = ref ? strlen(ref) : 1;
        if (out) {
            memcpy(out + len, ref ? ref : s, n);
        }
        len += n;
    }
    return len;
}

sc_code s3_delete_many_body(const char *const *keys, size_t n, char **out, size_t *len)
{
    static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                               "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                               "<Quiet>true</Quiet>",
                      tail[] = "</Delete>", open[] = "<Object><Key>", close[] = "</Key></Object>";
    *out = NULL;
    *len = 0;
    if (n == 0 || n > S3_DELETE_BATCH) {
        return SC_EINVAL;
    }
    size_t total = sizeof(head) - 1 + sizeof(tail) - 1;
    for (size_t i = 0; i < n; i++) {
        if (!key_valid(keys[i]) || !xml_safe(keys[i])) {
            return SC_EINVAL;
        }
        total += sizeof(open) - 1 + xml_escape(keys[i], NULL) + sizeof(close) - 1;
    }
    char *body = malloc(total + 1), *p = body;
    if (!body) {
        return SC_ENOMEM;
    }
    p = mempcpy(p, head, sizeof(head) - 1);
    for (size_t i = 0; i < n; i++) {
        p = mempcpy(p, open, sizeof(open) - 1);
        p += xml_escape(keys[i], p);
        p = mempcpy(p, close, sizeof(close) - 1);
    }
    p = mempcpy(p, tail, sizeof(tail) - 1);
    *p = '\0';
    *out = body;
    *len = total;
    return SC_OK;
}

/* What an <Error> entry's S3 code means for its key. */
static sc_code key_error_code(const char *code, size_t len)
{
    static const char *const transient[] = {"InternalError", "SlowDown", "ServiceUnavailable"};
    if (len == strlen("NoSuchKey") && !memcmp(code, "NoSuchKey", len)) {
        return SC_OK;
    }
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
        if (len == strlen(transient[i]) && !memcmp(code, transient[i], len)) {
            return SC_EUNAVAIL;
        }
    }
    return SC_EINTERNAL;
}

sc_code s3_delete_many_parse(const char *xml, const char *const *keys, size_t n, sc_code *results)
{
    static const char open[] = "<Error>", close[] = "</Error>";
    const char *p = xml, *at, *text;
    size_t len;
    sc_code rc = SC_EINVAL;
    for (size_t i = 0; i < n; i++) {
        results[i] = SC_OK;
    }
    if (!strstr(xml, "<DeleteResult")) {
        goto out;
    }
    while ((at = strstr(p, open))) {
        const char *stop = strstr(at, close);
        char *key = NULL;
        size_t matched = 0;
        if (!stop || !(text = element(at, stop, "Code", &len)) || len == 0) {
            goto out;
        }
        sc_code code = key_error_code(text, len);
        if (!(text = element(at, stop, "Key", &len)) || !(key = xml_text(text, len))) {
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            if (keys[i] && !strcmp(keys[i], key)) {
                results[i] = code;
                matched++;
            }
        }
        free(key);
        if (matched == 0) {
            goto out;
        }
        p = stop + strlen(close);
    }
    rc = SC_OK;
out:
    for (size_t i = 0; rc != SC_OK && i < n; i++) {
        results[i] = rc;
    }
    return rc;
}

/* One DeleteObjects request for keys[0..n) (valid, XML-safe, 1..S3_DELETE_BATCH);
 * results[i] for each. */
static void delete_batch(const char *const *keys, size_t n, sc_code *results)
{
    char *body = NULL, md5[CRYPTO_MD5_BASE64_LEN], sha256[65];
    size_t len;
    sc_code rc = s3_delete_many_body(keys, n, &body, &len);
    if (rc == SC_OK && (rc = crypto_md5_base64(body, len, md5)) == SC_OK) {
        sigv4_sha256_hex(body, len, sha256);
        struct call c = {.method = "POST",
                         .bucket = 1,
                         .query = "delete=",
                         .content_type = "application/xml",
                         .content_md5 = md5,
                         .payload_sha256 = sha256,
                         .upload = 1,
                         .data = body,
                         .left = len,
                         .key_errors = 1,
                         .max_len = LIST_BODY_MAX};
        rc = run(&c);
        if (rc == SC_OK) {
            rc = c.body ? s3_delete_many_parse(c.body, keys, n, results) : SC_EINVAL;
            if (rc == SC_EINVAL) {
                log_error("s3 delete: the answer is not a readable DeleteObjects result");
            }
        }
        free(c.body);
    }
    free(body);
    /* Each key that did not go is logged, as a DELETE of its own would have been. */
    for (size_t i = 0; i < n; i++) {
        results[i] = rc != SC_OK ? rc : results[i];
        if (results[i] != SC_OK) {
            log_json(results[i] == SC_EINTERNAL ? LOG_ERROR : LOG_WARN, "s3 object not deleted",
                     json_pack("{s:s, s:s}", "key", keys[i], "error", sc_strerror(results[i])));
        }
    }
}

sc_code s3_delete_many(const char *const *keys, size_t n, sc_code *results)
{
    size_t cap = n < S3_DELETE_BATCH ? n : S3_DELETE_BATCH, m = 0;
    const char **batch = calloc(cap ? cap : 1, sizeof(*batch));
    size_t *at = calloc(cap ? cap : 1, sizeof(*at));
    sc_code *got = calloc(cap ? cap : 1, sizeof(*got));
    sc_code *res = results ? results : calloc(n ? n : 1, sizeof(*res)), first = SC_OK;
    if (!batch || !at || !got || !res) {
        for (size_t i = 0; results && i < n; i++) {
            results[i] = SC_ENOMEM;
        }
        first = n ? SC_ENOMEM : SC_OK;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!key_valid(keys[i])) {
            res[i] = SC_EINVAL;
        } else if (!xml_safe(keys[i])) {
            res[i] = s3_delete(keys[i]);
        } else {
            batch[m] = keys[i];
            at[m++] = i;
        }
        if (m > 0 && (m == cap || i + 1 == n)) {
            delete_batch(batch, m, got);
            for (size_t b = 0; b < m; b++) {
                res[at[b]] = got[b];
            }
            m = 0;
        }
    }
    for (size_t i = 0; i < n && first == SC_OK; i++) {
        first = res[i];
    }
out:
    if (res != results) {
        free(res);
    }
    free(batch);
    free(at);
    free(got);
    return first;
}

char *s3_public_url(const char *key)
{
    char *enc = NULL, *url = NULL;
    if (!key || sigv4_uri_encode(key, strlen(key), 1, &enc) != SC_OK) {
        return NULL;
    }
    if (asprintf(&url, "%s%s", cfg.public_url, enc) < 0) {
        url = NULL;
    }
    free(enc);
    return url;
}

char *s3_presign_get(const char *key, int expires_s)
{
    char *enc = NULL, *canonical_uri = NULL, *query = NULL, *url = NULL;
    if (!key || !key[0] || expires_s < 1 || expires_s > 604800) {
        return NULL;
    }
    if (sigv4_uri_encode(key, strlen(key), 1, &enc) != SC_OK) {
        return NULL;
    }
    char date[SIGV4_DATE_LEN];
    sigv4_amz_date(time(NULL), date);
    if (asprintf(&canonical_uri, "%s/%s", s3.base_path, enc) < 0) {
        canonical_uri = NULL;
        goto out;
    }
    if (sigv4_presign_query(&s3.key, "GET", s3.host, canonical_uri, date, expires_s, &query) !=
        SC_OK) {
        goto out;
    }
    if (asprintf(&url, "%s%s?%s", s3.origin, canonical_uri, query) < 0) {
        url = NULL;
    }
out:
    free(enc);
    free(canonical_uri);
    free(query);
    return url;
}
