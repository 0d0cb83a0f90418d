/* Request rate limits shared by every ingest process: fixed-window counters
 * in Redis (one key per scope, subject and window, expiring with it). */
#ifndef SC_RATELIMIT_H
#define SC_RATELIMIT_H

#include "error.h"

/* Counts one hit of subject (a client address, an account) in scope ("login")
 * for the current window of window_s seconds. *retry_after_s gets 0 while the
 * window's count is at most limit, else the seconds until the window ends
 * (at least 1). A Redis failure is returned as is (*retry_after_s 0): the
 * caller decides whether to let the request through. */
sc_code ratelimit_hit(const char *scope, const char *subject, long long limit, int window_s,
                      int *retry_after_s);

/* Like ratelimit_hit without counting: whether one more hit would be over
 * limit (a check before the work, when only failures are counted). */
sc_code ratelimit_peek(const char *scope, const char *subject, long long limit, int window_s,
                       int *retry_after_s);

#endif
