/* smartcart-ingest: the HTTP tier. */
#include <stdio.h>
#include "config.h"

int main(void)
{
    char err[256];
    return config_load(err, sizeof(err)) == SC_OK ? 0 : 1;
}
