import type { Atmosphere } from '@atmosphere/runtime';
import type { TestTransport } from '@atmosphere/runtime/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RoomAuthorizationRequest, RoomManager, RoomMessage } from '../src/index.ts';
import { type Frame, RoomClient, startRooms } from './helpers.ts';

interface Principal {
  readonly name: string;
  readonly rooms: readonly string[];
}

const PRINCIPALS: Record<string, Principal> = {
  'token-alice': { name: 'alice', rooms: ['vault', 'public'] },
  'token-bob': { name: 'bob', rooms: ['vault'] },
  'token-mallory': { name: 'mallory', rooms: [] },
};

let atmosphere: Atmosphere;
let rooms: RoomManager;
let alice: RoomClient;
let bob: RoomClient;
let attackers: RoomClient[];
let baseline: { history: RoomMessage[]; broadcasters: string[] };
const decisions = { allowed: 0, refused: 0 };

/** Members may act only as themselves, only in their rooms. Every other call answers asynchronously. */
function authorize(request: RoomAuthorizationRequest): boolean | Promise<boolean> {
  const principal = request.resource.principal as Principal;
  const allowed = request.member.id === principal.name && principal.rooms.includes(request.room);
  if (allowed) decisions.allowed++;
  else decisions.refused++;
  return (decisions.allowed + decisions.refused) % 2 === 0 ? allowed : Promise.resolve(allowed);
}

async function connectAs(token: string, transport: TestTransport): Promise<RoomClient> {
  return RoomClient.connect(atmosphere.url('/rooms'), transport, { query: { 'X-Atmosphere-Auth': token } });
}

beforeAll(async () => {
  const started = await startRooms(
    { authorize, history: 100 },
    {
      rateLimit: { messagesPerSecond: 100_000, burst: 100_000 },
      auth: { verify: (token) => PRINCIPALS[token], from: ['query'] },
    },
  );
  atmosphere = started.atmosphere;
  rooms = started.rooms;
  alice = await connectAs('token-alice', 'websocket');
  bob = await connectAs('token-bob', 'websocket');
  await alice.join('vault', { memberId: 'alice' });
  await bob.join('vault', { memberId: 'bob' });
  await alice.waitFor((f) => f.type === 'presence');
  for (const text of ['secret 1', 'secret 2', 'secret 3'])
    await alice.send({ type: 'broadcast', room: 'vault', data: text });
  await bob.take(3);
  attackers = await Promise.all([
    connectAs('token-mallory', 'websocket'),
    connectAs('token-mallory', 'websocket'),
    connectAs('token-mallory', 'sse'),
  ]);
  baseline = {
    history: rooms.find('vault')!.history(),
    broadcasters: atmosphere.broadcasters
      .all()
      .map((b) => b.id)
      .sort(),
  };
});

afterAll(async () => {
  await Promise.allSettled([alice, bob, ...attackers].map((client) => client.close()));
  await atmosphere.close();
});

// ------------------------------------------------------------------------------------------ generators

const validRoom = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,24}$/);
const knownRoom = fc.constantFrom('vault', 'public', 'lobby', 'sandbox');
const anyRoom = fc.oneof(
  knownRoom,
  validRoom,
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '../vault', 'vault ', '__proto__', 'x'.repeat(129), 'vault\u0000'),
);
const memberId = fc.oneof(
  fc.constantFrom('alice', 'bob', 'mallory', 'admin', '', 'a b', 'x'.repeat(129)),
  fc.stringMatching(/^[A-Za-z0-9_.:@+-]{1,16}$/),
);
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined));
const hostileKeys = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty');

/** Frames an attacker sends. None may succeed: mallory is allowed nowhere and is a member of nothing. */
const attack: fc.Arbitrary<string> = fc
  .oneof(
    // Joins: to the vault as anyone, to other rooms, with replays of history asked for.
    fc
      .record({
        type: fc.constant('join'),
        room: anyRoom,
        memberId,
        sinceId: fc.option(fc.oneof(fc.nat(10), fc.integer()), { nil: undefined }),
        metadata: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), anyValue, { maxKeys: 3 }), {
          nil: undefined,
        }),
      })
      .map((f) => JSON.stringify(f)),
    fc.record({ type: fc.constant('join'), room: anyRoom }).map((f) => JSON.stringify(f)),
    // The atmosphere.js dialect.
    fc
      .record({
        type: fc.constant('join'),
        room: knownRoom,
        member: fc.record({ id: memberId, info: anyValue }),
      })
      .map((f) => JSON.stringify(f)),
    // Replays of what members legitimately send.
    fc.constantFrom(
      '{"type":"join","room":"vault","memberId":"alice"}',
      '{"type":"join","room":"vault","memberId":"bob","sinceId":0}',
      '{"type":"join","room":"vault","memberId":"mallory","sinceId":0}',
      '{"type":"broadcast","room":"vault","data":"secret 1"}',
      '{"type":"direct","room":"vault","targetId":"alice","data":"hi"}',
      '{"type":"typing","room":"vault","typing":true}',
      '{"type":"leave","room":"vault"}',
    ),
    // Member actions in rooms it is not in.
    fc
      .record({
        type: fc.constantFrom('leave', 'broadcast', 'direct', 'typing'),
        room: anyRoom,
        data: anyValue,
        targetId: memberId,
        target: memberId,
        typing: fc.oneof(fc.boolean(), anyValue),
      })
      .map((f) => JSON.stringify(f)),
    // Wrong types everywhere.
    fc
      .record({
        type: fc.oneof(
          fc.integer(),
          fc.constant(null),
          fc.array(fc.string(), { maxLength: 2 }),
          fc.string({ maxLength: 12 }),
          fc.constantFrom('JOIN', 'join_ack', 'presence', 'message', 'error'),
        ),
        room: fc.oneof(anyRoom, fc.integer(), fc.constant(null), fc.object({ maxDepth: 1 })),
      })
      .map((f) => JSON.stringify(f)),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    // Hostile JSON: prototype keys carrying a join, deep nesting, broken text, oversized frames.
    fc
      .tuple(hostileKeys, knownRoom, memberId)
      .map(
        ([key, room, id]) =>
          `{"${key}":{"type":"join","room":"${room}","memberId":${JSON.stringify(id)}},"type":"join"}`,
      ),
    fc
      .tuple(hostileKeys, knownRoom)
      .map(([key, room]) => `{"type":"join","room":"${room}","${key}":{"memberId":"alice","polluted":true}}`),
    fc.constantFrom(
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"__proto__":{"polluted":true},"type":"join","room":"vault","memberId":"alice"}',
    ),
    fc
      .integer({ min: 33, max: 80 })
      .map((depth) => `{"type":"join","room":"vault","metadata":${'['.repeat(depth)}${']'.repeat(depth)}}`),
    fc.string({ maxLength: 60 }),
    fc.constantFrom(
      '',
      ' ',
      '{',
      '{"type":"join"',
      'null',
      'true',
      '"join"',
      '[{"type":"join","room":"vault"}]',
      '{"type":"join","room":"vault"}garbage',
    ),
    fc.integer({ min: 65_537, max: 90_000 }).map((size) =>
      JSON.stringify({
        type: 'join',
        room: 'vault',
        memberId: 'alice',
        metadata: { pad: 'p'.repeat(size) },
      }),
    ),
  )
  .filter((frame) => frame !== 'X' && !frame.startsWith('@@'));

// --------------------------------------------------------------------------------------------- the test

let sentinel = 0;

describe('authorization, property-based', () => {
  test('generated unauthorized frames are all refused with one error frame each and leak nothing', async () => {
    let total = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(attack, { minLength: 20, maxLength: 80 }), async (batch) => {
        const before = attackers.map((client) => client.frames().length);
        const sent = attackers.map(() => 0);
        const sends: Promise<number>[] = [];
        let sse = Promise.resolve(200);
        batch.forEach((frame, index) => {
          const target = index % attackers.length;
          const client = attackers[target]!;
          sent[target]!++;
          // HTTP posts of one client must go one after the other to keep their order.
          if (client.client.transport === 'sse') sse = sse.then(() => client.send(frame));
          else sends.push(client.send(frame));
        });
        sends.push(sse);
        for (const status of await Promise.all(sends)) expect(status).toBe(200);
        for (const [index, client] of attackers.entries()) {
          const mark = `sentinel-${++sentinel}`;
          await client.send({ type: 'nope', room: mark });
          const frames = (
            await client.client.messages.waitForCount(before[index]! + sent[index]! + 1, 10_000)
          ).slice(before[index]);
          const replies = frames.map((text) => JSON.parse(text) as Frame);
          expect(replies).toHaveLength(sent[index]! + 1);
          expect(replies.at(-1)).toEqual({ type: 'error', room: mark, data: 'Unknown type: nope' });
          for (const reply of replies) {
            expect(reply.type).toBe('error');
            expect(
              Object.keys(reply).every((key) => key === 'type' || key === 'room' || key === 'data'),
            ).toBe(true);
            expect(typeof reply['data']).toBe('string');
          }
          expect(client.client.messages.items.length).toBe(before[index]! + sent[index]! + 1);
        }
        total += batch.length;
      }),
      { numRuns: 50 },
    );
    expect(total).toBeGreaterThanOrEqual(1000);
    expect(decisions.refused).toBeGreaterThan(200);

    // Nothing leaked to the members, nothing changed in the room or the server.
    const vault = rooms.find('vault')!;
    expect(vault.members().map((m) => m.id)).toEqual(['alice', 'bob']);
    expect(vault.history()).toEqual(baseline.history);
    expect(rooms.all().map((room) => room.name)).toEqual(['vault']);
    expect(
      atmosphere.broadcasters
        .all()
        .map((b) => b.id)
        .sort(),
    ).toEqual(baseline.broadcasters);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    await vault.broadcast('still private');
    for (const member of [alice, bob])
      expect(await member.next()).toEqual({ type: 'message', room: 'vault', id: 4, data: 'still private' });
    // Every attacker connection is still open and served.
    for (const client of attackers) {
      const count = client.client.messages.items.length;
      await client.send('{"type":"join","room":"vault","memberId":"mallory"}');
      const replies = (await client.client.messages.waitForCount(count + 1)).slice(count);
      expect(replies.map((text) => JSON.parse(text) as Frame)).toEqual([
        { type: 'error', room: 'vault', data: 'Unauthorized' },
      ]);
    }
  });
});
