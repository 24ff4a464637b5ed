#!/usr/bin/env bash
# bench-rest.sh - memory at rest: resident set size of crowdsec once started and idle (no
# input), with the built-in starter content (ours), with the hub items the Debian 1.4.6 package
# enables from its hub snapshot (ours and the reference Go CrowdSec 1.4.6), and with every
# parser, scenario, postoverflow and context of the current hub (ours).
#
# usage: scripts/bench-rest.sh
# env: SETTLE       seconds of rest after start-up before reading the memory (default 10)
#      MODES        "daemon agent" (default) or one of them:
#                     daemon: `crowdsec -c CFG`, agent + Local API (sqlite) in one process, as
#                             installed;
#                     agent:  `crowdsec -c CFG -no-api`, the agent alone, pushing to
#                             scripts/bench-live-lapi.py (the live benchmark's set-up)
#      CONFIGS      among "starter debian-ref debian-ours hub" (default: all four)
#      OUT          results (default /tmp/bench-rest): OUT/<config>-<mode>/ (config dir,
#                   daemon output, rss.json), OUT/hub-install/ (the whole-hub install log and
#                   the items refused), OUT/table.md
#      CROWDSEC_BIN / CSCLI_BIN   ours (default: cargo build --release -p crowdsec -p cscli into
#                   CARGO_TARGET_DIR, default target/)
#      CROWDSEC_SHARED (default ../shared beside the repository: bench scripts and hub),
#      CS_REF_ROOT (the reference, see ../shared/bench/ref-env.sh)
#
# Configurations:
#   starter      ours; a config dir without parsers, so the agent installs the built-in starter
#                content when it loads (done by `crowdsec -no-api -t` before the measured start,
#                since the Local API reads profiles.yaml first; an acquis.yaml tailing an empty
#                file is written before, so the starter's acquisition of the system logs is not
#                installed)
#   debian-ref   the reference 1.4.6; config dir by ../shared/bench/cs-setup.sh (collections
#                linux, sshd, nginx, base-http-scenarios + whitelists, Debian hub snapshot)
#   debian-ours  ours on the same kind of config dir, its machine registered with our cscli
#   hub          ours; `cscli hub update` then `cscli parsers|scenarios|postoverflows|contexts
#                install --ignore` of every item of the index of ../shared/hub (file:// hub),
#                the items left out retried one by one. cscli's errors and the items it did not
#                install are listed; then `crowdsec -t` is run and each item the
#                loader refuses is removed (and listed with its error) until the rest loads.
#                Both lists go to OUT/hub-install/refused.md and below the table.
# Duration: about 2 min with the defaults (8 runs of ready + SETTLE s, the whole-hub install).
# Each run: start, wait until the metrics endpoint (and in daemon mode /health) answers and the
# log says "Starting processing data", rest SETTLE s with no input, then read VmRSS and VmHWM
# (/proc/PID/status) and the CPU time used while resting, and stop the process.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CROWDSEC_SHARED:-$ROOT/../shared}
SHARED=$(cd "$SHARED" 2>/dev/null && pwd) ||
  { echo "bench-rest: shared material not found at $SHARED (set CROWDSEC_SHARED)" >&2; exit 2; }
BENCH=$SHARED/bench
HUB=$SHARED/hub
[ -e "$HUB/.index.json" ] || { echo "bench-rest: no hub index at $HUB/.index.json" >&2; exit 2; }
SETTLE=${SETTLE:-10}
MODES=${MODES:-"daemon agent"}
CONFIGS=${CONFIGS:-"starter debian-ref debian-ours hub"}
OUT=${OUT:-/tmp/bench-rest}
. "$BENCH/ref-env.sh"
for m in $MODES; do
  case $m in daemon | agent) ;; *) echo "bench-rest: unknown mode '$m' (daemon, agent)" >&2; exit 2 ;; esac
done
for c in $CONFIGS; do
  case $c in starter | debian-ref | debian-ours | hub) ;;
    *) echo "bench-rest: unknown config '$c' (starter debian-ref debian-ours hub)" >&2; exit 2 ;;
  esac
done

if [ "$(echo $CONFIGS)" != debian-ref ]; then
  if [ -z "${CROWDSEC_BIN:-}" ] || [ -z "${CSCLI_BIN:-}" ]; then
    (cd "$ROOT" && cargo build -q --release -p crowdsec -p cscli)
    CROWDSEC_BIN=${CROWDSEC_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/crowdsec}
    CSCLI_BIN=${CSCLI_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/cscli}
  fi
  for b in "$CROWDSEC_BIN" "$CSCLI_BIN"; do
    [ -x "$b" ] || { echo "bench-rest: not executable: $b" >&2; exit 2; }
  done
  CROWDSEC_BIN=$(realpath "$CROWDSEC_BIN")
  CSCLI_BIN=$(realpath "$CSCLI_BIN")
fi

PIDS=()
stop_pid() { # pid: TERM, up to 10 s, then KILL
  [ -n "${1:-}" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  PIDS=()
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
answers() { curl -fs -o /dev/null --max-time 2 "$1"; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS=()

# Config dirs. Each writes $CFG (daemon mode), $AGENT_CFG (agent mode), $LAPI_PORT, $PROM
# (daemon mode's metrics port) and $AGENT_PROM.
setup_debian() { # dir impl
  local dir=$1 impl=$2 p1 p2 p3
  read -r p1 p2 p3 < <(free_ports)
  if [ "$impl" = ours ]; then
    CS_CSCLI_BIN=$CSCLI_BIN "$BENCH/cs-setup.sh" "$dir" "$p1" "$p2" "$p3" 2>"$dir.setup.log"
  else
    "$BENCH/cs-setup.sh" "$dir" "$p1" "$p2" "$p3" 2>"$dir.setup.log"
  fi || { echo "bench-rest: cs-setup.sh failed, see $dir.setup.log" >&2; return 1; }
  : >"$dir/log/idle.log"
  printf 'filenames:\n  - %s/log/idle.log\nlabels:\n  type: syslog\n' "$dir" >"$dir/etc/acquis.yaml"
  CFG=$dir/etc/lapi.yaml AGENT_CFG=$dir/etc/agent.yaml LAPI_PORT=$p1 PROM=$p3 AGENT_PROM=$p2
}

# A config.yaml for ours: sqlite, loopback LAPI and metrics, acquisition of an empty file.
write_our_config() { # dir lapi_port prom_port [extra yaml under config_paths]
  local d=$1
  mkdir -p "$d/etc" "$d/data" "$d/log"
  : >"$d/log/idle.log"
  printf 'filenames:\n  - %s/log/idle.log\nlabels:\n  type: syslog\n' "$d" >"$d/etc/acquis.yaml"
  printf 'simulation: off\n' >"$d/etc/simulation.yaml"
  cat >"$d/etc/config.yaml" <<EOF
common:
  log_media: stdout
  log_level: info
  log_dir: $d/log
config_paths:
  config_dir: $d/etc
  data_dir: $d/data
  simulation_path: $d/etc/simulation.yaml
${4:-}
crowdsec_service:
  acquisition_path: $d/etc/acquis.yaml
db_config:
  type: sqlite
  db_path: $d/data/crowdsec.db
api:
  client:
    credentials_path: $d/etc/local_api_credentials.yaml
  server:
    listen_uri: 127.0.0.1:$2
    profiles_path: $d/etc/profiles.yaml
    trusted_ips: [127.0.0.1, ::1]
prometheus:
  enabled: true
  level: full
  listen_addr: 127.0.0.1
  listen_port: $3
EOF
  "$CSCLI_BIN" -c "$d/etc/config.yaml" machines add bench-agent --password bench-agent-password-0123456789 \
    -f "$d/etc/local_api_credentials.yaml" --force >"$d/log/register.out" 2>&1 ||
    { echo "bench-rest: registering the machine failed, see $d/log/register.out" >&2; return 1; }
}

setup_starter() { # dir
  local p1 p2 p3
  rm -rf "$1"
  read -r p1 p2 p3 < <(free_ports)
  write_our_config "$1" "$p1" "$p2"
  CFG=$1/etc/config.yaml AGENT_CFG=$1/etc/config.yaml LAPI_PORT=$p1 PROM=$p2 AGENT_PROM=$p2
}

# The whole hub, installed with our cscli; refused items are removed and listed.
setup_hub() { # dir
  local d=$1 p1 p2 p3 rep=$OUT/hub-install t names name out rc i f
  rm -rf "$d" "$rep"
  mkdir -p "$rep"
  read -r p1 p2 p3 < <(free_ports)
  write_our_config "$d" "$p1" "$p2" "  hub_dir: $d/hub
  index_path: $d/hub/.index.json
  pattern_dir: $HUB/patterns
cscli:
  __hub_url_template__: file://$HUB"
  cp "$CS_REF_ETC/profiles.yaml" "$d/etc/profiles.yaml"
  "$CSCLI_BIN" -c "$d/etc/config.yaml" hub update >"$rep/hub-update.out" 2>&1 ||
    { echo "bench-rest: cscli hub update failed, see $rep/hub-update.out" >&2; return 1; }
  : >"$rep/refused-install.txt"
  for t in parsers scenarios postoverflows contexts; do
    mapfile -t names < <(python3 -c 'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1])).get(sys.argv[2]) or {})))' \
      "$d/hub/.index.json" "$t")
    [ "${#names[@]}" -gt 0 ] || continue
    echo "$t: ${#names[@]} in the index" >>"$rep/counts.txt"
    "$CSCLI_BIN" -c "$d/etc/config.yaml" "$t" install --ignore "${names[@]}" >"$rep/install-$t.out" 2>&1 || true
    # The items `install --ignore` left out are tried again one by one, to record each one's
    # error.
    python3 - "$d" "$t" "${names[@]}" >"$rep/missing-$t.txt" <<'PY'
import json, os, sys
d, t, names = sys.argv[1], sys.argv[2], sys.argv[3:]
idx = json.load(open(os.path.join(d, "hub/.index.json")))[t]
for n in names:
    p = idx[n]["path"].split("/")
    # <type>/<stage>/<author>/<name>.yaml is installed as <type>/<stage>/<name>.yaml
    if not os.path.lexists(os.path.join(d, "etc", *(p[:-2] + [p[-1]]))):
        print(n)
PY
    while read -r name; do
      rc=0
      out=$("$CSCLI_BIN" -c "$d/etc/config.yaml" "$t" install "$name" 2>&1) || rc=$?
      if [ "$rc" != 0 ] || printf '%s\n' "$out" | grep -q '^ERROR'; then
        printf '%s\t%s\t%s\n' "$t" "$name" "$(printf '%s\n' "$out" | grep -iE 'error|fail|refus|cannot|unable' | head -1 | cut -c1-300)" \
          >>"$rep/refused-install.txt"
      fi
      printf '%s\n' "$out" >>"$rep/install-$t-one-by-one.out"
    done <"$rep/missing-$t.txt"
  done
  # The loader: `crowdsec -t` stops at the first file it refuses; remove it and try again.
  : >"$rep/refused-load.txt"
  for i in $(seq 200); do
    if out=$("$CROWDSEC_BIN" -c "$d/etc/config.yaml" -t 2>&1); then
      echo "$out" >"$rep/crowdsec-t.out"
      break
    fi
    f=$(printf '%s\n' "$out" | grep -o "$d/etc/[A-Za-z0-9_./-]*\.yaml" | grep -v "/etc/config.yaml\|/etc/acquis.yaml\|/etc/profiles.yaml\|/etc/simulation.yaml" | head -1 || true)
    if [ -z "$f" ] || { [ ! -e "$f" ] && [ ! -L "$f" ]; }; then
      echo "$out" >"$rep/crowdsec-t.out"
      echo "bench-rest: crowdsec -t fails and names no hub item file, see $rep/crowdsec-t.out" >&2
      return 1
    fi
    printf '%s\t%s\n' "${f#"$d/etc/"}" "$(printf '%s\n' "$out" | tr '\n' ' ' | cut -c1-400)" >>"$rep/refused-load.txt"
    rm -f "$f"
  done
  python3 - "$d" "$rep" <<'PY' >"$rep/refused.md"
import os, sys
d, rep = sys.argv[1], sys.argv[2]
inst = [l.rstrip("\n").split("\t") for l in open(os.path.join(rep, "refused-install.txt")) if l.strip()]
errs = []
for f in sorted(os.listdir(rep)):
    if f.startswith("install-") and f.endswith(".out"):
        errs += [l.strip() for l in open(os.path.join(rep, f), errors="replace") if l.startswith("ERROR")]
load = [l.rstrip("\n").split("\t", 1) for l in open(os.path.join(rep, "refused-load.txt")) if l.strip()]
n = {t: sum(len(fs) for _, _, fs in os.walk(os.path.join(d, "etc", t))) for t in ("parsers", "scenarios", "postoverflows", "contexts")}
print("Whole hub (`" + os.path.join(d, "etc") + "`): loaded " + ", ".join(f"{v} {k}" for k, v in n.items()) + ".")
print(f"\nErrors printed by `cscli ... install` ({len(errs)}):\n")
for e in errs:
    print(f"- {e}")
print(f"\nNot installed in the end ({len(inst)}):\n")
for t, name, why in inst:
    print(f"- {t} `{name}`: {why}")
print(f"\nRefused by the loader (`crowdsec -t`), removed ({len(load)}):\n")
for f, why in load:
    print(f"- `{f}`: {why}")
PY
  CFG=$d/etc/config.yaml AGENT_CFG=$d/etc/config.yaml LAPI_PORT=$p1 PROM=$p2 AGENT_PROM=$p2
}

# One measurement.
measure() { # label impl mode bin cfg lapi_port prom_port dir
  local label=$1 impl=$2 mode=$3 bin=$4 cfg=$5 lport=$6 pport=$7 dir=$8
  local R=$OUT/$label-$mode stub="" pid t0 tr
  rm -rf "$R"
  mkdir -p "$R"
  echo "=== $label ($impl, $mode) $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  local args=(-c "$cfg")
  if [ "$mode" = agent ]; then
    python3 "$ROOT/scripts/bench-live-lapi.py" "$lport" "$R/alerts.jsonl" "$R/lapi.ready" >"$R/lapi.log" 2>&1 &
    stub=$!
    PIDS+=("$stub")
    for _ in $(seq 100); do [ -e "$R/lapi.ready" ] && break; sleep 0.1; done
    args+=(-no-api)
  fi
  t0=$(date +%s.%N)
  "$bin" "${args[@]}" >"$R/crowdsec.out" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  local ok=0
  for _ in $(seq 1200); do
    kill -0 "$pid" 2>/dev/null || break
    if answers "http://127.0.0.1:$pport/metrics" &&
       { [ "$mode" = agent ] || answers "http://127.0.0.1:$lport/health"; } &&
       grep -qs "Starting processing data" "$R/crowdsec.out" "$dir/log/crowdsec.log"; then
      ok=1
      break
    fi
    sleep 0.1
  done
  if [ "$ok" != 1 ]; then
    echo "bench-rest: $label ($mode) exited or was not ready after 120 s; see $R/crowdsec.out" >&2
    tail -5 "$R/crowdsec.out" >&2 || true
    cleanup
    return 0
  fi
  tr=$(echo "$(date +%s.%N) - $t0" | bc)
  python3 - "$pid" "$SETTLE" "$R/rss.json" "$label" "$impl" "$mode" "$tr" "$cfg" <<'PY'
import json, os, sys, time
pid, settle, out, label, impl, mode, ready, cfg = sys.argv[1:]
hz = os.sysconf("SC_CLK_TCK")
def ticks():
    return sum(int(x) for x in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[11:13])
def status():
    return {l.split(":")[0]: int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith(("VmRSS", "VmHWM"))}
etc = os.path.dirname(cfg)
items = {t: sum(len(fs) for _, _, fs in os.walk(os.path.join(etc, t))) for t in ("parsers", "scenarios", "postoverflows", "contexts")}
c0, t0 = ticks(), time.time()
time.sleep(float(settle))
s, c1, t1 = status(), ticks(), time.time()
json.dump({"label": label, "impl": impl, "mode": mode, "ready_s": float(ready), "settle_s": float(settle),
           "rss_kb": s["VmRSS"], "hwm_kb": s["VmHWM"], "cpu_rest_pct": 100 * (c1 - c0) / hz / (t1 - t0),
           "cfg": cfg, "items": items}, open(out, "w"))
PY
  RESULTS+=("$R")
  cleanup
}

for c in $CONFIGS; do
  case $c in
    starter)
      for m in $MODES; do
        # The starter content is installed at the first start: a fresh dir for each mode.
        setup_starter "$OUT/starter-$m.cfg"
        # The agent installs the starter content when it loads (`-t` loads and exits); the Local
        # API reads profiles.yaml before that, so install it first.
        "$CROWDSEC_BIN" -c "$CFG" -no-api -t >"$OUT/starter-$m.cfg/log/install.out" 2>&1 ||
          { echo "bench-rest: installing the starter content failed, see $OUT/starter-$m.cfg/log/install.out" >&2; continue; }
        measure starter ours "$m" "$CROWDSEC_BIN" "$CFG" "$LAPI_PORT" "$PROM" "$OUT/starter-$m.cfg"
      done ;;
    debian-ref | debian-ours)
      impl=${c#debian-}
      bin=${CROWDSEC_BIN:-}; [ "$impl" = ref ] && bin=$CS_REF_CROWDSEC
      for m in $MODES; do
        setup_debian "$OUT/$c-$m.cfg" "$impl"
        if [ "$m" = daemon ]; then
          measure "$c" "$impl" daemon "$bin" "$CFG" "$LAPI_PORT" "$PROM" "$OUT/$c-$m.cfg"
        else
          measure "$c" "$impl" agent "$bin" "$AGENT_CFG" "$LAPI_PORT" "$AGENT_PROM" "$OUT/$c-$m.cfg"
        fi
      done ;;
    hub)
      echo "=== installing the whole hub from $HUB $(date -u +%T)" >&2
      if setup_hub "$OUT/hub.cfg"; then
        for m in $MODES; do
          measure hub ours "$m" "$CROWDSEC_BIN" "$CFG" "$LAPI_PORT" "$PROM" "$OUT/hub.cfg"
        done
      fi ;;
  esac
done

python3 - "$OUT" "${RESULTS[@]}" <<'PY' | tee "$OUT/table.md"
import json, os, sys
out, runs = sys.argv[1], sys.argv[2:]
what = {
    "starter": "built-in starter content",
    "debian-ref": "Debian 1.4.6 hub snapshot selection (cs-setup.sh)",
    "debian-ours": "Debian 1.4.6 hub snapshot selection (cs-setup.sh)",
    "hub": "whole current hub (../shared/hub)",
}
print("| content | files: parsers / scenarios / postoverflows / contexts | implementation | process | ready s | "
      "RSS at rest MiB | peak RSS (VmHWM) MiB | CPU % at rest |")
print("|---|---|---|---|---:|---:|---:|---:|")
for r in runs:
    try:
        x = json.load(open(os.path.join(r, "rss.json")))
    except (OSError, ValueError):
        continue
    impl = "crowdsec-rs" if x["impl"] == "ours" else "Go crowdsec 1.4.6"
    proc = "agent + LAPI (sqlite)" if x["mode"] == "daemon" else "agent alone (-no-api)"
    n = x.get("items") or {}
    files = " / ".join(str(n.get(t, 0)) for t in ("parsers", "scenarios", "postoverflows", "contexts"))
    print(f"| {what[x['label']]} | {files} | {impl} | {proc} | {x['ready_s']:.1f} | {x['rss_kb'] / 1024:.1f} | "
          f"{x['hwm_kb'] / 1024:.1f} | {x['cpu_rest_pct']:.1f} |")
ref = os.path.join(out, "hub-install", "refused.md")
if os.path.exists(ref):
    print()
    print(open(ref).read().rstrip())
PY
echo "machine: $(nproc) CPUs, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); rest: ${SETTLE} s after ready" |
  tee -a "$OUT/table.md"
