#!/usr/bin/env bash
# tenantgate benchmarks: test/bench/run.sh [--quick] [name ...]
#   names: proxy memory stream promql load (default: all five), and on request:
#          ab (TG_BENCH_BASE_BIN=<baseline tenantgate> vs this build), instr
#          (instructions per request under callgrind), syscalls (strace -c -f per
#          request; both take TG_BENCH_BASE_BIN too), profile (perf record),
#          keepalive (sequential keep-alive latency: the delayed-ACK stall),
#          backend (epoll vs poll with 1000 idle connections).
# Builds build-rel (Release) first; results as Markdown on stdout and as JSON
# in build-rel/bench-out/. Loopback only; every load is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
CORPUS=${TG_CORPUS:-$PWD/test/data/corpus/queries.txt}
for tool in nginx wrk python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: bash scripts/deps.sh bench" >&2; exit 1; }
done
cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DTG_CORPUS="$CORPUS" >/dev/null
cmake --build build-rel -j2 >/dev/null
export TG_BUILD_DIR=$PWD/build-rel TG_BIN=$PWD/build-rel/tenantgate TG_CORPUS=$CORPUS
exec python3 test/bench/bench.py "$@"
