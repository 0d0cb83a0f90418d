/* UTF-8 text: checks and the encoder, shared by ingest, the workers and the adapters. */
#ifndef SMARTCART_TEXT_H
#define SMARTCART_TEXT_H

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence at s, its code point in
 * *cp; 0 when s starts no such sequence (a stray or truncated byte, an
 * overlong form, a surrogate, past U+10FFFF). s is NUL-terminated. */
size_t text_utf8_seq(const unsigned char *s, unsigned int *cp);

/* Writes code point cp as UTF-8 at out (room for 4 bytes) and returns its
 * length; 0, writing nothing, for U+0000 (no NUL-terminated text holds
 * it), a surrogate or past U+10FFFF. */
size_t text_utf8_put(unsigned long cp, char *out);

/* 1 when the whole of s is well-formed UTF-8 (what Postgres accepts as
 * text), else 0. */
int text_utf8_valid(const char *s);

#endif
