#!/usr/bin/env bash
# `make bench` suite "uploads" (issue 3): end-to-end latency from the 202 to
# `ready` for 1-megapixel JPEGs at a steady 20 uploads/s with media workers in
# one consumer group (BENCH_MEDIA_WORKERS processes, default 2, as a store runs
# several: one process works on one job at a time, so a second one keeps the
# cores busy while the first waits on S3 or Postgres), beside the rate they
# made images ready; then at half that rate (beside image_process of that
# file alone); then upload acceptance of a
# 200 KB JPEG at 32 concurrent clients with no worker running, beside signed
# PUTs of the same file straight to the same S3 server at the same
# concurrency (the ceiling). Run by tests/bench/run.sh. BENCH_E2E_SECONDS=0
# skips the end-to-end phases (acceptance only, for quick paired runs).
. tests/bench/lib.sh
small=$(picture 200k 900 675)
onemp=$(picture 1mp 1155 866)
rate=${BENCH_E2E_RATE:-20}
e2e_secs=${BENCH_E2E_SECONDS:-15}
nworkers=${BENCH_MEDIA_WORKERS:-2}
start_ingest
tok=$(client token bench-media@example.com)

if ((e2e_secs > 0)); then
    echo
    echo "== uploads end to end (issue 3): 1-megapixel JPEG ($(($(stat -c %s "$onemp") / 1024)) KB)," \
        "$nworkers media worker process(es); 202 -> ready as announced on Redis media.status"
    workers=()
    for _ in $(seq "$nworkers"); do
        start_worker media
        workers+=("$started")
    done
    # Joining processes rebalance the group for about KAFKA_SESSION_TIMEOUT_MS
    # (6 s); the warm-up upload of media-e2e then finds it settled.
    ((nworkers > 1)) && sleep 8
    e2e=$(client media-e2e "$onemp" "$rate" "$e2e_secs")
    drain=$(field ready_per_s "$e2e")
    # Below the worker's capacity, nothing queues: the latency of one upload.
    calm_rate=$(awk -v d="$drain" 'BEGIN { r = int(d / 2); print (r < 1 ? 1 : r) }')
    calm=$(client media-e2e "$onemp" "$calm_rate" 10)
    for w in "${workers[@]}"; do stop "$w"; done
    floor=$(field ms_per_image "$("$BUILD/bench/image_bench" "$onemp" 20 2>/dev/null | grep '^RESULT')")
    e2e_row() {
        printf '  %-52s p50 %8s ms  p99 %8s ms  n=%s failed=%s unfinished=%s\n' "$1" \
            "$(field p50_ms "$2")" "$(field p99_ms "$2")" "$(field n "$2")" "$(field failed "$2")" \
            "$(field unfinished "$2")"
    }
    e2e_row "at $rate uploads/s for ${e2e_secs}s" "$e2e"
    printf '  %-52s %8s images/s\n' "ceiling: the workers' rate of ready images meanwhile" "$drain"
    ratio "workers' rate / offered rate" "$drain" "$rate" 100
    e2e_row "at $calm_rate uploads/s for 10s (half the workers' rate)" "$calm"
    printf '  %-52s %8s ms\n' "floor: image_process of the same file, alone" "$floor"
    awk -v f="$floor" -v p="$(field p50_ms "$calm")" \
        'BEGIN { printf "  ratio: p50 at the calm rate = %.1f x the floor\n", (f > 0 ? p / f : 0) }'
fi

echo
echo "== upload acceptance (issue 3): $(($(stat -c %s "$small") / 1024)) KB JPEG, 32 concurrent" \
    "clients, ${secs}s each; no media worker (the jobs go to a topic nothing consumes)"
start_ingest KAFKA_TOPIC_MEDIA=$unconsumed.media
boundary=$(multipart "$small" "$state/upload.body")
procs=("$ingest_pid" "$(s3_pid)" "$(head -1 "$state/pgdata/postmaster.pid")"
    "$(cat "$state/kafka.pid")" "$(cat "$state/redis.pid")")
cpu_all() { for p in "${procs[@]}"; do cpu_ms "$p"; done; }
mapfile -t cpu0 < <(cpu_all)
up=$("$loadgen" -c 32 -w 1 -d "$secs" -b "$state/upload.body" \
    -H "Content-Type: multipart/form-data; boundary=$boundary" -H "Authorization: Bearer $tok" \
    "$api/api/v1/media/upload/image")
mapfile -t cpu1 < <(cpu_all)
put=$("$loadgen" -c 32 -w 1 -d "$secs" -X PUT -b "$small" -H "Content-Type: image/jpeg" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -s "aws:amz:$S3_REGION:s3" \
    -u "$S3_ACCESS_KEY_ID:$S3_SECRET_ACCESS_KEY" "$S3_ENDPOINT/$S3_BUCKET/bench-raw/{n}")
mapfile -t cpu2 < <(cpu_all)
show "POST /api/v1/media/upload/image (202)" "$up"
show "ceiling: signed S3 PUT of the file, same server" "$put"
ratio "uploads / S3 PUTs" "$(field rps "$up")" "$(field rps "$put")" 80
# Per request: the CPU of the whole run (warm-up second included) over the
# requests loadgen counted in the measured seconds, scaled by secs / (secs + 1).
awk -v n="$(field n "$up")" -v pn="$(field n "$put")" -v f="$secs" \
    -v d="$((cpu1[0] - cpu0[0])) $((cpu1[1] - cpu0[1])) $((cpu1[2] - cpu0[2])) $((cpu1[3] - cpu0[3])) $((cpu1[4] - cpu0[4]))" \
    -v ps=$((cpu2[1] - cpu1[1])) 'BEGIN {
    split(d, c, " ")
    k = f / (f + 1) / (n > 0 ? n : 1)
    printf "  CPU per upload: ingest %.2f ms, S3 server %.2f ms, Postgres %.2f ms, Kafka mock %.2f ms, Redis %.2f ms\n",
        c[1] * k, c[2] * k, c[3] * k, c[4] * k, c[5] * k
    printf "  CPU per raw PUT: S3 server %.2f ms\n", ps * f / (f + 1) / (pn > 0 ? pn : 1) }'
forget_bench_media
