import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';

/** The open-files limits (`ulimit -Sn`, `ulimit -Hn`) a process started from this one gets. */
export function openFileLimits(): { soft: number; hard: number } {
  const read = (flag: string): number => {
    try {
      const text = execFileSync('/bin/sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
      return text === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(text);
    } catch {
      return Number.NaN;
    }
  };
  return { soft: read('-Sn'), hard: read('-Hn') };
}

/** Whether something answers a Redis PING at `url` (within a second). */
export function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379) });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.once('error', () => done(false));
  });
}

/**
 * Deletes the keys matching `match` (a SCAN pattern) at `url`; returns how many there were and the sum of their
 * `MEMORY USAGE` (what Redis counts for each, its overheads included), read before they go.
 */
export async function dropRedisKeys(url: string, match: string): Promise<{ keys: number; bytes: number }> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let keys = 0;
    let bytes = 0;
    let cursor = '0';
    // Bounded: SCAN ends when the cursor comes back to 0; 100 000 pages of 1 000 is far beyond any run.
    for (let page = 0; page < 100_000; page++) {
      const [next, found] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      if (found.length > 0) {
        const usage = await Promise.all(found.map((key) => redis.memory('USAGE', key)));
        keys += found.length;
        bytes += usage.reduce<number>((sum, b) => sum + (typeof b === 'number' ? b : 0), 0);
        await redis.del(...found);
      }
      cursor = next;
      if (cursor === '0') break;
    }
    return { keys, bytes };
  } finally {
    redis.disconnect();
  }
}
