/* Structured logging: one JSON object per line on stderr, always carrying
 * the request id of the current thread (set by ingest per request and by the
 * worker runtime per message), so one id follows a request across tiers. */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <jansson.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the minimum level from its name ("debug", "info", "warn", "error").
 * Returns 0 on success, -1 for an unknown name. */
int log_set_level(const char *name);

/* Names the process in every line ("ingest", "worker.media", ...). */
void log_set_component(const char *component);

/* The request id of the calling thread; "" when none. Copies at most 63 bytes. */
void log_set_request_id(const char *id);
const char *log_request_id(void);

/* Writes {"ts","level","component","request_id","msg", ...fields}.
 * fields (may be NULL) is a JSON object whose members are merged in; the
 * reference is stolen. */
void log_json(enum log_level level, const char *msg, json_t *fields);

/* printf-style message without extra fields. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
