#!/usr/bin/env bash
# Installs the packages the way users will: `pnpm pack` of every built package, then plain `npm install` of the
# tarballs into blank applications outside the workspace, which run a server and a client from them. A missing
# `files` entry, a dev-only import or a peer range that excludes a sibling fails here. Needs `pnpm build` first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tarballs"

for dir in "$root"/packages/*/; do
  (cd "$dir" && pnpm pack --pack-destination "$work/tarballs" >/dev/null)
done
tarball() { ls "$work/tarballs"/atmosphere-"$1"-[0-9]*.tgz; }

# Installs the named packages' tarballs (and nothing else of ours) into a blank application.
app() {
  local name="$1"
  shift
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
node check.mjs

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
node check.mjs

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
node check.mjs
