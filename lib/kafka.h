/* Kafka access (the only file that sees rd_kafka_* is kafka.c): an idempotent
 * producer with a produce-and-wait call, and the consumer primitives the
 * worker runtime builds on. Nothing here exposes librdkafka types. */
#ifndef SC_KAFKA_H
#define SC_KAFKA_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

/* One message header; value need not be NUL-terminated. */
struct kafka_header {
    const char *name;
    const void *value;
    size_t len;
};

/* Creates the process-wide producer from cfg (enable.idempotence, acks=all,
 * linger 0, message.timeout.ms = KAFKA_DELIVERY_TIMEOUT_MS) and its thread
 * that serves delivery reports. Connecting is lazy: unreachable brokers show
 * up as produce errors, not here. */
sc_code kafka_producer_init(void);
/* Flushes what is in flight (bounded by the delivery timeout) and destroys it. */
void kafka_producer_close(void);

/* SC_OK when the cluster answers a metadata request within timeout_ms. */
sc_code kafka_ping(int timeout_ms);

/* Produces one message and waits for its own delivery report. Safe from any
 * thread. key may be NULL; headers are copied. Never waits much longer than
 * KAFKA_DELIVERY_TIMEOUT_MS: SC_ETIMEOUT when the broker did not acknowledge
 * in time, SC_EUNAVAIL when Kafka is unusable, SC_ETOOBIG for an oversized
 * message. Every failure counts in kafka_produce_errors(). */
sc_code kafka_produce_sync(const char *topic, const char *key, size_t keylen, const void *payload,
                           size_t len, const struct kafka_header *headers, size_t nheaders);

/* Produce failures since start (for /metrics). */
unsigned long kafka_produce_errors(void);

/* A consumed message. Every pointer lives until kafka_message_free(). */
struct kafka_message {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key; /* NULL when the message has none */
    size_t keylen;
    const void *payload;
    size_t len;
    struct kafka_header *headers;
    size_t nheaders;
};

typedef struct kafka_consumer kafka_consumer;

/* Joins consumer group `group` and subscribes to topic. Offsets are committed
 * automatically, but only those stored with kafka_consumer_store(), so a
 * message is redelivered until its handler is done with it. A group without
 * committed offsets starts at the earliest message. *out is the caller's, to
 * be released with kafka_consumer_close(). */
sc_code kafka_consumer_open(const char *group, const char *topic, kafka_consumer **out);

/* Waits up to timeout_ms for the next message: SC_OK with *out set (the
 * caller frees it with kafka_message_free) or NULL when none came; broker
 * hiccups are logged and retried inside. SC_EUNAVAIL only for a fatal
 * consumer error, after which the consumer must be closed. */
sc_code kafka_consumer_poll(kafka_consumer *c, int timeout_ms, struct kafka_message **out);

/* Marks m as done: the next commit moves its partition past it.
 * SC_ECONFLICT when the partition was taken away by a rebalance meanwhile
 * (the new owner will see the message again). */
sc_code kafka_consumer_store(kafka_consumer *c, const struct kafka_message *m);

/* Commits the stored offsets, leaves the group and frees c. NULL is a no-op. */
void kafka_consumer_close(kafka_consumer *c);

void kafka_message_free(struct kafka_message *m);

/* The last header of m called name, or NULL. */
const struct kafka_header *kafka_message_header(const struct kafka_message *m, const char *name);

#endif
