import { afterAll, beforeAll, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import type { Atmosphere } from '../src/index.ts';
import {
  eventually,
  FrameReader,
  Inbox,
  protocolUrl,
  startTestAtmosphere,
  type TestClientOptions,
} from '../src/testing/index.ts';
import { internal } from './internals.ts';

let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere({ rateLimit: false });
  atmosphere.managed('/probes/{channel}', {});
});
afterAll(async () => {
  await atmosphere.close();
});

interface ProbedClient {
  trackingId: string;
  messages: Inbox<string>;
  /** Payloads of the pings (delivery probes) the server sent, in order. */
  pings: string[];
  close(): void;
}

/** A WebSocket client that records the server's pings next to its messages (ws answers each with a pong). */
async function probedClient(path: string, options: TestClientOptions): Promise<ProbedClient> {
  const ws = new WebSocket(protocolUrl(atmosphere.url(path), 'websocket', options));
  const reader = new FrameReader();
  const messages = new Inbox<string>();
  const pings: string[] = [];
  let trackingId = '';
  await new Promise<void>((resolve, reject) => {
    ws.on('ping', (data: Buffer) => pings.push(data.toString('latin1')));
    ws.on('message', (data: Buffer) => {
      for (const message of reader.push(data.toString('utf8'))) {
        if (!trackingId) {
          trackingId = message.split('|')[0]!;
          resolve();
        } else messages.push(message);
      }
    });
    ws.once('error', reject);
  });
  return { trackingId, messages, pings, close: () => ws.close(1000) };
}

/** Broadcasts `count` messages in one turn of the event loop (so one tick sees all of them). */
function burst(channel: string, count: number): void {
  for (let i = 1; i <= count; i++) void atmosphere.broadcast(channel, `m${i}`);
}

test('a client that reports its count: written messages are kept until one probe confirms the batch', async () => {
  const client = await probedClient('/probes/batch', { received: 0 });
  const resource = internal(atmosphere.resource(client.trackingId))!;
  expect(resource.reportsReceived).toBe(true);
  burst('/probes/batch', 100);
  await client.messages.waitForCount(100);
  expect(resource.queue.writtenSeq).toBe(100);
  // Kept for replay until the client confirms; one ping carrying the last written number does it.
  await eventually(() => resource.queue.unconfirmed.length === 0, 'the batch to be confirmed');
  expect(client.pings).toEqual(['100']);
  client.close();
});

test('a client that reports its count: a few messages are confirmed once the oldest has waited a while', async () => {
  const client = await probedClient('/probes/few', { received: 0 });
  const resource = internal(atmosphere.resource(client.trackingId))!;
  burst('/probes/few', 3);
  await client.messages.waitForCount(3);
  await eventually(
    () => resource.queue.unconfirmed.length === 0,
    'the oldest message to age into a probe',
    10_000,
  );
  expect(client.pings).toEqual(['3']);
  client.close();
});

test('a client that does not report its count: nothing is kept after writing, and it is never probed', async () => {
  const classic = await probedClient('/probes/mixed', {});
  // A counting client on the same broadcaster shows when the tick has probed.
  const witness = await probedClient('/probes/mixed', { received: 0 });
  const classicResource = internal(atmosphere.resource(classic.trackingId))!;
  const witnessResource = internal(atmosphere.resource(witness.trackingId))!;
  expect(classicResource.reportsReceived).toBe(false);
  burst('/probes/mixed', 100);
  await classic.messages.waitForCount(100);
  await witness.messages.waitForCount(100);
  expect(classicResource.queue.writtenSeq).toBe(100);
  expect(classicResource.queue.unconfirmed.length).toBe(0);
  await eventually(() => witnessResource.queue.unconfirmed.length === 0, 'the witness to be probed');
  expect(witness.pings).toEqual(['100']);
  // A ping sent in that tick would reach the classic client before anything written after it.
  void atmosphere.broadcast('/probes/mixed', 'after');
  await classic.messages.waitFor((m) => m === 'after');
  expect(classic.pings).toEqual([]);
  // The cache holds the witness's 'after' alone.
  expect(classicResource.queue.unconfirmed.length).toBe(0);
  expect(atmosphere.describe().cache.unconfirmed).toBe(witnessResource.queue.unconfirmed.length);
  classic.close();
  witness.close();
});
