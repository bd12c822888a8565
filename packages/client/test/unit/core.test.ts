import { describe, expect, test } from 'vitest';
import { OfflineQueue } from '../../src/core/offline-queue.ts';
import { closeUrl, protocolUrl } from '../../src/core/request.ts';
import { reconnectDelay } from '../../src/core/backoff.ts';
import { resolveRequest } from '../../src/core/request.ts';
import { AtmosphereClientError, REQUEST_DEFAULTS } from '../../src/index.ts';

describe('reconnectDelay', () => {
  test('exponential from the base, capped, with jitter in the upper half', () => {
    expect([0, 1, 2, 3, 10].map((n) => reconnectDelay(n, 1000, 30_000, () => 1))).toEqual([
      1000, 2000, 4000, 8000, 30_000,
    ]);
    expect([0, 1, 2, 3, 10].map((n) => reconnectDelay(n, 1000, 30_000, () => 0))).toEqual([
      500, 1000, 2000, 4000, 15_000,
    ]);
    for (let n = 0; n < 40; n++) {
      const delay = reconnectDelay(n, 250, 10_000);
      const cap = Math.min(10_000, 250 * 2 ** n);
      expect(delay).toBeGreaterThanOrEqual(cap / 2);
      expect(delay).toBeLessThanOrEqual(cap);
    }
  });
});

describe('OfflineQueue', () => {
  test('keeps order, drops the oldest past capacity and says which', () => {
    const queue = new OfflineQueue(3);
    expect([queue.push('a'), queue.push('b'), queue.push('c')]).toEqual([undefined, undefined, undefined]);
    expect(queue.push('d')).toBe('a');
    expect([queue.shift(), queue.shift(), queue.shift(), queue.shift()]).toEqual(['b', 'c', 'd', undefined]);
    for (let i = 0; i < 500; i++) queue.push(String(i));
    expect(queue.size).toBe(3);
    expect(queue.peek()).toBe('497');
    expect(queue.clear()).toBe(3);
    expect(queue.size).toBe(0);
  });
});

describe('resolveRequest', () => {
  test('defaults: protocol on, length tracking on, reconnect on, websocket then sse then long-polling', () => {
    const request = resolveRequest({ url: 'http://example.com/chat' });
    expect(request.transports).toEqual(['websocket', 'sse', 'long-polling']);
    expect(request.enableProtocol).toBe(true);
    expect(request.trackMessageLength).toBe(true);
    expect(request.reconnect).toBe(true);
    expect(request.maxReconnectOnClose).toBe(REQUEST_DEFAULTS.maxReconnectOnClose);
    expect(
      resolveRequest({ url: 'http://e/c', transport: 'sse', fallbackTransport: 'streaming' }).transports,
    ).toEqual(['sse', 'streaming']);
    expect(resolveRequest({ url: 'ws://e/c', fallbackTransport: [] }).url).toBe('http://e/c');
  });

  test('bad options are INVALID_OPTION errors naming the option', () => {
    const invalid = (request: Parameters<typeof resolveRequest>[0]) => {
      try {
        resolveRequest(request);
      } catch (error) {
        return AtmosphereClientError.isInstance(error) ? `${error.code} ${error.message}` : String(error);
      }
      return 'no error';
    };
    expect(invalid({ url: '/relative' })).toMatch(/INVALID_OPTION .*must be absolute/);
    expect(invalid({ url: 'ftp://x/y' })).toMatch(/INVALID_OPTION .*http\(s\) or ws\(s\)/);
    expect(invalid({ url: 'http://x', transport: 'jsonp' as never })).toMatch(/`transport`/);
    expect(invalid({ url: 'http://x', reconnectInterval: -1 })).toMatch(/`reconnectInterval`/);
  });

  test('protocol URLs carry the parameters; WebSocket and EventSource get the headers in the query', () => {
    const request = resolveRequest({
      url: 'https://example.com/chat?room=1',
      authToken: 'tok',
      headers: { 'X-App': 'a' },
      heartbeat: { server: 30 },
    });
    const state = { trackingId: 'abc', received: 7, sessionToken: undefined, runId: 'run-1' };
    const ws = new URL(protocolUrl(request, 'websocket', state, 'connect', true));
    expect(ws.protocol).toBe('wss:');
    expect(Object.fromEntries(ws.searchParams)).toEqual({
      room: '1',
      'X-Atmosphere-tracking-id': 'abc',
      'X-Atmosphere-Framework': '5.0.7',
      'X-Atmosphere-Transport': 'websocket',
      'X-Atmosphere-TrackMessageSize': 'true',
      'X-Heartbeat-Server': '30',
      'X-atmo-protocol': 'true',
      'X-Atmosphere-Run-Id': 'run-1',
      'X-Atmosphere-Auth': 'tok',
      'X-Atmosphere-Received': '7',
      'X-Atmosphere-Positions': 'true',
      'X-App': 'a',
    });
    const post = new URL(protocolUrl(request, 'long-polling', state, 'post', false));
    expect(post.searchParams.has('X-Atmosphere-Received')).toBe(false);
    expect(post.searchParams.has('X-App')).toBe(false);
    expect(closeUrl(request, 'abc')).toBe(
      'https://example.com/chat?room=1&X-Atmosphere-Transport=close&X-Atmosphere-tracking-id=abc&X-Atmosphere-Auth=tok',
    );
  });
});
