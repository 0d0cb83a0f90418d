/* Cart-device routes (seed 003 §3 and the debug API; /work/shared/ENDPOINTS.md
 * "Cart devices"): QR login, shopping sessions and their items.
 *
 * QR login state lives only in Redis under qr:<token>: {status, expires_ms,
 * poll_hash, user, tenant, session_id}. status moves pending → claimed →
 * authenticated through one Lua script, so of two phones verifying one token
 * exactly one wins; the key outlives expires_ms by QR_EXPIRED_KEEP_S so an
 * expired token answers 410, and only after that 404 like an unknown one.
 * The device's credential (session id and device token) is handed out by
 * check-qr only with the poll secret, which never appears in the QR.
 *
 * Cart changes go through Kafka to the cart worker (docs/cart.md); PATCH
 * waits up to CART_PATCH_WAIT_MS for the worker's outcome and answers 200
 * with the new cart, else 202. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "cart_state.h"
#include "config.h"
#include "crypto.h"
#include "db/cart.h"
#include "db/users.h"
#include "handlers.h"
#include "http.h"
#include "jwt_token.h"
#include "kafka.h"
#include "log.h"
#include "offload.h"
#include "qr.h"
#include "redis.h"
#include "schemas/cart_command.h"
#include "schemas/envelope.h"
#include "uuid.h"

#define QR_TOKEN_BYTES 24 /* 192 bits */
#define QR_TOKEN_CHARS (CRYPTO_TOKEN_LEN(QR_TOKEN_BYTES) - 1)
#define POLL_SECRET_BYTES 32
#define QR_KEY_LEN 64
#define JSON_TYPE "application/json"

#define DETAIL_QR_UNKNOWN "QR token not found"
#define DETAIL_QR_EXPIRED "QR token expired"
#define DETAIL_QR_USED "QR token already used"
#define DETAIL_SESSION_UNKNOWN "Shopping session not found"
#define DETAIL_SESSION_CLOSED "Shopping session is not active"

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms since the epoch as RFC 3339 UTC, with milliseconds when with_ms. */
static void rfc3339(long long ms, int with_ms, char out[40])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, with_ms ? ".%03dZ" : "Z", (int)(ms % 1000));
}

/* ---- QR login state in Redis ---- */

/* Moves a record from status ARGV[1] to ARGV[2] and merges the members of
 * the JSON object ARGV[4] into it; with ARGV[3] > 0 (now, ms) an expired
 * record is refused. Answers "ok", "missing", "expired" or the status the
 * record has instead. */
static const char transition_script[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then return 'missing' end\n"
    "local r = cjson.decode(v)\n"
    "if r.status ~= ARGV[1] then return r.status end\n"
    "local now = tonumber(ARGV[3])\n"
    "if now > 0 and now >= tonumber(r.expires_ms) then return 'expired' end\n"
    "r.status = ARGV[2]\n"
    "for k, x in pairs(cjson.decode(ARGV[4])) do r[k] = x end\n"
    "redis.call('SET', KEYS[1], cjson.encode(r), 'KEEPTTL')\n"
    "return 'ok'\n";

/* 1 when s has the shape of a token generate-qr makes. */
static int qr_token_valid(const char *s, size_t len)
{
    if (!s || len != QR_TOKEN_CHARS) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') {
            return 0;
        }
    }
    return 1;
}

static void qr_key(char key[QR_KEY_LEN], const char *token, size_t len)
{
    snprintf(key, QR_KEY_LEN, "qr:%.*s", (int)len, token);
}

/* The record of token in *rec (the caller's). SC_ENOTFOUND when unknown. */
static sc_code qr_load(const char *token, size_t len, json_t **rec)
{
    char key[QR_KEY_LEN], *text = NULL;
    *rec = NULL;
    if (!qr_token_valid(token, len)) {
        return SC_ENOTFOUND;
    }
    qr_key(key, token, len);
    sc_code rc = redis_get(key, &text, NULL);
    if (rc == SC_OK && !(*rec = json_loads(text, 0, NULL))) {
        rc = SC_EINTERNAL;
    }
    free(text);
    return rc;
}

static int qr_expired(const json_t *rec)
{
    return wall_ms() >= (long long)json_number_value(json_object_get(rec, "expires_ms"));
}

static int qr_status_is(const json_t *rec, const char *status)
{
    const char *s = json_string_value(json_object_get(rec, "status"));
    return s && !strcmp(s, status);
}

/* Runs transition_script on token's record; patch is taken. *answer gets
 * the script's answer (static strings for the known ones). */
static sc_code qr_transition(const char *token, const char *from, const char *to, int check_expiry,
                             json_t *patch, const char **answer)
{
    static const char *const known[] = {"ok",      "missing", "expired",
                                        "pending", "claimed", "authenticated"};
    char key[QR_KEY_LEN], now[24], *result = NULL;
    char *patch_text = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
    json_decref(patch);
    *answer = "missing";
    if (!patch_text) {
        return SC_ENOMEM;
    }
    qr_key(key, token, strlen(token));
    snprintf(now, sizeof(now), "%lld", check_expiry ? wall_ms() : 0);
    const char *argv[] = {key, from, to, now, patch_text};
    sc_code rc = redis_eval(transition_script, 1, argv, 5, &result);
    for (size_t i = 0; rc == SC_OK && i < sizeof(known) / sizeof(known[0]); i++) {
        if (!strcmp(result, known[i])) {
            *answer = known[i];
        }
    }
    free(result);
    free(patch_text);
    return rc;
}

/* ---- QR routes ---- */

static void generate_qr(struct http_request *req, struct http_response *res)
{
    if (!handler_rate_ok(res, "generate-qr", http_client_address(req), cfg.qr_generate_per_min, 60,
                         1)) {
        return;
    }
    char token[CRYPTO_TOKEN_LEN(QR_TOKEN_BYTES)], secret[CRYPTO_TOKEN_LEN(POLL_SECRET_BYTES)];
    char hash[65], key[QR_KEY_LEN], expires_at[40];
    crypto_token(QR_TOKEN_BYTES, token);
    crypto_token(POLL_SECRET_BYTES, secret);
    crypto_sha256_hex(secret, strlen(secret), hash);
    /* Whole seconds, so expires_at as shown is the exact moment. */
    long long expires_ms = (wall_ms() / 1000 + cfg.qr_ttl_s) * 1000;
    rfc3339(expires_ms, 0, expires_at);
    json_t *rec = json_pack("{s:s, s:I, s:s}", "status", "pending", "expires_ms",
                            (json_int_t)expires_ms, "poll_hash", hash);
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    qr_key(key, token, strlen(token));
    sc_code rc =
        text ? redis_set_nx(key, text, strlen(text), (int)(cfg.qr_ttl_s + cfg.qr_expired_keep_s))
             : SC_ENOMEM;
    if (rc == SC_OK) {
        http_reply_json(res, 200,
                        json_pack("{s:s, s:s, s:s}", "token", token, "expires_at", expires_at,
                                  "poll_secret", secret));
        http_add_header(res, "Cache-Control", "no-store");
    } else {
        handler_reply_failure(res, rc == SC_ECONFLICT ? SC_EINTERNAL : rc);
    }
    crypto_wipe(secret, sizeof(secret));
    free(text);
    json_decref(rec);
}

static void qr_image(struct http_request *req, struct http_response *res)
{
    const char *file = http_param(req, "file");
    size_t n = strlen(file);
    json_t *rec = NULL;
    void *png = NULL;
    size_t len = 0;
    sc_code rc = n > 4 && !strcmp(file + n - 4, ".png") ? qr_load(file, n - 4, &rec) : SC_ENOTFOUND;
    /* Only a code that can still be scanned is shown. */
    if (rc == SC_OK && (!qr_status_is(rec, "pending") || qr_expired(rec))) {
        rc = SC_ENOTFOUND;
    }
    if (rc == SC_OK) {
        char token[QR_TOKEN_CHARS + 1];
        snprintf(token, sizeof(token), "%.*s", (int)(n - 4), file);
        rc = qr_png(token, &png, &len, NULL);
    }
    if (rc == SC_OK) {
        http_reply_raw(res, 200, "image/png", png, len);
        http_add_header(res, "Cache-Control", "no-store");
    } else if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, DETAIL_QR_UNKNOWN);
    } else {
        handler_reply_failure(res, rc);
    }
    json_decref(rec);
}

/* {id, email, full_name} of the caller. */
static sc_code caller_json(db_conn *c, const struct auth_identity *id, json_t **out)
{
    json_t *full = NULL;
    sc_code rc = users_get(c, id->tenant_id, id->user_id, &full);
    *out = NULL;
    if (rc == SC_OK) {
        *out = json_pack("{s:O, s:O, s:O}", "id", json_object_get(full, "id"), "email",
                         json_object_get(full, "email"), "full_name",
                         json_object_get(full, "full_name"));
        rc = *out ? SC_OK : SC_ENOMEM;
    }
    json_decref(full);
    return rc;
}

/* The claim's answer as a reply; 1 when the claim was won. */
static int claim_won(struct http_response *res, sc_code rc, const char *answer)
{
    if (rc != SC_OK) {
        handler_reply_failure(res, rc);
    } else if (!strcmp(answer, "missing")) {
        http_reply_error(res, 404, DETAIL_QR_UNKNOWN);
    } else if (!strcmp(answer, "expired")) {
        http_reply_error(res, 410, DETAIL_QR_EXPIRED);
    } else if (strcmp(answer, "ok")) {
        http_reply_error(res, 409, DETAIL_QR_USED);
    }
    return rc == SC_OK && !strcmp(answer, "ok");
}

static void verify_qr(struct http_request *req, struct http_response *res)
{
    struct auth_identity id;
    json_t *body = NULL, *user = NULL;
    db_conn *c = NULL;
    const char *answer = "missing";
    char sid[CART_UUID_LEN];
    if (!auth_user(req, res, &id) || !(body = http_json_body(req, res))) {
        return;
    }
    json_t *tok = json_object_get(body, "token");
    const char *token = json_string_value(tok);
    if (!tok || !token) {
        http_reply_field_error(res, "body", "token",
                               tok ? "Input should be a valid string" : "Field required",
                               tok ? "string_type" : "missing");
        goto out;
    }
    if (!qr_token_valid(token, strlen(token))) {
        http_reply_error(res, 404, DETAIL_QR_UNKNOWN);
        goto out;
    }
    sc_code rc = (c = db_acquire()) ? caller_json(c, &id, &user) : SC_EUNAVAIL;
    if (rc == SC_ENOTFOUND) {
        auth_reply_unauthorized(res, AUTH_DETAIL_INVALID);
        goto out;
    }
    if (rc == SC_OK) {
        rc = qr_transition(token, "pending", "claimed", 1,
                           json_pack("{s:O, s:s}", "user", user, "tenant", id.tenant_id), &answer);
    }
    if (!claim_won(res, rc, answer)) {
        goto out;
    }
    rc = cart_session_open(c, id.tenant_id, id.user_id, sid);
    if (rc == SC_OK) {
        rc = qr_transition(token, "claimed", "authenticated", 0,
                           json_pack("{s:s}", "session_id", sid), &answer);
        rc = rc == SC_OK && strcmp(answer, "ok") ? SC_EINTERNAL : rc;
    } else {
        /* Give the token back, so the user can scan it again. */
        qr_transition(token, "claimed", "pending", 0, json_pack("{s:n, s:n}", "user", "tenant"),
                      &answer);
    }
    if (rc == SC_OK) {
        http_reply_json(res, 200,
                        json_pack("{s:s, s:O, s:s}", "status", "authenticated", "user", user,
                                  "session_id", sid));
    } else {
        handler_reply_failure(res, rc);
    }
out:
    if (c) {
        db_release(c);
    }
    json_decref(user);
    json_decref(body);
}

/* Adds the device's credential to answer: session_id and a device token for
 * that session alone. */
static sc_code add_device_credential(json_t *answer, const json_t *rec)
{
    struct token_claims claims = {0};
    char *token = NULL;
    const char *sid = json_string_value(json_object_get(rec, "session_id"));
    const char *user = json_string_value(json_object_get(json_object_get(rec, "user"), "id"));
    const char *tenant = json_string_value(json_object_get(rec, "tenant"));
    if (!sid || !user || !tenant) {
        return SC_EINTERNAL;
    }
    snprintf(claims.sub, sizeof(claims.sub), "%s", user);
    snprintf(claims.tenant, sizeof(claims.tenant), "%s", tenant);
    snprintf(claims.sid, sizeof(claims.sid), "%s", sid);
    /* A device acts as a customer on one cart, whoever the user is. */
    snprintf(claims.role, sizeof(claims.role), "%s", TOKEN_ROLE_CUSTOMER);
    sc_code rc = jwt_issue(&claims, (int)cfg.device_token_ttl_s, &token);
    if (rc == SC_OK) {
        json_object_set_new(answer, "session_id", json_string(sid));
        json_object_set_new(answer, "device_token", json_string(token));
        json_object_set_new(answer, "token_type", json_string("bearer"));
        json_object_set_new(answer, "expires_in", json_integer(cfg.device_token_ttl_s));
    }
    free(token);
    return rc;
}

/* The answer to a poll of the record rec; secret_hash is the SHA-256 of the
 * X-Poll-Secret the device sent (NULL: none). */
static void answer_poll(struct http_response *res, const json_t *rec, const char *secret_hash)
{
    json_t *answer = NULL;
    int authenticated = qr_status_is(rec, "authenticated");
    /* A claimed token is still pending for the device: the verify is under way. */
    const char *status = authenticated                                     ? "authenticated"
                         : qr_status_is(rec, "pending") && qr_expired(rec) ? "expired"
                                                                           : "pending";
    if (secret_hash) {
        const char *want = json_string_value(json_object_get(rec, "poll_hash"));
        if (!want || !crypto_str_equal(secret_hash, want)) {
            http_reply_error(res, 403, "Invalid poll secret");
            return;
        }
    }
    answer = json_pack("{s:s, s:O}", "status", status, "user",
                       authenticated ? json_object_get(rec, "user") : json_null());
    sc_code rc = answer ? SC_OK : SC_ENOMEM;
    if (rc == SC_OK && authenticated && secret_hash) {
        rc = add_device_credential(answer, rec);
    }
    if (rc == SC_OK) {
        http_reply_json(res, 200, answer);
        http_add_header(res, "Cache-Control", "no-store");
        answer = NULL;
    } else {
        handler_reply_failure(res, rc);
    }
    json_decref(answer);
}

/* A check-qr poll while its record is read. */
struct qr_poll {
    struct http_deferred *d;
    int has_secret;
    char secret_hash[65];
};

/* Pipeline-thread callback (or the handler's, when the read could not be
 * queued): answers the poll from the record's text and frees p. */
static void qr_polled(void *arg, sc_code rc, const char *text, size_t len)
{
    struct qr_poll *p = arg;
    struct http_response res = {0};
    json_t *rec = NULL;
    if (rc == SC_OK && !(rec = json_loadb(text, len, 0, NULL))) {
        rc = SC_EINTERNAL;
    }
    if (rc == SC_ENOTFOUND) {
        http_reply_error(&res, 404, DETAIL_QR_UNKNOWN);
    } else if (rc != SC_OK) {
        handler_reply_failure(&res, rc);
    } else {
        answer_poll(&res, rec, p->has_secret ? p->secret_hash : NULL);
    }
    json_decref(rec);
    http_resume(p->d, &res);
    free(p);
}

/* Devices poll this many times a second: the Redis read is pipelined with
 * the other polls' and holds no thread while it is on the wire. */
static void check_qr(struct http_request *req, struct http_response *res)
{
    const char *token = http_query(req, "token");
    const char *secret = http_header(req, "X-Poll-Secret");
    char key[QR_KEY_LEN];
    if (!token) {
        http_reply_field_error(res, "query", "token", "Field required", "missing");
        return;
    }
    if (!qr_token_valid(token, strlen(token))) {
        http_reply_error(res, 404, DETAIL_QR_UNKNOWN);
        return;
    }
    struct qr_poll *p = calloc(1, sizeof(*p));
    if (!p) {
        handler_reply_failure(res, SC_ENOMEM);
        return;
    }
    if (secret) {
        p->has_secret = 1;
        crypto_sha256_hex(secret, strlen(secret), p->secret_hash);
    }
    qr_key(key, token, strlen(token));
    p->d = http_defer(req);
    sc_code rc = redis_get_async(key, qr_polled, p);
    if (rc != SC_OK) {
        qr_polled(p, rc, NULL, 0);
    }
}

/* ---- shopping sessions ---- */

/* The session id of the path in lower case into sid; 0 (and a 404) when it
 * is not a UUID or the caller's device token is for another session. */
static int session_param(struct http_request *req, struct http_response *res,
                         const struct auth_identity *id, char sid[CART_UUID_LEN])
{
    const char *p = http_param(req, "session_id");
    if (!uuid_valid(p)) {
        http_reply_error(res, 404, DETAIL_SESSION_UNKNOWN);
        return 0;
    }
    for (int i = 0; i < CART_UUID_LEN; i++) {
        sid[i] = (char)tolower((unsigned char)p[i]);
    }
    if (id->is_device && strcasecmp(id->session_id, sid)) {
        http_reply_error(res, 404, DETAIL_SESSION_UNKNOWN);
        return 0;
    }
    return 1;
}

/* Replies with the session sid when it is the caller's (404 otherwise).
 * min_version: a snapshot older than this is rebuilt from Postgres. */
static void reply_session(struct http_response *res, const struct auth_identity *id,
                          const char *sid, long long min_version)
{
    char *text = NULL;
    json_t *doc = NULL;
    sc_code rc = cart_snapshot_load(sid, &text, &doc);
    if (rc == SC_OK && json_integer_value(json_object_get(doc, "version")) < min_version) {
        free(text);
        json_decref(doc);
        cart_snapshot_drop(sid);
        rc = cart_snapshot_load(sid, &text, &doc);
    }
    const char *owner = json_string_value(json_object_get(doc, "user_id"));
    if (rc == SC_OK && (!owner || strcasecmp(owner, id->user_id))) {
        rc = SC_ENOTFOUND;
    }
    if (rc == SC_OK) {
        http_reply_raw(res, 200, JSON_TYPE, text, strlen(text));
        text = NULL;
    } else if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, DETAIL_SESSION_UNKNOWN);
    } else {
        handler_reply_failure(res, rc);
    }
    free(text);
    json_decref(doc);
}

static void get_session(struct http_request *req, struct http_response *res)
{
    struct auth_identity id;
    char sid[CART_UUID_LEN];
    if (auth_user_or_device(req, res, &id) && session_param(req, res, &id, sid)) {
        reply_session(res, &id, sid, 0);
    }
}

/* A PATCH (or prepare-cart) between its acceptance and its answer. It holds
 * no thread while it waits: the request is deferred, the produce runs on the
 * offload pool, and the wait is a Redis subscription whose callback hands
 * each step back to the pool (callbacks may not subscribe again). */
struct patch_wait {
    struct http_deferred *d;
    struct auth_identity id;
    struct cart_command cmd;
    char tenant[CART_UUID_LEN];
    char message_id[ENVELOPE_UUID_LEN];
    const char *message; /* static: prepare-cart's answer instead of the cart */
    long long deadline_ms;
};

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Answers with the outcome o (NULL: the wait ran out) and frees w. */
static void patch_answer(struct patch_wait *w, const struct cart_outcome *o)
{
    struct http_response res = {0};
    if (o && !o->applied) {
        http_reply_error(&res, 409, DETAIL_SESSION_CLOSED);
    } else if (o && w->message) {
        http_reply_json(&res, 200, json_pack("{s:s}", "message", w->message));
    } else if (o) {
        reply_session(&res, &w->id, w->cmd.session_id, o->version);
    } else {
        http_reply_json(&res, 202,
                        json_pack("{s:s, s:s, s:s}", "detail",
                                  "Accepted; not applied yet. Poll GET /sessions/{session_id}.",
                                  "message_id", w->message_id, "session_id", w->cmd.session_id));
    }
    if (o && o->applied) {
        char version[24];
        snprintf(version, sizeof(version), "%lld", o->version);
        http_add_header(&res, "X-Cart-Version", version);
    }
    http_add_header(&res, "X-Message-Id", w->message_id);
    http_resume(w->d, &res);
    free(w);
}

static void patch_wait_step(void *arg);

/* Subscriber-thread callback: whatever woke us (another command's outcome,
 * ours, the timeout), look again from the pool. */
static void patch_woken(void *arg, sc_code rc, const char *msg, size_t len)
{
    (void)rc;
    (void)msg;
    (void)len;
    if (offload_submit(patch_wait_step, arg) != SC_OK) {
        patch_answer(arg, NULL);
    }
}

/* One look at the outcome; answers, or subscribes for the next announcement. */
static void patch_wait_step(void *arg)
{
    struct patch_wait *w = arg;
    struct cart_outcome o;
    char channel[CART_CHANNEL_LEN];
    uint64_t sub;
    log_set_request_id(w->message_id);
    if (cart_outcome_get(w->message_id, &o) == SC_OK) {
        patch_answer(w, &o);
        return;
    }
    long long left = w->deadline_ms - monotonic_ms();
    cart_channel(channel, w->cmd.session_id);
    if (left <= 0 || redis_subscribe_once(channel, (int)left, patch_woken, w, &sub) != SC_OK) {
        patch_answer(w, NULL);
        return;
    }
    /* Applied between the look and the subscription? Then answer here, unless
     * the callback already took over (it will find the outcome itself). */
    if (cart_outcome_get(w->message_id, &o) == SC_OK && redis_subscribe_cancel(sub)) {
        patch_answer(w, &o);
    }
}

/* Pool thread: produces the command, then starts waiting for its outcome. */
static void patch_produce(void *arg)
{
    struct patch_wait *w = arg;
    struct envelope env = {0};
    json_t *data = NULL;
    char *payload = NULL;
    size_t len = 0;
    rfc3339(wall_ms(), 1, w->cmd.accepted_at);
    sc_code rc = cart_command_encode(&w->cmd, &data);
    if (rc == SC_OK) {
        rc = envelope_init(&env, CART_COMMAND_TYPE, CART_COMMAND_VERSION, w->tenant, data);
    }
    if (rc == SC_OK) {
        memcpy(w->message_id, env.id, sizeof(w->message_id));
        log_set_request_id(env.id);
        rc = envelope_encode(&env, &payload, &len);
    }
    if (rc == SC_OK) {
        rc = kafka_produce_sync(cfg.kafka_topic_cart, w->cmd.session_id, strlen(w->cmd.session_id),
                                payload, len, NULL, 0);
    }
    free(payload);
    envelope_clear(&env);
    if (rc != SC_OK) {
        struct http_response res = {0};
        handler_reply_failure(&res, rc == SC_ETOOBIG ? SC_EINTERNAL : rc);
        http_resume(w->d, &res);
        free(w);
        return;
    }
    w->deadline_ms = monotonic_ms() + cfg.cart_patch_wait_ms;
    patch_wait_step(w);
}

/* Accepts cmd for the session (of tenant): the answer comes later, 200 with
 * the cart (or {message} when message is set), 409 when the session closed
 * meanwhile, 202 when CART_PATCH_WAIT_MS ran out, 503 when Kafka did not
 * acknowledge the command. */
static void submit(struct http_request *req, struct http_response *res,
                   const struct auth_identity *id, const struct cart_command *cmd,
                   const char *tenant, const char *message)
{
    struct patch_wait *w = calloc(1, sizeof(*w));
    if (!w) {
        handler_reply_failure(res, SC_ENOMEM);
        return;
    }
    w->id = *id;
    w->cmd = *cmd;
    memcpy(w->tenant, tenant, CART_UUID_LEN);
    w->message = message;
    w->d = http_defer(req);
    if (offload_submit(patch_produce, w) != SC_OK) {
        struct http_response busy = {0};
        http_reply_error(&busy, 503, HTTP_DETAIL_BUSY);
        http_resume(w->d, &busy);
        free(w);
    }
}

/* 422 for items[index].field in FastAPI's shape. */
static void reply_item_error(struct http_response *res, const struct cart_item_error *e)
{
    json_t *loc = json_pack("[s, s]", "body", "items");
    if (e->index >= 0) {
        json_array_append_new(loc, json_integer(e->index));
    }
    if (e->field) {
        json_array_append_new(loc, json_string(e->field));
    }
    http_reply_json(
        res, 422,
        json_pack("{s:[{s:s, s:o, s:s}]}", "detail", "type", e->type, "loc", loc, "msg", e->msg));
}

/* Checks that the session is the caller's and active and that every product
 * is the tenant's; replies 404 / 409 / 422 / 5xx and returns 0 otherwise.
 * tenant gets the session's tenant. */
static int patch_allowed(struct http_response *res, const struct auth_identity *id,
                         const struct cart_command *cmd, char tenant[CART_UUID_LEN])
{
    struct cart_session_info info;
    long missing = -1;
    db_conn *c = db_acquire();
    sc_code rc = c ? cart_session_info(c, cmd->session_id, &info) : SC_EUNAVAIL;
    if (rc == SC_OK && strcasecmp(info.user_id, id->user_id)) {
        rc = SC_ENOTFOUND;
    }
    int active = rc == SC_OK && !strcmp(info.status, "active");
    if (active) {
        rc = cart_products_check(c, info.tenant_id, cmd, &missing);
    }
    if (c) {
        db_release(c);
    }
    if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, DETAIL_SESSION_UNKNOWN);
    } else if (rc != SC_OK) {
        handler_reply_failure(res, rc);
    } else if (!active) {
        http_reply_error(res, 409, DETAIL_SESSION_CLOSED);
    } else if (missing >= 0) {
        struct cart_item_error e = {missing, "product_id", "Product not found", "value_error"};
        reply_item_error(res, &e);
    } else {
        memcpy(tenant, info.tenant_id, CART_UUID_LEN);
        return 1;
    }
    return 0;
}

static void patch_items(struct http_request *req, struct http_response *res)
{
    struct auth_identity id;
    struct cart_command cmd = {0};
    struct cart_item_error e;
    char tenant[CART_UUID_LEN];
    json_t *body = NULL;
    if (!auth_user_or_device(req, res, &id) || !session_param(req, res, &id, cmd.session_id) ||
        !(body = http_json_body(req, res))) {
        return;
    }
    json_t *items = json_object_get(body, "items");
    if (!items) {
        http_reply_field_error(res, "body", "items", "Field required", "missing");
    } else if (cart_items_parse(items, &cmd, &e) != SC_OK) {
        reply_item_error(res, &e);
    } else if (patch_allowed(res, &id, &cmd, tenant)) {
        submit(req, res, &id, &cmd, tenant, NULL);
    }
    json_decref(body);
}

/* ---- debug ---- */

static void prepare_cart(struct http_request *req, struct http_response *res)
{
    struct auth_identity id;
    struct cart_command cmd = {.clear = 1, .n_items = 1};
    if (!cfg.debug_routes) {
        http_reply_error(res, 404, "Not Found");
        return;
    }
    if (!auth_user(req, res, &id)) {
        return;
    }
    db_conn *c = db_acquire();
    sc_code rc = c ? cart_session_open(c, id.tenant_id, id.user_id, cmd.session_id) : SC_EUNAVAIL;
    if (rc == SC_OK) {
        rc = cart_sample_product(c, id.tenant_id, cmd.items[0].product_id);
    }
    if (c) {
        db_release(c);
    }
    cmd.items[0].quantity = 1;
    if (rc == SC_OK) {
        submit(req, res, &id, &cmd, id.tenant_id, "Giỏ hàng đã sẵn sàng để checkout.");
    } else if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, "No product to put in the cart");
    } else {
        handler_reply_failure(res, rc);
    }
}

const struct route session_routes[] = {
    {"POST", "/sessions/generate-qr", generate_qr, 0, 0, NULL},
    {"GET", "/sessions/qr/{file}", qr_image, 0, 0, NULL},
    {"POST", "/sessions/verify-qr", verify_qr, 0, 0, NULL},
    {"GET", "/sessions/check-qr", check_qr, 0, 0, NULL},
    {"GET", "/sessions/{session_id}", get_session, 0, 0, NULL},
    {"PATCH", "/sessions/{session_id}/items", patch_items, 0, 0, NULL},
    {"POST", "/debug/prepare-cart", prepare_cart, 0, 0, NULL},
};
const size_t session_routes_len = sizeof(session_routes) / sizeof(session_routes[0]);
