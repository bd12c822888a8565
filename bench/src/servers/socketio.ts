import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { listenAsConfigured, type ServerConfig, type ServerTarget } from './target.ts';

/**
 * Socket.IO as users would pick it instead: `io.emit('m', payload)` to everyone. Heartbeats are its own
 * ping/pong (`pingInterval`); with `recovery`, its connection state recovery stores every broadcast packet
 * so a client that reconnects gets what it missed.
 */
export async function startSocketIo(config: ServerConfig): Promise<ServerTarget> {
  const server = createServer();
  const io = new Server(server, {
    serveClient: false,
    perMessageDeflate: false,
    httpCompression: false,
    transports: config.transports ?? ['polling', 'websocket'],
    pingInterval: config.heartbeatMs > 0 ? config.heartbeatMs : 3_600_000,
    pingTimeout: 20_000,
    ...(config.recovery
      ? { connectionStateRecovery: { maxDisconnectionDuration: 60_000, skipMiddlewares: true } }
      : {}),
  });
  const port = await listenAsConfigured(server, config);
  return {
    port,
    connections: () => io.engine.clientsCount,
    broadcast(payload) {
      io.emit('m', payload);
    },
    async close() {
      io.disconnectSockets(true);
      await io.close();
    },
  };
}
