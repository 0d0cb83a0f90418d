/* The libvips adapter (the only file that sees a VipsImage). Untrusted data
 * meets libvips only after filetype_detect and the loader allow-list agreed
 * it is an accepted image and its header passed the pixel and frame limits;
 * loads are sequential and stop at the first decoder complaint, so a corrupt
 * file is refused without being read past its damage. */
#include "image.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "config.h"

/* libvips loaders we let near uploads, by the type name
 * vips_foreign_find_load_buffer answers. */
static const char *const allowed_loaders[] = {
    "VipsForeignLoadJpegBuffer",  "VipsForeignLoadPngBuffer",  "VipsForeignLoadWebpBuffer",
    "VipsForeignLoadNsgifBuffer", "VipsForeignLoadHeifBuffer",
};

/* Refuse on any decoder complaint, as sharp does by default: a truncated or
 * corrupt file fails instead of becoming a grey or garbled picture. Given as
 * loader options because libvips 8.14.1's thumbnail does not pass its own
 * fail_on on to the loader. */
#define FAIL_ON "fail_on=warning"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static sc_code init_result = SC_EINTERNAL;

static void init_vips(void)
{
    if (VIPS_INIT("smartcart")) {
        return;
    }
    vips_block_untrusted_set(TRUE);
    /* Uploads never repeat; cached operations would only pin their pixels. */
    vips_cache_set_max(0);
    init_result = SC_OK;
}

sc_code image_init(void)
{
    pthread_once(&init_once, init_vips);
    return init_result;
}

void image_shutdown(void)
{
    vips_shutdown();
}

static sc_code refuse(char *reason, size_t reason_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sc_code refuse(char *reason, size_t reason_len, const char *fmt, ...)
{
    if (reason && reason_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, reason_len, fmt, ap);
        va_end(ap);
    }
    return SC_EPERMANENT;
}

/* Refuses with what libvips said (its first line), clearing its error buffer. */
static sc_code refuse_vips(char *reason, size_t reason_len, const char *what)
{
    char *msg = vips_error_buffer_copy();
    size_t line = strcspn(msg, "\n");
    sc_code rc = refuse(reason, reason_len, "%s: %.*s", what, (int)line, msg);
    g_free(msg);
    return rc;
}

static int loader_allowed(const char *loader)
{
    for (size_t i = 0; i < sizeof(allowed_loaders) / sizeof(allowed_loaders[0]); i++) {
        if (!strcmp(loader, allowed_loaders[i])) {
            return 1;
        }
    }
    return 0;
}

sc_code image_probe(const void *buf, size_t len, struct image_info *out, char *reason,
                    size_t reason_len)
{
    VipsImage *im = NULL;
    sc_code rc = image_init();
    if (rc != SC_OK) {
        return rc;
    }
    memset(out, 0, sizeof(*out));
    if (!len) {
        return refuse(reason, reason_len, "the file is empty");
    }
    out->type = filetype_detect(buf, len);
    if (filetype_kind(out->type) != FILETYPE_KIND_IMAGE) {
        return refuse(reason, reason_len, "the file is not an image of an accepted type (%s)",
                      filetype_accepted(FILETYPE_KIND_IMAGE));
    }
    const char *loader = vips_foreign_find_load_buffer(buf, len);
    if (!loader || !loader_allowed(loader)) {
        vips_error_clear();
        return refuse(reason, reason_len, "the file is not a readable %s image",
                      filetype_ext(out->type));
    }
    /* Opening reads the header only; pixels are decoded on first use. */
    im = vips_image_new_from_buffer(buf, len, FAIL_ON, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!im) {
        return refuse_vips(reason, reason_len, "the image header is unreadable");
    }
    out->width = vips_image_get_width(im);
    out->height = vips_image_get_height(im);
    out->frames = vips_image_get_n_pages(im);
    long long pixels = (long long)out->width * out->height;
    if (pixels > cfg.image_max_megapixels * 1000000) {
        rc = refuse(reason, reason_len, "image is %dx%d = %lld megapixels; the limit is %lld",
                    out->width, out->height, (pixels + 999999) / 1000000, cfg.image_max_megapixels);
        goto out;
    }
    if (out->frames > cfg.image_max_frames) {
        rc = refuse(reason, reason_len, "image has %d frames; the limit is %lld", out->frames,
                    cfg.image_max_frames);
        goto out;
    }
out:
    g_object_unref(im);
    return rc;
}

struct job {
    const void *buf;
    size_t len;
    const struct variant_spec *spec;
    enum filetype type;
    struct image_output *out;
    struct job *from; /* made from this job's pixels (kept), not from buf */
    struct job *next; /* run after this one, on the same thread */
    VipsImage *kept;  /* this job's sRGB pixels, in memory, while next needs them */
    sc_code rc;
    char reason[256];
};

enum saver { SAVE_WEBP, SAVE_JPEG, SAVE_PNG };

enum filetype image_full_type(enum filetype input)
{
    switch (input) {
    case FILETYPE_JPEG:
    case FILETYPE_HEIC:
    case FILETYPE_AVIF:
        return FILETYPE_JPEG;
    case FILETYPE_WEBP:
        return FILETYPE_WEBP;
    default:
        return FILETYPE_PNG;
    }
}

static enum saver saver_for(const struct job *job)
{
    if (job->spec->format == IMAGE_FORMAT_WEBP) {
        return SAVE_WEBP;
    }
    switch (image_full_type(job->type)) {
    case FILETYPE_JPEG:
        return SAVE_JPEG;
    case FILETYPE_WEBP:
        return SAVE_WEBP;
    default:
        return SAVE_PNG;
    }
}

/* JPEG has no alpha: a HEIC or AVIF with transparency is laid on white (what
 * a page behind it usually is) rather than on libvips' default black. */
static int flatten_on_white(VipsImage **im)
{
    if (!vips_image_hasalpha(*im)) {
        return 0;
    }
    VipsImage *flat = NULL;
    VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
    int bad = vips_flatten(*im, &flat, "background", white, NULL);
    vips_area_unref(VIPS_AREA(white));
    if (!bad) {
        g_object_unref(*im);
        *im = flat;
    }
    return bad;
}

static uint32_t le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Drops the ICCP, EXIF and XMP chunks of a WebP in place and clears their
 * VP8X flags; returns the new length, 0 when the RIFF layout is not sound.
 * Needed because libvips 8.14.1's webpsave ignores strip: it writes the ICC
 * profile and an EXIF block rebuilt from the image's fields regardless. */
static size_t webp_drop_metadata(uint8_t *p, size_t len)
{
    if (len < 12 || memcmp(p, "RIFF", 4) || memcmp(p + 8, "WEBP", 4) || le32(p + 4) != len - 8) {
        return 0;
    }
    size_t in = 12, out = 12;
    uint8_t *vp8x_flags = NULL;
    while (in + 8 <= len) {
        size_t size = le32(p + in + 4), total = 8 + size + (size & 1);
        if (total > len - in) {
            return 0;
        }
        if (memcmp(p + in, "ICCP", 4) && memcmp(p + in, "EXIF", 4) && memcmp(p + in, "XMP ", 4)) {
            memmove(p + out, p + in, total);
            if (!memcmp(p + out, "VP8X", 4) && size >= 1) {
                vp8x_flags = p + out + 8;
            }
            out += total;
        }
        in += total;
    }
    if (in != len) {
        return 0;
    }
    if (vp8x_flags) {
        *vp8x_flags &= (uint8_t) ~(0x20 | 0x08 | 0x04); /* ICC, EXIF, XMP present */
    }
    uint32_t riff = (uint32_t)(out - 8);
    uint8_t le[4] = {riff & 0xFF, riff >> 8 & 0xFF, riff >> 16 & 0xFF, riff >> 24};
    memcpy(p + 4, le, 4);
    return out;
}

/* Removes every metadata field of im. Held pixels need none (the outputs
 * strip it anyway), and the loader frees the memory its EXIF blob points
 * into when the decoded image goes away, before the next job reads it. */
static void drop_metadata(VipsImage *im)
{
    gchar **fields = vips_image_get_fields(im);
    for (gchar **f = fields; f && *f; f++) {
        vips_image_remove(im, *f); /* header fields are not metadata: left alone */
    }
    g_strfreev(fields);
}

/* One output: a shrink-on-load thumbnail of buf (auto-rotated), then to
 * sRGB: through the embedded ICC profile when there is one (thumbnail's
 * export_profile would run lcms over untagged images too, tripling the time
 * of a full-size JPEG), else by colour space (8-bit grey stays grey: it is
 * already sRGB-encoded); or, for a job made from another one, a thumbnail of
 * that one's sRGB pixels. Then an encode that drops every metadata field.
 * Decode errors surface here, since loading is lazy. */
static void run_job(struct job *job)
{
    VipsImage *thumb = NULL, *srgb = NULL;
    void *data = NULL;
    size_t len = 0;
    int edge = job->spec->max_edge ? job->spec->max_edge : VIPS_MAX_COORD;
    if (job->from) {
        if (!job->from->kept) {
            job->rc = job->from->rc;
            snprintf(job->reason, sizeof(job->reason), "%s", job->from->reason);
            return;
        }
        if (vips_thumbnail_image(job->from->kept, &srgb, edge, "height", edge, "size",
                                 VIPS_SIZE_DOWN, NULL)) {
            goto fail;
        }
        goto encode;
    }
    /* libvips reads the buffer without writing it; its prototype lacks const. */
    if (vips_thumbnail_buffer((void *)job->buf, job->len, &thumb, edge, "height", edge, "size",
                              VIPS_SIZE_DOWN, "option_string", FAIL_ON, NULL)) {
        goto fail;
    }
    VipsInterpretation interp = vips_image_get_interpretation(thumb);
    if (vips_image_get_typeof(thumb, VIPS_META_ICC_NAME)) {
        if (vips_icc_transform(thumb, &srgb, "srgb", "embedded", TRUE, NULL)) {
            goto fail;
        }
    } else if ((interp == VIPS_INTERPRETATION_sRGB || interp == VIPS_INTERPRETATION_B_W) &&
               vips_image_get_format(thumb) == VIPS_FORMAT_UCHAR) {
        srgb = thumb;
        g_object_ref(srgb);
    } else if (vips_colourspace(thumb, &srgb, VIPS_INTERPRETATION_sRGB, NULL)) {
        goto fail;
    }
encode:
    if (job->next) {
        /* The encoder needs all the pixels anyway; held, they serve the
         * smaller output next as well. */
        if (!(job->kept = vips_image_copy_memory(srgb))) {
            goto fail;
        }
        drop_metadata(job->kept);
        g_object_unref(srgb);
        srgb = job->kept;
        g_object_ref(srgb);
    }
    int q = job->spec->quality;
    int bad;
    switch (saver_for(job)) {
    case SAVE_WEBP:
        bad = vips_webpsave_buffer(srgb, &data, &len, "Q", q, "effort", (int)cfg.image_webp_effort,
                                   "strip", TRUE, NULL);
        if (!bad && !(len = webp_drop_metadata(data, len))) {
            vips_error("image", "libvips wrote an unexpected WebP layout");
            bad = -1;
        }
        job->out->mime = filetype_mime(FILETYPE_WEBP);
        job->out->ext = filetype_ext(FILETYPE_WEBP);
        break;
    case SAVE_JPEG:
        bad = flatten_on_white(&srgb) ||
              vips_jpegsave_buffer(srgb, &data, &len, "Q", q, "strip", TRUE, NULL);
        job->out->mime = filetype_mime(FILETYPE_JPEG);
        job->out->ext = filetype_ext(FILETYPE_JPEG);
        break;
    default:
        bad = vips_pngsave_buffer(srgb, &data, &len, "strip", TRUE, NULL);
        job->out->mime = filetype_mime(FILETYPE_PNG);
        job->out->ext = filetype_ext(FILETYPE_PNG);
        break;
    }
    if (bad) {
        goto fail;
    }
    snprintf(job->out->name, sizeof(job->out->name), "%s", job->spec->name);
    /* g_malloc is malloc since GLib 2.46, so the caller's free() matches. */
    job->out->data = data;
    job->out->len = len;
    job->out->width = vips_image_get_width(srgb);
    job->out->height = vips_image_get_height(srgb);
    job->rc = SC_OK;
    goto out;
fail:
    job->rc = refuse_vips(job->reason, sizeof(job->reason), "the image could not be processed");
out:
    if (srgb) {
        g_object_unref(srgb);
    }
    if (thumb) {
        g_object_unref(thumb);
    }
}

/* Runs job and the ones chained after it, each dropping its predecessor's
 * pixels once it has used them. */
static void run_chain(struct job *job)
{
    for (; job; job = job->next) {
        run_job(job);
        if (job->from && job->from->kept) {
            g_object_unref(job->from->kept);
            job->from->kept = NULL;
        }
    }
}

static void *chain_thread(void *arg)
{
    run_chain(arg);
    vips_thread_shutdown();
    return NULL;
}

/* Links the variants (not the full size) into one chain, largest first, and
 * returns its head: decoding the file again for a 256 px thumbnail costs
 * more than shrinking the 1024 px variant's pixels (the entropy decoding of
 * a JPEG does not shrink on load). The full size stays a chain of its own. */
static struct job *chain_variants(struct job *jobs, size_t n)
{
    struct job *head = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!jobs[i].spec->max_edge) {
            continue;
        }
        struct job **at = &head;
        while (*at && (*at)->spec->max_edge >= jobs[i].spec->max_edge) {
            at = &(*at)->next;
        }
        jobs[i].next = *at;
        *at = &jobs[i];
    }
    for (struct job *j = head; j && j->next; j = j->next) {
        j->next->from = j;
    }
    return head;
}

sc_code image_process(const void *buf, size_t len, const struct variant_spec *specs, size_t nspecs,
                      struct image_output *outs, char *reason, size_t reason_len)
{
    struct image_info info;
    struct job *jobs = NULL, **heads = NULL;
    pthread_t *threads = NULL;
    int *started = NULL;
    memset(outs, 0, nspecs * sizeof(*outs));
    sc_code rc = image_probe(buf, len, &info, reason, reason_len);
    if (rc != SC_OK || !nspecs) {
        return rc;
    }
    jobs = calloc(nspecs, sizeof(*jobs));
    threads = calloc(nspecs, sizeof(*threads));
    started = calloc(nspecs, sizeof(*started));
    heads = calloc(nspecs, sizeof(*heads));
    if (!jobs || !threads || !started || !heads) {
        rc = SC_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nspecs; i++) {
        jobs[i] = (struct job){.buf = buf,
                               .len = len,
                               .spec = &specs[i],
                               .type = info.type,
                               .out = &outs[i],
                               .rc = SC_EINTERNAL};
    }
    /* The chains' heads: the full size, the largest variant. Every chain
     * but the last gets a thread; the last runs on this one, as does any
     * that got no thread. */
    struct job *variants = chain_variants(jobs, nspecs);
    size_t nheads = 0;
    for (size_t i = 0; i < nspecs; i++) {
        if (!jobs[i].spec->max_edge || &jobs[i] == variants) {
            heads[nheads++] = &jobs[i];
        }
    }
    for (size_t i = 0; i < nheads; i++) {
        started[i] = i + 1 < nheads && !pthread_create(&threads[i], NULL, chain_thread, heads[i]);
        if (!started[i]) {
            run_chain(heads[i]);
        }
    }
    for (size_t i = 0; i < nspecs; i++) {
        if (started[i]) {
            pthread_join(threads[i], NULL);
        }
    }
    for (size_t i = 0; i < nspecs && rc == SC_OK; i++) {
        if (jobs[i].rc != SC_OK) {
            rc = jobs[i].rc;
            if (reason && reason_len) {
                snprintf(reason, reason_len, "%s", jobs[i].reason);
            }
        }
    }
    if (rc != SC_OK) {
        image_output_free(outs, nspecs);
    }
out:
    free(heads);
    free(started);
    free(threads);
    free(jobs);
    return rc;
}

void image_output_free(struct image_output *outs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(outs[i].data);
        memset(&outs[i], 0, sizeof(outs[i]));
    }
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* One "name:edge" item of length n (already trimmed) into spec. */
static sc_code parse_item(const char *item, size_t n, struct variant_spec *spec, char *err,
                          size_t errlen)
{
    const char *colon = memchr(item, ':', n);
    size_t name_len = colon ? (size_t)(colon - item) : 0;
    if (!colon || !name_len || name_len >= sizeof(spec->name)) {
        snprintf(err, errlen, "IMAGE_VARIANTS: \"%.*s\" is not name:max_edge", (int)n, item);
        return SC_EINVAL;
    }
    for (size_t i = 0; i < name_len; i++) {
        if (!name_char(item[i])) {
            snprintf(err, errlen, "IMAGE_VARIANTS: name \"%.*s\" may hold only a-z 0-9 _ -",
                     (int)name_len, item);
            return SC_EINVAL;
        }
    }
    long edge = 0;
    size_t digits = n - name_len - 1;
    for (size_t i = name_len + 1; i < n && edge <= IMAGE_MAX_EDGE; i++) {
        if (item[i] < '0' || item[i] > '9') {
            digits = 0;
            break;
        }
        edge = edge * 10 + (item[i] - '0');
    }
    if (!digits || edge < 1 || edge > IMAGE_MAX_EDGE) {
        snprintf(err, errlen, "IMAGE_VARIANTS: \"%.*s\": max_edge must be 1..%d", (int)n, item,
                 IMAGE_MAX_EDGE);
        return SC_EINVAL;
    }
    memcpy(spec->name, item, name_len);
    spec->name[name_len] = '\0';
    spec->max_edge = (int)edge;
    return SC_OK;
}

sc_code image_variants_parse(const char *text, int quality, struct variant_spec *out, size_t cap,
                             size_t *n, char *err, size_t errlen)
{
    *n = 0;
    if (!text[strspn(text, " ")]) {
        return SC_OK;
    }
    for (const char *p = text;; p++) {
        size_t len = strcspn(p, ",");
        const char *item = p, *end = p + len;
        while (item < end && *item == ' ') {
            item++;
        }
        while (end > item && end[-1] == ' ') {
            end--;
        }
        if (*n == cap) {
            snprintf(err, errlen, "IMAGE_VARIANTS: more than %zu variants", cap);
            return SC_EINVAL;
        }
        struct variant_spec *spec = &out[*n];
        memset(spec, 0, sizeof(*spec));
        sc_code rc = parse_item(item, (size_t)(end - item), spec, err, errlen);
        if (rc != SC_OK) {
            return rc;
        }
        for (size_t i = 0; i <= *n; i++) {
            const char *other = i < *n ? out[i].name : IMAGE_FULL_NAME;
            if (!strcmp(spec->name, other)) {
                snprintf(err, errlen, "IMAGE_VARIANTS: the name \"%s\" is %s", spec->name,
                         i < *n ? "used twice" : "reserved for the full-size image");
                return SC_EINVAL;
            }
        }
        spec->quality = quality;
        spec->format = IMAGE_FORMAT_WEBP;
        (*n)++;
        p += len;
        if (!*p) {
            return SC_OK;
        }
    }
}

sc_code image_specs_from_config(struct variant_spec *out, size_t *n, char *err, size_t errlen)
{
    int q = (int)cfg.image_webp_quality;
    sc_code rc =
        image_variants_parse(cfg.image_variants, q, out, IMAGE_MAX_VARIANTS, n, err, errlen);
    if (rc != SC_OK) {
        return rc;
    }
    out[*n] =
        (struct variant_spec){.name = IMAGE_FULL_NAME, .quality = q, .format = IMAGE_FORMAT_SAME};
    (*n)++;
    return SC_OK;
}

sc_code image_png_from_gray(const unsigned char *pixels, int w, int h, void **png, size_t *len)
{
    *png = NULL;
    *len = 0;
    sc_code rc = image_init();
    if (rc != SC_OK) {
        return rc;
    }
    VipsImage *im =
        vips_image_new_from_memory(pixels, (size_t)w * (size_t)h, w, h, 1, VIPS_FORMAT_UCHAR);
    if (!im) {
        vips_error_clear();
        return SC_EINVAL;
    }
    /* Palette and 1 bit per pixel keep a two-colour picture to a few hundred bytes. */
    if (vips_pngsave_buffer(im, png, len, "strip", TRUE, "compression", 9, "bitdepth", 1, NULL)) {
        vips_error_clear();
        rc = SC_EINTERNAL;
    }
    g_object_unref(im);
    return rc;
}

sc_code image_solid_jpeg(int r, int g, int b, int w, int h, void **jpg, size_t *len)
{
    *jpg = NULL;
    *len = 0;
    if (w < 1 || h < 1 || w > IMAGE_MAX_EDGE || h > IMAGE_MAX_EDGE || r < 0 || r > 255 || g < 0 ||
        g > 255 || b < 0 || b > 255) {
        return SC_EINVAL;
    }
    sc_code rc = image_init();
    if (rc != SC_OK) {
        return rc;
    }
    size_t n = (size_t)w * (size_t)h * 3;
    unsigned char *pixels = malloc(n);
    if (!pixels) {
        return SC_ENOMEM;
    }
    for (size_t i = 0; i < n; i += 3) {
        pixels[i] = (unsigned char)r;
        pixels[i + 1] = (unsigned char)g;
        pixels[i + 2] = (unsigned char)b;
    }
    VipsImage *im = vips_image_new_from_memory(pixels, n, w, h, 3, VIPS_FORMAT_UCHAR);
    if (!im) {
        rc = SC_ENOMEM;
    } else if (vips_jpegsave_buffer(im, jpg, len, "Q", (int)cfg.image_webp_quality, "strip", TRUE,
                                    NULL)) {
        rc = SC_EINTERNAL;
    }
    if (rc != SC_OK) {
        vips_error_clear();
    }
    if (im) {
        g_object_unref(im);
    }
    free(pixels);
    return rc;
}
