#!/usr/bin/env bash
# bench-replay.sh - whole replay (acquisition -> parsers -> scenarios -> alerts pushed), ours
# against the reference CrowdSec 1.4.6, fail2ban-regex and the grep floor, interleaved on the
# same files (ref 1, ours 1, fail2ban 1, floor 1, ref 2, ...), with the hub items the reference
# loads (../shared/bench/cs-setup.sh). Every run goes through the shared bench scripts
# (run-crowdsec-ref.sh, run-fail2ban-ref.sh, run-floor-ref.sh); the table gives medians with
# min..max and the ratios of the medians.
#
# usage: scripts/bench-replay.sh [REPS]          (default 3)
# env: CROWDSEC_SHARED, CS_REF_ROOT
#      CORPORA   "FILE:TYPE:LAPI:F2B_FILTER:FLOOR ..." (default: auth-100k.log:syslog:real:sshd:sshd
#                access-100k.log:nginx:real:nginx-botsearch:nginx auth.log:syslog:stub:sshd:sshd)
#                FILE relative to CORPUS_DIR (default /tmp/corpus), generated when missing
#      CROWDSEC_BIN / CSCLI_BIN   ours (default: cargo build --release into CARGO_TARGET_DIR)
#      SKIP      words among "ref ours f2b floor" not to run
#      OUT       results (default /tmp/bench-replay); ports: three free ones
# lines/s is lines in the file / wall time of the measured process (the agent, not its LAPI);
# "acq" is the acquisition phase (first event to "Acquisition is finished"): startup and
# shutdown excluded. On a shared or small machine absolute numbers drift: trust the ratios.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CROWDSEC_SHARED:-$ROOT/../shared}
BENCH=$(cd "$SHARED/bench" 2>/dev/null && pwd) ||
  { echo "shared bench scripts not found at $SHARED/bench (set CROWDSEC_SHARED)" >&2; exit 2; }
REPS=${1:-3}
OUT=${OUT:-/tmp/bench-replay}
CORPUS_DIR=${CORPUS_DIR:-/tmp/corpus}
CORPORA=${CORPORA:-"auth-100k.log:syslog:real:sshd:sshd access-100k.log:nginx:real:nginx-botsearch:nginx auth.log:syslog:stub:sshd:sshd"}
SKIP=" ${SKIP:-} "
. "$BENCH/ref-env.sh"

if [ -z "${CROWDSEC_BIN:-}" ] || [ -z "${CSCLI_BIN:-}" ]; then
  (cd "$ROOT" && cargo build -q --release -p crowdsec -p cscli)
  CROWDSEC_BIN=${CROWDSEC_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/crowdsec}
  CSCLI_BIN=${CSCLI_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/cscli}
fi
read -r p1 p2 p3 < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
export CS_LAPI_PORT=${CS_LAPI_PORT:-$p1} CS_AGENT_PROM=${CS_AGENT_PROM:-$p2} CS_LAPI_PROM=${CS_LAPI_PROM:-$p3}
mkdir -p "$OUT"
export CS_WORK=$OUT/work

for c in $CORPORA; do
  f=$CORPUS_DIR/${c%%:*}
  [ -e "$f" ] && continue
  case $(basename "$f") in
    auth-100k.log) python3 "$BENCH/gen-corpus.py" sshd --lines 100000 --out "$f" ;;
    access-100k.log) python3 "$BENCH/gen-corpus.py" nginx --lines 100000 --out "$f" ;;
    auth.log | access.log) python3 "$BENCH/gen-corpus.py" all --outdir "$CORPUS_DIR" ;;
    *) echo "missing corpus $f" >&2; exit 2 ;;
  esac
done

skip() { [[ $SKIP == *" $1 "* ]]; }
for i in $(seq "$REPS"); do
  for c in $CORPORA; do
    IFS=: read -r name type lapi filter floor <<<"$c"
    f=$CORPUS_DIR/$name
    d=$OUT/$name
    mkdir -p "$d"
    if ! skip ref; then
      echo "=== $name rep $i reference $(date -u +%T)" >&2
      rm -rf "$d/ref-$i"
      CS_LAPI=$lapi "$BENCH/run-crowdsec-ref.sh" "$f" "$type" "$d/ref-$i" >"$d/ref-$i.out" 2>&1 ||
        echo "reference run failed: $d/ref-$i.out" >&2
    fi
    if ! skip ours; then
      echo "=== $name rep $i ours $(date -u +%T)" >&2
      rm -rf "$d/ours-$i"
      CS_LAPI=$lapi CS_BIN=$CROWDSEC_BIN CS_CSCLI_BIN=$CSCLI_BIN \
        "$BENCH/run-crowdsec-ref.sh" "$f" "$type" "$d/ours-$i" >"$d/ours-$i.out" 2>&1 ||
        echo "our run failed: $d/ours-$i.out" >&2
    fi
    if ! skip f2b; then
      echo "=== $name rep $i fail2ban-regex $filter $(date -u +%T)" >&2
      "$BENCH/run-fail2ban-ref.sh" "$f" "$filter" "$d/f2b-$i" >"$d/f2b-$i.out" 2>&1 ||
        echo "fail2ban run failed: $d/f2b-$i.out" >&2
    fi
    if ! skip floor; then
      "$BENCH/run-floor-ref.sh" "$f" "$floor" "$d/floor-$i" >"$d/floor-$i.out" 2>&1 ||
        echo "floor run failed: $d/floor-$i.out" >&2
    fi
  done
done

python3 - "$OUT" "$CORPORA" <<'PY' | tee "$OUT/table.md"
import glob, json, os, statistics, sys
out, corpora = sys.argv[1], sys.argv[2].split()
def runs(d, side):
    rs = []
    for p in sorted(glob.glob(os.path.join(d, f"{side}-*", "result.json"))):
        try:
            rs.append(json.load(open(p)))
        except (OSError, ValueError):
            pass
    return rs
def med(v):
    v = sorted(x for x in v if x is not None)
    if not v:
        return None, "-"
    m = statistics.median(v)
    f = (lambda x: f"{x:.0f}") if v[-1] >= 1000 else (lambda x: f"{x:.3g}")
    return m, (f"{f(m)} ({f(v[0])}..{f(v[-1])})" if len(v) > 1 else f(m))
def lines_of(r):
    return r.get("file_lines") or r.get("lines")
print("| corpus | LAPI | tool | n | lines/s (wall) | lines/s (acq) | wall s | CPU s | peak RSS MiB | alerts |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
ratios = []
for c in corpora:
    name, typ, lapi, flt, floor = c.split(":")
    d = os.path.join(out, name)
    rate = {}
    for side, label in (("ref", "crowdsec 1.4.6 (Go)"), ("ours", "crowdsec-rs")):
        rs = [r for r in runs(d, side) if r.get("agent_exit") == 0]
        if not rs:
            continue
        m, wall_txt = med([r["wall_s"] for r in rs])
        rate[side], lps = med([lines_of(r) / r["wall_s"] for r in rs])
        _, acq = med([lines_of(r) / r["acquisition_phase_s"] for r in rs if r.get("acquisition_phase_s")])
        _, cpu = med([r["cpu_s"] for r in rs])
        rate[side + "_rss"], rss = med([r["max_rss_mib"] for r in rs])
        _, al = med([r["alerts_total"] for r in rs])
        print(f"| {name} | {lapi} | {label} | {len(rs)} | {lps} | {acq} | {wall_txt} | {cpu} | {rss} | {al} |")
    rs = runs(d, "f2b")
    if rs:
        rate["f2b"], lps = med([r["lines"] / r["wall_s"] for r in rs if r["wall_s"]])
        _, w = med([r["wall_s"] for r in rs])
        _, cpu = med([r["cpu_s"] for r in rs])
        _, rss = med([r["max_rss_mib"] for r in rs])
        print(f"| {name} | - | fail2ban-regex `{flt}` | {len(rs)} | {lps} | - | {w} | {cpu} | {rss} | - |")
    rs = runs(d, "floor")
    if rs:
        n = sum(1 for _ in open(rs[0]["file"], "rb"))
        rate["grep"], lps = med([n / max(r["grep"]["wall_s"], 0.01) for r in rs])
        _, w = med([r["grep"]["wall_s"] for r in rs])
        print(f"| {name} | - | grep -c -E floor ({floor}) | {len(rs)} | {lps} | - | {w} | - | - | - |")
    if "ours" in rate:
        for k, label in (("ref", "Go crowdsec"), ("f2b", "fail2ban-regex"), ("grep", "grep floor")):
            if rate.get(k):
                ratios.append(f"| {name} | ours / {label} | {rate['ours'] / rate[k]:.3g}x |")
        if rate.get("ref_rss"):
            ratios.append(f"| {name} | peak RSS ours / Go | {rate['ours_rss'] / rate['ref_rss']:.3g}x |")
print("\n| corpus | ratio (median lines/s, wall) | value |\n|---|---|---:|")
print("\n".join(ratios))
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" | tee -a "$OUT/table.md"
