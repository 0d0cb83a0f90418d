/* application/x-www-form-urlencoded bodies (the OAuth2 password form of
 * /auth/login). Pure parsing without HTTP types, so it is unit-tested alone. */
#ifndef SC_FORMPARSE_H
#define SC_FORMPARSE_H

#include <stddef.h>

#include "error.h"

struct form_field {
    const char *name;
    const char *value;
};

struct form {
    size_t n;
    struct form_field *fields;
    char *buf; /* the decoded names and values */
};

/* Parses len bytes of body (no NUL needed): pairs split on '&', name and
 * value on the first '=' (a pair without '=' has value ""), '+' is a space
 * and %XX a byte. As browsers and Python's parse_qsl do, a malformed escape
 * is kept literally and empty pairs are skipped. SC_EINVAL when a name or
 * value decodes to a NUL byte (it could not be a C string); SC_ENOMEM.
 * On success out owns its memory (form_free); on failure out is empty. */
sc_code form_parse(const char *body, size_t len, struct form *out);

/* The first value of name; NULL when absent. Lives as long as f. */
const char *form_get(const struct form *f, const char *name);

void form_free(struct form *f);

#endif
