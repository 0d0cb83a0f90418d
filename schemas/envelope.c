/* Envelope codec: checks exactly what schemas/envelope.schema.json states, so
 * a message either matches the schema or is refused with the field named. */
#include "envelope.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"

#define VERSION_MAX 2147483647

static sc_code fail(char *err, size_t errlen, const char *field, const char *why)
{
    if (err && errlen) {
        snprintf(err, errlen, "%s: %s", field, why);
    }
    return SC_EINVAL;
}

/* 8-4-4-4-12 hex digits, either case. */
static int is_uuid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[36] == '\0';
}

/* Lower-case dot-separated words: "cart.item_added", "selftest.effect". */
static int is_type_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= ENVELOPE_TYPE_LEN) {
        return 0;
    }
    int word_start = 1;
    for (const char *p = s; *p; p++) {
        if (word_start ? !islower((unsigned char)*p)
                       : !(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' ||
                           (*p == '.' && p[1]))) {
            return 0;
        }
        word_start = *p == '.';
    }
    return 1;
}

/* Reads n digits at s into *v; 0 when one is not a digit. */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return 0;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* RFC 3339 date-time (JSON Schema's "date-time" format): a full date, 'T',
 * a time with optional fraction, and 'Z' or a numeric offset. */
static int is_rfc3339(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec)) {
        return 0;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60) {
        return 0;
    }
    const char *p = s + 19;
    if (*p == '.') {
        const char *frac = ++p;
        while (isdigit((unsigned char)*p)) {
            p++;
        }
        if (p == frac || p - frac > 9) {
            return 0;
        }
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        return 1;
    }
    int oh, om;
    return (*p == '+' || *p == '-') && digits(p + 1, 2, &oh) && p[3] == ':' &&
           digits(p + 4, 2, &om) && p[6] == '\0' && oh <= 23 && om <= 59;
}

static sc_code validate(const struct envelope *e, char *err, size_t errlen)
{
    if (!is_uuid(e->id)) {
        return fail(err, errlen, "id", "must be a UUID");
    }
    if (!is_type_name(e->type)) {
        return fail(err, errlen, "type", "must be lower-case dot-separated words, at most 64");
    }
    if (e->version < 1) {
        return fail(err, errlen, "version", "must be an integer from 1 to 2147483647");
    }
    if (!is_rfc3339(e->occurred_at)) {
        return fail(err, errlen, "occurred_at", "must be an RFC 3339 date-time");
    }
    if (!is_uuid(e->tenant)) {
        return fail(err, errlen, "tenant", "must be a UUID");
    }
    if (!json_is_object(e->data)) {
        return fail(err, errlen, "data", "must be an object");
    }
    return SC_OK;
}

/* Copies src into dst (lower-cased when asked); 0 when it does not fit. */
static int copy_text(char *dst, size_t size, const char *src, int lower)
{
    size_t n = strlen(src);
    if (n >= size) {
        return 0;
    }
    for (size_t i = 0; i <= n; i++) {
        dst[i] = lower ? (char)tolower((unsigned char)src[i]) : src[i];
    }
    return 1;
}

sc_code envelope_init(struct envelope *e, const char *type, int version, const char *tenant,
                      json_t *data)
{
    memset(e, 0, sizeof(*e));
    e->data = data;
    crypto_uuid_v4(e->id);
    e->version = version;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(e->occurred_at, sizeof(e->occurred_at), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(e->occurred_at + n, sizeof(e->occurred_at) - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
    if (!type || !tenant || !copy_text(e->type, sizeof(e->type), type, 0) ||
        !copy_text(e->tenant, sizeof(e->tenant), tenant, 1)) {
        envelope_clear(e);
        return SC_EINVAL;
    }
    sc_code rc = validate(e, NULL, 0);
    if (rc != SC_OK) {
        envelope_clear(e);
    }
    return rc;
}

sc_code envelope_encode(const struct envelope *e, char **out, size_t *len)
{
    *out = NULL;
    sc_code rc = validate(e, NULL, 0);
    if (rc != SC_OK) {
        return rc;
    }
    json_t *doc =
        json_pack("{s:s, s:s, s:i, s:s, s:s, s:O}", "id", e->id, "type", e->type, "version",
                  e->version, "occurred_at", e->occurred_at, "tenant", e->tenant, "data", e->data);
    *out = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!*out) {
        return SC_ENOMEM;
    }
    *len = strlen(*out);
    return SC_OK;
}

/* Copies the string member name of doc into dst; SC_EINVAL naming it otherwise. */
static sc_code take_string(json_t *doc, const char *name, char *dst, size_t size, int lower,
                           char *err, size_t errlen)
{
    json_t *v = json_object_get(doc, name);
    if (!v) {
        return fail(err, errlen, name, "is required");
    }
    if (!json_is_string(v) || !copy_text(dst, size, json_string_value(v), lower)) {
        return fail(err, errlen, name, "must be a string of the right form");
    }
    return SC_OK;
}

sc_code envelope_decode(const void *buf, size_t len, struct envelope *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof(*e));
    json_error_t jerr;
    json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    sc_code rc = SC_EINVAL;
    if (!json_is_object(doc)) {
        if (err && errlen) {
            snprintf(err, errlen, "message: not a JSON object%s%s", doc ? "" : ": ",
                     doc ? "" : jerr.text);
        }
        goto out;
    }
    /* The id first, so a message broken elsewhere can still be named. */
    if ((rc = take_string(doc, "id", e->id, sizeof(e->id), 1, err, errlen)) != SC_OK) {
        goto out;
    }
    if (!is_uuid(e->id)) {
        e->id[0] = '\0';
        rc = fail(err, errlen, "id", "must be a UUID");
        goto out;
    }
    if ((rc = take_string(doc, "type", e->type, sizeof(e->type), 0, err, errlen)) != SC_OK ||
        (rc = take_string(doc, "occurred_at", e->occurred_at, sizeof(e->occurred_at), 0, err,
                          errlen)) != SC_OK ||
        (rc = take_string(doc, "tenant", e->tenant, sizeof(e->tenant), 1, err, errlen)) != SC_OK) {
        goto out;
    }
    json_t *version = json_object_get(doc, "version");
    if (!version) {
        rc = fail(err, errlen, "version", "is required");
        goto out;
    }
    json_int_t v = json_integer_value(version);
    if (!json_is_integer(version) || v < 1 || v > VERSION_MAX) {
        rc = fail(err, errlen, "version", "must be an integer from 1 to 2147483647");
        goto out;
    }
    e->version = (int)v;
    e->data = json_object_get(doc, "data");
    if (!e->data) {
        rc = fail(err, errlen, "data", "is required");
        goto out;
    }
    json_incref(e->data);
    if ((rc = validate(e, err, errlen)) != SC_OK) {
        json_decref(e->data);
        e->data = NULL;
    }
out:
    json_decref(doc);
    return rc;
}

void envelope_clear(struct envelope *e)
{
    json_decref(e->data);
    e->data = NULL;
}
