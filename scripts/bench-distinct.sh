#!/usr/bin/env bash
# bench-distinct.sh - bucket memory under a very large number of distinct source IPs.
#
# Builds an nginx access log in which IPS distinct source IPs (from 100.64.0.0/10) each send two
# 404 requests for PHP pages, spread over the whole log and mixed into access-100k.log (whose
# real attackers keep firing the HTTP scenarios). Each such request pours into per-IP buckets
# (http-probing, http-crawl-non_statics, ...), so the agent may hold up to IPS buckets per
# scenario. The log is replayed twice through our agent with the Debian hub snapshot selection
# (../shared/bench/cs-setup.sh, agent measured alone against lapi-stub.py):
#   1. default: idle buckets are evicted (cs_bucket_evicted_total counts them);
#   2. CROWDSEC_BUCKET_EVICTION=0: nothing is evicted (what upstream does); at 1M IPs this run
#      holds about 4M buckets and needs about 21 GiB of memory;
# and the script reports the peak RSS of each, the number of distinct IPs in the log, the
# evictions, and whether the alerts are identical: ../shared/bench/alerts-compare.py with zero
# tolerance, run 2 as the reference. Exit status: that comparison's (0 = same alerts).
#
# usage: scripts/bench-distinct.sh
# env: CROWDSEC_SHARED, CS_REF_ROOT (for cs-setup.sh and the stub)
#      IPS (1000000)  distinct source IPs added
#      BASE (/tmp/corpus/access-100k.log, generated when missing)  the log they are mixed into
#      CORPUS (/tmp/corpus/distinct-$IPS.log), built when missing
#      CROWDSEC_BIN / CSCLI_BIN  ours (default: cargo build --release into CARGO_TARGET_DIR)
#      OUT (/tmp/bench-distinct)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CROWDSEC_SHARED:-$ROOT/../shared}
BENCH=$(cd "$SHARED/bench" 2>/dev/null && pwd) ||
  { echo "shared bench scripts not found at $SHARED/bench (set CROWDSEC_SHARED)" >&2; exit 2; }
IPS=${IPS:-1000000}
BASE=${BASE:-/tmp/corpus/access-100k.log}
CORPUS=${CORPUS:-/tmp/corpus/distinct-$IPS.log}
OUT=${OUT:-/tmp/bench-distinct}
. "$BENCH/ref-env.sh"

if [ -z "${CROWDSEC_BIN:-}" ] || [ -z "${CSCLI_BIN:-}" ]; then
  (cd "$ROOT" && cargo build -q --release -p crowdsec -p cscli)
  CROWDSEC_BIN=${CROWDSEC_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/crowdsec}
  CSCLI_BIN=${CSCLI_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/cscli}
fi
if [ ! -e "$BASE" ]; then
  mkdir -p "$(dirname "$BASE")"
  python3 "$BENCH/gen-corpus.py" nginx --lines 100000 --out "$BASE" >&2
fi
if [ ! -e "$CORPUS" ]; then
  mkdir -p "$(dirname "$CORPUS")"
  echo "building $CORPUS ($IPS distinct IPs mixed into $BASE)" >&2
  python3 - "$BASE" "$CORPUS.tmp" "$IPS" <<'GEN'
import ipaddress, re, sys
base_path, out_path, ips = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = open(base_path, encoding="utf-8", errors="replace").read().splitlines()
first = int(ipaddress.ip_address("100.64.0.0"))
slots = 2 * ips
# Request r of IP i (r = 0, 1) takes slot i + r * ips: the two requests of an IP are half the
# log apart, so its buckets stay alive (or idle) over a long stretch of event time.
when = re.compile(r"\[[^\]]+\]")
with open(out_path, "w", encoding="utf-8") as out:
    slot = 0
    for n, line in enumerate(base):
        out.write(line + "\n")
        stamp = when.search(line)
        if not stamp:
            continue
        until = (n + 1) * slots // len(base)
        while slot < until:
            i, r = slot % ips, slot // ips
            ip = ipaddress.ip_address(first + i)
            out.write(f'{ip} - - {stamp.group(0)} "GET /old-{i % 997}-{r}.php HTTP/1.1" 404 153 "-" '
                      '"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"\n')
            slot += 1
GEN
  mv "$CORPUS.tmp" "$CORPUS"
fi
DISTINCT=$(cut -d' ' -f1 "$CORPUS" | sort -u | wc -l)

read -r p1 p2 p3 < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
export CS_LAPI_PORT=$p1 CS_AGENT_PROM=$p2 CS_LAPI_PROM=$p3 CS_LAPI=stub
mkdir -p "$OUT"
run() { # NAME EVICTION
  rm -rf "${OUT:?}/$1"
  echo "run $1 (CROWDSEC_BUCKET_EVICTION=$2)" >&2
  CROWDSEC_BUCKET_EVICTION=$2 CS_WORK=$OUT/work-$1 CS_BIN=$CROWDSEC_BIN CS_CSCLI_BIN=$CSCLI_BIN \
    "$BENCH/run-crowdsec-ref.sh" "$CORPUS" nginx "$OUT/$1" >"$OUT/$1.out" 2>&1 ||
    { echo "run $1 failed, see $OUT/$1.out" >&2; tail -20 "$OUT/$1.out" >&2; exit 2; }
}
run evict 1
run keep 0

RC=0
python3 "$BENCH/alerts-compare.py" --tol 0 --abs 0 "$OUT/keep" "$OUT/evict" >"$OUT/compare.txt" || RC=$?
python3 - "$OUT" "$CORPUS" "$DISTINCT" "$RC" <<'PY' | tee "$OUT/summary.md"
import json, os, re, sys
out, corpus, distinct, rc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def evicted(run):
    p = os.path.join(out, run, "metrics.prom")
    total = 0.0
    if os.path.exists(p):
        for line in open(p):
            if line.startswith("cs_bucket_evicted_total"):
                total += float(line.rsplit(" ", 1)[1])
    return int(total)
rows = []
for run in ("evict", "keep"):
    r = json.load(open(os.path.join(out, run, "result.json")))
    a = json.load(open(os.path.join(out, run, "alerts.json")))
    rows.append((run, r.get("lines_read"), r.get("wall_s"), r.get("cpu_s"), r.get("max_rss_mib"),
                 evicted(run), a.get("alerts_total"), len(a.get("pairs", []))))
print(f"corpus: {corpus}, distinct source IPs: {distinct}")
print()
print("| run | lines read | wall s | CPU s | peak RSS MiB | buckets evicted | alerts | (scenario, IP) pairs |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for row in rows:
    print("| " + " | ".join("" if v is None else str(round(v, 2) if isinstance(v, float) else v) for v in row) + " |")
print()
print("same alerts with and without eviction:", "yes" if rc == 0 else f"NO (alerts-compare exit {rc}, see {out}/compare.txt)")
PY
exit "$RC"
