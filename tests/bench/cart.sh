#!/usr/bin/env bash
# `make bench` suite "cart" (issue 5; DESIGN "Waiting is not free"):
#  - check-qr polling at 64 concurrent pollers beside redis-benchmark GET at
#    64 clients against the same Redis (one Redis read per request: the ceiling);
#  - PATCH /sessions/{id}/items from 200 cart devices at 5 patches/s each,
#    open loop (tests/bench/loadgen), one cart worker (it applies the commands
#    it has fetched several per transaction; WORKER_BATCH_MAX=1 in the
#    environment measures one per transaction), beside one cart alone
#    sending one PATCH after another;
#  - starvation: /healthz and /products/{id} while 300 PATCHes wait for a cart
#    worker that is not running, beside the same probes without them.
# Run by tests/bench/run.sh (which writes $state/paths_get).
. tests/bench/lib.sh
ncarts=${BENCH_CARTS:-200}
nwaiters=${BENCH_WAITERS:-300}
start_ingest

echo
echo "== check-qr polling (issue 5): 64 concurrent pollers with the poll secret, ${secs}s"
qr=$(curl -sf -X POST "$api/sessions/generate-qr")
token=$(jq -r .token <<<"$qr")
printf '/sessions/check-qr?token=%s\n' "$token" >"$state/paths_checkqr"
poll=$(BENCH_PATHS="$state/paths_checkqr" wrk -t2 -c64 -d"${secs}s" --timeout 5s \
    -H "X-Poll-Secret: $(jq -r .poll_secret <<<"$qr")" -s tests/bench/catalog_paths.lua "$api" |
    grep '^RESULT')
# The ceiling reads a value of the same size as the token's record.
redis=(redis-cli -h 127.0.0.1 -p "$STACK_REDIS_PORT")
"${redis[@]}" SET 'key:__rand_int__' "$("${redis[@]}" GET "qr:$token")" >/dev/null
rb=$(redis-benchmark -h 127.0.0.1 -p "$STACK_REDIS_PORT" -c 64 -n $((20000 * secs)) -t get --csv |
    awk -F'"' '$2 == "GET" { printf "RESULT rps=%.0f p50_ms=%s p99_ms=%s\n", $4, $10, $14 }')
show "GET /sessions/check-qr" "$poll"
show "ceiling: redis-benchmark -t get -c 64, same Redis" "$rb"
ratio "check-qr / Redis GETs" "$(field rps "$poll")" "$(field rps "$rb")" 50

echo
echo "== cart PATCH (issue 5): $ncarts cart devices x 5 PATCH/s each, open loop, ${secs}s," \
    "one cart worker (WORKER_BATCH_MAX ${WORKER_BATCH_MAX:-100}); latency from when each PATCH" \
    "was due (load $(cut -d' ' -f1 /proc/loadavg))"
client carts "$ncarts" "$state/carts.lines"
start_worker cart
worker=$started
# The worker has joined its group once a PATCH is answered 200 (not 202).
IFS=$'\t' read -r path body h1 h2 <"$state/carts.lines"
for _ in $(seq 1 30); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "$h1" -H "$h2" -d "$body" "$api$path")
    [[ $code == 200 ]] && break
done
# The floor: one cart sending its next PATCH as soon as the last one is
# answered (closed loop), so nothing queues behind a slow answer.
alone=$("$loadgen" -c 1 -d 5 -X PATCH -L "$state/carts.lines" "$api")
patch=$("$loadgen" -c "$ncarts" -r 5 -w 2 -d "$secs" -X PATCH -L "$state/carts.lines" "$api")
stop "$worker"
show "PATCH /sessions/{id}/items, $ncarts carts" "$patch"
show "floor: one cart alone, one PATCH after another" "$alone"
awk -v f="$(field p50_ms "$alone")" -v p="$(field p50_ms "$patch")" \
    'BEGIN { printf "  ratio: p50 under load = %.1f x the floor\n", (f > 0 ? p / f : 0) }'

echo
echo "== starvation (DESIGN \"Waiting is not free\"): quick requests at 100/s each, open loop," \
    "10s, without and with $nwaiters PATCHes waiting (no cart worker: each waits" \
    "CART_PATCH_WAIT_MS, then 202; their commands go to a topic nothing consumes)"
start_ingest KAFKA_TOPIC_CART=$unconsumed.cart
probe() { # suffix: results in $state/probe_{health,product}_suffix
    local h p
    "$loadgen" -c 4 -r 25 -d 10 "$api/healthz" >"$state/probe_health_$1" &
    h=$!
    "$loadgen" -c 4 -r 25 -d 10 -L "$state/paths_get" -m request "$api" >"$state/probe_product_$1" &
    p=$!
    wait "$h"
    wait "$p"
}
probe alone
"$loadgen" -c "$nwaiters" -w 3 -d 12 -X PATCH -L "$state/carts.lines" "$api" >"$state/waiters" &
waiters=$!
sleep 3
probe loaded
wait "$waiters"
for what in health product; do
    label=$([[ $what == health ]] && echo "GET /healthz" || echo "GET /products/{id}")
    quiet=$(cat "$state/probe_${what}_alone")
    loaded=$(cat "$state/probe_${what}_loaded")
    show "$label, alone" "$quiet"
    show "$label, with $nwaiters PATCHes waiting" "$loaded"
    awk -v a="$(field p50_ms "$quiet")" -v b="$(field p50_ms "$loaded")" \
        -v c="$(field p99_ms "$quiet")" -v d="$(field p99_ms "$loaded")" \
        'BEGIN { printf "  ratio: with waiters / alone = %.1f x at p50, %.1f x at p99\n",
                 (a > 0 ? b / a : 0), (c > 0 ? d / c : 0) }'
done
show "the waiting PATCHes (closed loop, $nwaiters clients)" "$(cat "$state/waiters")"
