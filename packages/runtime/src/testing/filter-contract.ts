import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Atmosphere } from '../atmosphere.ts';
import type { BroadcastFilter, FilterContext, FilterPayload, FilterResult } from '../spi/filter.ts';
import { connectTestClient, type TestClient } from './clients.ts';
import { startTestAtmosphere } from './server.ts';

/** How the contract suite gets the filter under test and what it should make of a sequence of messages. */
export interface FilterContractOptions {
  /** A fresh filter (the suite adds one instance to several broadcasters at once). */
  create(): BroadcastFilter | Promise<BroadcastFilter>;
  /** Text messages broadcast one after the other, without waiting (at least one). */
  readonly inputs: readonly string[];
  /**
   * What subscribers receive for `inputs`, in order: the filter's documented output (transformed, aborted
   * messages left out, held messages where it releases them).
   */
  readonly expected: readonly string[];
  /**
   * Sent after `inputs` when the filter holds messages back until something comes (a flush marker, an end of
   * sentence); its own output is part of `expected`.
   */
  readonly flush?: string;
  /** Per-test timeout. Default 20 000 ms. */
  readonly timeoutMs?: number;
}

const FILTER_RESULT_ACTIONS = new Set(['skip', 'hold']);

function isFilterResult(value: unknown): value is FilterResult {
  if (value === null || typeof value === 'string' || value instanceof Uint8Array) return true;
  return (
    typeof value === 'object' && FILTER_RESULT_ACTIONS.has(String((value as { action?: unknown }).action))
  );
}

/**
 * The contract of a broadcast filter (`BroadcastFilter`), as a vitest `describe` block, run on a real server
 * with real WebSocket subscribers: the filter has a name; every subscriber receives exactly `expected`, in
 * order, while the filter runs once per broadcast (not once per subscriber); one instance on two
 * broadcasters keeps their messages apart (state held for one never leaks into the other); a binary message
 * gets a valid decision, never an exception.
 */
export function filterContract(name: string, options: FilterContractOptions): void {
  const timeout = options.timeoutMs ?? 20_000;
  const sent = [...options.inputs, ...(options.flush === undefined ? [] : [options.flush])];

  describe(`${name}: broadcast filter contract`, () => {
    let atmosphere: Atmosphere;
    let channel = 0;
    beforeAll(async () => {
      atmosphere = await startTestAtmosphere();
      atmosphere.managed('/filter-contract/{name}', {}, { broadcaster: { destroyWhenEmpty: false } });
    });
    afterAll(async () => {
      await atmosphere.close();
    });

    async function subscribers(count: number): Promise<{ id: string; clients: TestClient[] }> {
      const id = `/filter-contract/c${++channel}`;
      const clients: TestClient[] = [];
      for (let i = 0; i < count; i++) clients.push(await connectTestClient(atmosphere.url(id), 'websocket'));
      return { id, clients };
    }

    function counted(filter: BroadcastFilter): { filter: BroadcastFilter; calls: () => number } {
      let calls = 0;
      return {
        filter: {
          name: filter.name,
          filter: (payload: FilterPayload, context: FilterContext) => {
            calls++;
            return filter.filter(payload, context);
          },
        },
        calls: () => calls,
      };
    }

    test(
      'has a name; every subscriber receives exactly the expected messages, in order; it runs once per broadcast',
      async () => {
        const filter = await options.create();
        expect(filter.name.length).toBeGreaterThan(0);
        const { id, clients } = await subscribers(3);
        const wrapped = counted(filter);
        const broadcaster = atmosphere.broadcasters.get(id).addFilter(wrapped.filter);
        await Promise.all(sent.map((message) => broadcaster.broadcast(message)));
        for (const client of clients) {
          expect(await client.messages.take(options.expected.length)).toEqual(options.expected);
        }
        expect(wrapped.calls()).toBe(sent.length);
        await Promise.all(clients.map((client) => client.close()));
      },
      timeout,
    );

    test(
      'one instance on two broadcasters, messages interleaved: each receives its own expected messages',
      async () => {
        const filter = await options.create();
        const first = await subscribers(1);
        const second = await subscribers(1);
        const a = atmosphere.broadcasters.get(first.id).addFilter(filter);
        const b = atmosphere.broadcasters.get(second.id).addFilter(filter);
        const pending: Promise<void>[] = [];
        for (const message of sent) pending.push(a.broadcast(message), b.broadcast(message));
        await Promise.all(pending);
        expect(await first.clients[0]!.messages.take(options.expected.length)).toEqual(options.expected);
        expect(await second.clients[0]!.messages.take(options.expected.length)).toEqual(options.expected);
        await Promise.all([first.clients[0]!.close(), second.clients[0]!.close()]);
      },
      timeout,
    );

    test(
      'a binary message gets a valid decision (a payload, null, skip or hold), never an exception',
      async () => {
        const filter = await options.create();
        const context: FilterContext = {
          broadcaster: { id: '/filter-contract/binary' },
          targets: undefined,
          release: () => undefined,
        };
        const result = await filter.filter(new Uint8Array([0, 1, 2, 0xff]), context);
        expect(isFilterResult(result)).toBe(true);
      },
      timeout,
    );
  });
}
