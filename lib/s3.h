/* S3 / Cloudflare R2 access through libcurl with SigV4 (the only file that
 * sees CURL is s3.c; signatures come from sigv4.c). Path-style URLs
 * (endpoint/bucket/key). Every call is thread-safe and reuses pooled
 * keep-alive connections.
 *
 * Errors of every call: SC_EINVAL bad argument (empty key), SC_ENOTFOUND
 * the object does not exist (404), SC_EUNAVAIL connection failed, 5xx or 429
 * (transient), SC_ETIMEOUT no answer within S3_TIMEOUT_MS (transient),
 * SC_EINTERNAL any other 4xx (bad credentials, ...; the S3 error code is
 * logged), SC_ENOMEM. */
#ifndef SC_S3_H
#define SC_S3_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include "error.h"

/* Reads endpoint, region, bucket, keys and timeout from cfg. Call once,
 * before any other thread uses S3 (libcurl's global start-up is not
 * thread-safe). SC_EINVAL when S3_ENDPOINT is not an http(s) URL. */
sc_code s3_init(void);
void s3_shutdown(void);

/* SC_OK when the bucket answers HEAD with 200. */
sc_code s3_ping(void);

/* Stores len bytes of data under key (content_type may be NULL). */
sc_code s3_put(const char *key, const void *data, size_t len, const char *content_type);

/* Stores the next len bytes read from f under key, streaming (for videos and
 * other large files: nothing is held in memory). Instead of a whole-request
 * limit, the upload fails with SC_ETIMEOUT when it stalls for S3_TIMEOUT_MS. */
sc_code s3_put_file(const char *key, FILE *f, size_t len, const char *content_type);

/* s3_put_file in two halves, so the caller can do other work on the same
 * thread while the bytes travel: start signs the PUT and sends the request
 * with up to the first 256 KiB of the body; s3_upload_finish sends the rest,
 * waits for the answer and frees *out. Between the two, f must stay open and
 * untouched; every *out is finished exactly once. On error *out is NULL and
 * nothing was sent. sha256_hex, when the caller already knows the body's
 * SHA-256 (64 lowercase hex digits), is signed as x-amz-content-sha256, so
 * the S3 server refuses a body that does not match it; NULL signs
 * UNSIGNED-PAYLOAD. */
struct s3_upload;
sc_code s3_put_file_start(const char *key, FILE *f, size_t len, const char *content_type,
                          const char *sha256_hex, struct s3_upload **out);
/* s3_put in the same two halves (data must stay valid until the finish;
 * sha256_hex as above). Each started PUT has a connection of its own, so
 * several started ones travel and are stored side by side; a body that fits
 * the first step (256 KiB) is on the wire when this returns. */
sc_code s3_put_start(const char *key, const void *data, size_t len, const char *content_type,
                     const char *sha256_hex, struct s3_upload **out);
sc_code s3_upload_finish(struct s3_upload *u);

/* Reads the object at key into *data (NUL-terminated for convenience, *len
 * bytes without it). SC_ETOOBIG when it is larger than max_len (> 0). *data
 * is owned by the caller (free); NULL on error. */
sc_code s3_get(const char *key, size_t max_len, char **data, size_t *len);

/* The first n bytes (n > 0) of the object at key (fewer when it is shorter)
 * through a ranged GET, into *data as s3_get does (the caller frees). For
 * sniffing a large object's type without reading it all. */
sc_code s3_get_prefix(const char *key, size_t n, char **data, size_t *len);

/* Size of the object at key in *len (len may be NULL to test existence). */
sc_code s3_head(const char *key, size_t *len);

/* Removes the object at key; an absent object is not an error (idempotent). */
sc_code s3_delete(const char *key);

/* Removes the objects at keys[0..n) in as few requests as S3 allows
 * (DeleteObjects: up to S3_DELETE_BATCH keys a request, larger sets are
 * split). An absent object counts as removed, as with s3_delete. results,
 * when not NULL, gets one code per key: SC_OK removed, SC_EINVAL a NULL,
 * empty or over-long key (never sent), or the error of its request or of its
 * own <Error> entry in S3's answer (each such key is logged). Every key is
 * attempted even when another fails. Returns SC_OK when every key was
 * removed, else the first failed key's code (in keys' order). */
sc_code s3_delete_many(const char *const *keys, size_t n, sc_code *results);

/* Keys per DeleteObjects request (S3's limit). */
#define S3_DELETE_BATCH 1000

/* The DeleteObjects request body for keys[0..n) (1..S3_DELETE_BATCH, each
 * non-empty, at most 1024 bytes, UTF-8 without control characters; others
 * go one DELETE each in s3_delete_many): quiet mode, so S3 answers with
 * the failures only; keys XML-escaped. *out (NUL-terminated, *len bytes) is
 * owned by the caller; NULL on error (SC_EINVAL, SC_ENOMEM). Pure. */
sc_code s3_delete_many_body(const char *const *keys, size_t n, char **out, size_t *len);

/* Reads the answer (the XML body) to the DeleteObjects request for
 * keys[0..n): results[i] is SC_OK unless an <Error> entry names keys[i]
 * (every copy of it), then SC_EUNAVAIL for S3's transient codes
 * (InternalError, SlowDown, ServiceUnavailable) and SC_EINTERNAL for the
 * others (AccessDenied, ...); NoSuchKey counts as removed. Returns SC_EINVAL,
 * with every result SC_EINVAL, when xml is not a DeleteResult or an <Error>
 * lacks its Key or Code or names a key that was not asked for: an answer we
 * cannot read in full must not count as deletions. Pure; s3_delete_many uses
 * it. */
sc_code s3_delete_many_parse(const char *xml, const char *const *keys, size_t n, sc_code *results);

/* Server-side copy of src_key to dst_key in the bucket (no bytes travel
 * through us). SC_ENOTFOUND when src_key does not exist. A move is a copy
 * then s3_delete of the source. */
sc_code s3_copy(const char *src_key, const char *dst_key);

/* One page of a bucket listing: objects in key order and, when more follow,
 * the token that asks for the next page. */
struct s3_object {
    char *key;
    size_t size;
    time_t last_modified; /* UTC, whole seconds */
};
struct s3_list {
    struct s3_object *objects;
    size_t n;
    char *next; /* continuation token; NULL on the last page */
};

/* The objects whose keys start with prefix ("" for all), at most max_keys
 * (1..1000) of them, after the page continuation names (NULL: from the
 * start) -- ListObjectsV2. *out is owned by the caller (s3_list_free) and
 * empty on error; SC_EINVAL for a bad argument or an answer that is not a
 * listing. */
sc_code s3_list(const char *prefix, const char *continuation, int max_keys, struct s3_list *out);
void s3_list_free(struct s3_list *l);

/* Parses a ListObjectsV2 answer (the XML body) into *out, XML references in
 * keys and the token decoded. SC_EINVAL when xml is not such a document or
 * an object lacks its key, size or a valid LastModified (a listing we
 * cannot read in full must not be acted on). Pure; s3_list uses it. */
sc_code s3_list_parse(const char *xml, struct s3_list *out);

/* CLOUDFLARE_R2_PUBLIC_URL + key (key percent-encoded, '/' kept). NULL only
 * when out of memory. Owned by the caller (free). */
char *s3_public_url(const char *key);

/* A URL that lets anyone GET key without credentials for expires_s seconds
 * (1..604800), signed with our keys (query-string SigV4). NULL on a bad
 * argument or out of memory. Owned by the caller (free). */
char *s3_presign_get(const char *key, int expires_s);

#endif
