import type { IncomingMessage } from 'node:http';
import { describe, expect, test } from 'vitest';
import { isUnsupportedFrameworkVersion, normalizeTransport } from '@atmosphere/protocol';
import { parseProtocolRequest, sharedParams } from './request.ts';

function request(url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { url, method: 'GET', headers } as unknown as IncomingMessage;
}

describe('parseProtocolRequest', () => {
  test('query parameters are read first, as headers; the application never sees them', () => {
    const parsed = parseProtocolRequest(
      request(
        '/chat/a%20b?room=1&X-Atmosphere-Transport=SSE&x-atmosphere-trackmessagesize=true&_=123&Content-Type=text%2Fplain',
        {
          'x-atmosphere-transport': 'websocket',
        },
      ),
      false,
    );
    expect(parsed.path).toBe('/chat/a b');
    expect(parsed.transport).toBe('sse');
    expect(parsed.trackMessageLength).toBe(true);
    expect(parsed.contentType).toBe('text/plain');
    expect([...parsed.query]).toEqual([['room', '1']]);
  });

  test('requests with the same query string read the same parameters, others their own', () => {
    // Same length, one character apart, more of them than the parameter lists kept; then each again.
    const queries = Array.from(
      { length: 40 },
      (_, i) =>
        `X-Atmosphere-tracking-id=client-${String(i).padStart(2, '0')}&X-Atmosphere-Transport=${i % 2 === 0 ? 'websocket' : 'streaming'}&X-Atmosphere-Framework=5.0.${i % 10}&X-atmo-protocol=true`,
    );
    for (let pass = 0; pass < 2; pass++) {
      for (const [i, query] of queries.entries()) {
        const parsed = parseProtocolRequest(request(`/x?${query}`), true);
        expect(parsed.trackingId).toBe(`client-${String(i).padStart(2, '0')}`);
        expect(parsed.transport).toBe(i % 2 === 0 ? 'websocket' : 'streaming');
        expect(parsed.param('X-Atmosphere-Framework')).toBe(`5.0.${i % 10}`);
        expect(parsed.queryParam('x-atmo-protocol')).toBe('true');
      }
    }
    const long = `X-Atmosphere-Transport=sse&X-Atmosphere-Framework=${'9'.repeat(600)}`;
    for (let pass = 0; pass < 2; pass++)
      expect(parseProtocolRequest(request(`/x?${long}`), false).param('X-Atmosphere-Framework')).toBe(
        '9'.repeat(600),
      );
  });

  test("a first connection's parameter list is shared by the next ones, and reconnects do not push it out", () => {
    const read = (query: string): string[] => {
      const list: string[] = [];
      for (const pair of query.split('&')) list.push(...pair.toLowerCase().split('='));
      return list;
    };
    const first = 'X-Atmosphere-tracking-id=0&X-Atmosphere-Transport=websocket&X-atmo-protocol=true';
    const shared = sharedParams(first, read(first));
    expect(Object.isFrozen(shared)).toBe(true);
    expect(sharedParams(first, read(first))).toBe(shared);
    // More reconnects (a client's own tracking id each) than queries remembered: none is kept.
    for (let i = 0; i < 40; i++) {
      const again = `X-Atmosphere-tracking-id=client-${i}&X-Atmosphere-Transport=websocket&X-atmo-protocol=true`;
      const list = sharedParams(again, read(again));
      expect(sharedParams(again, read(again))).not.toBe(list);
    }
    expect(sharedParams(first, read(first))).toBe(shared);
    // Other first connections push the oldest out once more than 16 are remembered.
    for (let i = 0; i < 16; i++) {
      const other = `X-Atmosphere-tracking-id=0&X-Atmosphere-Framework=5.0.${i}`;
      sharedParams(other, read(other));
    }
    expect(sharedParams(first, read(first))).not.toBe(shared);
  });

  test('tracking ids: 0 and missing get a fresh UUID; valid ones are adopted; invalid ones replaced', () => {
    const fresh = parseProtocolRequest(request('/x?X-Atmosphere-tracking-id=0&X-atmo-protocol=true'), false);
    expect(fresh.firstRequest).toBe(true);
    expect(fresh.handshake).toBe(true);
    expect(fresh.trackingId).toMatch(/^[0-9a-f-]{36}$/);
    const missing = parseProtocolRequest(request('/x?X-atmo-protocol=true'), false);
    expect(missing.firstRequest).toBe(true);
    expect(missing.handshake).toBe(false);
    const adopted = parseProtocolRequest(
      request('/x?X-Atmosphere-tracking-id=my_client-1&X-atmo-protocol=true'),
      false,
    );
    expect(adopted).toMatchObject({ trackingId: 'my_client-1', firstRequest: false, handshake: false });
    const invalid = parseProtocolRequest(
      request('/x?X-Atmosphere-tracking-id=bad%2Fid&X-atmo-protocol=true'),
      false,
    );
    expect(invalid.trackingId).not.toBe('bad/id');
    expect(invalid.handshake).toBe(true);
  });

  test('a missing transport is websocket on an upgrade and long-polling otherwise', () => {
    expect(parseProtocolRequest(request('/x'), true).transport).toBe('websocket');
    expect(parseProtocolRequest(request('/x'), false).transport).toBe('long-polling');
  });

  test('the received count and heartbeat are numbers or absent', () => {
    expect(
      parseProtocolRequest(request('/x?X-Atmosphere-Received=42&X-Heartbeat-Server=30'), false),
    ).toMatchObject({
      received: 42,
      heartbeatSeconds: 30,
    });
    expect(
      parseProtocolRequest(request('/x?X-Atmosphere-Received=-1&X-Heartbeat-Server=soon'), false),
    ).toMatchObject({
      received: undefined,
      heartbeatSeconds: undefined,
    });
  });
});

test('transport spellings', () => {
  expect(normalizeTransport('LONG_POLLING')).toBe('long-polling');
  expect(normalizeTransport(' Streaming ')).toBe('streaming');
  expect(normalizeTransport('pigeon')).toBeUndefined();
});

test('protocol version gate: older than 2.2.1 is refused, unreadable is not', () => {
  expect(isUnsupportedFrameworkVersion('2.2.0-jquery')).toBe(true);
  expect(isUnsupportedFrameworkVersion('1.0.10')).toBe(true);
  expect(isUnsupportedFrameworkVersion('2.2.1')).toBe(false);
  expect(isUnsupportedFrameworkVersion('3.1.3-javascript')).toBe(false);
  expect(isUnsupportedFrameworkVersion('10.0')).toBe(false);
  expect(isUnsupportedFrameworkVersion('5.0.7')).toBe(false);
  expect(isUnsupportedFrameworkVersion('dev')).toBe(false);
});

describe('ProtocolRequest parameters', () => {
  test('param reads the query first (any case, first occurrence wins), then the header', () => {
    const parsed = parseProtocolRequest(
      request(
        '/x?X-Atmosphere-Run-Id=from-query&x-atmosphere-run-id=second&X-ATMOSPHERE-SESSION-TOKEN=s%201',
        {
          'x-atmosphere-run-id': 'from-header',
          'x-atmosphere-last-seq': '7',
        },
      ),
      false,
    );
    expect(parsed.runId).toBe('from-query');
    expect(parsed.param('x-atmosphere-RUN-id')).toBe('from-query');
    expect(parsed.sessionToken).toBe('s 1');
    expect(parsed.param('X-Atmosphere-Last-Seq')).toBe('7');
    expect(parsed.queryParam('X-Atmosphere-Last-Seq')).toBeUndefined();
    expect(parsed.param('X-Atmosphere-Unknown')).toBeUndefined();
  });

  test('the application query keeps its own parameters only, decoded like URLSearchParams', () => {
    const parsed = parseProtocolRequest(
      request('/x?room=a+b&X-Atmosphere-Transport=sse&tag=%E2%82%AC&tag=2&bad=%zz&flag'),
      false,
    );
    expect([...parsed.query]).toEqual([
      ['room', 'a b'],
      ['tag', '€'],
      ['tag', '2'],
      ['bad', '%zz'],
      ['flag', ''],
    ]);
    expect(parsed.query).toBe(parsed.query);
    const none = parseProtocolRequest(request('/x?X-Atmosphere-Transport=sse'), false);
    expect([...none.query]).toEqual([]);
  });

  test('protocol parameters with bad escapes are decoded as URLSearchParams does, never thrown', () => {
    const parsed = parseProtocolRequest(
      request('/x?X-Atmosphere-Transport=sse&X-Atmosphere-Run-Id=%E2%zz&X-Atmosphere-Post-Body=a%26b'),
      false,
    );
    expect(parsed.transport).toBe('sse');
    expect(parsed.runId).toBe(new URLSearchParams('v=%E2%zz').get('v'));
    expect(parsed.postBody).toBe('a&b');
  });
});
