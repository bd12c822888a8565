import { Agent, type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { FrameParser, SseParser } from '../lib/framing.ts';
import { LeanHttpConnection } from '../lib/lean-http.ts';
import { atmosphereUrl } from './atmosphere-ws.ts';
import type { ClientConnection, ConnectTarget, Connector } from './connector.ts';

/** One keep-alive agent per client process for the SSE clients. */
const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100_000 });

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
 * An Atmosphere long-polling client on the lean HTTP client: the first poll (tracking id 0) is answered
 * with the handshake; each next poll carries the tracking id and `X-Atmosphere-Received`, and its body
 * (after the padding) holds the framed messages queued since the previous poll.
 */
export const atmosphereLongPolling: Connector = async (target, sink, onClose) => {
  const connection = new LeanHttpConnection(target.origin, target.localAddress);
  const path = new URL(atmosphereUrl(target.origin, 'long-polling')).pathname;
  let trackingId: string | undefined = target.resume?.trackingId;
  let received = target.resume?.received ?? 0;
  const frames = new FrameParser();
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
    const url = new URL(
      atmosphereUrl(
        target.origin,
        'long-polling',
        trackingId ?? '0',
        trackingId === undefined ? undefined : received,
      ),
    );
    const response = await connection.get(`${path}${url.search}`);
    if (response.status !== 200) throw new Error(`long-poll refused: ${response.status}`);
    frames.push(response.body, onMessage);
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
    connection.destroy();
  };
  return {
    close: end,
    cut: end,
    resumeToken: (count) => ({ trackingId: trackingId ?? '0', received: count }),
  };
};

/** The raw long-polling peer: `GET /poll?since=<n>`; each answer holds the messages after n, one per line. */
export const rawLongPolling: Connector = async (target, sink, onClose) => {
  const connection = new LeanHttpConnection(target.origin, target.localAddress);
  const keep = ['x-seq'];
  let since = 0;
  const poll = async (): Promise<void> => {
    const response = await connection.get(`/poll?since=${since}`, keep);
    if (response.status !== 200) throw new Error(`long-poll refused: ${response.status}`);
    since = Number(response.headers['x-seq']);
    const text = response.body;
    if (text.length > 0) for (const line of text.split('\n')) sink(line);
  };
  // The first request only learns the current position.
  const loop = await pollLoop(
    async () => {
      const response = await connection.get('/poll?hello=1', keep);
      since = Number(response.headers['x-seq']);
    },
    poll,
    onClose,
  );
  const end = (): void => {
    loop.stop();
    connection.destroy();
  };
  return { close: end, cut: end, resumeToken: (received) => ({ received }) };
};

/** Engine.IO v4 packet separator in a polling payload. */
const RECORD_SEPARATOR = '\x1e';

/**
 * Socket.IO over long-polling, spoken at the Engine.IO v4 level on the lean HTTP client (as the other
 * long-polling contenders are): the open handshake (`0{"sid":…}`), the namespace connect (`40`, answered
 * with `40{…}`), then polls whose payloads hold `\x1e`-separated packets; events arrive as
 * `42["m","<payload>"]`, pings (`2`) are answered with a pong (`3`). Sends go over a second connection, as a
 * browser's would, since the first one is held by the waiting poll.
 */
export const socketIoPolling: Connector = async (target, sink, onClose) => {
  const connection = new LeanHttpConnection(target.origin, target.localAddress);
  let sender: LeanHttpConnection | undefined;
  let sending: Promise<unknown> = Promise.resolve();
  const base = '/socket.io/?EIO=4&transport=polling';
  const open = await connection.get(base);
  if (open.status !== 200 || !open.body.startsWith('0')) {
    connection.destroy();
    throw new Error(`Engine.IO open refused: ${open.status} ${open.body.slice(0, 80)}`);
  }
  const { sid } = JSON.parse(open.body.slice(1)) as { sid: string };
  const path = `${base}&sid=${encodeURIComponent(sid)}`;
  const send = (packet: string): void => {
    sending = sending
      .then(() => {
        // The server closes a keep-alive connection left idle (node:http: after 5 s); open another.
        if (sender === undefined || sender.closed)
          sender = new LeanHttpConnection(target.origin, target.localAddress);
        return sender.post(path, packet);
      })
      .catch(() => undefined);
  };
  let connected = false;
  const onPacket = (packet: string): void => {
    switch (packet.charCodeAt(0)) {
      case 52: // '4' message: a Socket.IO packet
        if (packet.charCodeAt(1) === 50) {
          // '2' EVENT: ["m", payload]
          const [event, payload] = JSON.parse(packet.slice(2)) as [string, string];
          if (event === 'm') sink(payload);
        } else if (packet.charCodeAt(1) === 48) connected = true; // '0' CONNECT ack
        break;
      case 50: // '2' ping
        send('3');
        break;
      case 49: // '1' close
        throw new Error('closed by the server');
      default:
        break;
    }
  };
  const poll = async (): Promise<void> => {
    const response = await connection.get(path);
    if (response.status !== 200) throw new Error(`poll refused: ${response.status}`);
    const body = response.body;
    if (body.indexOf(RECORD_SEPARATOR) === -1) onPacket(body);
    else for (const packet of body.split(RECORD_SEPARATOR)) onPacket(packet);
  };
  send('40');
  const loop = await pollLoop(
    async () => {
      // The connect ack may come with the first poll or a later one.
      for (let i = 0; i < 10 && !connected; i++) await poll();
      if (!connected) throw new Error('no namespace connect ack');
    },
    poll,
    onClose,
  );
  const end = (): void => {
    loop.stop();
    connection.destroy();
    sender?.destroy();
    sender = undefined;
  };
  return { close: end, cut: end, resumeToken: (received) => ({ received }) };
};
