/* hiredis adapter. hiredis 0.14 contexts are not thread-safe, so commands
 * borrow a connection from a fixed pool (mutex + condvar, as lib/db.c), and
 * pub/sub runs on one subscriber thread that owns its own connection and
 * multiplexes every waiter of the process onto it. */
#include "redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "batchq.h"
#include "log.h"

struct conn {
    redisContext *ctx;
    int in_use;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct conn *conns;
    int size;
    int timeout_ms;
    int64_t down_until_ms; /* after a failed connect, fail fast until then */
    char host[256], user[128], password[256];
    int port, db;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval tv_of(int ms)
{
    return (struct timeval){ms / 1000, (ms % 1000) * 1000};
}

/* redis://[[user]:password@]host[:port][/db]; a userinfo without ':' is a
 * password, as redis-cli reads it. */
static sc_code parse_url(const char *url)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8)) {
        return SC_EINVAL;
    }
    p += 8;
    pool.user[0] = pool.password[0] = '\0';
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            snprintf(pool.user, sizeof(pool.user), "%.*s", (int)(colon - p), p);
            snprintf(pool.password, sizeof(pool.password), "%.*s", (int)(at - colon - 1),
                     colon + 1);
        } else {
            snprintf(pool.password, sizeof(pool.password), "%.*s", (int)(at - p), p);
        }
        p = at + 1;
    }
    size_t host_len = strcspn(p, ":/");
    if (host_len == 0 || host_len >= sizeof(pool.host)) {
        return SC_EINVAL;
    }
    snprintf(pool.host, sizeof(pool.host), "%.*s", (int)host_len, p);
    p += host_len;
    pool.port = 6379;
    pool.db = 0;
    char *end;
    if (*p == ':') {
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            return SC_EINVAL;
        }
        pool.port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        long db = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || db < 0 || db > 65535) {
            return SC_EINVAL;
        }
        pool.db = (int)db;
    } else if (*p && strcmp(p, "/")) {
        return SC_EINVAL;
    }
    return SC_OK;
}

/* Runs one set-up command (AUTH, SELECT) on a fresh connection. */
static int setup_ok(redisContext *ctx, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(ctx, argc, argv, NULL);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r && !ok) {
        log_json(LOG_ERROR, "redis set-up command refused",
                 json_pack("{s:s, s:s}", "command", argv[0], "error", r->str));
    }
    freeReplyObject(r);
    return ok;
}

static redisContext *connect_one(void)
{
    redisContext *ctx = redisConnectWithTimeout(pool.host, pool.port, tv_of(pool.timeout_ms));
    if (!ctx || ctx->err) {
        log_json(LOG_WARN, "redis connect failed",
                 json_pack("{s:s, s:i, s:s}", "host", pool.host, "port", pool.port, "error",
                           ctx ? ctx->errstr : "out of memory"));
        goto fail;
    }
    redisSetTimeout(ctx, tv_of(pool.timeout_ms));
    redisEnableKeepAlive(ctx);
    char db[16];
    snprintf(db, sizeof(db), "%d", pool.db);
    const char *auth_user[] = {"AUTH", pool.user, pool.password};
    const char *auth[] = {"AUTH", pool.password};
    const char *select[] = {"SELECT", db};
    if ((pool.user[0] && !setup_ok(ctx, 3, auth_user)) ||
        (!pool.user[0] && pool.password[0] && !setup_ok(ctx, 2, auth)) ||
        (pool.db && !setup_ok(ctx, 2, select))) {
        goto fail;
    }
    return ctx;
fail:
    if (ctx) {
        redisFree(ctx);
    }
    return NULL;
}

static void subscriber_stop(void);
static void pipe_stop(void);

sc_code redis_pool_init(const char *url, int size, int timeout_ms)
{
    if (parse_url(url) != SC_OK || size < 1 || timeout_ms < 1) {
        log_error("REDIS_URL must look like redis://[[user]:password@]host[:port][/db]");
        return SC_EINVAL;
    }
    pool.conns = calloc((size_t)size, sizeof(*pool.conns));
    if (!pool.conns) {
        return SC_ENOMEM;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&pool.freed, &attr);
    pthread_condattr_destroy(&attr);
    pool.size = size;
    pool.timeout_ms = timeout_ms;
    pool.down_until_ms = 0;
    pool.conns[0].ctx = connect_one();
    if (!pool.conns[0].ctx) {
        pool.down_until_ms = now_ms() + timeout_ms;
        return SC_EUNAVAIL;
    }
    return SC_OK;
}

void redis_pool_shutdown(void)
{
    subscriber_stop();
    pipe_stop();
    for (int i = 0; i < pool.size; i++) {
        if (pool.conns[i].ctx) {
            redisFree(pool.conns[i].ctx);
        }
    }
    free(pool.conns);
    if (pool.size) {
        pthread_cond_destroy(&pool.freed);
    }
    pool.conns = NULL;
    pool.size = 0;
}

/* Borrows a connected connection, waiting up to the timeout for a free one.
 * *fresh tells whether it was connected just now. */
static sc_code acquire(struct conn **out, int *fresh)
{
    *out = NULL;
    *fresh = 0;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += pool.timeout_ms / 1000;
    deadline.tv_nsec += (long)(pool.timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&pool.lock);
    struct conn *c = NULL;
    /* Prefer a connected one: a free but closed slot would cost a connect. */
    while (!c) {
        for (int i = 0; i < pool.size; i++) {
            if (!pool.conns[i].in_use && (!c || (!c->ctx && pool.conns[i].ctx))) {
                c = &pool.conns[i];
            }
        }
        if (!c && pthread_cond_timedwait(&pool.freed, &pool.lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&pool.lock);
            return SC_ETIMEOUT;
        }
    }
    int down = !c->ctx && now_ms() < pool.down_until_ms;
    if (!down) {
        c->in_use = 1;
    }
    pthread_mutex_unlock(&pool.lock);
    if (down) {
        return SC_EUNAVAIL;
    }
    *fresh = !c->ctx;
    if (!c->ctx && !(c->ctx = connect_one())) {
        pthread_mutex_lock(&pool.lock);
        pool.down_until_ms = now_ms() + pool.timeout_ms;
        c->in_use = 0;
        pthread_cond_signal(&pool.freed);
        pthread_mutex_unlock(&pool.lock);
        return SC_EUNAVAIL;
    }
    *out = c;
    return SC_OK;
}

static void release(struct conn *c)
{
    pthread_mutex_lock(&pool.lock);
    c->in_use = 0;
    pthread_cond_signal(&pool.freed);
    pthread_mutex_unlock(&pool.lock);
}

/* Runs one command. On SC_OK *out is the reply (never an error reply; the
 * caller frees it with freeReplyObject). A connection that failed is closed
 * (its reply stream can no longer be trusted); when it was an old one, which
 * the server may have dropped while it sat idle (restart, idle timeout), the
 * command is tried once more on a fresh connection. A timeout is not retried:
 * the command may have run. */
static sc_code command(redisReply **out, int argc, const char **argv, const size_t *lens)
{
    *out = NULL;
    struct conn *c;
    int fresh;
    sc_code rc = acquire(&c, &fresh);
    if (rc != SC_OK) {
        return rc;
    }
    redisReply *r;
    while (!(r = redisCommandArgv(c->ctx, argc, argv, lens))) {
        int timed_out = c->ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
        log_json(LOG_WARN, "redis command failed",
                 json_pack("{s:s, s:s}", "command", argv[0], "error", c->ctx->errstr));
        redisFree(c->ctx);
        c->ctx = NULL;
        if (timed_out || fresh || !(c->ctx = connect_one())) {
            release(c);
            return timed_out ? SC_ETIMEOUT : SC_EUNAVAIL;
        }
        fresh = 1;
    }
    release(c);
    if (r->type == REDIS_REPLY_ERROR) {
        log_json(LOG_ERROR, "redis error reply",
                 json_pack("{s:s, s:s}", "command", argv[0], "error", r->str));
        freeReplyObject(r);
        return SC_EINTERNAL;
    }
    *out = r;
    return SC_OK;
}

/* A command whose reply only has to be a success. */
static sc_code command_ok(int argc, const char **argv, const size_t *lens)
{
    redisReply *r;
    sc_code rc = command(&r, argc, argv, lens);
    freeReplyObject(r);
    return rc;
}

/* Copies a string reply into a fresh NUL-terminated buffer. */
static sc_code copy_str(const redisReply *r, char **out, size_t *len)
{
    *out = malloc(r->len + 1);
    if (!*out) {
        return SC_ENOMEM;
    }
    memcpy(*out, r->str, r->len);
    (*out)[r->len] = '\0';
    if (len) {
        *len = r->len;
    }
    return SC_OK;
}

sc_code redis_ping(void)
{
    const char *argv[] = {"PING"};
    redisReply *r;
    sc_code rc = command(&r, 1, argv, NULL);
    if (rc == SC_OK && (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG"))) {
        rc = SC_EINTERNAL;
    }
    freeReplyObject(r);
    return rc;
}

sc_code redis_get(const char *key, char **value, size_t *len)
{
    const char *argv[] = {"GET", key};
    redisReply *r;
    *value = NULL;
    sc_code rc = command(&r, 2, argv, NULL);
    if (rc == SC_OK) {
        rc = r->type == REDIS_REPLY_NIL      ? SC_ENOTFOUND
             : r->type == REDIS_REPLY_STRING ? copy_str(r, value, len)
                                             : SC_EINTERNAL;
    }
    freeReplyObject(r);
    return rc;
}
/* ---- pipelined GETs ----
 * A request that only reads one key (a cart device polling check-qr) should
 * not hold a thread asleep on a socket for a round trip. Callers queue the
 * GET and return; one thread owns one connection and sends everything queued
 * as one pipeline, then answers each caller from its reply. While a pipeline
 * is on the wire the next one gathers, so the round trips per request fall as
 * the load rises. */

struct get_job {
    struct batchq_job link;
    redis_value_cb cb;
    void *arg;
    size_t key_len;
    char key[]; /* key_len bytes */
};

static void run_batch(struct batchq *q, struct batchq_job *j);

/* Answers and frees every job of the list with rc. */
static void fail_jobs(struct batchq_job *j, sc_code rc)
{
    while (j) {
        struct get_job *g = (struct get_job *)j;
        j = j->next;
        g->cb(g->arg, rc, NULL, 0);
        free(g);
    }
}

static struct batchq gets = BATCHQ_INIT(run_batch, fail_jobs, 0);

static struct {
    redisContext *ctx;     /* the pipeline thread's alone */
    int64_t down_until_ms; /* after a failed connect, fail fast until then */
} pipeline;

/* Sends the jobs as one pipeline and answers each from its reply, in order;
 * returns the ones left unanswered when the connection failed (their
 * commands may or may not have run, but a GET can be sent again). */
static struct batchq_job *send_batch(struct batchq_job *j, sc_code *failure)
{
    for (struct batchq_job *k = j; k; k = k->next) {
        const struct get_job *g = (const struct get_job *)k;
        const char *argv[] = {"GET", g->key};
        const size_t lens[] = {3, g->key_len};
        if (redisAppendCommandArgv(pipeline.ctx, 2, argv, lens) != REDIS_OK) {
            *failure = SC_ENOMEM;
            return j;
        }
    }
    while (j) {
        void *reply = NULL;
        if (redisGetReply(pipeline.ctx, &reply) != REDIS_OK) {
            int timed_out =
                pipeline.ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
            log_json(LOG_WARN, "redis pipeline failed",
                     json_pack("{s:s}", "error", pipeline.ctx->errstr));
            *failure = timed_out ? SC_ETIMEOUT : SC_EUNAVAIL;
            return j;
        }
        const redisReply *r = reply;
        struct get_job *g = (struct get_job *)j;
        j = j->next;
        if (r->type == REDIS_REPLY_STRING) {
            g->cb(g->arg, SC_OK, r->str, r->len);
        } else {
            g->cb(g->arg, r->type == REDIS_REPLY_NIL ? SC_ENOTFOUND : SC_EINTERNAL, NULL, 0);
        }
        freeReplyObject(reply);
        free(g);
    }
    return NULL;
}

/* One batch: on a connection that failed, the unanswered jobs get one more
 * try on a fresh connection, unless it was fresh already or timed out. */
static void run_batch(struct batchq *q, struct batchq_job *j)
{
    (void)q; /* one pipeline per process */
    sc_code failure = SC_OK;
    int fresh = 0;
    while (j) {
        if (!pipeline.ctx) {
            if (now_ms() < pipeline.down_until_ms || !(pipeline.ctx = connect_one())) {
                pipeline.down_until_ms = pipeline.ctx ? 0 : now_ms() + pool.timeout_ms;
                fail_jobs(j, SC_EUNAVAIL);
                return;
            }
            fresh = 1;
        }
        if (!(j = send_batch(j, &failure))) {
            return;
        }
        redisFree(pipeline.ctx);
        pipeline.ctx = NULL;
        if (fresh || failure != SC_EUNAVAIL) {
            fail_jobs(j, failure);
            return;
        }
    }
}

static void pipe_stop(void)
{
    batchq_stop(&gets);
    if (pipeline.ctx) {
        redisFree(pipeline.ctx);
        pipeline.ctx = NULL;
    }
    pipeline.down_until_ms = 0;
}

sc_code redis_get_async(const char *key, redis_value_cb cb, void *arg)
{
    size_t key_len = strlen(key);
    struct get_job *j = malloc(sizeof(*j) + key_len);
    if (!j) {
        return SC_ENOMEM;
    }
    *j = (struct get_job){.cb = cb, .arg = arg, .key_len = key_len};
    memcpy(j->key, key, key_len);
    /* The pool holds the address while it is open. */
    sc_code rc = batchq_push(&gets, &j->link, pool.size > 0);
    if (rc != SC_OK) {
        free(j);
    }
    return rc;
}

/* SET key value [NX] [EX ttl]: SC_ECONFLICT when NX found the key. */
static sc_code set_value(const char *key, const char *value, size_t len, int ttl_s, int nx)
{
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%d", ttl_s);
    const char *argv[6] = {"SET", key, value};
    size_t lens[6] = {3, strlen(key), len};
    int argc = 3;
    if (nx) {
        argv[argc] = "NX";
        lens[argc++] = 2;
    }
    if (ttl_s > 0) {
        argv[argc] = "EX";
        lens[argc++] = 2;
        argv[argc] = ttl;
        lens[argc++] = strlen(ttl);
    }
    redisReply *r;
    sc_code rc = command(&r, argc, argv, lens);
    if (rc == SC_OK && r->type == REDIS_REPLY_NIL) {
        rc = SC_ECONFLICT;
    }
    freeReplyObject(r);
    return rc;
}

sc_code redis_set(const char *key, const char *value, size_t len, int ttl_s)
{
    return set_value(key, value, len, ttl_s, 0);
}

sc_code redis_set_nx(const char *key, const char *value, size_t len, int ttl_s)
{
    return set_value(key, value, len, ttl_s, 1);
}

sc_code redis_del(const char *key)
{
    const char *argv[] = {"DEL", key};
    return command_ok(2, argv, NULL);
}

/* Runs a command with an integer reply into *value. */
static sc_code command_int(int argc, const char **argv, long long *value)
{
    redisReply *r;
    sc_code rc = command(&r, argc, argv, NULL);
    if (rc == SC_OK && r->type != REDIS_REPLY_INTEGER) {
        rc = SC_EINTERNAL;
    }
    if (rc == SC_OK) {
        *value = r->integer;
    }
    freeReplyObject(r);
    return rc;
}

sc_code redis_expire(const char *key, int ttl_s)
{
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%d", ttl_s);
    const char *argv[] = {"EXPIRE", key, ttl};
    long long applied = 0;
    sc_code rc = command_int(3, argv, &applied);
    return rc == SC_OK && !applied ? SC_ENOTFOUND : rc;
}

sc_code redis_incr(const char *key, long long by, long long *value)
{
    char n[24];
    snprintf(n, sizeof(n), "%lld", by);
    const char *argv[] = {"INCRBY", key, n};
    long long v;
    sc_code rc = command_int(3, argv, &v);
    if (rc == SC_OK && value) {
        *value = v;
    }
    return rc;
}

sc_code redis_publish(const char *channel, const char *msg, size_t len, long long *receivers)
{
    const char *argv[] = {"PUBLISH", channel, msg};
    const size_t lens[] = {7, strlen(channel), len};
    redisReply *r;
    sc_code rc = command(&r, 3, argv, lens);
    if (rc == SC_OK && receivers) {
        *receivers = r->integer;
    }
    freeReplyObject(r);
    return rc;
}

sc_code redis_eval(const char *script, int nkeys, const char *const *keys_and_args, int nargs_total,
                   char **result)
{
    *result = NULL;
    if (nkeys < 0 || nargs_total < nkeys) {
        return SC_EINVAL;
    }
    const char **argv = malloc((size_t)(nargs_total + 3) * sizeof(*argv));
    if (!argv) {
        return SC_ENOMEM;
    }
    char n[16];
    snprintf(n, sizeof(n), "%d", nkeys);
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = n;
    memcpy(argv + 3, keys_and_args, (size_t)nargs_total * sizeof(*argv));
    redisReply *r;
    sc_code rc = command(&r, nargs_total + 3, argv, NULL);
    free(argv);
    if (rc != SC_OK) {
        return rc;
    }
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        rc = copy_str(r, result, NULL);
        break;
    case REDIS_REPLY_INTEGER:
        rc = asprintf(result, "%lld", r->integer) < 0 ? SC_ENOMEM : SC_OK;
        if (rc != SC_OK) {
            *result = NULL;
        }
        break;
    case REDIS_REPLY_NIL:
        rc = SC_ENOTFOUND;
        break;
    default:
        rc = SC_EINTERNAL;
    }
    freeReplyObject(r);
    return rc;
}

sc_code redis_zincrby(const char *key, const char *member, double incr, double *score)
{
    char by[64];
    snprintf(by, sizeof(by), "%.17g", incr);
    const char *argv[] = {"ZINCRBY", key, by, member};
    redisReply *r;
    sc_code rc = command(&r, 4, argv, NULL);
    if (rc == SC_OK && r->type != REDIS_REPLY_STRING) {
        rc = SC_EINTERNAL;
    }
    if (rc == SC_OK && score) {
        *score = strtod(r->str, NULL);
    }
    freeReplyObject(r);
    return rc;
}

void redis_scored_free(struct redis_scored *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].member);
    }
    free(items);
}

sc_code redis_zrevrange_withscores(const char *key, long start, long stop,
                                   struct redis_scored **items, size_t *n)
{
    char from[24], to[24];
    snprintf(from, sizeof(from), "%ld", start);
    snprintf(to, sizeof(to), "%ld", stop);
    const char *argv[] = {"ZREVRANGE", key, from, to, "WITHSCORES"};
    *items = NULL;
    *n = 0;
    redisReply *r;
    sc_code rc = command(&r, 5, argv, NULL);
    if (rc != SC_OK) {
        return rc;
    }
    size_t count = r->elements / 2;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        rc = SC_EINTERNAL;
        goto out;
    }
    if (count && !(*items = calloc(count, sizeof(**items)))) {
        rc = SC_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const redisReply *member = r->element[2 * i], *score = r->element[2 * i + 1];
        if (member->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING) {
            rc = SC_EINTERNAL;
            goto out;
        }
        if ((rc = copy_str(member, &(*items)[i].member, NULL)) != SC_OK) {
            goto out;
        }
        (*items)[i].score = strtod(score->str, NULL);
        *n = i + 1;
    }
out:
    if (rc != SC_OK) {
        redis_scored_free(*items, *n);
        *items = NULL;
        *n = 0;
    }
    freeReplyObject(r);
    return rc;
}

/* ---- subscriber ----
 * Locks: `dispatch` is held while callbacks run and while waiters are taken
 * out of the list to be called, so redis_subscribe_cancel (which takes it
 * first) never sees a waiter that is half way through its callback. Order:
 * dispatch, then state. */

struct channel {
    char *name;
    int waiters;   /* registered waiters */
    int requested; /* SUBSCRIBE sent on the current connection */
    int confirmed; /* Redis answered it: messages from now on reach us */
    struct channel *next;
};

enum waiter_state { PENDING, ARMED, FAILED };

struct waiter {
    uint64_t id;
    struct channel *ch;
    int64_t deadline_ms;
    enum waiter_state state; /* PENDING until the channel is confirmed */
    sc_code result;          /* why a PENDING waiter FAILED */
    /* While PENDING, the registering thread's own copy of state: once the
     * waiter is ARMED it may fire and be freed before that thread wakes, so
     * the thread must not look at the waiter itself. */
    enum waiter_state *seen;
    redis_message_cb cb;
    void *arg;
    struct waiter *next;
};

static struct {
    pthread_mutex_t dispatch, state;
    pthread_cond_t changed; /* a PENDING waiter was armed or failed */
    pthread_t thread;
    int running, stop;
    int wake_fd;
    redisContext *ctx; /* owned by the thread; NULL while disconnected */
    struct channel *channels;
    struct waiter *waiters;
    uint64_t next_id;
} sub = {.dispatch = PTHREAD_MUTEX_INITIALIZER,
         .state = PTHREAD_MUTEX_INITIALIZER,
         .changed = PTHREAD_COND_INITIALIZER,
         .wake_fd = -1};

static void wake(void)
{
    uint64_t one = 1;
    if (write(sub.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        log_error("redis subscriber wake-up failed: %s", strerror(errno));
    }
}

/* Takes w out of the list and its channel's count (state lock held). */
static void unlink_waiter(struct waiter *w)
{
    for (struct waiter **p = &sub.waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    w->ch->waiters--;
}

/* Waiters whose callback is due, collected under the state lock and called
 * after it is released. */
struct fired {
    struct waiter *list;
};

/* Ends w with rc (state lock held): an armed waiter's callback is queued on
 * f, a pending one is failed back to the thread blocked registering it. */
static void finish(struct waiter *w, sc_code rc, struct fired *f)
{
    unlink_waiter(w);
    if (w->state == PENDING) {
        w->state = *w->seen = FAILED;
        w->result = rc;
        pthread_cond_broadcast(&sub.changed);
        return;
    }
    w->result = rc;
    w->next = f->list;
    f->list = w;
}

static void run_callbacks(struct fired *f, const char *msg, size_t len)
{
    while (f->list) {
        struct waiter *w = f->list;
        f->list = w->next;
        w->cb(w->arg, w->result, w->result == SC_OK ? msg : NULL, w->result == SC_OK ? len : 0);
        free(w);
    }
}

static void free_channel(struct channel *ch)
{
    for (struct channel **p = &sub.channels; *p; p = &(*p)->next) {
        if (*p == ch) {
            *p = ch->next;
            break;
        }
    }
    free(ch->name);
    free(ch);
}

/* The subscription is gone (connection lost, shutdown): every waiter ends
 * with rc and every channel is forgotten (state lock held). */
static void fail_all(sc_code rc, struct fired *f)
{
    while (sub.waiters) {
        finish(sub.waiters, rc, f);
    }
    while (sub.channels) {
        free_channel(sub.channels);
    }
    if (sub.ctx) {
        redisFree(sub.ctx);
        sub.ctx = NULL;
    }
}

/* Times out due waiters, (un)subscribes channels as their waiters come and
 * go, and returns the poll timeout until the next deadline (state lock held). */
static int maintain(struct fired *f)
{
    int64_t now = now_ms(), next = -1;
    for (struct waiter *w = sub.waiters, *nx; w; w = nx) {
        nx = w->next;
        if (w->deadline_ms <= now) {
            finish(w, SC_ETIMEOUT, f);
        } else if (next < 0 || w->deadline_ms < next) {
            next = w->deadline_ms;
        }
    }
    /* A requested channel implies a connection: fail_all forgets channels with it. */
    for (struct channel *ch = sub.channels, *nx; ch; ch = nx) {
        nx = ch->next;
        const char *argv[] = {ch->waiters ? "SUBSCRIBE" : "UNSUBSCRIBE", ch->name};
        if (ch->waiters && !ch->requested && sub.ctx) {
            redisAppendCommandArgv(sub.ctx, 2, argv, NULL);
            ch->requested = 1;
        } else if (!ch->waiters && (ch->confirmed || !ch->requested)) {
            /* An unconfirmed channel stays until its answer arrives, so the
             * answer cannot be mistaken for that of a later SUBSCRIBE. */
            if (ch->requested) {
                redisAppendCommandArgv(sub.ctx, 2, argv, NULL);
            }
            free_channel(ch);
        }
    }
    int done = 0;
    while (sub.ctx && !done) {
        if (redisBufferWrite(sub.ctx, &done) != REDIS_OK) {
            log_json(LOG_WARN, "redis subscriber write failed",
                     json_pack("{s:s}", "error", sub.ctx->errstr));
            fail_all(SC_EUNAVAIL, f);
        }
    }
    return next < 0 ? -1 : (int)(next - now);
}

static struct channel *find_channel(const char *name, size_t len)
{
    for (struct channel *ch = sub.channels; ch; ch = ch->next) {
        if (strlen(ch->name) == len && !memcmp(ch->name, name, len)) {
            return ch;
        }
    }
    return NULL;
}

/* Applies one pub/sub reply (state lock held): a subscribe confirmation arms
 * the channel's waiters; a message ends every armed waiter of its channel. */
static void on_reply(const redisReply *r, struct fired *f)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
        return;
    }
    const char *kind = r->element[0]->str;
    struct channel *ch = find_channel(r->element[1]->str, r->element[1]->len);
    if (!ch) {
        return;
    }
    if (!strcmp(kind, "subscribe")) {
        ch->confirmed = 1;
        for (struct waiter *w = sub.waiters; w; w = w->next) {
            if (w->ch == ch && w->state == PENDING) {
                w->state = *w->seen = ARMED;
            }
        }
        pthread_cond_broadcast(&sub.changed);
    } else if (!strcmp(kind, "message")) {
        for (struct waiter *w = sub.waiters, *nx; w; w = nx) {
            nx = w->next;
            if (w->ch == ch && w->state == ARMED) {
                finish(w, SC_OK, f);
            }
        }
    }
}

static void *subscriber_main(void *unused)
{
    (void)unused;
    for (;;) {
        struct fired f = {NULL};
        /* Connecting may take the whole timeout: no lock is held meanwhile. */
        pthread_mutex_lock(&sub.state);
        int stopping = sub.stop;
        int need_connect = !stopping && !sub.ctx && sub.channels;
        pthread_mutex_unlock(&sub.state);
        redisContext *ctx = need_connect ? connect_one() : NULL;

        pthread_mutex_lock(&sub.dispatch);
        pthread_mutex_lock(&sub.state);
        if (stopping) {
            fail_all(SC_EUNAVAIL, &f);
            pthread_mutex_unlock(&sub.state);
            run_callbacks(&f, NULL, 0);
            pthread_mutex_unlock(&sub.dispatch);
            return NULL;
        }
        if (need_connect) {
            sub.ctx = ctx;
            if (!ctx) {
                fail_all(SC_EUNAVAIL, &f);
            }
        }
        int timeout = maintain(&f);
        int fd = sub.ctx ? sub.ctx->fd : -1;
        pthread_mutex_unlock(&sub.state);
        run_callbacks(&f, NULL, 0);
        pthread_mutex_unlock(&sub.dispatch);

        struct pollfd fds[2] = {{sub.wake_fd, POLLIN, 0}, {fd, POLLIN, 0}};
        if (poll(fds, fd >= 0 ? 2 : 1, timeout) <= 0) {
            continue;
        }
        uint64_t n;
        if (fds[0].revents && read(sub.wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
            log_error("redis subscriber wake-up read failed: %s", strerror(errno));
        }
        if (fd < 0 || !fds[1].revents) {
            continue;
        }
        /* Only this thread touches sub.ctx's socket, so reading needs no lock. */
        int ok = redisBufferRead(sub.ctx) == REDIS_OK;
        for (;;) {
            void *reply = NULL;
            if (ok && redisGetReplyFromReader(sub.ctx, &reply) != REDIS_OK) {
                ok = 0;
            }
            pthread_mutex_lock(&sub.dispatch);
            pthread_mutex_lock(&sub.state);
            if (!ok) {
                log_json(LOG_WARN, "redis subscriber connection lost",
                         json_pack("{s:s}", "error", sub.ctx->errstr));
                fail_all(SC_EUNAVAIL, &f);
            } else if (reply) {
                on_reply(reply, &f);
            }
            pthread_mutex_unlock(&sub.state);
            const redisReply *r = reply;
            int is_msg = r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                         r->element[2]->type == REDIS_REPLY_STRING;
            run_callbacks(&f, is_msg ? r->element[2]->str : NULL, is_msg ? r->element[2]->len : 0);
            pthread_mutex_unlock(&sub.dispatch);
            freeReplyObject(reply);
            if (!ok || !reply) {
                break;
            }
        }
    }
}

/* Starts the thread on first use (state lock held). */
static sc_code subscriber_start(void)
{
    if (sub.running) {
        return SC_OK;
    }
    if (!pool.size) {
        return SC_EUNAVAIL; /* the pool holds the address: not initialised or shut down */
    }
    sub.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sub.wake_fd < 0) {
        return SC_EINTERNAL;
    }
    sub.stop = 0;
    if (pthread_create(&sub.thread, NULL, subscriber_main, NULL) != 0) {
        close(sub.wake_fd);
        sub.wake_fd = -1;
        return SC_EINTERNAL;
    }
    sub.running = 1;
    return SC_OK;
}

static void subscriber_stop(void)
{
    pthread_mutex_lock(&sub.state);
    int running = sub.running;
    sub.stop = 1;
    pthread_mutex_unlock(&sub.state);
    if (!running) {
        return;
    }
    wake();
    pthread_join(sub.thread, NULL);
    close(sub.wake_fd);
    sub.wake_fd = -1;
    sub.running = 0;
}

sc_code redis_subscribe_once(const char *channel, int timeout_ms, redis_message_cb cb, void *arg,
                             uint64_t *id)
{
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w) {
        return SC_ENOMEM;
    }
    pthread_mutex_lock(&sub.state);
    sc_code rc = sub.stop && sub.running ? SC_EUNAVAIL : subscriber_start();
    struct channel *ch = rc == SC_OK ? find_channel(channel, strlen(channel)) : NULL;
    if (rc == SC_OK && !ch) {
        ch = calloc(1, sizeof(*ch));
        if (!ch || !(ch->name = strdup(channel))) {
            free(ch);
            ch = NULL;
            rc = SC_ENOMEM;
        } else {
            ch->next = sub.channels;
            sub.channels = ch;
        }
    }
    if (rc != SC_OK) {
        pthread_mutex_unlock(&sub.state);
        free(w);
        return rc;
    }
    enum waiter_state seen = ch->confirmed ? ARMED : PENDING;
    *w = (struct waiter){.id = ++sub.next_id,
                         .ch = ch,
                         .deadline_ms = now_ms() + timeout_ms,
                         .state = seen,
                         .result = SC_OK,
                         .seen = &seen,
                         .cb = cb,
                         .arg = arg,
                         .next = sub.waiters};
    *id = w->id;
    sub.waiters = w;
    ch->waiters++;
    if (seen == PENDING) {
        wake();
        while (seen == PENDING) {
            pthread_cond_wait(&sub.changed, &sub.state);
        }
    }
    /* Only a FAILED waiter is still ours to read (it is out of the list). */
    rc = seen == FAILED ? w->result : SC_OK;
    pthread_mutex_unlock(&sub.state);
    if (rc != SC_OK) {
        free(w); /* a FAILED waiter is already out of the list */
    }
    return rc;
}

int redis_subscribe_cancel(uint64_t id)
{
    int found = 0;
    pthread_mutex_lock(&sub.dispatch);
    pthread_mutex_lock(&sub.state);
    for (struct waiter *w = sub.waiters; w; w = w->next) {
        if (w->id == id) {
            unlink_waiter(w);
            free(w);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&sub.state);
    pthread_mutex_unlock(&sub.dispatch);
    if (found) {
        wake(); /* its channel may now be unsubscribed */
    }
    return found;
}

struct blocking {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
    sc_code rc;
    char *msg;
    size_t len;
};

static void on_blocking(void *arg, sc_code rc, const char *msg, size_t len)
{
    struct blocking *b = arg;
    pthread_mutex_lock(&b->lock);
    b->rc = rc;
    if (rc == SC_OK) {
        b->msg = malloc(len + 1);
        if (b->msg) {
            memcpy(b->msg, msg, len);
            b->msg[len] = '\0';
            b->len = len;
        } else {
            b->rc = SC_ENOMEM;
        }
    }
    b->done = 1;
    pthread_cond_signal(&b->done_cond);
    pthread_mutex_unlock(&b->lock);
}

sc_code redis_wait_message(const char *channel, int timeout_ms, int (*ready)(void *arg), void *arg,
                           char **msg, size_t *len)
{
    struct blocking b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, SC_OK, NULL, 0};
    uint64_t id;
    *msg = NULL;
    if (len) {
        *len = 0;
    }
    sc_code rc = redis_subscribe_once(channel, timeout_ms, on_blocking, &b, &id);
    if (rc != SC_OK) {
        return rc;
    }
    if (ready && ready(arg) && redis_subscribe_cancel(id)) {
        return SC_OK;
    }
    /* The subscriber thread ends every waiter by its deadline, so this wait is bounded. */
    pthread_mutex_lock(&b.lock);
    while (!b.done) {
        pthread_cond_wait(&b.done_cond, &b.lock);
    }
    pthread_mutex_unlock(&b.lock);
    *msg = b.msg;
    if (len) {
        *len = b.len;
    }
    return b.rc;
}
