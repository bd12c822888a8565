import { get as httpGet, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { FrameReader, Inbox } from '../src/testing/index.ts';

/** A client over raw sockets whose reading the test stops and starts (a slow consumer on demand). */
export interface StallableClient {
  readonly frames: Inbox<string>;
  /** Stops reading its socket: what the server writes piles up in the kernel's buffers, then in its queue. */
  stall(): void;
  resume(): void;
  close(): void;
}

/**
 * Connects to `url` (a protocol URL, see `protocolUrl`) over websocket, SSE or streaming with raw sockets and
 * reads its frames into an inbox, until `stall()`.
 */
export async function stallableClient(
  url: string,
  transport: 'websocket' | 'sse' | 'streaming',
): Promise<StallableClient> {
  const reader = new FrameReader();
  const frames = new Inbox<string>();
  const feed = (text: string): void => {
    for (const message of reader.push(text)) frames.push(message);
  };
  if (transport === 'websocket') {
    const ws = new WebSocket(url);
    ws.on('message', (data: Buffer) => feed(data.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const socket = (ws as unknown as { _socket: Socket })._socket;
    return {
      frames,
      stall: () => socket.pause(),
      resume: () => socket.resume(),
      close: () => ws.terminate(),
    };
  }
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const request = httpGet(url, transport === 'sse' ? { headers: { Accept: 'text/event-stream' } } : {});
    request.once('response', resolve);
    request.once('error', reject);
  });
  response.setEncoding('utf8');
  let sse = '';
  response.on('data', (chunk: string) => {
    if (transport === 'streaming') return feed(chunk);
    sse += chunk;
    let end: number;
    // Events end with a blank line; the `data:` lines of one event join with \n.
    while ((end = sse.search(/\r?\n\r?\n/)) !== -1) {
      const data = sse
        .slice(0, end)
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''));
      sse = sse.slice(end + (sse[end] === '\r' ? 4 : 2));
      if (data.length > 0) feed(data.join('\n'));
    }
  });
  return {
    frames,
    stall: () => response.pause(),
    resume: () => response.resume(),
    close: () => response.destroy(),
  };
}
