/* SigV4 signing (AWS "Signature Version 4 signing process", S3 flavour:
 * object keys are encoded once, not twice). Strings are assembled with
 * open_memstream so no length arithmetic can go wrong. SHA-256 and
 * HMAC-SHA256 come from lib/crypto.h. */
#include "sigv4.h"

#include "crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 16

static void hmac(const unsigned char *key, size_t key_len, const char *msg, unsigned char out[32])
{
    crypto_hmac_sha256(key, key_len, msg, strlen(msg), out);
}

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
    crypto_sha256_hex(data, len, out);
}

void sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, SIGV4_DATE_LEN, "%Y%m%dT%H%M%SZ", &tm);
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

sc_code sigv4_uri_encode(const char *s, size_t len, int keep_slash, char **out)
{
    *out = malloc(3 * len + 1);
    if (!*out) {
        return SC_ENOMEM;
    }
    char *p = *out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            *p++ = (char)c;
        } else {
            p += sprintf(p, "%%%02X", c);
        }
    }
    *p = '\0';
    return SC_OK;
}

/* Closes a memstream and hands over its buffer, or frees it on a write error. */
static sc_code close_stream(FILE *f, char **buf)
{
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        free(*buf);
        *buf = NULL;
        return SC_ENOMEM;
    }
    return SC_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct sigv4_header *)a)->name, ((const struct sigv4_header *)b)->name);
}

/* The hex signature of req and its ';'-joined signed header names. */
static sc_code sign(const struct sigv4_key *key, const struct sigv4_request *req, char sig[65],
                    char **signed_headers)
{
    sc_code rc = SC_EINVAL;
    char *canonical = NULL, *to_sign = NULL;
    size_t size;
    *signed_headers = NULL;
    if (req->nheaders == 0 || req->nheaders > MAX_HEADERS || strlen(req->amz_date) != 16) {
        goto out;
    }
    struct sigv4_header sorted[MAX_HEADERS];
    memcpy(sorted, req->headers, req->nheaders * sizeof(*sorted));
    qsort(sorted, req->nheaders, sizeof(*sorted), by_name);

    rc = SC_ENOMEM;
    FILE *f = open_memstream(signed_headers, &size);
    if (!f) {
        goto out;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        fprintf(f, "%s%s", i ? ";" : "", sorted[i].name);
    }
    if ((rc = close_stream(f, signed_headers)) != SC_OK) {
        goto out;
    }

    rc = SC_ENOMEM;
    if (!(f = open_memstream(&canonical, &size))) {
        goto out;
    }
    fprintf(f, "%s\n%s\n%s\n", req->method, req->canonical_uri, req->canonical_query);
    for (size_t i = 0; i < req->nheaders; i++) {
        fprintf(f, "%s:%s\n", sorted[i].name, sorted[i].value);
    }
    fprintf(f, "\n%s\n%s", *signed_headers, req->payload_hash);
    if ((rc = close_stream(f, &canonical)) != SC_OK) {
        goto out;
    }

    char date[9], canonical_hash[65];
    memcpy(date, req->amz_date, 8);
    date[8] = '\0';
    sigv4_sha256_hex(canonical, size, canonical_hash);
    rc = SC_ENOMEM;
    if (!(f = open_memstream(&to_sign, &size))) {
        goto out;
    }
    fprintf(f, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", req->amz_date, date, key->region,
            key->service, canonical_hash);
    if ((rc = close_stream(f, &to_sign)) != SC_OK) {
        goto out;
    }

    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
    unsigned char k[32], mac[32];
    size_t secret_len = strlen(key->secret_access_key);
    char *seed = malloc(secret_len + 5);
    if (!seed) {
        rc = SC_ENOMEM;
        goto out;
    }
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, key->secret_access_key, secret_len + 1);
    hmac((const unsigned char *)seed, secret_len + 4, date, k);
    crypto_wipe(seed, secret_len + 4);
    free(seed);
    hmac(k, sizeof(k), key->region, k);
    hmac(k, sizeof(k), key->service, k);
    hmac(k, sizeof(k), "aws4_request", k);
    hmac(k, sizeof(k), to_sign, mac);
    crypto_wipe(k, sizeof(k));
    crypto_hex(mac, sizeof(mac), sig);
    rc = SC_OK;
out:
    if (rc != SC_OK) {
        free(*signed_headers);
        *signed_headers = NULL;
    }
    free(canonical);
    free(to_sign);
    return rc;
}

sc_code sigv4_authorization(const struct sigv4_key *key, const struct sigv4_request *req,
                            char **out)
{
    char sig[65], *signed_headers;
    *out = NULL;
    sc_code rc = sign(key, req, sig, &signed_headers);
    if (rc != SC_OK) {
        return rc;
    }
    if (asprintf(out,
                 "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, "
                 "Signature=%s",
                 key->access_key_id, req->amz_date, key->region, key->service, signed_headers,
                 sig) < 0) {
        *out = NULL;
        rc = SC_ENOMEM;
    }
    free(signed_headers);
    return rc;
}

sc_code sigv4_presign_query(const struct sigv4_key *key, const char *method, const char *host,
                            const char *canonical_uri, const char *amz_date, int expires_s,
                            char **out)
{
    char *credential = NULL, *enc_credential = NULL, *query = NULL, *signed_headers = NULL;
    char sig[65];
    *out = NULL;
    sc_code rc = SC_ENOMEM;
    if (asprintf(&credential, "%s/%.8s/%s/%s/aws4_request", key->access_key_id, amz_date,
                 key->region, key->service) < 0) {
        credential = NULL;
        goto out;
    }
    if ((rc = sigv4_uri_encode(credential, strlen(credential), 0, &enc_credential)) != SC_OK) {
        goto out;
    }
    /* Already in canonical (sorted) order, so it is both what is signed and what is sent. */
    if (asprintf(&query,
                 "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Date=%s"
                 "&X-Amz-Expires=%d&X-Amz-SignedHeaders=host",
                 enc_credential, amz_date, expires_s) < 0) {
        query = NULL;
        rc = SC_ENOMEM;
        goto out;
    }
    const struct sigv4_header headers[] = {{"host", host}};
    const struct sigv4_request req = {method, canonical_uri,      query,   headers,
                                      1,      "UNSIGNED-PAYLOAD", amz_date};
    if ((rc = sign(key, &req, sig, &signed_headers)) != SC_OK) {
        goto out;
    }
    if (asprintf(out, "%s&X-Amz-Signature=%s", query, sig) < 0) {
        *out = NULL;
        rc = SC_ENOMEM;
    }
out:
    free(credential);
    free(enc_credential);
    free(query);
    free(signed_headers);
    return rc;
}
