#!/usr/bin/env bash
# `make test`: brings up the test profile of the local stack (its own ports and
# state), migrates, then runs every tier against the ASan+UBSan build:
#   unit (cmocka), docs checks, integration (cmocka programs and scripts against
#   the real stack), API black-box (pytest against the real binaries).
# Ends with "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export BUILD=${BUILD:-build/asan}
export STACK_PROFILE=${STACK_PROFILE:-test}
export STATE="$root/.state/$STACK_PROFILE"
results="$STATE/results"
mkdir -p "$STATE"
rm -rf "$results"
mkdir -p "$results"

# Sanitizer reports fail the test that triggered them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}

passed=0
failed=0
skipped=0
record() { # name status(pass|fail) [detail]
    if [[ $2 == pass ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED: $1 ${3:-}"
    fi
}

# A cmocka program: count its TAP lines; a crash after the last line fails it too.
run_cmocka() {
    local bin=$1 name out rc
    name=$(basename "$bin")
    out="$results/$name.tap"
    CMOCKA_MESSAGE_OUTPUT=tap "$bin" >"$out" 2>"$results/$name.stderr"
    rc=$?
    local ok bad
    ok=$(grep -c '^ok ' "$out")
    bad=$(grep -c '^not ok ' "$out")
    passed=$((passed + ok))
    failed=$((failed + bad))
    grep '^not ok ' "$out" | sed "s/^/FAILED: $name: /"
    if ((rc != 0 && bad == 0)); then
        record "$name" fail "(exit $rc; see $results/$name.stderr)"
        tail -20 "$results/$name.stderr"
    fi
    if ((ok + bad == 0 && rc == 0)); then
        record "$name" fail "(ran no test)"
    fi
}

echo "== local stack ($STACK_PROFILE profile)"
# The stack goes down with the run (KEEP_STACK=1 keeps it up to poke at it).
if [[ ${KEEP_STACK:-0} != 1 ]]; then
    trap 'infra/stack.sh down "$STACK_PROFILE" >/dev/null 2>&1' EXIT
fi
infra/stack.sh up "$STACK_PROFILE" "$BUILD/smartcart-kafka-mock" || { echo "0 passed, 1 failed"; exit 1; }
set -a
. "$STATE/env"
set +a
export HTTP_PORT=$((STACK_PG_PORT + 48)) # 25480 by default: beside the stack, away from make run
export KAFKA_SESSION_TIMEOUT_MS=6000
export LOG_LEVEL=${LOG_LEVEL:-info}
# Every test logs in and makes QR codes from 127.0.0.1, hundreds a minute; the
# limits themselves are tested on an ingest of their own (tests/api/test_rate_limits.py).
export AUTH_RATE_PER_MIN=1000000 QR_GENERATE_PER_MIN=1000000
# A clean database per run: tests must not depend on what an earlier run left.
PGOPTIONS='-c client_min_messages=warning' psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null
redis-cli -p "$STACK_REDIS_PORT" flushall >/dev/null
"$BUILD/smartcart" migrate || { echo "0 passed, 1 failed"; exit 1; }

echo "== unit"
for t in "$BUILD"/tests/test_*; do
    [[ -x $t ]] && run_cmocka "$t"
done

echo "== docs"
for check in tests/docs/check_*.sh; do
    [[ -f $check ]] || continue
    if bash "$check" >"$results/$(basename "$check").log" 2>&1; then
        record "$check" pass
    else
        record "$check" fail
        cat "$results/$(basename "$check").log"
    fi
done

echo "== integration"
for t in "$BUILD"/tests/it_*; do
    [[ -x $t ]] && run_cmocka "$t"
done
for t in tests/integration/*.sh; do
    [[ -f $t ]] || continue
    if bash "$t" >"$results/$(basename "$t").log" 2>&1; then
        record "$t" pass
    else
        record "$t" fail
        tail -30 "$results/$(basename "$t").log"
    fi
done

echo "== api"
if compgen -G "tests/api/test_*.py" >/dev/null; then
    /usr/bin/python3 -m pytest tests/api -q -p no:cacheprovider --junitxml="$results/api.xml" \
        >"$results/api.log" 2>&1
    tail -40 "$results/api.log" | grep -E '^(FAILED|ERROR)|passed|failed|error' || true
    read -r p f s < <(/usr/bin/python3 - "$results/api.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 1, 0); sys.exit()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
k = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - k, f, k)
PY
    )
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
fi

echo
if ((skipped)); then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
# A skipped test is not a passing one.
((failed == 0 && skipped == 0))
