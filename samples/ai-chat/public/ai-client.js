// @ts-check
/* global location, window */
/**
 * A small Atmosphere AI client for the browser, over WebSocket, kept in this one file so that it can be swapped
 * for `@atmosphere/client` later. It speaks the protocol: the handshake, length-prefixed framing, heartbeats,
 * reconnection with the same tracking id and `X-Atmosphere-Received` (the server then resends exactly what a
 * cut connection lost), the close request on page unload (which cancels the model call at once), and AI frames
 * (PROTOCOL.md §7) delivered once each, by (sessionId, seq).
 */

/**
 * @typedef {{ sessionId: string, seq: number, type?: string, event?: string, data?: unknown, key?: string, value?: unknown, code?: string, reason?: string, usage?: Record<string, number> }} AiFrame
 * @typedef {{ onFrame(frame: AiFrame): void, onRole?(role: string, runId: string): void, onStatus?(status: 'connecting' | 'open' | 'reconnecting' | 'closed'): void }} Handlers
 * @typedef {{ prompt(text: string): void, approve(approvalId: string, args?: Record<string, unknown>): void, deny(approvalId: string): void, stop(runId: string): void, close(): void }} AiChatClient
 */

/**
 * Connects to an AI endpoint.
 * @param {string} path the endpoint's path, e.g. `/ai/chat`
 * @param {Handlers} handlers
 * @param {{ runId?: string }} [options] `runId`: follow that run (its frames so far, then live)
 * @returns {AiChatClient}
 */
export function connectAiChat(path, handlers, options = {}) {
  let trackingId = '0';
  let received = 0;
  let closed = false;
  let attempt = 0;
  let buffer = '';
  let awaitingHandshake = true;
  /** @type {WebSocket | undefined} */
  let socket;
  /** @type {string[]} */
  const outbox = [];
  /** @type {Map<string, number>} */
  const lastSeq = new Map();

  /** @param {string} transport */
  const url = (transport) => {
    const params = new URLSearchParams({
      'X-Atmosphere-tracking-id': trackingId,
      'X-Atmosphere-Framework': '5.0.7',
      'X-Atmosphere-Transport': transport,
      'X-Atmosphere-TrackMessageSize': 'true',
      'X-atmo-protocol': 'true',
      'X-Atmosphere-Received': String(received),
    });
    if (options.runId) params.set('X-Atmosphere-Run-Id', options.runId);
    const scheme =
      transport === 'websocket' ? (location.protocol === 'https:' ? 'wss:' : 'ws:') : location.protocol;
    return `${scheme}//${location.host}${path}?${params.toString()}`;
  };

  /** @param {string} message */
  const deliver = (message) => {
    if (awaitingHandshake) {
      awaitingHandshake = false;
      if (trackingId === '0') {
        trackingId = message.split('|')[0] ?? '0';
        return;
      }
    }
    if (message === 'X') return; // heartbeat
    received++;
    /** @type {unknown} */
    let parsed;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const named = /** @type {{ type?: unknown, role?: unknown, runId?: unknown }} */ (parsed);
    // What this connection may do to a run (viewer, steerer, approver, owner): not an AI frame.
    if (named.type === 'ai-role' && typeof named.role === 'string' && typeof named.runId === 'string') {
      handlers.onRole?.(named.role, named.runId);
      return;
    }
    const frame = /** @type {AiFrame} */ (parsed);
    if (typeof frame.sessionId !== 'string' || typeof frame.seq !== 'number') return;
    if (frame.seq <= (lastSeq.get(frame.sessionId) ?? 0)) return;
    lastSeq.set(frame.sessionId, frame.seq);
    handlers.onFrame(frame);
  };

  /** Splits `<length>|<message>` frames, whatever the chunk boundaries. @param {string} chunk */
  const feed = (chunk) => {
    buffer += chunk;
    for (;;) {
      buffer = buffer.replace(/^\s+/, '');
      const bar = buffer.indexOf('|');
      if (bar === -1) return;
      const length = Number(buffer.slice(0, bar));
      if (!Number.isInteger(length)) {
        buffer = '';
        return;
      }
      if (buffer.length < bar + 1 + length) return;
      const message = buffer.slice(bar + 1, bar + 1 + length);
      buffer = buffer.slice(bar + 1 + length);
      deliver(message);
    }
  };

  const open = () => {
    handlers.onStatus?.(attempt === 0 ? 'connecting' : 'reconnecting');
    buffer = '';
    awaitingHandshake = trackingId === '0';
    const ws = new WebSocket(url('websocket'));
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      handlers.onStatus?.('open');
      while (outbox.length > 0 && ws.readyState === WebSocket.OPEN)
        ws.send(/** @type {string} */ (outbox.shift()));
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') feed(event.data);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = undefined;
      if (closed) {
        handlers.onStatus?.('closed');
        return;
      }
      // Come back with the same tracking id: the server resends what this connection lost.
      attempt++;
      handlers.onStatus?.('reconnecting');
      setTimeout(open, Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)));
    };
  };

  /** @param {string} text */
  const send = (text) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
    else outbox.push(text);
  };

  window.addEventListener('pagehide', () => {
    if (closed || trackingId === '0') return;
    closed = true;
    navigator.sendBeacon(url('close').replace(/X-Atmosphere-Received=\d+&?/, ''));
  });

  open();
  return {
    prompt: (text) => send(text),
    approve: (approvalId, args) =>
      send(`/__approval/${approvalId}/approve${args ? ` ${JSON.stringify({ arguments: args })}` : ''}`),
    deny: (approvalId) => send(`/__approval/${approvalId}/deny`),
    stop: (runId) => send(`/__stop/${runId}`),
    close() {
      closed = true;
      socket?.close(1000);
    },
  };
}
