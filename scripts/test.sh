#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit/integration/conformance tests, and the end-to-end
# checks against the real Go clients. Needs ../shared beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

shared="${CROWDSEC_SHARED:-../shared}"
if [ ! -d "$shared/hub" ]; then
  echo "error: the shared test material is missing at $shared (set CROWDSEC_SHARED)" >&2
  exit 1
fi

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "fuzz targets compile"
for manifest in crates/*/fuzz/Cargo.toml; do
  cargo check -q --manifest-path "$manifest" --target-dir "${CARGO_TARGET_DIR:-target}/fuzz"
done

step "real Go clients against our Local API"
if [ "$(id -u)" = 0 ]; then
  scripts/real-clients.sh
else
  echo "error: scripts/real-clients.sh needs root (network namespace, nftables)" >&2
  exit 1
fi
