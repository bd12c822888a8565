import { describe, expect, test } from 'vitest';
import { InFlight } from './in-flight.ts';

/** A promise and the functions that settle it. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** Whether `promise` settled by the time the microtasks queued now have run. */
async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

describe('InFlight', () => {
  test('idle() resolves at once when nothing runs, and once the last piece of work settled, rejected ones included', async () => {
    const work = new InFlight();
    expect(await settledYet(work.idle())).toBe(true);
    const a = deferred();
    const b = deferred();
    work.track(a.promise);
    work.track(b.promise.catch(() => undefined));
    work.enter();
    expect(work.size).toBe(3);
    const idle = work.idle();
    a.resolve();
    expect(await settledYet(idle)).toBe(false);
    b.reject(new Error('failed'));
    expect(await settledYet(idle)).toBe(false);
    // Work that started while the shutdown waited is waited for too.
    const c = deferred();
    work.track(c.promise);
    work.leave();
    expect(await settledYet(idle)).toBe(false);
    c.resolve();
    expect(await settledYet(idle)).toBe(true);
    expect(work.size).toBe(0);
  });

  test('a rejected promise tracked as it is counts as settled', async () => {
    const work = new InFlight();
    const failing = deferred();
    work.track(failing.promise);
    failing.promise.catch(() => undefined);
    const idle = work.idle();
    failing.reject(new Error('failed'));
    expect(await settledYet(idle)).toBe(true);
  });
});
