import { readFile } from 'node:fs/promises';

interface SnapshotMeta {
  node_fields: string[];
  node_types: [string[], ...unknown[]];
}

interface HeapSnapshot {
  snapshot: { meta: SnapshotMeta };
  nodes: number[];
  strings: string[];
}

/** Bytes and objects of one kind in a heap. */
export interface HeapGroup {
  /** Constructor name for objects (`AtmosphereResource`, `Map`), else the V8 node type (`closure`, `array`, …). */
  name: string;
  count: number;
  bytes: number;
}

/** Self size per kind of object in a V8 `.heapsnapshot` (`v8.writeHeapSnapshot()`). */
export async function heapGroups(file: string): Promise<Map<string, HeapGroup>> {
  const snapshot = JSON.parse(await readFile(file, 'utf8')) as HeapSnapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, HeapGroup>();
  const { nodes, strings } = snapshot;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!] ?? 'unknown';
    const rawName = strings[nodes[i + nameAt]!] ?? '';
    // Objects group by constructor; closures by function name; the rest by node type.
    const name =
      type === 'object' ? rawName : type === 'closure' ? `closure ${rawName || '(anonymous)'}` : `(${type})`;
    let group = groups.get(name);
    if (!group) groups.set(name, (group = { name, count: 0, bytes: 0 }));
    group.count++;
    group.bytes += nodes[i + sizeAt]!;
  }
  return groups;
}

/** What grew between two snapshots, per connection, largest first. */
export interface HeapGrowth {
  name: string;
  /** Objects added per connection. */
  perConnection: number;
  /** Bytes added per connection. */
  bytesPerConnection: number;
}

export interface HeapDiff {
  connections: number;
  bytesPerConnection: number;
  top: HeapGrowth[];
}

/** Compares a snapshot with `connections` idle clients to one taken before any connected. */
export async function diffHeapSnapshots(
  before: string,
  after: string,
  connections: number,
  limit = 20,
): Promise<HeapDiff> {
  const [a, b] = await Promise.all([heapGroups(before), heapGroups(after)]);
  const growth: HeapGrowth[] = [];
  let total = 0;
  for (const [name, group] of b) {
    const previous = a.get(name);
    const bytes = group.bytes - (previous?.bytes ?? 0);
    total += bytes;
    growth.push({
      name,
      perConnection: (group.count - (previous?.count ?? 0)) / connections,
      bytesPerConnection: bytes / connections,
    });
  }
  growth.sort((x, y) => y.bytesPerConnection - x.bytesPerConnection);
  return { connections, bytesPerConnection: total / connections, top: growth.slice(0, limit) };
}
