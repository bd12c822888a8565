import { createServer } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import { randomUUID } from 'node:crypto';
import { listenAsConfigured, type ServerConfig, type ServerTarget, type TokenStream } from './target.ts';
import { emitTokens } from './tokens.ts';

/**
 * The practical ceiling: a bare `ws` server on node:http. Broadcast is
 * `for (const client of clients) client.send(payload)`; heartbeats are the usual ping sweep that terminates
 * a client which did not answer the previous ping.
 */
export async function startRawWs(config: ServerConfig): Promise<ServerTarget> {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
  const clients = new Set<WebSocket>();
  const silent = new Set<WebSocket>();
  const history: string[] = [];
  let lastSeq = 0;
  const keep = config.replay ?? 0;
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
      for (const client of clients) client.send(payload);
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
