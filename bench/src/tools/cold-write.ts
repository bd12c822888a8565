/**
 * The cold path of a lone token write, in one server process: Atmosphere (`createResourceSession` →
 * `session.send`) and raw ws (`ws.send` of the same JSON) side by side, one client each in a child process.
 * Before every write the caches are flushed (a 32 MiB sweep) after a pause, as they are when a model
 * streams a token every 20 ms; then the write is timed in parts:
 *
 * - before `ws.send`: the framework's own work until the frame is handed to `ws`;
 * - `ws.send`: the same code in both (framing, the socket write and its system call);
 * - after `ws.send`: the rest of the call, and everything it scheduled (microtasks, ticks) until the next
 *   `setImmediate` — work the process does before it sleeps, which a client woken on the same core waits for.
 *
 * Run: `pnpm cold-write [-- --writes=400]` from bench/.
 * A probe for finding where a write's time goes, not a scenario: it prints medians, it asserts nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { atmosphereUrl } from '../clients/atmosphere-ws.ts';
import { canPin } from '../lib/child.ts';
import { delay, nextTurn } from '../lib/clock.ts';
import { createServer } from 'node:http';
import { createAtmosphere } from '@atmosphere/runtime';
import { WebSocket, WebSocketServer } from 'ws';
import { benchLogger } from '../servers/atmosphere.ts';
import { BENCH_PATH } from '../servers/target.ts';
import { tokenText } from '../servers/tokens.ts';

const writes = Number(/--writes=(\d+)/.exec(process.argv.join(' '))?.[1] ?? 400);
const PAUSE_MS = 5;
const sweep = new Uint8Array(32 * 1024 * 1024);
/**
 * Where the OS puts a woken client (on this process's core, or another) moves one write's time by tens of µs:
 * this process is pinned to CPU 0 and the clients to CPU 1 where `taskset` can do it.
 */
const pinned =
  canPin() &&
  spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;

function flushCaches(): void {
  for (let i = 0; i < sweep.length; i += 64) sweep[i] = sweep[i]! + 1;
}

/** A client in its own process that connects to `url` and reads (and drops) what it is sent. */
function startClient(url: string): { ready: Promise<void>; stop(): void } {
  const wsEntry = fileURLToPath(import.meta.resolve('ws'));
  const command = [
    process.execPath,
    '-e',
    `const { WebSocket } = require(${JSON.stringify(wsEntry)});
       const ws = new WebSocket(${JSON.stringify(url)}, { perMessageDeflate: false });
       ws.on('open', () => process.stdout.write('open\\n'));
       ws.on('message', () => {});
       ws.on('error', (e) => { console.error(e.message); process.exit(1); });`,
  ];
  // On CPU 1, this process on CPU 0 (see `pinned`): the same placement for both contenders.
  if (pinned) command.unshift('taskset', '-c', '1');
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`client exited with ${code}`)));
  });
  return { ready, stop: () => child.kill() };
}

interface Parts {
  before: number[];
  send: number[];
  after: number[];
}

/**
 * When the last `ws.send` began and returned. The wrapper is installed once on the prototype, before anything
 * runs, so that no object on the measured path changes shape between writes (which would deoptimise it).
 */
const sendTiming = { enter: 0, leave: 0 };
{
  const original = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'send')!.value as WebSocket['send'];
  WebSocket.prototype.send = function (this: WebSocket, ...args: Parameters<WebSocket['send']>) {
    sendTiming.enter = performance.now();
    original.apply(this, args);
    sendTiming.leave = performance.now();
  } as WebSocket['send'];
}

async function measure(write: (text: string) => void, parts: Parts, i: number): Promise<void> {
  await delay(PAUSE_MS);
  flushCaches();
  const started = performance.now();
  write(tokenText(i));
  await nextTurn();
  const ended = performance.now();
  parts.before.push((sendTiming.enter - started) * 1000);
  parts.send.push((sendTiming.leave - sendTiming.enter) * 1000);
  parts.after.push((ended - sendTiming.leave) * 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  // Atmosphere as the bench runs it (one managed path), and a bare ws server.
  const atmosphere = await createAtmosphere({
    port: 0,
    host: '127.0.0.1',
    logger: benchLogger('atmosphere'),
    autoload: false,
    heartbeat: false,
  });
  atmosphere.managed(BENCH_PATH, {}, { codec: 'text' });
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const rawConnected = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const rawPort = (server.address() as { port: number }).port;
  const clients = [
    startClient(atmosphereUrl(`ws://127.0.0.1:${atmosphere.address()!.port}`, 'websocket')),
    startClient(`ws://127.0.0.1:${rawPort}/`),
  ];
  try {
    await Promise.all(clients.map((c) => c.ready));
    const rawSocket = await rawConnected;
    const resource = [...atmosphere.resources()].find((r) => r.state === 'connected');
    if (!resource) throw new Error('the Atmosphere client is not connected');
    const results: Record<string, Parts> = {
      atmosphere: { before: [], send: [], after: [] },
      'raw ws': { before: [], send: [], after: [] },
    };
    const { createResourceSession } = await import('@atmosphere/ai');
    const session = createResourceSession(resource);
    const sessionId = randomUUID();
    let seq = 0;
    const rawWrite = (text: string): void =>
      rawSocket.send(
        `{"type":"streaming-text","data":${JSON.stringify(text)},"sessionId":"${sessionId}","seq":${++seq}}`,
      );
    // Warm up (the JIT), then alternate.
    for (let i = 0; i < 2000; i++) {
      session.send(tokenText(i));
      rawWrite(tokenText(i));
      if (i % 100 === 0) await nextTurn();
    }
    for (let i = 0; i < writes; i++) {
      if (i % 2 === 0) {
        await measure((text) => session.send(text), results.atmosphere!, i);
        await measure(rawWrite, results['raw ws']!, i);
      } else {
        await measure(rawWrite, results['raw ws']!, i);
        await measure((text) => session.send(text), results.atmosphere!, i);
      }
    }
    session.complete();
    console.log(
      `${writes} lone writes each, ${PAUSE_MS} ms apart, caches flushed before each; medians (µs):`,
    );
    console.log('| | before ws.send | ws.send | after ws.send | total |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [name, parts] of Object.entries(results)) {
      const [b, s, a] = [median(parts.before), median(parts.send), median(parts.after)];
      console.log(
        `| ${name} | ${b.toFixed(1)} | ${s.toFixed(1)} | ${a.toFixed(1)} | ${(b + s + a).toFixed(1)} |`,
      );
    }
  } finally {
    for (const c of clients) c.stop();
    await atmosphere.close({ timeoutMs: 1_000 });
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

await main();
