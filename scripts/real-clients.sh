#!/usr/bin/env bash
# real-clients.sh - our Local API against the real Go clients of CrowdSec 1.4.6.
#
# Starts OUR `crowdsec -c CFG -no-cs` inside a private network namespace (created and removed
# here; the host firewall is never touched), registers the machine and the bouncers with OUR
# `cscli` (straight into the store, before the LAPI starts), then checks that:
#   * the Go firewall bouncer (nftables mode) and the Go custom bouncer pull from our LAPI;
#   * a decision added with our cscli lands in the bouncer's nft set and reaches the custom
#     bouncer's script, and both see it go away after our cscli deletes it;
#   * Go cscli 1.4.6, logged in with our machine credentials, adds/lists/deletes decisions
#     and lists alerts;
#   * the Go crowdsec 1.4.6 agent replaying an ssh brute-force log pushes its alerts into our
#     LAPI (and the replayed, already expired decision does not reach the bouncer).
# One line per check, then "N passed, N failed"; exit status 1 when any check failed.
#
# usage: scripts/real-clients.sh            (root: ip netns, nft)
# env:   CROWDSEC_SHARED  shared material (default: ../shared beside the repository)
#        CROWDSEC_BIN / CSCLI_BIN  our binaries (default: built with cargo into CARGO_TARGET_DIR)
#        CS_REF_ROOT      reference install (install-reference.sh runs when it is missing)
#        NS               network namespace name (default csrealclients)
#        KEEP_WORK=1      keep the work directory (logs, configs) after the run
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CROWDSEC_SHARED:-$ROOT/../shared}
BENCH=$SHARED/bench
NS=${NS:-csrealclients}
PORT=8080
UPDATE_FREQ=1s
FW_KEY=fwbouncerkey0123456789abcdef0001
CU_KEY=custombouncerkey0123456789abc0002
MACHINE_ID=bench-agent
MACHINE_PASSWORD=bench-agent-password-0123456789

[ "$(id -u)" = 0 ] || { echo "real-clients.sh needs root (ip netns, nft)" >&2; exit 1; }
command -v nft >/dev/null || { echo "real-clients.sh needs nft (nftables)" >&2; exit 1; }
[ -d "$BENCH" ] || { echo "shared bench scripts not found at $BENCH (set CROWDSEC_SHARED)" >&2; exit 1; }
if ip netns list | grep -qw "$NS"; then
  echo "netns $NS already exists; remove it first (ip netns del $NS)" >&2; exit 1
fi

# Reference Go binaries (downloaded and unpacked by install-reference.sh when missing).
. "$BENCH/ref-env.sh"

if [ -z "${CROWDSEC_BIN:-}" ] || [ -z "${CSCLI_BIN:-}" ]; then
  TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
  # bcrypt unoptimized takes about a second per login; the 1.4.6 agent in -dsn mode shuts its
  # output down before a login that slow returns and then never pushes its alerts.
  (cd "$ROOT" && cargo build -q -p crowdsec -p cscli \
    --config 'profile.dev.package.blowfish.opt-level=3' --config 'profile.dev.package.bcrypt.opt-level=3')
  CROWDSEC_BIN=${CROWDSEC_BIN:-$TARGET/debug/crowdsec}
  CSCLI_BIN=${CSCLI_BIN:-$TARGET/debug/cscli}
fi

W=$(mktemp -d /tmp/real-clients.XXXXXX)
D=$W/cs
E=$D/etc
LOGS=$W/logs
mkdir -p "$LOGS"
PIDS=()
PASSED=0
FAILED=0
NX="ip netns exec $NS"

cleanup() {
  set +e
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  ip netns del "$NS" 2>/dev/null
  if [ "${KEEP_WORK:-0}" = 1 ] || [ "$FAILED" != 0 ]; then
    echo "work directory kept: $W (logs in $LOGS)"
  else
    rm -rf "$W"
  fi
}
trap cleanup EXIT

pass() { echo "ok: $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $1"; FAILED=$((FAILED + 1)); }
# check DESCRIPTION TIMEOUT_S COMMAND...: passes as soon as COMMAND succeeds.
check() {
  local d=$1 t=$2; shift 2
  for _ in $(seq $((t * 5))); do
    if "$@" >/dev/null 2>&1; then pass "$d"; return 0; fi
    sleep 0.2
  done
  fail "$d"; return 0
}

# --- configuration: the bench layout, machine and bouncers registered with OUR cscli ----------
CS_SETUP_REGISTER=0 "$BENCH/cs-setup.sh" "$D" "$PORT" 6060 6061 2>"$LOGS/setup.log"
OURS="$CSCLI_BIN -c $E/cscli.yaml"
if $OURS --error machines add "$MACHINE_ID" --password "$MACHINE_PASSWORD" \
     -f "$E/local_api_credentials.yaml" --force >"$LOGS/register.log" 2>&1 &&
   $OURS --error bouncers add real-firewall-bouncer -k "$FW_KEY" >>"$LOGS/register.log" 2>&1 &&
   $OURS --error bouncers add real-custom-bouncer -k "$CU_KEY" >>"$LOGS/register.log" 2>&1; then
  pass "machine and bouncers registered with our cscli"
else
  fail "machine and bouncers registered with our cscli (see $LOGS/register.log)"
fi

cat >"$W/fw-bouncer.yaml" <<EOF
mode: nftables
pid_dir: $W/
update_frequency: $UPDATE_FREQ
daemonize: false
log_mode: stdout
log_level: info
api_url: http://127.0.0.1:$PORT/
api_key: $FW_KEY
insecure_skip_verify: false
disable_ipv6: false
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
    enabled: true
    set-only: false
    table: crowdsec6
    chain: crowdsec6-chain
pf:
  anchor_name: ""
prometheus:
  enabled: false
  listen_addr: 127.0.0.1
  listen_port: 60601
EOF
CALLS=$W/custom-bouncer-calls.tsv
: >"$CALLS"
cat >"$W/custom.sh" <<EOF
#!/bin/sh
# called by crowdsec-custom-bouncer: add|del <value> <duration> <reason> <json>
printf '%s\t' "\$@" >>"$CALLS"; echo >>"$CALLS"
EOF
chmod +x "$W/custom.sh"
cat >"$W/custom-bouncer.yaml" <<EOF
bin_path: $W/custom.sh
feed_via_stdin: false
total_retries: 0
scenarios_containing: []
scenarios_not_containing: []
origins: []
piddir: $W/
update_frequency: $UPDATE_FREQ
cache_retention_duration: 10s
daemonize: false
log_mode: stdout
log_dir: $W/
log_level: info
api_url: http://127.0.0.1:$PORT/
api_key: $CU_KEY
prometheus:
  enabled: false
  listen_addr: 127.0.0.1
  listen_port: 60602
EOF

# --- our LAPI and the Go bouncers in a private network namespace -------------------------------
ip netns add "$NS"
$NX ip link set lo up
$NX "$CROWDSEC_BIN" -c "$E/lapi.yaml" -no-cs >"$LOGS/lapi.log" 2>&1 & PIDS+=($!)
check "our LAPI answers /health" 20 $NX curl -fs -o /dev/null "http://127.0.0.1:$PORT/health"

$NX "$CS_REF_FW_BOUNCER" -c "$W/fw-bouncer.yaml" >"$LOGS/fw-bouncer.log" 2>&1 & PIDS+=($!)
$NX "$CS_REF_CUSTOM_BOUNCER" -c "$W/custom-bouncer.yaml" >"$LOGS/custom-bouncer.log" 2>&1 & PIDS+=($!)

pulled() { # both bouncers have a last_pull in our store
  [ "$($OURS bouncers list -o json | grep -c '"last_pull"')" -ge 2 ]
}
check "both Go bouncers pulled decisions from our LAPI" 30 pulled
check "Go firewall bouncer created its nft set" 30 $NX nft list set ip crowdsec crowdsec-blacklists

in_set() { $NX nft list set "$1" "$2" "$3" 2>/dev/null | grep -q "$4"; }
not_in_set() { ! in_set "$@"; }
called() { grep -q "$(printf '%s\t%s' "$1" "$2")" "$CALLS"; }

# --- decisions added and deleted with OUR cscli ------------------------------------------------
$NX $OURS decisions add -i 192.0.2.1 -d 4h -R "real-clients manual ban" >"$LOGS/ours-add.log" 2>&1 \
  && pass "our cscli decisions add -i 192.0.2.1" || fail "our cscli decisions add -i 192.0.2.1"
check "192.0.2.1 in nft set ip crowdsec crowdsec-blacklists" 30 in_set ip crowdsec crowdsec-blacklists 192.0.2.1
check "custom bouncer script called with add 192.0.2.1" 30 called add 192.0.2.1
$NX $OURS decisions add -i 2001:db8::1 -d 1h -R "real-clients v6 ban" >>"$LOGS/ours-add.log" 2>&1 || true
check "2001:db8::1 in nft set ip6 crowdsec6 crowdsec6-blacklists" 30 in_set ip6 crowdsec6 crowdsec6-blacklists 2001:db8::1
listed() { $NX $OURS decisions list -o raw | grep -q "Ip:192.0.2.1"; }
check "our cscli decisions list shows 192.0.2.1" 5 listed
$NX $OURS decisions delete -i 192.0.2.1 >"$LOGS/ours-delete.log" 2>&1 \
  && pass "our cscli decisions delete -i 192.0.2.1" || fail "our cscli decisions delete -i 192.0.2.1"
check "192.0.2.1 removed from the nft set" 30 not_in_set ip crowdsec crowdsec-blacklists 192.0.2.1
check "custom bouncer script called with del 192.0.2.1" 30 called del 192.0.2.1

# --- Go cscli 1.4.6 with our machine credentials -----------------------------------------------
# Without db_config: given one, Go cscli opens the database itself and its ORM migration
# rewrites tables it does not know in its own schema. These commands only need the LAPI.
awk '/^[a-z_]+:/ { skip = ($1 == "db_config:") } !skip' "$E/cscli.yaml" >"$E/go-cscli.yaml"
GO="$CS_REF_CSCLI -c $E/go-cscli.yaml"
$NX $GO decisions add -i 192.0.2.2 -d 1h -R "go cscli ban" >"$LOGS/go-cscli.log" 2>&1 \
  && pass "Go cscli decisions add -i 192.0.2.2" || fail "Go cscli decisions add -i 192.0.2.2"
go_lists() { $NX $GO decisions list -o json 2>>"$LOGS/go-cscli.log" | grep -q '"192.0.2.2"'; }
check "Go cscli decisions list shows 192.0.2.2" 10 go_lists
check "192.0.2.2 (added by Go cscli) in the nft set" 30 in_set ip crowdsec crowdsec-blacklists 192.0.2.2
$NX $GO decisions delete -i 192.0.2.2 >>"$LOGS/go-cscli.log" 2>&1 \
  && pass "Go cscli decisions delete -i 192.0.2.2" || fail "Go cscli decisions delete -i 192.0.2.2"
go_gone() { ! $NX $GO decisions list -o json 2>>"$LOGS/go-cscli.log" | grep -q '"192.0.2.2"'; }
check "Go cscli decisions list no longer shows 192.0.2.2" 10 go_gone
go_alerts() { $NX $GO alerts list -o json 2>>"$LOGS/go-cscli.log" | grep -q '"go cscli ban"'; }
check "Go cscli alerts list shows its alert" 10 go_alerts

# --- the Go crowdsec 1.4.6 agent replays an ssh brute force into our LAPI ----------------------
printf '%s\n' \
  'Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 35.188.49.176 port 53502' \
  'Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal1 from 35.188.49.176 port 53502' \
  'Feb 12 14:10:22 sd-126005 sshd[16378]: Invalid user pascal2 from 35.188.49.176 port 53502' \
  'Feb 12 14:10:22 sd-126005 sshd[16378]: Invalid user pascal3 from 35.188.49.176 port 53502' \
  'Feb 12 14:10:23 sd-126005 sshd[16378]: Invalid user pascal4 from 35.188.49.176 port 53502' \
  'Feb 12 14:10:24 sd-126005 sshd[16378]: Invalid user pascal5 from 35.188.49.176 port 53502' >"$W/ssh-bf.log"
# The agent too opens (and migrates) the database when given db_config; it does not need it.
awk '/^[a-z_]+:/ { skip = ($1 == "db_config:") } !skip' "$E/agent.yaml" >"$E/go-agent.yaml"
# Its own session: at the end of a replay it signals its whole process group.
$NX setsid -w timeout -k 5 60 "$CS_REF_CROWDSEC" -c "$E/go-agent.yaml" -no-api -dsn "file://$W/ssh-bf.log" -type syslog \
  >"$LOGS/agent-replay.log" 2>&1 || true
agent_alert() {
  local out
  out=$($NX $OURS alerts list -o json -l 0 2>>"$LOGS/ours-alerts.log") &&
    grep -q '"crowdsecurity/ssh-bf' <<<"$out" && grep -q '35.188.49.176' <<<"$out"
}
check "Go agent pushed its ssh-bf alerts for 35.188.49.176 into our LAPI" 10 agent_alert
sleep 3 # a few bouncer polls: the replayed decision was born expired and must stay out
not_in_set ip crowdsec crowdsec-blacklists 35.188.49.176 \
  && pass "replayed (expired) decision for 35.188.49.176 not pushed to the bouncer" \
  || fail "replayed (expired) decision for 35.188.49.176 reached the nft set"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
