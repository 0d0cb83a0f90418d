/* The configuration from the stack's environment, as the integration tests'
 * setups load it: 0, or -1 after saying why on stderr. */
#ifndef SC_IT_CONFIG_H
#define SC_IT_CONFIG_H

#include <stdio.h>

#include "config.h"

static inline int it_config_load(void)
{
    char err[256];
    if (config_load(err, sizeof(err)) != SC_OK) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    return 0;
}

#endif
