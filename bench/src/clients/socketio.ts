import { io, type Socket } from 'socket.io-client';
import type { ClientConnection, Connector } from './connector.ts';

/**
 * The official Socket.IO client over WebSocket. Each client has its own connection (`forceNew`); automatic
 * reconnection is off so a cut stays cut until the scenario reconnects it (with `resume`: the same socket
 * object, so connection state recovery applies). The long-polling comparison speaks Engine.IO on the lean
 * HTTP client instead (`socketIoPolling` in http-clients.ts).
 */
export const socketIoWs: Connector = (target, sink, onClose) =>
  new Promise<ClientConnection>((resolve, reject) => {
    const socket: Socket = io(target.origin, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
      // The client's option types describe the browser; in Node, engine.io-client hands `localAddress` to
      // the ws module.
    } as unknown as Parameters<typeof io>[1]);
    let settled = false;
    let leaving = false;
    socket.on('m', (text: string) => sink(text));
    socket.once('connect', () => {
      settled = true;
      resolve({
        close() {
          leaving = true;
          socket.disconnect();
        },
        cut() {
          leaving = true;
          // Close the transport under the socket: the server sees "transport close" (recoverable).
          socket.io.engine.close();
        },
        resumeToken: (received) => ({ received }),
        reconnect: () =>
          new Promise<void>((done, fail) => {
            leaving = false;
            socket.once('connect', () => done());
            socket.once('connect_error', (error) => fail(error));
            socket.connect();
          }),
        recovered: () => socket.recovered,
      });
    });
    socket.once('connect_error', (error) => {
      if (!settled) {
        settled = true;
        socket.close();
        reject(error);
      }
    });
    socket.on('disconnect', () => {
      if (settled && !leaving) onClose();
    });
  });
