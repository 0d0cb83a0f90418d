/* UTF-8 text checks shared by ingest and the workers. */
#ifndef SMARTCART_TEXT_H
#define SMARTCART_TEXT_H

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence at s, its code point in
 * *cp; 0 when s starts no such sequence (a stray or truncated byte, an
 * overlong form, a surrogate, past U+10FFFF). s is NUL-terminated. */
size_t text_utf8_seq(const unsigned char *s, unsigned int *cp);

/* 1 when the whole of s is well-formed UTF-8 (what Postgres accepts as
 * text), else 0. */
int text_utf8_valid(const char *s);

#endif
