#!/usr/bin/env bash
# Assembles the runtime root filesystem of the container image (the Dockerfile's final stage is
# `FROM scratch` + this tree): the tenantgate binary, exactly the shared libraries it links (found
# with ldd, so a new dependency needs no change here), the dynamic loader, a passwd/group with
# nobody (65534), nsswitch.conf and the CA bundle. No shell, no package manager.
#   scripts/image-rootfs.sh BINARY DESTDIR
# Also used by scripts/check-manifests.sh to test the tree with chroot when no Docker engine is
# around.
set -euo pipefail
bin=${1:?usage: $0 BINARY DESTDIR}
dest=${2:?usage: $0 BINARY DESTDIR}
mkdir -p "$dest/usr/local/bin" "$dest/etc/ssl/certs" "$dest/tmp"
chmod 1777 "$dest/tmp"
install -m 0755 "$bin" "$dest/usr/local/bin/tenantgate"
if command -v strip >/dev/null; then strip --strip-unneeded "$dest/usr/local/bin/tenantgate"; fi

# Every library ldd resolves ("name => /path (addr)") and the loader ("/lib64/ld-linux... (addr)"),
# copied (symlinks resolved) to the same path in the tree.
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
for lib in $libs; do
  mkdir -p "$dest$(dirname "$lib")"
  cp -L "$lib" "$dest$lib"
done
# glibc loads libgcc_s at run time (pthread_cancel, backtraces): ldd does not list it.
gcc_s=$(ldconfig -p 2>/dev/null | awk '/libgcc_s\.so\.1 / && $NF ~ /^\// { print $NF; exit }')
if [ -n "$gcc_s" ]; then mkdir -p "$dest$(dirname "$gcc_s")"; cp -L "$gcc_s" "$dest$gcc_s"; fi

printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' \
  > "$dest/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dest/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$dest/etc/nsswitch.conf"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/"
fi
