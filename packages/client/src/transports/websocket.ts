import { AtmosphereClientError } from '../errors.ts';
import { networkError } from './errors.ts';
import type { TransportConnection, TransportContext, TransportEvents } from './transport.ts';

/** True when the platform has a WebSocket (browsers, Node >= 22). */
export function hasWebSocket(): boolean {
  return typeof globalThis.WebSocket === 'function';
}

/**
 * The WebSocket transport: the protocol parameters (and the request's headers) go in the query string;
 * each text frame carries framed messages, binary frames go to the application as they are.
 * Close codes ≥ 4000 are the server's application errors (e.g. 4401 unauthorized).
 */
export function openWebSocket(context: TransportContext, events: TransportEvents): TransportConnection {
  let done = false;
  let opened = false;
  const ws = new WebSocket(context.connectUrl('websocket', true));
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => {
    if (done) return;
    opened = true;
    events.opened(undefined);
  };
  ws.onmessage = (event: MessageEvent<unknown>) => {
    if (done) return;
    const data = event.data;
    if (typeof data === 'string') events.text(data);
    else if (data instanceof ArrayBuffer) events.binary(data);
  };
  ws.onclose = (event: CloseEvent) => {
    if (done) return;
    done = true;
    if (!opened) {
      events.ended(
        networkError(
          'websocket',
          false,
          new Error(`closed with code ${event.code}${event.reason ? ` ${event.reason}` : ''}`),
        ),
      );
    } else if (event.code >= 4000) {
      events.ended(
        new AtmosphereClientError(
          'SERVER_ERROR',
          `The server closed the WebSocket with code ${event.code}${event.reason ? `: ${event.reason}` : ''}.`,
          {
            status: event.code,
          },
        ),
      );
    } else {
      events.ended(
        networkError(
          'websocket',
          true,
          new Error(`closed with code ${event.code}${event.reason ? ` ${event.reason}` : ''}`),
        ),
      );
    }
  };
  // An error is always followed by a close event, which reports it.
  ws.onerror = null;
  return {
    name: 'websocket',
    send(data) {
      ws.send(data);
    },
    close(code = 1000) {
      if (done) return;
      done = true;
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close(code);
      } catch {
        ws.close();
      }
    },
  };
}
