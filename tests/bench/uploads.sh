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
# concurrency just before and just after (the ceiling: their mean), first
# with the S3 server sharing every core with the rest, then with a core of
# its own (the target's line). Run by tests/bench/run.sh. BENCH_E2E_SECONDS=0
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
pg_pid=$(head -1 "$state/pgdata/postmaster.pid")
procs=("$ingest_pid" "$(s3_pid)" "$pg_pid" "$(cat "$state/kafka.pid")" "$(cat "$state/redis.pid")")
cpu_all() { for p in "${procs[@]}"; do cpu_ms "$p"; done; }
# pin CPUS: every thread of everything but the S3 server (Postgres' backends
# too: new ones fork from the postmaster and inherit its CPUs) onto CPUS.
pin() {
    local p
    for p in "${procs[0]}" "$pg_pid" $(pgrep -P "$pg_pid") "${procs[3]}" "${procs[4]}"; do
        taskset -a -p -c "$1" "$p" >/dev/null
    done
}
# raw_puts FOLDER [PREFIX...]: signed PUTs of the file straight to the S3 server.
raw_puts() {
    local folder=$1
    shift
    "$@" "$loadgen" -c 32 -w 1 -d "$secs" -X PUT -b "$small" -H "Content-Type: image/jpeg" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -s "aws:amz:$S3_REGION:s3" \
        -u "$S3_ACCESS_KEY_ID:$S3_SECRET_ACCESS_KEY" "$S3_ENDPOINT/$S3_BUCKET/bench-raw/$folder/{n}"
}
# acceptance LABEL [PREFIX...]: the uploads between raw PUTs of the
# same file just before and just after; their mean is the ceiling (both
# printed): s3rver's cost per PUT drifts between phases of one run, which
# moved the ratio by tens of points when the ceiling was measured once.
acceptance() {
    local label=$1 cpu0 cpu1 cpu2 cpu3 put1 put2 up ceiling
    shift
    echo "  -- $label"
    mapfile -t cpu0 < <(cpu_all)
    put1=$(raw_puts "$label/before" "$@")
    mapfile -t cpu1 < <(cpu_all)
    up=$("$@" "$loadgen" -c 32 -w 1 -d "$secs" -b "$state/upload.body" \
        -H "Content-Type: multipart/form-data; boundary=$boundary" -H "Authorization: Bearer $tok" \
        "$api/api/v1/media/upload/image")
    mapfile -t cpu2 < <(cpu_all)
    put2=$(raw_puts "$label/after" "$@")
    mapfile -t cpu3 < <(cpu_all)
    ceiling=$(awk -v a="$(field rps "$put1")" -v b="$(field rps "$put2")" 'BEGIN { printf "%.0f", (a + b) / 2 }')
    show "POST /api/v1/media/upload/image (202)" "$up"
    show "signed S3 PUT of the file, same server, before" "$put1"
    show "the same, after" "$put2"
    printf '  %-52s %9s/s\n' "ceiling: the mean of the two" "$ceiling"
    ratio "uploads / S3 PUTs" "$(field rps "$up")" "$ceiling" ${target:+"$target"}
    # Per request: the CPU of a whole phase (warm-up second included) over the
    # requests loadgen counted in the measured seconds, scaled by secs / (secs + 1).
    awk -v n="$(field n "$up")" -v pn="$(field n "$put1") $(field n "$put2")" -v f="$secs" \
        -v d="$((cpu2[0] - cpu1[0])) $((cpu2[1] - cpu1[1])) $((cpu2[2] - cpu1[2])) $((cpu2[3] - cpu1[3])) $((cpu2[4] - cpu1[4]))" \
        -v ps="$((cpu1[1] - cpu0[1])) $((cpu3[1] - cpu2[1]))" 'BEGIN {
        split(d, c, " "); split(pn, m, " "); split(ps, s, " ")
        k = f / (f + 1) / (n > 0 ? n : 1)
        printf "  CPU per upload: ingest %.2f ms, S3 server %.2f ms, Postgres %.2f ms, Kafka mock %.2f ms, Redis %.2f ms\n",
            c[1] * k, c[2] * k, c[3] * k, c[4] * k, c[5] * k
        printf "  CPU per raw PUT: S3 server %.2f ms before, %.2f ms after\n",
            s[1] * f / (f + 1) / (m[1] > 0 ? m[1] : 1), s[2] * f / (f + 1) / (m[2] > 0 ? m[2] : 1) }'
}
# First with every process free to run on every core: the S3 server then
# shares the cores with ingest, Postgres and loadgen, so whatever CPU an
# upload costs our side is taken from the S3 server, and the ratio measures
# ingest's CPU against s3rver's rather than ingest against the ceiling.
target= acceptance shared
# Then as deployed: R2 runs on machines of its own, whose capacity does not
# shrink while ingest works. The S3 server gets the last core to itself in
# all three phases (its ceiling is lower than with every core), everything
# else the others. The target applies here.
last=$(($(nproc) - 1))
if ((last > 0)); then
    taskset -a -p -c "$last" "${procs[1]}" >/dev/null
    pin "0-$((last - 1))"
    target=80 acceptance s3-own-core taskset -c "0-$((last - 1))"
    taskset -a -p -c "0-$last" "${procs[1]}" >/dev/null
    pin "0-$last"
else
    echo "  -- s3-own-core: skipped, this machine has one core"
fi
forget_bench_media
