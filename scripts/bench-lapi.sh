#!/usr/bin/env bash
# bench-lapi.sh - our Local API against the Go CrowdSec 1.4.6 LAPI, in the same run, same
# machine, same client (scripts/bench-lapi-driver.py), one LAPI at a time on loopback.
#
# Each implementation gets a config dir made by ../shared/bench/cs-setup.sh (SQLite in WAL
# mode, CAPI off, flush disabled so that seeded rows stay), its own cscli registers the
# machine, and the stores are seeded by direct inserts into each schema (driver `seed`: the
# fastest legitimate way for both; rows look like `cscli decisions add` bans).
#   (a) N active decisions: full `GET /v1/decisions/stream?startup=true` time, LAPI peak RSS
#   (b) BOUNCERS bouncers pulling the startup stream at once over N_PARALLEL active decisions
#   (c) N_EXPIRED expired rows on top of (a): incremental pulls, p50/p99 (one bouncer)
#   (d) alert ingest (alerts/s, profiles generating the bans) on SQLite and PostgreSQL
#   (e) `cscli decisions import` of IMPORT_IPS IPs (CSV), each cscli against its own LAPI
# Goals: (a) <= 2 s and <= 300 MB, (c) p99 <= 10 ms.
# The markdown table goes to stdout and to OUT; raw JSON lines to OUT.jsonl.
#
# usage: scripts/bench-lapi.sh
# env:   N_DECISIONS (1000000)  N_EXPIRED (2*N)  N_PARALLEL (N/10)  BOUNCERS (100)
#        INCR_PULLS (500)  INGEST_SECONDS (15)  INGEST_WORKERS (4)  INGEST_BATCH (10)
#        IMPORT_IPS (100000)  SKIP_PG=1 (no PostgreSQL ingest)
#        PARTS (abcde: the tests to run, e.g. PARTS=a)  IMPLS ("go rs": which LAPIs)
#        CS_TEST_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/test: server for (d))
#        CROWDSEC_BIN / CSCLI_BIN  our binaries (default: cargo build --release)
#        OUT (CARGO_TARGET_DIR or target, /bench-lapi.md)  KEEP_WORK=1
#        CROWDSEC_SHARED, CS_REF_ROOT as for the other bench scripts
# A loaded machine skews both columns alike only roughly: report `uptime` with the figures
# (the table header records the load average at start and end).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CROWDSEC_SHARED:-$ROOT/../shared}
BENCH=$SHARED/bench
DRIVER=$ROOT/scripts/bench-lapi-driver.py
. "$BENCH/ref-env.sh"

PARTS=${PARTS:-abcde}
IMPLS=${IMPLS:-go rs}
N=${N_DECISIONS:-1000000}
N_EXPIRED=${N_EXPIRED:-$((2 * N))}
N_PARALLEL=${N_PARALLEL:-$((N / 10))}
BOUNCERS=${BOUNCERS:-100}
INCR_PULLS=${INCR_PULLS:-500}
INGEST_SECONDS=${INGEST_SECONDS:-15}
INGEST_WORKERS=${INGEST_WORKERS:-4}
INGEST_BATCH=${INGEST_BATCH:-10}
IMPORT_IPS=${IMPORT_IPS:-100000}
PG_URL=${CS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${OUT:-$TARGET/bench-lapi.md}
MACHINE_ID=bench-agent
MACHINE_PASSWORD=bench-agent-password-0123456789
PROBE_KEY=benchprobebouncerkey0123456789ab

for tool in curl python3 sqlite3; do
  command -v "$tool" >/dev/null || { echo "bench-lapi.sh needs $tool" >&2; exit 1; }
done
[ "${SKIP_PG:-0}" = 1 ] || command -v psql >/dev/null || { echo "bench-lapi.sh needs psql (or SKIP_PG=1)" >&2; exit 1; }

if [ -z "${CROWDSEC_BIN:-}" ] || [ -z "${CSCLI_BIN:-}" ]; then
  (cd "$ROOT" && cargo build -q --release -p crowdsec -p cscli)
  CROWDSEC_BIN=${CROWDSEC_BIN:-$TARGET/release/crowdsec}
  CSCLI_BIN=${CSCLI_BIN:-$TARGET/release/cscli}
fi
declare -A LAPI_BIN=([go]=$CS_REF_CROWDSEC [rs]=$CROWDSEC_BIN)
declare -A CSCLI=([go]=$CS_REF_CSCLI [rs]=$CSCLI_BIN)

W=$(mktemp -d /tmp/bench-lapi.XXXXXX)
PID=
PG_DBS=()
cleanup() {
  set +e
  stop_lapi
  for db in "${PG_DBS[@]}"; do psql "$PG_URL" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work directory kept: $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
mkdir -p "$(dirname "$OUT")"
: >"$OUT.jsonl"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
record() { # impl test json
  printf '{"impl":"%s","test":"%s","result":%s}\n' "$1" "$2" "$3" >>"$OUT.jsonl"
  log "$1 $2: $3"
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# setup IMPL NAME [DB_YAML]: config dir $W/NAME for IMPL, machine + probe bouncer registered.
setup() {
  local impl=$1 name=$2 db_yaml=${3:-}
  local d=$W/$name port
  port=$(free_port)
  CS_SETUP_REGISTER=0 "$BENCH/cs-setup.sh" "$d" "$port" 0 0 >"$W/$name-setup.log" 2>&1
  # No Prometheus listener, no flush (it would delete seeded rows).
  sed -i -e '/^prometheus:/,$ s/enabled: true/enabled: false/' \
    -e '/^  flush:/d' -e '/^    max_items:/d' -e '/^    max_age:/d' "$d/etc/lapi.yaml"
  if [ -n "$db_yaml" ]; then
    # the LAPI and cscli read the same db_config block
    for f in lapi.yaml cscli.yaml; do
      python3 - "$d/etc/$f" "$db_yaml" <<'EOF'
import re, sys
path, block = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"^db_config:\n(?:  .*\n)+", lambda _: "db_config:\n" + block, text, flags=re.M)
open(path, "w").write(text)
EOF
    done
  fi
  local cs="${CSCLI[$impl]} -c $d/etc/cscli.yaml --error"
  $cs machines add "$MACHINE_ID" --password "$MACHINE_PASSWORD" -f "$d/etc/local_api_credentials.yaml" --force >"$W/$name-register.log" 2>&1
  $cs bouncers add bench-probe -k "$PROBE_KEY" >>"$W/$name-register.log" 2>&1
  echo "$port" >"$d/port"
}
url_of() { echo "http://127.0.0.1:$(cat "$W/$1/port")"; }
db_of() { echo "$W/$1/data/crowdsec.db"; }

start_lapi() { # IMPL NAME
  local url
  url=$(url_of "$2")
  "${LAPI_BIN[$1]}" -c "$W/$2/etc/lapi.yaml" -no-cs >"$W/$2-lapi.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do curl -fs -o /dev/null "$url/health" && return 0; sleep 0.2; done
  echo "LAPI $1 ($2) did not answer on $url; log:" >&2
  tail -20 "$W/$2-lapi.log" >&2
  exit 1
}
stop_lapi() {
  [ -n "$PID" ] || return 0
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}
peak_rss_mb() { awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status"; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "bench-lapi: N=$N N_EXPIRED=$N_EXPIRED N_PARALLEL=$N_PARALLEL BOUNCERS=$BOUNCERS; load $LOAD_START"

declare -A R
has() { [[ $PARTS == *"$1"* ]]; }
for impl in $IMPLS; do
  # --- (b) BOUNCERS bouncers at once over N_PARALLEL decisions, then (a) and (c) -------------
  if has a || has b || has c; then
    setup "$impl" "$impl-stream"
    db=$(db_of "$impl-stream")
    python3 "$DRIVER" seed "$impl" "$db" bouncers "$BOUNCERS" |
      python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["keys"]))' >"$W/$impl-keys"
    url=$(url_of "$impl-stream")
    seeded=0
    if has b; then
      python3 "$DRIVER" seed "$impl" "$db" active "$N_PARALLEL" >/dev/null
      seeded=$N_PARALLEL
      start_lapi "$impl" "$impl-stream"
      j=$(python3 "$DRIVER" parallel "$url" "$W/$impl-keys")
      R[$impl,b_wall]=$(field "$j" wall_seconds); R[$impl,b_failed]=$(field "$j" failed)
      R[$impl,b_rss]=$(peak_rss_mb)
      record "$impl" "parallel-startup" "$j"
      stop_lapi
    fi
  fi
  # (c) runs over the rows of (a).
  if has a || has c; then
    python3 "$DRIVER" seed "$impl" "$db" active $((N - seeded)) >/dev/null
  fi
  if has a; then
    start_lapi "$impl" "$impl-stream"
    j=$(python3 "$DRIVER" startup "$url" "$PROBE_KEY")
    R[$impl,a_time]=$(field "$j" seconds); R[$impl,a_count]=$(field "$j" decisions)
    R[$impl,a_rss]=$(peak_rss_mb)
    record "$impl" "startup" "$j"
    stop_lapi
  fi
  if has c; then
    python3 "$DRIVER" seed "$impl" "$db" expired "$N_EXPIRED" >/dev/null
    start_lapi "$impl" "$impl-stream"
    # A bouncer that already did its startup pull: its last pull is its registration.
    j=$(python3 "$DRIVER" incr "$url" "$(head -1 "$W/$impl-keys")" "$INCR_PULLS")
    R[$impl,c_p50]=$(field "$j" p50_ms); R[$impl,c_p99]=$(field "$j" p99_ms)
    record "$impl" "incremental" "$j"
    stop_lapi
  fi

  # --- (d) alert ingest ---------------------------------------------------------------------
  if has d; then
    setup "$impl" "$impl-ingest"
    start_lapi "$impl" "$impl-ingest"
    j=$(python3 "$DRIVER" ingest "$(url_of "$impl-ingest")" "$MACHINE_ID" "$MACHINE_PASSWORD" \
      "$INGEST_SECONDS" "$INGEST_WORKERS" "$INGEST_BATCH")
    R[$impl,d_sqlite]=$(field "$j" alerts_per_s)
    record "$impl" "ingest-sqlite" "$j"
    stop_lapi
    if [ "${SKIP_PG:-0}" != 1 ]; then
      pgdb="bench_lapi_${impl}_$$"
      psql "$PG_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $pgdb" >/dev/null
      PG_DBS+=("$pgdb")
      hostport=${PG_URL#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
      pguser=${PG_URL#*://}; pguser=${pguser%%@*}; pguser=${pguser%%:*}
      block="  type: postgresql
  user: $pguser
  password: bench
  db_name: $pgdb
  host: ${hostport%%:*}
  port: ${hostport##*:}
  sslmode: disable
"
      setup "$impl" "$impl-ingest-pg" "$block"
      start_lapi "$impl" "$impl-ingest-pg"
      j=$(python3 "$DRIVER" ingest "$(url_of "$impl-ingest-pg")" "$MACHINE_ID" "$MACHINE_PASSWORD" \
        "$INGEST_SECONDS" "$INGEST_WORKERS" "$INGEST_BATCH")
      R[$impl,d_pg]=$(field "$j" alerts_per_s)
      record "$impl" "ingest-postgresql" "$j"
      stop_lapi
    else
      R[$impl,d_pg]=nan
    fi
  fi

  # --- (e) cscli decisions import -------------------------------------------------------------
  if has e; then
    setup "$impl" "$impl-import"
    python3 -c 'import sys
n = int(sys.argv[1])
print("value")
for i in range(n):
    v = 0x0A000000 + i
    print(f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}")' "$IMPORT_IPS" >"$W/import.csv"
    start_lapi "$impl" "$impl-import"
    t0=$(date +%s.%N)
    ${CSCLI[$impl]} -c "$W/$impl-import/etc/cscli.yaml" --error decisions import -i "$W/import.csv" \
      --duration 4h --reason "bench import" --type ban >"$W/$impl-import.log" 2>&1 </dev/null
    t1=$(date +%s.%N)
    count=$(sqlite3 "$(db_of "$impl-import")" "SELECT count(*) FROM decisions")
    R[$impl,e_time]=$(python3 -c "print(round($t1 - $t0, 2))")
    record "$impl" "import" "{\"ips\":$IMPORT_IPS,\"seconds\":${R[$impl,e_time]},\"stored\":$count}"
    R[$impl,e_stored]=$count
    stop_lapi
  fi
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { python3 -c 'import sys
a, b = sys.argv[1], sys.argv[2]
try:
    print(f"{float(a) / float(b):.1f}x")
except (ValueError, ZeroDivisionError):
    print("-")' "$1" "$2"; }
f2() { python3 -c 'import sys
try: print(f"{float(sys.argv[1]):.{sys.argv[2]}f}")
except ValueError: print(sys.argv[1])' "$1" "$2"; }
{
  echo "## Local API benchmark: ours vs Go CrowdSec 1.4.6 ($CS_REF_VERSION)"
  echo
  echo "$(date -u +%F\ %H:%M) UTC, $(nproc) cores, load average $LOAD_START at start, $LOAD_END at end."
  echo "Scale: N=$N active decisions, $N_EXPIRED expired, $BOUNCERS bouncers over $N_PARALLEL decisions,"
  echo "ingest $INGEST_WORKERS connections x $INGEST_BATCH alerts/request for ${INGEST_SECONDS}s, import of $IMPORT_IPS IPs."
  echo
  echo "| test | Go 1.4.6 | ours | Go/ours | goal |"
  echo "|---|---|---|---|---|"
  echo "| (a) startup stream, ${R[go,a_count]:--} / ${R[rs,a_count]:--} decisions (s) | $(f2 "${R[go,a_time]:--}" 2) | $(f2 "${R[rs,a_time]:--}" 2) | $(ratio "${R[go,a_time]:--}" "${R[rs,a_time]:--}") | <= 2 s at 1M |"
  echo "| (a) LAPI peak RSS (MB) | ${R[go,a_rss]:--} | ${R[rs,a_rss]:--} | $(ratio "${R[go,a_rss]:--}" "${R[rs,a_rss]:--}") | <= 300 MB at 1M |"
  echo "| (b) $BOUNCERS bouncers startup at once, wall (s) | $(f2 "${R[go,b_wall]:--}" 2) | $(f2 "${R[rs,b_wall]:--}" 2) | $(ratio "${R[go,b_wall]:--}" "${R[rs,b_wall]:--}") | |"
  echo "| (b) failed pulls | ${R[go,b_failed]:--} | ${R[rs,b_failed]:--} | | 0 |"
  echo "| (b) LAPI peak RSS (MB) | ${R[go,b_rss]:--} | ${R[rs,b_rss]:--} | $(ratio "${R[go,b_rss]:--}" "${R[rs,b_rss]:--}") | |"
  echo "| (c) incremental pull p50 (ms) | $(f2 "${R[go,c_p50]:--}" 2) | $(f2 "${R[rs,c_p50]:--}" 2) | $(ratio "${R[go,c_p50]:--}" "${R[rs,c_p50]:--}") | |"
  echo "| (c) incremental pull p99 (ms) | $(f2 "${R[go,c_p99]:--}" 2) | $(f2 "${R[rs,c_p99]:--}" 2) | $(ratio "${R[go,c_p99]:--}" "${R[rs,c_p99]:--}") | <= 10 ms |"
  echo "| (d) alert ingest SQLite (alerts/s) | $(f2 "${R[go,d_sqlite]:--}" 0) | $(f2 "${R[rs,d_sqlite]:--}" 0) | $(ratio "${R[rs,d_sqlite]:--}" "${R[go,d_sqlite]:--}") (ours/Go) | |"
  echo "| (d) alert ingest PostgreSQL (alerts/s) | $(f2 "${R[go,d_pg]:--}" 0) | $(f2 "${R[rs,d_pg]:--}" 0) | $(ratio "${R[rs,d_pg]:--}" "${R[go,d_pg]:--}") (ours/Go) | |"
  echo "| (e) cscli decisions import $IMPORT_IPS IPs (s) | ${R[go,e_time]:--} (${R[go,e_stored]:--} stored) | ${R[rs,e_time]:--} (${R[rs,e_stored]:--} stored) | $(ratio "${R[go,e_time]:--}" "${R[rs,e_time]:--}") | |"
  echo
  echo "Client: scripts/bench-lapi-driver.py (Python, same machine: it shares the cores with the LAPI)."
} | tee "$OUT"
