import type { IncomingMessage } from 'node:http';
import { silentLogger } from '@atmosphere/runtime';
import { describe, expect, test } from 'vitest';
import { JsonRpcFailure } from './json-rpc.ts';
import { isLoopbackAddress, RequestGuard, resolveSecurity } from './security.ts';

/** The parts of a request the guard reads. */
function request(remoteAddress: string, headers: Record<string, string>): IncomingMessage {
  return { socket: { remoteAddress }, headers } as unknown as IncomingMessage;
}

function refusal(call: () => void): JsonRpcFailure | undefined {
  try {
    call();
    return undefined;
  } catch (error) {
    if (error instanceof JsonRpcFailure) return error;
    throw error;
  }
}

describe('the request guard', () => {
  const guard = new RequestGuard(resolveSecurity(), undefined, silentLogger);

  test('serves loopback clients only by default, whatever address the server listens on', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      expect(isLoopbackAddress(address)).toBe(true);
      expect(refusal(() => guard.checkOrigin(request(address, { host: 'localhost:3000' })))).toBeUndefined();
    }
    for (const address of ['203.0.113.5', '::ffff:10.0.0.1', 'fe80::1', '']) {
      const failure = refusal(() => guard.checkOrigin(request(address, { host: 'localhost:3000' })));
      expect(failure?.status).toBe(403);
      expect(failure?.message).toContain('security.allowRemote');
    }
  });

  test('allowRemote with an allowed host serves remote clients, and still checks Host and Origin', () => {
    const open = new RequestGuard(
      resolveSecurity({
        allowRemote: true,
        allowedHosts: ['mcp.example.com'],
        allowedOrigins: ['https://app.example.com'],
      }),
      undefined,
      silentLogger,
    );
    expect(
      refusal(() => open.checkOrigin(request('203.0.113.5', { host: 'mcp.example.com' }))),
    ).toBeUndefined();
    expect(
      refusal(() =>
        open.checkOrigin(
          request('203.0.113.5', { host: 'mcp.example.com:443', origin: 'https://app.example.com' }),
        ),
      ),
    ).toBeUndefined();
    expect(refusal(() => open.checkOrigin(request('203.0.113.5', { host: 'localhost' })))?.status).toBe(403);
    expect(
      refusal(() =>
        open.checkOrigin(request('203.0.113.5', { host: 'mcp.example.com', origin: 'https://evil.example' })),
      )?.status,
    ).toBe(403);
  });

  test('a missing Host header and a loopback-looking rebinding name are refused', () => {
    expect(refusal(() => guard.checkOrigin(request('127.0.0.1', {})))?.status).toBe(403);
    expect(
      refusal(() => guard.checkOrigin(request('127.0.0.1', { host: 'localhost.evil.example' })))?.status,
    ).toBe(403);
    expect(refusal(() => guard.checkOrigin(request('127.0.0.1', { host: '127.0.0.1.nip.io' })))?.status).toBe(
      403,
    );
  });

  test('the rate limit is a token bucket per key', () => {
    const limited = new RequestGuard(
      resolveSecurity({ rateLimit: { perSecond: 10, burst: 2 } }),
      undefined,
      silentLogger,
    );
    expect([limited.take('a', 0), limited.take('a', 0), limited.take('a', 0)]).toEqual([true, true, false]);
    expect(limited.take('b', 0)).toBe(true);
    expect(limited.take('a', 100)).toBe(true);
    expect(limited.take('a', 100)).toBe(false);
  });

  test('invalid options say which option is wrong', () => {
    expect(() => resolveSecurity({ maxMessageBytes: -1 })).toThrow(/security\.maxMessageBytes/);
    expect(() => resolveSecurity({ rateLimit: { perSecond: 0, burst: 1 } })).toThrow(/rateLimit\.perSecond/);
  });
});
