#!/usr/bin/env bash
# Base images for machines without an image registry. Every workaround for such a machine lives
# here, none in the Dockerfile: on a normal machine the same Dockerfile pulls the official images.
# Makes, only when missing from the engine at $DOCKER_HOST:
#   - a stand-in for the Dockerfile's Node base image, under the exact name of its `ARG NODE_IMAGE=`
#     line: Debian bookworm (mmdebstrap, minbase) + that Node version (npm package node@<version>) +
#     npm, a `node` user (uid/gid 1000, home /home/node), and this machine's CA certificates with
#     NODE_EXTRA_CA_CERTS pointing at them (npm and pnpm inside `docker build` go through its TLS proxy);
#   - a Redis image from Debian's redis-server (7.0.15), under a name of its own: $REDIS_STAND_IN.
# Debian packages come from the mirror apt is configured with (MICROBANK_DEBIAN_SOURCES overrides:
# a sources file, one-line or deb822). Needs root, mmdebstrap and npm. Usage: offline-base-images.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

REDIS_STAND_IN=microbank-offline/redis:7.0.15
node_image=$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile)
node_version=$(sed -E 's/^node:([0-9]+\.[0-9]+\.[0-9]+)-.*/\1/' <<<"$node_image")
[[ $node_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
  echo "offline-base-images: expected ARG NODE_IMAGE=node:<x.y.z>-bookworm... in the Dockerfile, found '$node_image'" >&2
  exit 1
}
cache="${MICROBANK_CACHE_DIR:-$HOME/.cache/microbank}"
stand_in_label="microbank.offline-stand-in=tools/containers/offline-base-images.sh"

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# The apt sources naming a Debian archive (not third-party repositories, whose keys the new root
# filesystem lacks).
debian_sources() {
  if [ -n "${MICROBANK_DEBIAN_SOURCES:-}" ]; then
    echo "$MICROBANK_DEBIAN_SOURCES"
    return
  fi
  local file found=()
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] && grep -qE '^[^#]*(URIs:|deb) .*/debian(-security)?/?( |$)' "$file" && found+=("$file")
  done
  ((${#found[@]})) || { echo "offline-base-images: no Debian archive among apt's sources" >&2; exit 1; }
  printf '%s\n' "${found[@]}"
}

# mmdebstrap's root filesystem as a tar on stdout, piped into `docker import` with the image's config.
debian_image() {
  local tag="$1"
  shift
  local -a mirrors changes=()
  mapfile -t mirrors < <(debian_sources)
  while [ "$1" != -- ]; do
    changes+=(--change "$1")
    shift
  done
  shift
  mmdebstrap --quiet --variant=minbase "$@" bookworm - "${mirrors[@]}" |
    docker import "${changes[@]}" --change "LABEL $stand_in_label" - "$tag" >/dev/null
}

make_node_image() {
  local node_dir="$cache/node-$node_version"
  if [ "$("$node_dir/node_modules/node/bin/node" --version 2>/dev/null)" != "v$node_version" ]; then
    echo "offline-base-images: fetching node@$node_version from the npm registry"
    npm install --prefix "$node_dir" --no-save --no-audit --no-fund --loglevel=error "node@$node_version" >/dev/null
  fi
  # The machine's own npm: the package directory its command points into.
  local npm_dir
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ -f "$npm_dir/bin/npm-cli.js" ] || { echo "offline-base-images: npm not found at $npm_dir" >&2; exit 1; }
  local extra_cas=/usr/local/share/ca-certificates
  # As in the official image: Node and npm under /usr/local, the user node (1000:1000) with a home.
  debian_image "$node_image" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "ENV NODE_VERSION=$node_version" \
    'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    'CMD ["node"]' -- \
    --include=ca-certificates,passwd \
    --customize-hook="upload $node_dir/node_modules/node/bin/node /usr/local/bin/node" \
    --customize-hook="chmod 755 \"\$1/usr/local/bin/node\"" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules\" && cp -a $npm_dir \"\$1/usr/local/lib/node_modules/npm\"" \
    --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"' \
    --customize-hook='ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
    --customize-hook="if [ -d $extra_cas ]; then cp -a $extra_cas/. \"\$1$extra_cas/\"; fi" \
    --customize-hook='chroot "$1" update-ca-certificates >/dev/null' \
    --customize-hook='chroot "$1" groupadd --gid 1000 node' \
    --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
}

make_redis_image() {
  debian_image "$REDIS_STAND_IN" 'CMD ["redis-server"]' 'EXPOSE 6379' -- --include=redis-server
}

for step in "$node_image:make_node_image" "$REDIS_STAND_IN:make_redis_image"; do
  image="${step%:*}"
  if image_exists "$image"; then
    echo "offline-base-images: $image is there"
  else
    echo "offline-base-images: making $image (a local stand-in, about a minute)"
    started=$SECONDS
    "${step##*:}"
    echo "offline-base-images: made $image in $((SECONDS - started)) s"
  fi
done
