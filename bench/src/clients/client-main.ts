/**
 * A benchmark client process: holds many client connections of one implementation, records one-way
 * latency of every fan-out message in a histogram, and reports its progress (the lowest sequence number
 * every open connection has reached) to the orchestrator every few milliseconds.
 */
import { now } from '../lib/clock.ts';
import { cpuSample, Endpoint, memorySample } from '../lib/endpoint.ts';
import { Histogram } from '../lib/histogram.ts';
import { leanResponses } from '../lib/lean-http.ts';
import { type PayloadStamp, readPayload } from '../lib/payload.ts';
import { atmosphereWs } from './atmosphere-ws.ts';
import type { ClientConnection, ClientImpl, Connector, ResumeToken } from './connector.ts';
import {
  atmosphereLongPolling,
  atmosphereSse,
  rawLongPolling,
  rawSse,
  socketIoPolling,
} from './http-clients.ts';
import { rawWs } from './raw-ws.ts';
import { socketIoWs } from './socketio.ts';

const CONNECTORS: Record<ClientImpl, Connector> = {
  'atmosphere-ws': atmosphereWs,
  'atmosphere-sse': atmosphereSse,
  'atmosphere-long-polling': atmosphereLongPolling,
  ws: rawWs,
  'raw-sse': rawSse,
  'raw-long-polling': rawLongPolling,
  'socketio-ws': socketIoWs,
  'socketio-polling': socketIoPolling,
};

export interface ConnectParams {
  impl: ClientImpl;
  origin: string;
  count: number;
  /** Connections being opened at once. */
  concurrency: number;
  /** Source addresses to spread connections over (round robin); empty = the default. */
  localAddresses: string[];
  /** Give up opening connections after this long. */
  timeoutMs: number;
  /** What the messages are: fan-out payloads (latency histogram) or AI frames (receive time per seq). */
  payload: 'fanout' | 'frames';
  /** Atmosphere WebSocket: each connection asks for a session (see `ConnectTarget.session`). */
  session?: boolean;
}

export interface ConnectResult {
  connected: number;
  failed: number;
  firstError: string | undefined;
  elapsedMs: number;
}

export interface ClientStats {
  delivered: number;
  /** Messages that did not parse as the expected payload (should stay 0). */
  foreign: number;
  closedUnexpectedly: number;
  /** HTTP responses read (long-polling: the polls answered) since the last reset. */
  responses: number;
  min: number;
  histogram: ReturnType<Histogram['snapshot']>;
}

export interface Progress {
  min: number;
  delivered: number;
}

let connector: Connector;
let payloadKind: ConnectParams['payload'] = 'fanout';
let origin = '';
let session = false;
const connections: (ClientConnection | undefined)[] = [];
let lastSeq = new Float64Array(0);
let received = new Float64Array(0);
const closed: boolean[] = [];
let closedUnexpectedly = 0;
let delivered = 0;
let foreign = 0;
const histogram = new Histogram();
const stamp: PayloadStamp = { sentAt: 0, seq: 0 };
/** Frames mode: receive time by seq. */
let frameTimes: number[] = [];
/** A `frameTimes` call waiting for the frame of a seq to arrive. */
let frameWatch: { seq: number; resolve: () => void } | undefined;
/** A resume waiting for a connection's received count to reach a value. */
let watch: { index: number; target: number; resolve: () => void } | undefined;

function delivered1(index: number): void {
  delivered++;
  const count = ++received[index]!;
  if (watch !== undefined && watch.index === index && count >= watch.target) {
    const { resolve } = watch;
    watch = undefined;
    resolve();
  }
}

function sinkFor(index: number): (text: string) => void {
  if (payloadKind === 'frames') {
    return (text) => {
      const at = now();
      const key = text.indexOf('"seq":');
      if (key === -1) {
        foreign++;
        return;
      }
      const seq = Number.parseInt(text.slice(key + 6), 10);
      frameTimes[seq] = at;
      delivered1(index);
      if (frameWatch !== undefined && frameWatch.seq === seq) frameWatch.resolve();
    };
  }
  return (text) => {
    const at = now();
    if (!readPayload(text, stamp)) {
      foreign++;
      return;
    }
    histogram.record((at - stamp.sentAt) * 1000);
    delivered1(index);
    if (stamp.seq > lastSeq[index]!) lastSeq[index] = stamp.seq;
  };
}

function onCloseFor(index: number): () => void {
  return () => {
    if (closed[index]) return;
    closed[index] = true;
    closedUnexpectedly++;
  };
}

function minSeq(): number {
  let min = Infinity;
  for (let i = 0; i < lastSeq.length; i++) {
    if (!closed[i] && connections[i] !== undefined && lastSeq[i]! < min) min = lastSeq[i]!;
  }
  return min === Infinity ? 0 : min;
}

async function connect(params: ConnectParams): Promise<ConnectResult> {
  connector = CONNECTORS[params.impl];
  payloadKind = params.payload;
  origin = params.origin;
  session = params.session === true;
  lastSeq = new Float64Array(params.count);
  received = new Float64Array(params.count);
  const started = performance.now();
  const deadline = started + params.timeoutMs;
  let next = 0;
  let connected = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < params.count && performance.now() < deadline) {
      const index = next++;
      const localAddress =
        params.localAddresses.length > 0
          ? params.localAddresses[index % params.localAddresses.length]
          : undefined;
      try {
        connections[index] = await connector(
          { origin, localAddress, session },
          sinkFor(index),
          onCloseFor(index),
        );
        connected++;
      } catch (error) {
        failed++;
        closed[index] = true;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(params.concurrency, params.count) }, worker));
  return { connected, failed, firstError, elapsedMs: performance.now() - started };
}

const endpoint = new Endpoint();
let reported: Progress = { min: -1, delivered: -1 };
setInterval(() => {
  const min = minSeq();
  if (min === reported.min && delivered === reported.delivered) return;
  reported = { min, delivered };
  endpoint.emit('progress', reported);
}, 5).unref();

endpoint
  .method('connect', (params: ConnectParams) => connect(params))
  .method('cpu', () => cpuSample())
  .method('memory', (params: { gc: boolean }) => memorySample(params.gc))
  .method('reset', () => {
    histogram.reset();
    delivered = 0;
    foreign = 0;
    frameTimes = [];
    leanResponses.count = 0;
  })
  .method('stats', (): ClientStats => ({
    delivered,
    foreign,
    closedUnexpectedly,
    responses: leanResponses.count,
    min: minSeq(),
    histogram: histogram.snapshot(),
  }))
  .method('open', () => connections.filter((c, i) => c !== undefined && !closed[i]).length)
  // Once the frame of `until.seq` has arrived (or `until.timeoutMs` passed): asking while frames arrive would
  // hand the whole array over while the client is measured.
  .method('frameTimes', async (until?: { seq: number; timeoutMs: number }) => {
    if (until !== undefined && frameTimes[until.seq] === undefined) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        frameWatch = { seq: until.seq, resolve };
        timer = setTimeout(resolve, until.timeoutMs);
      });
      clearTimeout(timer);
      frameWatch = undefined;
    }
    return frameTimes;
  })
  .method('cut', (params: { index: number }) => {
    const connection = connections[params.index];
    if (!connection) throw new Error(`no connection #${params.index}`);
    connection.cut();
    return connection.resumeToken(received[params.index]!);
  })
  .method(
    'resume',
    async (params: { index: number; token: ResumeToken; expected: number; timeoutMs: number }) => {
      // Reconnect as the same client and time until `expected` more messages have arrived.
      const index = params.index;
      const before = received[index]!;
      let done = false;
      const all = new Promise<void>((resolve) => {
        watch = { index, target: before + params.expected, resolve };
      }).then(() => (done = true));
      const started = performance.now();
      const previous = connections[index];
      if (previous?.reconnect) await previous.reconnect();
      else
        connections[index] = await connector(
          { origin, resume: params.token },
          sinkFor(index),
          onCloseFor(index),
        );
      const connectedMs = performance.now() - started;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, params.timeoutMs)))]);
      clearTimeout(timer);
      const elapsedMs = performance.now() - started;
      watch = undefined;
      return {
        complete: done,
        elapsedMs,
        connectedMs,
        delivered: received[index]! - before,
        recovered: connections[index]?.recovered?.(),
      };
    },
  )
  .method('close', () => {
    for (let i = 0; i < connections.length; i++) {
      closed[i] = true;
      connections[i]?.close();
    }
  })
  .method('shutdown', () => {
    setImmediate(() => process.exit(0));
  });
