#!/usr/bin/env bash
# `make bench` suite "webhooks" (issue 6): p50/p99 from a correctly signed
# PayOS webhook to `completed` at /checkout/status/{order_id} with one payment
# worker, at 20 webhooks/s and alone; then accepted webhooks/s (signature
# check + produce + ack) at 32 concurrent senders with no worker running,
# beside two ceilings: 32 threads doing nothing but the produce-and-wait the
# handler does (tests/bench/produce_bench) and GET /healthz on the same ingest
# at 32 clients (HTTP alone). Run by tests/bench/run.sh.
. tests/bench/lib.sh
export PAYOS_CHECKSUM_KEY=${PAYOS_CHECKSUM_KEY:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}
start_ingest

echo
echo "== webhook -> completed (issue 6): one payment worker; latency from sending the webhook to" \
    "/checkout/status answering completed (polled every 2 ms)"
# No reconciler: PayOS itself is not reachable from the bench.
start_worker payment PAYOS_RECONCILE_INTERVAL_S=0
worker=$started
e2e=$(client webhook-e2e 20 "$secs")
calm=$(client webhook-e2e 2 5)
stop "$worker"
row() {
    printf '  %-52s p50 %8s ms  p99 %8s ms  n=%s unfinished=%s\n' "$1" "$(field p50_ms "$2")" \
        "$(field p99_ms "$2")" "$(field n "$2")" "$(field unfinished "$2")"
}
row "at 20 webhooks/s for ${secs}s" "$e2e"
row "floor: at 2 webhooks/s for 5s" "$calm"
awk -v f="$(field p50_ms "$calm")" -v p="$(field p50_ms "$e2e")" \
    'BEGIN { printf "  ratio: p50 at 20/s = %.1f x the floor\n", (f > 0 ? p / f : 0) }'

echo
echo "== webhook acceptance (issue 6): 32 concurrent senders, distinct signed transfers, ${secs}s;" \
    "no payment worker (the events go to a topic nothing consumes)"
start_ingest KAFKA_TOPIC_PAYMENTS=$unconsumed.payments
client webhook-bodies $((3000 * secs)) "$state/webhooks.lines"
hook=$("$loadgen" -c 32 -w 1 -d "$secs" -L "$state/webhooks.lines" -m request "$api")
bytes=$(head -1 "$state/webhooks.lines" | cut -f2 | wc -c)
produce=$("$BUILD/bench/produce_bench" 32 "$secs" "$bytes")
# The other bound: ingest's HTTP work alone (and this load generator's own rate).
http=$("$loadgen" -c 32 -w 1 -d 5 "$api/healthz")
show "POST /checkout/webhook/payos (200)" "$hook"
show "ceiling: kafka_produce_sync alone, 32 threads, $bytes B" "$produce"
show "ceiling: GET /healthz, 32 clients, same ingest" "$http"
lower=$(awk -v a="$(field rps "$produce")" -v b="$(field rps "$http")" 'BEGIN { print (a < b ? a : b) }')
ratio "webhooks / the lower ceiling" "$(field rps "$hook")" "$lower"
rm -f "$state/webhooks.lines"
