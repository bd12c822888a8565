import { Agent, type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { FrameParser, SseParser } from '../lib/framing.ts';
import { atmosphereUrl } from './atmosphere-ws.ts';
import type { ClientConnection, ConnectTarget, Connector } from './connector.ts';

/** One keep-alive agent per client process: polls reuse their sockets, as a browser's would. */
export const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100_000 });

function get(
  url: string,
  target: ConnectTarget,
  headers: Record<string, string> = {},
): { request: ClientRequest; response: Promise<IncomingMessage> } {
  const request = httpRequest(url, {
    agent,
    headers,
    ...(target.localAddress ? { localAddress: target.localAddress } : {}),
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  request.end();
  return { request, response };
}

/** Reads an open response as text chunks until it ends; resolves when it does. */
function readStream(response: IncomingMessage, onChunk: (text: string) => void): Promise<void> {
  response.setEncoding('utf8');
  response.on('data', onChunk);
  return new Promise((resolve) => {
    response.once('end', resolve);
    response.once('close', resolve);
    response.once('error', () => resolve());
  });
}

/**
 * An Atmosphere SSE client: `X-Atmosphere-Transport=sse` with the handshake and length framing; `data:`
 * lines hold framed messages (`data:64|{…}`).
 */
export const atmosphereSse: Connector = async (target, sink, onClose) => {
  const { request, response } = get(atmosphereUrl(target.origin, 'sse'), target, {
    Accept: 'text/event-stream',
  });
  const res = await response;
  if (res.statusCode !== 200) throw new Error(`sse refused: ${res.statusCode}`);
  const sse = new SseParser();
  const frames = new FrameParser();
  let trackingId: string | undefined;
  let leaving = false;
  let handshake!: () => void;
  const ready = new Promise<void>((resolve) => (handshake = resolve));
  const onMessage = (message: string): void => {
    if (trackingId === undefined) {
      trackingId = message.slice(0, message.indexOf('|'));
      handshake();
    } else if (message !== 'X') sink(message);
  };
  void readStream(res, (chunk) => sse.push(chunk, (data) => frames.push(data, onMessage))).then(() => {
    if (!leaving) onClose();
  });
  await ready;
  return {
    close() {
      leaving = true;
      request.destroy();
    },
    cut() {
      leaving = true;
      request.destroy();
    },
    resumeToken: (received) => ({ trackingId: trackingId ?? '0', received }),
  };
};

/** The raw SSE peer: `GET /sse`, one `data:` event per message. */
export const rawSse: Connector = async (target, sink, onClose) => {
  const { request, response } = get(`${target.origin}/sse`, target, { Accept: 'text/event-stream' });
  const res = await response;
  if (res.statusCode !== 200) throw new Error(`sse refused: ${res.statusCode}`);
  const sse = new SseParser();
  let leaving = false;
  void readStream(res, (chunk) => sse.push(chunk, sink)).then(() => {
    if (!leaving) onClose();
  });
  return {
    close() {
      leaving = true;
      request.destroy();
    },
    cut() {
      leaving = true;
      request.destroy();
    },
    resumeToken: (received) => ({ received }),
  };
};

/** Reads a whole response body as text. */
async function body(response: IncomingMessage): Promise<string> {
  let text = '';
  await readStream(response, (chunk) => (text += chunk));
  return text;
}

/**
 * A polling loop shared by the long-polling clients: `poll()` answers one request; the loop re-polls at
 * once after each answer until closed. Resolves once the first poll (the handshake) is answered.
 */
async function pollLoop(
  first: () => Promise<void>,
  poll: () => Promise<void>,
  onClose: () => void,
): Promise<ClientConnection & { stop(): void }> {
  await first();
  let stopped = false;
  void (async () => {
    while (!stopped) {
      try {
        await poll();
      } catch {
        if (!stopped) onClose();
        return;
      }
    }
  })();
  const stop = (): void => {
    stopped = true;
  };
  return { stop, close: stop, cut: stop, resumeToken: (received) => ({ received }) };
}

/**
 * An Atmosphere long-polling client: the first poll (tracking id 0) is answered with the handshake; each
 * next poll carries the tracking id and `X-Atmosphere-Received`, and its body (after the padding) holds
 * the framed messages queued since the previous poll.
 */
export const atmosphereLongPolling: Connector = async (target, sink, onClose) => {
  let trackingId: string | undefined;
  let received = 0;
  const frames = new FrameParser();
  let current: ClientRequest | undefined;
  const onMessage = (message: string): void => {
    if (trackingId === undefined) {
      trackingId = message.slice(0, message.indexOf('|'));
      return;
    }
    if (message === 'X') return;
    received++;
    sink(message);
  };
  const poll = async (): Promise<void> => {
    const url = atmosphereUrl(
      target.origin,
      'long-polling',
      trackingId ?? '0',
      trackingId === undefined ? undefined : received,
    );
    const { request, response } = get(url, target);
    current = request;
    const res = await response;
    if (res.statusCode !== 200) throw new Error(`long-poll refused: ${res.statusCode}`);
    frames.push(await body(res), onMessage);
  };
  const loop = await pollLoop(
    async () => {
      await poll();
      if (trackingId === undefined) throw new Error('no handshake in the first long-poll response');
    },
    poll,
    onClose,
  );
  const end = (): void => {
    loop.stop();
    current?.destroy();
  };
  return {
    close: end,
    cut: end,
    resumeToken: (count) => ({ trackingId: trackingId ?? '0', received: count }),
  };
};

/** The raw long-polling peer: `GET /poll?since=<n>`; each answer holds the messages after n, one per line. */
export const rawLongPolling: Connector = async (target, sink, onClose) => {
  let since = 0;
  let current: ClientRequest | undefined;
  const poll = async (): Promise<void> => {
    const { request, response } = get(`${target.origin}/poll?since=${since}`, target);
    current = request;
    const res = await response;
    const text = await body(res);
    since = Number(res.headers['x-seq']);
    if (text.length > 0) for (const line of text.split('\n')) sink(line);
  };
  // The first request only learns the current position.
  const loop = await pollLoop(
    async () => {
      const { response } = get(`${target.origin}/poll?hello=1`, target);
      const res = await response;
      await body(res);
      since = Number(res.headers['x-seq']);
    },
    poll,
    onClose,
  );
  const end = (): void => {
    loop.stop();
    current?.destroy();
  };
  return { close: end, cut: end, resumeToken: (received) => ({ received }) };
};
