/* Passwords, randomness, MAC, digests and constant-time comparison: the only
 * file that sees libsodium or libcrypto (OpenSSL) is crypto.c. Every function initialises libsodium
 * on first use, so callers never have to. */
#ifndef SC_CRYPTO_H
#define SC_CRYPTO_H

#include <stddef.h>
#include "error.h"

/* Size of an encoded password hash including the NUL (crypto_pwhash_STRBYTES). */
#define CRYPTO_PWHASH_LEN 128
/* Size of a UUID string including the NUL. */
#define CRYPTO_UUID_LEN 37
/* Size of the buffer crypto_token() needs for nbytes of randomness (URL-safe
 * base64 without padding, plus the NUL). */
#define CRYPTO_TOKEN_LEN(nbytes) ((4 * (nbytes) + 2) / 3 + 1)

/* libsodium's own start-up; SC_EINTERNAL when the system has no usable
 * randomness. The other functions call it, binaries may call it early to
 * fail fast. Safe from any thread, any number of times. */
sc_code crypto_init(void);

/* Hashes password with argon2id (libsodium's INTERACTIVE limits: 2 passes
 * over 64 MiB, tens of milliseconds per login on a 2-core box) into out as an
 * encoded string that carries its own salt and parameters. SC_ENOMEM when the
 * 64 MiB cannot be had. */
sc_code crypto_password_hash(const char *password, char out[CRYPTO_PWHASH_LEN]);

/* SC_OK when password matches the encoded hash, SC_EINVAL otherwise.
 * With hash NULL it checks against a fixed dummy hash and returns SC_EINVAL,
 * so a login for an unknown account costs the same time as a wrong password. */
sc_code crypto_password_verify(const char *hash, const char *password);

/* Fills buf with n bytes from the system CSPRNG. */
void crypto_random(void *buf, size_t n);

/* A random (version 4, RFC 9562) UUID in lower-case canonical form. */
void crypto_uuid_v4(char out[CRYPTO_UUID_LEN]);

/* nbytes (at most 256) of randomness as URL-safe base64 without padding, for tokens that
 * travel in URLs and QR codes. out must hold CRYPTO_TOKEN_LEN(nbytes) bytes. */
void crypto_token(size_t nbytes, char *out);

/* HMAC-SHA256 of msg under key (any length): raw bytes, or 64 lower-case hex
 * digits. */
void crypto_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        unsigned char out[32]);
void crypto_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
                            char out[65]);

/* SHA-256 of msg as 64 lower-case hex digits. */
void crypto_sha256_hex(const void *msg, size_t msg_len, char out[65]);

/* Size of crypto_md5_base64's output including the NUL. */
#define CRYPTO_MD5_BASE64_LEN 25

/* MD5 of msg in base64, as S3's Content-MD5 header wants it (an integrity
 * check some S3 requests require, not a security measure). SC_EINTERNAL when
 * libcrypto offers no MD5 (a FIPS-only build). */
sc_code crypto_md5_base64(const void *msg, size_t msg_len, char out[CRYPTO_MD5_BASE64_LEN]);

/* Incremental SHA-256 for data that arrives in pieces (uploads). init
 * returns SC_ENOMEM, or SC_EINTERNAL when libcrypto offers no SHA-256; every
 * state that was initialised ends with exactly one final_hex (SC_EINTERNAL
 * when libcrypto failed on the way) or discard (an abandoned digest; also
 * harmless after final_hex or on a zeroed state). */
struct crypto_sha256 {
    void *ctx; /* libcrypto's digest context */
    int failed;
};
sc_code crypto_sha256_init(struct crypto_sha256 *h);
void crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len);
sc_code crypto_sha256_final_hex(struct crypto_sha256 *h, char out[65]);
void crypto_sha256_discard(struct crypto_sha256 *h);

/* Overwrites n bytes at p with zeros in a way the compiler cannot drop (for
 * key material). */
void crypto_wipe(void *p, size_t n);

/* n bytes as 2n lower-case hex digits plus a NUL into out. */
void crypto_hex(const unsigned char *bin, size_t n, char *out);

/* 1 when the n bytes at a and b are equal, in time that depends only on n. */
int crypto_equal(const void *a, const void *b, size_t n);

/* 1 when the strings are equal; the time depends only on their lengths (for
 * comparing a received MAC or secret with the expected one). */
int crypto_str_equal(const char *a, const char *b);

#endif
