#!/usr/bin/env bash
# `make run`: starts the local stack (profile "run"), applies migrations, seeds
# the demo store when the CLI knows how, then runs ingest on :8080 and one
# process per worker role in the foreground. Ctrl-C (or SIGTERM) stops the
# services and the stack it started; state stays in .state/run for next time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD=${BUILD:-build/release}
state="$root/.state/run"
mkdir -p "$state/logs"

infra/stack.sh up run "$BUILD/smartcart-kafka-mock"
set -a
. "$state/env"
set +a
export HTTP_PORT=${HTTP_PORT:-8080}
export LOG_LEVEL=${LOG_LEVEL:-info}

pids=()
stop_all() {
    trap - INT TERM EXIT
    echo "make run: stopping" >&2
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    infra/stack.sh down run
}
trap stop_all INT TERM EXIT

"$BUILD/smartcart" migrate
if "$BUILD/smartcart" --help | grep -q '^  seed'; then
    "$BUILD/smartcart" seed --demo
fi

"$BUILD/smartcart-ingest" 2>>"$state/logs/ingest.log" &
pids+=($!)
roles=$("$BUILD/smartcart-worker" --list-roles 2>/dev/null | grep -v "^selftest$" | tr "\n" " " || true)
for role in $roles; do
    "$BUILD/smartcart-worker" "$role" 2>>"$state/logs/worker-$role.log" &
    pids+=($!)
done

for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
cat <<INFO

smartcart is running (Ctrl-C stops it):
  ingest      http://127.0.0.1:$HTTP_PORT   (readyz: curl -s localhost:$HTTP_PORT/readyz)
  workers     ${roles:-none} (logs: .state/run/logs/)
  postgres    127.0.0.1:$STACK_PG_PORT  (DATABASE_URL in .state/run/env)
  redis       $REDIS_URL
  kafka       $KAFKA_BROKERS  (librdkafka mock cluster, in memory)
  s3          $S3_ENDPOINT  bucket $S3_BUCKET, public base $CLOUDFLARE_R2_PUBLIC_URL
INFO
# Any service dying ends the run, so a broken start is not left half up.
wait -n "${pids[@]}"
echo "make run: a service exited; see .state/run/logs/" >&2
