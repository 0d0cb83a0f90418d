/* Media object keys, original names and the Redis status cache (see media.h). */
#include "media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "redis.h"
#include "s3.h"
#include "text.h"
#include "uuid.h"

#define STATUS_KEY_LEN 64

void media_staging_key(const char *media_id, char out[MEDIA_KEY_LEN])
{
    snprintf(out, MEDIA_KEY_LEN, "staging/%s", media_id);
}

sc_code media_base_key(const char *purpose, const char *tenant, const char *owner,
                       const char *media_id, char out[MEDIA_KEY_LEN])
{
    out[0] = '\0';
    if (!uuid_valid(tenant) || !uuid_valid(owner) || !uuid_valid(media_id) || !purpose) {
        return SC_EINVAL;
    }
    if (!strcmp(purpose, "media")) {
        snprintf(out, MEDIA_KEY_LEN, "media/%s/%s/%s", tenant, owner, media_id);
    } else if (!strcmp(purpose, "avatar")) {
        snprintf(out, MEDIA_KEY_LEN, "media/%s/" MEDIA_PRIVATE_DIR "/%s/profile/%s", tenant, owner,
                 media_id);
    } else if (!strcmp(purpose, "address_proof")) {
        snprintf(out, MEDIA_KEY_LEN, "media/%s/" MEDIA_PRIVATE_DIR "/%s/address/%s", tenant, owner,
                 media_id);
    } else if (!strcmp(purpose, "product_image")) {
        snprintf(out, MEDIA_KEY_LEN, "images/products/%s", media_id);
    } else if (!strcmp(purpose, "banner")) {
        snprintf(out, MEDIA_KEY_LEN, "images/banners/%s", media_id);
    } else {
        return SC_EINVAL;
    }
    /* Ids may arrive in upper case; keys are lower case only. */
    for (char *p = out; *p; p++) {
        if (*p >= 'A' && *p <= 'F') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    return SC_OK;
}

void media_object_key(const char *base, const char *variant, const char *ext,
                      char out[MEDIA_KEY_LEN])
{
    if (variant) {
        snprintf(out, MEDIA_KEY_LEN, "%s_%s.%s", base, variant, ext);
    } else {
        snprintf(out, MEDIA_KEY_LEN, "%s.%s", base, ext);
    }
}

/* Length of the UTF-8 sequence at s (1..4), 0 when it is not one or is a
 * C1 control character (U+0080..U+009F), which a name must not hold either. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned int cp = 0;
    size_t n = text_utf8_seq(s, &cp);
    return n && (cp < 0x80 || cp > 0x9F) ? n : 0;
}

void media_clean_name(const char *name, char out[MEDIA_NAME_LEN])
{
    const char *base = name ? name : "";
    for (const char *p = base; *p; p++) {
        if (*p == '/' || *p == '\\') {
            base = p + 1;
        }
    }
    size_t len = 0, chars = 0;
    const unsigned char *p = (const unsigned char *)base;
    while (*p && chars < MEDIA_NAME_MAX_CHARS) {
        size_t n = utf8_seq(p);
        if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7F))) {
            p++; /* skipped: a control character or a byte that is not UTF-8 */
            continue;
        }
        memcpy(out + len, p, n);
        len += n;
        chars++;
        p += n;
    }
    out[len] = '\0';
    if (!strcmp(out, "") || !strcmp(out, ".") || !strcmp(out, "..")) {
        snprintf(out, MEDIA_NAME_LEN, "upload");
    }
}

static void status_key(const char *media_id, char out[STATUS_KEY_LEN])
{
    snprintf(out, STATUS_KEY_LEN, "media:status:%s", media_id);
}

sc_code media_status_publish(const char *media_id, const char *status_json)
{
    /* One round trip instead of two, and no subscriber ever hears of a
     * status the key does not hold yet. */
    static const char script[] = "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) "
                                 "return redis.call('PUBLISH', ARGV[3], ARGV[1])";
    char key[STATUS_KEY_LEN], ttl[24];
    status_key(media_id, key);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)cfg.media_status_ttl_s);
    const char *args[] = {key, status_json, ttl, MEDIA_STATUS_CHANNEL};
    char *receivers = NULL;
    sc_code rc = redis_eval(script, 1, args, 4, &receivers);
    free(receivers);
    return rc;
}

sc_code media_status_cached(const char *media_id, char **json)
{
    char key[STATUS_KEY_LEN];
    status_key(media_id, key);
    return redis_get(key, json, NULL);
}

sc_code media_status_forget(const char *media_id)
{
    char key[STATUS_KEY_LEN];
    status_key(media_id, key);
    return redis_del(key);
}

sc_code media_delete_objects(json_t *keys)
{
    size_t n = json_array_size(keys);
    const char **k = malloc((n ? n : 1) * sizeof(*k));
    if (!k) {
        return SC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        k[i] = json_string_value(json_array_get(keys, i));
    }
    sc_code rc = s3_delete_many(k, n, NULL);
    free(k);
    return rc;
}
