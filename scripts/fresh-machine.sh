#!/usr/bin/env bash
# The README's promises, tried on a bare Debian 12 instead of the provisioned host:
#   1. make debian:12 locally (debootstrap --variant=minbase bookworm + podman import; no image
#      registry is needed or asked);
#   2. in a container of it, from a copy of the repository's tracked files alone (what a clone
#      has): `bash scripts/demo.sh` (the README's first command), then the release build's unit
#      tests (`ctest -L unit`);
#   3. `podman build` the Dockerfile (its build stage FROM that same local debian:12, --pull=never);
#   4. run the image read-only as 65534: `--version`, then a real start answering /healthz 200 on
#      the internal listener and 401 to a query without credentials.
# Everything the run stores (podman storage, images, the debootstrap tree) lives under one
# run-local folder that is removed at the end; logs are kept there only when a step failed.
#
#   bash scripts/fresh-machine.sh            run it (as root, else through sudo; scripts/test.sh
#                                            runs it in CI). About 3 minutes, 2.5 GB of disk.
#   bash scripts/fresh-machine.sh --keep     keep the folder (storage, images, logs) afterwards
#
# Podman runs as root with its own configuration (never /etc's): vfs storage, runc (crun rejects
# this host's cgroup layout) and fixed ulimits (the sandbox cannot raise rlimits). Containers use
# the host network: the bare machine needs Debian's archive, and the demo binds free ports on
# 127.0.0.1 as it does on a host. Downloaded .deb files are shared between the bare container and
# the image build (one download per run), nothing else is.
#   TG_FRESH_DIR       the run-local folder (default tmp/fresh-machine in the repository)
#   TG_DEBIAN_MIRROR   Debian archive (default http://deb.debian.org/debian)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
keep=0
[ "${1:-}" = --keep ] && keep=1

work=${TG_FRESH_DIR:-$root/tmp/fresh-machine}
mirror=${TG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
logs=$work/logs
image=localhost/tenantgate:fresh-machine
tg_ctr=tenantgate-fresh-machine
src=$work/src
export root work mirror logs image tg_ctr src version
version=$(sed -n 's/^project(tenantgate VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)

say() { printf 'fresh-machine: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then # podman as root with vfs storage, debootstrap
  command -v sudo >/dev/null || die "needs root (podman as root, debootstrap)"
  exec sudo --preserve-env=TG_FRESH_DIR,TG_DEBIAN_MIRROR bash "$0" "$@"
fi
for tool in podman runc debootstrap git curl; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh test installs it)"
done
git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  || die "needs a git checkout: the container gets the tracked files only, as a clone has them"

# ---- podman's own configuration, nothing read from or written to /etc
conf=$work/conf
start_fresh() {
  if [ -e "$work" ]; then cleanup_storage; rm -rf "$work"; fi
  mkdir -p "$conf" "$logs" "$work/apt-archives" "$work/tmp"
  cat >"$conf/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
  cat >"$conf/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$work/tmp"
EOF
  # no search registries: a name that is not local fails at once instead of being pulled
  cat >"$conf/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "disabled"
EOF
}
export CONTAINERS_CONF=$conf/containers.conf
export CONTAINERS_STORAGE_CONF=$conf/storage.conf
export CONTAINERS_REGISTRIES_CONF=$conf/registries.conf

cleanup_storage() { # everything podman made under $work, then anything still mounted there
  if [ -f "$CONTAINERS_STORAGE_CONF" ]; then
    podman rm -a -f -t 0 >/dev/null 2>&1 || true
    podman system reset -f >/dev/null 2>&1 || true
  fi
  local m
  findmnt -rn -o TARGET | awk -v w="$work/" 'index($0, w) == 1' | sort -r \
    | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

failed=""
finish() {
  local rc=$?
  if [ "$keep" = 1 ]; then
    say "kept $work (--keep); CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
    return
  fi
  cleanup_storage
  if [ $rc -ne 0 ] && [ -d "$logs" ]; then
    # keep the logs (small), drop what is big
    find "$work" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
    say "failed${failed:+ in: $failed}; logs kept in $logs" >&2
  else
    rm -rf "$work"
  fi
}
trap finish EXIT

# step NAME LOG TIMEOUT CMD...: runs CMD with its output in $logs/LOG, prints one line with the
# duration, and the end of the log when it fails.
step() {
  local name=$1 log=$logs/$2 limit=$3 t0=$SECONDS rc=0
  shift 3
  # a function of this script, run by a child bash so that timeout can end it and its children
  timeout --kill-after=30 "$limit" bash -c 'set -euo pipefail; "$@"' step "$@" >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    failed=$name
    say "$name: FAILED (exit $rc$([ $rc -eq 124 ] && echo ", timed out after $limit s"), $((SECONDS - t0)) s); last lines of $log:" >&2
    tail -n 200 "$log" | sed 's/^/  | /' >&2
    exit 1
  fi
  say "$name: ok ($((SECONDS - t0)) s)"
}


# ---- 1. debian:12, made locally and shaped like the registry's image: no downloaded .debs, no
# package lists, the archive plus bookworm-updates and bookworm-security as apt sources
make_debian() {
  local tree=$work/debian-12
  debootstrap --variant=minbase bookworm "$tree" "$mirror"
  rm -f "$tree"/var/cache/apt/archives/*.deb "$tree/etc/apt/sources.list"
  rm -rf "$tree"/var/lib/apt/lists/*
  cat >"$tree/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  tar -C "$tree" -c . | podman import - debian:12
  rm -rf "$tree"
  podman image exists localhost/debian:12
}

# ---- the repository as a clone has it: tracked files, with their working-tree contents
copy_source() {
  mkdir -p "$src"
  git ls-files -z | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -c | tar -x -C "$src"
  [ -f "$src/scripts/demo.sh" ] && [ ! -e "$src/build" ]
}

# ---- 2. the README's first command and the unit tests, on the bare machine
bare() {
  # what runs inside; the repository arrives on stdin as a tar stream
  cat >"$work/inside.sh" <<'EOF'
set -euo pipefail
mkdir /src && tar -x -C /src && cd /src
running() { # names of the demo's processes still alive (zombies do not count)
  local f
  for f in /proc/[0-9]*/stat; do
    read -r _ comm state _ <"$f" 2>/dev/null || continue
    case "$comm:$state" in (\(prometheus\):[!Z] | \(tenantgate\):[!Z]) echo "$comm" ;; esac
  done
}
echo "==== bash scripts/demo.sh"
bash scripts/demo.sh
left=$(running); [ -z "$left" ] || { echo "the demo left running: $left"; exit 1; }
! ls -d /tmp/tenantgate-demo.* 2>/dev/null || { echo "the demo left its folder"; exit 1; }
echo "==== bash scripts/demo.sh --keep"
bash scripts/demo.sh --keep | tee /tmp/keep.log
url=$(sed -n 's/.*tenantgate: \(http:[^ ]*\).*/\1/p' /tmp/keep.log)
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer alice-token' \
  "$url/api/v1/query?namespace=alpha&query=up")
echo "kept tenantgate at $url answers alice with $code"
[ "$code" = 200 ]
stop=$(sed -n 's/^stop with: //p' /tmp/keep.log)
echo "\$ $stop"
eval "$stop"
for ((i = 0; i < 100; i++)); do [ -z "$(running)" ] && break; sleep 0.1; done
left=$(running); [ -z "$left" ] || { echo "still running after the stop command: $left"; exit 1; }
echo "==== ctest --test-dir build -L unit"
ctest --test-dir build -L unit --output-on-failure -j2
EOF
  tar -C "$src" -c . | podman run --rm -i --network=host \
    -v "$work/apt-archives:/var/cache/apt/archives" -v "$work/inside.sh:/inside.sh:ro" \
    debian:12 bash /inside.sh
}

# ---- 3. the image, built from the same copy and the same local debian:12
build_image() {
  podman build --pull=never --network=host \
    -v "$work/apt-archives:/var/cache/apt/archives" \
    --build-arg VERSION="$version" --build-arg REVISION="$(git rev-parse HEAD)" \
    -t "$image" -f "$src/Dockerfile" "$src"
  podman image inspect --format '{{.Size}}' "$image"
}

# ---- 4. the image runs read-only as nobody
image_version() {
  local out
  out=$(podman run --rm --read-only --user 65534:65534 --network=none "$image" --version)
  echo "$out"
  [ "$out" = "tenantgate $version" ]
}

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
image_serves() {
  local etc=$work/image-etc tls internal upstream i code
  mkdir -p "$etc"
  printf 'fresh-token,alice,1001,"devs"\n' >"$etc/tokens.csv"
  cat >"$etc/config.yaml" <<'EOF'
authorization:
  rewrites:
    byQueryParameter:
      name: namespace
  resourceAttributes:
    apiVersion: v1
    resource: namespace
    subresource: metrics
    namespace: "{{ .Value }}"
  static:
    - user: {name: alice}
      verb: get
      namespace: alpha
      resource: namespace
      subresource: metrics
      resourceRequest: true
EOF
  chmod 0755 "$etc"; chmod 0644 "$etc"/*
  tls=$(port); internal=$(port); upstream=$(port)
  podman run -d --name "$tg_ctr" --read-only --user 65534:65534 --network=host \
    -v "$etc:/etc/tenantgate:ro" "$image" \
    --secure-listen-address="127.0.0.1:$tls" --internal-listen-address="127.0.0.1:$internal" \
    --upstream="http://127.0.0.1:$upstream/" --config-file=/etc/tenantgate/config.yaml \
    --token-auth-file=/etc/tenantgate/tokens.csv
  for ((i = 0; i < 300; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$internal/healthz" || true)
    [ "$code" = 200 ] && break
    [ "$(podman inspect -f '{{.State.Running}}' "$tg_ctr")" = true ] || break
    sleep 0.1
  done
  echo "GET /healthz on the internal listener: $code"
  code401=$(curl -sk -o /dev/null -w '%{http_code}' \
    "https://127.0.0.1:$tls/api/v1/query?namespace=alpha&query=up" || true)
  echo "GET /api/v1/query without credentials: $code401"
  # with a token from the mounted file the request gets past authentication and authorization
  # and reaches the (absent) upstream: the read-only image read its files and enforces
  code502=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer fresh-token' \
    "https://127.0.0.1:$tls/api/v1/query?namespace=alpha&query=up" || true)
  echo "GET /api/v1/query with alice's token, no upstream listening: $code502"
  echo "---- container log"
  podman logs "$tg_ctr" 2>&1 | tail -n 40
  [ "$code" = 200 ] && [ "$code401" = 401 ] && [ "$code502" = 502 ]
}

# ---------------------------------------------------------------------------------------------
export -f say make_debian copy_source bare build_image image_version image_serves port
t_all=$SECONDS
start_fresh
step "debian:12 from debootstrap --variant=minbase bookworm" debootstrap.log 600 make_debian
step "copy of the tracked files ($(git ls-files | wc -l) files)" copy.log 120 copy_source
step "bare Debian 12: bash scripts/demo.sh (then --keep and its stop line), ctest -L unit" bare.log 1500 bare
grep -E '^[0-9]+% tests passed|^kept tenantgate|^\$ kill' "$logs/bare.log" | sed 's/^/  /' || true
step "podman build the Dockerfile (FROM local debian:12, --pull=never)" build.log 1200 build_image
say "image size: $(($(tail -n 1 "$logs/build.log") / 1000000)) MB"
step "image: --read-only --user 65534 --version" version.log 60 image_version
step "image: --read-only --user 65534, /healthz 200, no credentials 401" serve.log 120 image_serves
sed -n 's/^GET /  GET /p' "$logs/serve.log"
say "all passed in $((SECONDS - t_all)) s"
