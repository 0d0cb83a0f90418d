/* What ingest and the media worker share about an uploaded asset: where its
 * objects live in R2, how its original name is cleaned, and its status in
 * Redis (a cache of Postgres: `media:status:<id>` with a TTL, plus a message
 * on channel `media.status` whenever it changes).
 *
 * Key layout (every key is [a-z0-9/_.-] only, so it needs no URL encoding;
 * keys under media/<tenant>/customers/ are private, see MEDIA_PRIVATE_PREFIX):
 *   staging/<media_id>                                    raw upload awaiting the worker
 *   media/<tenant>/<owner_id>/<media_id>                  base of purpose "media"
 *   media/<tenant>/customers/<user_id>/profile/<media_id> base of purpose "avatar"
 *   media/<tenant>/customers/<user_id>/address/<media_id> base of purpose "address_proof"
 *   images/products/<media_id>                            base of purpose "product_image"
 *   images/banners/<media_id>                             base of purpose "banner"
 *   <base>.<ext>                                          full-size object
 *   <base>_<variant>.webp                                 resized variants */
#ifndef SC_MEDIA_H
#define SC_MEDIA_H

#include <jansson.h>
#include <stddef.h>
#include "error.h"

#define MEDIA_KEY_LEN 192
/* Longest original name, in characters (the column's check). */
#define MEDIA_NAME_MAX_CHARS 255
#define MEDIA_NAME_LEN (MEDIA_NAME_MAX_CHARS * 4 + 1)
#define MEDIA_STATUS_CHANNEL "media.status"

/* Private objects (seed 004) live under media/<tenant>/MEDIA_PRIVATE_DIR/;
 * they get no public URL, only ingest's checked route GET /<key>. */
#define MEDIA_PRIVATE_DIR "customers"

/* staging/<media_id>. */
void media_staging_key(const char *media_id, char out[MEDIA_KEY_LEN]);

/* The base key of an asset of purpose ("media", "avatar", "address_proof",
 * "product_image" or "banner"; seed 003 fixes the last two, which are public catalog pictures
 * and so carry no tenant); owner is the owner's user id (for an avatar, the
 * customer's user). SC_EINVAL for another purpose or an argument that is not
 * a UUID. */
sc_code media_base_key(const char *purpose, const char *tenant, const char *owner,
                       const char *media_id, char out[MEDIA_KEY_LEN]);

/* <base>.<ext> when variant is NULL (the full-size object), else
 * <base>_<variant>.<ext>. */
void media_object_key(const char *base, const char *variant, const char *ext,
                      char out[MEDIA_KEY_LEN]);

/* The client's file name made safe to store and show: the part after the
 * last '/' or '\', without control characters or invalid UTF-8, cut to
 * MEDIA_NAME_MAX_CHARS characters; "upload" when nothing is left (or ".", ".."). */
void media_clean_name(const char *name, char out[MEDIA_NAME_LEN]);

/* Caches status_json (the status document of media_id) with
 * MEDIA_STATUS_TTL_S, then publishes it on MEDIA_STATUS_CHANNEL. */
sc_code media_status_publish(const char *media_id, const char *status_json);

/* The cached status document of media_id in *json (the caller frees).
 * SC_ENOTFOUND on a miss. */
sc_code media_status_cached(const char *media_id, char **json);

/* Drops the cached status, so readers fall back to Postgres (done before a
 * change commits: a crash between the commit and the next publish then
 * leaves a miss, never a stale value). Absent is fine. */
sc_code media_status_forget(const char *media_id);

/* Deletes every object named in keys (a JSON array of strings) in one
 * request (s3_delete_many): SC_OK when all are gone, else the first failed
 * key's error (each failed key is logged; the others are gone). */
sc_code media_delete_objects(json_t *keys);

#endif
