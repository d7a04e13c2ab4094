#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds twice (release and
# ASan+UBSan) and runs every unit and end-to-end test in both builds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
bash scripts/build.sh build
ctest --test-dir build --output-on-failure -j2
bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DTG_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j2
echo "all test suites passed"
