import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Comparison } from '../lib/report.ts';
import { dropRedisKeys } from '../lib/system.ts';
import type { ServerConfig } from '../servers/target.ts';
import type { BenchContext } from './context.ts';
import { type IdleRun, measureIdle, perConnectionRows } from './idle.ts';

/** The idle clients' configurations: no session (the baseline), then a session in each store. */
export type SessionColumn = 'none' | 'memory' | 'sqlite' | 'redis';

const COLUMN_LABELS: Record<SessionColumn, string> = {
  none: 'no session',
  memory: 'memory store',
  sqlite: 'SQLite store',
  redis: 'Redis store',
};

/** One configuration's idle run, and what its store holds per session where that is cheap to read. */
export interface SessionMemoryRun {
  column: SessionColumn;
  idle: IdleRun;
  /** SQLite: file bytes added per session; Redis: `MEMORY USAGE` of the session keys per session. */
  storeBytesPerSession?: number;
  /** Redis: session keys found under the run's prefix. */
  storeSessions?: number;
}

/** Bytes of a SQLite file with its WAL (0 for what does not exist). */
function sqliteBytes(file: string): number {
  const size = (path: string): number => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  return size(file) + size(`${file}-wal`);
}

/**
 * Memory per idle durable session: `count` idle Atmosphere WebSocket clients that each hold a session (they send
 * `X-Atmosphere-Session-Token=0`, as `@atmosphere/client` does, and wait for the session frame) in the runtime's
 * memory store, the SQLite store and the Redis store of `@atmosphere/durable-sessions`, against the same
 * clients without a session in the same run: the server's RSS and heap after `gc()`, minus its baseline. On the
 * store side: the SQLite file's growth (after the server closed it) and Redis's `MEMORY USAGE` of the keys.
 */
export async function measureSessionMemory(
  context: BenchContext,
  options: { count: number; folder: string; redisUrl: string | undefined },
): Promise<{ comparison: Comparison; notes: string[]; runs: SessionMemoryRun[] }> {
  const { count, folder, redisUrl } = options;
  const file = join(folder, 'sessions.sqlite');
  const prefix = `atmosphere-bench-sessions-${process.pid}-${Date.now()}:`;
  const columns: SessionColumn[] = ['none', 'memory', 'sqlite', ...(redisUrl ? (['redis'] as const) : [])];
  const serverFor = (column: SessionColumn): Partial<ServerConfig> =>
    column === 'sqlite'
      ? { sessions: { store: 'sqlite', file } }
      : column === 'redis' && redisUrl !== undefined
        ? { sessions: { store: 'redis', url: redisUrl, prefix } }
        : {};
  const runs: SessionMemoryRun[] = [];
  const notes: string[] = [];
  for (const column of columns) {
    let sqliteBefore = 0;
    const idle = await measureIdle(context, {
      impl: 'atmosphere',
      count,
      processes: context.options.clientProcesses,
      heartbeatMs: 30_000,
      holdMs: context.options.quick ? 300 : 2_000,
      connectTimeoutMs: 60_000,
      label: `sessions-${count}-${column}`,
      server: serverFor(column),
      session: column !== 'none',
      onBaseline: () => {
        if (column === 'sqlite') sqliteBefore = sqliteBytes(file);
      },
    });
    const run: SessionMemoryRun = { column, idle };
    // The server has stopped: SQLite's WAL is checkpointed into the file, the Redis keys stay until deleted.
    if (column === 'sqlite') run.storeBytesPerSession = (sqliteBytes(file) - sqliteBefore) / idle.connected;
    if (column === 'redis') {
      const { keys, bytes } = await dropRedisKeys(redisUrl!, `${prefix}session:*`);
      run.storeSessions = keys;
      run.storeBytesPerSession = keys > 0 ? bytes / keys : Number.NaN;
      if (keys !== idle.connected)
        notes.push(`Redis store: ${keys} session keys for ${idle.connected} connected clients.`);
    }
    if (idle.connected < idle.target || idle.heldByServer < idle.connected)
      notes.push(
        `${COLUMN_LABELS[column]}: ${idle.connected}/${idle.target} connected, ${idle.heldByServer} held by the server; first error: ${idle.firstError ?? 'none'}.`,
      );
    runs.push(run);
  }
  const value = (pick: (run: IdleRun) => number): (number | null)[] => runs.map((run) => pick(run.idle));
  const none = runs[0]!.idle;
  const comparison: Comparison = {
    title: `N = ${count.toLocaleString('en-US')} idle Atmosphere WebSocket clients, each holding a durable session in each store, against the same clients without a session (server, after gc(), minus its baseline)`,
    columns: runs.map((run) => COLUMN_LABELS[run.column]),
    baseline: 0,
    rows: [
      ...perConnectionRows(value),
      {
        metric: 'Added per session: RSS',
        unit: 'KiB',
        values: value((r) => (r.rssPerConnection - none.rssPerConnection) / 1024),
        digits: 1,
        ratio: false,
      },
      {
        metric: 'Added per session: JS heap',
        unit: 'KiB',
        values: value((r) => (r.heapPerConnection - none.heapPerConnection) / 1024),
        digits: 2,
        ratio: false,
      },
      {
        metric: 'In the store per session: SQLite file growth / Redis MEMORY USAGE',
        unit: 'B',
        values: runs.map((run) => run.storeBytesPerSession ?? null),
        ratio: false,
      },
    ],
    notes: [
      'Each client sends `X-Atmosphere-Session-Token=0` (a new session, as `@atmosphere/client` asks for one) and counts as connected once ' +
        'its session frame (`created`) has arrived. The memory store is the runtime’s default; SQLite (a fresh file) and Redis (REDIS_URL, ' +
        'a prefix of its own, keys deleted afterwards) come from `@atmosphere/durable-sessions` with the `session-store` kind only. ' +
        'SQLite: file and WAL bytes after the server closed the file, minus those before the first client, per session. ' +
        'Redis: the sum of `MEMORY USAGE` of the session keys, per key. The session record holds the session’s origin, its subscription ' +
        'to the bench path and the tracking id; an application’s identity, auth context and rooms add to it.',
    ],
  };
  return { comparison, notes, runs };
}
