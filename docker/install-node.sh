#!/bin/sh
# Install Node.js and npm from the npm registry when the base image has no Node (a plain Debian
# image, e.g. the debootstrap one scripts/container-check.sh makes where no image registry is
# reachable). The `node-linux-<arch>` package carries the official Node binary; `npm` is npm
# itself. Each tarball is checked against the sha512 integrity the registry publishes for it.
# usage: install-node.sh NODE_VERSION NPM_VERSION
set -eu
NODE_VERSION=$1
NPM_VERSION=$2
REGISTRY=${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org}
REGISTRY=${REGISTRY%/}

if command -v node >/dev/null 2>&1; then
  echo "install-node: node $(node --version) already present, nothing to do"
  exit 0
fi

case "$(dpkg --print-architecture)" in
  amd64) arch=x64 ;;
  arm64) arch=arm64 ;;
  *) echo "install-node: no node-linux package for $(dpkg --print-architecture)" >&2; exit 1 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch NAME VERSION DEST_DIR: download the tarball, verify it, unpack its package/ into DEST_DIR.
fetch() {
  curl -fsSL "$REGISTRY/$1/$2" -o "$tmp/meta.json"
  want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dist"]["integrity"])' "$tmp/meta.json")
  url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dist"]["tarball"])' "$tmp/meta.json")
  curl -fsSL "$url" -o "$tmp/pkg.tgz"
  got="sha512-$(python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1],"rb").read()).digest()).decode())' "$tmp/pkg.tgz")"
  if [ "$got" != "$want" ]; then
    echo "install-node: $1@$2 integrity mismatch: registry says $want, got $got" >&2
    exit 1
  fi
  mkdir -p "$3"
  tar -xzf "$tmp/pkg.tgz" -C "$3" --strip-components=1
  rm -f "$tmp/pkg.tgz"
}

fetch "node-linux-$arch" "$NODE_VERSION" "$tmp/node"
install -m 0755 "$tmp/node/bin/node" /usr/local/bin/node
fetch npm "$NPM_VERSION" /usr/local/lib/node_modules/npm
ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
echo "install-node: node $(node --version), npm $(npm --version)"
