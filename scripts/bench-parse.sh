#!/usr/bin/env bash
# bench-parse.sh - parse-only throughput: s00-raw -> s01-parse -> s02-enrich with the hub's
# syslog-logs, sshd-logs, nginx-logs and dateparse-enrich parsers (the Debian hub snapshot the
# reference CrowdSec 1.4.6 loads), ours against the reference, interleaved, on the same files.
#
# Ours: the `parse_bench` example of cs-parser (1 thread, then N threads sharing one compiled
# parser set). The reference: `crowdsec -no-api -dsn file://FILE -type TYPE` with only those four
# parsers installed (no scenario), `parser_routines` 1 then N, pushing to lapi-stub.py; its rate
# is over the acquisition phase (first event to "Acquisition is finished", as
# run-crowdsec-ref.sh measures it: reading + parsing, startup and shutdown excluded). Our rate is
# over the parse loop (reading + building the event + parsing). Peak RSS: VmHWM of ours,
# /usr/bin/time -v of the reference.
#
# usage: scripts/bench-parse.sh [REPS]        (default 3; results in $OUT, default /tmp/bench-parse)
# env: CROWDSEC_SHARED, CS_REF_ROOT, CORPORA ("auth-100k.log:syslog access-100k.log:nginx" in
#      $CORPUS_DIR, default /tmp/corpus; generated when missing), THREADS (default: nproc),
#      PARSE_BENCH (our binary; default: cargo build --release --example parse_bench),
#      NO_REF=1 (ours only)
# Keep the machine otherwise idle: numbers from a loaded machine are only good as ratios of
# interleaved runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CROWDSEC_SHARED:-$ROOT/../shared}
BENCH=$(cd "$SHARED/bench" 2>/dev/null && pwd) ||
  { echo "shared bench scripts not found at $SHARED/bench (set CROWDSEC_SHARED)" >&2; exit 2; }
REPS=${1:-3}
OUT=${OUT:-/tmp/bench-parse}
CORPUS_DIR=${CORPUS_DIR:-/tmp/corpus}
CORPORA=${CORPORA:-"auth-100k.log:syslog access-100k.log:nginx"}
THREADS=${THREADS:-$(nproc)}
PARSERS="crowdsecurity/syslog-logs crowdsecurity/sshd-logs crowdsecurity/nginx-logs crowdsecurity/dateparse-enrich"
. "$BENCH/ref-env.sh"

if [ -z "${PARSE_BENCH:-}" ]; then
  (cd "$ROOT" && cargo build -q --release -p cs-parser --example parse_bench)
  PARSE_BENCH=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/parse_bench
fi

rm -rf "$OUT"
mkdir -p "$OUT"
CFG=$OUT/cfg
CS_COLLECTIONS="" CS_EXTRA_PARSERS="$PARSERS" CS_SETUP_REGISTER=0 \
  "$BENCH/cs-setup.sh" "$CFG" 2>"$OUT/setup.log"
E=$CFG/etc

for c in $CORPORA; do
  f=$CORPUS_DIR/${c%%:*}
  if [ ! -e "$f" ]; then
    case ${c%%:*} in
      auth-100k.log) python3 "$BENCH/gen-corpus.py" sshd --lines 100000 --out "$f" ;;
      access-100k.log) python3 "$BENCH/gen-corpus.py" nginx --lines 100000 --out "$f" ;;
      auth.log | access.log) python3 "$BENCH/gen-corpus.py" all --outdir "$CORPUS_DIR" ;;
      *) echo "missing corpus $f" >&2; exit 2 ;;
    esac
  fi
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# One reference run: parse-only agent with N parser routines -> $2/result.json
ref_run() { # FILE TYPE N RESDIR
  local file=$1 type=$2 n=$3 res=$4 lport pport stub watch
  mkdir -p "$res"
  lport=$(free_port)
  pport=$(free_port)
  sed -e "s/parser_routines: .*/parser_routines: $n/" \
      -e "s#127.0.0.1:[0-9]*#127.0.0.1:$lport#" \
      -e "s/listen_port: .*/listen_port: $pport/" "$E/agent.yaml" >"$res/agent.yaml"
  printf 'url: http://127.0.0.1:%s/\nlogin: bench\npassword: bench\n' "$lport" >"$res/creds.yaml"
  sed -i "s#credentials_path: .*#credentials_path: $res/creds.yaml#" "$res/agent.yaml"
  python3 "$BENCH/lapi-stub.py" "$lport" "$res/stub.json" >"$res/stub.log" 2>&1 &
  stub=$!
  for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$lport/health" && break; sleep 0.1; done
  python3 "$BENCH/cs-metrics-watch.py" "$res/agent.log" "http://127.0.0.1:$pport/metrics" \
    "$res/metrics.prom" "$res/watch.json" &
  watch=$!
  cat "$file" >/dev/null
  /usr/bin/time -v -o "$res/time.txt" "$CS_REF_CROWDSEC" -c "$res/agent.yaml" -no-api \
    -dsn "file://$file" -type "$type" >"$res/agent.log" 2>&1 || true
  for _ in $(seq 50); do kill -0 "$watch" 2>/dev/null || break; sleep 0.1; done
  kill "$watch" "$stub" 2>/dev/null || true
  wait "$watch" "$stub" 2>/dev/null || true
  python3 - "$res" "$file" "$type" "$n" <<'PY'
import json, os, re, sys
res, file, typ, n = sys.argv[1:]
tv = {}
for line in open(os.path.join(res, "time.txt")):
    k, _, v = line.strip().rpartition(": ")
    tv[k] = v
w = json.load(open(os.path.join(res, "watch.json")))
acq = w["t_acquisition_end"] - w["t_processing_start"]
lines = sum(1 for _ in open(file, "rb"))
parsed = 0
for line in open(os.path.join(res, "metrics.prom")):
    m = re.match(r"^cs_parser_hits_ok_total(\{[^}]*\})?\s+(\S+)$", line.strip())
    if m:
        parsed += int(float(m.group(2)))
cpu = float(tv["User time (seconds)"]) + float(tv["System time (seconds)"])
out = {"impl": "reference", "file": file, "type": typ, "threads": int(n), "lines": lines, "parsed": parsed,
       "seconds": round(acq, 3), "cpu_s": round(cpu, 2), "lines_per_s": round(lines / acq),
       "peak_rss_mib": round(int(tv["Maximum resident set size (kbytes)"]) / 1024, 1)}
json.dump(out, open(os.path.join(res, "result.json"), "w"))
print(json.dumps(out))
PY
}

our_run() { # FILE TYPE N RESDIR
  mkdir -p "$4"
  cat "$1" >/dev/null
  "$PARSE_BENCH" --config "$E" --patterns "$E/patterns" --data "$CFG/data" --type "$2" --threads "$3" "$1" \
    | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["impl"]="ours"; print(json.dumps(d))' \
    | tee "$4/result.json"
}

for i in $(seq "$REPS"); do
  for c in $CORPORA; do
    f=$CORPUS_DIR/${c%%:*}
    t=${c##*:}
    for n in 1 "$THREADS"; do
      [ "${NO_REF:-0}" = 1 ] || ref_run "$f" "$t" "$n" "$OUT/ref-$(basename "$f")-$n-$i"
      our_run "$f" "$t" "$n" "$OUT/ours-$(basename "$f")-$n-$i"
    done
  done
done

python3 - "$OUT" <<'PY' | tee "$OUT/table.md"
import glob, json, os, statistics, sys
out = sys.argv[1]
rows = {}
for p in glob.glob(os.path.join(out, "*", "result.json")):
    r = json.load(open(p))
    rows.setdefault((os.path.basename(r["file"]), r["threads"], r["impl"]), []).append(r)
def fmt(rs, k):
    v = sorted(r[k] for r in rs)
    return f"{statistics.median(v):g} ({v[0]:g}..{v[-1]:g})" if len(v) > 1 else f"{v[0]:g}"
print("| corpus | threads | impl | runs | lines/s median (min..max) | CPU s | peak RSS MiB | parsed |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
for (f, n, impl), rs in sorted(rows.items()):
    print(f"| {f} | {n} | {impl} | {len(rs)} | {fmt(rs, 'lines_per_s')} | {fmt(rs, 'cpu_s')} | "
          f"{fmt(rs, 'peak_rss_mib')} | {rs[0]['parsed']} |")
print()
print("| corpus | threads | ours / reference (median lines/s) |\n|---|---:|---:|")
for (f, n, impl), rs in sorted(rows.items()):
    if impl != "ours" or (f, n, "reference") not in rows:
        continue
    a = statistics.median(r["lines_per_s"] for r in rows[(f, n, "reference")])
    b = statistics.median(r["lines_per_s"] for r in rs)
    print(f"| {f} | {n} | {b / a:.1f}x |")
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" | tee -a "$OUT/table.md"
