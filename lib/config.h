/* Settings: one struct generated from config_table.h, filled from the
 * environment once at start-up and read-only afterwards. */
#ifndef SC_CONFIG_H
#define SC_CONFIG_H

#include <stdio.h>
#include <stddef.h>
#include "error.h"

#define CFG_CTYPE_STR const char *
#define CFG_CTYPE_SECRET const char *
#define CFG_CTYPE_INT long long
#define CFG_CTYPE_BOOL int

struct sc_config {
#define SETTING(field, env, type, def, min, max, doc) CFG_CTYPE_##type field;
#include "config_table.h"
#undef SETTING
};

/* The process-wide settings; valid after config_load() returned SC_OK. */
extern struct sc_config cfg;

/* Reads every setting from the environment (defaults where unset) and
 * checks types and bounds. On failure writes a one-line reason into err. */
sc_code config_load(char *err, size_t errlen);

/* Like config_load, but reads values through getenv_fn (for unit tests). */
sc_code config_load_from(const char *(*getenv_fn)(const char *), char *err, size_t errlen);

/* Fails with a reason naming env unless the setting is non-empty and at
 * least min_len bytes long. Binaries call it for the secrets they need. */
sc_code config_require(const char *env, size_t min_len, char *err, size_t errlen);

/* Prints usage, then every setting with its variable, default and meaning. */
void config_print_help(FILE *out, const char *usage);

/* Prints the settings as the Markdown table rows docs/configuration.md holds. */
void config_print_markdown(FILE *out);

#endif
