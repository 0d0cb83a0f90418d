#!/usr/bin/env bash
# Every C file is formatted with the repository's .clang-format (make format fixes it).
set -euo pipefail
cd "$(dirname "$0")/../.."
git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run -Werror
