import { io, type Socket } from 'socket.io-client';
import type { ClientConnection, Connector } from './connector.ts';
import { agent } from './http-clients.ts';

/**
 * A Socket.IO client on one transport (`websocket`, or `polling` for the long-polling comparison). Each
 * client has its own connection (`forceNew`); automatic reconnection is off so a cut stays cut until the
 * scenario reconnects it (with `resume`: the same socket object, so connection state recovery applies).
 */
function socketIo(transport: 'websocket' | 'polling'): Connector {
  return (target, sink, onClose) =>
    new Promise<ClientConnection>((resolve, reject) => {
      const socket: Socket = io(target.origin, {
        transports: [transport],
        forceNew: true,
        reconnection: false,
        // Polls reuse keep-alive connections, like a browser's and like the other HTTP clients here (the
        // Node XHR polyfill would otherwise open a new connection for every poll).
        ...(transport === 'polling' ? { agent } : {}),
        ...(target.localAddress ? { localAddress: target.localAddress } : {}),
        // The client's option types describe the browser (`agent: string | boolean`); in Node, engine.io-client
        // hands `agent` and `localAddress` to the http and ws modules.
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
}

export const socketIoWs = socketIo('websocket');
export const socketIoPolling = socketIo('polling');
