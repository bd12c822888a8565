import { durable } from '@atmosphere/durable-sessions';
import type { Atmosphere } from '@atmosphere/runtime';
import {
  eventually,
  startTestAtmosphere,
  startTestRedis,
  type TestClient,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { connectPositioned, readPositioned, redisCommand } from './helpers.ts';

/**
 * A client that resumes after the log's Redis restarted from a snapshot (Redis's default persistence): the
 * restarted Redis has the messages up to the snapshot and none of those written after it, which the client
 * had. The log numbers on under a new epoch that goes on from the snapshot's last position: the client gets a
 * reset, then what it missed — the messages it did not have, never again those it had. A real redis-server
 * killed with SIGKILL, real clients on every transport.
 */
let redis: TestRedis | undefined;
let server: Atmosphere | undefined;
const clients: TestClient[] = [];
let run = 0;

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
  await server?.close();
  server = undefined;
  await redis?.stop();
  redis = undefined;
});

describe.each(['websocket', 'sse', 'long-polling'] as const)('%s', (transport) => {
  test.each([
    ['ahead of the snapshot (it had messages the restarted Redis lost)', 20],
    ['behind the snapshot (it missed messages the restarted Redis kept)', 5],
  ] as const)(
    'a client %s resumes with a reset and then only what it did not have',
    async (_, cursorAt) => {
      redis = await startTestRedis({ persistence: 'snapshot' });
      server = await startTestAtmosphere({
        rateLimit: false,
        autoload: false,
        providers: durable({ redis: redis.url, prefix: `snapshot${++run}:`, kinds: ['stream-log'] }),
      });
      server.managed('/feed', {}, { codec: 'text' });
      const url = server.url('/feed');
      const first = await connectPositioned(url, transport);
      clients.push(first);
      for (let n = 1; n <= 20; n++) {
        await server.broadcast('/feed', `m${n}`);
        if (n === 10) await redisCommand(redis.port, 'SAVE');
      }
      await eventually(() => readPositioned(first.messages.items).bodies.length >= 20, 'm1..m20 read');
      const read = readPositioned(first.messages.items);
      expect(read.bodies).toEqual(Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
      const cursor = { ...read.cursors[0]!, seq: cursorAt };
      await first.close();
      // Redis crashes; it comes back with m1..m10 (the snapshot) and positions 1..10.
      await redis.kill();
      await redis.start();
      const atmosphere = server;
      await eventually(
        () =>
          atmosphere.broadcast('/feed', 'm21').then(
            () => true,
            () => false,
          ),
        'the log taking appends again',
        10_000,
      );
      await server.broadcast('/feed', 'm22');
      const back = await connectPositioned(url, transport, [cursor]);
      clients.push(back);
      await eventually(
        () => readPositioned(back.messages.items).bodies.includes('m22'),
        'm22 after the resume',
      );
      const resumed = readPositioned(back.messages.items);
      // A reset first (positions after the snapshot were handed out before the crash), then the stream from where
      // the client's epoch and the new one agree: what the restarted Redis kept after the cursor, then the new.
      expect(resumed.order[0]).toMatch(/^reset:/);
      expect(resumed.resets).toHaveLength(1);
      expect(resumed.resets[0]!.from).toEqual({ epoch: cursor.epoch, seq: cursorAt + 1 });
      const kept = Array.from({ length: Math.max(0, 10 - cursorAt) }, (_, i) => `m${cursorAt + i + 1}`);
      expect(resumed.bodies).toEqual([...kept, 'm21', 'm22']);
      expect(resumed.resets[0]!.resumeAt?.epoch).not.toBe(cursor.epoch);
    },
    30_000,
  );
});
