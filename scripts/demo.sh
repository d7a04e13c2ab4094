#!/usr/bin/env bash
# tenantgate demo: a real Prometheus with generated data for several namespaces,
# tenantgate in front of it with static tokens (alice -> alpha, bob -> beta),
# and curl lines that show the isolation. Everything on 127.0.0.1, under a minute.
#   bash scripts/demo.sh          run the demo, then stop everything
#   bash scripts/demo.sh --keep   leave Prometheus and tenantgate running (prints how to stop)
# Each answer is checked as well as shown: the demo fails (exit 1) when tenantgate answers
# anything but what the heading says. scripts/fresh-machine.sh runs it on a bare Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
keep=0
[ "${1:-}" = "--keep" ] && keep=1

if [ -t 1 ]; then
  say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  say() { printf '\n== %s\n' "$*"; }
fi

work=$(mktemp -d /tmp/tenantgate-demo.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  if [ "$keep" = 1 ] && [ $rc -eq 0 ]; then return; fi
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ] && [ -e "$work/prometheus.log" ]; then
    echo "demo failed (exit $rc); logs:" >&2
    tail -n 30 "$work/prometheus.log" "$work/tenantgate.log" >&2 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The build as one line: what it is doing (redrawn in place on a terminal), then how long it took.
# Its whole output goes to a log that is printed only when it fails.
build() {
  local log=$work/build.log t0=$SECONDS pid now last=""
  { bash scripts/deps.sh test && bash scripts/build.sh build; } >"$log" 2>&1 &
  pid=$!
  [ -t 1 ] && printf 'build: starting'
  while kill -0 "$pid" 2>/dev/null; do
    if [ -t 1 ]; then
      now=$(grep -o -E '^installing: |^\[ *[0-9]+%\]' "$log" | tail -n 1 || true)
      case "$now" in
        installing*) now="installing Debian packages (scripts/deps.sh test)" ;;
        "") now="checking dependencies (scripts/deps.sh test)" ;;
        *) now="compiling (scripts/build.sh build) ${now//[][ ]/}" ;;
      esac
      [ "$now" != "$last" ] && printf '\r\033[Kbuild: %s' "$now" && last=$now
    fi
    sleep 0.5
  done
  [ -t 1 ] && printf '\r\033[K'
  if ! wait "$pid"; then
    printf 'build: FAILED after %d s; its output:\n' $((SECONDS - t0))
    cat "$log"
    exit 1
  fi
  printf 'build: build/tenantgate ready in %d s (scripts/deps.sh test, scripts/build.sh build)\n' \
    $((SECONDS - t0))
}

say "dependencies and build"
build
tg="$root/build/tenantgate"

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

rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

say "generated data: namespaces alpha, beta, gamma, team.a, teamxa (+ series without one), last 3h"
range=$(cd test/e2e && python3 -m harness.datagen "$work/prom" "$prom_port")
read -r start end step < <(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["start"], r["end"], r["step"])' "$range")
echo "samples from $(rfc3339 "$start") to $(rfc3339 "$end"), one every $step s"
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

# Prints each answer compactly: HTTP status, then one line per series (its labels), and checks it:
# the status must be WANT_CODE and, when WANT_NS is not "*", every series' namespace one of WANT_NS
# (comma-separated); "*" wants more than one namespace.
show() { # WANT_CODE WANT_NS
  python3 -c '
import json, sys
want_code, want_ns = sys.argv[1], sys.argv[2]
raw = sys.stdin.read()
body, _, code = raw.rpartition("\n")
print("   HTTP", code)
bad = [] if code == want_code else ["HTTP %s, expected %s" % (code, want_code)]
res = []
try:
    j = json.loads(body)
except ValueError:
    j = None
    print("  ", body[:300])
if j is not None and j.get("status") != "success":
    print("   %s: %s" % (j.get("errorType"), j.get("error")))
elif j is not None:
    res = j["data"]["result"] if isinstance(j["data"], dict) else j["data"]
    for r in res[:12]:
        m = r.get("metric", r)
        print("   ", "{" + ", ".join("%s=\"%s\"" % kv for kv in sorted(m.items())) + "}",
              (r.get("value") or [None, ""])[1])
    if not res:
        print("    (no series)")
seen = {r.get("metric", r).get("namespace") for r in res}
if want_code == "200" and want_ns == "*" and len(seen) < 2:
    bad.append("expected several namespaces, got %s" % sorted(map(str, seen)))
elif want_code == "200" and want_ns != "*" and (not res or not seen <= set(want_ns.split(","))):
    bad.append("expected series of %s only, got %s" % (want_ns, sorted(map(str, seen))))
if bad:
    print("demo: UNEXPECTED ANSWER: " + "; ".join(bad), file=sys.stderr)
    sys.exit(1)
' "$@"
}

# One word as a person types it in a shell: as it is when nothing in it needs quoting, else in
# single quotes (a ' inside becomes '\'').
shword() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
    printf '%s' "$1"
  else
    local q="'\\''"
    printf "'%s'" "${1//\'/$q}"
  fi
}
cmdline() { # prints "$ word word ..."
  local w out='$'
  for w in "$@"; do out+=" $(shword "$w")"; done
  printf '%s\n' "$out"
}

U="http://127.0.0.1:$tg_port"
run() { # heading, expected status, expected namespaces (see show), then the curl arguments
  local what=$1 code=$2 ns=$3
  shift 3
  say "$what"
  cmdline curl "$@"
  curl -sS -w '\n%{http_code}' "$@" | show "$code" "$ns"
}

run "alice reads her namespace: only alpha's series" 200 alpha \
  -G -H "Authorization: Bearer alice-token" "$U/api/v1/query" \
  --data-urlencode namespace=alpha --data-urlencode 'query=up'
run "alice asks for beta: 403" 403 - \
  -G -H "Authorization: Bearer alice-token" "$U/api/v1/query" \
  --data-urlencode namespace=beta --data-urlencode 'query=up'
run "bob reads beta" 200 beta \
  -G -H "Authorization: Bearer bob-token" "$U/api/v1/query" \
  --data-urlencode namespace=beta --data-urlencode 'query=tenant_secret_info'
run "alice sneaks {namespace=\"beta\"} into her query: still only alpha" 200 alpha \
  -G -H "Authorization: Bearer alice-token" "$U/api/v1/query" \
  --data-urlencode namespace=alpha --data-urlencode 'query=tenant_secret_info{namespace="beta"} or {__name__="up",namespace=~".+"}'
run "alice counts every series by namespace: one namespace" 200 alpha \
  -G -H "Authorization: Bearer alice-token" "$U/api/v1/query" \
  --data-urlencode namespace=alpha --data-urlencode 'query=count by (namespace) ({__name__=~".+"})'
run "no token: 401" 401 - \
  -G "$U/api/v1/query" --data-urlencode namespace=alpha --data-urlencode 'query=up'
run "the same count straight from Prometheus (no tenantgate): every namespace" 200 '*' \
  -G "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=count by (namespace) ({__name__=~".+"})'

say "what tenantgate sends upstream, previewed with the CLI"
q='sum(rate(http_requests_total{namespace="beta"}[5m])) by (code)'
cmdline build/tenantgate enforce --label namespace --value alpha "$q"
"$tg" enforce --label namespace --value alpha "$q"

say "what this showed"
fold -s -w 100 <<EOF | sed 's/ *$//'
One Prometheus holds the series of five namespaces; tenantgate stands in front of it and gives each token one namespace. alice's token may read alpha only: her queries came back with alpha's series alone, even the one that named beta's secret and the one that counted every series there is, because tenantgate parses every query and forces namespace="alpha" into each selector before Prometheus sees it (the last command printed that rewrite). Asking for beta was refused with 403, a request without a token with 401, and bob's token read beta. The same count asked of Prometheus directly showed every namespace: the isolation is tenantgate's doing. In a cluster the tokens are service-account tokens, checked with TokenReview and SubjectAccessReview instead of a static file: see "Deploying" in README.md.
EOF

if [ "$keep" = 1 ]; then
  say "still running (--keep)"
  echo "Prometheus: http://127.0.0.1:$prom_port   tenantgate: $U   files and logs: $work"
  echo "stop with: kill ${pids[*]}; rm -rf $work"
else
  say "done; stopping Prometheus and tenantgate"
fi
