#!/usr/bin/env bash
# End-to-end tests with tenantgate under valgrind's memcheck. Fails on any
# memory error or definitely lost block in any tenantgate process, on a
# process that did not get to valgrind's summary (killed), and on a test
# failure.
#
#   bash test/e2e/valgrind.sh                         # test_core.py and test_faults.py
#   bash test/e2e/valgrind.sh test/e2e/test_faults.py Smuggling   # args go to the test file
#
# TG_BUILD_DIR (default build) holds the tenantgate to check; streamed bodies
# are cut to TG_E2E_HUGE_BYTES (default 64 MiB) as valgrind runs ~30x slower.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${TG_BUILD_DIR:-build}
if [ ! -x "$build/tenantgate" ]; then
  cmake -S . -B "$build" -DTG_WERROR=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" --target tenantgate >/dev/null
fi
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 1; }

logs=$(mktemp -d /tmp/tg-valgrind.XXXXXX)
export TG_BIN=$PWD/$build/tenantgate
export TG_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=40 --log-file=$logs/vg-%p.log"
export TG_E2E_HUGE_BYTES=${TG_E2E_HUGE_BYTES:-$((64 << 20))}

rc=0
if [ $# -gt 0 ]; then
  python3 "$@" || rc=1
else
  for t in test/e2e/test_core.py test/e2e/test_faults.py; do
    echo "== valgrind: $t"
    python3 "$t" || rc=1
  done
fi

n=0
for f in "$logs"/vg-*.log; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  if ! grep -q "ERROR SUMMARY: 0 errors" "$f"; then
    rc=1
    if grep -q "ERROR SUMMARY:" "$f"; then
      echo "---- valgrind errors in $f"
    else
      echo "---- no valgrind summary in $f (process killed before exit?)"
    fi
    grep -v '^==[0-9]*== *$' "$f" | head -120
  fi
done
[ "$n" -gt 0 ] || { echo "valgrind.sh: no process ran under valgrind" >&2; rc=1; }
# the logs are kept (and named) only when something failed
if [ $rc -eq 0 ]; then
  rm -rf "$logs"
  echo "valgrind.sh: $n tenantgate processes checked, no errors"
else
  echo "valgrind.sh: $n tenantgate processes checked; valgrind logs kept in $logs"
fi
exit $rc
