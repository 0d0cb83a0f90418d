/* Fixed-window rate limits in Redis (see ratelimit.h). A fixed window lets a
 * client send up to twice the limit across a window boundary; for the limits
 * here (login attempts, QR codes) that bound is enough, and it costs one
 * round trip and one small key per subject. */
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "redis.h"

/* KEYS[1] the window's counter; ARGV[1] seconds to the window's end, ARGV[2] limit,
 * ARGV[3] 1 to count this hit (else: would one more be within the limit?).
 * Answers 0 within the limit, else the seconds the window has left. */
static const char window_script[] = "local n\n"
                                    "if ARGV[3] == '1' then\n"
                                    "  n = redis.call('INCR', KEYS[1])\n"
                                    "  if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end\n"
                                    "else\n"
                                    "  n = tonumber(redis.call('GET', KEYS[1]) or '0') + 1\n"
                                    "end\n"
                                    "if n <= tonumber(ARGV[2]) then return 0 end\n"
                                    "local ttl = redis.call('TTL', KEYS[1])\n"
                                    "if ttl < 1 then return 1 end\n"
                                    "return ttl\n";

static sc_code window(const char *scope, const char *subject, long long limit, int window_s,
                      int count, int *retry_after_s)
{
    char key[512], window_arg[24], limit_arg[24], *answer = NULL;
    *retry_after_s = 0;
    /* The window's number is in the key, so a new window starts from zero
     * even if the old key's expiry has not run yet. */
    long long now = (long long)time(NULL), span = window_s > 0 ? window_s : 1;
    snprintf(key, sizeof(key), "ratelimit:%s:%lld:%s", scope, now / span, subject);
    /* The key lives until its window ends, so its TTL is the Retry-After. */
    snprintf(window_arg, sizeof(window_arg), "%lld", span - now % span);
    snprintf(limit_arg, sizeof(limit_arg), "%lld", limit);
    const char *const args[] = {key, window_arg, limit_arg, count ? "1" : "0"};
    sc_code rc = redis_eval(window_script, 1, args, 4, &answer);
    if (rc == SC_OK) {
        *retry_after_s = atoi(answer);
    }
    free(answer);
    return rc;
}

sc_code ratelimit_hit(const char *scope, const char *subject, long long limit, int window_s,
                      int *retry_after_s)
{
    return window(scope, subject, limit, window_s, 1, retry_after_s);
}

sc_code ratelimit_peek(const char *scope, const char *subject, long long limit, int window_s,
                       int *retry_after_s)
{
    return window(scope, subject, limit, window_s, 0, retry_after_s);
}
