/* URL-encoded form parser (see formparse.h). Decodes into one buffer the
 * size of the input: decoding never makes text longer. */
#include "formparse.h"

#include <stdlib.h>
#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes s[0..len) to out (NUL-terminated); returns the byte after the
 * NUL, or NULL when the text decodes to a NUL byte. */
static char *decode(const char *s, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < len && hex_value(s[i + 1]) >= 0 &&
                   hex_value(s[i + 2]) >= 0) {
            c = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        }
        if (c == '\0') {
            return NULL;
        }
        *out++ = c;
    }
    *out++ = '\0';
    return out;
}

sc_code form_parse(const char *body, size_t len, struct form *out)
{
    sc_code rc = SC_ENOMEM;
    size_t pairs = 1;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < len; i++) {
        pairs += body[i] == '&';
    }
    /* Each pair adds at most two NULs (name and value) to its own bytes. */
    out->buf = malloc(len + 2 * pairs);
    out->fields = calloc(pairs, sizeof(*out->fields));
    if (!out->buf || !out->fields) {
        goto out;
    }
    char *w = out->buf;
    for (size_t start = 0; start < len;) {
        const char *pair = body + start;
        const char *amp = memchr(pair, '&', len - start);
        size_t plen = amp ? (size_t)(amp - pair) : len - start;
        start += plen + 1;
        if (plen == 0) {
            continue;
        }
        const char *eq = memchr(pair, '=', plen);
        size_t nlen = eq ? (size_t)(eq - pair) : plen;
        struct form_field *f = &out->fields[out->n];
        f->name = w;
        w = decode(pair, nlen, w);
        if (w) {
            f->value = w;
            w = eq ? decode(eq + 1, plen - nlen - 1, w) : decode("", 0, w);
        }
        if (!w) {
            rc = SC_EINVAL;
            goto out;
        }
        out->n++;
    }
    rc = SC_OK;
out:
    if (rc != SC_OK) {
        form_free(out);
    }
    return rc;
}

const char *form_get(const struct form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++) {
        if (!strcmp(f->fields[i].name, name)) {
            return f->fields[i].value;
        }
    }
    return NULL;
}

void form_free(struct form *f)
{
    free(f->buf);
    free(f->fields);
    memset(f, 0, sizeof(*f));
}
