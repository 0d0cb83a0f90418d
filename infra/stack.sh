#!/usr/bin/env bash
# The local stack: PostgreSQL 15, Redis 7, the Kafka mock-cluster host and the
# S3 server, on 127.0.0.1 only, state under .state/<profile>/.
#   stack.sh up   <profile> <kafka-mock-binary>   start what is not running; write .state/<profile>/env
#   stack.sh down <profile>                       stop everything of that profile
# Profiles differ in ports and state, so `make test` runs beside `make run`.
# PORT_BASE overrides a profile's first port (each service adds an offset).
# STACK_S3_DIR overrides where the S3 server keeps its objects (default
# .state/<profile>/s3; `make bench` puts them on tmpfs, see tests/bench/run.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?up|down}
profile=${2:?profile}
state="$root/.state/$profile"
pgbin=/usr/lib/postgresql/15/bin

case $profile in
run) base=${PORT_BASE:-15400} ;;
test) base=${PORT_BASE:-25400} ;;
*) base=${PORT_BASE:?PORT_BASE must be set for profile $profile} ;;
esac
pg_port=$((base + 32))
redis_port=$((base + 79))
s3_port=$((base + 69))
s3_dir=${STACK_S3_DIR:-$state/s3}

# PostgreSQL refuses to run as root and its user must reach the data folder;
# the checkout may sit under a folder only root can enter (/root), so the
# cluster lives in /var/tmp, keyed by the state path, linked from the state folder.
pg_home="/var/tmp/smartcart-$(printf %s "$state" | sha1sum | cut -c1-12)"
pgdata="$pg_home/pgdata"

log() { echo "stack[$profile]: $*" >&2; }

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # description, tries of 0.1 s, command...
    local what=$1 tries=$2
    shift 2
    for ((i = 0; i < tries; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    log "$what did not come up; see $state/*.log"
    return 1
}

up_postgres() {
    mkdir -p "$pg_home"
    chown postgres:postgres "$pg_home"
    chmod 700 "$pg_home"
    ln -sfn "$pgdata" "$state/pgdata"
    if [[ ! -s $state/pg.password ]]; then
        head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$state/pg.password"
        chmod 600 "$state/pg.password"
    fi
    if [[ ! -f $pgdata/PG_VERSION ]]; then
        install -o postgres -m 600 "$state/pg.password" "$pg_home/pwfile"
        runuser -u postgres -- "$pgbin/initdb" -D "$pgdata" -U postgres --pwfile="$pg_home/pwfile" \
            --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$state/initdb.log"
        rm -f "$pg_home/pwfile"
    fi
    if ! runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -w -t 60 -l "$pg_home/postgres.log" \
            -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $pg_home -c max_connections=300 -c shared_buffers=256MB -c fsync=${PG_FSYNC:-on}" \
            start >/dev/null
        ln -sfn "$pg_home/postgres.log" "$state/postgres.log"
        log "postgres started on 127.0.0.1:$pg_port"
    fi
    # The cluster can outlive the state folder (a new clone at the same path):
    # make its password the one this state folder holds, over the local socket.
    runuser -u postgres -- psql -h "$pg_home" -p "$pg_port" -qc \
        "ALTER USER postgres PASSWORD '$(cat "$state/pg.password")'" >/dev/null
    if ! runuser -u postgres -- psql -h "$pg_home" -p "$pg_port" -tAc "SELECT 1 FROM pg_database WHERE datname='smartcart'" | grep -q 1; then
        runuser -u postgres -- createdb -h "$pg_home" -p "$pg_port" smartcart
    fi
}

up_redis() {
    mkdir -p "$state/redis"
    if ! pid_alive "$state/redis.pid"; then
        redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$state/redis" --appendonly yes \
            --daemonize yes --pidfile "$state/redis.pid" --logfile "$state/redis.log" \
            --save "" --protected-mode yes
        wait_for redis 50 redis-cli -p "$redis_port" ping
        log "redis started on 127.0.0.1:$redis_port"
    fi
}

up_kafka() {
    local bin=$1
    if ! pid_alive "$state/kafka.pid"; then
        rm -f "$state/kafka.bootstrap"
        setsid "$bin" --bootstrap-file "$state/kafka.bootstrap" >>"$state/kafka.log" 2>&1 </dev/null &
        echo $! >"$state/kafka.pid"
        wait_for "kafka mock" 100 test -s "$state/kafka.bootstrap"
        log "kafka mock cluster at $(cat "$state/kafka.bootstrap")"
    fi
}

up_s3() {
    mkdir -p "$s3_dir"
    if ! pid_alive "$state/s3.pid"; then
        # s3rver signs ListObjectsV2 continuation tokens with DES, which
        # Node 20's OpenSSL 3 only has in its legacy provider (without it every
        # truncated listing answers 500).
        setsid node --openssl-legacy-provider "$root/infra/s3rver/start.js" -d "$s3_dir" \
            -a 127.0.0.1 -p "$s3_port" -s \
            --no-vhost-buckets --configure-bucket smartcart >>"$state/s3.log" 2>&1 </dev/null &
        echo $! >"$state/s3.pid"
        wait_for s3rver 100 curl -sf "http://127.0.0.1:$s3_port/"
        log "s3 server on 127.0.0.1:$s3_port"
    fi
    # s3rver removes a folder the moment a DELETE empties it, and a PUT racing
    # into that folder then fails with 500; a resident object keeps staging/
    # alive (R2 has no folders, so production needs nothing of the kind).
    curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER -X PUT \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --data-binary "" \
        "http://127.0.0.1:$s3_port/smartcart/staging/.keep"
}

write_env() {
    if [[ ! -s $state/jwt.secret ]]; then
        head -c 48 /dev/urandom | base64 | tr -d '\n' >"$state/jwt.secret"
        chmod 600 "$state/jwt.secret"
    fi
    local pw
    pw=$(cat "$state/pg.password")
    umask 077
    cat >"$state/env" <<ENV
# Written by infra/stack.sh for profile $profile; secrets stay in this git-ignored folder.
export DATABASE_URL='postgresql://postgres:$pw@127.0.0.1:$pg_port/smartcart?connect_timeout=5'
export REDIS_URL='redis://127.0.0.1:$redis_port/0'
export KAFKA_BROKERS='$(cat "$state/kafka.bootstrap")'
export S3_ENDPOINT='http://127.0.0.1:$s3_port'
export S3_REGION='us-east-1'
export S3_BUCKET='smartcart'
export S3_ACCESS_KEY_ID='S3RVER'
export S3_SECRET_ACCESS_KEY='S3RVER'
export CLOUDFLARE_R2_PUBLIC_URL='http://127.0.0.1:$s3_port/smartcart/'
export JWT_SECRET='$(cat "$state/jwt.secret")'
export STACK_PG_PORT=$pg_port STACK_REDIS_PORT=$redis_port STACK_S3_PORT=$s3_port
export STACK_S3_DIR='$s3_dir'
ENV
}

down() {
    # Waits for each to exit: a Kafka mock still exiting when the next `up`
    # starts its successor would remove the successor's bootstrap file.
    for svc in kafka s3; do
        if pid_alive "$state/$svc.pid"; then
            local pid
            pid=$(cat "$state/$svc.pid")
            kill "$pid" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null && sleep 0.1 || break; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$state/$svc.pid"
    done
    if pid_alive "$state/redis.pid"; then
        redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$state/redis.pid")" || true
    fi
    if [[ -f $pgdata/PG_VERSION ]]; then
        runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true
    fi
    log "stopped"
}

case $cmd in
up)
    mkdir -p "$state"
    up_postgres
    up_redis
    up_kafka "${3:?kafka mock binary}"
    up_s3
    write_env
    ;;
down) down ;;
*)
    echo "usage: $0 up|down <profile> [kafka-mock-binary]" >&2
    exit 2
    ;;
esac
