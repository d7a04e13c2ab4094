#!/usr/bin/env bash
# tenantgate demo: a real Prometheus with generated data for several namespaces,
# tenantgate in front of it with static tokens (alice -> alpha, bob -> beta),
# and curl lines that show the isolation. Everything on 127.0.0.1, under a minute.
#   bash scripts/demo.sh          run the demo, then stop everything
#   bash scripts/demo.sh --keep   leave Prometheus and tenantgate running (prints how to stop)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
keep=0
[ "${1:-}" = "--keep" ] && keep=1

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "dependencies and build"
bash scripts/deps.sh test
bash scripts/build.sh build
tg="$root/build/tenantgate"

work=$(mktemp -d /tmp/tenantgate-demo.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  if [ "$keep" = 1 ] && [ $rc -eq 0 ]; then return; fi
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then
    echo "demo failed (exit $rc); logs:" >&2
    tail -n 30 "$work"/*.log >&2 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
prom_port=$(port); tg_port=$(port); tg_internal=$(port)

wait_http() { # url seconds pid
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$3" 2>/dev/null || { echo "process for $1 exited" >&2; return 1; }
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2
  return 1
}

say "generated data: namespaces alpha, beta, gamma, team.a, teamxa (+ series without one), last 3h"
range=$(cd test/e2e && python3 -m harness.datagen "$work/prom" "$prom_port")
echo "block data range: $range"
promtool tsdb create-blocks-from openmetrics "$work/prom/data.om" "$work/prom/data" >/dev/null
prometheus --config.file="$work/prom/prometheus.yml" --storage.tsdb.path="$work/prom/data" \
  --web.listen-address="127.0.0.1:$prom_port" --storage.tsdb.retention.time=30d \
  --log.level=warn >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$prom_port/-/ready" 30 "${pids[-1]}"
echo "Prometheus on http://127.0.0.1:$prom_port"

say "tenantgate with static tokens: alice -> alpha, bob -> beta"
(cd test/e2e && python3 - "$work" <<'EOF'
import sys
from harness import tg
work = sys.argv[1]
tokens = {"alice-token": ("alice", "1001", ["devs"]), "bob-token": ("bob", "1002", ["devs"])}
open(work + "/tokens.csv", "w").write(tg.tokens_csv(tokens))
open(work + "/config.yaml", "w").write(tg.config_yaml([("alpha", "alice", None),
                                                        ("beta", "bob", None)]))
EOF
)
sed 's/^/  tokens.csv: /' "$work/tokens.csv"
"$tg" --insecure-listen-address "127.0.0.1:$tg_port" --internal-listen-address "127.0.0.1:$tg_internal" \
  --upstream "http://127.0.0.1:$prom_port" --token-auth-file "$work/tokens.csv" \
  --config-file "$work/config.yaml" >"$work/tenantgate.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$tg_internal/healthz" 10 "${pids[-1]}"
echo "tenantgate on http://127.0.0.1:$tg_port (internal: $tg_internal)"

# Prints each answer compactly: HTTP status, then one line per series (its labels).
show() {
  python3 -c '
import json, sys
raw = sys.stdin.read()
body, _, code = raw.rpartition("\n")
print("   HTTP", code)
try:
    j = json.loads(body)
except ValueError:
    print("  ", body[:300]); sys.exit()
if j.get("status") != "success":
    print("   %s: %s" % (j.get("errorType"), j.get("error"))); sys.exit()
res = j["data"]["result"] if isinstance(j["data"], dict) else j["data"]
for r in res[:12]:
    m = r.get("metric", r)
    print("   ", "{" + ", ".join("%s=\"%s\"" % kv for kv in sorted(m.items())) + "}",
          (r.get("value") or [None, ""])[1])
if not res:
    print("    (no series)")
'
}
U="http://127.0.0.1:$tg_port"
run() { # description, then the curl arguments
  local what=$1; shift
  say "$what"
  printf '$ curl'; printf ' %q' "$@"; printf '\n'
  curl -sS -w '\n%{http_code}' "$@" | show
}

run "alice reads her namespace: only alpha's series" \
  -G -H "Authorization: Bearer alice-token" "$U/api/v1/query" \
  --data-urlencode namespace=alpha --data-urlencode 'query=up'
run "alice asks for beta: 403" \
  -G -H "Authorization: Bearer alice-token" "$U/api/v1/query" \
  --data-urlencode namespace=beta --data-urlencode 'query=up'
run "bob reads beta" \
  -G -H "Authorization: Bearer bob-token" "$U/api/v1/query" \
  --data-urlencode namespace=beta --data-urlencode 'query=tenant_secret_info'
run "alice sneaks {namespace=\"beta\"} into her query: still only alpha" \
  -G -H "Authorization: Bearer alice-token" "$U/api/v1/query" \
  --data-urlencode namespace=alpha --data-urlencode 'query=tenant_secret_info{namespace="beta"} or {__name__="up",namespace=~".+"}'
run "alice counts every series by namespace: one namespace" \
  -G -H "Authorization: Bearer alice-token" "$U/api/v1/query" \
  --data-urlencode namespace=alpha --data-urlencode 'query=count by (namespace) ({__name__=~".+"})'
run "no token: 401" \
  -G "$U/api/v1/query" --data-urlencode namespace=alpha --data-urlencode 'query=up'
run "the same count straight from Prometheus (no tenantgate): every namespace" \
  -G "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=count by (namespace) ({__name__=~".+"})'

say "what tenantgate sends upstream, previewed with the CLI"
q='sum(rate(http_requests_total{namespace="beta"}[5m])) by (code)'
printf '$ %s enforce --label namespace --value alpha %q\n' "build/tenantgate" "$q"
"$tg" enforce --label namespace --value alpha "$q"

if [ "$keep" = 1 ]; then
  say "still running (--keep)"
  echo "Prometheus: http://127.0.0.1:$prom_port   tenantgate: $U   files and logs: $work"
  echo "stop with: kill ${pids[*]}; rm -rf $work"
else
  say "done; stopping Prometheus and tenantgate"
fi
