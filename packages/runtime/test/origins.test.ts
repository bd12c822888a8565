import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import { normalizeHost, normalizeOrigin } from '../src/protocol/cors.ts';
import { connectTestClient, protocolUrl, startTestAtmosphere } from '../src/testing/index.ts';

type Attempt = 'websocket' | 'sse' | 'streaming' | 'long-polling' | 'post' | 'preflight';
const ATTEMPTS: readonly Attempt[] = ['websocket', 'sse', 'streaming', 'long-polling', 'post', 'preflight'];

interface Outcome {
  readonly status: number;
  /** True when a WebSocket upgrade completed (101). */
  readonly upgraded: boolean;
}

/**
 * One request with exactly these `Host` and `Origin` headers, as an attacker's page or script would send it,
 * over a real socket; resolves with the status (or the completed upgrade), never waits for a stream to end.
 */
function attempt(
  atmosphere: Atmosphere,
  kind: Attempt,
  host: string,
  origin: string | undefined,
): Promise<Outcome> {
  const address = atmosphere.address()!;
  const transport = kind === 'post' || kind === 'preflight' ? 'long-polling' : kind;
  const url = new URL(protocolUrl(atmosphere.url('/chat'), transport));
  if (kind === 'post')
    url.searchParams.set('X-Atmosphere-tracking-id', 'f'.repeat(8) + '-aaaa-4aaa-8aaa-' + 'a'.repeat(12));
  const headers: Record<string, string> = { Host: host };
  if (origin !== undefined) headers['Origin'] = origin;
  if (kind === 'websocket') {
    Object.assign(headers, {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    });
  }
  if (kind === 'preflight') headers['Access-Control-Request-Method'] = 'POST';
  const method = kind === 'post' ? 'POST' : kind === 'preflight' ? 'OPTIONS' : 'GET';
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: address.address,
      port: address.port,
      path: `${url.pathname}${url.search}`,
      method,
      headers,
      timeout: 5_000,
    });
    req.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve({ status: 101, upgraded: true });
    });
    req.on('response', (response: IncomingMessage) => {
      resolve({ status: response.statusCode ?? 0, upgraded: false });
      response.destroy();
      req.destroy();
    });
    req.on('timeout', () => reject(new Error(`${kind} ${host} ${origin ?? '-'}: no answer in 5 s`)));
    req.on('error', (error) => {
      if (!('code' in error && error.code === 'ECONNRESET')) reject(error);
    });
    req.end(kind === 'post' ? 'hello' : undefined);
  });
}

let atmosphere: Atmosphere;
let port: number;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere();
  atmosphere.managed('/chat', {});
  port = atmosphere.address()!.port;
});
afterAll(async () => {
  await atmosphere.close();
});

/** [Host, Origin, why it must be refused], for a server listening on 127.0.0.1 with the default policy. */
function hostileTable(): [string, string | undefined, string][] {
  const self = `127.0.0.1:${port}`;
  return [
    [
      `evil.example:${port}`,
      `http://evil.example:${port}`,
      'DNS rebinding: a page of evil.example resolved to us',
    ],
    [`evil.example:${port}`, undefined, 'DNS rebinding, a same-origin GET that sends no Origin'],
    [`EVIL.example:${port}`, `HTTP://EVIL.EXAMPLE:${port}`, 'rebinding in upper case'],
    [
      `localhost.evil.example:${port}`,
      `http://localhost.evil.example:${port}`,
      'a name that starts like ours',
    ],
    [`127.0.0.1.:${port}`, `http://127.0.0.1.:${port}`, 'trailing dot on host and origin: another site'],
    [self, `http://127.0.0.1.:${port}`, 'trailing dot on the origin only'],
    [self, `https://127.0.0.1:${port}`, 'another scheme'],
    [self, `ws://127.0.0.1:${port}`, 'a non-page scheme'],
    [self, 'null', 'an opaque origin (sandboxed frame, file page)'],
    [self, 'file://', 'a file page'],
    [self, `http://user@127.0.0.1:${port}`, 'userinfo'],
    [self, `http://127.0.0.1:${port}/chat`, 'a path in the origin'],
    [self, `http://127.0.0.1:${port + 1}`, 'another port'],
    [self, 'http://127.0.0.1', 'the default port, not ours'],
    [self, `http://localhost:${port}`, 'another host name than the request names'],
    [self, 'http://evil.example', 'another site'],
    [self, `http://127.0.0.1:${port}.evil.example`, 'our address as a prefix'],
    [self, `http://evil.example#@127.0.0.1:${port}`, 'a fragment hiding the host'],
    [self, 'chrome-extension://abcdefghijklmnop', 'an extension'],
    [`[::1]:${port + 1}`, `http://[::1]:${port + 1}`, 'IPv6 loopback on another port'],
    [`xn--80ak6aa92e.com:${port}`, `http://xn--80ak6aa92e.com:${port}`, 'an IDN host'],
    [`127.0.0.1:${port}@evil.example`, `http://evil.example`, 'userinfo in the Host header'],
  ];
}

describe('origins and hosts: a loopback server with the default policy', () => {
  test('every hostile Host/Origin pair is refused with 403 on every transport, and no upgrade completes', async () => {
    const table = hostileTable();
    expect(table.length).toBeGreaterThanOrEqual(20);
    const accepted: string[] = [];
    let attempts = 0;
    for (const [host, origin, why] of table) {
      for (const kind of ATTEMPTS) {
        const outcome = await attempt(atmosphere, kind, host, origin);
        attempts++;
        if (outcome.status !== 403 || outcome.upgraded)
          accepted.push(`${kind} Host=${host} Origin=${origin ?? '-'} (${why}): ${outcome.status}`);
      }
    }
    expect(accepted).toEqual([]);
    expect(attempts).toBe(table.length * ATTEMPTS.length);
  });

  test('the same-origin page, a loopback name on our port and a client without Origin still connect', async () => {
    const self = `127.0.0.1:${port}`;
    for (const [host, origin] of [
      [self, `http://${self}`],
      [`localhost:${port}`, `http://localhost:${port}`],
      [`LOCALHOST:${port}`, `http://localhost:${port}`],
      [self, undefined],
    ] as const) {
      for (const kind of ['websocket', 'sse', 'streaming', 'long-polling', 'preflight'] as const) {
        const outcome = await attempt(atmosphere, kind, host, origin);
        expect(outcome.status, `${kind} Host=${host} Origin=${origin ?? '-'}`).toBe(
          kind === 'websocket' ? 101 : kind === 'preflight' ? 204 : 200,
        );
      }
    }
    // The refusals left the server as it was: a real client still talks.
    const client = await connectTestClient(atmosphere.url('/chat'), 'websocket');
    await atmosphere.broadcast('/chat', 'still here');
    expect(await client.messages.next()).toBe('still here');
    await client.close();
  });

  test('the startup description names the hosts served', () => {
    expect(atmosphere.describe().origins).toBe(
      `origins: same-origin only (set \`origins\` to allow others); hosts: localhost:${port}, 127.0.0.1:${port}, [::1]:${port}`,
    );
  });
});

describe('origins and hosts: behind a TLS proxy with allowedHosts and publicOrigins', () => {
  let proxied: Atmosphere;
  beforeAll(async () => {
    proxied = await startTestAtmosphere({
      allowedHosts: ['chat.example.com'],
      publicOrigins: ['https://chat.example.com'],
      origins: ['https://admin.example.com'],
    });
    proxied.managed('/chat', {});
  });
  afterAll(async () => {
    await proxied.close();
  });

  test('the public origin and the listed one connect through the proxied Host; others are refused', async () => {
    for (const kind of ['websocket', 'sse', 'long-polling'] as const) {
      expect((await attempt(proxied, kind, 'chat.example.com', 'https://chat.example.com')).status).toBe(
        kind === 'websocket' ? 101 : 200,
      );
      expect((await attempt(proxied, kind, 'chat.example.com', 'https://admin.example.com')).status).toBe(
        kind === 'websocket' ? 101 : 200,
      );
      for (const [host, origin] of [
        ['chat.example.com', 'http://chat.example.com'],
        ['chat.example.com', 'https://chat.example.com.'],
        ['evil.example', 'https://chat.example.com'],
        [`127.0.0.1:${proxied.address()!.port}`, undefined],
      ] as const) {
        const outcome = await attempt(proxied, kind, host, origin);
        expect(outcome, `${kind} Host=${host} Origin=${origin ?? '-'}`).toEqual({
          status: 403,
          upgraded: false,
        });
      }
    }
  });

  test('an option that is not a host or an origin is refused at startup, naming it', async () => {
    await expect(startTestAtmosphere({ publicOrigins: ['chat.example.com'] })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('publicOrigins: "chat.example.com" is not an origin'),
    });
    await expect(startTestAtmosphere({ allowedHosts: ['https://chat.example.com/'] })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('allowedHosts: "https://chat.example.com/" is not a host'),
    });
  });
});

describe('normalisation', () => {
  test('origins compare by scheme, host and port after normalisation; what no page has is undefined', () => {
    expect(normalizeOrigin('HTTP://Example.COM:80')).toBe('http://example.com');
    expect(normalizeOrigin('https://example.com:443')).toBe('https://example.com');
    expect(normalizeOrigin('http://[0:0:0:0:0:0:0:1]:8080')).toBe('http://[::1]:8080');
    expect(normalizeOrigin('http://bücher.example')).toBe('http://xn--bcher-kva.example');
    for (const bad of [
      'null',
      'file://',
      'http://a@b',
      'http://b/',
      'http://b?x',
      'http://b.',
      'ftp://b',
      '',
    ])
      expect(normalizeOrigin(bad), bad).toBeUndefined();
    expect(normalizeHost('LOCALHOST:80')).toBe('localhost');
    expect(normalizeHost('a.b.')).toBeUndefined();
    expect(normalizeHost('a@b')).toBeUndefined();
  });
});
