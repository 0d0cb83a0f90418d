#!/usr/bin/env bash
# docs/configuration.md must list every setting of lib/config_table.h exactly
# as the binary prints it, and no setting the table does not have.
set -euo pipefail
cd "$(dirname "$0")/../.."
expected=$("$BUILD/smartcart" config-doc)
documented=$(grep -E '^\| `[A-Z0-9_]+` \|' docs/configuration.md)
if [[ "$expected" != "$documented" ]]; then
    echo "docs/configuration.md is out of date with lib/config_table.h:"
    diff <(echo "$expected") <(echo "$documented") || true
    echo "(regenerate the table rows with: build/release/smartcart config-doc)"
    exit 1
fi
