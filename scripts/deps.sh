#!/usr/bin/env bash
# Installs the Debian 12 packages tenantgate needs. One list, used by the
# README commands, CI and the Dockerfile's build stage.
#   scripts/deps.sh build    compiler + libraries
#   scripts/deps.sh test     build + what the test suite runs (prometheus, clang, ...)
#   scripts/deps.sh bench    test + nginx, wrk
set -euo pipefail
what=${1:-test}
build_pkgs=(build-essential cmake pkg-config libevent-dev libssl-dev libyajl-dev libcyaml-dev libyaml-dev)
test_pkgs=(libcmocka-dev python3 python3-yaml python3-cryptography prometheus prometheus-alertmanager clang libclang-rt-14-dev curl openssl valgrind)
bench_pkgs=(nginx-light wrk)
pkgs=("${build_pkgs[@]}")
case "$what" in
  build) ;;
  test) pkgs+=("${test_pkgs[@]}") ;;
  bench) pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
# kubectl (for rendering manifests) comes from kubernetes-client unless one is installed.
if [ "$what" != build ] && ! command -v kubectl >/dev/null; then pkgs+=(kubernetes-client); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
