import { WebSocket } from 'ws';
import type { ClientConnection, Connector } from './connector.ts';

/** A bare `ws` client: every text frame is a message. `resume` reconnects with `?since=<received>`. */
export const rawWs: Connector = (target, sink, onClose) =>
  new Promise<ClientConnection>((resolve, reject) => {
    const since = target.resume ? `?since=${target.resume.received}` : '';
    const ws = new WebSocket(`${target.origin.replace('http:', 'ws:')}/${since}`, {
      perMessageDeflate: false,
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    });
    let settled = false;
    let leaving = false;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) sink(data.toString('utf8'));
    });
    ws.on('open', () => {
      settled = true;
      resolve({
        close() {
          leaving = true;
          ws.close(1000);
        },
        cut() {
          leaving = true;
          ws.terminate();
        },
        resumeToken: (received) => ({ received }),
      });
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
        reject(new Error('closed before open'));
      } else if (!leaving) onClose();
    });
  });
