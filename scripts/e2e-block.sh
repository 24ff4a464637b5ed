#!/usr/bin/env bash
# e2e-block.sh - detect to block, end to end, inside network namespaces created (and always
# deleted) here; the host's firewall is never touched. Needs root (ip netns, nft).
#
#   attacker (10.77.1.2) --veth-- server (10.77.1.1, 10.77.2.1) --veth-- client (10.77.2.2)
#
# In the server namespace: a small web server writing an nginx "combined" access log, our
# crowdsec (Local API + agent tailing that log with the hub's nginx parsers and the
# http-sensitive-files scenario) and the Debian Go crowdsec-firewall-bouncer (nftables mode)
# polling our Local API. The attacker requests sensitive paths; the script measures the time
# until its packets are dropped, checks that the other client still connects, deletes the
# decision with `cscli decisions delete` and checks that the attacker connects again.
#
# env: CROWDSEC_BIN, CSCLI_BIN   our binaries (default: target/debug/{crowdsec,cscli})
#      FW_BOUNCER                the Go firewall bouncer
#                                (default /opt/crowdsec-ref/usr/bin/crowdsec-firewall-bouncer)
#      CROWDSEC_SHARED           shared material with hub/ (default ../shared beside the repo)
#      E2E_KEEP=1                keep the work dir (printed) for inspection
# Prints "attack-to-block: N.NNs" and "ok: ..." lines; exits 0 when every check passed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CROWDSEC_SHARED:-$ROOT/../shared}
HUB=$SHARED/hub
CROWDSEC_BIN=${CROWDSEC_BIN:-$ROOT/target/debug/crowdsec}
CSCLI_BIN=${CSCLI_BIN:-$ROOT/target/debug/cscli}
FW_BOUNCER=${FW_BOUNCER:-/opt/crowdsec-ref/usr/bin/crowdsec-firewall-bouncer}
[ "$(id -u)" = 0 ] || { echo "e2e-block: needs root (ip netns, nft)" >&2; exit 2; }
for b in "$CROWDSEC_BIN" "$CSCLI_BIN" "$FW_BOUNCER"; do
  [ -x "$b" ] || { echo "e2e-block: missing executable $b" >&2; exit 2; }
done
[ -d "$HUB" ] || { echo "e2e-block: missing hub $HUB (set CROWDSEC_SHARED)" >&2; exit 2; }

TAG=$$
SRV=cse2e-srv-$TAG ATK=cse2e-atk-$TAG CLI=cse2e-cli-$TAG
W=$(mktemp -d /tmp/cs-e2e-block.XXXXXX)
LAPI_PORT=8080
WEB_PORT=8000
BOUNCER_KEY=e2eblockbouncerkey0123456789abcd
PIDS=()

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in "$SRV" "$ATK" "$CLI"; do ip netns del "$ns" 2>/dev/null || true; done
  if [ "${E2E_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
    echo "e2e-block: work dir kept: $W" >&2
    [ $rc -ne 0 ] && tail -n 30 "$W"/crowdsec.log "$W"/bouncer.log 2>/dev/null >&2
  else
    rm -rf "$W"
  fi
  exit $rc
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# --- network ---------------------------------------------------------------------------------
for ns in "$SRV" "$ATK" "$CLI"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
ip link add "va$TAG" type veth peer name "vas$TAG"
ip link set "va$TAG" netns "$ATK"; ip link set "vas$TAG" netns "$SRV"
ip link add "vc$TAG" type veth peer name "vcs$TAG"
ip link set "vc$TAG" netns "$CLI"; ip link set "vcs$TAG" netns "$SRV"
in_ns "$ATK" ip addr add 10.77.1.2/24 dev "va$TAG"; in_ns "$ATK" ip link set "va$TAG" up
in_ns "$SRV" ip addr add 10.77.1.1/24 dev "vas$TAG"; in_ns "$SRV" ip link set "vas$TAG" up
in_ns "$CLI" ip addr add 10.77.2.2/24 dev "vc$TAG"; in_ns "$CLI" ip link set "vc$TAG" up
in_ns "$SRV" ip addr add 10.77.2.1/24 dev "vcs$TAG"; in_ns "$SRV" ip link set "vcs$TAG" up

# --- web server with an nginx combined access log ----------------------------------------------
mkdir -p "$W/www" "$W/etc/data"
echo hello >"$W/www/index.html"
cat >"$W/web.py" <<'EOF'
import http.server, sys, time
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass
    def log_request(self, code="-", size="-"):
        t = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        ua = self.headers.get("User-Agent", "-")
        log.write('%s - - [%s] "%s" %s 0 "-" "%s"\n' % (self.client_address[0], t, self.requestline, code, ua))
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), lambda *a: H(*a, directory=sys.argv[3])).serve_forever()
EOF
touch "$W/access.log"
# Started with `ip netns exec` directly (it execs the command), so that $! is the process to
# stop; output goes to files so that no child holds the caller's pipes.
ip netns exec "$SRV" python3 "$W/web.py" "$WEB_PORT" "$W/access.log" "$W/www" >"$W/web.log" 2>&1 &
PIDS+=($!)

# --- crowdsec config --------------------------------------------------------------------------
E=$W/etc
install_item() { # parsers/<stage>/<author>/<name>.yaml | scenarios/<author>/<name>.yaml
  local item=$1 dest
  if [ "$(echo "$item" | tr -cd / | wc -c)" = 3 ]; then dest=$E/$(echo "$item" | cut -d/ -f1,2); else dest=$E/scenarios; fi
  mkdir -p "$dest"; ln -s "$HUB/$item" "$dest/$(basename "$item")"
}
for item in parsers/s00-raw/crowdsecurity/syslog-logs.yaml parsers/s01-parse/crowdsecurity/nginx-logs.yaml \
            parsers/s02-enrich/crowdsecurity/dateparse-enrich.yaml parsers/s02-enrich/crowdsecurity/http-logs.yaml \
            scenarios/crowdsecurity/http-sensitive-files.yaml; do
  install_item "$item"
done
ln -s "$HUB/patterns" "$E/patterns"
ln -s "$HUB/data/sensitive_data.txt" "$E/data/sensitive_data.txt"
cat >"$E/profiles.yaml" <<EOF
name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
EOF
cat >"$E/acquis.yaml" <<EOF
filenames:
  - $W/access.log
labels:
  type: nginx
EOF
cat >"$E/config.yaml" <<EOF
common:
  log_media: stdout
  log_level: info
config_paths:
  config_dir: $E
  data_dir: $E/data
  pattern_dir: $E/patterns
crowdsec_service:
  acquisition_path: $E/acquis.yaml
db_config:
  type: sqlite
  db_path: $E/data/crowdsec.db
api:
  client:
    credentials_path: $E/local_api_credentials.yaml
  server:
    listen_uri: 127.0.0.1:$LAPI_PORT
    profiles_path: $E/profiles.yaml
    trusted_ips: [127.0.0.1]
prometheus:
  enabled: false
EOF
printf 'url: http://127.0.0.1:%s/\nlogin: e2e-agent\npassword: e2e-agent-password-0123456789\n' "$LAPI_PORT" \
  >"$E/local_api_credentials.yaml"
"$CSCLI_BIN" -c "$E/config.yaml" --error machines add e2e-agent --password e2e-agent-password-0123456789 \
  -f "$W/unused-creds.yaml" --force >/dev/null
"$CSCLI_BIN" -c "$E/config.yaml" --error bouncers add e2e-firewall -k "$BOUNCER_KEY" >/dev/null

ip netns exec "$SRV" "$CROWDSEC_BIN" -c "$E/config.yaml" >"$W/crowdsec.log" 2>&1 &
PIDS+=($!)

cat >"$W/bouncer.yaml" <<EOF
mode: nftables
pid_dir: $W/
update_frequency: 1s
daemonize: false
log_mode: stdout
log_level: info
api_url: http://127.0.0.1:$LAPI_PORT/
api_key: $BOUNCER_KEY
disable_ipv6: true
deny_action: DROP
deny_log: false
supported_decisions_types:
  - ban
blacklists_ipv4: crowdsec-blacklists
blacklists_ipv6: crowdsec6-blacklists
ipset_type: nethash
iptables_chains:
  - INPUT
nftables:
  ipv4:
    enabled: true
    set-only: false
    table: crowdsec
    chain: crowdsec-chain
  ipv6:
    enabled: false
    set-only: false
    table: crowdsec6
    chain: crowdsec6-chain
EOF

wait_for() { # seconds, description, command...
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || fail "timeout ($secs s) waiting for $what"
    sleep 0.1
  done
}
get() { local ns=$1 url=$2; in_ns "$ns" curl -s -o /dev/null --max-time 1 "$url"; }
wait_for 30 "the local API" in_ns "$SRV" curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$LAPI_PORT/health"
wait_for 30 "the agent to start processing" grep -q "Starting processing data" "$W/crowdsec.log"
ip netns exec "$SRV" "$FW_BOUNCER" -c "$W/bouncer.yaml" >"$W/bouncer.log" 2>&1 &
PIDS+=($!)
wait_for 30 "the bouncer's nftables set" in_ns "$SRV" nft list set ip crowdsec crowdsec-blacklists
URL=http://10.77.1.1:$WEB_PORT
CURL_CLI=http://10.77.2.1:$WEB_PORT
wait_for 10 "the web server" get "$ATK" "$URL/"
get "$CLI" "$CURL_CLI/" || fail "client cannot reach the web server"
echo "ok: attacker and client reach the web server"

# --- attack ----------------------------------------------------------------------------------
T0=$(date +%s.%N)
for p in /.git/config /.env /backup.sql /db.sqlite /.htpasswd /wp-config.php.bak /config.php.old; do
  get "$ATK" "$URL$p" || true
done
blocked() { ! get "$ATK" "$URL/"; }
wait_for 60 "the attacker to be blocked" blocked
T1=$(date +%s.%N)
printf 'attack-to-block: %.2fs\n' "$(echo "$T1 - $T0" | bc -l)"
SET=$(in_ns "$SRV" nft list set ip crowdsec crowdsec-blacklists)
grep -q 10.77.1.2 <<<"$SET" || fail "10.77.1.2 not in the nftables set: $SET"
echo "ok: attacker's packets dropped (10.77.1.2 in the nftables set)"
get "$CLI" "$CURL_CLI/" || fail "the other client is blocked too"
echo "ok: the other client still connects"
# cscli talks to the Local API, which listens on the server namespace's loopback.
in_ns "$SRV" timeout 30 "$CSCLI_BIN" -c "$E/config.yaml" -o json alerts list >"$W/alerts.json"
grep -q 'crowdsecurity/http-sensitive-files' "$W/alerts.json" || fail "no http-sensitive-files alert in the LAPI"
echo "ok: alert crowdsecurity/http-sensitive-files stored"

# --- unblock ---------------------------------------------------------------------------------
in_ns "$SRV" timeout 30 "$CSCLI_BIN" -c "$E/config.yaml" --error decisions delete --ip 10.77.1.2 >/dev/null
wait_for 30 "the attacker to be unblocked" get "$ATK" "$URL/"
echo "ok: cscli decisions delete restored access"
echo "ok: all checks passed"
