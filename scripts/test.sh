#!/usr/bin/env bash
# The whole test suite: installs what it needs, then
#   1. the C sources' format (scripts/check-format.sh), release build (-Werror), every unit and
#      end-to-end test;
#   2. the manifests, the chart (statically and with a real helm) and the Dockerfile, with
#      check-config on their args; then the checks' self-test (each check fails on a broken copy);
#   3. on a bare Debian 12 container (scripts/fresh-machine.sh): the README's demo and the unit
#      tests from the tracked files alone, then the image built from the Dockerfile and run
#      read-only as 65534;
#   4. ASan+UBSan build, every unit and end-to-end test again;
#   5. the end-to-end fault tests and part of the core tests under valgrind;
#   6. every libFuzzer target for a bounded time (TG_FUZZ_SECONDS, default 20).
# Ends with each step's wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh ci
export TG_CORPUS=${TG_CORPUS:-$PWD/test/data/corpus/queries.txt}

# step NAME: starts a step; the previous one's wall time is recorded, and all of them are printed
# at the end (also when a step fails).
steps=() cur="" t_step=$SECONDS t_all=$SECONDS
step() {
  [ -n "$cur" ] && steps+=("$(printf '%5d s  %s' $((SECONDS - t_step)) "$cur")")
  cur=$*
  t_step=$SECONDS
  printf '\n==== %s\n' "$*"
}
summary() {
  local rc=$?
  [ $rc -ne 0 ] && steps+=("$(printf '%5d s  %s  (FAILED, exit %d)' $((SECONDS - t_step)) "$cur" $rc)")
  printf '\n==== step times\n'
  printf '%s\n' "${steps[@]}"
  printf '%5d s  total\n' $((SECONDS - t_all))
}
trap summary EXIT

step "format check, release build + tests"
bash scripts/check-format.sh
bash scripts/build.sh build -DTG_CORPUS="$TG_CORPUS"
ctest --test-dir build --output-on-failure -j2

step "manifests, chart (static and with a real helm), Dockerfile; the checks' self-test"
HELM=$(bash scripts/helm.sh)
export HELM
TG_BIN=$PWD/build/tenantgate bash scripts/check-manifests.sh --selftest

step "bare Debian 12 container: demo + unit tests from the tracked files, image build + run"
bash scripts/fresh-machine.sh

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
