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

# The Go reference binaries (Debian packages, extracted, never installed) are used by the tests of
# the plugins, bouncers and alert comparison; the script does nothing when they are already there.
step "reference binaries"
if [ "$(id -u)" = 0 ] || [ -d "${CS_REF_ROOT:-/opt/crowdsec-ref}/usr/bin" ]; then
  "$shared/bench/install-reference.sh"
else
  echo "error: $shared/bench/install-reference.sh needs root the first time" >&2
  exit 1
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
# The end-to-end tests run the crowdsec and cscli binaries of the same target directory.
cargo build --workspace --bins --locked
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

target=$(realpath -m "${CARGO_TARGET_DIR:-target}")

step "schemathesis: the LAPI against its OpenAPI contract"
CROWDSEC_BIN="$target/debug/crowdsec" CSCLI_BIN="$target/debug/cscli" scripts/schemathesis.sh

step "same alerts as the reference CrowdSec 1.4.6 (auth-100k)"
CROWDSEC_BIN="$target/debug/crowdsec" CSCLI_BIN="$target/debug/cscli" \
  scripts/compare-alerts.sh "${CS_CORPUS_DIR:-$target/corpus}/auth-100k.log" syslog
