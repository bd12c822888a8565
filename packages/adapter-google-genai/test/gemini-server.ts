import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inbox } from '@atmosphere/runtime/testing';

/** One scripted answer: an SSE stream (raw bytes as the API sends them) or a plain HTTP answer. */
export type GeminiStep =
  | {
      readonly kind: 'sse';
      readonly body: string;
      /** Bytes per write (cuts events, lines and JSON across TCP chunks); default one write per event. */
      readonly chunkBytes?: number;
      /** Stop after this many writes until `release()`. */
      readonly pauseAfter?: number;
    }
  | { readonly kind: 'http'; readonly status: number; readonly body: string };

/** A request the server received: the path (with the model and method) and the JSON body. */
export interface GeminiRequest {
  readonly path: string;
  readonly apiKey: string | undefined;
  readonly body: Record<string, unknown>;
}

/** A local server speaking the Gemini API's REST/SSE wire format from a script. */
export interface GeminiServer {
  /** The `httpOptions.baseUrl` to give the SDK. */
  readonly baseUrl: string;
  readonly requests: Inbox<GeminiRequest>;
  /** Index of each request whose client went away before its answer ended. */
  readonly aborts: Inbox<number>;
  enqueue(...steps: GeminiStep[]): void;
  release(): void;
  close(): Promise<void>;
}

/** A recorded transcript from `test/__fixtures__`. */
export function fixture(name: string): string {
  return readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');
}

/** The SSE events of a body, each with its `\r\n\r\n` terminator (Gemini ends events with CRLF pairs). */
function events(body: string): string[] {
  return body
    .replace(/\r\n/g, '\n')
    .split('\n\n')
    .filter((part) => part.trim() !== '')
    .map((part) => `${part.replace(/\n/g, '\r\n')}\r\n\r\n`);
}

function writes(step: Extract<GeminiStep, { kind: 'sse' }>): (string | Buffer)[] {
  const all = events(step.body);
  if (step.chunkBytes === undefined) return all;
  const bytes = Buffer.from(all.join(''), 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += step.chunkBytes) parts.push(bytes.subarray(i, i + step.chunkBytes));
  return parts;
}

/** Starts the server on 127.0.0.1 and a free port. */
export async function startGeminiServer(): Promise<GeminiServer> {
  const script: GeminiStep[] = [];
  const requests = new Inbox<GeminiRequest>(1_000);
  const aborts = new Inbox<number>(1_000);
  let waiting: (() => void)[] = [];
  let count = 0;

  const answer = async (step: GeminiStep, response: ServerResponse): Promise<void> => {
    if (step.kind === 'http') {
      response.writeHead(step.status, { 'Content-Type': 'application/json; charset=UTF-8' });
      response.end(step.body);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    response.flushHeaders();
    const parts = writes(step);
    for (let i = 0; i < parts.length; i++) {
      if (step.pauseAfter !== undefined && i === step.pauseAfter)
        await new Promise<void>((resolve) => waiting.push(resolve));
      if (response.destroyed) return;
      response.write(parts[i]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    response.end();
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const index = count++;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = {};
      }
      const key = request.headers['x-goog-api-key'];
      requests.push({ path: request.url ?? '/', apiKey: typeof key === 'string' ? key : undefined, body });
      let finished = false;
      response.on('finish', () => (finished = true));
      response.on('close', () => {
        if (!finished) aborts.push(index);
      });
      const step = request.url?.includes(':streamGenerateContent') ? script.shift() : undefined;
      if (step === undefined) {
        response.writeHead(404, { 'Content-Type': 'application/json' });
        response.end(
          JSON.stringify({ error: { code: 404, message: 'no scripted answer', status: 'NOT_FOUND' } }),
        );
        return;
      }
      void answer(step, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    aborts,
    enqueue: (...steps) => void script.push(...steps),
    release() {
      const all = waiting;
      waiting = [];
      for (const resolve of all) resolve();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
