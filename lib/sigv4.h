/* AWS Signature Version 4 for S3 (and R2): canonical request, string to
 * sign, the HMAC-SHA256 key chain, Authorization headers and presigned
 * query strings. Pure logic with no I/O so it is tested against the AWS
 * documentation's example vectors; lib/s3.c puts it on the wire. */
#ifndef SC_SIGV4_H
#define SC_SIGV4_H

#include <stddef.h>
#include <time.h>
#include "error.h"

/* Length of an x-amz-date value "YYYYMMDDTHHMMSSZ" plus the NUL. */
#define SIGV4_DATE_LEN 17

/* Who signs, and for which scope. */
struct sigv4_key {
    const char *access_key_id;
    const char *secret_access_key;
    const char *region;  /* "us-east-1"; R2: "auto" */
    const char *service; /* "s3" */
};

/* A header that is part of the signature: name in lower case, value with no
 * leading or trailing blanks, exactly as it is sent. */
struct sigv4_header {
    const char *name;
    const char *value;
};

struct sigv4_request {
    const char *method;
    const char *canonical_uri;          /* path, already percent-encoded (sigv4_uri_encode) */
    const char *canonical_query;        /* "a=1&b=" sorted by name and encoded; "" when none */
    const struct sigv4_header *headers; /* any order; must include host and x-amz-date */
    size_t nheaders;                    /* at most 16 */
    const char *payload_hash;           /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;               /* the request's x-amz-date value */
};

/* Percent-encodes len bytes of s as SigV4 wants: unreserved characters
 * (A-Z a-z 0-9 - _ . ~) stay, every other byte becomes %XX (upper-case hex);
 * with keep_slash '/' stays too (object keys in a path). *out is owned by the
 * caller. */
sc_code sigv4_uri_encode(const char *s, size_t len, int keep_slash, char **out);

/* Lower-case hex SHA-256 of data (the x-amz-content-sha256 of a body). */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* The x-amz-date value of t (UTC). */
void sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN]);

/* The Authorization header value (without "Authorization: ") for req:
 * "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
 * SC_EINVAL for a malformed request. *out is owned by the caller. */
sc_code sigv4_authorization(const struct sigv4_key *key, const struct sigv4_request *req,
                            char **out);

/* The query string (no leading '?') that presigns `method host canonical_uri`
 * for expires_s seconds from amz_date: the X-Amz-* parameters in canonical
 * order, X-Amz-Signature last. Only host is signed and the payload is
 * UNSIGNED-PAYLOAD, as AWS's own presigners do. *out is owned by the caller. */
sc_code sigv4_presign_query(const struct sigv4_key *key, const char *method, const char *host,
                            const char *canonical_uri, const char *amz_date, int expires_s,
                            char **out);

#endif
