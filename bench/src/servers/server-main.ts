/**
 * A benchmark server process: `node … server-main.ts '<ServerConfig JSON>'`. It starts one implementation
 * on 127.0.0.1 (a free port) and serves the orchestrator's calls: CPU and memory samples (after `gc()`),
 * connection counts, fan-out phases, token streams, shutdown.
 */
import { writeHeapSnapshot } from 'node:v8';
import { cpuSample, Endpoint, memorySample } from '../lib/endpoint.ts';
import { startAtmosphere } from './atmosphere.ts';
import { FanoutDriver, type FanoutPlan } from './driver.ts';
import { startRawHttp } from './raw-http.ts';
import { startRawWs } from './raw-ws.ts';
import { startSocketIo } from './socketio.ts';
import type { ServerConfig, ServerTarget, TokenStream } from './target.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;

async function start(): Promise<ServerTarget> {
  switch (config.impl) {
    case 'atmosphere':
      return startAtmosphere(config);
    case 'ws':
    case 'ws-frame-once':
      return startRawWs(config);
    case 'socketio':
      return startSocketIo(config);
    case 'raw-http':
      return startRawHttp();
  }
}

const baseline = await memorySample(true);
const target = await start();
const driver = new FanoutDriver((payload) => target.broadcast(payload));

new Endpoint()
  .method('info', () => ({ port: target.port, pid: process.pid, baseline }))
  .method('cpu', () => cpuSample())
  .method('memory', (params: { gc: boolean }) => memorySample(params.gc))
  .method('connections', () => target.connections())
  .method('heapSnapshot', async (params: { file: string }) => {
    await memorySample(true);
    return writeHeapSnapshot(params.file);
  })
  .method('fanout', (plan: FanoutPlan) => driver.run(plan))
  .method('stopFanout', () => driver.stop())
  .method('broadcast', (params: { count: number; firstSeq: number }) => {
    // Messages for clients that are away (the replay scenario): sent back to back.
    return driver.run({
      firstSeq: params.firstSeq,
      count: params.count,
      mode: 'paced',
      intervalMs: 0,
      timeoutMs: 30_000,
    });
  })
  .method('stream', async (params: TokenStream) => {
    if (!target.stream) throw new Error(`${config.impl} does not stream tokens`);
    return target.stream(params);
  })
  .method('readLog', async (params: { count: number }) => {
    if (!target.readLog) throw new Error(`${config.impl} has no stream log`);
    return target.readLog(params.count);
  })
  .method('shutdown', async () => {
    await target.close().catch(() => undefined);
    // Exit on the next turn so the answer leaves first; `process.exit` also writes a --cpu-prof profile.
    setImmediate(() => process.exit(0));
  })
  .on('credit', (upTo: number) => driver.grant(upTo));
