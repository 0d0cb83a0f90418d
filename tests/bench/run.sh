#!/usr/bin/env bash
# `make bench`: benchmarks on the release build against a local stack of its
# own (profile "bench"), each figure beside the ceiling it is bounded by.
# Prints a table; docs/performance.md records the figures of a run.
#   BENCH_SECONDS (default 15) per load run, BENCH_PRODUCTS (default 100000).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BUILD=${BUILD:-build/release}
secs=${BENCH_SECONDS:-15}
nproducts=${BENCH_PRODUCTS:-100000}
state="$root/.state/bench"
mkdir -p "$state/logs"

export PORT_BASE=${BENCH_PORT_BASE:-45000}
infra/stack.sh up bench "$BUILD/smartcart-kafka-mock"
set -a
. "$state/env"
set +a
export HTTP_PORT=$((STACK_PG_PORT + 48)) LOG_LEVEL=warn
"$BUILD/smartcart" migrate >/dev/null
have=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM products")
if ((have < nproducts)); then
    echo "seeding $((nproducts - have)) products..." >&2
    "$BUILD/smartcart" seed --products $((nproducts - have)) >/dev/null
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE" >/dev/null
fi

"$BUILD/smartcart-ingest" 2>>"$state/logs/ingest.log" &
ingest=$!
trap 'kill -TERM $ingest 2>/dev/null; wait $ingest 2>/dev/null; infra/stack.sh down bench >/dev/null 2>&1' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$HTTP_PORT"
psql "$DATABASE_URL" -tAc "SELECT '/products/' || id FROM products ORDER BY random() LIMIT 2000" >"$state/paths_get"
# Mixed Vietnamese queries: exact words, no diacritics, a typo, a partial word.
printf '/products/?query=%s&limit=20\n' 'c%C3%A0%20ph%C3%AA' 'ca%20phe' 'sua%20tuoi' 'nuoc%20mam' \
    'banh%20mi' 'mi%20goi' 'tra%20xanh' 'dau%20an' 'bia' 'gao%20thom' 'keo' 'sua%20chua' \
    'nuoc%20ngot' 'ca%20phe%20sua' 'banh%20quy' 'snack' 'phô%20mai' 'thit%20bo' 'xuc%20xich' 'tuong%20ot' \
    >"$state/paths_search"

run_wrk() { # label, paths file, connections
    BENCH_PATHS=$2 wrk -t2 -c"$3" -d"${secs}s" --timeout 5s -s tests/bench/catalog_paths.lua "$base" |
        awk -v l="$1" '/^RESULT/ {sub(/^RESULT /, ""); print l, $0}'
}

echo
echo "== catalog ($nproducts products, 32 concurrent clients, ${secs}s each)"
run_wrk "GET /products/{id}" "$state/paths_get" 32
run_wrk "GET /products/?query=" "$state/paths_search" 32
echo
echo "== media worker: one 12-megapixel JPEG into the default variants"
"$BUILD/bench/image_bench" 2>/dev/null
