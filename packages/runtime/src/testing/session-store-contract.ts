import { afterEach, describe, expect, test } from 'vitest';
import { AtmosphereError } from '../errors.ts';
import {
  DEFAULT_SESSION_LIMITS,
  SESSION_TOKEN_PATTERN,
  type SessionLimits,
  type SessionStore,
} from '../spi/session-store.ts';

/** What the contract suite hands the factory: limits and a clock the suite controls. */
export interface SessionStoreTestSetup {
  readonly limits: Partial<SessionLimits>;
  /** The clock the store must use for every time it records or compares. */
  readonly now: () => number;
}

/** How the contract suite gets the store under test. */
export interface SessionStoreContractOptions {
  /** A fresh store on storage no other test uses, with these limits and this clock. */
  create(setup: SessionStoreTestSetup): SessionStore | Promise<SessionStore>;
  /** Durable stores: closes `store` and opens a new one on the same storage (same limits and clock). */
  reopen?(store: SessionStore, setup: SessionStoreTestSetup): SessionStore | Promise<SessionStore>;
  /** Per-test timeout. Default 20 000 ms. */
  readonly timeoutMs?: number;
}

async function failureOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  return undefined;
}

function codeOf(error: unknown): string | undefined {
  return AtmosphereError.isInstance(error) ? error.code : undefined;
}

/**
 * The contract of a session store (provider kind `session-store`), as a vitest `describe` block, run against
 * the real store: tokens (form, uniqueness), exact read-back, partial updates, TTL by the given clock
 * (refreshed by use, expired sessions unreadable and swept), refusal of unknown, malformed and deleted
 * tokens, size limits (`SESSION_TOO_LARGE`, nothing changed), durability across a reopen (when `reopen` is
 * given), and `CLOSED` after `close()`.
 */
export function sessionStoreContract(name: string, options: SessionStoreContractOptions): void {
  const timeout = options.timeoutMs ?? 20_000;

  describe(`${name}: session-store contract`, () => {
    const open: SessionStore[] = [];
    let clock = 0;
    const setup = (limits: Partial<SessionLimits> = {}): SessionStoreTestSetup => ({
      limits: { ttlMs: 60_000, ...limits },
      now: () => clock,
    });
    const make = async (limits?: Partial<SessionLimits>): Promise<SessionStore> => {
      clock = Date.now();
      const store = await options.create(setup(limits));
      open.push(store);
      return store;
    };
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close().catch(() => undefined);
    });

    test(
      'create gives a new well-formed token and reads back exactly',
      async () => {
        const store = await make();
        const data = {
          identity: 'alice',
          auth: { roles: ['admin'], claims: { sub: 'alice', n: 1 } },
          origin: 'https://app.example',
          rooms: ['lobby', 'é ✓ 𝄞'],
          subscriptions: [{ stream: '/chat', cursor: { epoch: 'e1', seq: 41 } }, { stream: '/ai/run-1' }],
          metadata: { theme: 'dark', nested: { list: [1, 'two', null] } },
        };
        const created = await store.create(data);
        expect(created.token).toMatch(SESSION_TOKEN_PATTERN);
        expect(created).toMatchObject({
          ...data,
          createdAt: clock,
          updatedAt: clock,
          expiresAt: clock + 60_000,
        });
        const read = await store.get(created.token);
        expect(read).toEqual(created);
        const tokens = new Set<string>([created.token]);
        for (let i = 0; i < 50; i++) tokens.add((await store.create()).token);
        expect(tokens.size).toBe(51);
        const empty = await store.get([...tokens][1]!);
        expect(empty).toMatchObject({ rooms: [], subscriptions: [], metadata: {} });
        expect(empty?.identity).toBeUndefined();
        expect(empty?.auth).toBeUndefined();
      },
      timeout,
    );

    test(
      'update replaces the given fields, keeps the others and refreshes the TTL; touch refreshes it',
      async () => {
        const store = await make();
        const { token } = await store.create({ identity: 'bob', rooms: ['a'], metadata: { k: 1 } });
        clock += 10_000;
        const updated = await store.update(token, {
          subscriptions: [{ stream: '/s', cursor: { epoch: 'e', seq: 3 } }],
        });
        expect(updated).toMatchObject({
          identity: 'bob',
          rooms: ['a'],
          metadata: { k: 1 },
          subscriptions: [{ stream: '/s', cursor: { epoch: 'e', seq: 3 } }],
          updatedAt: clock,
          expiresAt: clock + 60_000,
        });
        expect(await store.get(token)).toEqual(updated);
        clock += 50_000;
        expect(await store.touch(token)).toBe(true);
        clock += 50_000;
        expect((await store.get(token))?.identity).toBe('bob');
        expect(await store.update('A'.repeat(43), { rooms: [] })).toBeUndefined();
        expect(await store.touch('A'.repeat(43))).toBe(false);
      },
      timeout,
    );

    test(
      'an expired session is gone: get, update and touch refuse it; sweep removes it',
      async () => {
        const store = await make();
        const { token } = await store.create({ identity: 'carol' });
        const kept = await store.create({ identity: 'dave' });
        clock += 30_000;
        await store.touch(kept.token);
        clock += 30_000;
        expect(await store.get(token)).toBeUndefined();
        expect(await store.update(token, { rooms: ['x'] })).toBeUndefined();
        expect(await store.touch(token)).toBe(false);
        expect((await store.get(kept.token))?.identity).toBe('dave');
        await store.sweep?.(clock);
        expect(await store.get(token)).toBeUndefined();
        expect((await store.get(kept.token))?.identity).toBe('dave');
      },
      timeout,
    );

    test(
      'unknown, malformed, foreign and deleted tokens are refused without an error',
      async () => {
        const store = await make();
        const { token } = await store.create();
        for (const forged of [
          '',
          'short',
          token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'),
          `${token}'; DROP TABLE sessions; --`,
          '../../etc/passwd',
          'x'.repeat(10_000),
          '*',
        ])
          expect(await store.get(forged)).toBeUndefined();
        await store.delete(token);
        expect(await store.get(token)).toBeUndefined();
        await store.delete(token);
      },
      timeout,
    );

    test(
      'limits: too many rooms or subscriptions, or too much data, fail with SESSION_TOO_LARGE and change nothing',
      async () => {
        const store = await make({ maxRooms: 3, maxSubscriptions: 2, maxDataBytes: 200 });
        expect(store.limits).toMatchObject({ maxRooms: 3, maxSubscriptions: 2, maxDataBytes: 200 });
        expect(codeOf(await failureOf(() => store.create({ rooms: ['a', 'b', 'c', 'd'] })))).toBe(
          'SESSION_TOO_LARGE',
        );
        const { token } = await store.create({ rooms: ['a'] });
        const tooMany = await failureOf(() =>
          store.update(token, { subscriptions: [{ stream: '1' }, { stream: '2' }, { stream: '3' }] }),
        );
        expect(codeOf(tooMany)).toBe('SESSION_TOO_LARGE');
        expect((tooMany as Error).message).toMatch(/maxSubscriptions/);
        const tooBig = await failureOf(() => store.update(token, { metadata: { blob: 'x'.repeat(500) } }));
        expect(codeOf(tooBig)).toBe('SESSION_TOO_LARGE');
        expect((tooBig as Error).message).toMatch(/maxDataBytes/);
        expect(await store.get(token)).toMatchObject({ rooms: ['a'], subscriptions: [], metadata: {} });
      },
      timeout,
    );

    test(
      'the default TTL is 24 hours',
      async () => {
        clock = Date.now();
        const store = await options.create({ limits: {}, now: () => clock });
        open.push(store);
        expect(store.limits.ttlMs).toBe(DEFAULT_SESSION_LIMITS.ttlMs);
        const created = await store.create();
        expect(created.expiresAt - created.createdAt).toBe(86_400_000);
      },
      timeout,
    );

    test(
      'after close(), every call fails with CLOSED',
      async () => {
        clock = Date.now();
        const store = await options.create(setup());
        const { token } = await store.create();
        await store.close();
        for (const call of [
          () => store.create(),
          () => store.get(token),
          () => store.update(token, { rooms: [] }),
          () => store.touch(token),
          () => store.delete(token),
        ])
          expect(codeOf(await failureOf(call))).toBe('CLOSED');
        await store.close();
      },
      timeout,
    );

    if (options.reopen) {
      const reopen = (store: SessionStore, setup: SessionStoreTestSetup) => options.reopen!(store, setup);
      test(
        'durable: a reopened store keeps every session exactly',
        async () => {
          clock = Date.now();
          const first = await options.create(setup());
          const created = await first.create({
            identity: 'erin',
            rooms: ['r'],
            subscriptions: [{ stream: '/s', cursor: { epoch: 'e', seq: 9 } }],
            metadata: { a: [1] },
          });
          const reopened = await reopen(first, setup());
          open.push(reopened);
          expect(await reopened.get(created.token)).toEqual(created);
        },
        timeout,
      );
    }
  });
}
