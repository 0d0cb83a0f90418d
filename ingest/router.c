/* Path matching for ingest (see router.h for the rules). Routes are few (a
 * hundred or so), so a linear scan with a specificity score beats building a
 * tree: it stays obvious and costs well under a microsecond per request. */
#include "router.h"

#include <stdint.h>
#include <string.h>

/* Length of s without one trailing slash (the root "/" keeps its slash). */
static size_t trimmed_len(const char *s)
{
    size_t n = strlen(s);
    return n > 1 && s[n - 1] == '/' ? n - 1 : n;
}

/* Copies len bytes of s into m->buf as a C string; NULL when it is full. */
static const char *keep(struct router_match *m, size_t *used, const char *s, size_t len)
{
    if (*used + len + 1 > sizeof(m->buf)) {
        return NULL;
    }
    char *out = m->buf + *used;
    memcpy(out, s, len);
    out[len] = '\0';
    *used += len + 1;
    return out;
}

/* 1 when path fits pattern. *score gets bit (63 - i) for each literal
 * segment i, so comparing scores prefers a literal at the first place two
 * patterns differ. With m, the parameters are copied into it. */
static int match_pattern(const char *pattern, const char *path, uint64_t *score,
                         struct router_match *m)
{
    const char *p = pattern, *pe = pattern + trimmed_len(pattern);
    const char *q = path, *qe = path + trimmed_len(path);
    uint64_t s = 0;
    size_t used = 0;
    int seg = 0;

    if (p == pe || q == qe) {
        return 0;
    }
    if (m) {
        m->n_params = 0;
    }
    while (p < pe && q < qe) {
        if (*p != '/' || *q != '/') {
            return 0;
        }
        const char *ps = ++p, *qs = ++q;
        while (p < pe && *p != '/') {
            p++;
        }
        while (q < qe && *q != '/') {
            q++;
        }
        size_t plen = (size_t)(p - ps), qlen = (size_t)(q - qs);
        if (plen >= 2 && ps[0] == '{' && ps[plen - 1] == '}') {
            if (qlen == 0) {
                return 0;
            }
            if (m) {
                if (m->n_params == HTTP_MAX_PATH_PARAMS) {
                    return 0;
                }
                const char *name = keep(m, &used, ps + 1, plen - 2);
                const char *value = name ? keep(m, &used, qs, qlen) : NULL;
                if (!value) {
                    return 0;
                }
                m->param_names[m->n_params] = name;
                m->param_values[m->n_params++] = value;
            }
        } else {
            if (plen != qlen || memcmp(ps, qs, plen) != 0) {
                return 0;
            }
            if (seg < 64) {
                s |= UINT64_C(1) << (63 - seg);
            }
        }
        seg++;
    }
    if (p != pe || q != qe) {
        return 0;
    }
    *score = s;
    return 1;
}

/* Appends method to the comma-separated list unless it is there already. */
static void allow_add(char *allow, size_t size, const char *method)
{
    size_t mlen = strlen(method);
    for (const char *a = allow; *a;) {
        size_t tlen = strcspn(a, ",");
        if (tlen == mlen && !memcmp(a, method, mlen)) {
            return;
        }
        a += tlen;
        a += strspn(a, ", ");
    }
    size_t n = strlen(allow);
    if (n + (n ? 2 : 0) + mlen + 1 > size) {
        return;
    }
    if (n) {
        memcpy(allow + n, ", ", 2);
        n += 2;
    }
    memcpy(allow + n, method, mlen + 1);
}

enum router_result router_match(const struct route_table *tables, size_t ntables,
                                const char *method, const char *path, struct router_match *m)
{
    const struct route *best = NULL;
    const char *path_pattern = NULL;
    uint64_t best_score = 0, path_score = 0, s;

    m->route = NULL;
    m->pattern = NULL;
    m->allow[0] = '\0';
    m->n_params = 0;
    for (size_t t = 0; t < ntables; t++) {
        for (size_t i = 0; i < *tables[t].len; i++) {
            const struct route *r = &tables[t].routes[i];
            if (!match_pattern(r->pattern, path, &s, NULL)) {
                continue;
            }
            if (!path_pattern || s > path_score) {
                path_pattern = r->pattern;
                path_score = s;
            }
            if (!strcmp(r->method, method)) {
                if (!best || s > best_score) {
                    best = r;
                    best_score = s;
                }
            } else {
                allow_add(m->allow, sizeof(m->allow), r->method);
            }
        }
    }
    if (best) {
        if (!match_pattern(best->pattern, path, &s, m)) {
            return ROUTER_NOT_FOUND;
        }
        m->route = best;
        m->pattern = best->pattern;
        return ROUTER_FOUND;
    }
    if (path_pattern) {
        m->pattern = path_pattern;
        return ROUTER_METHOD_NOT_ALLOWED;
    }
    return ROUTER_NOT_FOUND;
}
