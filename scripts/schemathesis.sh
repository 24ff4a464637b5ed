#!/usr/bin/env bash
# schemathesis.sh - property-based HTTP testing of our Local API against upstream's swagger.
#
# Starts OUR `crowdsec -c CFG -no-cs` on loopback (a free port) with a machine and a bouncer
# registered by OUR `cscli`, logs the machine in for a JWT, then runs schemathesis on
# ../shared/upstream-testdata/api/localapi_swagger.yaml with the checks
#   not_a_server_error            (no 5xx, whatever the input)
#   response_schema_conformance   (documented answers match the swagger's schema)
# Both credentials are sent on every request: watcher routes read `Authorization: Bearer`,
# bouncer routes read `X-Api-Key`.
# The swagger is used through a copy with the adjustments listed in crates/cs-lapi/COMPAT.md
# ("Against the swagger"): its JWT scheme's header name is "Authorization: Bearer" (not a valid
# header name), the empty lists every upstream LAPI answers as `null` are marked nullable, and
# `DELETE /watchers/self` is left out (it would delete the machine the run authenticates as).
#
# usage: scripts/schemathesis.sh [extra schemathesis run options]
# env:   CROWDSEC_SHARED   shared material (default: ../shared beside the repository)
#        CROWDSEC_BIN / CSCLI_BIN  our binaries (default: built with cargo into CARGO_TARGET_DIR)
#        ST_VENV           virtualenv holding schemathesis (default: ~/.cache/cs-schemathesis;
#                          created with `pip install schemathesis==$ST_VERSION` when missing)
#        ST_VERSION        schemathesis version installed in a new venv (default 4.32.5)
#        ST_MAX_TIME       time budget of the run in seconds (default 120)
#        ST_EXAMPLES       max examples per operation (default 60)
#        ST_SEED           hypothesis seed (default 1; set empty for a random one)
#        KEEP_WORK=1       keep the work directory (config, LAPI log, reports)
# Exit status: schemathesis's (0 when no check failed). A run that fails only because schemathesis
# raised an exception while generating test data (no request failed a check) is run once more.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CROWDSEC_SHARED:-$ROOT/../shared}
SPEC=$SHARED/upstream-testdata/api/localapi_swagger.yaml
BENCH=$SHARED/bench
VENV=${ST_VENV:-$HOME/.cache/cs-schemathesis}
MAX_TIME=${ST_MAX_TIME:-120}
EXAMPLES=${ST_EXAMPLES:-60}
SEED=${ST_SEED-1}
MACHINE_ID=schemathesis-agent
MACHINE_PASSWORD=schemathesis-password-0123456789
BOUNCER_KEY=schemathesisbouncerkey0123456789

[ -f "$SPEC" ] || { echo "swagger not found at $SPEC (set CROWDSEC_SHARED)" >&2; exit 1; }
command -v curl >/dev/null || { echo "schemathesis.sh needs curl" >&2; exit 1; }

if [ ! -x "$VENV/bin/schemathesis" ]; then
  echo "installing schemathesis into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==${ST_VERSION:-4.32.5}"
fi

if [ -z "${CROWDSEC_BIN:-}" ] || [ -z "${CSCLI_BIN:-}" ]; then
  TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
  (cd "$ROOT" && cargo build -q -p crowdsec -p cscli \
    --config 'profile.dev.package.blowfish.opt-level=3' --config 'profile.dev.package.bcrypt.opt-level=3')
  CROWDSEC_BIN=${CROWDSEC_BIN:-$TARGET/debug/crowdsec}
  CSCLI_BIN=${CSCLI_BIN:-$TARGET/debug/cscli}
fi

W=$(mktemp -d /tmp/schemathesis.XXXXXX)
LAPI_PID=
cleanup() {
  set +e
  if [ -n "$LAPI_PID" ]; then
    kill -TERM "$LAPI_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$LAPI_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$LAPI_PID" 2>/dev/null
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
# The bench layout (config files only; the hub is not needed by the LAPI).
CS_SETUP_REGISTER=0 "$BENCH/cs-setup.sh" "$W/cs" "$PORT" 0 0 >"$W/setup.log" 2>&1
E=$W/cs/etc
CSCLI="$CSCLI_BIN -c $E/cscli.yaml"
$CSCLI --error machines add "$MACHINE_ID" --password "$MACHINE_PASSWORD" \
  -f "$E/local_api_credentials.yaml" --force >"$W/register.log" 2>&1
$CSCLI --error bouncers add schemathesis-bouncer -k "$BOUNCER_KEY" >>"$W/register.log" 2>&1
# A decision and an alert, so that list and stream answers are not all empty.
$CSCLI --error decisions add -i 192.0.2.10 -d 4h -R "schemathesis seed" >>"$W/register.log" 2>&1 || true

"$CROWDSEC_BIN" -c "$E/lapi.yaml" -no-cs >"$W/lapi.log" 2>&1 &
LAPI_PID=$!
for _ in $(seq 100); do curl -fs -o /dev/null "$URL/health" && break; sleep 0.2; done
curl -fs -o /dev/null "$URL/health" || { echo "our LAPI is not answering on $URL; log:" >&2; cat "$W/lapi.log" >&2; exit 1; }

TOKEN=$(curl -fs -X POST "$URL/v1/watchers/login" -H 'Content-Type: application/json' \
  -d "{\"machine_id\":\"$MACHINE_ID\",\"password\":\"$MACHINE_PASSWORD\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# The adjusted copy of the swagger (see the header of this script).
"$VENV/bin/python" - "$SPEC" "$W/swagger.yaml" <<'EOF'
import sys
import yaml
spec = yaml.safe_load(open(sys.argv[1]))
spec["securityDefinitions"]["JWTAuthorizer"]["name"] = "Authorization"
defs = spec["definitions"]
for name in ("GetDecisionsResponse", "GetAlertsResponse"):
    defs[name]["x-nullable"] = True
for prop in ("decisions", "events", "labels"):
    defs["Alert"]["properties"][prop]["x-nullable"] = True
del spec["paths"]["/watchers/self"]["delete"]
if not spec["paths"]["/watchers/self"]:
    del spec["paths"]["/watchers/self"]
yaml.safe_dump(spec, open(sys.argv[2], "w"), sort_keys=False)
EOF

seed_opt=()
[ -n "$SEED" ] && seed_opt=(--seed "$SEED")
echo "schemathesis $("$VENV/bin/schemathesis" --version | sed 's/.*version //') against $URL (spec: $SPEC)"
run_schemathesis() {
  (cd "$W" && "$VENV/bin/schemathesis" run "$W/swagger.yaml" \
    --url "$URL/v1" \
    -H "Authorization: Bearer $TOKEN" \
    -H "X-Api-Key: $BOUNCER_KEY" \
    --checks not_a_server_error,response_schema_conformance \
    --max-time "$MAX_TIME" \
    --max-examples "$EXAMPLES" \
    --request-timeout 10 \
    --workers 2 \
    --suppress-health-check all \
    --report junit --report-dir "$1" \
    "${seed_opt[@]}" "${@:2}")
}
# Whether a failed run failed only inside schemathesis's own data generation (its JUnit report
# has no check failure, and every error is a hypothesis exception raised while generating a
# case, never a request that went wrong): such a run is repeated once.
tool_error_only() {
  python3 - "$1" <<'PY'
import glob, re, sys
import xml.etree.ElementTree as ET
errors = failures = 0
internal = True
for report in glob.glob(sys.argv[1] + "/*.xml"):
    for case in ET.parse(report).getroot().iter("testcase"):
        failures += len(case.findall("failure"))
        for err in case.findall("error"):
            errors += 1
            text = (err.get("message") or "") + (err.text or "")
            if not re.search(r"hypothesis\.errors|FlakyFailure|Inconsistent results", text):
                internal = False
sys.exit(0 if failures == 0 and errors > 0 and internal else 1)
PY
}
set +e
run_schemathesis "$W/report" "$@"
status=$?
if [ "$status" -ne 0 ] && kill -0 "$LAPI_PID" 2>/dev/null && tool_error_only "$W/report"; then
  echo "schemathesis failed inside its own test-case generation (no check failed); running it again"
  run_schemathesis "$W/report-again" "$@"
  status=$?
fi
set -e
if grep -q '"level":"ERROR"\|level=error\| ERROR ' "$W/lapi.log"; then
  echo "errors logged by the LAPI during the run:"
  grep '"level":"ERROR"\|level=error\| ERROR ' "$W/lapi.log" | sort | uniq -c | sort -rn | head -20
fi
kill -0 "$LAPI_PID" 2>/dev/null || { echo "our LAPI died during the run; log: $W/lapi.log" >&2; KEEP_WORK=1; status=1; }
exit "$status"
