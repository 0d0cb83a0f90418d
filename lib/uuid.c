/* UUID text syntax (see uuid.h). */
#include "uuid.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"

int uuid_valid(const char *s)
{
    if (!s) {
        return 0;
    }
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[36] == '\0';
}

void uuid_from_name(const char *name, char out[37])
{
    char h[65];
    crypto_sha256_hex(name, strlen(name), h);
    h[12] = '8';                                                  /* version 8 */
    h[16] = "89ab"[(h[16] - (h[16] > '9' ? 'a' - 10 : '0')) & 3]; /* variant 10 */
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}
