import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inbox } from '@atmosphere/runtime/testing';

/** One scripted answer of the replay server. */
export type ReplayStep =
  | {
      /** A streamed answer: `body` is the raw `text/event-stream` text, exactly as a provider sends it. */
      readonly kind: 'sse';
      readonly body: string;
      readonly status?: number;
      readonly headers?: Readonly<Record<string, string>>;
      /**
       * How the body is cut into writes: `event` (one write per SSE event, the default) or a number of bytes
       * per write (splits events, lines and UTF-8 sequences across TCP chunks).
       */
      readonly chunking?: 'event' | number;
      /** Pause between writes. Default 0 (a macrotask between writes, so they are separate chunks). */
      readonly delayMs?: number;
      /** Stop after this many writes until `release()` is called. */
      readonly pauseAfter?: number;
      /** How the response ends after the body: `end` (default) or `destroy` (the connection is reset). */
      readonly end?: 'end' | 'destroy';
    }
  | {
      /** A plain HTTP answer (an error: 429, 500, 401…). */
      readonly kind: 'http';
      readonly status: number;
      readonly headers?: Readonly<Record<string, string>>;
      readonly body: string;
    };

/** A request the replay server received. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  /** The parsed JSON body (undefined when it was not JSON). */
  readonly body: Record<string, unknown> | undefined;
}

/**
 * A local HTTP server that speaks the OpenAI chat-completions wire format by replaying transcripts: each
 * `POST …/chat/completions` takes the next scripted step. It records every request and every request the
 * client abandoned before its answer ended (`aborts`), so tests can prove that cancellation reaches upstream.
 */
export interface ReplayServer {
  /** The base URL to configure as `baseUrl` / `LLM_BASE_URL` (ends with `/v1`). */
  readonly baseUrl: string;
  readonly requests: Inbox<RecordedRequest>;
  /** One entry (the request's index, from 0) per request whose client went away before the answer ended. */
  readonly aborts: Inbox<number>;
  /** Appends steps to the script. */
  enqueue(...steps: ReplayStep[]): void;
  /** Steps not yet used. */
  readonly remaining: number;
  /** Lets paused answers (`pauseAfter`) go on. */
  release(): void;
  close(): Promise<void>;
}

/** Splits an SSE body into its events (each with its trailing blank line). */
export function sseEvents(body: string): string[] {
  const normalized = body.replace(/\r\n/g, '\n');
  return normalized
    .split(/\n\n/)
    .filter((part) => part.trim() !== '')
    .map((part) => `${part}\n\n`);
}

/** Starts a replay server on 127.0.0.1 and a free port. */
export async function startReplayServer(steps: readonly ReplayStep[] = []): Promise<ReplayServer> {
  const script: ReplayStep[] = [...steps];
  const requests = new Inbox<RecordedRequest>(10_000);
  const aborts = new Inbox<number>(10_000);
  let releases: (() => void)[] = [];
  let count = 0;
  const server: Server = createServer((request, response) => {
    const index = count++;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body: Record<string, unknown> | undefined;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      requests.push({
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers: request.headers,
        body,
      });
      let finished = false;
      response.on('finish', () => (finished = true));
      response.on('close', () => {
        if (!finished) aborts.push(index);
      });
      const step =
        request.method === 'POST' && request.url?.endsWith('/chat/completions') ? script.shift() : undefined;
      if (!step) {
        const status = request.method === 'GET' && request.url?.endsWith('/models') ? 200 : 500;
        response.writeHead(status, { 'Content-Type': 'application/json' });
        response.end(
          status === 200
            ? '{"object":"list","data":[]}'
            : '{"error":{"message":"The replay script has no step left for this request.","type":"replay_error"}}',
        );
        return;
      }
      void play(step, response, (resolve) => releases.push(resolve));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    aborts,
    enqueue: (...more) => void script.push(...more),
    get remaining() {
      return script.length;
    },
    release() {
      const waiting = releases;
      releases = [];
      for (const resolve of waiting) resolve();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function play(
  step: ReplayStep,
  response: ServerResponse,
  pause: (resolve: () => void) => void,
): Promise<void> {
  if (step.kind === 'http') {
    response.writeHead(step.status, { 'Content-Type': 'application/json', ...step.headers });
    response.end(step.body);
    return;
  }
  response.writeHead(step.status ?? 200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    ...step.headers,
  });
  response.flushHeaders();
  const writes: (string | Buffer)[] =
    step.chunking === undefined || step.chunking === 'event'
      ? sseEvents(step.body)
      : split(step.body, step.chunking);
  for (let i = 0; i < writes.length; i++) {
    if (response.destroyed) return;
    if (step.pauseAfter !== undefined && i === step.pauseAfter)
      await new Promise<void>((resolve) => pause(resolve));
    if (response.destroyed) return;
    response.write(writes[i]);
    await new Promise((resolve) =>
      step.delayMs ? setTimeout(resolve, step.delayMs) : setImmediate(resolve),
    );
  }
  if (step.end === 'destroy') response.socket?.destroy();
  else response.end();
}

function split(text: string, size: number): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += Math.max(1, size)) parts.push(bytes.subarray(i, i + size));
  return parts;
}
