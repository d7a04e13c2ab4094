#!/usr/bin/env bash
# Installs the Debian 12 packages tenantgate needs. One list, used by the
# README commands, CI and the Dockerfile's build stage.
#   scripts/deps.sh build    compiler + libraries
#   scripts/deps.sh test     build + what the test suite runs (prometheus, clang, ...)
#   scripts/deps.sh bench    test + nginx, wrk, Go + metricsql (the Go two-hop stand-in)
#   scripts/deps.sh ci       test + what scripts/test.sh adds: podman, runc and debootstrap for
#                            the bare-Debian-12 step (scripts/fresh-machine.sh), npm for helm
set -euo pipefail
what=${1:-test}
build_pkgs=(build-essential cmake pkg-config libevent-dev libssl-dev libyajl-dev libcyaml-dev libyaml-dev)
test_pkgs=(libcmocka-dev python3 python3-yaml python3-cryptography prometheus prometheus-alertmanager clang clang-format libclang-rt-14-dev curl openssl valgrind)
bench_pkgs=(nginx-light wrk golang-go golang-github-victoriametrics-metricsql-dev)
ci_pkgs=(podman runc debootstrap git)
pkgs=("${build_pkgs[@]}")
case "$what" in
  build) ;;
  test) pkgs+=("${test_pkgs[@]}") ;;
  bench) pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  ci) pkgs+=("${test_pkgs[@]}" "${ci_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|bench|ci" >&2; exit 2 ;;
esac
# kubectl (for rendering manifests) comes from kubernetes-client unless one is installed.
if [ "$what" != build ] && ! command -v kubectl >/dev/null; then pkgs+=(kubernetes-client); fi
# npm (scripts/helm.sh fetches helm with it) comes with Node.js where that is installed; Debian's
# npm package otherwise.
if [ "$what" = ci ] && ! command -v npm >/dev/null; then pkgs+=(npm); fi

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
