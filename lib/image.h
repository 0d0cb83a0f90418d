/* Image processing of uploads (the libvips adapter; no libvips type leaves
 * lib/image.c). Every input is checked from its header before any pixel is
 * decoded, then each variant is made by a shrink-on-load thumbnail that is
 * auto-rotated, converted to sRGB and saved with every metadata field stripped.
 * Limits come from cfg: IMAGE_MAX_MEGAPIXELS, IMAGE_MAX_FRAMES,
 * IMAGE_VARIANTS, IMAGE_WEBP_QUALITY. */
#ifndef SC_IMAGE_H
#define SC_IMAGE_H

#include <stddef.h>
#include "error.h"
#include "filetype.h"

/* Most variants IMAGE_VARIANTS may name (the full-size image comes on top). */
#define IMAGE_MAX_VARIANTS 8
/* Largest max_edge a variant may ask for: WebP cannot hold a longer side. */
#define IMAGE_MAX_EDGE 16383
/* Name of the sanitised full-size image image_specs_from_config appends. */
#define IMAGE_FULL_NAME "full"

enum image_format {
    IMAGE_FORMAT_WEBP,
    /* The input's own family, image_full_type (every browser shows these, and
     * it neither grows a photo as PNG would nor caps it at WebP's 16383 px). */
    IMAGE_FORMAT_SAME,
};

struct variant_spec {
    char name[32];
    int max_edge; /* longest side in pixels; 0 keeps the original size */
    int quality;  /* 1..100, for lossy outputs */
    enum image_format format;
};

struct image_info {
    int width, height; /* as stored, before EXIF rotation */
    int frames;        /* pages or animation frames; 1 for a still image */
    enum filetype type;
};

struct image_output {
    char name[32]; /* the variant's name */
    void *data;    /* malloc'd encoded image, owned by the caller (image_output_free) */
    size_t len;
    int width, height; /* of the encoded, upright image */
    const char *mime;  /* static */
    const char *ext;   /* static, without the dot */
};

/* Starts libvips once per process: untrusted loaders blocked, operation
 * cache off. Concurrency is libvips' own (VIPS_CONCURRENCY, default one thread
 * per core). Safe to call more than once. */
sc_code image_init(void);

/* Releases libvips at process exit; no image call may follow. */
void image_shutdown(void);

/* Reads only the header of buf (no pixel is decoded) into out. Refuses with
 * SC_EPERMANENT and a sentence the client can be shown in reason when the
 * data is not an accepted image type, its header is unreadable, or it has more
 * pixels than IMAGE_MAX_MEGAPIXELS or frames than IMAGE_MAX_FRAMES. */
sc_code image_probe(const void *buf, size_t len, struct image_info *out, char *reason,
                    size_t reason_len);

/* Probes buf (as image_probe), then makes one output per spec into
 * outs[0..nspecs), concurrently: the full-size outputs from buf, each on a
 * thread of its own, beside the variants, made one after another on one
 * more thread, the largest from buf (shrink-on-load) and each smaller one
 * from the previous one's pixels. Never upscales. A corrupt or
 * truncated image fails with SC_EPERMANENT and a reason; SC_ENOMEM and
 * SC_EINTERNAL are worth a retry. On failure outs holds nothing to free. */
sc_code image_process(const void *buf, size_t len, const struct variant_spec *specs, size_t nspecs,
                      struct image_output *outs, char *reason, size_t reason_len);

/* Frees the data of n outputs and clears them. */
void image_output_free(struct image_output *outs, size_t n);

/* Parses "name:max_edge,name:max_edge" (spaces around items allowed, empty
 * text means no variant) into WebP specs of the given quality. Names are 1..31
 * of [a-z0-9_-], unique and not IMAGE_FULL_NAME; edges 1..IMAGE_MAX_EDGE; at
 * most cap items. On SC_EINVAL err names the offending item. */
sc_code image_variants_parse(const char *text, int quality, struct variant_spec *out, size_t cap,
                             size_t *n, char *err, size_t errlen);

/* The specs the worker uses: IMAGE_VARIANTS at IMAGE_WEBP_QUALITY, then the
 * full-size image (IMAGE_FORMAT_SAME). out needs IMAGE_MAX_VARIANTS + 1 slots. */
sc_code image_specs_from_config(struct variant_spec *out, size_t *n, char *err, size_t errlen);

/* The type of the full-size image (IMAGE_FORMAT_SAME) made from an input of
 * type input: JPEG for JPEG, HEIC and AVIF (transparency laid on white), PNG
 * for PNG and GIF, WebP for WebP. It depends on the input type alone, so the
 * final key of an upload is known when the upload is accepted. */
enum filetype image_full_type(enum filetype input);
/* Encodes w x h 8-bit grey pixels (row after row) as a PNG in *png (*len
 * bytes, malloc'd, the caller frees), for pictures we draw ourselves (QR
 * codes). Starts libvips on first use. */
sc_code image_png_from_gray(const unsigned char *pixels, int w, int h, void **png, size_t *len);

/* A w x h JPEG of one colour (r, g, b each 0..255) in *jpg (*len bytes,
 * malloc'd, the caller frees), for the demo catalog's pictures. SC_EINVAL
 * for a size or colour out of range. Starts libvips on first use. */
sc_code image_solid_jpeg(int r, int g, int b, int w, int h, void **jpg, size_t *len);

#endif
