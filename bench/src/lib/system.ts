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
