#!/usr/bin/env bash
# The API reference (docs/api/openapi.json) must match what ingest serves and
# the checklist docs/api/ENDPOINTS.md: see tests/docs/openapi_check.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
routes=$(mktemp)
trap 'rm -f "$routes"' EXIT
"$BUILD/smartcart-ingest" --routes >"$routes"
/usr/bin/python3 tests/docs/openapi_check.py "$routes" docs/api/openapi.json docs/api/ENDPOINTS.md
