import { createServer, type ServerResponse } from 'node:http';
import type { ServerTarget } from './target.ts';

/** How many recent messages the raw long-poll server keeps for clients between two polls. */
const HISTORY = 4096;

/**
 * The practical ceiling for the HTTP transports, on bare node:http:
 * - `GET /sse`: `text/event-stream`; a broadcast writes one prepared `data:<payload>\n\n` buffer to every
 *   open response.
 * - `GET /poll?hello`: answers at once with the current position (header `X-Seq`).
 * - `GET /poll?since=<seq>`: answers at once with the messages after `since` (newline-separated), or parks
 *   the request until the next broadcast; parked polls are answered on the next turn, so broadcasts of the
 *   same turn share a response, and polls waiting on the same `since` share one body.
 */
export async function startRawHttp(): Promise<ServerTarget> {
  const streams = new Set<ServerResponse>();
  const parked = new Map<ServerResponse, number>();
  const history: string[] = [];
  let lastSeq = 0;
  let flushScheduled = false;

  const bodyAfter = (since: number): string => {
    const from = Math.max(since, lastSeq - history.length);
    return history.slice(from - (lastSeq - history.length)).join('\n');
  };
  const answer = (response: ServerResponse, body: string): void => {
    response.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Seq': String(lastSeq),
    });
    response.end(body);
  };
  const flush = (): void => {
    flushScheduled = false;
    const bodies = new Map<number, string>();
    for (const [response, since] of parked) {
      let body = bodies.get(since);
      if (body === undefined) bodies.set(since, (body = bodyAfter(since)));
      answer(response, body);
    }
    parked.clear();
  };

  const server = createServer((request, response) => {
    const url = request.url ?? '/';
    if (url.startsWith('/sse')) {
      response.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
      });
      response.write(':ok\n\n');
      streams.add(response);
      response.on('close', () => streams.delete(response));
      return;
    }
    if (url.startsWith('/poll')) {
      if (url.includes('hello')) {
        // A client's first request: where the stream is now.
        answer(response, '');
        return;
      }
      const query = url.indexOf('since=');
      const since = query === -1 ? lastSeq : Math.min(lastSeq, Number(url.slice(query + 6)) || 0);
      if (since < lastSeq) {
        answer(response, bodyAfter(since));
        return;
      }
      parked.set(response, since);
      response.on('close', () => parked.delete(response));
      return;
    }
    response.writeHead(404).end();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('raw http server has no port');
  return {
    port: address.port,
    connections: () => streams.size + parked.size,
    broadcast(payload) {
      lastSeq++;
      history.push(payload);
      if (history.length > HISTORY) history.shift();
      if (streams.size > 0) {
        const chunk = Buffer.from(`data:${payload}\n\n`);
        for (const response of streams) response.write(chunk);
      }
      if (parked.size > 0 && !flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    },
    async close() {
      for (const response of streams) response.end();
      for (const response of parked.keys()) response.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
