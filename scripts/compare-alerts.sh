#!/usr/bin/env bash
# compare-alerts.sh - same alerts as the reference CrowdSec 1.4.6 on the same log?
#
# Replays CORPUS with TYPE through the reference Go crowdsec (3 runs, cached) and through ours,
# both with the same hub items (the Debian hub snapshot the reference ships, enabled by
# ../shared/bench/cs-setup.sh), then compares the alerts with ../shared/bench/alerts-compare.py:
# same (scenario, source IP) pairs, per-scenario counts within the spread of the reference runs.
# Exit status: the comparison's (0 = same alerts).
#
# usage: scripts/compare-alerts.sh CORPUS TYPE
#   CORPUS  a log file; a missing auth-100k.log, access-100k.log, auth.log or access.log is
#           generated with ../shared/bench/gen-corpus.py (deterministic)
#   TYPE    the -type label (syslog, nginx, ...)
# env: CROWDSEC_SHARED     shared material (default: ../shared beside the repository)
#      CROWDSEC_BIN / CSCLI_BIN   our binaries (default: cargo build --release into
#                         CARGO_TARGET_DIR, default target/)
#      CS_LAPI=real|stub  real (default): each implementation pushes to its own LAPI and the
#                         alerts are read back with its own cscli; stub: both push to
#                         lapi-stub.py (agent alone; use it for auth.log, ~40k alerts)
#      CS_BENCH_CACHE     reference runs cache (default ~/.cache/crowdsec-rs/ref-runs), keyed by
#                         the corpus sha256, TYPE, CS_LAPI, the reference version and the hub
#                         item selection; REF_RUNS reference runs (default 3) are made once
#      CS_REF_ROOT        reference install (install-reference.sh runs when it is missing)
#      OUT                where our run goes (default: a temporary dir, kept on failure)
#      CS_LAPI_PORT CS_AGENT_PROM CS_LAPI_PROM   ports (default: three free ones)
#      CS_COLLECTIONS / CS_EXTRA_PARSERS         hub item selection (see cs-setup.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CROWDSEC_SHARED:-$ROOT/../shared}
BENCH=$(cd "$SHARED/bench" 2>/dev/null && pwd) ||
  { echo "shared bench scripts not found at $SHARED/bench (set CROWDSEC_SHARED)" >&2; exit 2; }
CORPUS=${1:?usage: compare-alerts.sh CORPUS TYPE}
TYPE=${2:?usage: compare-alerts.sh CORPUS TYPE}
LAPI_MODE=${CS_LAPI:-real}
REF_RUNS=${REF_RUNS:-3}
CACHE=${CS_BENCH_CACHE:-$HOME/.cache/crowdsec-rs/ref-runs}
case $LAPI_MODE in real | stub) ;; *) echo "CS_LAPI must be real or stub" >&2; exit 2 ;; esac

# The corpus: generated when it is one of the bench's named files and missing.
if [ ! -e "$CORPUS" ]; then
  mkdir -p "$(dirname "$CORPUS")"
  case $(basename "$CORPUS") in
    auth-100k.log) python3 "$BENCH/gen-corpus.py" sshd --lines 100000 --out "$CORPUS" ;;
    access-100k.log) python3 "$BENCH/gen-corpus.py" nginx --lines 100000 --out "$CORPUS" ;;
    auth.log | access.log)
      python3 "$BENCH/gen-corpus.py" all --outdir "$(dirname "$CORPUS")" ;;
    *) echo "cannot read $CORPUS" >&2; exit 2 ;;
  esac
fi
CORPUS=$(readlink -f "$CORPUS")

# The reference (installed by ref-env.sh when missing) and its version.
. "$BENCH/ref-env.sh"
REF_VERSION=${CS_REF_VERSION:-$("$CS_REF_CROWDSEC" -version 2>&1 | sed -n 's/.*version: //p' | head -1)}
[ -n "$REF_VERSION" ] || { echo "cannot tell the reference version" >&2; exit 2; }

# Our binaries.
if [ -z "${CROWDSEC_BIN:-}" ] || [ -z "${CSCLI_BIN:-}" ]; then
  TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
  (cd "$ROOT" && cargo build -q --release -p crowdsec -p cscli)
  CROWDSEC_BIN=${CROWDSEC_BIN:-$TARGET/release/crowdsec}
  CSCLI_BIN=${CSCLI_BIN:-$TARGET/release/cscli}
fi
for b in "$CROWDSEC_BIN" "$CSCLI_BIN"; do
  [ -x "$b" ] || { echo "not executable: $b" >&2; exit 2; }
done

# Ports: the caller's, or three free ones (runs of other users of the bench may hold the
# defaults).
if [ -z "${CS_LAPI_PORT:-}" ] || [ -z "${CS_AGENT_PROM:-}" ] || [ -z "${CS_LAPI_PROM:-}" ]; then
  read -r p1 p2 p3 < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
  export CS_LAPI_PORT=${CS_LAPI_PORT:-$p1} CS_AGENT_PROM=${CS_AGENT_PROM:-$p2} CS_LAPI_PROM=${CS_LAPI_PROM:-$p3}
fi
export CS_LAPI=$LAPI_MODE

WORK=$(mktemp -d /tmp/compare-alerts.XXXXXX)
export CS_WORK=$WORK/cs
KEEP=0
cleanup() { [ "$KEEP" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

# Reference runs, cached. The key names everything that changes the reference's alerts.
SHA=$(sha256sum "$CORPUS" | cut -c1-64)
SELECTION="${CS_COLLECTIONS-default}|${CS_EXTRA_PARSERS-default}"
SEL_HASH=$(printf '%s' "$SELECTION" | sha256sum | cut -c1-12)
KEY_DIR=$CACHE/$(printf '%s' "$REF_VERSION" | tr -c 'A-Za-z0-9._+-' '_')/$SHA-$TYPE-$LAPI_MODE-$SEL_HASH
mkdir -p "$KEY_DIR"
ref_ok() { [ -s "$1/alerts.json" ] && python3 - "$1/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r.get("agent_exit") == 0 and r.get("lines_read", 0) > 0 else 1)
PY
}
REFS=()
exec 9>"$KEY_DIR/.lock"
flock 9
for i in $(seq "$REF_RUNS"); do
  R=$KEY_DIR/ref-$i
  if ! ref_ok "$R"; then
    echo "reference run $i/$REF_RUNS of $(basename "$CORPUS") ($TYPE, LAPI $LAPI_MODE) -> $R" >&2
    rm -rf "$R.tmp"
    if ! "$BENCH/run-crowdsec-ref.sh" "$CORPUS" "$TYPE" "$R.tmp" >"$WORK/ref-$i.out" 2>&1 ||
       ! ref_ok "$R.tmp"; then
      KEEP=1
      echo "reference run failed (output: $WORK/ref-$i.out, $R.tmp)" >&2
      exit 2
    fi
    rm -rf "$R" && mv "$R.tmp" "$R"
    printf 'corpus=%s sha256=%s type=%s lapi=%s reference=%s selection=%s\n' \
      "$CORPUS" "$SHA" "$TYPE" "$LAPI_MODE" "$REF_VERSION" "$SELECTION" >"$KEY_DIR/key.txt"
  fi
  REFS+=("$R")
done
flock -u 9
echo "reference runs: $KEY_DIR/ref-{1..$REF_RUNS}" >&2

# Our run, through the same script, config dir and hub items.
CAND=${OUT:-$WORK/ours}
rm -rf "$CAND"
if ! CS_BIN=$CROWDSEC_BIN CS_CSCLI_BIN=$CSCLI_BIN "$BENCH/run-crowdsec-ref.sh" "$CORPUS" "$TYPE" "$CAND" \
     >"$WORK/ours.out" 2>&1; then
  KEEP=1
  echo "our run failed (output: $WORK/ours.out, $CAND)" >&2
  tail -20 "$WORK/ours.out" >&2
  exit 2
fi
sed -n '/^lines read/,/^LAPI during/p' "$CAND/summary.txt" | sed 's/^/ours: /' >&2
RC=0
python3 "$BENCH/alerts-compare.py" "${REFS[@]}" "$CAND" || RC=$?
if [ "$RC" != 0 ]; then
  KEEP=1
  echo "our run kept in $CAND" >&2
fi
exit "$RC"
