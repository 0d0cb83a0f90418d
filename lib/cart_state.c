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

static const char store_script[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur then\n"
    "  local ok, doc = pcall(cjson.decode, cur)\n"
    "  if ok and type(doc) == 'table' and tonumber(doc.version)\n"
    "     and tonumber(doc.version) > tonumber(ARGV[2]) then return 0 end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])\n"
    "return 1\n";

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
    char key[KEY_LEN], ver[24], ttl[24];
    snapshot_key(key, session_id);
    snprintf(ver, sizeof(ver), "%lld", version);
    snprintf(ttl, sizeof(ttl), "%lld", cfg.cart_snapshot_ttl_s);
    const char *argv[] = {key, text, ver, ttl};
    char *result = NULL;
    sc_code rc = redis_eval(store_script, 1, argv, 4, &result);
    free(result);
    return rc;
}

sc_code cart_snapshot_drop(const char *session_id)
{
    char key[KEY_LEN];
    snapshot_key(key, session_id);
    return redis_del(key);
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

sc_code cart_outcome_record(const char *session_id, const char *message_id,
                            const struct cart_outcome *o)
{
    char key[KEY_LEN];
    json_t *j = outcome_json(session_id, message_id, o);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!text) {
        json_decref(j);
        return SC_ENOMEM;
    }
    outcome_key(key, message_id);
    sc_code rc = redis_set(key, text, strlen(text), CART_OUTCOME_TTL_S);
    free(text);
    /* Announced even when the SET failed: a waiter may still hear it. */
    sc_code arc = announce(session_id, j);
    return rc != SC_OK ? rc : arc;
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
