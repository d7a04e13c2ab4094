#!/usr/bin/env bash
# Builds tenantgate. Used by the README, CI and the Dockerfile.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DTG_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
