/* Tests of lib/image.c against real libvips: variant sizes, no upscaling,
 * EXIF rotation, metadata stripping, header-only refusals (pixels, frames,
 * type), corrupt input, every accepted input format, and the IMAGE_VARIANTS
 * parser. Inputs are generated here with libvips itself, in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "config.h"
#include "image.h"

/* libx265 (the HEIC encoder that makes test inputs) leaks at exit; not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libx265\n";
}

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

/* Loads the documented defaults; every case starts from them. */
static int setup(void **state)
{
    (void)state;
    char err[256];
    if (config_load_from(no_env, err, sizeof(err)) != SC_OK || image_init() != SC_OK) {
        return -1;
    }
    return 0;
}

/* A w x h sRGB image whose left half is white and right half black, so a
 * rotation shows in the pixels, not only in the dimensions. */
static VipsImage *halves(int w, int h)
{
    VipsImage *xy = NULL, *x = NULL, *mask = NULL, *rgb = NULL;
    assert_int_equal(vips_xyz(&xy, w, h, NULL), 0);
    assert_int_equal(vips_extract_band(xy, &x, 0, NULL), 0);
    assert_int_equal(vips_less_const1(x, &mask, w / 2, NULL), 0);
    VipsImage *bands[3] = {mask, mask, mask};
    assert_int_equal(vips_bandjoin(bands, &rgb, 3, NULL), 0);
    g_object_unref(mask);
    g_object_unref(x);
    g_object_unref(xy);
    VipsImage *out = NULL;
    assert_int_equal(vips_copy(rgb, &out, "interpretation", VIPS_INTERPRETATION_sRGB, NULL), 0);
    g_object_unref(rgb);
    return out;
}

/* Encodes im by suffix (".jpg[Q=90]", ".png", ...) keeping its metadata; the
 * reference to im is dropped. The buffer is g_malloc'd. */
static void *encode(VipsImage *im, const char *suffix, size_t *len)
{
    void *buf = NULL;
    if (vips_image_write_to_buffer(im, suffix, &buf, len, NULL)) {
        fail_msg("encode %s: %s", suffix, vips_error_buffer());
    }
    g_object_unref(im);
    return buf;
}

static void *make(int w, int h, const char *suffix, size_t *len)
{
    return encode(halves(w, h), suffix, len);
}

/* The 300x200 photo of the metadata tests: orientation 6, GPS, an artist,
 * XMP and an ICC profile. */
static const char xmp[] = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF "
                          "xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/>"
                          "</x:xmpmeta>";
static void *make_tagged_jpeg(size_t *len)
{
    VipsImage *im = halves(300, 200);
    VipsBlob *icc = NULL;
    assert_int_equal(vips_profile_load("srgb", &icc, NULL), 0);
    size_t icc_len;
    const void *icc_data = vips_blob_get(icc, &icc_len);
    vips_image_set_blob_copy(im, VIPS_META_ICC_NAME, icc_data, icc_len);
    vips_area_unref(VIPS_AREA(icc));
    vips_image_set_blob_copy(im, VIPS_META_XMP_NAME, xmp, sizeof(xmp) - 1);
    vips_image_set_int(im, VIPS_META_ORIENTATION, 6);
    vips_image_set_string(im, "exif-ifd3-GPSLatitudeRef", "N");
    vips_image_set_string(im, "exif-ifd3-GPSLatitude", "10/1 20/1 30/1");
    vips_image_set_string(im, "exif-ifd0-Artist", "Secret Photographer");
    return encode(im, ".jpg[Q=90]", len);
}

static VipsImage *decode(const void *buf, size_t len)
{
    VipsImage *im = vips_image_new_from_buffer(buf, len, "", NULL);
    if (!im) {
        fail_msg("decode: %s", vips_error_buffer());
    }
    return im;
}

static int has_bytes(const void *buf, size_t len, const char *needle)
{
    return memmem(buf, len, needle, strlen(needle)) != NULL;
}

/* Fields of a decoded image that would carry metadata through. */
static int metadata_fields(VipsImage *im, char *found, size_t found_len)
{
    static const char *const prefixes[] = {
        "exif", "xmp", "icc", "iptc", "orientation", "gif-comment", "png-comment", "jpeg-comment"};
    char **fields = vips_image_get_fields(im);
    int n = 0;
    found[0] = '\0';
    for (char **f = fields; *f; f++) {
        for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
            if (!strncmp(*f, prefixes[i], strlen(prefixes[i]))) {
                size_t used = strlen(found);
                snprintf(found + used, found_len - used, "%s ", *f);
                n++;
            }
        }
    }
    g_strfreev(fields);
    return n;
}

static size_t default_specs(struct variant_spec *specs)
{
    size_t n = 0;
    char err[256];
    assert_int_equal(image_specs_from_config(specs, &n, err, sizeof(err)), SC_OK);
    return n;
}

/* Each output decodes to the size and type it reports. */
static void assert_outputs_consistent(const struct image_output *outs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_non_null(outs[i].data);
        assert_string_equal(filetype_mime(filetype_detect(outs[i].data, outs[i].len)),
                            outs[i].mime);
        VipsImage *im = decode(outs[i].data, outs[i].len);
        assert_int_equal(vips_image_get_width(im), outs[i].width);
        assert_int_equal(vips_image_get_height(im), outs[i].height);
        g_object_unref(im);
    }
}

static void variants_have_configured_sizes(void **state)
{
    (void)state;
    size_t len;
    void *jpg = make(4000, 3000, ".jpg[Q=85]", &len);
    struct variant_spec specs[IMAGE_MAX_VARIANTS + 1];
    size_t n = default_specs(specs);
    assert_int_equal(n, 3);
    struct image_output outs[3];
    char reason[256] = "";
    assert_int_equal(image_process(jpg, len, specs, n, outs, reason, sizeof(reason)), SC_OK);
    static const struct {
        const char *name;
        int w, h;
        const char *mime;
    } want[] = {
        {"thumb", 256, 192, "image/webp"},
        {"medium", 1024, 768, "image/webp"},
        {"full", 4000, 3000, "image/jpeg"},
    };
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(outs[i].name, want[i].name);
        assert_int_equal(outs[i].width, want[i].w);
        assert_int_equal(outs[i].height, want[i].h);
        assert_string_equal(outs[i].mime, want[i].mime);
    }
    assert_string_equal(outs[0].ext, "webp");
    assert_string_equal(outs[2].ext, "jpg");
    assert_outputs_consistent(outs, n);
    image_output_free(outs, n);
    assert_null(outs[0].data);
    g_free(jpg);
}

static void small_images_are_never_upscaled(void **state)
{
    (void)state;
    size_t len;
    void *png = make(200, 100, ".png", &len);
    struct variant_spec specs[IMAGE_MAX_VARIANTS + 1];
    size_t n = default_specs(specs);
    struct image_output outs[3];
    char reason[256] = "";
    assert_int_equal(image_process(png, len, specs, n, outs, reason, sizeof(reason)), SC_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(outs[i].width, 200);
        assert_int_equal(outs[i].height, 100);
    }
    assert_string_equal(outs[2].mime, "image/png");
    assert_outputs_consistent(outs, n);
    image_output_free(outs, n);
    g_free(png);
}

/* The input really carries orientation 6, GPS, XMP and ICC; every output is
 * upright (200x300, the white half on top) and carries none of them. */
static void outputs_are_upright_and_stripped(void **state)
{
    (void)state;
    size_t len;
    void *jpg = make_tagged_jpeg(&len);
    char found[512];
    VipsImage *in = decode(jpg, len);
    assert_int_equal(vips_image_get_width(in), 300);
    assert_int_equal(vips_image_get_height(in), 200);
    int orientation = 0;
    assert_int_equal(vips_image_get_int(in, VIPS_META_ORIENTATION, &orientation), 0);
    assert_int_equal(orientation, 6);
    assert_int_not_equal(vips_image_get_typeof(in, "exif-ifd3-GPSLatitude"), 0);
    assert_true(metadata_fields(in, found, sizeof(found)) > 3);
    g_object_unref(in);
    static const char *const needles[] = {"Exif", "xmpmeta", "ICC_PROFILE", "Secret Photographer"};
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++) {
        assert_true(has_bytes(jpg, len, needles[i]));
    }

    struct variant_spec specs[IMAGE_MAX_VARIANTS + 1];
    size_t n = default_specs(specs);
    struct image_output outs[3];
    char reason[256] = "";
    assert_int_equal(image_process(jpg, len, specs, n, outs, reason, sizeof(reason)), SC_OK);
    static const int want[][2] = {{171, 256}, {200, 300}, {200, 300}};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(outs[i].width, want[i][0]);
        assert_int_equal(outs[i].height, want[i][1]);
        for (size_t k = 0; k < sizeof(needles) / sizeof(needles[0]); k++) {
            if (has_bytes(outs[i].data, outs[i].len, needles[k])) {
                fail_msg("%s still holds \"%s\"", outs[i].name, needles[k]);
            }
        }
        VipsImage *im = decode(outs[i].data, outs[i].len);
        if (metadata_fields(im, found, sizeof(found))) {
            fail_msg("%s still has fields %s", outs[i].name, found);
        }
        double *px = NULL;
        int nb = 0;
        int w = outs[i].width, h = outs[i].height;
        assert_int_equal(vips_getpoint(im, &px, &nb, w / 2, h / 4, NULL), 0);
        assert_true(px[0] > 200);
        g_free(px);
        assert_int_equal(vips_getpoint(im, &px, &nb, w / 2, 3 * h / 4, NULL), 0);
        assert_true(px[0] < 50);
        g_free(px);
        g_object_unref(im);
    }
    image_output_free(outs, n);
    g_free(jpg);
}

/* A black 20000x20000 PNG is small on disk; it is refused from its header.
 * Cutting off everything after the header shows no pixel was needed. */
static void oversized_pixels_are_refused_from_the_header(void **state)
{
    (void)state;
    VipsImage *black = NULL;
    assert_int_equal(vips_black(&black, 20000, 20000, NULL), 0);
    size_t len;
    void *png = encode(black, ".png[bitdepth=1,compression=9]", &len);
    assert_true(len < 200 * 1024);
    struct image_info info;
    char reason[256] = "";
    for (int cut = 0; cut < 2; cut++) {
        size_t use = cut ? 100 : len;
        reason[0] = '\0';
        assert_int_equal(image_probe(png, use, &info, reason, sizeof(reason)), SC_EPERMANENT);
        assert_string_equal(reason, "image is 20000x20000 = 400 megapixels; the limit is 50");
        assert_int_equal(info.width, 20000);
        assert_int_equal(info.type, FILETYPE_PNG);
    }
    struct variant_spec specs[IMAGE_MAX_VARIANTS + 1];
    size_t n = default_specs(specs);
    struct image_output outs[3];
    reason[0] = '\0';
    assert_int_equal(image_process(png, len, specs, n, outs, reason, sizeof(reason)),
                     SC_EPERMANENT);
    assert_non_null(strstr(reason, "400 megapixels"));
    assert_null(outs[0].data);
    /* The limit is a setting. */
    cfg.image_max_megapixels = 400;
    assert_int_equal(image_probe(png, len, &info, reason, sizeof(reason)), SC_OK);
    g_free(png);
}

static void animated_gif_is_refused_unless_allowed(void **state)
{
    (void)state;
    VipsImage *frames[3] = {halves(64, 48), halves(64, 48), halves(64, 48)};
    VipsImage *strip = NULL;
    assert_int_equal(vips_arrayjoin(frames, &strip, 3, "across", 1, NULL), 0);
    for (int i = 0; i < 3; i++) {
        g_object_unref(frames[i]);
    }
    vips_image_set_int(strip, VIPS_META_PAGE_HEIGHT, 48);
    size_t len;
    void *gif = encode(strip, ".gif", &len);
    struct image_info info;
    char reason[256] = "";
    assert_int_equal(image_probe(gif, len, &info, reason, sizeof(reason)), SC_EPERMANENT);
    assert_string_equal(reason, "image has 3 frames; the limit is 1");
    assert_int_equal(info.frames, 3);

    cfg.image_max_frames = 3;
    assert_int_equal(image_probe(gif, len, &info, reason, sizeof(reason)), SC_OK);
    assert_int_equal(info.width, 64);
    assert_int_equal(info.height, 48);
    struct variant_spec specs[IMAGE_MAX_VARIANTS + 1];
    size_t n = default_specs(specs);
    struct image_output outs[3];
    assert_int_equal(image_process(gif, len, specs, n, outs, reason, sizeof(reason)), SC_OK);
    assert_int_equal(outs[2].width, 64);
    assert_int_equal(outs[2].height, 48); /* the first frame */
    assert_outputs_consistent(outs, n);
    image_output_free(outs, n);
    g_free(gif);
}

/* True when reason holds one of the '|'-separated alternatives of want. */
static int reason_matches(const char *reason, const char *want)
{
    char alt[128];
    for (const char *p = want;; p++) {
        size_t n = strcspn(p, "|");
        snprintf(alt, sizeof(alt), "%.*s", (int)n, p);
        if (strstr(reason, alt)) {
            return 1;
        }
        p += n;
        if (!*p) {
            return 0;
        }
    }
}

/* A decoder's refusal: from the header or while decoding, depending on where
 * the damage is. */
#define UNDECODABLE "the image header is unreadable: |the image could not be processed: "

/* Whatever is not a sound image of an accepted type ends with a reason. */
static void bad_inputs_are_refused_with_a_reason(void **state)
{
    (void)state;
    size_t jlen, tlen, plen, wlen, glen;
    void *jpg = make(640, 480, ".jpg[Q=90]", &jlen);
    void *png = make(640, 480, ".png", &plen);
    void *webp = make(640, 480, ".webp", &wlen);
    void *gif = make(640, 480, ".gif", &glen);
    void *tif = make(64, 64, ".tif", &tlen);
    /* Quantisation and Huffman tables overwritten, markers left in place. */
    char *garbled = malloc(jlen);
    memcpy(garbled, jpg, jlen);
    memset(garbled + 20, 0xA5, 300);
    static const char text[] = "hello, I am a text file named photo.jpg\n";
    static const char svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" "
                              "height=\"10\"/>";
    const struct {
        const char *what;
        const void *buf;
        size_t len;
        const char *reason;
    } cases[] = {
        {"empty", "", 0, "the file is empty"},
        {"text", text, sizeof(text) - 1, "not an image of an accepted type"},
        {"svg", svg, sizeof(svg) - 1, "not an image of an accepted type"},
        {"tiff", tif, tlen, "not an image of an accepted type"},
        {"jpeg magic only", "\xFF\xD8\xFF\xE0", 4, "the image header is unreadable"},
        {"jpeg cut in half", jpg, jlen / 2, UNDECODABLE},
        {"jpeg cut after the header", jpg, 700, UNDECODABLE},
        {"jpeg with garbled tables", garbled, jlen, UNDECODABLE},
        {"png cut in half", png, plen / 2, UNDECODABLE},
        {"webp cut in half", webp, wlen / 2, UNDECODABLE},
        {"gif cut in half", gif, glen / 2, UNDECODABLE},
    };
    struct variant_spec specs[IMAGE_MAX_VARIANTS + 1];
    size_t n = default_specs(specs);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct image_output outs[3];
        char reason[256] = "";
        sc_code rc =
            image_process(cases[i].buf, cases[i].len, specs, n, outs, reason, sizeof(reason));
        if (rc != SC_EPERMANENT || !reason_matches(reason, cases[i].reason)) {
            fail_msg("%s: got %s \"%s\", want SC_EPERMANENT \"%s\"", cases[i].what, sc_strerror(rc),
                     reason, cases[i].reason);
        }
        for (size_t k = 0; k < n; k++) {
            assert_null(outs[k].data);
        }
    }
    free(garbled);
    g_free(tif);
    g_free(gif);
    g_free(webp);
    g_free(png);
    g_free(jpg);
}

/* Every accepted input type goes through; the full-size image keeps the
 * input's family. */
static void every_accepted_type_is_processed(void **state)
{
    (void)state;
    static const struct {
        const char *suffix;
        int alpha;
        enum filetype type;
        const char *full_mime;
    } cases[] = {
        {".jpg[Q=90]", 0, FILETYPE_JPEG, "image/jpeg"},
        {".png", 0, FILETYPE_PNG, "image/png"},
        {".png", 1, FILETYPE_PNG, "image/png"},
        {".webp", 0, FILETYPE_WEBP, "image/webp"},
        {".webp", 1, FILETYPE_WEBP, "image/webp"},
        {".gif", 0, FILETYPE_GIF, "image/png"},
        {".heic", 0, FILETYPE_HEIC, "image/jpeg"},
        {".heic", 1, FILETYPE_HEIC, "image/jpeg"},
        {".heif[compression=av1]", 0, FILETYPE_AVIF, "image/jpeg"},
        {".heif[compression=av1]", 1, FILETYPE_AVIF, "image/jpeg"},
    };
    struct variant_spec specs[IMAGE_MAX_VARIANTS + 1];
    size_t n = default_specs(specs);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        VipsImage *im = halves(640, 480);
        if (cases[i].alpha) {
            VipsImage *with_alpha = NULL;
            assert_int_equal(vips_bandjoin_const1(im, &with_alpha, 128, NULL), 0);
            g_object_unref(im);
            im = with_alpha;
        }
        size_t len;
        void *buf = encode(im, cases[i].suffix, &len);
        assert_int_equal(filetype_detect(buf, len), cases[i].type);
        struct image_output outs[3];
        char reason[256] = "";
        sc_code rc = image_process(buf, len, specs, n, outs, reason, sizeof(reason));
        if (rc != SC_OK) {
            fail_msg("%s: %s %s", cases[i].suffix, sc_strerror(rc), reason);
        }
        assert_int_equal(outs[0].width, 256);
        assert_int_equal(outs[0].height, 192);
        assert_int_equal(outs[1].width, 640);
        assert_int_equal(outs[2].width, 640);
        assert_int_equal(outs[2].height, 480);
        assert_string_equal(outs[2].mime, cases[i].full_mime);
        /* The key ingest chose from the input type alone names this output. */
        assert_string_equal(outs[2].ext, filetype_ext(image_full_type(cases[i].type)));
        assert_outputs_consistent(outs, n);
        if (cases[i].alpha && !strcmp(cases[i].full_mime, "image/jpeg")) {
            /* Half-transparent black laid on white is mid grey, not black. */
            VipsImage *full = decode(outs[2].data, outs[2].len);
            double grey = 0;
            assert_int_equal(vips_avg(full, &grey, NULL), 0);
            assert_true(grey > 150 && grey < 230);
            g_object_unref(full);
        }
        VipsImage *thumb = decode(outs[0].data, outs[0].len);
        assert_int_equal(vips_image_hasalpha(thumb), cases[i].alpha);
        g_object_unref(thumb);
        image_output_free(outs, n);
        g_free(buf);
    }
}

/* Other colour spaces and depths come out as 8-bit sRGB (grey may stay grey,
 * which is sRGB-encoded too). */
static void outputs_are_8bit_srgb(void **state)
{
    (void)state;
    static const struct {
        VipsInterpretation space;
        const char *suffix;
    } cases[] = {
        {VIPS_INTERPRETATION_RGB16, ".png"},
        {VIPS_INTERPRETATION_GREY16, ".png"},
        {VIPS_INTERPRETATION_CMYK, ".jpg"},
    };
    struct variant_spec specs[IMAGE_MAX_VARIANTS + 1];
    size_t n = default_specs(specs);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        VipsImage *im = halves(320, 240), *converted = NULL;
        assert_int_equal(vips_colourspace(im, &converted, cases[i].space, NULL), 0);
        g_object_unref(im);
        size_t len;
        void *buf = encode(converted, cases[i].suffix, &len);
        VipsImage *in = decode(buf, len);
        assert_int_equal(vips_image_get_interpretation(in), cases[i].space);
        g_object_unref(in);
        struct image_output outs[3];
        char reason[256] = "";
        assert_int_equal(image_process(buf, len, specs, n, outs, reason, sizeof(reason)), SC_OK);
        for (size_t k = 0; k < n; k++) {
            VipsImage *out = decode(outs[k].data, outs[k].len);
            assert_int_equal(vips_image_get_format(out), VIPS_FORMAT_UCHAR);
            VipsInterpretation got = vips_image_get_interpretation(out);
            int bands = vips_image_get_bands(out);
            if (!(got == VIPS_INTERPRETATION_sRGB && bands == 3) &&
                !(got == VIPS_INTERPRETATION_B_W && bands == 1 &&
                  cases[i].space == VIPS_INTERPRETATION_GREY16)) {
                fail_msg("case %zu, %s: interpretation %d with %d bands", i, outs[k].name, got,
                         bands);
            }
            g_object_unref(out);
        }
        image_output_free(outs, n);
        g_free(buf);
    }
}

static void variants_parse_accepts(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t n;
        const char *names[3];
        int edges[3];
    } cases[] = {
        {"thumb:256,medium:1024", 2, {"thumb", "medium"}, {256, 1024}},
        {" a:1 , b-2_x:16383 ", 2, {"a", "b-2_x"}, {1, 16383}},
        {"x:0010", 1, {"x"}, {10}},
        {"", 0, {NULL}, {0}},
        {"   ", 0, {NULL}, {0}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct variant_spec specs[IMAGE_MAX_VARIANTS];
        size_t n = 99;
        char err[256] = "";
        assert_int_equal(image_variants_parse(cases[i].text, 70, specs, IMAGE_MAX_VARIANTS, &n, err,
                                              sizeof(err)),
                         SC_OK);
        assert_int_equal(n, cases[i].n);
        for (size_t k = 0; k < n; k++) {
            assert_string_equal(specs[k].name, cases[i].names[k]);
            assert_int_equal(specs[k].max_edge, cases[i].edges[k]);
            assert_int_equal(specs[k].quality, 70);
            assert_int_equal(specs[k].format, IMAGE_FORMAT_WEBP);
        }
    }
}

static void variants_parse_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *text, *err;
    } cases[] = {
        {"thumb", "not name:max_edge"},
        {":256", "not name:max_edge"},
        {"thumb:", "max_edge must be 1..16383"},
        {"thumb:0", "max_edge must be 1..16383"},
        {"thumb:16384", "max_edge must be 1..16383"},
        {"thumb:99999999999999999999999", "max_edge must be 1..16383"},
        {"thumb:-5", "max_edge must be 1..16383"},
        {"thumb:12x", "max_edge must be 1..16383"},
        {"thumb:2 56", "max_edge must be 1..16383"},
        {"Thumb:256", "may hold only"},
        {"th/umb:256", "may hold only"},
        {"a:1,,b:2", "not name:max_edge"},
        {"a:1,", "not name:max_edge"},
        {"a:1,a:2", "used twice"},
        {"full:100", "reserved for the full-size image"},
        {"abcdefghijabcdefghijabcdefghij12:5", "not name:max_edge"},
        {"a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1", "more than 8 variants"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct variant_spec specs[IMAGE_MAX_VARIANTS];
        size_t n;
        char err[256] = "";
        sc_code rc = image_variants_parse(cases[i].text, 80, specs, IMAGE_MAX_VARIANTS, &n, err,
                                          sizeof(err));
        if (rc != SC_EINVAL || !strstr(err, cases[i].err) || !strstr(err, "IMAGE_VARIANTS")) {
            fail_msg("\"%s\": got %s \"%s\", want \"%s\"", cases[i].text, sc_strerror(rc), err,
                     cases[i].err);
        }
    }
}

static void specs_follow_the_settings(void **state)
{
    (void)state;
    struct variant_spec specs[IMAGE_MAX_VARIANTS + 1];
    size_t n;
    char err[256] = "";
    cfg.image_variants = "small:100";
    cfg.image_webp_quality = 60;
    assert_int_equal(image_specs_from_config(specs, &n, err, sizeof(err)), SC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(specs[0].name, "small");
    assert_int_equal(specs[0].quality, 60);
    assert_string_equal(specs[1].name, IMAGE_FULL_NAME);
    assert_int_equal(specs[1].max_edge, 0);
    assert_int_equal(specs[1].quality, 60);
    assert_int_equal(specs[1].format, IMAGE_FORMAT_SAME);
    cfg.image_variants = "small";
    assert_int_equal(image_specs_from_config(specs, &n, err, sizeof(err)), SC_EINVAL);
}

/* The full-size type follows from the input type alone (table of every type). */
static void full_type_depends_on_the_input_type_only(void **state)
{
    (void)state;
    static const struct {
        enum filetype in, full;
    } cases[] = {
        {FILETYPE_JPEG, FILETYPE_JPEG}, {FILETYPE_PNG, FILETYPE_PNG},
        {FILETYPE_GIF, FILETYPE_PNG},   {FILETYPE_WEBP, FILETYPE_WEBP},
        {FILETYPE_HEIC, FILETYPE_JPEG}, {FILETYPE_AVIF, FILETYPE_JPEG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(image_full_type(cases[i].in), cases[i].full);
    }
}

static void solid_jpeg_has_the_size_and_colour_asked(void **state)
{
    (void)state;
    void *jpg = NULL;
    size_t len = 0;
    assert_int_equal(image_solid_jpeg(200, 40, 10, 64, 48, &jpg, &len), SC_OK);
    assert_int_equal(filetype_detect(jpg, len), FILETYPE_JPEG);
    VipsImage *im = decode(jpg, len);
    assert_int_equal(vips_image_get_width(im), 64);
    assert_int_equal(vips_image_get_height(im), 48);
    double *px = NULL;
    int n = 0;
    assert_int_equal(vips_getpoint(im, &px, &n, 10, 10, NULL), 0);
    assert_int_equal(n, 3);
    assert_true(abs((int)px[0] - 200) < 8 && abs((int)px[1] - 40) < 8 && abs((int)px[2] - 10) < 8);
    g_free(px);
    g_object_unref(im);
    free(jpg);
    static const int bad[][5] = {
        {256, 0, 0, 8, 8}, {0, -1, 0, 8, 8}, {0, 0, 0, 0, 8}, {0, 0, 0, 8, IMAGE_MAX_EDGE + 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            image_solid_jpeg(bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], &jpg, &len),
            SC_EINVAL);
        assert_null(jpg);
    }
}

static void settings_have_the_documented_defaults(void **state)
{
    (void)state;
    assert_int_equal(cfg.image_max_megapixels, 50);
    assert_int_equal(cfg.image_max_frames, 1);
    assert_string_equal(cfg.image_variants, "thumb:256,medium:1024");
    assert_int_equal(cfg.image_webp_quality, 80);
    assert_int_equal(cfg.image_max_bytes, 15728640);
    assert_int_equal(cfg.video_max_bytes, 209715200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(settings_have_the_documented_defaults, setup),
        cmocka_unit_test_setup(variants_parse_accepts, setup),
        cmocka_unit_test_setup(variants_parse_refuses, setup),
        cmocka_unit_test_setup(specs_follow_the_settings, setup),
        cmocka_unit_test_setup(variants_have_configured_sizes, setup),
        cmocka_unit_test_setup(small_images_are_never_upscaled, setup),
        cmocka_unit_test_setup(outputs_are_upright_and_stripped, setup),
        cmocka_unit_test_setup(oversized_pixels_are_refused_from_the_header, setup),
        cmocka_unit_test_setup(animated_gif_is_refused_unless_allowed, setup),
        cmocka_unit_test_setup(bad_inputs_are_refused_with_a_reason, setup),
        cmocka_unit_test_setup(every_accepted_type_is_processed, setup),
        cmocka_unit_test_setup(outputs_are_8bit_srgb, setup),
        cmocka_unit_test_setup(full_type_depends_on_the_input_type_only, setup),
        cmocka_unit_test_setup(solid_jpeg_has_the_size_and_colour_asked, setup),
    };
    int failed = cmocka_run_group_tests(tests, setup, NULL);
    image_shutdown();
    return failed;
}
