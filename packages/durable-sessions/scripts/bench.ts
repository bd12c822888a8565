/**
 * Measures the stream-log stores beside memory: the cost of appending a frame (token-sized, 200 000 frames
 * over 100 streams, 1 000 a turn), appended one call per frame, not awaited one by one, and as a broadcaster
 * hands them to a store with `batchAppends` — one call per stream per turn —, a long burst to one stream (2 000
 * frames a turn, in two calls of 1 000, as the broadcaster hands a burst of AI tokens over; process CPU per frame)
 * and the time to read back 1 000 frames of one stream. Usage: `pnpm --filter @atmosphere/durable-sessions bench`
 * (needs a redis-server on PATH for the Redis figures). A benchmark, not a test: it asserts nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LogEntry, MemoryStreamLog, type StreamLog } from '@atmosphere/runtime/spi';
import { startTestRedis } from '@atmosphere/runtime/testing';
import { closeRedis, connectRedis, loadIoredis } from '../src/redis/connection.ts';
import { RedisStreamLog } from '../src/redis/redis-stream-log.ts';
import { loadBetterSqlite3, openSqliteFile } from '../src/sqlite/database.ts';
import { SqliteStreamLog } from '../src/sqlite/sqlite-stream-log.ts';

const FRAMES = Number(process.argv[2] ?? 200_000);
const STREAMS = 100;
const frame = (i: number): string =>
  `{"type":"streaming-text","data":"token ${i} ","sessionId":"3f0c2a9e-5b7d-4e1f-9a8c-1d2e3f4a5b6c","seq":${i}}`;

/** Appends FRAMES frames, 1 000 a turn: one call per frame, or one per stream per turn (`batched`); ns taken. */
async function appendAll(log: StreamLog, batched: boolean): Promise<number> {
  const pending: Promise<unknown>[] = [];
  const started = process.hrtime.bigint();
  const turn: LogEntry[][] = Array.from({ length: STREAMS }, () => []);
  for (let i = 0; i < FRAMES; i++) {
    const entry: LogEntry = { payload: frame(i), targets: ['tracking-id'] };
    if (batched) turn[i % STREAMS]!.push(entry);
    else {
      const result = log.append(`bench-${i % STREAMS}`, [entry]);
      if (result instanceof Promise) pending.push(result);
    }
    // Let the event loop turn now and then, as a server streaming tokens does.
    if (i % 1_000 === 999 || i === FRAMES - 1) {
      if (batched)
        for (let s = 0; s < STREAMS; s++) {
          const entries = turn[s]!;
          if (entries.length === 0) continue;
          const result = log.append(`bench-${s}`, entries);
          if (result instanceof Promise) pending.push(result);
          turn[s] = [];
        }
      await Promise.all(pending.splice(0));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await Promise.all(pending);
  return Number(process.hrtime.bigint() - started);
}

/** Appends FRAMES frames to one stream, 2 000 a turn in two calls of 1 000; process CPU µs per frame. */
async function burst(log: StreamLog): Promise<number> {
  const turns = Array.from({ length: Math.ceil(FRAMES / 2_000) }, (_, t) =>
    [0, 1_000].map((offset) =>
      Array.from({ length: 1_000 }, (_, i): LogEntry => {
        const n = t * 2_000 + offset + i;
        return { payload: frame(n), targets: ['tracking-id'] };
      }),
    ),
  );
  const started = process.cpuUsage();
  for (const turn of turns) {
    const pending: Promise<unknown>[] = [];
    for (const entries of turn) {
      const result = log.append('bench-burst', entries);
      if (result instanceof Promise) pending.push(result);
    }
    await Promise.all(pending);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(started);
  return (used.user + used.system) / (turns.length * 2_000);
}

async function measure(name: string, log: StreamLog): Promise<void> {
  const appendNs = await appendAll(log, false);
  const batchedNs = await appendAll(log, true);
  const burstCpuUs = await burst(log);
  await log.append(
    'bench-replay',
    Array.from({ length: 1_000 }, (_, i) => ({ payload: frame(i) })),
  );
  const readStarted = process.hrtime.bigint();
  const read = await log.read('bench-replay', 0, { limit: 1_000 });
  const readMs = Number(process.hrtime.bigint() - readStarted) / 1e6;
  process.stdout.write(
    `${name.padEnd(7)} append ${(appendNs / FRAMES / 1_000).toFixed(2)} µs/frame (${Math.round(FRAMES / (appendNs / 1e9)).toLocaleString('en')} frames/s)  ` +
      `a turn per call ${(batchedNs / FRAMES / 1_000).toFixed(2)} µs/frame  ` +
      `a burst ${burstCpuUs.toFixed(2)} µs CPU/frame  ` +
      `replay of ${read?.records.length ?? 0} frames ${readMs.toFixed(1)} ms\n`,
  );
  await log.close();
}

const folder = mkdtempSync(join(tmpdir(), 'atmosphere-bench-'));
try {
  await measure('memory', new MemoryStreamLog({ maxRecords: FRAMES * 3, maxBytes: 1 << 30 }));
  const Database = await loadBetterSqlite3();
  await measure(
    'sqlite',
    new SqliteStreamLog(openSqliteFile(Database, join(folder, 'bench.sqlite'), 'bench', 'the bench'), {
      ownsDatabase: true,
    }),
  );
  const redis = await startTestRedis();
  try {
    const connection = await connectRedis(await loadIoredis(), redis.url, {
      source: 'the bench',
      purpose: 'bench',
      timeoutMs: 5_000,
      // As `durable({ redis })` opens the log's connection.
      autoPipelining: false,
    });
    await measure('redis', new RedisStreamLog(connection, { onClose: () => closeRedis(connection) }));
  } finally {
    await redis.stop();
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}
