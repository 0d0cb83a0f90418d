/* Magic-byte detection of the image and video containers uploads accept.
 * Only the leading bytes count; ISO-BMFF (HEIC, AVIF, MP4, MOV) is told apart
 * by its ftyp brands and EBML (WebM, Matroska) by its DocType, since both
 * families share one signature across very different contents. */
#include "filetype.h"

#include <stdint.h>
#include <string.h>

static const struct {
    const char *mime, *ext;
    enum filetype_kind kind;
} types[] = {
    [FILETYPE_UNKNOWN] = {"application/octet-stream", "bin", FILETYPE_KIND_NONE},
    [FILETYPE_JPEG] = {"image/jpeg", "jpg", FILETYPE_KIND_IMAGE},
    [FILETYPE_PNG] = {"image/png", "png", FILETYPE_KIND_IMAGE},
    [FILETYPE_WEBP] = {"image/webp", "webp", FILETYPE_KIND_IMAGE},
    [FILETYPE_GIF] = {"image/gif", "gif", FILETYPE_KIND_IMAGE},
    [FILETYPE_HEIC] = {"image/heic", "heic", FILETYPE_KIND_IMAGE},
    [FILETYPE_AVIF] = {"image/avif", "avif", FILETYPE_KIND_IMAGE},
    [FILETYPE_MP4] = {"video/mp4", "mp4", FILETYPE_KIND_VIDEO},
    [FILETYPE_MOV] = {"video/quicktime", "mov", FILETYPE_KIND_VIDEO},
    [FILETYPE_WEBM] = {"video/webm", "webm", FILETYPE_KIND_VIDEO},
    [FILETYPE_MKV] = {"video/x-matroska", "mkv", FILETYPE_KIND_VIDEO},
};

/* ftyp brands, checked in this order when the major brand decides nothing. */
static const struct {
    char brand[5];
    enum filetype type;
} brands[] = {
    {"avif", FILETYPE_AVIF}, {"avis", FILETYPE_AVIF}, {"heic", FILETYPE_HEIC},
    {"heix", FILETYPE_HEIC}, {"heim", FILETYPE_HEIC}, {"heis", FILETYPE_HEIC},
    {"hevc", FILETYPE_HEIC}, {"hevx", FILETYPE_HEIC}, {"qt  ", FILETYPE_MOV},
    {"isom", FILETYPE_MP4},  {"iso2", FILETYPE_MP4},  {"iso3", FILETYPE_MP4},
    {"iso4", FILETYPE_MP4},  {"iso5", FILETYPE_MP4},  {"iso6", FILETYPE_MP4},
    {"mp41", FILETYPE_MP4},  {"mp42", FILETYPE_MP4},  {"avc1", FILETYPE_MP4},
    {"M4V ", FILETYPE_MP4},  {"M4VH", FILETYPE_MP4},  {"M4VP", FILETYPE_MP4},
    {"dash", FILETYPE_MP4},  {"3gp4", FILETYPE_MP4},  {"3gp5", FILETYPE_MP4},
    {"3gp6", FILETYPE_MP4},  {"3g2a", FILETYPE_MP4},  {"f4v ", FILETYPE_MP4},
    {"MSNV", FILETYPE_MP4},
};

static enum filetype brand_type(const uint8_t *b)
{
    for (size_t i = 0; i < sizeof(brands) / sizeof(brands[0]); i++) {
        if (!memcmp(b, brands[i].brand, 4)) {
            return brands[i].type;
        }
    }
    return FILETYPE_UNKNOWN;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The generic HEIF brands (mif1, msf1) say "some HEIF image" and defer to the
 * compatible brands for the codec; any other unknown major brand (XAVC, ...)
 * does the same, but then video brands count too. */
static enum filetype detect_ftyp(const uint8_t *p, size_t len)
{
    uint32_t box = be32(p);
    if (box < 16 || box % 4) {
        return FILETYPE_UNKNOWN;
    }
    enum filetype major = brand_type(p + 8);
    if (major != FILETYPE_UNKNOWN) {
        return major;
    }
    /* Audio-only MPEG-4 lists isom too; it is not a video. */
    if (!memcmp(p + 8, "M4A ", 4) || !memcmp(p + 8, "M4B ", 4) || !memcmp(p + 8, "M4P ", 4)) {
        return FILETYPE_UNKNOWN;
    }
    int generic_heif = !memcmp(p + 8, "mif1", 4) || !memcmp(p + 8, "msf1", 4);
    size_t end = box < len ? box : len;
    /* Table order is preference order: an image brand beats a video one. */
    for (size_t i = 0; i < sizeof(brands) / sizeof(brands[0]); i++) {
        if (generic_heif && filetype_kind(brands[i].type) != FILETYPE_KIND_IMAGE) {
            continue;
        }
        for (size_t off = 16; off + 4 <= end; off += 4) {
            if (!memcmp(p + off, brands[i].brand, 4)) {
                return brands[i].type;
            }
        }
    }
    /* HEIF with a codec brand we do not list is still HEIF. */
    return generic_heif ? FILETYPE_HEIC : FILETYPE_UNKNOWN;
}

/* An EBML variable-length integer at *pos; returns its byte length (0 when
 * invalid or cut off). keep_marker keeps the length bit, as element ids do. */
static size_t ebml_vint(const uint8_t *p, size_t len, size_t pos, int keep_marker, uint64_t *out)
{
    if (pos >= len || p[pos] == 0) {
        return 0;
    }
    size_t n = 1;
    while (!(p[pos] & (0x80 >> (n - 1)))) {
        n++;
    }
    if (pos + n > len) {
        return 0;
    }
    uint64_t v = keep_marker ? p[pos] : p[pos] & (0xFFu >> n);
    for (size_t i = 1; i < n; i++) {
        v = v << 8 | p[pos + i];
    }
    *out = v;
    return n;
}

/* Walks the EBML header's children up to the DocType element. */
static enum filetype detect_ebml(const uint8_t *p, size_t len)
{
    uint64_t id, size;
    size_t pos = 4, n = ebml_vint(p, len, pos, 0, &size);
    if (!n) {
        return FILETYPE_UNKNOWN;
    }
    pos += n;
    while (pos < len) {
        size_t idn = ebml_vint(p, len, pos, 1, &id);
        size_t szn = idn ? ebml_vint(p, len, pos + idn, 0, &size) : 0;
        if (!szn) {
            return FILETYPE_UNKNOWN;
        }
        pos += idn + szn;
        if (size > len - pos) {
            return FILETYPE_UNKNOWN;
        }
        if (id == 0x4282) {
            size_t sl = (size_t)size;
            while (sl && p[pos + sl - 1] == 0) {
                sl--; /* DocType may be NUL-padded */
            }
            if (sl == 4 && !memcmp(p + pos, "webm", 4)) {
                return FILETYPE_WEBM;
            }
            if (sl == 8 && !memcmp(p + pos, "matroska", 8)) {
                return FILETYPE_MKV;
            }
            return FILETYPE_UNKNOWN;
        }
        pos += (size_t)size;
    }
    return FILETYPE_UNKNOWN;
}

enum filetype filetype_detect(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    if (!p) {
        return FILETYPE_UNKNOWN;
    }
    if (len > FILETYPE_SNIFF_BYTES) {
        len = FILETYPE_SNIFF_BYTES;
    }
    if (len >= 3 && !memcmp(p, "\xFF\xD8\xFF", 3)) {
        return FILETYPE_JPEG;
    }
    if (len >= 8 && !memcmp(p, "\x89PNG\r\n\x1A\n", 8)) {
        return FILETYPE_PNG;
    }
    if (len >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) {
        return FILETYPE_GIF;
    }
    if (len >= 16 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBPVP8", 7) &&
        (p[15] == ' ' || p[15] == 'L' || p[15] == 'X')) {
        return FILETYPE_WEBP;
    }
    if (len >= 12 && !memcmp(p + 4, "ftyp", 4)) {
        return detect_ftyp(p, len);
    }
    if (len >= 4 && !memcmp(p, "\x1A\x45\xDF\xA3", 4)) {
        return detect_ebml(p, len);
    }
    return FILETYPE_UNKNOWN;
}

static enum filetype checked(enum filetype type)
{
    return (unsigned)type < sizeof(types) / sizeof(types[0]) ? type : FILETYPE_UNKNOWN;
}

const char *filetype_mime(enum filetype type)
{
    return types[checked(type)].mime;
}

const char *filetype_ext(enum filetype type)
{
    return types[checked(type)].ext;
}

enum filetype_kind filetype_kind(enum filetype type)
{
    return types[checked(type)].kind;
}

const char *filetype_accepted(enum filetype_kind kind)
{
    switch (kind) {
    case FILETYPE_KIND_IMAGE:
        return "JPEG, PNG, WebP, GIF, HEIC, AVIF";
    case FILETYPE_KIND_VIDEO:
        return "MP4, MOV, WebM, Matroska";
    default:
        return "none";
    }
}
