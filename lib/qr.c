/* QR code rendering: libqrencode lays out the modules, lib/image.c encodes
 * the scaled bitmap as PNG. */
#include "qr.h"

#include <errno.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

/* Bit 0 of a libqrencode module byte: 1 for a dark module. */
#define MODULE_DARK 0x1

sc_code qr_png(const char *text, void **png, size_t *len, int *modules)
{
    unsigned char *pixels = NULL;
    sc_code rc = SC_OK;
    *png = NULL;
    *len = 0;
    QRcode *code = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
    if (!code) {
        return errno == ENOMEM ? SC_ENOMEM : SC_EINVAL;
    }
    int side = (code->width + 2 * QR_MARGIN) * QR_SCALE;
    if (!(pixels = malloc((size_t)side * (size_t)side))) {
        rc = SC_ENOMEM;
        goto out;
    }
    memset(pixels, 0xff, (size_t)side * (size_t)side);
    for (int y = 0; y < code->width; y++) {
        for (int x = 0; x < code->width; x++) {
            if (!(code->data[y * code->width + x] & MODULE_DARK)) {
                continue;
            }
            for (int dy = 0; dy < QR_SCALE; dy++) {
                size_t row = (size_t)((y + QR_MARGIN) * QR_SCALE + dy) * (size_t)side;
                memset(pixels + row + (size_t)(x + QR_MARGIN) * QR_SCALE, 0, QR_SCALE);
            }
        }
    }
    rc = image_png_from_gray(pixels, side, side, png, len);
    if (rc == SC_OK && modules) {
        *modules = code->width;
    }
out:
    free(pixels);
    QRcode_free(code);
    return rc;
}
