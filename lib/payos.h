/* PayOS (payment links by VietQR) client: the only file besides s3.c that
 * sees CURL is payos.c (one HTTP adapter per role: S3 there, PayOS here).
 * Settings: PAYOS_BASE_URL, PAYOS_CLIENT_ID, PAYOS_API_KEY,
 * PAYOS_CHECKSUM_KEY, PAYOS_TIMEOUT_MS, PAYOS_RETRIES, PAYOS_RETURN_URL,
 * PAYOS_CANCEL_URL, PAYOS_CHECKOUT_URL_BASE.
 *
 * Errors of the calls: SC_EUNAVAIL PayOS unreachable or 5xx/429 after
 * PAYOS_RETRIES retries, SC_ETIMEOUT no answer within PAYOS_TIMEOUT_MS
 * (both transient), SC_ENOTFOUND no such link, SC_EPERMANENT PayOS refused
 * the request (another code than "00"; logged with its desc), SC_EINTERNAL
 * an answer we cannot read, SC_ENOMEM. */
#ifndef SC_PAYOS_H
#define SC_PAYOS_H

#include <jansson.h>
#include "error.h"

/* A payment link as PayOS describes it. */
struct payos_link {
    char id[64];      /* paymentLinkId */
    char status[16];  /* PENDING, PROCESSING, PAID, UNDERPAID, CANCELLED, EXPIRED, FAILED */
    long long amount; /* asked, in đồng */
    long long amount_paid;
    char *checkout_url; /* owned; NULL when unknown */
    char *qr_code;      /* owned; VietQR payload, NULL when PayOS did not say (read links) */
    json_t
        *transactions; /* owned; read links: the transfers ({reference, amount, ...}), else NULL */
};

struct payos_create_request {
    long long order_code; /* unique per link, 1 .. 9007199254740991 */
    long long amount;     /* đồng, > 0 */
    const char *description;
    const char *return_url;
    const char *cancel_url;
};

/* libcurl's global start-up (reference counted with s3_init); call before
 * other threads use PayOS. */
sc_code payos_init(void);
void payos_shutdown(void);

/* Pure: the signature of a create request, HMAC-SHA256 (lower-case hex) under
 * key over exactly amount=..&cancelUrl=..&description=..&orderCode=..&returnUrl=..
 * (raw, not URL-encoded). */
void payos_request_signature(const struct payos_create_request *r, const char *key, char out[65]);

/* Pure: the signature of a webhook's (or answer's) data object: its keys in
 * ascending order as key=value joined with '&' (null → "", numbers in
 * decimal, strings raw, nested values as compact sorted JSON), HMAC-SHA256
 * under key, lower-case hex. SC_EINVAL when data is not an object. */
sc_code payos_data_signature(const json_t *data, const char *key, char out[65]);

/* Pure: 1 when signature (may be NULL) is the one of data under key,
 * compared in constant time. */
int payos_signature_ok(const json_t *data, const char *signature, const char *key);

/* Creates the payment link of r, retrying transient failures with the same
 * orderCode; when PayOS answers "231" (the orderCode already has a link, say
 * an earlier try whose answer was lost) the existing link is read instead
 * (its checkout_url then comes from PAYOS_CHECKOUT_URL_BASE and qr_code is
 * NULL). out is the caller's to payos_link_clear (also on error). */
sc_code payos_create_link(const struct payos_create_request *r, struct payos_link *out);

/* Reads the link of order_code. */
sc_code payos_get_link(long long order_code, struct payos_link *out);

/* Cancels the link of order_code (reason may be NULL). */
sc_code payos_cancel_link(long long order_code, const char *reason);

void payos_link_clear(struct payos_link *l);

#endif
