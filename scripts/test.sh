#!/usr/bin/env bash
# Runs every test of dpvs-rs: installs what is missing (scripts/setup.sh),
# builds every program (the end-to-end tests drive the built dpvsd and shim),
# then runs the unit, property and end-to-end tests. Run as root: the
# end-to-end tests check dpvsd's CAP_NET_ADMIN rule and run ipvsadm.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
  bash scripts/setup.sh
else
  echo "test: not root; skipping scripts/setup.sh (the end-to-end tests will skip too)" >&2
fi

cargo build --workspace --all-targets
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets -- -D warnings
else
  echo "test: clippy is not installed; lint skipped" >&2
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# every test binary runs, also after one fails, so that the total below is complete
status=0
cargo test --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?
# cargo prints one result line per test binary, doc-tests last; close with the total.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
