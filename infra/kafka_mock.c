/* smartcart-kafka-mock: hosts librdkafka's in-memory mock cluster for the
 * local stack and tests. It speaks the real Kafka protocol, so the services
 * use their production code paths; data lives only as long as this process.
 * Writes the bootstrap address to --bootstrap-file, runs until SIGTERM/SIGINT. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *bootstrap_file = NULL;
    int brokers = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bootstrap-file") && i + 1 < argc) {
            bootstrap_file = argv[++i];
        } else if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            brokers = atoi(argv[++i]);
        } else {
            fprintf(stderr,
                    "usage: %s --bootstrap-file PATH [--brokers N]\n"
                    "Hosts an in-memory Kafka cluster (librdkafka mock) for development and "
                    "tests.\n",
                    argv[0]);
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (!bootstrap_file || brokers < 1) {
        fprintf(stderr, "--bootstrap-file is required\n");
        return 2;
    }

    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);

    /* Write then rename, so a reader never sees a half-written address. */
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", bootstrap_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n", bootstraps) < 0 || fclose(f) != 0 ||
        rename(tmp, bootstrap_file) != 0) {
        perror(bootstrap_file);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 1;
    }
    fprintf(stderr, "{\"msg\":\"kafka mock cluster up\",\"bootstrap\":\"%s\",\"brokers\":%d}\n",
            bootstraps, brokers);

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    while (!stop) {
        pause();
    }
    /* The file may name a successor already (a restart that did not wait):
     * remove it only while it still names this cluster. */
    char named[4096] = "";
    f = fopen(bootstrap_file, "r");
    if (f && fgets(named, sizeof(named), f)) {
        named[strcspn(named, "\n")] = '\0';
        if (!strcmp(named, bootstraps)) {
            unlink(bootstrap_file);
        }
    }
    if (f) {
        fclose(f);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
