#!/usr/bin/env bash
# Build every libFuzzer target (test/fuzz/fuzz_*.c, clang, ASan+UBSan) and run
# each for SECONDS (default 20) on a scratch copy of its seed corpus
# (test/fuzz/corpus/<target>/, or corpus/<target without fuzz_>/); the seeds
# in the tree are never written. Fails on any crash, leak, timeout or
# sanitizer report; the reproducer is kept in $TG_FUZZ_BUILD/fuzz-artifacts/.
#
#   bash test/fuzz/run.sh 60          # one minute per target
#   TG_FUZZ_TARGETS="fuzz_request" bash test/fuzz/run.sh 300
set -euo pipefail
secs=${1:-20}
cd "$(dirname "$0")/../.."
build=${TG_FUZZ_BUILD:-build-fuzz}
jobs=$(nproc 2>/dev/null || echo 2)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
CC=${CC:-clang} cmake -S . -B "$build" -DTG_FUZZ=ON -DTG_SANITIZE=ON -DTG_TESTS=OFF \
  -DTG_WERROR=ON >"$scratch/configure.log" 2>&1 || { cat "$scratch/configure.log"; exit 1; }
cmake --build "$build" -j"$jobs" >"$scratch/build.log" 2>&1 || { tail -50 "$scratch/build.log"; exit 1; }

artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
targets=${TG_FUZZ_TARGETS:-$(cd test/fuzz && ls fuzz_*.c | sed 's/\.c$//')}
failed=0
for name in $targets; do
  seeds=test/fuzz/corpus/$name
  [ -d "$seeds" ] || seeds=test/fuzz/corpus/${name#fuzz_}
  mkdir -p "$scratch/$name"
  [ -d "$seeds" ] && cp -r "$seeds"/. "$scratch/$name/"
  dict=()
  [ -f "test/fuzz/$name.dict" ] && dict=(-dict="$PWD/test/fuzz/$name.dict")
  log="$scratch/$name.log"
  # stdin from /dev/null: a fuzzed path such as /dev/stdin must not block
  # a fixed seed (TG_FUZZ_SEED, default 1) makes a CI run replay the same
  # mutations; set TG_FUZZ_SEED=0 to explore with a random one
  if (cd "$scratch" && "$OLDPWD/$build/$name" "${dict[@]}" -seed="${TG_FUZZ_SEED:-1}" \
        -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OLDPWD/$artifacts/$name-" \
        "$scratch/$name") </dev/null >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    printf '%-18s ok   %ss  %s execs  %s\n' "$name" "$secs" "${execs:-?}" "$cov"
  else
    failed=1
    printf '%-18s FAILED (reproducer in %s)\n' "$name" "$artifacts"
    grep -v '^INFO:\|^#[0-9]' "$log" | head -60
  fi
done
exit $failed
