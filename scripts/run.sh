#!/usr/bin/env bash
# The main job: CrowdSec with the built-in starter content (content/: syslog, sshd, nginx/Apache
# and firewall parsers; SSH brute force, user enumeration, HTTP probing, sensitive files,
# scanner user agents and port scan scenarios) and the Local API on embedded SQLite, fed a log
# file, then the alerts and the ban decisions it produced. Needs nothing beyond the repository.
#
# usage: scripts/run.sh [LOGFILE [TYPE]]
#          default: content/samples/sample.log (sshd, nginx and kernel firewall lines in
#          syslog form), its time stamps moved to the last minutes so the 4h bans are active
#          TYPE: the acquisition type of LOGFILE (default syslog; nginx or apache2 for a plain
#          access log)
# env:   MODE=live        (default) one `crowdsec` process (agent + Local API) tails a file in
#                         the run directory; the log is appended to it once the agent runs
#        MODE=replay      the Local API alone (`-no-cs`), then `crowdsec -no-api -dsn file://LOG`
#        RUN_DIR          where the config, database and logs go (default: a new temp dir)
#        KEEP_RUNNING=1   leave crowdsec running at the end (its pid is printed)
#        PROFILE=release  build optimised binaries (default: debug, quicker to build)
#        PORT             Local API port (default 18080)
#        HUB=1            use the hub's sshd items from ../shared/hub (or $CROWDSEC_SHARED/hub)
#                         instead of the starter content, and a generated sshd corpus as the
#                         default log
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-18080}
PROFILE=${PROFILE:-debug}
MODE=${MODE:-live}
LOG=${1:-}
TYPE=${2:-syslog}

if [ "${HUB:-}" = 1 ]; then
  SHARED=$(cd "${CROWDSEC_SHARED:-$ROOT/../shared}" && pwd)
  HUB_DIR=$SHARED/hub
  [ -d "$HUB_DIR" ] || { echo "hub not found at $HUB_DIR (set CROWDSEC_SHARED)" >&2; exit 1; }
fi

echo "building crowdsec, cscli and the starter installer ($PROFILE)..."
flags=(-q)
[ "$PROFILE" = release ] && flags+=(--release)
(cd "$ROOT" && cargo build "${flags[@]}" -p crowdsec -p cscli && cargo build "${flags[@]}" -p cs-starter --example install)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CROWDSEC=$TARGET/$PROFILE/crowdsec
CSCLI=$TARGET/$PROFILE/cscli
INSTALL=$TARGET/$PROFILE/examples/install

t0=$(date +%s.%N)
W=${RUN_DIR:-$(mktemp -d /tmp/crowdsec-rs.XXXXXX)}
mkdir -p "$W/data" "$W/logs"

if [ "${HUB:-}" = 1 ]; then
  if [ -z "$LOG" ]; then
    LOG=$W/auth.log
    # Recent timestamps (the last six hours), so the 4h bans of the latest attacks are active.
    python3 "$SHARED/bench/gen-corpus.py" sshd --lines 20000 --days 0.1 \
      --start "$(date -u -d '-6 hours' +%Y-%m-%dT%H:%M:%S)" --out "$LOG" >/dev/null
  fi
  # Hub items, installed as upstream lays them out (symlinks into the hub).
  for item in parsers/s00-raw/crowdsecurity/syslog-logs.yaml \
              parsers/s01-parse/crowdsecurity/sshd-logs.yaml \
              parsers/s02-enrich/crowdsecurity/dateparse-enrich.yaml \
              parsers/s02-enrich/crowdsecurity/whitelists.yaml \
              scenarios/crowdsecurity/ssh-bf.yaml \
              scenarios/crowdsecurity/ssh-slow-bf.yaml; do
    case "$item" in
      parsers/*) dest=$W/$(echo "$item" | cut -d/ -f1,2) ;;
      *) dest=$W/$(echo "$item" | cut -d/ -f1) ;;
    esac
    mkdir -p "$dest"
    ln -sf "$HUB_DIR/$item" "$dest/$(basename "$item")"
  done
  ln -sfn "$HUB_DIR/patterns" "$W/patterns"
  cp "$ROOT/content/profiles.yaml" "$W/profiles.yaml"
else
  # The installer keeps files that exist: this acquisition (the file the log is appended to)
  # wins over its default one (the system's auth.log, kern.log and web server logs).
  printf 'filenames:\n  - %s/live.log\nlabels:\n  type: %s\n' "$W" "$TYPE" >"$W/acquis.yaml"
  "$INSTALL" "$W" >"$W/logs/install.out"
  echo "starter content installed: $(grep -c '^installed' "$W/logs/install.out") files into $W"
  if [ -z "$LOG" ]; then
    LOG=$W/sample.log
    # Move the sample's time stamps so that its last line is a minute old: decisions last
    # 4h from the end of the alert, and an old sample would only give expired bans.
    python3 - "$ROOT/content/samples/sample.log" "$LOG" <<'PY'
import re, sys
from datetime import datetime, timedelta
src, dst = sys.argv[1], sys.argv[2]
lines = open(src).read().splitlines()
now = datetime.now().astimezone()
syslog = re.compile(r"^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)")
access = re.compile(r"\[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\]")
def stamp(line):
    m = syslog.match(line)
    return datetime.strptime(f"{now.year} {m.group(1)}", "%Y %b %d %H:%M:%S").replace(tzinfo=now.tzinfo) if m else None
times = [t for t in map(stamp, lines) if t]
shift = now - timedelta(minutes=1) - max(times)
out = []
for line in lines:
    t = stamp(line)
    if t:
        # The access-log stamp of a forwarded web server line gets the same new time.
        new = t + shift
        line = f"{new.strftime('%b')} {new.day:2d} {new.strftime('%H:%M:%S')}" + line[15:]
        m = access.search(line)
        if m:
            line = line[:m.start(1)] + new.strftime("%d/%b/%Y:%H:%M:%S %z") + line[m.end(1):]
    out.append(line)
open(dst, "w").write("\n".join(out) + "\n")
PY
  fi
fi

cat > "$W/config.yaml" <<YAML
common:
  log_media: file
  log_dir: $W/logs
  log_level: info
config_paths:
  config_dir: $W
  data_dir: $W/data
  pattern_dir: $W/patterns
  simulation_path: $W/simulation.yaml
crowdsec_service:
  acquisition_path: $W/acquis.yaml
db_config:
  type: sqlite
  db_path: $W/data/crowdsec.db
api:
  client:
    credentials_path: $W/local_api_credentials.yaml
  server:
    listen_uri: 127.0.0.1:$PORT
    profiles_path: $W/profiles.yaml
    trusted_ips: [127.0.0.1, ::1]
YAML
echo "simulation: off" > "$W/simulation.yaml"

"$CSCLI" -c "$W/config.yaml" machines add localagent --password "$(head -c 24 /dev/urandom | base64 | tr -d /+=)" \
  -f "$W/local_api_credentials.yaml" --force >/dev/null

health() {
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "the Local API did not come up, see $W/logs" >&2
  return 1
}
alert_count() {
  "$CSCLI" -c "$W/config.yaml" alerts list -o json -l 0 2>/dev/null |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin) or []))' 2>/dev/null || echo "?"
}

echo "$MODE mode: $LOG ($(wc -l <"$LOG") lines, type $TYPE)"
start=$(date +%s.%N)
if [ "$MODE" = replay ]; then
  "$CROWDSEC" -c "$W/config.yaml" -no-cs >"$W/logs/crowdsec.out" 2>&1 &
  PID=$!
  trap '[ "${KEEP_RUNNING:-}" = 1 ] || kill "$PID" 2>/dev/null || true' EXIT
  health
  "$CROWDSEC" -c "$W/config.yaml" -no-api -dsn "file://$LOG" -type "$TYPE"
else
  [ "${HUB:-}" = 1 ] && printf 'filenames:\n  - %s/live.log\nlabels:\n  type: %s\n' "$W" "$TYPE" >"$W/acquis.yaml"
  : >"$W/live.log"
  "$CROWDSEC" -c "$W/config.yaml" >"$W/logs/crowdsec.out" 2>&1 &
  PID=$!
  trap '[ "${KEEP_RUNNING:-}" = 1 ] || kill "$PID" 2>/dev/null || true' EXIT
  health
  # The file datasource starts at the end of a file that exists: append only once the agent
  # follows it (its log says so; give up waiting after 10 s).
  for _ in $(seq 1 50); do
    grep -qs "following file" "$W/logs/crowdsec.log" && break
    sleep 0.2
  done
  cat "$LOG" >>"$W/live.log"
  # No end-of-input in live mode: wait until the alert count stays the same for 3 s.
  last=-1 same=0
  for _ in $(seq 1 120); do
    sleep 1
    n=$(alert_count)
    if [ "$n" = "$last" ]; then same=$((same + 1)); else same=0 last=$n; fi
    [ "$same" -ge 3 ] && break
  done
fi
end=$(date +%s.%N)
echo "$(alert_count) alerts after $(echo "$end - $start" | bc) s"

echo; echo "== alerts"
"$CSCLI" -c "$W/config.yaml" alerts list -l 20
echo; echo "== decisions"
"$CSCLI" -c "$W/config.yaml" decisions list -l 20
echo; echo "run took $(echo "$(date +%s.%N) - $t0" | bc) s after the build"
echo "config, database and logs: $W"
[ "${KEEP_RUNNING:-}" = 1 ] && echo "crowdsec still running (pid $PID), Local API on http://127.0.0.1:$PORT"
exit 0
