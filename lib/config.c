/* Settings loader: expands config_table.h into parsing, validation, --help
 * and the Markdown table, so a setting is declared exactly once. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sc_config cfg;

enum setting_type { T_STR, T_SECRET, T_INT, T_BOOL };

struct setting {
    const char *env;
    enum setting_type type;
    const char *def;
    long long min, max;
    const char *doc;
    size_t offset;
};

static const struct setting settings[] = {
#define SETTING(field, env, type, def, min, max, doc)                                              \
    {env, T_##type, def, min, max, doc, offsetof(struct sc_config, field)},
#include "config_table.h"
#undef SETTING
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static const char *type_name(enum setting_type t)
{
    switch (t) {
    case T_STR:
        return "string";
    case T_SECRET:
        return "secret";
    case T_INT:
        return "integer";
    case T_BOOL:
        return "boolean";
    }
    return "?";
}

static sc_code parse_one(const struct setting *s, const char *raw, char *err, size_t errlen)
{
    char *field = (char *)&cfg + s->offset;

    switch (s->type) {
    case T_STR:
    case T_SECRET:
        memcpy(field, &raw, sizeof(raw));
        return SC_OK;
    case T_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(raw, &end, 10);
        if (errno || end == raw || *end != '\0') {
            snprintf(err, errlen, "%s: '%s' is not an integer", s->env, raw);
            return SC_EINVAL;
        }
        if (v < s->min || v > s->max) {
            snprintf(err, errlen, "%s: %lld is outside %lld..%lld", s->env, v, s->min, s->max);
            return SC_EINVAL;
        }
        memcpy(field, &v, sizeof(v));
        return SC_OK;
    }
    case T_BOOL: {
        int v;
        if (!strcmp(raw, "true") || !strcmp(raw, "1")) {
            v = 1;
        } else if (!strcmp(raw, "false") || !strcmp(raw, "0")) {
            v = 0;
        } else {
            snprintf(err, errlen, "%s: '%s' is not true/false", s->env, raw);
            return SC_EINVAL;
        }
        memcpy(field, &v, sizeof(v));
        return SC_OK;
    }
    }
    return SC_EINTERNAL;
}

sc_code config_load_from(const char *(*getenv_fn)(const char *), char *err, size_t errlen)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *raw = getenv_fn(settings[i].env);
        sc_code rc = parse_one(&settings[i], raw ? raw : settings[i].def, err, errlen);
        if (rc != SC_OK) {
            return rc;
        }
    }
    return SC_OK;
}

static const char *process_getenv(const char *name)
{
    return getenv(name);
}

sc_code config_load(char *err, size_t errlen)
{
    return config_load_from(process_getenv, err, errlen);
}

sc_code config_require(const char *env, size_t min_len, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (strcmp(settings[i].env, env) != 0) {
            continue;
        }
        const char *v;
        memcpy(&v, (char *)&cfg + settings[i].offset, sizeof(v));
        if (!v || strlen(v) < (min_len ? min_len : 1)) {
            snprintf(err, errlen, "%s must be set (at least %zu bytes)", env,
                     min_len ? min_len : 1);
            return SC_EINVAL;
        }
        return SC_OK;
    }
    snprintf(err, errlen, "%s is not a declared setting", env);
    return SC_EINTERNAL;
}

void config_print_help(FILE *out, const char *usage)
{
    fprintf(out, "%s\n\nSettings (environment variables):\n", usage);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        fprintf(out, "  %-28s %-8s default: %s\n      %s\n", s->env, type_name(s->type),
                s->type == T_SECRET ? "(secret, none)" : (*s->def ? s->def : "(empty)"), s->doc);
    }
}

void config_print_markdown(FILE *out)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        fprintf(out, "| `%s` | %s | %s | %s |\n", s->env, type_name(s->type),
                s->type == T_SECRET ? "—" : (*s->def ? s->def : "(empty)"), s->doc);
    }
}
