/* Cart snapshots, command outcomes and update announcements in Redis (see
 * cart_state.h). Snapshot writes go through a script that compares
 * versions, so concurrent writers leave the newest state behind. */
#include "cart_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "db/cart.h"
#include "log.h"
#include "redis.h"

#define KEY_LEN 96

/* For each session: its snapshot key, then one key per outcome in KEYS;
 * ARGV: snapshot TTL, outcome TTL, then per session the number of
 * outcomes, the snapshot ("": none), its version, the channel and the
 * outcomes. */
static const char publish_script[] =
    "local k, a = 1, 3\n"
    "while a <= #ARGV do\n"
    "  local n, snap, ver, channel = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]\n"
    "  a = a + 4\n"
    "  if snap ~= '' then\n"
    "    local cur = redis.call('GET', KEYS[k])\n"
    "    local keep = false\n"
    "    if cur then\n"
    "      local ok, doc = pcall(cjson.decode, cur)\n"
    "      keep = ok and type(doc) == 'table' and tonumber(doc.version) ~= nil\n"
    "             and tonumber(doc.version) > tonumber(ver)\n"
    "    end\n"
    "    if not keep then redis.call('SET', KEYS[k], snap, 'EX', ARGV[1]) end\n"
    "  end\n"
    "  k = k + 1\n"
    "  for i = 1, n do\n"
    "    redis.call('SET', KEYS[k], ARGV[a], 'EX', ARGV[2])\n"
    "    redis.call('PUBLISH', channel, ARGV[a])\n"
    "    k, a = k + 1, a + 1\n"
    "  end\n"
    "end\n"
    "return 1\n";

static const char drop_script[] = "return redis.call('DEL', unpack(KEYS))\n";

static void snapshot_key(char key[KEY_LEN], const char *session_id)
{
    snprintf(key, KEY_LEN, "cart:snapshot:%s", session_id);
}

static void channel_name(char key[KEY_LEN], const char *session_id)
{
    snprintf(key, KEY_LEN, "cart:updates:%s", session_id);
}

static void outcome_key(char key[KEY_LEN], const char *message_id)
{
    snprintf(key, KEY_LEN, "cart:applied:%s", message_id);
}

sc_code cart_snapshot_store(const char *session_id, const char *text, long long version)
{
    struct cart_publication p = {.session_id = session_id, .snapshot = text, .version = version};
    return cart_publish(&p, 1);
}

sc_code cart_snapshot_drop(const char *session_id)
{
    return cart_snapshots_drop(&session_id, 1);
}

sc_code cart_snapshots_drop(const char *const *session_ids, size_t n)
{
    char *keys = malloc(n * KEY_LEN);
    const char **argv = calloc(n, sizeof(*argv));
    char *result = NULL;
    sc_code rc = keys && argv ? SC_OK : SC_ENOMEM;
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        snapshot_key(keys + i * KEY_LEN, session_ids[i]);
        argv[i] = keys + i * KEY_LEN;
    }
    if (rc == SC_OK && n) {
        rc = redis_eval(drop_script, (int)n, argv, (int)n, &result);
    }
    free(result);
    free(argv);
    free(keys);
    return rc;
}

/* The session JSON from Postgres, cached on the way out. */
static sc_code rebuild(const char *session_id, char **text)
{
    db_conn *c = db_acquire();
    if (!c) {
        return SC_EUNAVAIL;
    }
    sc_code rc = cart_session_json(c, session_id, text);
    db_release(c);
    return rc;
}

sc_code cart_snapshot_load(const char *session_id, char **text, json_t **doc)
{
    char key[KEY_LEN];
    json_t *parsed = NULL;
    int cached = 0;
    snapshot_key(key, session_id);
    *text = NULL;
    if (doc) {
        *doc = NULL;
    }
    sc_code rc = redis_get(key, text, NULL);
    if (rc == SC_OK) {
        cached = 1;
    } else if ((rc = rebuild(session_id, text)) != SC_OK) {
        return rc;
    }
    if (!(parsed = json_loads(*text, 0, NULL))) {
        log_json(LOG_ERROR, "unreadable cart snapshot",
                 json_pack("{s:s}", "session_id", session_id));
        free(*text);
        *text = NULL;
        return SC_EINTERNAL;
    }
    if (!cached) {
        json_int_t version = json_integer_value(json_object_get(parsed, "version"));
        sc_code src = cart_snapshot_store(session_id, *text, version);
        if (src != SC_OK) {
            log_json(LOG_WARN, "cart snapshot not cached",
                     json_pack("{s:s, s:s}", "session_id", session_id, "error", sc_strerror(src)));
        }
    }
    if (doc) {
        *doc = parsed;
    } else {
        json_decref(parsed);
    }
    return SC_OK;
}

/* Publishes msg (taken) on the session's channel. */
static sc_code announce(const char *session_id, json_t *msg)
{
    char channel[KEY_LEN];
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!text) {
        return SC_ENOMEM;
    }
    channel_name(channel, session_id);
    sc_code rc = redis_publish(channel, text, strlen(text), NULL);
    free(text);
    return rc;
}

static json_t *outcome_json(const char *session_id, const char *message_id,
                            const struct cart_outcome *o)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "session_id", session_id, "message_id", message_id,
                          "status", o->applied ? "applied" : "rejected");
    if (j && o->applied) {
        json_object_set_new(j, "version", json_integer(o->version));
    }
    return j;
}

/* Reads an outcome back from its JSON; 0 when j is not one. */
static int outcome_parse(const json_t *j, struct cart_outcome *o)
{
    const char *status = json_string_value(json_object_get(j, "status"));
    if (!status || (strcmp(status, "applied") && strcmp(status, "rejected"))) {
        return 0;
    }
    o->applied = !strcmp(status, "applied");
    o->version = json_integer_value(json_object_get(j, "version"));
    return 1;
}

sc_code cart_publish(const struct cart_publication *p, size_t n)
{
    enum { PER_SESSION = 4 };
    size_t nkeys = n, nargs = 2 + PER_SESSION * n;
    for (size_t s = 0; s < n; s++) {
        nkeys += p[s].n;
        nargs += p[s].n;
    }
    /* argv: the keys, then the arguments; the texts behind them are malloc'd */
    const char **argv = calloc(nkeys + nargs, sizeof(*argv));
    char *keys = malloc(nkeys * KEY_LEN);
    char *numbers = malloc((2 + 2 * n) * 24);
    char *channels = malloc(n * KEY_LEN);
    char **texts = calloc(nkeys, sizeof(*texts));
    char *result = NULL;
    size_t k = 0, a = nkeys, t = 0;
    sc_code rc = argv && keys && numbers && channels && texts ? SC_OK : SC_ENOMEM;
    if (rc == SC_OK) {
        snprintf(numbers, 24, "%lld", cfg.cart_snapshot_ttl_s);
        snprintf(numbers + 24, 24, "%d", CART_OUTCOME_TTL_S);
        argv[a++] = numbers;
        argv[a++] = numbers + 24;
    }
    for (size_t s = 0; rc == SC_OK && s < n; s++) {
        char *count = numbers + (2 + 2 * s) * 24, *version = count + 24;
        snprintf(count, 24, "%zu", p[s].n);
        snprintf(version, 24, "%lld", p[s].version);
        channel_name(channels + s * KEY_LEN, p[s].session_id);
        snapshot_key(keys + k * KEY_LEN, p[s].session_id);
        argv[k] = keys + k * KEY_LEN;
        k++;
        argv[a++] = count;
        argv[a++] = p[s].snapshot ? p[s].snapshot : "";
        argv[a++] = version;
        argv[a++] = channels + s * KEY_LEN;
        for (size_t i = 0; rc == SC_OK && i < p[s].n; i++) {
            json_t *j = outcome_json(p[s].session_id, p[s].message_ids[i], &p[s].outcomes[i]);
            texts[t] = j ? json_dumps(j, JSON_COMPACT) : NULL;
            json_decref(j);
            if (!texts[t]) {
                rc = SC_ENOMEM;
                break;
            }
            argv[a++] = texts[t++];
            outcome_key(keys + k * KEY_LEN, p[s].message_ids[i]);
            argv[k] = keys + k * KEY_LEN;
            k++;
        }
    }
    if (rc == SC_OK && n) {
        rc = redis_eval(publish_script, (int)nkeys, argv, (int)(nkeys + nargs), &result);
    }
    for (size_t i = 0; i < t; i++) {
        free(texts[i]);
    }
    free(texts);
    free(channels);
    free(numbers);
    free(keys);
    free(argv);
    free(result);
    return rc;
}

sc_code cart_announce_status(const char *session_id, const char *status)
{
    return announce(session_id,
                    json_pack("{s:s, s:s}", "session_id", session_id, "status", status));
}

sc_code cart_outcome_get(const char *message_id, struct cart_outcome *o)
{
    char key[KEY_LEN];
    char *text = NULL;
    outcome_key(key, message_id);
    sc_code rc = redis_get(key, &text, NULL);
    if (rc == SC_OK) {
        json_t *j = json_loads(text, 0, NULL);
        rc = outcome_parse(j, o) ? SC_OK : SC_EINTERNAL;
        json_decref(j);
    }
    free(text);
    return rc;
}

void cart_channel(char out[CART_CHANNEL_LEN], const char *session_id)
{
    channel_name(out, session_id);
}
