#!/usr/bin/env bash
# bench-live.sh - sustained live tailing: our agent, and the reference CrowdSec 1.4.6 agent at a
# rate it sustains, each tailing a file that a rate-controlled writer appends sshd syslog lines
# to, with marked SSH brute-force attacks injected; CPU %, RSS, lines read vs written, and the
# delay from the line that overflows ssh-bf being written to its alert reaching the LAPI.
#
# usage: scripts/bench-live.sh [CASE...]
#   CASE  IMPL:RATE[:DURATION]   IMPL is ours or ref, RATE lines/s, DURATION s (default $DURATION)
#         default: ours:20000 ref:$SIDE_RATE ours:$SIDE_RATE (run in this order, so the side-by-side
#         pair is adjacent in time). To find the rate the reference sustains:
#         DURATION=15 scripts/bench-live.sh ref:2000 ref:4000 ref:8000 ref:12000
# env: DURATION     seconds of writing per case (default 60)
#      SIDE_RATE    the rate of the side-by-side pair (default 4000: the reference kept up at
#                   4000 and 8000 on a loaded 2-CPU machine, not at 20000)
#      ATTACK_EVERY seconds between attacks (default 0.5: 2 alerts/s, ~120 per minute)
#      OUT          results (default /tmp/bench-live): OUT/<n>-<impl>-<rate>/{result.json,
#                   alerts.jsonl, agent.log, lapi.log, writer.log, cfg/}, OUT/table.md
#      CORPUS       gen-corpus.py sshd output the benign lines come from (default
#                   /tmp/corpus/auth-100k.log, generated when missing)
#      CROWDSEC_BIN our crowdsec (default: cargo build --release -p crowdsec into
#                   CARGO_TARGET_DIR, default target/)
#      CROWDSEC_SHARED (default ../shared beside the repository), CS_REF_ROOT (the reference)
#
# Each case, in a fresh config dir made by ../shared/bench/cs-setup.sh (the hub items the
# Debian 1.4.6 package enables: collections linux, sshd, nginx, base-http-scenarios and the
# whitelists parser, from the Debian hub snapshot; sqlite, Prometheus on loopback):
#   - acquis.yaml: one file source, type syslog, tailing OUT/.../cfg/log/live.log (empty at start);
#   - the LAPI is scripts/bench-live-lapi.py for BOTH implementations: it accepts the login and
#     the alert batches at once and timestamps each alert. The agent runs alone
#     (`crowdsec -c agent.yaml -no-api`), so the figures are the agent's, without LAPI ingestion;
#   - scripts/bench-live-writer.py writes a warm-up, waits until the agent counted it, then
#     writes RATE lines/s for DURATION s: benign sshd/syslog lines from CORPUS (attackers and
#     failed logins removed, current time stamps) and, every ATTACK_EVERY s, 6 failed root
#     logins from a fresh 198.18.0.0/15 address (ssh-bf: capacity 5, so exactly one alert);
#     then waits for the agent to read every line and for the alerts.
# Figures: CPU % = agent utime+stime over the writing window / its length (100 % = one core);
# CPU s per million lines over writing + drain; RSS: VmHWM (peak since start, so including
# start-up), the largest VmRSS sampled once a second while writing, VmRSS at the end; lines read =
# the agent's cs_filesource_hits_total; lag = lines written but not yet read when writing
# stopped; drain = seconds until every line was read; delay = alert received by the LAPI minus
# the write of the 6th line, per attack (p50/p99/max over the attacks). "kept up": lag at the
# end under one second of input and every line read within 2 s. Both agents collect alerts for
# up to 1 s before a push (upstream's batching), so the delay is at least uniform over 0..1 s.
# Both run with the config's parser_routines: 1 (cs-setup.sh).
# Duration: about DURATION + 6 s per case, so ~3.5 min with the defaults.
# The writer and the stand-in LAPI (python) share the machine with the agent; on 2 CPUs keep it
# otherwise idle. Run it when nothing else builds: the numbers of a loaded machine are only a
# trial.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CROWDSEC_SHARED:-$ROOT/../shared}
BENCH=$(cd "$SHARED/bench" 2>/dev/null && pwd) ||
  { echo "bench-live: shared bench scripts not found at $SHARED/bench (set CROWDSEC_SHARED)" >&2; exit 2; }
DURATION=${DURATION:-60}
SIDE_RATE=${SIDE_RATE:-4000}
ATTACK_EVERY=${ATTACK_EVERY:-0.5}
OUT=${OUT:-/tmp/bench-live}
CORPUS=${CORPUS:-/tmp/corpus/auth-100k.log}
if [ $# -gt 0 ]; then CASES=("$@"); else CASES=("ours:20000" "ref:$SIDE_RATE" "ours:$SIDE_RATE"); fi
. "$BENCH/ref-env.sh"

for c in "${CASES[@]}"; do
  [[ $c =~ ^(ours|ref):[0-9]+(\.[0-9]+)?(:[0-9]+(\.[0-9]+)?)?$ ]] ||
    { echo "bench-live: bad case '$c' (IMPL:RATE[:DURATION], IMPL ours or ref)" >&2; exit 2; }
done

if [ ! -e "$CORPUS" ]; then
  mkdir -p "$(dirname "$CORPUS")"
  python3 "$BENCH/gen-corpus.py" sshd --lines 100000 --out "$CORPUS" >/dev/null
fi
[ -e "$CORPUS.truth.json" ] || { echo "bench-live: $CORPUS.truth.json missing (gen-corpus.py writes it)" >&2; exit 2; }
OURS_BIN=""
if [[ " ${CASES[*]}" == *" ours:"* ]]; then
  if [ -z "${CROWDSEC_BIN:-}" ]; then
    (cd "$ROOT" && cargo build -q --release -p crowdsec)
    CROWDSEC_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/crowdsec
  fi
  [ -x "$CROWDSEC_BIN" ] || { echo "bench-live: not executable: $CROWDSEC_BIN" >&2; exit 2; }
  OURS_BIN=$(realpath "$CROWDSEC_BIN")
fi
REF_BIN=$CS_REF_CROWDSEC

AGENT_PID="" LAPI_PID=""
stop_pid() { # pid: TERM, up to 10 s, then KILL
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  stop_pid "$AGENT_PID"
  stop_pid "$LAPI_PID"
  AGENT_PID="" LAPI_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_ports() {
  python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])'
}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RUNS=()
n=0
for c in "${CASES[@]}"; do
  n=$((n + 1))
  IFS=: read -r impl rate dur <<<"$c"
  dur=${dur:-$DURATION}
  case $impl in ours) bin=$OURS_BIN ;; ref) bin=$REF_BIN ;; esac
  R=$OUT/$n-$impl-$rate
  rm -rf "$R"
  mkdir -p "$R"
  RUNS+=("$R")
  read -r lapi_port prom_port prom2_port < <(free_ports)
  echo "=== case $n: $impl at $rate lines/s for $dur s ($(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)) -> $R" >&2
  CS_SETUP_REGISTER=0 "$BENCH/cs-setup.sh" "$R/cfg" "$lapi_port" "$prom_port" "$prom2_port" 2>"$R/setup.log" ||
    { echo "bench-live: cs-setup.sh failed, see $R/setup.log" >&2; exit 1; }
  LOG=$R/cfg/log/live.log
  : >"$LOG"
  printf 'filenames:\n  - %s\nlabels:\n  type: syslog\n' "$LOG" >"$R/cfg/etc/acquis.yaml"

  python3 "$ROOT/scripts/bench-live-lapi.py" "$lapi_port" "$R/alerts.jsonl" "$R/lapi.ready" >"$R/lapi.log" 2>&1 &
  LAPI_PID=$!
  for _ in $(seq 100); do [ -e "$R/lapi.ready" ] && break; sleep 0.1; done
  [ -e "$R/lapi.ready" ] || { echo "bench-live: the stand-in LAPI did not start, see $R/lapi.log" >&2; exit 1; }

  "$bin" -c "$R/cfg/etc/agent.yaml" -no-api >"$R/agent.log" 2>&1 &
  AGENT_PID=$!
  {
    echo "impl=$impl"
    echo "bin=$bin"
    echo "sha256=$(sha256sum "$bin" | cut -c1-16)"
    echo "version=$("$bin" -version 2>&1 | sed -n 's/.*version: //p' | head -1)"
    echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg) cpus=$(nproc)"
  } >"$R/info.txt"
  if ! python3 "$ROOT/scripts/bench-live-writer.py" --log "$LOG" --rate "$rate" --duration "$dur" \
    --pid "$AGENT_PID" --prom "http://127.0.0.1:$prom_port/metrics" --alerts "$R/alerts.jsonl" \
    --corpus "$CORPUS" --attack-every "$ATTACK_EVERY" --out "$R/result.json" >"$R/writer.log" 2>&1; then
    echo "bench-live: case $n failed: $(tail -1 "$R/writer.log"); agent log $R/agent.log" >&2
    tail -5 "$R/agent.log" >&2 || true
  fi
  echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$R/info.txt"
  cleanup
  rm -f "$LOG"   # up to a few hundred MB at 20k lines/s
done

python3 - "${RUNS[@]}" <<'PY' | tee "$OUT/table.md"
import json, os, sys

def pct(v, q):
    """Nearest-rank percentile of a sorted list."""
    if not v:
        return None
    k = max(0, min(len(v) - 1, -(-q * len(v) // 100) - 1))
    return v[int(k)]

def ms(x):
    return "-" if x is None else f"{x * 1000:.0f}"

rows = []
for r in sys.argv[1:]:
    info = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(r, "info.txt")) if "=" in l)
    impl = "crowdsec-rs" if info.get("impl") == "ours" else "Go crowdsec 1.4.6"
    name = os.path.basename(r)
    try:
        res = json.load(open(os.path.join(r, "result.json")))
    except (OSError, ValueError):
        rows.append(f"| {impl} | {name.split('-')[-1]} | failed: see {r}/writer.log |" + " |" * 13)
        continue
    first = {}
    other = 0
    try:
        alerts = [json.loads(l) for l in open(os.path.join(r, "alerts.jsonl"))]
    except (OSError, ValueError):
        alerts = []
    want = {a["ip"]: a["t_overflow"] for a in res["attacks"]}
    for a in alerts:
        if a["scenario"] == "crowdsecurity/ssh-bf" and a["ip"] in want and a["ip"] not in first:
            first[a["ip"]] = a["t"]
        else:
            other += 1
    delays = sorted(first[ip] - t for ip, t in want.items() if ip in first)
    w, rd = res["lines_written"], res["read_final"]
    window = res["t_end"] - res["t0"]
    cpu_w = (res["cpu_ticks_end"] - res["cpu_ticks_start"]) / res["hz"]
    cpu_all = (res["cpu_ticks_drained"] - res["cpu_ticks_start"]) / res["hz"]
    lag = w - res["read_at_end_of_writing"]
    drain = (res["t_drained"] - res["t_end"]) if res["t_drained"] else None
    kept = lag <= res["rate_target"] and drain is not None and drain <= 2
    mib = lambda kb: f"{kb / 1024:.1f}"
    rows.append(
        f"| {impl} | {res['rate_target']:.0f} | {res['rate_achieved']:.0f} | {window:.0f} | {w} | {rd} | "
        f"{w - rd} | {lag} | {'-' if drain is None else f'{drain:.1f}'} | {'yes' if kept else 'NO'} | "
        f"{100 * cpu_w / window:.1f} | {cpu_all / (w / 1e6):.1f} | "
        f"{mib(res['hwm_kb'])} / {mib(res['rss_kb_max_sampled'])} / {mib(res['rss_kb_end'])} | "
        f"{len(want)} / {len(first)} | {other} | {ms(pct(delays, 50))} / {ms(pct(delays, 99))} / "
        f"{ms(delays[-1] if delays else None)} | {info.get('load_start', '?').split()[0]} |")
print("| agent | rate target | rate written | s | lines written | lines read | lost | lag at end | "
      "drain s | kept up | CPU % | CPU s / M lines | RSS MiB peak (HWM) / max run / end | "
      "alerts expected / received | other alerts | delay ms p50 / p99 / max | load at start |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|---:|---|---:|")
print("\n".join(rows))
PY
echo "machine: $(nproc) CPUs, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); LAPI: scripts/bench-live-lapi.py for both (agent alone)" |
  tee -a "$OUT/table.md"
