import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Atmosphere } from '../atmosphere.ts';
import type { BroadcasterBackplane } from '../spi/backplane.ts';
import type { Provider } from '../spi/provider.ts';
import { connectTestClient, type TestClient, type TestTransport } from './clients.ts';
import { eventually } from './inbox.ts';
import { startTestAtmosphere } from './server.ts';

/** Makes the backplane provider of one node. Every node's backplane must reach the same infrastructure. */
export type BackplaneProviderFactory = (
  node: number,
) => Provider<'broadcaster-backplane'> | Promise<Provider<'broadcaster-backplane'>>;

export interface BackplaneContractOptions {
  /** Per-test timeout. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /** How long a client waits for one expected message. Default 10 000 ms. */
  readonly messageTimeoutMs?: number;
}

const PATH = '/contract/{channel}';

/**
 * The contract of a clustering backplane (provider kind `broadcaster-backplane`), as a vitest `describe`
 * block. It starts three Atmosphere nodes (A, B, C) on port 0, each with its own backplane from
 * `makeProviderPerNode(0 | 1 | 2)` (more nodes, 3 and up, for single tests), and drives real clients over
 * WebSocket, SSE, HTTP streaming and long-polling:
 *
 * - a broadcast on A reaches the clients of B and C exactly once, and A's own clients exactly once (no echo);
 * - many broadcasts keep their order per broadcaster and per sending node;
 * - targets and exclude are honoured on every node; an addressed message reaches its client even on a node
 *   that has no broadcaster of that name;
 * - binary payloads arrive byte for byte, and stay binary; text stays text;
 * - a broadcaster that exists only on B gets A's broadcasts;
 * - a node's first broadcast right after `createAtmosphere()` resolves reaches the others;
 * - `close()` is idempotent, and `publish()` after it neither throws nor relays.
 *
 * "Exactly once" is checked without sleeping: after the message, each node other than the receiver's sends a
 * fence through the backplane; a duplicate or an echo would have been relayed before the fence.
 */
export function backplaneContract(
  name: string,
  makeProviderPerNode: BackplaneProviderFactory,
  options: BackplaneContractOptions = {},
): void {
  const timeout = options.timeoutMs ?? 30_000;
  const wait = options.messageTimeoutMs ?? 10_000;

  describe(`${name}: broadcaster-backplane contract`, () => {
    const nodes: Atmosphere[] = [];
    const extraNodes: Atmosphere[] = [];
    let clients: TestClient[] = [];

    async function startNode(index: number): Promise<Atmosphere> {
      const provider = await makeProviderPerNode(index);
      const atmosphere = await startTestAtmosphere({ providers: [provider] });
      const winner = atmosphere.describe().providers.find((p) => p.kind === 'broadcaster-backplane')?.winner;
      if (winner !== provider.name) {
        await atmosphere.close();
        throw new Error(
          `node ${index}: the broadcaster-backplane selected was ${winner}, not ${provider.name}; give the provider a priority above 0`,
        );
      }
      atmosphere.managed(PATH, {}, { codec: 'text' });
      return atmosphere;
    }

    function node(index: 0 | 1 | 2): Atmosphere {
      const atmosphere = nodes[index];
      if (!atmosphere) throw new Error(`node ${index} did not start`);
      return atmosphere;
    }

    async function connect(at: Atmosphere, channel: string, transport: TestTransport): Promise<TestClient> {
      const client = await connectTestClient(at.url(`/contract/${channel}`), transport);
      clients.push(client);
      return client;
    }

    /** Waits until the client has every one of `expected` (in any order, among others). */
    async function received(client: TestClient, expected: readonly string[]): Promise<void> {
      await eventually(
        () => expected.every((message) => client.messages.items.includes(message)),
        `${client.transport} client ${client.trackingId} to receive ${JSON.stringify(expected)} (got ${JSON.stringify(client.messages.items.slice(0, 20))})`,
        wait,
      );
    }

    beforeAll(async () => {
      for (const index of [0, 1, 2]) nodes.push(await startNode(index));
    }, timeout);

    afterEach(async () => {
      const leaving = clients;
      clients = [];
      await Promise.all(leaving.map((client) => client.close().catch(() => undefined)));
    });

    afterAll(async () => {
      await Promise.all([...nodes, ...extraNodes].map((atmosphere) => atmosphere.close()));
    }, timeout);

    test(
      'a broadcast on A reaches the clients of B and C once, and those of A once (no echo)',
      async () => {
        const a = await connect(node(0), 'once', 'websocket');
        const a2 = await connect(node(0), 'once', 'streaming');
        const b = await connect(node(1), 'once', 'sse');
        const c = await connect(node(2), 'once', 'long-polling');
        await node(0).broadcast('/contract/once', 'hello');
        for (const client of [a, a2, b, c]) expect(await client.messages.next(wait)).toBe('hello');
        // Fences from B and C: on every node, one of them comes through the backplane after any second copy.
        await node(1).broadcast('/contract/once', 'fence-b');
        await node(2).broadcast('/contract/once', 'fence-c');
        for (const client of [a, a2, b, c]) {
          await received(client, ['fence-b', 'fence-c']);
          expect(client.messages.items.filter((message) => message === 'hello')).toHaveLength(1);
          expect([...client.messages.items].sort()).toEqual(['fence-b', 'fence-c', 'hello']);
        }
      },
      timeout,
    );

    test(
      'many broadcasts keep their order per broadcaster and per sending node',
      async () => {
        const count = 300;
        const onA = await connect(node(0), 'order', 'sse');
        const onB = await connect(node(1), 'order', 'websocket');
        const onC = await connect(node(2), 'order', 'streaming');
        const sent: Promise<void>[] = [];
        for (let i = 1; i <= count; i++) {
          sent.push(node(0).broadcast('/contract/order', `a-${i}`));
          sent.push(node(2).broadcast('/contract/order', `c-${i}`));
        }
        await Promise.all(sent);
        const expectedA = Array.from({ length: count }, (_, i) => `a-${i + 1}`);
        const expectedC = Array.from({ length: count }, (_, i) => `c-${i + 1}`);
        for (const client of [onA, onB, onC]) {
          const all = await client.messages.take(2 * count, wait);
          expect(all.filter((message) => message.startsWith('a-'))).toEqual(expectedA);
          expect(all.filter((message) => message.startsWith('c-'))).toEqual(expectedC);
        }
      },
      timeout,
    );

    test(
      'targets are honoured on every node',
      async () => {
        const a1 = await connect(node(0), 'targets', 'websocket');
        const b1 = await connect(node(1), 'targets', 'sse');
        const b2 = await connect(node(1), 'targets', 'websocket');
        const c1 = await connect(node(2), 'targets', 'long-polling');
        await node(0).broadcast('/contract/targets', 'for-a1-b1-c1', {
          to: [a1.trackingId, b1.trackingId, c1.trackingId],
        });
        for (const client of [a1, b1, c1]) expect(await client.messages.next(wait)).toBe('for-a1-b1-c1');
        await node(1).broadcast('/contract/targets', 'fence-b');
        await node(2).broadcast('/contract/targets', 'fence-c');
        for (const client of [a1, b1, c1]) {
          await received(client, ['fence-b', 'fence-c']);
          expect([...client.messages.items].sort()).toEqual(['fence-b', 'fence-c', 'for-a1-b1-c1']);
        }
        await received(b2, ['fence-b', 'fence-c']);
        expect([...b2.messages.items].sort()).toEqual(['fence-b', 'fence-c']);
      },
      timeout,
    );

    test(
      'an addressed message reaches its client on a node that has no broadcaster of that name',
      async () => {
        const b = await connect(node(1), 'elsewhere', 'websocket');
        expect(node(1).broadcasters.find('/contract/direct-only')).toBeUndefined();
        await node(0).broadcast('/contract/direct-only', 'direct', { to: b.trackingId });
        expect(await b.messages.next(wait)).toBe('direct');
      },
      timeout,
    );

    test(
      'exclude is honoured on every node',
      async () => {
        const a1 = await connect(node(0), 'exclude', 'websocket');
        const b1 = await connect(node(1), 'exclude', 'sse');
        const b2 = await connect(node(1), 'exclude', 'websocket');
        const c1 = await connect(node(2), 'exclude', 'streaming');
        await node(0).broadcast('/contract/exclude', 'not-b1', { exclude: b1.trackingId });
        await node(2).broadcast('/contract/exclude', 'not-a1', { exclude: a1.trackingId });
        await received(a1, ['not-b1']);
        await received(b2, ['not-b1', 'not-a1']);
        await received(c1, ['not-b1', 'not-a1']);
        await received(b1, ['not-a1']);
        await node(1).broadcast('/contract/exclude', 'fence-b');
        await node(2).broadcast('/contract/exclude', 'fence-c');
        for (const client of [a1, b1, b2, c1]) await received(client, ['fence-b', 'fence-c']);
        expect([...a1.messages.items].sort()).toEqual(['fence-b', 'fence-c', 'not-b1']);
        expect([...b1.messages.items].sort()).toEqual(['fence-b', 'fence-c', 'not-a1']);
        expect([...b2.messages.items].sort()).toEqual(['fence-b', 'fence-c', 'not-a1', 'not-b1']);
        expect([...c1.messages.items].sort()).toEqual(['fence-b', 'fence-c', 'not-a1', 'not-b1']);
      },
      timeout,
    );

    test(
      'binary payloads arrive byte for byte and stay binary; text stays text',
      async () => {
        // Every byte value, then sequences that are not UTF-8: a text round trip would change them.
        const bytes = new Uint8Array([
          ...Array.from({ length: 256 }, (_, i) => i),
          0xff,
          0xfe,
          0xc3,
          0x28,
          0x80,
        ]);
        const utf8Bytes = new TextEncoder().encode('hello');
        const text = 'héllo ✓ 😀 \u0000 end';
        const sse = await connect(node(1), 'binary', 'sse');
        const ws = await connect(node(2), 'binary', 'websocket');
        await node(0).broadcast('/contract/binary', bytes);
        await node(0).broadcast('/contract/binary', utf8Bytes);
        await node(0).broadcast('/contract/binary', text);
        // Text transports carry bytes as base64 (docs/protocol.md); WebSocket as binary frames.
        expect(await sse.messages.take(3, wait)).toEqual([
          Buffer.from(bytes).toString('base64'),
          Buffer.from(utf8Bytes).toString('base64'),
          text,
        ]);
        expect(await ws.messages.take(3, wait)).toEqual([
          `<binary ${bytes.length}>`,
          `<binary ${utf8Bytes.length}>`,
          text,
        ]);
      },
      timeout,
    );

    test(
      'a broadcaster that exists only on B gets the broadcasts of A',
      async () => {
        const b = await connect(node(1), 'only-on-b', 'websocket');
        expect(node(0).broadcasters.find('/contract/only-on-b')).toBeUndefined();
        await node(0).broadcast('/contract/only-on-b', 'from-a');
        expect(await b.messages.next(wait)).toBe('from-a');
      },
      timeout,
    );

    test(
      "a node's first broadcast right after it started reaches the other nodes",
      async () => {
        const b = await connect(node(1), 'fresh', 'websocket');
        const fresh = await startNode(3);
        extraNodes.push(fresh);
        await fresh.broadcast('/contract/fresh', 'first');
        expect(await b.messages.next(wait)).toBe('first');
        await fresh.close();
      },
      timeout,
    );

    test(
      'close() is idempotent; publish() after it neither throws nor relays',
      async () => {
        const b = await connect(node(1), 'closed', 'websocket');
        const closing = await startNode(4);
        extraNodes.push(closing);
        const backplane = closing.provider('broadcaster-backplane') as BroadcasterBackplane;
        await closing.close(); // closes the backplane
        await Promise.all([backplane.close(), backplane.close()]);
        await backplane.close();
        expect(() =>
          backplane.publish({ broadcaster: '/contract/closed', payload: 'after-close' }),
        ).not.toThrow();
        // The cluster goes on without it; the fence shows nothing from the closed node came first.
        await node(0).broadcast('/contract/closed', 'fence');
        expect(await b.messages.next(wait)).toBe('fence');
      },
      timeout,
    );
  });
}
