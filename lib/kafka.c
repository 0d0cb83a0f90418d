/* librdkafka adapter: the process-wide idempotent producer with a call that
 * waits for one message's delivery report, and consumer primitives with
 * manual offset storing. Nothing else in the code base includes rdkafka.h. */
#include "kafka.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"

/* message.timeout.ms bounds a delivery; the waiter allows this much more so
 * the report, not the waiter's clock, decides the outcome in normal cases,
 * yet a lost report can never hang a caller. */
#define DELIVERY_WAIT_MARGIN_MS 2000
/* Stored offsets reach the broker this often; a crashed worker redelivers at
 * most this much finished work (deduplicated by processed_messages). */
#define AUTO_COMMIT_INTERVAL_MS "1000"

/* One produce_sync() call waiting for its delivery report. Shared by the
 * caller and the report callback; whichever lets go last frees it. */
struct delivery {
    pthread_cond_t done_cond;
    int done;
    int refs;
    rd_kafka_resp_err_t err;
};

static struct {
    rd_kafka_t *rk;
    pthread_t poller;
    atomic_int stop;
    pthread_mutex_t lock; /* guards every struct delivery */
} producer = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_ulong produce_errors;

struct kafka_consumer {
    rd_kafka_t *rk;
};

/* A kafka_message together with the librdkafka message its pointers borrow from. */
struct owned_message {
    struct kafka_message pub;
    rd_kafka_message_t *rkm;
};

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* syslog levels. librdkafka retries what it logs as errors (fatal ones
     * reach on_error), so they are warnings for us. */
    enum log_level l = level <= 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    log_json(l, "librdkafka", json_pack("{s:s, s:s}", "facility", fac, "detail", buf));
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    char fatal[256] = "";
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    }
    /* Broker connection errors are retried by librdkafka; only fatal ones stay. */
    log_json(err == RD_KAFKA_RESP_ERR__FATAL ? LOG_ERROR : LOG_WARN, "kafka error",
             json_pack("{s:s, s:s, s:s}", "error", rd_kafka_err2name((rd_kafka_resp_err_t)err),
                       "reason", reason, "fatal", fatal));
}

static sc_code code_of(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return SC_OK;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return SC_ETIMEOUT;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return SC_ETOOBIG;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
        return SC_EINVAL;
    default:
        return SC_EUNAVAIL;
    }
}

/* Builds a configuration with the settings both client kinds share.
 * NULL (logged) when a property is rejected. */
static rd_kafka_conf_t *new_conf(const char *const *props)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    const char *common[] = {"bootstrap.servers",    cfg.kafka_brokers, "client.id", "smartcart",
                            "log.connection.close", "false",           NULL};
    for (int pass = 0; pass < 2; pass++) {
        const char *const *p = pass ? props : common;
        for (; *p; p += 2) {
            if (rd_kafka_conf_set(conf, p[0], p[1], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                log_json(LOG_ERROR, "kafka configuration rejected",
                         json_pack("{s:s, s:s}", "property", p[0], "error", errstr));
                rd_kafka_conf_destroy(conf);
                return NULL;
            }
        }
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    return conf;
}

static void delivery_free(struct delivery *d)
{
    pthread_cond_destroy(&d->done_cond);
    free(d);
}

/* Wakes the produce_sync() caller that waits for this message. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct delivery *d = m->_private;
    pthread_mutex_lock(&producer.lock);
    d->err = m->err;
    d->done = 1;
    pthread_cond_signal(&d->done_cond);
    int last = --d->refs == 0;
    pthread_mutex_unlock(&producer.lock);
    if (last) {
        delivery_free(d);
    }
}

static void *poll_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&producer.stop)) {
        rd_kafka_poll(producer.rk, 100);
    }
    return NULL;
}

sc_code kafka_producer_init(void)
{
    char timeout[24], errstr[512];
    snprintf(timeout, sizeof(timeout), "%lld", cfg.kafka_delivery_timeout_ms);
    const char *props[] = {"enable.idempotence", "true",  "acks", "all", "linger.ms", "0",
                           "message.timeout.ms", timeout, NULL};
    rd_kafka_conf_t *conf = new_conf(props);
    if (!conf) {
        return SC_EINVAL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    producer.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!producer.rk) {
        rd_kafka_conf_destroy(conf);
        log_json(LOG_ERROR, "kafka producer not created", json_pack("{s:s}", "error", errstr));
        return SC_EINTERNAL;
    }
    atomic_store(&producer.stop, 0);
    if (pthread_create(&producer.poller, NULL, poll_loop, NULL) != 0) {
        rd_kafka_destroy(producer.rk);
        producer.rk = NULL;
        return SC_ENOMEM;
    }
    return SC_OK;
}

void kafka_producer_close(void)
{
    if (!producer.rk) {
        return;
    }
    atomic_store(&producer.stop, 1);
    pthread_join(producer.poller, NULL);
    /* flush serves the remaining delivery reports itself, so every waiter
     * gets its answer; purging what is left after the bound does the same. */
    int wait_ms = (int)cfg.kafka_delivery_timeout_ms + DELIVERY_WAIT_MARGIN_MS;
    if (rd_kafka_flush(producer.rk, wait_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_purge(producer.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(producer.rk, DELIVERY_WAIT_MARGIN_MS);
    }
    rd_kafka_destroy(producer.rk);
    producer.rk = NULL;
}

sc_code kafka_ping(int timeout_ms)
{
    if (!producer.rk) {
        return SC_EUNAVAIL;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer.rk, 0, NULL, &md, timeout_ms);
    if (md) {
        rd_kafka_metadata_destroy(md);
    }
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? SC_OK : SC_EUNAVAIL;
}

unsigned long kafka_produce_errors(void)
{
    return atomic_load(&produce_errors);
}

/* Waits for d's report until the delivery timeout plus margin; drops the
 * caller's reference. */
static rd_kafka_resp_err_t await_delivery(struct delivery *d)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long long ms = cfg.kafka_delivery_timeout_ms + DELIVERY_WAIT_MARGIN_MS;
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&producer.lock);
    while (!d->done) {
        if (pthread_cond_timedwait(&d->done_cond, &producer.lock, &until) != 0) {
            break;
        }
    }
    rd_kafka_resp_err_t err = d->done ? d->err : RD_KAFKA_RESP_ERR__TIMED_OUT;
    int last = --d->refs == 0;
    pthread_mutex_unlock(&producer.lock);
    if (last) {
        delivery_free(d);
    }
    return err;
}

static struct delivery *delivery_new(void)
{
    struct delivery *d = calloc(1, sizeof(*d));
    if (!d) {
        return NULL;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&d->done_cond, &attr);
    pthread_condattr_destroy(&attr);
    d->refs = 2; /* the caller and the delivery report */
    return d;
}

sc_code kafka_produce_sync(const char *topic, const char *key, size_t keylen, const void *payload,
                           size_t len, const struct kafka_header *headers, size_t nheaders)
{
    sc_code rc = SC_EUNAVAIL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__STATE;
    struct delivery *d = NULL;
    rd_kafka_headers_t *hdrs = NULL;
    if (!producer.rk) {
        goto out;
    }
    rc = SC_ENOMEM;
    d = delivery_new();
    hdrs = rd_kafka_headers_new(nheaders);
    if (!d || !hdrs) {
        goto out;
    }
    for (size_t i = 0; i < nheaders; i++) {
        rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value, (ssize_t)headers[i].len);
    }
    err = rd_kafka_producev(
        producer.rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? keylen : 0),
        RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rc = code_of(err);
        goto out;
    }
    hdrs = NULL; /* librdkafka owns them once the message is accepted */
    err = await_delivery(d);
    d = NULL;
    rc = code_of(err);
out:
    if (hdrs) {
        rd_kafka_headers_destroy(hdrs);
    }
    if (d) { /* the message was never accepted: no report will come */
        delivery_free(d);
    }
    if (rc != SC_OK) {
        atomic_fetch_add(&produce_errors, 1);
        log_json(LOG_WARN, "kafka produce failed",
                 json_pack("{s:s, s:s, s:s}", "topic", topic, "error", sc_strerror(rc), "kafka",
                           rd_kafka_err2name(err)));
    }
    return rc;
}

sc_code kafka_consumer_open(const char *group, const char *topic, kafka_consumer **out)
{
    *out = NULL;
    char session[24], heartbeat[24], fetch_wait[24], errstr[512];
    snprintf(session, sizeof(session), "%lld", cfg.kafka_session_timeout_ms);
    snprintf(fetch_wait, sizeof(fetch_wait), "%lld", cfg.kafka_fetch_wait_max_ms);
    /* The broker expects a heartbeat well inside the session timeout. */
    snprintf(heartbeat, sizeof(heartbeat), "%lld", cfg.kafka_session_timeout_ms / 3);
    const char *props[] = {"group.id", group, "enable.auto.offset.store", "false",
                           "enable.auto.commit", "true", "auto.commit.interval.ms",
                           AUTO_COMMIT_INTERVAL_MS, "auto.offset.reset", "earliest",
                           "session.timeout.ms", session, "heartbeat.interval.ms", heartbeat,
                           "fetch.wait.max.ms", fetch_wait,
                           /* a worker may start before anything was produced to its topic */
                           "allow.auto.create.topics", "true", NULL};
    rd_kafka_conf_t *conf = new_conf(props);
    if (!conf) {
        return SC_EINVAL;
    }
    kafka_consumer *c = calloc(1, sizeof(*c));
    if (!c) {
        rd_kafka_conf_destroy(conf);
        return SC_ENOMEM;
    }
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        free(c);
        log_json(LOG_ERROR, "kafka consumer not created", json_pack("{s:s}", "error", errstr));
        return SC_EINTERNAL;
    }
    rd_kafka_poll_set_consumer(c->rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_json(LOG_ERROR, "kafka subscribe failed",
                 json_pack("{s:s, s:s}", "topic", topic, "error", rd_kafka_err2str(err)));
        kafka_consumer_close(c);
        return SC_EUNAVAIL;
    }
    *out = c;
    return SC_OK;
}

/* Wraps rkm in our own message type; takes ownership of rkm. */
static struct kafka_message *wrap_message(rd_kafka_message_t *rkm)
{
    struct owned_message *m = calloc(1, sizeof(*m));
    rd_kafka_headers_t *hdrs = NULL;
    if (!m) {
        rd_kafka_message_destroy(rkm);
        return NULL;
    }
    m->rkm = rkm;
    m->pub.topic = rd_kafka_topic_name(rkm->rkt);
    m->pub.partition = rkm->partition;
    m->pub.offset = rkm->offset;
    m->pub.key = rkm->key;
    m->pub.keylen = rkm->key_len;
    m->pub.payload = rkm->payload ? rkm->payload : "";
    m->pub.len = rkm->len;
    if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        size_t n = rd_kafka_header_cnt(hdrs);
        m->pub.headers = calloc(n ? n : 1, sizeof(*m->pub.headers));
        if (!m->pub.headers) {
            kafka_message_free(&m->pub);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            struct kafka_header *h = &m->pub.headers[i];
            rd_kafka_header_get_all(hdrs, i, &h->name, &h->value, &h->len);
            if (!h->value) {
                h->value = "";
            }
        }
        m->pub.nheaders = n;
    }
    return &m->pub;
}

sc_code kafka_consumer_poll(kafka_consumer *c, int timeout_ms, struct kafka_message **out)
{
    *out = NULL;
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (!rkm) {
        return SC_OK;
    }
    if (rkm->err) {
        rd_kafka_resp_err_t err = rkm->err;
        log_json(LOG_WARN, "kafka consumer error",
                 json_pack("{s:s, s:s}", "error", rd_kafka_err2name(err), "detail",
                           rd_kafka_message_errstr(rkm)));
        rd_kafka_message_destroy(rkm);
        return err == RD_KAFKA_RESP_ERR__FATAL ? SC_EUNAVAIL : SC_OK;
    }
    *out = wrap_message(rkm);
    return *out ? SC_OK : SC_ENOMEM;
}

sc_code kafka_consumer_store(kafka_consumer *c, const struct kafka_message *m)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_add(list, m->topic, m->partition);
    tp->offset = m->offset + 1; /* a committed offset names the next message to read */
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, list);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        err = tp->err;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        return SC_OK;
    }
    return err == RD_KAFKA_RESP_ERR__STATE ? SC_ECONFLICT : code_of(err);
}

void kafka_consumer_close(kafka_consumer *c)
{
    if (!c) {
        return;
    }
    /* Commit before leaving: once this member leaves, the group rebalances
     * and a commit from the closing consumer may be refused. */
    rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        log_json(LOG_WARN, "kafka final commit failed",
                 json_pack("{s:s}", "error", rd_kafka_err2str(err)));
    }
    err = rd_kafka_consumer_close(c->rk);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_json(LOG_WARN, "kafka consumer close",
                 json_pack("{s:s}", "error", rd_kafka_err2str(err)));
    }
    rd_kafka_destroy(c->rk);
    free(c);
}

void kafka_message_free(struct kafka_message *pub)
{
    if (!pub) {
        return;
    }
    struct owned_message *m = (struct owned_message *)pub; /* pub is its first member */
    free(m->pub.headers);
    rd_kafka_message_destroy(m->rkm);
    free(m);
}

const struct kafka_header *kafka_message_header(const struct kafka_message *m, const char *name)
{
    for (size_t i = m->nheaders; i-- > 0;) {
        if (!strcmp(m->headers[i].name, name)) {
            return &m->headers[i];
        }
    }
    return NULL;
}
