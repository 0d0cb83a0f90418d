/* What an uploaded file really is, decided from its first bytes only: file
 * names and client Content-Types are never inputs, so a PNG named .jpg is a
 * PNG and a text file named .jpg is nothing we accept. */
#ifndef SC_FILETYPE_H
#define SC_FILETYPE_H

#include <stddef.h>

enum filetype {
    FILETYPE_UNKNOWN = 0,
    FILETYPE_JPEG,
    FILETYPE_PNG,
    FILETYPE_WEBP,
    FILETYPE_GIF,
    FILETYPE_HEIC,
    FILETYPE_AVIF,
    FILETYPE_MP4,
    FILETYPE_MOV,
    FILETYPE_WEBM,
    FILETYPE_MKV,
};

enum filetype_kind { FILETYPE_KIND_NONE = 0, FILETYPE_KIND_IMAGE, FILETYPE_KIND_VIDEO };

/* How many leading bytes filetype_detect looks at; pass at least this many
 * when the file is that long (fewer is fine: detection then fails safe). */
#define FILETYPE_SNIFF_BYTES 256

/* The type of the file whose first len bytes are buf (buf may be NULL when
 * len is 0). A header cut short of what identifies it is FILETYPE_UNKNOWN. */
enum filetype filetype_detect(const void *buf, size_t len);

/* Canonical MIME type ("image/jpeg"; "application/octet-stream" when unknown),
 * extension without the dot ("jpg"; "bin" when unknown) and kind. The strings
 * are static. */
const char *filetype_mime(enum filetype type);
const char *filetype_ext(enum filetype type);
enum filetype_kind filetype_kind(enum filetype type);

/* The accepted types of a kind, for error messages: "JPEG, PNG, WebP, GIF,
 * HEIC, AVIF" (static). */
const char *filetype_accepted(enum filetype_kind kind);

#endif
