import { connectTestClient, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, expect, test } from 'vitest';
import type { Atmosphere } from '@atmosphere/runtime';
import { durable, SqliteStreamLog } from '../src/index.ts';
import { newFile, tempFolder } from './helpers.ts';

const folder = tempFolder('burst');
let atmosphere: Atmosphere | undefined;
afterEach(async () => {
  await atmosphere?.close();
  atmosphere = undefined;
});

test.each(['websocket', 'sse'] as const)(
  'a burst on the SQLite log, to all and to one client mixed, arrives over %s in broadcast order, each once, as the log holds it',
  async (transport) => {
    atmosphere = await startTestAtmosphere({
      env: { ATMOSPHERE_DURABLE_SQLITE: 'off' },
      providers: durable({ sqlite: newFile(folder, transport), kinds: ['stream-log'] }),
      rateLimit: false,
    });
    atmosphere.managed('/burst', {}, { codec: 'text' });
    const client = await connectTestClient(atmosphere.url('/burst'), transport);
    const resource = atmosphere.resource(client.trackingId)!;
    const broadcaster = atmosphere.broadcasters.get('/burst');
    const expected: string[] = [];
    const log = atmosphere.log;
    if (!(log instanceof SqliteStreamLog)) throw new Error(`the selected log is ${log.name}, not SQLite`);
    const batchesBefore = log.batches;
    const sent: Promise<void>[] = [];
    // One turn of the event loop: the appends are issued at once (one transaction), the deliveries follow in
    // order — addressed messages (the fast path of an AI token) and messages to all interleaved.
    for (let i = 0; i < 600; i++) {
      const text = `m${i}`;
      expected.push(text);
      sent.push(i % 3 === 0 ? broadcaster.broadcast(text) : broadcaster.broadcast(text, { to: resource }));
    }
    await Promise.all(sent);
    // Not one transaction per message: the burst's appends were issued together and written together.
    expect(log.batches - batchesBefore).toBeLessThanOrEqual(2);
    for (const text of expected) expect(await client.messages.next(5_000)).toBe(text);
    const read = await atmosphere.log.read('/burst', 0, { limit: 1_000 });
    expect(read?.records.map((r) => r.payload)).toEqual(expected);
    expect(read?.records.map((r) => r.seq)).toEqual(expected.map((_, i) => i + 1));
    await client.close();
  },
);
