#!/usr/bin/env bash
# Installs what the build, the local stack and the tests need and is missing:
# Debian packages (only when one is absent) and the pinned npm S3 server.
set -euo pipefail
cd "$(dirname "$0")"

packages=(
    build-essential pkg-config clang-format
    libmicrohttpd-dev librdkafka-dev libhiredis-dev libpq-dev libvips-dev libvips-tools
    libjwt-dev libjansson-dev libsodium-dev libssl-dev libcmocka-dev libcurl4-openssl-dev libqrencode-dev
    postgresql-15 postgresql-contrib redis-server redis-tools
    python3 python3-pytest python3-requests zbar-tools nodejs npm wrk jq
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from outside Debian (node and npm already on PATH): do not fight it.
if command -v node >/dev/null && command -v npm >/dev/null; then
    filtered=()
    for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
    missing=("${filtered[@]}")
fi
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ ! -d s3rver/node_modules/@20minutes/s3rver ]]; then
    echo "install-deps: installing the pinned S3 server from npm" >&2
    (cd s3rver && npm ci --no-audit --no-fund --loglevel=error)
fi
