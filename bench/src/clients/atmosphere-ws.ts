import { WebSocket } from 'ws';
import { FrameParser } from '../lib/framing.ts';
import { BENCH_PATH } from '../servers/target.ts';
import type { ClientConnection, Connector } from './connector.ts';

/** The protocol parameters of an Atmosphere client (atmosphere.js 5 sends the same). */
export function atmosphereUrl(
  origin: string,
  transport: string,
  trackingId = '0',
  received?: number,
  session?: string,
): string {
  let url =
    `${origin}${BENCH_PATH}?X-Atmosphere-tracking-id=${trackingId}&X-Atmosphere-Framework=5.0.7` +
    `&X-Atmosphere-Transport=${transport}&X-Atmosphere-TrackMessageSize=true&X-atmo-protocol=true`;
  if (received !== undefined) url += `&X-Atmosphere-Received=${received}`;
  if (session !== undefined) url += `&X-Atmosphere-Session-Token=${encodeURIComponent(session)}`;
  return url;
}

/** The start of the session frame, the first message after the handshake of a client that asked for a session. */
const SESSION_FRAME = '{"type":"atmosphere-session"';

/**
 * An Atmosphere client over WebSocket: tracking id 0, `X-atmo-protocol`, `TrackMessageSize`; it reads the
 * handshake (`<len>|<uuid>|<hb>|X|`), parses `len|msg` framing and drops heartbeats (`X`). With
 * `target.session`, it asks for a new session and is open once the session frame has arrived (a refused or
 * missing session fails the connection).
 */
export const atmosphereWs: Connector = (target, sink, onClose) =>
  new Promise<ClientConnection>((resolve, reject) => {
    const resume = target.resume;
    const url = atmosphereUrl(
      target.origin.replace('http:', 'ws:'),
      'websocket',
      resume?.trackingId ?? '0',
      resume?.received,
      target.session ? '0' : undefined,
    );
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    });
    const parser = new FrameParser();
    let trackingId = resume?.trackingId;
    let awaitingSession = target.session === true;
    let settled = false;
    let leaving = false;
    const connection: ClientConnection = {
      close() {
        leaving = true;
        ws.close(1000);
      },
      cut() {
        leaving = true;
        ws.terminate();
      },
      resumeToken: (received) => ({ trackingId: trackingId ?? '0', received }),
    };
    const onMessage = (message: string): void => {
      if (trackingId === undefined) {
        trackingId = message.slice(0, message.indexOf('|'));
        if (!awaitingSession) {
          settled = true;
          resolve(connection);
        }
        return;
      }
      if (awaitingSession && message !== 'X') {
        awaitingSession = false;
        settled = true;
        if (message.startsWith(SESSION_FRAME) && !message.includes('"refused"')) resolve(connection);
        else {
          leaving = true;
          ws.terminate();
          reject(new Error(`no session: ${message.slice(0, 200)}`));
        }
        return;
      }
      if (message !== 'X') sink(message);
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) parser.push(data.toString('utf8'), onMessage);
    });
    ws.on('open', () => {
      // A reconnect carries its tracking id: no second handshake.
      if (resume?.trackingId !== undefined && !awaitingSession) {
        settled = true;
        resolve(connection);
      }
    });
    ws.on('error', (error) => {
      if (!settled) {
        settled = true;
        reject(error);
      }
    });
    ws.on('close', () => {
      if (!settled) {
        settled = true;
        reject(new Error('closed before the handshake'));
      } else if (!leaving) onClose();
    });
  });
