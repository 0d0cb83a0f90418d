/* Accepting an upload for the media pipeline, shared by every route that takes
 * a file (media, avatars, product images, banners): the type from magic bytes
 * (415 otherwise), the bytes to R2 under staging/, the media_assets row
 * (pending) with the route's own row in the same transaction, the status in
 * Redis, and the media.uploaded job produced and acknowledged before the
 * answer. An upload that cannot be enqueued leaves nothing behind: the rows,
 * the staging object and the cached status are removed before the 503. */
#ifndef SC_INGEST_MEDIA_UPLOAD_H
#define SC_INGEST_MEDIA_UPLOAD_H

#include "auth.h"
#include "db/media_assets.h"
#include "filetype.h"
#include "http.h"

/* Who and what an upload is for. */
struct upload_target {
    enum filetype_kind kind;
    const char *field;   /* the file part's name; NULL: "file" */
    const char *purpose; /* media_assets.purpose */
    const char *owner;   /* user id owning the asset */
    const char *subject; /* the customer of an avatar, the product image, the banner; else NULL */
    int status;          /* of the success answer */
    /* Optional, for a route with a row of its own (the subject): inserts it
     * inside the transaction that inserts the asset m, whose object_key is
     * the full-size image's final key, and sets *answer (the caller frees)
     * to the route's answer. SC_ENOTFOUND answers 404 with not_found.
     * Without it the answer is the asset's MediaResponse. */
    sc_code (*record)(db_conn *tx, const struct media_new *m, const void *arg, char **answer);
    /* With record: deletes the subject's row when the job cannot be produced. */
    sc_code (*forget)(db_conn *c, const char *subject);
    const void *arg;
    const char *not_found;
};

/* Stores, records and enqueues the file part of req for t, then answers
 * (t->status with the answer, or 422/415/404/503). */
void media_accept_upload(struct http_request *req, struct http_response *res,
                         const struct auth_identity *who, const struct upload_target *t);

/* What is wrong with a file part, for routes that answer in their own shape
 * before calling media_accept_upload (which checks again, the same way). */
enum upload_problem { UPLOAD_OK, UPLOAD_MISSING, UPLOAD_EMPTY, UPLOAD_WRONG_TYPE };

/* Checks the file part field of req: present, not empty, and of kind by its
 * magic bytes (then *up and *type are set). */
enum upload_problem media_upload_check(struct http_request *req, const char *field,
                                       enum filetype_kind kind, const struct http_upload **up,
                                       enum filetype *type);

#endif
