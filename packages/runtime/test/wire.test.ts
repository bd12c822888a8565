import fc from 'fast-check';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { AtmosphereHeaders, SSE_PADDING, STREAMING_PADDING } from '@atmosphere/protocol';
import { type Atmosphere } from '../src/index.ts';
import { FrameReader, protocolUrl, startTestAtmosphere } from '../src/testing/index.ts';

let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere();
  atmosphere.managed('/wire', {
    onReady(resource) {
      resource.write('héllo 👋');
    },
  });
});
afterAll(async () => {
  await atmosphere.close();
});

/** Reads an HTTP response's raw body bytes until `until` matches or the server ends it. */
async function rawBody(
  url: string,
  until: (body: string) => boolean,
): Promise<{ head: string; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname, () => {
      socket.write(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`);
    });
    let raw = '';
    const finish = (): void => {
      const split = raw.indexOf('\r\n\r\n');
      socket.destroy();
      resolve({ head: raw.slice(0, split), body: dechunk(raw.slice(split + 4)) });
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      raw += chunk;
      const split = raw.indexOf('\r\n\r\n');
      if (split !== -1 && until(dechunk(raw.slice(split + 4)))) finish();
    });
    socket.on('end', finish);
    socket.on('error', reject);
  });
}

/** Decodes chunked transfer encoding (complete chunks only) of a latin1 string, then the UTF-8. */
function dechunk(body: string): string {
  return Buffer.from(dechunkBytes(body), 'latin1').toString('utf8');
}

function dechunkBytes(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const line = rest.indexOf('\r\n');
    if (line === -1) break;
    const size = parseInt(rest.slice(0, line), 16);
    if (!Number.isFinite(size) || rest.length < line + 2 + size) break;
    out += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
    if (size === 0) break;
  }
  return out;
}

describe('bytes on the wire', () => {
  test('websocket: the handshake is the first frame, length-prefixed, then each message in its own frame', async () => {
    const ws = new WebSocket(protocolUrl(atmosphere.url('/wire'), 'websocket'));
    const frames: string[] = [];
    await new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer) => {
        frames.push(data.toString());
        if (frames.length === 2) resolve();
      });
    });
    expect(frames[0]).toMatch(/^41\|[0-9a-f-]{36}\|0\|X\|$/);
    expect(frames[1]).toBe('8|héllo 👋');
    ws.close();
  });

  test('sse: 2000 spaces and a newline, then data: events with \\r\\n\\r\\n', async () => {
    const { head, body } = await rawBody(protocolUrl(atmosphere.url('/wire'), 'sse'), (b) =>
      b.includes('👋'),
    );
    expect(head).toMatch(/Content-Type: text\/event-stream; charset=utf-8/i);
    expect(head).toMatch(/Cache-Control: no-store, no-cache, must-revalidate/);
    expect(head).toMatch(/Pragma: no-cache/);
    expect(head).toMatch(/Expires: -1/);
    expect(body.startsWith(SSE_PADDING)).toBe(true);
    expect(body.slice(SSE_PADDING.length)).toMatch(
      /^data:41\|[0-9a-f-]{36}\|0\|X\|\r\n\r\ndata:8\|héllo 👋\r\n\r\n$/,
    );
  });

  test('streaming: 2048 spaces and a newline, then length-prefixed messages back to back', async () => {
    const { head, body } = await rawBody(protocolUrl(atmosphere.url('/wire'), 'streaming'), (b) =>
      b.includes('👋'),
    );
    expect(head).toMatch(/Content-Type: text\/plain; charset=utf-8/i);
    expect(body.startsWith(STREAMING_PADDING)).toBe(true);
    expect(body.slice(STREAMING_PADDING.length)).toMatch(/^41\|[0-9a-f-]{36}\|0\|X\|8\|héllo 👋$/);
  });

  test('long-polling: the handshake alone answers the first poll; the next poll carries padding then messages', async () => {
    const first = await fetch(protocolUrl(atmosphere.url('/wire'), 'long-polling'));
    const handshake = await first.text();
    const id = first.headers.get(AtmosphereHeaders.trackingId)!;
    expect(handshake).toBe(`${STREAMING_PADDING}41|${id}|0|X|`);
    const second = await fetch(protocolUrl(atmosphere.url('/wire'), 'long-polling', { trackingId: id }));
    expect(second.headers.get(AtmosphereHeaders.firstRequest)).toBeNull();
    expect(await second.text()).toBe(`${STREAMING_PADDING}8|héllo 👋`);
  });

  test('several queued messages go in one long-poll response, each framed separately', async () => {
    const first = await fetch(protocolUrl(atmosphere.url('/wire'), 'long-polling'));
    await first.text();
    const id = first.headers.get(AtmosphereHeaders.trackingId)!;
    await atmosphere.broadcast('/wire', 'a|b');
    await atmosphere.broadcast('/wire', '{"c":1}');
    const poll = await fetch(protocolUrl(atmosphere.url('/wire'), 'long-polling', { trackingId: id }));
    expect(await poll.text()).toBe(`${STREAMING_PADDING}8|héllo 👋3|a|b7|{"c":1}`);
  });

  test('plain polling answers at once, with what is pending or nothing', async () => {
    const first = await fetch(protocolUrl(atmosphere.url('/wire'), 'polling'));
    const id = first.headers.get(AtmosphereHeaders.trackingId)!;
    expect(await first.text()).toBe(`41|${id}|0|X|`);
    const second = await fetch(protocolUrl(atmosphere.url('/wire'), 'polling', { trackingId: id }));
    expect(await second.text()).toBe('8|héllo 👋');
    const third = await fetch(protocolUrl(atmosphere.url('/wire'), 'polling', { trackingId: id }));
    expect(await third.text()).toBe('');
  });

  test('no framing when the client does not ask for it; no handshake without X-atmo-protocol', async () => {
    const ws = new WebSocket(
      protocolUrl(atmosphere.url('/wire'), 'websocket', { trackMessageLength: false, protocol: false }),
    );
    const frame = await new Promise<string>((resolve) =>
      ws.once('message', (data: Buffer) => resolve(data.toString())),
    );
    expect(frame).toBe('héllo 👋');
    ws.close();
  });

  test('a multi-line message gets data: on every line and counts the length EventSource will see', async () => {
    atmosphere.managed('/lines', { onReady: (resource) => resource.write('one\r\ntwo\nthree') });
    const { body } = await rawBody(protocolUrl(atmosphere.url('/lines'), 'sse'), (b) => b.includes('three'));
    expect(body.slice(SSE_PADDING.length)).toMatch(/data:13\|one\r\ndata:two\r\ndata:three\r\n\r\n$/);
  });
});

describe('the length-prefix reader', () => {
  test('survives a split at every position, including inside the prefix', () => {
    const messages = ['hello', 'wörld 👋', '', '{"a":"1|2"}', 'x'.repeat(123)];
    const wire = messages.map((m) => `${m.length}|${m}`).join('');
    for (let cut = 0; cut <= wire.length; cut++) {
      const reader = new FrameReader();
      expect([...reader.push(wire.slice(0, cut)), ...reader.push(wire.slice(cut))]).toEqual(messages);
    }
  });

  test('survives any chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (messages, cuts) => {
          const wire = messages.map((m) => `${m.length}|${m}`).join('');
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const reader = new FrameReader();
          const out: string[] = [];
          let last = 0;
          for (const point of [...points, wire.length]) {
            out.push(...reader.push(wire.slice(last, point)));
            last = point;
          }
          expect(out).toEqual(messages);
        },
      ),
    );
  });
});
