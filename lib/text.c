/* UTF-8 text (see text.h). */
#include "text.h"

size_t text_utf8_seq(const unsigned char *s, unsigned int *cp)
{
    size_t n;
    unsigned int c;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        n = 2, c = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3, c = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4, c = s[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) { /* the NUL ending s included */
            return 0;
        }
        c = c << 6 | (s[i] & 0x3F);
    }
    static const unsigned int min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min_cp[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        return 0; /* overlong, out of range or a surrogate */
    }
    *cp = c;
    return n;
}

size_t text_utf8_put(unsigned long cp, char *out)
{
    unsigned char *p = (unsigned char *)out;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    if (cp < 0x80) {
        p[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (unsigned char)(0xC0 | (cp >> 6));
        p[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (unsigned char)(0xE0 | (cp >> 12));
        p[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        p[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    p[0] = (unsigned char)(0xF0 | (cp >> 18));
    p[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int text_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned int cp;
    while (*p) {
        size_t n = text_utf8_seq(p, &cp);
        if (n == 0) {
            return 0;
        }
        p += n;
    }
    return 1;
}
