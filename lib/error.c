/* Names of the sc_code values and their retry classification. */
#include "error.h"

const char *sc_strerror(sc_code code)
{
    switch (code) {
    case SC_OK:
        return "ok";
    case SC_ENOMEM:
        return "out of memory";
    case SC_EINVAL:
        return "invalid input";
    case SC_ENOTFOUND:
        return "not found";
    case SC_ECONFLICT:
        return "conflict";
    case SC_EFOREIGN:
        return "referenced row does not exist";
    case SC_ETOOBIG:
        return "too large";
    case SC_EUNAVAIL:
        return "dependency unavailable";
    case SC_ETIMEOUT:
        return "timed out";
    case SC_EPERMANENT:
        return "permanent failure";
    case SC_EINTERNAL:
        return "internal error";
    }
    return "unknown error";
}

int sc_is_transient(sc_code code)
{
    return code == SC_EUNAVAIL || code == SC_ETIMEOUT || code == SC_ENOMEM;
}
