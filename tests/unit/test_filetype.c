/* Unit tests of magic-byte detection: every accepted container, disguised and
 * truncated files, empty input. Names never enter: only bytes are inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "filetype.h"

/* A byte literal and its length without the literal's closing NUL. */
#define B(lit) lit, sizeof(lit) - 1

static const struct {
    const char *what;
    const char *bytes;
    size_t len;
    enum filetype want;
} cases[] = {
    {"jpeg (JFIF)", B("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), FILETYPE_JPEG},
    {"jpeg (Exif)",
     B("\xFF\xD8\xFF\xE1\x12\x34"
       "Exif\x00\x00"),
     FILETYPE_JPEG},
    {"png", B("\x89PNG\r\n\x1A\n\x00\x00\x00\x0DIHDR"), FILETYPE_PNG},
    {"gif87a", B("GIF87a\x01\x00\x01\x00"), FILETYPE_GIF},
    {"gif89a", B("GIF89a\x01\x00\x01\x00"), FILETYPE_GIF},
    {"webp lossy", B("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"), FILETYPE_WEBP},
    {"webp lossless", B("RIFF\x24\x00\x00\x00WEBPVP8L\x18\x00\x00\x00"), FILETYPE_WEBP},
    {"webp extended", B("RIFF\x24\x00\x00\x00WEBPVP8X\x0A\x00\x00\x00"), FILETYPE_WEBP},
    {"heic (major heic)",
     B("\x00\x00\x00\x1C"
       "ftypheic\x00\x00\x00\x00mif1heicmiaf"),
     FILETYPE_HEIC},
    {"heic (major heix)",
     B("\x00\x00\x00\x18"
       "ftypheix\x00\x00\x00\x00mif1heix"),
     FILETYPE_HEIC},
    {"heif (mif1 + heic)",
     B("\x00\x00\x00\x18"
       "ftypmif1\x00\x00\x00\x00mif1heic"),
     FILETYPE_HEIC},
    {"avif (major avif)",
     B("\x00\x00\x00\x1C"
       "ftypavif\x00\x00\x00\x00"
       "avifmif1miaf"),
     FILETYPE_AVIF},
    {"avif (mif1 + avif)",
     B("\x00\x00\x00\x18"
       "ftypmif1\x00\x00\x00\x00mif1avif"),
     FILETYPE_AVIF},
    {"avif sequence",
     B("\x00\x00\x00\x18"
       "ftypavis\x00\x00\x00\x00"
       "avismsf1"),
     FILETYPE_AVIF},
    {"heif generic mif1 only",
     B("\x00\x00\x00\x14"
       "ftypmif1\x00\x00\x00\x00mif1"),
     FILETYPE_HEIC},
    {"mp4 isom",
     B("\x00\x00\x00\x20"
       "ftypisom\x00\x00\x02\x00isomiso2avc1mp41"),
     FILETYPE_MP4},
    {"mp4 mp42",
     B("\x00\x00\x00\x18"
       "ftypmp42\x00\x00\x00\x00mp42isom"),
     FILETYPE_MP4},
    {"m4v",
     B("\x00\x00\x00\x18"
       "ftypM4V \x00\x00\x00\x01M4V mp42"),
     FILETYPE_MP4},
    {"mov",
     B("\x00\x00\x00\x14"
       "ftypqt  \x20\x05\x03\x00qt  "),
     FILETYPE_MOV},
    {"unknown major, mp4 compatible",
     B("\x00\x00\x00\x18"
       "ftypXAVC\x00\x00\x00\x00XAVCmp42"),
     FILETYPE_MP4},
    {"mif1 with only video brands",
     B("\x00\x00\x00\x18"
       "ftypmif1\x00\x00\x00\x00isommp42"),
     FILETYPE_HEIC},
    {"webm",
     B("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04\x42\xF3\x81\x08"
       "\x42\x82\x84webm\x42\x87\x81\x04\x42\x85\x81\x02"),
     FILETYPE_WEBM},
    {"matroska",
     B("\x1A\x45\xDF\xA3\xA3\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04\x42\xF3\x81\x08"
       "\x42\x82\x88matroska\x42\x87\x81\x04\x42\x85\x81\x02"),
     FILETYPE_MKV},
    {"matroska, NUL-padded doctype", B("\x1A\x45\xDF\xA3\x8C\x42\x82\x89matroska\x00"),
     FILETYPE_MKV},
    /* Disguised and foreign files. */
    {"text file", B("hello, this is not a picture\n"), FILETYPE_UNKNOWN},
    {"html", B("<!DOCTYPE html><html>"), FILETYPE_UNKNOWN},
    {"svg", B("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
     FILETYPE_UNKNOWN},
    {"pdf", B("%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"), FILETYPE_UNKNOWN},
    {"tiff", B("II*\x00\x08\x00\x00\x00"), FILETYPE_UNKNOWN},
    {"bmp", B("BM\x36\x00\x0C\x00\x00\x00\x00\x00"), FILETYPE_UNKNOWN},
    {"riff wave, not webp", B("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"), FILETYPE_UNKNOWN},
    {"riff webp, bad chunk", B("RIFF\x24\x00\x00\x00WEBPVP9 \x18\x00\x00\x00"), FILETYPE_UNKNOWN},
    {"m4a audio",
     B("\x00\x00\x00\x18"
       "ftypM4A \x00\x00\x00\x00M4A isom"),
     FILETYPE_UNKNOWN},
    {"ftyp box too small",
     B("\x00\x00\x00\x08"
       "ftypisom\x00\x00\x00\x00"),
     FILETYPE_UNKNOWN},
    {"ftyp unknown brands",
     B("\x00\x00\x00\x18"
       "ftypabcd\x00\x00\x00\x00"
       "efghijkl"),
     FILETYPE_UNKNOWN},
    {"ebml unknown doctype", B("\x1A\x45\xDF\xA3\x87\x42\x82\x84webx"), FILETYPE_UNKNOWN},
    {"jpeg magic late", B(" \xFF\xD8\xFF\xE0"), FILETYPE_UNKNOWN},
    /* Truncated headers fail safe. */
    {"jpeg cut at 2 bytes", B("\xFF\xD8"), FILETYPE_UNKNOWN},
    {"png cut at 7 bytes", B("\x89PNG\r\n\x1A"), FILETYPE_UNKNOWN},
    {"gif cut at 5 bytes", B("GIF89"), FILETYPE_UNKNOWN},
    {"webp cut at 12 bytes", B("RIFF\x24\x00\x00\x00WEBP"), FILETYPE_UNKNOWN},
    {"ftyp cut before major brand",
     B("\x00\x00\x00\x18"
       "ftypav"),
     FILETYPE_UNKNOWN},
    {"mif1 cut before compatible brands",
     B("\x00\x00\x00\x18"
       "ftypmif1\x00\x00\x00"),
     FILETYPE_HEIC},
    {"ebml magic only", B("\x1A\x45\xDF\xA3"), FILETYPE_UNKNOWN},
    {"ebml cut inside doctype", B("\x1A\x45\xDF\xA3\x9F\x42\x82\x84we"), FILETYPE_UNKNOWN},
    {"one byte", B("\xFF"), FILETYPE_UNKNOWN},
    {"empty", B(""), FILETYPE_UNKNOWN},
};

static void detects_every_case(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum filetype got = filetype_detect(cases[i].bytes, cases[i].len);
        if (got != cases[i].want) {
            print_error("%s: got %s, want %s\n", cases[i].what, filetype_mime(got),
                        filetype_mime(cases[i].want));
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void null_and_empty_are_unknown(void **state)
{
    (void)state;
    assert_int_equal(filetype_detect(NULL, 0), FILETYPE_UNKNOWN);
    assert_int_equal(filetype_detect(NULL, 100), FILETYPE_UNKNOWN);
}

/* Bytes past the sniff window never change the answer. */
static void only_leading_bytes_count(void **state)
{
    (void)state;
    char buf[FILETYPE_SNIFF_BYTES + 16];
    memset(buf, 'x', sizeof(buf));
    memcpy(buf + FILETYPE_SNIFF_BYTES, "\x89PNG\r\n\x1A\n", 8);
    assert_int_equal(filetype_detect(buf, sizeof(buf)), FILETYPE_UNKNOWN);
    memcpy(buf, "GIF89a", 6);
    assert_int_equal(filetype_detect(buf, sizeof(buf)), FILETYPE_GIF);
}

static void names_mimes_and_kinds(void **state)
{
    (void)state;
    static const struct {
        enum filetype type;
        const char *mime, *ext;
        enum filetype_kind kind;
    } want[] = {
        {FILETYPE_UNKNOWN, "application/octet-stream", "bin", FILETYPE_KIND_NONE},
        {FILETYPE_JPEG, "image/jpeg", "jpg", FILETYPE_KIND_IMAGE},
        {FILETYPE_PNG, "image/png", "png", FILETYPE_KIND_IMAGE},
        {FILETYPE_WEBP, "image/webp", "webp", FILETYPE_KIND_IMAGE},
        {FILETYPE_GIF, "image/gif", "gif", FILETYPE_KIND_IMAGE},
        {FILETYPE_HEIC, "image/heic", "heic", FILETYPE_KIND_IMAGE},
        {FILETYPE_AVIF, "image/avif", "avif", FILETYPE_KIND_IMAGE},
        {FILETYPE_MP4, "video/mp4", "mp4", FILETYPE_KIND_VIDEO},
        {FILETYPE_MOV, "video/quicktime", "mov", FILETYPE_KIND_VIDEO},
        {FILETYPE_WEBM, "video/webm", "webm", FILETYPE_KIND_VIDEO},
        {FILETYPE_MKV, "video/x-matroska", "mkv", FILETYPE_KIND_VIDEO},
        {(enum filetype)999, "application/octet-stream", "bin", FILETYPE_KIND_NONE},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_string_equal(filetype_mime(want[i].type), want[i].mime);
        assert_string_equal(filetype_ext(want[i].type), want[i].ext);
        assert_int_equal(filetype_kind(want[i].type), want[i].kind);
    }
    assert_non_null(strstr(filetype_accepted(FILETYPE_KIND_IMAGE), "HEIC"));
    assert_non_null(strstr(filetype_accepted(FILETYPE_KIND_VIDEO), "WebM"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(detects_every_case),
        cmocka_unit_test(null_and_empty_are_unknown),
        cmocka_unit_test(only_leading_bytes_count),
        cmocka_unit_test(names_mimes_and_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
