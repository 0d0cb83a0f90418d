/* libsodium and libcrypto (OpenSSL) adapter: argon2id password hashes, CSPRNG
 * output (UUIDs, tokens), HMAC-SHA256 and constant-time comparison come from
 * libsodium; SHA-256 from libcrypto, whose assembly uses the CPU's SHA
 * instructions (5x libsodium's portable C on a 200 KB upload body), and MD5
 * (which libsodium lacks) too. */
#include "crypto.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

_Static_assert(crypto_auth_hmacsha256_BYTES == 32, "MAC size");
_Static_assert(CRYPTO_PWHASH_LEN == crypto_pwhash_STRBYTES, "password hash buffer size");
_Static_assert(CRYPTO_MD5_BASE64_LEN ==
                   sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_ORIGINAL),
               "MD5 base64 buffer size");
_Static_assert(CRYPTO_TOKEN_LEN(32) ==
                   sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
               "token buffer size");

/* INTERACTIVE is libsodium's profile for online logins: the cost an attacker
 * pays per guess stays high (64 MiB, memory-hard) while one login takes tens
 * of milliseconds, so a small box can serve several at once. */
#define PWHASH_OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PWHASH_MEM crypto_pwhash_MEMLIMIT_INTERACTIVE

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status = -1;

static void init_sodium(void)
{
    init_status = sodium_init();
}

sc_code crypto_init(void)
{
    pthread_once(&init_once, init_sodium);
    if (init_status < 0) {
        log_error("libsodium could not initialise (no system randomness)");
        return SC_EINTERNAL;
    }
    return SC_OK;
}

/* The void functions below cannot report a failure; without randomness no
 * token or id they would make is safe, so the process stops instead. */
static void require_init(void)
{
    if (crypto_init() != SC_OK) {
        abort();
    }
}

sc_code crypto_password_hash(const char *password, char out[CRYPTO_PWHASH_LEN])
{
    sc_code rc = crypto_init();
    if (rc != SC_OK) {
        return rc;
    }
    if (crypto_pwhash_str(out, password, strlen(password), PWHASH_OPS, PWHASH_MEM) != 0) {
        return SC_ENOMEM;
    }
    return SC_OK;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[CRYPTO_PWHASH_LEN];

/* A hash of a random password nobody knows, with the same parameters as real
 * ones, so verifying against it costs the same. */
static void make_dummy_hash(void)
{
    char password[CRYPTO_TOKEN_LEN(32)];
    crypto_token(32, password);
    if (crypto_password_hash(password, dummy_hash) != SC_OK) {
        dummy_hash[0] = '\0';
    }
}

sc_code crypto_password_verify(const char *hash, const char *password)
{
    sc_code rc = crypto_init();
    if (rc != SC_OK) {
        return rc;
    }
    const char *against = hash;
    if (!hash) {
        pthread_once(&dummy_once, make_dummy_hash);
        against = dummy_hash;
    }
    int match = crypto_pwhash_str_verify(against, password, strlen(password)) == 0;
    return match && hash ? SC_OK : SC_EINVAL;
}

void crypto_random(void *buf, size_t n)
{
    require_init();
    randombytes_buf(buf, n);
}

void crypto_uuid_v4(char out[CRYPTO_UUID_LEN])
{
    unsigned char b[16];
    crypto_random(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 */
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 0x0f];
    }
    *p = '\0';
}

void crypto_token(size_t nbytes, char *out)
{
    unsigned char buf[256];
    if (nbytes > sizeof(buf)) {
        abort(); /* a programming error: tokens are a few dozen bytes */
    }
    crypto_random(buf, nbytes);
    sodium_bin2base64(out, CRYPTO_TOKEN_LEN(nbytes), buf, nbytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(buf, nbytes);
}

void crypto_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        unsigned char out[32])
{
    require_init();
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, msg, msg_len);
    crypto_auth_hmacsha256_final(&st, out);
}

void crypto_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
                            char out[65])
{
    unsigned char mac[32];
    crypto_hmac_sha256(key, key_len, msg, msg_len, mac);
    sodium_bin2hex(out, 65, mac, sizeof(mac));
}

/* SHA-256 fetched from the default provider once: an implicit fetch on every
 * digest would take the provider store's lock each time. */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256_md;
}

/* The one-shot digest serves ids and signatures, which have no error path: it
 * fails only when memory or libcrypto's provider is missing, and then the
 * process stops, as without randomness. */
void crypto_sha256_hex(const void *msg, size_t msg_len, char out[65])
{
    unsigned char digest[32];
    const EVP_MD *md = sha256();
    if (!md || EVP_Digest(msg, msg_len, digest, NULL, md, NULL) != 1) {
        log_error("SHA-256 unavailable from libcrypto");
        abort();
    }
    sodium_bin2hex(out, 65, digest, sizeof(digest));
}

/* Fetched once, as SHA-256 is. */
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;
static EVP_MD *md5_md;

static void fetch_md5(void)
{
    md5_md = EVP_MD_fetch(NULL, "MD5", NULL);
}

sc_code crypto_md5_base64(const void *msg, size_t msg_len, char out[CRYPTO_MD5_BASE64_LEN])
{
    unsigned char digest[16];
    pthread_once(&md5_once, fetch_md5);
    if (!md5_md || EVP_Digest(msg, msg_len, digest, NULL, md5_md, NULL) != 1) {
        return SC_EINTERNAL;
    }
    sodium_bin2base64(out, CRYPTO_MD5_BASE64_LEN, digest, sizeof(digest),
                      sodium_base64_VARIANT_ORIGINAL);
    return SC_OK;
}

sc_code crypto_sha256_init(struct crypto_sha256 *h)
{
    const EVP_MD *md = sha256();
    h->failed = 0;
    if (!(h->ctx = EVP_MD_CTX_new())) {
        return SC_ENOMEM;
    }
    if (!md || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
        crypto_sha256_discard(h);
        return SC_EINTERNAL;
    }
    return SC_OK;
}

void crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len)
{
    if (EVP_DigestUpdate(h->ctx, data, len) != 1) {
        h->failed = 1;
    }
}

sc_code crypto_sha256_final_hex(struct crypto_sha256 *h, char out[65])
{
    unsigned char digest[32];
    int ok = !h->failed && EVP_DigestFinal_ex(h->ctx, digest, NULL) == 1;
    crypto_sha256_discard(h);
    if (!ok) {
        return SC_EINTERNAL;
    }
    sodium_bin2hex(out, 65, digest, sizeof(digest));
    return SC_OK;
}

void crypto_sha256_discard(struct crypto_sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void crypto_wipe(void *p, size_t n)
{
    sodium_memzero(p, n);
}

void crypto_hex(const unsigned char *bin, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, bin, n);
}

int crypto_equal(const void *a, const void *b, size_t n)
{
    require_init();
    return sodium_memcmp(a, b, n) == 0;
}

int crypto_str_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && crypto_equal(a, b, n);
}
