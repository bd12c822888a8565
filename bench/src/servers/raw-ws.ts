import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import * as wsModule from 'ws';
import { type WebSocket, WebSocketServer } from 'ws';

/** ws's frame builder (exported by the package, absent from its type definitions). */
const { Sender } = wsModule as unknown as {
  Sender: {
    frame(
      data: Buffer,
      options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
    ): Buffer[];
  };
};
import { randomUUID } from 'node:crypto';
import { listenAsConfigured, type ServerConfig, type ServerTarget, type TokenStream } from './target.ts';
import { emitTokens } from './tokens.ts';

/**
 * A bare `ws` server on node:http. Broadcast is `for (const client of clients) client.send(payload)`, or — as
 * `ws-frame-once`, the fastest practical server — the WebSocket frame is built once per broadcast
 * (`Sender.frame`) and the same bytes are written to every socket. Heartbeats are the usual ping sweep that
 * terminates a client which did not answer the previous ping.
 */
export async function startRawWs(config: ServerConfig): Promise<ServerTarget> {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
  const clients = new Set<WebSocket>();
  const silent = new Set<WebSocket>();
  const history: string[] = [];
  let lastSeq = 0;
  const keep = config.replay ?? 0;
  const frameOnce = config.impl === 'ws-frame-once';
  wss.on('connection', (ws, request) => {
    clients.add(ws);
    if (keep > 0) {
      // The application's own replay: what the client missed since the count it reports.
      const match = /[?&]since=(\d+)/.exec(request.url ?? '');
      if (match) {
        const since = Math.max(Number(match[1]), lastSeq - history.length);
        for (let i = since - (lastSeq - history.length); i < history.length; i++) ws.send(history[i]!);
      }
    }
    ws.on('pong', () => silent.delete(ws));
    ws.on('close', () => {
      clients.delete(ws);
      silent.delete(ws);
    });
    ws.on('error', () => undefined);
  });
  let sweep: NodeJS.Timeout | undefined;
  if (config.heartbeatMs > 0) {
    sweep = setInterval(() => {
      for (const ws of clients) {
        if (silent.has(ws)) {
          ws.terminate();
          continue;
        }
        silent.add(ws);
        ws.ping();
      }
    }, config.heartbeatMs);
  }
  const port = await listenAsConfigured(server, config);
  return {
    port,
    connections: () => clients.size,
    broadcast(payload) {
      if (keep > 0) {
        lastSeq++;
        history.push(payload);
        if (history.length > keep) history.shift();
      }
      if (frameOnce) {
        const frame = Buffer.concat(
          Sender.frame(Buffer.from(payload), {
            fin: true,
            opcode: 1,
            mask: false,
            readOnly: false,
            rsv1: false,
          }),
        );
        for (const client of clients) socketOf(client).write(frame);
      } else for (const client of clients) client.send(payload);
    },
    async stream(stream: TokenStream) {
      // The same JSON frames StreamingSession writes (PROTOCOL.md §7), sent straight to the socket.
      const client = clients.values().next().value;
      if (!client) throw new Error('no connected client to stream to');
      const sessionId = randomUUID();
      let seq = 0;
      return emitTokens(stream, (text) => {
        client.send(
          `{"type":"streaming-text","data":${JSON.stringify(text)},"sessionId":"${sessionId}","seq":${++seq}}`,
        );
        return seq;
      });
    },
    async close() {
      if (sweep) clearInterval(sweep);
      for (const ws of clients) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The socket under a `ws` connection (frames written to it directly: no compression on this server). */
function socketOf(ws: WebSocket): Duplex {
  return (ws as unknown as { _socket: Duplex })._socket;
}
