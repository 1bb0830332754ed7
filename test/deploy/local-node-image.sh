#!/usr/bin/env bash
# Makes a local stand-in for docker.io/library/node:24-slim from files this machine already has,
# for where no container registry is reachable: the Node 24 binary of the devDependency `node`,
# the npm that runs this script, sh and coreutils from Debian's packages with the libraries they
# load, and a `node` user (uid 1000) as in the official images. Imported with `podman import`.
# Usage (from the repository root): test/deploy/local-node-image.sh <image tag>
set -euo pipefail
tag=$1
node_bin=$(realpath node_modules/node/bin/node)
npm_dir=$(realpath "$(dirname "$(realpath "$(command -v npm)")")/..")
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT

# Debian's merged /usr layout.
mkdir -p "$rootfs"/{usr/bin,usr/lib,usr/lib64,usr/local/bin,usr/local/lib/node_modules,etc,tmp,root,home/node}
for d in bin lib lib64 sbin; do ln -s "usr/${d/sbin/bin}" "$rootfs/$d"; done
chmod 1777 "$rootfs/tmp"

cp "$node_bin" "$rootfs/usr/local/bin/node"
cp -r "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# npm runs package scripts with sh.
binaries=(/usr/bin/dash $(dpkg -L coreutils | grep -E '^(/usr)?/bin/[^/]+$'))
for b in "${binaries[@]}"; do cp -L "$b" "$rootfs/usr/bin/"; done
ln -s dash "$rootfs/usr/bin/sh"
for lib in $(ldd "$node_bin" "${binaries[@]}" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
  real=${lib#/usr}
  mkdir -p "$rootfs/usr$(dirname "$real")"
  cp -L "$lib" "$rootfs/usr$real"
done

# This machine's trust store: its route to the npm registry may pass a TLS proxy with its own CA.
mkdir -p "$rootfs/etc/ssl/certs"
cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"

printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' > "$rootfs/etc/passwd"
# This machine's trust store: its route to the npm registry may pass a TLS proxy with its own CA.
mkdir -p "$rootfs/etc/ssl/certs"
cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"

printf 'root:x:0:\nnode:x:1000:\n' > "$rootfs/etc/group"
chown 1000:1000 "$rootfs/home/node"

tar --numeric-owner -C "$rootfs" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' - "$tag" >/dev/null
