#!/usr/bin/env bash
# The whole test suite: installs what it needs, then
#   1. release build (-Werror), every unit and end-to-end test;
#   2. the manifests, the chart and the Dockerfile, with check-config on their args;
#   3. ASan+UBSan build, every unit and end-to-end test again;
#   4. the end-to-end fault tests and part of the core tests under valgrind;
#   5. every libFuzzer target for a bounded time (TG_FUZZ_SECONDS, default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
export TG_CORPUS=${TG_CORPUS:-$PWD/test/data/corpus/queries.txt}

step() { printf '\n==== %s\n' "$*"; }

step "release build + tests"
bash scripts/build.sh build -DTG_CORPUS="$TG_CORPUS"
ctest --test-dir build --output-on-failure -j2

step "manifests, chart, Dockerfile"
TG_BIN=$PWD/build/tenantgate bash scripts/check-manifests.sh

step "ASan+UBSan build + tests"
bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DTG_SANITIZE=ON -DTG_CORPUS="$TG_CORPUS"
# the release run already streamed 1 GiB; 256 MiB is enough to show flat memory here
TG_E2E_HUGE_BYTES=$((256 << 20)) \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j2

step "valgrind memcheck: end-to-end fault and core tests (0 errors, 0 definite leaks)"
TG_BUILD_DIR=build bash test/e2e/valgrind.sh test/e2e/test_faults.py
TG_BUILD_DIR=build bash test/e2e/valgrind.sh test/e2e/test_core.py Routes Auth Forwarding UpstreamFaults PathPrefix

if [ -f test/fuzz/run.sh ]; then
  step "fuzzing (${TG_FUZZ_SECONDS:-20}s per target)"
  bash test/fuzz/run.sh "${TG_FUZZ_SECONDS:-20}"
fi
step "all test suites passed"
