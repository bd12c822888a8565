import { afterEach, describe, expect, test } from 'vitest';
import {
  defineProvider,
  type LogEntry,
  MemoryStreamLog,
  type StreamLog,
  type StreamPosition,
} from '../src/spi/index.ts';
import { connectTestClient, startTestAtmosphere, TestScope } from '../src/testing/index.ts';

/**
 * An asynchronous store (as Redis is) whose appends are answered when the test says: the first one waits, the
 * ones after it fail at once — a store whose connection went down while an append was on its way.
 */
function stalledLog(): StreamLog & { release(): void; appends(): number } {
  const inner = new MemoryStreamLog();
  let appends = 0;
  let release = (): void => undefined;
  const log: StreamLog = {
    name: 'stalled',
    durable: true,
    shared: false,
    append(stream: string, entries: readonly LogEntry[]): Promise<StreamPosition> {
      appends++;
      if (appends === 1) {
        const position = inner.append(stream, entries);
        return new Promise((resolve) => (release = () => resolve(position)));
      }
      return Promise.reject(new Error('the connection to the store is gone'));
    },
    read: (stream, after, options) => inner.read(stream, after, options),
    state: (stream) => inner.state(stream),
    trim: (stream, before) => inner.trim(stream, before),
    delete: (stream) => inner.delete(stream),
    close: () => inner.close(),
  };
  return Object.assign(log, {
    release: () => release(),
    appends: () => appends,
  });
}

const scope = new TestScope();
afterEach(() => scope.close());

describe('appends a store refuses while an earlier one is on its way', () => {
  test.each([false, true])(
    'batchAppends %s: the refused broadcast rejects with LOG_FAILED once the earlier one is placed, and no rejection goes unhandled meanwhile',
    async (batchAppends) => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      scope.track({ close: () => void process.off('unhandledRejection', onUnhandled) });
      const log = Object.assign(stalledLog(), batchAppends ? { batchAppends: true } : {});
      const atmosphere = scope.track(
        await startTestAtmosphere({
          providers: [
            defineProvider({
              kind: 'stream-log',
              name: 'stalled',
              priority: 10,
              isAvailable: () => true,
              create: () => log,
            }),
          ],
        }),
      );
      expect(atmosphere.log.name).toBe('stalled');
      atmosphere.managed('/chat', {});
      const client = scope.track(await connectTestClient(atmosphere.url('/chat'), 'websocket'));
      const first = atmosphere.broadcast('/chat', 'first');
      // The next turn's append: refused at once, while the first is still on its way.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const second = atmosphere.broadcast('/chat', 'second').catch((error: unknown) => error);
      // A turn later: the process has looked for unhandled rejections (it does after each task's microtasks).
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(log.appends()).toBe(2);
      log.release();
      await first;
      expect(await second).toMatchObject({ code: 'LOG_FAILED' });
      expect(await client.messages.next()).toBe('first');
      expect(unhandled).toEqual([]);
    },
  );
});
