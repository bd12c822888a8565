// @ts-check
/* global location */
/**
 * A small Atmosphere client for the browser over WebSocket, in one file so the dashboard needs no build: the
 * handshake, length-prefixed framing, heartbeats, and reconnection with the same tracking id and
 * `X-Atmosphere-Received` (the server then resends exactly what a cut connection lost).
 */

/**
 * @typedef {{ onMessage(message: string): void, onOpen?(send: (text: string) => void): void, onStatus?(status: 'connecting' | 'open' | 'reconnecting'): void }} Handlers
 */

/**
 * Subscribes to an Atmosphere path.
 * @param {string} path e.g. `/dashboard/feed`
 * @param {Handlers} handlers
 * @returns {{ send(text: string): void, close(): void }}
 */
export function subscribe(path, handlers) {
  let trackingId = '0';
  let received = 0;
  let closed = false;
  let attempt = 0;
  let buffer = '';
  let awaitingHandshake = true;
  /** @type {WebSocket | undefined} */
  let socket;

  const url = () => {
    const params = new URLSearchParams({
      'X-Atmosphere-tracking-id': trackingId,
      'X-Atmosphere-Framework': '5.0.7',
      'X-Atmosphere-Transport': 'websocket',
      'X-Atmosphere-TrackMessageSize': 'true',
      'X-atmo-protocol': 'true',
      'X-Atmosphere-Received': String(received),
    });
    return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}?${params.toString()}`;
  };

  /** @param {string} message */
  const deliver = (message) => {
    if (awaitingHandshake) {
      awaitingHandshake = false;
      if (trackingId === '0') trackingId = message.split('|')[0] ?? '0';
      return;
    }
    if (message === 'X') return; // heartbeat
    received++;
    handlers.onMessage(message);
  };

  /** @param {string} chunk */
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

  /** @param {string} text */
  const send = (text) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
  };

  const open = () => {
    handlers.onStatus?.(attempt === 0 ? 'connecting' : 'reconnecting');
    buffer = '';
    awaitingHandshake = trackingId === '0';
    const ws = new WebSocket(url());
    socket = ws;
    ws.onopen = () => {
      const first = attempt === 0;
      attempt = 0;
      handlers.onStatus?.('open');
      if (first) handlers.onOpen?.(send);
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') feed(event.data);
    };
    ws.onclose = () => {
      if (socket !== ws || closed) return;
      socket = undefined;
      attempt++;
      handlers.onStatus?.('reconnecting');
      setTimeout(open, Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)));
    };
  };

  open();
  return {
    send,
    close() {
      closed = true;
      socket?.close(1000);
    },
  };
}
