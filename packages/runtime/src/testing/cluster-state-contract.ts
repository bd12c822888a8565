import { afterEach, describe, expect, test } from 'vitest';
import { AtmosphereError } from '../errors.ts';
import type { ClusterChange, ClusterEntryChange, ClusterState } from '../spi/cluster-state.ts';
import { Inbox } from './inbox.ts';

/** What the contract suite asks the factory for: a node of a cluster. */
export interface ClusterStateTestSetup {
  /** Nodes made with the same `cluster` share their state; each test uses a cluster of its own. */
  readonly cluster: string;
  readonly nodeId: string;
  readonly leaseMs: number;
}

/** How the contract suite gets the nodes under test. */
export interface ClusterStateContractOptions {
  /** A node (not started) of the cluster `setup.cluster`, on the real store. */
  create(setup: ClusterStateTestSetup): ClusterState | Promise<ClusterState>;
  /**
   * Stops a node as SIGKILL would: no release, no renewal, its connections cut. The store must find out by
   * itself (the lease expires).
   */
  kill(state: ClusterState): void | Promise<void>;
  /** Per-test timeout. Default 20 000 ms. */
  readonly timeoutMs?: number;
}

const LEASE_MS = 600;

/**
 * The contract of a `cluster-state` provider, as a vitest `describe` block, run against the real store with
 * several nodes: epochs, holds and releases heard by every node with their `by` and `seq`, snapshots that agree
 * with the changes, two holders of one member, a killed node's entries released (`expired`) within the lease
 * plus one sweep, a restarted node leaving nothing of its previous run (`restarted`), exactly one claim per
 * key, `close()` releasing everything and `CLOSED` after it.
 */
export function clusterStateContract(name: string, options: ClusterStateContractOptions): void {
  const timeout = options.timeoutMs ?? 20_000;

  describe(`${name}: cluster-state contract`, () => {
    let open: ClusterState[] = [];
    let clusters = 0;
    let cluster = '';
    const node = async (nodeId: string, leaseMs = LEASE_MS): Promise<ClusterState> => {
      const state = await options.create({ cluster, nodeId, leaseMs });
      open.push(state);
      await state.start();
      return state;
    };
    const changes = (state: ClusterState): Inbox<ClusterEntryChange> => {
      const inbox = new Inbox<ClusterEntryChange>(10_000);
      state.onChange((change) => {
        if (change.action !== 'signal') inbox.push(change);
      });
      return inbox;
    };
    const fresh = (): void => {
      cluster = `c${Date.now().toString(36)}${++clusters}`;
    };

    afterEach(async () => {
      await Promise.all(open.map((state) => state.close().catch(() => undefined)));
      open = [];
    });

    test(
      'start takes a lease with an epoch greater than every epoch before',
      async () => {
        fresh();
        const a = await node('a');
        const b = await node('b');
        expect(a.epoch).toBeGreaterThan(0);
        expect(b.epoch).toBeGreaterThan(a.epoch);
        expect(a.nodeId).toBe('a');
        expect(a.leaseMs).toBe(LEASE_MS);
      },
      timeout,
    );

    test(
      'a hold and a release reach every node once, in order, with the node that made them',
      async () => {
        fresh();
        const a = await node('a');
        const b = await node('b');
        const onA = changes(a);
        const onB = changes(b);
        await a.hold('room1', 'alice', { role: 'admin' });
        await a.hold('room1', 'bob', {});
        await a.release('room1', 'alice');
        await a.release('room1', 'nobody');
        await b.hold('room1', 'carol', {});
        for (const inbox of [onA, onB]) {
          const seen = await inbox.take(4);
          expect(seen.map((c) => `${c.action} ${c.member} by ${c.by}`)).toEqual([
            'hold alice by a',
            'hold bob by a',
            'release alice by a',
            'hold carol by b',
          ]);
          const seqs = seen.map((c) => c.seq);
          expect(seqs).toEqual([seqs[0]!, seqs[0]! + 1, seqs[0]! + 2, seqs[0]! + 3]);
          expect(seen[0]).toMatchObject({ scope: 'room1', node: 'a', data: { role: 'admin' } });
          expect(seen[2]).toMatchObject({ node: 'a', reason: 'released' });
        }
        const snapshot = await b.snapshot('room1');
        expect(snapshot.seq).toBe(onB.items[3]!.seq);
        expect(snapshot.entries.map((e) => `${e.member}@${e.node}`).sort()).toEqual(['bob@a', 'carol@b']);
        expect((await a.snapshot('other')).entries).toEqual([]);
      },
      timeout,
    );

    test(
      'one member held by two nodes is two entries; releasing one leaves the other',
      async () => {
        fresh();
        const a = await node('a');
        const b = await node('b');
        const onB = changes(b);
        await a.hold('r', 'alice', { tab: 1 });
        await b.hold('r', 'alice', { tab: 2 });
        await a.release('r', 'alice');
        await onB.take(3);
        const { entries } = await a.snapshot('r');
        expect(entries).toEqual([{ scope: 'r', member: 'alice', node: 'b', data: { tab: 2 } }]);
      },
      timeout,
    );

    test(
      'a killed node: every entry it held is released (expired, by a live node) within the lease plus a sweep',
      async () => {
        fresh();
        const a = await node('a');
        const b = await node('b');
        const onB = changes(b);
        for (let i = 0; i < 5; i++) await a.hold('r', `m${i}`, {});
        await onB.take(5);
        const killed = Date.now();
        await options.kill(a);
        const released = await onB.take(5, LEASE_MS * 10);
        const took = Date.now() - killed;
        expect(released.map((c) => c.action)).toEqual(Array(5).fill('release'));
        expect(released.map((c) => c.member).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
        for (const change of released)
          expect(change).toMatchObject({ node: 'a', by: 'b', reason: 'expired' });
        expect(took).toBeLessThanOrEqual(LEASE_MS * 1.5 + 500);
        expect((await b.snapshot('r')).entries).toEqual([]);
      },
      timeout,
    );

    test(
      'a node restarted under the same id leaves nothing of its previous run, and fences it',
      async () => {
        fresh();
        const first = await node('a', 60_000);
        const b = await node('b');
        const onB = changes(b);
        await first.hold('r', 'ghost', {});
        await onB.next();
        await options.kill(first);
        const again = await node('a', 60_000);
        expect(again.epoch).toBeGreaterThan(first.epoch);
        const released = await onB.next();
        expect(released).toMatchObject({
          action: 'release',
          member: 'ghost',
          node: 'a',
          reason: 'restarted',
        });
        expect((await b.snapshot('r')).entries).toEqual([]);
        await again.hold('r', 'fresh', {});
        expect((await onB.next()).member).toBe('fresh');
      },
      timeout,
    );

    test(
      'a signal reaches every node once, in order with the changes of its sender, and is not kept',
      async () => {
        fresh();
        const a = await node('a');
        const b = await node('b');
        const heard: ClusterChange[][] = [[], []];
        const done = [a, b].map(
          (state, i) =>
            new Promise<void>((resolve) =>
              state.onChange((change) => {
                heard[i]!.push(change);
                if (change.action === 'release') resolve();
              }),
            ),
        );
        await a.hold('r', 'x', {});
        await a.signal('r', { say: 'hello', n: [1, 2] });
        await a.release('r', 'x');
        await Promise.all(done);
        for (const seen of heard) {
          expect(seen.map((c) => c.action)).toEqual(['hold', 'signal', 'release']);
          expect(seen[1]).toEqual({
            action: 'signal',
            scope: 'r',
            by: 'a',
            data: { say: 'hello', n: [1, 2] },
          });
        }
        expect((await b.snapshot('r')).entries).toEqual([]);
      },
      timeout,
    );

    test(
      'claim: exactly one node gets each key',
      async () => {
        fresh();
        const nodes = await Promise.all(['a', 'b', 'c'].map((id) => node(id)));
        for (let i = 0; i < 20; i++) {
          const results = await Promise.all(nodes.map((n) => n.claim(`${cluster}:work:${i}`, 60_000)));
          expect(results.filter(Boolean)).toHaveLength(1);
        }
        expect(await nodes[0]!.claim(`${cluster}:work:0`, 60_000)).toBe(false);
      },
      timeout,
    );

    test(
      'close releases the node’s entries; every call after it fails with CLOSED',
      async () => {
        fresh();
        const a = await node('a');
        const b = await node('b');
        const onB = changes(b);
        await a.hold('r', 'x', {});
        await a.hold('s', 'y', {});
        await onB.take(2);
        await a.close();
        await a.close();
        const released = await onB.take(2);
        expect(released.map((c) => `${c.action} ${c.scope}/${c.member}`).sort()).toEqual([
          'release r/x',
          'release s/y',
        ]);
        const error = await a.hold('r', 'x', {}).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(AtmosphereError.isInstance(error) && error.code).toBe('CLOSED');
      },
      timeout,
    );
  });
}
