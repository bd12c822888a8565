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
  const closeAdapter = await useAdapter(io, config);
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
      closeAdapter();
    },
  };
}

/** With `socketIoAdapter`, the Redis adapter the Socket.IO documentation shows, on ioredis; returns its closer. */
async function useAdapter(io: Server, config: ServerConfig): Promise<() => void> {
  const adapter = config.socketIoAdapter;
  if (adapter === undefined) return () => undefined;
  const { Redis } = await import('ioredis');
  if (adapter.kind === 'redis') {
    const { createAdapter } = await import('@socket.io/redis-adapter');
    const pub = new Redis(adapter.url);
    const sub = pub.duplicate();
    io.adapter(createAdapter(pub, sub, { key: adapter.key }));
    return () => {
      pub.disconnect();
      sub.disconnect();
    };
  }
  const { createAdapter } = await import('@socket.io/redis-streams-adapter');
  const client = new Redis(adapter.url);
  io.adapter(createAdapter(client, { streamName: adapter.key }));
  return () => client.disconnect();
}
