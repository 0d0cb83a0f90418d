#!/usr/bin/env bash
# `make bench`: benchmarks on the release build against a local stack of its
# own (profile "bench"), each figure beside the ceiling it is bounded by.
# Prints a table; docs/performance.md records the figures of a run.
#   BENCH_SECONDS (default 15) per load run, BENCH_PRODUCTS (default 100000),
#   BENCH_PROFILE (default bench) and BENCH_PORT_BASE so runs side by side keep apart,
#   BENCH_SUITES (default "catalog media uploads cart webhooks") to run only some,
#   BENCH_S3_DIR (default /dev/shm/smartcart-<profile>-s3) for the S3 server's objects.
# Suites other than catalog are scripts of their own (tests/bench/<suite>.sh,
# sharing tests/bench/lib.sh), run as child processes with this environment.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BUILD=${BUILD:-build/release}
secs=${BENCH_SECONDS:-15}
nproducts=${BENCH_PRODUCTS:-100000}
suites=" ${BENCH_SUITES:-catalog media uploads cart webhooks} "
profile=${BENCH_PROFILE:-bench}
state="$root/.state/$profile"
mkdir -p "$state/logs"

# Below 32768: the kernel hands out ports above it for outgoing connections.
export PORT_BASE=${BENCH_PORT_BASE:-29000}
# The S3 server keeps its objects on tmpfs (BENCH_S3_DIR), as R2's storage is
# not on this machine: on the disk, the kernel's writeback of the gigabytes
# the upload phases write landed in whichever phase it pleased, and moved the
# raw PUT ceiling between 383 and 599/s within one run (docs/performance.md).
export STACK_S3_DIR=${BENCH_S3_DIR:-/dev/shm/smartcart-$profile-s3}
# Whatever happens from here on, the stack (and ingest, once started) stops
# and the objects go.
ingest=
trap '[[ -n $ingest ]] && { kill -TERM $ingest 2>/dev/null; wait $ingest 2>/dev/null; }; infra/stack.sh down "$profile" >/dev/null 2>&1; rm -rf "${STACK_S3_DIR:?}"' EXIT
infra/stack.sh up "$profile" "$BUILD/smartcart-kafka-mock"
set -a
. "$state/env"
set +a
export HTTP_PORT=$((STACK_PG_PORT + 48)) LOG_LEVEL=warn
# The load generators are one client address: the per-address limits would measure themselves.
export AUTH_RATE_PER_MIN=1000000 QR_GENERATE_PER_MIN=1000000
"$BUILD/smartcart" migrate >/dev/null
have=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM products")
if ((have < nproducts)); then
    echo "seeding $((nproducts - have)) products..." >&2
    "$BUILD/smartcart" seed --products $((nproducts - have)) >/dev/null
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE" >/dev/null
fi
# A store's Postgres has its catalog in memory. A bench stack just started,
# or whose files the page cache dropped since its last run (a `make test`
# writes gigabytes), measured the disk instead: after a drop of the page
# cache, the catalog runs' p99 rose 4-20x. Every relation is read into the
# page cache first (~1.3 GB, a few seconds).
psql "$DATABASE_URL" -qAtc "CREATE EXTENSION IF NOT EXISTS pg_prewarm;
    SELECT sum(pg_prewarm(oid::regclass, 'read')) FROM pg_class WHERE relkind IN ('r', 'i', 't', 'm')" >/dev/null

"$BUILD/smartcart-ingest" 2>>"$state/logs/ingest.log" &
ingest=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$HTTP_PORT"
psql "$DATABASE_URL" -tAc "SELECT '/products/' || id FROM products ORDER BY random() LIMIT 2000" >"$state/paths_get"
# Mixed Vietnamese queries, each asked again and again as a store's popular
# searches are: with and without diacritics, partial words (gao th, xuc xic)
# and typos (banh qui, vinamlik: no name contains them, the fuzzy step answers).
printf '/products/?query=%s&limit=20\n' 'c%C3%A0%20ph%C3%AA' 'ca%20phe' 'sua%20tuoi' 'nuoc%20mam' \
    'banh%20mi' 'mi%20goi' 'tra%20xanh' 'dau%20an' 'bia' 'gao%20th' 'keo' 'sua%20chua' \
    'nuoc%20ngot' 'ca%20phe%20sua' 'banh%20qui' 'snack' 'ph%C3%B4%20mai' 'thit%20bo' 'xuc%20xic' \
    'vinamlik' >"$state/paths_search"
# The cold path: thousands of distinct two-word and partial-word queries from
# the catalog's own names, so nearly every request misses the result cache.
psql "$DATABASE_URL" -tAc "SELECT '/products/?query=' || replace(q, ' ', '%20') || '&limit=20'
    FROM (SELECT DISTINCT q FROM (SELECT CASE WHEN k = 3 THEN left(split_part(name_norm, ' ', 2), 3)
                                 ELSE split_part(name_norm, ' ', k) || ' ' || split_part(name_norm, ' ', k + 1) END AS q
          FROM products TABLESAMPLE SYSTEM (20), generate_series(1, 3) k) s
          WHERE q ~ '^[a-z0-9]+( [a-z0-9]+)?\$' ORDER BY q) d ORDER BY random()" >"$state/paths_search_cold"

run_wrk() { # label, paths file, connections
    BENCH_PATHS=$2 wrk -t2 -c"$3" -d"${secs}s" --timeout 5s -s tests/bench/catalog_paths.lua "$base" |
        awk -v l="$1" '/^RESULT/ {sub(/^RESULT /, ""); print l, $0}'
}
cached() { psql "$DATABASE_URL" -tAc "SELECT count(*) FROM product_search_cache"; }
# Search results and whole pages (migration 0018) both: each query misses once.
uncache() { psql "$DATABASE_URL" -qc "TRUNCATE product_search_cache, product_page_cache"; }
# Every stored product render (migration 0011) out of date, as after a
# promotion change: the first GET run starts cold and fills the cache itself,
# the second one asks the same products again (the steady state).
unrender() { psql "$DATABASE_URL" -qc "UPDATE product_render_generation SET n = n + 1"; }

if [[ $suites == *" catalog "* ]]; then
    echo
    echo "== catalog ($nproducts products, 32 concurrent clients, ${secs}s each, load $(cut -d' ' -f1 /proc/loadavg))"
    unrender
    run_wrk "GET /products/{id} (every render out of date at start)" "$state/paths_get" 32
    run_wrk "GET /products/{id} (the same again: renders stored)" "$state/paths_get" 32
    # The searches below measure the queries, each missing the result cache
    # once, in a store whose product renders are stored, as they are once a
    # store has served its catalog (the fill is the first GET run above).
    # The fill rewrites ~100,000 rows: vacuumed here, as after the seed, or
    # autovacuum's pass over them lands in a search run (p99 ×5).
    t0=$(date +%s%N)
    filled=$("$BUILD/smartcart" render-products)
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE product_json_cache" >/dev/null
    echo "  renders stored for the rest of the catalog first: $filled, then vacuumed, in $((($(date +%s%N) - t0) / 1000000)) ms (smartcart render-products)"
    uncache
    run_wrk "GET /products/?query= (20 popular queries)" "$state/paths_search" 32
    uncache
    before=$(cached)
    run_wrk "GET /products/?query= ($(wc -l <"$state/paths_search_cold") distinct queries)" "$state/paths_search_cold" 32
    echo "  result-cache misses during the distinct-query run: $(($(cached) - before))"
fi
export BUILD state secs
for suite in media uploads cart webhooks; do
    if [[ $suites == *" $suite "* ]]; then
        "tests/bench/$suite.sh"
    fi
done
