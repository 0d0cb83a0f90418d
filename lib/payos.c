/* PayOS client over libcurl (see payos.h). Each call uses its own easy
 * handle: checkout is not a hot path, and a fresh handle keeps the calls of
 * many threads apart without a pool. */
#include "payos.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "crypto.h"
#include "log.h"

#define ANSWER_MAX (1 << 20)
#define CODE_OK "00"
#define CODE_EXISTS "231"
#define CODE_NOT_FOUND "101"

sc_code payos_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? SC_OK : SC_EINTERNAL;
}

void payos_shutdown(void)
{
    curl_global_cleanup();
}

/* ---- signatures (pure) ---- */

void payos_request_signature(const struct payos_create_request *r, const char *key, char out[65])
{
    char *text = NULL;
    int n = asprintf(&text, "amount=%lld&cancelUrl=%s&description=%s&orderCode=%lld&returnUrl=%s",
                     r->amount, r->cancel_url, r->description, r->order_code, r->return_url);
    if (n < 0) {
        out[0] = '\0';
        return;
    }
    crypto_hmac_sha256_hex(key, strlen(key), text, (size_t)n, out);
    free(text);
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* value as PayOS writes it into the signed text; caller frees. */
static char *value_text(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return strdup("");
    case JSON_STRING:
        return strdup(json_string_value(v));
    case JSON_INTEGER: {
        char *s = NULL;
        return asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0 ? NULL : s;
    }
    case JSON_REAL: {
        char *s = NULL;
        return asprintf(&s, "%.15g", json_real_value(v)) < 0 ? NULL : s;
    }
    case JSON_TRUE:
        return strdup("true");
    case JSON_FALSE:
        return strdup("false");
    default:
        return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
}

sc_code payos_data_signature(const json_t *data, const char *key, char out[65])
{
    out[0] = '\0';
    if (!json_is_object(data)) {
        return SC_EINVAL;
    }
    size_t n = json_object_size(data), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sc_code rc = keys && f ? SC_OK : SC_ENOMEM;
    const char *k;
    json_t *v;
    if (rc != SC_OK) {
        goto out;
    }
    json_object_foreach((json_t *)data, k, v)
    {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), compare_keys);
    for (i = 0; i < n && rc == SC_OK; i++) {
        char *s = value_text(json_object_get(data, keys[i]));
        if (!s) {
            rc = SC_ENOMEM;
        } else {
            fprintf(f, "%s%s=%s", i ? "&" : "", keys[i], s);
        }
        free(s);
    }
    if (fclose(f) != 0 && rc == SC_OK) {
        rc = SC_ENOMEM;
    }
    f = NULL;
    if (rc == SC_OK) {
        crypto_hmac_sha256_hex(key, strlen(key), text, len, out);
    }
out:
    if (f) {
        fclose(f);
    }
    free(text);
    free(keys);
    return rc;
}

int payos_signature_ok(const json_t *data, const char *signature, const char *key)
{
    char expected[65];
    if (!signature || payos_data_signature(data, key, expected) != SC_OK) {
        return 0;
    }
    return crypto_str_equal(expected, signature);
}

/* ---- HTTP ---- */

struct answer {
    char *buf;
    size_t len;
    int too_big;
};

static size_t on_write(char *src, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t add = size * n;
    if (a->len + add > ANSWER_MAX) {
        a->too_big = 1;
        return 0;
    }
    char *grown = realloc(a->buf, a->len + add + 1);
    if (!grown) {
        return 0;
    }
    memcpy(grown + a->len, src, add);
    a->buf = grown;
    a->len += add;
    a->buf[a->len] = '\0';
    return add;
}

/* One HTTP exchange: method path with the JSON body (may be NULL). On SC_OK
 * *doc is the parsed answer (caller decrefs). */
static sc_code exchange(const char *method, const char *path, const char *body, json_t **doc)
{
    *doc = NULL;
    struct answer a = {0};
    struct curl_slist *headers = NULL;
    char *url = NULL, *client = NULL, *api_key = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    sc_code rc = SC_ENOMEM;
    CURL *h = curl_easy_init();
    if (!h || asprintf(&url, "%s%s", cfg.payos_base_url, path) < 0 ||
        asprintf(&client, "x-client-id: %s", cfg.payos_client_id) < 0 ||
        asprintf(&api_key, "x-api-key: %s", cfg.payos_api_key) < 0) {
        goto out;
    }
    headers = curl_slist_append(headers, client);
    headers = curl_slist_append(headers, api_key);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    if (!headers) {
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg.payos_timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = SC_ETIMEOUT;
    } else if (cc != CURLE_OK) {
        rc = a.too_big ? SC_EINTERNAL : SC_EUNAVAIL;
    } else if (status >= 500 || status == 429) {
        rc = SC_EUNAVAIL;
    } else if (!(*doc = json_loadb(a.buf ? a.buf : "", a.len, 0, NULL)) || !json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        rc = SC_EINTERNAL;
    } else {
        rc = SC_OK;
    }
    if (rc != SC_OK) {
        log_json(LOG_WARN, "payos call failed",
                 json_pack("{s:s,s:s,s:I,s:s,s:s}", "method", method, "path", path, "http_status",
                           (json_int_t)status, "error", sc_strerror(rc), "detail", errbuf));
    }
out:
    curl_slist_free_all(headers);
    if (h) {
        curl_easy_cleanup(h);
    }
    free(url);
    free(client);
    free(api_key);
    free(a.buf);
    return rc;
}

/* The code of a PayOS answer as our error: "00" SC_OK, "231" SC_ECONFLICT,
 * "101" SC_ENOTFOUND, any other SC_EPERMANENT (logged). */
static sc_code code_of(const json_t *doc, const char *path)
{
    const char *code = json_string_value(json_object_get(doc, "code"));
    if (code && !strcmp(code, CODE_OK)) {
        return SC_OK;
    }
    if (code && !strcmp(code, CODE_EXISTS)) {
        return SC_ECONFLICT;
    }
    if (code && !strcmp(code, CODE_NOT_FOUND)) {
        return SC_ENOTFOUND;
    }
    const char *desc = json_string_value(json_object_get(doc, "desc"));
    log_json(LOG_WARN, "payos refused the request",
             json_pack("{s:s,s:s?,s:s?}", "path", path, "code", code, "desc", desc));
    return SC_EPERMANENT;
}

/* exchange() retried after transient failures (PAYOS_RETRIES more times,
 * 100 ms apart, doubling); on SC_OK *data is the answer's data object (a new
 * reference), whose signature is checked when check_signature is set. */
static sc_code call(const char *method, const char *path, const char *body, int check_signature,
                    json_t **data)
{
    json_t *doc = NULL;
    sc_code rc = SC_OK;
    *data = NULL;
    for (long long attempt = 0;; attempt++) {
        rc = exchange(method, path, body, &doc);
        if (rc == SC_OK || !sc_is_transient(rc) || attempt >= cfg.payos_retries) {
            break;
        }
        struct timespec ts = {0, (100L << (attempt < 3 ? attempt : 3)) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (rc != SC_OK || (rc = code_of(doc, path)) != SC_OK) {
        goto out;
    }
    json_t *d = json_object_get(doc, "data");
    if (!json_is_object(d) ||
        (check_signature &&
         !payos_signature_ok(d, json_string_value(json_object_get(doc, "signature")),
                             cfg.payos_checksum_key))) {
        log_json(LOG_ERROR, "payos answer without a valid data signature",
                 json_pack("{s:s}", "path", path));
        rc = SC_EINTERNAL;
        goto out;
    }
    *data = json_incref(d);
out:
    json_decref(doc);
    return rc;
}

static char *dup_string(const json_t *v)
{
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* Fills l from a link's data: the create answer (paymentLinkId, checkoutUrl,
 * qrCode) or the read answer (id, amountPaid). */
static sc_code link_from(const json_t *d, struct payos_link *l)
{
    const char *id = json_string_value(json_object_get(d, "paymentLinkId"));
    if (!id) {
        id = json_string_value(json_object_get(d, "id"));
    }
    const char *status = json_string_value(json_object_get(d, "status"));
    if (!id || !*id) {
        return SC_EINTERNAL;
    }
    snprintf(l->id, sizeof(l->id), "%s", id);
    snprintf(l->status, sizeof(l->status), "%s", status ? status : "");
    l->amount = json_integer_value(json_object_get(d, "amount"));
    l->amount_paid = json_integer_value(json_object_get(d, "amountPaid"));
    l->checkout_url = dup_string(json_object_get(d, "checkoutUrl"));
    l->qr_code = dup_string(json_object_get(d, "qrCode"));
    json_t *transactions = json_object_get(d, "transactions");
    l->transactions = json_is_array(transactions) ? json_incref(transactions) : NULL;
    if (!l->checkout_url &&
        asprintf(&l->checkout_url, "%s%s", cfg.payos_checkout_url_base, id) < 0) {
        l->checkout_url = NULL;
        return SC_ENOMEM;
    }
    return SC_OK;
}

static sc_code read_link(long long order_code, const char *suffix, const char *body,
                         struct payos_link *out)
{
    char path[96];
    json_t *data = NULL;
    snprintf(path, sizeof(path), "/v2/payment-requests/%lld%s", order_code, suffix);
    sc_code rc = call(suffix[0] ? "POST" : "GET", path, body, 0, &data);
    if (rc == SC_OK && out) {
        rc = link_from(data, out);
    }
    json_decref(data);
    return rc;
}

sc_code payos_get_link(long long order_code, struct payos_link *out)
{
    memset(out, 0, sizeof(*out));
    return read_link(order_code, "", NULL, out);
}

sc_code payos_cancel_link(long long order_code, const char *reason)
{
    json_t *body = json_pack("{s:s}", "cancellationReason", reason ? reason : "");
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    sc_code rc = text ? read_link(order_code, "/cancel", text, NULL) : SC_ENOMEM;
    free(text);
    json_decref(body);
    return rc;
}

sc_code payos_create_link(const struct payos_create_request *r, struct payos_link *out)
{
    memset(out, 0, sizeof(*out));
    char signature[65];
    payos_request_signature(r, cfg.payos_checksum_key, signature);
    json_t *data = NULL;
    json_t *body =
        json_pack("{s:I,s:I,s:s,s:s,s:s,s:s}", "orderCode", (json_int_t)r->order_code, "amount",
                  (json_int_t)r->amount, "description", r->description, "cancelUrl", r->cancel_url,
                  "returnUrl", r->return_url, "signature", signature);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    sc_code rc = text ? call("POST", "/v2/payment-requests", text, 1, &data) : SC_ENOMEM;
    if (rc == SC_OK) {
        rc = link_from(data, out);
    } else if (rc == SC_ECONFLICT) {
        log_json(LOG_INFO, "payos link exists already; reading it",
                 json_pack("{s:I}", "order_code", (json_int_t)r->order_code));
        rc = read_link(r->order_code, "", NULL, out);
    }
    json_decref(data);
    free(text);
    json_decref(body);
    return rc;
}

void payos_link_clear(struct payos_link *l)
{
    free(l->checkout_url);
    free(l->qr_code);
    json_decref(l->transactions);
    l->checkout_url = NULL;
    l->qr_code = NULL;
    l->transactions = NULL;
}
