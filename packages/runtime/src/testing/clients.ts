import { WebSocket } from 'ws';
import { AtmosphereHeaders, PADDING_CHAR } from '@atmosphere/protocol';
import { FrameReader } from './frame-reader.ts';
import { Inbox } from './inbox.ts';

export type TestTransport = 'websocket' | 'sse' | 'streaming' | 'long-polling';

export interface TestClientOptions {
  /** `0` (default) for a first connection, or a tracking id to reconnect with. */
  trackingId?: string;
  /** Ask for the handshake. Default true. */
  protocol?: boolean;
  /** Length-prefixed framing. Default true. */
  trackMessageLength?: boolean;
  /** Messages already received for this tracking id (`X-Atmosphere-Received`); omit to not send it. */
  received?: number | undefined;
  /** Extra query parameters. */
  query?: Record<string, string>;
  /** Extra request headers (HTTP transports, and the upgrade request). */
  headers?: Record<string, string>;
  /** `X-Heartbeat-Server` in seconds. */
  heartbeatSeconds?: number;
  /**
   * Long-polling: query parameters that change from poll to poll (a client's stream cursors), asked for
   * before each poll after the first, over `query`.
   */
  pollQuery?: () => Record<string, string>;
}

/** The URL of an Atmosphere endpoint with the protocol parameters in the query string. */
export function protocolUrl(base: string, transport: string, options: TestClientOptions = {}): string {
  const url = new URL(base);
  url.searchParams.set(AtmosphereHeaders.trackingId, options.trackingId ?? '0');
  // What wAsync announces: a client that reads the handshake once and never again after a reconnect (an
  // atmosphere.js 5 version would get the handshake again on every reconnect, `expectsHandshakeAgain`).
  url.searchParams.set(AtmosphereHeaders.framework, '2.3.0');
  url.searchParams.set(AtmosphereHeaders.transport, transport);
  if (options.trackMessageLength ?? true) url.searchParams.set(AtmosphereHeaders.trackMessageSize, 'true');
  if (options.protocol ?? true) url.searchParams.set(AtmosphereHeaders.protocol, 'true');
  if (options.received !== undefined)
    url.searchParams.set(AtmosphereHeaders.received, String(options.received));
  if (options.heartbeatSeconds !== undefined)
    url.searchParams.set(AtmosphereHeaders.heartbeatServer, String(options.heartbeatSeconds));
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  if (transport === 'websocket') url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/**
 * A protocol-speaking client for tests, over any transport: it parses the handshake and the framing, counts
 * messages (heartbeats apart), posts, and can leave politely (`close`) or abruptly (`cut`).
 */
export interface TestClient {
  readonly transport: TestTransport;
  /** The tracking id (from the handshake, or the one reconnected with). */
  readonly trackingId: string;
  /** Messages received, in order, heartbeats excluded. */
  readonly messages: Inbox<string>;
  /** Heartbeats received. */
  readonly heartbeats: Inbox<number>;
  /** Number of messages received (for `X-Atmosphere-Received` on reconnect). */
  readonly received: number;
  /** The handshake's client heartbeat interval (ms), when there was a handshake. */
  readonly clientHeartbeatMs: number | undefined;
  /** Sends a message (a WebSocket frame, or a POST for HTTP transports). Resolves with the POST's status. */
  send(message: string): Promise<number>;
  /** Leaves deliberately: WebSocket close 1000, or the close request for HTTP transports. */
  close(): Promise<void>;
  /** Drops the connection abruptly, as a cut network would (no close frame, no close request). */
  cut(): void;
  /** Resolves when the connection has ended (server close or cut). */
  readonly ended: Promise<void>;
}

interface Parsed {
  messages: Inbox<string>;
  heartbeats: Inbox<number>;
  handshake: Promise<{ trackingId: string; clientHeartbeatMs: number }>;
  feed(chunk: string): void;
  count: () => number;
}

function parser(options: TestClientOptions): Parsed {
  const framed = options.trackMessageLength ?? true;
  const expectHandshake = (options.protocol ?? true) && (options.trackingId ?? '0') === '0';
  const reader = new FrameReader();
  const messages = new Inbox<string>();
  const heartbeats = new Inbox<number>();
  let resolveHandshake!: (value: { trackingId: string; clientHeartbeatMs: number }) => void;
  const handshake = new Promise<{ trackingId: string; clientHeartbeatMs: number }>(
    (resolve) => (resolveHandshake = resolve),
  );
  let awaitingHandshake = expectHandshake;
  let count = 0;
  if (!expectHandshake) resolveHandshake({ trackingId: options.trackingId ?? '0', clientHeartbeatMs: 0 });
  const deliver = (message: string): void => {
    if (awaitingHandshake) {
      const parts = message.split('|');
      awaitingHandshake = false;
      resolveHandshake({ trackingId: parts[0]!, clientHeartbeatMs: Number(parts[1]) });
      return;
    }
    if (message === PADDING_CHAR) {
      heartbeats.push(Date.now());
      return;
    }
    count++;
    messages.push(message);
  };
  return {
    messages,
    heartbeats,
    handshake,
    count: () => count,
    feed(chunk) {
      if (framed) {
        let parsed: string[];
        try {
          parsed = reader.push(chunk);
        } catch (error) {
          messages.fail(error as Error);
          return;
        }
        for (const message of parsed) deliver(message);
      } else if (chunk.trim().length > 0) {
        deliver(chunk);
      }
    },
  };
}

/** Opens a test client and resolves once it is connected (after the handshake, when one is expected). */
export async function connectTestClient(
  base: string,
  transport: TestTransport,
  options: TestClientOptions = {},
): Promise<TestClient> {
  switch (transport) {
    case 'websocket':
      return connectWebSocket(base, options);
    case 'sse':
    case 'streaming':
      return connectStream(base, transport, options);
    case 'long-polling':
      return connectLongPolling(base, options);
  }
}

async function post(
  base: string,
  transport: string,
  trackingId: string,
  options: TestClientOptions,
  body: string,
): Promise<number> {
  const response = await fetch(
    protocolUrl(base, transport, { ...options, trackingId, received: undefined }),
    {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain', ...options.headers },
      body,
    },
  );
  await response.arrayBuffer();
  return response.status;
}

async function closeRequest(base: string, trackingId: string): Promise<void> {
  const url = new URL(base);
  url.searchParams.set(AtmosphereHeaders.transport, 'close');
  url.searchParams.set(AtmosphereHeaders.trackingId, trackingId);
  const response = await fetch(url);
  await response.arrayBuffer();
}

async function connectWebSocket(base: string, options: TestClientOptions): Promise<TestClient> {
  const parsed = parser(options);
  const ws = new WebSocket(protocolUrl(base, 'websocket', options), { headers: options.headers ?? {} });
  let endedResolve!: () => void;
  const ended = new Promise<void>((resolve) => (endedResolve = resolve));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) parsed.messages.push(`<binary ${data.length}>`);
    else parsed.feed(data.toString('utf8'));
  });
  ws.on('close', () => endedResolve());
  ws.on('error', () => endedResolve());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_request, response) =>
      reject(new Error(`Upgrade refused: ${response.statusCode}`)),
    );
    ws.once('error', reject);
  });
  const handshake = await parsed.handshake;
  return {
    transport: 'websocket',
    trackingId: handshake.trackingId,
    clientHeartbeatMs: handshake.clientHeartbeatMs,
    messages: parsed.messages,
    heartbeats: parsed.heartbeats,
    get received() {
      return (options.received ?? 0) + parsed.count();
    },
    async send(message) {
      await new Promise<void>((resolve, reject) =>
        ws.send(message, (error) => (error ? reject(error) : resolve())),
      );
      return 200;
    },
    async close() {
      ws.close(1000);
      await ended;
    },
    cut() {
      ws.terminate();
    },
    ended,
  };
}

async function connectStream(
  base: string,
  transport: 'sse' | 'streaming',
  options: TestClientOptions,
): Promise<TestClient> {
  const parsed = parser(options);
  const controller = new AbortController();
  const response = await fetch(protocolUrl(base, transport, options), {
    signal: controller.signal,
    headers: { ...(transport === 'sse' ? { Accept: 'text/event-stream' } : {}), ...options.headers },
  });
  if (response.status !== 200 || !response.body) throw new Error(`${transport} refused: ${response.status}`);
  const trackingFromHeader = response.headers.get(AtmosphereHeaders.trackingId) ?? undefined;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let sseBuffer = '';
  const ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (transport === 'streaming') {
          parsed.feed(value);
          continue;
        }
        // SSE: events are separated by a blank line; `data:` lines of one event join with \n.
        sseBuffer += value;
        let end: number;
        while ((end = sseBuffer.search(/\r?\n\r?\n/)) !== -1) {
          const block = sseBuffer.slice(0, end);
          sseBuffer = sseBuffer.slice(end + (sseBuffer[end] === '\r' ? 4 : 2));
          const data = block
            .split(/\r?\n/)
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).replace(/^ /, ''));
          if (data.length > 0) parsed.feed(data.join('\n'));
        }
      }
    } catch {
      // aborted or cut
    }
  })();
  const handshake = await parsed.handshake;
  const trackingId = handshake.trackingId === '0' ? (trackingFromHeader ?? '0') : handshake.trackingId;
  return {
    transport,
    trackingId,
    clientHeartbeatMs: handshake.clientHeartbeatMs,
    messages: parsed.messages,
    heartbeats: parsed.heartbeats,
    get received() {
      return (options.received ?? 0) + parsed.count();
    },
    send: (message) => post(base, transport, trackingId, options, message),
    async close() {
      await closeRequest(base, trackingId);
      controller.abort();
      await ended;
    },
    cut() {
      controller.abort();
    },
    ended,
  };
}

async function connectLongPolling(base: string, options: TestClientOptions): Promise<TestClient> {
  const parsed = parser(options);
  let trackingId = options.trackingId ?? '0';
  let stopped = false;
  let controller = new AbortController();
  let endedResolve!: () => void;
  const ended = new Promise<void>((resolve) => (endedResolve = resolve));
  /** Sends one poll; resolves when the server has taken it (headers), with the body still to come. */
  const poll = async (first: boolean): Promise<Response> => {
    const response = await fetch(
      protocolUrl(base, 'long-polling', {
        ...options,
        trackingId,
        received: first ? options.received : (options.received ?? 0) + parsed.count(),
        ...(first || options.pollQuery === undefined
          ? {}
          : { query: { ...options.query, ...options.pollQuery() } }),
      }),
      { signal: controller.signal, headers: options.headers ?? {} },
    );
    if (response.status !== 200) throw new Error(`long-poll refused: ${response.status}`);
    const header = response.headers.get(AtmosphereHeaders.trackingId);
    if (trackingId === '0' && header) trackingId = header;
    return response;
  };
  let current: Response | undefined = await poll(true);
  if ((options.protocol ?? true) && (options.trackingId ?? '0') === '0') {
    parsed.feed(await current.text());
    current = undefined;
  }
  const handshake = await parsed.handshake;
  if (handshake.trackingId !== '0') trackingId = handshake.trackingId;
  void (async () => {
    while (!stopped) {
      try {
        const response: Response = current ?? (await poll(false));
        current = undefined;
        parsed.feed(await response.text());
      } catch {
        break;
      }
    }
    endedResolve();
  })();
  return {
    transport: 'long-polling',
    trackingId,
    clientHeartbeatMs: handshake.clientHeartbeatMs,
    messages: parsed.messages,
    heartbeats: parsed.heartbeats,
    get received() {
      return (options.received ?? 0) + parsed.count();
    },
    send: (message) => post(base, 'long-polling', trackingId, options, message),
    async close() {
      stopped = true;
      await closeRequest(base, trackingId);
      controller.abort();
      await ended;
    },
    cut() {
      stopped = true;
      controller.abort();
      controller = new AbortController();
    },
    ended,
  };
}
