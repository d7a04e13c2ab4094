#!/usr/bin/env bash
# Static checks of everything tenantgate ships: renders every kustomization under manifests/ with
# `kubectl kustomize` and checks the output, checks the Helm chart without Helm, and checks the
# Dockerfile. See scripts/check_manifests.py for the list.
#   scripts/check-manifests.sh                         # manifests, chart, Dockerfile
#   TG_BIN=build/tenantgate scripts/check-manifests.sh # + `tenantgate check-config` on the
#                                                      #   Deployment's args and config, + the
#                                                      #   image's root filesystem under chroot
#   scripts/check-manifests.sh --selftest              # + prove the checks fail on broken copies
#                                                      #   of the tree (about a minute)
# Needs kubectl (kustomize v5) and python3 with PyYAML (Debian: kubernetes-client or kubectl,
# python3-yaml). Ends with `manifests: N passed, M failed`; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v kubectl >/dev/null || { echo "check-manifests: kubectl not found" >&2; exit 2; }
python3 -c 'import yaml' 2>/dev/null \
  || { echo "check-manifests: python3 PyYAML missing (Debian package python3-yaml)" >&2; exit 2; }
if [ -n "${TG_BIN:-}" ]; then TG_BIN=$(realpath "$TG_BIN"); export TG_BIN; fi
if [ "${1:-}" = --selftest ]; then
  python3 scripts/check_manifests.py
  exec python3 scripts/check_manifests_selftest.py
fi
exec python3 scripts/check_manifests.py "$@"
