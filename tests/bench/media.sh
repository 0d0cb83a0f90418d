#!/usr/bin/env bash
# `make bench` suite "media" (issue 3, worker throughput): images/s for one
# 12-megapixel JPEG into the default variants, in process (image_bench) and
# through real `smartcart-worker media` processes (uploads -> ready; one,
# then BENCH_MEDIA_WORKERS in one group), beside
# vipsthumbnail making the same outputs from the same file (the libvips
# ceiling); the worker's peak memory. Run by tests/bench/run.sh.
. tests/bench/lib.sh
big=$(picture 12mp)
# 16 images: with 8 the worker's ratio moved between 74 % and 83 % from run to
# run (a few hundred ms of start-up and scheduling weighed on a 2 s batch).
n=${BENCH_MEDIA_IMAGES:-16}
n_inproc=8 # image_bench, a figure for reference: each image runs twice there
q=${IMAGE_WEBP_QUALITY:-80}
effort=${IMAGE_WEBP_EFFORT:-2} # the worker's default: the ceiling encodes as the worker does
IFS=, read -ra variants <<<"${IMAGE_VARIANTS:-thumb:256,medium:1024}"
echo
echo "== media worker (issue 3): a 12-megapixel JPEG ($(($(stat -c %s "$big") / 1024)) KB) into" \
    "${variants[*]} (WebP q$q effort $effort) + full size (JPEG q$q), $n images each" \
    "(image_bench: $n_inproc)"
"$BUILD/bench/image_bench" "$big" "$n_inproc" 2>/dev/null | grep -v '^RESULT' | sed 's/^/  image_bench: /'

# The ceiling: vipsthumbnail, one process per output, each given the file n
# times (process start-up is paid once per output, not per image).
out=$(mktemp -d)
files=()
for _ in $(seq "$n"); do files+=("$big"); done
outputs=()
for v in "${variants[@]}"; do outputs+=("${v#*:} $out/%s-${v%%:*}.webp[Q=$q,effort=$effort,strip]"); done
outputs+=("$(vipsheader -f width "$big")x$(vipsheader -f height "$big") $out/%s-full.jpg[Q=$q,strip]")
thumbnail() { # "size output"
    local size dest
    read -r size dest <<<"$1"
    vipsthumbnail "${files[@]}" -s "$size" -o "$dest"
}
# side_by_side: images/s of the outputs' processes run at once.
side_by_side() {
    local pids=() p o a b
    a=$(date +%s.%N)
    for o in "${outputs[@]}"; do
        thumbnail "$o" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    b=$(date +%s.%N)
    awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.2f", n / (b - a) }'
}
t0=$(date +%s.%N)
for o in "${outputs[@]}"; do thumbnail "$o"; done
t1=$(date +%s.%N)
seq_ips=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.2f", n / (b - a) }')
# Measured before and again after the workers; the ceiling is the mean of
# the two, so a change of the machine's load meanwhile weighs on both sides.
par_before=$(side_by_side)

# The real worker: uploads through ingest, S3 GET, libvips, S3 PUTs,
# Postgres. One process, then BENCH_MEDIA_WORKERS (default 2) in one consumer
# group as a store runs them: a process works on one job at a time, so a
# second one keeps the cores busy while the first waits on S3 or Postgres.
nworkers=${BENCH_MEDIA_WORKERS:-2}
# worker_batch N: images/s of N worker processes in $batch, their CPU per
# image in $cpu, the largest peak memory (VmHWM, MiB) of one of them in $hwm.
worker_batch() {
    local ws=() w h
    for _ in $(seq "$1"); do
        start_worker media
        ws+=("$started")
    done
    # Joining processes rebalance the group for about KAFKA_SESSION_TIMEOUT_MS.
    if (($1 > 1)); then sleep 8; fi
    local c0 s0
    c0=$(for w in "${ws[@]}"; do cpu_ms "$w"; done | awk '{ t += $1 } END { print t }')
    s0=$(cpu_ms "$(s3_pid)")
    batch=$(client media-batch "$big" "$n")
    # CPU per image (warm-up image included): the workers', the S3 server's.
    cpu=$(for w in "${ws[@]}"; do cpu_ms "$w"; done | awk -v c0="$c0" -v s0="$s0" -v s1="$(cpu_ms "$(s3_pid)")" \
        -v n=$((n + 1)) '{ t += $1 } END { printf "worker %.0f ms, S3 server %.0f ms", (t - c0) / n, (s1 - s0) / n }')
    hwm=0
    for w in "${ws[@]}"; do
        h=$(awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$w/status")
        ((h > hwm)) && hwm=$h
        stop "$w"
    done
}
start_ingest
worker_batch 1
one=$batch one_hwm=$hwm one_cpu=$cpu
worker_batch "$nworkers"
forget_bench_media
par_after=$(side_by_side)
rm -rf "$out"
par_ips=$(awk -v a="$par_before" -v b="$par_after" 'BEGIN { printf "%.2f", (a + b) / 2 }')
ceiling=$(awk -v a="$seq_ips" -v b="$par_ips" 'BEGIN { print (a > b ? a : b) }')

printf '  %-60s %6s images/s\n' "vipsthumbnail, the $((${#variants[@]} + 1)) outputs one after another" "$seq_ips"
printf '  %-60s %6s images/s\n' "vipsthumbnail, the $((${#variants[@]} + 1)) outputs side by side (ceiling)" "$par_ips"
printf '  %-60s %s\n' "  measured before and after the workers" "$par_before, $par_after images/s"
printf '  %-60s %6s images/s\n' "smartcart-worker media, 1 process, upload 202 -> ready ($(field n "$one") images)" \
    "$(field images_per_s "$one")"
ratio "1 worker process / vipsthumbnail" "$(field images_per_s "$one")" "$ceiling"
echo "  CPU per image: $one_cpu"
printf '  %-60s %6s images/s\n' "smartcart-worker media, $nworkers processes, upload 202 -> ready ($(field n "$batch") images)" \
    "$(field images_per_s "$batch")"
ratio "$nworkers worker processes / vipsthumbnail" "$(field images_per_s "$batch")" "$ceiling" 80
echo "  CPU per image: $cpu"
echo "  peak memory of one worker process (VmHWM): $one_hwm MiB alone, $hwm MiB with $nworkers"
