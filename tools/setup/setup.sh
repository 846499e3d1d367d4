#!/usr/bin/env bash
# Everything microbank needs on a machine that has only its system's Node and npm (or neither), in
# one place: the README's commands (./bank) and .ci/run both source this file. It installs only
# what is missing, so on a ready machine it costs a few checks.
#
#   Debian packages   redis-server and redis-tools (the bank's Redis, and redis-cli);
#                     chromium (the page tests); with --containers also docker.io and mmdebstrap
#                     (the container tests). Needs root and apt-get; skipped where already there.
#   Node 24           the npm package node@24 under $MICROBANK_CACHE_DIR/node24, when `node` is older.
#   pnpm              the version package.json pins, under $MICROBANK_CACHE_DIR/pnpm-<version>.
#
# $MICROBANK_CACHE_DIR defaults to ~/.cache/microbank. Sourced, it puts Node 24 and pnpm first on
# PATH for the caller; MICROBANK_SKIP_SETUP=1 skips it all (you bring Node >= 24, pnpm and Redis).
#
# Usage: source tools/setup/setup.sh [--containers]

# `npm install --prefix DIR SPEC` unless DIR already holds the command NAME; then DIR's bin first on PATH.
microbank_cached_npm_bin() {
  local dir="$1" spec="$2" name="$3"
  if [ ! -x "$dir/node_modules/.bin/$name" ]; then
    echo "setup: installing $spec into $dir"
    # node@24's install script runs npm again as a child, which reads no npmrc's cafile: hand it
    # npm's own CA file (a machine behind a TLS proxy has one) the way Node takes extra CAs.
    local cafile
    cafile=$(npm config get cafile 2>/dev/null || true)
    if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$cafile" ]; then export NODE_EXTRA_CA_CERTS="$cafile"; fi
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$spec" >/dev/null || return 1
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
}

microbank_setup() {
  local containers=0 arg
  for arg in "$@"; do
    case "$arg" in
      --containers) containers=1 ;;
      *) echo "setup: unknown option $arg (use --containers)" >&2; return 2 ;;
    esac
  done
  [ "${MICROBANK_SKIP_SETUP:-}" = 1 ] && return 0

  local root cache
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  cache="${MICROBANK_CACHE_DIR:-$HOME/.cache/microbank}"

  local -a missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  # playwright-core drives Debian's Chromium; it never downloads a browser of its own.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if ((containers)); then
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  fi
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "setup: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]}) and run again" >&2
      return 1
    fi
    echo "setup: apt-get install ${missing[*]}"
    apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || return 1
  fi

  # Node 24: the machine's when it is new enough, else the npm registry's node@24 package. npm's
  # own global prefix follows the node binary that runs it, so nothing is installed with -g.
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if ((major < 24)); then
    microbank_cached_npm_bin "$cache/node24" node@24 node || return 1
  fi

  local pnpm_version
  pnpm_version=$(node -p "require('$root/package.json').packageManager.split('@')[1]") || return 1
  if [ "$(pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]; then
    microbank_cached_npm_bin "$cache/pnpm-$pnpm_version" "pnpm@$pnpm_version" pnpm || return 1
  fi
  echo "setup: node $(node --version), pnpm $(pnpm --version), $(redis-server --version | cut -d' ' -f1-3)"
}

microbank_setup "$@"
