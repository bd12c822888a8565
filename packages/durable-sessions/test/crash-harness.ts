import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { openAiTranscript, type ReplayServer, startReplayServer } from '@atmosphere/ai/testing';
import {
  Atmosphere,
  type SessionEvent,
  type StreamingHandle,
  type Subscription,
  subscribeStreaming,
} from '@atmosphere/client';
import { type AiFrame, parseAiFrame } from '@atmosphere/protocol';
import type { StreamLog } from '@atmosphere/runtime/spi';
import { eventually, Inbox } from '@atmosphere/runtime/testing';
import { closeRedis, connectRedis, loadIoredis } from '../src/redis/connection.ts';
import { RedisStreamLog } from '../src/redis/redis-stream-log.ts';
import { loadBetterSqlite3, openSqliteFile } from '../src/sqlite/database.ts';
import { SqliteStreamLog } from '../src/sqlite/sqlite-stream-log.ts';

const SERVER = fileURLToPath(new URL('./fixtures/crash-server.ts', import.meta.url));

/** The answer every prompt gets: `TOKENS` chunks, each naming its index, so a gap or a duplicate shows. */
export const TOKENS = 40;
export const CHUNKS: readonly string[] = Array.from({ length: TOKENS }, (_, i) => `t${i} `);
export const FULL_TEXT = CHUNKS.join('');

/**
 * A server process that can be killed with SIGKILL and started again on the same port and file (or Redis: `file`
 * is then a `redis://` URL, and `prefix` the prefix of its keys, default `atmosphere:`).
 */
export class CrashServer {
  readonly file: string;
  readonly replay: ReplayServer;
  readonly policy: 'continue' | 'close';
  readonly prefix: string | undefined;
  port = 0;
  #child: ChildProcess | undefined;
  #stderr = '';

  private constructor(
    file: string,
    replay: ReplayServer,
    policy: 'continue' | 'close',
    prefix: string | undefined,
  ) {
    this.file = file;
    this.replay = replay;
    this.policy = policy;
    this.prefix = prefix;
  }

  static async start(
    file: string,
    policy: 'continue' | 'close' = 'close',
    prefix?: string,
  ): Promise<CrashServer> {
    const server = new CrashServer(file, await startReplayServer(), policy, prefix);
    await server.restart();
    return server;
  }

  url(path = '/ai'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Queues the replayed provider answer of the next prompt (a chunk every `delayMs`): `chunks`, default all. */
  enqueueAnswer(delayMs = 4, chunks: readonly string[] = CHUNKS): void {
    this.replay.enqueue({
      kind: 'sse',
      body: openAiTranscript({ text: [...chunks], usage: { prompt: 5, completion: chunks.length } }),
      delayMs,
    });
  }

  /** Starts the process (again); resolves with the ms it took to listen. */
  async restart(timeoutMs = 15_000): Promise<number> {
    const started = Date.now();
    const child = spawn(
      process.execPath,
      [
        '--conditions=@atmosphere/source',
        SERVER,
        this.file,
        String(this.port),
        this.replay.baseUrl,
        this.policy,
        ...(this.prefix === undefined ? [] : [this.prefix]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    this.#stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    let output = '';
    const listening = new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /LISTENING (\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      child.once('exit', (code) =>
        reject(new Error(`server exited (${code}) before listening: ${this.#stderr}`)),
      );
    });
    let timer: NodeJS.Timeout | undefined;
    const port = await Promise.race([
      listening,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`server did not listen in ${timeoutMs} ms: ${this.#stderr}`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    this.port = port;
    return Date.now() - started;
  }

  /** SIGKILL: no shutdown hook, no flush, nothing. Resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** What the server wrote to stderr since its last start (warnings, errors). */
  get stderr(): string {
    return this.#stderr;
  }

  async close(): Promise<void> {
    await this.kill();
    await this.replay.close();
  }
}

/** The frames of a run, as the server's SQLite file or Redis holds them (read with a connection of our own). */
export async function framesInLog(
  server: Pick<CrashServer, 'file' | 'prefix'>,
  runId: string,
): Promise<AiFrame[]> {
  const { file } = server;
  let log: StreamLog;
  if (file.startsWith('redis://')) {
    const connection = await connectRedis(await loadIoredis(), file, {
      source: 'the crash harness',
      purpose: 'crash harness',
      timeoutMs: 5_000,
    });
    log = new RedisStreamLog(connection, {
      ...(server.prefix === undefined ? {} : { prefix: server.prefix }),
      onClose: () => closeRedis(connection),
    });
  } else {
    // A connection of our own beside the server's (WAL: it reads what was committed); it writes nothing.
    log = new SqliteStreamLog(openSqliteFile(await loadBetterSqlite3(), file, 'crash harness', 'the test'), {
      ownsDatabase: true,
    });
  }
  try {
    const payloads: string[] = [];
    for (let after = 0; payloads.length < 100_000;) {
      const read = await log.read(`ai-run:${runId}`, after);
      if (read === undefined || read.records.length === 0) break;
      for (const { payload } of read.records)
        payloads.push(typeof payload === 'string' ? payload : new TextDecoder().decode(payload));
      after = read.records.at(-1)!.seq;
    }
    return payloads.map((payload) => parseAiFrame(payload)!);
  } finally {
    await log.close();
  }
}

/** A client (`@atmosphere/client`) following AI answers, recording every frame it accepts. */
export class CrashClient {
  readonly frames = new Inbox<AiFrame>(100_000);
  /** When each accepted frame arrived (`Date.now()`), by its index in `frames.items`. */
  readonly arrivals: number[] = [];
  /** The session frames the client received (one per connection it opened to a new process). */
  readonly sessions = new Inbox<SessionEvent>(100_000);
  /** AI frames as received, duplicates included. */
  readonly wire: AiFrame[] = [];
  readonly handle: StreamingHandle;
  readonly #subscription: Subscription;

  constructor(url: string, transport: 'websocket' | 'sse' | 'long-polling') {
    this.#subscription = new Atmosphere().subscribe(
      {
        url,
        transport,
        fallbackTransport: [],
        reconnectInterval: 20,
        maxReconnectInterval: 100,
        maxReconnectOnClose: 1_000,
      },
      {
        session: (event) => this.sessions.push(event),
        // Every AI frame as it came off the wire, before the client's deduplication.
        message: (message) => {
          const frame = parseAiFrame(message.text);
          if (frame !== undefined) this.wire.push(frame);
        },
      },
    );
    this.handle = subscribeStreaming(this.#subscription, {
      onFrame: (frame) => {
        this.arrivals.push(Date.now());
        this.frames.push(frame);
      },
    });
  }

  /** Frames of one session, in the order accepted. */
  framesOf(sessionId: string): AiFrame[] {
    return this.frames.items.filter((frame) => frame.sessionId === sessionId);
  }

  async close(): Promise<void> {
    await this.handle.close();
    await this.#subscription.close();
  }
}

/** What one kill point gave. */
export interface KillOutcome {
  /** Tokens the client had when the server was killed. */
  readonly killedAfter: number;
  /** The text the client ended with, and the one the log holds. */
  readonly clientText: string;
  readonly logText: string;
  /** How the run ended at the client: `complete`, or the code of its `error` frame. */
  readonly end: string;
  /** Text frames the client had not received when the server died, resent from the log after the restart. */
  readonly resent: number;
  /** The session frame of the restarted process: `resumed` with the client's token, or how it was refused. */
  readonly session: SessionEvent;
  /** Frames the server sent twice on the wire (the client drops them; with `X-Atmosphere-Last-Seq` there are none). */
  readonly wireDuplicated: number;
  /** Frames accepted twice / seqs missing at the client. */
  readonly duplicated: number;
  readonly lost: number;
  /** ms from the new process listening to the first frame it resent; undefined when none was needed. */
  readonly resumeMs: number | undefined;
  readonly restartMs: number;
  /** Policy continue: the text the log held when the server died (the model's partial answer), if cut. */
  readonly continuedFrom: string | undefined;
  /** Policy continue: the body of the request the restarted process sent to the model, if any. */
  readonly continuation: unknown;
}

function textOf(frames: readonly AiFrame[]): string {
  return frames.map((frame) => (frame.type === 'streaming-text' ? frame.data : '')).join('');
}

/**
 * One prompt, a SIGKILL once the client has `killAfter` tokens, a restart on the same port and file, and
 * the client's recovery to the run's end. Returns what the client ended with and what the log holds.
 */
export async function killDuringAnswer(
  server: CrashServer,
  client: CrashClient,
  killAfter: number,
  prompt: string,
): Promise<KillOutcome> {
  server.enqueueAnswer();
  client.handle.send(prompt);
  // Frames of earlier runs were consumed by the waits for their ends.
  const first = await client.frames.waitFor(
    (frame) => frame.type === 'metadata' && frame.key === 'X-Atmosphere-Run-Id',
    10_000,
  );
  const sessionId = first.sessionId;
  const runId = String((first as { value: unknown }).value);
  const tokens = (): number => client.framesOf(sessionId).filter((f) => f.type === 'streaming-text').length;
  await eventually(() => tokens() >= killAfter, `${killAfter} tokens`, 10_000);
  const killedAfter = tokens();
  await server.kill();
  // Policy continue: the restarted process asks the model to go on from the text the log holds; the
  // replayed model answers with the chunks that text lacks, so the whole answer is exactly FULL_TEXT.
  const requestsBefore = server.replay.requests.items.length;
  let continuedFrom: string | undefined;
  if (server.policy === 'continue') {
    const stored = await framesInLog(server, runId);
    const done = stored.some((frame) => frame.type === 'complete' || frame.type === 'error');
    if (!done) {
      const have = stored.filter((frame) => frame.type === 'streaming-text').length;
      continuedFrom = textOf(stored);
      server.enqueueAnswer(4, CHUNKS.slice(have));
    }
  }
  const sessionsBefore = client.sessions.items.length;
  const before = client.frames.items.length;
  const restartMs = await server.restart();
  const listeningAt = Date.now();
  const end = await client.frames.waitFor(
    (frame) => frame.sessionId === sessionId && (frame.type === 'complete' || frame.type === 'error'),
    15_000,
  );
  // The first frame accepted from the new process; it may come before the parent reads the LISTENING line.
  const firstArrival = client.arrivals[before];
  const resumed = firstArrival === undefined ? undefined : Math.max(0, firstArrival - listeningAt);
  await eventually(
    () => client.sessions.items.length > sessionsBefore,
    'the session frame of the new process',
    10_000,
  );
  const session = client.sessions.items[sessionsBefore]!;
  const continuation = continuedFrom === undefined ? undefined : server.replay.requests.items[requestsBefore];
  const frames = client.framesOf(sessionId);
  const seqs = frames.map((frame) => frame.seq);
  const distinct = new Set(seqs);
  const max = Math.max(...seqs);
  return {
    killedAfter,
    resent: tokens() - killedAfter,
    session,
    clientText: textOf(frames),
    logText: textOf(await framesInLog(server, runId)),
    end: end.type === 'error' ? String((end as { code?: unknown }).code) : end.type,
    duplicated: seqs.length - distinct.size,
    wireDuplicated: client.wire.filter((f) => f.sessionId === sessionId).length - distinct.size,
    lost: max - distinct.size,
    resumeMs: resumed,
    restartMs,
    continuedFrom,
    continuation: continuation?.body,
  };
}
