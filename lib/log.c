/* JSON-lines logger. Each line is built in memory and written with one
 * write(2) so lines from concurrent threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *component = "smartcart";
static _Thread_local char request_id[64];

static const char *level_names[] = {"debug", "info", "warn", "error"};

int log_set_level(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (!strcmp(name, level_names[i])) {
            min_level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_set_component(const char *name)
{
    component = name;
}

void log_set_request_id(const char *id)
{
    snprintf(request_id, sizeof(request_id), "%s", id ? id : "");
}

const char *log_request_id(void)
{
    return request_id;
}

void log_json(enum log_level level, const char *msg, json_t *fields)
{
    if (level < min_level) {
        json_decref(fields);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);

    json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ts", when, "level", level_names[level],
                             "component", component, "request_id", request_id, "msg", msg);
    if (!line) {
        json_decref(fields);
        return;
    }
    if (fields) {
        json_object_update_missing(line, fields);
        json_decref(fields);
    }
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(line);
    if (!text) {
        return;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps leaves room: the terminating NUL is replaced */
    ssize_t w = write(STDERR_FILENO, text, len + 1);
    (void)w;
    free(text);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < min_level) {
        return;
    }
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_json(level, buf, NULL);
}
