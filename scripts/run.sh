#!/usr/bin/env bash
# The main job: the Local API on embedded SQLite plus the agent replaying a sample sshd log with
# the hub's sshd content, then the alerts and the ban decisions it produced.
#
# usage: scripts/run.sh [LOGFILE]     (default: a generated sshd auth.log with brute-force attacks)
# env:   CROWDSEC_SHARED  shared material with the hub (default: ../shared beside the repository)
#        RUN_DIR          where the config, database and logs go (default: a new temp dir)
#        KEEP_RUNNING=1   leave the LAPI running at the end (its pid is printed)
#        PROFILE=release  build optimised binaries (default: debug, quicker to build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=$(cd "${CROWDSEC_SHARED:-$ROOT/../shared}" && pwd)
HUB=$SHARED/hub
PORT=${PORT:-18080}
[ -d "$HUB" ] || { echo "hub not found at $HUB (set CROWDSEC_SHARED)" >&2; exit 1; }

PROFILE=${PROFILE:-debug}
echo "building crowdsec and cscli ($PROFILE)..."
if [ "$PROFILE" = release ]; then
  (cd "$ROOT" && cargo build -q --release -p crowdsec -p cscli)
else
  (cd "$ROOT" && cargo build -q -p crowdsec -p cscli)
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CROWDSEC=$TARGET/$PROFILE/crowdsec
CSCLI=$TARGET/$PROFILE/cscli

W=${RUN_DIR:-$(mktemp -d /tmp/crowdsec-rs.XXXXXX)}
mkdir -p "$W/data" "$W/logs"
LOG=${1:-}
if [ -z "$LOG" ]; then
  LOG=$W/auth.log
  # Recent timestamps (the last six hours), so the 4h bans of the latest attacks are still active.
  python3 "$SHARED/bench/gen-corpus.py" sshd --lines 20000 --days 0.1 \
    --start "$(date -u -d '-6 hours' +%Y-%m-%dT%H:%M:%S)" --out "$LOG" >/dev/null
fi

# Hub items, installed as upstream lays them out (symlinks into the hub).
install_item() {
  local item=$1 dest
  case "$item" in
    parsers/*|postoverflows/*) dest=$W/$(echo "$item" | cut -d/ -f1,2) ;;
    *) dest=$W/$(echo "$item" | cut -d/ -f1) ;;
  esac
  mkdir -p "$dest"
  ln -sf "$HUB/$item" "$dest/$(basename "$item")"
}
for item in parsers/s00-raw/crowdsecurity/syslog-logs.yaml \
            parsers/s01-parse/crowdsecurity/sshd-logs.yaml \
            parsers/s02-enrich/crowdsecurity/dateparse-enrich.yaml \
            parsers/s02-enrich/crowdsecurity/whitelists.yaml \
            scenarios/crowdsecurity/ssh-bf.yaml \
            scenarios/crowdsecurity/ssh-slow-bf.yaml; do
  install_item "$item"
done
ln -sfn "$HUB/patterns" "$W/patterns"

cat > "$W/profiles.yaml" <<YAML
name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
YAML
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

"$CROWDSEC" -c "$W/config.yaml" -no-cs >"$W/logs/lapi.out" 2>&1 &
LAPI_PID=$!
cleanup() { [ "${KEEP_RUNNING:-}" = 1 ] || kill "$LAPI_PID" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done

echo "replaying $LOG ($(wc -l <"$LOG") lines)..."
start=$(date +%s.%N)
"$CROWDSEC" -c "$W/config.yaml" -no-api -dsn "file://$LOG" -type syslog
end=$(date +%s.%N)
echo "replay took $(echo "$end - $start" | bc) s"

echo; echo "== alerts"
"$CSCLI" -c "$W/config.yaml" alerts list -l 10
echo; echo "== decisions"
"$CSCLI" -c "$W/config.yaml" decisions list -l 10
echo; echo "config, database and logs: $W"
[ "${KEEP_RUNNING:-}" = 1 ] && echo "LAPI still running (pid $LAPI_PID) on http://127.0.0.1:$PORT"
exit 0
