#!/usr/bin/env bash
# `make bench` suite "media" (issue 3, worker throughput): images/s for one
# 12-megapixel JPEG into the default variants, in process (image_bench) and
# through one real `smartcart-worker media` (uploads -> ready), beside
# vipsthumbnail making the same outputs from the same file (the libvips
# ceiling); the worker's peak memory. Run by tests/bench/run.sh.
. tests/bench/lib.sh
big=$(picture 12mp)
n=${BENCH_MEDIA_IMAGES:-8}
q=${IMAGE_WEBP_QUALITY:-80}
effort=${IMAGE_WEBP_EFFORT:-2} # the worker's default: the ceiling encodes as the worker does
IFS=, read -ra variants <<<"${IMAGE_VARIANTS:-thumb:256,medium:1024}"
echo
echo "== media worker (issue 3): a 12-megapixel JPEG ($(($(stat -c %s "$big") / 1024)) KB) into" \
    "${variants[*]} (WebP q$q effort $effort) + full size (JPEG q$q), $n images each"
"$BUILD/bench/image_bench" "$big" "$n" 2>/dev/null | grep -v '^RESULT' | sed 's/^/  image_bench: /'

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
t0=$(date +%s.%N)
for o in "${outputs[@]}"; do thumbnail "$o"; done
t1=$(date +%s.%N)
pids=()
for o in "${outputs[@]}"; do
    thumbnail "$o" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
t2=$(date +%s.%N)
rm -rf "$out"
seq_ips=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.2f", n / (b - a) }')
par_ips=$(awk -v a="$t1" -v b="$t2" -v n="$n" 'BEGIN { printf "%.2f", n / (b - a) }')
ceiling=$(awk -v a="$seq_ips" -v b="$par_ips" 'BEGIN { print (a > b ? a : b) }')

# The real worker: uploads through ingest, S3 GET, libvips, S3 PUTs, Postgres.
start_ingest
start_worker media
worker=$started
batch=$(client media-batch "$big" "$n")
hwm=$(awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$worker/status")
stop "$worker"
forget_bench_media

printf '  %-60s %6s images/s\n' "vipsthumbnail, the $((${#variants[@]} + 1)) outputs one after another" "$seq_ips"
printf '  %-60s %6s images/s\n' "vipsthumbnail, the $((${#variants[@]} + 1)) outputs side by side (ceiling)" "$par_ips"
printf '  %-60s %6s images/s\n' "smartcart-worker media, upload 202 -> ready ($(field n "$batch") images)" \
    "$(field images_per_s "$batch")"
ratio "worker / vipsthumbnail" "$(field images_per_s "$batch")" "$ceiling" 80
echo "  peak memory of the worker process (VmHWM): $hwm MiB"
