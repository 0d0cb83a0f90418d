# Sourced by the suites tests/bench/run.sh starts as child processes
# (media.sh, uploads.sh, cart.sh, webhooks.sh): the processes a suite starts
# (stopped again when it exits, however it exits), its own ingest, the test
# pictures, and printing a figure beside its ceiling. run.sh exports BUILD,
# state, secs and the stack's environment.
set -euo pipefail
: "${BUILD:?}" "${state:?}" "${secs:?}"
loadgen="$BUILD/bench/loadgen"
export PYTHONDONTWRITEBYTECODE=1
client() { /usr/bin/python3 tests/bench/client.py "$@"; }

bench_pids=()
bench_cleanup() {
    for p in "${bench_pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
trap bench_cleanup EXIT

# start NAME COMMAND...: runs COMMAND in the background with its log in
# $state/logs/NAME.log; its pid lands in $started.
start() {
    local name=$1
    shift
    "$@" >>"$state/logs/$name.log" 2>&1 &
    started=$!
    bench_pids+=("$started")
}

stop() {
    local keep=() p
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for p in "${bench_pids[@]}"; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    bench_pids=("${keep[@]}")
}

# start_ingest [VAR=VALUE...]: the suite's own ingest (its settings differ by
# suite and phase; one started before is stopped) on the port after run.sh's;
# its URL in $api, its pid in $ingest_pid.
start_ingest() {
    local port=$((STACK_PG_PORT + 49))
    [[ -n ${ingest_pid:-} ]] && stop "$ingest_pid"
    api="http://127.0.0.1:$port"
    start ingest-suite env HTTP_PORT=$port LOG_LEVEL=warn "$@" "$BUILD/smartcart-ingest"
    ingest_pid=$started
    for _ in $(seq 1 100); do
        curl -sf "$api/healthz" >/dev/null && break
        sleep 0.1
    done
    curl -sf "$api/healthz" >/dev/null
    export BENCH_BASE=$api
}

# A phase that measures acceptance with no worker running sends its messages
# to a topic of this prefix, which nothing consumes: they can never delay a
# later worker (in this run, or in the next one when the stack stays up).
unconsumed=smartcart.bench.unconsumed

# start_worker ROLE [VAR=VALUE...]: one smartcart-worker of ROLE; its pid in $started.
start_worker() {
    start "worker-$1" env LOG_LEVEL=warn KAFKA_SESSION_TIMEOUT_MS=6000 "${@:2}" \
        "$BUILD/smartcart-worker" "$1"
}

# picture NAME [WIDTH HEIGHT]: path of a generated photo-like JPEG (made once).
picture() {
    local f="$state/bench-$1.jpg"
    [[ -s $f ]] || "$BUILD/bench/image_bench" --write "$f" "${@:2}" >/dev/null 2>&1
    echo "$f"
}

# field NAME RESULT-LINE: the value of NAME=... in a RESULT line.
field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# show LABEL RESULT-LINE: one table row from a RESULT line.
show() {
    local line=$2 extra=""
    [[ -n $(field errors "$line") ]] && extra=" errors=$(field errors "$line")"
    [[ -n $(field codes "$line") ]] && extra="$extra codes=$(field codes "$line")"
    printf '  %-52s %9s/s  p50 %8s ms  p99 %8s ms%s\n' "$1" "$(field rps "$line")" \
        "$(field p50_ms "$line")" "$(field p99_ms "$line")" "$extra"
}

# ratio WHAT VALUE CEILING [TARGET%]: VALUE as a share of CEILING.
ratio() {
    awk -v w="$1" -v v="$2" -v c="$3" -v t="${4:-}" 'BEGIN {
        printf "  ratio: %s = %.0f%%%s\n", w, (c > 0 ? 100 * v / c : 0),
            (t == "" ? "" : " (target >= " t "%)") }'
}

# multipart FILE OUT: OUT = a multipart/form-data body with FILE as part
# "file"; prints the boundary.
multipart() {
    local boundary="benchboundary$RANDOM$RANDOM"
    {
        printf -- '--%s\r\nContent-Disposition: form-data; name="file"; filename="bench.jpg"\r\n' "$boundary"
        printf 'Content-Type: image/jpeg\r\n\r\n'
        cat "$1"
        printf -- '\r\n--%s--\r\n' "$boundary"
    } >"$2"
    echo "$boundary"
}

# Removes what the media suites leave: the bench user's media rows and
# objects, raw PUTs (bench-raw/) and staging objects no worker will take
# (the Kafka mock forgets their jobs when the stack stops).
forget_bench_media() {
    local who
    who=$(psql "$DATABASE_URL" -tAc "SELECT tenant_id || '/' || id FROM users WHERE email = 'bench-media@example.com'")
    psql "$DATABASE_URL" -qc "DELETE FROM media_assets WHERE owner_id IN
        (SELECT id FROM users WHERE email = 'bench-media@example.com')" >/dev/null
    local s3="$STACK_S3_DIR/$S3_BUCKET"
    [[ -n $who ]] && rm -rf "${s3:?}/media/$who"
    rm -rf "$s3/bench-raw"
    find "$s3/staging" -type f ! -name '.keep*' -delete 2>/dev/null || true
}

# cpu_ms PID: the CPU (user + system, ms) of a process and of its children,
# live and ended, from /proc: steadier than the rates on a shared box
# (Postgres: the postmaster, whose children are its backends).
cpu_ms() {
    local tck p sum
    tck=$(getconf CLK_TCK)
    sum=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat")
    for p in $(pgrep -P "$1"); do
        sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo $((sum * 1000 / tck))
}

# The S3 server's pid: the process listening on its port.
s3_pid() {
    local port=${S3_ENDPOINT##*:}
    ss -Hltnp "sport = :${port%%/*}" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1
}
