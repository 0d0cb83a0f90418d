/* HTTP load generator for `make bench` where wrk cannot express the test:
 * open-loop pacing (each client sends at a fixed rate whether or not the
 * server keeps up, and latency counts from the moment a request was due, so
 * a slow server is not hidden by clients that wait for it: no coordinated
 * omission), a different credential and body per client or per request, and
 * SigV4-signed S3 PUTs to distinct keys. One thread drives every client
 * through libcurl's multi interface; each client keeps its own keep-alive
 * connection.
 *
 * usage: loadgen [options] BASE_URL
 *   -c N        clients (connections), default 1
 *   -d S        measured seconds, default 10; -w S warm-up seconds before them
 *   -r R        requests/s per client (open loop); 0 (default) = closed loop
 *   -X METHOD   default GET, or POST when there is a body
 *   -H HEADER   added to every request (repeatable)
 *   -b FILE     body of every request
 *   -L FILE     request lines "path<TAB>body<TAB>header<TAB>header...", the
 *               path appended to BASE_URL; -m client (default): client i
 *               always sends line i mod n; -m request: each request the next
 *   -s PROVIDER SigV4-sign as curl's --aws-sigv4 (e.g. aws:amz:us-east-1:s3)
 *               with -u KEY:SECRET
 * "{n}" in the URL becomes a counter, so each PUT has its own key.
 * Prints one line: RESULT rps= p50_ms= p99_ms= max_ms= n= errors= late=
 * codes=... (errors: transport failures and statuses >= 400; late: open-loop
 * requests sent after they were due because their client was still busy). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "latency.h"

#define MAX_HEADERS 16
#define REQUEST_TIMEOUT_MS 30000L

struct line {
    char *path;
    char *body; /* "" when none */
    char *headers[MAX_HEADERS];
    int nheaders;
};

struct client {
    CURL *h;
    struct curl_slist *hdrs;
    int busy;
    double due;    /* open loop: when the next request is due */
    double origin; /* what the request in flight is timed from */
    char *url;
};

struct options {
    int clients;
    double seconds, warmup, rate;
    const char *method, *body_file, *lines_file, *sigv4, *userpwd, *base;
    int per_request;
    char *headers[MAX_HEADERS];
    int nheaders;
};

struct stats {
    struct latencies lat;
    long errors, late, codes[600];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size = -1;
    if (f && !fseek(f, 0, SEEK_END) && (size = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET) &&
        (buf = malloc((size_t)size + 1)) && fread(buf, 1, (size_t)size, f) == (size_t)size) {
        buf[size] = '\0';
        *len = (size_t)size;
    } else {
        free(buf);
        buf = NULL;
    }
    if (f) {
        fclose(f);
    }
    return buf;
}

/* Splits the text of a lines file in place; the lines point into text. */
static struct line *parse_lines(char *text, size_t *n)
{
    size_t cap = 0;
    struct line *lines = NULL;
    *n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            struct line *grown = realloc(lines, cap * sizeof(*lines));
            if (!grown) {
                free(lines);
                return NULL;
            }
            lines = grown;
        }
        struct line *x = &lines[(*n)++];
        memset(x, 0, sizeof(*x));
        x->path = l;
        x->body = "";
        char *tab = strchr(l, '\t');
        for (int field = 1; tab; field++) {
            *tab = '\0';
            char *v = tab + 1;
            tab = strchr(v, '\t');
            if (field == 1) {
                x->body = v;
            } else if (x->nheaders < MAX_HEADERS) {
                x->headers[x->nheaders++] = v;
            }
        }
    }
    return lines;
}

/* The URL of a request: base + path with "{n}" replaced by seq (caller frees). */
static char *make_url(const char *base, const char *path, long seq)
{
    char *joined = NULL, *url = NULL;
    if (asprintf(&joined, "%s%s", base, path) < 0) {
        return NULL;
    }
    char *mark = strstr(joined, "{n}");
    if (!mark) {
        return joined;
    }
    *mark = '\0';
    if (asprintf(&url, "%s%ld%s", joined, seq, mark + 3) < 0) {
        url = NULL;
    }
    free(joined);
    return url;
}

static int start(CURLM *m, struct client *c, const struct options *o, const struct line *line,
                 const char *body, size_t body_len, long seq)
{
    const char *path = line ? line->path : "";
    if (line && *line->body) {
        body = line->body;
        body_len = strlen(body);
    }
    free(c->url);
    curl_slist_free_all(c->hdrs);
    c->hdrs = NULL;
    if (!(c->url = make_url(o->base, path, seq))) {
        return -1;
    }
    for (int i = 0; i < o->nheaders; i++) {
        c->hdrs = curl_slist_append(c->hdrs, o->headers[i]);
    }
    for (int i = 0; line && i < line->nheaders; i++) {
        c->hdrs = curl_slist_append(c->hdrs, line->headers[i]);
    }
    /* No round trip for "100 Continue" before a body; curl 7.88 signs a
     * removed header as if it were sent, so a signed request keeps it (curl
     * asks for 100 Continue only above 1 MiB). */
    if (!o->sigv4) {
        c->hdrs = curl_slist_append(c->hdrs, "Expect:");
    }
    const char *method = o->method ? o->method : body ? "POST" : "GET";
    curl_easy_setopt(c->h, CURLOPT_URL, c->url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
    if (body) {
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    } else {
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
    c->busy = 1;
    return curl_multi_add_handle(m, c->h) == CURLM_OK ? 0 : -1;
}

static int record(struct stats *s, double latency, long code, int failed)
{
    if (failed || code >= 400) {
        s->errors++;
    }
    if (code > 0 && code < 600) {
        s->codes[code]++;
    }
    return latencies_add(&s->lat, latency);
}

static void report(struct stats *s, double seconds)
{
    latencies_print(&s->lat, seconds);
    printf(" errors=%ld late=%ld codes=", s->errors, s->late);
    const char *sep = "";
    for (int code = 0; code < 600; code++) {
        if (s->codes[code]) {
            printf("%s%d:%ld", sep, code, s->codes[code]);
            sep = ",";
        }
    }
    printf("\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
    int opt;
    *o = (struct options){.clients = 1, .seconds = 10};
    while ((opt = getopt(argc, argv, "c:d:w:r:X:H:b:L:m:s:u:")) != -1) {
        switch (opt) {
        case 'c':
            o->clients = atoi(optarg);
            break;
        case 'd':
            o->seconds = atof(optarg);
            break;
        case 'w':
            o->warmup = atof(optarg);
            break;
        case 'r':
            o->rate = atof(optarg);
            break;
        case 'X':
            o->method = optarg;
            break;
        case 'H':
            if (o->nheaders == MAX_HEADERS) {
                return -1;
            }
            o->headers[o->nheaders++] = optarg;
            break;
        case 'b':
            o->body_file = optarg;
            break;
        case 'L':
            o->lines_file = optarg;
            break;
        case 'm':
            o->per_request = !strcmp(optarg, "request");
            break;
        case 's':
            o->sigv4 = optarg;
            break;
        case 'u':
            o->userpwd = optarg;
            break;
        default:
            return -1;
        }
    }
    o->base = optind == argc - 1 ? argv[optind] : NULL;
    return o->base && o->clients > 0 && o->seconds > 0 && o->rate >= 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct options o;
    struct stats s = {0};
    char *body = NULL, *lines_text = NULL;
    size_t body_len = 0, text_len = 0, nlines = 0;
    struct line *lines = NULL;
    if (parse_options(argc, argv, &o)) {
        fprintf(stderr, "usage: loadgen [-c clients] [-d s] [-w s] [-r rate] [-X method] "
                        "[-H header]... [-b file] [-L file [-m client|request]] "
                        "[-s provider -u key:secret] BASE_URL\n");
        return 2;
    }
    if ((o.body_file && !(body = slurp(o.body_file, &body_len))) ||
        (o.lines_file && (!(lines_text = slurp(o.lines_file, &text_len)) ||
                          !(lines = parse_lines(lines_text, &nlines)) || !nlines))) {
        fprintf(stderr, "loadgen: cannot read %s\n",
                o.body_file && !body ? o.body_file : o.lines_file);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)o.clients + 8);
    struct client *clients = calloc((size_t)o.clients, sizeof(*clients));
    double t0 = now_s(), from = t0 + o.warmup, until = from + o.seconds;
    double period = o.rate > 0 ? 1 / o.rate : 0;
    srand((unsigned)time(NULL));
    for (int i = 0; clients && i < o.clients; i++) {
        CURL *h = curl_easy_init();
        clients[i].h = h;
        /* Open loop: spread the clients' first requests over one period. */
        clients[i].due = t0 + period * rand() / RAND_MAX;
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h, CURLOPT_PRIVATE, &clients[i]);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
        if (o.sigv4) {
            curl_easy_setopt(h, CURLOPT_AWS_SIGV4, o.sigv4);
            curl_easy_setopt(h, CURLOPT_USERPWD, o.userpwd);
        }
    }
    long seq = 0;
    int running = 0, failed = !clients;
    double now = t0;
    while (!failed && (now < until || running)) {
        /* Start every client that may send now; wait: until the next is due. */
        double wait = 0.1;
        for (int i = 0; i < o.clients && now < until && !failed; i++) {
            struct client *c = &clients[i];
            if (c->busy) {
                continue;
            }
            if (period && c->due > now) {
                wait = c->due - now < wait ? c->due - now : wait;
                continue;
            }
            c->origin = period ? c->due : now;
            if (period && now - c->due > 0.001) {
                s.late += c->origin >= from;
            }
            c->due += period;
            const struct line *line =
                lines ? &lines[(o.per_request ? (size_t)seq : (size_t)i) % nlines] : NULL;
            failed = start(m, c, &o, line, body, body_len, seq++);
            running++;
        }
        int still;
        if (running) {
            curl_multi_poll(m, NULL, 0, (int)(wait * 1000) + 1, NULL);
            curl_multi_perform(m, &still);
        } else if (now < until) {
            usleep((useconds_t)(wait * 1e6));
        }
        now = now_s();
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            struct client *c;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            int bad = msg->data.result != CURLE_OK;
            curl_multi_remove_handle(m, msg->easy_handle);
            c->busy = 0;
            running--;
            if (c->origin >= from && c->origin < until && record(&s, now - c->origin, code, bad)) {
                failed = 1;
            }
        }
    }
    if (!failed) {
        report(&s, o.seconds);
    }
    for (int i = 0; clients && i < o.clients; i++) {
        curl_easy_cleanup(clients[i].h);
        curl_slist_free_all(clients[i].hdrs);
        free(clients[i].url);
    }
    curl_multi_cleanup(m);
    curl_global_cleanup();
    free(clients);
    free(lines);
    free(lines_text);
    free(body);
    latencies_free(&s.lat);
    return failed;
}
