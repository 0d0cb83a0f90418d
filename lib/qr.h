/* QR codes (the only file that sees libqrencode is qr.c): text to a PNG a
 * cart device can show as it is. */
#ifndef SC_QR_H
#define SC_QR_H

#include <stddef.h>
#include "error.h"

/* Pixels per QR module and the quiet zone around the code, in modules (the
 * standard asks for 4). */
#define QR_SCALE 8
#define QR_MARGIN 4

/* Encodes text (byte mode, error correction level M) as a black-on-white
 * PNG into *png (*len bytes; malloc'd, the caller frees). *modules (may be
 * NULL) gets the symbol's width in modules, so the image is
 * (*modules + 2 * QR_MARGIN) * QR_SCALE pixels square. SC_EINVAL for text
 * too long for a QR code. */
sc_code qr_png(const char *text, void **png, size_t *len, int *modules);

#endif
