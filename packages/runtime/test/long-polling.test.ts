import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AtmosphereHeaders, STREAMING_PADDING } from '@atmosphere/protocol';
import { type Atmosphere } from '../src/index.ts';
import { eventually, once, protocolUrl, startTestAtmosphere } from '../src/testing/index.ts';
import { countWrites } from './socket-writes.ts';
import { internal } from './internals.ts';

let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere({
    origins: ['https://allowed.example'],
    auth: { verify: (token) => (token === 'good' ? { user: 'ok' } : undefined), from: ['query'] },
  });
  atmosphere.managed('/lp/{name}', {});
});
afterAll(async () => {
  await atmosphere.close();
});

const AUTH = { [AtmosphereHeaders.auth]: 'good' };

/** The first poll: the handshake; returns the tracking id. */
async function handshake(path: string): Promise<string> {
  const response = await fetch(protocolUrl(atmosphere.url(path), 'long-polling', { query: AUTH }));
  await response.text();
  expect(response.status).toBe(200);
  return response.headers.get(AtmosphereHeaders.trackingId)!;
}

function pollUrl(path: string, trackingId: string, query: Record<string, string> = AUTH): string {
  return protocolUrl(atmosphere.url(path), 'long-polling', { trackingId, query });
}

async function text(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

test('a poll that finds messages waiting is answered at once, whole, with a Content-Length', async () => {
  const id = await handshake('/lp/queued');
  await atmosphere.broadcast('/lp/queued', 'one');
  await atmosphere.broadcast('/lp/queued', 'two|three');
  const poll = await fetch(pollUrl('/lp/queued', id));
  const body = await poll.text();
  expect(body).toBe(`${STREAMING_PADDING}3|one9|two|three`);
  expect(poll.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
  expect(poll.headers.get('transfer-encoding')).toBeNull();
  expect(poll.headers.get(AtmosphereHeaders.trackingId)).toBe(id);
});

test('a waiting poll gets status, headers and padding at once; the messages of one turn and the end leave in one write', async () => {
  const id = await handshake('/lp/waiting');
  const accepted = once<Socket>(atmosphere.server, 'connection');
  const request = httpRequest(pollUrl('/lp/waiting', id), { agent: false });
  const responded = once<IncomingMessage>(request, 'response');
  request.end();
  const server = await accepted;
  // Nothing is broadcast: the head comes at once.
  const response = await responded;
  expect(response.statusCode).toBe(200);
  expect(response.headers[AtmosphereHeaders.trackingId.toLowerCase()]).toBe(id);
  expect(response.headers['content-length']).toBeUndefined();
  const body = text(response);
  const writes = countWrites(server);
  void atmosphere.broadcast('/lp/waiting', 'a');
  void atmosphere.broadcast('/lp/waiting', 'b');
  void atmosphere.broadcast('/lp/waiting', 'c');
  expect(await body).toBe(`${STREAMING_PADDING}1|a1|b1|c`);
  expect(writes.count).toBe(1);
});

test('a waiting poll is answered with what was broadcast when the server shuts down', async () => {
  const closing = await startTestAtmosphere();
  closing.managed('/lp', {});
  const first = await fetch(protocolUrl(closing.url('/lp'), 'long-polling'));
  await first.text();
  const id = first.headers.get(AtmosphereHeaders.trackingId)!;
  const poll = fetch(protocolUrl(closing.url('/lp'), 'long-polling', { trackingId: id }));
  await eventually(() => closing.resource(id)?.state === 'connected', 'the poll to wait');
  void closing.broadcast('/lp', 'last');
  void closing.broadcast('/lp', 'words');
  await closing.close();
  const response = await poll;
  expect(response.status).toBe(200);
  expect(await response.text()).toBe(`${STREAMING_PADDING}4|last5|words`);
});

test('a waiting poll replaced by a newer one is answered (padding only); the newer one gets the message', async () => {
  const id = await handshake('/lp/replaced');
  const older = fetch(pollUrl('/lp/replaced', id));
  const resource = internal(atmosphere.resource(id))!;
  await eventually(() => resource.state === 'connected', 'the first poll to wait');
  const replaced = resource.connection;
  const newer = fetch(pollUrl('/lp/replaced', id));
  await eventually(
    () => resource.connection !== replaced && resource.state === 'connected',
    'the newer poll',
  );
  const olderResponse = await older;
  expect(olderResponse.status).toBe(200);
  expect(olderResponse.headers.get(AtmosphereHeaders.trackingId)).toBe(id);
  expect(await olderResponse.text()).toBe(STREAMING_PADDING);
  await atmosphere.broadcast('/lp/replaced', 'for the newer');
  expect(await (await newer).text()).toBe(`${STREAMING_PADDING}13|for the newer`);
});

test('origin and auth are checked on every poll, not only on the first', async () => {
  const id = await handshake('/lp/checked');
  const fromElsewhere = await fetch(pollUrl('/lp/checked', id), {
    headers: { Origin: 'https://evil.example' },
  });
  await fromElsewhere.text();
  expect(fromElsewhere.status).toBe(403);
  const withoutToken = await fetch(pollUrl('/lp/checked', id, {}));
  await withoutToken.text();
  expect(withoutToken.status).toBe(401);
  // The client itself is unaffected: its next proper poll gets what was broadcast meanwhile.
  await atmosphere.broadcast('/lp/checked', 'still here');
  const poll = await fetch(pollUrl('/lp/checked', id), { headers: { Origin: 'https://allowed.example' } });
  expect(await poll.text()).toBe(`${STREAMING_PADDING}10|still here`);
  expect(poll.headers.get('access-control-allow-origin')).toBe('https://allowed.example');
});

test('a client that only did the handshake poll is disconnected when its grace period ends', async () => {
  const short = await startTestAtmosphere({ reconnectGraceMs: 100 });
  try {
    const reasons: string[] = [];
    short.managed('/lp', { onDisconnect: (_resource, reason) => void reasons.push(reason) });
    const response = await fetch(protocolUrl(short.url('/lp'), 'long-polling'));
    await response.text();
    const id = response.headers.get(AtmosphereHeaders.trackingId)!;
    expect(short.resource(id)?.state).toBe('away');
    await eventually(() => reasons.length === 1, 'the grace period to end');
    expect(reasons).toEqual(['timeout']);
    expect(short.resource(id)).toBeUndefined();
  } finally {
    await short.close();
  }
});
