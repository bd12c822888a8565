import { describe, expect, test } from 'vitest';
import { clusterStateContract } from '../testing/cluster-state-contract.ts';
import { MemoryClusterHub, MemoryClusterState } from './memory-cluster-state.ts';

const hubs = new Map<string, MemoryClusterHub>();

clusterStateContract('memory', {
  create: ({ cluster, nodeId, leaseMs }) => {
    let hub = hubs.get(cluster);
    if (hub === undefined) hubs.set(cluster, (hub = new MemoryClusterHub()));
    return new MemoryClusterState({ hub, nodeId, leaseMs });
  },
  kill: (state) => (state as MemoryClusterState).abandon(),
});

describe('MemoryClusterState alone', () => {
  test('is one node, not shared, with the default lease', async () => {
    const state = new MemoryClusterState();
    expect(state.shared).toBe(false);
    expect(state.leaseMs).toBe(10_000);
    await state.start();
    expect(state.epoch).toBe(1);
    await state.close();
  });

  test('refuses a lease too short to renew', () => {
    expect(() => new MemoryClusterState({ leaseMs: 10 })).toThrow(/leaseMs/);
  });
});
